//! What an HG scan does once polled: wait for the join's keys, read them, and turn them into
//! lookups whose answers stream out as record batches.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, Gauge, MetricBuilder, Time};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use super::keys::{self, Known};
use super::options::{OnError, ScanOptions};
use super::pushdown::Pushed;
use super::request::{api_fields, api_filters, company_request, contradicts, missing_keys_message, pinned};
use crate::api::{
    CompanyId, HgClient, HgError, ListQuery, MatchQuery, Method, Row, Rows, Sharing, Tally, normalize_domain,
};
use crate::tables::arrow::{Record, to_batch};
use crate::tables::{Lookup, TableSpec};

/// Companies (or match queries) whose rows go into one record batch: small enough that rows
/// flow out while later lookups are still under way.
const LOOKUPS_PER_BATCH: usize = 64;
/// Match lookups one scan may make from a cross product of separate lists of domains, names and
/// countries. One list, however long, is not capped: each of its values is one request.
const MAX_MATCH_COMBINATIONS: usize = 100_000;

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{0}")]
    NoKeys(String),
    #[error("{}", super::keys::unreadable_message(&format!("hg.{table}"), column, shape))]
    UnreadableKeys { table: &'static str, column: &'static str, shape: String },
    #[error(
        "hg.{table}: waited {idle:?} for the keys of its join while nothing happened; the join never produced them. \
         This is a planning bug in hgsql: please report the query"
    )]
    JoinTimeout { table: &'static str, idle: Duration },
    #[error(
        "hg.companies: the separate key lists {lists} make {count} combinations, each a request (at most \
         {MAX_MATCH_COMBINATIONS} from a cross product); look companies up by one of these columns, or narrow the \
         lists (a WHERE on the side they come from)"
    )]
    TooManyMatches { count: usize, lists: String },
}

fn external(error: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

/// The scan's counters in `EXPLAIN ANALYZE`, filled from its own share of the client's
/// requests.
struct Report {
    tally: Arc<Tally>,
    api_calls: Gauge,
    retries: Gauge,
    http_429: Gauge,
    keys_requested: Count,
    cache_hits: Gauge,
    output_rows: Count,
    join_wait: Time,
    rate_limit_wait: Time,
    rate_wait_reported: Mutex<Duration>,
}

impl Report {
    fn new(metrics: &ExecutionPlanMetricsSet, partition: usize, tally: Arc<Tally>) -> Report {
        Report {
            tally,
            api_calls: MetricBuilder::new(metrics).gauge("api_calls", partition),
            retries: MetricBuilder::new(metrics).gauge("retries", partition),
            http_429: MetricBuilder::new(metrics).gauge("http_429", partition),
            keys_requested: MetricBuilder::new(metrics).counter("keys_requested", partition),
            cache_hits: MetricBuilder::new(metrics).gauge("cache_hits", partition),
            output_rows: MetricBuilder::new(metrics).output_rows(partition),
            join_wait: MetricBuilder::new(metrics).subset_time("join_wait", partition),
            rate_limit_wait: MetricBuilder::new(metrics).subset_time("rate_limit_wait", partition),
            rate_wait_reported: Mutex::new(Duration::ZERO),
        }
    }

    fn update(&self) {
        let now = self.tally.snapshot();
        self.api_calls.set(now.calls as usize);
        self.retries.set(now.retries as usize);
        self.http_429.set(now.throttled as usize);
        self.cache_hits.set(now.cache_hits as usize);
        let mut reported = self.rate_wait_reported.lock().expect("rate wait");
        if now.rate_wait > *reported {
            self.rate_limit_wait.add_duration(now.rate_wait - *reported);
            *reported = now.rate_wait;
        }
    }
}

/// What a scan was planned to do: its table, the client handle, the projected columns, the
/// pushed predicates, the row limit and the join filters it waits for.
pub(super) struct ScanInputs {
    pub spec: &'static TableSpec,
    pub client: HgClient,
    pub projection: Option<Vec<usize>>,
    pub pushed: Pushed,
    pub limit: Option<usize>,
    pub join_filters: Vec<Arc<dyn PhysicalExpr>>,
    pub options: ScanOptions,
    pub sharing: Sharing,
    /// Let go of the join filters' key lists once read (this scan alone reads them).
    pub release_keys: bool,
}

/// Everything one execution of a scan needs, owned, so the stream is `'static`.
struct Run {
    spec: &'static TableSpec,
    /// The scan's handle on the session's client, counting into the report.
    client: HgClient,
    projection: Option<Vec<usize>>,
    pushed: Pushed,
    limit: Option<usize>,
    join_filters: Vec<Arc<dyn PhysicalExpr>>,
    options: ScanOptions,
    sharing: Sharing,
    release_keys: bool,
    fields: Vec<String>,
    report: Arc<Report>,
}

/// The stream of a scan. Nothing happens until it is polled.
pub(super) fn stream(
    scan: ScanInputs,
    schema: SchemaRef,
    partition: usize,
    metrics: &ExecutionPlanMetricsSet,
) -> SendableRecordBatchStream {
    let tally = Arc::new(Tally::default());
    let report = Arc::new(Report::new(metrics, partition, tally.clone()));
    let limit = scan.limit;
    let run = Run {
        fields: api_fields(scan.spec, scan.projection.as_deref()),
        spec: scan.spec,
        client: scan.client.with_tally(tally),
        projection: scan.projection,
        pushed: scan.pushed,
        limit,
        join_filters: scan.join_filters,
        options: scan.options,
        sharing: scan.sharing,
        release_keys: scan.release_keys,
        report: report.clone(),
    };
    let batches = stream::once(run.start()).try_flatten();
    let batches = limit_rows(batches.boxed(), limit);
    let counted = report.clone();
    let batches = batches
        .inspect(move |item| {
            if let Ok(batch) = item {
                counted.output_rows.add(batch.num_rows());
            }
            counted.update();
        })
        .map(Some)
        // Once more at the end, for requests that produced no rows.
        .chain(stream::once(async move {
            report.update();
            None
        }))
        .filter_map(std::future::ready);
    Box::pin(RecordBatchStreamAdapter::new(schema, batches.boxed()))
}

/// Ends `batches` after `limit` rows, without asking for more.
pub(super) fn limit_rows(
    batches: BoxStream<'static, Result<RecordBatch>>,
    limit: Option<usize>,
) -> BoxStream<'static, Result<RecordBatch>> {
    let Some(limit) = limit else { return batches };
    batches
        .scan(0usize, move |seen, item| {
            if *seen >= limit {
                return std::future::ready(None);
            }
            std::future::ready(Some(item.map(|batch| {
                let take = (limit - *seen).min(batch.num_rows());
                *seen += take;
                batch.slice(0, take)
            })))
        })
        .boxed()
}

