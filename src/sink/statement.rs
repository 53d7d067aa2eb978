//! What a statement around a webhook needs before DataFusion plans it and after it runs: an
//! `INSERT` into a webhook table that names no columns gets the declared ones, and a URL typed
//! into a webhook `COPY` is blanked out of EXPLAIN's text.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::error::DataFusionError;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use futures::StreamExt;

use super::format::WEBHOOK;
use super::table::WebhookTable;
use crate::api::webhook::Target;

/// `INSERT INTO t SELECT …` into a webhook table names the table's declared columns, which the
/// SELECT gives: the table's status columns (`_status`, …) are the ledger's, not the INSERT's.
/// Any other statement is left as it is.
pub async fn name_declared_columns(ctx: &SessionContext, statement: &mut DFStatement) {
    use datafusion::sql::sqlparser::ast::{Ident, ObjectName, Statement, TableObject};
    let inner = match statement {
        DFStatement::Statement(inner) => inner,
        DFStatement::Explain(explain) => match explain.statement.as_mut() {
            DFStatement::Statement(inner) => inner,
            _ => return,
        },
        _ => return,
    };
    let Statement::Insert(insert) = inner.as_mut() else { return };
    let TableObject::TableName(name) = &insert.table else { return };
    if !insert.columns.is_empty() {
        return;
    }
    let Ok(provider) = ctx.table_provider(name.to_string()).await else { return };
    if let Some(table) = provider.downcast_ref::<WebhookTable>() {
        insert.columns =
            table.declared_columns().into_iter().map(|c| ObjectName::from(vec![Ident::with_quote('"', c)])).collect();
    }
}

/// The webhook URLs typed into `statement` (the target of a `COPY … STORED AS WEBHOOK`, under
/// EXPLAIN or not): secrets its plan text would print back.
pub fn typed_urls(statement: &DFStatement) -> Vec<String> {
    match statement {
        DFStatement::Explain(explain) => typed_urls(&explain.statement),
        DFStatement::CopyTo(copy)
            if copy.stored_as.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(WEBHOOK))
                && matches!(Target::parse(&copy.target), Some(Target::Url(_))) =>
        {
            vec![copy.target.clone()]
        }
        _ => Vec::new(),
    }
}

/// `stream` with each of `secrets` in its text columns replaced by `***`.
pub fn redacting(stream: SendableRecordBatchStream, secrets: Vec<String>) -> SendableRecordBatchStream {
    if secrets.is_empty() {
        return stream;
    }
    let schema = stream.schema();
    let out_schema = schema.clone();
    let redact = move |batch: RecordBatch| -> Result<RecordBatch, DataFusionError> {
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|column| match column.as_any().downcast_ref::<StringArray>() {
                Some(text) => {
                    let blank =
                        |v: &str| secrets.iter().fold(v.to_string(), |v, secret| v.replace(secret.as_str(), "***"));
                    Arc::new(text.iter().map(|v| v.map(blank)).collect::<StringArray>()) as ArrayRef
                }
                None => column.clone(),
            })
            .collect();
        Ok(RecordBatch::try_new(out_schema.clone(), columns)?)
    };
    Box::pin(RecordBatchStreamAdapter::new(schema, stream.map(move |batch| batch.and_then(&redact))))
}
