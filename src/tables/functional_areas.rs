//! `hg.functional_areas`: HG's buying-centre intelligence, v2 only
//! (`POST /companies/functional-areas`, charged per company and product).

use super::{ApiFilter, COMPANY_KEY, Column, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

const E: Endpoint = Endpoint::V2_FUNCTIONAL_AREAS;

pub static SPEC: TableSpec = TableSpec {
    name: "functional_areas",
    endpoint: E,
    description: "Where a company uses a product: each department × role × location, with the titles of its decision makers and influencers (HG v2 only; 1 credit per company and product, once; product_id = / IN required).",
    columns: COLUMNS,
    lookup: Lookup::ByCompany { key: "company_id" },
    pushdown: &[Pushdown { column: "product_id", filter: ApiFilter::Wire("products"), exact: false }],
};

const COLUMNS: &[Column] = &[
    COMPANY_KEY,
    field(E, "product_id", "HG product id (required: = / IN, sent to HG)."),
    field(E, "product_name", "Product."),
    field(E, "department", "Department where the product is used, e.g. IT, Finance."),
    field(E, "role", "Level of the people using it, e.g. Director, Manager."),
    field(E, "city_name", "City of that department."),
    field(E, "state_name", "State or province of that department."),
    field(E, "country_code", "Country of that department (ISO 3166-1 alpha-2)."),
    field(E, "signal_strength", "Strength of the signal of use (1–100)."),
    field(E, "decision_maker_titles", "Job titles of the people who decide on the product."),
    field(E, "influencer_titles", "Job titles of the people who influence the choice."),
];
