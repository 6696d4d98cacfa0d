//! `tether serve --ephemeral`: a data directory made fresh for one run in the system's temporary
//! directory (`$TMPDIR`, named `tether-ephemeral-…` so leftovers of a `kill -9` are easy to
//! find) and removed when the server exits, unless `--keep` asks to leave it for inspection.
//! Its listeners default to port 0, so any number of ephemeral servers run side by side. It
//! does not clean up after runs that were killed with SIGKILL; nothing can.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Where ephemeral listeners bind unless a flag says otherwise: loopback, any free port.
pub const ANY_PORT: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    0,
));

/// A data directory that lives as long as this value (or longer, when kept).
#[derive(Debug)]
pub struct EphemeralDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    keep: bool,
}

impl EphemeralDir {
    /// Creates a fresh, empty directory (mode 0700, as every temporary directory here).
    pub fn create(keep: bool) -> Result<EphemeralDir> {
        let dir = tempfile::Builder::new()
            .prefix("tether-ephemeral-")
            .tempdir()
            .context(
                "cannot create a temporary data directory for --ephemeral; set TMPDIR to a \
                 writable directory or pass --data-dir instead",
            )?;
        Ok(EphemeralDir {
            path: dir.path().to_owned(),
            dir: Some(dir),
            keep,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for EphemeralDir {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        if self.keep {
            let path = dir.keep();
            tracing::info!("kept the ephemeral data directory {}", path.display());
        } else if let Err(e) = dir.close() {
            tracing::warn!(
                "could not remove the ephemeral data directory {}: {e}",
                self.path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_is_removed_unless_kept() {
        let removed = EphemeralDir::create(false).unwrap();
        let path = removed.path().to_owned();
        std::fs::write(path.join("tether.db"), b"x").unwrap();
        assert!(path.is_dir());
        drop(removed);
        assert!(!path.exists());

        let kept = EphemeralDir::create(true).unwrap();
        let path = kept.path().to_owned();
        drop(kept);
        assert!(path.is_dir());
        std::fs::remove_dir_all(&path).unwrap();
    }
}
