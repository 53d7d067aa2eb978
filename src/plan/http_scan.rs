//! `HttpScanExec`: the leaf that reads an HTTP table. Like [`ApiScanExec`](super::ApiScanExec)
//! it finds rows only by key: from literal `=`/`IN` filters on its key columns and from the
//! dynamic filter of the hash join it is the probe side of, which it waits for on its first
//! poll. The keys become requests through the table's [`HttpClient`]; what EXPLAIN shows is
//! worked out once, when the scan is planned.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType, SchedulingType};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterPushdownPhase, FilterPushdownPropagation, PushedDown,
};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, ReplaceChildrenOptions,
    apply_expression_roots,
};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::keys::{self, Known, references};
use super::options::{OnError, ScanOptions};
use crate::api::Tally;
use crate::api::http::options::Paginate;
use crate::api::http::{HttpClient, Key};
use crate::tables::http as arrow_rows;

/// Keys whose outcomes go into one record batch.
const KEYS_PER_BATCH: usize = 64;

/// A scan of one HTTP table.
#[derive(Debug)]
pub struct HttpScanExec {
    client: HttpClient,
    /// The table's full schema (the scan's, before projection).
    table_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    /// Per key column, the values literal filters allow.
    literal: BTreeMap<String, BTreeSet<String>>,
    limit: Option<usize>,
    join_filters: Vec<Arc<dyn PhysicalExpr>>,
    /// No other scan reads this one's join filters: it lets go of their key lists once read
    /// (see `joins::release`).
    sole_reader: bool,
    options: ScanOptions,
    /// Cached answers older than this are fetched again.
    max_age: Duration,
    /// EXPLAIN's words for the literal keys' cost, worked out when planned.
    literal_text: Option<String>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl HttpScanExec {
    pub fn new(
        client: HttpClient,
        table_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        literal: BTreeMap<String, BTreeSet<String>>,
        limit: Option<usize>,
        options: ScanOptions,
        max_age: Duration,
    ) -> Result<HttpScanExec> {
        let schema = match &projection {
            Some(indices) => Arc::new(table_schema.project(indices)?),
            None => table_schema.clone(),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        )
        .with_scheduling_type(SchedulingType::Cooperative);
        let mut scan = HttpScanExec {
            client,
            table_schema,
            projection,
            literal,
            limit,
            join_filters: Vec::new(),
            sole_reader: false,
            options,
            max_age,
            literal_text: None,
            schema,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        };
        scan.literal_text = scan.literal_cost();
        Ok(scan)
    }

    pub fn table(&self) -> &str {
        &self.client.def().name
    }

    /// Whether the scan still needs a join to give it keys: some key column has no literal values.
    pub fn needs_join_keys(&self) -> bool {
        self.client.def().keys.iter().any(|k| !self.literal.contains_key(k))
    }

    /// Whether every key column gets values, literal or from a join.
    pub fn can_find_rows(&self) -> bool {
        self.client.def().keys.iter().all(|k| self.literal.contains_key(k) || self.joined_on(k))
    }

    fn joined_on(&self, column: &str) -> bool {
        self.join_filters.iter().any(|f| references(f, column))
    }

    /// What a plan that gives this scan no keys is told, before any request.
    pub fn missing_keys_message(&self) -> String {
        let def = self.client.def();
        let missing: Vec<&str> = def
            .keys
            .iter()
            .filter(|k| !self.literal.contains_key(*k) && !self.joined_on(k))
            .map(String::as_str)
            .collect();
        let key = missing.first().copied().unwrap_or("key");
        format!(
            "{table}: rows are found by {keys}, which the query does not give: its LOCATION has a placeholder for each. \
             Give {key} by = or IN (WHERE {key} IN ('…')), or join on it: \
             SELECT … FROM 'accounts.csv' a JOIN {table} x ON x.{key} = a.<column>",
            table = def.name,
            keys = missing.join(", "),
        )
    }

    /// The ids of the join filters this scan holds.
    pub(super) fn join_filter_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.join_filters.iter().filter_map(|f| f.expression_id())
    }

