//! A generic REST API beside the HG one, for HTTP tables to be tested against: a small CRM of
//! accounts and deals, with every way of authenticating and paging such APIs use. It is
//! written apart from hgsql's HTTP client (it knows nothing of it), so a test of one against
//! the other can fail.
//!
//! Under `/rest/{auth}/`, where `{auth}` says what the request must carry: `open` (nothing),
//! `bearer` (`Authorization: Bearer rest-token`), `basic` (`rest-user` / `rest-pass`), `header`
//! (`x-api-key: rest-key`) or `query` (`?api_key=rest-key`); anything else is a 401.
//!
//! - `GET accounts/{domain}`: `{"account": {…}}` with nested objects, lists and dates, or 404.
//!   An account exists for four in five of the sandbox companies' domains (as HG normalises
//!   them), exactly as written: `ACME.com` is not `acme.com`.
//! - `GET accounts?ids=a,b,c`: `{"data": [accounts found]}`, at most 50 ids (else 422).
//! - `POST companies/enrich` (also at `v1/companies/enrich`, Clay's own path) with
//!   `{"domain": "…"}`: `{"company": {…}}` or 404, as Clay's Enterprise company enrich answers.
//! - `GET deals/{style}/{owner}`: the owner's 3 to 25 deals, paged in `style`: `offset`
//!   (`limit`, `offset`), `page` (`page` from 1, `per_page`, `has_more`), `cursor` (`cursor`,
//!   `next_cursor`), `link_header` (`page`, `limit`, a `Link: <…>; rel="next"`), `next_url`
//!   (`links.next`, relative), `loop` (a cursor that never changes), `same` (every page the same).
//! - `GET broken/{domain}`: a 200 whose body is HTML, never JSON.
//! - `GET leaky/{domain}`: a 400 whose error echoes the URL and the credential headers sent.
//!
//! Every request goes through the HG sandbox's latency and faults, then this API's own rate
//! limit (`--rest-rate`: a 429 with `Retry-After` over it, and `x-ratelimit-limit` and
//! `-remaining` on every answer), and is counted: per route, per key asked, and keys asked
//! again.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LINK, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::data::DataSet;
use super::ratelimit::TokenBucket;

/// Every REST path starts with this.
pub const REST_PATH: &str = "/rest";
pub const TOKEN: &str = "rest-token";
pub const USER: &str = "rest-user";
pub const PASSWORD: &str = "rest-pass";
pub const KEY: &str = "rest-key";
/// Ids one batch request may carry.
pub const MAX_IDS: usize = 50;

/// The REST API's state: its rate limit and counters.
pub struct Rest {
    bucket: TokenBucket,
    limited: bool,
    stats: Mutex<RestStats>,
}

#[derive(Default, serde::Serialize)]
struct RestStats {
    requests: BTreeMap<String, u64>,
    /// Per route, keys asked (the first page of a list) and how often.
    #[serde(skip)]
    asked: HashMap<(String, String), u64>,
    /// Per route, keys asked again after a complete first answer.
    repeated: BTreeMap<String, u64>,
    /// Per route, the distinct keys asked.
    keys: BTreeMap<String, u64>,
    /// Largest batch of ids one request carried.
    largest_batch: usize,
    /// Most requests served at once.
    peak_in_flight: u64,
    #[serde(skip)]
    in_flight: u64,
    rate_limited: u64,
    unauthorized: u64,
    status: BTreeMap<String, u64>,
}

impl Rest {
    pub fn new(rate: Option<f64>) -> Rest {
        let burst = rate.map_or(1, |r| r.ceil().max(1.0) as u32);
        Rest { bucket: TokenBucket::new(rate, burst), limited: rate.is_some(), stats: Mutex::default() }
    }

    /// The counters, for `/__sandbox/stats` (under `rest`).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&*self.stats.lock().expect("rest stats")).unwrap_or(Value::Null)
    }

    pub fn reset(&self) {
        let mut stats = self.stats.lock().expect("rest stats");
        let in_flight = stats.in_flight;
        *stats = RestStats { in_flight, ..RestStats::default() };
    }

    fn count(&self, route: &str, keys: &[String]) {
        let mut stats = self.stats.lock().expect("rest stats");
        *stats.requests.entry(route.to_string()).or_default() += 1;
        for key in keys {
            let seen = stats.asked.entry((route.to_string(), key.clone())).or_default();
            *seen += 1;
            let first = *seen == 1;
            if first {
                *stats.keys.entry(route.to_string()).or_default() += 1;
            } else {
                *stats.repeated.entry(route.to_string()).or_default() += 1;
            }
        }
        stats.largest_batch = stats.largest_batch.max(keys.len());
    }

    fn finish(&self, status: StatusCode) {
        let mut stats = self.stats.lock().expect("rest stats");
        *stats.status.entry(status.as_u16().to_string()).or_default() += 1;
    }
}

