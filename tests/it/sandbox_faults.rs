//! Injected faults: every kind occurs, each is what it claims to be, and nothing else fails,
//! on every kind of endpoint and under load.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use hgsql::sandbox::Sandbox;
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

/// One request of the mix: a GET with a query string, or a POST with a body.
#[derive(Clone)]
struct Call {
    path: String,
    body: Option<Value>,
}

const SEED: u64 = 3;

/// Requests on five endpoints (enrich, batch, free GET, search, catalog) over `companies`.
fn mix(sandbox: &Sandbox, companies: usize) -> Vec<Call> {
    let data = sandbox.data();
    let mut calls = Vec::new();
    for (i, company) in data.companies.iter().take(companies).enumerate() {
        let id = format!("{:X}", company.id);
        calls.push(Call {
            path: "/company/firmographic".into(),
            body: Some(json!({"company_id": id, "fields": ["company_id", "company_name", "revenue_band"]})),
        });
        let batch: Vec<String> = data.companies.iter().skip(i).take(5).map(|c| format!("{:X}", c.id)).collect();
        calls.push(Call {
            path: "/company/installs".into(),
            body: Some(
                json!({"fields": ["product_id", "country_code"], "filters": {"company_ids": batch}, "limit": 100}),
            ),
        });
        calls.push(Call { path: format!("/company/match?domain_name={}&limit=3", company.domain), body: None });
        if i % 10 == 0 {
            let filters = json!({"firmographics": {"country_codes": [{"ids": [company.country().code], "inclusion_method": "ANY_PRESENT"}]}});
            calls.push(Call {
                path: "/company/search".into(),
                body: Some(json!({"fields": ["company_id"], "filters": filters, "limit": 20})),
            });
            calls.push(Call { path: "/catalog/products?name=cloud&limit=20".into(), body: None });
        }
    }
    calls
}

async fn send(http: &reqwest::Client, base: &str, key: &str, call: &Call) -> reqwest::Result<reqwest::Response> {
    let url = format!("{base}{}", call.path);
    let request = match &call.body {
        Some(body) => http.post(url).json(body),
        None => http.get(url),
    };
    request.header("Authorization", format!("Bearer {key}")).send().await
}

async fn outcome(http: &reqwest::Client, base: &str, key: &str, call: &Call, expected: &Value) -> Outcome {
    let Ok(response) = send(http, base, key, call).await else { return Outcome::Transport };
    let status = response.status().as_u16();
    if !response.headers().contains_key("x-ratelimit-remaining") {
        return Outcome::Unexpected;
    }
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

/// Sends `total` requests of the mix from `clients` concurrent clients (each with its own
/// connection pool) to a sandbox with `fault_rate`, and tallies what they saw against the
/// answers of a fault-free sandbox over the same data.
async fn run(fault_rate: f64, total: usize, clients: usize) -> (BTreeMap<Outcome, usize>, Value, f64) {
    let clean = sandbox(|c| c.seed = SEED).await;
    let calls = mix(&clean, 40);
    let http = reqwest::Client::new();
    let mut expected = Vec::new();
    for call in &calls {
        let response = send(&http, &clean.base_url(), clean.key(), call).await.unwrap();
        assert_eq!(response.status(), 200, "{}", call.path);
        expected.push(response.json::<Value>().await.unwrap());
    }
    let work: Arc<Vec<(Call, Value)>> = Arc::new(calls.into_iter().zip(expected).collect());

    let faulty = sandbox(|c| {
        c.fault_rate = fault_rate;
        c.seed = SEED;
    })
    .await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (base, work, key) = (faulty.base_url(), work.clone(), faulty.key().to_string());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut tally: BTreeMap<Outcome, usize> = BTreeMap::new();
                for n in (client..total).step_by(clients) {
                    let (call, expected) = &work[n % work.len()];
                    *tally.entry(outcome(&http, &base, &key, call, expected).await).or_default() += 1;
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
    (tally, faulty.stats(), per_second)
}

fn fault(stats: &Value, name: &str) -> usize {
    stats["faults"][name].as_u64().unwrap_or(0) as usize
}

const KINDS: [&str; 5] = ["500", "503", "429", "truncated_json", "connection_reset"];

/// Every failure the client saw was injected, and every injected fault was seen as itself.
fn assert_only_injected(tally: &BTreeMap<Outcome, usize>, stats: &Value, total: usize) {
    let seen = |o| tally.get(&o).copied().unwrap_or(0);
    assert_eq!(seen(Outcome::Unexpected), 0, "{tally:?}");
    assert_eq!(seen(Outcome::Status500), fault(stats, "500"), "{tally:?} {stats}");
    assert_eq!(seen(Outcome::Status503), fault(stats, "503"), "{tally:?} {stats}");
    assert_eq!(seen(Outcome::Status429), fault(stats, "429"), "{tally:?} {stats}");
    assert_eq!(seen(Outcome::TruncatedJson), fault(stats, "truncated_json"), "{tally:?} {stats}");
    assert_eq!(seen(Outcome::Transport), fault(stats, "connection_reset"), "{tally:?} {stats}");
    let injected: usize = KINDS.iter().map(|n| fault(stats, n)).sum();
    assert_eq!(seen(Outcome::Ok), total - injected);
    assert_eq!(stats["requests"], json!(total));
    assert_eq!(stats["rate_limited"], json!(0), "no genuine 429 without a rate limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_occurs_at_30_percent_on_every_endpoint_and_nothing_else_fails() {
    let total = 1_000;
    let (tally, stats, _) = run(0.3, total, 4).await;
    for name in KINDS {
        assert!(fault(&stats, name) >= 20, "{name} occurs: {stats}");
    }
    let injected: usize = KINDS.iter().map(|n| fault(&stats, n)).sum();
    assert!((240..=360).contains(&injected), "about 30% of {total}: {injected}");
    for endpoint in ["company/firmographic", "company/installs", "company/match", "company/search", "catalog/products"]
    {
        let statuses = &stats["endpoints"][endpoint]["status"];
        assert!(statuses["200"].as_u64().unwrap() > 0, "{endpoint}: {statuses}");
        let failed: u64 =
            statuses.as_object().unwrap().iter().filter(|(k, _)| *k != "200").map(|(_, v)| v.as_u64().unwrap()).sum();
        assert!(failed > 0, "{endpoint} got faults too: {statuses}");
    }
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
