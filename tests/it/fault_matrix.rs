//! The fault matrix: the main job (`queries/enrich.sql`) plus a query on every other endpoint,
//! against a sandbox injecting one kind of fault at 5% and at 30% of requests, on HG's v1 and
//! on v2. Every run must give the same answers as a run without faults (on v2, the same as on
//! v1), and no company may reach the client intact twice (what a retry that re-asks for
//! answered companies would pay for again).
//!
//! The client here retries more (12 attempts) and sooner (waits of at most 20 ms) than by
//! default, so that 30% faults over ~500 requests finish in seconds and cannot exhaust the
//! attempts by bad luck (0.3^12 per request); what is tested is that a retried request gets the
//! same answer and costs nothing extra, not the backoff schedule (unit-tested in `api::retry`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hgsql::api::{ApiKey, ApiVersion, ClientConfig, HgClient, ResponseCache};
use hgsql::sandbox::{Fault, Sandbox, SandboxConfig};
use hgsql::session::Session;
use serde_json::Value;
use tokio::sync::OnceCell;

/// What one run produced: each statement's rows as text, and what the sandbox counted.
#[derive(Debug)]
struct Run {
    results: Vec<(String, String)>,
    stats: Value,
    client_credits: u64,
}

/// Queries on the endpoints the enrichment does not touch, over the companies it matched.
const OTHER_ENDPOINTS: &[(&str, &str)] = &[
    ("enriched", "SELECT * FROM 'OUT' ORDER BY account_id"),
    (
        "spend",
        "SELECT s.company_id, s.category_id, s.country_code, s.spend
         FROM (SELECT DISTINCT company_id FROM 'OUT' WHERE company_id IS NOT NULL) e
         JOIN hg.spend s ON s.company_id = e.company_id
         ORDER BY 1, 2, 3",
    ),
    (
        "intent",
        "SELECT t.company_id, t.topic_id, t.signal_strength, t.datestamp
         FROM (SELECT DISTINCT company_id FROM 'OUT' WHERE company_id IS NOT NULL) e
         JOIN hg.intent t ON t.company_id = e.company_id
         ORDER BY 1, 2, 4",
    ),
    ("search", "SELECT * FROM (SELECT company_id, company_name FROM hg.search LIMIT 250) ORDER BY company_id"),
    ("products", "SELECT id, name, vendor_id FROM hg.products WHERE name ILIKE '%cloud%' ORDER BY id"),
    ("vendors", "SELECT id, name FROM hg.vendors ORDER BY id"),
    ("categories", "SELECT id, name, level FROM hg.categories ORDER BY id"),
];

/// Endpoints the statements above must reach on `version`, so a fault can land on each.
fn endpoints(version: ApiVersion) -> &'static [&'static str] {
    match version {
        ApiVersion::V1 => &[
            "company/match",
            "company/firmographic",
            "company/installs",
            "company/spend",
            "company/intent",
            "company/search",
            "catalog/products",
            "catalog/vendors",
            "catalog/product-categories",
        ],
        ApiVersion::V2 => &[
            "v2/companies/match",
            "v2/companies/enrich",
            "v2/intent/enrich",
            "v2/companies/search",
            "v2/catalog/products",
            "v2/catalog/vendors",
            "v2/catalog/product-categories",
        ],
    }
}

/// A client of `sandbox`'s `version`, with its key.
fn client_config(sandbox: &Sandbox, version: ApiVersion) -> ClientConfig {
    let config = match version {
        ApiVersion::V1 => ClientConfig::new(sandbox.base_url(), ApiKey::new(sandbox.key())),
        ApiVersion::V2 => ClientConfig::new(sandbox.base_url_v2(), ApiKey::new(sandbox.key_v2())),
    };
    ClientConfig { rate: None, ..config }
}

async fn enrich(sandbox: &Sandbox, dir: &Path, version: ApiVersion) -> Run {
    let mut config = client_config(sandbox, version);
    config.retry.max_attempts = 12;
    config.retry.base_delay = Duration::from_millis(1);
    config.retry.max_delay = Duration::from_millis(20);
    config.cache = Some(Arc::new(ResponseCache::open(&dir.join("cache.sqlite")).expect("cache")));
    let session = Session::with_client(HgClient::new(config).expect("client"));
    let out = dir.join("enriched.parquet");
    let root = env!("CARGO_MANIFEST_DIR");
    let sql = std::fs::read_to_string(format!("{root}/queries/enrich.sql"))
        .expect("enrich.sql")
        .replace("'queries/accounts.csv'", &format!("'{root}/queries/accounts.csv'"))
        .replace("'enriched.parquet'", &format!("'{}'", out.display()));
    session.run(&sql).await.unwrap_or_else(|e| panic!("the enrichment fails under faults: {e}"));
    let mut results = Vec::new();
    for (name, query) in OTHER_ENDPOINTS {
        let query = query.replace("OUT", &out.display().to_string());
        let result = session.run(&query).await.unwrap_or_else(|e| panic!("{name} fails under faults: {e}"));
        let batches = &result.last().expect("a result").batches;
        let text = arrow::util::pretty::pretty_format_batches(batches).expect("printable").to_string();
        results.push((name.to_string(), text));
    }
    let client_credits = session.client().expect("client").metrics().credits_spent;
    Run { results, stats: sandbox.stats(), client_credits }
}

