//! The URL template of an HTTP table's `LOCATION`: a URL with `{col}` placeholders (`{{col}}`
//! too, as Clay writes them) in its path or query, each a key column; `{col*}` is a batch of
//! keys joined by a separator. Values are sent exactly as written, percent-encoded for their
//! place, so no value can add a path segment, a query parameter or a fragment. A placeholder
//! in the scheme, host or port is refused: a key must not choose where a request (and its
//! credentials) goes.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Url;

/// Bytes sent as they are in a path segment or a query value: RFC 3986's unreserved ones.
/// Everything else, `/`, `?`, `&`, `=` and `#` included, is percent-encoded.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Where a placeholder stands, which decides how its value is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Path,
    Query,
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Key { column: String, place: Place, batch: bool },
}

/// A parsed `LOCATION`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlTemplate {
    text: String,
    pieces: Vec<Piece>,
}

/// Why a `LOCATION` cannot be used; each message names the template and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "LOCATION '{0}' is not an http:// or https:// URL; write the full URL of the API, e.g. https://api.example.com/items/{{id}}"
    )]
    NotHttp(String),
    #[error(
        "LOCATION '{template}': the placeholder {{{column}}} is in the {part}; a key may only fill the path or the query (it must not choose where the request and its credentials go)"
    )]
    PlaceholderInAuthority { template: String, column: String, part: &'static str },
    #[error(
        "LOCATION '{template}': the placeholder {{{column}}} is in the fragment, which is never sent; move it into the path or the query"
    )]
    PlaceholderInFragment { template: String, column: String },
    #[error("LOCATION '{template}': a '{{' at character {at} is never closed; write placeholders as {{column}}")]
    Unclosed { template: String, at: usize },
    #[error(
        "LOCATION '{template}': the placeholder at character {at} names no column; write it as {{column}} (letters, digits and _)"
    )]
    BadName { template: String, at: usize },
    #[error("LOCATION '{template}' is not a valid URL once its placeholders are filled ({message})")]
    Invalid { template: String, message: String },
    #[error(
        "{column} = '{value}' cannot fill a place in the URL's path: '.' and '..' would move the request to another path"
    )]
    DotSegment { column: String, value: String },
}

