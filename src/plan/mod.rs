//! Planning HG scans: pushdown (predicates → API parameters), the table provider, `ApiScanExec`
//! and its stream, key extraction from join filters, and the physical rules.

mod fetch;
pub mod keys;
mod options;
mod provider;
pub mod pushdown;
mod rules;
mod scan;

pub use fetch::ScanError;
pub use options::{CacheTtl, HgOptions, OnError};
pub use provider::HgTable;
pub use rules::{ApiOnProbeSide, ApiScanGuard, missing_keys_message};
pub use scan::{ApiScanExec, ScanOptions};
