//! The HG Data API: endpoint declarations and their wire forms, the client that calls them
//! through the shared transport, lookups (planned, then fetched), the response cache and the
//! run's credits. Nothing here knows DataFusion.
//!
//! Imports run one way (each file is imported only by those after it): `endpoint`, `ids`,
//! `domain`, `error` → `v1`, `row`, `request`, `credits` → `cache`, `metrics`, `flights` →
//! `client` → `lookup`.

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

pub use cache::{CacheError, CacheStats, ResponseCache, default_cache_file};
pub use client::{ClientConfig, DEFAULT_BASE_URL, HgClient, LookupOptions, Page};
pub use domain::normalize_domain;
pub use endpoint::{
    Endpoint, EndpointSpec, FETCHED_AT, FieldType, FilterForm, IdKind, Keys, MatchParams, Method, Paging, WireFilter,
    type_of,
};
pub use error::HgError;
pub use ids::{CompanyId, HexId, InvalidId};
pub use lookup::{CompanyLookup, LookupPlan, MatchLookup};
pub use metrics::{EndpointMetrics, MetricsSnapshot, Tally, TallySnapshot};
pub use request::{
    Companies, EnrichRequest, Filters, Inclusion, InclusionMethod, ListQuery, MatchQuery, Payload, Sort, SortDirection,
};
pub use row::{FieldValue, Row, Rows, parse_date};
