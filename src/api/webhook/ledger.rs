//! The delivery ledger of the webhook sink: per destination and row key, the payload last
//! sent and how its delivery went. A row is marked `pending` and committed (`synchronous =
//! FULL`) before a byte of it is sent, so whatever happens next (a crash, a kill, a lost
//! answer) the ledger knows the row may have arrived, and a rerun never sends it blindly again.
//!
//! It lives under `$XDG_STATE_HOME/hgsql/`, apart from the response cache: `cache clear` must
//! not forget what was sent. Several processes may share it: a claim is a row of its own, made
//! in a transaction that reads the key's state afresh, so two runs cannot both claim one key,
//! and `pending` rows of a run whose process is gone become `unknown` when the next run opens
//! the destination.
//!
//! Per destination it also counts the rows that may have reached the receiver (claimed, less
//! those refused or never delivered): a receiver's lifetime cap (Clay's 50,000 rows) is checked
//! against it inside the claim, so no run, and no two runs together, pass it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

/// How a row's delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Claimed and maybe sent: the outcome is not known yet.
    Pending,
    /// A 2xx came back.
    Sent,
    /// A 4xx (not 429) came back: the receiver refused it.
    Rejected,
    /// The body may have arrived, but no answer did (a reset after sending, a crash).
    Unknown,
    /// Not delivered: the receiver kept answering 429 or 5xx, refused the destination (a bad
    /// token), or the run stopped first. It goes again on the next run.
    Failed,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sent => "sent",
            State::Rejected => "rejected",
            State::Unknown => "unknown",
            State::Failed => "failed",
        }
    }

    fn parse(text: &str) -> State {
        match text {
            "sent" => State::Sent,
            "rejected" => State::Rejected,
            "pending" => State::Pending,
            "failed" => State::Failed,
            _ => State::Unknown,
        }
    }
}

/// What the ledger holds for one row key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub payload_hash: String,
    pub state: State,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub attempts: u32,
    /// When it was accepted (unix seconds).
    pub sent_at: Option<i64>,
    /// Whether a process other than this one holds it `pending` and still runs.
    pub held_elsewhere: bool,
}

/// An entry with the row last sent for its key (the JSON object, as sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub entry: Entry,
    pub payload: String,
}

/// A row to claim: its key, the hash of its content and the JSON object to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub key: String,
    pub hash: String,
    pub payload: String,
}

/// How a claim of one row went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claimed {
    /// Marked `pending` and committed: it may be sent now.
    Yes,
    /// Another run that still runs holds it.
    Held,
    /// Its entry changed since it was looked at (another run settled it), and `still_to_send`
    /// says no: the entry as it stands.
    Settled(Entry),
    /// The destination's `max_rows` would be passed.
    OverCap,
}

/// How one send ended, to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    pub key: String,
    pub state: State,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// Why the ledger cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("the webhook ledger {}: {message}; it records what was sent, so hgsql will not send without it", path.display())]
pub struct LedgerError {
    pub path: PathBuf,
    pub message: String,
}

/// The ledger's default place: `$XDG_STATE_HOME/hgsql/webhooks.sqlite`, else
/// `~/.local/state/hgsql/webhooks.sqlite`.
pub fn default_ledger_file() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("hgsql")
        .join("webhooks.sqlite")
}

