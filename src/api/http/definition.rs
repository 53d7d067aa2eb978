//! An HTTP table's definition, checked as a whole once, when it is created: which columns are
//! keys (every placeholder of the URL or the body), where each other column is read from, how
//! keys are batched, how it authenticates, and that these fit together. Every mistake is found
//! here, before any request, with the option to change.

use std::collections::BTreeMap;

use sha2::Digest;

use super::auth::{self, AuthError};
use super::body::{BodyError, BodyTemplate};
use super::extract::Kind;
use super::options::{Auth, HttpOptions, Method, OptionsError, Paginate};
use super::template::{TemplateError, UrlTemplate};
use crate::api::transport::Credential;

/// The columns every HTTP table ends with, after its own.
pub const META_COLUMNS: [&str; 4] = ["_status", "_error", "_http_status", "_fetched_at"];

/// One column of an HTTP table.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub kind: Kind,
    /// A key: it fills a placeholder and echoes the value asked.
    pub key: bool,
    /// Where a row holds its value (`path.<col>`, default `/<col>`); unused for keys.
    pub pointer: String,
}

/// A table's definition, ready to fetch with.
#[derive(Debug)]
pub struct HttpTableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub url: UrlTemplate,
    pub body: Option<BodyTemplate>,
    pub options: HttpOptions,
    /// Key columns, in the order they first appear (URL, then body).
    pub keys: Vec<String>,
    /// The key whose values a request carries as a batch (`{col*}`), if any.
    pub batch_key: Option<String>,
    pub credential: Option<Credential>,
    /// A digest of the secrets, so answers fetched with one credential never serve another.
    secret_digest: String,
    /// Every secret value the requests carry (and the forms they are sent in), to blank out of
    /// whatever the API sends back into a message.
    secrets: Vec<secrecy::SecretString>,
}

/// Why a definition cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Options(#[from] OptionsError),
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> DefinitionError {
    DefinitionError::Invalid(message.into())
}

impl HttpTableDef {
    /// Checks `declared` columns (name, type), `location` and `options` together.
    pub fn new(
        name: &str,
        declared: Vec<(String, Kind)>,
        location: &str,
        options: HttpOptions,
    ) -> Result<HttpTableDef, DefinitionError> {
        let url = UrlTemplate::parse(location)?;
        refuse_written_credentials(&url)?;
        let body = options.body.as_deref().map(BodyTemplate::parse).transpose()?;
        if body.is_some() && options.method == Method::Get {
            return Err(invalid("option 'body' is set but 'method' is GET; add 'method' 'POST' (or PUT, PATCH)"));
        }
        let mut keys: Vec<String> = url.keys().into_iter().map(str::to_string).collect();
        let mut batch: Vec<String> = url.batch_keys().into_iter().map(str::to_string).collect();
        if let Some(body) = &body {
            keys.extend(body.keys().iter().filter(|k| !keys.contains(k)).cloned().collect::<Vec<_>>());
            batch.extend(body.batch_keys().iter().filter(|k| !batch.contains(k)).cloned().collect::<Vec<_>>());
        }
        if batch.len() > 1 {
            return Err(invalid(format!(
                "{} are all batch placeholders ({{col*}}); a request can carry a batch of one key only",
                batch.join(", ")
            )));
        }
        let batch_key = batch.pop();
        let mut columns: Vec<ColumnDef> = Vec::new();
        for (column, kind) in declared {
            if META_COLUMNS.contains(&column.as_str()) {
                return Err(invalid(format!(
                    "column {column}: the names {} are the columns hgsql adds to every HTTP table; rename it",
                    META_COLUMNS.join(", ")
                )));
            }
            let key = keys.contains(&column);
            let pointer = options.paths.get(&column).cloned().unwrap_or_else(|| format!("/{}", escape(&column)));
            columns.push(ColumnDef { name: column, kind, key, pointer });
        }
        // A placeholder no column declares becomes a text key column.
        for key in &keys {
            if !columns.iter().any(|c| &c.name == key) {
                columns.push(ColumnDef { name: key.clone(), kind: Kind::Text, key: true, pointer: format!("/{key}") });
            }
        }
        let names = || columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
        if let Some(column) = options.paths.keys().find(|c| !columns.iter().any(|d| &d.name == *c)) {
            return Err(invalid(format!("option 'path.{column}' names no column; the columns are: {}", names())));
        }
        if let Some(column) = options.key_paths.keys().find(|c| !keys.contains(c)) {
            return Err(invalid(format!(
                "option 'key_path.{column}' names no key column; the keys (placeholders) are: {}",
                if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
            )));
        }
        if options.batch_size > 1 {
            let Some(batch_key) = &batch_key else {
                return Err(invalid(format!(
                    "'batch_size' {} needs a batch placeholder: write {{col*}} in LOCATION or the body where the keys go",
                    options.batch_size
                )));
            };
            if !options.key_paths.contains_key(batch_key) {
                return Err(invalid(format!(
                    "'batch_size' {} needs 'key_path.{batch_key}': the JSON pointer in a row of the {batch_key} it answers",
                    options.batch_size
                )));
            }
        }
        check_paging(&options)?;
        let credential = auth::credential(&options)?;
        let secret_headers = options.headers.iter().any(|(_, v)| matches!(v, super::options::HeaderValue::Secret(_)));
        if (credential.is_some() || secret_headers) && !options.allow_http && insecure(&url) {
            return Err(invalid(format!(
                "LOCATION '{}' is http:// to a host that is not this machine, and the table sends a credential: it would travel in clear. Use https://, or add 'allow_http' 'true'",
                url.text()
            )));
        }
        let secret_digest = digest_secret(&options);
        let secrets = secret_values(&options);
        Ok(HttpTableDef {
            name: name.to_string(),
            columns,
            url,
            body,
            options,
            keys,
            batch_key,
            credential,
            secret_digest,
            secrets,
        })
    }

