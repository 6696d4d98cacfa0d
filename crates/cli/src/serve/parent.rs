//! `tether serve --exit-with-parent`: notice that the process which started the server has gone,
//! so a test run that crashed or was killed leaves no broker behind. It watches the parent pid
//! from safe code: when the parent exits, the kernel hands its children to init (or to the
//! nearest subreaper) and `getppid()` changes, which a light poll notices within
//! [`POLL_INTERVAL`]. `prctl(PR_SET_PDEATHSIG)` would be instant but needs `unsafe`, which the
//! workspace denies; a fifth of a second is well inside what a test runner waits for a port.
//! What it cannot see: a parent that died before the server read its pid (the window between
//! `fork` and the first instructions of `main`), since the server then starts with init as its
//! parent already.

use std::time::Duration;

/// How often the parent pid is read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The parent the server started with, read now.
#[derive(Debug, Clone, Copy)]
pub struct Parent {
    pid: u32,
}

impl Parent {
    /// The current parent process.
    #[cfg(unix)]
    pub fn current() -> Parent {
        Parent {
            pid: std::os::unix::process::parent_id(),
        }
    }

    /// Completes once the parent has exited (this process was handed to another parent).
    #[cfg(unix)]
    pub async fn exited(self) {
        let mut ticks = tokio::time::interval(POLL_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if std::os::unix::process::parent_id() != self.pid {
                tracing::info!(
                    "the parent process {} exited (--exit-with-parent): shutting down",
                    self.pid
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_living_parent_keeps_the_future_pending() {
        let parent = Parent::current();
        assert_eq!(parent.pid, std::os::unix::process::parent_id());
        let waited = tokio::time::timeout(POLL_INTERVAL * 3, parent.exited()).await;
        assert!(
            waited.is_err(),
            "the test runner is alive, yet its exit was reported"
        );
    }

    #[tokio::test]
    async fn a_different_recorded_parent_counts_as_exited() {
        // The watcher compares against the pid it started with; a process whose recorded
        // parent is not its parent now is one whose parent went away.
        let gone = Parent {
            pid: std::os::unix::process::parent_id().wrapping_add(1),
        };
        tokio::time::timeout(POLL_INTERVAL * 10, gone.exited())
            .await
            .unwrap();
    }
}
