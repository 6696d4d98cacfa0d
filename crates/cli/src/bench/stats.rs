//! The numbers `tether bench` keeps: latency histograms with their percentiles, the timestamp
//! and sequence stamped into every payload, per-publisher receipt tracking (loss and duplicate
//! counts), and CPU and memory readings from `/proc`. It does no networking and prints nothing.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Bytes at the start of every bench payload: send time (u64), publisher (u32), sequence (u32).
pub const STAMP_LEN: usize = 16;

/// Highest latency the histograms track, in microseconds (one hour); larger values are clamped.
const MAX_TRACKED_US: u64 = 3_600_000_000;

/// What a payload says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Intended send time, nanoseconds since the bench's epoch.
    pub sent_ns: u64,
    /// Which publisher sent it.
    pub publisher: u32,
    /// The publisher's sequence number, from 0.
    pub seq: u32,
}

impl Stamp {
    /// Writes the stamp and pads with `x` to `size` bytes (at least [`STAMP_LEN`]).
    pub fn encode_into(&self, size: usize, out: &mut bytes::BytesMut) {
        out.extend_from_slice(&self.sent_ns.to_le_bytes());
        out.extend_from_slice(&self.publisher.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.resize(out.len() + size.saturating_sub(STAMP_LEN), b'x');
    }

    /// Reads the stamp of a payload; `None` for a payload that is not a bench message.
    pub fn decode(payload: &[u8]) -> Option<Stamp> {
        let sent_ns = u64::from_le_bytes(payload.get(0..8)?.try_into().ok()?);
        let publisher = u32::from_le_bytes(payload.get(8..12)?.try_into().ok()?);
        let seq = u32::from_le_bytes(payload.get(12..16)?.try_into().ok()?);
        Some(Stamp {
            sent_ns,
            publisher,
            seq,
        })
    }
}

/// The bench's clock: one monotonic epoch shared by senders and receivers of one process.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Clock {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Nanoseconds since the epoch.
    pub fn now_ns(&self) -> u64 {
        self.ns_at(Instant::now())
    }

    /// Nanoseconds from the epoch to `at`.
    pub fn ns_at(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The instant `ns` nanoseconds after the epoch.
    pub fn instant(&self, ns: u64) -> Instant {
        self.epoch + Duration::from_nanos(ns)
    }
}

/// A latency histogram in microseconds.
#[derive(Debug, Clone)]
pub struct Latency {
    /// `None` only if the histogram library refused fixed, valid bounds; then nothing is kept
    /// and every summary is empty rather than the program failing.
    histogram: Option<Histogram<u64>>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    /// An empty histogram from 1 µs to one hour with three significant digits.
    pub fn new() -> Latency {
        Latency {
            histogram: Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).ok(),
        }
    }

    /// Records one latency (clamped into the tracked range).
    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(MAX_TRACKED_US);
        self.record_us(us);
    }

    /// Records one latency in microseconds.
    pub fn record_us(&mut self, us: u64) {
        if let Some(histogram) = self.histogram.as_mut() {
            let _ = histogram.record(us.clamp(1, MAX_TRACKED_US));
        }
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latency) {
        if let (Some(mine), Some(theirs)) = (self.histogram.as_mut(), other.histogram.as_ref()) {
            let _ = mine.add(theirs);
        }
    }

    /// The summary reported: p50, p99, p99.9 and max (all zero when empty).
    pub fn summary(&self) -> Percentiles {
        let Some(h) = self.histogram.as_ref().filter(|h| !h.is_empty()) else {
            return Percentiles::default();
        };
        Percentiles {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean(),
        }
    }
}

/// Percentiles of a latency histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest sample.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
}

/// Which (publisher, sequence) pairs one subscriber has seen: counts unique messages and
/// duplicates so that "zero loss" is a checked fact, not a count that duplicates could hide.
#[derive(Debug, Clone, Default)]
pub struct Receipts {
    seen: Vec<Vec<u64>>,
    unique: u64,
    duplicates: u64,
    foreign: u64,
}

impl Receipts {
    /// Notes one received payload.
    pub fn note(&mut self, stamp: Option<Stamp>) {
        let Some(stamp) = stamp else {
            self.foreign += 1;
            return;
        };
        let publisher = usize::try_from(stamp.publisher).unwrap_or(usize::MAX);
        // Publisher ids are small and dense; anything absurd counts as foreign.
        if publisher > 1_000_000 {
            self.foreign += 1;
            return;
        }
        if self.seen.len() <= publisher {
            self.seen.resize_with(publisher + 1, Vec::new);
        }
        let Some(bits) = self.seen.get_mut(publisher) else {
            return;
        };
        let seq = usize::try_from(stamp.seq).unwrap_or(usize::MAX);
        let word = seq / 64;
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if let Some(slot) = bits.get_mut(word) {
            let mask = 1u64 << (seq % 64);
            if *slot & mask == 0 {
                *slot |= mask;
                self.unique += 1;
            } else {
                self.duplicates += 1;
            }
        }
    }

