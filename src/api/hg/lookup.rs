//! Lookups: keys in, (key, rows) out. A lookup is planned first — what the cache answers, what
//! must be fetched, what it may cost — and the plan value ([`CompanyLookup`], [`MatchLookup`])
//! is what fetches, so the cache read and the credit count cannot be skipped or done twice.
//! Keys are de-duplicated, batched where the endpoint allows it, fetched concurrently up to the
//! in-flight cap, and a key that is already being fetched (by this lookup or another) is
//! waited for, not fetched again ([`Flights`](super::flights::Flights)).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::future::join_all;
use futures::stream::{self, BoxStream, Stream, StreamExt};

use super::batched::{Companion, Fetched, Handoff, Part};
use super::cache::{CacheRead, Cached};
use super::client::HgClient;
use super::endpoint::{Charge, Endpoint, Keys};
use super::error::HgError;
use super::flights::Claim;
use super::ids::CompanyId;
use super::request::{Companies, EnrichRequest, MatchQuery, Payload};
use super::row::{FieldValue, Row, Rows};

/// What a lookup will take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupPlan {
    pub requests: u64,
    /// At most: companies the endpoint has not returned before.
    pub credits: u64,
    /// Lookups the cache answers.
    pub cached: u64,
}

/// How a company lookup shares its requests with another table's (v2 enrich).
#[derive(Clone, Debug, Default)]
pub enum Sharing {
    #[default]
    None,
    /// Its requests also fetch the companion's field group, for the companion's scan.
    Serves(Arc<Companion>),
    /// It takes what another scan's requests fetched for it, and fetches only the rest.
    ServedBy(Arc<Handoff>),
}

/// A planned lookup of companies on one endpoint: the cache's answers, the companies left to
/// fetch, and what fetching them may take. Made by [`HgClient::plan_companies`], which counts
/// the cache hits and records the plan (for progress and the credit budget); run by
/// [`fetch`](Self::fetch), which reads the cache again only for answers this process stored
/// since.
pub struct CompanyLookup {
    client: HgClient,
    endpoint: Endpoint,
    request: EnrichRequest,
    /// What another scan's requests fetched for this one.
    shared: Vec<(CompanyId, Rows)>,
    /// Companies the cache answers: their answers are read a chunk at a time as the fetch
    /// stream reaches them, so a lookup of a million cached companies never holds them all.
    hits: Vec<CompanyId>,
    misses: Vec<CompanyId>,
    companion: Option<Arc<Companion>>,
    estimate: LookupPlan,
}

impl CompanyLookup {
    /// What the lookup will take.
    pub fn estimate(&self) -> LookupPlan {
        self.estimate
    }

    /// Companies another scan's requests fetched for this one.
    pub fn shared(&self) -> usize {
        self.shared.len()
    }

    /// Every company's rows (an empty list when HG has nothing), or the error of its own
    /// request: the cache's answers first, then the fetched ones as they arrive.
    pub fn fetch(self) -> BoxStream<'static, (CompanyId, Result<Rows, HgError>)> {
        let (client, endpoint, request) = (self.client, self.endpoint, Arc::new(self.request));
        let name = endpoint.name();
        let companion = self.companion;
        let hits = {
            let (client, request, companion) = (client.clone(), request.clone(), companion.clone());
            stream::iter(self.hits).chunks(HITS_READ_AT_ONCE).flat_map(move |chunk| {
                let mut cached = client.cached_companies(endpoint, &request, &chunk, CacheRead::Full);
                let mut gone = Vec::new();
                let mut found = Vec::with_capacity(chunk.len());
                for id in chunk {
                    let Some(answer) = cached.remove(&id) else {
                        gone.push(id);
                        continue;
                    };
                    let rows = answer.rows().map(Arc::new).ok_or_else(|| HgError::Decode {
                        endpoint: name,
                        message: format!(
                            "the cached answer for {id} cannot be read; rerun with --refresh, or empty the cache with `hgsql cache clear`"
                        ),
                    });
                    found.push((id, rows));
                }
                // An answer that expired or was cleared since the plan is fetched after all.
                let fetched = (!gone.is_empty()).then(|| {
                    let request = EnrichRequest::clone(&request);
                    client.enrich_stream(endpoint, request, stream::iter(gone), CacheRead::Full, companion.clone())
                });
                stream::iter(found).chain(stream::iter(fetched).flatten())
            })
        };
        let shared = stream::iter(self.shared).map(|(id, rows)| (id, Ok(rows)));
        let misses = stream::iter(self.misses);
        let request = EnrichRequest::clone(&request);
        let fetched = client.enrich_stream(endpoint, request, misses, CacheRead::StoredHere, companion);
        shared.chain(hits).chain(fetched).boxed()
    }
}

/// A planned set of match queries: those the cache answers (read a chunk at a time as the
/// fetch stream reaches them) and the queries left to send (match is free, so there is nothing
/// to count but requests).
pub struct MatchLookup {
    client: HgClient,
    endpoint: Endpoint,
    hits: Vec<MatchQuery>,
    misses: Vec<MatchQuery>,
}

impl MatchLookup {
    /// Requests left to send.
    pub fn requests(&self) -> usize {
        self.misses.len()
    }

