//! The pace of a bridge's outbound publishes, pure: token buckets for messages and payload
//! bytes per second (AWS IoT Core's per-connection quotas by default), each holding one
//! second's worth, so a burst after an outage drains at the quota rather than being silently
//! discarded upstream. Time is passed in.

use std::time::{Duration, Instant};

/// One bucket: `rate` tokens per second, at most `rate` held.
#[derive(Debug, Clone)]
struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: u32, now: Instant) -> Bucket {
        Bucket {
            rate: f64::from(rate.max(1)),
            tokens: f64::from(rate.max(1)),
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.at = now;
    }

    /// How long until `cost` tokens are there (zero when they are). A cost above the bucket's
    /// size waits for a full bucket, then goes (into debt), so a large message is not stuck.
    fn wait(&mut self, cost: f64, now: Instant) -> Duration {
        self.refill(now);
        let needed = cost.min(self.rate);
        if self.tokens >= needed {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((needed - self.tokens) / self.rate)
        }
    }

    fn take(&mut self, cost: f64) {
        self.tokens -= cost;
    }
}

/// The outbound pace of one bridge.
#[derive(Debug, Clone)]
pub(crate) struct Pace {
    messages: Option<Bucket>,
    bytes: Option<Bucket>,
}

impl Pace {
    /// At most `messages` publishes and `bytes` payload bytes per second (`None`: no limit).
    pub(crate) fn new(messages: Option<u32>, bytes: Option<u32>, now: Instant) -> Pace {
        Pace {
            messages: messages.map(|rate| Bucket::new(rate, now)),
            bytes: bytes.map(|rate| Bucket::new(rate, now)),
        }
    }

    /// How long before a message of `payload` bytes may go (zero: now).
    pub(crate) fn wait(&mut self, payload: usize, now: Instant) -> Duration {
        let mut wait = Duration::ZERO;
        if let Some(bucket) = &mut self.messages {
            wait = wait.max(bucket.wait(1.0, now));
        }
        if let Some(bucket) = &mut self.bytes {
            wait = wait.max(bucket.wait(payload as f64, now));
        }
        wait
    }

    /// A message of `payload` bytes went.
    pub(crate) fn spend(&mut self, payload: usize) {
        if let Some(bucket) = &mut self.messages {
            bucket.take(1.0);
        }
        if let Some(bucket) = &mut self.bytes {
            bucket.take(payload as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_of_burst_then_the_rate() {
        let start = Instant::now();
        let mut pace = Pace::new(Some(100), None, start);
        for _ in 0..100 {
            assert_eq!(pace.wait(10, start), Duration::ZERO);
            pace.spend(10);
        }
        let wait = pace.wait(10, start);
        assert!(
            wait > Duration::from_millis(9) && wait <= Duration::from_millis(10),
            "{wait:?}"
        );
        assert_eq!(
            pace.wait(10, start + Duration::from_millis(10)),
            Duration::ZERO
        );
    }

    #[test]
    fn bytes_are_paced_and_a_large_message_waits_only_for_a_full_bucket() {
        let start = Instant::now();
        let mut pace = Pace::new(None, Some(1000), start);
        assert_eq!(pace.wait(600, start), Duration::ZERO);
        pace.spend(600);
        let wait = pace.wait(600, start);
        assert!(wait >= Duration::from_millis(199) && wait <= Duration::from_millis(201));
        let later = start + Duration::from_secs(1);
        assert_eq!(pace.wait(5000, later), Duration::ZERO);
        let mut none = Pace::new(None, None, start);
        assert_eq!(none.wait(1 << 20, start), Duration::ZERO);
    }
}
