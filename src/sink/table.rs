//! `CREATE EXTERNAL TABLE t (…) STORED AS WEBHOOK LOCATION '<target>' OPTIONS (…)`: a declared
//! destination. `INSERT INTO t SELECT …` sends rows (the declared columns) through a
//! [`WebhookSink`]; `SELECT * FROM t` reads the delivery ledger: one row per key with the row
//! last sent for it, `_key` and its status (`_status`, `_http_status`, `_error`, `_attempts`,
//! `_sent_at`).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray, TimestampSecondArray, new_null_array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{CreateExternalTable, Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

use super::resolve;
use super::webhook_sink::WebhookSink;
use crate::api::webhook::{Destination, Record, WebhookContext};

/// The columns every webhook table has after its own: where its rows stand in the ledger.
pub const STATUS_COLUMNS: [&str; 6] = ["_key", "_status", "_http_status", "_error", "_attempts", "_sent_at"];

fn status_fields() -> Vec<Field> {
    vec![
        Field::new("_key", DataType::Utf8, true),
        Field::new("_status", DataType::Utf8, true),
        Field::new("_http_status", DataType::Int32, true),
        Field::new("_error", DataType::Utf8, true),
        Field::new("_attempts", DataType::Int32, true),
        Field::new("_sent_at", DataType::Timestamp(TimeUnit::Second, Some("UTC".into())), true),
    ]
}

/// Makes webhook tables for one session.
#[derive(Debug)]
pub struct WebhookTableFactory {
    context: Arc<WebhookContext>,
}

impl WebhookTableFactory {
    pub fn new(context: Arc<WebhookContext>) -> WebhookTableFactory {
        WebhookTableFactory { context }
    }
}

#[async_trait]
impl TableProviderFactory for WebhookTableFactory {
    async fn create(&self, _state: &dyn Session, cmd: &CreateExternalTable) -> Result<Arc<dyn TableProvider>> {
        let name = cmd.name.table().to_string();
        let location = match cmd.locations.as_slice() {
            [one] => one.clone(),
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "{name}: a webhook table takes one LOCATION: 'https://…', 'webhook://NAME' or 'env://VAR'"
                )));
            }
        };
        if !cmd.table_partition_cols.is_empty() {
            return Err(DataFusionError::Plan(format!("{name}: PARTITIONED BY does not apply to a webhook")));
        }
        let options: BTreeMap<String, String> = cmd.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let destination = resolve(&self.context, &location, Some(&name), &options)?;
        let declared = cmd.schema.as_arrow().clone();
        if let Some(taken) = declared.fields().iter().find(|f| STATUS_COLUMNS.contains(&f.name().as_str())) {
            return Err(DataFusionError::Plan(format!(
                "{name}: column {} is the table's own (its ledger status); name yours otherwise",
                taken.name()
            )));
        }
        for key in &destination.key {
            if !declared.fields().is_empty() && declared.field_with_name(key).is_err() {
                return Err(DataFusionError::Plan(format!(
                    "{name}: 'key' names '{key}', which is not a declared column; declare it, or name another"
                )));
            }
        }
        let mut fields: Vec<Field> = declared.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(status_fields());
        Ok(Arc::new(WebhookTable {
            destination,
            context: self.context.clone(),
            declared: Arc::new(declared),
            schema: Arc::new(Schema::new(fields)),
        }))
    }
}

/// A declared webhook destination.
#[derive(Debug)]
pub struct WebhookTable {
    destination: Arc<Destination>,
    context: Arc<WebhookContext>,
    /// The columns sent.
    declared: SchemaRef,
    /// The declared columns and the status columns.
    schema: SchemaRef,
}

impl WebhookTable {
    /// The names of the columns an INSERT sends (an INSERT that names none sends these).
    pub fn declared_columns(&self) -> Vec<String> {
        self.declared.fields().iter().map(|f| f.name().clone()).collect()
    }

    /// What `\d` lists as the table's source.
    pub fn source(&self) -> String {
        format!("WEBHOOK {} ({})", self.destination.host, self.destination.profile.name())
    }

