//! The account's registry event configurations (UpdateEventConfigurations,
//! DescribeEventConfigurations): which event types are enabled and when they last changed. The
//! list of types and their meaning belong to the services layer; this stores what it is told.

use rusqlite::params;

use crate::Store;
use crate::error::{SqlContext, StoreError};

/// The stored event configurations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventConfigurationRecord {
    /// `(event type, enabled)` for every type ever configured.
    pub enabled: Vec<(String, bool)>,
    /// When the first configuration was stored, if any.
    pub created_ms: Option<i64>,
    /// When one last changed, if any.
    pub modified_ms: Option<i64>,
}

impl Store {
    /// The event configurations set so far.
    pub fn event_configurations(&self) -> Result<EventConfigurationRecord, StoreError> {
        let rows: Vec<(String, bool, i64)> = self
            .conn
            .prepare("SELECT event_type, enabled, modified_ms FROM event_configurations")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .and_then(|rows| rows.collect())
            })
            .ctx(&self.label, "read event configurations")?;
        Ok(EventConfigurationRecord {
            created_ms: rows.iter().map(|r| r.2).min(),
            modified_ms: rows.iter().map(|r| r.2).max(),
            enabled: rows.into_iter().map(|(t, e, _)| (t, e)).collect(),
        })
    }

    /// Sets the given event types on or off.
    pub fn set_event_configurations(
        &mut self,
        changes: &[(String, bool)],
        now_unix_ms: i64,
    ) -> Result<(), StoreError> {
        self.write("update event configurations", |tx| {
            for (event_type, enabled) in changes {
                tx.execute(
                    "INSERT INTO event_configurations (event_type, enabled, modified_ms) \
                     VALUES (?1, ?2, ?3) ON CONFLICT (event_type) DO UPDATE SET \
                     enabled = excluded.enabled, modified_ms = excluded.modified_ms",
                    params![event_type, enabled, now_unix_ms],
                )
                .ctx(tx.label(), "write event configuration")?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_are_stored_and_changed() {
        let mut store = Store::open_in_memory().unwrap();
        assert_eq!(
            store.event_configurations().unwrap(),
            EventConfigurationRecord::default()
        );
        store
            .set_event_configurations(&[("THING".into(), true), ("JOB".into(), false)], 5)
            .unwrap();
        store
            .set_event_configurations(&[("THING".into(), false)], 9)
            .unwrap();
        let record = store.event_configurations().unwrap();
        let mut enabled = record.enabled.clone();
        enabled.sort();
        assert_eq!(
            enabled,
            [("JOB".to_owned(), false), ("THING".to_owned(), false)]
        );
        assert_eq!((record.created_ms, record.modified_ms), (Some(5), Some(9)));
    }
}
