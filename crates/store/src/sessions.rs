//! Broker durability records and their write operations: persistent sessions, their
//! subscriptions and queued messages, and the start-up load that purges what expired while the
//! server was down. Message and will blobs are opaque bytes (the server encodes them with
//! `mqtt-proto`); the store never looks inside. It does not decide what to persist (broker-core
//! does) and does not group commits (see `writer.rs`).

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::Store;
use crate::error::{ResourceKind, SqlContext, StoreError, is_foreign_key_violation};
use crate::retained::{self, RetainedMessage};

/// MQTT 5 Session Expiry Interval meaning "never expires".
const NEVER_EXPIRES: u32 = u32::MAX;

/// A persistent session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub client_id: String,
    /// 4 = MQTT 3.1.1, 5 = MQTT 5.
    pub protocol_level: u8,
    /// Seconds after disconnect until the session ends; `u32::MAX` = never.
    pub expiry_interval_s: u32,
    /// When the client went away; `None` while connected (or when the server stopped while it
    /// was connected — the broker treats those as disconnected at start-up).
    pub disconnected_ms: Option<i64>,
    /// The will message, encoded by the server, if one is pending.
    pub will: Option<Vec<u8>>,
}

impl SessionRecord {
    /// Whether the session has ended by `now_unix_ms`.
    pub fn is_expired(&self, now_unix_ms: i64) -> bool {
        match self.disconnected_ms {
            None => false,
            Some(_) if self.expiry_interval_s == NEVER_EXPIRES => false,
            Some(at) => {
                at.saturating_add(i64::from(self.expiry_interval_s).saturating_mul(1000))
                    <= now_unix_ms
            }
        }
    }
}

/// One subscription of a persistent session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    pub client_id: String,
    pub filter: String,
    /// The SUBSCRIBE options byte (QoS, No Local, Retain As Published, Retain Handling).
    pub options: u8,
    /// MQTT 5 Subscription Identifier.
    pub subscription_id: Option<u32>,
}

/// A message waiting for an offline (or slow) persistent session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub client_id: String,
    /// Delivery order within the session, assigned by the broker; must fit in `i64`.
    pub seq: u64,
    pub message: Vec<u8>,
    /// Set once the message was sent with this packet id and awaits PUBACK.
    pub packet_id: Option<u16>,
}

/// A session with everything that belongs to it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedSession {
    pub session: SessionRecord,
    /// Sorted by filter.
    pub subscriptions: Vec<SubscriptionRecord>,
    /// Sorted by `seq`.
    pub queue: Vec<QueuedMessage>,
}

/// What the broker restores at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerState {
    /// Sorted by client id.
    pub sessions: Vec<PersistedSession>,
    /// Sorted by topic.
    pub retained: Vec<RetainedMessage>,
    /// Sessions deleted because they expired while the server was down.
    pub expired_sessions: usize,
    /// Retained messages deleted because their message expiry passed.
    pub expired_retained: usize,
}

/// One broker write. A batch of these is applied atomically, by [`Store::apply`] or through the
/// group-commit [`crate::Writer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Creates or replaces the session row; subscriptions and queue are kept.
    UpsertSession(SessionRecord),
    /// Deletes the session with its subscriptions and queue.
    DeleteSession {
        client_id: String,
    },
    /// Adds or replaces the subscription for (client id, filter).
    AddSubscription(SubscriptionRecord),
    RemoveSubscription {
        client_id: String,
        filter: String,
    },
    /// Stores (replaces) the retained message of a topic.
    SetRetained(RetainedMessage),
    ClearRetained {
        topic: String,
    },
    /// Appends a message to a session's queue.
    Enqueue(QueuedMessage),
    /// The queued message was sent with `packet_id`; it stays until [`WriteOp::Ack`].
    Dequeue {
        client_id: String,
        seq: u64,
        packet_id: u16,
    },
    /// The client acknowledged the message; it is removed.
    Ack {
        client_id: String,
        seq: u64,
    },
    /// Removes a session's queued messages numbered below `below_seq` (the queue was handed to
    /// a resuming connection; rows at or above it are deliveries in flight on live
    /// connections, removed one by one with [`WriteOp::Ack`]).
    ClearQueue {
        client_id: String,
        below_seq: u64,
    },
    /// Writes one page and changes nothing: whether the database can be written again after
    /// the filesystem was full ([`StoreError::is_disk_full`]).
    Probe,
}

impl Store {
    /// Applies `ops` in one transaction: all or nothing.
    pub fn apply(&mut self, ops: &[WriteOp]) -> Result<(), StoreError> {
        self.write("broker write", |tx| apply_ops(tx, tx.label(), ops))
    }

