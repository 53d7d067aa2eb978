//! `hg.products`, `hg.vendors`, `hg.categories`: HG's reference lists (`GET /catalog/...`, free).

use super::{ApiFilter, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

const NAME: &[Pushdown] = &[Pushdown { column: "name", filter: ApiFilter::Wire("name"), exact: false }];

pub static PRODUCTS: TableSpec = TableSpec {
    name: "products",
    endpoint: Endpoint::PRODUCTS,
    description: "Products HG tracks; use their id with hg.installs.product_id (free).",
    columns: &[
        field(Endpoint::PRODUCTS, "id", "HG product id."),
        field(Endpoint::PRODUCTS, "name", "Product name (filter with = or ILIKE: sent to HG as a name search)."),
        field(Endpoint::PRODUCTS, "description", "What the product is."),
        field(Endpoint::PRODUCTS, "vendor_id", "HG vendor id."),
        field(Endpoint::PRODUCTS, "vendor_name", "Vendor."),
        field(Endpoint::PRODUCTS, "product_category_id", "HG category id."),
    ],
    lookup: Lookup::Listing,
    pushdown: NAME,
};

pub static VENDORS: TableSpec = TableSpec {
    name: "vendors",
    endpoint: Endpoint::VENDORS,
    description: "Vendors HG tracks; use their id with hg.installs.vendor_id (free).",
    columns: &[
        field(Endpoint::VENDORS, "id", "HG vendor id."),
        field(Endpoint::VENDORS, "name", "Vendor name (filter with = or ILIKE: sent to HG as a name search)."),
        field(Endpoint::VENDORS, "domain_name", "Vendor's domain."),
    ],
    lookup: Lookup::Listing,
    pushdown: NAME,
};

pub static CATEGORIES: TableSpec = TableSpec {
    name: "categories",
    endpoint: Endpoint::CATEGORIES,
    description: "HG's product category tree (free).",
    columns: &[
        field(Endpoint::CATEGORIES, "id", "HG category id."),
        field(Endpoint::CATEGORIES, "name", "Category name (filter with = or ILIKE: sent to HG as a name search)."),
        field(Endpoint::CATEGORIES, "description", "What the category covers."),
        field(Endpoint::CATEGORIES, "level", "1 for a top-level category, up to 5."),
        field(Endpoint::CATEGORIES, "parent_id", "Id of the parent category; empty at level 1."),
    ],
    lookup: Lookup::Listing,
    pushdown: NAME,
};

/// The catalog under the v2 base: the same lists.
pub static PRODUCTS_V2: TableSpec = TableSpec { endpoint: Endpoint::V2_PRODUCTS, ..PRODUCTS };
pub static VENDORS_V2: TableSpec = TableSpec { endpoint: Endpoint::V2_VENDORS, ..VENDORS };
pub static CATEGORIES_V2: TableSpec = TableSpec { endpoint: Endpoint::V2_CATEGORIES, ..CATEGORIES };
