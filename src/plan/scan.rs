//! `ApiScanExec`: the leaf of a plan that reads an HG table. It is planned like any scan, but
//! its rows can only be found by key, so it takes its keys from literal filters and from the
//! dynamic filter of the hash join it is the probe side of (docs/architecture.md, "Lookup
//! joins").
//!
//! `execute()` does no I/O (the join calls it before its build side is ready); the stream it
//! returns waits for the join's filter on its first poll, reads the keys out of it, and fetches
//! (see `fetch.rs`). What EXPLAIN shows is worked out once, when the scan is planned: printing a
//! plan reads nothing.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType, SchedulingType};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterPushdownPhase, FilterPushdownPropagation, PushedDown,
};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, ReplaceChildrenOptions,
    apply_expression_roots,
};

use super::fetch::{self, ScanInputs};
use super::keys::references;
use super::options::{ExplainOnly, ScanOptions};
use super::pushdown::{self, Pushed};
use super::request::{api_fields, api_filters, company_request, describe_filters};
use crate::api::{Charge, Companion, CompanyId, EnrichRequest, Handoff, HgClient, Paging, Sharing, normalize_domain};
use crate::tables::{ApiFilter, ColumnSource, Lookup, TableSpec};

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
    /// Whether its requests serve another scan, or another's serve it (v2 enrich).
    pub(super) sharing: Sharing,
    /// Whether it alone reads its join filters' keys, and so may let go of them once read
    /// (see `joins::release`).
    pub(super) sole_reader: bool,
    /// EXPLAIN's words for the sharing.
    shared_text: Option<String>,
    /// EXPLAIN's text, worked out at planning: per finding column with literal values, what
    /// they take (requests, credits, cache hits); the API filters; the fields asked for.
    explain: Arc<Explain>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

