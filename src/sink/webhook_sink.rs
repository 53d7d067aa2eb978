//! `WebhookSink`, the DataFusion `DataSink` behind `COPY … STORED AS WEBHOOK` and `INSERT INTO`
//! a webhook table: it reads the query's rows, turns them into JSON objects and hands them to a
//! run of the delivery protocol (`api::webhook`). Its count is the rows the receiver accepted
//! in this run; in a preview (a dry run, EXPLAIN ANALYZE) nothing is sent and the count is the
//! rows that would go.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::sink::DataSink;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::metrics::{Count, MetricBuilder, MetricsSet};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, SendableRecordBatchStream};
use futures::StreamExt;

use super::encode;
use crate::api::webhook::{Counts, Destination, WebhookContext, WebhookError};

/// Set on the session configuration while a statement must not send (EXPLAIN ANALYZE): its
/// webhook sinks count what would go instead.
#[derive(Debug, Default)]
pub struct SendNothing;

/// Rows of a query, to one webhook destination.
pub struct WebhookSink {
    destination: Arc<Destination>,
    context: Arc<WebhookContext>,
    schema: SchemaRef,
    /// The columns sent (an INSERT's input also carries the table's status columns).
    columns: Vec<usize>,
    /// What the ledger held when the statement was planned, for EXPLAIN.
    ledger_state: String,
    counts: Mutex<Option<Arc<Counts>>>,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink").field("destination", &self.destination).finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// A sink of `schema`'s `columns` to `destination`. Fails when a key column is not among
    /// them.
    pub fn new(
        destination: Arc<Destination>,
        context: Arc<WebhookContext>,
        schema: SchemaRef,
        columns: Vec<usize>,
    ) -> Result<WebhookSink> {
        let sent: Vec<&str> = columns.iter().map(|&i| schema.field(i).name().as_str()).collect();
        for key in &destination.key {
            if !sent.contains(&key.as_str()) {
                return Err(DataFusionError::Plan(format!(
                    "{}: 'key' names '{key}', which is not a column of the rows sent ({}); name one of them",
                    destination.name,
                    sent.join(", ")
                )));
            }
        }
        let ledger_state = describe_ledger(&context, &destination);
        Ok(WebhookSink { destination, context, schema, columns, ledger_state, counts: Mutex::new(None) })
    }
}

/// `ledger: 812 sent, 3 rejected; max_rows 50000 (49188 left)`, or why the ledger cannot be read.
fn describe_ledger(context: &WebhookContext, destination: &Destination) -> String {
    let read =
        context.ledger().and_then(|ledger| Ok((ledger.states(&destination.id)?, ledger.submitted(&destination.id)?)));
    let (states, submitted) = match read {
        Ok(read) => read,
        Err(error) => return format!("ledger unreadable: {}", error.message),
    };
    let states: Vec<String> = states.iter().map(|(state, n)| format!("{n} {}", state.name())).collect();
    let mut text =
        format!("ledger: {}", if states.is_empty() { "nothing sent yet".to_string() } else { states.join(", ") });
    if let Some(max) = destination.max_rows {
        text.push_str(&format!("; max_rows {max} ({} left)", max.saturating_sub(submitted)));
    }
    text
}

impl DisplayAs for WebhookSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let key = if self.destination.key.is_empty() { "; key: the whole row" } else { "" };
        write!(
            f,
            "WebhookSink: {}{key}; {}; EXPLAIN ANALYZE and --dry-run count the rows that would go, sending none",
            self.destination.describe(),
            self.ledger_state
        )
    }
}

#[async_trait]
impl DataSink for WebhookSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// What the run did, as EXPLAIN ANALYZE shows it.
    fn metrics(&self) -> Option<MetricsSet> {
        let counts = self.counts.lock().expect("counts").clone()?;
        let metrics = datafusion::physical_plan::metrics::ExecutionPlanMetricsSet::new();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed) as usize;
        let report = [
            ("sent", load(&counts.sent)),
            ("would_send", load(&counts.would_send)),
            ("already_sent", load(&counts.already_sent)),
            ("rejected", load(&counts.rejected)),
            ("unknown", load(&counts.unknown)),
            ("failed", load(&counts.failed)),
            ("refused", load(&counts.too_large) + load(&counts.over_cap) + load(&counts.null_key)),
            ("skipped", load(&counts.skipped_unknown) + load(&counts.skipped_rejected) + load(&counts.held)),
            ("repeated_keys", load(&counts.repeated)),
            ("requests", load(&counts.requests)),
            ("retries", load(&counts.retries)),
            ("http_429", load(&counts.throttled)),
            ("rate_limit_wait_ms", load(&counts.rate_wait_ms)),
        ];
        for (name, value) in report {
            let count: Count = MetricBuilder::new(&metrics).global_counter(name);
            count.add(value);
        }
        Some(metrics.clone_inner())
    }

    async fn write_all(&self, mut data: SendableRecordBatchStream, context: &Arc<TaskContext>) -> Result<u64> {
        let preview = self.context.dry_run || context.session_config().get_extension::<SendNothing>().is_some();
        let destination = self.destination.clone();
        let mut run = self.context.start(destination.clone(), preview).await.map_err(external)?;
        *self.counts.lock().expect("counts") = Some(run.counts());
        // Whatever stops the reading (the query failed, a row cannot be encoded, the run
        // stopped), the run is finished: its posts in flight are settled and it reports.
        let mut failed = None;
        while let Some(batch) = data.next().await {
            let rows =
                batch.and_then(|batch| Ok(encode::rows(&batch, &self.columns, destination.nulls, &destination.key)?));
            match rows {
                Ok(rows) => {
                    if run.push(rows).await.is_err() {
                        // The run stopped; `finish` says why.
                        break;
                    }
                }
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        drop(data);
        let report = run.finish().await.map_err(external)?;
        let count = if preview { report.would_send } else { report.sent };
        self.context.keep_report(report);
        match failed {
            Some(error) => Err(error),
            None => Ok(count),
        }
    }
}

fn external(error: WebhookError) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}