    /// Loads every session (with subscriptions and queue) and retained message, after deleting
    /// sessions and retained messages that expired by `now_unix_ms`.
    pub fn load_broker_state(&mut self, now_unix_ms: i64) -> Result<BrokerState, StoreError> {
        self.write("broker load", |tx| {
            let label = tx.label();
            let expired_sessions = tx
                .execute(
                    "DELETE FROM sessions WHERE disconnected_ms IS NOT NULL \
                     AND expiry_interval_s <> ?1 \
                     AND disconnected_ms + expiry_interval_s * 1000 <= ?2",
                    params![NEVER_EXPIRES, now_unix_ms],
                )
                .ctx(label, "purge expired sessions")?;
            let expired_retained = retained::purge_expired(tx, label, now_unix_ms)?;
            let mut sessions = read_sessions(tx, label)?;
            let index: HashMap<String, usize> = sessions
                .iter()
                .enumerate()
                .map(|(i, s)| (s.session.client_id.clone(), i))
                .collect();
            for sub in read_subscriptions(tx, label)? {
                if let Some(s) = index.get(&sub.client_id).and_then(|&i| sessions.get_mut(i)) {
                    s.subscriptions.push(sub);
                }
            }
            for msg in read_queue(tx, label)? {
                if let Some(s) = index.get(&msg.client_id).and_then(|&i| sessions.get_mut(i)) {
                    s.queue.push(msg);
                }
            }
            let retained = retained::read_all(tx, label)?;
            Ok(BrokerState {
                sessions,
                retained,
                expired_sessions,
                expired_retained,
            })
        })
    }
}

/// Applies `ops` on `conn` inside the caller's transaction.
pub(crate) fn apply_ops(conn: &Connection, label: &str, ops: &[WriteOp]) -> Result<(), StoreError> {
    for op in ops {
        apply_op(conn, label, op)?;
    }
    Ok(())
}

fn apply_op(conn: &Connection, label: &str, op: &WriteOp) -> Result<(), StoreError> {
    let session_missing = |client_id: &str| StoreError::not_found(ResourceKind::Session, client_id);
    match op {
        WriteOp::Probe => {
            // The one row rewritten with its own value: the page goes to the WAL at commit.
            conn.prepare_cached("UPDATE registry_version SET version = version")
                .and_then(|mut st| st.execute([]))
                .ctx(label, "probe for free space")?;
        }
        WriteOp::UpsertSession(s) => {
            conn.prepare_cached(
                "INSERT INTO sessions (client_id, protocol_level, expiry_interval_s, \
                 disconnected_ms, will) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (client_id) DO UPDATE SET protocol_level = excluded.protocol_level, \
                 expiry_interval_s = excluded.expiry_interval_s, \
                 disconnected_ms = excluded.disconnected_ms, will = excluded.will",
            )
            .and_then(|mut st| {
                st.execute(params![
                    s.client_id,
                    s.protocol_level,
                    s.expiry_interval_s,
                    s.disconnected_ms,
                    s.will
                ])
            })
            .ctx(label, "upsert session")?;
        }
        WriteOp::DeleteSession { client_id } => {
            conn.prepare_cached("DELETE FROM sessions WHERE client_id = ?1")
                .and_then(|mut st| st.execute([client_id]))
                .ctx(label, "delete session")?;
        }
        WriteOp::AddSubscription(s) => {
            conn.prepare_cached(
                "INSERT INTO subscriptions (client_id, filter, options, subscription_id) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (client_id, filter) DO UPDATE SET \
                 options = excluded.options, subscription_id = excluded.subscription_id",
            )
            .and_then(|mut st| {
                st.execute(params![s.client_id, s.filter, s.options, s.subscription_id])
            })
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    session_missing(&s.client_id)
                } else {
                    StoreError::sqlite(label, "add subscription", e)
                }
            })?;
        }
        WriteOp::RemoveSubscription { client_id, filter } => {
            conn.prepare_cached("DELETE FROM subscriptions WHERE client_id = ?1 AND filter = ?2")
                .and_then(|mut st| st.execute(params![client_id, filter]))
                .ctx(label, "remove subscription")?;
        }
        WriteOp::ClearQueue {
            client_id,
            below_seq,
        } => {
            let below = i64::try_from(*below_seq).unwrap_or(i64::MAX);
            conn.prepare_cached("DELETE FROM queued_messages WHERE client_id = ?1 AND seq < ?2")
                .and_then(|mut st| st.execute(params![client_id, below]))
                .ctx(label, "clear queue")?;
        }
        WriteOp::SetRetained(r) => retained::set(conn, label, r)?,
        WriteOp::ClearRetained { topic } => retained::clear(conn, label, topic)?,
        WriteOp::Enqueue(m) => {
            let seq = seq_to_sql(m.seq)?;
            conn.prepare_cached(
                "INSERT INTO queued_messages (client_id, seq, message, packet_id) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| st.execute(params![m.client_id, seq, m.message, m.packet_id]))
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    session_missing(&m.client_id)
                } else {
                    StoreError::sqlite(label, "enqueue message", e)
                }
            })?;
        }
        WriteOp::Dequeue {
            client_id,
            seq,
            packet_id,
        } => {
            let seq = seq_to_sql(*seq)?;
            conn.prepare_cached(
                "UPDATE queued_messages SET packet_id = ?3 WHERE client_id = ?1 AND seq = ?2",
            )
            .and_then(|mut st| st.execute(params![client_id, seq, packet_id]))
            .ctx(label, "mark message in flight")?;
        }
        WriteOp::Ack { client_id, seq } => {
            let seq = seq_to_sql(*seq)?;
            conn.prepare_cached("DELETE FROM queued_messages WHERE client_id = ?1 AND seq = ?2")
                .and_then(|mut st| st.execute(params![client_id, seq]))
                .ctx(label, "acknowledge message")?;
        }
    }
    Ok(())
}

