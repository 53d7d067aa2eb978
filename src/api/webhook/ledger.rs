//! The delivery ledger of the webhook sink: per destination and row key, the payload last
//! sent and how its delivery went. A row is marked `pending` and committed (`synchronous =
//! FULL`) before a byte of it is sent, so whatever happens next (a crash, a kill, a lost
//! answer) the ledger knows the row may have arrived, and a rerun never sends it blindly again.
//!
//! It lives under `$XDG_STATE_HOME/hgsql/`, apart from the response cache: `cache clear` must
//! not forget what was sent. Several processes may share it: a claim is a row of its own, so
//! two runs cannot both claim one key, and `pending` rows of a run whose process is gone become
//! `unknown` when the next run opens the destination.

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
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sent => "sent",
            State::Rejected => "rejected",
            State::Unknown => "unknown",
        }
    }

    fn parse(text: &str) -> State {
        match text {
            "sent" => State::Sent,
            "rejected" => State::Rejected,
            "pending" => State::Pending,
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

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    destination  TEXT NOT NULL,     -- sha256 of the target URL, never the URL
    row_key      TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    state        TEXT NOT NULL,     -- pending | sent | rejected | unknown
    http_status  INTEGER,
    error        TEXT,
    attempts     INTEGER NOT NULL,
    sent_at      INTEGER,
    updated_at   INTEGER NOT NULL,
    run_pid      INTEGER NOT NULL,  -- the process that claimed it last
    PRIMARY KEY (destination, row_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_by_state ON deliveries (destination, state);
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

/// Whether the process `pid` still runs (a claim of a live run is not touched).
fn alive(pid: i64) -> bool {
    pid == i64::from(std::process::id()) || Path::new(&format!("/proc/{pid}")).exists()
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
        connection
            .pragma_update(None, "journal_mode", "WAL")
            // A mark must be on disk before the request it announces leaves.
            .and_then(|()| connection.pragma_update(None, "synchronous", "FULL"))
            .and_then(|()| connection.execute_batch(SCHEMA))
            .map_err(|e| fail(format!("not a usable hgsql ledger ({e})")))?;
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
            .prepare("SELECT DISTINCT run_pid FROM deliveries WHERE destination = ?1 AND state = 'pending'")
            .map_err(|e| self.fail(e))?;
        let pids: Vec<i64> = statement
            .query_map([destination], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.fail(e))?;
        let mut recovered = 0;
        for pid in pids.into_iter().filter(|p| !alive(*p)) {
            recovered += connection
                .execute(
                    "UPDATE deliveries SET state = 'unknown', error = 'the run sending it ended before an answer came', \
                     updated_at = ?3 WHERE destination = ?1 AND state = 'pending' AND run_pid = ?2",
                    params![destination, pid, now()],
                )
                .map_err(|e| self.fail(e))?;
        }
        Ok(recovered)
    }

    /// What the ledger holds for `keys` of `destination`.
    pub fn lookup(&self, destination: &str, keys: &[String]) -> Result<HashMap<String, Entry>, LedgerError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT row_key, payload_hash, state, http_status, error, attempts, sent_at FROM deliveries \
                 WHERE destination = ?1 AND row_key = ?2",
            )
            .map_err(|e| self.fail(e))?;
        let mut found = HashMap::new();
        for key in keys {
            let entry =
                statement.query_row(params![destination, key], read_entry).optional().map_err(|e| self.fail(e))?;
            if let Some(entry) = entry {
                found.insert(key.clone(), entry);
            }
        }
        Ok(found)
    }

    /// Every entry of `destination`, by key.
    pub fn entries(&self, destination: &str) -> Result<Vec<Entry>, LedgerError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT row_key, payload_hash, state, http_status, error, attempts, sent_at FROM deliveries \
                 WHERE destination = ?1 ORDER BY row_key",
            )
            .map_err(|e| self.fail(e))?;
        statement.query_map([destination], read_entry).and_then(|rows| rows.collect()).map_err(|e| self.fail(e))
    }

    /// Rows of `destination` accepted so far, over every run (a receiver's lifetime cap counts them).
    pub fn sent_count(&self, destination: &str) -> Result<u64, LedgerError> {
        let connection = self.connection();
        connection
            .query_row(
                "SELECT count(*) FROM deliveries WHERE destination = ?1 AND state = 'sent'",
                [destination],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.fail(e))
    }

    /// Claims `rows` (key, payload hash) as `pending` for this process, in one transaction,
    /// committed before this returns: only then may they be sent. A key another live process
    /// holds `pending` is not claimed; the keys claimed are returned.
    pub fn claim(&self, destination: &str, rows: &[(String, String)]) -> Result<Vec<String>, LedgerError> {
        let mut connection = self.connection();
        let pid = i64::from(std::process::id());
        let transaction = connection.transaction().map_err(|e| self.fail(e))?;
        let mut claimed = Vec::new();
        {
            let mut held = transaction
                .prepare_cached("SELECT state, run_pid FROM deliveries WHERE destination = ?1 AND row_key = ?2")
                .map_err(|e| self.fail(e))?;
            let mut upsert = transaction
                .prepare_cached(
                    "INSERT INTO deliveries (destination, row_key, payload_hash, state, attempts, updated_at, run_pid) \
                     VALUES (?1, ?2, ?3, 'pending', 1, ?4, ?5) \
                     ON CONFLICT (destination, row_key) DO UPDATE SET payload_hash = ?3, state = 'pending', \
                     http_status = NULL, error = NULL, attempts = attempts + 1, updated_at = ?4, run_pid = ?5",
                )
                .map_err(|e| self.fail(e))?;
            for (key, hash) in rows {
                let current: Option<(String, i64)> = held
                    .query_row(params![destination, key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(|e| self.fail(e))?;
                if let Some((state, owner)) = current
                    && state == "pending"
                    && owner != pid
                    && alive(owner)
                {
                    continue;
                }
                upsert.execute(params![destination, key, hash, now(), pid]).map_err(|e| self.fail(e))?;
                claimed.push(key.clone());
            }
        }
        transaction.commit().map_err(|e| self.fail(e))?;
        Ok(claimed)
    }

    /// Records how the sends of `outcomes` ended, in one transaction.
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
        }
        transaction.commit().map_err(|e| self.fail(e))
    }
}

