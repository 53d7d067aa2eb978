//! Rows and typed values out of a JSON answer: `rows_path` (an RFC 6901 pointer) finds the
//! rows, `path.<col>` each column's value inside a row. A value that does not fit its column's
//! type is an error for that row, never silent garbage; objects and arrays read into a text
//! column as JSON.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::Value;

/// The SQL type a column reads its value as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Float,
    Bool,
    /// `YYYY-MM-DD`, or the date of an ISO-8601 timestamp.
    Date,
    /// An ISO-8601 timestamp (RFC 3339; without an offset it is taken as UTC), as Unix seconds.
    Timestamp,
}

/// One value, typed.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(NaiveDate),
    Timestamp(i64),
}

/// Why the rows of an answer cannot be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowsError {
    #[error("rows_path '{pointer}' points to nothing in the answer; its top-level keys are: {keys}")]
    Nothing { pointer: String, keys: String },
    #[error("rows_path '{pointer}' points to a {found}, not a list or an object of rows")]
    NotRows { pointer: String, found: &'static str },
}

/// Why one value does not fit its column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{column}: {found} at '{pointer}' is not a {expected}")]
pub struct CellError {
    pub column: String,
    pub pointer: String,
    pub found: String,
    pub expected: &'static str,
}

/// What kind of JSON value `value` is, as messages name it ("a number", "a list").
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// The rows `pointer` finds in `body`: a list gives its elements, an object one row.
pub fn rows<'a>(body: &'a Value, pointer: &str) -> Result<Vec<&'a Value>, RowsError> {
    let Some(found) = body.pointer(pointer) else {
        let keys = body.as_object().map_or_else(
            || format!("none (the answer is a {})", json_kind(body)),
            |o| o.keys().cloned().collect::<Vec<_>>().join(", "),
        );
        return Err(RowsError::Nothing { pointer: pointer.into(), keys });
    };
    match found {
        Value::Array(items) => Ok(items.iter().collect()),
        Value::Object(_) => Ok(vec![found]),
        // An explicit null where the rows would be: no rows.
        Value::Null => Ok(Vec::new()),
        other => Err(RowsError::NotRows { pointer: pointer.into(), found: json_kind(other) }),
    }
}

/// The value of `column` at `pointer` inside `row`, read as `kind`; absent or null is NULL.
pub fn cell(row: &Value, column: &str, pointer: &str, kind: Kind) -> Result<Cell, CellError> {
    let value = match row.pointer(pointer) {
        None | Some(Value::Null) => return Ok(Cell::Null),
        Some(value) => value,
    };
    let misfit = |expected: &'static str| CellError {
        column: column.into(),
        pointer: pointer.into(),
        found: shown(value),
        expected,
    };
    match kind {
        Kind::Text => Ok(Cell::Text(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })),
        Kind::Int => match value {
            Value::Number(n) => n.as_i64().map(Cell::Int).ok_or_else(|| misfit("whole number")),
            Value::String(s) => s.trim().parse().map(Cell::Int).map_err(|_| misfit("whole number")),
            _ => Err(misfit("whole number")),
        },
        Kind::Float => match value {
            Value::Number(n) => n.as_f64().map(Cell::Float).ok_or_else(|| misfit("number")),
            Value::String(s) => s.trim().parse().map(Cell::Float).map_err(|_| misfit("number")),
            _ => Err(misfit("number")),
        },
        Kind::Bool => match value {
            Value::Bool(b) => Ok(Cell::Bool(*b)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Cell::Bool(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Cell::Bool(false)),
            _ => Err(misfit("boolean")),
        },
        Kind::Date => value.as_str().and_then(date).map(Cell::Date).ok_or_else(|| misfit("date (YYYY-MM-DD)")),
        Kind::Timestamp => value
            .as_str()
            .and_then(timestamp)
            .map(Cell::Timestamp)
            .ok_or_else(|| misfit("timestamp (ISO 8601, e.g. 2026-12-01T10:00:00Z)")),
    }
}

/// A value as an error shows it: its JSON, cut short.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 { format!("{}…", text.chars().take(60).collect::<String>()) } else { text }
}

fn date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| timestamp(text).and_then(|t| DateTime::from_timestamp(t, 0).map(|d| d.date_naive())))
}

fn timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_are_found_by_pointer_and_a_wrong_one_names_what_is_there() {
        let body = json!({"data": {"accounts": [{"id": 1}, {"id": 2}]}, "account": {"id": 3}, "total": 2});
        assert_eq!(rows(&body, "/data/accounts").unwrap().len(), 2);
        assert_eq!(rows(&body, "/account").unwrap(), vec![&json!({"id": 3})], "an object is one row");
        assert_eq!(rows(&json!([{"a": 1}]), "").unwrap().len(), 1, "'' is the whole body");
        let missing = rows(&body, "/items").unwrap_err().to_string();
        assert!(missing.contains("'/items'") && missing.contains("account, data, total"), "{missing}");
        assert_eq!(rows(&body, "/total"), Err(RowsError::NotRows { pointer: "/total".into(), found: "number" }));
        assert!(rows(&json!({"items": null}), "/items").unwrap().is_empty());
    }

    #[test]
    fn values_fit_their_column_or_are_that_row_s_error() {
        let row = json!({"billing": {"arr": 1200.5, "seats": "42"}, "tags": ["a", "b"], "owner": {"name": "Ann"},
                         "active": "TRUE", "since": "2024-02-29", "seen": "2026-12-01T10:00:00+01:00",
                         "odd": "soon", "a/b": 7});
        assert_eq!(cell(&row, "arr", "/billing/arr", Kind::Float), Ok(Cell::Float(1200.5)));
        assert_eq!(cell(&row, "seats", "/billing/seats", Kind::Int), Ok(Cell::Int(42)));
        assert_eq!(cell(&row, "tags", "/tags", Kind::Text), Ok(Cell::Text("[\"a\",\"b\"]".into())));
        assert_eq!(cell(&row, "owner", "/owner", Kind::Text), Ok(Cell::Text("{\"name\":\"Ann\"}".into())));
        assert_eq!(cell(&row, "active", "/active", Kind::Bool), Ok(Cell::Bool(true)));
        assert_eq!(
            cell(&row, "since", "/since", Kind::Date),
            Ok(Cell::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()))
        );
        assert_eq!(cell(&row, "seen", "/seen", Kind::Timestamp), Ok(Cell::Timestamp(1_796_115_600)));
        assert_eq!(
            cell(&row, "seen", "/seen", Kind::Date),
            Ok(Cell::Date(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()))
        );
        assert_eq!(cell(&row, "x", "/nowhere", Kind::Int), Ok(Cell::Null), "absent is NULL");
        assert_eq!(cell(&row, "ab", "/a~1b", Kind::Int), Ok(Cell::Int(7)), "RFC 6901 escapes");
        let misfit = cell(&row, "arr", "/billing/arr", Kind::Int).unwrap_err();
        assert_eq!(misfit.to_string(), "arr: 1200.5 at '/billing/arr' is not a whole number");
        assert!(cell(&row, "odd", "/odd", Kind::Date).is_err());
        assert!(cell(&row, "owner", "/owner", Kind::Float).is_err());
    }
}