    /// A copy that keeps only the dynamic filters whose id is in `ids` (the hash joins').
    pub fn keep_join_filters(&self, ids: &HashSet<u64>) -> Option<HttpScanExec> {
        let kept: Vec<_> = self
            .join_filters
            .iter()
            .filter(|f| f.expression_id().is_some_and(|id| ids.contains(&id)))
            .cloned()
            .collect();
        (kept.len() != self.join_filters.len()).then(|| self.with_join_filters(kept))
    }

    /// A copy that lets go of its join filters' key lists once it has read them, as no other
    /// scan reads them.
    pub(super) fn as_sole_reader(&self) -> HttpScanExec {
        let mut scan = self.with_join_filters(self.join_filters.clone());
        scan.sole_reader = true;
        scan
    }

    fn with_join_filters(&self, join_filters: Vec<Arc<dyn PhysicalExpr>>) -> HttpScanExec {
        HttpScanExec {
            client: self.client.clone(),
            table_schema: self.table_schema.clone(),
            projection: self.projection.clone(),
            literal: self.literal.clone(),
            limit: self.limit,
            join_filters,
            sole_reader: self.sole_reader,
            options: self.options,
            max_age: self.max_age,
            literal_text: self.literal_text.clone(),
            schema: self.schema.clone(),
            properties: self.properties.clone(),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// The literal keys' tuples (their cross product), when every key column has literal values.
    fn literal_keys(&self) -> Option<Vec<Key>> {
        let columns: Vec<&BTreeSet<String>> =
            self.client.def().keys.iter().map(|k| self.literal.get(k)).collect::<Option<_>>()?;
        Some(cross(&columns))
    }

    /// "3 requests, 1 from the cache" for literal keys.
    fn literal_cost(&self) -> Option<String> {
        let keys = self.literal_keys()?;
        let (distinct, cached, requests) = self.client.preview(&keys, self.max_age);
        let pages =
            if self.client.def().options.paginate == Paginate::None { "" } else { ", more if a key's rows span pages" };
        Some(format!("{distinct} keys, {cached} from the cache, {requests} requests{pages}"))
    }

    fn describe_keys(&self) -> String {
        let def = self.client.def();
        if def.keys.is_empty() {
            return "none needed (one listing)".into();
        }
        let mut parts = Vec::new();
        for key in &def.keys {
            let literal = self.literal.get(key);
            parts.push(match (literal, self.joined_on(key)) {
                (Some(values), true) => format!("{key} from literal ({} values) ∩ join", values.len()),
                (Some(values), false) => format!("{key} from literal ({} values)", values.len()),
                (None, true) => format!("{key} from join"),
                (None, false) => format!("{key} MISSING"),
            });
        }
        let mut text = parts.join("; ");
        if let Some(cost) = &self.literal_text {
            text.push_str(&format!(" ({cost})"));
        }
        text
    }
}

/// Every combination of one value per column.
fn cross(columns: &[&BTreeSet<String>]) -> Vec<Key> {
    let mut out: Vec<Key> = vec![Vec::new()];
    for values in columns {
        out = out
            .into_iter()
            .flat_map(|prefix| values.iter().map(move |v| [prefix.clone(), vec![v.clone()]].concat()))
            .collect();
    }
    out
}

impl DisplayAs for HttpScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let def = self.client.def();
        let o = &def.options;
        let extras = {
            let mut extras = Vec::new();
            if o.batch_size > 1 {
                extras.push(format!("batch_size={}", o.batch_size));
            }
            if o.paginate != Paginate::None {
                extras.push(format!("paginate={:?}", o.paginate).to_lowercase());
            }
            if let Some(limit) = self.limit {
                extras.push(format!("limit={limit}"));
            }
            extras
        };
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(
                    f,
                    "HttpScanExec: table={}, request={}, keys={}",
                    def.name,
                    def.describe_request(),
                    self.describe_keys()
                )?;
                for extra in extras {
                    write!(f, ", {extra}")?;
                }
                Ok(())
            }
            DisplayFormatType::TreeRender => {
                writeln!(f, "table={}", def.name)?;
                writeln!(f, "request={}", def.describe_request())?;
                writeln!(f, "keys={}", self.describe_keys())?;
                for extra in extras {
                    writeln!(f, "{extra}")?;
                }
                Ok(())
            }
        }
    }
}

