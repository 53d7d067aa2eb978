//! Sandbox throughput and data-set generation time, run by hand:
//! `cargo bench --bench sandbox`. Prints figures; asserts nothing about speed.
//!
//! - generation of the default data set (20,000 companies), cold, in this process;
//! - 20,000 firmographic requests from 64 concurrent clients against an unlimited sandbox,
//!   with no faults and with 30% faults; requests/s and the count of failures not injected.

use std::sync::Arc;
use std::time::Instant;

use hgsql::sandbox::{DataSet, Sandbox, SandboxConfig};
use serde_json::{Value, json};

const REQUESTS: usize = 20_000;
const CLIENTS: usize = 64;

fn main() {
    let started = Instant::now();
    let data = DataSet::generate(42, 20_000);
    println!(
        "generate: {} companies, {} installs, {} spend rows, {} intent rows in {:.2} s",
        data.companies.len(),
        data.installs.len(),
        data.spend.len(),
        data.intent.len(),
        started.elapsed().as_secs_f64()
    );
    drop(data);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    for fault_rate in [0.0, 0.3] {
        runtime.block_on(load(fault_rate));
    }
}

async fn load(fault_rate: f64) {
    let sandbox =
        Sandbox::start(SandboxConfig { rate: None, fault_rate, ..SandboxConfig::default() }).await.expect("sandbox");
    let url = format!("{}/company/firmographic", sandbox.base_url());
    let ids: Arc<Vec<String>> =
        Arc::new(sandbox.data().companies.iter().take(1_000).map(|c| format!("{:X}", c.id)).collect());
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (url, ids, key) = (url.clone(), ids.clone(), sandbox.key().to_string());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut failures = 0usize;
                for n in (client..REQUESTS).step_by(CLIENTS) {
                    let body = json!({"company_id": ids[n % ids.len()], "fields": ["company_name", "revenue_total"]});
                    let ok = match http.post(&url).bearer_auth(&key).json(&body).send().await {
                        Ok(r) if r.status() == 200 => r.json::<Value>().await.is_ok(),
                        _ => false,
                    };
                    failures += usize::from(!ok);
                }
                failures
            })
        })
        .collect();
    let mut failures = 0;
    for task in tasks {
        failures += task.await.expect("client task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = sandbox.stats();
    let injected: u64 = stats["faults"].as_object().map_or(0, |f| f.values().filter_map(Value::as_u64).sum());
    println!(
        "load: {REQUESTS} requests, {CLIENTS} clients, fault rate {fault_rate}: {:.0} requests/s, {failures} failed, {injected} faults injected, peak in flight {}",
        REQUESTS as f64 / elapsed,
        stats["peak_in_flight"]
    );
}
