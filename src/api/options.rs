//! Reading the values of `OPTIONS` (an HTTP table's, a webhook's) into typed values: choices,
//! bounded numbers, rates, durations, and secrets, which come from the environment
//! (`${env:NAME}`) or the config file, never from SQL text, since SQL lands in the history.
//! Each kind of `OPTIONS` keeps its own list of names; the values read the same everywhere.

use std::time::Duration;

use secrecy::SecretString;

/// So many a second at most, from `10/s`, `600/min` or a bare number: requests for an HTTP
/// table, records for a webhook.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(pub f64);

/// A header value: sent as written, or a secret.
#[derive(Clone, Debug)]
pub enum HeaderValue {
    Plain(String),
    Secret(SecretString),
}

impl HeaderValue {
    /// The header `name: self` as it is sent, a secret marked sensitive (no debug output shows
    /// it); `None` when the name or the value cannot be an HTTP header.
    pub fn on_the_wire(&self, name: &str) -> Option<(reqwest::header::HeaderName, reqwest::header::HeaderValue)> {
        use secrecy::ExposeSecret;
        let (text, secret) = match self {
            HeaderValue::Plain(text) => (text.as_str(), false),
            HeaderValue::Secret(secret) => (secret.expose_secret(), true),
        };
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).ok()?;
        let mut value = reqwest::header::HeaderValue::try_from(text).ok()?;
        value.set_sensitive(secret);
        Some((name, value))
    }
}

/// Why an option cannot be used; each message names the option and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("unknown option '{name}' for {kind}; the options are: {valid}")]
    Unknown { name: String, kind: &'static str, valid: String },
    #[error("option '{name}' = '{value}': {expected}")]
    BadValue { name: String, value: String, expected: String },
    #[error(
        "option '{name}' holds a secret written into the SQL, which lands in the history; write '${{env:NAME}}' and set the environment variable NAME, or {elsewhere}"
    )]
    LiteralSecret { name: String, elsewhere: &'static str },
    #[error("option '{name}' = '${{env:{variable}}}': the environment variable {variable} is not set")]
    MissingEnv { name: String, variable: String },
}

/// A kind of `OPTIONS` (an HTTP table's, a webhook's), set one option at a time.
pub trait OptionSet: Default {
    /// Sets one option; a secret written as is is refused unless it comes from a `trusted`
    /// place (the config file).
    fn set(
        &mut self,
        raw: &str,
        value: &str,
        env: &dyn Fn(&str) -> Option<String>,
        trusted: bool,
    ) -> Result<(), OptionsError>;

    /// Reads a named section of the config file (`section`, trusted: the file is the user's
    /// own, not the history), then the statement's `options`, which override it.
    fn layered(
        section: &std::collections::BTreeMap<String, String>,
        options: &std::collections::BTreeMap<String, String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, OptionsError> {
        let mut out = Self::default();
        for (raw, value) in section {
            out.set(raw, value, env, true)?;
        }
        for (raw, value) in options {
            out.set(raw, value, env, false)?;
        }
        Ok(out)
    }
}

/// `name` as DataFusion hands it over (lower-cased, maybe prefixed `format.`), as written.
pub fn bare_name(raw: &str) -> String {
    let key = raw.trim().to_ascii_lowercase();
    key.strip_prefix("format.").unwrap_or(&key).to_string()
}

/// One of `choices`, by name, case aside.
pub fn choice<T: Copy>(name: &str, value: &str, choices: &[(&str, T)]) -> Result<T, OptionsError> {
    let wanted = value.trim().to_ascii_lowercase();
    choices.iter().find(|(c, _)| *c == wanted).map(|(_, t)| *t).ok_or_else(|| OptionsError::BadValue {
        name: name.into(),
        value: value.into(),
        expected: format!("one of {}", choices.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")),
    })
}

/// `true` or `false`.
pub fn flag(name: &str, value: &str) -> Result<bool, OptionsError> {
    choice(name, value, &[("true", true), ("false", false)])
}

/// A whole number from `at_least` to `at_most`: the bounds keep every later computation with
/// it (a retry count plus one, a semaphore's size) from overflowing.
pub fn number<T>(name: &str, value: &str, at_least: T, at_most: T) -> Result<T, OptionsError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    value.trim().parse::<T>().ok().filter(|n| *n >= at_least && *n <= at_most).ok_or_else(|| OptionsError::BadValue {
        name: name.into(),
        value: value.into(),
        expected: format!("a whole number from {at_least} to {at_most}"),
    })
}

/// `10/s`, `600/min`, `2/h`, or a bare number a second; `what` says of what (`requests`).
pub fn rate(name: &str, value: &str, what: &str) -> Result<Rate, OptionsError> {
    let bad = || OptionsError::BadValue {
        name: name.into(),
        value: value.into(),
        expected: format!("{what} per unit of time, e.g. '10/s' or '600/min'"),
    };
    let (count, unit) = value.trim().split_once('/').unwrap_or((value.trim(), "s"));
    let count: f64 = count.trim().parse().map_err(|_| bad())?;
    let seconds = match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return Err(bad()),
    };
    // At least one a day, at most a million a second: a pause between two must fit a Duration.
    let per_second = count / seconds;
    if !(count > 0.0 && count.is_finite() && (1.0 / 86_400.0..=1e6).contains(&per_second)) {
        return Err(bad());
    }
    Ok(Rate(per_second))
}

