//! The HTTP side: one handler for every API path that applies, in order, latency, faults,
//! authentication, the rate limit, entitlements, the endpoint and the credit ledger; and an
//! accept loop that can reset a connection for real.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::header::{ALLOW, AUTHORIZATION, CONTENT_LENGTH};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use super::SandboxConfig;
use super::credits::Ledger;
use super::data::DataSet;
use super::endpoints::{self, Endpoint, Input};
use super::error::ApiError;
use super::faults::{Fault, Faults};
use super::ratelimit::TokenBucket;
use super::rest::{self, Rest};
use super::stats::Stats;
use super::v2;
use super::webhook::{self, Webhooks};

/// Every API path starts with this.
pub const BASE_PATH: &str = "/data-api/v1";

/// Largest request body the sandbox reads; a 25-id batch with every field is under 4 KiB.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Shared state of one running sandbox.
pub struct App {
    pub data: Arc<DataSet>,
    pub config: SandboxConfig,
    pub bucket: TokenBucket,
    pub ledger: Mutex<Ledger>,
    /// v2's own balance and first-time ledger: each key has its own.
    pub ledger_v2: Mutex<Ledger>,
    pub faults: Faults,
    pub stats: Stats,
    /// The generic REST API beside HG's.
    pub rest: Rest,
    /// Clay-like webhook receivers.
    pub webhooks: Webhooks,
    /// Draws which accepted webhook posts lose their answer.
    lost: Mutex<rand_chacha::ChaCha8Rng>,
}

impl App {
    pub fn new(data: Arc<DataSet>, config: SandboxConfig) -> App {
        App {
            data,
            bucket: TokenBucket::new(config.rate, config.burst),
            ledger: Mutex::new(Ledger::new(config.credits)),
            ledger_v2: Mutex::new(Ledger::new(config.credits)),
            faults: Faults::new(config.seed, config.fault_rate, &config.fault_kinds, config.latency, config.jitter),
            stats: Stats::default(),
            rest: Rest::new(config.rest_rate),
            webhooks: Webhooks::new(config.webhook_rate),
            lost: Mutex::new(rand::SeedableRng::seed_from_u64(config.seed ^ 0x1057)),
            config,
        }
    }
}

/// Lets a handler ask its connection to be reset (put on each request by the accept loop).
#[derive(Clone)]
struct ConnectionReset(Arc<Notify>);

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/__sandbox/stats", get(stats))
        .route("/__sandbox/reset", post(reset))
        .fallback(api)
        .with_state(app)
}

async fn stats(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let credits = app.ledger.lock().expect("ledger").remaining();
    let mut stats = app.stats.to_json(credits);
    stats["rest"] = app.rest.to_json();
    stats["webhooks"] = app.webhooks.to_json();
    Json(stats)
}

/// Zeroes the counters; `?credits=true` also restores the credit balance and forgets charges.
async fn reset(State(app): State<Arc<App>>, uri: Uri) -> StatusCode {
    app.stats.reset();
    app.rest.reset();
    app.webhooks.reset();
    if form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).any(|(k, v)| k == "credits" && v == "true") {
        app.ledger.lock().expect("ledger").reset(app.config.credits);
        app.ledger_v2.lock().expect("ledger").reset(app.config.credits);
    }
    StatusCode::NO_CONTENT
}

