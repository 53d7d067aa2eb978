//! Pacing requests: a token bucket (governor) at the configured rate, a cap on requests in
//! flight, and pauses the server asks for (a 429, or `x-ratelimit-remaining` reaching 0).

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Admits requests at a rate, a few at a time, and holds them back when the server asks.
pub struct RateGate {
    bucket: Option<DefaultDirectRateLimiter>,
    in_flight: std::sync::Arc<Semaphore>,
    /// No request leaves before this instant.
    paused_until: Mutex<Option<Instant>>,
    /// One token's worth of time, for pausing when the server says it has none left.
    token_period: Duration,
    /// Tokens the bucket holds at most: what one admission can take at once.
    capacity: u32,
}

impl std::fmt::Debug for RateGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateGate").field("token_period", &self.token_period).finish_non_exhaustive()
    }
}

impl RateGate {
    /// `rate` requests per second (`None` for no limit), bursts of `burst`, at most
    /// `max_in_flight` requests at once.
    pub fn new(rate: Option<f64>, burst: u32, max_in_flight: usize) -> RateGate {
        let rate = rate.filter(|r| r.is_finite() && *r > 0.0);
        let token_period = rate.map_or(Duration::ZERO, |r| Duration::from_secs_f64(1.0 / r));
        // A tenth of the server's burst (one token at least, when there are two) is left
        // unused: requests that arrive closer together than they left (scheduling, connection
        // set-up) then find a token there instead of a 429. At HG's 25/s with a burst of 25
        // that costs 80 ms once.
        let burst = RateGate::usable_burst(burst);
        let bucket = rate.and_then(|_| {
            let quota = Quota::with_period(token_period)?.allow_burst(NonZeroU32::new(burst).expect("non-zero"));
            Some(RateLimiter::direct(quota))
        });
        RateGate {
            bucket,
            in_flight: std::sync::Arc::new(Semaphore::new(max_in_flight.max(1))),
            paused_until: Mutex::new(None),
            token_period,
            capacity: burst,
        }
    }

    /// The most tokens one admission takes: a burst of `burst` leaves a tenth unused (see
    /// [`RateGate::new`]).
    pub fn usable_burst(burst: u32) -> u32 {
        let slack = if burst > 1 { (burst / 10).max(1) } else { 0 };
        (burst - slack).max(1)
    }

    /// Waits for a place among the requests in flight and for the rate limit; returns the
    /// place (held until the response is read) and the time spent waiting for the rate.
    pub async fn admit(&self) -> (OwnedSemaphorePermit, Duration) {
        self.admit_n(1).await
    }

    /// [`RateGate::admit`] for a request that counts as `tokens` against the rate (a webhook
    /// post of several records, where the receiver counts records). More tokens than the
    /// bucket holds take a full bucket.
    pub async fn admit_n(&self, tokens: u32) -> (OwnedSemaphorePermit, Duration) {
        let permit = self.in_flight.clone().acquire_owned().await.expect("semaphore never closes");
        let started = Instant::now();
        loop {
            let pause = *self.paused_until.lock().expect("pause");
            match pause {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until.into()).await,
                _ => break,
            }
        }
        if let Some(bucket) = &self.bucket {
            let tokens = NonZeroU32::new(tokens.clamp(1, self.capacity)).expect("at least one");
            // Within the capacity by the clamp, so the bucket can always grant it.
            let _ = bucket.until_n_ready(tokens).await;
        }
        (permit, started.elapsed())
    }

    /// Holds every request back for `wait` (a 429's `x-ratelimit-reset`, say).
    pub fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().expect("pause");
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    /// Reads `x-ratelimit-remaining`: at 0 the next request waits one token's time, so the
    /// client slows down before the server has to refuse.
    pub fn observe_remaining(&self, remaining: u64) {
        if remaining == 0 && !self.token_period.is_zero() {
            self.pause(self.token_period);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_bucket_paces_after_the_burst() {
        let gate = RateGate::new(Some(50.0), 5, 8);
        let started = Instant::now();
        for _ in 0..10 {
            drop(gate.admit().await);
        }
        // 5 at once, then 5 more at 20 ms each.
        assert!(started.elapsed() >= Duration::from_millis(90), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_weighted_admission_takes_its_tokens_and_never_more_than_the_bucket() {
        // 10 a second, a burst of 10 with one left unused: 9 at once.
        let gate = RateGate::new(Some(10.0), 10, 4);
        assert_eq!(RateGate::usable_burst(10), 9);
        let started = Instant::now();
        drop(gate.admit_n(9).await);
        assert!(started.elapsed() < Duration::from_millis(80), "the burst is there at once");
        // The next 5 tokens take 500 ms to come back; 50 tokens are clamped to the bucket's 9.
        drop(gate.admit_n(5).await);
        assert!(started.elapsed() >= Duration::from_millis(450), "{:?}", started.elapsed());
        let clamped = tokio::time::timeout(Duration::from_secs(5), gate.admit_n(50)).await;
        assert!(clamped.is_ok(), "an admission larger than the bucket still completes");
    }

    #[tokio::test]
    async fn a_pause_holds_requests_back() {
        let gate = RateGate::new(None, 1, 1);
        gate.pause(Duration::from_millis(100));
        let started = Instant::now();
        let (_permit, waited) = gate.admit().await;
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(waited >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn in_flight_is_capped() {
        let gate = RateGate::new(None, 1, 2);
        let a = gate.admit().await;
        let b = gate.admit().await;
        let third = tokio::time::timeout(Duration::from_millis(50), gate.admit()).await;
        assert!(third.is_err(), "a third request waits");
        drop((a, b));
    }
}
