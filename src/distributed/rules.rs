//! The two physical rules of distributed mode. Together they keep each lookup join (a hash join
//! and the lookup scan on its probe side that reads its keys) in one stage, so the scan reads the
//! keys from the join's filter in memory as it does in one process.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};

use super::join::ApiJoinExec;
use crate::plan::{feeds_lookup_scan, waits_for_keys};

/// Makes every hash join whose probe side waits for its keys a `CollectLeft` join. A partitioned
/// join would hash-repartition its probe side, and the distributed planner cuts a stage at every
/// hash repartition: the scan would land in another stage than its join. The cost is that the
/// join's build side (the local keys) is collected in one place, the coordinator. Runs right
/// after `hg_api_on_probe_side`, before the distribution is enforced.
#[derive(Debug, Default)]
pub struct CollectLookupBuildSides;

impl PhysicalOptimizerRule for CollectLookupBuildSides {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else { return Ok(Transformed::no(node)) };
            if *join.partition_mode() == PartitionMode::CollectLeft || !waits_for_keys(join.right()) {
                return Ok(Transformed::no(node));
            }
            Ok(Transformed::yes(join.builder().with_partition_mode(PartitionMode::CollectLeft).build_exec()?))
        })
        .data()
    }

    fn name(&self) -> &str {
        "hg_collect_lookup_build_sides"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Wraps every hash join that feeds a lookup scan in an [`ApiJoinExec`], which the distributed
/// planner leaves whole. Runs last, once the join's dynamic filter is in the scan.
#[derive(Debug, Default)]
pub struct WrapLookupJoins;

impl PhysicalOptimizerRule for WrapLookupJoins {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| match node.downcast_ref::<HashJoinExec>() {
            Some(join) if feeds_lookup_scan(join) => Ok(Transformed::yes(Arc::new(ApiJoinExec::new(node.clone())))),
            _ => Ok(Transformed::no(node)),
        })
        .data()
    }

    fn name(&self) -> &str {
        "hg_wrap_lookup_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
