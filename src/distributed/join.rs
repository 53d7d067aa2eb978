//! `ApiJoinExec`: a hash join whose probe side holds the lookup scan it feeds, kept whole.
//!
//! datafusion-distributed rewrites hash joins it recognises: a `CollectLeft` LEFT, semi or anti
//! join becomes a partitioned one, and a partitioned join is cut into three stages. Either would
//! put the join and its lookup scan in different stages, where the scan never sees the join's
//! keys. Wrapped in this node the join is a generic node to the distributed planner: it keeps
//! its shape and stays in one stage with the scan (docs/distributed.md, "How a query is cut").

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, InputDistributionRequirements, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream, Statistics,
};

/// A hash join whose probe side holds a lookup scan (HG or HTTP table) that reads the join's
/// keys. It does what the join does; only its type differs, so the distributed planner neither
/// rewrites nor splits it. It runs in one task, in the coordinator.
#[derive(Debug)]
pub struct ApiJoinExec {
    join: Arc<dyn ExecutionPlan>,
}

impl ApiJoinExec {
    /// Wraps `join`, a `HashJoinExec`.
    pub fn new(join: Arc<dyn ExecutionPlan>) -> ApiJoinExec {
        ApiJoinExec { join }
    }

    /// The hash join inside.
    pub fn join(&self) -> &Arc<dyn ExecutionPlan> {
        &self.join
    }
}

impl DisplayAs for ApiJoinExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ApiJoinExec: ")?;
        self.join.fmt_as(t, f)
    }
}

impl ExecutionPlan for ApiJoinExec {
    fn name(&self) -> &str {
        "ApiJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.join.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.join.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.join.apply_expressions(f)
    }

    fn dynamic_expressions_produced(&self) -> Vec<Arc<dyn PhysicalExpr>> {
        self.join.dynamic_expressions_produced()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.join.input_distribution_requirements()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.join.maintains_input_order()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        self.join.benefits_from_input_partitioning()
    }

    /// The join's own rebuild keeps its dynamic filter, which the scan below already holds.
    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(ApiJoinExec { join: self.join.clone().replace_children(children, options)? }))
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn reset_state(self: Arc<Self>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(ApiJoinExec { join: self.join.clone().reset_state()? }))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        self.join.execute(partition, context)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.join.metrics()
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.join.child_stats_requests(partition)
    }

    fn statistics_from_inputs(&self, inputs: &[Arc<Statistics>], args: &StatisticsArgs) -> Result<Arc<Statistics>> {
        self.join.statistics_from_inputs(inputs, args)
    }
}
