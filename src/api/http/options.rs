//! The `OPTIONS` of an HTTP table, read into typed values once, when the table is created: an
//! unknown option is an error that lists the valid ones (a typo must not be dropped quietly),
//! and a secret written into SQL is refused, since SQL text lands in the history. Secrets come
//! from the environment (`${env:NAME}`) or from a named connection in the config file.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;

pub use crate::api::options::{HeaderValue, OptionsError, Rate};
use crate::api::options::{OptionSet, bare_name, choice, duration, flag, header_value, number, rate, resolved, secret};

/// Where else a secret refused in SQL may come from.
const ELSEWHERE: &str = "name a connection ('connection' 'crm' and [http.crm] in the config file)";

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
        HttpOptions::layered(connection, options, env)
    }
}

impl OptionSet for HttpOptions {
    fn set(
        &mut self,
        raw: &str,
        value: &str,
        env: &dyn Fn(&str) -> Option<String>,
        trusted: bool,
    ) -> Result<(), OptionsError> {
        let out = self;
        let secret = |name: &str, value: &str| secret(name, value, env, trusted, ELSEWHERE);
        let key = bare_name(raw);
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
            let value = header_value(name, header, value, env, trusted, ELSEWHERE)?;
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
            "rate" => out.rate = Some(rate(name, value, "requests")?),
            "burst" => out.burst = Some(number(name, value, 1u32, 100_000)?),
            "max_in_flight" => out.max_in_flight = Some(number(name, value, 1usize, 1_024)?),
            "timeout" => out.timeout = Some(duration(name, value)?),
            "max_retries" => out.max_retries = Some(number(name, value, 0u32, 100)?),
            "cache_ttl" => out.cache_ttl = Some(duration(name, value)?),
            "allow_http" => out.allow_http = flag(name, value)?,
            "base_url" => out.base_url = Some(value.trim().to_string()),
            _ => {
                let valid = format!("{}, and path.<column>, key_path.<column>, header.<name>", OPTIONS.join(", "));
                return Err(OptionsError::Unknown { name: name.to_string(), kind: "an HTTP table", valid });
            }
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
