//! The persistent response cache: every answer HG gave, kept in SQLite so no query pays for it
//! again, across runs and processes.
//!
//! - **Keys** are the base URL, the endpoint and the request as normalised by the client (filters
//!   and sorts, never the credentials), then the item the answer is about: one company for the
//!   per-company endpoints, even when it came in a batch, so a later query that batches
//!   differently still hits; the match query for `company/match`; the whole request for listings.
//! - **Fields**: an answer for a set of fields serves any request for a subset of them.
//! - **Durability**: WAL journal; answers are committed within a twentieth of a second of
//!   arriving, together (a busy run writes a few large transactions, not thousands of small
//!   ones). A run killed outright keeps all but its last 50 ms, one that ends or is interrupted
//!   writes everything first, and a rerun asks only for the rest. Several processes may share
//!   the file (SQLite's locking; writers wait up to 30 s for each other).
//! - **Privacy**: the file is created with mode 0600 in a 0700 directory.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, params};

use crate::api::files::{create_private_dir, create_private_file};
use serde_json::Value;

use super::endpoint::Endpoint;
use super::row::Row;

/// How a lookup reads the cache for the keys it claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheRead {
    /// Nothing read yet: read everything.
    Full,
    /// The caller read the cache for these keys already: only answers stored since by this
    /// process can be there.
    StoredHere,
}

/// The cache file's default place: `$XDG_CACHE_HOME/hgsql/cache.sqlite`, else
/// `~/.cache/hgsql/cache.sqlite`.
pub fn default_cache_file() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("hgsql")
        .join("cache.sqlite")
}

/// Why the cache could not be used.
#[derive(Debug, thiserror::Error)]
#[error("the response cache {}: {message}; use --no-cache to run without it, or `hgsql cache clear`", path.display())]
pub struct CacheError {
    pub path: PathBuf,
    pub message: String,
}

/// What the cache holds for one item, as stored: its rows are decoded only when read, so a
/// query that stops early (a `LIMIT` over thousands of cached companies) decodes only the
/// answers it uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Cached {
    /// The HG endpoint whose rows these are; `None` for an HTTP table's answer.
    endpoint: Option<Endpoint>,
    text: Arc<str>,
    pub fetched_at: SystemTime,
}

impl Cached {
    /// The rows, decoded; `None` when the stored text cannot be read as rows.
    pub fn rows(&self) -> Option<Vec<Row>> {
        let endpoint = self.endpoint?;
        let Value::Array(items) = serde_json::from_str::<Value>(&self.text).ok()? else { return None };
        items.iter().map(|item| item.as_object().map(|object| Row::decode(endpoint, object))).collect()
    }

