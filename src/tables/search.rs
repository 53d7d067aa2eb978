//! `hg.search`: companies that fit a profile (`POST /company/search`, free, at most 25,000).

use super::{Lookup, TableSpec, field};
use crate::api::Endpoint;

pub static SPEC: TableSpec = TableSpec {
    name: "search",
    endpoint: Endpoint::SEARCH,
    description: "Companies fitting a profile, largest first (free; at most 25,000 rows).",
    columns: &[
        field(Endpoint::SEARCH, "company_id", "HG id of the company."),
        field(Endpoint::SEARCH, "company_name", "Company name."),
        field(Endpoint::SEARCH, "domain_name", "Web domain as HG stores it."),
        field(Endpoint::SEARCH, "domain_name_normalized", "Domain without scheme or www."),
    ],
    lookup: Lookup::Listing,
    pushdown: &[],
};
