//! Counters served at `GET /__sandbox/stats` so tests can assert exactly what a query cost:
//! calls and status codes per endpoint, rows, companies charged, faults, peak concurrency.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

#[derive(Default, Serialize, Clone)]
struct EndpointStats {
    calls: u64,
    status: BTreeMap<String, u64>,
    rows: u64,
    companies_charged: u64,
    /// Companies an intact answer carried that an earlier intact answer had already carried.
    companies_repeated: u64,
    /// v2: companies the requests carried (a match's inputs, an enrich's ids).
    #[serde(skip_serializing_if = "is_zero")]
    companies: u64,
    /// v2 enrich: per field group, companies the answers returned data for.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    groups: BTreeMap<&'static str, u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Default, Serialize, Clone)]
struct Counters {
    requests: u64,
    endpoints: BTreeMap<&'static str, EndpointStats>,
    status: BTreeMap<String, u64>,
    faults: BTreeMap<&'static str, u64>,
    rate_limited: u64,
    rows_returned: u64,
    companies_charged: u64,
    companies_repeated: u64,
}

#[derive(Default)]
pub struct Stats {
    counters: Mutex<Counters>,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
}

/// Marks a request in flight until dropped (also when the connection is reset mid-way).
pub struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Stats {
    /// Counts a call to `endpoint` and marks it in flight.
    pub fn begin(&self, endpoint: &'static str) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        let mut c = self.counters.lock().expect("stats");
        c.requests += 1;
        c.endpoints.entry(endpoint).or_default().calls += 1;
        InFlight(self)
    }

    /// Records how a call ended: an HTTP status, or a name such as `connection_reset`.
    pub fn finish(&self, endpoint: &'static str, status: &str) {
        let mut c = self.counters.lock().expect("stats");
        *c.status.entry(status.to_string()).or_default() += 1;
        *c.endpoints.entry(endpoint).or_default().status.entry(status.to_string()).or_default() += 1;
    }

    pub fn fault(&self, name: &'static str) {
        *self.counters.lock().expect("stats").faults.entry(name).or_default() += 1;
    }

    pub fn rate_limited(&self) {
        self.counters.lock().expect("stats").rate_limited += 1;
    }

    pub fn served(&self, endpoint: &'static str, rows: usize, charged: u64, repeated: u64) {
        let mut c = self.counters.lock().expect("stats");
        c.rows_returned += rows as u64;
        c.companies_charged += charged;
        c.companies_repeated += repeated;
        let e = c.endpoints.entry(endpoint).or_default();
        e.rows += rows as u64;
        e.companies_charged += charged;
        e.companies_repeated += repeated;
    }

    /// v2: the companies a request carried, and per field group those it returned data for.
    pub fn companies(&self, endpoint: &'static str, carried: usize, groups: &[(&'static str, usize)]) {
        let mut c = self.counters.lock().expect("stats");
        let e = c.endpoints.entry(endpoint).or_default();
        e.companies += carried as u64;
        for (group, n) in groups {
            *e.groups.entry(group).or_default() += *n as u64;
        }
    }

    pub fn to_json(&self, credits_remaining: Option<u64>) -> serde_json::Value {
        let c = self.counters.lock().expect("stats").clone();
        let mut value = serde_json::to_value(c).expect("stats serialise");
        let map = value.as_object_mut().expect("object");
        map.insert("in_flight".into(), self.in_flight.load(Ordering::SeqCst).into());
        map.insert("peak_in_flight".into(), self.peak_in_flight.load(Ordering::SeqCst).into());
        map.insert("credits_remaining".into(), credits_remaining.into());
        value
    }

    /// Zeroes the counters; requests still in flight stay counted as in flight.
    pub fn reset(&self) {
        *self.counters.lock().expect("stats") = Counters::default();
        self.peak_in_flight.store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}
