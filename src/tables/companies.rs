//! `hg.companies`: HG ids for your domains and names (`GET /company/match`, free).

use super::ColumnSource::{Echo, Rank};
use super::ColumnType::{Int, Text};
use super::{ApiFilter, Column, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

/// The columns, whichever version serves them.
const COLUMNS: &[Column] = &[
    Column {
        name: "match_domain",
        kind: Text,
        source: Echo,
        description: "The domain asked for, exactly as given (normalised only for the call), so a join on it always holds.",
    },
    Column {
        name: "match_name",
        kind: Text,
        source: Echo,
        description: "The company name asked for, exactly as given.",
    },
    Column {
        name: "match_country_code",
        kind: Text,
        source: Echo,
        description: "The ISO country code the match was narrowed to, if any.",
    },
    Column {
        name: "match_rank",
        kind: Int,
        source: Rank,
        description: "1 for the best match; `match_rank <= n` asks HG for n matches (at most 10).",
    },
    field(Endpoint::MATCH, "company_id", "HG id of the matched company (32 hex characters)."),
    field(Endpoint::MATCH, "company_name", "HG's name for the company."),
    field(Endpoint::MATCH, "domain_name", "HG's domain for the company."),
];

const PUSHDOWN: &[Pushdown] = &[Pushdown { column: "match_rank", filter: ApiFilter::MatchLimit, exact: true }];

/// On v1.
pub static SPEC: TableSpec = TableSpec {
    name: "companies",
    endpoint: Endpoint::MATCH,
    description: "HG companies matching a domain and/or a name, best match first (free). Join your list on match_domain or match_name.",
    columns: COLUMNS,
    lookup: Lookup::ByMatch { domain: "match_domain", name: "match_name", country: "match_country_code" },
    pushdown: PUSHDOWN,
};

/// On v2: the same columns from `companies/match`.
pub static SPEC_V2: TableSpec = TableSpec {
    endpoint: Endpoint::V2_MATCH,
    description: "HG companies matching a domain and/or a name, best match first (free; 10 inputs per call). Join your list on match_domain or match_name.",
    ..SPEC
};