impl Run {
    async fn start(self) -> Result<BoxStream<'static, Result<RecordBatch>>> {
        self.wait_for_joins().await?;
        match self.spec.lookup {
            Lookup::ByCompany { key } => self.by_company(key),
            Lookup::ByMatch { domain, name, country } => self.by_match(domain, name, country),
            Lookup::Listing => self.listing().await,
        }
    }

    /// Waits until every join filter is complete. Gives up only when the session's client has
    /// made no progress for the idle limit: a join fed by an earlier HG lookup may take long.
    async fn wait_for_joins(&self) -> Result<()> {
        let progress = || self.session_progress();
        match super::joins::wait_complete(&self.join_filters, self.options.join_wait_idle, &progress).await {
            Ok(waited) => {
                self.report.join_wait.add_duration(waited);
                Ok(())
            }
            Err(idle) => Err(external(ScanError::JoinTimeout { table: self.spec.name, idle })),
        }
    }

    /// Exchanges finished by any API client (HG or an HTTP table) and HG rows so far: changes
    /// while any lookup runs.
    fn session_progress(&self) -> (u64, u64) {
        let total = self.client.metrics().total();
        (crate::api::transport::activity(), total.rows)
    }

    /// Literal values of `column` intersected with what every join on it allows.
    fn known(&self, column: &'static str) -> Known {
        let literal = self.pushed.keys.iter().find(|(c, _)| c == column).map(|(_, v)| v);
        keys::known(literal, &self.join_filters, column)
    }

    /// Lets go of the join filters' key lists, once every key is read, when no other scan
    /// reads them.
    fn keys_read(&self) {
        if self.release_keys {
            super::joins::release(&self.join_filters);
        }
    }

    fn no_keys(&self) -> DataFusionError {
        external(ScanError::NoKeys(missing_keys_message(self.spec)))
    }

    fn by_company(self, key: &'static str) -> Result<BoxStream<'static, Result<RecordBatch>>> {
        let raw = match self.known(key) {
            Known::Values(values) => values,
            Known::Absent => return Err(self.no_keys()),
            Known::Unreadable(shape) => {
                return Err(external(ScanError::UnreadableKeys { table: self.spec.name, column: key, shape }));
            }
        };
        self.keys_read();
        // One lookup per company, whatever the spellings of its id; each spelling gets its rows
        // back under the spelling asked for, so the join holds.
        let mut spellings: BTreeMap<CompanyId, Vec<String>> = BTreeMap::new();
        let mut invalid = Vec::new();
        for value in raw {
            match CompanyId::parse(&value) {
                Ok(id) => spellings.entry(id).or_default().push(value),
                Err(_) => invalid.push(value),
            }
        }
        if !invalid.is_empty() {
            let shown: Vec<String> = invalid.iter().take(3).map(|v| format!("'{v}'")).collect();
            let more = if invalid.len() > 3 { format!(" and {} more", invalid.len() - 3) } else { String::new() };
            tracing::warn!(
                "hg.{}: {} value(s) of {key} are not HG ids (up to 32 hex digits) and match nothing: {}{more}",
                self.spec.name,
                invalid.len(),
                shown.join(", ")
            );
        }
        self.report.keys_requested.add(spellings.len());
        let request = company_request(self.spec, &self.pushed, Some(self.fields.clone()));
        let ids: Vec<CompanyId> = spellings.keys().cloned().collect();
        // What the cache holds goes out at once; only the rest is fetched.
        let lookup = self.client.plan_companies_sharing(self.spec.endpoint, request, ids, self.sharing.clone());
        let spellings = Arc::new(spellings);
        let (spec, projection) = (self.spec, self.projection.clone());
        let on_error = self.options.on_error;
        let batches = lookup.fetch().ready_chunks(LOOKUPS_PER_BATCH).map(move |chunk| {
            let chunk = chunk
                .into_iter()
                .map(|(id, result)| Ok((id, kept(spec, result, on_error)?)))
                .collect::<Result<Vec<(CompanyId, Result<Rows, String>)>>>()?;
            company_batch(spec, projection.as_deref(), key, &chunk, &spellings)
        });
        Ok(batches.boxed())
    }

    fn by_match(
        self,
        domain: &'static str,
        name: &'static str,
        country: &'static str,
    ) -> Result<BoxStream<'static, Result<RecordBatch>>> {
        let mut dimensions = Vec::new();
        for column in [domain, name, country] {
            dimensions.push(match self.known(column) {
                Known::Values(values) => Some(values),
                Known::Absent => None,
                Known::Unreadable(shape) => {
                    return Err(external(ScanError::UnreadableKeys { table: self.spec.name, column, shape }));
                }
            });
        }
        let [domains, names, countries]: [Option<BTreeSet<String>>; 3] = dimensions.try_into().expect("three");
        self.keys_read();
        if domains.is_none() && names.is_none() {
            return Err(self.no_keys());
        }
        // Each dimension as (value echoed, value sent); a missing one is a single "not given".
        let domains = options(domains, normalize_domain);
        let names = options(names, |n| Some(n.trim().to_string()).filter(|n| !n.is_empty()));
        let countries = options(countries, |c| {
            let c = c.trim().to_ascii_uppercase();
            (c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic())).then_some(c)
        });
        let count = domains.len() * names.len() * countries.len();
        // Only a cross product of two lists or more multiplies requests beyond the keys given.
        let lists: Vec<String> = [(domain, domains.len()), (name, names.len()), (country, countries.len())]
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(column, n)| format!("{column} ({n} values)"))
            .collect();
        if lists.len() > 1 && count > MAX_MATCH_COMBINATIONS {
            return Err(external(ScanError::TooManyMatches { count, lists: lists.join(" × ") }));
        }
        let limit = self.pushed.match_limit.unwrap_or(1);
        // Per query, the spellings that asked for it, as places in the three lists: a million
        // accounts keep 12 bytes a spelling here, not a copy of its text.
        let mut echoes: HashMap<MatchQuery, Vec<Echo>> = HashMap::new();
        let mut queries = Vec::new();
        for (di, d) in domains.iter().enumerate() {
            for (ni, n) in names.iter().enumerate() {
                if d.is_none() && n.is_none() {
                    continue;
                }
                for (ci, c) in countries.iter().enumerate() {
                    let query = MatchQuery {
                        domain_name: d.as_ref().map(|(_, sent)| sent.clone()),
                        company_name: n.as_ref().map(|(_, sent)| sent.clone()),
                        country_code: c.as_ref().map(|(_, sent)| sent.clone()),
                        limit,
                    };
                    let echo = [di, ni, ci].map(|i| u32::try_from(i).expect("fewer than 2^32 values a list"));
                    match echoes.get_mut(&query) {
                        Some(list) => {
                            // Most queries have one spelling or two: no room kept for more.
                            list.reserve_exact(1);
                            list.push(echo);
                        }
                        None => {
                            echoes.insert(query.clone(), vec![echo]);
                            queries.push(query);
                        }
                    }
                }
            }
        }
        let asked = Arc::new([domains, names, countries].map(asked_only));
        self.report.keys_requested.add(queries.len());
        let lookup = self.client.plan_matches(self.spec.endpoint, queries);
        let echoes = Arc::new(echoes);
        let (spec, projection) = (self.spec, self.projection.clone());
        let columns = [domain, name, country];
        let on_error = self.options.on_error;
        let batches = lookup.fetch().ready_chunks(LOOKUPS_PER_BATCH).map(move |chunk| {
            let chunk = chunk
                .into_iter()
                .map(|(query, result)| Ok((query, kept(spec, result, on_error)?)))
                .collect::<Result<Vec<(MatchQuery, Result<Vec<Row>, String>)>>>()?;
            match_batch(spec, projection.as_deref(), columns, &chunk, &echoes, &asked)
        });
        Ok(batches.boxed())
    }

    /// A listing, page by page as the stream is read: rows are ranked by their place in the
    /// answer, criteria show the value the query pins them to, and predicates that admit no
    /// row ask nothing.
    async fn listing(self) -> Result<BoxStream<'static, Result<RecordBatch>>> {
        let (spec, endpoint) = (self.spec, self.spec.endpoint);
        if contradicts(spec, &self.pushed) {
            return Ok(stream::empty().boxed());
        }
        let max_rows = spec.max_rows();
        let query = if endpoint.spec().method == Method::Post {
            let filters = api_filters(spec, &self.pushed);
            let filters = (!filters.is_empty()).then(|| serde_json::to_value(&filters).expect("serialises"));
            let fields = endpoint.spec().takes_fields.then(|| self.fields.clone());
            ListQuery::Search { fields, filters }
        } else {
            ListQuery::Catalog { name: self.pushed.name.clone() }
        };
        let row_limit = self.limit.map_or(max_rows, |l| l.min(max_rows));
        let pinned = Arc::new(pinned(spec, &self.pushed));
        let projection = self.projection.clone();
        let pages = self.client.list_pages(endpoint, &query, Some(row_limit));
        let batches = pages.map_err(external).scan(0usize, move |seen, page| {
            let first = *seen;
            let batch = page.and_then(|rows| {
                *seen += rows.len();
                if *seen >= max_rows {
                    tracing::warn!(
                        table = spec.name,
                        max_rows,
                        "HG returns at most {max_rows} rows here; narrow the query"
                    );
                }
                let echo: Vec<(&'static str, Option<&str>)> =
                    pinned.iter().map(|(column, value)| (*column, Some(value.as_str()))).collect();
                let records: Vec<Record> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, row)| Record { row, echo: &echo, rank: Some((first + i + 1) as i64), failure: None })
                    .collect();
                to_batch(spec, projection.as_deref(), &records).map_err(DataFusionError::from)
            });
            std::future::ready(Some(batch))
        });
        Ok(batches.boxed())
    }
}

