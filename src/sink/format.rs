//! `COPY (…) TO '<target>' STORED AS WEBHOOK OPTIONS (…)`: the file format DataFusion finds
//! under `webhook`, whose writer is a [`WebhookSink`]. It is never read as a file.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::{GetExt, Statistics};
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory};
use datafusion::datasource::physical_plan::{FileScanConfig, FileSinkConfig, FileSource, JsonSource};
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::object_store::{ObjectMeta, ObjectStore};
use datafusion::physical_expr::LexRequirement;
use datafusion::physical_plan::ExecutionPlan;

use super::webhook_sink::WebhookSink;
use super::{resolve, write_only};
use crate::api::webhook::WebhookContext;

/// The name `STORED AS` takes.
pub const WEBHOOK: &str = "webhook";

/// Makes the webhook format of one COPY, with its options.
#[derive(Debug)]
pub struct WebhookFormatFactory {
    context: Arc<WebhookContext>,
}

impl WebhookFormatFactory {
    pub fn new(context: Arc<WebhookContext>) -> WebhookFormatFactory {
        WebhookFormatFactory { context }
    }
}

impl GetExt for WebhookFormatFactory {
    fn get_ext(&self) -> String {
        WEBHOOK.to_string()
    }
}

impl FileFormatFactory for WebhookFormatFactory {
    fn create(&self, _state: &dyn Session, format_options: &HashMap<String, String>) -> Result<Arc<dyn FileFormat>> {
        let options = format_options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(Arc::new(WebhookFormat { context: self.context.clone(), options }))
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        Arc::new(WebhookFormat { context: self.context.clone(), options: BTreeMap::new() })
    }
}

/// The webhook format of one COPY.
#[derive(Debug)]
pub struct WebhookFormat {
    context: Arc<WebhookContext>,
    options: BTreeMap<String, String>,
}

#[async_trait]
impl FileFormat for WebhookFormat {
    fn get_ext(&self) -> String {
        WEBHOOK.to_string()
    }

    fn get_ext_with_compression(&self, _compression: &FileCompressionType) -> Result<String> {
        Ok(WEBHOOK.to_string())
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        None
    }

    async fn infer_schema(
        &self,
        _state: &dyn Session,
        _store: &Arc<dyn ObjectStore>,
        _objects: &[ObjectMeta],
    ) -> Result<SchemaRef> {
        Err(write_only())
    }

    async fn infer_stats(
        &self,
        _state: &dyn Session,
        _store: &Arc<dyn ObjectStore>,
        _table_schema: SchemaRef,
        _object: &ObjectMeta,
    ) -> Result<Statistics> {
        Err(write_only())
    }

    async fn create_physical_plan(
        &self,
        _state: &dyn Session,
        _conf: FileScanConfig,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Err(write_only())
    }

    async fn create_writer_physical_plan(
        &self,
        input: Arc<dyn ExecutionPlan>,
        _state: &dyn Session,
        conf: FileSinkConfig,
        _order_requirements: Option<LexRequirement>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !conf.table_partition_cols.is_empty() {
            return Err(DataFusionError::Plan(
                "PARTITIONED BY does not apply to a webhook: every row goes to the one target".into(),
            ));
        }
        let destination = resolve(&self.context, &conf.original_url, None, &self.options)?;
        let schema = conf.output_schema.clone();
        let columns = (0..schema.fields().len()).collect();
        let sink = WebhookSink::new(destination, self.context.clone(), schema, columns)?;
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }

    /// Never used: the format is not read. DataFusion asks for one all the same.
    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        Arc::new(JsonSource::new(table_schema))
    }
}