    /// `text` (an API's answer, quoted in a message) with every secret of the table blanked: an
    /// API may echo the key or the URL it was sent.
    pub fn redact(&self, text: &str) -> String {
        use secrecy::ExposeSecret;
        let mut out = text.to_string();
        for secret in &self.secrets {
            let secret = secret.expose_secret();
            if secret.len() >= 4 {
                out = out.replace(secret, "***");
            }
        }
        out
    }

    /// What tells this table's credentials from others' for the rate gates (a digest).
    pub fn credential_scope(&self) -> &str {
        &self.secret_digest
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The type of key column `name` (text when unknown).
    pub fn kind_of(&self, name: &str) -> Kind {
        self.column(name).map_or(Kind::Text, |c| c.kind)
    }

    /// What the cache files this table's answers under: the request's shape (method, URL and
    /// body templates, where rows are, how pages go) and a digest of its credential, never the
    /// credential. Two tables that ask the same thing the same way share their answers.
    pub fn cache_scope(&self) -> String {
        let o = &self.options;
        let shape = format!(
            "{:?}|{}|{}|{}|{:?}|{:?}|{}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{}",
            o.method,
            self.url.text(),
            o.body.as_deref().unwrap_or(""),
            o.rows_path,
            o.paginate,
            o.page_size,
            o.limit_param,
            o.offset_param,
            o.page_param,
            o.page_start,
            o.cursor_param,
            o.cursor_path,
            o.next_url_path,
            o.has_more_path,
            o.headers.iter().map(|(n, v)| (n.clone(), header_text(v))).collect::<Vec<_>>(),
            o.batch_separator,
            self.secret_digest,
        );
        // What a cached answer means depends on these too: a 404 is "no rows" or a failure,
        // and rows of a batch go to keys by key_path.
        let shape = format!("{shape}|{:?}|{:?}", o.not_found, o.key_paths);
        format!("http|{}", crate::api::hex(&sha2::Sha256::digest(shape.as_bytes())[..12]))
    }

    /// The label answers are counted under in `hgsql cache stats`.
    pub fn cache_label(&self) -> String {
        format!("http:{}", self.name)
    }

    /// The request as EXPLAIN and `\d` show it: the method and the template, never a secret
    /// (a query-parameter credential is added as the request leaves).
    pub fn describe_request(&self) -> String {
        let method = match self.options.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        };
        format!("{method} {}", self.url.text())
    }

    /// Whether the table asks by key (else it is one listing).
    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }
}

