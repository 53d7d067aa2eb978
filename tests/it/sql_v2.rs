//! The same SQL on HG's v2: one data set behind both versions, so every query a v1 client
//! answers (tested against the data set elsewhere) must give the same rows on v2, whatever the
//! sandbox's v2 switches do to order, stubs, spellings and batch size, in the fewest requests
//! v2 allows: ⌈inputs / 10⌉ matches and ⌈companies / 25⌉ enrich requests per field group.

use std::collections::BTreeSet;

use hgsql::api::{ApiKey, ApiVersion, ClientConfig, HgClient};
use hgsql::sandbox::v2::Quirks;
use hgsql::sandbox::{Endpoint, Sandbox};
use hgsql::session::Session;
use serde_json::Value;

use crate::support::sandbox;

/// A session on `version` of `sandbox`, with no cache and no rate limit.
fn session(sandbox: &Sandbox, version: ApiVersion, tune: impl FnOnce(&mut ClientConfig)) -> Session {
    let mut config = match version {
        ApiVersion::V1 => ClientConfig::new(sandbox.base_url(), ApiKey::new(sandbox.key())),
        ApiVersion::V2 => ClientConfig::new(sandbox.base_url_v2(), ApiKey::new(sandbox.key_v2())),
    };
    assert_eq!(config.version, version, "the key and the base URL say the version");
    config.rate = None;
    tune(&mut config);
    Session::with_client(HgClient::new(config).unwrap())
}

