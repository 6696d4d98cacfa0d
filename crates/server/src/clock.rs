//! The broker's clock: `mqtt_proto::time::Instant` (monotonic milliseconds since start-up, what
//! the pure crates are given) mapped to wall-clock time and to tokio deadlines. Both clocks are
//! read once at start-up; this is the one place in the server that converts between them.
//!
//! Every timer of the broker (keep-alive, session and message expiry, takeover waits, the
//! expiry of a connection's certificate) runs on `Instant`, so a jump of the host's wall clock
//! moves none of them. Wall-clock time is what the broker shows or compares with other
//! parties: timestamps (retained messages, lifecycle events, services' records and job timers,
//! which are stored as wall-clock deadlines so they survive restarts) and SigV4's 15-minute
//! window. For fault tests, `--clock-offset-file` injects an offset into this wall clock at
//! run time ([`set_wall_offset_ms`]): the broker's own clock jumps, not the host's. OpenSSL's
//! check of a client certificate's validity period reads the host clock and does not move.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

/// The injected offset of the broker's wall clock, in milliseconds (0 unless the test hook
/// set it). Process-wide: one server per process outside tests.
static WALL_OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Shifts the broker's wall clock by `ms` from the host's (a test hook).
pub fn set_wall_offset_ms(ms: i64) {
    WALL_OFFSET_MS.store(ms, Ordering::Release);
}

/// The injected offset of the broker's wall clock, in milliseconds.
pub fn wall_offset_ms() -> i64 {
    WALL_OFFSET_MS.load(Ordering::Acquire)
}

/// Reads the offset (whole seconds, signed) from `path` now and then every 200 ms on a task
/// of the current runtime, logging each change. A file that is missing or unreadable leaves
/// the offset as it is.
pub fn follow_offset_file(path: std::path::PathBuf) {
    fn read(path: &std::path::Path) -> Option<i64> {
        let text = std::fs::read_to_string(path).ok()?;
        let seconds: i64 = text.trim().parse().ok()?;
        Some(seconds.saturating_mul(1000))
    }
    let apply = move |path: &std::path::Path| {
        if let Some(ms) = read(path)
            && ms != wall_offset_ms()
        {
            set_wall_offset_ms(ms);
            tracing::warn!(
                "test hook {}: the broker's wall clock is now {} s from the host's",
                path.display(),
                ms / 1000
            );
        }
    };
    apply(&path);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(200));
        loop {
            every.tick().await;
            apply(&path);
        }
    });
}

/// The host's wall clock shifted by the injected offset: what SigV4 windows and timestamps of
/// the API compare with.
pub fn system_now() -> SystemTime {
    let offset = wall_offset_ms();
    let magnitude = Duration::from_millis(offset.unsigned_abs());
    let now = SystemTime::now();
    if offset >= 0 {
        now.checked_add(magnitude).unwrap_or(now)
    } else {
        now.checked_sub(magnitude).unwrap_or(now)
    }
}

use mqtt_proto::time::Instant;

/// Maps the broker's monotonic clock to wall-clock time: both are read once at start-up.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: std::time::Instant,
    origin_wall_ms: i64,
}

impl Clock {
    /// A clock whose `Instant` origin is now.
    pub fn start() -> Clock {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Clock {
            origin: std::time::Instant::now(),
            origin_wall_ms: wall,
        }
    }

    /// The broker's `now`.
    pub fn now(&self) -> Instant {
        let elapsed = self.origin.elapsed().as_millis();
        Instant::from_millis(u64::try_from(elapsed).unwrap_or(u64::MAX))
    }

    /// Wall-clock milliseconds now.
    pub fn wall_ms(&self) -> i64 {
        self.wall_of(self.now())
    }

    /// Wall-clock milliseconds of a broker instant (with the injected offset).
    pub fn wall_of(&self, instant: Instant) -> i64 {
        self.origin_wall_ms
            .saturating_add(wall_offset_ms())
            .saturating_add(i64::try_from(instant.as_millis()).unwrap_or(i64::MAX))
    }

    /// The broker instant of a wall-clock time (the origin for times before it).
    pub fn instant_of(&self, wall_ms: i64) -> Instant {
        let origin = self.origin_wall_ms.saturating_add(wall_offset_ms());
        let since = wall_ms.saturating_sub(origin).max(0);
        Instant::from_millis(u64::try_from(since).unwrap_or(0))
    }

    /// The tokio deadline of a broker instant.
    pub fn deadline(&self, instant: Instant) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.origin + Duration::from_millis(instant.as_millis()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_and_instants_map_both_ways() {
        let clock = Clock::start();
        let now = clock.now();
        let wall = clock.wall_of(now);
        assert_eq!(clock.instant_of(wall), now);
    }
}