async fn api(
    State(app): State<Arc<App>>,
    reset: Option<Extension<ConnectionReset>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if uri.path().starts_with(rest::REST_PATH) {
        return serve_rest(&app, reset, &method, &uri, &headers, body).await;
    }
    if let Some(id) =
        uri.path().strip_prefix(webhook::WEBHOOK_PATH).or_else(|| uri.path().strip_prefix(webhook::CLAY_PATH))
    {
        return serve_webhook(&app, reset, &method, id, &headers, body).await;
    }
    let route = Route::of(&app.config, uri.path());
    let label = route.map_or("unknown", Route::name);
    let _in_flight = app.stats.begin(label);
    let (delay, fault) = if route.is_some() { app.faults.draw() } else { (Duration::ZERO, None) };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut response = match fault {
        Some(Fault::ConnectionReset) => {
            if let Some(Extension(ConnectionReset(notify))) = reset {
                app.stats.fault(Fault::ConnectionReset.name());
                app.stats.finish(label, Fault::ConnectionReset.name());
                notify.notify_one();
                return std::future::pending::<Response>().await;
            }
            // Not served by our accept loop, so the connection cannot be reset: a 503 instead.
            ApiError::unavailable().into_response()
        }
        Some(fault @ (Fault::ServerError | Fault::Unavailable | Fault::SpuriousTooManyRequests)) => injected(fault),
        Some(Fault::TruncatedJson) | None => {
            let result = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
                Ok(body) => {
                    let damaged = fault == Some(Fault::TruncatedJson);
                    match route {
                        Some(Route::V2(endpoint)) => serve_v2(&app, endpoint, &method, &uri, &headers, &body, damaged),
                        Some(Route::V1(endpoint)) => {
                            serve(&app, Some(endpoint), &method, &uri, &headers, &body, damaged)
                        }
                        None => serve(&app, None, &method, &uri, &headers, &body, damaged),
                    }
                }
                Err(_) => Err(ApiError::too_large(MAX_BODY_BYTES)),
            };
            match result {
                Ok(body) => Json(body).into_response(),
                Err(error) => error.into_response(),
            }
        }
    };
    if fault == Some(Fault::TruncatedJson) && response.status() == StatusCode::OK {
        response = truncate(response).await;
    }
    // Counted as what was sent: a truncation drawn for a request that failed validation is not one.
    match fault {
        Some(Fault::TruncatedJson) if response.status() != StatusCode::OK => {}
        Some(Fault::ConnectionReset) => app.stats.fault(Fault::Unavailable.name()),
        Some(fault) => app.stats.fault(fault.name()),
        None => {}
    }
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(route) = route
    {
        let allow = if route.is_get() { "GET" } else { "POST" };
        response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    }
    add_headers(&app, response.headers_mut(), matches!(route, Some(Route::V2(_))));
    app.stats.finish(label, response.status().as_str());
    response
}

/// A request to the generic REST API: the same latency and faults as HG's, then its own routes.
async fn serve_rest(
    app: &App,
    reset: Option<Extension<ConnectionReset>>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    // Counted by the REST API itself, apart from HG's endpoints; faults are counted with HG's.
    let _in_flight = app.rest.begin();
    let (delay, fault) = app.faults.draw();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match fault {
        Some(Fault::ConnectionReset) => {
            if let Some(Extension(ConnectionReset(notify))) = reset {
                app.stats.fault(Fault::ConnectionReset.name());
                notify.notify_one();
                return std::future::pending::<Response>().await;
            }
            ApiError::unavailable().into_response()
        }
        Some(fault @ (Fault::ServerError | Fault::Unavailable | Fault::SpuriousTooManyRequests)) => injected(fault),
        Some(Fault::TruncatedJson) | None => match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(body) => rest::serve(&app.rest, &app.data, method, uri, headers, &body),
            Err(_) => ApiError::too_large(MAX_BODY_BYTES).into_response(),
        },
    };
    if let Some(fault) = fault {
        app.stats.fault(fault.name());
    }
    if fault == Some(Fault::TruncatedJson) && response.status() == StatusCode::OK {
        return truncate(response).await;
    }
    response
}

/// The answer to an injected fault that is an answer (a reset and a truncation are not).
fn injected(fault: Fault) -> Response {
    match fault {
        Fault::Unavailable | Fault::ConnectionReset => ApiError::unavailable().into_response(),
        Fault::SpuriousTooManyRequests => ApiError::too_many_requests().into_response(),
        Fault::ServerError | Fault::TruncatedJson => ApiError::internal().into_response(),
    }
}

/// A post to a webhook receiver: HG's latency and faults first (no row is kept under a
/// fault), then the receiver, which may keep the rows and ask for the answer to be lost.
async fn serve_webhook(
    app: &App,
    reset: Option<Extension<ConnectionReset>>,
    method: &Method,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let (delay, fault) = app.faults.draw();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let reset_now = |reset: Option<Extension<ConnectionReset>>| async move {
        match reset {
            Some(Extension(ConnectionReset(notify))) => {
                notify.notify_one();
                std::future::pending::<Response>().await
            }
            None => ApiError::unavailable().into_response(),
        }
    };
    if let Some(fault) = fault {
        app.stats.fault(fault.name());
        return match fault {
            Fault::ConnectionReset => reset_now(reset).await,
            // A webhook answers no JSON worth cutting: a truncation is a 500 here.
            fault => injected(fault),
        };
    }
    if *method != Method::POST {
        return ApiError::method_not_allowed(method.as_str(), webhook::WEBHOOK_PATH).into_response();
    }
    // Read up to the server's own limit, so the receiver sees (and counts) a body over its cap.
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let lose = app.config.webhook_lost_rate > 0.0
        && rand::Rng::random_bool(
            &mut *app.lost.lock().expect("lost rng"),
            app.config.webhook_lost_rate.clamp(0.0, 1.0),
        );
    let received = app.webhooks.receive(id, headers, &body, lose);
    if received.reset {
        return reset_now(reset).await;
    }
    received.response
}

