//! Files hgsql keeps for the user (the response cache, the webhook ledger) hold what the
//! user's APIs answered and what was sent where: they are made private to the user, a 0700
//! directory and a 0600 file, like SSH's.

use std::path::Path;
use std::time::{Duration, Instant};

/// Creates `dir` and its parents, `0700`, unless it exists.
#[cfg(unix)]
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Creates the file `path`, `0600`, unless it exists (its contents are left alone).
#[cfg(unix)]
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path).map(|_| ())
}

#[cfg(not(unix))]
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(not(unix))]
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(path).map(|_| ())
}

/// Puts the SQLite file of `connection` in WAL mode. Two processes opening a new file at once
/// both try, and SQLite answers the one that meets the other's lock with BUSY at once, without
/// its busy handler: it tries again, for up to `within`.
pub fn use_wal(connection: &rusqlite::Connection, within: Duration) -> rusqlite::Result<()> {
    let started = Instant::now();
    loop {
        match connection.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy && started.elapsed() < within =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            done => return done,
        }
    }
}
