//! HTTP tables (`CREATE EXTERNAL TABLE … STORED AS HTTP`) against the sandbox's generic REST
//! API, which is written apart from hgsql's HTTP client. Each option is used here and checked
//! against what the API itself answers (fetched directly) and what it counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use hgsql::api::ResponseCache;
use hgsql::api::http::HttpContext;
use hgsql::sandbox::{Fault, Sandbox, rest};
use hgsql::session::{Session, StatementResult};
use serde_json::Value;

use crate::support::sandbox;

/// A session whose HTTP tables may use the connection `crm` (`auth` and the secrets of every
/// auth style of the REST API) and the cache at `cache`.
fn session_with(cache: Option<&Path>, refresh: bool) -> Session {
    let headers: BTreeMap<String, String> =
        [("header.x-api-key".to_string(), rest::KEY.to_string())].into_iter().collect();
    let crm: BTreeMap<String, String> =
        [("token", rest::TOKEN), ("username", rest::USER), ("password", rest::PASSWORD)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let key: BTreeMap<String, String> = [("token".to_string(), rest::KEY.to_string())].into_iter().collect();
    let connections =
        BTreeMap::from([("crm".to_string(), crm), ("crm_key".to_string(), key), ("crm_header".to_string(), headers)]);
    let cache = cache.map(|path| Arc::new(ResponseCache::open(path).unwrap()));
    let mut session = Session::new();
    session.set_http_context(HttpContext::new(cache, refresh, false, connections));
    session
}

fn session() -> Session {
    session_with(None, false)
}

async fn run(session: &Session, sql: &str) -> StatementResult {
    session.run(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).pop().unwrap()
}

async fn fails(session: &Session, sql: &str) -> String {
    match session.run(sql).await {
        Ok(_) => panic!("{sql}: expected an error"),
        Err(e) => e.to_string(),
    }
}

/// Column `column` of a result as text (NULL as `None`).
fn column(result: &StatementResult, column: &str) -> Vec<Option<String>> {
    let index = result.schema.index_of(column).unwrap_or_else(|_| panic!("no column {column}"));
    result
        .batches
        .iter()
        .flat_map(|b| {
            let array = datafusion::arrow::compute::cast(b.column(index), &DataType::Utf8).unwrap();
            let array = array.as_string::<i32>().clone();
            (0..array.len()).map(move |i| array.is_valid(i).then(|| array.value(i).to_string())).collect::<Vec<_>>()
        })
        .collect()
}

fn rest_stats(sandbox: &Sandbox) -> Value {
    sandbox.stats()["rest"].clone()
}

fn count(stats: &Value, section: &str, route: &str) -> u64 {
    stats[section][route].as_u64().unwrap_or(0)
}

/// `n` domains of sandbox companies (as HG normalises them), in order.
fn domains(sandbox: &Sandbox, n: usize) -> Vec<String> {
    let mut seen = BTreeSet::new();
    sandbox
        .data()
        .companies
        .iter()
        .map(|c| c.domain_normalized.clone())
        .filter(|d| seen.insert(d.clone()))
        .take(n)
        .collect()
}

fn write_csv(dir: &Path, name: &str, header: &str, values: &[String]) -> String {
    let path = dir.join(name);
    let mut text = format!("{header}\n");
    for value in values {
        text.push_str(value);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// What the REST API itself answers for `path` (no auth).
async fn direct(sandbox: &Sandbox, path: &str) -> Option<Value> {
    let response = reqwest::get(format!("{}/open/{path}", sandbox.rest_url())).await.unwrap();
    if response.status() != 200 {
        return None;
    }
    Some(response.json().await.unwrap())
}

fn crm_table(sandbox: &Sandbox, name: &str, auth: &str, extra: &str) -> String {
    format!(
        "CREATE EXTERNAL TABLE {name} (domain TEXT NOT NULL, name TEXT, owner TEXT, arr DOUBLE, tags TEXT, founded DATE, updated_at TIMESTAMP, active BOOLEAN)
         STORED AS HTTP LOCATION '{}/{auth}/accounts/{{domain}}'
         OPTIONS ('rows_path' '/account', 'path.arr' '/billing/arr', 'path.owner' '/owner/name'{extra})",
        sandbox.rest_url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_lookup_asks_each_key_once_and_reads_nested_typed_values() {
    let sandbox = sandbox(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let mut websites = domains(&sandbox, 30);
    // Repeats, an unknown domain, and a known one spelled otherwise (keys are sent as written).
    websites.extend(websites[..5].to_vec());
    websites.push("nobody-here.example".into());
    websites.push(websites[0].to_uppercase());
    let accounts = write_csv(dir.path(), "accounts.csv", "website", &websites);
    let session = session();
    run(
        &session,
        &crm_table(&sandbox, "crm_account", "bearer", ", 'auth' 'bearer', 'connection' 'crm', 'not_found' 'empty'"),
    )
    .await;
    let result = run(
        &session,
        &format!(
            "SELECT DISTINCT a.website, c.owner, c.arr, c.tags, c.founded, c.active, c._status, c._http_status
             FROM '{accounts}' a LEFT JOIN crm_account c ON c.domain = a.website ORDER BY a.website"
        ),
    )
    .await;
    let stats = rest_stats(&sandbox);
    let distinct: BTreeSet<&String> = websites.iter().collect();
    let got = column(&result, "website");
    assert_eq!(got.len(), distinct.len(), "one row per account (a LEFT JOIN keeps the ones with no match)");
    let (owners, arrs, tags, founded, active, status, http) = (
        column(&result, "owner"),
        column(&result, "arr"),
        column(&result, "tags"),
        column(&result, "founded"),
        column(&result, "active"),
        column(&result, "_status"),
        column(&result, "_http_status"),
    );
    let mut found = 0;
    for (i, website) in got.iter().enumerate() {
        let website = website.as_deref().unwrap();
        match direct(&sandbox, &format!("accounts/{website}")).await {
            Some(answer) => {
                found += 1;
                let account = &answer["account"];
                assert_eq!(owners[i].as_deref(), account["owner"]["name"].as_str(), "{website}: path.owner");
                assert_eq!(arrs[i].as_ref().map(|a| a.parse::<f64>().unwrap()), account["billing"]["arr"].as_f64());
                let tags: Value = serde_json::from_str(tags[i].as_deref().unwrap()).unwrap();
                assert_eq!(tags, account["tags"], "{website}: a list reads into TEXT as JSON");
                assert_eq!(founded[i].as_deref(), account["founded"].as_str(), "{website}: DATE");
                assert_eq!(active[i].as_deref(), Some(account["active"].to_string().as_str()));
                assert_eq!((status[i].as_deref(), http[i].as_deref()), (Some("ok"), Some("200")));
            }
            None => {
                assert_eq!((owners[i].as_deref(), status[i].as_deref()), (None, None), "{website}: a 404 is no row")
            }
        }
    }
    assert!(found >= 20 && found < distinct.len(), "most accounts exist, some do not: {found}");
    assert_eq!(count(&stats, "requests", "accounts"), distinct.len() as u64, "each key asked once: {stats}");
    assert_eq!(count(&stats, "repeated", "accounts"), 0, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_auth_style_is_sent_and_a_refused_credential_fails_the_query_naming_the_table() {
    let sandbox = sandbox(|_| {}).await;
    let domain = domains(&sandbox, 40).into_iter().find(|d| rest::has_account(sandbox.data(), d)).unwrap();
    let session = session();
    for (auth, options) in [
        ("bearer", ", 'auth' 'bearer', 'connection' 'crm'"),
        ("basic", ", 'auth' 'basic', 'connection' 'crm'"),
        ("header", ", 'auth' 'header', 'auth_header' 'x-api-key', 'connection' 'crm_key'"),
        ("query", ", 'auth' 'query', 'auth_param' 'api_key', 'connection' 'crm_key'"),
    ] {
        run(&session, &crm_table(&sandbox, &format!("crm_{auth}"), auth, options)).await;
        let result = run(&session, &format!("SELECT owner, _status FROM crm_{auth} WHERE domain = '{domain}'")).await;
        assert_eq!(column(&result, "_status"), [Some("ok".to_string())], "{auth}");
    }
    assert_eq!(rest_stats(&sandbox)["unauthorized"], 0);
    // The right style with no credential the API accepts.
    let wrong =
        crm_table(&sandbox, "crm_wrong", "bearer", ", 'auth' 'header', 'auth_header' 'x-api-key', 'connection' 'crm'");
    run(&session, &wrong).await;
    let error = fails(&session, &format!("SELECT owner FROM crm_wrong WHERE domain = '{domain}'")).await;
    assert!(error.contains("crm_wrong") && error.contains("HTTP 401") && error.contains("'auth'"), "{error}");
    assert!(!error.contains(rest::TOKEN), "the credential is not in the message: {error}");
    assert_eq!(rest_stats(&sandbox)["unauthorized"], 1, "a 401 is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_carry_batch_size_keys_and_each_row_goes_to_the_key_it_answers() {
    let sandbox = sandbox(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let mut websites = domains(&sandbox, 120);
    websites.push("nobody-here.example".into());
    let accounts = write_csv(dir.path(), "accounts.csv", "website", &websites);
    let session = session();
    run(
        &session,
        &format!(
            "CREATE EXTERNAL TABLE crm_batch (domain TEXT NOT NULL, owner TEXT, arr DOUBLE)
             STORED AS HTTP LOCATION '{}/open/accounts?ids={{domain*}}'
             OPTIONS ('rows_path' '/data', 'batch_size' '50', 'key_path.domain' '/domain',
                      'path.owner' '/owner/name', 'path.arr' '/billing/arr')",
            sandbox.rest_url()
        ),
    )
    .await;
    let result = run(
        &session,
        &format!(
            "SELECT a.website, b.owner, b.arr FROM '{accounts}' a LEFT JOIN crm_batch b ON b.domain = a.website ORDER BY a.website"
        ),
    )
    .await;
    let stats = rest_stats(&sandbox);
    assert_eq!(count(&stats, "requests", "accounts_batch"), 3, "121 keys in batches of 50: {stats}");
    assert_eq!(stats["largest_batch"], 50, "batches are used to the full");
    assert_eq!(count(&stats, "repeated", "accounts_batch"), 0);
    let (got, owners) = (column(&result, "website"), column(&result, "owner"));
    assert_eq!(got.len(), websites.len());
    for (website, owner) in got.iter().zip(&owners) {
        let answer = direct(&sandbox, &format!("accounts/{}", website.as_deref().unwrap())).await;
        let expected = answer.as_ref().and_then(|a| a["account"]["owner"]["name"].as_str());
        assert_eq!(owner.as_deref(), expected, "{website:?}: the row of its own key");
    }
}

fn deals_table(sandbox: &Sandbox, name: &str, style: &str, options: &str) -> String {
    format!(
        "CREATE EXTERNAL TABLE {name} (owner TEXT NOT NULL, id TEXT, amount BIGINT, stage TEXT)
         STORED AS HTTP LOCATION '{}/open/deals/{style}/{{owner}}'
         OPTIONS ({options})",
        sandbox.rest_url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_paging_style_reads_every_page_and_paging_that_loops_is_an_error() {
    let sandbox = sandbox(|_| {}).await;
    let owners = ["Ana Ruiz", "Ben Okafor", "Chen Wei", "Dara Novak"];
    let list = owners.iter().map(|o| format!("'{o}'")).collect::<Vec<_>>().join(", ");
    let session = session();
    let styles = [
        ("offset", "'rows_path' '/deals', 'paginate' 'offset', 'page_size' '4'"),
        (
            "page",
            "'rows_path' '/deals', 'paginate' 'page', 'page_size' '4', 'limit_param' 'per_page', 'page_start' '1', 'has_more_path' '/has_more'",
        ),
        (
            "cursor",
            "'rows_path' '/deals', 'paginate' 'cursor', 'page_size' '4', 'cursor_path' '/next_cursor', 'cursor_param' 'cursor'",
        ),
        ("link_header", "'paginate' 'link_header', 'page_size' '4'"),
        ("next_url", "'rows_path' '/deals', 'paginate' 'next_url', 'page_size' '4', 'next_url_path' '/links/next'"),
    ];
    for (style, options) in styles {
        run(&session, &deals_table(&sandbox, &format!("deals_{style}"), style, options)).await;
        let result = run(&session, &format!("SELECT owner, id FROM deals_{style} WHERE owner IN ({list})")).await;
        let ids = column(&result, "id");
        let distinct: BTreeSet<&Option<String>> = ids.iter().collect();
        let expected: usize = owners.iter().map(|o| rest::deal_count(o)).sum();
        assert_eq!((ids.len(), distinct.len()), (expected, expected), "{style}: every deal once");
        for owner in owners {
            let mine = column(&result, "owner").iter().filter(|o| o.as_deref() == Some(owner)).count();
            assert_eq!(mine, rest::deal_count(owner), "{style}: {owner}");
        }
        let stats = rest_stats(&sandbox);
        let route = format!("deals_{style}");
        let pages: u64 = owners.iter().map(|o| rest::deal_count(o).div_ceil(4) as u64).sum();
        let requests = count(&stats, "requests", &route);
        // Offset paging stops at a short or empty page: an owner with a multiple of 4 deals
        // takes one empty page more. The other styles know the last page when they see it
        // (no next cursor or link, has_more false).
        let empty_pages = owners.iter().filter(|o| rest::deal_count(o).is_multiple_of(4)).count() as u64;
        let expected = if style == "offset" { pages + empty_pages } else { pages };
        assert_eq!(requests, expected, "{style}: requests");
        assert_eq!(count(&stats, "repeated", &route), 0, "{style}: no owner asked twice");
    }
    run(&session, &deals_table(&sandbox, "deals_loop", "loop", "'rows_path' '/deals', 'paginate' 'cursor', 'page_size' '2', 'cursor_path' '/next_cursor', 'cursor_param' 'cursor'")).await;
    let error = fails(&session, "SELECT * FROM deals_loop WHERE owner = 'Ana Ruiz'").await;
    assert!(error.contains("deals_loop") && error.contains("cursor 'c1' a second time"), "{error}");
    run(
        &session,
        &deals_table(&sandbox, "deals_same", "same", "'rows_path' '/deals', 'paginate' 'page', 'page_size' '2'"),
    )
    .await;
    let error = fails(&session, "SELECT * FROM deals_same WHERE owner = 'Ana Ruiz'").await;
    assert!(error.contains("deals_same") && error.contains("same as the page before"), "{error}");
    run(
        &session,
        &deals_table(
            &sandbox,
            "deals_capped",
            "offset",
            "'rows_path' '/deals', 'paginate' 'offset', 'page_size' '1', 'max_pages' '2'",
        ),
    )
    .await;
    let error = fails(&session, "SELECT * FROM deals_capped WHERE owner = 'Ana Ruiz'").await;
    assert!(error.contains("max_pages"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_stops_paging_early() {
    let sandbox = sandbox(|_| {}).await;
    let owner = ["Ana Ruiz", "Ben Okafor", "Chen Wei", "Dara Novak", "Eli Brandt"]
        .into_iter()
        .max_by_key(|o| rest::deal_count(o))
        .unwrap();
    assert!(rest::deal_count(owner) > 8, "{owner} has pages to skip");
    let session = session();
    run(
        &session,
        &deals_table(&sandbox, "deals", "offset", "'rows_path' '/deals', 'paginate' 'offset', 'page_size' '2'"),
    )
    .await;
    let result = run(&session, &format!("SELECT id FROM deals WHERE owner = '{owner}' LIMIT 3")).await;
    assert_eq!(column(&result, "id").len(), 3);
    assert_eq!(count(&rest_stats(&sandbox), "requests", "deals_offset"), 2, "two pages of two hold three rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_error_fails_or_under_on_error_null_keeps_the_key_as_not_found() {
    let sandbox = sandbox(|_| {}).await;
    let known = domains(&sandbox, 40).into_iter().find(|d| rest::has_account(sandbox.data(), d)).unwrap();
    let session = session();
    run(&session, &crm_table(&sandbox, "crm_strict", "open", ", 'not_found' 'error'")).await;
    let query = format!(
        "SELECT domain, owner, _status, _error, _http_status FROM crm_strict WHERE domain IN ('{known}', 'nobody-here.example') ORDER BY domain"
    );
    let error = fails(&session, &query).await;
    assert!(error.contains("crm_strict") && error.contains("nobody-here.example") && error.contains("404"), "{error}");
    run(&session, "SET hg.on_error = 'null'").await;
    let result = run(&session, &query).await;
    let status = column(&result, "_status");
    let domains_out = column(&result, "domain");
    let at = |d: &str| domains_out.iter().position(|x| x.as_deref() == Some(d)).unwrap();
    assert_eq!(status[at("nobody-here.example")].as_deref(), Some("not_found"));
    assert_eq!(column(&result, "_http_status")[at("nobody-here.example")].as_deref(), Some("404"));
    assert_eq!(status[at(&known)].as_deref(), Some("ok"));
    assert!(column(&result, "owner")[at("nobody-here.example")].is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_cached_per_key_negatives_too_and_refresh_fetches_again() {
    let sandbox = sandbox(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.sqlite");
    let mut websites = domains(&sandbox, 12);
    websites.push("nobody-here.example".into());
    let list = websites.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(", ");
    let query = format!("SELECT domain, owner, _fetched_at FROM crm WHERE domain IN ({list}) ORDER BY domain");
    let create = crm_table(&sandbox, "crm", "open", "");
    let first = {
        let session = session_with(Some(&cache), false);
        run(&session, &create).await;
        run(&session, &query).await
    };
    assert_eq!(count(&rest_stats(&sandbox), "requests", "accounts"), websites.len() as u64);
    let again = session_with(Some(&cache), false);
    run(&again, &create).await;
    let explain = run(&again, &format!("EXPLAIN {query}")).await;
    let plan = column(&explain, "plan").into_iter().flatten().collect::<Vec<_>>().join("\n");
    assert!(plan.contains(&format!("{0} keys, {0} from the cache, 0 requests", websites.len())), "{plan}");
    let second = run(&again, &query).await;
    assert_eq!(
        count(&rest_stats(&sandbox), "requests", "accounts"),
        websites.len() as u64,
        "a rerun asks nothing, not even the 404"
    );
    assert_eq!(column(&first, "owner"), column(&second, "owner"));
    assert_eq!(
        column(&first, "_fetched_at"),
        column(&second, "_fetched_at"),
        "when the API sent it, kept by the cache"
    );
    let refresh = session_with(Some(&cache), true);
    run(&refresh, &create).await;
    run(&refresh, &query).await;
    assert_eq!(count(&rest_stats(&sandbox), "requests", "accounts"), 2 * websites.len() as u64, "--refresh asks again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_body_sends_typed_values_and_joins_like_any_table() {
    let sandbox = sandbox(|_| {}).await;
    let known: Vec<String> =
        domains(&sandbox, 30).into_iter().filter(|d| rest::has_account(sandbox.data(), d)).take(5).collect();
    let session = session();
    run(
        &session,
        &format!(
            "CREATE EXTERNAL TABLE company_enrich (domain TEXT NOT NULL, name TEXT, employees BIGINT)
             STORED AS HTTP LOCATION '{}/bearer/companies/enrich'
             OPTIONS ('method' 'POST', 'body' '{{\"domain\": \"{{{{domain}}}}\"}}', 'rows_path' '/company',
                      'auth' 'bearer', 'connection' 'crm')",
            sandbox.rest_url()
        ),
    )
    .await;
    let list = known.iter().map(|w| format!("('{w}')")).collect::<Vec<_>>().join(", ");
    let result = run(
        &session,
        &format!("SELECT v.column1 AS website, e.name, e.employees FROM (VALUES {list}) v JOIN company_enrich e ON e.domain = v.column1 ORDER BY 1"),
    )
    .await;
    assert_eq!(column(&result, "website").len(), known.len());
    for (website, name) in column(&result, "website").iter().zip(column(&result, "name")) {
        let answer = direct(&sandbox, &format!("accounts/{}", website.as_deref().unwrap())).await.unwrap();
        assert_eq!(name.as_deref(), answer["account"]["name"].as_str());
    }
    assert_eq!(count(&rest_stats(&sandbox), "requests", "enrich"), known.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_a_query_fails_before_any_request_and_says_how_to_give_them() {
    let sandbox = sandbox(|_| {}).await;
    let session = session();
    run(&session, &crm_table(&sandbox, "crm", "open", "")).await;
    let error = fails(&session, "SELECT * FROM crm WHERE owner = 'Ana Ruiz'").await;
    assert!(error.contains("crm") && error.contains("domain") && error.contains("JOIN crm x ON x.domain"), "{error}");
    assert_eq!(rest_stats(&sandbox)["requests"], serde_json::json!({}), "no request was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_faults_the_rows_equal_the_fault_free_run() {
    let healthy = sandbox(|_| {}).await;
    let websites = domains(&healthy, 60);
    let dir = tempfile::tempdir().unwrap();
    let accounts = write_csv(dir.path(), "accounts.csv", "website", &websites);
    let query = format!(
        "SELECT a.website, c.owner, c.arr, c._status FROM '{accounts}' a LEFT JOIN crm c ON c.domain = a.website ORDER BY a.website"
    );
    let rows = |result: &StatementResult| {
        (column(result, "website"), column(result, "owner"), column(result, "arr"), column(result, "_status"))
    };
    let baseline = {
        let session = session();
        run(&session, &crm_table(&healthy, "crm", "open", "")).await;
        rows(&run(&session, &query).await)
    };
    for (rate, kinds) in [(0.3, vec![]), (0.05, vec![]), (0.3, vec![Fault::TruncatedJson, Fault::ConnectionReset])] {
        let faulty = sandbox(|c| {
            c.fault_rate = rate;
            c.fault_kinds = kinds.clone();
        })
        .await;
        let session = session();
        run(&session, &crm_table(&faulty, "crm", "open", ", 'max_retries' '10'")).await;
        assert_eq!(rows(&run(&session, &query).await), baseline, "faults at {rate} ({kinds:?}) change nothing");
        let faults: u64 = faulty.stats()["faults"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert!(faults > 0, "faults were injected");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_on_two_keys_asks_the_pairs_it_holds_not_their_product() {
    let sandbox = sandbox(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let pairs = ["Ana Ruiz,trial", "Ana Ruiz,customer", "Ben Okafor,trial"].map(str::to_string);
    let wanted = write_csv(dir.path(), "wanted.csv", "owner,stage", &pairs);
    let session = session();
    run(
        &session,
        &format!(
            "CREATE EXTERNAL TABLE deals (owner TEXT NOT NULL, stage TEXT NOT NULL, id TEXT)
             STORED AS HTTP LOCATION '{}/open/deals/offset/{{owner}}?stage={{stage}}'
             OPTIONS ('rows_path' '/deals', 'paginate' 'offset', 'page_size' '100')",
            sandbox.rest_url()
        ),
    )
    .await;
    let result =
        run(&session, &format!("SELECT w.owner, w.stage, count(d.id) AS n FROM '{wanted}' w JOIN deals d ON d.owner = w.owner AND d.stage = w.stage GROUP BY 1, 2")).await;
    assert_eq!(column(&result, "n").len(), 3);
    assert_eq!(count(&rest_stats(&sandbox), "requests", "deals_offset"), 3, "three pairs, not 2 × 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_http_then_hg_then_http_makes_the_fewest_requests() {
    let sandbox = sandbox(|_| {}).await;
    let config = hgsql::api::ClientConfig {
        rate: None,
        ..hgsql::api::ClientConfig::new(sandbox.base_url(), hgsql::api::ApiKey::new(sandbox.key()))
    };
    let mut session = Session::with_client(hgsql::api::HgClient::new(config).unwrap());
    session.set_http_context(HttpContext::new(None, false, false, Default::default()));
    let dir = tempfile::tempdir().unwrap();
    let mut websites = domains(&sandbox, 25);
    websites.extend(websites[..5].to_vec());
    let accounts = write_csv(dir.path(), "accounts.csv", "website", &websites);
    run(&session, &crm_table(&sandbox, "crm", "open", "")).await;
    run(
        &session,
        &deals_table(&sandbox, "deals", "offset", "'rows_path' '/deals', 'paginate' 'offset', 'page_size' '100'"),
    )
    .await;
    let result = run(
        &session,
        &format!(
            "SELECT a.website, c.owner, h.company_id, count(d.id) AS deals
             FROM '{accounts}' a
             JOIN crm c ON c.domain = a.website
             JOIN hg.companies h ON h.match_domain = c.domain
             JOIN deals d ON d.owner = c.owner
             GROUP BY 1, 2, 3"
        ),
    )
    .await;
    let stats = sandbox.stats();
    let distinct: BTreeSet<&String> = websites.iter().collect();
    let in_crm: Vec<&String> = distinct.iter().copied().filter(|d| rest::has_account(sandbox.data(), d)).collect();
    let owners: BTreeSet<String> = {
        let mut owners = BTreeSet::new();
        for d in &in_crm {
            let answer = direct(&sandbox, &format!("accounts/{d}")).await.unwrap();
            owners.insert(answer["account"]["owner"]["name"].as_str().unwrap().to_string());
        }
        owners
    };
    assert_eq!(column(&result, "website").len(), in_crm.len(), "every account in the CRM matches a company");
    assert_eq!(count(&stats["rest"], "requests", "accounts"), distinct.len() as u64, "the CRM: each website once");
    assert_eq!(
        stats["endpoints"]["company/match"]["calls"].as_u64(),
        Some(in_crm.len() as u64),
        "HG: each CRM domain once: {stats}"
    );
    assert_eq!(count(&stats["rest"], "requests", "deals_offset"), owners.len() as u64, "deals: each owner once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_explain_information_schema_and_errors() {
    let sandbox = sandbox(|_| {}).await;
    let session = session();
    let create =
        crm_table(&sandbox, "crm_q", "query", ", 'auth' 'query', 'auth_param' 'api_key', 'connection' 'crm_key'");
    run(&session, &create).await;
    for sql in [
        "EXPLAIN SELECT * FROM crm_q WHERE domain IN ('a.example', 'b.example')",
        "SELECT * FROM information_schema.views",
        "SELECT * FROM information_schema.tables WHERE table_name = 'crm_q'",
        "SHOW COLUMNS FROM crm_q",
    ] {
        let result = run(&session, sql).await;
        let text = format!("{:?}", result.batches);
        assert!(!text.contains(rest::KEY), "{sql} shows the secret: {text}");
    }
    let explain = run(&session, "EXPLAIN SELECT * FROM crm_q WHERE domain IN ('a.example', 'b.example')").await;
    let plan = column(&explain, "plan").into_iter().flatten().collect::<Vec<_>>().join("\n");
    assert!(plan.contains("request=GET") && plan.contains("2 keys, 0 from the cache, 2 requests"), "{plan}");
    // A failing key's message carries no credential either (the query parameter is added as the
    // request leaves, never in a URL hgsql shows).
    let broken = format!(
        "CREATE EXTERNAL TABLE broken (domain TEXT NOT NULL, name TEXT) STORED AS HTTP LOCATION '{}/query/broken/{{domain}}'
         OPTIONS ('auth' 'query', 'auth_param' 'api_key', 'connection' 'crm_key', 'max_retries' '1')",
        sandbox.rest_url()
    );
    run(&session, &broken).await;
    let error = fails(&session, "SELECT * FROM broken WHERE domain = 'x.example'").await;
    assert!(error.contains("not JSON") && !error.contains(rest::KEY), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_option_is_sent_on_every_request() {
    let sandbox = sandbox(|_| {}).await;
    let session = session();
    run(&session, &crm_table(&sandbox, "crm", "header", ", 'connection' 'crm_header'")).await;
    let result = run(&session, "SELECT _status FROM crm WHERE domain IN ('a.example', 'b.example')").await;
    assert_eq!(result.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0, "unknown domains: no rows");
    let stats = rest_stats(&sandbox);
    assert_eq!((stats["unauthorized"].as_u64(), count(&stats, "requests", "accounts")), (Some(0), 2), "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_paces_requests_below_the_apis_limit_for_every_table_on_the_host() {
    let sandbox = sandbox(|c| c.rest_rate = Some(8.0)).await;
    let session = session();
    // Two tables on one host and credential share one gate: together they stay under 8/s.
    run(&session, &crm_table(&sandbox, "crm_a", "open", ", 'rate' '8/s'")).await;
    run(&session, &crm_table(&sandbox, "crm_b", "open", ", 'rate' '8/s', 'path.name' '/name'")).await;
    let a: Vec<String> = (0..10).map(|i| format!("'a{i}.example'")).collect();
    let b: Vec<String> = (0..10).map(|i| format!("'b{i}.example'")).collect();
    run(
        &session,
        &format!(
            "SELECT domain FROM crm_a WHERE domain IN ({}) UNION ALL SELECT domain FROM crm_b WHERE domain IN ({})",
            a.join(", "),
            b.join(", ")
        ),
    )
    .await;
    let stats = rest_stats(&sandbox);
    assert_eq!(count(&stats, "requests", "accounts"), 20, "{stats}");
    assert_eq!(stats["rate_limited"], 0, "the client kept to the API's limit: {stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_caps_the_requests_at_once() {
    let sandbox = sandbox(|c| c.latency = std::time::Duration::from_millis(40)).await;
    let keys: Vec<String> = (0..16).map(|i| format!("'k{i}.example'")).collect();
    for (table, cap) in [("crm_two", 2), ("crm_six", 6)] {
        // A session of its own: tables on one host and credential share the first one's gate.
        let session = session();
        sandbox.reset_stats();
        run(&session, &crm_table(&sandbox, table, "open", &format!(", 'max_in_flight' '{cap}'"))).await;
        run(&session, &format!("SELECT * FROM {table} WHERE domain IN ({})", keys.join(", "))).await;
        let peak = rest_stats(&sandbox)["peak_in_flight"].as_u64().unwrap();
        assert!(peak <= cap, "{table}: {peak} at once");
        if cap == 6 {
            assert!(peak > 2, "a larger cap is used ({peak})");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_timeout_is_retried_then_fails_the_key() {
    let sandbox = sandbox(|c| c.latency = std::time::Duration::from_secs(3)).await;
    let session = session();
    run(&session, &crm_table(&sandbox, "crm", "open", ", 'timeout' '200ms', 'max_retries' '1'")).await;
    let started = std::time::Instant::now();
    let error = fails(&session, "SELECT * FROM crm WHERE domain = 'a.example'").await;
    assert!(error.contains("crm") && error.contains("timed out") && error.contains("2 attempts"), "{error}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "gave up before the answer: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_ttl_zero_always_fetches() {
    let sandbox = sandbox(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.sqlite");
    for _ in 0..2 {
        let session = session_with(Some(&cache), false);
        run(&session, &crm_table(&sandbox, "crm", "open", ", 'cache_ttl' '0'")).await;
        run(&session, "SELECT * FROM crm WHERE domain IN ('a.example', 'b.example')").await;
    }
    assert_eq!(count(&rest_stats(&sandbox), "requests", "accounts"), 4, "no answer is served from the cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_analyze_counts_each_scans_requests_and_keys() {
    let sandbox = sandbox(|_| {}).await;
    let session = session();
    run(&session, &crm_table(&sandbox, "crm", "open", "")).await;
    let result =
        run(&session, "EXPLAIN ANALYZE SELECT * FROM crm WHERE domain IN ('a.example', 'b.example', 'c.example')")
            .await;
    let plan = column(&result, "plan").into_iter().flatten().collect::<Vec<_>>().join("\n");
    let scan = plan.lines().find(|l| l.contains("HttpScanExec")).unwrap_or_else(|| panic!("{plan}"));
    assert!(
        scan.contains("api_calls=3") && scan.contains("keys_requested=3") && scan.contains("cache_hits=0"),
        "{scan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_the_api_echoes_is_blanked_in_errors_and_status_columns() {
    let sandbox = sandbox(|_| {}).await;
    let session = session();
    for (auth, options) in [
        ("query", "'auth' 'query', 'auth_param' 'api_key', 'connection' 'crm_key'"),
        ("bearer", "'auth' 'bearer', 'connection' 'crm'"),
        ("header", "'connection' 'crm_header'"),
    ] {
        let table = format!("leaky_{auth}");
        run(
            &session,
            &format!(
                "CREATE EXTERNAL TABLE {table} (domain TEXT NOT NULL, name TEXT) STORED AS HTTP
                 LOCATION '{}/{auth}/leaky/{{domain}}' OPTIONS ({options})",
                sandbox.rest_url()
            ),
        )
        .await;
        let error = fails(&session, &format!("SELECT * FROM {table} WHERE domain = 'x.example'")).await;
        assert!(
            error.contains("HTTP 400") && error.contains("cannot serve") && error.contains("***"),
            "{auth}: {error}"
        );
        assert!(!error.contains(rest::KEY) && !error.contains(rest::TOKEN), "{auth}: {error}");
        run(&session, "SET hg.on_error = 'null'").await;
        let result = run(&session, &format!("SELECT _error FROM {table} WHERE domain = 'x.example'")).await;
        let message = column(&result, "_error").remove(0).unwrap();
        assert!(message.contains("***") && !message.contains(rest::KEY) && !message.contains(rest::TOKEN), "{message}");
        run(&session, "SET hg.on_error = 'fail'").await;
    }
    assert_eq!(
        rest_stats(&sandbox)["requests"]["leaky"],
        6,
        "two queries of three tables, each asked once: a 400 is not retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_cannot_move_a_connections_credential_to_another_origin() {
    let sandbox = sandbox(|_| {}).await;
    let scoped: BTreeMap<String, String> = [
        ("base_url", format!("{}/bearer", sandbox.rest_url())),
        ("token", rest::TOKEN.to_string()),
        ("auth", "bearer".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut session = Session::new();
    session.set_http_context(HttpContext::new(None, false, false, BTreeMap::from([("scoped".to_string(), scoped)])));
    let ok = "CREATE EXTERNAL TABLE ok (domain TEXT NOT NULL, name TEXT) STORED AS HTTP LOCATION '/accounts/{domain}'
              OPTIONS ('connection' 'scoped', 'rows_path' '/account')";
    run(&session, ok).await;
    run(&session, "SELECT * FROM ok WHERE domain = 'a.example'").await;
    assert_eq!(count(&rest_stats(&sandbox), "requests", "accounts"), 1);
    for (name, location, extra) in [
        ("moved", "/accounts/{domain}", ", 'base_url' 'https://elsewhere.example'"),
        ("elsewhere", "https://elsewhere.example/accounts/{domain}", ""),
    ] {
        let sql = format!(
            "CREATE EXTERNAL TABLE {name} (domain TEXT NOT NULL) STORED AS HTTP LOCATION '{location}'
             OPTIONS ('connection' 'scoped'{extra})"
        );
        let error = fails(&session, &sql).await;
        assert!(error.contains("scoped") && error.contains("credential"), "{name}: {error}");
    }
}

/// As an HG scan does, an HTTP-table scan that alone reads a join's keys lets go of
/// DataFusion's list of them once read, and the join's answer is unchanged; two scans under one
/// join both keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_key_list_is_let_go_once_its_only_http_reader_has_it() {
    let sandbox = sandbox(|_| {}).await;
    let session = session();
    run(
        &session,
        &crm_table(&sandbox, "crm_account", "bearer", ", 'auth' 'bearer', 'connection' 'crm', 'not_found' 'empty'"),
    )
    .await;
    let values: Vec<String> = domains(&sandbox, 20).iter().map(|d| format!("('{d}')")).collect();
    run(&session, &format!("CREATE TABLE accounts AS SELECT column1 AS website FROM (VALUES {})", values.join(", ")))
        .await;
    let run_plan = |sql: &'static str| {
        let session = &session;
        async move {
            let plan = session.context().sql(sql).await.unwrap().create_physical_plan().await.unwrap();
            let batches = datafusion::physical_plan::collect(plan.clone(), session.context().task_ctx()).await.unwrap();
            (batches.iter().map(|b| b.num_rows()).sum::<usize>(), plan)
        }
    };

    let (found, plan) =
        run_plan("SELECT a.website, c.owner FROM accounts a JOIN crm_account c ON c.domain = a.website").await;
    assert!(found > 0, "the CRM knows some of the accounts");
    assert_eq!(crate::support::scan_filters(&plan, "HttpScanExec"), ["true"], "the one reader let go of the key list");

    let (rows, plan) = run_plan(
        "SELECT a.website FROM accounts a JOIN (SELECT domain FROM crm_account \
         UNION ALL SELECT domain FROM crm_account) c ON c.domain = a.website",
    )
    .await;
    assert_eq!(rows, 2 * found, "each scan found what the one that let go found");
    let filters = crate::support::scan_filters(&plan, "HttpScanExec");
    assert_eq!(filters.len(), 2, "{filters:?}");
    assert!(filters.iter().all(|f| f.contains("IN (SET)")), "two readers keep the list: {filters:?}");
}

/// An HTTP-table join whose key set is past the session's IN-list limits fails as an HG one
/// does: the message names the settings to raise, and no request is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_past_the_in_list_limits_fails_naming_them() {
    let sandbox = sandbox(|_| {}).await;
    let session = session();
    run(&session, &crm_table(&sandbox, "crm_account", "bearer", ", 'auth' 'bearer', 'connection' 'crm'")).await;
    run(&session, "SET datafusion.optimizer.hash_join_inlist_pushdown_max_distinct_values = 2").await;
    let values: Vec<String> = domains(&sandbox, 20).iter().map(|d| format!("('{d}')")).collect();
    run(&session, &format!("CREATE TABLE accounts AS SELECT column1 AS website FROM (VALUES {})", values.join(", ")))
        .await;
    let error =
        fails(&session, "SELECT a.website, c.owner FROM accounts a JOIN crm_account c ON c.domain = a.website").await;
    assert!(
        error.contains("crm_account") && error.contains("hash_join_inlist_pushdown_max_distinct_values / _max_size"),
        "{error}"
    );
    let requests =
        rest_stats(&sandbox)["requests"].as_object().map_or(0, |r| r.values().filter_map(Value::as_u64).sum());
    assert_eq!(requests, 0, "no request was sent");
}
