//! `hg.spend`: IT spend by category (`POST /company/spend`, charged, batched).

use super::{ApiFilter, COMPANY_KEY, Column, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

/// The columns, whichever version serves them.
const COLUMNS: &[Column] = &[
    COMPANY_KEY,
    field(Endpoint::SPEND, "spend", "Estimated annual spend in USD."),
    field(Endpoint::SPEND, "category_id", "HG spend category id (filter with = / IN: sent to HG)."),
    field(Endpoint::SPEND, "category_name", "Spend category."),
    field(Endpoint::SPEND, "category_description", "What the category covers."),
    field(Endpoint::SPEND, "country_code", "Country of the spend."),
    field(Endpoint::SPEND, "country_name", "Country."),
];

const PUSHDOWN: &[Pushdown] =
    &[Pushdown { column: "category_id", filter: ApiFilter::Wire("category_ids"), exact: false }];

/// On v1.
pub static SPEC: TableSpec = TableSpec {
    name: "spend",
    endpoint: Endpoint::SPEND,
    description: "Estimated IT spend per category and country (1 credit per company, once; 25 companies per call).",
    columns: COLUMNS,
    lookup: Lookup::ByCompany { key: "company_id" },
    pushdown: PUSHDOWN,
};

/// On v2: the same columns from `companies/enrich`.
pub static SPEC_V2: TableSpec = TableSpec {
    endpoint: Endpoint::V2_SPEND,
    description: "Estimated IT spend per category and country (1 credit per company, once; 25 companies per call).",
    ..SPEC
};
