//! Lookups: a stream of keys in, a stream of (key, rows) out. Keys are de-duplicated, batched
//! where the endpoint allows it, fetched concurrently up to the in-flight cap, and a key that is
//! already being fetched (by this stream or another) is waited for, not fetched again.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures::channel::oneshot;
use futures::future::{BoxFuture, FutureExt, Shared, join_all};
use futures::stream::{self, BoxStream, Stream, StreamExt};

use super::client::{HgClient, Payload};
use super::endpoint::Endpoint;
use super::error::HgError;
use super::ids::CompanyId;
use super::request::{Companies, EnrichRequest, MatchQuery};
use super::row::Row;

/// The rows of one key.
pub type Rows = Arc<Vec<Row>>;
type Flight = Shared<BoxFuture<'static, Result<Rows, HgError>>>;

/// Fetches in progress, by endpoint, request and key.
#[derive(Default)]
pub struct Flights {
    map: Arc<Mutex<HashMap<String, Flight>>>,
}

/// A key this caller must fetch and report. Dropped unreported (the query was cancelled), it
/// takes its entry away, so a later lookup fetches the key instead of inheriting the failure.
struct Claim {
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
    fn claim(&self, endpoint: Endpoint, keys: &[String]) -> (Vec<Option<Flight>>, Vec<Claim>) {
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
    fn land(&self, mut claim: Claim, result: Result<Rows, HgError>) {
        self.map.lock().expect("flights").remove(&claim.key);
        if let Some(done) = claim.done.take() {
            let _ = done.send(result);
        }
    }
}

impl HgClient {
    /// Announces that `keys` lookups on `endpoint` are about to be asked for, so progress can
    /// show calls done out of calls planned.
    pub fn plan_lookups(&self, endpoint: Endpoint, keys: usize) {
        let batch = if endpoint.batches() { self.config().batch_size.max(1) } else { 1 };
        self.inner.metrics.plan(keys.div_ceil(batch) as u64);
    }

    /// Rows of `endpoint` for each company of `ids`, as `request` asks (fields, filters, sorts).
    /// Installs and spend go in batches of `batch_size` ids; firmographic and intent one
    /// company per request. Every id is answered once, with an empty list when HG has nothing.
    pub fn enrich(
        &self,
        endpoint: Endpoint,
        request: EnrichRequest,
        ids: impl Stream<Item = CompanyId> + Send + 'static,
    ) -> BoxStream<'static, Result<(CompanyId, Rows), HgError>> {
        let client = self.clone();
        let request = Arc::new(request);
        let flight_prefix = format!("{}|{}|", endpoint.name(), serde_json::to_string(&*request).expect("serialises"));
        let batch = if endpoint.batches() { self.config().batch_size.max(1) } else { 1 };
        let concurrency = self.config().max_in_flight.max(1);
        let mut seen = HashSet::new();
        ids.filter(move |id| std::future::ready(seen.insert(id.clone())))
            .ready_chunks(batch)
            .map(move |chunk| {
                let (client, request, prefix) = (client.clone(), request.clone(), flight_prefix.clone());
                async move { client.fetch_chunk(endpoint, &request, &prefix, chunk).await }
            })
            .buffer_unordered(concurrency)
            .flat_map(|result| match result {
                Ok(rows) => stream::iter(rows.into_iter().map(Ok).collect::<Vec<_>>()),
                Err(error) => stream::iter(vec![Err(error)]),
            })
            .boxed()
    }

    async fn fetch_chunk(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        prefix: &str,
        ids: Vec<CompanyId>,
    ) -> Result<Vec<(CompanyId, Rows)>, HgError> {
        let keys: Vec<String> = ids.iter().map(|id| format!("{prefix}{id}")).collect();
        let flights = &self.inner.flights;
        let (others, claims) = flights.claim(endpoint, &keys);
        let mut fetched: HashMap<CompanyId, Rows> = HashMap::new();
        if !claims.is_empty() {
            let mine: Vec<CompanyId> =
                ids.iter().zip(&others).filter(|(_, other)| other.is_none()).map(|(id, _)| id.clone()).collect();
            match self.fetch_companies(endpoint, request, &mine).await {
                Ok(mut by_id) => {
                    for (claim, id) in claims.into_iter().zip(&mine) {
                        let rows = Arc::new(by_id.remove(id).unwrap_or_default());
                        fetched.insert(id.clone(), rows.clone());
                        flights.land(claim, Ok(rows));
                    }
                }
                Err(error) => {
                    for claim in claims {
                        flights.land(claim, Err(error.clone()));
                    }
                    return Err(error);
                }
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for (id, other) in ids.into_iter().zip(others) {
            let rows = match other {
                Some(flight) => match flight.await {
                    Ok(rows) => rows,
                    // The query fetching it went away: fetch it here instead of failing.
                    Err(HgError::Cancelled { .. }) => Arc::new(
                        self.fetch_companies(endpoint, request, std::slice::from_ref(&id))
                            .await?
                            .remove(&id)
                            .unwrap_or_default(),
                    ),
                    Err(error) => return Err(error),
                },
                None => fetched.remove(&id).expect("every claimed id was fetched"),
            };
            out.push((id, rows));
        }
        Ok(out)
    }

    /// Fetches `ids` with as few requests as the endpoint allows; rows grouped by company.
    async fn fetch_companies(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        ids: &[CompanyId],
    ) -> Result<HashMap<CompanyId, Vec<Row>>, HgError> {
        let firmographic = endpoint == Endpoint::Firmographic;
        let one_by_one = ids.len() == 1 || !endpoint.batches() || self.inner.batch_unsupported.load(Ordering::Relaxed);
        if !one_by_one {
            let payload = Payload::Body(request.body(false, Companies::Batch(ids)));
            let rows = self.list(endpoint, &payload, None).await?;
            if rows.iter().all(|r| r.company_id().is_some()) {
                let mut by_id: HashMap<CompanyId, Vec<Row>> = HashMap::new();
                for row in rows {
                    if let Some(id) = row.company_id().and_then(|i| CompanyId::parse(i).ok()) {
                        by_id.entry(id).or_default().push(row);
                    }
                }
                return Ok(by_id);
            }
            if !self.inner.batch_unsupported.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    endpoint = endpoint.name(),
                    "HG returned batch rows without company_id; fetching one company per request from now on"
                );
            }
        }
        let fetches = ids.iter().map(|id| async move {
            let payload = Payload::Body(request.body(firmographic, Companies::One(id)));
            let rows = if firmographic {
                self.send(endpoint, &payload).await?.rows
            } else {
                self.list(endpoint, &payload, None).await?
            };
            Ok::<_, HgError>((id.clone(), rows))
        });
        join_all(fetches).await.into_iter().collect()
    }

    /// The matches for each query, one request per distinct query, concurrently.
    pub fn match_many(
        &self,
        queries: impl Stream<Item = MatchQuery> + Send + 'static,
    ) -> BoxStream<'static, Result<(MatchQuery, Vec<Row>), HgError>> {
        let client = self.clone();
        let concurrency = self.config().max_in_flight.max(1);
        let mut seen = HashSet::new();
        queries
            .filter(move |q| std::future::ready(seen.insert(q.clone())))
            .map(move |query| {
                let client = client.clone();
                async move {
                    let rows = client.company_match(&query).await?;
                    Ok((query, rows))
                }
            })
            .buffer_unordered(concurrency)
            .boxed()
    }
}
