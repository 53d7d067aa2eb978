//! Output files appear whole or not at all. A query is written under a hidden temporary name in
//! the target's directory and renamed over the target only when it completed; a failed,
//! cancelled or interrupted query removes its temporary file and leaves an existing target as
//! it was. Used by `COPY … TO` and by the command line's `-o FILE`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of every temporary output file, so a leftover after `kill -9` is recognisable.
pub const TEMP_PREFIX: &str = ".hgsql-tmp-";
/// Prefix of a temporary output directory (no dot: see [`PendingOutput::directory`]).
pub const TEMP_DIR_PREFIX: &str = "_hgsql-tmp-";

/// An output being written: `temp_path()` now, the target once [`commit`](Self::commit)ted.
#[derive(Debug)]
pub struct PendingOutput {
    target: PathBuf,
    temp: PathBuf,
    committed: bool,
}

impl PendingOutput {
    /// Plans the write of `target`: the temporary name sits beside it (a rename within one
    /// directory is atomic) and keeps its file name at the end, so the extension that tells the
    /// format is the same.
    pub fn new(target: &Path) -> PendingOutput {
        PendingOutput::named(target, TEMP_PREFIX)
    }

    /// Plans the write of a directory of files at `target` (a partitioned or directory COPY).
    /// The temporary name has no dot, so DataFusion, which writes one file when the last part
    /// of a path has an extension, writes a directory there too.
    pub fn directory(target: &Path) -> PendingOutput {
        PendingOutput::named(target, TEMP_DIR_PREFIX)
    }

    fn named(target: &Path, prefix: &str) -> PendingOutput {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
        let name = if prefix == TEMP_DIR_PREFIX { name.replace('.', "_") } else { name };
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let temp_name = format!("{prefix}{}-{unique}-{name}", std::process::id());
        let temp = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(temp_name),
            _ => PathBuf::from(temp_name),
        };
        PendingOutput { target: target.to_path_buf(), temp, committed: false }
    }

    /// Where to write now.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The name the output gets when complete.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Moves the complete output to its target, replacing a file there. A directory of files
    /// (a partitioned COPY) is merged into an existing target directory, as DataFusion would
    /// have added its files to it.
    pub fn commit(mut self) -> io::Result<()> {
        if !self.temp.exists() {
            // Nothing was written (an EXPLAIN of a COPY): nothing to put in place.
            self.committed = true;
            return Ok(());
        }
        let result = if self.temp.is_dir() && self.target.is_dir() {
            merge_dir(&self.temp, &self.target).and_then(|()| std::fs::remove_dir_all(&self.temp))
        } else {
            std::fs::rename(&self.temp, &self.target)
        };
        result.map_err(|e| {
            io::Error::new(e.kind(), format!("cannot move the finished output to {}: {e}", self.target.display()))
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PendingOutput {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let removed =
            if self.temp.is_dir() { std::fs::remove_dir_all(&self.temp) } else { std::fs::remove_file(&self.temp) };
        if let Err(e) = removed
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.temp.display(), error = %e, "could not remove an unfinished output file");
        }
    }
}

/// Moves every entry of `from` into `to`, descending into directories both have.
fn merge_dir(from: &Path, to: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let destination = to.join(entry.file_name());
        if entry.file_type()?.is_dir() && destination.is_dir() {
            merge_dir(&entry.path(), &destination)?;
        } else {
            std::fs::rename(entry.path(), &destination)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_output_replaces_the_target_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.parquet");
        std::fs::write(&target, "old").unwrap();
        let pending = PendingOutput::new(&target);
        assert_eq!(pending.temp_path().parent(), Some(dir.path()));
        assert!(pending.temp_path().to_string_lossy().ends_with("out.parquet"));
        std::fs::write(pending.temp_path(), "new").unwrap();
        pending.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_abandoned_output_is_removed_and_the_target_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old").unwrap();
        let pending = PendingOutput::new(&target);
        std::fs::write(pending.temp_path(), "half").unwrap();
        drop(pending);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let directory = PendingOutput::new(&dir.path().join("parts"));
        std::fs::create_dir_all(directory.temp_path().join("k=1")).unwrap();
        std::fs::write(directory.temp_path().join("k=1/a.parquet"), "x").unwrap();
        drop(directory);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_directory_output_merges_into_an_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("parts");
        std::fs::create_dir_all(target.join("k=1")).unwrap();
        std::fs::write(target.join("k=1/old.parquet"), "old").unwrap();
        let pending = PendingOutput::new(&target);
        std::fs::create_dir_all(pending.temp_path().join("k=1")).unwrap();
        std::fs::write(pending.temp_path().join("k=1/new.parquet"), "new").unwrap();
        pending.commit().unwrap();
        let mut names: Vec<_> =
            std::fs::read_dir(target.join("k=1")).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["new.parquet", "old.parquet"]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
