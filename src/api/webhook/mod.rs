//! Sending query results to a webhook (a Clay table's, or any HTTP intake) so that no row is
//! sent twice, DataFusion-free. Built so far: the delivery ledger (`ledger`: a row is marked
//! `pending` and committed before it is sent) and the rules that decide from it whether a row
//! goes out again (`policy`). The sink that uses them is still to come.

pub mod ledger;
pub mod policy;