/// The rows of the last statement of `sql`, printed.
async fn text(session: &Session, sql: &str) -> String {
    let results = session.run(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    arrow::util::pretty::pretty_format_batches(&results.last().unwrap().batches).unwrap().to_string()
}

fn calls(stats: &Value, endpoint: &str) -> u64 {
    stats["endpoints"][endpoint]["calls"].as_u64().unwrap_or(0)
}

/// The message of the error `sql` fails with.
async fn failure(session: &Session, sql: &str) -> String {
    match session.run(sql).await {
        Ok(_) => panic!("{sql} did not fail"),
        Err(error) => error.to_string(),
    }
}

/// `n` distinct domains of the data set, some spelled as a user would paste them.
fn domains(sandbox: &Sandbox, n: usize) -> Vec<String> {
    let data = sandbox.data();
    let mut seen = BTreeSet::new();
    (0..data.companies.len() as u32)
        .map(|c| data.company(c).domain.clone())
        .filter(|d| seen.insert(hgsql::api::normalize_domain(d).unwrap_or_default()))
        .take(n)
        .enumerate()
        .map(|(i, d)| if i % 3 == 0 { format!("https://www.{d}/about") } else { d })
        .collect()
}

fn values(items: &[String]) -> String {
    items.iter().map(|d| format!("('{d}')")).collect::<Vec<_>>().join(", ")
}

/// Queries on every table v2 serves, over accounts `(domain)`: match with a rank limit,
/// profiles, installs filtered and unfiltered, spend.
fn queries(accounts: &str) -> Vec<(&'static str, String)> {
    let matched = format!(
        "WITH a(domain) AS (VALUES {accounts}) SELECT DISTINCT c.company_id FROM a JOIN hg.companies c ON c.match_domain = a.domain"
    );
    vec![
        (
            "companies",
            format!(
                "WITH a(domain) AS (VALUES {accounts}) SELECT a.domain, c.match_rank, c.company_id, c.company_name, c.domain_name
                 FROM a LEFT JOIN hg.companies c ON c.match_domain = a.domain AND c.match_rank <= 2 ORDER BY 1, 2"
            ),
        ),
        (
            "firmographics",
            format!(
                "WITH m AS ({matched}) SELECT f.* EXCLUDE (_hg_fetched_at) FROM m JOIN hg.firmographics f ON f.company_id = m.company_id ORDER BY f.company_id"
            ),
        ),
        (
            "installs of two products",
            format!(
                "WITH m AS ({matched}) SELECT i.* EXCLUDE (_hg_fetched_at) FROM m JOIN hg.installs i ON i.company_id = m.company_id
                 WHERE i.product_id IN (814, 1023) ORDER BY i.company_id, i.product_id, i.country_code"
            ),
        ),
        (
            "all installs but two vendors",
            format!(
                "WITH m AS ({matched}) SELECT i.company_id, i.product_id, i.vendor_id, i.country_code, i.product_intensity
                 FROM m JOIN hg.installs i ON i.company_id = m.company_id WHERE i.vendor_id NOT IN (1, 2)
                 ORDER BY 1, 2, 4"
            ),
        ),
        (
            "intent, the columns v2 sends",
            format!(
                "WITH m AS ({matched}) SELECT t.company_id, t.topic_id, t.topic_name, t.signal_strength, t.signal_trend,
                        t.location_strength, t.buyers_journey_name, t.context_name_array, t.datestamp
                 FROM m JOIN hg.intent t ON t.company_id = m.company_id ORDER BY 1, 2"
            ),
        ),
        (
            "search",
            "SELECT company_id, company_name, domain_name, search_rank, country_code FROM hg.search
             WHERE country_code IN ('DE', 'FR') AND employees_total >= 50 AND NOT is_global_headquarters
             ORDER BY search_rank"
                .to_string(),
        ),
        (
            "search for a product, first rows",
            "SELECT company_id, company_name FROM hg.search WHERE product_id = 814 ORDER BY search_rank LIMIT 30"
                .to_string(),
        ),
        ("products", "SELECT id, name, description, vendor_id, product_category_id FROM hg.products WHERE name ILIKE '%cloud%' ORDER BY id".to_string()),
        ("vendors", "SELECT id, name, domain_name FROM hg.vendors ORDER BY id".to_string()),
        ("categories", "SELECT id, name, level, parent_id FROM hg.categories ORDER BY id".to_string()),
        (
            "spend",
            format!(
                "WITH m AS ({matched}) SELECT s.* EXCLUDE (_hg_fetched_at) FROM m JOIN hg.spend s ON s.company_id = m.company_id
                 ORDER BY s.company_id, s.category_id, s.country_code"
            ),
        ),
    ]
}

/// Every query gives the same rows on v2 as on v1: under the default v2, and with every switch
/// on at once (another order, stubs, the older spellings, batches of at most 7). Pages of 3
/// rows make installs and spend span several pages per company.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_gives_the_same_rows_on_v2_as_on_v1() {
    let bent = Quirks { max_batch: 7, shuffled: true, stubs: true, old_spellings: true, no_credit_header: true };
    for quirks in [Quirks::default(), bent] {
        let sandbox = sandbox(|c| c.v2 = quirks).await;
        let accounts = values(&domains(&sandbox, 40));
        let small_pages = |c: &mut ClientConfig| c.page_size = 3;
        let (v1, v2) = (session(&sandbox, ApiVersion::V1, small_pages), session(&sandbox, ApiVersion::V2, small_pages));
        for (name, sql) in queries(&accounts) {
            // The older spelling `sic_code` is one code, not the list: the first only.
            let sql = if quirks.old_spellings {
                sql.replace("f.* EXCLUDE (_hg_fetched_at)", "f.* EXCLUDE (_hg_fetched_at, sic_codes)")
            } else {
                sql
            };
            let (on_v1, on_v2) = (text(&v1, &sql).await, text(&v2, &sql).await);
            assert!(on_v1.lines().count() > 4 + 10, "{name}: v1 returned almost nothing:\n{on_v1}");
            let differs = on_v1.lines().zip(on_v2.lines()).find(|(a, b)| a != b);
            assert!(differs.is_none(), "{name} differs on v2 under {quirks:?}: {differs:?}");
            assert_eq!(on_v1.lines().count(), on_v2.lines().count(), "{name}: rows on v2 under {quirks:?}");
        }
        let stats = sandbox.stats();
        assert!(calls(&stats, "v2/companies/enrich") > 0 && calls(&stats, "v2/companies/match") > 0, "{stats}");
        if quirks.max_batch < 25 {
            let refused = stats["endpoints"]["v2/companies/enrich"]["status"]["422"].as_u64().unwrap_or(0);
            // 25 refused, 12 refused, then 6 a request; batches already in flight may be
            // refused too before the smaller size is learnt.
            assert!((1..=2 * 8).contains(&refused), "{stats}");
        }
    }
}

