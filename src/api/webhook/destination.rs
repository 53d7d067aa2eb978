//! Where rows go and how: a target (`https://…`, `webhook://NAME` for a `[webhooks.NAME]`
//! section of the config file, `env://VAR`) and its options, resolved once into a
//! [`Destination`] with the profile's defaults filled in (Clay's for a Clay webhook) and every
//! mistake reported before a row is read.
//!
//! A webhook URL is a capability: whoever has it can add rows. It is kept out of every message,
//! `Debug` text and EXPLAIN line (they show the host and a name); the ledger knows it by its
//! SHA-256 only.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue as WireHeader};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::options::{Nulls, OnError, Profile, WebhookOptions};
use super::policy::Policy;
use crate::api::options::{OptionsError, in_clear, shown_value};
use crate::api::transport::{Credential, Gates, RateGate, RetryPolicy, Transport, TransportConfig};

/// The `[webhooks.NAME]` sections of the config file: each a destination's options (`url`,
/// `token`, …) by name.
pub type Named = BTreeMap<String, BTreeMap<String, String>>;

/// What a `TO` or `LOCATION` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A URL typed into the SQL.
    Url(String),
    /// `webhook://NAME`: `[webhooks.NAME]` of the config file.
    Named(String),
    /// `env://VAR`: the URL is in the environment variable VAR.
    Env(String),
}

impl Target {
    /// Reads a target; `None` when it is none of the three forms.
    pub fn parse(text: &str) -> Option<Target> {
        let text = text.trim();
        let (scheme, rest) = text.split_once("://")?;
        let rest = rest.trim_end_matches('/');
        match scheme.to_ascii_lowercase().as_str() {
            "https" | "http" => Some(Target::Url(text.to_string())),
            "webhook" if !rest.is_empty() => Some(Target::Named(rest.to_string())),
            "env" if !rest.is_empty() => Some(Target::Env(rest.to_string())),
            _ => None,
        }
    }
}

/// Why a destination cannot be used; no message holds its URL or token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DestinationError {
    #[error(
        "the target is not a webhook: write its URL ('https://…'), 'webhook://NAME' for a [webhooks.NAME] section of the config file (url and token), or 'env://VAR' for an environment variable holding the URL"
    )]
    NotATarget,
    #[error(
        "'webhook://{name}': the config file has no [webhooks.{name}]; add one with url (and token) there (destinations now: {known})"
    )]
    UnknownName { name: String, known: String },
    #[error("[webhooks.{name}] in the config file has no url; add url = \"https://…\"")]
    NoUrl { name: String },
    #[error("'env://{var}': the environment variable {var} is not set; set it to the webhook's URL")]
    EnvUnset { var: String },
    #[error("the URL of {from} is not an http:// or https:// URL")]
    BadUrl { from: String },
    #[error(
        "the URL of {from} is http:// to another machine: it, the token and the rows would travel in clear. Use https://, or add 'allow_http' 'true'"
    )]
    InClear { from: String },
    #[error(
        "'batch_size' {batch} is more than the {burst} records the rate gate lets go at once ('rate' {rate}/s, 'burst' {burst_set}): such a post could never fit the receiver's rate. Lower 'batch_size', or raise 'burst'"
    )]
    BatchOverBurst { batch: usize, burst: u32, burst_set: u32, rate: f64 },
    #[error("'auth_header' '{0}' is not a valid header name")]
    BadAuthHeader(String),
    #[error("header.{0} cannot be sent as an HTTP header; check its name and value")]
    BadHeader(String),
    #[error("{0}")]
    Unsendable(String),
    #[error("{0}")]
    Options(#[from] OptionsError),
}

/// A destination, resolved: where, how fast, with which rules, and under which name.
pub struct Destination {
    /// How the summary, EXPLAIN and errors call it: the table's name, the label, the NAME of
    /// `webhook://NAME`, the VAR of `env://VAR`, or the host.
    pub name: String,
    /// The ledger's name for it: the SHA-256 of its URL.
    pub id: String,
    /// Where it is, as shown: `host[:port]`.
    pub host: String,
    url: reqwest::Url,
    pub profile: Profile,
    credential: Option<Credential>,
    headers: Vec<(HeaderName, WireHeader)>,
    /// Columns that identify a row in the ledger; empty: the whole row does.
    pub key: Vec<String>,
    pub nulls: Nulls,
    pub batch_size: usize,
    /// Records a second; `None`: no limit.
    pub rate: Option<f64>,
    pub burst: u32,
    pub max_in_flight: usize,
    pub timeout: Duration,
    pub max_retries: u32,
    pub policy: Policy,
    pub on_error: OnError,
    /// Rows the receiver takes in its lifetime (Clay: 50,000), counted across runs.
    pub max_rows: Option<u64>,
    /// Bytes a post may hold (Clay: 100 KB).
    pub max_payload_bytes: Option<usize>,
    /// The URL was typed into the SQL: it is in the history now.
    pub typed_url: bool,
    /// The options as EXPLAIN and `\d` show them, secrets as `***`.
    pub shown: Vec<(String, String)>,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination").field("name", &self.name).field("host", &self.host).finish_non_exhaustive()
    }
}

