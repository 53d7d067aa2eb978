//! `POST /company/spend`: estimated IT spend per category and country, batchable like installs.

use serde_json::{Value, json};

use super::{Listing, row};
use crate::sandbox::data::reference::COUNTRIES;
use crate::sandbox::data::{DataSet, Spend, emitted_id};
use crate::sandbox::error::ApiError;
use crate::sandbox::request::{
    FilterId, IdKind, MAX_LIMIT, Obj, Sort, SortValue, company_selector, fields, filter_ids, order, page, paging, sorts,
};

pub const FIELDS: &[&str] =
    &["company_id", "spend", "category_id", "category_name", "category_description", "country_code", "country_name"];
const DEFAULT_FIELDS: &[&str] = &["category_id", "category_name", "spend", "country_code"];
const SORTABLE: &[&str] = &["spend", "category_id", "country_code"];
const DEFAULT_ORDER: &[Sort] =
    &[Sort { field: "spend", descending: true }, Sort { field: "category_id", descending: false }];

pub fn handle(data: &DataSet, body: &Value) -> Result<Listing, ApiError> {
    let root = Obj::root(body)?;
    root.only(&["fields", "filters", "limit", "offset", "sorts"])?;
    let fields = fields(&root, FIELDS, DEFAULT_FIELDS)?;
    let filters = root.object("filters")?.ok_or_else(|| ApiError::invalid("/filters", "'filters' is required"))?;
    filters.only(&["company_id", "company_ids", "category_ids"])?;
    let ids = company_selector(&filters, true)?;
    let batch = filters.has("company_ids");
    let categories = match filters.array("category_ids")? {
        Some(items) => Some(filter_ids(items, &filters.pointer("category_ids"), IdKind::Hex)?),
        None => None,
    };
    let (limit, offset) = paging(&root, MAX_LIMIT)?;
    let requested = sorts(&root, SORTABLE)?;

    let mut rows: Vec<(usize, &Spend)> = Vec::new();
    for (position, id) in ids.iter().enumerate() {
        if let Some(company) = data.company_index(*id) {
            rows.extend(
                data.spend_of(company)
                    .iter()
                    .filter(|s| {
                        categories
                            .as_ref()
                            .is_none_or(|c| c.contains(&FilterId::Hex(data.catalog.categories[s.category as usize].id)))
                    })
                    .map(|s| (position, s)),
            );
        }
    }
    order(
        &mut rows,
        &requested,
        DEFAULT_ORDER,
        |(_, s), f| sort_value(data, s, f),
        |a, b| (a.0, a.1.category, a.1.country).cmp(&(b.0, b.1.category, b.1.country)),
    );
    let mut companies = Vec::new();
    let data_rows = page(&rows, limit, offset)
        .iter()
        .map(|(position, spend)| {
            let company_id = ids[*position];
            if !companies.contains(&company_id) {
                companies.push(company_id);
            }
            let mut out = row(&fields, |f| value(data, company_id, spend, f));
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

fn sort_value(data: &DataSet, spend: &Spend, field: &str) -> SortValue {
    match field {
        "spend" => SortValue::Int(spend.spend),
        // Hex ids sort by their value, which is also their padded text order.
        "category_id" => SortValue::Text(format!("{:032X}", data.catalog.categories[spend.category as usize].id)),
        "country_code" => SortValue::Text(COUNTRIES[spend.country as usize].code.to_string()),
        _ => SortValue::Null,
    }
}

pub(crate) fn value(data: &DataSet, company_id: u128, spend: &Spend, field: &str) -> Value {
    let category = &data.catalog.categories[spend.category as usize];
    let country = &COUNTRIES[spend.country as usize];
    match field {
        "company_id" => json!(emitted_id(company_id)),
        "spend" => json!(spend.spend),
        "category_id" => json!(emitted_id(category.id)),
        "category_name" => json!(category.name),
        "category_description" => json!(category.description),
        "country_code" => json!(country.code),
        "country_name" => json!(country.name),
        _ => Value::Null,
    }
}
