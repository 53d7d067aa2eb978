//! An in-process HG Data API v1 server for tests, demos and benchmarks, written from the API
//! as `docs/hg-api.md` describes it, and from nothing else.
//!
//! It shares no code with the client (`api/`) or the tables (`tables/`): it reads and writes
//! JSON with its own types, so a misunderstanding of the contract on one side shows up as a
//! failing test instead of being mirrored on both.
//!
//! Choices the contract leaves open, made here:
//! - `fields` omitted: firmographic returns `company_id, company_name, domain_name`; installs
//!   `product_id, product_name, vendor_id, vendor_name`; spend `category_id, category_name,
//!   spend, country_code`; intent `topic_id, topic_name, signal_strength`.
//! - Unknown properties anywhere in a body, and unknown or repeated query parameters, are 422.
//! - A `product_categories` filter matches a product's category or any category above it.
//! - Search returns companies largest revenue first; `count` is capped at 25,000.
//! - Credits: with a balance of 0 every charged call is 402; a call that needs more credits than
//!   remain is 402 and charges nothing.
//! - Order of checks: path, latency, injected fault, method, key, rate limit, entitlement,
//!   request validation, credits. Faults therefore hit requests a real gateway would refuse
//!   later anyway, as a flaky network does.

mod credits;
pub mod data;
mod dump;
pub mod endpoints;
mod error;
mod faults;
mod ratelimit;
mod request;
pub mod rest;
mod server;
mod stats;
pub mod v2;
pub mod webhook;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub use data::DataSet;
pub use endpoints::Endpoint;
pub use faults::Fault;
pub use server::BASE_PATH;

/// How a sandbox behaves. `Default` is the real API's documented behaviour: 25 requests/s with
/// a burst of 25, no latency or faults, a large credit balance, 20,000 companies.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The one API key the sandbox accepts.
    pub key: String,
    /// Requests per second; `None` for no limit.
    pub rate: Option<f64>,
    pub burst: u32,
    /// Added to every API response.
    pub latency: Duration,
    /// Up to this much more, drawn at random per request.
    pub jitter: Duration,
    /// Share of requests (0–1) that get an injected fault.
    pub fault_rate: f64,
    /// The kinds of fault injected, each equally likely; empty for every kind.
    pub fault_kinds: Vec<Fault>,
    /// Credit balance; `None` for unlimited.
    pub credits: Option<u64>,
    pub companies: usize,
    pub seed: u64,
    /// Endpoints the key is not entitled to: they answer 401 "Access denied to field group"
    /// (on v2, the field group of the endpoint: `installs` denies `technographics`).
    pub deny: Vec<Endpoint>,
    /// Which API versions are served, each under its own base path.
    pub api: Versions,
    /// How v2 bends where the real API may.
    pub v2: v2::Quirks,
    /// Requests per second the generic REST API (`/rest`, for HTTP tables) allows; `None` for
    /// no limit.
    pub rest_rate: Option<f64>,
    /// Share (0–1) of accepted webhook posts whose connection is reset before the answer: the
    /// rows arrived, the sender cannot know it.
    pub webhook_lost_rate: f64,
    /// Rows a second the webhook receivers take together (Clay's 10, by default, with a burst of
    /// 20); `None` for no limit.
    pub webhook_rate: Option<f64>,
}

/// The API versions a sandbox serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    pub v1: bool,
    pub v2: bool,
}

impl Versions {
    pub const BOTH: Versions = Versions { v1: true, v2: true };

    /// `v1`, `v2` or `both`.
    pub fn parse(text: &str) -> Option<Versions> {
        match text.trim().to_ascii_lowercase().as_str() {
            "v1" => Some(Versions { v1: true, v2: false }),
            "v2" => Some(Versions { v1: false, v2: true }),
            "both" => Some(Versions::BOTH),
            _ => None,
        }
    }
}

/// What marks a v2 key (docs/hg-api-v2.md §1).
pub const V2_KEY_PREFIX: &str = "hg_v2_";

