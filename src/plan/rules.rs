//! The physical rules that make lookup joins safe (docs/architecture.md, "Guardrails"): HG scans go
//! on the probe side of hash joins, where the join's keys reach them; and a plan in which an HG
//! scan has no way to find its rows fails before any call, saying how to give it keys.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::common::JoinType;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::HashJoinExec;

use super::request::{criterion_join_message, missing_keys_message};
use super::scan::ApiScanExec;

/// Swaps every hash join whose build side (left) holds an HG scan still waiting for keys, when
/// its probe side (right) does not: `FROM hg.installs JOIN 'a.csv'`, `IN (SELECT …)` and
/// `RIGHT JOIN` come out of DataFusion's join selection that way because an HG scan has no
/// statistics. Must run right after `join_selection`, before the dynamic filters are built.
#[derive(Debug, Default)]
pub struct ApiOnProbeSide;

impl PhysicalOptimizerRule for ApiOnProbeSide {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else { return Ok(Transformed::no(node)) };
            if waits_for_keys(join.left()) && !waits_for_keys(join.right()) {
                return Ok(Transformed::yes(join.swap_inputs(*join.partition_mode())?));
            }
            Ok(Transformed::no(node))
        })
        .data()
    }

    fn name(&self) -> &str {
        "hg_api_on_probe_side"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether `plan` holds an HG scan that needs keys from a join above `plan`: one with no literal
/// keys that no hash join inside `plan` feeds from its probe side.
fn waits_for_keys(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if let Some(scan) = plan.downcast_ref::<ApiScanExec>() {
        return scan.needs_join_keys();
    }
    if let Some(join) = plan.downcast_ref::<HashJoinExec>() {
        return waits_for_keys(join.left()) || (waits_for_keys(join.right()) && !filters_probe_side(*join.join_type()));
    }
    plan.children().into_iter().any(waits_for_keys)
}

/// Join types whose hash join sends its build keys to the probe side (DataFusion 55: the
/// probe side must be one the join does not preserve).
fn filters_probe_side(join_type: JoinType) -> bool {
    matches!(
        join_type,
        JoinType::Inner
            | JoinType::Left
            | JoinType::LeftSemi
            | JoinType::RightSemi
            | JoinType::LeftAnti
            | JoinType::LeftMark
    )
}

/// Runs after the dynamic filters are in place. Keeps on each HG scan only the filters of hash
/// joins (TopK and aggregate filters complete only at the end of the query, so waiting for one
/// would never end), then fails the plan if a scan can find no rows.
#[derive(Debug, Default)]
pub struct ApiScanGuard;

impl PhysicalOptimizerRule for ApiScanGuard {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let mut join_filters = HashSet::new();
        plan.apply(|node| {
            if node.is::<HashJoinExec>() {
                join_filters.extend(node.dynamic_expressions_produced().iter().filter_map(|f| f.expression_id()));
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        plan.transform_up(|node| {
            let Some(scan) = node.downcast_ref::<ApiScanExec>() else { return Ok(Transformed::no(node)) };
            let kept = scan.keep_join_filters(&join_filters);
            let kept_scan = kept.as_ref().unwrap_or(scan);
            if !kept_scan.can_find_rows() {
                return Err(DataFusionError::Plan(missing_keys_message(scan.spec())));
            }
            if let Some(column) = kept_scan.joined_criterion() {
                return Err(DataFusionError::Plan(criterion_join_message(scan.spec(), column)));
            }
            Ok(match kept {
                Some(kept) => Transformed::yes(Arc::new(kept) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "hg_api_scan_guard"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
