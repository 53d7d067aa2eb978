//! Planning HG scans: pushdown (predicates → API parameters), the table provider, `ApiScanExec`
//! and its stream, key extraction from join filters, and the physical rules.
//!
//! Imports run one way: `provider` → `scan` → `fetch` → `request`, `keys`, `pushdown`,
//! `options`; `rules` → `scan`, `request`. Nothing imports `provider` or `rules` back.

mod fetch;
mod joins;
pub mod keys;
mod options;
mod provider;
pub mod pushdown;
mod request;
mod rules;
mod scan;

pub use fetch::ScanError;
pub use options::{CacheTtl, ExplainOnly, HgOptions, OnError, ScanOptions};
pub use provider::HgTable;
pub use request::missing_keys_message;
pub use rules::{ApiOnProbeSide, ApiScanGuard, ShareEnrichRequests};
pub use scan::ApiScanExec;
