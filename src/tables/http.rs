//! An HTTP table's columns as Arrow: the types a column may be declared with, the schema (its
//! own columns as declared, then `_status`, `_error`, `_http_status`, `_fetched_at`), and the
//! record batch of a set of keys' outcomes. A value that does not fit its column is that row's
//! error (`_status` 'error' under `hg.on_error = 'null'`), never a guess.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampSecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::Value;

use crate::api::http::extract::{self, Cell, Kind};
use crate::api::http::{HttpTableDef, Key, Outcome};

/// The SQL types an HTTP table's column may have, and the kind its values are read as.
pub fn kind_of(data_type: &DataType) -> Option<Kind> {
    Some(match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Text,
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Kind::Int,
        DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => Kind::Float,
        DataType::Boolean => Kind::Bool,
        DataType::Date32 | DataType::Date64 => Kind::Date,
        DataType::Timestamp(..) => Kind::Timestamp,
        _ => return None,
    })
}

/// What a column of an unsupported type is told.
pub fn unsupported_type(column: &str, data_type: &DataType) -> String {
    format!(
        "column {column}: an HTTP table cannot read values as {data_type}; declare it TEXT (objects and lists read into it as JSON), BIGINT, DOUBLE, BOOLEAN, DATE or TIMESTAMP"
    )
}

/// The table's schema: its columns with their declared types (keys NOT NULL, since they echo
/// the value asked), then the status columns.
pub fn schema(def: &HttpTableDef, declared: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = def
        .columns
        .iter()
        .map(|c| {
            let data_type = declared.field_with_name(&c.name).map_or(DataType::Utf8, |f| f.data_type().clone());
            Field::new(&c.name, data_type, !c.key)
        })
        .collect();
    fields.push(Field::new("_status", DataType::Utf8, true));
    fields.push(Field::new("_error", DataType::Utf8, true));
    fields.push(Field::new("_http_status", DataType::Int32, true));
    fields.push(Field::new("_fetched_at", DataType::Timestamp(TimeUnit::Second, Some("UTC".into())), true));
    Arc::new(Schema::new(fields))
}

/// Why a batch could not be built: a value that does not fit (under `on_error` 'fail').
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The API's answer for a key was a failure.
    #[error("{table}: {key}: {message}")]
    Row { table: String, key: String, message: String },
    /// A value does not fit its column's declared type.
    #[error("{table}: {key}: {message}")]
    Misfit { table: String, key: String, message: String },
    #[error(transparent)]
    Arrow(#[from] ArrowError),
}

/// One output row, before it becomes Arrow.
struct OutRow<'a> {
    key: &'a Key,
    row: Option<&'a Value>,
    status: &'static str,
    error: Option<String>,
    http_status: Option<u16>,
    fetched_at: Option<i64>,
}