impl UrlTemplate {
    /// Parses `text`, checking where each placeholder stands.
    pub fn parse(text: &str) -> Result<UrlTemplate, TemplateError> {
        let template = text.trim().to_string();
        let lower = template.to_ascii_lowercase();
        if let Some(scheme) = template.find("://")
            && let Some(at) = template[..scheme].find('{')
        {
            let column = template[at..scheme].trim_matches(|c| c == '{' || c == '}').to_ascii_lowercase();
            return Err(TemplateError::PlaceholderInAuthority { template, column, part: "scheme" });
        }
        let Some(scheme_end) = ["https://", "http://"].iter().find(|s| lower.starts_with(**s)).map(|s| s.len()) else {
            return Err(TemplateError::NotHttp(template));
        };
        let authority_end = template[scheme_end..].find(['/', '?', '#']).map_or(template.len(), |i| scheme_end + i);
        let query_start = template[authority_end..].find('?').map(|i| authority_end + i);
        let fragment_start = template[authority_end..].find('#').map(|i| authority_end + i);
        let mut pieces = Vec::new();
        let mut text_so_far = String::new();
        let bytes = template.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'{' {
                let next = template[i..].find('{').map_or(template.len(), |n| i + n);
                text_so_far.push_str(&template[i..next]);
                i = next;
                continue;
            }
            let doubled = template[i..].starts_with("{{");
            let (open, close) = if doubled { (2, "}}") } else { (1, "}") };
            let Some(length) = template[i + open..].find(close) else {
                return Err(TemplateError::Unclosed { template: template.clone(), at: i + 1 });
            };
            let inner = &template[i + open..i + open + length];
            let (name, batch) = match inner.trim().strip_suffix('*') {
                Some(name) => (name.trim(), true),
                None => (inner.trim(), false),
            };
            let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(TemplateError::BadName { template: template.clone(), at: i + 1 });
            }
            let column = name.to_ascii_lowercase();
            if i < authority_end {
                let part = if i < scheme_end {
                    "scheme"
                } else if template[scheme_end..i].contains(':') {
                    "port"
                } else {
                    "host"
                };
                return Err(TemplateError::PlaceholderInAuthority { template: template.clone(), column, part });
            }
            if fragment_start.is_some_and(|f| i > f) {
                return Err(TemplateError::PlaceholderInFragment { template: template.clone(), column });
            }
            let place = if query_start.is_some_and(|q| i > q) { Place::Query } else { Place::Path };
            if !text_so_far.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text_so_far)));
            }
            pieces.push(Piece::Key { column, place, batch });
            i += open + length + close.len();
        }
        if !text_so_far.is_empty() {
            pieces.push(Piece::Text(text_so_far));
        }
        // The host is the template's own: a URL parser that reads `https:///{x}` as the host
        // `{x}` must not let a key choose it.
        let invalid = |message: &str| TemplateError::Invalid { template: template.clone(), message: message.into() };
        let literal = Url::parse(&template[..authority_end]).map_err(|e| invalid(&e.to_string()))?;
        let host = literal.host_str().filter(|h| !h.is_empty() && authority_end > scheme_end).map(str::to_string);
        let Some(host) = host else { return Err(invalid("no host")) };
        let parsed = UrlTemplate { text: template.clone(), pieces };
        // A template whose literal parts do not make a URL fails here, not at the first request.
        let sample = parsed.render_with(&|_| Some(vec!["x".to_string()]), ",")?;
        if sample.host_str() != Some(host.as_str()) || sample.port() != literal.port() {
            return Err(invalid("its host would depend on a key"));
        }
        Ok(parsed)
    }

    /// The template as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The key columns, in the order they first appear, lower-cased (as DataFusion names
    /// columns), each once.
    pub fn keys(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for piece in &self.pieces {
            if let Piece::Key { column, .. } = piece
                && !out.contains(&column.as_str())
            {
                out.push(column);
            }
        }
        out
    }

    /// The key columns that take a batch (`{col*}`).
    pub fn batch_keys(&self) -> Vec<&str> {
        let batch = self.pieces.iter().filter_map(|p| match p {
            Piece::Key { column, batch: true, .. } => Some(column.as_str()),
            _ => None,
        });
        let mut out: Vec<&str> = batch.collect();
        out.dedup();
        out
    }

    /// The URL for one request: each placeholder filled with its column's value (a batch
    /// placeholder with all of them, joined by `separator`), encoded for its place.
    pub fn render(&self, values: &dyn Fn(&str) -> Option<Vec<String>>, separator: &str) -> Result<Url, TemplateError> {
        self.render_with(values, separator)
    }

    fn render_with(&self, values: &dyn Fn(&str) -> Option<Vec<String>>, separator: &str) -> Result<Url, TemplateError> {
        let mut url = String::with_capacity(self.text.len() + 32);
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => url.push_str(text),
                Piece::Key { column, batch, place } => {
                    let given = values(column).unwrap_or_default();
                    let given: Vec<String> = if *batch { given } else { given.into_iter().take(1).collect() };
                    // A URL parser resolves `.` and `..` segments (encoded or not): a key must
                    // not walk the request up the path.
                    if *place == Place::Path
                        && let Some(dots) = given.iter().find(|v| matches!(v.as_str(), "." | ".."))
                    {
                        return Err(TemplateError::DotSegment { column: column.clone(), value: dots.clone() });
                    }
                    let encoded: Vec<String> =
                        given.iter().map(|v| utf8_percent_encode(v, VALUE).to_string()).collect();
                    // The separator is the template's own text, so it stays as written.
                    url.push_str(&encoded.join(separator));
                }
            }
        }
        Url::parse(&url).map_err(|e| TemplateError::Invalid { template: self.text.clone(), message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> impl Fn(&str) -> Option<Vec<String>> + '_ {
        move |_| Some(vec![value.to_string()])
    }

    #[test]
    fn a_batch_is_joined_by_the_tables_separator() {
        let t = UrlTemplate::parse("https://x.example/items?ids={id*}").unwrap();
        let url = t.render(&|_| Some(vec!["a;b".into(), "c".into()]), ";").unwrap();
        assert_eq!(
            url.as_str(),
            "https://x.example/items?ids=a%3Bb;c",
            "a value's own ';' is encoded, the separator is not"
        );
    }

    #[test]
    fn placeholders_fill_the_path_and_the_query_and_name_the_keys() {
        let t =
            UrlTemplate::parse("https://crm.example.com/api/accounts/{domain}?fields={{Fields}}&ids={id*}").unwrap();
        assert_eq!(t.keys(), ["domain", "fields", "id"]);
        assert_eq!(t.batch_keys(), ["id"]);
        let url = t
            .render(
                &|c| match c {
                    "domain" => Some(vec!["acme.com".into()]),
                    "fields" => Some(vec!["name,arr".into()]),
                    _ => Some(vec!["a b".into(), "c&d".into()]),
                },
                ",",
            )
            .unwrap();
        assert_eq!(url.as_str(), "https://crm.example.com/api/accounts/acme.com?fields=name%2Carr&ids=a%20b,c%26d");
    }

    #[test]
    fn a_placeholder_may_not_choose_the_scheme_host_or_port() {
        for (template, part) in [
            ("https://{tenant}.example.com/x", "host"),
            ("https://api.example.com:{port}/x", "port"),
            ("http{s}://api.example.com/x", "scheme"),
        ] {
            let error = UrlTemplate::parse(template).unwrap_err();
            assert!(matches!(&error, TemplateError::PlaceholderInAuthority { part: p, .. } if *p == part), "{error}");
            assert!(error.to_string().contains("path or the query"), "{error}");
        }
        assert!(matches!(
            UrlTemplate::parse("https://a.example/x#{y}"),
            Err(TemplateError::PlaceholderInFragment { .. })
        ));
        assert!(matches!(UrlTemplate::parse("ftp://a.example/{x}"), Err(TemplateError::NotHttp(_))));
        assert!(matches!(UrlTemplate::parse("https://a.example/{x"), Err(TemplateError::Unclosed { at: 19, .. })));
        assert!(matches!(UrlTemplate::parse("https://a.example/{a-b}"), Err(TemplateError::BadName { .. })));
        assert!(matches!(UrlTemplate::parse("https:///{x}"), Err(TemplateError::Invalid { .. })));
    }

    #[test]
    fn dot_segments_are_refused_in_the_path() {
        let t = UrlTemplate::parse("https://api.example.com/v1/items/{id}/detail").unwrap();
        for value in [".", ".."] {
            let error = t.render(&one(value), ",").unwrap_err();
            assert!(matches!(error, TemplateError::DotSegment { .. }), "{error}");
        }
        let query = UrlTemplate::parse("https://api.example.com/v1/items?id={id}").unwrap();
        assert_eq!(query.render(&one(".."), ",").unwrap().query(), Some("id=.."), "harmless in the query");
    }

    proptest::proptest! {
        /// Whatever a key holds, it comes back as exactly one path segment or one query value,
        /// and changes nothing else of the URL (or, for `.` and `..`, is refused).
        #[test]
        fn a_value_is_one_path_segment_or_one_query_value_exactly(value in ".{0,24}") {
            let t = UrlTemplate::parse("https://api.example.com/v1/items/{id}/detail?q={id}&limit=5").unwrap();
            if value == "." || value == ".." {
                proptest::prop_assert!(t.render(&one(&value), ",").is_err());
                return Ok(());
            }
            let url = t.render(&one(&value), ",").unwrap();
            proptest::prop_assert_eq!(url.host_str(), Some("api.example.com"));
            proptest::prop_assert_eq!(url.fragment(), None);
            let segments: Vec<String> = url
                .path_segments()
                .unwrap()
                .map(|s| percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned())
                .collect();
            proptest::prop_assert_eq!(segments, vec!["v1".to_string(), "items".into(), value.clone(), "detail".into()]);
            let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            proptest::prop_assert_eq!(query, vec![("q".to_string(), value.clone()), ("limit".into(), "5".into())]);
        }
    }
}
