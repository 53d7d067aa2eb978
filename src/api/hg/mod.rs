//! The HG Data API: endpoint declarations and their wire forms, the client that calls them
//! through the shared transport, lookups (planned, then fetched), the response cache and the
//! run's credits. Nothing here knows DataFusion.
//!
//! Imports run one way (each file is imported only by those after it): `endpoint`, `version`,
//! `ids`, `domain`, `error` → `v1`, `v2`, `row`, `request`, `credits` → `answer`, `cache`,
//! `metrics`, `flights` → `client` → `batched` → `lookup`.

mod answer;
mod batched;
pub mod cache;
mod client;
mod credits;
mod domain;
mod endpoint;
mod error;
mod flights;
mod ids;
mod lookup;
mod metrics;
mod request;
mod row;
pub mod v1;
pub mod v2;
mod version;

pub use answer::{MatchEntry, Page};
pub use batched::{Companion, Handoff};
pub use cache::{CacheError, CacheStats, ResponseCache, default_cache_file};
pub use client::{ClientConfig, DEFAULT_BASE_URL, HgClient, LookupOptions};
pub use domain::normalize_domain;
pub use endpoint::{
    AnswerShape, Charge, Endpoint, EndpointSpec, FETCHED_AT, FieldType, FilterForm, IdKind, Keys, MatchParams, Method,
    Paging, WireFilter, type_of,
};
pub use error::HgError;
pub use ids::{CompanyId, HexId, InvalidId};
pub use lookup::{CompanyLookup, LookupPlan, MatchLookup, Sharing};
pub use metrics::{EndpointMetrics, MetricsSnapshot, Tally, TallySnapshot};
pub use request::{
    Companies, EnrichRequest, Filters, Inclusion, InclusionMethod, ListQuery, MatchQuery, Payload, Sort, SortDirection,
};
pub use row::{FieldValue, Row, Rows, parse_date};
pub use version::{ApiVersion, V2_KEY_PREFIX};

/// Every endpoint this client knows, v1's then v2's.
pub(crate) fn known_endpoints() -> impl Iterator<Item = Endpoint> {
    v1::ALL.iter().chain(v2::ALL.iter()).copied()
}

/// The endpoint of a [`name`](Endpoint::name), of either version.
pub(crate) fn endpoint_named(name: &str) -> Option<Endpoint> {
    known_endpoints().find(|e| e.name() == name)
}