/// The key a sandbox accepts unless told otherwise.
pub const DEFAULT_KEY: &str = "sandbox-key";

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            port: 0,
            key: DEFAULT_KEY.to_string(),
            rate: Some(25.0),
            burst: 25,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            fault_rate: 0.0,
            fault_kinds: Vec::new(),
            credits: Some(1_000_000),
            companies: 20_000,
            seed: 42,
            deny: Vec::new(),
            api: Versions::BOTH,
            v2: v2::Quirks::default(),
            rest_rate: None,
            webhook_lost_rate: 0.0,
            webhook_rate: Some(webhook::ROWS_PER_SECOND),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on 127.0.0.1:{port}: {source}; pick another port with --port, or 0 for any free one")]
    Bind { port: u16, source: std::io::Error },
    #[error("invalid sandbox setting: {0}")]
    Config(String),
    #[error("cannot write the dump to {}: {source}", dir.display())]
    Dump { dir: PathBuf, source: std::io::Error },
}

impl SandboxConfig {
    /// The key v1 accepts: `key` without a v2 prefix.
    pub fn key_v1(&self) -> &str {
        self.key.strip_prefix(V2_KEY_PREFIX).unwrap_or(&self.key)
    }

    /// The key v2 accepts: `hg_v2_` and the v1 key (a v1 key does not work on v2, nor the
    /// reverse).
    pub fn key_v2(&self) -> String {
        format!("{V2_KEY_PREFIX}{}", self.key_v1())
    }

    fn check(&self) -> Result<(), SandboxError> {
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err(SandboxError::Config(format!("fault rate must be between 0 and 1, got {}", self.fault_rate)));
        }
        if !(0.0..=1.0).contains(&self.webhook_lost_rate) {
            return Err(SandboxError::Config(format!(
                "the webhook lost-answer rate must be between 0 and 1, got {}",
                self.webhook_lost_rate
            )));
        }
        if self.companies == 0 {
            return Err(SandboxError::Config("the data set needs at least one company".into()));
        }
        if !(1..=25).contains(&self.v2.max_batch) {
            return Err(SandboxError::Config(format!(
                "the v2 batch maximum must be 1 to 25, got {}",
                self.v2.max_batch
            )));
        }
        if !self.api.v1 && !self.api.v2 {
            return Err(SandboxError::Config("serve at least one API version".into()));
        }
        if self.key_v1().trim().is_empty() {
            return Err(SandboxError::Config("the API key must not be empty".into()));
        }
        Ok(())
    }
}

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    app: Arc<server::App>,
    shutdown: watch::Sender<bool>,
}

