//! The `OPTIONS` of a webhook destination (`COPY … STORED AS WEBHOOK OPTIONS (…)`, or a
//! `STORED AS WEBHOOK` table's), read into typed values before a row is read: an unknown
//! option is an error listing the valid ones, and a secret written into SQL is refused. A
//! `[webhooks.NAME]` section of the config file gives options the same way (its `url` and
//! `token` among them), under the statement's own.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;

use super::policy::{OnUnknown, Policy, Resend};
use crate::api::options::{
    HeaderValue, OptionSet, OptionsError, Rate, bare_name, choice, duration, flag, header_value, number, rate, secret,
};

/// Every option a webhook takes, but `header.<name>`.
pub const OPTIONS: &[&str] = &[
    "key",
    "token",
    "auth_header",
    "nulls",
    "batch_size",
    "rate",
    "burst",
    "max_in_flight",
    "timeout",
    "max_retries",
    "resend",
    "on_unknown",
    "retry_rejected",
    "on_error",
    "max_rows",
    "max_payload_bytes",
    "allow_http",
    "label",
    "profile",
];

/// Where else a secret refused in SQL may come from.
const ELSEWHERE: &str =
    "name the destination in the config file ([webhooks.NAME] with url and token) and write TO 'webhook://NAME'";

/// How a NULL travels: as `null`, or as a key left out (Clay's default: its columns stay empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nulls {
    Keep,
    Omit,
}

/// What a row that is not accepted (rejected, refused, unknown) does to the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnError {
    /// No new row is sent; the statement fails once the rows in flight are settled.
    #[default]
    Fail,
    /// Every row is tried; the summary lists what was not accepted, and the statement succeeds.
    Continue,
}

/// Whose defaults apply: Clay's (its header, rate, caps) or a plain webhook's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Clay,
    Generic,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Clay => "clay",
            Profile::Generic => "generic",
        }
    }
}

/// A webhook's options, as given; what is left out takes the profile's default
/// ([`super::destination::Destination`]).
#[derive(Clone, Debug, Default)]
pub struct WebhookOptions {
    /// The columns that identify a row in the ledger; none: the whole row does.
    pub key: Vec<String>,
    pub token: Option<SecretString>,
    pub auth_header: Option<String>,
    pub headers: Vec<(String, HeaderValue)>,
    pub nulls: Option<Nulls>,
    pub batch_size: Option<usize>,
    pub rate: Option<Rate>,
    pub burst: Option<u32>,
    pub max_in_flight: Option<usize>,
    pub timeout: Option<Duration>,
    pub max_retries: Option<u32>,
    pub policy: Policy,
    pub on_error: OnError,
    pub max_rows: Option<u64>,
    pub max_payload_bytes: Option<usize>,
    pub allow_http: bool,
    pub label: Option<String>,
    pub profile: Option<Profile>,
    /// The destination's URL: from a `[webhooks.NAME]` section only (SQL names its target in
    /// `TO` or `LOCATION`).
    pub url: Option<SecretString>,
}

