//! HTTP tables at an API's rate limit, run by hand: `cargo bench --bench http_tables`
//! (`-- quick` for 1,000 keys).
//!
//! 10,000 distinct keys (domains of the sandbox's data set) joined with an HTTP table on the
//! sandbox's REST API, limited to 20 requests/s with 30 ms latency, with `batch_size` 1 (one
//! request a key) and 50 (`?ids=a,b,…`). The floor is (requests − burst) / rate; the target is
//! a wall time within 10% of it, every key asked once. Beside them, the per-row loop of a
//! spreadsheet script (one request per row, 200 ms apart, a retry on 429), timed over the
//! first 500 rows and scaled to all of them.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use hgsql::api::http::HttpContext;
use hgsql::sandbox::{Sandbox, SandboxConfig};
use hgsql::session::Session;

const RATE: f64 = 20.0;
const LOOP_SAMPLE: usize = 500;

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let keys = if quick { 1_000 } else { 10_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run(keys));
}

async fn run(keys: usize) {
    let config = SandboxConfig {
        companies: 40_000,
        latency: Duration::from_millis(30),
        rest_rate: Some(RATE),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.expect("sandbox");
    let mut seen = BTreeSet::new();
    let domains: Vec<String> = sandbox
        .data()
        .companies
        .iter()
        .map(|c| c.domain_normalized.clone())
        .filter(|d| seen.insert(d.clone()))
        .take(keys)
        .collect();
    assert_eq!(domains.len(), keys, "the data set has {keys} distinct domains");
    let dir = tempfile::tempdir().expect("temp dir");
    let accounts = dir.path().join("accounts.csv");
    std::fs::write(&accounts, format!("website\n{}\n", domains.join("\n"))).expect("accounts.csv");
    println!("| run | keys | requests | 429s | wall | floor | wall / floor |");
    println!("|---|---|---|---|---|---|---|");
    for batch in [50, 1] {
        let location = if batch == 1 {
            format!("{}/open/accounts/{{domain}}", sandbox.rest_url())
        } else {
            format!("{}/open/accounts?ids={{domain*}}", sandbox.rest_url())
        };
        let (rows_path, extra) = if batch == 1 {
            ("/account", String::new())
        } else {
            ("/data", format!(", 'batch_size' '{batch}', 'key_path.domain' '/domain'"))
        };
        let create = format!(
            "CREATE EXTERNAL TABLE crm (domain TEXT NOT NULL, owner TEXT) STORED AS HTTP LOCATION '{location}'
             OPTIONS ('rows_path' '{rows_path}', 'path.owner' '/owner/name', 'rate' '{RATE}/s'{extra})"
        );
        let query = format!(
            "SELECT count(*) AS accounts, count(c.owner) AS in_crm FROM '{}' a LEFT JOIN crm c ON c.domain = a.website",
            accounts.display()
        );
        sandbox.reset_stats();
        let mut session = Session::new();
        session.set_http_context(HttpContext::new(None, false, false, Default::default()));
        session.run(&create).await.expect("create");
        let started = Instant::now();
        let execution = session.execute(&query).await.expect("plan");
        let batches: Vec<_> = execution.stream.try_collect().await.expect("query");
        let wall = started.elapsed().as_secs_f64();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        let stats = sandbox.stats()["rest"].clone();
        let route = if batch == 1 { "accounts" } else { "accounts_batch" };
        let requests = stats["requests"][route].as_u64().unwrap_or(0);
        let throttled = stats["rate_limited"].as_u64().unwrap_or(0);
        let expected = keys.div_ceil(batch) as u64;
        assert_eq!(requests, expected, "each key asked once, batches used to the full");
        let floor = (expected as f64 - RATE.ceil()).max(0.0) / RATE;
        println!(
            "| hgsql, batch_size {batch} | {keys} | {requests} | {throttled} | {wall:.1} s | {floor:.1} s | {:.3} |",
            wall / floor.max(f64::EPSILON)
        );
    }
    // The spreadsheet script's loop: one request per row, 200 ms apart, a retry on 429.
    sandbox.reset_stats();
    let http = reqwest::Client::new();
    let sample = LOOP_SAMPLE.min(keys);
    let started = Instant::now();
    for domain in &domains[..sample] {
        loop {
            let response =
                http.get(format!("{}/open/accounts/{domain}", sandbox.rest_url())).send().await.expect("request");
            if response.status() != 429 {
                let _ = response.bytes().await;
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sampled = started.elapsed().as_secs_f64();
    let scaled = sampled * keys as f64 / sample as f64;
    println!(
        "| per-row loop (200 ms apart), {sample} rows timed, scaled to {keys} | {keys} | {keys} | {} | {scaled:.0} s | — | — |",
        sandbox.stats()["rest"]["rate_limited"]
    );
}
