//! `hg.installs`: technologies a company uses (`POST /company/installs`, charged, batched).

use super::ColumnType::{Date, Id, Int, Text, TextList};
use super::{ApiFilter, COMPANY_KEY, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

pub static SPEC: TableSpec = TableSpec {
    name: "installs",
    endpoint: Endpoint::Installs,
    description: "Products a company is seen using, one row per product and country (1 credit per company, once; 25 companies per call).",
    columns: &[
        COMPANY_KEY,
        field("product_id", Int, "HG product id, e.g. 814 (filter with = / IN / NOT IN: sent to HG)."),
        field("product_name", Text, "Product."),
        field("product_description", Text, "What the product is."),
        field("vendor_id", Int, "HG vendor id (filter with = / IN / NOT IN: sent to HG)."),
        field("vendor_name", Text, "Vendor."),
        field("vendor_domain_name", Text, "Vendor's domain."),
        field(
            "product_category_id",
            Id,
            "HG category id of the product (filter: sent to HG, which also matches sub-categories).",
        ),
        field("product_category_level1_name", Text, "Broadest category."),
        field("product_category_level2_name", Text, "Category, level 2."),
        field("product_category_level3_name", Text, "Category, level 3."),
        field("product_category_level4_name", Text, "Category, level 4."),
        field("product_category_level5_name", Text, "Narrowest category, level 5."),
        field("product_attributes", TextList, "Attributes of the product, e.g. Cloud, SaaS."),
        field("product_first_verified_date", Date, "First day HG saw the install."),
        field("product_last_verified_date", Date, "Last day HG saw the install."),
        field("product_intensity", Int, "Days in a year with a signal of use (0–365)."),
        field("product_locations", TextList, "Where the install was seen."),
        field("country_code", Text, "Country of the install (filter with = / IN / NOT IN: sent to HG)."),
    ],
    lookup: Lookup::ByCompany { key: "company_id" },
    pushdown: &[
        Pushdown { column: "product_id", filter: ApiFilter::Products, exact: false },
        Pushdown { column: "vendor_id", filter: ApiFilter::Vendors, exact: false },
        Pushdown { column: "product_category_id", filter: ApiFilter::ProductCategories, exact: false },
        Pushdown { column: "country_code", filter: ApiFilter::CountryCodes, exact: false },
    ],
};
