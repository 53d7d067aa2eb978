//! `GET /company/match`: HG ids for a domain and/or a name, best match first (free).

use serde_json::{Map, Value};

use super::{Listing, firmographic, query_int, query_params, row};
use crate::sandbox::data::{DataSet, name_words, normalize_domain};
use crate::sandbox::error::ApiError;

const FIELDS: &[&str] = &["company_id", "company_name", "domain_name"];

pub fn handle(data: &DataSet, query: &[(String, String)]) -> Result<Listing, ApiError> {
    let params = query_params(query, &["domain_name", "company_name", "country_code", "limit"])?;
    let text = |name: &str| param(&params, name);
    let limit = query_int(&params, "limit", 1..=10, 1)? as usize;
    let (domain, name, country) = (text("domain_name"), text("company_name"), text("country_code"));
    if domain.is_none() && name.is_none() {
        return Err(ApiError::invalid_parameter("domain_name", "Provide 'domain_name' or 'company_name' (or both)"));
    }
    let candidates = candidates(data, domain, name, country);
    let rows =
        candidates.iter().take(limit).map(|&c| row(FIELDS, |f| firmographic::value(data.company(c), f))).collect();
    Ok(Listing { count: candidates.len(), data: rows, companies: Vec::new() })
}

/// The companies an input matches, best first: by normalised domain, else by the words of the
/// name (without legal suffixes), else (v2's country-only input) every company of the country;
/// the country narrows. Ranked: an exact name match first (when a name was given), then global
/// HQs before domestic HQs before sites, then larger companies, then by id.
pub fn candidates(data: &DataSet, domain: Option<&str>, name: Option<&str>, country: Option<&str>) -> Vec<u32> {
    let query_words = name.map(name_words).unwrap_or_default();
    let mut candidates: Vec<u32> = match (domain, name) {
        (Some(domain), _) => data.companies_with_domain(&normalize_domain(domain)).to_vec(),
        (None, Some(_)) => data.companies_with_name_words(&query_words),
        (None, None) => (0..data.companies.len() as u32).collect(),
    };
    if let Some(country) = country {
        candidates.retain(|&c| data.company(c).country().code.eq_ignore_ascii_case(country));
    }
    candidates.sort_by_key(|&c| {
        let company = data.company(c);
        let exact_name = !query_words.is_empty() && name_words(&company.name) == query_words;
        (!exact_name, company.level, std::cmp::Reverse(company.employees.unwrap_or(0)), company.id)
    });
    candidates
}

fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    params.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}
