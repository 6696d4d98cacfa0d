//! What the console pushes: one sampler task reads the server's counters every second and the
//! refusal record as it grows, keeps the overview's history (connections and messages per
//! second over the last six minutes, refusals per minute over the last hour), and broadcasts
//! to every open page over a server-sent event stream: `stats` each second, `sessions` when
//! connections came or went, `refusal` for each new record with the doctor's advice. The page
//! never polls; it refetches a list when an event says it changed. Nothing here decides or
//! changes anything.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::{Console, allowed, json_ok, views};

/// How often the counters are read.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Samples kept for the line charts (six minutes).
const SAMPLES_KEPT: usize = 360;

/// Minutes of refusal counts kept for the bar chart.
const MINUTES_KEPT: usize = 60;

/// Events an open page may fall behind by before it is told to reload its lists.
const QUEUE: usize = 256;

/// One thing the pages are told.
#[derive(Debug, Clone)]
pub(crate) enum Pushed {
    /// The latest sample.
    Stats(Value),
    /// Connections came or went.
    Sessions,
    /// A new refusal record, with advice.
    Refusal(Value),
    /// The server is shutting down: streams end.
    Closing,
}

/// The history and the broadcast.
#[derive(Debug)]
pub(crate) struct Live {
    sender: broadcast::Sender<Pushed>,
    history: Mutex<History>,
    data_dir: PathBuf,
}

#[derive(Debug, Default)]
struct History {
    /// `[unix ms, connections, messages/s]`.
    samples: VecDeque<(i64, i64, f64)>,
    /// `(unix minute, refusals)`, oldest first.
    minutes: VecDeque<(i64, u64)>,
    closed: bool,
}

impl History {
    fn count_refusal(&mut self, minute: i64) {
        match self.minutes.back_mut() {
            Some((m, n)) if *m == minute => *n += 1,
            _ => self.minutes.push_back((minute, 1)),
        }
        self.trim(minute);
    }

    fn trim(&mut self, minute: i64) {
        let oldest = minute - i64::try_from(MINUTES_KEPT).unwrap_or(60) + 1;
        while self.minutes.front().is_some_and(|(m, _)| *m < oldest) {
            self.minutes.pop_front();
        }
    }

    fn last_hour(&self) -> u64 {
        self.minutes.iter().map(|(_, n)| n).sum()
    }
}

impl Live {
    pub(crate) fn new(data_dir: &Path) -> Live {
        Live {
            sender: broadcast::channel(QUEUE).0,
            history: Mutex::new(History::default()),
            data_dir: data_dir.to_owned(),
        }
    }

    /// Ends every event stream.
    pub(crate) fn close(&self) {
        if let Ok(mut history) = self.history.lock() {
            history.closed = true;
        }
        let _ = self.sender.send(Pushed::Closing);
    }

    fn snapshot(&self) -> Value {
        let Ok(history) = self.history.lock() else {
            return Value::Null;
        };
        json!({
            "samples": history.samples.iter().map(|(t, c, m)| json!([t, c, m])).collect::<Vec<_>>(),
            "minutes": history.minutes.iter().map(|(m, n)| json!([m * 60_000, n])).collect::<Vec<_>>(),
            "refusalsLastHour": history.last_hour(),
        })
    }
}

