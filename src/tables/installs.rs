//! `hg.installs`: technologies a company uses (`POST /company/installs`, charged, batched).

use super::{ApiFilter, COMPANY_KEY, Column, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

/// The columns, whichever version serves them.
const COLUMNS: &[Column] = &[
    COMPANY_KEY,
    field(Endpoint::INSTALLS, "product_id", "HG product id, e.g. 814 (filter with = / IN / NOT IN: sent to HG)."),
    field(Endpoint::INSTALLS, "product_name", "Product."),
    field(Endpoint::INSTALLS, "product_description", "What the product is."),
    field(Endpoint::INSTALLS, "vendor_id", "HG vendor id (filter with = / IN / NOT IN: sent to HG)."),
    field(Endpoint::INSTALLS, "vendor_name", "Vendor."),
    field(Endpoint::INSTALLS, "vendor_domain_name", "Vendor's domain."),
    field(
        Endpoint::INSTALLS,
        "product_category_id",
        "HG category id of the product (filter: sent to HG, which also matches sub-categories).",
    ),
    field(Endpoint::INSTALLS, "product_category_level1_name", "Broadest category."),
    field(Endpoint::INSTALLS, "product_category_level2_name", "Category, level 2."),
    field(Endpoint::INSTALLS, "product_category_level3_name", "Category, level 3."),
    field(Endpoint::INSTALLS, "product_category_level4_name", "Category, level 4."),
    field(Endpoint::INSTALLS, "product_category_level5_name", "Narrowest category, level 5."),
    field(Endpoint::INSTALLS, "product_attributes", "Attributes of the product, e.g. Cloud, SaaS."),
    field(Endpoint::INSTALLS, "product_first_verified_date", "First day HG saw the install."),
    field(Endpoint::INSTALLS, "product_last_verified_date", "Last day HG saw the install."),
    field(Endpoint::INSTALLS, "product_intensity", "Days in a year with a signal of use (0–365)."),
    field(Endpoint::INSTALLS, "product_locations", "Where the install was seen."),
    field(Endpoint::INSTALLS, "country_code", "Country of the install (filter with = / IN / NOT IN: sent to HG)."),
];

const PUSHDOWN: &[Pushdown] = &[
    Pushdown { column: "product_id", filter: ApiFilter::Wire("products"), exact: false },
    Pushdown { column: "vendor_id", filter: ApiFilter::Wire("vendors"), exact: false },
    Pushdown { column: "product_category_id", filter: ApiFilter::Wire("product_categories"), exact: false },
    Pushdown { column: "country_code", filter: ApiFilter::Wire("country_codes"), exact: false },
];

/// On v1.
pub static SPEC: TableSpec = TableSpec {
    name: "installs",
    endpoint: Endpoint::INSTALLS,
    description: "Products a company is seen using, one row per product and country (1 credit per company, once; 25 companies per call).",
    columns: COLUMNS,
    lookup: Lookup::ByCompany { key: "company_id" },
    pushdown: PUSHDOWN,
};

/// On v2: the same columns from `companies/enrich`.
pub static SPEC_V2: TableSpec = TableSpec {
    endpoint: Endpoint::V2_TECHNOGRAPHICS,
    description: "Products a company is seen using, one row per product and country (1 credit per company, once; 25 companies per call).",
    ..SPEC
};
