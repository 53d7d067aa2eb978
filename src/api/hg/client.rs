//! `HgClient`: the one component that talks to HG. One per session, shared by every scan, so
//! the rate limit and the in-flight cap hold for the whole session. The pacing, retries and
//! credential handling are the shared [`Transport`]'s; this file adds what is HG's: the
//! envelope, the error body, what each status means, paging and the credit header.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use reqwest::header::AUTHORIZATION;
use serde_json::Value;

use super::answer::Page;
use super::cache::{CacheRead, ResponseCache};
use super::credits::Credits;
use super::endpoint::{Endpoint, Keys, MatchParams, Paging};
use super::error::HgError;
use super::flights::Flights;
use super::metrics::{Metrics, MetricsSnapshot, Tally};
use super::request::{ListQuery, MatchQuery, Payload};
use super::row::{FieldValue, Row};
use super::version::ApiVersion;
use crate::api::transport::{
    ApiKey, AuthScheme, Credential, Gates, Meter, NoAnswer, RateHeaders, Response, RetryPolicy, SendError, Transport,
    TransportConfig, Verdict, header_number,
};

/// The documented base URL of HG Data API v1.
pub const DEFAULT_BASE_URL: &str = "https://api.hginsights.com/data-api/v1";

/// How a client talks to HG.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub base_url: String,
    pub key: ApiKey,
    pub auth_scheme: AuthScheme,
    /// Requests per second; `None` for no limit. HG allows 25 per key.
    pub rate: Option<f64>,
    pub burst: u32,
    pub max_in_flight: usize,
    /// Companies per `company_ids` request (installs, spend).
    pub batch_size: usize,
    /// Rows per page.
    pub page_size: usize,
    pub retry: RetryPolicy,
    /// Time allowed for one HTTP exchange; a request gives up `retry.max_total` after it left.
    pub timeout: Duration,
    /// Where answers are kept so no query pays for them twice; `None` runs without.
    pub cache: Option<Arc<ResponseCache>>,
    /// Fetch again what the cache holds, and overwrite it.
    pub refresh: bool,
    /// What the cache files answers under instead of the base URL: the built-in sandbox's port
    /// changes every run, its data does not.
    pub cache_namespace: Option<String>,
    /// Make no charged request: count what it would cost and answer it with no rows.
    pub dry_run: bool,
    /// The HG API version the base URL and the key are for.
    pub version: ApiVersion,
}

/// Per-query settings of a client handle (from the session's `hg.*` settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupOptions {
    /// Cached answers older than this are fetched again.
    pub max_age: Duration,
    /// Credits this run may spend at most.
    pub max_credits: Option<u64>,
}

impl Default for LookupOptions {
    fn default() -> Self {
        LookupOptions { max_age: Duration::from_secs(7 * 24 * 3600), max_credits: None }
    }
}

impl ClientConfig {
    /// Defaults from docs/hg-api.md: 25 requests/s in bursts of 25, 8 in flight, 25 ids per
    /// batch, pages of 100, 6 attempts, 10 s per exchange and 30 s per request at most (so a
    /// server that never answers fails a query within half a minute).
    /// The version is what the key and the base URL say (v1 unless either says v2).
    pub fn new(base_url: impl Into<String>, key: ApiKey) -> ClientConfig {
        let base_url = base_url.into();
        let version = ApiVersion::choose(None, Some(&key), Some(&base_url)).unwrap_or_default();
        ClientConfig {
            version,
            base_url,
            key,
            auth_scheme: AuthScheme::Bearer,
            rate: Some(25.0),
            burst: 25,
            max_in_flight: 8,
            batch_size: 25,
            page_size: 100,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
            cache: None,
            refresh: false,
            cache_namespace: None,
            dry_run: false,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    transport: Transport,
    pub(crate) metrics: Metrics,
    /// Set once batch rows come back without `company_id`: from then on one company per request.
    pub(crate) batch_unsupported: AtomicBool,
    /// Companies one v2 enrich request carries at most: the batch size, halved each time HG
    /// refuses a batch for its size.
    pub(crate) enrich_cap: AtomicUsize,
    /// Whether an answer carried `x-credits-remaining`: else, on v2, the balance is read from
    /// `GET /credits`.
    balance_in_header: AtomicBool,
    /// The balance a statement started from, read from `GET /credits` right before its first
    /// charged request (see [`HgClient::watch_balance`]).
    statement_balance: tokio::sync::Mutex<BalanceWatch>,
    pub(crate) flights: Flights,
    pub(crate) credits: Credits,
}

/// Where a statement's reading of HG's balance stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BalanceWatch {
    Off,
    /// To be read before the first charged request.
    Wanted,
    /// Read (`None`: HG did not tell).
    Read(Option<i64>),
}

/// A client for the HG Data API, v1 or v2. Cheap to clone; clones share limits, flights and
/// metrics.
#[derive(Clone)]
pub struct HgClient {
    pub(crate) inner: Arc<Inner>,
    /// Where this handle's requests are also counted, if anywhere.
    pub(crate) tally: Option<Arc<Tally>>,
    pub(crate) options: LookupOptions,
}

impl std::fmt::Debug for HgClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HgClient").field("base_url", &self.inner.config.base_url).finish_non_exhaustive()
    }
}

