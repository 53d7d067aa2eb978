//! The `OPTIONS` of an HTTP table, read into typed values once, when the table is created: an
//! unknown option is an error that lists the valid ones (a typo must not be dropped quietly),
//! and a secret written into SQL is refused, since SQL text lands in the history. Secrets come
//! from the environment (`${env:NAME}`) or from a named connection in the config file.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;

/// Every option an HTTP table takes, but the per-column and per-header families
/// (`path.<col>`, `key_path.<col>`, `header.<name>`).
pub const OPTIONS: &[&str] = &[
    "method",
    "body",
    "auth",
    "token",
    "username",
    "password",
    "auth_header",
    "auth_param",
    "connection",
    "rows_path",
    "paginate",
    "page_size",
    "limit_param",
    "offset_param",
    "page_param",
    "page_start",
    "cursor_param",
    "cursor_path",
    "next_url_path",
    "has_more_path",
    "max_pages",
    "batch_size",
    "batch_separator",
    "not_found",
    "rate",
    "burst",
    "max_in_flight",
    "timeout",
    "max_retries",
    "cache_ttl",
    "allow_http",
    "base_url",
];

/// Option families whose name goes on after a dot.
pub const FAMILIES: &[&str] = &["path.", "key_path.", "header."];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer,
    Basic,
    Header,
    Query,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paginate {
    None,
    Offset,
    Page,
    Cursor,
    LinkHeader,
    NextUrl,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotFound {
    /// A 404 for a key is no rows (cached as such).
    Empty,
    Error,
}

/// Requests a second at most, from `10/s` or `600/min`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(pub f64);

/// A header value: sent as written, or a secret.
#[derive(Clone, Debug)]
pub enum HeaderValue {
    Plain(String),
    Secret(SecretString),
}

/// An HTTP table's options, read and checked.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub method: Method,
    pub body: Option<String>,
    pub headers: Vec<(String, HeaderValue)>,
    pub auth: Auth,
    pub token: Option<SecretString>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub auth_header: Option<String>,
    pub auth_param: Option<String>,
    pub connection: Option<String>,
    pub rows_path: String,
    /// Per column, the JSON pointer of its value inside a row (default `/<col>`).
    pub paths: BTreeMap<String, String>,
    /// Per key column, the JSON pointer in a row of the key it answers (batches).
    pub key_paths: BTreeMap<String, String>,
    pub paginate: Paginate,
    pub page_size: Option<usize>,
    pub limit_param: String,
    pub offset_param: String,
    pub page_param: String,
    pub page_start: usize,
    pub cursor_param: Option<String>,
    pub cursor_path: Option<String>,
    pub next_url_path: Option<String>,
    pub has_more_path: Option<String>,
    pub max_pages: usize,
    pub batch_size: usize,
    pub batch_separator: String,
    pub not_found: NotFound,
    pub rate: Option<Rate>,
    pub burst: Option<u32>,
    pub max_in_flight: Option<usize>,
    pub timeout: Option<Duration>,
    pub max_retries: Option<u32>,
    pub cache_ttl: Option<Duration>,
    pub allow_http: bool,
    /// What a `LOCATION` that is a path (`/v1/…`) goes after; a connection's credential is
    /// sent to this origin only.
    pub base_url: Option<String>,
}

/// Why the options cannot be used; each message names the option and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("unknown option '{name}' for an HTTP table; the options are: {}, and path.<column>, key_path.<column>, header.<name>", OPTIONS.join(", "))]
    Unknown { name: String },
    #[error("option '{name}' = '{value}': {expected}")]
    BadValue { name: String, value: String, expected: String },
    #[error(
        "option '{name}' holds a secret written into the SQL, which lands in the history; write '${{env:NAME}}' and set the environment variable NAME, or name a connection ('connection' 'crm' and [http.crm] in the config file)"
    )]
    LiteralSecret { name: String },
    #[error("option '{name}' = '${{env:{variable}}}': the environment variable {variable} is not set")]
    MissingEnv { name: String, variable: String },
}

/// A JSON pointer (RFC 6901): empty, or starting with `/`.
fn pointer(name: &str, value: &str) -> Result<String, OptionsError> {
    if value.is_empty() || value.starts_with('/') {
        return Ok(value.to_string());
    }
    Err(OptionsError::BadValue {
        name: name.into(),
        value: value.into(),
        expected: format!("a JSON pointer: '' for the whole body, or starting with '/', e.g. '/{value}'"),
    })
}

