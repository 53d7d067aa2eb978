//! `GET /catalog/{products,vendors,product-categories}`: the free reference lists, filtered by
//! a case-insensitive `name` substring and paged.

use serde_json::{Value, json};

use super::{Listing, opt, query_int, query_params};
use crate::sandbox::data::{DataSet, emitted_id};
use crate::sandbox::error::ApiError;
use crate::sandbox::request::{DEFAULT_LIMIT, MAX_LIMIT, page};

pub fn products(data: &DataSet, query: &[(String, String)]) -> Result<Listing, ApiError> {
    let catalog = &data.catalog;
    let mut items: Vec<_> = catalog.products.iter().collect();
    items.sort_by_key(|p| p.id);
    list(
        query,
        items,
        |p| &p.name,
        |p| {
            let vendor = &catalog.vendors[p.vendor as usize];
            json!({"id": p.id, "name": p.name, "description": p.description, "vendor_id": vendor.id, "vendor_name": vendor.name,
               "product_category_id": emitted_id(catalog.categories[p.category as usize].id)})
        },
    )
}

pub fn vendors(data: &DataSet, query: &[(String, String)]) -> Result<Listing, ApiError> {
    let mut items: Vec<_> = data.catalog.vendors.iter().collect();
    items.sort_by_key(|v| v.id);
    list(query, items, |v| v.name, |v| json!({"id": v.id, "name": v.name, "domain_name": v.domain}))
}

pub fn categories(data: &DataSet, query: &[(String, String)]) -> Result<Listing, ApiError> {
    let categories = &data.catalog.categories;
    list(
        query,
        categories.iter().collect(),
        |c| &c.name,
        |c| {
            json!({"id": emitted_id(c.id), "name": c.name, "description": c.description, "level": c.level,
               "parent_id": opt(c.parent.map(|p| emitted_id(categories[p as usize].id)))})
        },
    )
}

fn list<T>(
    query: &[(String, String)],
    items: Vec<T>,
    name: impl Fn(&T) -> &str,
    render: impl Fn(&T) -> Value,
) -> Result<Listing, ApiError> {
    let params = query_params(query, &["name", "limit", "offset"])?;
    let limit = query_int(&params, "limit", 1..=MAX_LIMIT as i64, DEFAULT_LIMIT as i64)? as usize;
    let offset = query_int(&params, "offset", 0..=i64::MAX, 0)? as usize;
    let needle = params.get("name").and_then(Value::as_str).map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
    let matching: Vec<&T> =
        items.iter().filter(|i| needle.as_ref().is_none_or(|n| name(i).to_lowercase().contains(n))).collect();
    let data = page(&matching, limit, offset).iter().map(|i| render(i)).collect();
    Ok(Listing { count: matching.len(), data, companies: Vec::new() })
}