/// The lookup join on v2 costs exactly ⌈distinct hosts / 10⌉ match requests, then
/// ⌈matched companies / 25⌉ enrich requests for each table read (the filter on two products
/// keeps every company's installs within one page).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookup_join_on_v2_makes_the_fewest_requests() {
    let sandbox = sandbox(|_| {}).await;
    let asked = domains(&sandbox, 137);
    let v2 = session(&sandbox, ApiVersion::V2, |_| {});
    let accounts = values(&asked);
    let sql = format!(
        "WITH a(domain) AS (VALUES {accounts})
         SELECT a.domain, f.company_name, i.product_id
         FROM a JOIN hg.companies c ON c.match_domain = a.domain
         JOIN hg.firmographics f ON f.company_id = c.company_id
         LEFT JOIN hg.installs i ON i.company_id = c.company_id AND i.product_id IN (814, 1023)"
    );
    let matched = text(&v2, &format!("WITH a(domain) AS (VALUES {accounts}) SELECT count(DISTINCT c.company_id) AS n FROM a JOIN hg.companies c ON c.match_domain = a.domain")).await;
    let matched: u64 = matched.lines().nth(3).unwrap().trim_matches(|c: char| c == '|' || c == ' ').parse().unwrap();
    assert!(matched > 100, "most hosts match: {matched}");
    sandbox.reset_stats();
    let v2 = session(&sandbox, ApiVersion::V2, |_| {});
    text(&v2, &sql).await;
    let stats = sandbox.stats();
    assert_eq!(calls(&stats, "v2/companies/match"), 137u64.div_ceil(10), "{stats}");
    assert_eq!(calls(&stats, "v2/companies/enrich"), 2 * matched.div_ceil(25), "{stats}");
    assert_eq!(stats["endpoints"]["v2/companies/enrich"]["companies"].as_u64(), Some(2 * matched), "{stats}");
    assert_eq!(stats["companies_repeated"].as_u64(), Some(0), "{stats}");
    assert_eq!(calls(&stats, "company/match") + calls(&stats, "company/firmographic"), 0, "nothing went to v1");
}

