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

impl std::str::FromStr for Fault {
    type Err = String;

    fn from_str(name: &str) -> Result<Fault, String> {
        Fault::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
            format!("unknown fault kind '{name}': use one of {}", names.join(", "))
        })
    }
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::ServerError,
        Fault::Unavailable,
        Fault::TruncatedJson,
        Fault::ConnectionReset,
        Fault::SpuriousTooManyRequests,
    ];

    /// Name in `/__sandbox/stats` and on the command line.
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
    /// The kinds drawn from, each equally likely.
    kinds: Vec<Fault>,
    latency: Duration,
    jitter: Duration,
    rng: Mutex<ChaCha8Rng>,
}

impl Faults {
    /// `kinds` empty means every kind.
    pub fn new(seed: u64, rate: f64, kinds: &[Fault], latency: Duration, jitter: Duration) -> Faults {
        Faults {
            rate: rate.clamp(0.0, 1.0),
            kinds: if kinds.is_empty() { Fault::ALL.to_vec() } else { kinds.to_vec() },
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
            (self.rate > 0.0 && rng.random_bool(self.rate)).then(|| self.kinds[rng.random_range(0..self.kinds.len())]);
        (self.latency + jitter, fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let draw = |seed| {
            let faults = Faults::new(seed, 0.3, &[], Duration::ZERO, Duration::from_millis(5));
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

    #[test]
    fn draws_only_the_kinds_asked_for() {
        let faults = Faults::new(1, 0.5, &[Fault::TruncatedJson], Duration::ZERO, Duration::ZERO);
        let drawn: Vec<Fault> = (0..200).filter_map(|_| faults.draw().1).collect();
        assert!(drawn.len() > 50, "about half of 200: {}", drawn.len());
        assert!(drawn.iter().all(|f| *f == Fault::TruncatedJson), "{drawn:?}");
    }
}