/// Counts a request in flight from the moment it arrives until dropped.
pub struct InFlight<'a>(&'a Rest);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.stats.lock().expect("rest stats").in_flight -= 1;
    }
}

impl Rest {
    /// Marks a request in flight (before its latency, so overlapping requests count).
    pub fn begin(&self) -> InFlight<'_> {
        let mut stats = self.stats.lock().expect("rest stats");
        stats.in_flight += 1;
        stats.peak_in_flight = stats.peak_in_flight.max(stats.in_flight);
        InFlight(self)
    }
}

/// Serves one REST request (after the latency and any fault the caller drew).
pub fn serve(rest: &Rest, data: &DataSet, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    let mut response = route(rest, data, method, uri, headers, body);
    rest.finish(response.status());
    if rest.limited {
        // The rate headers many APIs send: what is left of the limit now.
        let state = rest.bucket.state();
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from(state.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(state.remaining));
    }
    response
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

fn route(rest: &Rest, data: &DataSet, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    let path = uri.path().strip_prefix(REST_PATH).unwrap_or("");
    let segments: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let Some(auth) = segments.first() else { return error(StatusCode::NOT_FOUND, "no such path") };
    if !authorized(auth, headers, &query) {
        rest.stats.lock().expect("rest stats").unauthorized += 1;
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    if !rest.bucket.try_take() {
        rest.stats.lock().expect("rest stats").rate_limited += 1;
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    let rest_of: Vec<&str> = segments[1..].iter().map(String::as_str).collect();
    match (method.as_str(), rest_of.as_slice()) {
        ("GET", ["accounts", domain]) => {
            rest.count("accounts", &[domain.to_string()]);
            match account(data, domain) {
                Some(account) => axum::Json(json!({"account": account})).into_response(),
                None => error(StatusCode::NOT_FOUND, "no such account"),
            }
        }
        ("GET", ["accounts"]) => {
            let Some(ids) = param("ids") else { return error(StatusCode::BAD_REQUEST, "give ids=a,b,c") };
            let ids: Vec<String> = ids.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
            if ids.len() > MAX_IDS {
                return error(StatusCode::UNPROCESSABLE_ENTITY, "at most 50 ids a request");
            }
            rest.count("accounts_batch", &ids);
            let found: Vec<Value> = ids.iter().filter_map(|d| account(data, d)).collect();
            axum::Json(json!({"data": found})).into_response()
        }
        ("POST", ["companies", "enrich"] | ["v1", "companies", "enrich"]) => {
            let Ok(Value::Object(asked)) = serde_json::from_slice::<Value>(body) else {
                return error(StatusCode::BAD_REQUEST, "send a JSON object {\"domain\": …}");
            };
            let Some(domain) = asked.get("domain").and_then(Value::as_str) else {
                return error(StatusCode::BAD_REQUEST, "give domain");
            };
            rest.count("enrich", &[domain.to_string()]);
            match account(data, domain) {
                Some(account) => axum::Json(json!({"company": {
                    "domain": domain,
                    "name": account["name"],
                    "employees": account["employees"],
                    "industry": account["industry"],
                }}))
                .into_response(),
                None => error(StatusCode::NOT_FOUND, "company not found"),
            }
        }
        ("GET", ["deals", style, owner]) => deals(rest, style, owner, &param, uri.path()),
        // An API that echoes what it was sent, credentials included, in its error.
        ("GET", ["leaky", domain]) => {
            rest.count("leaky", &[domain.to_string()]);
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let echoed = format!(
                "cannot serve {} (authorization: {}; x-api-key: {})",
                uri,
                header(AUTHORIZATION.as_str()),
                header("x-api-key")
            );
            error(StatusCode::BAD_REQUEST, &echoed)
        }
        ("GET", ["broken", domain]) => {
            rest.count("broken", &[domain.to_string()]);
            let mut response = (StatusCode::OK, "<html><body>Service temporarily moved</body></html>").into_response();
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
            response
        }
        _ => error(StatusCode::NOT_FOUND, "no such path"),
    }
}

fn authorized(auth: &str, headers: &HeaderMap, query: &[(String, String)]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    match auth {
        "open" => true,
        "bearer" => header(AUTHORIZATION.as_str()) == format!("Bearer {TOKEN}"),
        "basic" => {
            let expected = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
            header(AUTHORIZATION.as_str()) == format!("Basic {expected}")
        }
        "header" => header("x-api-key") == KEY,
        "query" => query.iter().any(|(k, v)| k == "api_key" && v == KEY),
        _ => false,
    }
}

fn digest(text: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

const OWNERS: [&str; 6] = ["Ana Ruiz", "Ben Okafor", "Chen Wei", "Dara Novak", "Eli Brandt", "Fay Moreau"];
const STAGES: [&str; 4] = ["prospect", "trial", "customer", "churned"];

/// The CRM's account for `domain`, exactly as written, if it has one.
fn account(data: &DataSet, domain: &str) -> Option<Value> {
    let companies = data.companies_with_domain(domain);
    let company = data.company(*companies.first()?);
    let h = digest(domain);
    if h.is_multiple_of(5) {
        return None;
    }
    let tags: Vec<&str> =
        ["enterprise", "priority", "renewal", "partner"].into_iter().filter(|t| digest(t) % 3 != h % 3).collect();
    Some(json!({
        "domain": domain,
        "name": company.name,
        "owner": {"name": OWNERS[(h % 6) as usize], "email": format!("owner{}@crm.example", h % 6)},
        "billing": {"arr": (h % 500_000) as f64 + 0.5, "currency": "USD"},
        "stage": STAGES[((h >> 8) % 4) as usize],
        "employees": company.employees,
        "industry": company.industry().map(|i| i.name),
        "tags": tags,
        "founded": format!("{:04}-{:02}-{:02}", 1950 + h % 70, 1 + (h >> 4) % 12, 1 + (h >> 12) % 28),
        "updated_at": format!("2026-{:02}-{:02}T{:02}:00:00Z", 1 + (h >> 16) % 11, 1 + (h >> 20) % 28, (h >> 24) % 24),
        "active": h.is_multiple_of(2),
    }))
}

/// The owner's deals.
fn all_deals(owner: &str) -> Vec<Value> {
    let h = digest(owner);
    let count = 3 + (h % 23) as usize;
    (0..count)
        .map(|i| {
            json!({
                "id": format!("{owner}-{i:02}"),
                "owner": owner,
                "amount": ((h >> 3) % 1000 + i as u64 * 17) as i64 * 100,
                "stage": STAGES[i % 4],
            })
        })
        .collect()
}

fn deals(rest: &Rest, style: &str, owner: &str, param: &dyn Fn(&str) -> Option<String>, path: &str) -> Response {
    let all = all_deals(owner);
    let number = |name: &str, default: usize| param(name).and_then(|v| v.parse::<usize>().ok()).unwrap_or(default);
    let limit = number(if style == "page" { "per_page" } else { "limit" }, 10).clamp(1, 100);
    let route = format!("deals_{style}");
    let window = |start: usize| all.iter().skip(start).take(limit).cloned().collect::<Vec<_>>();
    let first_page = |start: usize| if start == 0 { vec![owner.to_string()] } else { Vec::new() };
    match style {
        "offset" => {
            let offset = number("offset", 0);
            rest.count(&route, &first_page(offset));
            axum::Json(json!({"deals": window(offset)})).into_response()
        }
        "page" => {
            let page = number("page", 1).max(1);
            let start = (page - 1) * limit;
            rest.count(&route, &first_page(start));
            axum::Json(json!({"deals": window(start), "has_more": start + limit < all.len()})).into_response()
        }
        "cursor" | "loop" => {
            let start = param("cursor").and_then(|c| c.strip_prefix('c').and_then(|n| n.parse().ok())).unwrap_or(0);
            rest.count(&route, &first_page(start));
            let next = if style == "loop" {
                Some("c1".to_string())
            } else {
                (start + limit < all.len()).then(|| format!("c{}", start + limit))
            };
            axum::Json(json!({"deals": window(start), "next_cursor": next})).into_response()
        }
        "link_header" => {
            let page = number("page", 1).max(1);
            let start = (page - 1) * limit;
            rest.count(&route, &first_page(start));
            let mut response = axum::Json(json!(window(start))).into_response();
            if start + limit < all.len() {
                let encoded = percent_encoding::utf8_percent_encode(owner, percent_encoding::NON_ALPHANUMERIC);
                let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
                let link = format!("<{base}/{encoded}?page={}&limit={limit}>; rel=\"next\"", page + 1);
                response.headers_mut().insert(LINK, HeaderValue::from_str(&link).expect("ascii link"));
            }
            response
        }
        "next_url" => {
            let start = number("after", 0);
            rest.count(&route, &first_page(start));
            let next = (start + limit < all.len()).then(|| format!("?after={}&limit={limit}", start + limit));
            axum::Json(json!({"deals": window(start), "links": {"next": next}})).into_response()
        }
        "same" => {
            rest.count(&route, &first_page(0));
            axum::Json(json!({"deals": window(0)})).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "no such paging style"),
    }
}

/// The deals `owner` has, for tests to compare against.
pub fn deal_count(owner: &str) -> usize {
    all_deals(owner).len()
}

/// Whether the CRM has an account for `domain` (exactly as written).
pub fn has_account(data: &DataSet, domain: &str) -> bool {
    account(data, domain).is_some()
}