    /// Distinct messages received.
    pub fn unique(&self) -> u64 {
        self.unique
    }

    /// Messages received more than once (extra copies).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Payloads that were not bench messages.
    pub fn foreign(&self) -> u64 {
        self.foreign
    }
}

/// CPU time (user + system) of a process from `/proc/<pid>/stat`, `None` when unreadable.
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let ticks = parse_stat_cpu_ticks(&text)?;
    Some(Duration::from_secs_f64(
        ticks as f64 / clock_ticks_per_second(),
    ))
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, in clock ticks. The command
/// name in parentheses may hold spaces, so fields are counted after its closing parenthesis.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    // After ")" come field 3 (state) onwards; utime is field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second for `/proc` times. Linux has reported 100 (USER_HZ) on every
/// architecture for decades; `getconf CLK_TCK` is the authority when someone doubts it.
fn clock_ticks_per_second() -> f64 {
    100.0
}

/// Memory of a process from `/proc/<pid>/status`: (VmRSS, VmHWM) in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_memory(&text)
}

/// VmRSS and VmHWM of a `/proc/<pid>/status` text, in KiB.
pub fn parse_status_memory(status: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
    };
    Some((field("VmRSS")?, field("VmHWM")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_pad_to_the_payload_size() {
        let stamp = Stamp {
            sent_ns: 0x0102_0304_0506_0708,
            publisher: 7,
            seq: 99_999,
        };
        let mut buf = bytes::BytesMut::new();
        stamp.encode_into(64, &mut buf);
        assert_eq!(buf.len(), 64);
        assert_eq!(buf.get(16..).unwrap(), [b'x'; 48].as_slice());
        assert_eq!(Stamp::decode(&buf), Some(stamp));
        // The smallest payload is the stamp itself.
        let mut small = bytes::BytesMut::new();
        stamp.encode_into(4, &mut small);
        assert_eq!(small.len(), STAMP_LEN);
        assert_eq!(Stamp::decode(&small), Some(stamp));
    }

    #[test]
    fn short_payloads_are_not_stamps() {
        assert_eq!(Stamp::decode(b""), None);
        assert_eq!(Stamp::decode(&[0; 15]), None);
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut latency = Latency::new();
        for us in 1..=10_000u64 {
            latency.record_us(us);
        }
        let p = latency.summary();
        assert_eq!(p.count, 10_000);
        // Three significant digits: values within 0.1 %.
        assert!((4_995..=5_005).contains(&p.p50_us), "{p:?}");
        assert!((9_890..=9_910).contains(&p.p99_us), "{p:?}");
        assert!((9_980..=10_000).contains(&p.p999_us), "{p:?}");
        assert!((9_995..=10_007).contains(&p.max_us), "{p:?}");
        assert!((p.mean_us - 5_000.5).abs() < 10.0, "{p:?}");
    }

    #[test]
    fn merged_histograms_hold_both_sets_and_extremes_are_clamped() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        a.record(Duration::from_micros(100));
        b.record(Duration::from_secs(100_000));
        b.record(Duration::ZERO);
        a.merge(&b);
        let p = a.summary();
        assert_eq!(p.count, 3);
        assert!(p.max_us >= 3_599_000_000 && p.max_us <= MAX_TRACKED_US + 2_000_000);
        assert_eq!(Latency::new().summary(), Percentiles::default());
    }

    #[test]
    fn receipts_count_unique_duplicate_and_foreign() {
        let mut receipts = Receipts::default();
        let stamp = |publisher, seq| {
            Some(Stamp {
                sent_ns: 0,
                publisher,
                seq,
            })
        };
        for seq in 0..200 {
            receipts.note(stamp(0, seq));
            receipts.note(stamp(3, seq));
        }
        receipts.note(stamp(0, 63));
        receipts.note(stamp(0, 64));
        receipts.note(None);
        receipts.note(stamp(5_000_000, 1));
        assert_eq!(receipts.unique(), 400);
        assert_eq!(receipts.duplicates(), 2);
        assert_eq!(receipts.foreign(), 2);
    }

    #[test]
    fn proc_stat_cpu_fields_survive_spaces_in_the_name() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 500 0 0 0 123 45 0 0 20 0 9 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(168));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
        let own = cpu_time(None);
        assert!(own.is_some());
    }

    #[test]
    fn proc_status_memory_fields() {
        let status = "Name:\tmosquitto\nVmHWM:\t   9876 kB\nVmRSS:\t    5432 kB\n";
        assert_eq!(parse_status_memory(status), Some((5432, 9876)));
        assert_eq!(parse_status_memory("Name: x\n"), None);
        assert!(memory_kib(std::process::id()).is_some());
    }
}
