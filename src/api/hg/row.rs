//! Rows as the client hands them on: every documented field read leniently into its type, ids
//! normalised, dates reduced to dates. Extra fields are kept as text; missing ones are absent.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value;

use super::endpoint::{Endpoint, FieldType};
use super::ids::HexId;

/// The rows of one key, shared by every lookup that wanted it.
pub type Rows = std::sync::Arc<Vec<Row>>;

/// One field's value.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Date(NaiveDate),
    List(Vec<String>),
    Bool(bool),
}

impl FieldValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            FieldValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            FieldValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// One row of an endpoint's answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub fields: BTreeMap<String, FieldValue>,
}

impl Row {
    pub fn get(&self, field: &str) -> Option<&FieldValue> {
        self.fields.get(field)
    }

    /// The row's `company_id`, normalised, when it has one.
    pub fn company_id(&self) -> Option<&str> {
        self.get("company_id").and_then(FieldValue::as_str)
    }

    /// Reads a JSON object returned by `endpoint`.
    pub fn decode(endpoint: Endpoint, object: &serde_json::Map<String, Value>) -> Row {
        let fields = object
            .iter()
            .map(|(name, value)| {
                // Another spelling of a field is read as the field, unless the field came too.
                let name = match endpoint.alias_of(name) {
                    Some(field) if !object.contains_key(field) => field,
                    _ => name.as_str(),
                };
                let kind = endpoint.field_type(name).unwrap_or(FieldType::Text);
                (name.to_string(), read(kind, value))
            })
            .collect();
        Row { fields }
    }
}

impl Row {
    /// The row as the JSON object [`Row::decode`] reads back into the same row (the response
    /// cache stores rows this way).
    pub fn encode(&self) -> serde_json::Map<String, Value> {
        self.fields
            .iter()
            .map(|(name, value)| {
                let json = match value {
                    FieldValue::Null => Value::Null,
                    FieldValue::Text(s) => Value::String(s.clone()),
                    FieldValue::Int(i) => Value::from(*i),
                    FieldValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
                    FieldValue::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
                    FieldValue::List(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
                    FieldValue::Bool(b) => Value::Bool(*b),
                };
                (name.clone(), json)
            })
            .collect()
    }
}

fn read(kind: FieldType, value: &Value) -> FieldValue {
    match (kind, value) {
        (_, Value::Null) => FieldValue::Null,
        (FieldType::Id, Value::String(s)) => {
            FieldValue::Text(HexId::parse(s).map_or_else(|_| s.trim().to_string(), |id| id.as_str().to_string()))
        }
        (FieldType::Int, Value::Number(n)) => {
            n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).map_or(FieldValue::Null, FieldValue::Int)
        }
        (FieldType::Int, Value::String(s)) => s.trim().parse().map_or(FieldValue::Null, FieldValue::Int),
        (FieldType::Timestamp, Value::Number(n)) => n.as_i64().map_or(FieldValue::Null, FieldValue::Int),
        (FieldType::Timestamp, Value::String(s)) => {
            chrono::DateTime::parse_from_rfc3339(s.trim()).map_or(FieldValue::Null, |t| FieldValue::Int(t.timestamp()))
        }
        (FieldType::Float, Value::Number(n)) => n.as_f64().map_or(FieldValue::Null, FieldValue::Float),
        (FieldType::Float, Value::String(s)) => s.trim().parse().map_or(FieldValue::Null, FieldValue::Float),
        (FieldType::Date, Value::String(s)) => parse_date(s).map_or(FieldValue::Null, FieldValue::Date),
        (FieldType::Bool, Value::Bool(b)) => FieldValue::Bool(*b),
        (FieldType::Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => FieldValue::Bool(true),
            "false" => FieldValue::Bool(false),
            _ => FieldValue::Null,
        },
        (FieldType::Bool, Value::Number(n)) => match n.as_i64() {
            Some(1) => FieldValue::Bool(true),
            Some(0) => FieldValue::Bool(false),
            _ => FieldValue::Null,
        },
        (FieldType::Bool, _) => FieldValue::Null,
        (FieldType::TextList, Value::Array(items)) => FieldValue::List(items.iter().filter_map(text).collect()),
        (FieldType::TextList, other) => text(other).map_or(FieldValue::Null, |t| FieldValue::List(vec![t])),
        (_, other) => text(other).map_or(FieldValue::Null, FieldValue::Text),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `YYYY-MM-DD`, or the date part of an RFC 3339 timestamp.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .or_else(|| chrono::DateTime::parse_from_rfc3339(raw).ok().map(|t| t.date_naive()))
        .or_else(|| raw.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(endpoint: Endpoint, value: Value) -> Row {
        Row::decode(endpoint, value.as_object().unwrap())
    }

    #[test]
    fn an_encoded_row_decodes_to_itself() {
        let row = decode(
            Endpoint::INSTALLS,
            json!({"company_id": "abc", "product_id": 814, "product_last_verified_date": "2026-03-04",
                   "product_attributes": ["Cloud", "SaaS"], "product_name": null, "surprise": {"x": 1}}),
        );
        assert_eq!(Row::decode(Endpoint::INSTALLS, &row.encode()), row);
        let intent = decode(Endpoint::INTENT, json!({"company_id": "1", "signal_trend": 0.25}));
        assert_eq!(intent.get("signal_trend"), Some(&FieldValue::Float(0.25)));
        assert_eq!(Row::decode(Endpoint::INTENT, &intent.encode()), intent);
    }

    #[test]
    fn fields_are_read_leniently_into_their_types() {
        let row = decode(
            Endpoint::INSTALLS,
            json!({"company_id": "abc", "product_id": "814", "product_intensity": 12.0,
                   "product_last_verified_date": "2026-03-04T10:11:12Z", "product_first_verified_date": "2020-01-02",
                   "product_attributes": ["Cloud", 7], "product_locations": "Austin, TX",
                   "product_name": null, "surprise": {"x": 1}}),
        );
        assert_eq!(row.company_id(), Some("00000000000000000000000000000ABC"));
        assert_eq!(row.get("product_id"), Some(&FieldValue::Int(814)));
        assert_eq!(row.get("product_intensity"), Some(&FieldValue::Int(12)));
        assert_eq!(
            row.get("product_last_verified_date"),
            Some(&FieldValue::Date(NaiveDate::from_ymd_opt(2026, 3, 4).unwrap()))
        );
        assert_eq!(
            row.get("product_first_verified_date"),
            Some(&FieldValue::Date(NaiveDate::from_ymd_opt(2020, 1, 2).unwrap()))
        );
        assert_eq!(row.get("product_attributes"), Some(&FieldValue::List(vec!["Cloud".into(), "7".into()])));
        assert_eq!(row.get("product_locations"), Some(&FieldValue::List(vec!["Austin, TX".into()])));
        assert_eq!(row.get("product_name"), Some(&FieldValue::Null));
        assert_eq!(row.get("surprise"), Some(&FieldValue::Text("{\"x\":1}".into())));
        assert_eq!(row.get("vendor_name"), None);
    }

    #[test]
    fn unreadable_values_become_null_not_errors() {
        let row = decode(
            Endpoint::INTENT,
            json!({"signal_strength": "high", "datestamp": "yesterday", "signal_trend": "1.5"}),
        );
        assert_eq!(row.get("signal_strength"), Some(&FieldValue::Null));
        assert_eq!(row.get("datestamp"), Some(&FieldValue::Null));
        assert_eq!(row.get("signal_trend"), Some(&FieldValue::Float(1.5)));
    }
}
