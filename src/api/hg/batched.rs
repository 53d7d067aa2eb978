//! v2's batched requests: an enrich request of up to 25 companies that pages each company on
//! its own, and a match request of up to 10 inputs. Results are tied to what was asked by id
//! (enrich) or by the echoed input (match), never by position alone (docs/hg-api-v2.md §2).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use super::answer::MatchEntry;
use super::cache::CacheRead;
use super::client::HgClient;
use super::domain::normalize_domain;
use super::endpoint::{Endpoint, Keys, MatchParams, Paging};
use super::error::HgError;
use super::ids::CompanyId;
use super::request::{Companies, EnrichRequest, MatchQuery, Payload};
use super::row::Row;

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

/// Whether `error` is HG refusing a batch for its size: a 422 that points at the companies.
fn batch_too_large(error: &HgError) -> bool {
    matches!(error, HgError::InvalidRequest { pointer, .. } if pointer.starts_with("/companies"))
}

impl HgClient {
    /// A v2 enrich of `ids`: at most the batch HG has shown it takes per request; a 422 on the
    /// batch size halves it, for this request and every later one.
    pub(super) async fn enrich_batch(&self, endpoint: Endpoint, request: &EnrichRequest, ids: &[CompanyId]) -> Fetched {
        let mut fetched = Fetched::default();
        let mut rest = ids;
        while !rest.is_empty() {
            let cap = self.inner.enrich_cap.load(Ordering::Relaxed).max(1);
            let (chunk, after) = rest.split_at(cap.min(rest.len()));
            rest = after;
            match self.enrich_pages(endpoint, request, chunk).await {
                Ok(part) => fetched.merge(part),
                Err(refused) => {
                    let half = chunk.len() / 2;
                    if half == 0 {
                        fetched.error.get_or_insert(refused);
                        continue;
                    }
                    if self.inner.enrich_cap.fetch_min(half, Ordering::Relaxed) > half {
                        tracing::warn!(
                            endpoint = endpoint.name(),
                            "HG refused {} companies in one request ({refused}); sending {half} from now on",
                            chunk.len()
                        );
                    }
                    // Asked again in the smaller batches, with whatever is left.
                    let again: Vec<CompanyId> = chunk.iter().chain(rest).cloned().collect();
                    let rest_fetched = Box::pin(self.enrich_batch(endpoint, request, &again)).await;
                    fetched.merge(rest_fetched);
                    return fetched;
                }
            }
        }
        fetched
    }

    /// One batch: every company's first page in one request, then again only for those that
    /// have more (their total says so, or their page came back full), at the next offset. An
    /// error that refuses the batch for its size is returned as `Err`, for the caller to split.
    async fn enrich_pages(
        &self,
        endpoint: Endpoint,
        request: &EnrichRequest,
        ids: &[CompanyId],
    ) -> Result<Fetched, HgError> {
        let Keys::Enrich { group, .. } = endpoint.spec().keys else {
            return Ok(Fetched {
                error: Some(HgError::Config(format!("HG {}: not an enrich", endpoint.name()))),
                ..Fetched::default()
            });
        };
        let paged = endpoint.spec().paging == Paging::PerCompany;
        let limit = self.config().page_size.max(1);
        let asked: HashSet<&CompanyId> = ids.iter().collect();
        let mut rows: HashMap<CompanyId, Vec<Row>> = HashMap::new();
        let mut pending: Vec<CompanyId> = ids.to_vec();
        let mut offset = 0;
        let mut fetched = Fetched::default();
        loop {
            let mut body = request.body(endpoint.spec().keys, Companies::Batch(&pending));
            if paged {
                body["pagination"] = json!({ group: {"limit": limit, "offset": offset} });
            }
            let page = match self.send(endpoint, &Payload::Body(body)).await {
                Ok(page) => page,
                Err(error) if offset == 0 && batch_too_large(&error) && ids.len() > 1 => return Err(error),
                Err(error) => {
                    // Those still pending may have rows on the page that failed.
                    let pending: HashSet<&CompanyId> = pending.iter().collect();
                    for (id, got) in rows {
                        if pending.contains(&id) {
                            fetched.cut_short.insert(id);
                        } else {
                            fetched.complete.insert(id, got);
                        }
                    }
                    fetched.error = Some(error);
                    return Ok(fetched);
                }
            };
            let mut got_now: HashMap<CompanyId, usize> = HashMap::new();
            for row in page.rows {
                let Some(id) = row.company_id().and_then(|i| CompanyId::parse(i).ok()) else { continue };
                if asked.contains(&id) {
                    *got_now.entry(id.clone()).or_default() += 1;
                    rows.entry(id).or_default().push(row);
                }
            }
            let mut more = Vec::new();
            for (id, total) in &page.companies {
                if !asked.contains(id) {
                    continue;
                }
                let held = rows.entry(id.clone()).or_default().len() as u64;
                let full_page = got_now.get(id).copied().unwrap_or(0) >= limit;
                if paged && full_page && total.is_none_or(|t| held < t) {
                    more.push(id.clone());
                }
            }
            if offset == 0 {
                // Asked and left out (or a stub): HG has nothing for it.
                for id in ids {
                    rows.entry(id.clone()).or_default();
                }
            }
            let more_set: HashSet<&CompanyId> = more.iter().collect();
            for id in &pending {
                if !more_set.contains(id)
                    && let Some(done) = rows.remove(id)
                {
                    fetched.complete.insert(id.clone(), done);
                }
            }
            if more.is_empty() {
                return Ok(fetched);
            }
            pending = more;
            offset += limit;
        }
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