    /// The answer as stored (an HTTP table's JSON).
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// What is in the cache, for `hgsql cache stats`.
#[derive(Clone, Debug, Default)]
pub struct CacheStats {
    pub path: PathBuf,
    pub file_bytes: u64,
    /// Per endpoint: answers, rows, oldest and newest fetch (unix seconds).
    pub endpoints: Vec<(String, u64, u64, i64, i64)>,
}

/// Items read by one statement.
const GET_CHUNK: usize = 256;

/// How long the writer gathers answers before committing them, and how many it commits at most
/// before that: a transaction per answer would cost a WAL write per page it touches.
const GATHER_TIME: Duration = Duration::from_millis(50);
const GATHER_MAX: usize = 2048;
/// Answers queued for the writer at most: beyond this, [`ResponseCache::put`] waits for it.
const QUEUE_MAX: usize = 4 * GATHER_MAX;

/// How long HG's record of a company returned holds: a contract year (docs/hg-api.md §4).
const CREDIT_YEAR: Duration = Duration::from_secs(365 * 86_400);

/// A set of fields asked for: `None` is every field the endpoint has.
pub type Fields<'a> = Option<&'a [String]>;

/// The cache file, open.
pub struct ResponseCache {
    path: PathBuf,
    /// Reads and maintenance.
    connection: Mutex<Connection>,
    /// Answers on their way to the file, written by a thread of their own.
    writes: Arc<Writes>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Fingerprints of the (scope, item) pairs this process has stored since it opened the
    /// file, so [`get_stored_here`](Self::get_stored_here) reads the file only for those.
    stored_here: Mutex<HashSet<u64>>,
}

/// One answer to store.
struct Entry {
    scope: String,
    item: String,
    fields: String,
    endpoint: String,
    fetched_at: i64,
    row_count: i64,
    rows: String,
}

/// The writer thread's queue. Answers are committed as soon as the thread gets to them; those
/// that arrive meanwhile go together in the next transaction, so a busy run commits in batches
/// and a quiet one answer at a time. Until committed, reads find them here.
#[derive(Default)]
struct Writes {
    state: Mutex<WriteState>,
    /// Signalled when entries arrive or the cache closes.
    work: Condvar,
    /// Signalled when the queue is empty and nothing is being written.
    idle: Condvar,
}

#[derive(Default)]
struct WriteState {
    queued: Vec<Entry>,
    /// The batch in the transaction now (shared, so the lock is not held while it is written).
    writing: Arc<Vec<Entry>>,
    closing: bool,
    /// Callers of [`ResponseCache::flush`] waiting: the writer stops gathering for them.
    flushing: usize,
    /// What the run cost the writer, reported when the cache closes (`HGSQL_LOG=debug`).
    report: WriteReport,
}

/// How the writer kept up: what a slow cache costs a large run is the time producers waited.
#[derive(Default)]
struct WriteReport {
    answers: u64,
    transactions: u64,
    writing: Duration,
    producers_waited: Duration,
}

impl Writes {
    fn state(&self) -> MutexGuard<'_, WriteState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The writer thread: commits what is queued, in one transaction per turn, until closed and empty.
fn write_loop(writes: Arc<Writes>, mut connection: Connection, path: PathBuf) {
    loop {
        let batch = {
            let mut state = writes.state();
            while state.queued.is_empty() && !state.closing {
                state = writes.work.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            if state.queued.is_empty() {
                return;
            }
            // Gather more answers into this transaction, unless someone waits for the file.
            let gathered_by = Instant::now() + GATHER_TIME;
            while !state.closing && state.flushing == 0 && state.queued.len() < GATHER_MAX {
                let left = gathered_by.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = writes.work.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
            }
            // The entries stay readable in `writing` while the transaction runs.
            state.writing = Arc::new(std::mem::take(&mut state.queued));
            // Callers waiting for room in the queue have it now.
            writes.idle.notify_all();
            state.writing.clone()
        };
        let started = Instant::now();
        let result = (|| -> rusqlite::Result<()> {
            let transaction = connection.transaction()?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT OR REPLACE INTO response (scope, item, fields, endpoint, fetched_at, row_count, rows)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for e in batch.iter() {
                    insert.execute(params![
                        e.scope,
                        e.item,
                        e.fields,
                        e.endpoint,
                        e.fetched_at,
                        e.row_count,
                        e.rows
                    ])?;
                }
            }
            transaction.commit()
        })();
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, answers = batch.len(), "could not write to the response cache");
        }
        let mut state = writes.state();
        state.report.answers += batch.len() as u64;
        state.report.transactions += 1;
        state.report.writing += started.elapsed();
        state.writing = Arc::default();
        if state.queued.is_empty() {
            writes.idle.notify_all();
        }
    }
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache").field("path", &self.path).finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS response (
    scope      TEXT NOT NULL,    -- base URL, endpoint, request without fields
    item       TEXT NOT NULL,    -- company id, match query or listing request
    fields     TEXT NOT NULL,    -- fields asked, sorted and comma-joined; '*' for all
    endpoint   TEXT NOT NULL,
    fetched_at INTEGER NOT NULL, -- unix seconds
    row_count  INTEGER NOT NULL,
    rows       TEXT NOT NULL,    -- JSON array of row objects
    PRIMARY KEY (scope, item, fields)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS response_by_item ON response (endpoint, item);
";

impl ResponseCache {
    /// Opens (creating if needed) the cache file at `path`.
    pub fn open(path: &Path) -> Result<ResponseCache, CacheError> {
        let fail = |message: String| CacheError { path: path.to_path_buf(), message };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|e| fail(format!("cannot create its directory: {e}")))?;
        }
        if !path.exists() {
            create_private_file(path).map_err(|e| fail(format!("cannot create it: {e}")))?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(|e| fail(e.to_string()))?;
        connection.busy_timeout(Duration::from_secs(30)).map_err(|e| fail(e.to_string()))?;
        crate::api::files::use_wal(&connection, Duration::from_secs(30))
            .and_then(|()| connection.pragma_update(None, "synchronous", "NORMAL"))
            // Reads of a large rerun touch every page: keep more of them. (Not mmap: the map is
            // remade each time the writer grows the file, which costs more than it saves.)
            .and_then(|()| connection.pragma_update(None, "cache_size", -64 * 1024))
            .and_then(|()| connection.execute_batch(SCHEMA))
            .map_err(|e| fail(format!("not a usable hgsql cache ({e})")))?;
        let writer_connection = Connection::open_with_flags(path, flags).map_err(|e| fail(e.to_string()))?;
        writer_connection.busy_timeout(Duration::from_secs(30)).map_err(|e| fail(e.to_string()))?;
        writer_connection
            .pragma_update(None, "synchronous", "NORMAL")
            // Inserts land all over both B-trees: keep their pages, not re-read them per answer.
            // 16 MiB, not the reader's 64: a large run fills it to the brim for as long as it
            // lasts, and the OS keeps the file's recent pages anyway.
            .and_then(|()| writer_connection.pragma_update(None, "cache_size", -16 * 1024))
            .map_err(|e| fail(e.to_string()))?;
        let writes = Arc::new(Writes::default());
        let writer = {
            let (writes, path) = (writes.clone(), path.to_path_buf());
            std::thread::Builder::new()
                .name("hgsql-cache-writer".into())
                .spawn(move || write_loop(writes, writer_connection, path))
                .map_err(|e| fail(format!("cannot start its writer: {e}")))?
        };
        Ok(ResponseCache {
            path: path.to_path_buf(),
            connection: Mutex::new(connection),
            writes,
            writer: Mutex::new(Some(writer)),
            stored_here: Mutex::default(),
        })
    }