fn header_text(value: &super::options::HeaderValue) -> String {
    match value {
        super::options::HeaderValue::Plain(text) => text.clone(),
        super::options::HeaderValue::Secret(_) => "***".into(),
    }
}

/// `~` and `/` in a column name, escaped for a JSON pointer.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn check_paging(options: &HttpOptions) -> Result<(), DefinitionError> {
    match options.paginate {
        Paginate::Offset if options.page_size.is_none() => {
            Err(invalid("'paginate' 'offset' needs 'page_size': the rows a page holds, sent as 'limit_param'"))
        }
        Paginate::Cursor if options.cursor_param.is_none() || options.cursor_path.is_none() => Err(invalid(
            "'paginate' 'cursor' needs 'cursor_path' (where the answer holds the next cursor) and 'cursor_param' (the query parameter that sends it)",
        )),
        Paginate::NextUrl if options.next_url_path.is_none() => {
            Err(invalid("'paginate' 'next_url' needs 'next_url_path': where the answer holds the next page's URL"))
        }
        _ => Ok(()),
    }
}

/// Whether requests would go in clear over a network: `http://` to a host other than loopback.
fn insecure(url: &UrlTemplate) -> bool {
    crate::api::options::in_clear(&url.text().replace(['{', '}', '*'], ""))
}

fn digest_secret(options: &HttpOptions) -> String {
    use secrecy::ExposeSecret;
    let mut hasher = sha2::Sha256::new();
    hasher.update(super::auth::auth_name(options.auth).as_bytes());
    if options.auth != Auth::None {
        for part in [options.token.as_ref(), options.password.as_ref()].into_iter().flatten() {
            hasher.update([0u8]);
            hasher.update(part.expose_secret().as_bytes());
        }
        hasher.update([0u8]);
        hasher.update(options.username.as_deref().unwrap_or("").as_bytes());
    }
    for (name, value) in &options.headers {
        if let super::options::HeaderValue::Secret(secret) = value {
            hasher.update(name.as_bytes());
            hasher.update(secret.expose_secret().as_bytes());
        }
    }
    crate::api::hex(&hasher.finalize()[..8])
}

/// The secret values `options` send, as sent (percent-encoded in a query, a Basic
/// credential base64-encoded).
fn secret_values(options: &HttpOptions) -> Vec<secrecy::SecretString> {
    use base64::Engine;
    use secrecy::{ExposeSecret, SecretString};
    let mut out: Vec<SecretString> = Vec::new();
    for secret in [options.token.as_ref(), options.password.as_ref()].into_iter().flatten() {
        out.push(secret.clone());
        let encoded = percent_encoding::utf8_percent_encode(secret.expose_secret(), percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        out.push(SecretString::from(encoded));
    }
    if let (Some(user), Some(password)) = (&options.username, &options.password) {
        let pair = format!("{user}:{}", password.expose_secret());
        out.push(SecretString::from(base64::engine::general_purpose::STANDARD.encode(pair)));
    }
    for (_, value) in &options.headers {
        if let super::options::HeaderValue::Secret(secret) = value {
            out.push(secret.clone());
        }
    }
    out
}

/// A credential written into the `LOCATION` itself (`https://user:pass@…`, `?api_key=abc`)
/// would show in EXPLAIN, `\d`, errors and the history: it is refused for the auth options.
fn refuse_written_credentials(url: &UrlTemplate) -> Result<(), DefinitionError> {
    let text = url.text();
    let authority = text.split("://").nth(1).unwrap_or("").split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(invalid(
            "LOCATION holds a user and a password: give them as 'auth' 'basic' with 'username' and 'password' ('${env:NAME}'), so no message shows them",
        ));
    }
    let query = text.split_once('?').map_or("", |(_, q)| q.split('#').next().unwrap_or(""));
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let lower = name.to_ascii_lowercase();
        let credential = ["key", "token", "secret", "password", "signature", "auth"].iter().any(|w| lower.contains(w));
        let placeholder = value.starts_with('{') && value.ends_with('}');
        if credential && !value.is_empty() && !placeholder {
            return Err(invalid(format!(
                "LOCATION's query parameter '{name}' looks like a credential written into the SQL; send it with 'auth' 'query', 'auth_param' '{name}' and 'token' '${{env:NAME}}'"
            )));
        }
    }
    Ok(())
}

