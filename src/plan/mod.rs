//! Pushdown, `ApiScanExec`, key extraction from join filters and the physical rules. Filled in
//! with the SQL tables.
