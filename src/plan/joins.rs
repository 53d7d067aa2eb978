//! What every lookup scan (HG or HTTP table) does with the hash joins above it: keep their
//! dynamic filters when DataFusion pushes them down, and wait until they are complete before
//! reading keys out of them.

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::DynamicFilterPhysicalExpr;
use datafusion::physical_plan::filter_pushdown::{ChildPushdownResult, FilterPushdownPhase};

/// The join filters a scan holds after a pushdown: `current` plus the new dynamic filters of
/// phase Post; `None` when nothing was added.
pub(super) fn absorb(
    current: &[Arc<dyn PhysicalExpr>],
    phase: FilterPushdownPhase,
    result: &ChildPushdownResult,
) -> Option<Vec<Arc<dyn PhysicalExpr>>> {
    if phase != FilterPushdownPhase::Post {
        return None;
    }
    let mut filters = current.to_vec();
    for filter in &result.parent_filters {
        if filter.filter.as_ref().downcast_ref::<DynamicFilterPhysicalExpr>().is_some()
            && !filters.iter().any(|f| f.expression_id() == filter.filter.expression_id())
        {
            filters.push(filter.filter.clone());
        }
    }
    (filters.len() != current.len()).then_some(filters)
}

/// Lets go of the key lists in `filters`, once a scan that alone reads them has read its keys:
/// DataFusion's IN list of a join's build side takes about 150 bytes a row, and each list would
/// otherwise live as long as the query (about a gigabyte for the main job's three joins over a
/// million accounts). Each becomes `true`, which passes every row: a dynamic filter only ever narrows
/// what the join itself matches, so nothing else changes. Only a scan that alone holds the
/// filter may do this (`ApiScanGuard` decides); another scan would find no keys left.
pub(super) fn release(filters: &[Arc<dyn PhysicalExpr>]) {
    let everything = datafusion::physical_expr::expressions::lit(true);
    for filter in filters {
        let Some(dynamic) = filter.as_ref().downcast_ref::<DynamicFilterPhysicalExpr>() else { continue };
        if dynamic.update(everything.clone()).is_ok() {
            dynamic.mark_complete();
            // This copy's own cache of the list goes too.
            let _ = dynamic.current();
        }
    }
}

/// Waits until every dynamic filter of `filters` is complete; returns the time it took. Gives
/// up (with `Err(idle)`) only when `progress` has not changed for `idle`: a join fed by another
/// lookup may take long, but one nobody fills would hang forever.
pub(super) async fn wait_complete(
    filters: &[Arc<dyn PhysicalExpr>],
    idle: Duration,
    progress: &(dyn Fn() -> (u64, u64) + Send + Sync),
) -> Result<Duration, Duration> {
    let started = Instant::now();
    let tick = Duration::from_millis(200).min(idle);
    for filter in filters {
        let Some(dynamic) = filter.as_ref().downcast_ref::<DynamicFilterPhysicalExpr>() else { continue };
        let mut complete = pin!(dynamic.wait_complete());
        let mut seen = progress();
        let mut idle_since = Instant::now();
        loop {
            tokio::select! {
                _ = &mut complete => break,
                _ = tokio::time::sleep(tick) => {
                    let now = progress();
                    if now != seen {
                        seen = now;
                        idle_since = Instant::now();
                    } else if idle_since.elapsed() >= idle {
                        return Err(idle);
                    }
                }
            }
        }
    }
    Ok(started.elapsed())
}
