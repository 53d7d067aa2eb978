//! Paging through one request's answer, in the style its table names: `offset`, `page`,
//! `cursor`, `link_header` or `next_url`. Paging stops at an empty or short page, a missing or
//! null cursor, no next link, or `has_more_path` false. A cursor, next URL or page seen before
//! is an error (an API that loops would otherwise be asked forever), and so is running past
//! `max_pages`. A next URL is followed as given, but only to the origin the table names: a
//! link elsewhere would carry the credential there.

use std::collections::HashSet;

use reqwest::Url;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::options::{HttpOptions, Paginate};

/// Why paging cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("the API sent the cursor '{0}' a second time; its paging loops (check 'cursor_path' and 'cursor_param')")]
    RepeatedCursor(String),
    #[error("the API sent the next URL {0} a second time; its paging loops")]
    RepeatedUrl(String),
    #[error(
        "page {0} is the same as the page before it; the API ignores the paging parameters (check 'paginate' and its params)"
    )]
    RepeatedPage(usize),
    #[error("stopped after {0} pages ('max_pages'); raise 'max_pages' if the API really has more")]
    TooManyPages(usize),
    #[error(
        "the next page's URL {0} is on another host than the table's LOCATION; hgsql does not follow it (the credential would go there)"
    )]
    OtherOrigin(String),
    #[error("the next page's URL '{0}' is not a URL")]
    BadUrl(String),
    #[error("the Link header '{0}' holds no <URL>; is 'paginate' 'link_header' right for this API?")]
    BadLink(String),
    #[error("'has_more_path' '{0}' finds nothing true or false in the answer; point it at the API's flag")]
    NoHasMore(String),
}

/// The paging state of one request.
pub struct Pager<'a> {
    options: &'a HttpOptions,
    /// The URL of the first page, without paging parameters.
    base: Url,
    pages: usize,
    offset: usize,
    page: usize,
    cursors: HashSet<String>,
    urls: HashSet<String>,
    last_page: Option<u64>,
}

