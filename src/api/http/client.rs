//! Fetching an HTTP table's rows by key: the cache first (per key, negative answers too), then
//! one request per key or per batch of keys, each paged to its end, through the shared
//! transport (rate gate per host and credential, retries, `Retry-After`). Rows of a batch are
//! handed to the key `key_path` says they answer; a key no row answers has no rows, and is
//! cached as such.
//!
//! What fails one key (a 4xx, retries spent, a body that is not JSON, paging that loops) is that
//! key's outcome, for the scan to report under `hg.on_error`; what fails them all (a 401 or 403,
//! a redirect) ends the lookup.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures::stream::{self, BoxStream, StreamExt};
use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderName, HeaderValue as WireHeader};
use serde_json::{Value, json};

use super::definition::HttpTableDef;
use super::extract;
use super::options::{Method, NotFound};
use super::paginate::Pager;
use crate::api::hg::Tally;
use crate::api::transport::{Gates, Meter, NoAnswer, RetryPolicy, SendError, Transport, TransportConfig, Verdict};
use crate::api::{ResponseCache, TallySnapshot};

/// The values of a table's key columns, in [`HttpTableDef::keys`] order.
pub type Key = Vec<String>;

/// What the API answered for one key.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub rows: Vec<Value>,
    pub http_status: u16,
    pub fetched_at: SystemTime,
}

/// Why one key has no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFailure {
    pub message: String,
    pub http_status: Option<u16>,
    /// A 404 under `'not_found' 'error'`.
    pub not_found: bool,
}

/// One key's outcome.
pub type Outcome = Result<Arc<Answer>, KeyFailure>;

/// Why a lookup stopped for every key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error(
        "{table}: the API refused the credential (HTTP {status}{detail}); check the table's auth options ('auth' '{auth}', 'token', 'username'/'password', 'auth_header', 'auth_param' or its 'connection')"
    )]
    Refused { table: String, status: u16, detail: String, auth: &'static str },
    #[error("{table}: {message}")]
    Failed { table: String, message: String },
}

/// What every HTTP table of a session shares: the response cache, the rate gates, whether to
/// read the cache, whether requests are only counted (a dry run), the named connections of the
/// config file, and the session's request counters.
#[derive(Default)]
pub struct HttpContext {
    pub cache: Option<Arc<ResponseCache>>,
    /// Fetch again what the cache holds, and overwrite it.
    pub refresh: bool,
    /// Count requests, send none.
    pub dry_run: bool,
    pub gates: Gates,
    /// `[http.NAME]` of the config file: options for tables that name the connection.
    pub connections: BTreeMap<String, BTreeMap<String, String>>,
    totals: Tally,
    /// Requests lookups set out to make (first pages), dry run or not.
    expected: AtomicU64,
    planned_requests: AtomicU64,
    planned_keys: AtomicU64,
}

impl std::fmt::Debug for HttpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpContext").field("refresh", &self.refresh).field("dry_run", &self.dry_run).finish()
    }
}

impl HttpContext {
    pub fn new(
        cache: Option<Arc<ResponseCache>>,
        refresh: bool,
        dry_run: bool,
        connections: BTreeMap<String, BTreeMap<String, String>>,
    ) -> HttpContext {
        HttpContext { cache, refresh, dry_run, connections, ..HttpContext::default() }
    }

    /// Requests, retries, 429s and cache hits of every HTTP table so far.
    pub fn totals(&self) -> TallySnapshot {
        self.totals.snapshot()
    }

    /// Requests (first pages) the lookups so far set out to make: what the progress line
    /// counts against.
    pub fn expected(&self) -> u64 {
        self.expected.load(Ordering::Relaxed)
    }

    /// Under a dry run: the requests that would have been sent, and for how many keys.
    pub fn planned(&self) -> (u64, u64) {
        (self.planned_requests.load(Ordering::Relaxed), self.planned_keys.load(Ordering::Relaxed))
    }
}

/// An HTTP table's client.
#[derive(Clone)]
pub struct HttpClient {
    def: Arc<HttpTableDef>,
    transport: Arc<Transport>,
    context: Arc<HttpContext>,
    scope: Arc<str>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("table", &self.def.name).finish_non_exhaustive()
    }
}

/// What one page brought.
enum Page {
    Json { status: u16, headers: reqwest::header::HeaderMap, body: Value },
    NotFound,
}

