//! Queries across datafusion-distributed workers, in one process: the sandbox, three workers on
//! 127.0.0.1:0 without any key, and a coordinator session. Each query shape gives the rows and
//! the HG calls of the single-process run, each HG join runs in a one-task stage in the
//! coordinator, and the workers really run tasks.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::physical_plan::{ExecutionPlan, collect};
use hgsql::api::{ApiKey, ClientConfig, HgClient};
use hgsql::distributed::{ClusterOptions, Serving, WorkerSessions, display_plan, serve, worker};
use hgsql::plan::ScanOptions;
use hgsql::sandbox::Sandbox;
use hgsql::session::Session;
use serde_json::Value;

use crate::support::sandbox;

/// Three workers, as `hgsql worker` runs them, on 127.0.0.1:0.
async fn workers(n: usize) -> Vec<Serving> {
    let mut serving = Vec::new();
    for _ in 0..n {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        serving.push(serve(worker(WorkerSessions::new(None), None), listener, None).unwrap());
    }
    serving
}

fn client(sandbox: &Sandbox) -> HgClient {
    let mut config = ClientConfig::new(sandbox.base_url(), ApiKey::new(sandbox.key()));
    config.rate = None;
    HgClient::new(config).unwrap()
}

/// A short wait for join keys: a join split from its scan fails fast instead of hanging.
fn options() -> ScanOptions {
    ScanOptions { join_wait_idle: Duration::from_secs(10), ..ScanOptions::default() }
}

/// Writes the accounts as four Parquet files (the same domains in several, some unknown) and
/// a second local table, and registers both.
async fn write_tables(session: &Session, dir: &Path, sandbox: &Sandbox) {
    let data = sandbox.data();
    let domains: Vec<String> = (0..60u32).map(|c| data.company(c * 7).domain.clone()).collect();
    for file in 0..4 {
        let rows: Vec<String> = (0..50)
            .map(|i| {
                let id = file * 50 + i;
                let website =
                    if i % 9 == 0 { format!("unknown{id}.example") } else { domains[(id * 13 % 60) as usize].clone() };
                format!("({id}, '{website}')")
            })
            .collect();
        let path = dir.join(format!("accounts/part-{file}.parquet"));
        session
            .run(&format!(
                "COPY (SELECT column1 AS id, column2 AS website FROM (VALUES {})) TO '{}'",
                rows.join(", "),
                path.display()
            ))
            .await
            .unwrap();
    }
    for file in 0..2 {
        let rows: Vec<String> =
            (0..100).map(|i| file * 100 + i).map(|id| format!("({id}, 'region{}')", id % 5)).collect();
        let path = dir.join(format!("warehouse/part-{file}.parquet"));
        session
            .run(&format!(
                "COPY (SELECT column1 AS id, column2 AS region FROM (VALUES {})) TO '{}'",
                rows.join(", "),
                path.display()
            ))
            .await
            .unwrap();
    }
}

async fn register(session: &Session, dir: &Path) {
    session
        .run(&format!(
            "CREATE EXTERNAL TABLE accounts STORED AS PARQUET LOCATION '{}/accounts/'; \
             CREATE EXTERNAL TABLE warehouse STORED AS PARQUET LOCATION '{}/warehouse/'",
            dir.display(),
            dir.display()
        ))
        .await
        .unwrap();
}

const SHAPES: [(&str, &str); 8] = [
    ("inner", "SELECT a.id, a.website, c.company_id FROM accounts a JOIN hg.companies c ON c.match_domain = a.website"),
    ("left", "SELECT a.id, c.company_id FROM accounts a LEFT JOIN hg.companies c ON c.match_domain = a.website"),
    ("in", "SELECT a.id FROM accounts a WHERE a.website IN (SELECT match_domain FROM hg.companies)"),
    ("not in", "SELECT a.id FROM accounts a WHERE a.website NOT IN (SELECT match_domain FROM hg.companies)"),
    (
        "chain",
        "SELECT a.id, c.company_id, i.product_id FROM accounts a JOIN hg.companies c ON c.match_domain = a.website \
         JOIN hg.installs i ON i.company_id = c.company_id",
    ),
    (
        "group by",
        "SELECT c.company_id, count(*) AS n FROM accounts a JOIN hg.companies c ON c.match_domain = a.website \
         GROUP BY c.company_id ORDER BY n DESC, c.company_id LIMIT 5",
    ),
    (
        "local join first",
        "SELECT a.id, w.region, c.company_id FROM accounts a JOIN warehouse w ON w.id = a.id \
         JOIN hg.companies c ON c.match_domain = a.website",
    ),
    (
        "literal keys",
        "SELECT company_id, product_id FROM hg.installs WHERE company_id IN ('00000000000000000000000000000001', '00000000000000000000000000000002')",
    ),
];