/// `30s`, `500ms`, `2m`, or a bare number of seconds.
pub fn duration(name: &str, value: &str) -> Result<Duration, OptionsError> {
    let text = value.trim().to_ascii_lowercase();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (text.as_str(), 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        // Up to ten years: long enough for any cache, short enough for a Duration.
        .filter(|n| *n >= 0.0 && n.is_finite() && n * scale <= 10.0 * 365.0 * 86_400.0)
        .map(|n| Duration::from_secs_f64(n * scale))
        .ok_or_else(|| OptionsError::BadValue {
            name: name.into(),
            value: value.into(),
            expected: "a duration up to ten years, e.g. '30s', '500ms' or '24h'".into(),
        })
}

/// A value that may be `${env:NAME}`: the variable's value and `true`, else the text as
/// written and `false`.
pub fn resolved(name: &str, value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(String, bool), OptionsError> {
    let trimmed = value.trim();
    match trimmed.strip_prefix("${env:").and_then(|v| v.strip_suffix('}')) {
        Some(variable) => {
            let variable = variable.trim();
            let found = env(variable).filter(|v| !v.is_empty());
            found
                .map(|v| (v, true))
                .ok_or_else(|| OptionsError::MissingEnv { name: name.into(), variable: variable.into() })
        }
        None => Ok((value.to_string(), false)),
    }
}

/// A secret option's value: from the environment, or as written when it comes from a
/// `trusted` place (the config file); written into SQL it is refused, and the message says
/// where else it may come from (`elsewhere`).
pub fn secret(
    name: &str,
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
    trusted: bool,
    elsewhere: &'static str,
) -> Result<SecretString, OptionsError> {
    match resolved(name, value, env)? {
        (value, true) => Ok(SecretString::from(value)),
        (value, false) if trusted => Ok(SecretString::from(value)),
        (_, false) => Err(OptionsError::LiteralSecret { name: name.into(), elsewhere }),
    }
}

/// The value of `header.<header>`: a credential header's value is a secret, refused when
/// written into SQL; another header's is sent as written, or read from the environment.
pub fn header_value(
    name: &str,
    header: &str,
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
    trusted: bool,
    elsewhere: &'static str,
) -> Result<HeaderValue, OptionsError> {
    Ok(match resolved(name, value, env)? {
        (v, true) => HeaderValue::Secret(SecretString::from(v)),
        (v, false) if trusted && credential_header(header) => HeaderValue::Secret(SecretString::from(v)),
        (_, false) if credential_header(header) => {
            return Err(OptionsError::LiteralSecret { name: name.into(), elsewhere });
        }
        (v, false) => HeaderValue::Plain(v),
    })
}

/// Whether `sql` passes a secret as written to an option that must not take one (`'token'
/// 'abc'`): the REPL keeps such a statement out of its history, since hgsql refuses it anyway.
/// It reads pairs of quoted strings, so it errs on the side of caution.
pub fn holds_literal_secret(sql: &str) -> bool {
    let mut quoted: Vec<String> = Vec::new();
    let mut rest = sql;
    while let Some(start) = rest.find('\'') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('\'') else { break };
        quoted.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    quoted.windows(2).any(|pair| {
        let value = pair[1].trim();
        is_secret_option(&pair[0]) && !value.is_empty() && !is_reference(value)
    })
}

/// Whether the option `key` (as written or as DataFusion hands it over, `format.` and all)
/// takes a secret: `token`, `password`, or a credential header.
pub fn is_secret_option(key: &str) -> bool {
    let key = bare_name(key);
    matches!(key.as_str(), "token" | "password") || key.strip_prefix("header.").is_some_and(credential_header)
}

/// Whether `value` names an environment variable (`${env:NAME}`) rather than holding a value.
pub fn is_reference(value: &str) -> bool {
    let value = value.trim();
    value.starts_with("${env:") && value.ends_with('}')
}

/// An option's value as `\d` and EXPLAIN show it: a reference to the environment as written,
/// any other secret as `***`.
pub fn shown_value(key: &str, value: &str) -> String {
    if is_secret_option(key) && !is_reference(value) { "***".to_string() } else { value.to_string() }
}

/// Whether a header of this name carries a credential, so a literal value is refused.
pub fn credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authorization" || ["token", "key", "secret", "auth", "cookie"].iter().any(|w| name.contains(w))
}

/// Whether requests to `url` would go in clear over a network: `http://` to a host other than
/// this machine (or a URL that does not parse, to be safe).
pub fn in_clear(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else { return true };
    if parsed.scheme() != "http" {
        return false;
    }
    !matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]" | "::1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_into_their_types_and_mistakes_say_what_fits() {
        assert_eq!(rate("rate", "600/min", "requests").unwrap(), Rate(10.0));
        assert_eq!(rate("rate", "2.5", "records").unwrap(), Rate(2.5));
        let bad = rate("rate", "fast", "records").unwrap_err().to_string();
        assert!(bad.contains("records per unit of time"), "{bad}");
        assert_eq!(duration("timeout", "500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(number("n", "7", 1u32, 10).unwrap(), 7);
        assert!(number("n", "0", 1u32, 10).unwrap_err().to_string().contains("from 1 to 10"));
        assert!(flag("allow_http", "TRUE").unwrap());
        assert_eq!(bare_name("format.Batch_Size"), "batch_size");
    }

    #[test]
    fn a_secret_comes_from_the_environment_or_a_trusted_place_only() {
        use secrecy::ExposeSecret;
        let env = |name: &str| (name == "T").then(|| "s3cr3t".to_string());
        let elsewhere = "name a destination in the config file";
        assert_eq!(secret("token", "${env:T}", &env, false, elsewhere).unwrap().expose_secret(), "s3cr3t");
        assert_eq!(secret("token", "abc", &env, true, elsewhere).unwrap().expose_secret(), "abc");
        let refused = secret("token", "abc", &env, false, elsewhere).unwrap_err().to_string();
        assert!(refused.contains(elsewhere) && !refused.contains("abc"), "{refused}");
        assert!(matches!(
            header_value("header.x-api-key", "x-api-key", "abc", &env, false, elsewhere),
            Err(OptionsError::LiteralSecret { .. })
        ));
        assert!(matches!(
            header_value("header.accept", "accept", "text/csv", &env, false, elsewhere),
            Ok(HeaderValue::Plain(_))
        ));
        assert_eq!(shown_value("format.token", "abc"), "***");
        assert_eq!(shown_value("token", "${env:T}"), "${env:T}");
        assert_eq!(shown_value("header.x-api-key", "abc"), "***");
        assert_eq!(shown_value("header.accept", "application/json"), "application/json");
        assert_eq!(shown_value("rows_path", "/data"), "/data");
    }

    #[test]
    fn a_literal_secret_is_spotted_in_sql_text() {
        assert!(holds_literal_secret("CREATE … OPTIONS ('auth' 'bearer', 'token' 'sk-123')"));
        assert!(holds_literal_secret("… OPTIONS ('header.x-api-key' 'abc')"));
        assert!(!holds_literal_secret("… OPTIONS ('auth' 'bearer', 'token' '${env:CRM_TOKEN}')"));
        assert!(!holds_literal_secret("SELECT 'acme.com', 'x' FROM t WHERE a = 'token'"), "no secret option");
        assert!(!holds_literal_secret("… OPTIONS ('header.accept' 'application/json')"));
    }

    #[test]
    fn only_http_beyond_this_machine_is_in_clear() {
        assert!(in_clear("http://hooks.example.com/x"));
        assert!(!in_clear("http://127.0.0.1:8080/webhook/x"));
        assert!(!in_clear("http://localhost/x"));
        assert!(!in_clear("https://api.clay.com/v3/sources/webhook/x"));
        assert!(in_clear("not a url"));
    }
}