/// A spelling that asked for a match query: its places in the domain, name and country lists
/// ([`options`]), whose asked values are echoed in match_domain, match_name and
/// match_country_code.
type Echo = [u32; 3];

/// One match dimension's asked values, the sent ones dropped (the queries hold those).
fn asked_only(values: Vec<Option<(String, String)>>) -> Vec<Option<Box<str>>> {
    let mut asked: Vec<Option<Box<str>>> =
        values.into_iter().map(|value| value.map(|(asked, _)| asked.into_boxed_str())).collect();
    asked.shrink_to_fit();
    asked
}

/// The values of one match dimension as (asked, sent) pairs, dropping those that cannot be
/// sent (blank, not a domain); `[None]` when the dimension is not given at all.
fn options(
    values: Option<BTreeSet<String>>,
    normalise: impl Fn(&str) -> Option<String>,
) -> Vec<Option<(String, String)>> {
    match values {
        None => vec![None],
        Some(values) => {
            values.into_iter().filter_map(|asked| normalise(&asked).map(|sent| Some((asked, sent)))).collect()
        }
    }
}

/// A lookup's outcome as a batch builder takes it: its rows, or (under `hg.on_error = 'null'`
/// and for an error about this lookup alone) the message its row carries. Anything else fails
/// the query.
fn kept<T>(spec: &TableSpec, result: Result<T, HgError>, on_error: OnError) -> Result<Result<T, String>> {
    match result {
        Ok(rows) => Ok(Ok(rows)),
        Err(error) if on_error == OnError::Null && error.is_per_lookup() => Ok(Err(error.to_string())),
        Err(error) => Err(external(error.for_table(spec.name))),
    }
}