/// The rows of `outcomes` as a batch of `schema` (the full schema), then projected.
/// `keep_failures`: a key that failed, or a value that does not fit, becomes a row with
/// `_status` 'error' (or 'not_found') instead of failing the query.
pub fn batch(
    def: &HttpTableDef,
    schema: &SchemaRef,
    projection: Option<&[usize]>,
    outcomes: &[(Key, Outcome)],
    keep_failures: bool,
) -> Result<RecordBatch, BatchError> {
    let mut rows: Vec<OutRow> = Vec::new();
    for (key, outcome) in outcomes {
        match outcome {
            Ok(answer) => {
                let fetched_at =
                    answer.fetched_at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
                for row in &answer.rows {
                    rows.push(OutRow {
                        key,
                        row: Some(row),
                        status: "ok",
                        error: None,
                        http_status: Some(answer.http_status),
                        fetched_at: Some(fetched_at),
                    });
                }
            }
            Err(failure) if keep_failures => rows.push(OutRow {
                key,
                row: None,
                status: if failure.not_found { "not_found" } else { "error" },
                error: Some(failure.message.clone()),
                http_status: failure.http_status,
                fetched_at: None,
            }),
            Err(failure) => {
                return Err(BatchError::Row {
                    table: def.name.clone(),
                    key: show_key(def, key),
                    message: failure.message.clone(),
                });
            }
        }
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    // Each row's misfits, found column by column.
    let mut misfits: Vec<Vec<String>> = vec![Vec::new(); rows.len()];
    for (index, column) in def.columns.iter().enumerate() {
        let key_position = def.keys.iter().position(|k| *k == column.name);
        let mut cells = Vec::with_capacity(rows.len());
        for (i, out) in rows.iter().enumerate() {
            let cell = match (key_position, out.row) {
                (Some(p), _) => key_cell(&out.key[p], column.kind),
                (None, None) => Cell::Null,
                (None, Some(row)) => match extract::cell(row, &column.name, &column.pointer, column.kind) {
                    Ok(cell) => cell,
                    Err(error) if keep_failures => {
                        misfits[i].push(error.to_string());
                        Cell::Null
                    }
                    Err(error) => {
                        return Err(BatchError::Misfit {
                            table: def.name.clone(),
                            key: show_key(def, out.key),
                            message: format!(
                                "{error} (declare the column as TEXT, or point path.{} elsewhere)",
                                column.name
                            ),
                        });
                    }
                },
            };
            cells.push(cell);
        }
        let built = build(column.kind, &cells);
        let wanted = schema.field(index).data_type();
        if built.data_type() == wanted {
            columns.push(built);
            continue;
        }
        // Into the declared type (INT, TINYINT, DECIMAL, a TIMESTAMP's unit): a value the cast
        // turns into NULL did not fit, which is that row's error, never a quiet NULL.
        let narrowed = cast(&built, wanted)?;
        for (i, out) in rows.iter().enumerate() {
            if built.is_valid(i) && !narrowed.is_valid(i) {
                let value = datafusion::arrow::util::display::array_value_to_string(&built, i).unwrap_or_default();
                let message = format!("{}: {value} does not fit {wanted}", column.name);
                if keep_failures {
                    misfits[i].push(message);
                } else {
                    return Err(BatchError::Misfit {
                        table: def.name.clone(),
                        key: show_key(def, out.key),
                        message: format!("{message} (declare the column wider, e.g. BIGINT or DOUBLE)"),
                    });
                }
            }
        }
        columns.push(narrowed);
    }
    let mut status = StringBuilder::new();
    let mut error = StringBuilder::new();
    let mut http_status = Int32Builder::new();
    let mut fetched = TimestampSecondBuilder::new().with_timezone("UTC");
    for (out, misfit) in rows.iter().zip(&misfits) {
        if misfit.is_empty() {
            status.append_value(out.status);
            error.append_option(out.error.as_deref());
        } else {
            status.append_value("error");
            error.append_value(misfit.join("; "));
        }
        http_status.append_option(out.http_status.map(i32::from));
        fetched.append_option(out.fetched_at);
    }
    columns.push(Arc::new(status.finish()));
    columns.push(Arc::new(error.finish()));
    columns.push(Arc::new(http_status.finish()));
    columns.push(Arc::new(fetched.finish()));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(match projection {
        Some(indices) => batch.project(indices)?,
        None => batch,
    })
}

/// A key's value, as its column's type reads the text it was asked with.
fn key_cell(text: &str, kind: Kind) -> Cell {
    let value = Value::String(text.to_string());
    extract::cell(&value, "", "", kind).unwrap_or_else(|_| Cell::Text(text.to_string()))
}

fn build(kind: Kind, cells: &[Cell]) -> ArrayRef {
    match kind {
        Kind::Text => {
            let mut b = StringBuilder::new();
            for c in cells {
                match c {
                    Cell::Text(t) => b.append_value(t),
                    Cell::Null => b.append_null(),
                    other => b.append_value(format!("{other:?}")),
                }
            }
            Arc::new(b.finish())
        }
        Kind::Int => {
            let mut b = Int64Builder::new();
            cells.iter().for_each(|c| b.append_option(if let Cell::Int(v) = c { Some(*v) } else { None }));
            Arc::new(b.finish())
        }
        Kind::Float => {
            let mut b = Float64Builder::new();
            cells.iter().for_each(|c| b.append_option(if let Cell::Float(v) = c { Some(*v) } else { None }));
            Arc::new(b.finish())
        }
        Kind::Bool => {
            let mut b = BooleanBuilder::new();
            cells.iter().for_each(|c| b.append_option(if let Cell::Bool(v) = c { Some(*v) } else { None }));
            Arc::new(b.finish())
        }
        Kind::Date => {
            let mut b = Date32Builder::new();
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
            cells.iter().for_each(|c| {
                b.append_option(if let Cell::Date(d) = c { Some((*d - epoch).num_days() as i32) } else { None })
            });
            Arc::new(b.finish())
        }
        Kind::Timestamp => {
            let mut b = TimestampSecondBuilder::new().with_timezone("UTC");
            cells.iter().for_each(|c| b.append_option(if let Cell::Timestamp(v) = c { Some(*v) } else { None }));
            Arc::new(b.finish())
        }
    }
}

/// A key for messages: `domain = 'acme.com'`.
pub fn show_key(def: &HttpTableDef, key: &Key) -> String {
    def.keys.iter().zip(key).map(|(c, v)| format!("{c} = '{v}'")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::http::options::HttpOptions;
    use crate::api::http::{Answer, KeyFailure};
    use serde_json::json;

    fn table(columns: &[(&str, DataType)]) -> (HttpTableDef, SchemaRef) {
        let declared = Schema::new(columns.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect::<Vec<_>>());
        let kinds = columns.iter().map(|(n, t)| (n.to_string(), kind_of(t).unwrap())).collect();
        let options = HttpOptions::parse(&Default::default(), &|_| None).unwrap();
        let def = HttpTableDef::new("t", kinds, "https://x.example/{id}", options).unwrap();
        let schema = schema(&def, &declared);
        (def, schema)
    }

    fn answer(rows: Vec<Value>) -> Outcome {
        Ok(Arc::new(Answer { rows, http_status: 200, fetched_at: std::time::UNIX_EPOCH }))
    }

    #[test]
    fn a_value_too_wide_for_its_declared_type_is_an_error_not_a_null() {
        let (def, schema) = table(&[("id", DataType::Utf8), ("n", DataType::Int8)]);
        let outcomes = vec![
            (vec!["a".to_string()], answer(vec![json!({"n": 300})])),
            (vec!["b".to_string()], answer(vec![json!({"n": 7})])),
        ];
        let error = batch(&def, &schema, None, &outcomes, false).unwrap_err().to_string();
        assert!(error.contains("id = 'a'") && error.contains("n: 300 does not fit Int8"), "{error}");
        let kept = batch(&def, &schema, None, &outcomes, true).unwrap();
        let status = kept.column(2).as_any().downcast_ref::<datafusion::arrow::array::StringArray>().unwrap();
        assert_eq!((status.value(0), status.value(1)), ("error", "ok"));
        assert!(kept.column(1).is_null(0) && !kept.column(1).is_null(1));
    }

    #[test]
    fn a_failed_key_is_a_row_with_its_status_only_when_asked() {
        let (def, schema) = table(&[("id", DataType::Utf8), ("n", DataType::Int64)]);
        let failure = KeyFailure { message: "HTTP 404".into(), http_status: Some(404), not_found: true };
        let outcomes = vec![(vec!["a".to_string()], Err(failure))];
        assert!(batch(&def, &schema, None, &outcomes, false).is_err());
        let kept = batch(&def, &schema, None, &outcomes, true).unwrap();
        let status = kept.column(2).as_any().downcast_ref::<datafusion::arrow::array::StringArray>().unwrap();
        assert_eq!((kept.num_rows(), status.value(0)), (1, "not_found"));
    }
}
