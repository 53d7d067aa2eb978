//! The HG client: authentication, rate limit, retries, paging, batching and metrics. It knows
//! nothing of DataFusion and can be used on its own:
//!
//! ```no_run
//! # async fn demo() -> Result<(), hgsql::api::HgError> {
//! use hgsql::api::{ApiKey, ClientConfig, HgClient, MatchQuery};
//! let client = HgClient::new(ClientConfig::new(hgsql::api::DEFAULT_BASE_URL, ApiKey::new("key")))?;
//! let rows = client.company_match(&MatchQuery { domain_name: Some("acme.com".into()), limit: 1, ..Default::default() }).await?;
//! # Ok(()) }
//! ```

pub mod cache;
mod client;
mod credits;
mod domain;
mod endpoint;
mod error;
mod ids;
mod limiter;
mod lookup;
mod metrics;
mod request;
mod retry;
mod row;
mod secret;

pub use cache::{CacheError, CacheStats, ResponseCache, default_cache_file};
pub use client::{ClientConfig, DEFAULT_BASE_URL, HgClient, LookupOptions, Page, Payload, RateHeaders};
pub use domain::normalize_domain;
pub use endpoint::{Endpoint, FETCHED_AT, FieldType};
pub use error::HgError;
pub use ids::{CompanyId, HexId, InvalidId};
pub use lookup::{LookupPlan, Rows};
pub use metrics::{EndpointMetrics, MetricsSnapshot, Tally, TallySnapshot};
pub use request::{
    Companies, EnrichRequest, Filters, Inclusion, InclusionMethod, ListQuery, MatchQuery, Sort, SortDirection,
};
pub use retry::RetryPolicy;
pub use row::{FieldValue, Row, parse_date};
pub use secret::{ApiKey, AuthScheme};
