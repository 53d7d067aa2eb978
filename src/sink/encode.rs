//! A query's rows as the JSON objects a webhook receives: exactly the query's columns as keys;
//! dates `YYYY-MM-DD`, timestamps RFC 3339 (one without a time zone is taken as UTC), booleans
//! and numbers as JSON booleans and numbers, lists as arrays, structs as objects; a NULL as
//! `null` or left out (`nulls`).

use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::writer::{LineDelimited, WriterBuilder};
use datafusion::arrow::record_batch::RecordBatch;

use crate::api::webhook::options::Nulls;
use crate::api::webhook::{OutRow, RowError};

/// The rows of `batch`'s `columns`, each filed under the values of `key` (column names); a row
/// whose key is NULL is that row's error.
pub fn rows(
    batch: &RecordBatch,
    columns: &[usize],
    nulls: Nulls,
    key: &[String],
) -> Result<Vec<Result<OutRow, RowError>>, ArrowError> {
    let batch = batch.project(columns)?;
    let mut text = Vec::with_capacity(batch.num_rows() * 64);
    {
        let mut writer = WriterBuilder::new()
            .with_explicit_nulls(nulls == Nulls::Keep)
            .with_date_format("%Y-%m-%d".to_string())
            .with_timestamp_format("%Y-%m-%dT%H:%M:%S%.fZ".to_string())
            .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%S%.f%:z".to_string())
            .build::<_, LineDelimited>(&mut text);
        writer.write(&batch)?;
        writer.finish()?;
    }
    let text = String::from_utf8(text).map_err(|e| ArrowError::JsonError(e.to_string()))?;
    // JSON escapes a line break inside a string, so each line is one row.
    text.lines()
        .map(|line| match OutRow::new(line.to_string(), key) {
            Err(RowError::NotAnObject) => Err(ArrowError::JsonError("a row did not encode as a JSON object".into())),
            row => Ok(row),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, ListArray, StringArray,
        TimestampMillisecondArray,
    };
    use datafusion::arrow::datatypes::{Int32Type, Schema};
    use serde_json::{Value, json};

    fn batch() -> RecordBatch {
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("domain", Arc::new(StringArray::from(vec![Some("acme.com"), Some("b.example")]))),
            ("employees", Arc::new(Int64Array::from(vec![Some(12), None]))),
            ("revenue", Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN)]))),
            ("public", Arc::new(BooleanArray::from(vec![Some(true), Some(false)]))),
            ("founded", Arc::new(Date32Array::from(vec![Some(19_723), None]))),
            ("seen", Arc::new(TimestampMillisecondArray::from(vec![Some(1_704_103_200_000), None]))),
            (
                "seen_utc",
                Arc::new(TimestampMillisecondArray::from(vec![Some(1_704_103_200_500), None]).with_timezone("+00:00")),
            ),
            (
                "products",
                Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
                    Some(vec![Some(814), Some(1023)]),
                    None,
                ])),
            ),
        ];
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn parsed(row: &OutRow) -> Value {
        serde_json::from_str(&row.payload).unwrap()
    }

    #[test]
    fn values_travel_as_their_json_types_and_nulls_as_asked() {
        let batch = batch();
        let all: Vec<usize> = (0..batch.num_columns()).collect();
        let key = vec!["domain".to_string()];
        let kept = rows(&batch, &all, Nulls::Keep, &key).unwrap();
        let first = parsed(kept[0].as_ref().unwrap());
        assert_eq!(
            first,
            json!({
                "domain": "acme.com", "employees": 12, "revenue": 1.5, "public": true,
                "founded": "2024-01-01", "seen": "2024-01-01T10:00:00Z",
                "seen_utc": "2024-01-01T10:00:00.500+00:00", "products": [814, 1023]
            })
        );
        let second = parsed(kept[1].as_ref().unwrap());
        assert_eq!((second["employees"].clone(), second["revenue"].clone()), (Value::Null, Value::Null));
        assert!(second.as_object().unwrap().contains_key("founded"), "a NULL kept as null");
        let omitted = rows(&batch, &all, Nulls::Omit, &key).unwrap();
        let second = parsed(omitted[1].as_ref().unwrap());
        assert!(!second.as_object().unwrap().contains_key("founded"), "a NULL left out");
        assert_eq!(omitted[1].as_ref().unwrap().key, r#"["b.example"]"#);
        let keys: Vec<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), Schema::new(batch.schema().fields().clone()).fields().len(), "exactly the columns");
    }

    #[test]
    fn only_the_columns_asked_are_sent() {
        let batch = batch();
        let sent = rows(&batch, &[0, 3], Nulls::Keep, &[]).unwrap();
        assert_eq!(parsed(sent[0].as_ref().unwrap()), json!({"domain": "acme.com", "public": true}));
    }
}
