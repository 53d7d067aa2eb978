//! `POST /companies/match`: HG ids for 1–10 inputs a request, each echoed with its candidates
//! (docs/hg-api-v2.md §2.1). Matching is v1's: normalised domain, name words, HQs first.

use serde_json::{Map, Value, json};

use super::Answer;
use crate::sandbox::data::{DataSet, emitted_id};
use crate::sandbox::endpoints::company_match::candidates;
use crate::sandbox::error::ApiError;
use crate::sandbox::request::Obj;

/// Inputs one request may carry.
pub const MAX_INPUTS: usize = 10;

pub fn handle(data: &DataSet, body: &Value) -> Result<Answer, ApiError> {
    let root = Obj::root(body)?;
    root.only(&["companies", "limit"])?;
    let limit = match root.integer("limit")? {
        None => 1,
        Some(n @ 1..=10) => n as usize,
        Some(n) => return Err(ApiError::invalid("/limit", format!("'limit' must be from 1 to 10, got {n}"))),
    };
    let inputs = root.array("companies")?.ok_or_else(|| ApiError::invalid("/companies", "'companies' is required"))?;
    if inputs.is_empty() || inputs.len() > MAX_INPUTS {
        return Err(ApiError::invalid(
            "/companies",
            format!("'companies' takes 1 to {MAX_INPUTS} inputs, got {}", inputs.len()),
        ));
    }
    let mut entries = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let item = Obj::at(input, format!("/companies/{i}"))?;
        item.only(&["name", "domain", "country"])?;
        // A blank string counts as absent.
        let text = |key: &str| -> Result<Option<&str>, ApiError> {
            Ok(item.string(key)?.map(str::trim).filter(|s| !s.is_empty()))
        };
        let (name, domain, country) = (text("name")?, text("domain")?, text("country")?);
        if name.is_none() && domain.is_none() && country.is_none() {
            return Err(ApiError::invalid(
                format!("/companies/{i}"),
                "each input needs at least one of 'name', 'domain' and 'country'",
            ));
        }
        let matches: Vec<Value> = candidates(data, domain, name, country)
            .into_iter()
            .take(limit)
            .map(|c| {
                let company = data.company(c);
                json!({"id": emitted_id(company.id), "name": company.name, "domain": company.domain,
                       "country_code": company.country().code})
            })
            .collect();
        let echo: Map<String, Value> = input.as_object().cloned().unwrap_or_default();
        entries.push(json!({"input": echo, "matches": matches}));
    }
    Ok(Answer { body: json!({"companies": entries}), companies: inputs.len(), ..Answer::default() })
}