/// Whether `url` is a Clay table's webhook.
fn is_clay(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    host == "clay.com" || host.ends_with(".clay.com") || url.path().starts_with("/v3/sources/webhook/")
}

impl Destination {
    /// Resolves `target` with `options` (the statement's), the config file's `named`
    /// destinations and `env` for `${env:…}` and `env://`. `table` names the destination when
    /// it is a table's.
    pub fn resolve(
        target: &str,
        table: Option<&str>,
        options: &BTreeMap<String, String>,
        named: &Named,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Destination, DestinationError> {
        let target = Target::parse(target).ok_or(DestinationError::NotATarget)?;
        let empty = BTreeMap::new();
        let (config, from) = match &target {
            Target::Named(name) => {
                let section = named.get(name).ok_or_else(|| DestinationError::UnknownName {
                    name: name.clone(),
                    known: if named.is_empty() {
                        "none".into()
                    } else {
                        named.keys().cloned().collect::<Vec<_>>().join(", ")
                    },
                })?;
                (section, format!("[webhooks.{name}]"))
            }
            Target::Env(var) => (&empty, format!("env://{var}")),
            Target::Url(_) => (&empty, "the target".to_string()),
        };
        let parsed = WebhookOptions::parse_layered(config, options, env)?;
        let url_text = match &target {
            Target::Url(url) => url.clone(),
            Target::Named(name) => parsed
                .url
                .as_ref()
                .map(|u| u.expose_secret().to_string())
                .ok_or_else(|| DestinationError::NoUrl { name: name.clone() })?,
            Target::Env(var) => env(var)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| DestinationError::EnvUnset { var: var.clone() })?,
        };
        let url = reqwest::Url::parse(url_text.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| DestinationError::BadUrl { from: from.clone() })?;
        if in_clear(url.as_str()) && !parsed.allow_http {
            return Err(DestinationError::InClear { from });
        }
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let profile = parsed.profile.unwrap_or(if is_clay(&url) { Profile::Clay } else { Profile::Generic });
        let clay = profile == Profile::Clay;
        let name = match (table, &parsed.label, &target) {
            (Some(table), _, _) => table.to_string(),
            (None, Some(label), _) => label.clone(),
            (None, None, Target::Named(name)) => name.clone(),
            (None, None, Target::Env(var)) => var.clone(),
            (None, None, Target::Url(_)) => host.clone(),
        };
        let auth_header = parsed.auth_header.clone().unwrap_or_else(|| {
            if clay { "x-clay-webhook-auth".to_string() } else { AUTHORIZATION.as_str().to_string() }
        });
        let credential = match &parsed.token {
            Some(token) => {
                let header = HeaderName::from_bytes(auth_header.as_bytes())
                    .map_err(|_| DestinationError::BadAuthHeader(auth_header.clone()))?;
                // `authorization` alone takes the scheme; any other header carries the token bare.
                let value = if header == AUTHORIZATION {
                    format!("Bearer {}", token.expose_secret())
                } else {
                    token.expose_secret().to_string()
                };
                Some(Credential::header(header, &value).map_err(DestinationError::Unsendable)?)
            }
            None => None,
        };
        let mut headers = Vec::new();
        for (header, value) in &parsed.headers {
            headers.push(value.on_the_wire(header).ok_or_else(|| DestinationError::BadHeader(header.clone()))?);
        }
        let batch_size = parsed.batch_size.unwrap_or(1);
        let rate = Some(parsed.rate.map_or(10.0, |r| r.0));
        let burst_set = parsed.burst.unwrap_or(if clay { 20 } else { 10 }).max(1);
        let burst = RateGate::usable_burst(burst_set);
        if let Some(rate) = rate
            && batch_size as u32 > burst
        {
            return Err(DestinationError::BatchOverBurst { batch: batch_size, burst, burst_set, rate });
        }
        let mut shown: Vec<(String, String)> = Vec::new();
        for (layer, from) in [(options, None), (config, Some(&target))] {
            for (key, value) in layer {
                let key = crate::api::options::bare_name(key);
                if key == "url" || shown.iter().any(|(k, _)| *k == key) {
                    continue;
                }
                let value = shown_value(&key, value);
                let value = match (from, &target) {
                    (Some(_), Target::Named(name)) => format!("{value} ([webhooks.{name}])"),
                    _ => value,
                };
                shown.push((key, value));
            }
        }
        shown.sort();
        Ok(Destination {
            name,
            id: identity(&url),
            host,
            profile,
            credential,
            headers,
            key: parsed.key.clone(),
            nulls: parsed.nulls.unwrap_or(if clay { Nulls::Omit } else { Nulls::Keep }),
            batch_size,
            rate,
            burst: burst_set,
            max_in_flight: parsed.max_in_flight.unwrap_or(4),
            timeout: parsed.timeout.unwrap_or(Duration::from_secs(30)),
            max_retries: parsed.max_retries.unwrap_or(5),
            policy: parsed.policy,
            on_error: parsed.on_error,
            max_rows: parsed.max_rows.or(clay.then_some(50_000)),
            max_payload_bytes: parsed.max_payload_bytes.or(clay.then_some(100_000)),
            typed_url: matches!(target, Target::Url(_)),
            shown,
            url,
        })
    }