    /// Every query's matches, or the error of its own request: the cache's answers first.
    pub fn fetch(self) -> BoxStream<'static, (MatchQuery, Result<Vec<Row>, HgError>)> {
        let (client, endpoint) = (self.client, self.endpoint);
        let hits = {
            let client = client.clone();
            stream::iter(self.hits).chunks(HITS_READ_AT_ONCE).flat_map(move |chunk| {
                let mut cached = client.cached_matches(endpoint, &chunk);
                let mut gone = Vec::new();
                let mut found = Vec::with_capacity(chunk.len());
                for query in chunk {
                    match cached.remove(&query) {
                        Some(rows) => found.push((query, Ok(rows))),
                        None => gone.push(query),
                    }
                }
                // An answer that expired or was cleared since the plan is asked for after all.
                let fetched =
                    (!gone.is_empty()).then(|| client.match_stream(endpoint, stream::iter(gone), CacheRead::Full));
                stream::iter(found).chain(stream::iter(fetched).flatten())
            })
        };
        hits.chain(client.match_stream(endpoint, stream::iter(self.misses), CacheRead::StoredHere)).boxed()
    }
}

/// Cached answers a lookup reads from the file at once while it streams them out: what its
/// memory holds of the cache, whatever the number of keys.
const HITS_READ_AT_ONCE: usize = 4096;

/// The cached answers that can be read, decoded.
fn decoded(cached: HashMap<CompanyId, Cached>) -> HashMap<CompanyId, Rows> {
    cached.into_iter().filter_map(|(id, answer)| answer.rows().map(|rows| (id, Arc::new(rows)))).collect()
}

/// What a request for `ids` on `endpoint` may be charged for: each company, or each company
/// and value of the charged filter (`1698…|814`).
fn credit_items(endpoint: Endpoint, request: &EnrichRequest, ids: &[CompanyId]) -> Vec<String> {
    match endpoint.charge() {
        Charge::PerCompanyAnd { filter, .. } => {
            let values: Vec<String> = request
                .filters
                .get(filter)
                .and_then(|f| f.as_object().and_then(|o| o.values().next()).or(Some(f)))
                .and_then(|list| list.as_array())
                .map(|list| list.iter().map(|v| v.to_string().trim_matches('"').to_string()).collect())
                .unwrap_or_default();
            ids.iter().flat_map(|id| values.iter().map(move |v| format!("{id}|{v}"))).collect()
        }
        _ => ids.iter().map(|id| id.to_string()).collect(),
    }
}

/// What `rows` of company `id` were charged for: the company, or each company and value of
/// the charged field the rows hold.
fn returned_items(endpoint: Endpoint, id: &CompanyId, rows: &[Row]) -> Vec<String> {
    match endpoint.charge() {
        Charge::PerCompanyAnd { field, .. } => {
            let mut values: Vec<String> = rows
                .iter()
                .filter_map(|r| match r.get(field) {
                    Some(FieldValue::Int(v)) => Some(v.to_string()),
                    Some(FieldValue::Text(v)) => Some(v.clone()),
                    _ => None,
                })
                .collect();
            values.sort();
            values.dedup();
            values.into_iter().map(|v| format!("{id}|{v}")).collect()
        }
        _ if rows.is_empty() => Vec::new(),
        _ => vec![id.to_string()],
    }
}

impl HgClient {
    /// What looking up `ids` on `endpoint` with `request` will take, given the cache: the
    /// requests, the credits they may cost at most, and the lookups the cache answers. For
    /// EXPLAIN: nothing is recorded.
    pub fn preview_companies(&self, endpoint: Endpoint, request: &EnrichRequest, ids: &[CompanyId]) -> LookupPlan {
        let request = request.clone().fitted(endpoint);
        let cached = self.cached_companies(endpoint, &request, ids, CacheRead::Full);
        let misses: Vec<CompanyId> = ids.iter().filter(|id| !cached.contains_key(*id)).cloned().collect();
        self.plan_misses(endpoint, &request, &misses, cached.len() as u64, false)
    }

    /// Plans the lookup of `ids`: what the cache answers (counted as cache hits now) and what
    /// must be fetched, recorded as planned for progress and the credit budget's message.
    pub fn plan_companies(&self, endpoint: Endpoint, request: EnrichRequest, ids: Vec<CompanyId>) -> CompanyLookup {
        self.plan_companies_sharing(endpoint, request, ids, Sharing::None)
    }

    /// [`plan_companies`](Self::plan_companies), sharing requests as `sharing` says: what
    /// another scan fetched for this one is taken first (neither fetched nor paid again), and
    /// a lookup that serves a companion fetches its field group too.
    pub fn plan_companies_sharing(
        &self,
        endpoint: Endpoint,
        request: EnrichRequest,
        ids: Vec<CompanyId>,
        sharing: Sharing,
    ) -> CompanyLookup {
        let request = request.fitted(endpoint);
        let (shared, companion) = match sharing {
            Sharing::None => (Vec::new(), None),
            Sharing::Serves(companion) => (Vec::new(), Some(companion)),
            Sharing::ServedBy(handoff) => (handoff.take(&ids), None),
        };
        let ids: Vec<CompanyId> = if shared.is_empty() {
            ids
        } else {
            let taken: HashSet<&CompanyId> = shared.iter().map(|(id, _)| id).collect();
            ids.into_iter().filter(|id| !taken.contains(id)).collect()
        };
        let held = self.held_companies(endpoint, &request, &ids);
        if !held.is_empty() {
            self.cache_hits(endpoint, held.len());
        }
        let hits_count = held.len() as u64;
        let (hits, misses): (Vec<CompanyId>, Vec<CompanyId>) = ids.into_iter().partition(|id| held.contains(id));
        drop(held);
        let estimate = self.plan_misses(endpoint, &request, &misses, hits_count, true);
        self.inner.metrics.plan(estimate.requests);
        self.inner.credits.plan(estimate.credits);
        CompanyLookup { client: self.clone(), endpoint, request, shared, hits, misses, companion, estimate }
    }

