//! `hg.products`, `hg.vendors`, `hg.categories`: HG's reference lists (`GET /catalog/...`, free).

use super::ColumnType::{Id, Int, Text};
use super::{ApiFilter, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

/// Catalog lists are small; this bounds a listing all the same.
const CATALOG_ROWS: usize = 100_000;

const NAME: &[Pushdown] = &[Pushdown { column: "name", filter: ApiFilter::CatalogName, exact: false }];

pub static PRODUCTS: TableSpec = TableSpec {
    name: "products",
    endpoint: Endpoint::Products,
    description: "Products HG tracks; use their id with hg.installs.product_id (free).",
    columns: &[
        field("id", Int, "HG product id."),
        field("name", Text, "Product name (filter with = or ILIKE: sent to HG as a name search)."),
        field("description", Text, "What the product is."),
        field("vendor_id", Int, "HG vendor id."),
        field("vendor_name", Text, "Vendor."),
        field("product_category_id", Id, "HG category id."),
    ],
    lookup: Lookup::Listing { max_rows: CATALOG_ROWS },
    pushdown: NAME,
};

pub static VENDORS: TableSpec = TableSpec {
    name: "vendors",
    endpoint: Endpoint::Vendors,
    description: "Vendors HG tracks; use their id with hg.installs.vendor_id (free).",
    columns: &[
        field("id", Int, "HG vendor id."),
        field("name", Text, "Vendor name (filter with = or ILIKE: sent to HG as a name search)."),
        field("domain_name", Text, "Vendor's domain."),
    ],
    lookup: Lookup::Listing { max_rows: CATALOG_ROWS },
    pushdown: NAME,
};

pub static CATEGORIES: TableSpec = TableSpec {
    name: "categories",
    endpoint: Endpoint::Categories,
    description: "HG's product category tree (free).",
    columns: &[
        field("id", Id, "HG category id."),
        field("name", Text, "Category name (filter with = or ILIKE: sent to HG as a name search)."),
        field("description", Text, "What the category covers."),
        field("level", Int, "1 for a top-level category, up to 5."),
        field("parent_id", Id, "Id of the parent category; empty at level 1."),
    ],
    lookup: Lookup::Listing { max_rows: CATALOG_ROWS },
    pushdown: NAME,
};
