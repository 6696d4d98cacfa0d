//! Retained messages: one opaque blob per topic with an optional expiry, set and cleared as
//! broker write operations and read back for start-up and the `iot-data` retained-message API.
//! It does not apply AWS's rules (zero-byte payload deletes, no `$` topics, quotas); broker-core
//! does, and simply issues a clear.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::Store;
use crate::error::{SqlContext, StoreError};
use crate::page::{Page, PageRequest};

/// A retained message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedMessage {
    pub topic: String,
    /// The PUBLISH as encoded by the server.
    pub message: Vec<u8>,
    /// When MQTT 5 Message Expiry ends it, if it has one.
    pub expires_ms: Option<i64>,
    /// Last update (AWS reports `lastModifiedTime`).
    pub updated_ms: i64,
}

impl Store {
    /// GetRetainedMessage: the retained message of `topic`, or `None`.
    pub fn retained(&self, topic: &str) -> Result<Option<RetainedMessage>, StoreError> {
        self.conn
            .query_row(
                "SELECT topic, message, expires_ms, updated_ms FROM retained_messages \
                 WHERE topic = ?1",
                [topic],
                retained_row,
            )
            .optional()
            .ctx(&self.label, "read retained message")
    }

    /// ListRetainedMessages, sorted by topic.
    pub fn list_retained(&self, page: &PageRequest) -> Result<Page<RetainedMessage>, StoreError> {
        let (dir, cmp) = page.sql_order();
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT topic, message, expires_ms, updated_ms FROM retained_messages \
                 WHERE (?1 IS NULL OR topic {cmp} ?1) ORDER BY topic {dir} LIMIT ?2"
            ))
            .ctx(&self.label, "list retained messages")?;
        let rows = stmt
            .query_map(params![page.token, page.probe_limit()], retained_row)
            .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            .ctx(&self.label, "list retained messages")?;
        Ok(Page::from_probe(rows, page, |r| r.topic.clone()))
    }
}

pub(crate) fn set(conn: &Connection, label: &str, r: &RetainedMessage) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO retained_messages (topic, message, expires_ms, updated_ms) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (topic) DO UPDATE SET message = excluded.message, \
         expires_ms = excluded.expires_ms, updated_ms = excluded.updated_ms",
    )
    .and_then(|mut st| st.execute(params![r.topic, r.message, r.expires_ms, r.updated_ms]))
    .ctx(label, "set retained message")?;
    Ok(())
}

pub(crate) fn clear(conn: &Connection, label: &str, topic: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM retained_messages WHERE topic = ?1")
        .and_then(|mut st| st.execute([topic]))
        .ctx(label, "clear retained message")?;
    Ok(())
}

pub(crate) fn purge_expired(
    conn: &Connection,
    label: &str,
    now_unix_ms: i64,
) -> Result<usize, StoreError> {
    conn.execute(
        "DELETE FROM retained_messages WHERE expires_ms IS NOT NULL AND expires_ms <= ?1",
        [now_unix_ms],
    )
    .ctx(label, "purge expired retained messages")
}

pub(crate) fn read_all(conn: &Connection, label: &str) -> Result<Vec<RetainedMessage>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT topic, message, expires_ms, updated_ms FROM retained_messages ORDER BY topic",
        )
        .ctx(label, "read retained messages")?;
    stmt.query_map([], retained_row)
        .and_then(|r| r.collect::<Result<Vec<_>, _>>())
        .ctx(label, "read retained messages")
}

fn retained_row(r: &Row<'_>) -> rusqlite::Result<RetainedMessage> {
    Ok(RetainedMessage {
        topic: r.get(0)?,
        message: r.get(1)?,
        expires_ms: r.get(2)?,
        updated_ms: r.get(3)?,
    })
}
