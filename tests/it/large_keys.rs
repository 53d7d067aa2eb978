//! Large key sets reach HG whole: one list of more than 100,000 keys is planned and fetched,
//! while a cross product of separate lists over the cap fails before any call, naming them, as
//! does a key set past the session's IN-list limits (naming those); and a join's key list is
//! let go of once read.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::physical_plan::{ExecutionPlan, collect};
use hgsql::api::{ApiKey, ApiVersion, ClientConfig, HgClient};
use hgsql::sandbox::Sandbox;
use hgsql::session::Session;

use crate::support::{sandbox, scan_filters};

/// A session on `version` of `sandbox`, with no cache and no rate limit.
fn session(sandbox: &Sandbox, version: ApiVersion) -> Session {
    let mut config = match version {
        ApiVersion::V1 => ClientConfig::new(sandbox.base_url(), ApiKey::new(sandbox.key())),
        ApiVersion::V2 => ClientConfig::new(sandbox.base_url_v2(), ApiKey::new(sandbox.key_v2())),
    };
    config.rate = None;
    Session::with_client(HgClient::new(config).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_list_of_more_than_100000_keys_is_planned_and_fetched() {
    let sandbox = sandbox(|c| c.rate = None).await;
    // The sandbox's own domains (known), then 100,000 it does not know: 10 inputs a request on v2.
    let data = sandbox.data();
    let mut seen = BTreeSet::new();
    let known: Vec<String> = (0..data.companies.len() as u32)
        .map(|c| data.company(c).domain.clone())
        .filter(|d| seen.insert(hgsql::api::normalize_domain(d).unwrap_or_default()))
        .take(500)
        .collect();
    let values: Vec<String> = known.iter().map(|d| format!("('{d}')")).collect();
    let session = session(&sandbox, ApiVersion::V2);
    session
        .run(&format!(
            "CREATE TABLE accounts AS SELECT column1 AS website FROM (VALUES {}) \
             UNION ALL SELECT 'acct' || value || '.unknown-domain.example' FROM range(100000)",
            values.join(", ")
        ))
        .await
        .unwrap();
    let results = session
        .run(
            "SELECT count(*) AS accounts, count(c.company_id) AS matched FROM accounts a \
             LEFT JOIN hg.companies c ON c.match_domain = a.website",
        )
        .await
        .unwrap_or_else(|e| panic!("a single list of 100,500 domains runs: {e}"));
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&results[0].batches).unwrap().to_string();
    assert!(text.contains("| 100500   | 500     |"), "{text}");
    let calls = sandbox.stats()["endpoints"]["v2/companies/match"]["calls"].as_u64();
    assert_eq!(calls, Some(100_500 / 10), "each domain asked once, ten a request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_product_over_the_cap_fails_before_any_call_naming_the_lists() {
    let sandbox = sandbox(|c| c.rate = None).await;
    let session = session(&sandbox, ApiVersion::V1);
    let domains: Vec<String> = (0..400).map(|i| format!("'d{i}.example'")).collect();
    let letters = |i: usize| format!("'{}{}'", (b'A' + (i / 26) as u8) as char, (b'A' + (i % 26) as u8) as char);
    let countries: Vec<String> = (0..300).map(letters).collect();
    let error = session
        .run(&format!(
            "SELECT * FROM hg.companies WHERE match_domain IN ({}) AND match_country_code IN ({})",
            domains.join(", "),
            countries.join(", ")
        ))
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("match_domain (400 values) × match_country_code (300 values)") && error.contains("120000"),
        "{error}"
    );
    assert_eq!(sandbox.stats()["endpoints"]["company/match"]["calls"].as_u64().unwrap_or(0), 0, "no call was made");
}

/// Past the session's IN-list limits DataFusion hands the scan an opaque hash probe: the scan
/// cannot know its keys, so it fails naming the settings to raise, and asks HG nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_past_the_in_list_limits_fails_naming_them_before_any_call() {
    let sandbox = sandbox(|c| c.rate = None).await;
    let session = session(&sandbox, ApiVersion::V1);
    session.run("SET datafusion.optimizer.hash_join_inlist_pushdown_max_distinct_values = 10").await.unwrap();
    session.run("CREATE TABLE accounts AS SELECT 'd' || value || '.example' AS website FROM range(200)").await.unwrap();
    let error = session
        .run("SELECT count(c.company_id) FROM accounts a JOIN hg.companies c ON c.match_domain = a.website")
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("cannot be read from the filter")
            && error.contains("hash_join_inlist_pushdown_max_distinct_values / _max_size"),
        "{error}"
    );
    assert_eq!(sandbox.stats()["endpoints"]["company/match"]["calls"].as_u64().unwrap_or(0), 0, "no call was made");
}

/// Runs `sql` on `session` and returns its rows and the plan it ran.
async fn run_plan(session: &Session, sql: &str) -> (usize, Arc<dyn ExecutionPlan>) {
    let frame = session.context().sql(sql).await.unwrap();
    let plan = frame.create_physical_plan().await.unwrap();
    let batches = collect(plan.clone(), session.context().task_ctx()).await.unwrap();
    (batches.iter().map(|b| b.num_rows()).sum(), plan)
}

/// A scan that alone reads a join's keys lets go of DataFusion's list of them once read (it
/// takes ~150 bytes a build row for the query's life), and the join's answer is unchanged.
/// Two scans under one join both read the keys: neither lets go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_key_list_is_let_go_once_its_only_reader_has_it() {
    let sandbox = sandbox(|c| c.rate = None).await;
    let ids: Vec<String> = (0..40).map(|c| format!("('{:032X}')", sandbox.data().company(c).id)).collect();
    let session = session(&sandbox, ApiVersion::V1);
    session
        .run(&format!("CREATE TABLE accounts AS SELECT column1 AS id FROM (VALUES {})", ids.join(", ")))
        .await
        .unwrap();

    let (rows, plan) = run_plan(
        &session,
        "SELECT a.id, f.revenue_band FROM accounts a JOIN hg.firmographics f ON f.company_id = a.id",
    )
    .await;
    assert_eq!(rows, 40, "every company is found");
    assert_eq!(scan_filters(&plan, "ApiScanExec"), ["true"], "the one reader let go of the key list");

    let (rows, plan) = run_plan(
        &session,
        "SELECT a.id FROM accounts a JOIN (SELECT company_id FROM hg.firmographics \
         UNION ALL SELECT company_id FROM hg.firmographics) f ON f.company_id = a.id",
    )
    .await;
    assert_eq!(rows, 80, "both scans found every company");
    let filters = scan_filters(&plan, "ApiScanExec");
    assert_eq!(filters.len(), 2, "{filters:?}");
    assert!(filters.iter().all(|f| f.contains("IN (SET)")), "two readers keep the list: {filters:?}");
}
