//! A live line on stderr while a statement runs: HG calls done out of planned (and HTTP-table
//! requests done out of planned), rows received,
//! retries, time held back by the rate limit, credits, and an ETA. Drawn only on a terminal; a
//! script's stderr gets warnings and errors alone.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::Notify;

use crate::api::http::HttpContext;
use crate::api::{HgClient, MetricsSnapshot};

/// The bar of one running statement; [`finish`](Progress::finish) clears it.
pub struct Progress {
    bar: ProgressBar,
    stop: Arc<Notify>,
    ticker: tokio::task::JoinHandle<()>,
}

/// HG counters of one statement: the client's counters minus those before it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatementCalls {
    /// Requests sent, first tries only.
    pub done: u64,
    pub planned: u64,
    pub retries: u64,
    pub rows: u64,
    pub rate_wait: Duration,
    /// Credits spent, from the API's `x-credits-remaining`, when it said before and after.
    pub credits: Option<i64>,
    /// Lookups answered from the response cache.
    pub cache_hits: u64,
    /// The HG API version the calls went to, when known.
    pub version: Option<crate::api::ApiVersion>,
}

impl StatementCalls {
    /// What changed between `before` and `now`.
    pub fn between(before: &MetricsSnapshot, now: &MetricsSnapshot) -> StatementCalls {
        let (b, n) = (before.total(), now.total());
        // HG's own balance when it reports one before and now; else the client's count.
        let credits = match (before.credits_remaining, now.credits_remaining) {
            (Some(b), Some(n)) if now.balance_current => Some(b - n),
            _ => Some(now.credits_spent.saturating_sub(before.credits_spent) as i64),
        };
        StatementCalls {
            done: (n.calls - n.retries).saturating_sub(b.calls - b.retries),
            planned: now.planned_requests.saturating_sub(before.planned_requests),
            retries: n.retries.saturating_sub(b.retries),
            rows: n.rows.saturating_sub(b.rows),
            rate_wait: n.rate_wait.saturating_sub(b.rate_wait),
            credits,
            cache_hits: n.cache_hits.saturating_sub(b.cache_hits),
            version: None,
        }
    }

    /// `12 HG calls · 3 retries · 0 cache hits · 10 credits`, for `\timing` and the bar.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} HG call{}", self.done, if self.done == 1 { "" } else { "s" })];
        if self.retries > 0 {
            parts.push(format!("{} retries", self.retries));
        }
        parts.push(format!("{} cache hits", self.cache_hits));
        parts.push(match self.credits {
            Some(credits) => format!("{credits} credits"),
            None => "credits not reported".to_string(),
        });
        if let Some(version) = self.version {
            parts.push(format!("HG API {version}"));
        }
        parts.join(" · ")
    }
}

impl StatementCalls {
    /// The bar's message: calls are on the bar itself (or first, before lookups are planned).
    fn live(&self) -> String {
        let mut parts = Vec::new();
        if self.planned == 0 {
            parts.push(format!("{} HG calls", self.done));
        }
        parts.push(format!("{} rows", self.rows));
        if self.retries > 0 {
            parts.push(format!("{} retries", self.retries));
        }
        parts.push(format!("{} cache hits", self.cache_hits));
        if let Some(credits) = self.credits {
            parts.push(format!("{credits} credits"));
        }
        // Waits overlap across concurrent requests: their mean per call says how hard the rate
        // limit holds the query back.
        if self.done > 0 {
            let wait = self.rate_wait / self.done as u32;
            if wait >= Duration::from_millis(20) {
                parts.push(format!("rate limit {:.2} s/call", wait.as_secs_f64()));
            }
        }
        parts.join(" · ")
    }
}

impl Progress {
    /// Starts the bar for a statement about to run on `client` (HG) and the HTTP tables of
    /// `http`.
    pub fn start(client: Option<&HgClient>, http: Arc<HttpContext>) -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
        bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("valid template"));
        let stop = Arc::new(Notify::new());
        let hg = client.map(|c| (c.clone(), c.metrics()));
        let http = HttpCounts::before(http);
        let ticker = tokio::spawn(tick(bar.clone(), hg, http, stop.clone()));
        Progress { bar, stop, ticker }
    }

    /// Clears the bar, so what follows prints on a clean line.
    pub async fn finish(self) {
        self.stop.notify_one();
        let _ = self.ticker.await;
        self.bar.finish_and_clear();
    }
}

/// HTTP tables' requests during one statement, for the bar.
struct HttpCounts {
    context: Arc<HttpContext>,
    calls: u64,
    retries: u64,
    expected: u64,
}

impl HttpCounts {
    fn before(context: Arc<HttpContext>) -> HttpCounts {
        let totals = context.totals();
        let expected = context.expected();
        HttpCounts { context, calls: totals.calls, retries: totals.retries, expected }
    }

    /// `12/40 HTTP-table requests`, once any is planned.
    fn live(&self) -> Option<String> {
        let now = self.context.totals();
        let done = (now.calls - now.retries).saturating_sub(self.calls - self.retries);
        let expected = self.context.expected().saturating_sub(self.expected);
        (expected > 0 || done > 0).then(|| format!("{done}/{} HTTP-table requests", expected.max(done)))
    }
}

async fn tick(bar: ProgressBar, hg: Option<(HgClient, MetricsSnapshot)>, http: HttpCounts, stop: Arc<Notify>) {
    let mut counting = false;
    loop {
        tokio::select! {
            _ = stop.notified() => return,
            _ = tokio::time::sleep(Duration::from_millis(125)) => {}
        }
        let http_text = http.live();
        let Some((client, before)) = &hg else {
            if let Some(text) = http_text {
                bar.set_message(text);
            }
            bar.tick();
            continue;
        };
        let calls = StatementCalls::between(before, &client.metrics());
        if calls.planned > 0 && !counting {
            counting = true;
            bar.set_style(
                ProgressStyle::with_template("{spinner} {pos}/{len} HG calls [{bar:25}] {msg} · ETA {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
        }
        if counting {
            bar.set_length(calls.planned.max(calls.done));
            bar.set_position(calls.done);
        }
        let mut message = calls.live();
        if let Some(text) = http_text {
            message.push_str(" · ");
            message.push_str(&text);
        }
        bar.set_message(message);
        bar.tick();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EndpointMetrics;

    fn snapshot(calls: u64, retries: u64, planned: u64, credits: Option<i64>) -> MetricsSnapshot {
        let mut s = MetricsSnapshot::default();
        s.endpoints
            .insert("company/installs", EndpointMetrics { calls, retries, rows: calls * 10, ..Default::default() });
        s.planned_requests = planned;
        s.credits_remaining = credits;
        s.balance_current = credits.is_some();
        s
    }

    #[test]
    fn a_statement_counts_only_its_own_first_tries_and_credits() {
        let calls = StatementCalls::between(&snapshot(10, 2, 8, Some(1000)), &snapshot(25, 4, 20, Some(940)));
        assert_eq!((calls.done, calls.planned, calls.retries, calls.rows), (13, 12, 2, 150));
        assert_eq!(calls.credits, Some(60));
        assert!(calls.summary().contains("13 HG calls · 2 retries · 0 cache hits · 60 credits"), "{}", calls.summary());
        let mut counted = snapshot(1, 0, 1, None);
        counted.credits_spent = 4;
        let unknown = StatementCalls::between(&snapshot(0, 0, 0, None), &counted);
        assert!(unknown.summary().ends_with("4 credits"), "{}", unknown.summary());
    }
}