/// The default data set (seed 42, which `queries/accounts.csv` is drawn from), no rate limit.
fn sandbox_config(fault_rate: f64, kinds: Vec<Fault>) -> SandboxConfig {
    SandboxConfig { rate: None, fault_rate, fault_kinds: kinds, ..SandboxConfig::default() }
}

/// The run without faults on `version`, shared by every kind's test.
async fn reference(version: ApiVersion) -> &'static Run {
    static REFERENCE: [OnceCell<Run>; 2] = [OnceCell::const_new(), OnceCell::const_new()];
    REFERENCE[version as usize]
        .get_or_init(|| async {
            let sandbox = Sandbox::start(sandbox_config(0.0, Vec::new())).await.expect("sandbox");
            let dir = tempfile::tempdir().expect("temp dir");
            let run = enrich(&sandbox, dir.path(), version).await;
            let rows = |name: &str| run.results.iter().find(|(n, _)| n == name).map_or(0, |(_, t)| t.lines().count());
            // The comparison below means something only if each statement returned rows (a
            // printed table has four lines of frame).
            for (name, _) in OTHER_ENDPOINTS {
                assert!(rows(name) > 4 + 3, "the fault-free {name} returned almost nothing:\n{run:?}");
            }
            assert_eq!(rows("enriched"), 204 + 4, "204 accounts and the table's frame");
            for endpoint in endpoints(version) {
                assert!(run.stats["endpoints"][endpoint]["calls"].as_u64().unwrap_or(0) > 0, "{endpoint} not reached");
            }
            run
        })
        .await
}

/// Runs the matrix row of one fault kind at 5% and 30%, on v1 and v2.
async fn matrix(kind: Fault) {
    for version in [ApiVersion::V1, ApiVersion::V2] {
        row(kind, version).await;
    }
}

async fn row(kind: Fault, version: ApiVersion) {
    let reference = reference(version).await;
    if version == ApiVersion::V2 {
        // One data set behind both versions: the same answers.
        let on_v1 = self::reference(ApiVersion::V1).await;
        for ((name, v1), (_, v2)) in on_v1.results.iter().zip(&reference.results) {
            assert!(v1 == v2, "{name} differs on v2:\n{v2}\nv1:\n{v1}");
        }
    }
    let charged = reference.stats["companies_charged"].as_u64().expect("charged");
    assert!(charged > 100, "the reference run charges for the companies it enriched: {charged}");
    assert_eq!(reference.client_credits, charged, "the client counts what the sandbox charged");
    for rate in [0.05, 0.30] {
        let label = format!("{version}: {} at {:.0}%", kind.name(), rate * 100.0);
        let sandbox = Sandbox::start(sandbox_config(rate, vec![kind])).await.expect("sandbox");
        let dir = tempfile::tempdir().expect("temp dir");
        let run = tokio::time::timeout(Duration::from_secs(180), enrich(&sandbox, dir.path(), version))
            .await
            .unwrap_or_else(|_| panic!("{label}: the enrichment did not finish in 180 s"));
        let injected = run.stats["faults"][kind.name()].as_u64().unwrap_or(0);
        let requests = run.stats["requests"].as_u64().unwrap_or(0);
        assert!(
            injected as f64 >= requests as f64 * rate * 0.5,
            "{label}: only {injected} faults in {requests} requests"
        );
        for ((name, expected), (_, got)) in reference.results.iter().zip(&run.results) {
            assert!(expected == got, "{label}: {name} differs from the fault-free run:\n{got}\nexpected:\n{expected}");
        }
        assert_eq!(run.stats["companies_repeated"], 0, "{label}: a company was delivered twice: {}", run.stats);
        assert_eq!(run.stats["companies_charged"].as_u64(), Some(charged), "{label}: charged differently");
        assert_eq!(run.client_credits, charged, "{label}: the client's credit count is off");
        for endpoint in endpoints(version) {
            let ok = |stats: &Value| stats["endpoints"][endpoint]["status"]["200"].as_u64().unwrap_or(0);
            // A truncated answer is a 200 the client could not read, so it asks again.
            if kind != Fault::TruncatedJson {
                assert_eq!(ok(&run.stats), ok(&reference.stats), "{label}: {endpoint} answered more often");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_survives_server_errors() {
    matrix(Fault::ServerError).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_survives_unavailable() {
    matrix(Fault::Unavailable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_survives_truncated_json() {
    matrix(Fault::TruncatedJson).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_survives_connection_resets() {
    matrix(Fault::ConnectionReset).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_survives_spurious_429s() {
    matrix(Fault::SpuriousTooManyRequests).await;
}
