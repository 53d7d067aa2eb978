//! `POST /companies/search`: v1's filter tree, identity only (`id`, `name`, `domain`), 1–100
//! companies a page (default 25), at most 25,000 (docs/hg-api-v2.md §2.5). Free.

use serde_json::{Map, Value, json};

use super::Answer;
use crate::sandbox::data::{DataSet, emitted_id};
use crate::sandbox::endpoints::search::matching;
use crate::sandbox::error::ApiError;
use crate::sandbox::request::Obj;

const FIELDS: [&str; 3] = ["id", "name", "domain"];
const MAX_LIMIT: i64 = 100;
const DEFAULT_LIMIT: i64 = 25;

pub fn handle(data: &DataSet, body: &Value) -> Result<Answer, ApiError> {
    let root = Obj::root(body)?;
    root.only(&["fields", "filters", "limit", "offset"])?;
    let fields: Vec<&str> = match root.array("fields")? {
        None => FIELDS.to_vec(),
        Some(items) => items
            .iter()
            .enumerate()
            .map(|(i, f)| {
                f.as_str().and_then(|f| FIELDS.iter().copied().find(|k| *k == f)).ok_or_else(|| {
                    ApiError::invalid(format!("/fields/{i}"), "a search field is one of: id, name, domain")
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let limit = root.integer("limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid("/limit", format!("'limit' must be from 1 to {MAX_LIMIT}, got {limit}")));
    }
    let offset = root.integer("offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("/offset", "'offset' must not be negative"));
    }
    let found = matching(data, &root)?;
    let companies: Vec<Value> = found
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|&c| {
            let company = data.company(c);
            let mut item = Map::new();
            for field in &fields {
                let value = match *field {
                    "id" => json!(emitted_id(company.id)),
                    "name" => json!(company.name),
                    _ => json!(company.domain),
                };
                item.insert(field.to_string(), value);
            }
            Value::Object(item)
        })
        .collect();
    Ok(Answer { body: json!({"companies": companies, "count": found.len()}), ..Answer::default() })
}