/// The layout's version (`PRAGMA user_version`): a ledger of another layout is refused, not
/// misread.
const VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    destination  TEXT NOT NULL,     -- sha256 of the target URL, never the URL
    row_key      TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    payload      TEXT NOT NULL,     -- the JSON object last sent for the key
    state        TEXT NOT NULL,     -- pending | sent | rejected | unknown | failed
    http_status  INTEGER,
    error        TEXT,
    attempts     INTEGER NOT NULL,
    sent_at      INTEGER,
    updated_at   INTEGER NOT NULL,
    run_pid      INTEGER NOT NULL,  -- the process that claimed it last,
    run_started  INTEGER NOT NULL,  -- and when that process started (a pid is reused)
    PRIMARY KEY (destination, row_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_by_state ON deliveries (destination, state);
CREATE TABLE IF NOT EXISTS destinations (
    destination  TEXT PRIMARY KEY,
    submitted    INTEGER NOT NULL   -- rows that may have reached the receiver
) WITHOUT ROWID;
";

/// The ledger file, open.
pub struct Ledger {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish_non_exhaustive()
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// When process `pid` started (clock ticks after boot, from `/proc`): with its pid, what tells
/// a run from a later process that was given the same pid. `None` where there is no `/proc`.
fn start_time(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    // After the command's name, in parentheses that may hold anything, the 20th field.
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// This process as the ledger names the run that claims: its pid and start time.
fn this_run() -> (i64, i64) {
    static THIS: std::sync::OnceLock<(i64, i64)> = std::sync::OnceLock::new();
    *THIS.get_or_init(|| {
        let pid = i64::from(std::process::id());
        (pid, start_time(pid).unwrap_or(0))
    })
}

/// Whether the run that claimed as (`pid`, `started`) still runs: this one, or a process of
/// that pid that started then. Without `/proc` only this one counts, so another process's
/// claims look ended: its rows become `unknown`, never sent twice.
fn alive(pid: i64, started: i64) -> bool {
    (pid, started) == this_run() || start_time(pid) == Some(started)
}

impl Ledger {
    /// Opens (creating if needed, private to the user) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let fail = |message: String| LedgerError { path: path.to_path_buf(), message };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::api::files::create_private_dir(dir)
                .map_err(|e| fail(format!("cannot create its directory: {e}")))?;
        }
        if !path.exists() {
            crate::api::files::create_private_file(path).map_err(|e| fail(format!("cannot create it: {e}")))?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(|e| fail(e.to_string()))?;
        connection.busy_timeout(Duration::from_secs(30)).map_err(|e| fail(e.to_string()))?;
        crate::api::files::use_wal(&connection, Duration::from_secs(30))
            // A mark must be on disk before the request it announces leaves.
            .and_then(|()| connection.pragma_update(None, "synchronous", "FULL"))
            .and_then(|()| connection.execute_batch(SCHEMA))
            .map_err(|e| fail(format!("not a usable hgsql ledger ({e})")))?;
        let version: i64 =
            connection.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| fail(e.to_string()))?;
        match version {
            0 => connection.pragma_update(None, "user_version", VERSION).map_err(|e| fail(e.to_string()))?,
            VERSION => {}
            other => {
                return Err(fail(format!(
                    "it is of layout {other}, this hgsql reads layout {VERSION}; use the hgsql that wrote it"
                )));
            }
        }
        Ok(Ledger { path: path.to_path_buf(), connection: Mutex::new(connection) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self, error: rusqlite::Error) -> LedgerError {
        LedgerError { path: self.path.clone(), message: error.to_string() }
    }

    /// Marks `pending` rows of `destination` whose run's process is gone as `unknown`: their
    /// body may have arrived. Returns how many.
    pub fn recover(&self, destination: &str) -> Result<usize, LedgerError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT DISTINCT run_pid, run_started FROM deliveries WHERE destination = ?1 AND state = 'pending'",
            )
            .map_err(|e| self.fail(e))?;
        let runs: Vec<(i64, i64)> = statement
            .query_map([destination], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.fail(e))?;
        let mut recovered = 0;
        for (pid, started) in runs.into_iter().filter(|(pid, started)| !alive(*pid, *started)) {
            recovered += connection
                .execute(
                    "UPDATE deliveries SET state = 'unknown', error = 'the run sending it ended before an answer came', \
                     updated_at = ?4 WHERE destination = ?1 AND state = 'pending' AND run_pid = ?2 AND run_started = ?3",
                    params![destination, pid, started, now()],
                )
                .map_err(|e| self.fail(e))?;
        }
        Ok(recovered)
    }

    /// What the ledger holds for `keys` of `destination`, in one read transaction.
    pub fn lookup(&self, destination: &str, keys: &[String]) -> Result<HashMap<String, Entry>, LedgerError> {
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(|e| self.fail(e))?;
        let mut found = HashMap::new();
        {
            let mut statement = transaction
                .prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM deliveries WHERE destination = ?1 AND row_key = ?2"
                ))
                .map_err(|e| self.fail(e))?;
            for key in keys {
                let entry =
                    statement.query_row(params![destination, key], read_entry).optional().map_err(|e| self.fail(e))?;
                if let Some(entry) = entry {
                    found.insert(key.clone(), entry);
                }
            }
        }
        transaction.commit().map_err(|e| self.fail(e))?;
        Ok(found)
    }

    /// Every entry of `destination` with the row last sent for it, by key.
    pub fn records(&self, destination: &str) -> Result<Vec<Record>, LedgerError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {ENTRY_COLUMNS}, payload FROM deliveries WHERE destination = ?1 ORDER BY row_key"
            ))
            .map_err(|e| self.fail(e))?;
        statement
            .query_map([destination], |row| Ok(Record { entry: read_entry(row)?, payload: row.get(9)? }))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.fail(e))
    }

    /// How many entries of `destination` are in each state.
    pub fn states(&self, destination: &str) -> Result<Vec<(State, u64)>, LedgerError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT state, count(*) FROM deliveries WHERE destination = ?1 GROUP BY state ORDER BY state")
            .map_err(|e| self.fail(e))?;
        statement
            .query_map([destination], |r| Ok((State::parse(&r.get::<_, String>(0)?), r.get::<_, i64>(1)? as u64)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.fail(e))
    }

    /// Rows of `destination` that may have reached the receiver, over every run: what a
    /// receiver's lifetime cap is checked against.
    pub fn submitted(&self, destination: &str) -> Result<u64, LedgerError> {
        let connection = self.connection();
        submitted(&connection, destination).map_err(|e| self.fail(e))
    }

    /// Claims `rows` as `pending` for this process, in one transaction committed before this
    /// returns: only then may they be sent. Each key's entry is read afresh inside it: a key
    /// another live process holds is [`Claimed::Held`]; one whose entry `still_to_send` no
    /// longer wants (another run settled it meanwhile) is [`Claimed::Settled`]; past `max_rows`
    /// rows that may have reached the receiver, [`Claimed::OverCap`].
    pub fn claim(
        &self,
        destination: &str,
        rows: &[Claim],
        still_to_send: &dyn Fn(&Entry, &str) -> bool,
        max_rows: Option<u64>,
    ) -> Result<Vec<Claimed>, LedgerError> {
        let mut connection = self.connection();
        let (pid, started) = this_run();
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(|e| self.fail(e))?;
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut submitted_now = submitted(&transaction, destination).map_err(|e| self.fail(e))?;
        let mut added = 0u64;
        {
            let mut current = transaction
                .prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM deliveries WHERE destination = ?1 AND row_key = ?2"
                ))
                .map_err(|e| self.fail(e))?;
            let mut upsert = transaction
                .prepare_cached(
                    "INSERT INTO deliveries (destination, row_key, payload_hash, payload, state, attempts, updated_at, \
                     run_pid, run_started) VALUES (?1, ?2, ?3, ?4, 'pending', 1, ?5, ?6, ?7) \
                     ON CONFLICT (destination, row_key) DO UPDATE SET payload_hash = ?3, payload = ?4, state = 'pending', \
                     http_status = NULL, error = NULL, attempts = attempts + 1, updated_at = ?5, run_pid = ?6, run_started = ?7",
                )
                .map_err(|e| self.fail(e))?;
            for row in rows {
                let entry = current
                    .query_row(params![destination, row.key], read_entry)
                    .optional()
                    .map_err(|e| self.fail(e))?;
                let outcome = match &entry {
                    Some(entry) if entry.held_elsewhere => Claimed::Held,
                    Some(entry) if !still_to_send(entry, &row.hash) => Claimed::Settled(entry.clone()),
                    _ if max_rows.is_some_and(|max| submitted_now >= max) => Claimed::OverCap,
                    _ => {
                        upsert
                            .execute(params![destination, row.key, row.hash, row.payload, now(), pid, started])
                            .map_err(|e| self.fail(e))?;
                        submitted_now += 1;
                        added += 1;
                        Claimed::Yes
                    }
                };
                outcomes.push(outcome);
            }
            count_submitted(&transaction, destination, added as i64).map_err(|e| self.fail(e))?;
        }
        transaction.commit().map_err(|e| self.fail(e))?;
        Ok(outcomes)
    }

    /// Records how the sends of `outcomes` ended, in one transaction. Rows the receiver
    /// refused or never got (rejected, failed) no longer count toward its cap.
    pub fn settle(&self, destination: &str, outcomes: &[Settled]) -> Result<(), LedgerError> {
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(|e| self.fail(e))?;
        {
            let mut update = transaction
                .prepare_cached(
                    "UPDATE deliveries SET state = ?3, http_status = ?4, error = ?5, updated_at = ?6, \
                     sent_at = CASE WHEN ?3 = 'sent' THEN ?6 ELSE sent_at END \
                     WHERE destination = ?1 AND row_key = ?2",
                )
                .map_err(|e| self.fail(e))?;
            let at = now();
            for outcome in outcomes {
                update
                    .execute(params![
                        destination,
                        outcome.key,
                        outcome.state.name(),
                        outcome.http_status,
                        outcome.error,
                        at
                    ])
                    .map_err(|e| self.fail(e))?;
            }
            let refused = outcomes.iter().filter(|o| matches!(o.state, State::Rejected | State::Failed)).count();
            count_submitted(&transaction, destination, -(refused as i64)).map_err(|e| self.fail(e))?;
        }
        transaction.commit().map_err(|e| self.fail(e))
    }
}

