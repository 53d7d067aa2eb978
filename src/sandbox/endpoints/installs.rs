//! `POST /company/installs`: the products a company (or a batch of up to 25) is seen using,
//! one row per company × product × country.

use serde_json::{Value, json};

use super::{Listing, row};
use crate::sandbox::data::reference::{ATTRIBUTES, COUNTRIES};
use crate::sandbox::data::{DataSet, Install, emitted_id, format_day};
use crate::sandbox::error::ApiError;
use crate::sandbox::request::{
    FilterId, IdKind, Inclusion, MAX_LIMIT, Obj, Sort, SortValue, company_selector, fields, inclusion, order, page,
    paging, sorts,
};

pub const FIELDS: &[&str] = &[
    "product_id",
    "product_name",
    "product_description",
    "vendor_id",
    "vendor_name",
    "vendor_domain_name",
    "product_category_id",
    "product_category_level1_name",
    "product_category_level2_name",
    "product_category_level3_name",
    "product_category_level4_name",
    "product_category_level5_name",
    "product_attributes",
    "product_first_verified_date",
    "product_last_verified_date",
    "product_intensity",
    "product_locations",
    "country_code",
];

const DEFAULT_FIELDS: &[&str] = &["product_id", "product_name", "vendor_id", "vendor_name"];

const SORTABLE: &[&str] = &[
    "product_id",
    "product_name",
    "vendor_id",
    "vendor_name",
    "product_intensity",
    "product_first_verified_date",
    "product_last_verified_date",
    "country_code",
];

const DEFAULT_ORDER: &[Sort] =
    &[Sort { field: "product_intensity", descending: true }, Sort { field: "product_id", descending: false }];

struct Filters {
    products: Option<Inclusion>,
    vendors: Option<Inclusion>,
    categories: Option<Inclusion>,
    attributes: Option<Inclusion>,
    countries: Option<Inclusion>,
}

pub fn handle(data: &DataSet, body: &Value) -> Result<Listing, ApiError> {
    let root = Obj::root(body)?;
    root.only(&["fields", "filters", "limit", "offset", "sorts"])?;
    let fields = fields(&root, FIELDS, DEFAULT_FIELDS)?;
    let filters = root.object("filters")?.ok_or_else(|| ApiError::invalid("/filters", "'filters' is required"))?;
    filters.only(&[
        "company_id",
        "company_ids",
        "products",
        "vendors",
        "product_categories",
        "product_attributes",
        "country_codes",
    ])?;
    let ids = company_selector(&filters, true)?;
    let batch = filters.has("company_ids");
    let read = |key: &str, kind: IdKind| -> Result<Option<Inclusion>, ApiError> {
        filters.get(key).map(|v| inclusion(v, &filters.pointer(key), kind, key == "vendors")).transpose()
    };
    let wanted = Filters {
        products: read("products", IdKind::Integer)?,
        vendors: read("vendors", IdKind::Integer)?,
        categories: read("product_categories", IdKind::Hex)?,
        attributes: read("product_attributes", IdKind::Integer)?,
        countries: read("country_codes", IdKind::Code)?,
    };
    let (limit, offset) = paging(&root, MAX_LIMIT)?;
    let requested = sorts(&root, SORTABLE)?;

    let mut rows: Vec<(usize, &Install)> = Vec::new();
    for (position, id) in ids.iter().enumerate() {
        if let Some(company) = data.company_index(*id) {
            let installs = data.installs_of(company);
            rows.extend(installs.iter().filter(|i| admits(data, &wanted, i, installs)).map(|i| (position, i)));
        }
    }
    order(
        &mut rows,
        &requested,
        DEFAULT_ORDER,
        |(_, i), f| sort_value(data, i, f),
        |a, b| (a.0, a.1.product, a.1.country).cmp(&(b.0, b.1.product, b.1.country)),
    );
    let page = page(&rows, limit, offset);
    let mut companies: Vec<u128> = Vec::new();
    let data_rows = page
        .iter()
        .map(|(position, install)| {
            let company_id = ids[*position];
            if !companies.contains(&company_id) {
                companies.push(company_id);
            }
            let mut out = row(&fields, |f| value(data, install, f));
            if batch {
                out.as_object_mut()
                    .expect("row is an object")
                    .insert("company_id".into(), json!(emitted_id(company_id)));
            }
            out
        })
        .collect();
    Ok(Listing { count: rows.len(), data: data_rows, companies })
}