impl HgClient {
    /// A client with a rate gate of its own.
    pub fn new(config: ClientConfig) -> Result<HgClient, HgError> {
        HgClient::new_in(config, &Gates::default())
    }

    /// A client whose rate gate comes from `gates`: clients of one session that send the same
    /// key to the same host wait at one gate.
    pub fn new_in(mut config: ClientConfig, gates: &Gates) -> Result<HgClient, HgError> {
        config.base_url = config.base_url.trim().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&config.base_url).map_err(|e| {
            HgError::Config(format!(
                "base URL '{}' is not a URL ({e}); set HG_BASE_URL or --base-url to e.g. {DEFAULT_BASE_URL}",
                config.base_url
            ))
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HgError::Config(
                "the base URL holds a user name or password; remove it and give the key by HG_API_KEY (a URL is printed in messages, a key never is)".into(),
            ));
        }
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            return Err(HgError::Config(format!(
                "base URL '{}' must be an http(s) URL without a query",
                config.base_url
            )));
        }
        ApiVersion::choose(Some(config.version), None, Some(&config.base_url)).map_err(HgError::Config)?;
        if config.key.is_empty() {
            return Err(HgError::Config(
                "no HG API key: set HG_API_KEY, add api_key to the config file, or use --sandbox".into(),
            ));
        }
        let credential = Credential::header(AUTHORIZATION, &config.key.header_value(config.auth_scheme)).map_err(|_| {
            HgError::Config(
                "the API key holds characters that cannot be sent in an HTTP header; copy it again without spaces or line breaks".into(),
            )
        })?;
        let transport_config = TransportConfig {
            rate: config.rate,
            burst: config.burst,
            max_in_flight: config.max_in_flight,
            retry: config.retry.clone(),
            timeout: config.timeout,
        };
        let host = url.host_str().unwrap_or_default().to_string();
        let enrich_cap = config.batch_size.max(1);
        let transport = Transport::new(&host, Some(credential), transport_config, gates).map_err(HgError::Config)?;
        Ok(HgClient {
            inner: Arc::new(Inner {
                config,
                transport,
                metrics: Metrics::default(),
                batch_unsupported: AtomicBool::new(false),
                enrich_cap: AtomicUsize::new(enrich_cap),
                balance_in_header: AtomicBool::new(false),
                statement_balance: tokio::sync::Mutex::new(BalanceWatch::Off),
                flights: Flights::default(),
                credits: Credits::default(),
            }),
            tally: None,
            options: LookupOptions::default(),
        })
    }

    /// A handle on the same client (same limits, flights and metrics) that also counts its
    /// requests in `tally`, so one consumer can report its own share.
    pub fn with_tally(&self, tally: Arc<Tally>) -> HgClient {
        HgClient { inner: self.inner.clone(), tally: Some(tally), options: self.options }
    }

    /// A handle on the same client with per-query settings (cache age, credit budget).
    pub fn with_options(&self, options: LookupOptions) -> HgClient {
        HgClient { inner: self.inner.clone(), tally: self.tally.clone(), options }
    }

    /// Credits spent by this client (the run) so far, by its own count.
    pub fn credits_spent(&self) -> u64 {
        self.inner.credits.spent()
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Counters so far.
    pub fn metrics(&self) -> MetricsSnapshot {
        let mut snapshot = self.inner.metrics.snapshot();
        snapshot.credits_spent = self.inner.credits.spent();
        snapshot.balance_current = self.inner.balance_in_header.load(std::sync::atomic::Ordering::Relaxed);
        snapshot
    }

    /// One request, retried as the policy allows.
    pub async fn send(&self, endpoint: Endpoint, payload: &Payload) -> Result<Page, HgError> {
        let mut pages = self.send_parts(&[endpoint], payload).await?;
        Ok(pages.swap_remove(0))
    }

    /// One request whose answer holds several endpoints' rows (a v2 enrich of several field
    /// groups): each is read as its endpoint declares, the first is the one the call counts
    /// for.
    pub(super) async fn send_parts(&self, parts: &[Endpoint], payload: &Payload) -> Result<Vec<Page>, HgError> {
        self.exchange(parts[0], payload, |body, value| self.pages(parts, body, value)).await
    }

    /// One request's answer as HG sent it, for `hgsql doctor --probe`: the JSON of a 200, or
    /// the error any other answer means (retried as every request is).
    pub async fn send_raw(&self, endpoint: Endpoint, payload: &Payload) -> Result<Value, HgError> {
        self.exchange(endpoint, payload, |_, value| Ok(value)).await
    }

    /// Sends `payload` to `endpoint`, retried as the policy allows, and reads a 200 with
    /// `decode`.
    async fn exchange<T>(
        &self,
        endpoint: Endpoint,
        payload: &Payload,
        decode: impl Fn(&[u8], Value) -> Result<T, String>,
    ) -> Result<T, HgError> {
        let inner = &self.inner;
        let url = format!("{}{}", inner.config.base_url, endpoint.path());
        let meter = EndpointMeter { metrics: &inner.metrics, endpoint, tally: self.tally.as_deref() };
        let sent = inner
            .transport
            .send(|http| http_request(http, &url, payload), &meter, |answer| self.read(endpoint, answer, &decode))
            .await;
        sent.map_err(|error| match error {
            SendError::Failed(error) => error,
            SendError::Exhausted { attempts, elapsed, last } => {
                HgError::RetriesExhausted { endpoint: endpoint.name(), attempts, elapsed, last: Box::new(last) }
            }
        })
    }

    /// Each part's page of one answer (`body` as received, `value` its JSON), stamped with
    /// the time it came and counted.
    fn pages(&self, parts: &[Endpoint], body: &[u8], value: Value) -> Result<Vec<Page>, String> {
        // Each part reads the same answer; the last takes it, the others a copy.
        let (last, others) = parts.split_last().expect("one part at least");
        let mut pages =
            others.iter().map(|e| super::answer::page(*e, value.clone())).collect::<Result<Vec<Page>, String>>()?;
        pages.push(super::answer::page(*last, value)?);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        for (i, (page, endpoint)) in pages.iter_mut().zip(parts).enumerate() {
            let candidates = page.matches.iter_mut().flat_map(|m| m.rows.iter_mut());
            for row in page.rows.iter_mut().chain(candidates) {
                row.fields.insert(super::endpoint::FETCHED_AT.to_string(), FieldValue::Int(now));
            }
            self.inner.metrics.received(*endpoint, page.rows.len(), if i == 0 { body.len() } else { 0 });
            if let Some(tally) = &self.tally {
                tally.received(page.rows.len());
            }
        }
        Ok(pages)
    }

    /// What one answer of `endpoint` means (docs/hg-api.md §1): a 200 read by `decode`,
    /// something worth asking again (no answer, a cut-off body, 429, 5xx), or an error to
    /// report.
    fn read<T>(
        &self,
        endpoint: Endpoint,
        answer: Result<Response, NoAnswer>,
        decode: &impl Fn(&[u8], Value) -> Result<T, String>,
    ) -> Verdict<T, HgError> {
        let inner = &self.inner;
        let name = endpoint.name();
        let response = match answer {
            Ok(response) => response,
            Err(no) => {
                return Verdict::Retry(HgError::Transport {
                    endpoint: name,
                    base_url: inner.config.base_url.clone(),
                    message: no.message,
                });
            }
        };
        if let Some(credits) = header_number(&response.headers, "x-credits-remaining") {
            inner.metrics.credits(credits as i64);
            inner.balance_in_header.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let (status, body) = (response.status, &response.body);
        let json: Result<Value, _> = serde_json::from_slice(body);
        if status == 200 {
            return match json.map_err(|e| e.to_string()).and_then(|value| decode(body, value)) {
                Ok(decoded) => Verdict::Done(decoded),
                // A 200 that is not the JSON promised: cut short on the way, most likely.
                Err(message) => Verdict::Retry(HgError::Decode { endpoint: name, message }),
            };
        }
        let (detail, pointer) = json
            .as_ref()
            .map(error_detail)
            .unwrap_or_else(|_| (String::from_utf8_lossy(body).chars().take(200).collect(), None));
        match status {
            429 | 500 | 502 | 503 | 504 => Verdict::Retry(HgError::Http { endpoint: name, status, detail }),
            401 | 403 => match detail.split_once("field group:") {
                Some((_, group)) => Verdict::Fail(HgError::NotEntitled {
                    endpoint: name,
                    field_group: group.trim().to_string(),
                    detail,
                    table: None,
                }),
                None => Verdict::Fail(HgError::Authentication { endpoint: name, status, detail }),
            },
            402 => Verdict::Fail(HgError::CreditsExhausted { endpoint: name, status, detail }),
            400..=499 if detail.to_lowercase().contains("credit") => {
                Verdict::Fail(HgError::CreditsExhausted { endpoint: name, status, detail })
            }
            422 => Verdict::Fail(HgError::InvalidRequest {
                endpoint: name,
                pointer: pointer.unwrap_or_else(|| "?".into()),
                detail,
            }),
            _ => Verdict::Fail(HgError::Http { endpoint: name, status, detail }),
        }
    }

    /// The key's balance from `GET /credits` (v2, free; HG's documented way), recorded as the
    /// credits remaining. A 402 there means none remain.
    async fn read_balance(&self) -> Option<i64> {
        let remaining = match self.send(Endpoint::V2_CREDITS, &Payload::Query(Vec::new())).await {
            Ok(page) => page.rows.first().and_then(|r| r.get("remaining")).and_then(FieldValue::as_i64),
            Err(error) if error.status() == Some(402) => Some(0),
            Err(error) => {
                tracing::debug!("the balance could not be read ({error})");
                None
            }
        };
        if let Some(remaining) = remaining {
            self.inner.metrics.credits(remaining);
        }
        remaining
    }

    /// Starts watching HG's balance for one statement, where answers do not carry it (v2
    /// without `x-credits-remaining`): right before the statement's first charged request,
    /// the balance is read from `GET /credits`, so what the statement cost can be read after
    /// it ([`watched_cost`](Self::watched_cost)). A statement that charges nothing asks
    /// nothing: a rerun from the cache still makes no call.
    pub async fn watch_balance(&self) {
        let inner = &self.inner;
        if inner.config.version == ApiVersion::V2 && !inner.balance_in_header.load(std::sync::atomic::Ordering::Relaxed)
        {
            *inner.statement_balance.lock().await = BalanceWatch::Wanted;
        }
    }

    /// Reads the balance before a charged request, when a statement watches it and it has not
    /// been read yet (concurrent requests wait for the one read).
    pub(super) async fn balance_before_charging(&self) {
        let mut watch = self.inner.statement_balance.lock().await;
        if *watch == BalanceWatch::Wanted {
            *watch = BalanceWatch::Read(self.read_balance().await);
        }
    }

    /// What HG's balance says the watched statement cost: the balance before its first charged
    /// request less the balance now (read again). `None` when nothing was watched or charged,
    /// or HG did not tell; the watch ends.
    pub async fn watched_cost(&self) -> Option<i64> {
        let before = std::mem::replace(&mut *self.inner.statement_balance.lock().await, BalanceWatch::Off);
        let BalanceWatch::Read(Some(before)) = before else { return None };
        self.read_balance().await.map(|after| before - after)
    }

    /// The rate-limit headers of the last answer.
    pub fn rate_headers(&self) -> RateHeaders {
        self.inner.transport.rate_headers()
    }

    /// All rows of a list request, page by page, until a short page, the `count`, or
    /// `row_limit` rows.
    pub async fn list(
        &self,
        endpoint: Endpoint,
        payload: &Payload,
        row_limit: Option<usize>,
    ) -> Result<Vec<Row>, HgError> {
        match self.list_partial(endpoint, payload, row_limit).await {
            (rows, None) => Ok(rows),
            (_, Some(error)) => Err(error),
        }
    }

    /// [`list`](Self::list), keeping the rows of the pages received when a later page fails
    /// (HG charged for the companies in them), with the error that stopped it.
    pub async fn list_partial(
        &self,
        endpoint: Endpoint,
        payload: &Payload,
        row_limit: Option<usize>,
    ) -> (Vec<Row>, Option<HgError>) {
        if endpoint.spec().paging == Paging::None {
            return match self.send(endpoint, payload).await {
                Ok(page) => (page.rows, None),
                Err(error) => (Vec::new(), Some(error)),
            };
        }
        let page_size = self.inner.config.page_size.max(1);
        let mut rows: Vec<Row> = Vec::new();
        loop {
            let want = row_limit.map_or(page_size, |l| page_size.min(l - rows.len()));
            if want == 0 {
                return (rows, None);
            }
            let page = match self.send(endpoint, &payload.paged(want, rows.len())).await {
                Ok(page) => page,
                Err(error) => return (rows, Some(error)),
            };
            let short = page.rows.len() < want;
            rows.extend(page.rows);
            // A short page ends the list even if `count` says more (docs/hg-api.md §1).
            if short || page.count.is_some_and(|c| rows.len() as u64 >= c) {
                return (rows, None);
            }
        }
    }

    /// The best matches for one domain and/or name, on a match endpoint (`GET /company/match`).
    pub async fn company_match(&self, endpoint: Endpoint, query: &MatchQuery) -> Result<Vec<Row>, HgError> {
        self.company_match_read(endpoint, query, CacheRead::Full).await
    }

    /// [`company_match`](Self::company_match), reading the cache as `read` says.
    pub(crate) async fn company_match_read(
        &self,
        endpoint: Endpoint,
        query: &MatchQuery,
        read: CacheRead,
    ) -> Result<Vec<Row>, HgError> {
        let Keys::Match(params) = endpoint.spec().keys else {
            return Err(HgError::Config(format!("HG {}: not a match endpoint", endpoint.name())));
        };
        let item = serde_json::to_string(query).expect("serialises");
        self.through_cache(endpoint, item, read, async {
            Ok(self.send(endpoint, &Payload::Query(match_params(&params, query))).await?.rows)
        })
        .await
    }

    /// The rows of a whole request (`item`) to `endpoint`: from the cache when it holds them
    /// fresh enough, else fetched and kept.
    async fn through_cache(
        &self,
        endpoint: Endpoint,
        item: String,
        read: CacheRead,
        fetch: impl std::future::Future<Output = Result<Vec<Row>, HgError>>,
    ) -> Result<Vec<Row>, HgError> {
        if let Some(rows) = self.cached(endpoint, &item, read) {
            return Ok(rows);
        }
        let rows = fetch.await?;
        self.keep(endpoint, item, &rows);
        Ok(rows)
    }

    /// The rows the cache holds for `item`, fresh enough, counted as a hit.
    pub(super) fn cached(&self, endpoint: Endpoint, item: &str, read: CacheRead) -> Option<Vec<Row>> {
        let config = &self.inner.config;
        let cache = config.cache.as_ref().filter(|_| !config.refresh)?;
        let scope = super::cache::scope(self.cache_base(), endpoint, "");
        let items = [item.to_string()];
        let mut found = match read {
            CacheRead::Full => cache.get(&scope, &items, None, self.options.max_age),
            CacheRead::StoredHere => cache.get_stored_here(&scope, &items, None, self.options.max_age),
        };
        let rows = found.remove(item)?.rows()?;
        self.cache_hits(endpoint, 1);
        Some(rows)
    }

    /// Keeps `rows` as the answer to `item`, when there is a cache.
    pub(super) fn keep(&self, endpoint: Endpoint, item: String, rows: &[Row]) {
        if let Some(cache) = &self.inner.config.cache {
            let scope = super::cache::scope(self.cache_base(), endpoint, "");
            cache.put(&scope, endpoint, None, &[(item, rows)]);
        }
    }

    /// Where cached answers are filed: the base URL, or the namespace standing for it.
    pub(crate) fn cache_base(&self) -> &str {
        let config = &self.inner.config;
        config.cache_namespace.as_deref().unwrap_or(&config.base_url)
    }

    /// Counts lookups answered by the cache.
    pub(crate) fn cache_hits(&self, endpoint: Endpoint, hits: usize) {
        self.inner.metrics.cache_hits(endpoint, hits);
        if let Some(tally) = &self.tally {
            tally.cache_hits(hits);
        }
    }

    /// Search or a catalog list, every page up to `row_limit`.
    pub async fn list_query(
        &self,
        endpoint: Endpoint,
        query: &ListQuery,
        row_limit: Option<usize>,
    ) -> Result<Vec<Row>, HgError> {
        let pages: Vec<Vec<Row>> = self.list_pages(endpoint, query, row_limit).try_collect().await?;
        Ok(pages.concat())
    }

    /// Search or a catalog list, one page at a time, until a short page, the `count`, or
    /// `row_limit` rows. A page is asked for only when the stream is polled past the one
    /// before, so a consumer that has its rows (a SQL `LIMIT`) stops the paging. Each page is
    /// cached on its own; where `count` ends a list on a full page, the page after it is kept
    /// as empty, so the same list read again from the cache asks nothing.
    pub fn list_pages(
        &self,
        endpoint: Endpoint,
        query: &ListQuery,
        row_limit: Option<usize>,
    ) -> BoxStream<'static, Result<Vec<Row>, HgError>> {
        let payload = query.payload();
        let client = self.clone();
        if endpoint.spec().paging == Paging::None {
            let item = serde_json::to_string(&payload).expect("serialises");
            return stream::once(async move {
                client.through_cache(endpoint, item, CacheRead::Full, client.list(endpoint, &payload, None)).await
            })
            .boxed();
        }
        let page_size = self.inner.config.page_size.max(1);
        let payload = Arc::new(payload);
        let key = |payload: &Payload| serde_json::to_string(payload).expect("serialises");
        // (rows so far, whether the list has ended)
        stream::try_unfold((0usize, false), move |(offset, ended)| {
            let (client, payload) = (client.clone(), payload.clone());
            async move {
                let want = row_limit.map_or(page_size, |l| page_size.min(l.saturating_sub(offset)));
                if ended || want == 0 {
                    return Ok(None);
                }
                let paged = payload.paged(want, offset);
                if let Some(rows) = client.cached(endpoint, &key(&paged), CacheRead::Full) {
                    let next = (offset + rows.len(), rows.len() < want);
                    return Ok(Some((rows, next)));
                }
                let page = client.send(endpoint, &paged).await?;
                client.keep(endpoint, key(&paged), &page.rows);
                let next = offset + page.rows.len();
                // A short page ends the list even if `count` says more (docs/hg-api.md §1).
                let short = page.rows.len() < want;
                let counted_out = page.count.is_some_and(|c| next as u64 >= c);
                if counted_out && !short {
                    client.keep(endpoint, key(&payload.paged(page_size, next)), &[]);
                }
                Ok(Some((page.rows, (next, short || counted_out))))
            }
        })
        .boxed()
    }
}

