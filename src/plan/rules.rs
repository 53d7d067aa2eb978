//! The physical rules that make lookup joins safe (docs/architecture.md, "Guardrails"): HG scans go
//! on the probe side of hash joins, where the join's keys reach them; and a plan in which an HG
//! scan has no way to find its rows fails before any call, saying how to give it keys. On v2,
//! a last rule lets two scans of the same companies share their enrich requests.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::common::JoinType;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::repartition::RepartitionExec;

use super::http_scan::HttpScanExec;
use super::request::{criterion_join_message, missing_keys_message, not_in_message};
use super::scan::ApiScanExec;
use crate::api::{Companion, Handoff, Keys};

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
pub fn waits_for_keys(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if let Some(scan) = plan.downcast_ref::<ApiScanExec>() {
        return scan.needs_join_keys();
    }
    if let Some(scan) = plan.downcast_ref::<HttpScanExec>() {
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

/// Whether `plan` is a lookup scan (HG or HTTP table): a node that calls an API, and so must run
/// where the keys, rate gates, cache and credit budget are.
pub fn is_lookup_scan(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.is::<ApiScanExec>() || plan.is::<HttpScanExec>()
}

/// Whether hash join `join` sends its keys to a lookup scan on its probe side: the two must run
/// in one place, as the scan reads the keys from the join's filter in memory.
pub fn feeds_lookup_scan(join: &HashJoinExec) -> bool {
    let ids: HashSet<u64> = join.dynamic_expressions_produced().iter().filter_map(|f| f.expression_id()).collect();
    let mut fed = false;
    let _ = join.right().apply(|node| {
        let reads = |mut held: Box<dyn Iterator<Item = u64> + '_>| held.any(|id| ids.contains(&id));
        if let Some(scan) = node.downcast_ref::<ApiScanExec>() {
            fed = reads(Box::new(scan.join_filter_ids()));
        } else if let Some(scan) = node.downcast_ref::<HttpScanExec>() {
            fed = reads(Box::new(scan.join_filter_ids()));
        }
        Ok(if fed { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    });
    fed
}

/// Whether a scan holding the join filters `ids` (at least one) is the only scan reading each
/// of them, by the count in `readers`.
fn sole_reader(ids: impl Iterator<Item = u64>, readers: &HashMap<u64, usize>) -> bool {
    let mut ids = ids.peekable();
    ids.peek().is_some() && ids.all(|id| readers.get(&id) == Some(&1))
}

/// Runs after the dynamic filters are in place. Keeps on each lookup scan (HG or HTTP table)
/// only the filters of hash joins (TopK and aggregate filters complete only at the end of the
/// query, so waiting for one would never end), fails the plan if a scan can find no rows, and
/// marks each scan that alone reads its join filters, so it lets go of their key lists once read.
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
        // How many lookup scans read each join filter: one that alone reads all of its own may
        // let go of their key lists once read.
        let mut readers: HashMap<u64, usize> = HashMap::new();
        plan.apply(|node| {
            if let Some(scan) = node.downcast_ref::<ApiScanExec>() {
                scan.join_filter_ids().for_each(|id| *readers.entry(id).or_default() += 1);
            } else if let Some(scan) = node.downcast_ref::<HttpScanExec>() {
                scan.join_filter_ids().for_each(|id| *readers.entry(id).or_default() += 1);
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        // Lookup scans on the probe side of a NOT IN's join (null-aware), with the column it
        // compares: DataFusion gives them no keys when the local column may be NULL.
        let mut under_not_in: HashMap<*const (), String> = HashMap::new();
        plan.apply(|node| {
            if let Some(join) = node.downcast_ref::<HashJoinExec>()
                && join.null_aware
                && let [(_, probe_key)] = join.on()
                && let Some(column) = probe_key.downcast_ref::<Column>()
            {
                join.right().apply(|below| {
                    if below.is::<ApiScanExec>() {
                        under_not_in.insert(Arc::as_ptr(below) as *const (), column.name().to_string());
                    }
                    Ok(TreeNodeRecursion::Continue)
                })?;
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        plan.transform_up(|node| {
            if let Some(scan) = node.downcast_ref::<HttpScanExec>() {
                let kept = scan.keep_join_filters(&join_filters);
                let kept_scan = kept.as_ref().unwrap_or(scan);
                if !kept_scan.can_find_rows() {
                    return Err(DataFusionError::Plan(kept_scan.missing_keys_message()));
                }
                let alone = sole_reader(kept_scan.join_filter_ids(), &readers);
                return Ok(match (kept, alone) {
                    (Some(kept), true) => Transformed::yes(Arc::new(kept.as_sole_reader()) as Arc<dyn ExecutionPlan>),
                    (Some(kept), false) => Transformed::yes(Arc::new(kept) as Arc<dyn ExecutionPlan>),
                    (None, true) => Transformed::yes(Arc::new(scan.as_sole_reader()) as Arc<dyn ExecutionPlan>),
                    (None, false) => Transformed::no(node),
                });
            }
            let Some(scan) = node.downcast_ref::<ApiScanExec>() else { return Ok(Transformed::no(node)) };
            let kept = scan.keep_join_filters(&join_filters);
            let kept_scan = kept.as_ref().unwrap_or(scan);
            if !kept_scan.can_find_rows() {
                return Err(DataFusionError::Plan(match under_not_in.get(&(Arc::as_ptr(&node) as *const ())) {
                    Some(column) => not_in_message(scan.spec(), column),
                    None => missing_keys_message(scan.spec()),
                }));
            }
            if let Some(column) = kept_scan.joined_criterion() {
                return Err(DataFusionError::Plan(criterion_join_message(scan.spec(), column)));
            }
            let alone = sole_reader(kept_scan.join_filter_ids(), &readers);
            Ok(match (kept, alone) {
                (Some(kept), true) => Transformed::yes(Arc::new(kept.as_sole_reader()) as Arc<dyn ExecutionPlan>),
                (Some(kept), false) => Transformed::yes(Arc::new(kept) as Arc<dyn ExecutionPlan>),
                (None, true) => Transformed::yes(Arc::new(scan.as_sole_reader()) as Arc<dyn ExecutionPlan>),
                (None, false) => Transformed::no(node),
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

/// On v2, one enrich request can carry several field groups. Pairs two HG scans whose lookups
/// would ask for exactly the same companies, so the first one's requests fetch the second's
/// group too and the second takes its rows from them (docs/architecture.md, "Shared enrich
/// requests"): a hash join J whose build side is, through nodes that keep every row, a LEFT
/// hash join I on the same key column, where I feeds scan A and J feeds scan B. A LEFT join
/// keeps every key of its build side, so J's keys are I's keys are A's keys; where anything
/// could drop keys in between (a filter, an inner join, a limit, literal keys), the scans ask
/// separately, and no credit is spent that separate requests would not spend. Runs last, when
/// the joins and their dynamic filters are in place.
#[derive(Debug, Default)]
pub struct ShareEnrichRequests;

impl PhysicalOptimizerRule for ShareEnrichRequests {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let mut pairs: Vec<(*const (), *const ())> = Vec::new();
        plan.apply(|node| {
            if let Some(join) = node.downcast_ref::<HashJoinExec>()
                && let Some((a, b)) = shared_pair(join)
            {
                let taken = |p: *const ()| pairs.iter().any(|(x, y)| *x == p || *y == p);
                if !taken(a) && !taken(b) {
                    pairs.push((a, b));
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        if pairs.is_empty() {
            return Ok(plan);
        }
        // The scans of each pair, found again to make their shared copies.
        let mut scans: HashMap<*const (), Arc<dyn ExecutionPlan>> = HashMap::new();
        plan.apply(|node| {
            if node.is::<ApiScanExec>() {
                scans.insert(Arc::as_ptr(node) as *const (), node.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        let mut replaced: HashMap<*const (), Arc<dyn ExecutionPlan>> = HashMap::new();
        for (a, b) in pairs {
            let (Some(first), Some(second)) = (scans.get(&a), scans.get(&b)) else { continue };
            let (Some(first), Some(second)) =
                (first.downcast_ref::<ApiScanExec>(), second.downcast_ref::<ApiScanExec>())
            else {
                continue;
            };
            let handoff = Arc::new(Handoff::default());
            let companion = Companion {
                endpoint: second.spec().endpoint,
                request: second.company_request(),
                handoff: handoff.clone(),
            };
            replaced.insert(a, Arc::new(first.serving(Arc::new(companion), second.spec().name)));
            replaced.insert(b, Arc::new(second.served_by(handoff, first.spec().name)));
        }
        plan.transform_up(|node| match replaced.get(&(Arc::as_ptr(&node) as *const ())) {
            Some(copy) => Ok(Transformed::yes(copy.clone())),
            None => Ok(Transformed::no(node)),
        })
        .data()
    }

    fn name(&self) -> &str {
        "hg_share_enrich_requests"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The scans (A, B) `join` (J) pairs, by address, when sharing cannot change what they ask.
fn shared_pair(join: &HashJoinExec) -> Option<(*const (), *const ())> {
    let [(build_key, _)] = join.on() else { return None };
    let (second, b) = scan_holding(join.right(), join)?;
    let inner = through_kept_rows(join.left()).downcast_ref::<HashJoinExec>()?;
    if *inner.join_type() != JoinType::Left {
        return None;
    }
    let [(inner_key, _)] = inner.on() else { return None };
    let (first, a) = scan_holding(inner.right(), inner)?;
    // J's key column is I's output column of I's own build key.
    let outer_index = build_key.downcast_ref::<Column>()?.index();
    let joined_index = match &inner.projection {
        Some(projection) => *projection.get(outer_index)?,
        None => outer_index,
    };
    let inner_index = inner_key.downcast_ref::<Column>()?.index();
    let same_key = joined_index == inner_index && joined_index < inner.left().schema().fields().len();
    let enrich = |scan: &ApiScanExec| matches!(scan.spec().endpoint.spec().keys, Keys::Enrich { .. });
    let pairable = same_key
        && enrich(first)
        && enrich(second)
        && first.spec().endpoint != second.spec().endpoint
        && first.fetches_all_join_keys()
        && second.fetches_all_join_keys()
        // Another join narrowing B's keys would make them fewer than A's.
        && second.joins_feeding() == 1
        && !first.shares()
        && !second.shares();
    pairable.then_some((a, b))
}

/// The HG scan under `side` that holds `join`'s dynamic filter (its keys come from `join`).
fn scan_holding<'a>(side: &'a Arc<dyn ExecutionPlan>, join: &HashJoinExec) -> Option<(&'a ApiScanExec, *const ())> {
    let ids: HashSet<u64> = join.dynamic_expressions_produced().iter().filter_map(|f| f.expression_id()).collect();
    let mut found = None;
    let _ = side.apply(|node| {
        if let Some(scan) = node.downcast_ref::<ApiScanExec>()
            && scan.holds_any_filter(&ids)
        {
            found = Some(Arc::as_ptr(node) as *const ());
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    let found = found?;
    let mut scan = None;
    let _ = side.apply(|node| {
        if Arc::as_ptr(node) as *const () == found {
            scan = node.downcast_ref::<ApiScanExec>();
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    scan.map(|s| (s, found))
}

/// `plan` below the nodes that pass every row on unchanged (repartitioning, coalescing
/// partitions).
fn through_kept_rows(plan: &Arc<dyn ExecutionPlan>) -> &Arc<dyn ExecutionPlan> {
    let passes_rows = plan.is::<RepartitionExec>() || plan.is::<CoalescePartitionsExec>();
    match plan.children().as_slice() {
        [child] if passes_rows => through_kept_rows(child),
        _ => plan,
    }
}
