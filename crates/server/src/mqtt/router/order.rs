//! The order in which the router applies commands that reached it together: a SUBSCRIBE or
//! UNSUBSCRIBE of one connection goes before a PUBLISH of another that the router happened to
//! hear of first. Connection tasks run on several threads, and the runtime may run the task of
//! a socket that became readable later first (a task woken last runs first), so a client's
//! SUBSCRIBE that reached the server before another client's PUBLISH could take effect after
//! it: the subscriber missed the message. A single-threaded broker such as mosquitto reads
//! sockets in the order they became readable, and interoperability suites rely on that (two
//! clients subscribe without waiting for SUBACK, then one publishes). Commands of different
//! connections are concurrent, so any order that keeps each connection's own commands in order
//! is a valid one; this file picks the one where subscriptions come first. It does not decide
//! anything about a command's content (the broker does).
//!
//! Profile `mqtt` only, where tether stands in for a general broker such as mosquitto. AWS IoT
//! Core is a distributed service that promises no order between one client's SUBSCRIBE and
//! another's PUBLISH before its SUBACK (its SDKs wait for SUBACK before relying on a
//! subscription), so the `aws` profile applies commands as they arrive and keeps the settle's
//! cost (below) off its publish path.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use broker_core::ConnId;
use tokio::sync::mpsc;

use super::Command;

/// Most commands gathered behind a PUBLISH before they are applied. A router this busy has
/// commands waiting at every turn, so it gathers them without waiting for [`SETTLE`].
pub(super) const GATHER: usize = 256;

/// How long a router with time to spare lets other connection tasks run before it applies a
/// PUBLISH: long enough for a task woken with the publisher's (or just before it) on the
/// other worker thread to read its socket and hand its commands over (with the 2 cores of a
/// test machine, 250 µs made 200 of 200 tries of SUBSCRIBE-then-PUBLISH on two connections
/// take effect in that order, against about 1 in 3 failing without it; during a full test run
/// on those 2 cores, 3 in 30 still went the other way, as a thread the kernel preempts for
/// longer cannot be waited for); short enough to add little to a QoS 0/1 round trip. The router
/// yields meanwhile, but it does spin: at most 250 µs of a core per PUBLISH when publishes are
/// rare, none when they come faster than that.
pub(super) const SETTLE: Duration = Duration::from_micros(250);

/// `first` (a PUBLISH) with the commands that reach `commands` within [`SETTLE`], or until
/// [`GATHER`] are gathered, in arrival order.
pub(super) async fn gather(first: Command, commands: &mut mpsc::Receiver<Command>) -> Vec<Command> {
    let mut batch = vec![first];
    let started = Instant::now();
    loop {
        tokio::task::yield_now().await;
        while batch.len() < GATHER {
            match commands.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        if batch.len() >= GATHER || started.elapsed() >= SETTLE {
            return batch;
        }
    }
}

/// The connection a command came from, if it came from a connection task.
fn connection(command: &Command) -> Option<ConnId> {
    match command {
        Command::Connect { conn, .. }
        | Command::Publish { conn, .. }
        | Command::Subscribe { conn, .. }
        | Command::Unsubscribe { conn, .. }
        | Command::Disconnect { conn, .. }
        | Command::Acked { conn, .. } => Some(*conn),
        _ => None,
    }
}

/// `batch` in the order to apply it: every SUBSCRIBE and UNSUBSCRIBE that no other command of
/// its own connection precedes in `batch` goes first, in arrival order; everything else
/// follows in arrival order. Each connection's commands keep their order.
pub(super) fn subscriptions_first(batch: Vec<Command>) -> Vec<Command> {
    let mut blocked: HashSet<ConnId> = HashSet::new();
    let mut first = Vec::new();
    let mut rest = Vec::with_capacity(batch.len());
    for command in batch {
        let conn = connection(&command);
        let hoist = matches!(
            command,
            Command::Subscribe { .. } | Command::Unsubscribe { .. }
        ) && conn.is_some_and(|c| !blocked.contains(&c));
        if hoist {
            first.push(command);
        } else {
            blocked.extend(conn);
            rest.push(command);
        }
    }
    first.append(&mut rest);
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::codec::decode;
    use mqtt_proto::{Packet, Protocol};

    fn subscribe(conn: u64) -> Command {
        let Ok(Packet::Subscribe(subscribe)) = decode(
            bytes::Bytes::from_static(b"\x82\x06\x00\x01\x00\x01t\x01"),
            Protocol::V311,
        ) else {
            panic!("SUBSCRIBE")
        };
        Command::Subscribe {
            conn: ConnId(conn),
            subscribe,
        }
    }

    fn publish(conn: u64) -> Command {
        let Ok(Packet::Publish(publish)) = decode(
            bytes::Bytes::from_static(b"\x32\x06\x00\x01t\x00\x01x"),
            Protocol::V311,
        ) else {
            panic!("PUBLISH")
        };
        Command::Publish {
            conn: ConnId(conn),
            publish,
        }
    }

    fn acked(conn: u64) -> Command {
        Command::Acked {
            conn: ConnId(conn),
            seq: 1,
        }
    }

    fn shape(batch: &[Command]) -> Vec<(char, u64)> {
        batch
            .iter()
            .map(|c| match c {
                Command::Subscribe { conn, .. } => ('S', conn.0),
                Command::Publish { conn, .. } => ('P', conn.0),
                Command::Acked { conn, .. } => ('A', conn.0),
                _ => ('?', 0),
            })
            .collect()
    }

    #[test]
    fn another_connections_subscribe_goes_before_a_publish() {
        let batch = vec![publish(1), acked(3), subscribe(2), subscribe(2), publish(2)];
        assert_eq!(
            shape(&subscriptions_first(batch)),
            [('S', 2), ('S', 2), ('P', 1), ('A', 3), ('P', 2)]
        );
    }

    #[test]
    fn a_connections_own_order_is_kept() {
        // Connection 1 published before it subscribed: its SUBSCRIBE stays after its PUBLISH.
        let batch = vec![publish(1), subscribe(1), subscribe(2)];
        assert_eq!(
            shape(&subscriptions_first(batch)),
            [('S', 2), ('P', 1), ('S', 1)]
        );
        let batch = vec![acked(4), subscribe(4), publish(5)];
        assert_eq!(
            shape(&subscriptions_first(batch)),
            [('A', 4), ('S', 4), ('P', 5)]
        );
    }
}