/// The main job's shape (LEFT JOINs from the accounts to companies, firmographics and
/// installs): on v2 firmographics and installs ride on the same enrich requests, so it makes
/// exactly ⌈distinct hosts / 10⌉ match requests and ⌈matched companies / 25⌉ enrich requests,
/// gives v1's rows and spends v1's credits. A filter between the joins (here, an inner join
/// that may drop companies) makes the scans ask separately.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_job_on_v2_shares_enrich_requests_and_spends_what_v1_spends() {
    let sandbox = sandbox(|_| {}).await;
    let mut asked = domains(&sandbox, 133);
    asked.extend(["nomatch.example".to_string(), asked[4].clone()]);
    let accounts = values(&asked);
    let job = format!(
        "WITH a(website) AS (VALUES {accounts})
         SELECT a.website, c.company_id, f.revenue_band, f.employees_total,
                coalesce(array_to_string(array_agg(DISTINCT i.product_name ORDER BY i.product_name), ', '), '') AS products,
                coalesce(bool_or(i.product_id = 814), false) AS has_salesforce
         FROM a LEFT JOIN hg.companies c ON c.match_domain = a.website
         LEFT JOIN hg.firmographics f ON f.company_id = c.company_id
         LEFT JOIN hg.installs i ON i.company_id = c.company_id AND i.product_id IN (814, 1023)
         GROUP BY a.website, c.company_id, f.revenue_band, f.employees_total ORDER BY 1"
    );
    let v2 = session(&sandbox, ApiVersion::V2, |_| {});
    let plan = text(&v2, &format!("EXPLAIN {job}")).await;
    assert!(plan.contains("table=hg.firmographics") && plan.contains("requests shared with hg.installs"), "{plan}");
    assert!(plan.contains("rows from the requests of hg.firmographics"), "{plan}");
    let on_v2 = text(&v2, &job).await;
    let stats = sandbox.stats();
    let on_v1 = text(&session(&sandbox, ApiVersion::V1, |_| {}), &job).await;
    assert_eq!(on_v2, on_v1, "the same rows");
    let matched = sandbox.stats()["endpoints"]["company/firmographic"]["calls"].as_u64().unwrap();
    assert!(matched > 100, "v1 made one firmographic request per matched company: {matched}");
    assert_eq!(calls(&stats, "v2/companies/match"), 134u64.div_ceil(10), "{stats}");
    assert_eq!(calls(&stats, "v2/companies/enrich"), matched.div_ceil(25), "one request for both groups: {stats}");
    let groups = &stats["endpoints"]["v2/companies/enrich"]["groups"];
    let all = sandbox.stats();
    assert_eq!(groups["firmographics"], all["endpoints"]["company/firmographic"]["companies_charged"], "{all}");
    assert_eq!(groups["technographics"], all["endpoints"]["company/installs"]["companies_charged"], "{all}");
    assert_eq!(stats["companies_repeated"].as_u64(), Some(0), "{stats}");

    // An inner join between them may drop companies: the scans ask separately.
    let narrowed = job.replace("LEFT JOIN hg.firmographics", "JOIN hg.firmographics");
    let plan = text(&v2, &format!("EXPLAIN {narrowed}")).await;
    assert!(!plan.contains("shared") && !plan.contains("rows from the requests"), "{plan}");
    // So may a second join that gives the installs scan keys of its own.
    let some =
        "SELECT i.* FROM hg.installs i JOIN (VALUES ('00000000000000000000000000000001')) k(id) ON k.id = i.company_id";
    let narrowed = job.replace("LEFT JOIN hg.installs i", &format!("LEFT JOIN ({some}) i"));
    let plan = text(&v2, &format!("EXPLAIN {narrowed}")).await;
    assert!(plan.contains("table=hg.installs") && !plan.contains("rows from the requests"), "{plan}");
}

/// Installs page per company: a company is asked again, at the next offset, only while its
/// rows go on, so it rides in exactly ⌈its rows / page⌉ requests; no page is asked twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_companies_with_more_rows_are_asked_again() {
    let sandbox = sandbox(|_| {}).await;
    let data = sandbox.data();
    let companies: Vec<u32> =
        (0..data.companies.len() as u32).filter(|&c| !data.installs_of(c).is_empty()).take(60).collect();
    let ids: Vec<String> = companies.iter().map(|&c| format!("'{:032X}'", data.company(c).id)).collect();
    let v2 = session(&sandbox, ApiVersion::V2, |c| c.page_size = 4);
    let sql = format!(
        "SELECT company_id, product_id, country_code FROM hg.installs WHERE company_id IN ({}) ORDER BY 1, 2, 3",
        ids.join(", ")
    );
    let rows = text(&v2, &sql).await;
    let expected_rows: usize = companies.iter().map(|&c| data.installs_of(c).len()).sum();
    assert_eq!(rows.lines().count(), expected_rows + 4, "every install of every company");
    let carried: u64 = companies.iter().map(|&c| data.installs_of(c).len().div_ceil(4) as u64).sum();
    let stats = sandbox.stats();
    let enrich = &stats["endpoints"]["v2/companies/enrich"];
    assert_eq!(enrich["companies"].as_u64(), Some(carried), "{stats}");
    assert_eq!(enrich["companies_repeated"].as_u64(), Some(0), "{stats}");
    assert!(calls(&stats, "v2/companies/enrich") < carried.div_ceil(2), "batched: {stats}");
}