fn choice<T: Copy>(name: &str, value: &str, choices: &[(&str, T)]) -> Result<T, OptionsError> {
    let wanted = value.trim().to_ascii_lowercase();
    choices.iter().find(|(c, _)| *c == wanted).map(|(_, t)| *t).ok_or_else(|| OptionsError::BadValue {
        name: name.into(),
        value: value.into(),
        expected: format!("one of {}", choices.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")),
    })
}

/// A whole number from `at_least` to `at_most`: the bounds keep every later computation with
/// it (a retry count plus one, a semaphore's size) from overflowing.
fn number<T>(name: &str, value: &str, at_least: T, at_most: T) -> Result<T, OptionsError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    value.trim().parse::<T>().ok().filter(|n| *n >= at_least && *n <= at_most).ok_or_else(|| OptionsError::BadValue {
        name: name.into(),
        value: value.into(),
        expected: format!("a whole number from {at_least} to {at_most}"),
    })
}

/// `10/s`, `600/min`, `2/h`, or a bare number of requests a second.
fn rate(name: &str, value: &str) -> Result<Rate, OptionsError> {
    let bad = || OptionsError::BadValue {
        name: name.into(),
        value: value.into(),
        expected: "requests per unit of time, e.g. '10/s' or '600/min'".into(),
    };
    let (count, unit) = value.trim().split_once('/').unwrap_or((value.trim(), "s"));
    let count: f64 = count.trim().parse().map_err(|_| bad())?;
    let seconds = match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return Err(bad()),
    };
    // At least one request a day, at most a million a second: a pause between requests must
    // fit a Duration.
    let per_second = count / seconds;
    if !(count > 0.0 && count.is_finite() && (1.0 / 86_400.0..=1e6).contains(&per_second)) {
        return Err(bad());
    }
    Ok(Rate(per_second))
}

