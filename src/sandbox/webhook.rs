//! A webhook receiver that behaves like a Clay table's, as far as Clay documents it (and its
//! production clients show): `POST /webhook/{id}` with a JSON object (one row) or an array of
//! them, authenticated by `x-clay-webhook-auth`. It is written apart from hgsql's webhook
//! sink, so a test of one against the other can fail.
//!
//! - **Auth.** `x-clay-webhook-auth: hook-token` is required; else a 401.
//! - **Body.** `Content-Type: application/json` and a body that parses, else a 422. More than
//!   100,000 bytes is a 413.
//! - **Rate.** 10 rows a second with a burst of 20, counted in rows over every webhook (Clay counts
//!   per workspace): a post the bucket cannot hold whole is a 429 with `Retry-After: 1`, and
//!   none of its rows is kept. Tests may set another rate, or none.
//! - **Cap.** A webhook accepts 50,000 rows in its lifetime; a post past it is a 403.
//! - **Faults.** The HG sandbox's faults, drawn before the body is read (so no row is kept), and
//!   `lost_rate`: a share of accepted posts whose rows are kept but whose connection is then reset
//!   before the answer, the outcome a sender cannot know.
//!
//! Per webhook it counts posts, rows received, rows received twice (an identical row that had
//! arrived before) and each refusal; its rows can be read back whole.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ratelimit::TokenBucket;

/// Every webhook path starts with this.
pub const WEBHOOK_PATH: &str = "/webhook/";
/// Or with this, as a Clay table's webhook URL does; `/webhook/ID` and this path with the same ID
/// reach the same receiver.
pub const CLAY_PATH: &str = "/v3/sources/webhook/pull-in-data-from-a-webhook-";
pub const TOKEN: &str = "hook-token";
pub const AUTH_HEADER: &str = "x-clay-webhook-auth";
pub const MAX_BODY_BYTES: usize = 100_000;
pub const MAX_ROWS: u64 = 50_000;
pub const ROWS_PER_SECOND: f64 = 10.0;
pub const BURST: u32 = 20;

/// What one webhook has received.
#[derive(Default)]
struct Hook {
    rows: Vec<Value>,
    seen: HashSet<String>,
    stats: HookStats,
}

#[derive(Clone, Default, serde::Serialize)]
struct HookStats {
    posts: u64,
    rows_received: u64,
    rows_received_twice: u64,
    rate_limited: u64,
    too_large: u64,
    over_cap: u64,
    unauthorized: u64,
    unreadable: u64,
    /// Posts whose rows were kept and whose answer was lost (the connection reset).
    lost: u64,
}

/// Every webhook of a sandbox.
pub struct Webhooks {
    bucket: TokenBucket,
    hooks: Mutex<BTreeMap<String, Hook>>,
}

impl Default for Webhooks {
    fn default() -> Webhooks {
        Webhooks::new(Some(ROWS_PER_SECOND))
    }
}

/// How a post ended: the answer to send, and whether to reset the connection instead.
pub struct Received {
    pub response: Response,
    pub reset: bool,
}

impl Webhooks {
    /// Receivers that take `rate` rows a second together (a burst of 20); `None` for no limit.
    pub fn new(rate: Option<f64>) -> Webhooks {
        Webhooks { bucket: TokenBucket::new(rate, BURST), hooks: Mutex::default() }
    }

    /// The counters of every webhook, for `/__sandbox/stats` (under `webhooks`).
    pub fn to_json(&self) -> Value {
        let hooks = self.hooks.lock().expect("webhooks");
        Value::Object(
            hooks.iter().map(|(id, h)| (id.clone(), serde_json::to_value(&h.stats).unwrap_or_default())).collect(),
        )
    }

    /// The rows webhook `id` has kept, in arrival order.
    pub fn rows(&self, id: &str) -> Vec<Value> {
        self.hooks.lock().expect("webhooks").get(id).map(|h| h.rows.clone()).unwrap_or_default()
    }

    /// Forgets everything received (tests start from a clean receiver).
    pub fn reset(&self) {
        self.hooks.lock().expect("webhooks").clear();
    }

