//! `POST /company/firmographic`: one company's profile, the id at the top level.

use serde_json::{Value, json};

use super::{Listing, opt, row};
use crate::sandbox::data::{Company, DataSet, emitted_id};
use crate::sandbox::error::ApiError;
use crate::sandbox::request::{Obj, company_id, fields};

pub const FIELDS: &[&str] = &[
    "company_id",
    "company_name",
    "domain_name",
    "domain_name_normalized",
    "company_level",
    "city_name",
    "state_name",
    "postal_code",
    "country_name",
    "country_code",
    "continent_name",
    "subcontinent_name",
    "geopolitical_name",
    "industry_id",
    "industry_name",
    "naics_code",
    "naics_name",
    "sic_codes",
    "sic_names",
    "revenue_total",
    "revenue_band",
    "employees_total",
    "employees_band",
    "it_spend",
    "forbes_2000_rank",
    "fortune_500_rank",
    "global_hq_company_name",
    "global_hq_domain_name",
    "global_hq_domain_name_normalized",
    "global_hq_hg_id",
    "global_hq_city_name",
    "global_hq_state_name",
    "global_hq_postal_code",
    "global_hq_country_name",
    "global_hq_country_code",
    "global_hq_subcontinent_name",
    "global_hq_continent_name",
    "global_hq_geopolitical_name",
    "global_hq_employees_band",
    "global_hq_revenue_band",
    "global_hq_industry_id",
    "global_hq_industry_name",
    "global_hq_naics_code",
    "global_hq_naics_name",
    "global_hq_sic_codes",
    "global_hq_sic_names",
    "global_hq_forbes_2000_rank",
    "global_hq_fortune_500_rank",
];

/// Returned when the request names no `fields` (docs/hg-api.md §3.2).
const DEFAULT_FIELDS: &[&str] = &["company_id", "company_name", "domain_name"];

pub fn handle(data: &DataSet, body: &Value) -> Result<Listing, ApiError> {
    let root = Obj::root(body)?;
    root.only(&["company_id", "fields"])?;
    let fields = fields(&root, FIELDS, DEFAULT_FIELDS)?;
    let id = root
        .get("company_id")
        .ok_or_else(|| ApiError::invalid(root.pointer("company_id"), "'company_id' is required"))?;
    let id = company_id(id, &root.pointer("company_id"))?;
    let Some(index) = data.company_index(id) else {
        return Ok(Listing::default());
    };
    let company = data.company(index);
    let ghq = data.company(company.global_hq);
    let data = vec![row(&fields, |f| match f.strip_prefix("global_hq_") {
        Some("hg_id") => json!(emitted_id(ghq.id)),
        Some(rest) => value(ghq, rest),
        None => value(company, f),
    })];
    Ok(Listing { count: 1, data, companies: vec![id] })
}

/// The value of a firmographic field of a company (also used by match and search).
pub fn value(c: &Company, field: &str) -> Value {
    let country = c.country();
    let industry = c.industry();
    match field {
        "company_id" => json!(emitted_id(c.id)),
        "company_name" => json!(c.name),
        "domain_name" => json!(c.domain),
        "domain_name_normalized" => json!(c.domain_normalized),
        "company_level" => json!(c.level.label()),
        "city_name" => json!(c.city_name()),
        "state_name" => opt(c.state_name()),
        "postal_code" => opt(c.postal_code.clone()),
        "country_name" => json!(country.name),
        "country_code" => json!(country.code),
        "continent_name" => json!(country.continent),
        "subcontinent_name" => json!(country.subcontinent),
        "geopolitical_name" => json!(country.geopolitical),
        "industry_id" => opt(industry.map(|i| i.id)),
        "industry_name" => opt(industry.map(|i| i.name)),
        "naics_code" => opt(industry.map(|i| i.naics_code)),
        "naics_name" => opt(industry.map(|i| i.naics_name)),
        "sic_codes" => opt(industry.map(|i| i.sic.iter().map(|s| s.0).collect::<Vec<_>>())),
        "sic_names" => opt(industry.map(|i| i.sic.iter().map(|s| s.1).collect::<Vec<_>>())),
        "revenue_total" => opt(c.revenue),
        "revenue_band" => opt(c.revenue_band()),
        "employees_total" => opt(c.employees),
        "employees_band" => opt(c.employees_band()),
        "it_spend" => opt(c.it_spend),
        "forbes_2000_rank" => opt(c.forbes_2000_rank),
        "fortune_500_rank" => opt(c.fortune_500_rank),
        _ => Value::Null,
    }
}
