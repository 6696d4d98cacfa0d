//! The services layer's records and the transaction it composes requests in. [`ServiceTx`] is
//! the store-owned, public form of [`crate::Store::write`]: the services worker runs a batch of
//! requests (Device Shadow, and later Jobs and provisioning) in one write transaction and one
//! fsync, each request inside [`ServiceTx::request`] (a savepoint), so a request that fails is
//! rolled back alone. The operations are its methods; rusqlite stays private.
//!
//! Jobs and their executions live in `jobs.rs`, as more methods of [`ServiceTx`].
//!
//! Shadows are stored as the services layer hands them over: the document as opaque JSON text,
//! its version, and when it changed. A deleted shadow is a tombstone (no document) that keeps
//! its version. This module does not interpret documents.

use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::error::{SqlContext, StoreError};
use crate::page::{Page, PageRequest};
use crate::transaction::Tx;

/// A write transaction of the services layer.
pub struct ServiceTx<'a> {
    pub(crate) tx: &'a Tx<'a>,
}

impl std::fmt::Debug for ServiceTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTx")
            .field("database", &self.tx.label())
            .finish()
    }
}

/// One shadow as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredShadow {
    /// The thing name (no registered thing is needed).
    pub thing: String,
    /// The shadow name; empty for the classic shadow.
    pub name: String,
    /// The document as JSON text; `None` for a deleted shadow (a tombstone).
    pub document: Option<String>,
    /// Its version (a tombstone keeps the last one).
    pub version: i64,
    /// When it last changed, milliseconds since the epoch.
    pub updated_ms: i64,
}

impl Store {
    /// Runs `f` with a [`ServiceTx`] in one write transaction: committed when `f` returns
    /// `Ok`, rolled back otherwise. `what` names the batch in errors.
    pub fn services<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&ServiceTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(what, |tx| f(&ServiceTx { tx }))
    }
}

impl<'a> ServiceTx<'a> {
    /// The transaction, for the services' record modules (`jobs.rs`).
    pub(crate) fn tx(&self) -> &'a Tx<'a> {
        self.tx
    }

    /// Runs one request of a batch inside a savepoint: when it fails, its changes are rolled
    /// back and its error returned, and the batch goes on.
    pub fn request<T>(
        &self,
        what: &str,
        f: impl FnOnce(&ServiceTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.tx.savepoint(what, |tx| f(&ServiceTx { tx }))
    }

    /// The shadow `name` of `thing` (`""` for the classic one), deleted or not.
    pub fn shadow(&self, thing: &str, name: &str) -> Result<Option<StoredShadow>, StoreError> {
        self.tx
            .prepare_cached(
                "SELECT document, version, updated_ms FROM shadows WHERE thing = ?1 AND name = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![thing, name], |row| {
                    Ok(StoredShadow {
                        thing: thing.to_owned(),
                        name: name.to_owned(),
                        document: row.get(0)?,
                        version: row.get(1)?,
                        updated_ms: row.get(2)?,
                    })
                })
                .optional()
            })
            .ctx(self.tx.label(), "read shadow")
    }

    /// Writes a shadow (or its tombstone), replacing what was there.
    pub fn put_shadow(&self, shadow: &StoredShadow) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO shadows (thing, name, document, version, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (thing, name) DO UPDATE SET document = excluded.document, \
                 version = excluded.version, updated_ms = excluded.updated_ms",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    shadow.thing,
                    shadow.name,
                    shadow.document,
                    shadow.version,
                    shadow.updated_ms
                ])
            })
            .ctx(self.tx.label(), "write shadow")?;
        Ok(())
    }

    /// The names of `thing`'s named shadows that exist (not deleted), sorted, one page; the
    /// token is the last name of the page.
    pub fn named_shadows(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        let after = page.token.as_deref().unwrap_or("");
        let rows = self
            .tx
            .prepare_cached(
                "SELECT name FROM shadows WHERE thing = ?1 AND name > ?2 AND name != '' \
                 AND document IS NOT NULL ORDER BY name LIMIT ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![thing, after, page.probe_limit()], |row| row.get(0))
                    .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            })
            .ctx(self.tx.label(), "list named shadows")?;
        Ok(Page::from_probe(rows, page, Clone::clone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shadow(thing: &str, name: &str, version: i64, document: Option<&str>) -> StoredShadow {
        StoredShadow {
            thing: thing.to_owned(),
            name: name.to_owned(),
            document: document.map(str::to_owned),
            version,
            updated_ms: 1,
        }
    }

    #[test]
    fn shadows_are_written_read_and_listed_by_name() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .services("test", |tx| {
                assert_eq!(tx.shadow("t", "")?, None);
                tx.put_shadow(&shadow("t", "", 1, Some("{}")))?;
                tx.put_shadow(&shadow("t", "b", 1, Some("{}")))?;
                tx.put_shadow(&shadow("t", "a", 3, Some("{}")))?;
                tx.put_shadow(&shadow("t", "gone", 2, None))?;
                tx.put_shadow(&shadow("other", "c", 1, Some("{}")))?;
                tx.put_shadow(&shadow("t", "b", 2, Some(r#"{"x":1}"#)))?;
                Ok(())
            })
            .unwrap();
        store
            .services("test", |tx| {
                assert_eq!(tx.shadow("t", "b")?.unwrap().version, 2);
                assert_eq!(tx.shadow("t", "gone")?.unwrap().document, None);
                let first = tx.named_shadows("t", &PageRequest::first(1))?;
                assert_eq!(first.items, ["a"]);
                let next = PageRequest::first(1).after(&first).unwrap();
                let second = tx.named_shadows("t", &next)?;
                assert_eq!(second.items, ["b"]);
                assert_eq!(
                    second.next_token, None,
                    "tombstones and the classic shadow are not listed"
                );
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_failed_request_is_rolled_back_alone() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .services("batch", |tx| {
                tx.request("first", |tx| tx.put_shadow(&shadow("t", "", 1, Some("{}"))))?;
                let failed: Result<(), StoreError> = tx.request("second", |tx| {
                    tx.put_shadow(&shadow("u", "", 1, Some("{}")))?;
                    Err(StoreError::InvalidRequest("refused".into()))
                });
                assert!(failed.is_err());
                Ok(())
            })
            .unwrap();
        store
            .services("check", |tx| {
                assert!(tx.shadow("t", "")?.is_some());
                assert!(tx.shadow("u", "")?.is_none());
                Ok(())
            })
            .unwrap();
    }
}