/// The columns [`read_entry`] reads, in its order.
const ENTRY_COLUMNS: &str = "row_key, payload_hash, state, http_status, error, attempts, sent_at, run_pid, run_started";

fn submitted(connection: &Connection, destination: &str) -> rusqlite::Result<u64> {
    connection
        .query_row("SELECT submitted FROM destinations WHERE destination = ?1", [destination], |r| r.get::<_, i64>(0))
        .optional()
        .map(|n| n.unwrap_or(0).max(0) as u64)
}

fn count_submitted(connection: &Connection, destination: &str, change: i64) -> rusqlite::Result<()> {
    if change == 0 {
        return Ok(());
    }
    connection
        .execute(
            "INSERT INTO destinations (destination, submitted) VALUES (?1, max(?2, 0)) \
             ON CONFLICT (destination) DO UPDATE SET submitted = max(submitted + ?2, 0)",
            params![destination, change],
        )
        .map(|_| ())
}

fn read_entry(row: &rusqlite::Row) -> rusqlite::Result<Entry> {
    let state = State::parse(&row.get::<_, String>(2)?);
    let owner: (i64, i64) = (row.get(7)?, row.get(8)?);
    Ok(Entry {
        key: row.get(0)?,
        payload_hash: row.get(1)?,
        state,
        http_status: row.get::<_, Option<i64>>(3)?.map(|s| s as u16),
        error: row.get(4)?,
        attempts: row.get::<_, i64>(5)? as u32,
        sent_at: row.get(6)?,
        held_elsewhere: state == State::Pending && owner != this_run() && alive(owner.0, owner.1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(pairs: &[(&str, &str)]) -> Vec<Claim> {
        pairs
            .iter()
            .map(|(k, h)| Claim { key: k.to_string(), hash: h.to_string(), payload: format!("{{\"k\":\"{k}\"}}") })
            .collect()
    }

    /// Claims unless the key was sent with this payload (what `resend 'changed'` wants).
    fn unless_sent(entry: &Entry, hash: &str) -> bool {
        !(entry.state == State::Sent && entry.payload_hash == hash)
    }

    fn settled(key: &str, state: State) -> Settled {
        Settled { key: key.into(), state, http_status: Some(200), error: None }
    }

    #[test]
    fn a_claim_is_on_disk_before_the_send_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/hgsql/webhooks.sqlite");
        let ledger = Ledger::open(&path).unwrap();
        let claimed = ledger.claim("d1", &rows(&[("a", "h1"), ("b", "h2")]), &unless_sent, None).unwrap();
        assert_eq!(claimed, [Claimed::Yes, Claimed::Yes]);
        drop(ledger);
        // Another connection (as another process would) sees the claims at once.
        let again = Ledger::open(&path).unwrap();
        let found = again.lookup("d1", &["a".into(), "b".into(), "c".into()]).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found["a"].state, State::Pending);
        again
            .settle(
                "d1",
                &[
                    settled("a", State::Sent),
                    Settled {
                        key: "b".into(),
                        state: State::Rejected,
                        http_status: Some(422),
                        error: Some("bad".into()),
                    },
                ],
            )
            .unwrap();
        let found = again.lookup("d1", &["a".into(), "b".into()]).unwrap();
        assert_eq!(
            (found["a"].state, found["b"].state, found["b"].http_status),
            (State::Sent, State::Rejected, Some(422))
        );
        assert!(found["a"].sent_at.is_some() && found["b"].sent_at.is_none());
        assert_eq!(again.submitted("d1").unwrap(), 1, "the rejected row never counted toward a cap");
        assert_eq!(again.submitted("d2").unwrap(), 0, "destinations are apart");
        // A second claim counts the attempt and takes the new payload.
        again.claim("d1", &rows(&[("b", "h3")]), &unless_sent, None).unwrap();
        let b = &again.lookup("d1", &["b".into()]).unwrap()["b"];
        assert_eq!((b.attempts, b.payload_hash.as_str(), b.state), (2, "h3", State::Pending));
        let records = again.records("d1").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].payload, "{\"k\":\"b\"}");
        assert_eq!(again.states("d1").unwrap(), [(State::Pending, 1), (State::Sent, 1)]);
    }

    #[test]
    fn a_claim_reads_the_entry_afresh_and_never_passes_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("w.sqlite")).unwrap();
        ledger.claim("d", &rows(&[("a", "h")]), &unless_sent, None).unwrap();
        ledger.settle("d", &[settled("a", State::Sent)]).unwrap();
        // Looked at before it was sent, claimed after: the fresh read says it is done.
        let claimed =
            ledger.claim("d", &rows(&[("a", "h"), ("b", "h"), ("c", "h"), ("d", "h")]), &unless_sent, Some(3));
        let claimed = claimed.unwrap();
        assert!(matches!(&claimed[0], Claimed::Settled(entry) if entry.state == State::Sent), "{claimed:?}");
        assert_eq!(claimed[1..], [Claimed::Yes, Claimed::Yes, Claimed::OverCap]);
        assert_eq!(ledger.submitted("d").unwrap(), 3);
        // A row refused by the receiver frees its place.
        ledger
            .settle("d", &[Settled { key: "b".into(), state: State::Failed, http_status: Some(503), error: None }])
            .unwrap();
        assert_eq!(ledger.claim("d", &rows(&[("d", "h")]), &unless_sent, Some(3)).unwrap(), [Claimed::Yes]);
        assert_eq!(ledger.claim("d", &rows(&[("e", "h")]), &unless_sent, Some(3)).unwrap(), [Claimed::OverCap]);
    }

    #[test]
    fn pending_rows_of_a_gone_process_become_unknown_and_a_live_claim_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("w.sqlite")).unwrap();
        ledger.claim("d", &rows(&[("mine", "h")]), &unless_sent, None).unwrap();
        // A claim of a process that no longer runs (pid beyond the kernel's range), one of a
        // process that runs (pid 1), and one of an earlier process given pid 1 (another start).
        let first = start_time(1).expect("/proc tells when pid 1 started");
        for (key, pid, started) in [("theirs", 999_999_999, 0), ("live", 1, first), ("reused", 1, first + 1)] {
            ledger
                .connection()
                .execute(
                    "INSERT INTO deliveries (destination, row_key, payload_hash, payload, state, attempts, updated_at, \
                     run_pid, run_started) VALUES ('d', ?1, 'h', '{}', 'pending', 1, 0, ?2, ?3)",
                    params![key, pid, started],
                )
                .unwrap();
        }
        assert_eq!(ledger.recover("d").unwrap(), 2);
        let found = ledger.lookup("d", &["mine".into(), "theirs".into(), "live".into(), "reused".into()]).unwrap();
        assert_eq!((found["mine"].state, found["theirs"].state), (State::Pending, State::Unknown));
        assert_eq!(
            (found["live"].state, found["reused"].state),
            (State::Pending, State::Unknown),
            "a reused pid is not the run"
        );
        assert!(found["theirs"].error.as_deref().unwrap().contains("ended before an answer"));
        assert!(found["live"].held_elsewhere && !found["mine"].held_elsewhere);
        assert_eq!(ledger.claim("d", &rows(&[("live", "h")]), &|_, _| true, None).unwrap(), [Claimed::Held]);
    }

    #[test]
    fn a_ledger_of_another_layout_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.sqlite");
        drop(Ledger::open(&path).unwrap());
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 7).unwrap();
        let refused = Ledger::open(&path).unwrap_err().to_string();
        assert!(refused.contains("layout 7") && refused.contains("w.sqlite"), "{refused}");
    }
}
