//! Injected faults: every kind occurs, each is what it claims to be, and nothing else fails,
//! also under load.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use crate::support::sandbox;

/// What one request came back as, from a client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Ok,
    Status500,
    Status503,
    Status429,
    TruncatedJson,
    Transport,
    Unexpected,
}

async fn call(http: &reqwest::Client, url: &str, key: &str, id: &str, expected: &Value) -> Outcome {
    let sent = http
        .post(url)
        .header("Authorization", format!("Bearer {key}"))
        .json(&json!({"company_id": id, "fields": ["company_id", "company_name"]}))
        .send()
        .await;
    let Ok(response) = sent else { return Outcome::Transport };
    let status = response.status().as_u16();
    let Ok(text) = response.text().await else { return Outcome::Transport };
    match (status, serde_json::from_str::<Value>(&text)) {
        (200, Ok(body)) if &body == expected => Outcome::Ok,
        (200, Err(_)) => Outcome::TruncatedJson,
        (500, Ok(_)) => Outcome::Status500,
        (503, Ok(_)) => Outcome::Status503,
        (429, Ok(_)) => Outcome::Status429,
        _ => Outcome::Unexpected,
    }
}

/// Sends `total` firmographic requests from `clients` concurrent clients (each with its own
/// connection pool) and tallies the outcomes.
async fn run(fault_rate: f64, total: usize, clients: usize) -> (BTreeMap<Outcome, usize>, Value, f64) {
    let sb = sandbox(|c| {
        c.fault_rate = fault_rate;
        c.seed = 3;
    })
    .await;
    let url = format!("{}/company/firmographic", sb.base_url());
    let ids: Arc<Vec<(String, Value)>> = Arc::new(
        sb.data()
            .companies
            .iter()
            .take(200)
            .map(|c| {
                let id = format!("{:X}", c.id);
                (id.clone(), json!({"count": 1, "data": [{"company_id": id, "company_name": c.name}]}))
            })
            .collect(),
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (url, ids, key) = (url.clone(), ids.clone(), sb.key().to_string());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut tally: BTreeMap<Outcome, usize> = BTreeMap::new();
                for n in (client..total).step_by(clients) {
                    let (id, expected) = &ids[n % ids.len()];
                    *tally.entry(call(&http, &url, &key, id, expected).await).or_default() += 1;
                }
                tally
            })
        })
        .collect();
    let mut tally = BTreeMap::new();
    for task in tasks {
        for (k, v) in task.await.unwrap() {
            *tally.entry(k).or_default() += v;
        }
    }
    let per_second = total as f64 / started.elapsed().as_secs_f64();
    let stats: Value = reqwest::get(format!("{}/__sandbox/stats", sb.root_url())).await.unwrap().json().await.unwrap();
    (tally, stats, per_second)
}

fn fault(stats: &Value, name: &str) -> usize {
    stats["faults"][name].as_u64().unwrap_or(0) as usize
}

/// Every failure the client saw was injected, and every injected fault was seen as itself.
fn assert_only_injected(tally: &BTreeMap<Outcome, usize>, stats: &Value, total: usize) {
    let seen = |o| tally.get(&o).copied().unwrap_or(0);
    assert_eq!(seen(Outcome::Unexpected), 0, "{tally:?}");
    assert_eq!(seen(Outcome::Status500), fault(stats, "500"), "{tally:?} {stats}");
    assert_eq!(seen(Outcome::Status503), fault(stats, "503"), "{tally:?} {stats}");
    assert_eq!(seen(Outcome::Status429), fault(stats, "429"), "{tally:?} {stats}");
    assert_eq!(seen(Outcome::TruncatedJson), fault(stats, "truncated_json"), "{tally:?} {stats}");
    assert_eq!(seen(Outcome::Transport), fault(stats, "connection_reset"), "{tally:?} {stats}");
    let injected: usize =
        ["500", "503", "429", "truncated_json", "connection_reset"].iter().map(|n| fault(stats, n)).sum();
    assert_eq!(seen(Outcome::Ok), total - injected);
    assert_eq!(stats["requests"], json!(total));
    assert_eq!(stats["rate_limited"], json!(0), "no genuine 429 without a rate limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_occurs_at_30_percent_and_nothing_else_fails() {
    let total = 600;
    let (tally, stats, _) = run(0.3, total, 4).await;
    for name in ["500", "503", "429", "truncated_json", "connection_reset"] {
        assert!(fault(&stats, name) >= 10, "{name} occurs: {stats}");
    }
    let injected: usize =
        ["500", "503", "429", "truncated_json", "connection_reset"].iter().map(|n| fault(&stats, n)).sum();
    assert!((120..=240).contains(&injected), "about 30% of {total}: {injected}");
    assert_only_injected(&tally, &stats, total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_requests_from_64_clients_fail_only_where_injected() {
    let total = 20_000;
    let (tally, stats, per_second) = run(0.3, total, 64).await;
    assert_only_injected(&tally, &stats, total);
    assert_eq!(stats["in_flight"], json!(0));
    eprintln!("sandbox load: {total} requests from 64 clients at 30% faults, {per_second:.0} requests/s (debug build)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_added_to_every_call() {
    let sb = sandbox(|c| c.latency = std::time::Duration::from_millis(150)).await;
    let started = Instant::now();
    let status = reqwest::Client::new()
        .get(format!("{}/company/match?domain_name=a.com", sb.base_url()))
        .header("Authorization", sb.key())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert!(started.elapsed().as_millis() >= 150);
}
