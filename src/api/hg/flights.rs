//! Fetches in progress: a key one lookup is fetching is waited for by any other lookup that
//! wants it, not fetched again; a fetcher that goes away (its query cancelled) lets the next
//! waiter claim the key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::channel::oneshot;
use futures::future::{BoxFuture, FutureExt, Shared};

use super::endpoint::Endpoint;
use super::error::HgError;
use super::row::Rows;

pub(crate) type Flight = Shared<BoxFuture<'static, Result<Rows, HgError>>>;

/// Fetches in progress, by endpoint, request and key.
#[derive(Default)]
pub struct Flights {
    pub(crate) map: Arc<Mutex<HashMap<String, Flight>>>,
}

/// A key this caller must fetch and report. Dropped unreported (the query was cancelled), it
/// takes its entry away, so a later lookup fetches the key instead of inheriting the failure.
pub(crate) struct Claim {
    key: String,
    done: Option<oneshot::Sender<Result<Rows, HgError>>>,
    map: Arc<Mutex<HashMap<String, Flight>>>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.done.is_some() {
            self.map.lock().expect("flights").remove(&self.key);
        }
    }
}

impl Flights {
    /// For each key: the flight already under way, or a claim to fetch it.
    pub(crate) fn claim(&self, endpoint: Endpoint, keys: &[String]) -> (Vec<Option<Flight>>, Vec<Claim>) {
        let mut map = self.map.lock().expect("flights");
        let mut claims = Vec::new();
        let flights = keys
            .iter()
            .map(|key| match map.get(key) {
                Some(flight) => Some(flight.clone()),
                None => {
                    let (done, result) = oneshot::channel();
                    let flight = result
                        .map(move |r| r.unwrap_or(Err(HgError::Cancelled { endpoint: endpoint.name() })))
                        .boxed()
                        .shared();
                    map.insert(key.clone(), flight);
                    claims.push(Claim { key: key.clone(), done: Some(done), map: self.map.clone() });
                    None
                }
            })
            .collect();
        (flights, claims)
    }

    /// Reports a claimed key's result to everyone waiting for it.
    pub(crate) fn land(&self, mut claim: Claim, result: Result<Rows, HgError>) {
        self.map.lock().expect("flights").remove(&claim.key);
        if let Some(done) = claim.done.take() {
            let _ = done.send(result);
        }
    }
}
