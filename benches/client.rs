//! The client at HG's rate limit, run by hand: `cargo bench --bench client`.
//!
//! 500 firmographic requests (500 distinct companies) against a sandbox limited to 25
//! requests/s with a burst of 25, with 0 and 30 ms latency. The floor is (requests − burst) /
//! rate = 19 s; the target is a wall time within 5% of it with under 2% of answers being 429.

use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use hgsql::api::{ApiKey, ClientConfig, CompanyId, Endpoint, EnrichRequest, HgClient};
use hgsql::sandbox::{Sandbox, SandboxConfig};

const REQUESTS: usize = 500;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    for latency_ms in [0, 30] {
        runtime.block_on(run(Duration::from_millis(latency_ms)));
    }
}

async fn run(latency: Duration) {
    let sandbox = Sandbox::start(SandboxConfig { latency, ..SandboxConfig::default() }).await.expect("sandbox");
    let client = HgClient::new(ClientConfig::new(sandbox.base_url(), ApiKey::new(sandbox.key()))).expect("client");
    let ids: Vec<CompanyId> = sandbox
        .data()
        .companies
        .iter()
        .take(REQUESTS)
        .map(|c| CompanyId::parse(&format!("{:X}", c.id)).expect("id"))
        .collect();
    let request = EnrichRequest { fields: Some(vec!["company_name".into()]), ..EnrichRequest::default() };
    let started = Instant::now();
    let answered = client
        .enrich(Endpoint::FIRMOGRAPHIC, request, stream::iter(ids))
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    let wall = started.elapsed().as_secs_f64();
    let (rate, burst) = (25.0, 25.0);
    let floor = (REQUESTS as f64 - burst) / rate;
    let metrics = client.metrics().total();
    println!(
        "client at 25/s, latency {:>2} ms: {answered}/{REQUESTS} answered in {wall:.2} s; floor {floor:.2} s; wall/floor {:.3}; \
         calls {}; 429s {} ({:.2}%); retries {}",
        latency.as_millis(),
        wall / floor,
        metrics.calls,
        metrics.throttled,
        100.0 * metrics.throttled as f64 / metrics.calls as f64,
        metrics.retries
    );
}