/// A key without technographics: the query fails naming the group and the table, and the
/// groups the key has keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_field_group_names_the_table_and_the_rest_works() {
    let sandbox = sandbox(|c| c.deny = vec![Endpoint::Installs]).await;
    let v2 = session(&sandbox, ApiVersion::V2, |_| {});
    let accounts = values(&domains(&sandbox, 5));
    let matched = format!(
        "WITH a(domain) AS (VALUES {accounts}) SELECT DISTINCT c.company_id FROM a JOIN hg.companies c ON c.match_domain = a.domain"
    );
    let error = failure(
        &v2,
        &format!("WITH m AS ({matched}) SELECT i.product_id FROM m JOIN hg.installs i ON i.company_id = m.company_id"),
    )
    .await;
    assert!(error.contains("'technographics'") && error.contains("hg.installs"), "{error}");
    let profiles = text(
        &v2,
        &format!(
            "WITH m AS ({matched}) SELECT f.company_name FROM m JOIN hg.firmographics f ON f.company_id = m.company_id"
        ),
    )
    .await;
    assert!(profiles.lines().count() > 4 + 3, "{profiles}");
}

/// The first column of `sql`'s rows, as text.
async fn strings(session: &Session, sql: &str) -> Vec<String> {
    use datafusion::arrow::array::{Array, AsArray};
    let results = session.run(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    for batch in &results.last().unwrap().batches {
        let column =
            datafusion::arrow::compute::cast(batch.column(0), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
        let column = column.as_string::<i32>();
        out.extend((0..column.len()).map(|i| column.value(i).to_string()));
    }
    out
}

/// hg.functional_areas, v2's buying centre: its rows are what the endpoint answers for each
/// company and the products asked (asked here over plain HTTP, the oracle), and the client
/// counts the credits the sandbox charges, one per company and product. Without products, or
/// on a v1 key, it fails before any call, saying what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functional_areas_come_per_company_and_product_on_v2_only() {
    let sandbox = sandbox(|_| {}).await;
    let data = sandbox.data();
    let product_of = |c: u32| -> BTreeSet<i64> {
        data.installs_of(c).iter().map(|i| data.catalog.products[i.product as usize].id).collect()
    };
    let first = (0..data.companies.len() as u32).find(|&c| product_of(c).len() >= 2).unwrap();
    let products: Vec<i64> = product_of(first).into_iter().take(2).collect();
    let companies: Vec<u32> = (0..data.companies.len() as u32)
        .filter(|&c| product_of(c).iter().any(|p| products.contains(p)))
        .take(6)
        .collect();
    let ids: Vec<String> = companies.iter().map(|&c| format!("{:032X}", data.company(c).id)).collect();
    let list = |items: &[String]| items.iter().map(|i| format!("('{i}')")).collect::<Vec<_>>().join(", ");
    let wanted = products.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT concat_ws('|', fa.company_id, fa.product_id, fa.department, fa.role, coalesce(fa.country_code, ''),
                          fa.signal_strength, array_to_string(fa.decision_maker_titles, ';')) AS k
         FROM (VALUES {}) a(id) JOIN hg.functional_areas fa ON fa.company_id = a.id
         WHERE fa.product_id IN ({wanted}) ORDER BY k",
        list(&ids)
    );
    let v2 = session(&sandbox, ApiVersion::V2, |_| {});
    let got = strings(&v2, &sql).await;
    let charged = sandbox.stats()["endpoints"]["v2/companies/functional-areas"]["companies_charged"].as_u64().unwrap();
    let spent = v2.client().unwrap().metrics().credits_spent;

    let http = crate::support::Api::v2(&sandbox);
    let mut expected = Vec::new();
    let mut pairs = BTreeSet::new();
    for id in &ids {
        let body = serde_json::json!({"company": {"id": id}, "filters": {"products": {"ids": products}}});
        let reply = http.post("/companies/functional-areas", body).await;
        for row in reply.body["data"].as_array().unwrap() {
            let titles: Vec<&str> =
                row["decision_maker_titles"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
            expected.push(format!(
                "{id}|{}|{}|{}|{}|{}|{}",
                row["product_id"],
                row["department"].as_str().unwrap(),
                row["role"].as_str().unwrap(),
                row["country_code"].as_str().unwrap_or(""),
                row["signal_strength"],
                titles.join(";")
            ));
            pairs.insert((id.clone(), row["product_id"].as_i64().unwrap()));
        }
    }
    expected.sort();
    assert!(expected.len() > 6, "the companies use the products: {expected:?}");
    assert_eq!(got, expected, "the endpoint's rows, each with its company");
    assert_eq!(charged, pairs.len() as u64, "one credit per company and product with areas");
    assert_eq!(spent, charged, "the client counts what the sandbox charged");

    let before = sandbox.stats()["requests"].as_u64().unwrap();
    let unbounded = failure(&v2, &format!("SELECT * FROM hg.functional_areas WHERE company_id = '{}'", ids[0])).await;
    assert!(unbounded.contains("product_id") && unbounded.contains("= or IN"), "{unbounded}");
    let v1 = session(&sandbox, ApiVersion::V1, |_| {});
    let on_v1 = failure(&v1, &sql).await;
    assert!(on_v1.contains("hg.functional_areas") && on_v1.contains("v2 key"), "{on_v1}");
    assert_eq!(sandbox.stats()["requests"].as_u64().unwrap(), before, "neither made a call");
}

/// The cost preview on v2: EXPLAIN of literal keys and `--dry-run` ask HG's free estimate and
/// show it beside hgsql's own count, and spend nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_preview_shows_hgs_own_estimate_and_spends_nothing() {
    let sandbox = sandbox(|_| {}).await;
    let data = sandbox.data();
    let ids: Vec<String> = (0..30u32).map(|c| format!("'{:032X}'", data.company(c * 7).id)).collect();
    let sql = format!(
        "SELECT f.company_name, i.product_id FROM hg.firmographics f LEFT JOIN hg.installs i ON i.company_id = f.company_id
         WHERE f.company_id IN ({})",
        ids.join(", ")
    );
    let v2 = session(&sandbox, ApiVersion::V2, |_| {});
    let plan = text(&v2, &format!("EXPLAIN {sql}")).await;
    // DataFusion gives the installs scan the literal keys too (through the join's equality).
    assert!(plan.contains("2 requests, up to 30 credits, 0 from the cache (HG's own estimate: at most 30)"), "{plan}");
    assert_eq!(plan.matches("(HG's own estimate: at most 30)").count(), 2, "{plan}");
    assert_eq!(calls(&sandbox.stats(), "v2/companies/enrich/estimate"), 4, "EXPLAIN asks once per batch");
    let dry = session(&sandbox, ApiVersion::V2, |c| c.dry_run = true);
    dry.run(&sql).await.unwrap();
    let metrics = dry.client().unwrap().metrics();
    assert_eq!((metrics.dry_run_requests, metrics.dry_run_credits), (4, 60), "two groups of 30, in batches of 25");
    assert_eq!(metrics.dry_run_hg_estimate, Some(60), "HG's ceiling: 30 companies in each group");
    let stats = sandbox.stats();
    assert_eq!(calls(&stats, "v2/companies/enrich"), 0, "{stats}");
    assert_eq!(calls(&stats, "v2/companies/enrich/estimate"), 4 + 4, "{stats}");
    assert_eq!(stats["companies_charged"].as_u64(), Some(0), "{stats}");
}