/// An API path: an endpoint of a version the sandbox serves.
#[derive(Clone, Copy)]
enum Route {
    V1(Endpoint),
    V2(v2::Endpoint),
}

impl Route {
    fn of(config: &SandboxConfig, path: &str) -> Option<Route> {
        if config.api.v1
            && let Some(rest) = path.strip_prefix(BASE_PATH)
        {
            return Endpoint::from_path(rest).map(Route::V1);
        }
        if config.api.v2
            && let Some(rest) = path.strip_prefix(v2::BASE_PATH)
        {
            return v2::Endpoint::from_path(rest).map(Route::V2);
        }
        None
    }

    fn name(self) -> &'static str {
        match self {
            Route::V1(e) => e.name(),
            Route::V2(e) => e.name(),
        }
    }

    fn is_get(self) -> bool {
        match self {
            Route::V1(e) => e.is_get(),
            Route::V2(e) => e.is_get(),
        }
    }
}

/// The v1 endpoint whose `--deny` also denies a v2 field group.
fn entitlement(group: v2::Group) -> Option<Endpoint> {
    match group {
        v2::Group::Firmographics => Some(Endpoint::Firmographic),
        v2::Group::Technographics => Some(Endpoint::Installs),
        v2::Group::Spend => Some(Endpoint::Spend),
        v2::Group::Intent => Some(Endpoint::Intent),
        v2::Group::FunctionalAreas => None,
    }
}

/// One v2 request, in the order v1's take: method, key, rate limit, entitlements, the
/// endpoint, the ledger (free endpoints too need a positive balance).
fn serve_v2(
    app: &App,
    endpoint: v2::Endpoint,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    damaged: bool,
) -> Result<serde_json::Value, ApiError> {
    admit(app, endpoint.is_get(), method, endpoint.path(), headers, &app.config.key_v2())?;
    let mut ledger = app.ledger_v2.lock().expect("ledger");
    if ledger.remaining() == Some(0) {
        return Err(ApiError::credits_exhausted("Credits exhausted: no credits remain on this key"));
    }
    if endpoint == v2::Endpoint::Credits {
        let total = app.config.credits;
        let remaining = ledger.remaining();
        let used = total.zip(remaining).map(|(t, r)| t.saturating_sub(r)).unwrap_or(0);
        return Ok(serde_json::json!({"credits": {"total": total, "used": used, "remaining": remaining}}));
    }
    if let Some(v1) = endpoint.v1().filter(|e| app.config.deny.contains(e)) {
        return Err(ApiError::unauthorized(format!("Access denied to field group: {}", v1.field_group())));
    }
    let denied = |group: v2::Group| entitlement(group).is_some_and(|e| app.config.deny.contains(&e));
    let not_charged = |group: v2::Group, company: u128| !ledger.is_charged(group.name(), company);
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let input = if endpoint.is_get() { Input::Query(&query) } else { Input::Body(body) };
    let answer = v2::handle(&app.data, endpoint, input, app.config.v2, &not_charged)?;
    if let Some(group) = answer.asked.iter().find(|g| denied(**g)) {
        return Err(ApiError::unauthorized(format!("Access denied to field group: {}", group.name())));
    }
    let parts: Vec<(&'static str, &[u128])> = answer.returned.iter().map(|(g, c)| (g.name(), c.as_slice())).collect();
    let charged = ledger.charge_all(&parts)?;
    let mut repeated = 0;
    if !damaged && let Some((request, page)) = request_and_page(body) {
        for (account, companies) in &parts {
            repeated += ledger.deliver_each(account, &request, &page, companies);
        }
    }
    drop(ledger);
    let groups: Vec<(&'static str, usize)> = answer.returned.iter().map(|(g, c)| (g.name(), c.len())).collect();
    app.stats.companies(endpoint.name(), answer.companies, &groups);
    let rows = answer.returned.iter().map(|(_, c)| c.len()).sum();
    app.stats.served(endpoint.name(), rows, charged, repeated);
    Ok(answer.body)
}

/// A v2 body without the companies it names, without and with its offsets (at the top, or per
/// group in `pagination`): what tells a later page of one request from the same request asked
/// again, per company.
fn request_and_page(body: &[u8]) -> Option<(String, String)> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object_mut()?;
    object.remove("companies");
    object.remove("company");
    let page = value.to_string();
    let object = value.as_object_mut()?;
    object.remove("offset");
    if let Some(pagination) = object.get_mut("pagination").and_then(|p| p.as_object_mut()) {
        for group in pagination.values_mut() {
            if let Some(group) = group.as_object_mut() {
                group.remove("offset");
            }
        }
    }
    Some((value.to_string(), page))
}

fn serve(
    app: &App,
    endpoint: Option<Endpoint>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    damaged: bool,
) -> Result<serde_json::Value, ApiError> {
    let endpoint = endpoint.ok_or_else(|| ApiError::not_found(uri.path()))?;
    admit(app, endpoint.is_get(), method, uri.path(), headers, app.config.key_v1())?;
    if app.config.deny.contains(&endpoint) {
        return Err(ApiError::unauthorized(format!("Access denied to field group: {}", endpoint.field_group())));
    }
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let input = if endpoint.is_get() { Input::Query(&query) } else { Input::Body(body) };
    let listing = endpoints::handle(&app.data, endpoint, input)?;
    let mut ledger = app.ledger.lock().expect("ledger");
    let charged = ledger.charge(endpoint, &listing.companies)?;
    let repeated = if damaged {
        0
    } else {
        let (request, page) = request_identity(uri, body);
        ledger.deliver(endpoint, &request, &page, &listing.companies)
    };
    drop(ledger);
    app.stats.served(endpoint.name(), listing.data.len(), charged, repeated);
    Ok(listing.body())
}

/// A request as text without and with its page offset, to tell a later page of one request
/// from the same request asked again.
fn request_identity(uri: &Uri, body: &[u8]) -> (String, String) {
    if let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice::<serde_json::Value>(body) {
        let page = serde_json::Value::Object(object.clone()).to_string();
        object.remove("offset");
        return (serde_json::Value::Object(object).to_string(), page);
    }
    let mut pairs: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    pairs.sort();
    let page = format!("{}?{pairs:?}", uri.path());
    pairs.retain(|(k, _)| k != "offset");
    (format!("{}?{pairs:?}", uri.path()), page)
}

/// The checks every API request passes first, in this order: its method, its key, the rate
/// limit (both versions share one bucket).
fn admit(app: &App, get: bool, method: &Method, path: &str, headers: &HeaderMap, key: &str) -> Result<(), ApiError> {
    let expected = if get { Method::GET } else { Method::POST };
    if *method != expected {
        return Err(ApiError::method_not_allowed(method.as_str(), path));
    }
    authorize(headers, key)?;
    if !app.bucket.try_take() {
        app.stats.rate_limited();
        return Err(ApiError::too_many_requests());
    }
    Ok(())
}

/// Accepts `Bearer <key>`, `bearer <key>` or the bare key.
fn authorize(headers: &HeaderMap, key: &str) -> Result<(), ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(ApiError::unauthorized("Invalid or missing API key: send it in the Authorization header"));
    };
    let value = value.to_str().unwrap_or("").trim();
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or(value).trim();
    if token == key { Ok(()) } else { Err(ApiError::unauthorized("The token provided is not valid")) }
}