    /// The plan of fetching `misses`. With `record`, the companies found never returned are
    /// remembered, so fetching them does not ask the cache again
    /// ([`Credits::uncharged`](super::credits::Credits::uncharged)).
    fn plan_misses(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        misses: &[CompanyId],
        cached: u64,
        record: bool,
    ) -> LookupPlan {
        let batch = self.batch_size(endpoint);
        let requests = misses.len().div_ceil(batch) as u64;
        let misses = credit_items(endpoint, request, misses);
        let mut fresh = self.inner.credits.not_charged(endpoint, &misses);
        if let Some(cache) = self.config().cache.as_ref().filter(|_| endpoint.charge() == Charge::PerCompany) {
            let before = cache.returned_before(self.cache_base(), endpoint, &fresh);
            fresh.retain(|item| !before.contains(item));
        }
        if record && endpoint.charged() {
            self.inner.credits.unreturned(endpoint, fresh.iter().cloned());
        }
        LookupPlan { requests, credits: if endpoint.charged() { fresh.len() as u64 } else { 0 }, cached }
    }

    /// Plans match `queries` on `endpoint`: what the cache answers (counted as cache hits now)
    /// and the requests left, recorded as planned.
    pub fn plan_matches(&self, endpoint: Endpoint, queries: Vec<MatchQuery>) -> MatchLookup {
        let config = self.config();
        let (hits, misses) = match config.cache.as_ref().filter(|_| !config.refresh) {
            Some(cache) => {
                let scope = super::cache::scope(self.cache_base(), endpoint, "");
                let mut held = Vec::with_capacity(queries.len());
                for chunk in queries.chunks(HITS_READ_AT_ONCE) {
                    let items: Vec<String> =
                        chunk.iter().map(|q| serde_json::to_string(q).expect("serialises")).collect();
                    let found = cache.held(&scope, &items, None, self.options.max_age);
                    held.extend(items.iter().map(|item| found.contains(item)));
                }
                // Each list sized once: grown by doubling, a million queries would keep up to
                // twice their room for the whole scan.
                let count = held.iter().filter(|h| **h).count();
                let (mut hits, mut misses) = (Vec::with_capacity(count), Vec::with_capacity(queries.len() - count));
                for (query, held) in queries.into_iter().zip(held) {
                    if held { hits.push(query) } else { misses.push(query) }
                }
                (hits, misses)
            }
            None => (Vec::new(), queries),
        };
        if !hits.is_empty() {
            self.cache_hits(endpoint, hits.len());
        }
        self.inner.metrics.plan(misses.len().div_ceil(self.batch_size(endpoint)) as u64);
        MatchLookup { client: self.clone(), endpoint, hits, misses }
    }

