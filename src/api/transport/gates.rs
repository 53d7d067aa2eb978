//! One rate gate per (host, credential): an API counts its limit per key, so every caller that
//! sends the same key to the same host must wait at the same gate, and callers with another key
//! or host must not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use super::limiter::RateGate;

/// The gates of a session. A gate lives as long as a transport uses it.
#[derive(Debug, Default)]
pub struct Gates {
    gates: Mutex<HashMap<(String, u64), Weak<RateGate>>>,
}

impl Gates {
    /// The gate of `host` and the credential whose fingerprint is `credential`, made by `make`
    /// when there is none yet (the first caller's settings hold for the gate).
    pub fn gate(&self, host: &str, credential: u64, make: impl FnOnce() -> RateGate) -> Arc<RateGate> {
        let mut gates = self.gates.lock().expect("gates");
        gates.retain(|_, gate| gate.strong_count() > 0);
        let key = (host.to_ascii_lowercase(), credential);
        if let Some(gate) = gates.get(&key).and_then(Weak::upgrade) {
            return gate;
        }
        let gate = Arc::new(make());
        gates.insert(key, Arc::downgrade(&gate));
        gate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_gate_per_host_and_credential() {
        let gates = Gates::default();
        let make = || RateGate::new(Some(10.0), 1, 1);
        let a = gates.gate("api.example.com", 1, make);
        assert!(Arc::ptr_eq(&a, &gates.gate("API.example.com", 1, make)), "the same host and key share");
        assert!(!Arc::ptr_eq(&a, &gates.gate("api.example.com", 2, make)), "another key waits apart");
        assert!(!Arc::ptr_eq(&a, &gates.gate("other.example.com", 1, make)), "another host waits apart");
    }
}