/// The row a failed lookup leaves: its key, no data.
static NO_DATA: std::sync::LazyLock<Row> = std::sync::LazyLock::new(Row::default);

fn company_batch(
    spec: &TableSpec,
    projection: Option<&[usize]>,
    key: &'static str,
    chunk: &[(CompanyId, Result<Rows, String>)],
    spellings: &BTreeMap<CompanyId, Vec<String>>,
) -> Result<RecordBatch> {
    let mut echoes: Vec<[(&'static str, Option<&str>); 1]> = Vec::new();
    let mut entries: Vec<(usize, &Row, Option<&str>)> = Vec::new();
    for (id, outcome) in chunk {
        for spelling in spellings.get(id).into_iter().flatten() {
            echoes.push([(key, Some(spelling.as_str()))]);
            match outcome {
                Ok(rows) => entries.extend(rows.iter().map(|row| (echoes.len() - 1, row, None))),
                Err(message) => entries.push((echoes.len() - 1, &NO_DATA, Some(message.as_str()))),
            }
        }
    }
    let records: Vec<Record> =
        entries.iter().map(|&(e, row, failure)| Record { row, echo: &echoes[e], rank: None, failure }).collect();
    Ok(to_batch(spec, projection, &records)?)
}

fn match_batch(
    spec: &TableSpec,
    projection: Option<&[usize]>,
    columns: [&'static str; 3],
    chunk: &[(MatchQuery, Result<Vec<Row>, String>)],
    echoes: &HashMap<MatchQuery, Vec<Echo>>,
    asked: &[Vec<Option<Box<str>>>; 3],
) -> Result<RecordBatch> {
    let mut echo_rows: Vec<[(&'static str, Option<&str>); 3]> = Vec::new();
    let mut records_at: Vec<(usize, &Row, Option<i64>, Option<&str>)> = Vec::new();
    for (query, outcome) in chunk {
        for echo in echoes.get(query).into_iter().flatten() {
            echo_rows.push([0, 1, 2].map(|i| (columns[i], asked[i][echo[i] as usize].as_deref())));
            match outcome {
                Ok(rows) => {
                    for (rank, row) in rows.iter().enumerate() {
                        records_at.push((echo_rows.len() - 1, row, Some(rank as i64 + 1), None));
                    }
                }
                Err(message) => records_at.push((echo_rows.len() - 1, &NO_DATA, None, Some(message.as_str()))),
            }
        }
    }
    let records: Vec<Record> =
        records_at.iter().map(|&(e, row, rank, failure)| Record { row, echo: &echo_rows[e], rank, failure }).collect();
    Ok(to_batch(spec, projection, &records)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_dimensions_keep_what_was_asked_and_send_what_hg_understands() {
        let asked = BTreeSet::from(["https://www.Acme.com/".to_string(), "  ".to_string(), "acme.com".to_string()]);
        let domains = options(Some(asked), normalize_domain);
        let sent: Vec<_> = domains.iter().map(|d| d.as_ref().unwrap().1.as_str()).collect();
        assert_eq!(sent, ["acme.com", "acme.com"], "the blank is dropped; both spellings are kept to echo");
        assert_eq!(options(None, normalize_domain), vec![None]);
    }
}