/// What a page's problem means.
enum Problem {
    Key(KeyFailure),
    All(HttpError),
}

impl HttpClient {
    pub fn new(def: HttpTableDef, context: Arc<HttpContext>) -> Result<HttpClient, String> {
        let o = &def.options;
        let rate = o.rate.map(|r| r.0);
        let config = TransportConfig {
            rate,
            burst: o.burst.unwrap_or_else(|| rate.map_or(1, |r| r.ceil().max(1.0) as u32)),
            max_in_flight: o.max_in_flight.unwrap_or(4),
            retry: RetryPolicy {
                max_attempts: o.max_retries.unwrap_or(5) + 1,
                max_total: Duration::from_secs(120),
                ..RetryPolicy::default()
            },
            timeout: o.timeout.unwrap_or(Duration::from_secs(30)),
        };
        let host = reqwest::Url::parse(&def.url.text().replace(['{', '}', '*'], ""))
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0))))
            .unwrap_or_default();
        // Tables with other secrets (a header's, say) pace apart even where the auth credential
        // is the same, or absent.
        let host = format!("{host}#{}", def.credential_scope());
        let transport = Transport::new(&host, def.credential.clone(), config, &context.gates)?;
        let scope = def.cache_scope().into();
        Ok(HttpClient { def: Arc::new(def), transport: Arc::new(transport), context, scope })
    }

    pub fn def(&self) -> &HttpTableDef {
        &self.def
    }

    pub fn context(&self) -> &Arc<HttpContext> {
        &self.context
    }

    /// What looking `keys` up would take, without a request: how many distinct keys, how many
    /// of them the cache answers within `max_age`, and the requests the rest need (one per key,
    /// or per batch; paging may add more).
    pub fn preview(&self, keys: &[Key], max_age: Duration) -> (usize, usize, usize) {
        let mut keys = keys.to_vec();
        keys.sort();
        keys.dedup();
        let cached = self.cached(&keys, max_age);
        let distinct = keys.len();
        let misses: Vec<Key> = keys.into_iter().filter(|k| !cached.contains_key(&item_of(k))).collect();
        (distinct, cached.len(), self.groups(misses).len())
    }

    /// The outcome of every key of `keys` (each once), cached ones first. `row_cap` stops
    /// paging once a key has that many rows (a SQL `LIMIT`); such an answer is not cached.
    pub fn lookup(
        &self,
        keys: Vec<Key>,
        max_age: Duration,
        row_cap: Option<usize>,
        tally: Arc<Tally>,
    ) -> BoxStream<'static, Result<(Key, Outcome), HttpError>> {
        let mut keys = keys;
        keys.sort();
        keys.dedup();
        let cached = self.cached(&keys, max_age);
        tally.cache_hits(cached.len());
        self.context.totals.cache_hits(cached.len());
        let misses: Vec<Key> = keys.into_iter().filter(|k| !cached.contains_key(&item_of(k))).collect();
        let groups = self.groups(misses);
        let hits: Vec<Result<(Key, Outcome), HttpError>> = cached.into_values().map(|(k, a)| Ok((k, Ok(a)))).collect();
        let hits = stream::iter(hits);
        self.context.expected.fetch_add(groups.len() as u64, Ordering::Relaxed);
        if self.context.dry_run {
            self.context.planned_requests.fetch_add(groups.len() as u64, Ordering::Relaxed);
            let keys: usize = groups.iter().map(Vec::len).sum();
            self.context.planned_keys.fetch_add(keys as u64, Ordering::Relaxed);
            return hits.boxed();
        }
        let in_flight = self.transport.config().max_in_flight.max(1);
        let client = self.clone();
        let fetched = stream::iter(groups)
            .map(move |group| {
                let (client, tally) = (client.clone(), tally.clone());
                async move { client.fetch_group(group, row_cap, &tally).await }
            })
            .buffer_unordered(in_flight)
            .flat_map(|result| match result {
                Ok(outcomes) => stream::iter(outcomes.into_iter().map(Ok).collect::<Vec<_>>()),
                Err(error) => stream::iter(vec![Err(error)]),
            });
        hits.chain(fetched).boxed()
    }

    /// The answers the cache holds for `keys`, by item.
    fn cached(&self, keys: &[Key], max_age: Duration) -> HashMap<String, (Key, Arc<Answer>)> {
        let Some(cache) = &self.context.cache else { return HashMap::new() };
        if self.context.refresh || max_age.is_zero() || keys.is_empty() {
            return HashMap::new();
        }
        let items: Vec<String> = keys.iter().map(item_of).collect();
        let found = cache.get(&self.scope, &items, None, max_age);
        let mut out = HashMap::new();
        for key in keys {
            let item = item_of(key);
            let Some(cached) = found.get(&item) else { continue };
            let Ok(stored) = serde_json::from_str::<Value>(cached.text()) else { continue };
            let (Some(Value::Array(rows)), Some(status)) =
                (stored.get("rows"), stored.get("status").and_then(Value::as_u64))
            else {
                continue;
            };
            let answer = Answer { rows: rows.clone(), http_status: status as u16, fetched_at: cached.fetched_at };
            out.insert(item, (key.clone(), Arc::new(answer)));
        }
        out
    }

    /// The requests `keys` take: one per key, or batches of `batch_size` keys that agree on
    /// every key but the batch's.
    fn groups(&self, keys: Vec<Key>) -> Vec<Vec<Key>> {
        let size = self.def.options.batch_size;
        let Some(position) = self.batch_position().filter(|_| size > 1) else {
            return keys.into_iter().map(|k| vec![k]).collect();
        };
        let mut by_rest: BTreeMap<Key, Vec<Key>> = BTreeMap::new();
        for key in keys {
            let mut rest = key.clone();
            rest.remove(position);
            by_rest.entry(rest).or_default().push(key);
        }
        by_rest.into_values().flat_map(|keys| keys.chunks(size).map(<[Key]>::to_vec).collect::<Vec<_>>()).collect()
    }

    fn batch_position(&self) -> Option<usize> {
        let batch = self.def.batch_key.as_ref()?;
        self.def.keys.iter().position(|k| k == batch)
    }

    /// One request (paged to its end) for `keys`, and each key's outcome.
    async fn fetch_group(
        &self,
        keys: Vec<Key>,
        row_cap: Option<usize>,
        tally: &Tally,
    ) -> Result<Vec<(Key, Outcome)>, HttpError> {
        let def = &self.def;
        let batch = self.batch_position();
        let values = |column: &str| -> Vec<String> {
            let Some(i) = def.keys.iter().position(|k| k == column) else { return Vec::new() };
            if Some(i) == batch { keys.iter().map(|k| k[i].clone()).collect() } else { vec![keys[0][i].clone()] }
        };
        let fail_all = |message: String, http_status: Option<u16>, not_found: bool| -> Vec<(Key, Outcome)> {
            // A next link or a header the API sent may carry a query-parameter credential back.
            let failure = KeyFailure { message: def.redact(&message), http_status, not_found };
            keys.iter().map(|k| (k.clone(), Err(failure.clone()))).collect()
        };
        let url = match def.url.render(&|c| Some(values(c)), &def.options.batch_separator) {
            Ok(url) => url,
            Err(error) => return Ok(fail_all(error.to_string(), None, false)),
        };
        let body = def.body.as_ref().map(|b| b.render(&values, &|c| def.kind_of(c)));
        let mut pager = Pager::new(&def.options, url);
        let mut page_url = pager.first();
        let mut rows: Vec<Value> = Vec::new();
        let mut status: u16;
        let mut complete = true;
        loop {
            match self.send_page(&page_url, body.as_ref(), tally).await {
                Err(Problem::All(error)) => return Err(error),
                Err(Problem::Key(failure)) => return Ok(fail_all(failure.message, failure.http_status, false)),
                Ok(Page::NotFound) if rows.is_empty() => match def.options.not_found {
                    NotFound::Empty => {
                        status = 404;
                        break;
                    }
                    NotFound::Error => {
                        let message = format!("the API has no {} for this key (HTTP 404)", def.name);
                        return Ok(fail_all(message, Some(404), true));
                    }
                },
                Ok(Page::NotFound) => {
                    let message = "a later page answered HTTP 404; the answer is incomplete".to_string();
                    return Ok(fail_all(message, Some(404), false));
                }
                Ok(Page::Json { status: page_status, headers, body: page }) => {
                    status = page_status;
                    // An empty body (a 204, say) holds no rows, wherever rows_path points.
                    let found = match extract::rows(&page, &def.options.rows_path) {
                        _ if page.is_null() => Vec::new(),
                        Ok(found) => found,
                        Err(error) => return Ok(fail_all(error.to_string(), Some(page_status), false)),
                    };
                    let count = found.len();
                    rows.extend(found.into_iter().cloned());
                    tally.received(count);
                    if row_cap.is_some_and(|cap| rows.len() >= cap) {
                        complete = false;
                        break;
                    }
                    match pager.next(&page_url, &page, &headers, count) {
                        Ok(Some(next)) => page_url = next,
                        Ok(None) => break,
                        Err(error) => return Ok(fail_all(error.to_string(), Some(page_status), false)),
                    }
                }
            }
        }
        let fetched_at = SystemTime::now();
        let per_key = self.attribute(&keys, rows);
        if complete && let Some(cache) = &self.context.cache {
            let entries = per_key
                .iter()
                .map(|(key, rows)| (item_of(key), json!({"status": status, "rows": rows}).to_string(), rows.len()))
                .collect();
            cache.put_text(&self.scope, &def.cache_label(), entries);
        }
        Ok(per_key
            .into_iter()
            .map(|(key, rows)| (key, Ok(Arc::new(Answer { rows, http_status: status, fetched_at }))))
            .collect())
    }

    /// Hands each row to the key it answers: a single key gets every row; in a batch, the row's
    /// `key_path` value says which (rows for keys not asked are dropped).
    fn attribute(&self, keys: &[Key], rows: Vec<Value>) -> Vec<(Key, Vec<Value>)> {
        // Whenever keys are batched, even a batch that holds one key: a row may answer a key
        // that was not asked, and must not be handed to the one that was.
        let Some(position) = self.batch_position().filter(|_| self.def.options.batch_size > 1) else {
            return vec![(keys[0].clone(), rows)];
        };
        let batch = self.def.batch_key.as_deref().unwrap_or_default();
        let pointer = self.def.options.key_paths.get(batch).cloned().unwrap_or_else(|| format!("/{batch}"));
        let mut per_key: Vec<(Key, Vec<Value>)> = keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        let index: HashMap<&str, usize> = keys.iter().enumerate().map(|(i, k)| (k[position].as_str(), i)).collect();
        let mut dropped = 0usize;
        for row in rows {
            let answered = match row.pointer(&pointer) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(Value::Bool(b)) => Some(b.to_string()),
                _ => None,
            };
            match answered.and_then(|a| index.get(a.as_str()).copied()) {
                Some(i) => per_key[i].1.push(row),
                None => dropped += 1,
            }
        }
        if dropped > 0 {
            tracing::warn!(
                table = %self.def.name,
                dropped,
                "rows whose key_path.{batch} ('{pointer}') matches no key asked were dropped"
            );
        }
        per_key
    }

    /// Sends one page's request until it has an answer worth reading.
    async fn send_page(&self, url: &Url, body: Option<&Value>, tally: &Tally) -> Result<Page, Problem> {
        let def = &self.def;
        let method = match def.options.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
        };
        let mut headers: Vec<(HeaderName, WireHeader)> = Vec::new();
        for (name, value) in &def.options.headers {
            let Some(header) = value.on_the_wire(name) else {
                return Err(Problem::All(HttpError::Failed {
                    table: def.name.clone(),
                    message: format!("header.{name} cannot be sent as an HTTP header; check its name and value"),
                }));
            };
            headers.push(header);
        }
        let meter = Meters([tally, &self.context.totals]);
        let result = self
            .transport
            .send(
                |http| {
                    let mut request = http.request(method.clone(), url.clone()).header(ACCEPT, "application/json");
                    for (name, value) in &headers {
                        request = request.header(name.clone(), value.clone());
                    }
                    if let Some(body) = body {
                        request = request.json(body);
                    }
                    request
                },
                &meter,
                |answer| classify(answer, def),
            )
            .await;
        match result {
            Ok(page) => Ok(page),
            Err(SendError::Failed(problem)) => Err(problem),
            Err(SendError::Exhausted { attempts, last, .. }) => Err(match last {
                Problem::Key(failure) => Problem::Key(KeyFailure {
                    message: format!("gave up after {attempts} attempts: {}", failure.message),
                    ..failure
                }),
                all => all,
            }),
        }
    }
}

