//! When and how long to wait before sending a request again: exponential backoff with full
//! jitter (each wait drawn from zero to the exponential bound), bounded in attempts and time.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use rand::Rng;

/// Retry settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Bound of the first wait; each further bound doubles.
    pub base_delay: Duration,
    /// Largest bound.
    pub max_delay: Duration,
    /// A request gives up this long after its first attempt left: no attempt starts later,
    /// and each attempt gets at most the time left. A server that never answers fails the
    /// request within it.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_total: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The waits before attempts 2, 3, …, `max_attempts`.
    pub fn waits(&self) -> impl Iterator<Item = Duration> {
        let bounds = ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .build();
        bounds.map(|bound| bound.mul_f64(rand::rng().random::<f64>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_bounded_in_count_and_size() {
        let policy = RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
            ..RetryPolicy::default()
        };
        let bounds = [100, 200, 400, 800, 800];
        for _ in 0..50 {
            let waits: Vec<Duration> = policy.waits().collect();
            assert_eq!(waits.len(), 5);
            for (wait, bound) in waits.iter().zip(bounds) {
                assert!(*wait <= Duration::from_millis(bound), "{wait:?} over {bound} ms");
            }
        }
        let spread: Vec<Duration> = (0..20).map(|_| policy.waits().next().unwrap()).collect();
        assert!(spread.iter().any(|w| *w < Duration::from_millis(50)), "full jitter reaches low waits");
    }
}