impl ExecutionPlan for HttpScanExec {
    fn name(&self) -> &str {
        "HttpScanExec"
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

    /// The join filters must be visible: a hash join only fills its filter in when a node below
    /// it reports holding it.
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
        if children.is_empty() { Ok(self) } else { datafusion::common::internal_err!("HttpScanExec has no children") }
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(datafusion::physical_plan::ChildrenPropertiesMode::Recompute),
        )
    }

    fn reset_state(self: Arc<Self>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(self.with_join_filters(self.join_filters.clone())))
    }

    /// Keeps the dynamic filters of the joins above; reports every filter as not applied (the
    /// join still filters; the scan only reads its keys out of them).
    fn handle_child_pushdown_result(
        &self,
        phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let unsupported = vec![PushedDown::No; child_pushdown_result.parent_filters.len()];
        let propagation = FilterPushdownPropagation::with_parent_pushdown_result(unsupported);
        match super::joins::absorb(&self.join_filters, phase, &child_pushdown_result) {
            None => Ok(propagation),
            Some(join_filters) => {
                Ok(propagation
                    .with_updated_node(Arc::new(self.with_join_filters(join_filters)) as Arc<dyn ExecutionPlan>))
            }
        }
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let tally = Arc::new(Tally::default());
        let api_calls = MetricBuilder::new(&self.metrics).gauge("api_calls", partition);
        let retries = MetricBuilder::new(&self.metrics).gauge("retries", partition);
        let throttled = MetricBuilder::new(&self.metrics).gauge("http_429", partition);
        let cache_hits = MetricBuilder::new(&self.metrics).gauge("cache_hits", partition);
        let keys_requested = MetricBuilder::new(&self.metrics).counter("keys_requested", partition);
        let output_rows = MetricBuilder::new(&self.metrics).output_rows(partition);
        let join_wait = MetricBuilder::new(&self.metrics).subset_time("join_wait", partition);
        let run = Run {
            client: self.client.clone(),
            table_schema: self.table_schema.clone(),
            projection: self.projection.clone(),
            literal: self.literal.clone(),
            limit: self.limit,
            join_filters: self.join_filters.clone(),
            release_keys: self.sole_reader,
            options: self.options,
            max_age: self.max_age,
        };
        let counted = tally.clone();
        let update = Arc::new(move || {
            let now = counted.snapshot();
            api_calls.set(now.calls as usize);
            retries.set(now.retries as usize);
            throttled.set(now.throttled as usize);
            cache_hits.set(now.cache_hits as usize);
        });
        let at_end = update.clone();
        let limit = self.limit;
        let batches = stream::once(async move {
            let (keys, waited) = run.keys().await.map_err(|e| {
                join_wait.add_duration(e.waited);
                e.error
            })?;
            join_wait.add_duration(waited);
            keys_requested.add(keys.len());
            Ok::<_, DataFusionError>(run.fetch(keys, tally))
        })
        .try_flatten()
        .boxed();
        let batches = super::fetch::limit_rows(batches, limit)
            .inspect(move |item| {
                if let Ok(batch) = item {
                    output_rows.add(batch.num_rows());
                }
                update();
            })
            .map(Some)
            // Once more at the end, for requests that gave no rows.
            .chain(stream::once(async move {
                at_end();
                None
            }))
            .filter_map(std::future::ready);
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), batches.boxed())))
    }

    fn with_fetch(&self, limit: Option<usize>) -> Option<Arc<dyn ExecutionPlan>> {
        let mut scan = self.with_join_filters(self.join_filters.clone());
        scan.limit = match (self.limit, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Some(Arc::new(scan))
    }

    fn fetch(&self) -> Option<usize> {
        self.limit
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One execution of a scan, owned.
struct Run {
    client: HttpClient,
    table_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    literal: BTreeMap<String, BTreeSet<String>>,
    limit: Option<usize>,
    join_filters: Vec<Arc<dyn PhysicalExpr>>,
    /// Let go of the join filters' key lists once read.
    release_keys: bool,
    options: ScanOptions,
    max_age: Duration,
}

/// Why the keys could not be known, and how long the scan waited for them.
struct KeysError {
    error: DataFusionError,
    waited: Duration,
}

impl Run {
    /// Waits for the joins, then reads the keys: per key column, the literal values ∩ what each
    /// join allows; for a join on several key columns, the pairs it lists (not their product).
    async fn keys(&self) -> std::result::Result<(Vec<Key>, Duration), KeysError> {
        let fail = |error, waited| KeysError { error, waited };
        let progress = || (crate::api::transport::activity(), 0);
        let waited = super::joins::wait_complete(&self.join_filters, self.options.join_wait_idle, &progress)
            .await
            .map_err(|idle| {
                let message = format!(
                    "{}: waited {idle:?} for the keys of its join while nothing happened; the join never produced them. This is a planning bug in hgsql: please report the query",
                    self.client.def().name
                );
                fail(DataFusionError::Execution(message), idle)
            })?;
        let def = self.client.def();
        let mut per_column: Vec<BTreeSet<String>> = Vec::new();
        for column in &def.keys {
            match keys::known(self.literal.get(column), &self.join_filters, column) {
                Known::Values(values) => per_column.push(values),
                Known::Unreadable(shape) => {
                    let message = keys::unreadable_message(&def.name, column, &shape);
                    return Err(fail(DataFusionError::Execution(message), waited));
                }
                // The plan's guard makes sure of keys; a plan rewritten after it could still lose them.
                Known::Absent => {
                    let message = format!("{}: the query gives no values for its key {column}", def.name);
                    return Err(fail(DataFusionError::Plan(message), waited));
                }
            }
        }
        let columns: Vec<&str> = def.keys.iter().map(String::as_str).collect();
        let refs: Vec<&BTreeSet<String>> = per_column.iter().collect();
        let mut tuples: Option<BTreeSet<Key>> = None;
        if columns.len() > 1 {
            for filter in &self.join_filters {
                if let Some(found) = keys::extract_tuples(filter, &columns) {
                    tuples = Some(match tuples {
                        Some(before) => before.intersection(&found).cloned().collect(),
                        None => found,
                    });
                }
            }
        }
        let mut keys: Vec<Key> = match tuples {
            Some(tuples) => {
                tuples.into_iter().filter(|t| t.iter().zip(&per_column).all(|(v, set)| set.contains(v))).collect()
            }
            None => cross(&refs),
        };
        // An empty value would fill a placeholder with nothing: `/accounts/` is another resource.
        let before = keys.len();
        keys.retain(|k| k.iter().all(|v| !v.is_empty()));
        if keys.len() < before {
            tracing::warn!(table = %def.name, skipped = before - keys.len(), "keys with an empty value are not asked");
        }
        if self.release_keys {
            super::joins::release(&self.join_filters);
        }
        Ok((keys, waited))
    }

    fn fetch(
        self,
        keys: Vec<Key>,
        tally: Arc<Tally>,
    ) -> futures::stream::BoxStream<'static, Result<datafusion::arrow::record_batch::RecordBatch>> {
        let row_cap = self.limit;
        let keep_failures = self.options.on_error == OnError::Null;
        let client = self.client.clone();
        let (schema, projection) = (self.table_schema.clone(), self.projection.clone());
        self.client
            .lookup(keys, self.max_age, row_cap, tally)
            .ready_chunks(KEYS_PER_BATCH)
            .map(move |chunk| {
                let outcomes = chunk
                    .into_iter()
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                arrow_rows::batch(client.def(), &schema, projection.as_deref(), &outcomes, keep_failures)
                    .map_err(|e| DataFusionError::External(Box::new(e)))
            })
            .boxed()
    }
}