/// `30s`, `500ms`, `2m`, or a bare number of seconds.
fn duration(name: &str, value: &str) -> Result<Duration, OptionsError> {
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

/// A value that may be `${env:NAME}`: the variable's value, else the text as written.
fn resolved(name: &str, value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(String, bool), OptionsError> {
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
    let key = key.trim().to_ascii_lowercase();
    let key = key.strip_prefix("format.").unwrap_or(&key);
    matches!(key, "token" | "password") || key.strip_prefix("header.").is_some_and(credential_header)
}

/// Whether `value` names an environment variable (`${env:NAME}`) rather than holding a value.
pub fn is_reference(value: &str) -> bool {
    let value = value.trim();
    value.starts_with("${env:") && value.ends_with('}')
}

/// Whether a header of this name carries a credential, so a literal value is refused.
fn credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authorization" || ["token", "key", "secret", "auth", "cookie"].iter().any(|w| name.contains(w))
}

impl HttpOptions {
    /// Reads `options` (as DataFusion hands them over: keys lower-cased, maybe prefixed
    /// `format.`), with `env` standing in for the environment.
    pub fn parse(
        options: &BTreeMap<String, String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<HttpOptions, OptionsError> {
        HttpOptions::parse_layered(&BTreeMap::new(), options, env)
    }

    /// Reads `connection`'s options (a `[http.NAME]` section of the config file, which may hold
    /// secrets as written: the file is the user's own, not the history), then the table's,
    /// which override them.
    pub fn parse_layered(
        connection: &BTreeMap<String, String>,
        options: &BTreeMap<String, String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<HttpOptions, OptionsError> {
        let mut out = HttpOptions::default();
        for (raw, value) in connection {
            out.set(raw, value, env, true)?;
        }
        for (raw, value) in options {
            out.set(raw, value, env, false)?;
        }
        Ok(out)
    }

    /// Sets one option; a secret written as is is refused unless it comes from a `trusted` place.
    fn set(
        &mut self,
        raw: &str,
        value: &str,
        env: &dyn Fn(&str) -> Option<String>,
        trusted: bool,
    ) -> Result<(), OptionsError> {
        let out = self;
        let secret = |name: &str, value: &str| -> Result<SecretString, OptionsError> {
            match resolved(name, value, env)? {
                (value, _) if trusted => Ok(SecretString::from(value)),
                (value, true) => Ok(SecretString::from(value)),
                (_, false) => Err(OptionsError::LiteralSecret { name: name.into() }),
            }
        };
        let key = raw.trim().to_ascii_lowercase();
        let key = key.strip_prefix("format.").unwrap_or(&key).to_string();
        let name = key.as_str();
        if let Some(column) = name.strip_prefix("path.") {
            out.paths.insert(column.to_string(), pointer(name, value)?);
            return Ok(());
        }
        if let Some(column) = name.strip_prefix("key_path.") {
            out.key_paths.insert(column.to_string(), pointer(name, value)?);
            return Ok(());
        }
        if let Some(header) = name.strip_prefix("header.") {
            let value = match resolved(name, value, env)? {
                (v, true) => HeaderValue::Secret(SecretString::from(v)),
                (v, false) if trusted && credential_header(header) => HeaderValue::Secret(SecretString::from(v)),
                (_, false) if credential_header(header) => {
                    return Err(OptionsError::LiteralSecret { name: name.into() });
                }
                (v, false) => HeaderValue::Plain(v),
            };
            out.headers.push((header.to_string(), value));
            return Ok(());
        }
        match name {
            "method" => {
                let methods =
                    [("get", Method::Get), ("post", Method::Post), ("put", Method::Put), ("patch", Method::Patch)];
                out.method = choice(name, value, &methods)?;
            }
            "body" => out.body = Some(value.to_string()),
            "auth" => {
                let kinds = [
                    ("none", Auth::None),
                    ("bearer", Auth::Bearer),
                    ("basic", Auth::Basic),
                    ("header", Auth::Header),
                    ("query", Auth::Query),
                ];
                out.auth = choice(name, value, &kinds)?;
            }
            "token" => out.token = Some(secret(name, value)?),
            "password" => out.password = Some(secret(name, value)?),
            "username" => out.username = Some(resolved(name, value, env)?.0),
            "auth_header" => out.auth_header = Some(value.trim().to_string()),
            "auth_param" => out.auth_param = Some(value.trim().to_string()),
            "connection" => out.connection = Some(value.trim().to_string()),
            "rows_path" => out.rows_path = pointer(name, value)?,
            "paginate" => {
                let styles = [
                    ("none", Paginate::None),
                    ("offset", Paginate::Offset),
                    ("page", Paginate::Page),
                    ("cursor", Paginate::Cursor),
                    ("link_header", Paginate::LinkHeader),
                    ("next_url", Paginate::NextUrl),
                ];
                out.paginate = choice(name, value, &styles)?;
            }
            "page_size" => out.page_size = Some(number(name, value, 1usize, 1_000_000)?),
            "limit_param" => out.limit_param = value.trim().to_string(),
            "offset_param" => out.offset_param = value.trim().to_string(),
            "page_param" => out.page_param = value.trim().to_string(),
            "page_start" => out.page_start = number(name, value, 0usize, 1_000_000)?,
            "cursor_param" => out.cursor_param = Some(value.trim().to_string()),
            "cursor_path" => out.cursor_path = Some(pointer(name, value)?),
            "next_url_path" => out.next_url_path = Some(pointer(name, value)?),
            "has_more_path" => out.has_more_path = Some(pointer(name, value)?),
            "max_pages" => out.max_pages = number(name, value, 1usize, 10_000_000)?,
            "batch_size" => out.batch_size = number(name, value, 1usize, 10_000)?,
            "batch_separator" => out.batch_separator = value.to_string(),
            "not_found" => {
                out.not_found = choice(name, value, &[("empty", NotFound::Empty), ("error", NotFound::Error)])?
            }
            "rate" => out.rate = Some(rate(name, value)?),
            "burst" => out.burst = Some(number(name, value, 1u32, 100_000)?),
            "max_in_flight" => out.max_in_flight = Some(number(name, value, 1usize, 1_024)?),
            "timeout" => out.timeout = Some(duration(name, value)?),
            "max_retries" => out.max_retries = Some(number(name, value, 0u32, 100)?),
            "cache_ttl" => out.cache_ttl = Some(duration(name, value)?),
            "allow_http" => out.allow_http = choice(name, value, &[("true", true), ("false", false)])?,
            "base_url" => out.base_url = Some(value.trim().to_string()),
            _ => return Err(OptionsError::Unknown { name: name.to_string() }),
        }
        Ok(())
    }
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            method: Method::Get,
            body: None,
            headers: Vec::new(),
            auth: Auth::None,
            token: None,
            username: None,
            password: None,
            auth_header: None,
            auth_param: None,
            connection: None,
            rows_path: String::new(),
            paths: BTreeMap::new(),
            key_paths: BTreeMap::new(),
            paginate: Paginate::None,
            page_size: None,
            limit_param: "limit".into(),
            offset_param: "offset".into(),
            page_param: "page".into(),
            page_start: 0,
            cursor_param: None,
            cursor_path: None,
            next_url_path: None,
            has_more_path: None,
            max_pages: 1000,
            batch_size: 1,
            batch_separator: ",".into(),
            not_found: NotFound::Empty,
            rate: None,
            burst: None,
            max_in_flight: None,
            timeout: None,
            max_retries: None,
            cache_ttl: None,
            allow_http: false,
            base_url: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn parse(pairs: &[(&str, &str)]) -> Result<HttpOptions, OptionsError> {
        let options: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        HttpOptions::parse(&options, &|name| (name == "CRM_TOKEN").then(|| "s3cr3t-token".to_string()))
    }

    #[test]
    fn the_issues_example_reads_into_typed_values() {
        let o = parse(&[
            ("auth", "bearer"),
            ("token", "${env:CRM_TOKEN}"),
            ("rows_path", "/account"),
            ("path.arr", "/billing/arr"),
            ("not_found", "empty"),
            ("format.rate", "10/s"),
            ("header.accept", "application/json"),
            ("timeout", "500ms"),
        ])
        .unwrap();
        assert_eq!((o.auth, o.rows_path.as_str(), o.not_found), (Auth::Bearer, "/account", NotFound::Empty));
        assert_eq!(o.token.as_ref().unwrap().expose_secret(), "s3cr3t-token");
        assert_eq!(o.paths["arr"], "/billing/arr");
        assert_eq!(o.rate, Some(Rate(10.0)));
        assert_eq!(o.timeout, Some(Duration::from_millis(500)));
        assert!(matches!(&o.headers[0], (name, HeaderValue::Plain(v)) if name == "accept" && v == "application/json"));
        assert!(!format!("{o:?}").contains("s3cr3t"), "the secret is not in the debug text");
        assert_eq!(parse(&[("rate", "600/min")]).unwrap().rate, Some(Rate(10.0)));
        let defaults = parse(&[]).unwrap();
        assert_eq!((defaults.method, defaults.batch_size, defaults.max_pages), (Method::Get, 1, 1000));
        assert_eq!((defaults.limit_param.as_str(), defaults.batch_separator.as_str()), ("limit", ","));
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
    fn mistakes_are_named_with_the_fix() {
        let unknown = parse(&[("rows_pth", "/x")]).unwrap_err().to_string();
        assert!(
            unknown.contains("'rows_pth'") && unknown.contains("rows_path") && unknown.contains("path.<column>"),
            "{unknown}"
        );
        let literal = parse(&[("token", "abc123")]).unwrap_err().to_string();
        assert!(
            literal.contains("'token'") && literal.contains("${env:NAME}") && !literal.contains("abc123"),
            "{literal}"
        );
        let header = parse(&[("header.x-api-key", "abc123")]).unwrap_err();
        assert!(matches!(header, OptionsError::LiteralSecret { .. }), "a credential header written in the SQL");
        let unset = parse(&[("token", "${env:NOPE}")]).unwrap_err().to_string();
        assert!(unset.contains("NOPE") && unset.contains("not set"), "{unset}");
        let style = parse(&[("paginate", "pages")]).unwrap_err().to_string();
        assert!(style.contains("link_header") && style.contains("next_url"), "{style}");
        let path = parse(&[("rows_path", "data")]).unwrap_err().to_string();
        assert!(path.contains("JSON pointer") && path.contains("'/data'"), "{path}");
        for (name, value) in [
            ("rate", "ten"),
            ("rate", "0/s"),
            ("rate", "1e-300/s"),
            ("batch_size", "0"),
            ("timeout", "soon"),
            ("timeout", "1e20"),
            ("cache_ttl", "1e300h"),
            ("max_retries", "4294967295"),
            ("max_in_flight", "100000000"),
            ("method", "DELETE"),
        ] {
            assert!(matches!(parse(&[(name, value)]), Err(OptionsError::BadValue { .. })), "{name} = {value}");
        }
    }
}