/// The parts of EXPLAIN's text that do not change once the scan is planned.
#[derive(Clone, Debug, Default)]
struct Explain {
    literal_keys: Vec<(&'static str, String)>,
    filters: Vec<String>,
    fields: String,
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
            EquivalenceProperties::new_with_orderings(schema.clone(), listing_order(spec, &schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        )
        .with_scheduling_type(SchedulingType::Cooperative);
        let pushed = pushdown::analyze(spec, filters);
        let explain = Arc::new(Explain::of(spec, &client, projection.as_deref(), &pushed));
        Ok(ApiScanExec {
            spec,
            client,
            projection,
            pushed,
            limit,
            join_filters: Vec::new(),
            options,
            sharing: Sharing::None,
            sole_reader: false,
            shared_text: None,
            explain,
            schema,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    pub fn spec(&self) -> &'static TableSpec {
        self.spec
    }

    /// The literal values given for `column`, if any.
    pub(super) fn literal_keys(&self, column: &str) -> Option<&BTreeSet<String>> {
        self.pushed.keys.iter().find(|(c, _)| c == column).map(|(_, v)| v)
    }

    /// Whether a join filter this scan holds is on `column`.
    pub(super) fn joined_on(&self, column: &str) -> bool {
        self.join_filters.iter().any(|filter| references(filter, column))
    }

    /// The columns whose values find this table's rows.
    pub fn finding_columns(&self) -> Vec<&'static str> {
        finding_columns(self.spec)
    }

    /// Whether the scan knows, at plan time, where its keys will come from: a listing needs
    /// none; the others need literal values or a join on a finding column.
    pub fn can_find_rows(&self) -> bool {
        let columns = self.finding_columns();
        columns.is_empty() || columns.iter().any(|c| self.literal_keys(c).is_some() || self.joined_on(c))
    }

    /// A criterion column a join compares (`JOIN hg.search s ON s.country_code = …`): HG does
    /// not return its values, so the join could never match.
    pub fn joined_criterion(&self) -> Option<&'static str> {
        let criteria = self.spec.columns.iter().filter(|c| c.source == ColumnSource::Criterion);
        criteria.map(|c| c.name).find(|name| self.joined_on(name))
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
            sharing: self.sharing.clone(),
            sole_reader: self.sole_reader,
            shared_text: self.shared_text.clone(),
            explain: self.explain.clone(),
            schema: self.schema.clone(),
            properties: self.properties.clone(),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// A copy that lets go of its join filters' key lists once it has read them, as no other
    /// scan reads them.
    pub(super) fn as_sole_reader(&self) -> ApiScanExec {
        let mut scan = self.with_join_filters(self.join_filters.clone());
        scan.sole_reader = true;
        scan
    }

    /// The ids of the join filters this scan holds.
    pub(super) fn join_filter_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.join_filters.iter().filter_map(|f| f.expression_id())
    }

    /// The lookup request this scan sends for each company (fields aside).
    pub(super) fn company_request(&self) -> EnrichRequest {
        company_request(self.spec, &self.pushed, None)
    }

    /// Whether the scan fetches every company its join gives it, as one table's lookup: what
    /// sharing its requests needs (no literal keys to narrow them, no row limit to stop early).
    pub(super) fn fetches_all_join_keys(&self) -> bool {
        matches!(self.spec.lookup, Lookup::ByCompany { .. }) && self.pushed.keys.is_empty() && self.limit.is_none()
    }

    /// A copy whose requests also fetch `companion`'s field group, for the scan of `table`.
    pub(super) fn serving(&self, companion: Arc<Companion>, table: &str) -> ApiScanExec {
        let mut scan = self.with_join_filters(self.join_filters.clone());
        scan.sharing = Sharing::Serves(companion);
        scan.shared_text = Some(format!("requests shared with hg.{table}"));
        scan
    }

    /// A copy that takes its rows from what `table`'s requests fetch for it.
    pub(super) fn served_by(&self, handoff: Arc<Handoff>, table: &str) -> ApiScanExec {
        let mut scan = self.with_join_filters(self.join_filters.clone());
        scan.sharing = Sharing::ServedBy(handoff);
        scan.shared_text = Some(format!("rows from the requests of hg.{table}"));
        scan
    }

    /// For EXPLAIN on v2: HG's own ceiling for the literal keys' lookup (a free estimate),
    /// shown beside hgsql's count. Nothing happens where HG offers no estimate.
    pub(super) async fn ask_hg_estimate(&mut self, explaining: &ExplainOnly) {
        let Lookup::ByCompany { key } = self.spec.lookup else { return };
        let Some((_, values)) = self.pushed.keys.iter().find(|(c, _)| *c == key) else { return };
        let ids: BTreeSet<CompanyId> = values.iter().filter_map(|v| CompanyId::parse(v).ok()).collect();
        let ids: Vec<CompanyId> = ids.into_iter().collect();
        let request = self.company_request();
        let lookup =
            format!("{}|{}|{ids:?}", self.spec.endpoint.name(), serde_json::to_string(&request).unwrap_or_default());
        let estimate = match explaining.known(&lookup) {
            Some(known) => known,
            None => {
                let asked = self.client.hg_estimate(self.spec.endpoint, &request, &ids).await;
                explaining.keep(lookup, asked);
                asked
            }
        };
        let Some(estimate) = estimate else { return };
        let mut explain = Explain::clone(&self.explain);
        for (column, text) in explain.literal_keys.iter_mut() {
            if *column == key {
                text.push_str(&format!(" (HG's own estimate: at most {estimate})"));
            }
        }
        self.explain = Arc::new(explain);
    }

    /// Why the scan may not run, when what it would cost has no bound: an endpoint charged per
    /// company and value of a filter (functional areas: per product) needs that filter's
    /// values given by `=` or `IN`.
    pub fn unbounded_cost(&self) -> Option<String> {
        let Charge::PerCompanyAnd { filter, .. } = self.spec.endpoint.charge() else { return None };
        let given = self.pushed.filters.iter().any(|(f, values)| *f == ApiFilter::Wire(filter) && !values.negated);
        if given {
            return None;
        }
        let column =
            self.spec.pushdown.iter().find(|p| p.filter == ApiFilter::Wire(filter)).map_or(filter, |p| p.column);
        Some(format!(
            "hg.{table}: give {column} by = or IN (e.g. WHERE {column} IN (814, 1023)): HG charges a credit \
             per company and {column}, so without them the query's cost has no bound",
            table = self.spec.name
        ))
    }

    /// How many joins give this scan keys: with more than one, its keys are what they all
    /// allow, which may be fewer than any one join's.
    pub(super) fn joins_feeding(&self) -> usize {
        self.join_filters.len()
    }

    /// Whether the scan holds one of the dynamic filters `ids` (its keys come from that join).
    pub(super) fn holds_any_filter(&self, ids: &HashSet<u64>) -> bool {
        self.join_filters.iter().any(|f| f.expression_id().is_some_and(|id| ids.contains(&id)))
    }

    /// Whether this scan's requests are shared either way already.
    pub(super) fn shares(&self) -> bool {
        !matches!(self.sharing, Sharing::None)
    }

    /// Where the keys come from, and for literal keys what they take.
    fn describe_keys(&self) -> String {
        let columns = self.finding_columns();
        if columns.is_empty() {
            return "none needed (listing)".into();
        }
        let mut parts = Vec::new();
        for column in columns {
            let literal = self.literal_keys(column);
            let joined = self.joined_on(column);
            let cost = self.explain.literal_keys.iter().find(|(c, _)| *c == column).map(|(_, t)| t.as_str());
            let text = match (literal, joined) {
                // The join can only narrow the literal keys: their cost is the most it takes.
                (Some(values), true) => {
                    format!(
                        "{column} from literal ({} values) ∩ join; the literal keys alone: {}",
                        values.len(),
                        cost.unwrap_or("?")
                    )
                }
                (Some(values), false) => {
                    format!("{column} from literal ({} values, {})", values.len(), cost.unwrap_or("?"))
                }
                (None, true) => format!("{column} from join"),
                (None, false) => continue,
            };
            parts.push(text);
        }
        if parts.is_empty() { "MISSING".into() } else { parts.join("; ") }
    }
}

/// A listing's rows come in the order of HG's answer, which its rank column counts: declared,
/// `ORDER BY search_rank LIMIT n` needs no sort, and the limit reaches the scan and stops the
/// paging.
fn listing_order(spec: &TableSpec, schema: &SchemaRef) -> Vec<Vec<PhysicalSortExpr>> {
    if spec.lookup != Lookup::Listing {
        return Vec::new();
    }
    let rank = spec.columns.iter().find(|c| c.source == ColumnSource::Rank);
    let Some((index, field)) = rank.and_then(|c| schema.column_with_name(c.name)) else { return Vec::new() };
    let column = Arc::new(Column::new(field.name(), index));
    vec![vec![PhysicalSortExpr::new(column, SortOptions { descending: false, nulls_first: false })]]
}

/// The columns whose values find `spec`'s rows.
fn finding_columns(spec: &TableSpec) -> Vec<&'static str> {
    match spec.lookup {
        Lookup::ByCompany { key } => vec![key],
        Lookup::ByMatch { domain, name, .. } => vec![domain, name],
        Lookup::Listing => Vec::new(),
    }
}

