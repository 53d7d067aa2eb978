//! hg.search: conditions on its criteria reach HG as the search's filters, and give the
//! companies the data set says fit them, in HG's order; `ORDER BY search_rank LIMIT n` and
//! `LIMIT n` ask only for the pages n rows need; conditions HG cannot be sent fail before any
//! call. The expected rows are worked out from the sandbox's data set, not from hgsql.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use hgsql::api::{ApiKey, ClientConfig, HgClient, ResponseCache};
use hgsql::sandbox::Sandbox;
use hgsql::sandbox::data::{CompanyLevel, DataSet};
use hgsql::session::Session;

use crate::support::sandbox;

fn session(sandbox: &Sandbox, cache: Option<Arc<ResponseCache>>) -> Session {
    let mut config = ClientConfig { rate: None, ..ClientConfig::new(sandbox.base_url(), ApiKey::new(sandbox.key())) };
    config.cache = cache;
    Session::with_client(HgClient::new(config).unwrap())
}

fn search_calls(sandbox: &Sandbox) -> u64 {
    sandbox.stats()["endpoints"]["company/search"]["calls"].as_u64().unwrap_or(0)
}

/// Rows of `sql` as (company_id, search_rank, the third column as text or None).
async fn rows(session: &Session, sql: &str) -> Vec<(String, i64, Option<String>)> {
    let results = session.run(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    for batch in &results.last().unwrap().batches {
        let ids = batch.column(0).as_string::<i32>();
        let ranks = batch.column(1).as_primitive::<Int64Type>();
        let third =
            datafusion::arrow::compute::cast(batch.column(2), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
        let third = third.as_string::<i32>();
        for i in 0..batch.num_rows() {
            out.push((ids.value(i).to_string(), ranks.value(i), third.is_valid(i).then(|| third.value(i).to_string())));
        }
    }
    out
}

/// The ids of the companies that pass `fits`, in the sandbox's order (largest revenue first).
fn expected(data: &DataSet, fits: impl Fn(u32) -> bool) -> Vec<String> {
    data.by_revenue
        .iter()
        .copied()
        .filter(|&c| fits(c))
        .take(25_000)
        .map(|c| format!("{:032X}", data.company(c).id))
        .collect()
}

fn products(data: &DataSet, company: u32) -> Vec<i64> {
    data.installs_of(company).iter().map(|i| data.catalog.products[i.product as usize].id).collect()
}

fn vendors(data: &DataSet, company: u32) -> Vec<i64> {
    data.installs_of(company)
        .iter()
        .map(|i| data.catalog.vendors[data.catalog.products[i.product as usize].vendor as usize].id)
        .collect()
}

fn ids(rows: &[(String, i64, Option<String>)]) -> Vec<String> {
    rows.iter().map(|r| r.0.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn criteria_find_the_companies_that_fit_them_in_hgs_order() {
    let sandbox = sandbox(|_| {}).await;
    let session = session(&sandbox, None);
    let data: &DataSet = sandbox.data();
    let company = |c: u32| data.company(c);

    let german = rows(
        &session,
        "SELECT company_id, search_rank, country_code FROM hg.search WHERE country_code = 'DE' ORDER BY search_rank",
    )
    .await;
    let want = expected(data, |c| company(c).country().code == "DE");
    assert!(want.len() > 100, "more than a page: {}", want.len());
    assert_eq!(ids(&german), want);
    assert!(german.iter().enumerate().all(|(i, r)| r.1 == i as i64 + 1), "search_rank counts from 1");
    assert!(german.iter().all(|r| r.2.as_deref() == Some("DE")), "a pinned criterion shows the value asked");

    let sized = rows(
        &session,
        "SELECT company_id, search_rank, employees_total FROM hg.search
         WHERE country_code IN ('DE', 'AT', 'CH') AND employees_total BETWEEN 500 AND 10000
           AND revenue_total > 50000000.5 AND is_global_headquarters ORDER BY search_rank",
    )
    .await;
    let want = expected(data, |c| {
        let c = company(c);
        ["DE", "AT", "CH"].contains(&c.country().code)
            && c.employees.is_some_and(|e| (500..=10_000).contains(&e))
            && c.revenue.is_some_and(|r| r > 50_000_000)
            && c.level == CompanyLevel::GlobalHq
    });
    assert!(!want.is_empty());
    assert_eq!(ids(&sized), want);
    assert!(sized.iter().all(|r| r.2.is_none()), "a range pins no value: NULL");

    // To SQL a row has one product_id (DataFusion folds `= 814 AND = 1023` to nothing), so
    // companies using both are the INTERSECT of two searches.
    let both = rows(
        &session,
        "SELECT company_id, 0, NULL FROM hg.search WHERE product_id = 814 AND NOT is_global_headquarters
         INTERSECT SELECT company_id, 0, NULL FROM hg.search WHERE product_id = 1023",
    )
    .await;
    let mut want = expected(data, |c| {
        let p = products(data, c);
        p.contains(&814) && p.contains(&1023) && company(c).level != CompanyLevel::GlobalHq
    });
    assert!(!want.is_empty());
    let mut got = ids(&both);
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let users =
        rows(&session, "SELECT company_id, search_rank, product_id FROM hg.search WHERE product_id = 814").await;
    assert_eq!(ids(&users), expected(data, |c| products(data, c).contains(&814)));
    assert!(users.iter().all(|r| r.2.as_deref() == Some("814")), "the product asked, shown");

    let vendor = rows(
        &session,
        "SELECT company_id, search_rank, vendor_id FROM hg.search
         WHERE vendor_id IN (316) AND vendor_id NOT IN (317) AND country_code NOT IN ('US')",
    )
    .await;
    let want = expected(data, |c| {
        let v = vendors(data, c);
        v.contains(&316) && !v.contains(&317) && company(c).country().code != "US"
    });
    assert!(!want.is_empty());
    assert_eq!(ids(&vendor), want);
    assert!(vendor.iter().all(|r| r.2.as_deref() == Some("316")), "316 is pinned: named, not excluded");

    let industry = company(data.by_revenue[0]).industry().expect("the largest company has an industry").id;
    let other = rows(
        &session,
        &format!(
            "SELECT company_id, search_rank, industry_id FROM hg.search
             WHERE industry_id <> {industry} AND employees_total >= 1000 AND employees_total < 5000 ORDER BY search_rank"
        ),
    )
    .await;
    let want = expected(data, |c| {
        company(c).industry().is_none_or(|i| i.id != industry)
            && company(c).employees.is_some_and(|e| (1000..5000).contains(&e))
    });
    assert_eq!(ids(&other), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_asks_only_for_the_pages_it_needs_and_the_cache_answers_a_rerun() {
    let sandbox = sandbox(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(ResponseCache::open(&dir.path().join("cache.sqlite")).unwrap());
    let session = session(&sandbox, Some(cache));
    let data: &DataSet = sandbox.data();
    let everyone = expected(data, |_| true);

    let first =
        rows(&session, "SELECT company_id, search_rank, company_name FROM hg.search ORDER BY search_rank LIMIT 150")
            .await;
    assert_eq!(ids(&first), everyone[..150]);
    assert_eq!(search_calls(&sandbox), 2, "pages of 100: two pages hold 150 rows");

    let plain = rows(&session, "SELECT company_id, search_rank, company_name FROM hg.search LIMIT 30").await;
    assert_eq!(plain.len(), 30);
    assert_eq!(search_calls(&sandbox), 3, "a LIMIT without ORDER BY asks 30 rows, once");

    let german = |c: u32| data.company(c).country().code == "DE";
    let sql = "SELECT company_id, search_rank, country_code FROM hg.search WHERE country_code = 'DE'";
    let whole = rows(&session, sql).await;
    assert_eq!(ids(&whole), expected(data, german));
    let pages = search_calls(&sandbox) - 3;
    assert_eq!(pages as usize, whole.len() / 100 + 1, "every page once, up to the short one");
    let again = rows(&session, sql).await;
    assert_eq!(ids(&again), ids(&whole));
    assert_eq!(search_calls(&sandbox), 3 + pages, "the rerun is answered by the cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_hg_cannot_apply_fail_before_any_call() {
    let sandbox = sandbox(|_| {}).await;
    let session = session(&sandbox, None);
    for (sql, says) in [
        (
            "SELECT company_id FROM hg.search WHERE country_code = 'DE' OR company_name LIKE 'A%'",
            "country_code is a search criterion",
        ),
        ("SELECT company_id FROM hg.search WHERE employees_total + 1 > 500", "employees_total is a search criterion"),
        ("SELECT company_id FROM hg.search WHERE product_id IS NULL", "product_id is a search criterion"),
        (
            "SELECT s.company_id FROM (VALUES ('DE')) a(c) JOIN hg.search s ON s.country_code = a.c",
            "country_code cannot be joined on",
        ),
    ] {
        let Err(error) = session.run(sql).await else { panic!("{sql} ran") };
        let error = error.to_string();
        assert!(error.contains(says), "{sql}: {error}");
    }
    // Conditions that admit no company ask nothing.
    for sql in [
        "SELECT count(*) FROM hg.search WHERE is_global_headquarters AND NOT is_global_headquarters",
        "SELECT count(*) FROM hg.search WHERE employees_total > 100 AND employees_total < 50",
        "SELECT count(*) FROM hg.search WHERE employees_total = 10.5",
    ] {
        let results = session.run(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let count = results.last().unwrap().batches[0].column(0).as_primitive::<Int64Type>().value(0);
        assert_eq!(count, 0, "{sql}");
    }
    assert_eq!(sandbox.stats()["requests"].as_u64().unwrap_or(0), 0, "no request at all");
}
