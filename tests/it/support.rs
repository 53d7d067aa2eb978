//! Starting sandboxes and talking to them over real HTTP, and waiting for what they count.

use std::time::{Duration, Instant};

use hgsql::sandbox::{Sandbox, SandboxConfig};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Companies in the data set most tests use: small enough to generate quickly in debug builds.
pub const SMALL: usize = 2_000;

/// A sandbox over the small data set with no rate limit, adjusted by `tweak`.
pub async fn sandbox(tweak: impl FnOnce(&mut SandboxConfig)) -> Sandbox {
    let mut config = SandboxConfig { companies: SMALL, rate: None, ..SandboxConfig::default() };
    tweak(&mut config);
    Sandbox::start(config).await.expect("sandbox starts")
}

/// A response as the tests look at it.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// `source.pointer` of the first error.
    pub fn pointer(&self) -> &str {
        self.body["errors"][0]["source"]["pointer"].as_str().unwrap_or("<none>")
    }

    pub fn detail(&self) -> &str {
        self.body["errors"][0]["detail"].as_str().unwrap_or("<none>")
    }

    pub fn data(&self) -> &Vec<Value> {
        self.body["data"].as_array().expect("a list response")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("<absent>")
    }
}

/// An HTTP client for one sandbox, sending the right key unless told otherwise.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub root: String,
    pub auth: Option<String>,
}

impl Api {
    pub fn new(sandbox: &Sandbox) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: sandbox.base_url(),
            root: sandbox.root_url(),
            auth: Some(format!("Bearer {}", sandbox.key())),
        }
    }

    /// A client of the sandbox's v2, with the v2 key.
    pub fn v2(sandbox: &Sandbox) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: sandbox.base_url_v2(),
            root: sandbox.root_url(),
            auth: Some(format!("Bearer {}", sandbox.key_v2())),
        }
    }

    pub fn with_auth(mut self, auth: Option<&str>) -> Api {
        self.auth = auth.map(str::to_string);
        self
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let request = match &self.auth {
            Some(auth) => request.header("Authorization", auth),
            None => request,
        };
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} body is not JSON ({e}): {text}"));
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)).query(query)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body)).await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> Reply {
        self.send(self.http.post(format!("{}{path}", self.base)).header("content-type", "application/json").body(body))
            .await
    }

    pub async fn stats(&self) -> Value {
        self.http.get(format!("{}/__sandbox/stats", self.root)).send().await.unwrap().json().await.unwrap()
    }

    pub async fn reset_stats(&self) {
        let status = self.http.post(format!("{}/__sandbox/reset", self.root)).send().await.unwrap().status();
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
}

/// Left-pads an id to the 32-character normal form.
pub fn padded(id: &str) -> String {
    format!("{id:0>32}")
}

/// How long [`wait_until`] waits for its event before it fails the test.
const EVENT_DEADLINE: Duration = Duration::from_secs(60);
/// How often [`wait_until`] looks.
const EVENT_POLL: Duration = Duration::from_millis(10);

/// Returns once `ready()` holds, looking every 10 ms; panics naming `what` after 60 s.
///
/// A bounded poll, for events nothing notifies a test of: a sandbox (in this process or in
/// another) counting a request. It waits for the event itself, not for a time it is hoped to
/// take; the deadline only turns a hang into a failure.
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < EVENT_DEADLINE, "{what}: still not so after {EVENT_DEADLINE:?}");
        std::thread::sleep(EVENT_POLL);
    }
}

/// [`wait_until`] for async tests: between looks it yields to the runtime, so the futures the
/// caller drives alongside (with `select!` or `join!`) go on.
pub async fn wait_until_async(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < EVENT_DEADLINE, "{what}: still not so after {EVENT_DEADLINE:?}");
        tokio::time::sleep(EVENT_POLL).await;
    }
}

/// The join filters that the scans named `scan` (`ApiScanExec`, `HttpScanExec`) of `plan` hold,
/// as they are now: `true` once a scan has let go of its key list.
pub fn scan_filters(plan: &std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>, scan: &str) -> Vec<String> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::physical_expr::expressions::DynamicFilterPhysicalExpr;
    let mut found = Vec::new();
    let _ = plan.apply(|node| {
        if node.name() == scan {
            let _ = node.apply_expressions(&mut |expr| {
                if let Some(dynamic) = expr.as_ref().downcast_ref::<DynamicFilterPhysicalExpr>() {
                    found.push(dynamic.current().map(|e| e.to_string()).unwrap_or_default());
                }
                Ok(TreeNodeRecursion::Continue)
            });
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}
