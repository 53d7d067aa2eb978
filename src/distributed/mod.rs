//! Running a query across machines with datafusion-distributed (docs/distributed.md).
//!
//! The process the user starts is the coordinator: it plans, keeps the API key, rate gates,
//! cache and credit budget, and runs every stage that holds a lookup (an HG or HTTP-table scan,
//! or the hash join feeding one). Workers (`hgsql worker`) scan, filter, join and aggregate local
//! data and shuffle it; they hold no key and refuse a lookup node. Results and API calls are the
//! single-process run's by construction.
//!
//! Imports run one way: `cluster` → `worker` → `channels`, `codec`; `cluster` → `placement`,
//! `codec` → `join`; `rules` → `join`; all of them → `crate::plan`. Every use of datafusion-distributed stays in this module.

mod channels;
mod cluster;
mod codec;
mod join;
mod placement;
mod rules;
mod worker;

use std::sync::Arc;

use datafusion::physical_optimizer::PhysicalOptimizerRule;

pub use channels::{WorkerError, check_worker, shown};
pub use cluster::{ClusterOptions, Coordinator, coordinate, parse_workers};
pub use codec::LookupCodec;
pub use join::ApiJoinExec;
use rules::{CollectLookupBuildSides, WrapLookupJoins};
pub use worker::{Serving, TokenCheck, WorkerSessions, serve, worker};

/// Which build a process is. Coordinator and workers exchange plans as DataFusion protobuf, so
/// they must run the same build; a worker reports this, and the coordinator compares.
pub const BUILD: &str =
    concat!("hgsql ", env!("CARGO_PKG_VERSION"), " (datafusion 55.2.0, datafusion-distributed 4.0.0)");

/// Adds the distributed-mode rules to `rules`: one right after `after` (the rule that puts
/// lookup scans on the probe side), one last.
pub fn add_rules(rules: &mut Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>>, after: &str) {
    let position = rules.iter().position(|r| r.name() == after).map_or(0, |i| i + 1);
    rules.insert(position, Arc::new(CollectLookupBuildSides));
    rules.push(Arc::new(WrapLookupJoins));
}

/// Renders a distributed plan with its stages and tasks (EXPLAIN in distributed mode).
pub fn display_plan(plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>, analyze: bool) -> String {
    datafusion_distributed::display_plan_ascii(plan.as_ref(), analyze)
}
