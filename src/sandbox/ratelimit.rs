//! The sandbox's rate limit: one token bucket per sandbox (it has one key), reported in the
//! `x-ratelimit-*` headers on every response.

use std::sync::Mutex;
use std::time::Instant;

/// What the `x-ratelimit-*` headers say.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateState {
    pub limit: u32,
    pub remaining: u32,
    /// Whole seconds until the bucket is full again.
    pub reset_seconds: u64,
}

pub struct TokenBucket {
    /// Tokens per second; `None` means no limit.
    rate: Option<f64>,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

/// What an unlimited sandbox reports, so clients see the headers on every response.
const UNLIMITED: u32 = 1_000_000;

impl TokenBucket {
    pub fn new(rate: Option<f64>, burst: u32) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket { rate: rate.filter(|r| *r > 0.0), burst, state: Mutex::new((burst, Instant::now())) }
    }

    fn refill(&self, state: &mut (f64, Instant), rate: f64) {
        let now = Instant::now();
        state.0 = (state.0 + now.duration_since(state.1).as_secs_f64() * rate).min(self.burst);
        state.1 = now;
    }

    /// Takes one token if there is one.
    pub fn try_take(&self) -> bool {
        let Some(rate) = self.rate else { return true };
        let mut state = self.state.lock().expect("bucket");
        self.refill(&mut state, rate);
        if state.0 >= 1.0 {
            state.0 -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes `n` tokens if there are that many, else none (a webhook counts rows, not posts).
    pub fn try_take_many(&self, n: u32) -> bool {
        let Some(rate) = self.rate else { return true };
        let mut state = self.state.lock().expect("bucket");
        self.refill(&mut state, rate);
        if state.0 >= f64::from(n) {
            state.0 -= f64::from(n);
            true
        } else {
            false
        }
    }

    pub fn state(&self) -> RateState {
        let Some(rate) = self.rate else {
            return RateState { limit: UNLIMITED, remaining: UNLIMITED, reset_seconds: 0 };
        };
        let mut state = self.state.lock().expect("bucket");
        self.refill(&mut state, rate);
        RateState {
            limit: rate.round().max(1.0) as u32,
            remaining: state.0.floor() as u32,
            reset_seconds: ((self.burst - state.0) / rate).ceil() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_empty() {
        let bucket = TokenBucket::new(Some(0.001), 3);
        assert!(bucket.try_take() && bucket.try_take() && bucket.try_take());
        assert!(!bucket.try_take());
        let state = bucket.state();
        assert_eq!((state.limit, state.remaining), (1, 0));
        assert!(state.reset_seconds >= 2_999, "{state:?}");
    }

    #[test]
    fn unlimited_never_refuses() {
        let bucket = TokenBucket::new(None, 1);
        assert!((0..1000).all(|_| bucket.try_take()));
    }
}