impl<'a> Pager<'a> {
    pub fn new(options: &'a HttpOptions, base: Url) -> Pager<'a> {
        Pager {
            options,
            base,
            pages: 0,
            offset: 0,
            page: options.page_start,
            cursors: HashSet::new(),
            urls: HashSet::new(),
            last_page: None,
        }
    }

    /// The first page's URL.
    pub fn first(&mut self) -> Url {
        let mut url = self.base.clone();
        let o = self.options;
        {
            let mut query = url.query_pairs_mut();
            if o.paginate != Paginate::None
                && let Some(size) = o.page_size
            {
                query.append_pair(&o.limit_param, &size.to_string());
            }
            match o.paginate {
                Paginate::Offset => {
                    query.append_pair(&o.offset_param, "0");
                }
                Paginate::Page => {
                    query.append_pair(&o.page_param, &self.page.to_string());
                }
                _ => {}
            }
        }
        tidy(&mut url);
        self.urls.insert(url.to_string());
        url
    }

    /// After a page of `rows` rows from `current` with `body` and `headers`: the next page's
    /// URL, or `None` when the answer is complete.
    pub fn next(
        &mut self,
        current: &Url,
        body: &Value,
        headers: &HeaderMap,
        rows: usize,
    ) -> Result<Option<Url>, PageError> {
        let o = self.options;
        self.pages += 1;
        if o.paginate == Paginate::None {
            return Ok(None);
        }
        let digest = page_digest(body);
        if self.last_page == Some(digest) && rows > 0 {
            return Err(PageError::RepeatedPage(self.pages));
        }
        self.last_page = Some(digest);
        if let Some(pointer) = &o.has_more_path {
            match body.pointer(pointer) {
                Some(Value::Bool(false)) | Some(Value::Null) => return Ok(None),
                Some(Value::Bool(true)) => {}
                // A pointer that finds nothing is a typo, not the last page: paging would stop
                // after the first page and cache it as complete.
                None => return Err(PageError::NoHasMore(pointer.clone())),
                Some(other) => {
                    return Err(PageError::NoHasMore(format!(
                        "{pointer}' (a {}, not true or false)",
                        super::extract::json_kind(other)
                    )));
                }
            }
        }
        let short = o.page_size.is_some_and(|size| rows < size);
        let next = match o.paginate {
            Paginate::None => return Ok(None),
            Paginate::Offset | Paginate::Page if rows == 0 || (short && o.has_more_path.is_none()) => return Ok(None),
            Paginate::Offset => {
                self.offset += rows;
                self.with_params(&[(&o.offset_param, self.offset.to_string())])
            }
            Paginate::Page => {
                self.page += 1;
                self.with_params(&[(&o.page_param, self.page.to_string())])
            }
            Paginate::Cursor => {
                let pointer = o.cursor_path.as_deref().unwrap_or("");
                let cursor = match body.pointer(pointer) {
                    None | Some(Value::Null) => return Ok(None),
                    Some(Value::String(s)) if s.is_empty() => return Ok(None),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                if rows == 0 {
                    return Ok(None);
                }
                if !self.cursors.insert(cursor.clone()) {
                    return Err(PageError::RepeatedCursor(cursor));
                }
                let param = o.cursor_param.as_deref().unwrap_or("cursor");
                self.with_params(&[(param, cursor)])
            }
            Paginate::LinkHeader => match link_next(headers)? {
                Some(link) => self.follow(current, &link)?,
                None => return Ok(None),
            },
            Paginate::NextUrl => {
                let pointer = o.next_url_path.as_deref().unwrap_or("");
                match body.pointer(pointer) {
                    Some(Value::String(link)) if !link.is_empty() => self.follow(current, link)?,
                    _ => return Ok(None),
                }
            }
        };
        if self.pages >= o.max_pages {
            return Err(PageError::TooManyPages(o.max_pages));
        }
        Ok(Some(next))
    }

    /// The first page's URL with the paging parameters `params` (and the page size) set.
    fn with_params(&self, params: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(size) = self.options.page_size {
                query.append_pair(&self.options.limit_param, &size.to_string());
            }
            for (name, value) in params {
                query.append_pair(name, value);
            }
        }
        url
    }

    /// A next link, resolved against the page it came with, on the table's origin only.
    fn follow(&mut self, current: &Url, link: &str) -> Result<Url, PageError> {
        let next = current.join(link).map_err(|_| PageError::BadUrl(link.to_string()))?;
        if next.origin() != self.base.origin() {
            return Err(PageError::OtherOrigin(shown(&next)));
        }
        if !self.urls.insert(next.to_string()) {
            return Err(PageError::RepeatedUrl(shown(&next)));
        }
        Ok(next)
    }
}

/// A URL for messages: its origin and path, not its query (which may hold what the API put there).
fn shown(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

/// No trailing `?` when no parameter was added.
fn tidy(url: &mut Url) {
    if url.query() == Some("") {
        url.set_query(None);
    }
}

fn page_digest(body: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    hasher.finish()
}

/// The `rel="next"` target of a `Link` header (RFC 8288). Each link is `<target>` and its
/// parameters up to the next `<`: a target may hold commas (`?ids=a,b`), so the header is not
/// split on them. `Err` when a `Link` header holds no `<target>` at all.
fn link_next(headers: &HeaderMap) -> Result<Option<String>, PageError> {
    for value in headers.get_all(reqwest::header::LINK) {
        let text = value.to_str().map_err(|_| PageError::BadLink(String::from_utf8_lossy(value.as_bytes()).into()))?;
        let mut rest = text;
        let mut any = false;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>') else { break };
            let target = &rest[open + 1..open + close];
            let after = &rest[open + close + 1..];
            let params = &after[..after.find('<').unwrap_or(after.len())];
            any = true;
            let next = params.split(';').any(|p| {
                let p = p.trim().trim_end_matches(',').trim().to_ascii_lowercase();
                p.strip_prefix("rel=").is_some_and(|r| r.trim_matches('"').split_whitespace().any(|r| r == "next"))
            });
            if next {
                return Ok(Some(target.trim().to_string()));
            }
            rest = after;
        }
        if !any && !text.trim().is_empty() {
            return Err(PageError::BadLink(text.to_string()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::http::definition::option_map;
    use serde_json::json;

    fn options(pairs: &[(&str, &str)]) -> HttpOptions {
        HttpOptions::parse(&option_map(pairs), &|_| None).unwrap()
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn offset_pages_until_a_short_page() {
        let o = options(&[("paginate", "offset"), ("page_size", "2")]);
        let mut pager = Pager::new(&o, url("https://x.example/items?q=1"));
        let first = pager.first();
        assert_eq!(first.as_str(), "https://x.example/items?q=1&limit=2&offset=0");
        let none = HeaderMap::new();
        let second = pager.next(&first, &json!([1, 2]), &none, 2).unwrap().unwrap();
        assert_eq!(second.as_str(), "https://x.example/items?q=1&limit=2&offset=2");
        assert_eq!(pager.next(&second, &json!([3]), &none, 1).unwrap(), None, "a short page is the last");
    }

    #[test]
    fn the_parameter_names_are_the_tables_own() {
        let o = options(&[("paginate", "offset"), ("page_size", "3"), ("limit_param", "n"), ("offset_param", "skip")]);
        let mut pager = Pager::new(&o, url("https://x.example/items"));
        let first = pager.first();
        assert_eq!(first.as_str(), "https://x.example/items?n=3&skip=0");
        let next = pager.next(&first, &json!([1, 2, 3]), &HeaderMap::new(), 3).unwrap().unwrap();
        assert_eq!(next.as_str(), "https://x.example/items?n=3&skip=3");
        let o = options(&[("paginate", "page"), ("page_param", "p")]);
        let mut pager = Pager::new(&o, url("https://x.example/items"));
        let first = pager.first();
        assert_eq!(first.as_str(), "https://x.example/items?p=0");
        let next = pager.next(&first, &json!([1]), &HeaderMap::new(), 1).unwrap().unwrap();
        assert_eq!(next.as_str(), "https://x.example/items?p=1");
    }

    #[test]
    fn cursors_and_links_loop_into_an_error_and_stay_on_the_origin() {
        let o = options(&[("paginate", "cursor"), ("cursor_path", "/next"), ("cursor_param", "after")]);
        let mut pager = Pager::new(&o, url("https://x.example/items"));
        let first = pager.first();
        let none = HeaderMap::new();
        let second = pager.next(&first, &json!({"next": "c1", "n": 1}), &none, 1).unwrap().unwrap();
        assert_eq!(second.as_str(), "https://x.example/items?after=c1");
        let error = pager.next(&second, &json!({"next": "c1", "n": 2}), &none, 1).unwrap_err();
        assert_eq!(error, PageError::RepeatedCursor("c1".into()));
        assert_eq!(pager.next(&second, &json!({"next": null, "n": 3}), &none, 1).unwrap(), None);

        let o = options(&[("paginate", "link_header")]);
        let mut pager = Pager::new(&o, url("https://x.example/items"));
        let first = pager.first();
        let mut headers = HeaderMap::new();
        headers.insert("link", r#"<https://x.example/items?page=2>; rel="next", <https://x.example/items?page=9>; rel="last""#.parse().unwrap());
        let next = pager.next(&first, &json!([1]), &headers, 1).unwrap().unwrap();
        assert_eq!(next.as_str(), "https://x.example/items?page=2");
        headers.insert("link", r#"<https://evil.example/steal>; rel="next""#.parse().unwrap());
        assert!(matches!(pager.next(&next, &json!([2]), &headers, 1), Err(PageError::OtherOrigin(_))));
    }

    #[test]
    fn a_link_target_may_hold_commas_and_a_link_without_a_target_is_an_error() {
        let o = options(&[("paginate", "link_header")]);
        let mut pager = Pager::new(&o, url("https://x.example/items?ids=a,b"));
        let first = pager.first();
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            r#"<https://x.example/items?ids=a,b&page=1>; rel="prev", <https://x.example/items?ids=a,b&page=3>; rel="next""#
                .parse()
                .unwrap(),
        );
        let next = pager.next(&first, &json!([1]), &headers, 1).unwrap().unwrap();
        assert_eq!(next.as_str(), "https://x.example/items?ids=a,b&page=3");
        headers.insert("link", "page=4".parse().unwrap());
        assert!(matches!(pager.next(&next, &json!([2]), &headers, 1), Err(PageError::BadLink(_))));
    }

    #[test]
    fn has_more_false_stops_and_max_pages_is_an_error() {
        let o = options(&[("paginate", "page"), ("has_more_path", "/more"), ("max_pages", "2"), ("page_start", "1")]);
        let mut pager = Pager::new(&o, url("https://x.example/items"));
        let first = pager.first();
        assert_eq!(first.as_str(), "https://x.example/items?page=1");
        let none = HeaderMap::new();
        assert_eq!(pager.next(&first, &json!({"more": false, "a": 1}), &none, 1).unwrap(), None);
        let mut typo = Pager::new(&o, url("https://x.example/items"));
        let first = typo.first();
        assert!(matches!(typo.next(&first, &json!({"hasMore": true}), &none, 1), Err(PageError::NoHasMore(_))));
        let mut pager = Pager::new(&o, url("https://x.example/items"));
        let first = pager.first();
        let second = pager.next(&first, &json!({"more": true, "a": 1}), &none, 1).unwrap().expect("page 2");
        assert_eq!(second.as_str(), "https://x.example/items?page=2");
        assert_eq!(pager.next(&second, &json!({"more": true, "a": 2}), &none, 1), Err(PageError::TooManyPages(2)));
    }
}