fn admits(data: &DataSet, wanted: &Filters, install: &Install, all: &[Install]) -> bool {
    let catalog = &data.catalog;
    let product = &catalog.products[install.product as usize];
    let passes = |filter: &Option<Inclusion>, values: &dyn Fn() -> Vec<FilterId>| {
        filter.as_ref().is_none_or(|f| f.admits(&values()))
    };
    passes(&wanted.products, &|| vec![FilterId::Int(product.id)])
        && passes(&wanted.vendors, &|| vec![FilterId::Int(catalog.vendors[product.vendor as usize].id)])
        && passes(&wanted.countries, &|| vec![FilterId::Code(COUNTRIES[install.country as usize].code.to_string())])
        && passes(&wanted.attributes, &|| product.attributes.iter().map(|&a| FilterId::Int(ATTRIBUTES[a as usize].0)).collect())
        // A category filter matches the product's category or any category above it.
        && passes(&wanted.categories, &|| {
            catalog.category_path(product.category).into_iter().map(|c| FilterId::Hex(catalog.categories[c as usize].id)).collect()
        })
        && vendor_count_admits(data, wanted.vendors.as_ref(), product.vendor, all)
}

/// `vendors.product_count {min, max}`: keep a vendor only when the company uses between min
/// and max of its products.
fn vendor_count_admits(data: &DataSet, vendors: Option<&Inclusion>, vendor: u32, all: &[Install]) -> bool {
    let Some((min, max)) = vendors.and_then(|v| v.product_count) else {
        return true;
    };
    let mut products: Vec<u32> =
        all.iter().filter(|i| data.catalog.products[i.product as usize].vendor == vendor).map(|i| i.product).collect();
    products.sort_unstable();
    products.dedup();
    let n = products.len() as i64;
    min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)
}

fn sort_value(data: &DataSet, install: &Install, field: &str) -> SortValue {
    match value(data, install, field) {
        Value::Number(n) => n.as_i64().map_or(SortValue::Null, SortValue::Int),
        Value::String(s) => SortValue::Text(s),
        _ => SortValue::Null,
    }
}

pub(crate) fn value(data: &DataSet, install: &Install, field: &str) -> Value {
    let catalog = &data.catalog;
    let product = &catalog.products[install.product as usize];
    let vendor = &catalog.vendors[product.vendor as usize];
    if let Some(level) = field.strip_prefix("product_category_level").and_then(|r| r.strip_suffix("_name")) {
        let level: usize = level.parse().unwrap_or(0);
        let path = catalog.category_path(product.category);
        return path
            .iter()
            .rev()
            .nth(level.wrapping_sub(1))
            .map_or(Value::Null, |&c| json!(catalog.categories[c as usize].name));
    }
    match field {
        "product_id" => json!(product.id),
        "product_name" => json!(product.name),
        "product_description" => json!(product.description),
        "vendor_id" => json!(vendor.id),
        "vendor_name" => json!(vendor.name),
        "vendor_domain_name" => json!(vendor.domain),
        "product_category_id" => json!(emitted_id(catalog.categories[product.category as usize].id)),
        "product_attributes" => json!(product.attributes.iter().map(|&a| ATTRIBUTES[a as usize].1).collect::<Vec<_>>()),
        "product_first_verified_date" => json!(format_day(install.first_verified)),
        "product_last_verified_date" => json!(format_day(install.last_verified)),
        "product_intensity" => json!(install.intensity),
        "product_locations" => {
            let site = data.company(install.location);
            let place = [Some(site.city_name()), site.state_name(), Some(site.country().code)];
            json!([place.into_iter().flatten().collect::<Vec<_>>().join(", ")])
        }
        "country_code" => json!(COUNTRIES[install.country as usize].code),
        _ => Value::Null,
    }
}
