//! Where the stages run: every stage holding a lookup (an HG or HTTP-table scan, or the join
//! feeding one) runs as one task in the coordinator, the process with the keys, rate gates, cache
//! and credit budget. Other stages are datafusion-distributed's to place.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_distributed::{
    DesiredTaskCountEvent, DesiredTaskCountEventResponse, NetworkBoundaryExt, RouteTasksEvent, RouteTasksEventResponse,
    RouteTasksHandler,
};
use url::Url;

use super::join::ApiJoinExec;
use crate::plan::is_lookup_scan;

/// Whether `node` itself must run in the coordinator.
fn is_lookup_node(node: &Arc<dyn ExecutionPlan>) -> bool {
    is_lookup_scan(node) || node.is::<ApiJoinExec>()
}

/// The task-count handler: a stage holding a lookup node runs as one task.
pub fn one_task_for_lookups(event: DesiredTaskCountEvent<'_>) -> Option<Result<DesiredTaskCountEventResponse>> {
    is_lookup_node(event.plan).then(|| Ok(DesiredTaskCountEventResponse::maximum(1)))
}

/// Whether the stage whose head is `head` holds a lookup node (looking down to the stage's
/// network boundaries, below which other stages begin).
pub fn stage_holds_lookup(head: &Arc<dyn ExecutionPlan>) -> bool {
    let mut found = false;
    let _ = head.apply(|node| {
        if is_lookup_node(node) {
            found = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(if node.is_network_boundary() { TreeNodeRecursion::Jump } else { TreeNodeRecursion::Continue })
    });
    found
}

/// The routing handler: sends each stage holding a lookup to the coordinator's own worker.
pub struct LookupsOnCoordinator {
    /// The URL the coordinator's in-process worker is known by.
    pub coordinator: Url,
}

impl RouteTasksHandler for LookupsOnCoordinator {
    fn handle(&self, event: RouteTasksEvent) -> Option<Result<RouteTasksEventResponse>> {
        if !stage_holds_lookup(event.plan) {
            return None;
        }
        if event.task_count != 1 {
            return Some(Err(DataFusionError::Plan(format!(
                "a stage holding an API lookup was planned on {} tasks; it must run as one task in the \
                 coordinator (this is a bug in hgsql: please report the query)",
                event.task_count
            ))));
        }
        Some(Ok(RouteTasksEventResponse::new(vec![self.coordinator.clone()])))
    }
}