/// Options as `BTreeMap`, for tests and connections.
pub fn option_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(location: &str, pairs: &[(&str, &str)]) -> Result<HttpTableDef, DefinitionError> {
        let options = HttpOptions::parse(&option_map(pairs), &|_| Some("t0ken".into())).unwrap();
        let declared = vec![("domain".to_string(), Kind::Text), ("arr".to_string(), Kind::Float)];
        HttpTableDef::new("crm", declared, location, options)
    }

    #[test]
    fn placeholders_are_keys_and_the_rest_is_read_by_pointer() {
        let d = def("https://crm.example.com/a/{domain}?owner={owner}", &[("path.arr", "/billing/arr")]).unwrap();
        assert_eq!(d.keys, ["domain", "owner"]);
        let owner = d.column("owner").unwrap();
        assert!(owner.key && owner.kind == Kind::Text, "an undeclared placeholder is a text key");
        assert_eq!(d.column("arr").unwrap().pointer, "/billing/arr");
        assert!(!d.column("arr").unwrap().key);
    }

    #[test]
    fn options_that_do_not_fit_together_are_named() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("https://x.example/{domain}", &[("path.nope", "/a")], "'path.nope'"),
            ("https://x.example/{domain}", &[("batch_size", "10")], "{col*}"),
            ("https://x.example/?d={domain*}", &[("batch_size", "10")], "key_path.domain"),
            ("https://x.example/{domain}", &[("body", "{}")], "'method'"),
            ("https://x.example/{domain}", &[("paginate", "cursor")], "cursor_path"),
            ("http://x.example/{domain}", &[("auth", "bearer"), ("token", "${env:T}")], "allow_http"),
            ("https://x.example/{domain}", &[("key_path.arr", "/a")], "key_path.arr"),
            ("http://x.example/{domain}", &[("header.x-api-key", "${env:T}")], "allow_http"),
            ("https://me:pw@x.example/{domain}", &[], "'auth' 'basic'"),
            ("https://x.example/{domain}?api_key=abc123", &[], "'auth_param' 'api_key'"),
        ];
        for (location, pairs, expected) in cases {
            let error = def(location, pairs).unwrap_err().to_string();
            assert!(error.contains(expected), "{location} {pairs:?}: {error}");
        }
        assert!(def("http://127.0.0.1:9/{domain}", &[("auth", "bearer"), ("token", "${env:T}")]).is_ok());
        assert!(def("https://x.example/{domain}?fields=name&page_token={domain}", &[]).is_ok(), "a key may fill it");
    }

    #[test]
    fn secrets_an_api_echoes_are_blanked() {
        let d = def("https://x.example/{domain}", &[("auth", "basic"), ("username", "u"), ("password", "${env:T}")])
            .unwrap();
        let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "u:t0ken");
        let shown = d.redact(&format!("bad request: Authorization: Basic {basic} with t0ken"));
        assert!(!shown.contains("t0ken") && !shown.contains(&basic), "{shown}");
    }

    #[test]
    fn the_cache_scope_tells_credentials_apart_and_never_holds_one() {
        let a = def("https://x.example/{domain}", &[("auth", "bearer"), ("token", "${env:T}")]).unwrap();
        let options =
            HttpOptions::parse(&option_map(&[("auth", "bearer"), ("token", "${env:T}")]), &|_| Some("other".into()))
                .unwrap();
        let b = HttpTableDef::new("crm2", vec![("domain".into(), Kind::Text)], "https://x.example/{domain}", options)
            .unwrap();
        assert_ne!(a.cache_scope(), b.cache_scope());
        let strict =
            def("https://x.example/{domain}", &[("auth", "bearer"), ("token", "${env:T}"), ("not_found", "error")])
                .unwrap();
        assert_ne!(a.cache_scope(), strict.cache_scope(), "a cached 404 means another thing under 'not_found' 'error'");
        assert_eq!(
            a.cache_scope(),
            def("https://x.example/{domain}", &[("auth", "bearer"), ("token", "${env:T}")]).unwrap().cache_scope()
        );
    }
}
