//! What every HTTP caller of hgsql needs, whatever API it talks to: a rate gate per
//! (host, credential), a cap on requests in flight, retries with backoff that obey the server's
//! rate headers, a time limit per exchange and per request, counters, a credential that no
//! message shows, and no redirects (a redirect would carry the credential to another host).
//!
//! It knows nothing of HG or of DataFusion. A caller says how to build its request and how to
//! read an answer ([`Verdict`]); the transport does the rest. HG tables use it through
//! [`HgClient`](super::HgClient); HTTP tables and the webhook sink are meant to share it.

mod gates;
mod limiter;
mod retry;
mod secret;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

pub use gates::Gates;
pub use limiter::RateGate;
pub use retry::RetryPolicy;
pub use secret::{ApiKey, AuthScheme};

/// How a transport paces and retries.
#[derive(Clone, Debug, PartialEq)]
pub struct TransportConfig {
    /// Requests per second; `None` for no limit.
    pub rate: Option<f64>,
    pub burst: u32,
    pub max_in_flight: usize,
    pub retry: RetryPolicy,
    /// Time allowed for one HTTP exchange (connecting, sending, reading the whole answer).
    pub timeout: Duration,
}

/// A credential sent in one header (marked sensitive so no debug output shows it) or, for APIs
/// that want it so, in one query parameter added as the request leaves (never part of a URL a
/// caller holds, so no message can show it).
#[derive(Clone)]
pub struct Credential {
    name: HeaderName,
    value: HeaderValue,
    /// Sent as this query parameter instead of a header.
    query: Option<(String, secrecy::SecretString)>,
    /// Tells credentials apart for the rate gates without keeping their text.
    fingerprint: u64,
}

impl Credential {
    /// `?name=value` on every request.
    pub fn query(name: &str, value: &str) -> Credential {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        ("?", name, value).hash(&mut hasher);
        Credential {
            name: HeaderName::from_static("x-unused"),
            value: HeaderValue::from_static(""),
            query: Some((name.to_string(), secrecy::SecretString::from(value.to_string()))),
            fingerprint: hasher.finish(),
        }
    }

    /// Tells this credential from others (for rate gates), without showing it.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// `name: value`, or why it cannot be a header (the message never holds the value).
    pub fn header(name: HeaderName, value: &str) -> Result<Credential, String> {
        let mut header = HeaderValue::from_str(value).map_err(|_| {
            format!(
                "the {name} credential holds characters that cannot be sent in an HTTP header; copy it again without spaces or line breaks"
            )
        })?;
        header.set_sensitive(true);
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (name.as_str(), value).hash(&mut hasher);
        Ok(Credential { name, value: header, query: None, fingerprint: hasher.finish() })
    }

    fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        use secrecy::ExposeSecret;
        match &self.query {
            Some((name, value)) => request.query(&[(name.as_str(), value.expose_secret())]),
            None => request.header(self.name.clone(), self.value.clone()),
        }
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.query {
            Some((name, _)) => write!(f, "Credential(?{name}=***)"),
            None => write!(f, "Credential({}: ***)", self.name),
        }
    }
}

/// The `x-ratelimit-*` headers of an answer, as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub limit: Option<String>,
    pub remaining: Option<String>,
    pub reset: Option<String>,
}

/// An answer as the transport received it.
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

/// Why no answer came: the message says what broke, never the URL (it may hold what a user
/// typed, and the caller names the endpoint already).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoAnswer {
    pub message: String,
    /// Whether the request may have reached the server: only a connection that failed before
    /// it was made sent nothing for sure. A caller that must not send twice (a webhook) cannot
    /// retry the rest.
    pub may_have_arrived: bool,
    /// The status the server answered with, when the connection broke while its body was
    /// read: a webhook's 2xx says the rows were taken, whatever the body.
    pub status: Option<u16>,
}

/// What the caller makes of one attempt.
pub enum Verdict<T, E> {
    Done(T),
    /// Worth sending again (a 429, a 5xx, a cut-off body, no answer).
    Retry(E),
    Fail(E),
}

/// Why a request ended without a result.
#[derive(Debug)]
pub enum SendError<E> {
    /// The caller's verdict: not worth trying again.
    Failed(E),
    /// Every attempt the policy allows was worth retrying, or the time ran out.
    Exhausted { attempts: u32, elapsed: Duration, last: E },
}

/// Where a request is counted as it goes: the transport says what happened, the caller keeps
/// its own counters (per endpoint, per scan).
pub trait Meter: Send + Sync {
    /// A request left (after the rate gate); `retry` when it is a second or later attempt.
    fn sent(&self, retry: bool, rate_wait: Duration);
    /// The server answered 429.
    fn throttled(&self);
}