impl Sandbox {
    /// Generates (or reuses) the data set and starts serving on 127.0.0.1, on the current
    /// tokio runtime.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        config.check()?;
        let (seed, companies) = (config.seed, config.companies);
        let data =
            tokio::task::spawn_blocking(move || DataSet::shared(seed, companies)).await.expect("data generation");
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .map_err(|source| SandboxError::Bind { port: config.port, source })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind { port: config.port, source })?;
        let app = Arc::new(server::App::new(data, config));
        let (shutdown, stopped) = watch::channel(false);
        tokio::spawn(server::serve_forever(listener, server::router(app.clone()), stopped));
        Ok(Sandbox { addr, app, shutdown })
    }

    /// `http://127.0.0.1:PORT/data-api/v1`: what a client is configured with.
    pub fn base_url(&self) -> String {
        format!("http://{}{BASE_PATH}", self.addr)
    }

    /// `http://127.0.0.1:PORT`: where `/__sandbox/stats` and `/__sandbox/reset` live.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The v1 key.
    pub fn key(&self) -> &str {
        self.app.config.key_v1()
    }

    /// `http://127.0.0.1:PORT/data-api/v2`.
    pub fn base_url_v2(&self) -> String {
        format!("http://{}{}", self.addr, v2::BASE_PATH)
    }

    /// The v2 key: `hg_v2_` and the v1 key.
    pub fn key_v2(&self) -> String {
        self.app.config.key_v2()
    }

    pub fn data(&self) -> &DataSet {
        &self.app.data
    }

    /// The counters `/__sandbox/stats` serves, without an HTTP call.
    pub fn stats(&self) -> serde_json::Value {
        let credits = self.app.ledger.lock().expect("ledger").remaining();
        let mut stats = self.app.stats.to_json(credits);
        stats["rest"] = self.app.rest.to_json();
        stats["webhooks"] = self.app.webhooks.to_json();
        stats
    }

    /// `http://127.0.0.1:PORT/rest`: the generic REST API HTTP tables are tested against.
    pub fn rest_url(&self) -> String {
        format!("http://{}{}", self.addr, rest::REST_PATH)
    }

    /// `http://127.0.0.1:PORT/webhook/ID`: a Clay-like webhook receiver (`webhook.rs`).
    pub fn webhook_url(&self, id: &str) -> String {
        format!("http://{}{}{id}", self.addr, webhook::WEBHOOK_PATH)
    }

    /// The same receiver as [`Sandbox::webhook_url`] at the path of a Clay table's webhook
    /// (`/v3/sources/webhook/pull-in-data-from-a-webhook-ID`), as a Clay table shows it.
    pub fn clay_webhook_url(&self, id: &str) -> String {
        format!("http://{}{}{id}", self.addr, webhook::CLAY_PATH)
    }

    /// The rows webhook `id` has kept, in arrival order.
    pub fn webhook_rows(&self, id: &str) -> Vec<serde_json::Value> {
        self.app.webhooks.rows(id)
    }

    /// Zeroes the counters, as `POST /__sandbox/reset` does.
    pub fn reset_stats(&self) {
        self.app.stats.reset();
        self.app.rest.reset();
        self.app.webhooks.reset();
    }

    /// Stops accepting and closes open connections.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes the data set for `seed` and `companies` as Parquet files into `dir`.
/// `hg.companies` over the dump, in plain SQL: a view named `view` matching each `input` of the
/// table `inputs` to its best company, by docs/hg-api.md §3.1's normalisation of the host and its
/// ranking (global HQ, domestic HQ, site; larger first; then id). It reads `hg.firmographics`
/// from the dump. Tests use it as the oracle of the match path, and the enrichment benchmark as
/// the plain-DataFusion baseline.
pub fn companies_view_sql(view: &str, inputs: &str) -> String {
    // lower-case, without scheme, path, port, trailing dot and `www.`
    let host = "regexp_replace(rtrim(regexp_replace(regexp_replace(regexp_replace(lower(trim(i.input)), \
                '^[a-z][a-z0-9+.-]*://', ''), '[/?#].*$', ''), ':[0-9]+$', ''), '.'), '^www\\.', '')";
    format!(
        "CREATE OR REPLACE VIEW {view} AS
         SELECT i.input AS match_domain, CAST(NULL AS VARCHAR) AS match_name,
                CAST(NULL AS VARCHAR) AS match_country_code, CAST(1 AS BIGINT) AS match_rank,
                f.company_id, f.company_name, f.domain_name
         FROM {inputs} i
         JOIN (SELECT company_id, company_name, domain_name, domain_name_normalized,
                      row_number() OVER (PARTITION BY domain_name_normalized
                          ORDER BY CASE company_level WHEN 'GLOBAL_HQ' THEN 0 WHEN 'DOMESTIC_HQ' THEN 1 ELSE 2 END,
                                   coalesce(employees_total, 0) DESC, company_id) AS best
               FROM hg.firmographics) f
           ON f.domain_name_normalized = {host} AND f.best = 1"
    )
}

pub fn dump(seed: u64, companies: usize, dir: &Path) -> Result<Vec<PathBuf>, SandboxError> {
    let data = DataSet::shared(seed, companies);
    dump::dump(&data, dir).map_err(|source| SandboxError::Dump { dir: dir.to_path_buf(), source })
}
