//! `HgTable`: a [`TableSpec`] as a DataFusion table. Planning only: what DataFusion may push
//! down, and an [`ApiScanExec`] per scan.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;

use super::options::{ExplainOnly, HgOptions, ScanOptions};
use super::pushdown;
use super::scan::ApiScanExec;
use crate::api::{ApiVersion, HgClient, HgError};
use crate::tables::TableSpec;

/// One `hg.*` table. Without a client (no key configured) it still plans `\d` and
/// `information_schema`, and any query that reads it fails before a call with how to configure one.
#[derive(Debug)]
pub struct HgTable {
    spec: &'static TableSpec,
    client: Result<HgClient, String>,
    options: ScanOptions,
}

impl HgTable {
    pub fn new(spec: &'static TableSpec, client: Result<HgClient, String>, options: ScanOptions) -> HgTable {
        HgTable { spec, client, options }
    }
}

#[async_trait]
impl TableProvider for HgTable {
    fn schema(&self) -> SchemaRef {
        self.spec.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// A condition on a search criterion that HG cannot be sent fails the query here, before
    /// any call: left to DataFusion, it would be checked against NULL and drop every row.
    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        if let Some(message) = filters.iter().find_map(|expr| pushdown::unsendable_criterion(self.spec, expr)) {
            return Err(DataFusionError::Plan(message));
        }
        Ok(filters.iter().map(|expr| pushdown::support(self.spec, expr)).collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let client = self.client.clone().map_err(|message| {
            // An HG error, not a SQL one: the query is fine, HG cannot be reached without a key.
            DataFusionError::External(Box::new(HgError::Config(format!("hg.{}: {message}", self.spec.name))))
        })?;
        let version = client.config().version;
        if !self.spec.served_by(version) {
            let (other, key) = match version {
                ApiVersion::V1 => (ApiVersion::V2, "a v2 key (hg_v2_…)"),
                ApiVersion::V2 => (ApiVersion::V1, "a v1 key"),
            };
            return Err(DataFusionError::External(Box::new(HgError::Config(format!(
                "hg.{}: HG serves it on its {other} API only, and hgsql speaks {version} here; \
                 it needs {key}: set HG_API_KEY to one (or --api-version {other} with its base URL)",
                self.spec.name
            )))));
        }
        // The session's `hg.*` settings as they are when the statement is planned.
        let settings = state.config_options().extensions.get::<HgOptions>().cloned().unwrap_or_default();
        let client = client.with_options(settings.lookup());
        let options = ScanOptions { on_error: settings.on_error, ..self.options };
        let mut scan = ApiScanExec::new(self.spec, client, projection.cloned(), filters, limit, options)?;
        if let Some(message) = scan.unbounded_cost() {
            return Err(DataFusionError::Plan(message));
        }
        if let Some(explaining) = state.config().get_extension::<ExplainOnly>() {
            scan.ask_hg_estimate(&explaining).await;
        }
        Ok(Arc::new(scan))
    }
}
