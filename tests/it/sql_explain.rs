//! What EXPLAIN and EXPLAIN ANALYZE say about HG scans, and that planning alone calls nothing.

use datafusion::arrow::util::pretty::pretty_format_batches;
use hgsql::api::{ApiKey, ClientConfig, HgClient};
use hgsql::sandbox::Sandbox;
use hgsql::session::Session;

use crate::support::sandbox;

fn session(sandbox: &Sandbox) -> Session {
    let config = ClientConfig { rate: None, ..ClientConfig::new(sandbox.base_url(), ApiKey::new(sandbox.key())) };
    Session::with_client(HgClient::new(config).unwrap())
}

async fn text(session: &Session, sql: &str) -> String {
    let results = session.run(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    pretty_format_batches(&results.last().unwrap().batches).unwrap().to_string()
}

fn total_calls(sandbox: &Sandbox) -> u64 {
    sandbox.stats()["requests"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_endpoint_keys_fields_filters_and_requests_without_calling() {
    let sandbox = sandbox(|_| {}).await;
    let session = session(&sandbox);
    let installs = text(
        &session,
        "EXPLAIN SELECT product_name FROM hg.installs
         WHERE company_id IN ('A1', 'b2', '0000000000000000000000000000000A', 'a') AND product_id IN (814, 1023, 5, 6)",
    )
    .await;
    assert!(installs.contains("ApiScanExec: table=hg.installs, endpoint=POST /company/installs"), "{installs}");
    // 'A' and '0…0A' are one company: 3 distinct ids, one batch.
    assert!(installs.contains("keys=company_id from literal (4 values, at least 1 request,"), "{installs}");
    assert!(installs.contains("product_name"), "{installs}");
    assert!(installs.contains("Products ANY_PRESENT (814, 1023, 5, 6)"), "{installs}");

    let firmographics = text(
        &session,
        "EXPLAIN SELECT revenue_band FROM hg.firmographics WHERE company_id IN ('A1', 'B2', 'C3', 'D4')",
    )
    .await;
    assert!(
        firmographics
            .contains("keys=company_id from literal (4 values, 4 requests, up to 4 credits, 0 from the cache)"),
        "{firmographics}"
    );
    assert!(firmographics.contains("fields=[revenue_band]"), "{firmographics}");

    let joined = text(
        &session,
        "EXPLAIN SELECT f.revenue_band FROM (VALUES ('A1')) v(id) JOIN hg.firmographics f ON f.company_id = v.id",
    )
    .await;
    assert!(joined.contains("keys=company_id from join"), "{joined}");

    let matched = text(
        &session,
        "EXPLAIN SELECT company_id FROM hg.companies WHERE match_domain IN ('https://www.Acme.com/', 'acme.com', '') AND match_rank <= 3",
    )
    .await;
    assert!(matched.contains("endpoint=GET /company/match"), "{matched}");
    assert!(matched.contains("match_domain from literal (3 values, 1 request)"), "{matched}");
    assert!(matched.contains("limit=3 matches"), "{matched}");
    assert_eq!(total_calls(&sandbox), 0, "EXPLAIN makes no call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_analyze_reports_each_scans_calls_keys_retries_and_waits() {
    let sandbox = sandbox(|c| c.fault_rate = 0.3).await;
    let session = session(&sandbox);
    let ids: Vec<String> = sandbox.data().companies.iter().take(30).map(|c| format!("'{:X}'", c.id)).collect();
    let sql = format!("EXPLAIN ANALYZE SELECT count(*) FROM hg.firmographics WHERE company_id IN ({})", ids.join(", "));
    let analyzed = text(&session, &sql).await;
    let stats = sandbox.stats();
    let calls = stats["endpoints"]["company/firmographic"]["calls"].as_u64().unwrap();
    let faults: u64 = stats["faults"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert!(faults > 0, "the fault rate makes some requests fail: {stats}");
    assert!(analyzed.contains(&format!("api_calls={calls}")), "{calls} calls: {analyzed}");
    assert!(analyzed.contains(&format!("retries={faults}")), "{faults} retries: {analyzed}");
    assert!(analyzed.contains("keys_requested=30"), "{analyzed}");
    assert!(analyzed.contains("cache_hits=0"), "{analyzed}");
    assert!(analyzed.contains("rate_limit_wait="), "{analyzed}");
    assert!(analyzed.contains("join_wait="), "{analyzed}");
}

#[tokio::test]
async fn without_a_key_hg_tables_say_how_to_get_one_and_local_sql_still_runs() {
    let session = Session::new();
    let error = session.run("SELECT * FROM hg.firmographics WHERE company_id = 'A'").await.err().expect("no client");
    let message = error.to_string();
    assert!(message.contains("HG_API_KEY") && message.contains("--sandbox"), "{message}");
    let local = session.run("SELECT 1 + 1 AS two").await.expect("local SQL runs");
    assert_eq!(local[0].batches[0].num_rows(), 1);
    let tables = session.run("SHOW TABLES").await.expect("information_schema");
    let listed = pretty_format_batches(&tables[0].batches).unwrap().to_string();
    for table in
        ["companies", "firmographics", "installs", "spend", "intent", "search", "products", "vendors", "categories"]
    {
        let row = listed.lines().any(|l| l.contains(" hg ") && l.contains(&format!(" {table} ")));
        assert!(row, "hg.{table} missing: {listed}");
    }
}

#[test]
fn the_swap_rule_runs_before_dynamic_filters_and_the_guard_after() {
    let names = Session::new().rule_names();
    let at = |name: &str| names.iter().position(|n| n == name).unwrap_or_else(|| panic!("{name} missing: {names:?}"));
    assert_eq!(at("hg_api_on_probe_side"), at("join_selection") + 1, "{names:?}");
    let last_pushdown = names.iter().rposition(|n| n.starts_with("FilterPushdown")).expect("filter pushdown");
    assert!(at("hg_api_scan_guard") > last_pushdown, "{names:?}");
    assert!(at("hg_api_scan_guard") < at("SanityCheckPlan"), "{names:?}");
}
