//! Per-row status and freshness: `SET hg.on_error = 'null'` keeps failed lookups as rows,
//! `_hg_fetched_at` says when HG sent a row (also when it comes from the cache), and EXPLAIN of
//! literal keys counts what the cache already holds.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::TimestampSecondType;
use hgsql::api::{ApiKey, ClientConfig, HgClient, ResponseCache};
use hgsql::sandbox::Sandbox;
use hgsql::session::{Session, StatementResult};

use crate::support::sandbox;

fn session(sandbox: &Sandbox, cache: Option<&std::path::Path>, attempts: u32) -> Session {
    let mut config = ClientConfig { rate: None, ..ClientConfig::new(sandbox.base_url(), ApiKey::new(sandbox.key())) };
    config.retry.max_attempts = attempts;
    config.cache = cache.map(|path| Arc::new(ResponseCache::open(path).unwrap()));
    Session::with_client(HgClient::new(config).unwrap())
}

async fn last(session: &Session, sql: &str) -> StatementResult {
    session.run(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).pop().unwrap()
}

fn strings(result: &StatementResult, column: usize) -> Vec<Option<String>> {
    result
        .batches
        .iter()
        .flat_map(|b| {
            let array =
                datafusion::arrow::compute::cast(b.column(column), &datafusion::arrow::datatypes::DataType::Utf8)
                    .unwrap();
            let array = array.as_string::<i32>().clone();
            (0..array.len()).map(move |i| array.is_valid(i).then(|| array.value(i).to_string())).collect::<Vec<_>>()
        })
        .collect()
}

/// Four company ids the sandbox knows, in id order.
async fn four_ids(sandbox: &Sandbox) -> Vec<String> {
    let lister = session(sandbox, None, 3);
    let result = last(&lister, "SELECT company_id FROM hg.search ORDER BY company_id LIMIT 4").await;
    strings(&result, 0).into_iter().map(Option::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_lookups_fail_the_query_or_become_rows_with_their_error() {
    let healthy = sandbox(|_| {}).await;
    let ids = four_ids(&healthy).await;
    // Every request to this one fails, and the client tries once.
    let broken = sandbox(|c| c.fault_rate = 1.0).await;
    let query = format!(
        "SELECT company_id, employees_total, _hg_status, _hg_error FROM hg.firmographics WHERE company_id IN ('{}', '{}') ORDER BY company_id",
        ids[0], ids[1]
    );
    let strict = session(&broken, None, 1);
    let error = strict.run(&query).await.err().expect("hg.on_error = 'fail' by default").to_string();
    assert!(error.contains("HG firmographic"), "{error}");

    let lenient = session(&broken, None, 1);
    let result = last(&lenient, &format!("SET hg.on_error = 'null'; {query}")).await;
    assert_eq!(strings(&result, 0), vec![Some(ids[0].clone()), Some(ids[1].clone())], "one row per company, key kept");
    assert_eq!(strings(&result, 1), vec![None, None], "no data");
    assert_eq!(strings(&result, 2), vec![Some("error".into()), Some("error".into())]);
    assert!(strings(&result, 3).iter().all(|e| e.as_deref().is_some_and(|e| e.contains("gave up after 1 attempt"))));

    let matched = last(
        &lenient,
        "SELECT match_domain, company_id, _hg_status FROM hg.companies WHERE match_domain = 'example.com'",
    )
    .await;
    assert_eq!(strings(&matched, 0), vec![Some("example.com".into())]);
    assert_eq!(strings(&matched, 2), vec![Some("error".into())]);

    let bad = lenient.run("SET hg.on_error = 'skip'").await.err().expect("refused").to_string();
    assert!(bad.contains("'fail'") && bad.contains("'null'"), "{bad}");
    // A healthy lookup says ok.
    let fine = session(&healthy, None, 3);
    let result = last(&fine, &format!("SET hg.on_error = 'null'; {query}")).await;
    assert_eq!(strings(&result, 2), vec![Some("ok".into()), Some("ok".into())]);
    assert_eq!(strings(&result, 3), vec![None, None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetched_at_is_when_hg_sent_the_row_and_explain_counts_the_cache() {
    let sandbox = sandbox(|_| {}).await;
    let ids = four_ids(&sandbox).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.sqlite");
    // The cached answers hold employees_total: the EXPLAIN below asks for that field too.
    let query = format!(
        "SELECT _hg_fetched_at, employees_total FROM hg.firmographics WHERE company_id IN ('{}', '{}')",
        ids[0], ids[1]
    );
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let first = last(&session(&sandbox, Some(&cache), 3), &query).await;
    let stamp = |result: &StatementResult| -> Vec<i64> {
        result
            .batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<TimestampSecondType>().values().to_vec())
            .collect()
    };
    let fetched = stamp(&first);
    assert_eq!(fetched.len(), 2);
    assert!(fetched.iter().all(|&t| t >= before && t <= before + 60), "{fetched:?} vs {before}");
    // The rerun sends no request, so its rows and their stamps are the cached ones; no waiting
    // for the clock to pass a second is needed to tell them from a fresh fetch.
    let requests = sandbox.stats()["requests"].clone();
    let again = last(&session(&sandbox, Some(&cache), 3), &query).await;
    assert_eq!(sandbox.stats()["requests"], requests, "the rerun is answered from the cache");
    assert_eq!(stamp(&again), fetched, "a cached row keeps the time HG sent it");

    let explained = last(
        &session(&sandbox, Some(&cache), 3),
        &format!(
            "EXPLAIN SELECT employees_total FROM hg.firmographics WHERE company_id IN ('{}', '{}', '{}', '{}')",
            ids[0], ids[1], ids[2], ids[3]
        ),
    )
    .await;
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&explained.batches).unwrap().to_string();
    assert!(text.contains("(4 values, 2 requests, up to 2 credits, 2 from the cache)"), "{text}");
}
