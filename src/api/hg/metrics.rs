//! HG's counters per endpoint, live (read at any time from another task, e.g. a progress bar) and
//! final. Atomics, so counting costs nothing on the request path.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::endpoint::Endpoint;

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    rate_wait_ns: AtomicU64,
    rows: AtomicU64,
    bytes: AtomicU64,
    cache_hits: AtomicU64,
}

/// The client's counters.
pub struct Metrics {
    per_endpoint: Vec<Counters>,
    /// Last `x-credits-remaining` seen, or -1.
    credits_remaining: AtomicI64,
    /// First `x-credits-remaining` seen, or -1.
    credits_at_start: AtomicI64,
    /// Requests lookups said they would make (before de-duplication against other scans).
    planned: AtomicU64,
    /// Charged requests a dry run did not make, and the credits they could have cost.
    dry_requests: AtomicU64,
    dry_credits: AtomicU64,
    /// HG's estimates of the skipped requests, summed.
    hg_estimates: AtomicU64,
    /// Bit 1: an estimate was given; bit 2: one was missing.
    hg_estimated: AtomicU8,
}

/// A copy of one endpoint's counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EndpointMetrics {
    /// HTTP requests sent, retries included.
    pub calls: u64,
    /// Requests sent again after a retryable failure.
    pub retries: u64,
    /// 429 answers.
    pub throttled: u64,
    /// Time spent waiting for the rate limit, summed over requests.
    pub rate_wait: Duration,
    pub rows: u64,
    pub bytes: u64,
    /// Lookups answered from the response cache, without a request.
    pub cache_hits: u64,
}

/// A copy of all counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    pub endpoints: BTreeMap<&'static str, EndpointMetrics>,
    /// Credits left according to the API, when it says.
    pub credits_remaining: Option<i64>,
    /// Credits spent since this client's first answer, according to the API.
    pub credits_used: Option<i64>,
    /// Requests lookups have announced: with `total().calls - total().retries`, the progress
    /// of the queries running.
    pub planned_requests: u64,
    /// Charged requests a dry run skipped, and the credits they could have cost at most.
    pub dry_run_requests: u64,
    pub dry_run_credits: u64,
    /// What HG's own estimates (v2) put those requests at, when it gave them all.
    pub dry_run_hg_estimate: Option<u64>,
    /// Credits spent by the client's own count (companies returned for the first time).
    pub credits_spent: u64,
    /// Whether `credits_remaining` is HG's balance as of this snapshot: it comes with every
    /// answer (`x-credits-remaining`), or was just read from `GET /credits`.
    pub balance_current: bool,
}

impl MetricsSnapshot {
    /// Sum over endpoints.
    pub fn total(&self) -> EndpointMetrics {
        self.endpoints.values().fold(EndpointMetrics::default(), |mut sum, e| {
            sum.calls += e.calls;
            sum.retries += e.retries;
            sum.throttled += e.throttled;
            sum.rate_wait += e.rate_wait;
            sum.rows += e.rows;
            sum.bytes += e.bytes;
            sum.cache_hits += e.cache_hits;
            sum
        })
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            per_endpoint: super::known_endpoints().map(|_| Counters::default()).collect(),
            credits_remaining: AtomicI64::new(-1),
            credits_at_start: AtomicI64::new(-1),
            planned: AtomicU64::new(0),
            dry_requests: AtomicU64::new(0),
            dry_credits: AtomicU64::new(0),
            hg_estimates: AtomicU64::new(0),
            hg_estimated: AtomicU8::new(0),
        }
    }
}

impl Metrics {
    fn of(&self, endpoint: Endpoint) -> &Counters {
        &self.per_endpoint[super::known_endpoints().position(|e| e == endpoint).expect("known endpoint")]
    }