/// Longest wait for a connection to be made.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Exchanges finished by any transport of this process, answered or not: what a scan waiting
/// for its join's keys watches to tell a long lookup (HG or another API) from a plan that will
/// never give them.
static ACTIVITY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many exchanges every transport of this process has finished so far.
pub fn activity() -> u64 {
    ACTIVITY.load(std::sync::atomic::Ordering::Relaxed)
}

/// What a caller that must record a request before it leaves gives
/// [`Transport::send_prepared`].
pub struct Prepared<'a, F> {
    /// What the request weighs against the rate: a webhook post of ten records takes ten
    /// tokens, since the receiver counts records.
    pub tokens: u32,
    /// Awaited once, after the first admission and before a byte leaves. A caller that must
    /// record what it is about to send (the webhook ledger's claim) does it here, so nothing
    /// still waiting for the rate is recorded as sent; when it fails, nothing is sent.
    pub prepare: F,
    /// When raised, a wait for the rate gate or between attempts ends: before the first
    /// attempt `prepare` decides, after it the last attempt's error is the request's.
    pub halt: Option<&'a Halt>,
}

/// A caller's signal that its requests should stop waiting (a cancelled webhook run): the
/// request on the wire is answered, none waits on.
#[derive(Debug, Default)]
pub struct Halt {
    raised: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Halt {
    pub fn raise(&self) {
        self.raised.store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_raised(&self) -> bool {
        self.raised.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Completes once raised.
    pub async fn raised(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before the flag is read, so a raise in between is not missed.
            notified.as_mut().enable();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }
}

/// One paced, retrying HTTP client for one (host, credential).
pub struct Transport {
    http: reqwest::Client,
    gate: Arc<RateGate>,
    config: TransportConfig,
    credential: Option<Credential>,
    rate_headers: Mutex<RateHeaders>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport to `host` sending `credential` on every request. Its rate gate comes from
    /// `gates`, so every transport to the same host with the same credential shares one.
    pub fn new(
        host: &str,
        credential: Option<Credential>,
        config: TransportConfig,
        gates: &Gates,
    ) -> Result<Transport, String> {
        let fingerprint = credential.as_ref().map_or(0, |c| c.fingerprint);
        Transport::with_gate(host, fingerprint, credential, config, gates)
    }

    /// A transport that waits at the gate named `gate`, whatever its credential: for limits a
    /// server counts over several credentials (Clay's rate, per workspace, binds every webhook).
    pub fn shared(
        gate: &str,
        credential: Option<Credential>,
        config: TransportConfig,
        gates: &Gates,
    ) -> Result<Transport, String> {
        Transport::with_gate(gate, 0, credential, config, gates)
    }

    fn with_gate(
        host: &str,
        fingerprint: u64,
        credential: Option<Credential>,
        config: TransportConfig,
        gates: &Gates,
    ) -> Result<Transport, String> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            // A host that drops connections silently is a connection that failed (nothing
            // sent), not an exchange that timed out (something may have arrived).
            .connect_timeout(config.timeout.min(CONNECT_TIMEOUT))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hgsql/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let gate = gates.gate(host, fingerprint, || RateGate::new(config.rate, config.burst, config.max_in_flight));
        Ok(Transport { http, gate, config, credential, rate_headers: Mutex::default() })
    }

    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// The gate this transport waits at (shared with every transport of its host and
    /// credential, or of its named gate).
    pub fn gate(&self) -> &Arc<RateGate> {
        &self.gate
    }

    /// The rate-limit headers of the last answer.
    pub fn rate_headers(&self) -> RateHeaders {
        self.rate_headers.lock().expect("not poisoned").clone()
    }

    /// Sends the request `build` makes until `read` is satisfied, fails it, or the policy's
    /// attempts or time run out. A 429 holds back every request through this gate for as long
    /// as the server says (`x-ratelimit-reset`, else `Retry-After`); other retries wait a
    /// jittered backoff. No attempt starts after the policy's `max_total`, and each attempt
    /// gets at most the time left, so a server that never answers fails the request within
    /// `max_total` (plus the last wait for the rate gate).
    pub async fn send<T, E>(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        meter: &dyn Meter,
        read: impl FnMut(Result<Response, NoAnswer>) -> Verdict<T, E>,
    ) -> Result<T, SendError<E>> {
        let plain = Prepared { tokens: 1, prepare: std::future::ready(Ok(())), halt: None };
        self.send_prepared(plain, build, meter, read).await
    }

    /// [`Transport::send`] for a request that weighs `prepared.tokens` against the rate, with
    /// `prepared.prepare` awaited once, after the first admission and before a byte leaves,
    /// and waits that end when `prepared.halt` is raised (see [`Prepared`]).
    pub async fn send_prepared<T, E>(
        &self,
        prepared: Prepared<'_, impl Future<Output = Result<(), E>>>,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        meter: &dyn Meter,
        mut read: impl FnMut(Result<Response, NoAnswer>) -> Verdict<T, E>,
    ) -> Result<T, SendError<E>> {
        let policy = &self.config.retry;
        let Prepared { tokens, prepare, halt } = prepared;
        let mut started: Option<Instant> = None;
        let mut waits = policy.waits();
        let mut attempts = 0u32;
        let mut prepare = Some(prepare);
        let mut last: Option<E> = None;
        loop {
            attempts += 1;
            let admitted = match halt {
                // `biased`: a raised halt wins over a gate that admits at once.
                Some(halt) => tokio::select! {
                    biased;
                    () = halt.raised() => None,
                    admitted = self.gate.admit_n(tokens) => Some(admitted),
                },
                None => Some(self.gate.admit_n(tokens).await),
            };
            let (_permit, rate_wait) = match (admitted, last.take()) {
                (Some(admitted), _) => admitted,
                // Halted while waiting to retry: what the last attempt got stands.
                (None, Some(error)) => {
                    let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
                    return Err(SendError::Exhausted { attempts: attempts - 1, elapsed, last: error });
                }
                // Halted before the first attempt: `prepare` decides (it knows why), and waits
                // for the gate after all if it still wants the request sent.
                (None, None) => {
                    if let Some(prepare) = prepare.take() {
                        prepare.await.map_err(SendError::Failed)?;
                    }
                    self.gate.admit_n(tokens).await
                }
            };
            if let Some(prepare) = prepare.take() {
                prepare.await.map_err(SendError::Failed)?;
            }
            let began = *started.get_or_insert_with(Instant::now);
            meter.sent(attempts > 1, rate_wait);
            let left = policy.max_total.saturating_sub(began.elapsed()).max(Duration::from_millis(100));
            let mut request = build(&self.http).timeout(self.config.timeout.min(left));
            if let Some(credential) = &self.credential {
                request = credential.apply(request);
            }
            let answer = self.exchange(request).await;
            ACTIVITY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let server_wait = match &answer {
                Ok(response) if response.status == 429 => {
                    meter.throttled();
                    let wait = header_seconds(&response.headers, "x-ratelimit-reset")
                        .or_else(|| header_seconds(&response.headers, "retry-after"));
                    if let Some(wait) = wait {
                        self.gate.pause(wait);
                    }
                    wait
                }
                Ok(response) if response.status == 503 => header_seconds(&response.headers, "retry-after"),
                _ => None,
            };
            let error = match read(answer) {
                Verdict::Done(value) => return Ok(value),
                Verdict::Fail(error) => return Err(SendError::Failed(error)),
                Verdict::Retry(error) => error,
            };
            let wait = match (server_wait, waits.next()) {
                (_, None) => None,
                (Some(server), Some(_)) => Some(server),
                (None, Some(backoff)) => Some(backoff),
            };
            match wait {
                Some(wait) if began.elapsed() + wait < policy.max_total => {
                    tracing::debug!(attempt = attempts, ?wait, "retrying");
                    let halted = match halt {
                        Some(halt) => tokio::select! {
                            biased;
                            () = halt.raised() => true,
                            () = tokio::time::sleep(wait) => false,
                        },
                        None => {
                            tokio::time::sleep(wait).await;
                            false
                        }
                    };
                    if halted {
                        return Err(SendError::Exhausted { attempts, elapsed: began.elapsed(), last: error });
                    }
                    last = Some(error);
                }
                _ => return Err(SendError::Exhausted { attempts, elapsed: began.elapsed(), last: error }),
            }
        }
    }

    /// One exchange: the answer read whole, or why there was none.
    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Response, NoAnswer> {
        let response = request.send().await.map_err(without_url)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.observe(&headers);
        let body = response.bytes().await.map_err(|e| NoAnswer { status: Some(status), ..without_url(e) })?;
        Ok(Response { status, headers, body })
    }

    /// Reads the rate headers every answer may carry: at `x-ratelimit-remaining: 0` the gate
    /// slows down before the server has to refuse.
    fn observe(&self, headers: &HeaderMap) {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        *self.rate_headers.lock().expect("not poisoned") = RateHeaders {
            limit: text("x-ratelimit-limit"),
            remaining: text("x-ratelimit-remaining"),
            reset: text("x-ratelimit-reset"),
        };
        if let Some(remaining) = header_number(headers, "x-ratelimit-remaining") {
            self.gate.observe_remaining(remaining as u64);
        }
    }
}

/// reqwest's message without the URL.
fn without_url(error: reqwest::Error) -> NoAnswer {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "the connection broke while reading the answer"
    } else {
        "the request failed"
    };
    let mut message = kind.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    NoAnswer { message, may_have_arrived: !error.is_connect(), status: None }
}

/// A header's leading number: `25`, `25, 25;w=1` and `0.5` all read.
pub fn header_number(headers: &HeaderMap, name: &str) -> Option<f64> {
    let value = headers.get(name)?.to_str().ok()?;
    let lead: String = value.trim().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    lead.parse().ok()
}

fn header_seconds(headers: &HeaderMap, name: &str) -> Option<Duration> {
    header_number(headers, name).filter(|s| *s >= 0.0 && *s < 3600.0).map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_their_leading_number() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("25, 25;w=1"));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("0.5"));
        headers.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(header_number(&headers, "x-ratelimit-limit"), Some(25.0));
        assert_eq!(header_seconds(&headers, "x-ratelimit-reset"), Some(Duration::from_millis(500)));
        assert_eq!(header_seconds(&headers, "retry-after"), None);
        assert_eq!(header_number(&headers, "x-credits-remaining"), None);
    }

    #[test]
    fn a_credential_never_shows_and_refuses_what_no_header_can_carry() {
        let credential = Credential::header(reqwest::header::AUTHORIZATION, "Bearer s3cr3t").unwrap();
        assert!(!format!("{credential:?}").contains("s3cr3t"));
        assert!(credential.value.is_sensitive());
        let broken = Credential::header(reqwest::header::AUTHORIZATION, "ab\ncd").unwrap_err();
        assert!(broken.contains("header") && !broken.contains("ab"), "{broken}");
    }

    struct Nothing;
    impl Meter for Nothing {
        fn sent(&self, _: bool, _: Duration) {}
        fn throttled(&self) {}
    }

    /// A halt raised while a request waits to be sent again ends the wait: the last answer is
    /// the request's, however long the backoff.
    #[tokio::test]
    async fn a_halt_ends_the_wait_between_attempts() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").await;
            }
        });
        let config = TransportConfig {
            rate: None,
            burst: 1,
            max_in_flight: 1,
            retry: RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_secs(20),
                max_delay: Duration::from_secs(20),
                max_total: Duration::from_secs(120),
            },
            timeout: Duration::from_secs(5),
        };
        let transport = Transport::new("127.0.0.1", None, config, &Gates::default()).unwrap();
        let halt = Halt::default();
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let started = Instant::now();
        let prepared = Prepared { tokens: 1, prepare: std::future::ready(Ok::<(), u16>(())), halt: Some(&halt) };
        let result: Result<(), SendError<u16>> = transport
            .send_prepared(
                prepared,
                |http| http.get(&url),
                &Nothing,
                |answer| {
                    attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    // The first answer is read: the halt comes while the backoff runs.
                    halt.raise();
                    match answer {
                        Ok(response) => Verdict::Retry(response.status),
                        Err(_) => Verdict::Retry(0),
                    }
                },
            )
            .await;
        assert!(matches!(result, Err(SendError::Exhausted { attempts: 1, last: 503, .. })), "{result:?}");
        assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 1, "no attempt after the halt");
        assert!(started.elapsed() < Duration::from_secs(10), "the backoff did not run out: {:?}", started.elapsed());
    }

    /// A server that accepts connections and never answers fails a request within the
    /// policy's total time, however long the per-exchange timeout.
    #[tokio::test]
    async fn a_server_that_never_answers_fails_within_the_total_time() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let config = TransportConfig {
            rate: None,
            burst: 1,
            max_in_flight: 1,
            retry: RetryPolicy { max_attempts: 10, max_total: Duration::from_millis(600), ..RetryPolicy::default() },
            timeout: Duration::from_secs(60),
        };
        let transport = Transport::new("127.0.0.1", None, config, &Gates::default()).unwrap();
        let started = Instant::now();
        let result: Result<(), SendError<String>> = transport
            .send(
                |http| http.get(&url),
                &Nothing,
                |answer| match answer {
                    Ok(_) => Verdict::Done(()),
                    Err(no) => Verdict::Retry(no.message),
                },
            )
            .await;
        let elapsed = started.elapsed();
        match result {
            Err(SendError::Exhausted { last, .. }) => assert!(last.contains("timed out"), "{last}"),
            other => panic!("expected the time to run out, got {other:?}"),
        }
        assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
        drop(listener);
    }
}
