//! `ApiScanExec`: the leaf of a plan that reads an HG table. It is planned like any scan, but
//! its rows can only be found by key, so it takes its keys from literal filters and from the
//! dynamic filter of the hash join it is the probe side of (DESIGN.md "Lookup joins").
//!
//! `execute()` does no I/O (the join calls it before its build side is ready); the stream it
//! returns waits for the join's filter on its first poll, reads the keys out of it, and fetches
//! (see [`super::fetch`]).

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::options::OnError;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::{Column, DynamicFilterPhysicalExpr};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType, SchedulingType};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterPushdownPhase, FilterPushdownPropagation, PushedDown,
};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, ReplaceChildrenOptions,
    apply_expression_roots,
};

use super::fetch;
use super::pushdown::{self, Pushed};
use crate::api::{HgClient, normalize_domain};
use crate::tables::{ColumnSource, Lookup, TableSpec};

/// Settings of HG scans.
#[derive(Clone, Copy, Debug)]
pub struct ScanOptions {
    /// How long a scan waits for its join's keys while nothing happens: no HG request finishes
    /// anywhere in the session. A join whose build side is itself an HG lookup keeps the clock
    /// reset; a filter nobody will ever fill (a plan DataFusion rewrote) fails instead of hanging.
    pub join_wait_idle: Duration,
    /// What a lookup that failed (after retries) does: fail the query, or give a row with NULL
    /// data and `_hg_status = 'error'` (`SET hg.on_error`).
    pub on_error: OnError,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { join_wait_idle: Duration::from_secs(300), on_error: OnError::Fail }
    }
}

