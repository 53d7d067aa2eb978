//! Injected latency and failures, drawn from one seeded random stream in arrival order, so a
//! sequential client sees the same faults on every run.

use std::sync::Mutex;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The failures a real API and the network between produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 500 Internal Server Error.
    ServerError,
    /// 503 Service Unavailable.
    Unavailable,
    /// A 200 whose JSON body is cut in half.
    TruncatedJson,
    /// The TCP connection is reset before any response byte.
    ConnectionReset,
    /// A 429 although the rate limit was respected.
    SpuriousTooManyRequests,
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::ServerError,
        Fault::Unavailable,
        Fault::TruncatedJson,
        Fault::ConnectionReset,
        Fault::SpuriousTooManyRequests,
    ];

    /// Name in `/__sandbox/stats`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::ServerError => "500",
            Fault::Unavailable => "503",
            Fault::TruncatedJson => "truncated_json",
            Fault::ConnectionReset => "connection_reset",
            Fault::SpuriousTooManyRequests => "429",
        }
    }
}

pub struct Faults {
    rate: f64,
    latency: Duration,
    jitter: Duration,
    rng: Mutex<ChaCha8Rng>,
}

impl Faults {
    pub fn new(seed: u64, rate: f64, latency: Duration, jitter: Duration) -> Faults {
        Faults {
            rate: rate.clamp(0.0, 1.0),
            latency,
            jitter,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0xFA_017)),
        }
    }

    /// The delay and the fault, if any, for the next request.
    pub fn draw(&self) -> (Duration, Option<Fault>) {
        if self.rate == 0.0 && self.jitter.is_zero() {
            return (self.latency, None);
        }
        let mut rng = self.rng.lock().expect("fault rng");
        let jitter = if self.jitter.is_zero() { Duration::ZERO } else { self.jitter.mul_f64(rng.random()) };
        let fault =
            (self.rate > 0.0 && rng.random_bool(self.rate)).then(|| Fault::ALL[rng.random_range(0..Fault::ALL.len())]);
        (self.latency + jitter, fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let draw = |seed| {
            let faults = Faults::new(seed, 0.3, Duration::ZERO, Duration::from_millis(5));
            (0..200).map(|_| faults.draw()).collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        let faults = draw(1).iter().filter_map(|(_, f)| *f).collect::<Vec<_>>();
        assert!((30..=90).contains(&faults.len()), "about 30% of 200: {}", faults.len());
        for kind in Fault::ALL {
            assert!(faults.contains(&kind), "{kind:?} occurs");
        }
    }
}