/// The HTTP request of `payload` (without its key): query values are URL-encoded by reqwest,
/// so nothing a user typed (`acme.com&limit=100`, `#`, spaces) can add or change a parameter.
fn http_request(http: &reqwest::Client, url: &str, payload: &Payload) -> reqwest::RequestBuilder {
    match payload {
        Payload::Query(params) => http.get(url).query(params),
        Payload::Body(body) => http.post(url).json(body),
    }
}

/// The query parameters of a match request, named as the endpoint declares them.
fn match_params(params: &MatchParams, query: &MatchQuery) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, value) in
        [(params.domain, &query.domain_name), (params.name, &query.company_name), (params.country, &query.country_code)]
    {
        if let Some(value) = value {
            out.push((key.to_string(), value.clone()));
        }
    }
    out.push((params.limit.into(), query.limit.clamp(1, params.max_limit).to_string()));
    out
}

/// Counts one request of `endpoint` in the client's counters and the handle's tally.
struct EndpointMeter<'a> {
    metrics: &'a Metrics,
    endpoint: Endpoint,
    tally: Option<&'a Tally>,
}

impl Meter for EndpointMeter<'_> {
    fn sent(&self, retry: bool, rate_wait: Duration) {
        self.metrics.rate_wait(self.endpoint, rate_wait);
        self.metrics.call(self.endpoint, retry);
        if let Some(tally) = self.tally {
            tally.rate_wait(rate_wait);
            tally.call(retry);
        }
    }

    fn throttled(&self) {
        self.metrics.throttled(self.endpoint);
        if let Some(tally) = self.tally {
            tally.throttled();
        }
    }
}