    /// What `\d TABLE` shows: each column, then the destination and the options, secrets
    /// redacted, never the URL.
    pub fn describe(&self) -> Vec<[String; 3]> {
        let mut rows = Vec::new();
        for field in self.schema.fields() {
            let name = field.name();
            let role = if STATUS_COLUMNS.contains(&name.as_str()) {
                "the ledger: how its delivery went"
            } else if self.destination.key.contains(name) {
                "sent; the key the ledger files the row under"
            } else {
                "sent"
            };
            rows.push([name.clone(), field.data_type().to_string(), role.to_string()]);
        }
        rows.push(["(destination)".into(), self.destination.describe(), String::new()]);
        rows
    }

    /// The ledger's rows for this destination: the declared columns out of the row last sent,
    /// then the status columns.
    fn ledger_batch(&self, records: &[Record]) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = decode(&self.declared, records)?;
        columns.push(Arc::new(StringArray::from_iter_values(records.iter().map(|r| r.entry.key.as_str()))));
        columns.push(Arc::new(StringArray::from_iter_values(records.iter().map(|r| r.entry.state.name()))));
        columns.push(Arc::new(Int32Array::from_iter(records.iter().map(|r| r.entry.http_status.map(i32::from)))));
        columns.push(Arc::new(StringArray::from_iter(records.iter().map(|r| r.entry.error.as_deref()))));
        columns.push(Arc::new(Int32Array::from_iter_values(records.iter().map(|r| r.entry.attempts as i32))));
        columns.push(Arc::new(
            TimestampSecondArray::from_iter(records.iter().map(|r| r.entry.sent_at)).with_timezone("UTC"),
        ));
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

/// The `declared` columns of each record's row, as sent: a row that does not read as the
/// declared types (the table was declared otherwise when it was sent) gives NULLs.
fn decode(declared: &SchemaRef, records: &[Record]) -> Result<Vec<ArrayRef>> {
    if declared.fields().is_empty() {
        return Ok(Vec::new());
    }
    let read = |rows: &[&str]| -> Result<RecordBatch> {
        let mut decoder = datafusion::arrow::json::ReaderBuilder::new(declared.clone())
            .with_batch_size(rows.len().max(1))
            .build_decoder()?;
        decoder.decode(rows.join("\n").as_bytes())?;
        Ok(decoder.flush()?.unwrap_or_else(|| RecordBatch::new_empty(declared.clone())))
    };
    let payloads: Vec<&str> = records.iter().map(|r| r.payload.as_str()).collect();
    if let Ok(batch) = read(&payloads) {
        return Ok(batch.columns().to_vec());
    }
    // Row by row, so one misfit costs its own values only.
    let mut parts = Vec::with_capacity(records.len());
    for payload in payloads {
        let one = read(&[payload]).ok().filter(|b| b.num_rows() == 1).unwrap_or_else(|| {
            let nulls = declared.fields().iter().map(|f| new_null_array(f.data_type(), 1)).collect();
            RecordBatch::try_new(declared.clone(), nulls).expect("nulls fit the schema")
        });
        parts.push(one);
    }
    let whole = datafusion::arrow::compute::concat_batches(declared, &parts)?;
    Ok(whole.columns().to_vec())
}

#[async_trait]
impl TableProvider for WebhookTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// No definition text: `information_schema.views` would show it, and the target may be a
    /// capability URL.
    fn get_table_definition(&self) -> Option<&str> {
        None
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let ledger = self.context.ledger().map_err(|e| DataFusionError::External(Box::new(e)))?;
        let id = self.destination.id.clone();
        let records = tokio::task::spawn_blocking(move || ledger.records(&id))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let batch = self.ledger_batch(&records)?;
        Ok(MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema.clone(), projection.cloned())?)
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let name = &self.destination.name;
        if insert_op != InsertOp::Append {
            return Err(DataFusionError::Plan(format!(
                "{name}: a webhook takes INSERT INTO only (rows are added; none is replaced)"
            )));
        }
        if self.declared.fields().is_empty() {
            return Err(DataFusionError::Plan(format!(
                "{name}: the table declares no columns, so an INSERT has nothing to send; declare them in CREATE EXTERNAL TABLE {name} (…)"
            )));
        }
        // The table's schema, not the input's: DataSinkExec checks its NOT NULL columns.
        let columns = (0..self.declared.fields().len()).collect();
        let sink = WebhookSink::new(self.destination.clone(), self.context.clone(), self.schema.clone(), columns)?;
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }
}
