//! Client rows to Arrow record batches, typed by the table's spec. Echo columns take the value
//! the lookup asked with, so a join on them always holds.

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampSecondBuilder,
};
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::{Column, ColumnSource, ColumnType, TableSpec};
use crate::api::{FieldValue, Row};

/// One output row: what HG returned and what it was asked with.
pub struct Record<'a> {
    pub row: &'a Row,
    /// Values of the echo columns, by column name (`company_id`, `match_domain`, …).
    pub echo: &'a [(&'static str, Option<&'a str>)],
    /// Position among the answers to one lookup, 1 for the best.
    pub rank: Option<i64>,
    /// Why the lookup failed, for a row kept by `hg.on_error = 'null'` (its data is NULL).
    pub failure: Option<&'a str>,
}

/// The batch of `records` with the columns of `projection` (all when `None`).
pub fn to_batch(spec: &TableSpec, projection: Option<&[usize]>, records: &[Record]) -> Result<RecordBatch, ArrowError> {
    let all: Vec<usize> = (0..spec.column_count()).collect();
    let indices = projection.unwrap_or(&all);
    let full = spec.schema();
    let schema = Arc::new(Schema::new(indices.iter().map(|&i| full.field(i).clone()).collect::<Vec<_>>()));
    let arrays: Vec<ArrayRef> = indices.iter().map(|&i| column(spec.column_at(i), records)).collect();
    let options = RecordBatchOptions::new().with_row_count(Some(records.len()));
    RecordBatch::try_new_with_options(schema, arrays, &options)
}

fn value<'a>(column: &Column, record: &'a Record) -> Option<&'a FieldValue> {
    match column.source {
        ColumnSource::Field => record.row.get(column.name),
        ColumnSource::Renamed(field) => record.row.get(field),
        ColumnSource::FetchedAt => record.row.get(crate::api::FETCHED_AT),
        ColumnSource::Echo
        | ColumnSource::Criterion
        | ColumnSource::Rank
        | ColumnSource::Status
        | ColumnSource::Error => None,
    }
}

fn echo<'a>(column: &Column, record: &'a Record) -> Option<&'a str> {
    record.echo.iter().find(|(name, _)| *name == column.name).and_then(|(_, v)| *v)
}

fn column(column: &Column, records: &[Record]) -> ArrayRef {
    match column.kind {
        ColumnType::Text | ColumnType::Id => {
            let mut b = StringBuilder::new();
            for r in records {
                match column.source {
                    ColumnSource::Echo | ColumnSource::Criterion => b.append_option(echo(column, r)),
                    ColumnSource::Status => b.append_value(if r.failure.is_some() { "error" } else { "ok" }),
                    ColumnSource::Error => b.append_option(r.failure),
                    _ => b.append_option(value(column, r).and_then(FieldValue::as_str)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Int => {
            let mut b = Int64Builder::new();
            for r in records {
                match column.source {
                    ColumnSource::Rank => b.append_option(r.rank),
                    ColumnSource::Echo | ColumnSource::Criterion => {
                        b.append_option(echo(column, r).and_then(|v| v.parse().ok()))
                    }
                    _ => b.append_option(value(column, r).and_then(FieldValue::as_i64)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Float => {
            let mut b = Float64Builder::new();
            for r in records {
                b.append_option(match value(column, r) {
                    Some(FieldValue::Float(f)) => Some(*f),
                    Some(FieldValue::Int(i)) => Some(*i as f64),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        ColumnType::Date => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
            let mut b = Date32Builder::new();
            for r in records {
                b.append_option(match value(column, r) {
                    Some(FieldValue::Date(d)) => Some((*d - epoch).num_days() as i32),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        ColumnType::Timestamp => {
            let mut b = TimestampSecondBuilder::new().with_timezone("UTC");
            for r in records {
                b.append_option(value(column, r).and_then(FieldValue::as_i64));
            }
            Arc::new(b.finish())
        }
        ColumnType::Bool => {
            let mut b = BooleanBuilder::new();
            for r in records {
                match column.source {
                    ColumnSource::Echo | ColumnSource::Criterion => {
                        b.append_option(echo(column, r).and_then(|v| v.parse().ok()))
                    }
                    _ => b.append_option(value(column, r).and_then(FieldValue::as_bool)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::TextList => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for r in records {
                match value(column, r) {
                    Some(FieldValue::List(items)) => {
                        for item in items {
                            b.values().append_value(item);
                        }
                        b.append(true);
                    }
                    _ => b.append(false),
                }
            }
            Arc::new(b.finish())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Endpoint;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Date32Type, Int64Type};
    use serde_json::json;

    fn row(endpoint: Endpoint, value: serde_json::Value) -> Row {
        Row::decode(endpoint, value.as_object().unwrap())
    }

    #[test]
    fn installs_rows_become_typed_columns_with_the_key_echoed() {
        let spec = super::super::find("installs").unwrap();
        let a = row(
            Endpoint::INSTALLS,
            json!({"product_id": 814, "product_name": "Salesforce CRM",
            "product_last_verified_date": "2026-03-04", "product_attributes": ["Cloud", "SaaS"], "product_intensity": null}),
        );
        let b = row(Endpoint::INSTALLS, json!({"product_id": 1023}));
        let key = "0000000000000000000000000000000A";
        let echo = [("company_id", Some(key))];
        let records = [
            Record { row: &a, echo: &echo, rank: None, failure: None },
            Record { row: &b, echo: &echo, rank: None, failure: None },
        ];
        let batch = to_batch(spec, None, &records).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), spec.schema());
        let ids = batch.column_by_name("company_id").unwrap().as_string::<i32>();
        assert_eq!((ids.value(0), ids.value(1)), (key, key));
        let products = batch.column_by_name("product_id").unwrap().as_primitive::<Int64Type>();
        assert_eq!((products.value(0), products.value(1)), (814, 1023));
        let dates = batch.column_by_name("product_last_verified_date").unwrap().as_primitive::<Date32Type>();
        assert_eq!(dates.value(0), 20_516, "2026-03-04");
        assert!(dates.is_null(1));
        assert!(batch.column_by_name("product_intensity").unwrap().is_null(0));
        let attributes = batch.column_by_name("product_attributes").unwrap().as_list::<i32>();
        assert_eq!(attributes.value(0).as_string::<i32>().iter().flatten().collect::<Vec<_>>(), ["Cloud", "SaaS"]);
        assert!(attributes.is_null(1));
    }

    #[test]
    fn projection_echo_and_rank_for_companies() {
        let spec = super::super::find("companies").unwrap();
        let matched =
            row(Endpoint::MATCH, json!({"company_id": "abc", "company_name": "Acme Inc", "domain_name": "acme.com"}));
        let echo =
            [("match_domain", Some("https://WWW.Acme.com/")), ("match_name", None), ("match_country_code", None)];
        let records = [Record { row: &matched, echo: &echo, rank: Some(1), failure: None }];
        let projection = [0usize, 3, 4];
        let batch = to_batch(spec, Some(&projection), &records).unwrap();
        let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["match_domain", "match_rank", "company_id"]);
        assert_eq!(batch.column(0).as_string::<i32>().value(0), "https://WWW.Acme.com/", "echoed exactly as asked");
        assert_eq!(batch.column(1).as_primitive::<Int64Type>().value(0), 1);
        assert_eq!(batch.column(2).as_string::<i32>().value(0), "00000000000000000000000000000ABC");
        let empty = to_batch(spec, Some(&[]), &records).unwrap();
        assert_eq!((empty.num_columns(), empty.num_rows()), (0, 1), "count(*) needs rows without columns");
    }
}
