//! `hg.search`: companies that fit a profile (`POST /company/search`, free, at most 25,000).

use super::ColumnType::{Id, Text};
use super::{Lookup, TableSpec, field};
use crate::api::Endpoint;

pub static SPEC: TableSpec = TableSpec {
    name: "search",
    endpoint: Endpoint::Search,
    description: "Companies fitting a profile, largest first (free; at most 25,000 rows).",
    columns: &[
        field("company_id", Id, "HG id of the company."),
        field("company_name", Text, "Company name."),
        field("domain_name", Text, "Web domain as HG stores it."),
        field("domain_name_normalized", Text, "Domain without scheme or www."),
    ],
    lookup: Lookup::Listing { max_rows: 25_000 },
    pushdown: &[],
};