fn seq_to_sql(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| {
        StoreError::InvalidRequest(format!(
            "queue sequence number {seq} is larger than {}, the most SQLite stores",
            i64::MAX
        ))
    })
}

fn read_sessions(conn: &Connection, label: &str) -> Result<Vec<PersistedSession>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT client_id, protocol_level, expiry_interval_s, disconnected_ms, will \
             FROM sessions ORDER BY client_id",
        )
        .ctx(label, "read sessions")?;
    stmt.query_map([], |r| {
        Ok(PersistedSession {
            session: SessionRecord {
                client_id: r.get(0)?,
                protocol_level: r.get(1)?,
                expiry_interval_s: r.get(2)?,
                disconnected_ms: r.get(3)?,
                will: r.get(4)?,
            },
            subscriptions: Vec::new(),
            queue: Vec::new(),
        })
    })
    .and_then(|r| r.collect::<Result<Vec<_>, _>>())
    .ctx(label, "read sessions")
}

fn read_subscriptions(
    conn: &Connection,
    label: &str,
) -> Result<Vec<SubscriptionRecord>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT client_id, filter, options, subscription_id FROM subscriptions \
             ORDER BY client_id, filter",
        )
        .ctx(label, "read subscriptions")?;
    stmt.query_map([], |r| {
        Ok(SubscriptionRecord {
            client_id: r.get(0)?,
            filter: r.get(1)?,
            options: r.get(2)?,
            subscription_id: r.get(3)?,
        })
    })
    .and_then(|r| r.collect::<Result<Vec<_>, _>>())
    .ctx(label, "read subscriptions")
}

fn read_queue(conn: &Connection, label: &str) -> Result<Vec<QueuedMessage>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT client_id, seq, message, packet_id FROM queued_messages \
             ORDER BY client_id, seq",
        )
        .ctx(label, "read queued messages")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Option<u16>>(3)?,
            ))
        })
        .and_then(|r| r.collect::<Result<Vec<_>, _>>())
        .ctx(label, "read queued messages")?;
    rows.into_iter()
        .map(|(client_id, seq, message, packet_id)| {
            let seq = u64::try_from(seq).map_err(|_| {
                StoreError::corrupt(
                    label,
                    format!("queued message {seq} of session {client_id}"),
                    "negative sequence number",
                )
            })?;
            Ok(QueuedMessage {
                client_id,
                seq,
                message,
                packet_id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(disconnected_ms: Option<i64>, expiry_interval_s: u32) -> SessionRecord {
        SessionRecord {
            client_id: "c".into(),
            protocol_level: 5,
            expiry_interval_s,
            disconnected_ms,
            will: None,
        }
    }

    #[test]
    fn expiry_counts_from_the_disconnect() {
        assert!(!session(None, 0).is_expired(i64::MAX));
        assert!(!session(Some(1_000), 10).is_expired(10_999));
        assert!(session(Some(1_000), 10).is_expired(11_000));
        assert!(!session(Some(0), u32::MAX).is_expired(i64::MAX));
        assert!(session(Some(5), 0).is_expired(5));
    }

    #[test]
    fn oversized_sequence_numbers_are_refused() {
        assert!(seq_to_sql(u64::MAX).is_err());
        assert_eq!(seq_to_sql(7).unwrap(), 7);
    }
}