async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

fn add_headers(app: &App, headers: &mut HeaderMap, v2: bool) {
    let rate = app.bucket.state();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).expect("ascii header"));
    };
    set("x-ratelimit-limit", format!("{}, {};w=1", rate.limit, rate.limit));
    set("x-ratelimit-remaining", rate.remaining.to_string());
    set("x-ratelimit-reset", rate.reset_seconds.to_string());
    let ledger = if v2 { &app.ledger_v2 } else { &app.ledger };
    if v2 && app.config.v2.no_credit_header {
        return;
    }
    if let Some(credits) = ledger.lock().expect("ledger").remaining() {
        set("x-credits-remaining", credits.to_string());
    }
}

/// Serves connections until `shutdown` changes.
pub async fn serve_forever(listener: TcpListener, router: Router, mut shutdown: watch::Receiver<bool>) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait and go on rather than die.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        tokio::spawn(connection(stream, router.clone(), shutdown.clone()));
    }
}

/// Serves one connection. A handler that draws the reset fault notifies; the connection is then
/// closed with `SO_LINGER` 0, so the client sees a TCP reset, not a clean close.
async fn connection(stream: TcpStream, router: Router, mut shutdown: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let Ok(reset_handle) = socket2::SockRef::from(&stream).try_clone() else {
        return;
    };
    let notify = Arc::new(Notify::new());
    let hook = ConnectionReset(notify.clone());
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(hook.clone());
        router.clone().oneshot(request.map(Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = notify.notified() => {
            let _ = reset_handle.set_linger(Some(Duration::ZERO));
        }
        _ = shutdown.changed() => {}
    }
}