    /// Rows of `endpoint` for each company of `ids`, as `request` asks (fields, filters, sorts),
    /// reading the cache as the ids arrive: for a stream of keys not known up front. Companies
    /// go in batches where the endpoint takes them, else one per request. Every id is answered
    /// once, with an empty list when HG has nothing; the first failure ends the stream.
    pub fn enrich(
        &self,
        endpoint: Endpoint,
        request: EnrichRequest,
        ids: impl Stream<Item = CompanyId> + Send + 'static,
    ) -> BoxStream<'static, Result<(CompanyId, Rows), HgError>> {
        let mut seen = HashSet::new();
        let ids = ids.filter(move |id| std::future::ready(seen.insert(id.clone())));
        self.enrich_stream(endpoint, request.fitted(endpoint), ids, CacheRead::Full, None)
            .map(|(id, result)| result.map(|rows| (id, rows)))
            .boxed()
    }

    /// Keys per request on `endpoint`: the declared batch, capped for companies by the batch
    /// size setting (and on v2 by what HG has shown it takes).
    fn batch_size(&self, endpoint: Endpoint) -> usize {
        let declared = endpoint.spec().keys.batch_max();
        match endpoint.spec().keys {
            Keys::MatchBatch { .. } => declared,
            Keys::Enrich { .. } => declared.min(self.inner.enrich_cap.load(Ordering::Relaxed).max(1)),
            _ => declared.min(self.config().batch_size.max(1)),
        }
    }

    /// The rows of each of `ids`, which must be distinct (a lookup's plan made them so; a
    /// set of every key seen would grow with the keys).
    fn enrich_stream(
        &self,
        endpoint: Endpoint,
        request: EnrichRequest,
        ids: impl Stream<Item = CompanyId> + Send + 'static,
        read: CacheRead,
        companion: Option<Arc<Companion>>,
    ) -> BoxStream<'static, (CompanyId, Result<Rows, HgError>)> {
        let client = self.clone();
        let request = Arc::new(request);
        let flight_prefix = format!("{}|{}|", endpoint.name(), serde_json::to_string(&*request).expect("serialises"));
        let batch = self.batch_size(endpoint);
        let concurrency = self.config().max_in_flight.max(1);
        ids.ready_chunks(batch)
            .map(move |chunk| {
                let (client, request, prefix) = (client.clone(), request.clone(), flight_prefix.clone());
                let companion = companion.clone();
                async move { client.fetch_keys(endpoint, &request, &prefix, chunk, read, companion.as_deref()).await }
            })
            .buffer_unordered(concurrency)
            .flat_map(stream::iter)
            .boxed()
    }

    /// The rows of `ids`: each is claimed first, then read from the cache or fetched (see
    /// [`fetch_claimed`](Self::fetch_claimed)), or waited for when another lookup is fetching
    /// it. Claiming before reading means one cache read per key, and no window in which an
    /// answer stored meanwhile is fetched again. A key whose fetcher went away (its query was
    /// cancelled) is claimed again, not fetched on the side, so two waiters on it do not both
    /// fetch it.
    async fn fetch_keys(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        prefix: &str,
        ids: Vec<CompanyId>,
        read: CacheRead,
        companion: Option<&Companion>,
    ) -> Vec<(CompanyId, Result<Rows, HgError>)> {
        let mut out = Vec::with_capacity(ids.len());
        let mut pending = ids;
        while !pending.is_empty() {
            let keys: Vec<String> = pending.iter().map(|id| format!("{prefix}{id}")).collect();
            let (others, claims) = self.inner.flights.claim(endpoint, &keys);
            let mine: Vec<CompanyId> =
                pending.iter().zip(&others).filter(|(_, other)| other.is_none()).map(|(id, _)| id.clone()).collect();
            let mut fetched = self.fetch_claimed(endpoint, request, mine, claims, read, companion).await;
            let mut orphaned = Vec::new();
            for (id, other) in pending.into_iter().zip(others) {
                let outcome = match other {
                    Some(flight) => match flight.await {
                        Err(HgError::Cancelled { .. }) => {
                            orphaned.push(id);
                            continue;
                        }
                        outcome => outcome,
                    },
                    None => fetched.remove(&id).expect("every claimed id was fetched"),
                };
                out.push((id, outcome));
            }
            pending = orphaned;
        }
        out
    }

    /// Fetches the companies this caller claimed and reports each to its waiters, answering
    /// from the cache those it holds (read after the claim: another lookup may have stored the
    /// answer and landed its flight just before). Each company gets its own outcome: one that
    /// arrived whole is not failed by another's request.
    async fn fetch_claimed(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        ids: Vec<CompanyId>,
        claims: Vec<Claim>,
        read: CacheRead,
        companion: Option<&Companion>,
    ) -> HashMap<CompanyId, Result<Rows, HgError>> {
        if claims.is_empty() {
            return HashMap::new();
        }
        let flights = &self.inner.flights;
        let cached = decoded(self.cached_companies(endpoint, request, &ids, read));
        if !cached.is_empty() {
            self.cache_hits(endpoint, cached.len());
        }
        let mut out = HashMap::with_capacity(ids.len());
        let mut missing = Vec::with_capacity(ids.len());
        let mut unlanded = Vec::with_capacity(ids.len());
        for (claim, id) in claims.into_iter().zip(ids) {
            match cached.get(&id) {
                Some(rows) => {
                    flights.land(claim, Ok(rows.clone()));
                    out.insert(id, Ok(rows.clone()));
                }
                None => {
                    missing.push(id);
                    unlanded.push(claim);
                }
            }
        }
        if missing.is_empty() {
            return out;
        }
        let mut fetched = self.fetch_companies(endpoint, request, &missing, companion).await;
        for (claim, id) in unlanded.into_iter().zip(missing) {
            let outcome = fetched.outcome(&id).map(Arc::new);
            flights.land(claim, outcome.clone());
            out.insert(id, outcome);
        }
        out
    }

    /// What the cache holds for `ids`, not yet decoded (none when refreshing or without a
    /// cache).
    fn cached_companies(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        ids: &[CompanyId],
        read: CacheRead,
    ) -> HashMap<CompanyId, Cached> {
        let config = self.config();
        let Some(cache) = config.cache.as_ref().filter(|_| !config.refresh) else { return HashMap::new() };
        let items: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let (scope, fields, max_age) =
            (self.cache_scope(endpoint, request), request.fields.as_deref(), self.options.max_age);
        let mut found = match read {
            CacheRead::Full => cache.get(&scope, &items, fields, max_age),
            CacheRead::StoredHere => cache.get_stored_here(&scope, &items, fields, max_age),
        };
        ids.iter().filter_map(|id| found.remove(id.as_str()).map(|hit| (id.clone(), hit))).collect()
    }

    /// Which of `ids` the cache answers, reading no answer (none when refreshing or without a
    /// cache).
    fn held_companies(&self, endpoint: Endpoint, request: &EnrichRequest, ids: &[CompanyId]) -> HashSet<CompanyId> {
        let config = self.config();
        let Some(cache) = config.cache.as_ref().filter(|_| !config.refresh) else { return HashSet::new() };
        let (scope, fields, max_age) =
            (self.cache_scope(endpoint, request), request.fields.as_deref(), self.options.max_age);
        let mut held = HashSet::new();
        for chunk in ids.chunks(HITS_READ_AT_ONCE) {
            let items: Vec<String> = chunk.iter().map(|id| id.to_string()).collect();
            let found = cache.held(&scope, &items, fields, max_age);
            held.extend(chunk.iter().filter(|id| found.contains(id.as_str())).cloned());
        }
        held
    }

    /// The cache's decoded answers to match `queries` (an answer that cannot be decoded is
    /// left out: it is asked again).
    fn cached_matches(&self, endpoint: Endpoint, queries: &[MatchQuery]) -> HashMap<MatchQuery, Vec<Row>> {
        let config = self.config();
        let Some(cache) = config.cache.as_ref().filter(|_| !config.refresh) else { return HashMap::new() };
        let items: Vec<String> = queries.iter().map(|q| serde_json::to_string(q).expect("serialises")).collect();
        let scope = super::cache::scope(self.cache_base(), endpoint, "");
        let mut found = cache.get(&scope, &items, None, self.options.max_age);
        queries
            .iter()
            .zip(&items)
            .filter_map(|(query, item)| Some((query.clone(), found.remove(item)?.rows()?)))
            .collect()
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
    ///
    /// When the fetch fails part way, what arrived was still paid for: the companies it returned
    /// are counted as spent, and the complete answers among it (each company asked alone) are
    /// cached, so a rerun pays only for the rest. The reservation of the companies that did not
    /// arrive goes back: a request that failed cost nothing (the API's balance header still shows
    /// if it did). Dropped under way (the query cancelled), the reservation counts all its
    /// companies as spent (see [`Reservation`](super::credits::Reservation)).
    async fn fetch_companies(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        ids: &[CompanyId],
        companion: Option<&Companion>,
    ) -> Fetched {
        if !endpoint.charged() {
            return self.fetch_companies_uncounted(endpoint, request, ids).await;
        }
        if let Charge::PerCompanyAnd { filter, .. } = endpoint.charge()
            && request.filters.get(filter).is_none()
        {
            let message = format!(
                "HG {}: a request without its '{filter}' filter could cost any number of credits; name them",
                endpoint.name()
            );
            return Fetched { error: Some(HgError::Config(message)), ..Fetched::default() };
        }
        let mut parts = vec![Part { endpoint, request }];
        if let Some(companion) = companion {
            parts.push(Part { endpoint: companion.endpoint, request: &companion.request });
        }
        let fresh: Vec<Vec<String>> = parts.iter().map(|part| self.fresh(part.endpoint, part.request, ids)).collect();
        if self.config().dry_run {
            let requests = if self.batch_size(endpoint) > 1 && !self.inner.batch_unsupported.load(Ordering::Relaxed) {
                1
            } else {
                ids.len() as u64
            };
            self.inner.metrics.dry_run(requests, fresh.iter().map(|f| f.len() as u64).sum());
            if let Some(estimate) = super::v2::estimate_of(endpoint) {
                let hg = self.estimate_parts(estimate, &parts, ids).await;
                self.inner.metrics.hg_estimate(hg);
            }
            // A stand-in row per company (its id, nothing else), so lookups joined on these
            // companies further on are counted too.
            let stand_in = || -> HashMap<CompanyId, Vec<Row>> {
                ids.iter()
                    .map(|id| {
                        let row = Row { fields: [("company_id".to_string(), FieldValue::Text(id.to_string()))].into() };
                        (id.clone(), vec![row])
                    })
                    .collect()
            };
            if let Some(companion) = companion {
                stand_in().into_iter().for_each(|(id, rows)| companion.handoff.put(id, Arc::new(rows)));
            }
            return Fetched { complete: stand_in(), ..Fetched::default() };
        }
        self.balance_before_charging().await;
        // Every part's worst case is reserved under the budget, at once, before the request
        // leaves.
        let credits = &self.inner.credits;
        let wanted: Vec<(Endpoint, Vec<String>)> = parts.iter().map(|p| p.endpoint).zip(fresh).collect();
        let reservations = match credits.reserve_when_settled(wanted, self.options.max_credits).await {
            Ok(reservations) => reservations,
            Err(error) => return Fetched { error: Some(error), ..Fetched::default() },
        };
        let mut outcomes = if companion.is_some() {
            self.enrich_batch(&parts, ids).await
        } else {
            vec![self.fetch_companies_uncounted(endpoint, request, ids).await]
        };
        for ((part, reservation), fetched) in parts.iter().zip(reservations).zip(&outcomes) {
            let returned = fetched.complete.iter().flat_map(|(id, rows)| returned_items(part.endpoint, id, rows));
            let cut_short =
                credit_items(part.endpoint, part.request, &fetched.cut_short.iter().cloned().collect::<Vec<_>>());
            credits.settle(reservation, returned.chain(cut_short));
            self.keep_companies(part.endpoint, part.request, ids, fetched);
        }
        if let (Some(companion), Some(served)) = (companion, outcomes.get_mut(1)) {
            for (id, rows) in served.complete.drain() {
                companion.handoff.put(id, Arc::new(rows));
            }
        }
        outcomes.swap_remove(0)
    }

    /// HG's own ceiling (v2, free) for what fetching `ids` for every part would cost, or `None`
    /// when it does not answer (a dry run then reports hgsql's count alone).
    async fn estimate_parts(&self, estimate: Endpoint, parts: &[Part<'_>], ids: &[CompanyId]) -> Option<u64> {
        let bodies: Vec<serde_json::Value> = match parts[0].endpoint.spec().keys {
            Keys::Enrich { .. } => vec![super::batched::body(parts, ids, self.config().page_size.max(1), 0)],
            keys => ids.iter().map(|id| parts[0].request.body(keys, Companies::One(id))).collect(),
        };
        let mut total = 0;
        for body in bodies {
            match self.send(estimate, &Payload::Body(body)).await {
                Ok(page) => {
                    total += page.rows.first().and_then(|r| r.get("value")).and_then(FieldValue::as_i64)? as u64
                }
                Err(error) => {
                    tracing::warn!("HG gave no estimate ({error}); the dry run counts credits by hgsql's own count");
                    return None;
                }
            }
        }
        Some(total)
    }

    /// HG's own ceiling (v2, free) for looking up `ids` on `endpoint` with `request`, where HG
    /// offers an estimate and answers it; for EXPLAIN.
    pub async fn hg_estimate(&self, endpoint: Endpoint, request: &EnrichRequest, ids: &[CompanyId]) -> Option<u64> {
        let estimate = super::v2::estimate_of(endpoint)?;
        if ids.is_empty() {
            return Some(0);
        }
        let request = request.clone().fitted(endpoint);
        let mut total = 0;
        for chunk in ids.chunks(self.batch_size(endpoint)) {
            total += self.estimate_parts(estimate, &[Part { endpoint, request: &request }], chunk).await?;
        }
        Some(total)
    }

    /// Of `ids`, the companies `endpoint` has not returned before, by this run's count and the
    /// cache's (what a request for them may charge).
    fn fresh(&self, endpoint: Endpoint, request: &EnrichRequest, ids: &[CompanyId]) -> Vec<String> {
        let items = credit_items(endpoint, request, ids);
        let credits = &self.inner.credits;
        let (mut fresh, unchecked) = credits.uncharged(endpoint, &items);
        // The cache keeps answers per company: it can tell what was returned per company only.
        match self.config().cache.as_ref().filter(|_| endpoint.charge() == Charge::PerCompany) {
            Some(cache) => {
                let before = cache.returned_before(self.cache_base(), endpoint, &unchecked);
                credits.known(endpoint, before.iter().cloned());
                fresh.extend(unchecked.into_iter().filter(|item| !before.contains(item)));
            }
            None => fresh.extend(unchecked),
        }
        fresh
    }

    /// Puts what a fetch of `ids` came to into the cache: every company asked when all was
    /// answered (those without rows have none), else the complete answers only.
    fn keep_companies(&self, endpoint: Endpoint, request: &EnrichRequest, ids: &[CompanyId], fetched: &Fetched) {
        let Some(cache) = &self.config().cache else { return };
        let empty = Vec::new();
        let entries: Vec<(String, &[Row])> = match fetched.error {
            None => {
                ids.iter().map(|id| (id.to_string(), fetched.complete.get(id).unwrap_or(&empty).as_slice())).collect()
            }
            Some(_) => fetched.complete.iter().map(|(id, rows)| (id.to_string(), rows.as_slice())).collect(),
        };
        cache.put(&self.cache_scope(endpoint, request), endpoint, request.fields.as_deref(), &entries);
    }

    async fn fetch_companies_uncounted(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        ids: &[CompanyId],
    ) -> Fetched {
        let keys = endpoint.spec().keys;
        if let Keys::Enrich { .. } = keys {
            let mut outcomes = self.enrich_batch(&[Part { endpoint, request }], ids).await;
            return outcomes.swap_remove(0);
        }
        let one_by_one =
            ids.len() == 1 || self.batch_size(endpoint) <= 1 || self.inner.batch_unsupported.load(Ordering::Relaxed);
        if !one_by_one {
            let (rows, error) =
                self.list_partial(endpoint, &Payload::Body(request.body(keys, Companies::Batch(ids))), None).await;
            if let Some(error) = error {
                // The pages received were paid for, but a company's rows may go on in the page
                // that failed: none of them is known complete.
                let cut_short =
                    rows.iter().filter_map(|r| r.company_id().and_then(|i| CompanyId::parse(i).ok())).collect();
                return Fetched { complete: HashMap::new(), cut_short, error: Some(error) };
            }
            if rows.iter().all(|r| r.company_id().is_some()) {
                let mut by_id: HashMap<CompanyId, Vec<Row>> = HashMap::new();
                for row in rows {
                    if let Some(id) = row.company_id().and_then(|i| CompanyId::parse(i).ok()) {
                        by_id.entry(id).or_default().push(row);
                    }
                }
                return Fetched { complete: by_id, ..Fetched::default() };
            }
            if !self.inner.batch_unsupported.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    endpoint = endpoint.name(),
                    "HG returned batch rows without company_id; fetching one company per request from now on"
                );
            }
        }
        let fetches = ids.iter().map(|id| async move {
            let payload = Payload::Body(request.body(keys, Companies::One(id)));
            (id.clone(), self.list(endpoint, &payload, None).await)
        });
        let mut fetched = Fetched::default();
        for (id, rows) in join_all(fetches).await {
            match rows {
                Ok(rows) => {
                    fetched.complete.insert(id, rows);
                }
                Err(error) => {
                    fetched.error.get_or_insert(error);
                }
            }
        }
        fetched
    }

    /// The matches for each query on `endpoint`, one request per distinct query,
    /// concurrently, reading the cache as the queries arrive; the first failure ends the stream.
    pub fn match_many(
        &self,
        endpoint: Endpoint,
        queries: impl Stream<Item = MatchQuery> + Send + 'static,
    ) -> BoxStream<'static, Result<(MatchQuery, Vec<Row>), HgError>> {
        let mut seen = HashSet::new();
        let queries = queries.filter(move |q| std::future::ready(seen.insert(q.clone())));
        self.match_stream(endpoint, queries, CacheRead::Full)
            .map(|(query, result)| result.map(|rows| (query, rows)))
            .boxed()
    }

    /// The matches of each of `queries`, which must be distinct.
    fn match_stream(
        &self,
        endpoint: Endpoint,
        queries: impl Stream<Item = MatchQuery> + Send + 'static,
        read: CacheRead,
    ) -> BoxStream<'static, (MatchQuery, Result<Vec<Row>, HgError>)> {
        let client = self.clone();
        let concurrency = self.config().max_in_flight.max(1);
        if let Keys::MatchBatch { max, .. } = endpoint.spec().keys {
            return queries
                .ready_chunks(max.max(1))
                .map(move |chunk| {
                    let client = client.clone();
                    async move { client.match_batch(endpoint, chunk, read).await }
                })
                .buffer_unordered(concurrency)
                .flat_map(stream::iter)
                .boxed();
        }
        queries
            .map(move |query| {
                let client = client.clone();
                async move {
                    let rows = client.company_match_read(endpoint, &query, read).await;
                    (query, rows)
                }
            })
            .buffer_unordered(concurrency)
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use std::sync::atomic::AtomicUsize;

    use serde_json::json;

    use super::*;
    use crate::api::cache::ResponseCache;
    use crate::api::{ApiKey, ClientConfig, LookupOptions, RetryPolicy};

    /// How the stand-in HG answers: (path, body) to (status, JSON).
    type Answer = dyn Fn(&str, &Value) -> (u16, Value) + Send + Sync;

    /// A stand-in HG on a local port, a client of it with a cache in `dir`, and the count of
    /// requests it got.
    async fn client(dir: &std::path::Path, answer: Arc<Answer>) -> (HgClient, Arc<AtomicUsize>) {
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let router = axum::Router::new().fallback(move |uri: axum::http::Uri, axum::Json(body): axum::Json<Value>| {
            let (answer, counted) = (answer.clone(), counted.clone());
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let (status, json) = answer(uri.path(), &body);
                (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(json))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let mut config = ClientConfig::new(base, ApiKey::new("test-key"));
        config.rate = None;
        config.page_size = 2;
        config.retry = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
        config.cache = Some(Arc::new(ResponseCache::open(&dir.join("cache.sqlite")).unwrap()));
        let client = HgClient::new(config).unwrap();
        (client.with_options(LookupOptions { max_credits: Some(100), ..LookupOptions::default() }), requests)
    }

    fn id(text: &str) -> CompanyId {
        CompanyId::parse(text).unwrap()
    }

    /// A firmographic answer naming the company, or a 500 for `failing`.
    fn firmographic(failing: Option<CompanyId>) -> Arc<Answer> {
        Arc::new(move |_, body| {
            let company = body["company_id"].as_str().unwrap().to_string();
            if failing.as_ref().is_some_and(|f| f.as_str() == company) {
                return (500, json!({"errors": [{"detail": "down"}]}));
            }
            (200, json!({"data": [{"company_id": company, "company_name": format!("name of {company}")}]}))
        })
    }

    fn name(rows: &[Row]) -> Option<&str> {
        rows.first().and_then(|r| r.get("company_name")).and_then(FieldValue::as_str)
    }

    fn cached(client: &HgClient, endpoint: Endpoint, ids: &[CompanyId]) -> HashMap<CompanyId, Rows> {
        decoded(client.cached_companies(endpoint, &EnrichRequest::default(), ids, CacheRead::Full))
    }

    fn put(client: &HgClient, endpoint: Endpoint, id: &CompanyId, company_name: &str) {
        let row = Row::decode(
            endpoint,
            json!({"company_id": id.as_str(), "company_name": company_name}).as_object().unwrap(),
        );
        let scope = client.cache_scope(endpoint, &EnrichRequest::default());
        client.config().cache.as_ref().unwrap().put(
            &scope,
            endpoint,
            None,
            &[(id.to_string(), std::slice::from_ref(&row))],
        );
    }

    #[tokio::test]
    async fn a_claimed_key_answered_meanwhile_is_served_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (client, requests) = client(dir.path(), firmographic(None)).await;
        let a = id("A");
        // Another lookup stored A and landed its flight after this one read the cache.
        put(&client, Endpoint::FIRMOGRAPHIC, &a, "stored meanwhile");
        let out = client
            .fetch_keys(
                Endpoint::FIRMOGRAPHIC,
                &EnrichRequest::default(),
                "p|",
                vec![a.clone()],
                CacheRead::StoredHere,
                None,
            )
            .await;
        assert_eq!(out.len(), 1);
        assert_eq!(name(out[0].1.as_ref().unwrap()), Some("stored meanwhile"));
        assert_eq!(requests.load(Ordering::SeqCst), 0, "not fetched again");
        assert!(client.inner.flights.map.lock().unwrap().is_empty(), "the claim landed");
    }

    #[tokio::test]
    async fn a_waiter_on_a_cancelled_flight_claims_the_key_again() {
        let dir = tempfile::tempdir().unwrap();
        let (client, requests) = client(dir.path(), firmographic(None)).await;
        let (a, b) = (id("A"), id("B"));
        let (_, claims) = client.inner.flights.claim(Endpoint::FIRMOGRAPHIC, &[format!("p|{a}"), format!("p|{b}")]);
        let request = EnrichRequest::default();
        let mut waiter = Box::pin(client.fetch_keys(
            Endpoint::FIRMOGRAPHIC,
            &request,
            "p|",
            vec![a.clone(), b.clone()],
            CacheRead::StoredHere,
            None,
        ));
        assert!(futures::poll!(waiter.as_mut()).is_pending(), "waits for the other lookup");
        // That lookup stores A, then its query is cancelled before it lands anything.
        put(&client, Endpoint::FIRMOGRAPHIC, &a, "stored by the other");
        drop(claims);
        let out: HashMap<CompanyId, Rows> = waiter.await.into_iter().map(|(id, rows)| (id, rows.unwrap())).collect();
        assert_eq!(name(&out[&a]), Some("stored by the other"), "A from the cache, through a claim");
        assert_eq!(name(&out[&b]), Some(format!("name of {b}").as_str()));
        assert_eq!(requests.load(Ordering::SeqCst), 1, "B fetched once, A not at all");
        assert!(client.inner.flights.map.lock().unwrap().is_empty());
    }

    /// Cached answers are decoded as the fetch stream reaches them: a consumer that stops
    /// early (a LIMIT) never decodes the rest. An answer found unreadable then is an error that
    /// says what to do, not a silent second request.
    #[tokio::test]
    async fn cached_answers_are_decoded_only_when_the_stream_reaches_them() {
        let dir = tempfile::tempdir().unwrap();
        let (client, requests) = client(dir.path(), firmographic(None)).await;
        let (a, b) = (id("A"), id("B"));
        put(&client, Endpoint::FIRMOGRAPHIC, &a, "alpha");
        put(&client, Endpoint::FIRMOGRAPHIC, &b, "beta");
        let cache = client.config().cache.clone().unwrap();
        cache.flush();
        let file = rusqlite::Connection::open(cache.path()).unwrap();
        let spoiled = file.execute("UPDATE response SET rows = 'not json' WHERE item = ?1", [b.as_str()]).unwrap();
        assert_eq!(spoiled, 1);
        let lookup =
            client.plan_companies(Endpoint::FIRMOGRAPHIC, EnrichRequest::default(), vec![a.clone(), b.clone()]);
        assert_eq!(lookup.estimate().cached, 2, "both are answered by the cache");
        let mut stream = lookup.fetch();
        let (first, rows) = stream.next().await.unwrap();
        assert_eq!((first, name(&rows.unwrap())), (a, Some("alpha")), "the first answer, read on its own");
        let (second, rows) = stream.next().await.unwrap();
        assert_eq!(second, b);
        let error = rows.unwrap_err().to_string();
        assert!(error.contains("cannot be read") && error.contains("--refresh"), "{error}");
        assert!(stream.next().await.is_none());
        assert_eq!(requests.load(Ordering::SeqCst), 0, "nothing fetched");
    }

    #[tokio::test]
    async fn answers_that_arrived_before_a_failure_are_cached_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (id("A"), id("B"), id("C"));
        let (client, _) = client(dir.path(), firmographic(Some(b.clone()))).await;
        let ids = [a.clone(), b.clone(), c.clone()];
        let error = client
            .fetch_companies(Endpoint::FIRMOGRAPHIC, &EnrichRequest::default(), &ids, None)
            .await
            .into_result()
            .unwrap_err();
        assert_eq!(error.status(), Some(500), "{error}");
        let credits = &client.inner.credits;
        assert_eq!((credits.spent(), credits.reserved()), (2, 0), "A and C were returned and paid for");
        client.config().cache.as_ref().unwrap().flush();
        let kept = cached(&client, Endpoint::FIRMOGRAPHIC, &ids);
        assert_eq!(kept.keys().cloned().collect::<HashSet<_>>(), HashSet::from([a.clone(), c.clone()]));
        assert_eq!(name(&kept[&a]), Some(format!("name of {a}").as_str()));
    }

    #[tokio::test]
    async fn one_failed_request_fails_only_its_own_company() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (id("A"), id("B"), id("C"));
        let (client, _) = client(dir.path(), firmographic(Some(b.clone()))).await;
        let request = EnrichRequest::default();
        let asked = vec![a.clone(), b.clone(), c.clone()];
        let out: HashMap<CompanyId, Result<Rows, HgError>> = client
            .fetch_keys(Endpoint::FIRMOGRAPHIC, &request, "p|", asked, CacheRead::StoredHere, None)
            .await
            .into_iter()
            .collect();
        assert_eq!(out.len(), 3);
        assert_eq!(name(out[&a].as_ref().unwrap()), Some(format!("name of {a}").as_str()));
        assert_eq!(name(out[&c].as_ref().unwrap()), Some(format!("name of {c}").as_str()));
        assert_eq!(out[&b].as_ref().unwrap_err().status(), Some(500), "B alone carries the failure");
        assert!(client.inner.flights.map.lock().unwrap().is_empty(), "every claim landed");
    }

    #[tokio::test]
    async fn companies_of_the_pages_before_a_failed_page_are_counted_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (id("A"), id("B"), id("C"));
        let answer: Arc<Answer> = Arc::new(|_, body| {
            let ids: Vec<String> = body["filters"]["company_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_string())
                .collect();
            match body["offset"].as_u64() {
                // A full page (of 2): A's and B's first rows; the next page fails.
                Some(0) => (
                    200,
                    json!({"data": [{"company_id": ids[0], "product_id": 1}, {"company_id": ids[1], "product_id": 2}]}),
                ),
                _ => (503, json!({"errors": [{"detail": "down"}]})),
            }
        });
        let (client, requests) = client(dir.path(), answer).await;
        let ids = [a.clone(), b.clone(), c.clone()];
        let error = client
            .fetch_companies(Endpoint::INSTALLS, &EnrichRequest::default(), &ids, None)
            .await
            .into_result()
            .unwrap_err();
        assert_eq!(error.status(), Some(503), "{error}");
        assert_eq!(requests.load(Ordering::SeqCst), 2);
        let credits = &client.inner.credits;
        assert_eq!((credits.spent(), credits.reserved()), (2, 0), "A and B were returned: charged");
        assert_eq!(credits.not_charged(Endpoint::INSTALLS, &[a.to_string(), c.to_string()]), vec![c.to_string()]);
        client.config().cache.as_ref().unwrap().flush();
        assert!(cached(&client, Endpoint::INSTALLS, &ids).is_empty(), "no company is known complete");
    }
}
