//! The webhook sink at Clay's rate, run by hand: `cargo bench --bench webhook` (`-- quick` for
//! 200 rows).
//!
//! 2,000 enriched rows go to the sandbox's Clay-like receiver, which takes 10 rows a second
//! with a burst of 20 and answers in 30 ms, with `batch_size` 1 (Clay's default) and 10. The
//! floor is (rows − 20) / 10 s; the target is a wall time within 10% of it, with every row
//! received once. Beside them, the seed's `sendBatch` loop: one POST per row, 200 ms apart, a
//! wait of `Retry-After` on a 429, three retries 1, 2 and 4 s apart on a network error, and no
//! memory of what it sent.
//!
//! Then both again with 10% of accepted posts losing their answer (the receiver keeps the row,
//! then resets the connection): rows the receiver got twice, and rows hgsql lists `unknown`.

use std::time::{Duration, Instant};

use hgsql::api::webhook::{Named, WebhookContext};
use hgsql::sandbox::webhook::{AUTH_HEADER, TOKEN};
use hgsql::sandbox::{Sandbox, SandboxConfig};
use hgsql::session::Session;

const RATE: f64 = 10.0;
const BURST: f64 = 20.0;

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let rows = if quick { 200 } else { 2_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run(rows));
}

/// The rows sent: what an enrichment gives, about 110 bytes each as JSON.
fn rows_sql(rows: usize) -> String {
    format!(
        "SELECT 'acct' || value || '.example.com' AS domain, 'Company ' || value AS company_name, \
         CASE value % 4 WHEN 0 THEN '$1M-$10M' WHEN 1 THEN '$10M-$50M' WHEN 2 THEN '$50M-$100M' ELSE '$1B+' END AS revenue_band, \
         value * 37 % 5000 AS employees_total, value % 3 = 0 AS has_salesforce FROM range({rows})"
    )
}

/// One line of the table.
struct Line {
    run: String,
    posts: u64,
    throttled: u64,
    received: u64,
    twice: u64,
    unknown: String,
    wall: f64,
}

impl Line {
    /// The line of `run`, from what `sandbox`'s receiver counted.
    fn counted(run: String, sandbox: &Sandbox, unknown: String, wall: f64) -> Line {
        let stats = sandbox.stats()["webhooks"]["bench"].clone();
        let count = |name: &str| stats[name].as_u64().unwrap_or(0);
        Line {
            run,
            posts: count("posts"),
            throttled: count("rate_limited"),
            received: count("rows_received"),
            twice: count("rows_received_twice"),
            unknown,
            wall,
        }
    }
}

async fn sandbox(lost: f64) -> Sandbox {
    let config = SandboxConfig {
        companies: 1_000,
        latency: Duration::from_millis(30),
        webhook_lost_rate: lost,
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.expect("sandbox")
}

/// hgsql's COPY of `rows` rows to a fresh receiver.
async fn hgsql(rows: usize, batch_size: usize, lost: f64) -> Line {
    let sandbox = sandbox(lost).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let hook = [("url".to_string(), sandbox.clay_webhook_url("bench")), ("token".to_string(), TOKEN.to_string())];
    let named: Named = [("clay_leads".to_string(), hook.into_iter().collect())].into_iter().collect();
    let mut session = Session::new();
    session.set_webhook_context(WebhookContext::new(dir.path().join("webhooks.sqlite"), named, false));
    let copy = format!(
        "COPY ({}) TO 'webhook://clay_leads' STORED AS WEBHOOK OPTIONS ('key' 'domain', 'batch_size' '{batch_size}', 'on_error' 'continue')",
        rows_sql(rows)
    );
    let started = Instant::now();
    session.run(&copy).await.expect("the COPY runs");
    let wall = started.elapsed().as_secs_f64();
    let report = session.webhooks().take_reports().pop().expect("a report");
    let lost = if lost > 0.0 { ", 10% answers lost" } else { "" };
    Line::counted(format!("hgsql, batch_size {batch_size}{lost}"), &sandbox, report.unknown.to_string(), wall)
}

/// The seed's `sendBatch` loop over `rows` rows, as its TypeScript does it.
async fn send_batch(rows: usize, lost: f64) -> Line {
    let sandbox = sandbox(lost).await;
    let url = sandbox.clay_webhook_url("bench");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let started = Instant::now();
    for i in 0..rows {
        let band = ["$1M-$10M", "$10M-$50M", "$50M-$100M", "$1B+"][i % 4];
        let row = serde_json::json!({
            "domain": format!("acct{i}.example.com"),
            "company_name": format!("Company {i}"),
            "revenue_band": band,
            "employees_total": i * 37 % 5000,
            "has_salesforce": i % 3 == 0,
        });
        // fetchWithRetry: up to 3 retries; a 429 waits Retry-After (5 s if absent) and uses
        // an attempt; a network error waits 1, 2, 4 s; any other answer is returned.
        for attempt in 0..=3u32 {
            let sent = http.post(&url).header(AUTH_HEADER, TOKEN).json(&row).send().await;
            match sent {
                Ok(response) if response.status() == 429 => {
                    let wait = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(5);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                Ok(_) => break,
                Err(_) if attempt == 3 => break,
                Err(_) => tokio::time::sleep(Duration::from_millis(1000 * 2u64.pow(attempt))).await,
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let lost = if lost > 0.0 { ", 10% answers lost" } else { "" };
    Line::counted(format!("seed's sendBatch loop{lost}"), &sandbox, "not known".into(), wall)
}

async fn run(rows: usize) {
    let floor = (rows as f64 - BURST) / RATE;
    println!(
        "| run | rows | posts | 429s | rows received | received twice | listed unknown | wall | floor | wall / floor |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let print = |line: Line| {
        println!(
            "| {} | {rows} | {} | {} | {} | {} | {} | {:.1} s | {floor:.1} s | {:.3} |",
            line.run,
            line.posts,
            line.throttled,
            line.received,
            line.twice,
            line.unknown,
            line.wall,
            line.wall / floor
        );
    };
    for batch_size in [1, 10] {
        let line = hgsql(rows, batch_size, 0.0).await;
        assert_eq!((line.received, line.twice), (rows as u64, 0), "every row once");
        print(line);
    }
    print(send_batch(rows, 0.0).await);
    let line = hgsql(rows, 1, 0.1).await;
    assert_eq!(line.twice, 0, "no row twice, whatever was lost");
    print(line);
    print(send_batch(rows, 0.1).await);
}