/// Starts the sampler; it ends with the console (or when it closes).
pub(crate) fn spawn_sampler(console: Weak<Console>) {
    tokio::spawn(async move {
        let mut tail = match console.upgrade() {
            Some(c) => Tail::start(&c.live),
            None => return,
        };
        let mut ticks = tokio::time::interval(SAMPLE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last: Option<(u64, i64, u64)> = None;
        loop {
            ticks.tick().await;
            let Some(console) = console.upgrade() else {
                return;
            };
            if console.live.history.lock().map_or(true, |h| h.closed) {
                return;
            }
            // New refusals first, so that this second's `stats` counts them.
            for record in tail.read_new() {
                let now_minute = unix_ms() / 60_000;
                if let Ok(mut history) = console.live.history.lock() {
                    history.count_refusal(now_minute);
                }
                let _ = console
                    .live
                    .sender
                    .send(Pushed::Refusal(views::refusal_json(&record)));
            }
            sample(&console, &mut last);
        }
    });
}

/// Reads the counters, records a sample, tells the pages.
fn sample(console: &Console, last: &mut Option<(u64, i64, u64)>) {
    let metrics = &console.metrics;
    let received = metrics.messages_received.get();
    let open = metrics.connections_open.get();
    let accepted = metrics.connections_accepted.get();
    let now = unix_ms();
    #[allow(clippy::cast_precision_loss)]
    let rate = match *last {
        Some((before, _, _)) => received.saturating_sub(before) as f64 / SAMPLE_EVERY.as_secs_f64(),
        None => 0.0,
    };
    let changed = last.is_some_and(|(_, o, a)| o != open || a != accepted);
    *last = Some((received, open, accepted));
    let refusals = match console.live.history.lock() {
        Ok(mut history) => {
            history.samples.push_back((now, open, rate));
            while history.samples.len() > SAMPLES_KEPT {
                history.samples.pop_front();
            }
            history.trim(now / 60_000);
            history.last_hour()
        }
        Err(_) => 0,
    };
    let stats = json!({
        "t": now,
        "connections": open,
        "messagesPerSecond": rate,
        "refusalsLastHour": refusals,
        "accepted": accepted,
        "received": received,
        "delivered": metrics.messages_delivered.get(),
    });
    let _ = console.live.sender.send(Pushed::Stats(stats));
    if changed {
        let _ = console.live.sender.send(Pushed::Sessions);
    }
}

/// Follows DATA_DIR/refusals.jsonl from where it ended when the console started.
struct Tail {
    path: PathBuf,
    offset: u64,
}

impl Tail {
    /// Starts at the end of the record, after counting its last hour into the history.
    fn start(live: &Live) -> Tail {
        let path = live.data_dir.join(refusals::FILE_NAME);
        let hour_ago = pki::rfc3339(unix_ms() / 1000 - 3600);
        if let (Ok(records), Ok(mut history)) = (
            refusals::read_recent(&live.data_dir, 10_000),
            live.history.lock(),
        ) {
            // RFC 3339 UTC times of one format order as text.
            for record in records.iter().filter(|r| r.time >= hour_ago) {
                let minute = record_minute(&record.time).unwrap_or(unix_ms() / 60_000);
                history.count_refusal(minute);
            }
        }
        let offset = std::fs::metadata(&path).map_or(0, |m| m.len());
        Tail { path, offset }
    }

    /// Records appended since the last call (after a rotation, those of the new file).
    fn read_new(&mut self) -> Vec<refusals::Refusal> {
        let Ok(len) = std::fs::metadata(&self.path).map(|m| m.len()) else {
            return Vec::new();
        };
        if len < self.offset {
            self.offset = 0;
        }
        if len == self.offset {
            return Vec::new();
        }
        let mut text = String::new();
        let read = std::fs::File::open(&self.path).and_then(|mut file| {
            file.seek(SeekFrom::Start(self.offset))?;
            file.take(len - self.offset).read_to_string(&mut text)
        });
        if read.is_err() {
            return Vec::new();
        }
        // Only whole lines: a record being written is read on the next tick.
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        self.offset += u64::try_from(complete).unwrap_or(0);
        text.get(..complete)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

/// The unix minute of an RFC 3339 UTC time as the record writes it (`2026-01-02T03:04:05Z`).
fn record_minute(time: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| time.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute) = (number(11..13)?, number(14..16)?);
    // Days from the civil date (proleptic Gregorian), as in Howard Hinnant's algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 1440 + hour * 60 + minute)
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `GET /console/api/overview`: the history the charts start from.
pub(crate) async fn overview(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if let Err(refused) = allowed(&console, &Method::GET, &headers) {
        return *refused;
    }
    json_ok(&console.live.snapshot())
}

/// `GET /console/api/events`: the event stream every page listens to.
pub(crate) async fn events(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if let Err(refused) = allowed(&console, &Method::GET, &headers) {
        return *refused;
    }
    let receiver = console.live.sender.subscribe();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let event = match receiver.recv().await {
            Ok(Pushed::Stats(value)) => Event::default().event("stats").data(value.to_string()),
            Ok(Pushed::Sessions) => Event::default().event("sessions").data("{}"),
            Ok(Pushed::Refusal(value)) => Event::default().event("refusal").data(value.to_string()),
            // A page that fell behind reloads what it shows.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Event::default().event("sessions").data("{}")
            }
            Ok(Pushed::Closing) | Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<_, Infallible>(event), receiver))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_times_become_unix_minutes() {
        assert_eq!(record_minute("1970-01-01T00:01:59Z"), Some(1));
        assert_eq!(
            record_minute(&pki::rfc3339(1_767_323_045)),
            Some(1_767_323_045 / 60)
        );
        assert_eq!(record_minute("garbage"), None);
    }

    #[test]
    fn refusals_per_minute_keep_one_hour() {
        let mut history = History::default();
        history.count_refusal(1000);
        history.count_refusal(1000);
        history.count_refusal(1030);
        assert_eq!(history.last_hour(), 3);
        history.count_refusal(1060);
        assert_eq!(history.minutes.front(), Some(&(1030, 1)));
        assert_eq!(history.last_hour(), 2);
    }

    #[test]
    fn the_tail_reads_whole_new_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = refusals::RefusalLog::new(dir.path());
        let record = |reason: &str| refusals::Refusal {
            time: "2026-01-01T00:00:00Z".into(),
            reason: reason.into(),
            ..refusals::Refusal::default()
        };
        log.record(&record("before"));
        let live = Live::new(dir.path());
        let mut tail = Tail::start(&live);
        assert!(tail.read_new().is_empty());
        log.record(&record("after"));
        let path = dir.path().join(refusals::FILE_NAME);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"partial");
        std::fs::write(&path, text).unwrap();
        let new = tail.read_new();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].reason, "after");
        assert!(tail.read_new().is_empty());
    }
}