/// The first error's `detail` and `source.pointer`.
fn error_detail(value: &Value) -> (String, Option<String>) {
    let first = &value["errors"][0];
    let detail = first["detail"].as_str().or_else(|| first["title"].as_str()).unwrap_or("no detail given").to_string();
    let pointer = first["source"]["pointer"].as_str().map(str::to_string);
    (detail, pointer)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Whatever a domain, name or country holds, the match request carries exactly its
        /// parameters, each decoding back to the value given, on the endpoint's path.
        #[test]
        fn match_requests_carry_exactly_their_parameters(
            domain in proptest::option::of(".*"),
            name in proptest::option::of("[ -~]{0,20}|[&=?#%+ /\u{e9}\u{4e2d}]{1,8}"),
            country in proptest::option::of("[A-Za-z&#]{0,3}"),
            limit in 0u32..20,
        ) {
            let query = MatchQuery { domain_name: domain.clone(), company_name: name.clone(), country_code: country.clone(), limit };
            let Keys::Match(params) = Endpoint::MATCH.spec().keys else { unreachable!() };
            let payload = Payload::Query(match_params(&params, &query));
            let request = http_request(&reqwest::Client::new(), "http://127.0.0.1:9/data-api/v1/company/match", &payload)
                .build()
                .unwrap();
            let url = request.url();
            proptest::prop_assert_eq!(url.path(), "/data-api/v1/company/match");
            proptest::prop_assert_eq!(url.fragment(), None);
            let sent: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let mut expected = Vec::new();
            for (key, value) in [("domain_name", domain), ("company_name", name), ("country_code", country)] {
                if let Some(value) = value {
                    expected.push((key.to_string(), value));
                }
            }
            expected.push(("limit".to_string(), limit.clamp(1, 10).to_string()));
            proptest::prop_assert_eq!(sent, expected);
        }
    }

    #[test]
    fn the_key_is_required_and_never_in_debug() {
        let err = HgClient::new(ClientConfig::new(DEFAULT_BASE_URL, ApiKey::new(""))).unwrap_err();
        assert!(err.to_string().contains("HG_API_KEY"));
        let client = HgClient::new(ClientConfig::new(DEFAULT_BASE_URL, ApiKey::new("s3cr3t-key"))).unwrap();
        assert!(!format!("{client:?} {:?}", client.config()).contains("s3cr3t"));
        assert!(HgClient::new(ClientConfig::new("ftp://x", ApiKey::new("k"))).is_err());
        let broken = HgClient::new(ClientConfig::new(DEFAULT_BASE_URL, ApiKey::new("ab\ncd"))).unwrap_err();
        assert!(broken.to_string().contains("header") && !broken.to_string().contains("ab"), "{broken}");
    }
}
