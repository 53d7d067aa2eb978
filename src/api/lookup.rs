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
use super::row::{FieldValue, Row};

/// What a lookup will take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupPlan {
    pub requests: u64,
    /// At most: companies the endpoint has not returned before.
    pub credits: u64,
    /// Lookups the cache answers.
    pub cached: u64,
}

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
    /// What looking up `ids` on `endpoint` with `request` will take, given the cache: the
    /// requests, the credits they may cost at most, and the lookups the cache answers. For
    /// EXPLAIN: nothing is recorded.
    pub fn preview_companies(&self, endpoint: Endpoint, request: &EnrichRequest, ids: &[CompanyId]) -> LookupPlan {
        let cached = self.cached_companies(endpoint, request, ids);
        let misses: Vec<CompanyId> = ids.iter().filter(|id| !cached.contains_key(*id)).cloned().collect();
        self.plan_misses(endpoint, &misses, cached.len() as u64)
    }

    /// Splits `ids` into what the cache answers (counted as cache hits) and what must be
    /// fetched, and records the fetching as planned (for progress and the budget's message).
    pub fn lookup_cached(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        ids: Vec<CompanyId>,
    ) -> (Vec<(CompanyId, Rows)>, Vec<CompanyId>, LookupPlan) {
        let mut cached = self.cached_companies(endpoint, request, &ids);
        if !cached.is_empty() {
            self.cache_hits(endpoint, cached.len());
        }
        let hits_count = cached.len() as u64;
        let (hits, misses): (Vec<CompanyId>, Vec<CompanyId>) = ids.into_iter().partition(|id| cached.contains_key(id));
        let hits = hits
            .into_iter()
            .map(|id| {
                let rows = cached.remove(&id).expect("a hit");
                (id, rows)
            })
            .collect();
        let plan = self.plan_misses(endpoint, &misses, hits_count);
        self.inner.metrics.plan(plan.requests);
        self.inner.credits.plan(plan.credits);
        (hits, misses, plan)
    }

    fn plan_misses(&self, endpoint: Endpoint, misses: &[CompanyId], cached: u64) -> LookupPlan {
        let misses: Vec<String> = misses.iter().map(|id| id.to_string()).collect();
        let batch = if endpoint.batches() { self.config().batch_size.max(1) } else { 1 };
        let mut fresh = self.inner.credits.not_charged(endpoint, &misses);
        if let Some(cache) = &self.config().cache {
            let before = cache.returned_before(endpoint, &fresh);
            fresh.retain(|item| !before.contains(item));
        }
        LookupPlan {
            requests: misses.len().div_ceil(batch) as u64,
            credits: if endpoint.charged() { fresh.len() as u64 } else { 0 },
            cached,
        }
    }

    /// [`lookup_cached`](Self::lookup_cached) for match queries (free).
    pub fn match_cached(&self, queries: Vec<MatchQuery>) -> (Vec<(MatchQuery, Vec<Row>)>, Vec<MatchQuery>) {
        let config = self.config();
        let mut found = match config.cache.as_ref().filter(|_| !config.refresh) {
            Some(cache) => {
                let items: Vec<String> =
                    queries.iter().map(|q| serde_json::to_string(q).expect("serialises")).collect();
                let scope = super::cache::scope(self.cache_base(), Endpoint::Match, "");
                cache.get(&scope, &items, None, self.options.max_age)
            }
            None => HashMap::new(),
        };
        let mut hits = Vec::new();
        let mut misses = Vec::new();
        for query in queries {
            match found.remove(&serde_json::to_string(&query).expect("serialises")) {
                Some(hit) => hits.push((query, hit.rows)),
                None => misses.push(query),
            }
        }
        if !hits.is_empty() {
            self.cache_hits(Endpoint::Match, hits.len());
        }
        self.inner.metrics.plan(misses.len() as u64);
        (hits, misses)
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
        self.enrich_each(endpoint, request, ids).map(|(id, result)| result.map(|rows| (id, rows))).boxed()
    }

    /// [`enrich`](Self::enrich) with each company's own outcome: when a request fails, every
    /// company it asked for gets the error.
    pub fn enrich_each(
        &self,
        endpoint: Endpoint,
        request: EnrichRequest,
        ids: impl Stream<Item = CompanyId> + Send + 'static,
    ) -> BoxStream<'static, (CompanyId, Result<Rows, HgError>)> {
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
                async move {
                    let asked = chunk.clone();
                    (asked, client.fetch_chunk(endpoint, &request, &prefix, chunk).await)
                }
            })
            .buffer_unordered(concurrency)
            .flat_map(|(asked, result)| match result {
                Ok(rows) => stream::iter(rows.into_iter().map(|(id, rows)| (id, Ok(rows))).collect::<Vec<_>>()),
                Err(error) => stream::iter(asked.into_iter().map(|id| (id, Err(error.clone()))).collect::<Vec<_>>()),
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
        let mut cached = self.cached_companies(endpoint, request, &ids);
        if !cached.is_empty() {
            self.cache_hits(endpoint, cached.len());
        }
        let (hits, ids): (Vec<CompanyId>, Vec<CompanyId>) = ids.into_iter().partition(|id| cached.contains_key(id));
        let mut out: Vec<(CompanyId, Rows)> = hits
            .into_iter()
            .map(|id| {
                let rows = cached.remove(&id).expect("hit");
                (id, rows)
            })
            .collect();
        if ids.is_empty() {
            return Ok(out);
        }
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
        out.reserve(ids.len());
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

    /// What the cache holds for `ids` (none when refreshing or without a cache).
    fn cached_companies(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        ids: &[CompanyId],
    ) -> HashMap<CompanyId, Rows> {
        let config = self.config();
        let Some(cache) = config.cache.as_ref().filter(|_| !config.refresh) else { return HashMap::new() };
        let items: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let mut found =
            cache.get(&self.cache_scope(endpoint, request), &items, request.fields.as_deref(), self.options.max_age);
        ids.iter().filter_map(|id| found.remove(id.as_str()).map(|hit| (id.clone(), Arc::new(hit.rows)))).collect()
    }

    /// The cache scope of `request` to `endpoint`: everything but the company and the fields.
    fn cache_scope(&self, endpoint: Endpoint, request: &EnrichRequest) -> String {
        let mut unfielded = request.clone();
        unfielded.fields = None;
        super::cache::scope(self.cache_base(), endpoint, &serde_json::to_string(&unfielded).expect("serialises"))
    }

    /// Fetches `ids` with as few requests as the endpoint allows; rows grouped by company. On a
    /// charged endpoint the request first reserves its worst-case credits under the budget (a dry
    /// run only counts them); every answer goes into the cache as it arrives.
    async fn fetch_companies(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        ids: &[CompanyId],
    ) -> Result<HashMap<CompanyId, Vec<Row>>, HgError> {
        if !endpoint.charged() {
            return self.fetch_companies_uncounted(endpoint, request, ids).await;
        }
        let items: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let credits = &self.inner.credits;
        let mut fresh = credits.not_charged(endpoint, &items);
        if let Some(cache) = &self.config().cache {
            let before = cache.returned_before(endpoint, &fresh);
            credits.known(endpoint, before.iter().cloned());
            fresh.retain(|item| !before.contains(item));
        }
        if self.config().dry_run {
            let requests = if endpoint.batches() && !self.inner.batch_unsupported.load(Ordering::Relaxed) {
                1
            } else {
                ids.len() as u64
            };
            self.inner.metrics.dry_run(requests, fresh.len() as u64);
            // A stand-in row per company (its id, nothing else), so lookups joined on these
            // companies further on are counted too.
            return Ok(ids
                .iter()
                .map(|id| {
                    let row = Row { fields: [("company_id".to_string(), FieldValue::Text(id.to_string()))].into() };
                    (id.clone(), vec![row])
                })
                .collect());
        }
        let reservation = credits.reserve(endpoint, fresh.len() as u64, self.options.max_credits)?;
        match self.fetch_companies_uncounted(endpoint, request, ids).await {
            Ok(by_id) => {
                let returned = by_id.iter().filter(|(_, rows)| !rows.is_empty()).map(|(id, _)| id.to_string());
                credits.settle(reservation, endpoint, returned);
                if let Some(cache) = &self.config().cache {
                    let empty = Vec::new();
                    let entries: Vec<(String, &[Row])> =
                        ids.iter().map(|id| (id.to_string(), by_id.get(id).unwrap_or(&empty).as_slice())).collect();
                    cache.put(&self.cache_scope(endpoint, request), endpoint, request.fields.as_deref(), &entries);
                }
                Ok(by_id)
            }
            Err(error) => {
                // What a failed request cost is unknown; the API's balance header still shows it.
                credits.release(reservation);
                Err(error)
            }
        }
    }

    async fn fetch_companies_uncounted(
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
        self.match_each(queries).map(|(query, result)| result.map(|rows| (query, rows))).boxed()
    }

    /// [`match_many`](Self::match_many) with each query's own outcome.
    pub fn match_each(
        &self,
        queries: impl Stream<Item = MatchQuery> + Send + 'static,
    ) -> BoxStream<'static, (MatchQuery, Result<Vec<Row>, HgError>)> {
        let client = self.clone();
        let concurrency = self.config().max_in_flight.max(1);
        let mut seen = HashSet::new();
        queries
            .filter(move |q| std::future::ready(seen.insert(q.clone())))
            .map(move |query| {
                let client = client.clone();
                async move {
                    let rows = client.company_match(&query).await;
                    (query, rows)
                }
            })
            .buffer_unordered(concurrency)
            .boxed()
    }
}