/// The rows of `sql`, as sorted text lines, with the plan it ran.
async fn run(session: &Session, sql: &str) -> (Vec<String>, Arc<dyn ExecutionPlan>) {
    let frame = session.context().sql(sql).await.unwrap();
    let plan = frame.create_physical_plan().await.unwrap();
    let batches = collect(plan.clone(), session.context().task_ctx()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let text = pretty_format_batches(&batches).unwrap().to_string();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    (lines, plan)
}

fn calls(stats: &Value) -> Value {
    let mut endpoints = stats["endpoints"].clone();
    for (_, endpoint) in endpoints.as_object_mut().into_iter().flatten() {
        endpoint.as_object_mut().unwrap().remove("status");
    }
    endpoints
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_shapes_across_workers_match_one_process() {
    // Two sandboxes of the same data, one for each run, so each run's ledger starts empty.
    let sandbox = sandbox(|_| {}).await;
    let twin = crate::support::sandbox(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let single = Session::build(Ok(client(&sandbox)), options());
    write_tables(&single, dir.path(), &sandbox).await;
    register(&single, dir.path()).await;
    let workers = workers(3).await;
    let cluster = ClusterOptions { workers: workers.iter().map(|w| w.url.clone()).collect(), ..Default::default() };
    let distributed = Session::distributed(Ok(client(&twin)), options(), &cluster).unwrap();
    register(&distributed, dir.path()).await;
    distributed.run("SET distributed.file_scan_config_bytes_per_partition = 1").await.unwrap();
    for (name, sql) in SHAPES {
        sandbox.reset_stats();
        let (expected, _) = run(&single, sql).await;
        let one = sandbox.stats();
        twin.reset_stats();
        let (rows, plan) = run(&distributed, sql).await;
        let across = twin.stats();
        let shown = display_plan(&plan, true);
        assert_eq!(rows, expected, "{name}: the rows of one process");
        assert!(calls(&one).as_object().is_some_and(|c| !c.is_empty()), "{name}: the query calls HG");
        assert_eq!(calls(&across), calls(&one), "{name}: the HG calls of one process");
        assert_eq!(across["companies_repeated"], 0, "{name}: no company fetched twice");
        let lookups = tasks_of(&shown, |line| line.contains("ApiScanExec") || line.contains("ApiJoinExec"));
        assert!(!lookups.is_empty(), "{name}: {shown}");
        assert!(lookups.iter().all(|tasks| *tasks == 1), "{name}: every lookup in a one-task stage: {shown}");
        if name == "literal keys" {
            continue;
        }
        let joins = tasks_of(&shown, |line| line.contains("ApiJoinExec"));
        assert!(!joins.is_empty(), "{name}: each HG join kept whole: {shown}");
        let local = tasks_of(&shown, |line| line.contains("DataSourceExec"));
        assert!(local.iter().any(|tasks| *tasks > 1), "{name}: the local scan on several tasks: {shown}");
        let remote = plan.metrics().and_then(|m| m.sum_by_name("remote_coordinator_channels")).map(|m| m.as_usize());
        assert!(remote.unwrap_or(0) > 0, "{name}: the workers ran tasks: {shown}");
    }
}

/// The task count of the stage of each line of `shown` (a plan with its stages) that `pick`
/// picks; the head stage, which runs in the coordinator, counts as one task.
fn tasks_of(shown: &str, pick: impl Fn(&str) -> bool) -> Vec<usize> {
    let mut tasks = 1;
    let mut found = Vec::new();
    for line in shown.lines() {
        if let Some((_, header)) = line.split_once("┌───── ") {
            tasks = header
                .split_once("tasks=")
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
                .unwrap_or(1);
        } else if pick(line) {
            found.push(tasks);
        }
    }
    found
}

/// A sandbox, and the tables of [`write_tables`] in a fresh directory.
async fn tables_on_disk() -> (Sandbox, tempfile::TempDir) {
    let sandbox = sandbox(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    write_tables(&Session::build(Ok(client(&sandbox)), options()), dir.path(), &sandbox).await;
    (sandbox, dir)
}

/// The count [`SCAN`] finds: every account.
fn counted_every_account(session_rows: &[hgsql::session::StatementResult]) {
    let text = pretty_format_batches(&session_rows[0].batches).unwrap().to_string();
    assert!(text.contains("| 200 |"), "{text}");
}

/// A query that needs the one worker named: the coordinator and the worker each scan a share.
const SCAN: &str = "SELECT count(*) AS n FROM accounts WHERE website LIKE '%.%'";

/// A coordinator across `workers`, with `token`, on the accounts of `dir`.
async fn coordinator(sandbox: &Sandbox, dir: &Path, workers: &[&Serving], token: Option<&str>) -> Session {
    let cluster = ClusterOptions {
        workers: workers.iter().map(|w| w.url.clone()).collect(),
        token: token.map(|t| secrecy::SecretString::from(t.to_string())),
        ..Default::default()
    };
    let session = Session::distributed(Ok(client(sandbox)), options(), &cluster).unwrap();
    register(&session, dir).await;
    session.run("SET distributed.file_scan_config_bytes_per_partition = 1").await.unwrap();
    session
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_of_another_build_is_refused_naming_it() {
    let (sandbox, dir) = tables_on_disk().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let older = datafusion_distributed::Worker::from_session_builder(WorkerSessions::new(None))
        .with_version("hgsql 0.0.9 (datafusion 55.0.0, datafusion-distributed 3.0.0)");
    let older = serve(older, listener, None).unwrap();
    let session = coordinator(&sandbox, dir.path(), &[&older], None).await;
    let error = session.run(SCAN).await.err().expect("a worker of another build is refused").to_string();
    assert!(error.contains(hgsql::distributed::shown(&older.url)), "{error}");
    assert!(error.contains("runs hgsql 0.0.9") && error.contains("same hgsql build"), "{error}");
    // The same data with a worker of this build: the refusal was the build's.
    let same = workers(1).await;
    let session = coordinator(&sandbox, dir.path(), &[&same[0]], None).await;
    counted_every_account(&session.run(SCAN).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_a_token_takes_plans_only_from_a_coordinator_that_sends_it() {
    let (sandbox, dir) = tables_on_disk().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token = secrecy::SecretString::from("s3cret-cluster-t0ken".to_string());
    let sessions = WorkerSessions::new(Some(hgsql::distributed::TokenCheck::new(&token)));
    let guarded = serve(worker(sessions, None), listener, None).unwrap();
    for sent in [None, Some("another-t0ken")] {
        let session = coordinator(&sandbox, dir.path(), &[&guarded], sent).await;
        let error = session.run(SCAN).await.err().expect("a plan without the token is refused").to_string();
        assert!(error.contains("shared token"), "{sent:?}: {error}");
        assert!(!error.contains("s3cret") && !error.contains("another-t0ken"), "no token shown: {error}");
    }
    let session = coordinator(&sandbox, dir.path(), &[&guarded], Some("s3cret-cluster-t0ken")).await;
    counted_every_account(&session.run(SCAN).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_that_reached_a_worker_would_be_refused_there_and_carries_no_secret() {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion_proto::physical_plan::{DefaultPhysicalProtoConverter, PhysicalExtensionCodec};
    let (sandbox, dir) = tables_on_disk().await;
    let same = workers(1).await;
    let session = coordinator(&sandbox, dir.path(), &[&same[0]], None).await;
    let frame = session.context().sql(SHAPES[1].1).await.unwrap();
    let plan = frame.create_physical_plan().await.unwrap();
    let mut lookups = Vec::new();
    plan.apply(|node| {
        if ["ApiScanExec", "ApiJoinExec"].contains(&node.name()) {
            lookups.push(node.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .unwrap();
    assert_eq!(lookups.len(), 2, "the LEFT join's join and scan");
    let codec = hgsql::distributed::LookupCodec;
    let task = session.context().task_ctx();
    for node in lookups {
        let mut encoded = Vec::new();
        codec.try_encode(node.clone(), &mut encoded, &DefaultPhysicalProtoConverter {}).unwrap();
        let text = String::from_utf8_lossy(&encoded);
        assert!(!text.contains(sandbox.key()) && !text.contains("127.0.0.1"), "{text}");
        let refused = codec.try_decode(&encoded, &[], &task, &DefaultPhysicalProtoConverter {}).unwrap_err();
        let refused = refused.to_string();
        assert!(refused.contains("run only in the coordinator"), "{refused}");
        if node.name() == "ApiScanExec" {
            assert!(refused.contains("hg.companies"), "{refused}");
        }
    }
}

/// Worker sessions that say when a plan has reached them, then never finish building: a worker
/// stuck mid-query, whose connections the test then breaks.
struct Stalling {
    reached: Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl datafusion_distributed::WorkerSessionBuilder for Stalling {
    async fn build_session_state(
        &self,
        _context: datafusion_distributed::WorkerQueryContext,
    ) -> datafusion::error::Result<datafusion::execution::SessionState> {
        self.reached.notify_one();
        std::future::pending().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_lost_mid_query_fails_the_query_naming_it() {
    use std::os::fd::AsRawFd;
    use tokio_stream::StreamExt;
    let (sandbox, dir) = tables_on_disk().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    // The worker's accepted connections, to break them as a crash would.
    let sockets = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = sockets.clone();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(move |stream| {
        if let Ok(stream) = &stream {
            kept.lock().unwrap().push(stream.as_raw_fd());
        }
        stream
    });
    let reached = Arc::new(tokio::sync::Notify::new());
    let stuck = datafusion_distributed::Worker::from_session_builder(Stalling { reached: reached.clone() })
        .with_version(hgsql::distributed::BUILD);
    let server = tokio::spawn(
        tonic::transport::Server::builder().add_service(stuck.into_worker_server()).serve_with_incoming(incoming),
    );
    let cluster = ClusterOptions { workers: vec![url.clone()], ..Default::default() };
    let session = Session::distributed(Ok(client(&sandbox)), options(), &cluster).unwrap();
    register(&session, dir.path()).await;
    session.run("SET distributed.file_scan_config_bytes_per_partition = 1").await.unwrap();
    let query = tokio::spawn(async move { session.run(SCAN).await.map(|_| ()) });
    reached.notified().await;
    for fd in sockets.lock().unwrap().iter() {
        // SAFETY: the fds are the server's open sockets; shutdown only ends their traffic.
        unsafe { libc::shutdown(*fd, libc::SHUT_RDWR) };
    }
    // A deadline, not a wait: a query that hangs on a lost worker fails the test.
    let ended = tokio::time::timeout(Duration::from_secs(60), query).await.expect("the query ends, not hangs");
    let error = ended.unwrap().expect_err("the query fails").to_string();
    assert!(error.contains(hgsql::distributed::shown(&url)), "{error}");
    assert!(error.contains("lost mid-query"), "{error}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_stage_in_the_coordinators_worker_keeps_the_sessions_in_list_limits() {
    let sandbox = sandbox(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    // 400 distinct domains: past DataFusion's own IN-list limit (150), inside hgsql's.
    let data = sandbox.data();
    let rows: Vec<String> = (0..400u32).map(|c| format!("({c}, '{}')", data.company(c * 3).domain)).collect();
    let single = Session::build(Ok(client(&sandbox)), options());
    for (part, chunk) in rows.chunks(200).enumerate() {
        let path = dir.path().join(format!("accounts/part-{part}.parquet"));
        let copy = format!(
            "COPY (SELECT column1 AS id, column2 AS website FROM (VALUES {})) TO '{}'",
            chunk.join(", "),
            path.display()
        );
        single.run(&copy).await.unwrap();
    }
    for part in 0..2 {
        let warehouse = dir.path().join(format!("warehouse/part-{part}.parquet"));
        let copy = format!(
            "COPY (SELECT value AS id, 'region' || (value % 5) AS region FROM range({}, {})) TO '{}'",
            part * 200,
            part * 200 + 200,
            warehouse.display()
        );
        single.run(&copy).await.unwrap();
    }
    // The enriched accounts meet the warehouse in a partitioned join (no join is small enough to
    // collect), spread over every task: the HG join, kept whole as a collecting join, is in a
    // stage of its own, run by the coordinator's worker, not in the head stage.
    let sql = "SELECT x.company_id, w.region FROM \
               (SELECT a.id, c.company_id FROM accounts a JOIN hg.companies c ON c.match_domain = a.website) x \
               JOIN warehouse w ON w.id = x.id";
    let same = workers(2).await;
    let session = coordinator(&sandbox, dir.path(), &[&same[0], &same[1]], None).await;
    session
        .run(
            "SET datafusion.optimizer.hash_join_single_partition_threshold = 0; \
             SET datafusion.optimizer.hash_join_single_partition_threshold_rows = 0",
        )
        .await
        .unwrap();
    let (rows, plan) = run(&session, sql).await;
    let shown = display_plan(&plan, true);
    let joins = tasks_of(&shown, |line| line.contains("ApiJoinExec"));
    assert_eq!(joins, [1], "{shown}");
    let head = shown.split("└").next().unwrap();
    assert!(!head.contains("ApiJoinExec"), "the join in a stage of its own: {shown}");
    assert!(shown.contains("ApiJoinExec: HashJoinExec: mode=CollectLeft"), "the lookup join collects: {shown}");
    assert!(rows.len() > 300, "{} rows", rows.len());
    // The coordinator's worker follows the session's own settings, SETs included.
    session.run("SET datafusion.optimizer.hash_join_inlist_pushdown_max_distinct_values = 10").await.unwrap();
    let error = session.run(sql).await.err().expect("past the session's limit").to_string();
    assert!(error.contains("hash_join_inlist_pushdown_max_distinct_values"), "{error}");
}