/// A credit budget with shared requests in flight: each request reserves the worst case of
/// both its groups at once, so concurrent requests stop at the budget with the usual message
/// instead of each holding one group while it waits for the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_stops_shared_requests_at_the_budget() {
    let sandbox = sandbox(|_| {}).await;
    let accounts = values(&domains(&sandbox, 400));
    let v2 = session(&sandbox, ApiVersion::V2, |_| {});
    let job = format!(
        "SET hg.max_credits = 120; WITH a(website) AS (VALUES {accounts})
         SELECT count(*) FROM a LEFT JOIN hg.companies c ON c.match_domain = a.website
         LEFT JOIN hg.firmographics f ON f.company_id = c.company_id
         LEFT JOIN hg.installs i ON i.company_id = c.company_id AND i.product_id IN (814, 1023)"
    );
    let error = tokio::time::timeout(std::time::Duration::from_secs(60), failure(&v2, &job))
        .await
        .expect("the budget stops the query; it does not hang");
    assert!(error.contains("credit budget of 120"), "{error}");
    let spent = v2.client().unwrap().metrics().credits_spent;
    assert!(spent <= 120, "{spent}");
    assert!(sandbox.stats()["companies_charged"].as_u64().unwrap() <= 120, "{}", sandbox.stats());
}