    /// Waits until every answer handed to [`put`](Self::put) is in the file.
    pub fn flush(&self) {
        let mut state = self.writes.state();
        state.flushing += 1;
        self.writes.work.notify_all();
        while !state.queued.is_empty() || !state.writing.is_empty() {
            state = self.writes.idle.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.flushing -= 1;
    }

    /// Answers not yet in the file for `scope` and `item` that cover `wanted`, newest first.
    /// The answers for `items` still queued or being written, newest first: one pass over the
    /// queue per call, not one per item (a large run's queue holds thousands).
    fn pending(
        &self,
        scope: &str,
        items: &[String],
        wanted: Option<&HashSet<&str>>,
        oldest: i64,
    ) -> HashMap<String, Cached> {
        let asked: HashSet<&str> = items.iter().map(String::as_str).collect();
        let state = self.writes.state();
        let mut found: HashMap<String, Cached> = HashMap::new();
        for e in state.queued.iter().rev().chain(state.writing.iter().rev()) {
            if e.scope == scope
                && asked.contains(e.item.as_str())
                && !found.contains_key(&e.item)
                && e.fetched_at > oldest
                && covers(&e.fields, wanted)
            {
                let text = Arc::from(e.rows.as_str());
                let endpoint = endpoint_of(scope);
                found.insert(e.item.clone(), Cached { endpoint, text, fetched_at: from_unix(e.fetched_at) });
            }
        }
        found
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers for `items` younger than `max_age` (so `0` serves nothing) that hold at least
    /// `fields`. A failure to read is a miss (and a warning): the cache never stops a query.
    pub fn get(&self, scope: &str, items: &[String], fields: Fields, max_age: Duration) -> HashMap<String, Cached> {
        self.read(scope, items, fields, max_age, true)
    }

    /// Which of `items` [`get`](Self::get) would answer, without reading the answers: a lookup
    /// plans a million keys with this, then reads the answers a chunk at a time as it goes.
    pub fn held(&self, scope: &str, items: &[String], fields: Fields, max_age: Duration) -> HashSet<String> {
        self.read(scope, items, fields, max_age, false).into_keys().collect()
    }

    /// [`get`](Self::get), or with `with_text` false only which items are answered (their text
    /// left empty).
    fn read(
        &self,
        scope: &str,
        items: &[String],
        fields: Fields,
        max_age: Duration,
        with_text: bool,
    ) -> HashMap<String, Cached> {
        let oldest = unix(SystemTime::now()).saturating_sub(i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX));
        let wanted: Option<HashSet<&str>> = fields.map(|f| f.iter().map(String::as_str).collect());
        let mut found = HashMap::new();
        let connection = self.connection();
        let result = (|| -> rusqlite::Result<()> {
            found = self.pending(scope, items, wanted.as_ref(), oldest);
            let unqueued: Vec<&str> =
                items.iter().filter(|item| !found.contains_key(*item)).map(String::as_str).collect();
            if unqueued.is_empty() {
                return Ok(());
            }
            // One snapshot for every chunk: the pages read stay cached while the writer commits.
            let connection = connection.unchecked_transaction()?;
            // Many items a statement: a rerun of thousands of lookups reads in a few steps.
            for chunk in unqueued.chunks(GET_CHUNK) {
                // Padded to a power of two with repeats of its last item: a few statement texts,
                // each prepared once, not one per chunk length.
                let padded = chunk.len().next_power_of_two();
                let placeholders = vec!["?"; padded].join(",");
                let text = if with_text { "rows" } else { "''" };
                let mut statement = connection.prepare_cached(&format!(
                    "SELECT item, fields, fetched_at, {text} FROM response
                     WHERE scope = ? AND fetched_at > ? AND item IN ({placeholders}) ORDER BY fetched_at DESC"
                ))?;
                let mut values: Vec<&dyn rusqlite::ToSql> = vec![&scope, &oldest];
                values.extend(chunk.iter().map(|item| item as &dyn rusqlite::ToSql));
                let last = chunk.last().expect("chunks are never empty");
                values.resize(2 + padded, last as &dyn rusqlite::ToSql);
                let mut rows = statement.query(values.as_slice())?;
                while let Some(row) = rows.next()? {
                    let item: String = row.get(0)?;
                    if found.contains_key(&item) || !covers(&row.get::<_, String>(1)?, wanted.as_ref()) {
                        continue;
                    }
                    let fetched_at: i64 = row.get(2)?;
                    let text: String = row.get(3)?;
                    let endpoint = endpoint_of(scope);
                    found.insert(item, Cached { endpoint, text: text.into(), fetched_at: from_unix(fetched_at) });
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!(path = %self.path.display(), error = %e, "could not read the response cache; fetching instead");
        }
        found
    }

    /// [`get`](Self::get) for items this process asked the cache about before, and has not
    /// found: only an answer this process stored since can be there now (a lookup that claims a
    /// key another lookup just fetched). The file is read only for the items this process
    /// stored since it opened the cache, not once more for every miss. An answer another
    /// process stored meanwhile is not seen: the item is fetched again, which costs a request
    /// but no credit (HG charges a company once a year; this run's count may err high).
    pub fn get_stored_here(
        &self,
        scope: &str,
        items: &[String],
        fields: Fields,
        max_age: Duration,
    ) -> HashMap<String, Cached> {
        let stored: Vec<String> = {
            let stored_here = self.stored_here.lock().unwrap_or_else(|p| p.into_inner());
            items.iter().filter(|item| stored_here.contains(&fingerprint(scope, item))).cloned().collect()
        };
        if stored.is_empty() {
            return HashMap::new();
        }
        self.get(scope, &stored, fields, max_age)
    }

    /// Stores the answers for `entries` (item, rows). The writer thread commits them within
    /// moments (reads find them at once); a failure to write is a warning: the query goes on,
    /// it will just pay again next time.
    pub fn put(&self, scope: &str, endpoint: Endpoint, fields: Fields, entries: &[(String, &[Row])]) {
        if entries.is_empty() {
            return;
        }
        let held = fields_key(fields);
        let now = unix(SystemTime::now());
        let encoded: Vec<Entry> = entries
            .iter()
            .map(|(item, rows)| Entry {
                scope: scope.to_string(),
                item: item.clone(),
                fields: held.clone(),
                endpoint: endpoint.name().to_string(),
                fetched_at: now,
                row_count: rows.len() as i64,
                rows: Value::Array(rows.iter().map(|r| Value::Object(r.encode())).collect()).to_string(),
            })
            .collect();
        {
            let mut stored_here = self.stored_here.lock().unwrap_or_else(|p| p.into_inner());
            stored_here.extend(entries.iter().map(|(item, _)| fingerprint(scope, item)));
        }
        self.enqueue(encoded);
    }

    /// Hands `entries` to the writer. The writer wakes for the first answer (to start gathering)
    /// and for a full batch. While the queue is full the caller waits for the writer to catch
    /// up: answers arriving faster than the disk takes them are held back, not piled up in
    /// memory (a million-key run would otherwise keep its backlog).
    fn enqueue(&self, entries: impl IntoIterator<Item = Entry>) {
        let mut state = self.writes.state();
        if state.queued.len() >= QUEUE_MAX && !state.closing {
            let started = Instant::now();
            while state.queued.len() >= QUEUE_MAX && !state.closing {
                self.writes.work.notify_one();
                state = self.writes.idle.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            state.report.producers_waited += started.elapsed();
        }
        let was_empty = state.queued.is_empty();
        state.queued.extend(entries);
        if was_empty || state.queued.len() >= GATHER_MAX {
            self.writes.work.notify_one();
        }
    }

    /// Stores answers that are not HG rows (an HTTP table's): `entries` are (item, JSON text,
    /// rows it holds), counted under `label` in `hgsql cache stats`. Read back with
    /// [`get`](Self::get) and [`Cached::text`].
    pub fn put_text(&self, scope: &str, label: &str, entries: Vec<(String, String, usize)>) {
        if entries.is_empty() {
            return;
        }
        let now = unix(SystemTime::now());
        {
            let mut stored_here = self.stored_here.lock().unwrap_or_else(|p| p.into_inner());
            stored_here.extend(entries.iter().map(|(item, _, _)| fingerprint(scope, item)));
        }
        let encoded = entries.into_iter().map(|(item, rows, count)| Entry {
            scope: scope.to_string(),
            item,
            fields: "*".to_string(),
            endpoint: label.to_string(),
            fetched_at: now,
            row_count: count as i64,
            rows,
        });
        self.enqueue(encoded);
    }

    /// Those of `items` that `endpoint` at `base` has returned rows for in the last 365 days
    /// (`CREDIT_YEAR`): HG charges a company once per endpoint in the contract year
    /// (docs/hg-api.md §4), so asking for them again costs no credit.
    ///
    /// `base` is what [`scope`] was given: the base URL, or the namespace standing for it. It is
    /// the closest the cache comes to the account, which it cannot name: the key is never
    /// stored (two keys on one base URL share the record). An answer filed under another base
    /// (another API, account or sandbox) or older than a year says nothing of this account's
    /// credits now, and is not counted. Within the base, every request of the endpoint counts,
    /// whatever its filters, sorts or fields: a company returned under one filter was returned
    /// by that endpoint on that account all the same.
    ///
    /// The contract year's start is not known here; a year back from now may reach into the
    /// previous contract year, which makes this an estimate on the free side for at most the
    /// companies returned then. The API's `x-credits-remaining` shows the balance itself.
    pub fn returned_before(&self, base: &str, endpoint: Endpoint, items: &[String]) -> HashSet<String> {
        if items.is_empty() {
            // Asked per request, mostly with nothing left to check: no pass over the queue.
            return HashSet::new();
        }
        let prefix = scope(base, endpoint, "");
        let oldest = unix(SystemTime::now()).saturating_sub(CREDIT_YEAR.as_secs() as i64);
        let asked: HashSet<&str> = items.iter().map(String::as_str).collect();
        let mut seen: HashSet<String> = {
            let state = self.writes.state();
            state
                .queued
                .iter()
                .chain(state.writing.iter())
                .filter(|e| {
                    e.endpoint == endpoint.name()
                        && e.row_count > 0
                        && e.fetched_at > oldest
                        && e.scope.starts_with(&prefix)
                        && asked.contains(e.item.as_str())
                })
                .map(|e| e.item.clone())
                .collect()
        };
        let unseen: Vec<&String> = items.iter().filter(|item| !seen.contains(*item)).collect();
        if unseen.is_empty() {
            return seen;
        }
        let connection = self.connection();
        let result = (|| -> rusqlite::Result<()> {
            // One snapshot for every item: the pages read stay cached while the writer commits.
            let connection = connection.unchecked_transaction()?;
            // `substr`, not LIKE: a base URL may hold `%` or `_`.
            let mut statement = connection.prepare_cached(
                "SELECT 1 FROM response
                 WHERE endpoint = ?1 AND item = ?2 AND row_count > 0 AND fetched_at > ?3
                   AND substr(scope, 1, length(?4)) = ?4
                 LIMIT 1",
            )?;
            for item in unseen {
                if statement.exists(params![endpoint.name(), item, oldest, prefix])? {
                    seen.insert(item.clone());
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!(path = %self.path.display(), error = %e, "could not read the response cache");
        }
        seen
    }

    /// What the cache holds.
    pub fn stats(&self) -> Result<CacheStats, CacheError> {
        self.flush();
        let connection = self.connection();
        let fail = |e: rusqlite::Error| CacheError { path: self.path.clone(), message: e.to_string() };
        let mut statement = connection
            .prepare(
                "SELECT endpoint, count(*), sum(row_count), min(fetched_at), max(fetched_at)
                 FROM response GROUP BY endpoint ORDER BY endpoint",
            )
            .map_err(fail)?;
        let endpoints = statement
            .query_map([], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64, r.get(3)?, r.get(4)?))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(fail)?;
        let file_bytes = ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", self.path.display())).ok())
            .map(|m| m.len())
            .sum();
        Ok(CacheStats { path: self.path.clone(), file_bytes, endpoints })
    }

    /// Removes every answer; returns how many there were.
    pub fn clear(&self) -> Result<u64, CacheError> {
        self.flush();
        let connection = self.connection();
        let fail = |e: rusqlite::Error| CacheError { path: self.path.clone(), message: e.to_string() };
        let removed = connection.execute("DELETE FROM response", []).map_err(fail)?;
        connection.execute_batch("VACUUM").map_err(fail)?;
        Ok(removed as u64)
    }
}

impl Drop for ResponseCache {
    /// Writes what is still queued before the file is closed.
    fn drop(&mut self) {
        self.writes.state().closing = true;
        self.writes.work.notify_all();
        if let Some(writer) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = writer.join();
        }
        let report = &self.writes.state().report;
        tracing::debug!(
            answers = report.answers,
            transactions = report.transactions,
            writing_ms = report.writing.as_millis() as u64,
            producers_waited_ms = report.producers_waited.as_millis() as u64,
            "response cache closed"
        );
    }
}

/// Whether an answer holding `held` fields serves a request for `wanted`.
fn covers(held: &str, wanted: Option<&HashSet<&str>>) -> bool {
    match (held, wanted) {
        ("*", _) => true,
        (_, None) => false,
        (held, Some(wanted)) => {
            let held: HashSet<&str> = held.split(',').collect();
            wanted.iter().all(|f| held.contains(f))
        }
    }
}

fn fields_key(fields: Fields) -> String {
    match fields {
        None => "*".to_string(),
        Some(fields) => {
            let mut sorted: Vec<&str> = fields.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            sorted.dedup();
            sorted.join(",")
        }
    }
}

/// The endpoint a scope is for (its second part).
fn endpoint_of(scope: &str) -> Option<Endpoint> {
    scope.split('|').nth(1).and_then(super::endpoint_named)
}

/// The scope of a request: where it goes and what it asks, less the item and the fields.
pub fn scope(base_url: &str, endpoint: Endpoint, request: &str) -> String {
    format!("{base_url}|{}|{request}", endpoint.name())
}

/// A fixed 64-bit digest of (scope, item): collisions only make a read happen that was not needed.
fn fingerprint(scope: &str, item: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (scope, item).hash(&mut hasher);
    hasher.finish()
}

fn unix(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn from_unix(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(endpoint: Endpoint, value: Value) -> Row {
        Row::decode(endpoint, value.as_object().unwrap())
    }

    #[test]
    fn answers_come_back_for_the_same_scope_and_a_subset_of_fields() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResponseCache::open(&dir.path().join("c/cache.sqlite")).unwrap();
        let scope = scope("http://127.0.0.1:1/v1", Endpoint::FIRMOGRAPHIC, "{}");
        let a = row(Endpoint::FIRMOGRAPHIC, json!({"company_id": "A", "employees_total": 10, "revenue_band": "x"}));
        let fields = vec!["company_id".to_string(), "employees_total".to_string(), "revenue_band".to_string()];
        cache.put(
            &scope,
            Endpoint::FIRMOGRAPHIC,
            Some(&fields),
            &[("A".into(), std::slice::from_ref(&a)), ("B".into(), &[])],
        );
        let week = Duration::from_secs(7 * 86_400);
        let subset = vec!["employees_total".to_string()];
        let hits = cache.get(&scope, &["A".into(), "B".into(), "C".into()], Some(&subset), week);
        assert_eq!(hits.len(), 2, "A and B (an empty answer is an answer); C was never asked");
        assert_eq!(hits["A"].rows(), Some(vec![a]));
        assert!(hits["B"].rows().is_some_and(|rows| rows.is_empty()));
        let more = vec!["employees_total".to_string(), "industry_name".to_string()];
        assert!(cache.get(&scope, &["A".into()], Some(&more), week).is_empty(), "a field it lacks");
        let other = scope.replace("{}", "{\"filters\":1}");
        assert!(cache.get(&other, &["A".into()], Some(&subset), week).is_empty(), "another request");
        assert_eq!(
            cache.returned_before("http://127.0.0.1:1/v1", Endpoint::FIRMOGRAPHIC, &["A".into(), "B".into()]),
            HashSet::from(["A".into()])
        );
    }

    #[test]
    fn old_answers_are_not_served_and_clear_empties_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let cache = ResponseCache::open(&path).unwrap();
        let scope = scope("u", Endpoint::INSTALLS, "{}");
        cache.put(&scope, Endpoint::INSTALLS, None, &[("A".into(), &[])]);
        cache.flush();
        cache.connection().execute("UPDATE response SET fetched_at = fetched_at - 3600", []).unwrap();
        assert!(cache.get(&scope, &["A".into()], None, Duration::from_secs(1800)).is_empty());
        assert_eq!(cache.get(&scope, &["A".into()], None, Duration::from_secs(7200)).len(), 1);
        assert_eq!(cache.stats().unwrap().endpoints[0].1, 1);
        assert_eq!(cache.clear().unwrap(), 1);
        assert!(cache.stats().unwrap().endpoints.is_empty());
    }

    #[test]
    fn returned_before_counts_only_this_base_and_the_last_year_whatever_the_filters() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResponseCache::open(&dir.path().join("cache.sqlite")).unwrap();
        let a = row(Endpoint::INSTALLS, json!({"company_id": "A", "product_id": 1}));
        let rows = std::slice::from_ref(&a);
        let filtered = scope("https://hg/v1", Endpoint::INSTALLS, "{\"filters\":{\"products\":1}}");
        cache.put(&filtered, Endpoint::INSTALLS, None, &[("A".into(), rows), ("E".into(), &[])]);
        let elsewhere = scope("hgsql-sandbox:seed=1", Endpoint::INSTALLS, "{}");
        cache.put(&elsewhere, Endpoint::INSTALLS, None, &[("B".into(), rows)]);
        cache.put(&scope("https://hg/v1", Endpoint::SPEND, "{}"), Endpoint::SPEND, None, &[("C".into(), rows)]);
        let items: Vec<String> = ["A", "B", "C", "E"].map(String::from).into();
        let check = |base: &str| cache.returned_before(base, Endpoint::INSTALLS, &items);
        // Queued, then in the file: the same answer either way.
        for _ in 0..2 {
            assert_eq!(check("https://hg/v1"), HashSet::from(["A".into()]), "another filter, same base: A");
            assert_eq!(check("hgsql-sandbox:seed=1"), HashSet::from(["B".into()]));
            assert!(check("https://hg/v1-eu").is_empty() && check("https://hg").is_empty(), "another base");
            cache.flush();
        }
        let month = 30 * 86_400;
        cache.connection().execute("UPDATE response SET fetched_at = fetched_at - ?1", [11 * month]).unwrap();
        assert_eq!(check("https://hg/v1"), HashSet::from(["A".into()]), "eleven months ago: this contract year");
        cache.connection().execute("UPDATE response SET fetched_at = fetched_at - ?1", [2 * month]).unwrap();
        assert!(check("https://hg/v1").is_empty(), "thirteen months ago: charged again");
    }

    #[test]
    fn a_huge_ttl_serves_everything() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResponseCache::open(&dir.path().join("cache.sqlite")).unwrap();
        let scope = scope("u", Endpoint::INSTALLS, "{}");
        cache.put(&scope, Endpoint::INSTALLS, None, &[("A".into(), &[])]);
        assert_eq!(cache.get(&scope, &["A".into()], None, Duration::MAX).len(), 1, "queued");
        cache.flush();
        for ttl in [Duration::MAX, Duration::from_secs(u64::MAX / 2 + 1), Duration::from_secs(i64::MAX as u64)] {
            assert_eq!(cache.get(&scope, &["A".into()], None, ttl).len(), 1, "{ttl:?}");
        }
    }

    #[test]
    fn get_stored_here_finds_this_process_answers_queued_or_written_and_no_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let here = ResponseCache::open(&path).unwrap();
        let elsewhere = ResponseCache::open(&path).unwrap();
        let scope = scope("u", Endpoint::INSTALLS, "{}");
        let week = Duration::from_secs(7 * 86_400);
        let items: Vec<String> = ["A", "B", "C"].map(String::from).into();
        elsewhere.put(&scope, Endpoint::INSTALLS, None, &[("B".into(), &[])]);
        elsewhere.flush();
        here.put(&scope, Endpoint::INSTALLS, None, &[("A".into(), &[])]);
        let queued = here.get_stored_here(&scope, &items, None, week);
        assert_eq!(queued.keys().collect::<Vec<_>>(), vec!["A"], "A queued here; B is another process's");
        here.flush();
        let written = here.get_stored_here(&scope, &items, None, week);
        assert_eq!(written.keys().collect::<Vec<_>>(), vec!["A"], "A in the file");
        assert_eq!(here.get(&scope, &items, None, week).len(), 2, "a full read sees both");
        let other_scope = scope.replace("{}", "{\"filters\":1}");
        assert!(here.get_stored_here(&other_scope, &items, None, week).is_empty(), "another request");
    }

    /// While the disk is held up, answers wait for room instead of piling up in memory; once it
    /// is free, every one of them is written and `held` finds them without reading them.
    #[test]
    fn the_writer_queue_is_bounded_and_held_sees_every_answer_once_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let cache = Arc::new(ResponseCache::open(&path).unwrap());
        let scope = scope("u", Endpoint::INSTALLS, "{}");
        let total = QUEUE_MAX * 2;
        // Another connection holds the file: the writer cannot commit until it lets go.
        let blocker = Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let producer = {
            let (cache, scope, done) = (cache.clone(), scope.clone(), done.clone());
            std::thread::spawn(move || {
                for i in 0..total {
                    cache.put(&scope, Endpoint::INSTALLS, None, &[(format!("item{i}"), &[])]);
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        };
        // Bounded poll: the queue fills up to its cap, then the producer waits.
        let deadline = Instant::now() + Duration::from_secs(20);
        while cache.writes.state().queued.len() < QUEUE_MAX {
            assert!(Instant::now() < deadline, "the queue never filled");
            std::thread::yield_now();
        }
        let (queued, writing) = {
            let state = cache.writes.state();
            (state.queued.len(), state.writing.len())
        };
        assert_eq!(queued, QUEUE_MAX, "never more than the cap queued");
        let put = done.load(std::sync::atomic::Ordering::SeqCst);
        assert!(put <= queued + writing + 1 && put < total, "the producer waits: {put} put, {queued} + {writing} held");
        blocker.execute_batch("ROLLBACK").unwrap();
        producer.join().unwrap();
        cache.flush();
        let items: Vec<String> = (0..total).map(|i| format!("item{i}")).collect();
        let week = Duration::from_secs(7 * 86_400);
        assert_eq!(cache.held(&scope, &items, None, week).len(), total, "every answer was written");
        assert!(cache.held(&scope, &["other".to_string()], None, week).is_empty());
    }

    #[test]
    fn a_full_read_pads_its_statements_and_still_finds_every_item() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResponseCache::open(&dir.path().join("cache.sqlite")).unwrap();
        let scope = scope("u", Endpoint::INSTALLS, "{}");
        let items: Vec<String> = (0..300).map(|i| format!("{i:032x}")).collect();
        let stored: Vec<(String, &[Row])> = items.iter().step_by(3).map(|i| (i.clone(), &[] as &[Row])).collect();
        cache.put(&scope, Endpoint::INSTALLS, None, &stored);
        cache.flush();
        let week = Duration::from_secs(7 * 86_400);
        for take in [1, 2, 3, 5, 77, 256, 257, 300] {
            let asked = &items[..take];
            let found = cache.get(&scope, asked, None, week);
            let expected: HashSet<&String> = asked.iter().step_by(3).collect();
            assert_eq!(found.keys().collect::<HashSet<_>>(), expected, "{take} items asked");
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/cache.sqlite");
        ResponseCache::open(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