fn read_entry(row: &rusqlite::Row) -> rusqlite::Result<Entry> {
    Ok(Entry {
        key: row.get(0)?,
        payload_hash: row.get(1)?,
        state: State::parse(&row.get::<_, String>(2)?),
        http_status: row.get::<_, Option<i64>>(3)?.map(|s| s as u16),
        error: row.get(4)?,
        attempts: row.get::<_, i64>(5)? as u32,
        sent_at: row.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, h)| (k.to_string(), h.to_string())).collect()
    }

    fn settled(key: &str, state: State) -> Settled {
        Settled { key: key.into(), state, http_status: Some(200), error: None }
    }

    #[test]
    fn a_claim_is_on_disk_before_the_send_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/hgsql/webhooks.sqlite");
        let ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.claim("d1", &rows(&[("a", "h1"), ("b", "h2")])).unwrap(), ["a", "b"]);
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
        assert_eq!(again.sent_count("d1").unwrap(), 1);
        assert_eq!(again.sent_count("d2").unwrap(), 0, "destinations are apart");
        // A second claim counts the attempt and takes the new payload.
        again.claim("d1", &rows(&[("b", "h3")])).unwrap();
        let b = &again.lookup("d1", &["b".into()]).unwrap()["b"];
        assert_eq!((b.attempts, b.payload_hash.as_str(), b.state), (2, "h3", State::Pending));
    }

    #[test]
    fn pending_rows_of_a_gone_process_become_unknown_and_a_live_claim_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("w.sqlite")).unwrap();
        ledger.claim("d", &rows(&[("mine", "h")])).unwrap();
        // A claim of a process that no longer runs (pid beyond the kernel's range).
        ledger
            .connection()
            .execute(
                "INSERT INTO deliveries (destination, row_key, payload_hash, state, attempts, updated_at, run_pid) \
                 VALUES ('d', 'theirs', 'h', 'pending', 1, 0, 999999999)",
                [],
            )
            .unwrap();
        assert_eq!(ledger.recover("d").unwrap(), 1);
        let found = ledger.lookup("d", &["mine".into(), "theirs".into()]).unwrap();
        assert_eq!((found["mine"].state, found["theirs"].state), (State::Pending, State::Unknown));
        assert!(found["theirs"].error.as_deref().unwrap().contains("ended before an answer"));
    }
}