/// Counts into the scan's tally and the session's totals.
struct Meters<'a>([&'a Tally; 2]);

impl Meter for Meters<'_> {
    fn sent(&self, retry: bool, rate_wait: Duration) {
        for tally in self.0 {
            tally.call(retry);
            tally.rate_wait(rate_wait);
        }
    }

    fn throttled(&self) {
        for tally in self.0 {
            tally.throttled();
        }
    }
}

/// What one attempt's answer means.
fn classify(answer: Result<crate::api::transport::Response, NoAnswer>, def: &HttpTableDef) -> Verdict<Page, Problem> {
    let (table, auth) = (def.name.as_str(), super::auth::auth_name(def.options.auth));
    let key = |message: String, status: Option<u16>| {
        Problem::Key(KeyFailure { message, http_status: status, not_found: false })
    };
    let response = match answer {
        Ok(response) => response,
        Err(no) => return Verdict::Retry(key(no.message, None)),
    };
    let status = response.status;
    // What the API says goes into messages and `_error`, less any secret it echoes.
    let detail = || def.redact(&snippet(&response.body));
    // Some APIs answer a spent rate limit with 403 (GitHub): a wait, not a refusal.
    let throttled = status == 403
        && (response.headers.contains_key(reqwest::header::RETRY_AFTER)
            || crate::api::transport::header_number(&response.headers, "x-ratelimit-remaining") == Some(0.0));
    match status {
        200..=299 => {
            if response.body.iter().all(u8::is_ascii_whitespace) {
                return Verdict::Done(Page::Json { status, headers: response.headers, body: Value::Null });
            }
            match serde_json::from_slice::<Value>(&response.body) {
                Ok(body) => Verdict::Done(Page::Json { status, headers: response.headers, body }),
                Err(_) => {
                    Verdict::Retry(key(format!("the answer (HTTP {status}) is not JSON: {}", detail()), Some(status)))
                }
            }
        }
        404 => Verdict::Done(Page::NotFound),
        403 if throttled => Verdict::Retry(key(format!("HTTP 403 (rate limited): {}", detail()), Some(status))),
        401 | 403 => {
            let text = detail();
            let detail = if text.is_empty() { String::new() } else { format!(": {text}") };
            Verdict::Fail(Problem::All(HttpError::Refused { table: table.to_string(), status, detail, auth }))
        }
        300..=399 => Verdict::Fail(Problem::All(HttpError::Failed {
            table: table.to_string(),
            message: format!(
                "the API answered HTTP {status}, a redirect; hgsql does not follow redirects (the credential would go along): put the URL it redirects to in LOCATION"
            ),
        })),
        408 | 425 | 429 | 500..=599 => Verdict::Retry(key(format!("HTTP {status}: {}", detail()), Some(status))),
        _ => Verdict::Fail(key(format!("HTTP {status}: {}", detail()), Some(status))),
    }
}

