//! `POST /company/intent`: research topics one company shows interest in (no batch form).

use serde_json::{Value, json};

use super::{Listing, row};
use crate::sandbox::data::reference::{BUYERS_JOURNEY, INTENT_CONTEXTS};
use crate::sandbox::data::{DataSet, Intent, emitted_id, format_day};
use crate::sandbox::error::ApiError;
use crate::sandbox::request::{
    FilterId, IdKind, MAX_LIMIT, Obj, Sort, SortValue, company_selector, fields, filter_ids, order, page, paging, sorts,
};

pub const FIELDS: &[&str] = &[
    "topic_id",
    "topic_name",
    "url",
    "signal_strength",
    "signal_trend",
    "location_strength",
    "buyers_journey_name",
    "context_name_array",
    "state_name",
    "country_name",
    "region_name",
    "datestamp",
];
const DEFAULT_FIELDS: &[&str] = &["topic_id", "topic_name", "signal_strength"];
const SORTABLE: &[&str] = &["topic_id", "signal_strength", "datestamp"];
const DEFAULT_ORDER: &[Sort] =
    &[Sort { field: "signal_strength", descending: true }, Sort { field: "topic_id", descending: false }];

pub fn handle(data: &DataSet, body: &Value) -> Result<Listing, ApiError> {
    let root = Obj::root(body)?;
    root.only(&["fields", "filters", "limit", "offset", "sorts"])?;
    let fields = fields(&root, FIELDS, DEFAULT_FIELDS)?;
    let filters = root.object("filters")?.ok_or_else(|| ApiError::invalid("/filters", "'filters' is required"))?;
    filters.only(&["company_id", "company_ids", "topic_ids"])?;
    let id = company_selector(&filters, false)?[0];
    let topics = match filters.array("topic_ids")? {
        Some(items) => Some(filter_ids(items, &filters.pointer("topic_ids"), IdKind::Hex)?),
        None => None,
    };
    let (limit, offset) = paging(&root, MAX_LIMIT)?;
    let requested = sorts(&root, SORTABLE)?;
    let Some(company) = data.company_index(id) else {
        return Ok(Listing::default());
    };
    let mut rows: Vec<&Intent> = data
        .intent_of(company)
        .iter()
        .filter(|i| {
            topics.as_ref().is_none_or(|t| t.contains(&FilterId::Hex(data.catalog.topics[i.topic as usize].id)))
        })
        .collect();
    order(&mut rows, &requested, DEFAULT_ORDER, |i, f| sort_value(data, i, f), |a, b| a.topic.cmp(&b.topic));
    let data_rows: Vec<Value> =
        page(&rows, limit, offset).iter().map(|i| row(&fields, |f| value(data, i, f))).collect();
    let companies = if data_rows.is_empty() { vec![] } else { vec![id] };
    Ok(Listing { count: rows.len(), data: data_rows, companies })
}

/// A company's topics in v1's default order: strongest first, then topic id.
pub(crate) fn ordered(data: &DataSet, company: u32) -> Vec<&Intent> {
    let mut rows: Vec<&Intent> = data.intent_of(company).iter().collect();
    order(&mut rows, &[], DEFAULT_ORDER, |i, f| sort_value(data, i, f), |a, b| a.topic.cmp(&b.topic));
    rows
}

fn sort_value(data: &DataSet, intent: &Intent, field: &str) -> SortValue {
    match field {
        "topic_id" => SortValue::Text(format!("{:032X}", data.catalog.topics[intent.topic as usize].id)),
        "signal_strength" => SortValue::Int(intent.signal_strength),
        "datestamp" => SortValue::Int(intent.datestamp.into()),
        _ => SortValue::Null,
    }
}

pub(crate) fn value(data: &DataSet, intent: &Intent, field: &str) -> Value {
    let topic = &data.catalog.topics[intent.topic as usize];
    let company = data.company(intent.company);
    match field {
        "topic_id" => json!(emitted_id(topic.id)),
        "topic_name" => json!(topic.name),
        "url" => json!(topic.url),
        "signal_strength" => json!(intent.signal_strength),
        "signal_trend" => json!(intent.signal_trend),
        "location_strength" => json!(intent.location_strength),
        "buyers_journey_name" => json!(BUYERS_JOURNEY[intent.journey as usize]),
        "context_name_array" => json!(
            INTENT_CONTEXTS
                .iter()
                .enumerate()
                .filter(|(i, _)| intent.contexts & (1 << i) != 0)
                .map(|(_, c)| *c)
                .collect::<Vec<_>>()
        ),
        "state_name" => super::opt(company.state_name()),
        "country_name" => json!(company.country().name),
        "region_name" => json!(company.country().region),
        "datestamp" => json!(format_day(intent.datestamp)),
        _ => Value::Null,
    }
}