impl Explain {
    /// EXPLAIN's text of a scan of `spec`: the cost preview of literal keys reads the cache
    /// here, once (what it holds is neither fetched nor paid).
    fn of(spec: &'static TableSpec, client: &HgClient, projection: Option<&[usize]>, pushed: &Pushed) -> Explain {
        let endpoint = spec.endpoint;
        let asked = api_fields(spec, projection);
        let fields = if endpoint.spec().takes_fields { asked.join(", ") } else { String::new() };
        let mut literal_keys = Vec::new();
        for column in finding_columns(spec) {
            let Some((_, values)) = pushed.keys.iter().find(|(c, _)| c == column) else { continue };
            let text = match spec.lookup {
                Lookup::ByCompany { .. } => {
                    let ids: HashSet<_> = values.iter().filter_map(|v| CompanyId::parse(v).ok()).collect();
                    let ids: Vec<_> = ids.into_iter().collect();
                    let request = EnrichRequest {
                        fields: Some(asked.clone()),
                        filters: api_filters(spec, pushed),
                        sorts: Vec::new(),
                    };
                    let plan = client.preview_companies(endpoint, &request, &ids);
                    let requests = requests_text(plan.requests as usize);
                    // One answer per company needs no paging; a list may take more pages.
                    let requests = if endpoint.spec().paging == Paging::None {
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
            };
            literal_keys.push((column, text));
        }
        Explain { literal_keys, filters: describe_filters(spec, pushed), fields }
    }
}

fn requests_text(n: usize) -> String {
    if n == 1 { "1 request".into() } else { format!("{n} requests") }
}

impl DisplayAs for ApiScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let endpoint = self.spec.endpoint;
        let method = endpoint.spec().method.as_str();
        let (filters, fields) = (&self.explain.filters, &self.explain.fields);
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, "ApiScanExec: table=hg.{}, endpoint={method} {}", self.spec.name, endpoint.path())?;
                write!(f, ", keys={}", self.describe_keys())?;
                if let Some(shared) = &self.shared_text {
                    write!(f, ", {shared}")?;
                }
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
                if let Some(shared) = &self.shared_text {
                    writeln!(f, "{shared}")?;
                }
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
        let inputs = ScanInputs {
            spec: self.spec,
            client: self.client.clone(),
            projection: self.projection.clone(),
            pushed: self.pushed.clone(),
            limit: self.limit,
            join_filters: self.join_filters.clone(),
            options: self.options,
            sharing: self.sharing.clone(),
            release_keys: self.sole_reader,
        };
        Ok(fetch::stream(inputs, self.schema.clone(), partition, &self.metrics))
    }

    /// A limit right above the scan becomes the scan's: it stops once it has that many rows,
    /// and a listing asks for no page beyond them.
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