/// A scan of one HG table.
#[derive(Debug)]
pub struct ApiScanExec {
    pub(super) spec: &'static TableSpec,
    pub(super) client: HgClient,
    /// Columns of the spec this scan outputs; `None` for all.
    pub(super) projection: Option<Vec<usize>>,
    /// What the filters DataFusion pushed ask of HG.
    pub(super) pushed: Pushed,
    /// Rows wanted at most, when DataFusion says (only if every filter was exact).
    pub(super) limit: Option<usize>,
    /// Dynamic filters from hash joins this scan is the probe side of.
    pub(super) join_filters: Vec<Arc<dyn PhysicalExpr>>,
    pub(super) options: ScanOptions,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl ApiScanExec {
    pub fn new(
        spec: &'static TableSpec,
        client: HgClient,
        projection: Option<Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
        options: ScanOptions,
    ) -> Result<ApiScanExec> {
        let full = spec.schema();
        let schema = match &projection {
            Some(indices) => Arc::new(full.project(indices)?),
            None => full,
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        )
        .with_scheduling_type(SchedulingType::Cooperative);
        Ok(ApiScanExec {
            spec,
            client,
            projection,
            pushed: pushdown::analyze(spec, filters),
            limit,
            join_filters: Vec::new(),
            options,
            schema,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    pub fn spec(&self) -> &'static TableSpec {
        self.spec
    }

    /// The literal values given for `column`, if any.
    pub(super) fn literal_keys(&self, column: &str) -> Option<&std::collections::BTreeSet<String>> {
        self.pushed.keys.iter().find(|(c, _)| c == column).map(|(_, v)| v)
    }

    /// Whether a join filter this scan holds is on `column`.
    pub(super) fn joined_on(&self, column: &str) -> bool {
        self.join_filters.iter().any(|filter| references(filter, column))
    }

    /// The columns whose values find this table's rows.
    pub fn finding_columns(&self) -> Vec<&'static str> {
        match self.spec.lookup {
            Lookup::ByCompany { key } => vec![key],
            Lookup::ByMatch { domain, name, .. } => vec![domain, name],
            Lookup::Listing { .. } => Vec::new(),
        }
    }

    /// Whether the scan knows, at plan time, where its keys will come from: a listing needs
    /// none; the others need literal values or a join on a finding column.
    pub fn can_find_rows(&self) -> bool {
        let columns = self.finding_columns();
        columns.is_empty() || columns.iter().any(|c| self.literal_keys(c).is_some() || self.joined_on(c))
    }

    /// Whether this scan still needs a join to give it keys (none literal, not a listing).
    pub fn needs_join_keys(&self) -> bool {
        let columns = self.finding_columns();
        !columns.is_empty() && !columns.iter().any(|c| self.literal_keys(c).is_some())
    }

    /// A copy that keeps only the dynamic filters whose id is in `ids` (the hash joins'):
    /// TopK and aggregate filters also reach scans, but they are only complete once the query
    /// is, so waiting for them would never end.
    pub fn keep_join_filters(&self, ids: &HashSet<u64>) -> Option<ApiScanExec> {
        let kept: Vec<_> = self
            .join_filters
            .iter()
            .filter(|f| f.expression_id().is_some_and(|id| ids.contains(&id)))
            .cloned()
            .collect();
        (kept.len() != self.join_filters.len()).then(|| self.with_join_filters(kept))
    }

    fn with_join_filters(&self, join_filters: Vec<Arc<dyn PhysicalExpr>>) -> ApiScanExec {
        ApiScanExec {
            spec: self.spec,
            client: self.client.clone(),
            projection: self.projection.clone(),
            pushed: self.pushed.clone(),
            limit: self.limit,
            join_filters,
            options: self.options,
            schema: self.schema.clone(),
            properties: self.properties.clone(),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// Fields to ask HG for: those of the projected columns, or one cheap field when only
    /// echoed columns (or none, for `count(*)`) are wanted.
    pub(super) fn api_fields(&self) -> Vec<String> {
        let all: Vec<usize> = (0..self.spec.column_count()).collect();
        let indices = self.projection.as_deref().unwrap_or(&all);
        let mut fields: Vec<String> = indices
            .iter()
            .filter_map(|&i| match self.spec.column_at(i).source {
                ColumnSource::Field => Some(self.spec.column_at(i).name.to_string()),
                ColumnSource::Renamed(field) => Some(field.to_string()),
                ColumnSource::Echo
                | ColumnSource::Rank
                | ColumnSource::FetchedAt
                | ColumnSource::Status
                | ColumnSource::Error => None,
            })
            .collect();
        if fields.is_empty()
            && let Some(first) = self.spec.columns.iter().find(|c| c.source == ColumnSource::Field)
        {
            fields.push(first.name.to_string());
        }
        fields
    }

    /// Where the keys come from, and for literal keys how many requests they take at least.
    fn describe_keys(&self) -> String {
        let columns = self.finding_columns();
        if columns.is_empty() {
            return "none needed (listing)".into();
        }
        let mut parts = Vec::new();
        for column in columns {
            let literal = self.literal_keys(column);
            let joined = self.joined_on(column);
            let text = match (literal, joined) {
                (Some(values), true) => format!("{column} from literal ({} values) ∩ join", values.len()),
                (Some(values), false) => {
                    format!(
                        "{column} from literal ({} values, {})",
                        values.len(),
                        self.literal_requests(column, values)
                    )
                }
                (None, true) => format!("{column} from join"),
                (None, false) => continue,
            };
            parts.push(text);
        }
        if parts.is_empty() { "MISSING".into() } else { parts.join("; ") }
    }

    fn literal_requests(&self, column: &str, values: &std::collections::BTreeSet<String>) -> String {
        let endpoint = self.spec.endpoint;
        match self.spec.lookup {
            Lookup::ByCompany { .. } => {
                let ids: HashSet<_> = values.iter().filter_map(|v| crate::api::CompanyId::parse(v).ok()).collect();
                let ids: Vec<_> = ids.into_iter().collect();
                // The cost preview: what the cache already holds is neither fetched nor paid.
                let request = crate::api::EnrichRequest {
                    fields: Some(self.api_fields()),
                    filters: super::fetch::api_filters(&self.pushed),
                    sorts: Vec::new(),
                };
                let plan = self.client.preview_companies(endpoint, &request, &ids);
                let requests = requests_text(plan.requests as usize);
                let requests = if endpoint == crate::api::Endpoint::Firmographic {
                    requests
                } else {
                    format!("at least {requests}, more if a company's rows span pages")
                };
                format!("{requests}, up to {} credits, {} from the cache", plan.credits, plan.cached)
            }
            Lookup::ByMatch { domain, .. } if column == domain => {
                let hosts: HashSet<_> = values.iter().filter_map(|v| normalize_domain(v)).collect();
                requests_text(hosts.len())
            }
            _ => requests_text(values.len()),
        }
    }
}

fn requests_text(n: usize) -> String {
    if n == 1 { "1 request".into() } else { format!("{n} requests") }
}

/// Whether `expr` (a join's dynamic filter: its children are the probe-side key columns)
/// refers to `column`.
pub(super) fn references(expr: &Arc<dyn PhysicalExpr>, column: &str) -> bool {
    let mut found = false;
    let _ = datafusion::common::tree_node::TreeNode::apply(expr, |e| {
        if e.as_ref().downcast_ref::<Column>().is_some_and(|c| c.name() == column) {
            found = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

impl DisplayAs for ApiScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let endpoint = self.spec.endpoint;
        let method = if endpoint.is_get() { "GET" } else { "POST" };
        let filters = describe_filters(&self.pushed);
        // Match and the catalog lists take no `fields`.
        let fields = if endpoint.is_get() { String::new() } else { self.api_fields().join(", ") };
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, "ApiScanExec: table=hg.{}, endpoint={method} {}", self.spec.name, endpoint.path())?;
                write!(f, ", keys={}", self.describe_keys())?;
                if !fields.is_empty() {
                    write!(f, ", fields=[{fields}]")?;
                }
                if !filters.is_empty() {
                    write!(f, ", api_filters=[{}]", filters.join(", "))?;
                }
                if let Some(limit) = self.limit {
                    write!(f, ", limit={limit}")?;
                }
                Ok(())
            }
            DisplayFormatType::TreeRender => {
                writeln!(f, "table=hg.{}", self.spec.name)?;
                writeln!(f, "endpoint={method} {}", endpoint.path())?;
                writeln!(f, "keys={}", self.describe_keys())?;
                if !fields.is_empty() {
                    writeln!(f, "fields={fields}")?;
                }
                if !filters.is_empty() {
                    writeln!(f, "api_filters={}", filters.join(", "))?;
                }
                if let Some(limit) = self.limit {
                    writeln!(f, "limit={limit}")?;
                }
                Ok(())
            }
        }
    }
}

/// The pushed API parameters, as EXPLAIN shows them.
fn describe_filters(pushed: &Pushed) -> Vec<String> {
    let mut out: Vec<String> = pushed
        .filters
        .iter()
        .map(|(filter, values)| {
            let method = if values.negated { "NONE_PRESENT" } else { "ANY_PRESENT" };
            let list: Vec<String> = values.values.iter().filter_map(pushdown::text).collect();
            format!("{filter:?} {method} ({})", list.join(", "))
        })
        .collect();
    if let Some(n) = pushed.match_limit {
        out.push(format!("limit={n} matches"));
    }
    if let Some(name) = &pushed.name {
        out.push(format!("name contains {name:?}"));
    }
    out
}

impl ExecutionPlan for ApiScanExec {
    fn name(&self) -> &str {
        "ApiScanExec"
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    /// The join filters must be visible here: a hash join only fills its filter in when a node
    /// below it reports holding it.
    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        apply_expression_roots(self.join_filters.iter(), f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() { Ok(self) } else { datafusion::common::internal_err!("ApiScanExec has no children") }
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(datafusion::physical_plan::ChildrenPropertiesMode::Recompute),
        )
    }

    /// A re-execution (recursive CTE) starts without the metrics of the last one; the join
    /// filters are shared with the joins, which reset them.
    fn reset_state(self: Arc<Self>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(self.with_join_filters(self.join_filters.clone())))
    }

    /// Keeps the dynamic filters of the joins above (phase Post). Reports every filter as not
    /// applied: the join and any `FilterExec` still do the filtering; the scan only uses them
    /// to know which keys to fetch.
    fn handle_child_pushdown_result(
        &self,
        phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let filters = &child_pushdown_result.parent_filters;
        let unsupported = vec![PushedDown::No; filters.len()];
        let mut join_filters = self.join_filters.clone();
        if phase == FilterPushdownPhase::Post {
            for filter in filters {
                if filter.filter.as_ref().downcast_ref::<DynamicFilterPhysicalExpr>().is_some()
                    && !join_filters.iter().any(|f| f.expression_id() == filter.filter.expression_id())
                {
                    join_filters.push(filter.filter.clone());
                }
            }
        }
        let propagation = FilterPushdownPropagation::with_parent_pushdown_result(unsupported);
        if join_filters.len() == self.join_filters.len() {
            return Ok(propagation);
        }
        Ok(propagation.with_updated_node(Arc::new(self.with_join_filters(join_filters)) as Arc<dyn ExecutionPlan>))
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        Ok(fetch::stream(self, partition, &self.metrics))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
