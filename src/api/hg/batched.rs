//! v2's batched requests: an enrich request of up to 25 companies that pages each company on
//! its own, and a match request of up to 10 inputs. Results are tied to what was asked by id
//! (enrich) or by the echoed input (match), never by position alone (docs/hg-api-v2.md §2).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::answer::{MatchEntry, Page};
use super::cache::CacheRead;
use super::client::HgClient;
use super::domain::normalize_domain;
use super::endpoint::{Endpoint, Keys, MatchParams, Paging};
use super::error::HgError;
use super::ids::CompanyId;
use super::request::{Companies, EnrichRequest, MatchQuery, Payload};
use super::row::{Row, Rows};

/// What a fetch of several companies came to.
#[derive(Default)]
pub(super) struct Fetched {
    /// Companies answered in full (those of a batch that HG has nothing for are absent, or
    /// present with no rows).
    pub complete: HashMap<CompanyId, Vec<Row>>,
    /// Companies returned in the pages of a batch received before a later page failed: charged,
    /// but maybe not all their rows.
    pub cut_short: HashSet<CompanyId>,
    /// The first failure, if any request failed.
    pub error: Option<HgError>,
}

impl Fetched {
    #[cfg(test)]
    pub fn into_result(self) -> Result<HashMap<CompanyId, Vec<Row>>, HgError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.complete),
        }
    }

    /// The outcome of company `id`: its rows when they arrived whole (none when every request
    /// succeeded and HG had nothing for it), else the failure.
    pub fn outcome(&mut self, id: &CompanyId) -> Result<Vec<Row>, HgError> {
        match (self.complete.remove(id), &self.error) {
            (Some(rows), _) => Ok(rows),
            (None, None) => Ok(Vec::new()),
            (None, Some(error)) => Err(error.clone()),
        }
    }

    fn merge(&mut self, other: Fetched) {
        self.complete.extend(other.complete);
        self.cut_short.extend(other.cut_short);
        if self.error.is_none() {
            self.error = other.error;
        }
    }
}

/// Whether `error` is HG refusing a batch for its size: a 422 that points at the list of
/// companies itself (`/companies/ids`), not at one of them (`/companies/ids/3`), which halving
/// would not cure.
fn batch_too_large(error: &HgError) -> bool {
    matches!(error, HgError::InvalidRequest { pointer, .. }
        if ["/companies", "/companies/ids", "/companies/domains"].contains(&pointer.as_str()))
}

/// One table's lookup that rides on the enrich requests of another's (v2: one request asks
/// for several field groups). The planner pairs two scans only where the second would ask
/// for exactly the companies the first asks for, so no credit is spent that separate requests
/// would not spend (docs/architecture.md, "Shared enrich requests").
#[derive(Debug)]
pub struct Companion {
    pub endpoint: Endpoint,
    pub request: EnrichRequest,
    /// Where the rows fetched for the companion wait for its scan.
    pub handoff: Arc<Handoff>,
}

/// Rows fetched for one scan by another's requests, until the scan takes them. Owned by the
/// plan that paired the two, so whatever is never taken goes with it.
#[derive(Debug, Default)]
pub struct Handoff {
    rows: Mutex<HashMap<CompanyId, Rows>>,
}

impl Handoff {
    pub(super) fn put(&self, id: CompanyId, rows: Rows) {
        self.rows.lock().expect("handoff").insert(id, rows);
    }

    /// The rows waiting for `ids`, taken (each is handed over once).
    pub fn take(&self, ids: &[CompanyId]) -> Vec<(CompanyId, Rows)> {
        let mut rows = self.rows.lock().expect("handoff");
        ids.iter().filter_map(|id| rows.remove(id).map(|r| (id.clone(), r))).collect()
    }
}

/// One field group of a v2 enrich request.
#[derive(Clone, Copy)]
pub(super) struct Part<'a> {
    pub endpoint: Endpoint,
    pub request: &'a EnrichRequest,
}

impl Part<'_> {
    fn group(&self) -> &'static str {
        match self.endpoint.spec().keys {
            Keys::Enrich { group, .. } => group,
            _ => "",
        }
    }

    fn paged(&self) -> bool {
        self.endpoint.spec().paging == Paging::PerCompany
    }
}

