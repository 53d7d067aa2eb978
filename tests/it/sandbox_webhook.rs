//! The sandbox's Clay-like webhook receiver over real HTTP: what it keeps, what it refuses, and
//! the answer it loses on purpose (the rows arrived; the sender sees a reset).

use hgsql::sandbox::webhook::{AUTH_HEADER, TOKEN};
use serde_json::{Value, json};

use crate::support::sandbox;

async fn post(url: &str, body: Value, token: Option<&str>) -> Result<reqwest::StatusCode, reqwest::Error> {
    let mut request = reqwest::Client::new().post(url).json(&body);
    if let Some(token) = token {
        request = request.header(AUTH_HEADER, token);
    }
    request.send().await.map(|r| r.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_are_kept_per_webhook_and_refusals_keep_none() {
    let sandbox = sandbox(|_| {}).await;
    let url = sandbox.webhook_url("leads");
    assert_eq!(post(&url, json!([{"domain": "a.example"}, {"domain": "b.example"}]), Some(TOKEN)).await.unwrap(), 200);
    assert_eq!(post(&url, json!({"domain": "a.example"}), Some(TOKEN)).await.unwrap(), 200);
    assert_eq!(post(&url, json!({"domain": "c.example"}), None).await.unwrap(), 401);
    assert_eq!(post(&sandbox.webhook_url("other"), json!({"domain": "d.example"}), Some(TOKEN)).await.unwrap(), 200);
    let stats = sandbox.stats()["webhooks"].clone();
    assert_eq!(stats["leads"]["rows_received"], 3);
    assert_eq!(stats["leads"]["rows_received_twice"], 1, "a.example came twice");
    assert_eq!(stats["leads"]["unauthorized"], 1);
    assert_eq!(stats["other"]["rows_received"], 1);
    assert_eq!(sandbox.webhook_rows("leads")[2], json!({"domain": "a.example"}));
    let big = json!({"notes": "x".repeat(300_000)});
    assert_eq!(post(&url, big, Some(TOKEN)).await.unwrap(), 413);
    assert_eq!(sandbox.stats()["webhooks"]["leads"]["too_large"], 1, "a body over 100 KB is counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_past_the_burst_of_twenty_are_refused_whole() {
    let sandbox = sandbox(|_| {}).await;
    let url = sandbox.webhook_url("fast");
    let rows = |n: usize| Value::Array((0..n).map(|i| json!({"i": i})).collect());
    // The bucket holds 20 rows: a post of 21 can never fit, and takes none of them.
    assert_eq!(post(&url, rows(21), Some(TOKEN)).await.unwrap(), 429);
    assert_eq!(post(&url, rows(20), Some(TOKEN)).await.unwrap(), 200, "the refused post took no tokens");
    let stats = sandbox.stats()["webhooks"]["fast"].clone();
    assert_eq!((stats["rows_received"].as_u64(), stats["rate_limited"].as_u64()), (Some(20), Some(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_keeps_the_rows_and_resets_the_connection() {
    let sandbox = sandbox(|c| c.webhook_lost_rate = 1.0).await;
    let url = sandbox.webhook_url("lossy");
    let error = post(&url, json!({"domain": "a.example"}), Some(TOKEN)).await.expect_err("no answer comes");
    assert!(!error.is_status(), "{error}");
    assert_eq!(sandbox.webhook_rows("lossy"), vec![json!({"domain": "a.example"})], "yet the row arrived");
    assert_eq!(sandbox.stats()["webhooks"]["lossy"]["lost"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_an_injected_fault_no_row_is_kept() {
    let sandbox = sandbox(|c| c.fault_rate = 1.0).await;
    let url = sandbox.webhook_url("faulty");
    for i in 0..5 {
        let status = post(&url, json!({"i": i}), Some(TOKEN)).await;
        assert!(status.map_or(true, |s| s != 200), "a fault is never a 2xx");
    }
    assert!(sandbox.webhook_rows("faulty").is_empty());
}
