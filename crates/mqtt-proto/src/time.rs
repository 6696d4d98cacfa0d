//! `Instant`: a monotonic point in time that callers hand to the session state machines. It is
//! a count of milliseconds since an origin the caller chooses; nothing in this crate reads a
//! clock, so tests and simulations control time completely.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A monotonic instant: milliseconds since an arbitrary origin chosen by the caller.
///
/// Arithmetic saturates instead of overflowing, so peer-controlled durations (keep-alive
/// seconds, for example) can never make it panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(0);

    /// The instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant(millis)
    }

    /// The instant `secs` seconds after the origin.
    pub const fn from_secs(secs: u64) -> Instant {
        Instant(secs.saturating_mul(1000))
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + duration`, or `None` if that is beyond the representable range.
    pub fn checked_add(self, duration: Duration) -> Option<Instant> {
        let millis = u64::try_from(duration.as_millis()).ok()?;
        self.0.checked_add(millis).map(Instant)
    }

    /// `self + duration`, clamped to the largest representable instant.
    pub fn saturating_add(self, duration: Duration) -> Instant {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(millis))
    }

    /// `self - duration`, clamped to the origin.
    pub fn saturating_sub(self, duration: Duration) -> Instant {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_sub(millis))
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = self.saturating_add(rhs);
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        self.saturating_sub(rhs)
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_and_subtracts_durations_in_milliseconds() {
        let t = Instant::from_secs(2) + Duration::from_millis(250);
        assert_eq!(t.as_millis(), 2250);
        assert_eq!(t - Instant::from_secs(1), Duration::from_millis(1250));
        assert_eq!(t - Duration::from_secs(1), Instant::from_millis(1250));
        assert_eq!(alloc::format!("{t}"), "2.250s");
    }

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let end = Instant::from_millis(u64::MAX);
        assert_eq!(end + Duration::from_secs(1), end);
        assert_eq!(end.checked_add(Duration::from_millis(1)), None);
        assert_eq!(Instant::ZERO - Duration::from_secs(5), Instant::ZERO);
        assert_eq!(Instant::ZERO - end, Duration::ZERO);
        assert_eq!(Instant::ZERO + Duration::MAX, end);
    }
}