/// The body asking for every part's group for `ids`: the first part's, with the others'
/// groups added to `fields`, their filters beside its own (each nests under its group) and
/// each paged group's page at `offset`.
pub(super) fn body(parts: &[Part], ids: &[CompanyId], limit: usize, offset: usize) -> Value {
    let mut body = parts[0].request.body(parts[0].endpoint.spec().keys, Companies::Batch(ids));
    for part in &parts[1..] {
        if let Some(fields) = body["fields"].as_array_mut() {
            fields.push(json!(part.group()));
        }
        if let Ok(Value::Object(filters)) = serde_json::to_value(&part.request.filters)
            && !filters.is_empty()
        {
            let into = body.as_object_mut().expect("a body").entry("filters").or_insert_with(|| json!({}));
            if let Some(into) = into.as_object_mut() {
                into.extend(filters);
            }
        }
    }
    for part in parts.iter().filter(|p| p.paged()) {
        body["pagination"][part.group()] = json!({"limit": limit, "offset": offset});
    }
    body
}

/// One part's rows so far, per company asked.
struct Gathered<'a> {
    asked: HashSet<&'a CompanyId>,
    rows: HashMap<CompanyId, Vec<Row>>,
    fetched: Fetched,
}

impl<'a> Gathered<'a> {
    fn new(ids: &'a [CompanyId]) -> Gathered<'a> {
        Gathered { asked: ids.iter().collect(), rows: HashMap::new(), fetched: Fetched::default() }
    }

    /// Takes in one page of `pending` companies at `offset`; returns those that have more
    /// (their page came back full, and their total, when given, says so). The others are
    /// complete; at the first page, an asked company left out (or a stub) has no rows.
    fn absorb(&mut self, page: Page, pending: &[CompanyId], limit: usize, paged: bool, first: bool) -> Vec<CompanyId> {
        let mut got_now: HashMap<CompanyId, usize> = HashMap::new();
        for row in page.rows {
            let Some(id) = row.company_id().and_then(|i| CompanyId::parse(i).ok()) else { continue };
            if self.asked.contains(&id) {
                *got_now.entry(id.clone()).or_default() += 1;
                self.rows.entry(id).or_default().push(row);
            }
        }
        let mut more = Vec::new();
        for (id, total) in &page.companies {
            if !self.asked.contains(id) {
                continue;
            }
            let held = self.rows.entry(id.clone()).or_default().len() as u64;
            let full_page = got_now.get(id).copied().unwrap_or(0) >= limit;
            if paged && full_page && total.is_none_or(|t| held < t) {
                more.push(id.clone());
            }
        }
        if first {
            for id in pending {
                self.rows.entry(id.clone()).or_default();
            }
        }
        let more_set: HashSet<&CompanyId> = more.iter().collect();
        for id in pending {
            if !more_set.contains(id)
                && let Some(done) = self.rows.remove(id)
            {
                self.fetched.complete.insert(id.clone(), done);
            }
        }
        more
    }

    /// The request for `pending` failed: what they received so far was paid for, but may not
    /// be all their rows.
    fn failed(mut self, error: HgError) -> Fetched {
        for (id, _) in self.rows.drain() {
            self.fetched.cut_short.insert(id);
        }
        self.fetched.error = Some(error);
        self.fetched
    }
}

impl HgClient {
    /// A v2 enrich of `ids` for every part (one field group each) at once: at most the batch HG
    /// has shown it takes per request; a 422 on the batch size halves it, for this request and
    /// every later one. One outcome per part.
    pub(super) async fn enrich_batch(&self, parts: &[Part<'_>], ids: &[CompanyId]) -> Vec<Fetched> {
        let mut fetched: Vec<Fetched> = parts.iter().map(|_| Fetched::default()).collect();
        let mut rest = ids;
        while !rest.is_empty() {
            let cap = self.inner.enrich_cap.load(Ordering::Relaxed).max(1);
            let (chunk, after) = rest.split_at(cap.min(rest.len()));
            rest = after;
            match self.enrich_pages(parts, chunk).await {
                Ok(outcomes) => fetched.iter_mut().zip(outcomes).for_each(|(f, o)| f.merge(o)),
                Err(refused) => {
                    let half = chunk.len() / 2;
                    if self.inner.enrich_cap.fetch_min(half, Ordering::Relaxed) > half {
                        tracing::warn!(
                            endpoint = parts[0].endpoint.name(),
                            "HG refused {} companies in one request ({refused}); sending {half} from now on",
                            chunk.len()
                        );
                    }
                    // Asked again in the smaller batches, with whatever is left.
                    let again: Vec<CompanyId> = chunk.iter().chain(rest).cloned().collect();
                    let outcomes = Box::pin(self.enrich_batch(parts, &again)).await;
                    fetched.iter_mut().zip(outcomes).for_each(|(f, o)| f.merge(o));
                    return fetched;
                }
            }
        }
        fetched
    }

    /// One batch: every company's first page of every part in one request, then, part by
    /// part, again only for the companies that have more, at the next offset. An error that
    /// refuses the batch for its size is returned as `Err`, for the caller to split.
    async fn enrich_pages(&self, parts: &[Part<'_>], ids: &[CompanyId]) -> Result<Vec<Fetched>, HgError> {
        let limit = self.config().page_size.max(1);
        let endpoints: Vec<Endpoint> = parts.iter().map(|p| p.endpoint).collect();
        let pages = match self.send_parts(&endpoints, &Payload::Body(body(parts, ids, limit, 0))).await {
            Ok(pages) => pages,
            Err(error) if batch_too_large(&error) && ids.len() > 1 => return Err(error),
            Err(error) => {
                return Ok(parts
                    .iter()
                    .map(|_| Fetched { error: Some(error.clone()), ..Fetched::default() })
                    .collect());
            }
        };
        let mut out = Vec::with_capacity(parts.len());
        for (part, page) in parts.iter().zip(pages) {
            let mut gathered = Gathered::new(ids);
            let mut pending = gathered.absorb(page, ids, limit, part.paged(), true);
            let mut offset = 0;
            let mut failure = None;
            while !pending.is_empty() {
                offset += limit;
                let body = body(std::slice::from_ref(part), &pending, limit, offset);
                match self.send(part.endpoint, &Payload::Body(body)).await {
                    Ok(page) => pending = gathered.absorb(page, &pending, limit, true, false),
                    Err(error) => {
                        failure = Some(error);
                        break;
                    }
                }
            }
            out.push(match failure {
                Some(error) => gathered.failed(error),
                None => gathered.fetched,
            });
        }
        Ok(out)
    }

    /// The matches of each of `queries` (up to the endpoint's batch, one `limit`) in one v2
    /// request, reading the cache first; every query gets its own outcome.
    pub(super) async fn match_batch(
        &self,
        endpoint: Endpoint,
        queries: Vec<MatchQuery>,
        read: CacheRead,
    ) -> Vec<(MatchQuery, Result<Vec<Row>, HgError>)> {
        let Keys::MatchBatch { params, .. } = endpoint.spec().keys else {
            let error = HgError::Config(format!("HG {}: not a batched match endpoint", endpoint.name()));
            return queries.into_iter().map(|q| (q, Err(error.clone()))).collect();
        };
        let mut out = Vec::with_capacity(queries.len());
        let mut misses: Vec<MatchQuery> = Vec::new();
        for query in queries {
            match self.cached(endpoint, &item(&query), read) {
                Some(rows) => out.push((query, Ok(rows))),
                None => misses.push(query),
            }
        }
        // One `limit` a request: queries of another limit go in a request of their own.
        let mut by_limit: Vec<(u32, Vec<MatchQuery>)> = Vec::new();
        for query in misses {
            match by_limit.iter_mut().find(|(limit, _)| *limit == query.limit) {
                Some((_, group)) => group.push(query),
                None => by_limit.push((query.limit, vec![query])),
            }
        }
        for (limit, group) in by_limit {
            let inputs: Vec<Value> = group.iter().map(|q| input(&params, q)).collect();
            let body = json!({ "companies": inputs, params.limit: limit.clamp(1, params.max_limit) });
            match self.send(endpoint, &Payload::Body(body)).await {
                Ok(page) => {
                    let mut tied = tie(&group, page.matches);
                    for (i, query) in group.into_iter().enumerate() {
                        let rows = std::mem::take(&mut tied[i]);
                        self.keep(endpoint, item(&query), &rows);
                        out.push((query, Ok(rows)));
                    }
                }
                Err(error) => out.extend(group.into_iter().map(|q| (q, Err(error.clone())))),
            }
        }
        out
    }
}

/// The cache item of a match query.
fn item(query: &MatchQuery) -> String {
    serde_json::to_string(query).expect("serialises")
}

/// One match input as v2 takes it: only what is given.
fn input(params: &MatchParams, query: &MatchQuery) -> Value {
    let mut object = serde_json::Map::new();
    for (key, value) in
        [(params.domain, &query.domain_name), (params.name, &query.company_name), (params.country, &query.country_code)]
    {
        if let Some(value) = value {
            object.insert(key.to_string(), Value::String(value.clone()));
        }
    }
    Value::Object(object)
}

/// What identifies an input, compared loosely: the domain normalised, the name and country
/// without case or blanks around.
fn identity(domain: Option<&str>, name: Option<&str>, country: Option<&str>) -> [Option<String>; 3] {
    let loose = |v: Option<&str>| v.map(|v| v.trim().to_lowercase()).filter(|v| !v.is_empty());
    [domain.and_then(normalize_domain).or_else(|| loose(domain)), loose(name), loose(country)]
}

/// The candidates of each query, tied to it by the input the entry echoes, else by the index
/// it gives, else by position when there is one entry per input, else (a flat list of
/// candidates) by the candidate's domain. A query no entry is tied to has no match.
fn tie(queries: &[MatchQuery], entries: Vec<MatchEntry>) -> Vec<Vec<Row>> {
    let mut out: Vec<Vec<Row>> = vec![Vec::new(); queries.len()];
    let identities: Vec<[Option<String>; 3]> = queries
        .iter()
        .map(|q| identity(q.domain_name.as_deref(), q.company_name.as_deref(), q.country_code.as_deref()))
        .collect();
    let by_position = entries.len() == queries.len() && entries.iter().all(|e| !e.flat);
    for (position, entry) in entries.into_iter().enumerate() {
        let target = if let Some([d, n, c]) = &entry.echo {
            let echoed = identity(d.as_deref(), n.as_deref(), c.as_deref());
            identities.iter().position(|i| *i == echoed)
        } else if let Some(index) = entry.index.filter(|i| *i < queries.len()) {
            Some(index)
        } else if by_position {
            Some(position)
        } else if entry.flat {
            let domain = entry.rows.first().and_then(|r| r.get("domain_name")).and_then(|v| v.as_str());
            let domain = domain.and_then(normalize_domain);
            identities.iter().position(|i| i[0].is_some() && i[0] == domain)
        } else {
            None
        };
        if let Some(target) = target {
            out[target].extend(entry.rows);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::FieldValue;

    #[test]
    fn only_a_refusal_of_the_whole_list_halves_the_batch() {
        let refused = |pointer: &str| HgError::InvalidRequest {
            endpoint: "v2 firmographics",
            pointer: pointer.into(),
            detail: "no".into(),
        };
        assert!(batch_too_large(&refused("/companies/ids")));
        assert!(batch_too_large(&refused("/companies")));
        assert!(!batch_too_large(&refused("/companies/ids/3")), "one bad id: halving would not cure it");
        assert!(!batch_too_large(&refused("/fields/0")));
    }

    fn query(domain: &str) -> MatchQuery {
        MatchQuery { domain_name: Some(domain.into()), limit: 1, ..MatchQuery::default() }
    }

    fn row(id: &str, domain: &str) -> Row {
        Row {
            fields: [
                ("company_id".to_string(), FieldValue::Text(id.into())),
                ("domain_name".to_string(), FieldValue::Text(domain.into())),
            ]
            .into(),
        }
    }

    fn ids(tied: &[Vec<Row>]) -> Vec<Vec<&str>> {
        tied.iter().map(|rows| rows.iter().filter_map(Row::company_id).collect()).collect()
    }

    #[test]
    fn entries_are_tied_by_echo_then_index_then_position_then_domain() {
        let queries = [query("a.com"), query("b.com"), query("c.com")];
        let echoed = |domain: &str, id: &str| MatchEntry {
            echo: Some([Some(format!("https://www.{domain}/")), None, None]),
            rows: vec![row(id, domain)],
            ..MatchEntry::default()
        };
        // Out of order, and one input left out: the echo decides.
        let tied = tie(&queries, vec![echoed("c.com", "C"), echoed("a.com", "A")]);
        assert_eq!(ids(&tied), [vec!["A"], vec![], vec!["C"]]);
        let indexed = MatchEntry { index: Some(1), rows: vec![row("B", "b.com")], ..MatchEntry::default() };
        assert_eq!(ids(&tie(&queries, vec![indexed])), [vec![], vec!["B"], vec![]]);
        let plain = |id: &str| MatchEntry { rows: vec![row(id, "x.com")], ..MatchEntry::default() };
        assert_eq!(ids(&tie(&queries, vec![plain("1"), plain("2"), plain("3")])), [vec!["1"], vec!["2"], vec!["3"]]);
        assert_eq!(
            ids(&tie(&queries, vec![plain("1"), plain("2")])),
            [vec![] as Vec<&str>, vec![], vec![]],
            "no guess"
        );
        let flat =
            |id: &str, domain: &str| MatchEntry { flat: true, rows: vec![row(id, domain)], ..MatchEntry::default() };
        let tied = tie(&queries, vec![flat("B", "B.com"), flat("Z", "z.com"), flat("B2", "b.com")]);
        assert_eq!(ids(&tied), [vec![], vec!["B", "B2"], vec![]]);
    }
}