impl WebhookOptions {
    /// Reads a `[webhooks.NAME]` section (`config`, trusted: it may hold the URL and token as
    /// written), then the statement's `options` (as DataFusion hands them over: keys
    /// lower-cased, maybe prefixed `format.`), which override it.
    pub fn parse_layered(
        config: &BTreeMap<String, String>,
        options: &BTreeMap<String, String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<WebhookOptions, OptionsError> {
        WebhookOptions::layered(config, options, env)
    }
}

impl OptionSet for WebhookOptions {
    fn set(
        &mut self,
        raw: &str,
        value: &str,
        env: &dyn Fn(&str) -> Option<String>,
        trusted: bool,
    ) -> Result<(), OptionsError> {
        let key = bare_name(raw);
        let name = key.as_str();
        if let Some(header) = name.strip_prefix("header.") {
            self.headers.push((header.to_string(), header_value(name, header, value, env, trusted, ELSEWHERE)?));
            return Ok(());
        }
        match name {
            "url" if trusted => self.url = Some(secret(name, value, env, true, ELSEWHERE)?),
            "key" => {
                self.key = value.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
                if self.key.is_empty() {
                    return Err(OptionsError::BadValue {
                        name: name.into(),
                        value: value.into(),
                        expected: "the columns that identify a row, comma-separated, e.g. 'domain'".into(),
                    });
                }
            }
            "token" => self.token = Some(secret(name, value, env, trusted, ELSEWHERE)?),
            "auth_header" => self.auth_header = Some(value.trim().to_ascii_lowercase()),
            "nulls" => self.nulls = Some(choice(name, value, &[("keep", Nulls::Keep), ("omit", Nulls::Omit)])?),
            "batch_size" => self.batch_size = Some(number(name, value, 1usize, 10_000)?),
            "rate" => self.rate = Some(rate(name, value, "records")?),
            "burst" => self.burst = Some(number(name, value, 1u32, 100_000)?),
            "max_in_flight" => self.max_in_flight = Some(number(name, value, 1usize, 256)?),
            "timeout" => {
                let timeout = duration(name, value)?;
                if timeout.is_zero() {
                    let expected = "a duration above zero, e.g. '30s'".to_string();
                    return Err(OptionsError::BadValue { name: name.into(), value: value.into(), expected });
                }
                self.timeout = Some(timeout);
            }
            "max_retries" => self.max_retries = Some(number(name, value, 0u32, 100)?),
            "resend" => {
                let choices = [("never", Resend::Never), ("changed", Resend::Changed), ("always", Resend::Always)];
                self.policy.resend = choice(name, value, &choices)?;
            }
            "on_unknown" => {
                let choices = [("skip", OnUnknown::Skip), ("resend", OnUnknown::Resend)];
                self.policy.on_unknown = choice(name, value, &choices)?;
            }
            "retry_rejected" => self.policy.retry_rejected = flag(name, value)?,
            "on_error" => {
                self.on_error = choice(name, value, &[("fail", OnError::Fail), ("continue", OnError::Continue)])?;
            }
            "max_rows" => self.max_rows = Some(number(name, value, 1u64, u64::MAX / 2)?),
            "max_payload_bytes" => self.max_payload_bytes = Some(number(name, value, 2usize, 1 << 30)?),
            "allow_http" => self.allow_http = flag(name, value)?,
            "label" => self.label = Some(value.trim().to_string()).filter(|l| !l.is_empty()),
            "profile" => {
                self.profile = Some(choice(name, value, &[("clay", Profile::Clay), ("generic", Profile::Generic)])?);
            }
            _ => {
                let valid = format!("{}, and header.<name>", OPTIONS.join(", "));
                return Err(OptionsError::Unknown { name: name.to_string(), kind: "a webhook", valid });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn parse(config: &[(&str, &str)], pairs: &[(&str, &str)]) -> Result<WebhookOptions, OptionsError> {
        let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        WebhookOptions::parse_layered(&map(config), &map(pairs), &|name| {
            (name == "CLAY_WEBHOOK_TOKEN").then(|| "t0ken".to_string())
        })
    }

    #[test]
    fn the_issues_examples_read_into_typed_values() {
        let o = parse(&[], &[("format.key", "domain"), ("format.token", "${env:CLAY_WEBHOOK_TOKEN}")]).unwrap();
        assert_eq!(o.key, ["domain"]);
        assert_eq!(o.token.as_ref().unwrap().expose_secret(), "t0ken");
        let o = parse(
            &[("url", "https://api.clay.com/v3/sources/webhook/x"), ("token", "written-in-the-file")],
            &[("key", "domain, country"), ("resend", "changed"), ("batch_size", "10"), ("rate", "600/min")],
        )
        .unwrap();
        assert_eq!(o.key, ["domain", "country"]);
        assert_eq!(o.policy.resend, Resend::Changed);
        assert_eq!((o.batch_size, o.rate), (Some(10), Some(Rate(10.0))));
        assert_eq!(o.token.unwrap().expose_secret(), "written-in-the-file", "the config file may hold it");
        assert!(o.url.is_some());
        assert!(!format!("{:?}", parse(&[("token", "abc")], &[]).unwrap()).contains("abc"), "no secret in debug text");
    }

    #[test]
    fn mistakes_are_named_with_the_fix() {
        let unknown = parse(&[], &[("batchsize", "10")]).unwrap_err().to_string();
        assert!(unknown.contains("'batchsize'") && unknown.contains("batch_size") && unknown.contains("webhook"));
        let literal = parse(&[], &[("token", "abc123")]).unwrap_err().to_string();
        assert!(literal.contains("webhooks.NAME") && !literal.contains("abc123"), "{literal}");
        let url = parse(&[], &[("url", "https://x.example/hook")]).unwrap_err().to_string();
        assert!(url.contains("unknown option 'url'"), "the URL is the target, not an option: {url}");
        for (name, value) in [("resend", "sometimes"), ("nulls", "drop"), ("batch_size", "0"), ("max_rows", "-1")] {
            assert!(matches!(parse(&[], &[(name, value)]), Err(OptionsError::BadValue { .. })), "{name}");
        }
        assert!(matches!(parse(&[], &[("key", " , ")]), Err(OptionsError::BadValue { .. })));
    }
}
