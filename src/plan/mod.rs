//! Planning HG scans: pushdown (predicates → API parameters), and, with the SQL tables,
//! `ApiScanExec`, key extraction from join filters and the physical rules.

pub mod keys;
pub mod pushdown;