    pub(crate) fn call(&self, endpoint: Endpoint, retry: bool) {
        let c = self.of(endpoint);
        c.calls.fetch_add(1, Ordering::Relaxed);
        if retry {
            c.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn throttled(&self, endpoint: Endpoint) {
        self.of(endpoint).throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rate_wait(&self, endpoint: Endpoint, waited: Duration) {
        self.of(endpoint).rate_wait_ns.fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
    }

    pub(crate) fn received(&self, endpoint: Endpoint, rows: usize, bytes: usize) {
        let c = self.of(endpoint);
        c.rows.fetch_add(rows as u64, Ordering::Relaxed);
        c.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn credits(&self, remaining: i64) {
        let _ = self.credits_at_start.compare_exchange(-1, remaining, Ordering::Relaxed, Ordering::Relaxed);
        self.credits_remaining.store(remaining, Ordering::Relaxed);
    }

    pub(crate) fn cache_hits(&self, endpoint: Endpoint, hits: usize) {
        self.of(endpoint).cache_hits.fetch_add(hits as u64, Ordering::Relaxed);
    }

    pub(crate) fn dry_run(&self, requests: u64, credits: u64) {
        self.dry_requests.fetch_add(requests, Ordering::Relaxed);
        self.dry_credits.fetch_add(credits, Ordering::Relaxed);
    }

    /// Adds HG's estimate of a skipped request, or records that HG gave none.
    pub(crate) fn hg_estimate(&self, estimate: Option<u64>) {
        match estimate {
            Some(n) => {
                self.hg_estimates.fetch_add(n, Ordering::Relaxed);
                self.hg_estimated.fetch_or(1, Ordering::Relaxed);
            }
            None => {
                self.hg_estimated.fetch_or(2, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn plan(&self, requests: u64) {
        self.planned.fetch_add(requests, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let endpoints = super::known_endpoints()
            .map(|e| {
                let c = self.of(e);
                let m = EndpointMetrics {
                    calls: c.calls.load(Ordering::Relaxed),
                    retries: c.retries.load(Ordering::Relaxed),
                    throttled: c.throttled.load(Ordering::Relaxed),
                    rate_wait: Duration::from_nanos(c.rate_wait_ns.load(Ordering::Relaxed)),
                    rows: c.rows.load(Ordering::Relaxed),
                    bytes: c.bytes.load(Ordering::Relaxed),
                    cache_hits: c.cache_hits.load(Ordering::Relaxed),
                };
                (e.name(), m)
            })
            .filter(|(_, m)| m.calls > 0 || m.cache_hits > 0)
            .collect();
        let remaining = self.credits_remaining.load(Ordering::Relaxed);
        let start = self.credits_at_start.load(Ordering::Relaxed);
        MetricsSnapshot {
            endpoints,
            credits_remaining: (remaining >= 0).then_some(remaining),
            credits_used: (start >= 0 && remaining >= 0).then_some(start - remaining),
            planned_requests: self.planned.load(Ordering::Relaxed),
            dry_run_requests: self.dry_requests.load(Ordering::Relaxed),
            dry_run_credits: self.dry_credits.load(Ordering::Relaxed),
            // Only when every skipped request got one: a partial sum would mislead.
            dry_run_hg_estimate: (self.hg_estimated.load(Ordering::Relaxed) == 1)
                .then(|| self.hg_estimates.load(Ordering::Relaxed)),
            credits_spent: 0,
            balance_current: false,
        }
    }
}

/// Counters of one consumer of a shared client (one SQL scan), kept beside the client's own:
/// a session's client serves many scans at once, and `EXPLAIN ANALYZE` reports each scan's
/// share. Attach one with [`HgClient::with_tally`](super::HgClient::with_tally).
#[derive(Debug, Default)]
pub struct Tally {
    calls: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    rate_wait_ns: AtomicU64,
    rows: AtomicU64,
    cache_hits: AtomicU64,
}

/// A copy of a [`Tally`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TallySnapshot {
    /// HTTP requests sent, retries included.
    pub calls: u64,
    pub retries: u64,
    /// 429 answers.
    pub throttled: u64,
    pub rate_wait: Duration,
    /// Rows received.
    pub rows: u64,
    /// Lookups answered from the cache.
    pub cache_hits: u64,
}

impl Tally {
    pub(crate) fn call(&self, retry: bool) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rate_wait(&self, waited: Duration) {
        self.rate_wait_ns.fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
    }

    pub(crate) fn received(&self, rows: usize) {
        self.rows.fetch_add(rows as u64, Ordering::Relaxed);
    }

    pub(crate) fn cache_hits(&self, hits: usize) {
        self.cache_hits.fetch_add(hits as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> TallySnapshot {
        TallySnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            rate_wait: Duration::from_nanos(self.rate_wait_ns.load(Ordering::Relaxed)),
            rows: self.rows.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
        }
    }
}