    /// The transport posts go through. Clay counts its rate per workspace, so every Clay
    /// webhook of the session with the same pace (rate, burst, posts in flight) waits at one
    /// gate; another webhook has a gate of its own.
    pub fn transport(&self, gates: &Gates) -> Result<Transport, String> {
        let config = TransportConfig {
            rate: self.rate,
            burst: self.burst,
            max_in_flight: self.max_in_flight,
            retry: RetryPolicy {
                max_attempts: self.max_retries + 1,
                max_total: Duration::from_secs(300),
                ..RetryPolicy::default()
            },
            timeout: self.timeout,
        };
        // Webhooks of one pace share a gate; a statement that sets another pace gets its own.
        let pace = format!("{:?}/{}/{}", self.rate, self.burst, self.max_in_flight);
        let gate = match self.profile {
            Profile::Clay => format!("webhook records @ clay {} {pace}", self.host),
            Profile::Generic => format!("webhook records @ {} {pace}", self.id),
        };
        Transport::shared(&gate, self.credential.clone(), config, gates)
    }

    /// A POST of `body` (JSON) to the destination, with its headers; the credential is added by
    /// the transport.
    pub fn post(&self, http: &reqwest::Client, body: bytes::Bytes) -> reqwest::RequestBuilder {
        let mut request = http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        request.body(body)
    }

    /// One line for EXPLAIN: the name, host and profile, the key and the options (secrets as
    /// `***`), never the URL.
    pub fn describe(&self) -> String {
        let options: Vec<String> = self.shown.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "webhook {} ({}, {}){}",
            self.name,
            self.host,
            self.profile.name(),
            if options.is_empty() { String::new() } else { format!(" options: {}", options.join(", ")) }
        )
    }
}

/// The ledger's name for the destination at `url`: the SHA-256 of the URL, a trailing `/` of
/// its path aside (the same webhook copied with or without it is one destination).
fn identity(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    crate::api::hex(&Sha256::digest(url.as_str().as_bytes()))
}

