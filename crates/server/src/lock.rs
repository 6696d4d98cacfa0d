//! One `tether serve` per data directory: `DATA_DIR/tether.lock` is locked exclusively
//! (`File::try_lock`, an advisory `flock` on Unix) for as long as the server runs, and holds its
//! process id so that a second server can name the first. The operating system releases the
//! lock when the process exits, however it exits (`kill -9` included), so a stale file never
//! blocks a restart. Sessions, queues and the database are thereby never owned twice. It does
//! not stop other tools (`tether device`, `tether doctor`) from reading the directory.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "tether.lock";

/// Why the data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "the data directory {dir} is in use by another tether serve ({holder}); stop that one \
         first, or give this one its own --data-dir (two servers on one directory would both \
         own its sessions and queues)"
    )]
    Held {
        /// The data directory.
        dir: PathBuf,
        /// `pid N`, or what is known of the holder.
        holder: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error("cannot lock {path}: {source}; check the permissions of the data directory")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Locks `dir` for this process and writes its pid into the lock file.
pub fn lock(dir: &Path) -> Result<DataDirLock, LockError> {
    let path = dir.join(LOCK_FILE);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    // Not truncated on open: the holder's pid must survive a second server's attempt.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = match text.trim().parse::<u32>() {
                Ok(pid) => format!("pid {pid}"),
                Err(_) => format!("its pid is not in {}", path.display()),
            };
            return Err(LockError::Held {
                dir: dir.to_owned(),
                holder,
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(DataDirLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_first_holder_and_a_released_lock_is_free_again() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        // flock locks belong to the open file description, so a second open in this process
        // is refused like another process would be.
        let err = lock(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("--data-dir"), "{err}");
        drop(first);
        lock(dir.path()).unwrap();
    }
}