/// The start of a body, for messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text.to_string()
    }
}

/// A key as the cache files it.
fn item_of(key: &Key) -> String {
    key.join("\u{1f}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::http::definition::option_map;
    use crate::api::http::extract::Kind;
    use crate::api::http::options::HttpOptions;

    #[test]
    fn a_batch_of_one_key_still_keeps_only_the_rows_of_that_key() {
        let options = HttpOptions::parse(
            &option_map(&[("batch_size", "50"), ("key_path.id", "/id"), ("rows_path", "/data")]),
            &|_| None,
        )
        .unwrap();
        let def =
            HttpTableDef::new("t", vec![("id".into(), Kind::Text)], "https://x.example/?ids={id*}", options).unwrap();
        let client = HttpClient::new(def, Arc::new(HttpContext::default())).unwrap();
        let rows = vec![json!({"id": "a", "n": 1}), json!({"id": "zz", "n": 2}), json!({"id": 7})];
        let one = client.attribute(&[vec!["a".to_string()]], rows.clone());
        assert_eq!(one, vec![(vec!["a".to_string()], vec![json!({"id": "a", "n": 1})])]);
        let two = client.attribute(&[vec!["a".to_string()], vec!["7".to_string()]], rows);
        assert_eq!(two[1], (vec!["7".to_string()], vec![json!({"id": 7})]), "a number answers the key it spells");
    }
}