/// Whether `sql` writes a webhook's URL (a `STORED AS WEBHOOK` statement with a quoted
/// `http(s)://` string): the REPL keeps it out of its history.
pub fn holds_url(sql: &str) -> bool {
    let words = sql.split_whitespace().map(str::to_ascii_uppercase).collect::<Vec<_>>().join(" ");
    words.contains("STORED AS WEBHOOK")
        && sql
            .split('\'')
            .skip(1)
            .step_by(2)
            .any(|quoted| Target::parse(quoted).is_some_and(|t| matches!(t, Target::Url(_))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAY: &str = "https://api.clay.com/v3/sources/webhook/pull-in-data-from-a-webhook-1234";

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "CLAY_WEBHOOK_TOKEN" => Some("t0ken".into()),
            "HOOK_URL" => Some("https://hooks.example.com/in/abc".into()),
            _ => None,
        }
    }

    fn resolve(target: &str, options: &[(&str, &str)], named: &Named) -> Result<Destination, DestinationError> {
        Destination::resolve(target, None, &map(options), named, &env)
    }

    #[test]
    fn a_clay_webhook_takes_clays_defaults_and_another_the_plain_ones() {
        let clay =
            resolve(CLAY, &[("format.key", "domain"), ("token", "${env:CLAY_WEBHOOK_TOKEN}")], &Named::new()).unwrap();
        assert_eq!(clay.profile, Profile::Clay);
        assert_eq!((clay.nulls, clay.rate, clay.burst, clay.batch_size), (Nulls::Omit, Some(10.0), 20, 1));
        assert_eq!((clay.max_rows, clay.max_payload_bytes), (Some(50_000), Some(100_000)));
        assert!(clay.typed_url);
        assert_eq!(clay.name, "api.clay.com");
        assert!(format!("{:?}", clay.credential).contains("x-clay-webhook-auth"));
        let plain = resolve("env://HOOK_URL", &[], &Named::new()).unwrap();
        assert_eq!((plain.profile, plain.nulls, plain.max_rows), (Profile::Generic, Nulls::Keep, None));
        assert_eq!((plain.name.as_str(), plain.typed_url), ("HOOK_URL", false));
        let bearer = resolve("env://HOOK_URL", &[("token", "${env:CLAY_WEBHOOK_TOKEN}")], &Named::new()).unwrap();
        assert!(format!("{:?}", bearer.credential).contains("authorization"));
        assert_ne!(clay.id, plain.id);
        assert_eq!(clay.id.len(), 64);
        let slash = resolve(&format!("{CLAY}/"), &[], &Named::new()).unwrap();
        assert_eq!(slash.id, clay.id, "a trailing slash is the same webhook");
    }

    #[test]
    fn a_named_destination_comes_from_the_config_file_and_the_statement_overrides_it() {
        let named: Named =
            [("clay_leads".to_string(), map(&[("url", CLAY), ("token", "file-token"), ("rate", "5/s")]))]
                .into_iter()
                .collect();
        let d = resolve("webhook://clay_leads", &[("rate", "2/s"), ("key", "domain")], &named).unwrap();
        assert_eq!((d.name.as_str(), d.rate, d.typed_url), ("clay_leads", Some(2.0), false));
        let shown = d.describe();
        assert!(shown.contains("token=*** ([webhooks.clay_leads])"), "{shown}");
        assert!(!shown.contains("file-token") && !shown.contains("pull-in-data"), "{shown}");
        assert!(!format!("{d:?}").contains("pull-in-data"));
        let unknown = resolve("webhook://clay_lead", &[], &named).unwrap_err().to_string();
        assert!(unknown.contains("[webhooks.clay_lead]") && unknown.contains("clay_leads"), "{unknown}");
    }

    #[test]
    fn a_statement_holding_a_webhook_url_is_spotted() {
        assert!(holds_url(&format!("COPY (SELECT 1 AS a) TO '{CLAY}'\n stored as  webhook OPTIONS ('key' 'a')")));
        assert!(!holds_url("COPY (SELECT 1 AS a) TO 'webhook://clay_leads' STORED AS WEBHOOK"));
        assert!(!holds_url("CREATE EXTERNAL TABLE t (a TEXT) STORED AS HTTP LOCATION 'https://x.example/{a}'"));
    }

    #[test]
    fn mistakes_are_told_without_the_url() {
        let secret_url = "http://hooks.example.com/in/s3cr3t";
        let clear = resolve(secret_url, &[], &Named::new()).unwrap_err().to_string();
        assert!(clear.contains("allow_http") && !clear.contains("s3cr3t"), "{clear}");
        assert!(resolve(secret_url, &[("allow_http", "true")], &Named::new()).is_ok());
        assert!(resolve("http://127.0.0.1:9/webhook/x", &[], &Named::new()).is_ok(), "loopback is fine");
        assert_eq!(resolve("clay_leads", &[], &Named::new()).unwrap_err(), DestinationError::NotATarget);
        assert!(matches!(resolve("env://NOPE", &[], &Named::new()), Err(DestinationError::EnvUnset { .. })));
        let over = resolve(CLAY, &[("batch_size", "50")], &Named::new()).unwrap_err().to_string();
        assert!(over.contains("'batch_size' 50") && over.contains("burst"), "{over}");
        assert!(resolve(CLAY, &[("batch_size", "10")], &Named::new()).is_ok());
    }
}
