//! Planning HG scans: pushdown (predicates → API parameters), the table provider, `ApiScanExec`
//! and its stream, key extraction from join filters, and the physical rules.
//!
//! HTTP tables (`STORED AS HTTP`) plan the same way: `http_factory` (the factory and the table)
//! → `http_scan`, which shares `keys` and `joins` (waiting for a join's keys) with the HG scan.
//!
//! Imports run one way: `provider` → `scan` → `fetch` → `request`, `keys`, `joins`, `pushdown`,
//! `options`; `http_factory` → `http_scan` → `keys`, `joins`, `fetch` (its row limit); `rules` →
//! `scan`, `http_scan`, `request`. Nothing imports `provider`, `http_factory` or `rules` back.

mod fetch;
mod http_factory;
mod http_scan;
mod joins;
pub mod keys;
mod options;
mod provider;
pub mod pushdown;
mod request;
mod rules;
mod scan;

pub use fetch::ScanError;
pub use http_factory::{HttpTable, HttpTableFactory};
pub use http_scan::HttpScanExec;
pub use options::{CacheTtl, ExplainOnly, HgOptions, OnError, ScanOptions, apply_lookup_settings};
pub use provider::HgTable;
pub use request::missing_keys_message;
pub use rules::{ApiOnProbeSide, ApiScanGuard, ShareEnrichRequests, feeds_lookup_scan, is_lookup_scan, waits_for_keys};
pub use scan::ApiScanExec;
