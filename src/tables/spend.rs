//! `hg.spend`: IT spend by category (`POST /company/spend`, charged, batched).

use super::ColumnType::{Id, Int, Text};
use super::{ApiFilter, COMPANY_KEY, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

pub static SPEC: TableSpec = TableSpec {
    name: "spend",
    endpoint: Endpoint::Spend,
    description: "Estimated IT spend per category and country (1 credit per company, once; 25 companies per call).",
    columns: &[
        COMPANY_KEY,
        field("spend", Int, "Estimated annual spend in USD."),
        field("category_id", Id, "HG spend category id (filter with = / IN: sent to HG)."),
        field("category_name", Text, "Spend category."),
        field("category_description", Text, "What the category covers."),
        field("country_code", Text, "Country of the spend."),
        field("country_name", Text, "Country."),
    ],
    lookup: Lookup::ByCompany { key: "company_id" },
    pushdown: &[Pushdown { column: "category_id", filter: ApiFilter::CategoryIds, exact: false }],
};
