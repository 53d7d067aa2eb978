//! Query results out to a webhook, on DataFusion's side: `COPY (…) TO '<target>' STORED AS
//! WEBHOOK` (`format`) and `INSERT INTO` a `STORED AS WEBHOOK` table (`table`) both write
//! through one [`WebhookSink`] (`webhook_sink`), which encodes rows as JSON objects (`encode`) and
//! hands them to the delivery protocol of `api::webhook`. docs/webhooks.md tells the whole
//! story.
//!
//! Imports run one way: `statement` → `format`, `table` → `webhook_sink` → `encode` →
//! `api::webhook`. `statement` is what `session.rs` does around a webhook statement: names an
//! INSERT's columns, blanks a typed URL out of EXPLAIN.

mod encode;
mod format;
pub mod statement;
mod table;
mod webhook_sink;

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};

pub use format::{WEBHOOK, WebhookFormatFactory};
pub use table::{WebhookTable, WebhookTableFactory};
pub use webhook_sink::{SendNothing, WebhookSink};

use crate::api::webhook::{Destination, WebhookContext};

/// The destination `target` and `options` describe (`table` names it when it is a table's),
/// or the planning error that says what to fix. A URL typed into the SQL is a capability
/// secret: the user is warned that it is now in their history.
fn resolve(
    context: &WebhookContext,
    target: &str,
    table: Option<&str>,
    options: &BTreeMap<String, String>,
) -> Result<Arc<Destination>> {
    let env = |name: &str| std::env::var(name).ok();
    let destination = Destination::resolve(target, table, options, &context.named, &env)
        .map_err(|e| DataFusionError::Plan(format!("{}: {e}", table.unwrap_or("STORED AS WEBHOOK"))))?;
    if destination.typed_url {
        tracing::warn!(
            "the webhook URL written in this statement is a secret: whoever has it can add rows to the table behind it, and it is now in your shell history or script. \
             Keep it in the config file instead ([webhooks.NAME] with url and token) and write 'webhook://NAME'"
        );
    }
    Ok(Arc::new(destination))
}

/// What reading a webhook as a file is told.
fn write_only() -> DataFusionError {
    DataFusionError::Plan(
        "STORED AS WEBHOOK is written to (COPY … TO, INSERT INTO), never read as a file; a webhook table's SELECT reads its delivery ledger"
            .into(),
    )
}
