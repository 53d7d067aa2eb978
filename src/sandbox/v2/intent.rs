//! `POST /intent/enrich`: the research topics of one company, by id or domain, with v2's field
//! names (docs/hg-api-v2.md §2.7). Charged once per company that has topics.

use serde_json::{Value, json};

use super::{Answer, Group};
use crate::sandbox::data::reference::{BUYERS_JOURNEY, INTENT_CONTEXTS};
use crate::sandbox::data::{DataSet, Intent, emitted_id, format_day};
use crate::sandbox::endpoints::intent::ordered;
use crate::sandbox::error::ApiError;
use crate::sandbox::request::Obj;

const MAX_LIMIT: i64 = 100;

/// The company an object `{"id"}` or `{"domain"}` names, if the data set has it.
pub(super) fn company(data: &DataSet, root: &Obj) -> Result<Option<u32>, ApiError> {
    let company = root.object("company")?.ok_or_else(|| ApiError::invalid("/company", "'company' is required"))?;
    company.only(&["id", "domain"])?;
    match (company.string("id")?, company.string("domain")?) {
        (Some(id), None) => {
            let id = crate::sandbox::data::parse_id(id.trim()).ok_or_else(|| {
                ApiError::invalid("/company/id", format!("'{id}' is not an HG company id (hexadecimal)"))
            })?;
            Ok(data.company_index(id))
        }
        (None, Some(domain)) => {
            Ok(crate::sandbox::endpoints::company_match::candidates(data, Some(domain), None, None).first().copied())
        }
        _ => Err(ApiError::invalid("/company", "give exactly one of 'company.id' and 'company.domain'")),
    }
}

/// `limit` (1–`max`, default `max`) and `offset` at the top of the body.
pub(super) fn paging(root: &Obj, max: i64) -> Result<(usize, usize), ApiError> {
    let limit = root.integer("limit")?.unwrap_or(max);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid("/limit", format!("'limit' must be from 1 to {max}, got {limit}")));
    }
    let offset = root.integer("offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("/offset", "'offset' must not be negative"));
    }
    Ok((limit as usize, offset as usize))
}

pub fn handle(data: &DataSet, body: &Value) -> Result<Answer, ApiError> {
    let root = Obj::root(body)?;
    root.only(&["company", "limit", "offset"])?;
    let found = company(data, &root)?;
    let (limit, offset) = paging(&root, MAX_LIMIT)?;
    let Some(index) = found else {
        return Ok(Answer {
            body: json!({"company": null, "topics": {"count": 0, "data": []}}),
            companies: 1,
            asked: vec![Group::Intent],
            ..Answer::default()
        });
    };
    let company = data.company(index);
    let topics = ordered(data, index);
    let items: Vec<Value> = topics.iter().skip(offset).take(limit).map(|t| topic(data, t)).collect();
    let returned = if items.is_empty() { Vec::new() } else { vec![(Group::Intent, vec![company.id])] };
    let body = json!({
        "company": {"id": emitted_id(company.id), "name": company.name, "domain": company.domain},
        "topics": {"count": topics.len(), "data": items},
    });
    Ok(Answer { body, returned, companies: 1, asked: vec![Group::Intent] })
}

/// One topic under v2's names; `topic_id` is the sandbox's extra.
fn topic(data: &DataSet, intent: &Intent) -> Value {
    let topic = &data.catalog.topics[intent.topic as usize];
    let level = match intent.signal_strength {
        85.. => "HIGH",
        60..=84 => "MEDIUM",
        _ => "LOW",
    };
    let contexts: Vec<&str> =
        INTENT_CONTEXTS.iter().enumerate().filter(|(i, _)| intent.contexts & (1 << i) != 0).map(|(_, c)| *c).collect();
    json!({
        "topic_id": emitted_id(topic.id),
        "name": topic.name,
        "score": intent.signal_strength,
        "signal_level": level,
        "trend": intent.signal_trend,
        "buyers_journey_name": BUYERS_JOURNEY[intent.journey as usize],
        "context_type_names": contexts,
        "location_strength": intent.location_strength,
        "last_seen_at": format_day(intent.datestamp),
        "product_names": [],
        "vendor_names": [],
        "source": "HG Insights",
    })
}