    /// Serves one post to webhook `id`; `lose` says whether this accepted post's answer is to be
    /// lost (drawn by the caller from `lost_rate`).
    pub fn receive(&self, id: &str, headers: &HeaderMap, body: &[u8], lose: bool) -> Received {
        let answer = |status: StatusCode, message: &str| Received {
            response: (status, axum::Json(json!({"error": message}))).into_response(),
            reset: false,
        };
        let mut hooks = self.hooks.lock().expect("webhooks");
        let hook = hooks.entry(id.to_string()).or_default();
        hook.stats.posts += 1;
        if headers.get(AUTH_HEADER).and_then(|v| v.to_str().ok()) != Some(TOKEN) {
            hook.stats.unauthorized += 1;
            return answer(StatusCode::UNAUTHORIZED, "invalid or missing x-clay-webhook-auth");
        }
        if body.len() > MAX_BODY_BYTES {
            hook.stats.too_large += 1;
            return answer(StatusCode::PAYLOAD_TOO_LARGE, "payload over 100 KB");
        }
        let json = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let rows = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(rows)) if json && rows.iter().all(Value::is_object) && !rows.is_empty() => rows,
            Ok(row @ Value::Object(_)) if json => vec![row],
            _ => {
                hook.stats.unreadable += 1;
                return answer(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "send a JSON object or a list of objects as application/json",
                );
            }
        };
        if hook.stats.rows_received + rows.len() as u64 > MAX_ROWS {
            hook.stats.over_cap += 1;
            return answer(StatusCode::FORBIDDEN, "this webhook has accepted its 50,000 rows");
        }
        if !self.bucket.try_take_many(rows.len() as u32) {
            hook.stats.rate_limited += 1;
            let mut refused = answer(StatusCode::TOO_MANY_REQUESTS, "rate limit: 10 records per second");
            refused.response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            return refused;
        }
        for row in rows {
            hook.stats.rows_received += 1;
            if !hook.seen.insert(canonical(&row)) {
                hook.stats.rows_received_twice += 1;
            }
            hook.rows.push(row);
        }
        if lose {
            hook.stats.lost += 1;
        }
        Received { response: (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response(), reset: lose }
    }
}

/// A row's text with its keys sorted, so the same row is the same text however it was written.
fn canonical(row: &Value) -> String {
    match row {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, String> = map.iter().map(|(k, v)| (k, canonical(v))).collect();
            let parts: Vec<String> =
                sorted.iter().map(|(k, v)| format!("{}:{v}", Value::String((*k).clone()))).collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(token: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(token) = token {
            headers.insert(AUTH_HEADER, HeaderValue::from_str(token).unwrap());
        }
        headers
    }

    #[test]
    fn rows_are_kept_counted_and_a_repeat_is_seen_whatever_its_key_order() {
        let hooks = Webhooks::default();
        let ok = hooks.receive("h", &headers(Some(TOKEN)), br#"[{"a":1,"b":"x"},{"a":2}]"#, false);
        assert_eq!(ok.response.status(), StatusCode::OK);
        hooks.receive("h", &headers(Some(TOKEN)), br#"{"b":"x","a":1}"#, false);
        let stats = hooks.to_json();
        assert_eq!(
            (stats["h"]["rows_received"].as_u64(), stats["h"]["rows_received_twice"].as_u64()),
            (Some(3), Some(1))
        );
        assert_eq!(hooks.rows("h").len(), 3);
    }

    #[test]
    fn refusals_keep_no_row() {
        let hooks = Webhooks::default();
        assert_eq!(hooks.receive("h", &headers(None), b"{}", false).response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            hooks.receive("h", &headers(Some("wrong")), b"{}", false).response.status(),
            StatusCode::UNAUTHORIZED
        );
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        assert_eq!(
            hooks.receive("h", &headers(Some(TOKEN)), big.as_bytes(), false).response.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            hooks.receive("h", &headers(Some(TOKEN)), b"not json", false).response.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        // 21 rows at once are more than the burst of 20.
        let many = serde_json::to_vec(&(0..21).map(|i| json!({"i": i})).collect::<Vec<_>>()).unwrap();
        let refused = hooks.receive("h", &headers(Some(TOKEN)), &many, false);
        assert_eq!(refused.response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.response.headers()["retry-after"], "1");
        assert!(hooks.rows("h").is_empty());
    }

    #[test]
    fn a_lost_answer_keeps_the_rows_and_asks_for_a_reset() {
        let hooks = Webhooks::default();
        let lost = hooks.receive("h", &headers(Some(TOKEN)), br#"{"a":1}"#, true);
        assert!(lost.reset);
        assert_eq!(hooks.rows("h").len(), 1);
        assert_eq!(hooks.to_json()["h"]["lost"], 1);
    }
}
