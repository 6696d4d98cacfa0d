//! The broker's clock: `mqtt_proto::time::Instant` (monotonic milliseconds since start-up, what
//! the pure crates are given) mapped to wall-clock time and to tokio deadlines. Both clocks are
//! read once at start-up; this is the one place in the server that converts between them.

use std::time::Duration;

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

    /// Wall-clock milliseconds of a broker instant.
    pub fn wall_of(&self, instant: Instant) -> i64 {
        self.origin_wall_ms
            .saturating_add(i64::try_from(instant.as_millis()).unwrap_or(i64::MAX))
    }

    /// The broker instant of a wall-clock time (the origin for times before it).
    pub fn instant_of(&self, wall_ms: i64) -> Instant {
        let since = wall_ms.saturating_sub(self.origin_wall_ms).max(0);
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
