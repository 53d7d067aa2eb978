//! `hg.installs`: technologies a company uses (`POST /company/installs`, charged, batched).

use super::{ApiFilter, COMPANY_KEY, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

pub static SPEC: TableSpec = TableSpec {
    name: "installs",
    endpoint: Endpoint::INSTALLS,
    description: "Products a company is seen using, one row per product and country (1 credit per company, once; 25 companies per call).",
    columns: &[
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
    ],
    lookup: Lookup::ByCompany { key: "company_id" },
    pushdown: &[
        Pushdown { column: "product_id", filter: ApiFilter::Wire("products"), exact: false },
        Pushdown { column: "vendor_id", filter: ApiFilter::Wire("vendors"), exact: false },
        Pushdown { column: "product_category_id", filter: ApiFilter::Wire("product_categories"), exact: false },
        Pushdown { column: "country_code", filter: ApiFilter::Wire("country_codes"), exact: false },
    ],
};
