//! What a run to a webhook did, counted as it goes (for the progress of EXPLAIN ANALYZE) and
//! told at its end in one line: `clay_leads: 812 sent, 188 already sent, 3 rejected, 0
//! unknown`, with whatever else happened after it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::api::transport::Meter;

/// The counters of one run, shared by the reader of the query's rows and the senders.
#[derive(Debug, Default)]
pub struct Counts {
    pub sent: AtomicU64,
    pub already_sent: AtomicU64,
    pub rejected: AtomicU64,
    pub unknown: AtomicU64,
    pub failed: AtomicU64,
    /// Skipped: their earlier outcome is unknown (`on_unknown 'skip'`).
    pub skipped_unknown: AtomicU64,
    /// Skipped: refused before, unchanged (`retry_rejected 'false'`).
    pub skipped_rejected: AtomicU64,
    /// Skipped: another run that still runs is sending them.
    pub held: AtomicU64,
    /// Skipped: their key came earlier in this run.
    pub repeated: AtomicU64,
    /// Refused before sending: over `max_payload_bytes`.
    pub too_large: AtomicU64,
    /// Refused before sending: the receiver's `max_rows` would be passed.
    pub over_cap: AtomicU64,
    /// Refused before sending: a key column is NULL.
    pub null_key: AtomicU64,
    /// Not sent because the run stopped first.
    pub not_sent: AtomicU64,
    /// In a preview: rows that would be sent.
    pub would_send: AtomicU64,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    pub rate_wait_ms: AtomicU64,
}

impl Counts {
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

impl Meter for Counts {
    fn sent(&self, retry: bool, rate_wait: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
        self.rate_wait_ms.fetch_add(rate_wait.as_millis() as u64, Ordering::Relaxed);
    }

    fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }
}

/// A run's outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The destination's name.
    pub name: String,
    /// A dry run or EXPLAIN ANALYZE: nothing was sent.
    pub preview: bool,
    pub sent: u64,
    pub already_sent: u64,
    pub rejected: u64,
    pub unknown: u64,
    pub failed: u64,
    pub skipped_unknown: u64,
    pub skipped_rejected: u64,
    pub held: u64,
    pub repeated: u64,
    pub too_large: u64,
    pub over_cap: u64,
    pub null_key: u64,
    pub not_sent: u64,
    pub would_send: u64,
    pub max_rows: Option<u64>,
    pub max_payload_bytes: Option<usize>,
}

impl Report {
    pub fn of(
        name: &str,
        preview: bool,
        counts: &Counts,
        max_rows: Option<u64>,
        max_payload_bytes: Option<usize>,
    ) -> Report {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Report {
            name: name.to_string(),
            preview,
            sent: get(&counts.sent),
            already_sent: get(&counts.already_sent),
            rejected: get(&counts.rejected),
            unknown: get(&counts.unknown),
            failed: get(&counts.failed),
            skipped_unknown: get(&counts.skipped_unknown),
            skipped_rejected: get(&counts.skipped_rejected),
            held: get(&counts.held),
            repeated: get(&counts.repeated),
            too_large: get(&counts.too_large),
            over_cap: get(&counts.over_cap),
            null_key: get(&counts.null_key),
            not_sent: get(&counts.not_sent),
            would_send: get(&counts.would_send),
            max_rows,
            max_payload_bytes,
        }
    }

    /// Rows this run meant to send that the receiver did not surely take: refused here or
    /// there, failed, of unknown outcome, or left when the run stopped.
    pub fn undelivered(&self) -> u64 {
        self.rejected + self.unknown + self.failed + self.too_large + self.over_cap + self.null_key + self.not_sent
    }

    /// The run's line: the four counts always, then whatever else happened.
    pub fn summary(&self) -> String {
        let mut line = if self.preview {
            format!(
                "{} (preview, nothing sent): {} would be sent, {} already sent",
                self.name, self.would_send, self.already_sent
            )
        } else {
            format!(
                "{}: {} sent, {} already sent, {} rejected, {} unknown",
                self.name, self.sent, self.already_sent, self.rejected, self.unknown
            )
        };
        let mut more = |n: u64, what: String| {
            if n > 0 {
                line.push_str(&format!(", {n} {what}"));
            }
        };
        more(self.failed, "failed (not delivered; they go again on the next run)".into());
        more(self.not_sent, "not sent (the run stopped first; they go on the next run)".into());
        more(self.too_large, format!("refused (over max_payload_bytes {})", self.max_payload_bytes.unwrap_or(0)));
        more(self.over_cap, format!("refused (over max_rows {}, counted across runs)", self.max_rows.unwrap_or(0)));
        more(self.null_key, "refused (a key column is NULL)".into());
        more(self.skipped_unknown, "skipped (unknown before: check them at the receiver)".into());
        more(self.skipped_rejected, "skipped (rejected before, unchanged)".into());
        more(self.held, "skipped (another hgsql run is sending them)".into());
        more(self.repeated, "skipped (their key came earlier in this run)".into());
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_the_four_counts_and_what_else_happened() {
        let counts = Counts::default();
        Counts::add(&counts.sent, 812);
        Counts::add(&counts.already_sent, 188);
        Counts::add(&counts.rejected, 3);
        let report = Report::of("clay_leads", false, &counts, Some(50_000), Some(100_000));
        assert_eq!(report.summary(), "clay_leads: 812 sent, 188 already sent, 3 rejected, 0 unknown");
        assert_eq!(report.undelivered(), 3);
        Counts::add(&counts.over_cap, 20);
        let report = Report::of("clay_leads", false, &counts, Some(50_000), Some(100_000));
        assert!(report.summary().ends_with(", 20 refused (over max_rows 50000, counted across runs)"));
        Counts::add(&counts.would_send, 5);
        let preview = Report::of("clay_leads", true, &counts, None, None);
        assert!(preview.summary().starts_with("clay_leads (preview, nothing sent): 5 would be sent, 188 already sent"));
    }
}
