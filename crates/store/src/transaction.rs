//! The store's one way to run statements together: [`Store::write`] (a write transaction),
//! [`Store::read`] (a consistent read snapshot) and [`Tx::savepoint`] (one request inside a larger
//! transaction), each naming the database and the operation in every error it returns. It does
//! not decide what runs inside (the record modules do) and deliberately stays crate-private, so
//! that rusqlite never appears in the store's public API; [`Store::write`] says why and what a
//! public form would need.

use std::ops::Deref;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::Store;
use crate::error::StoreError;

// One savepoint name for every level: SQLite resolves a repeated name to the innermost
// savepoint, and `Tx::savepoint` always releases what it opened before returning, so nesting
// needs no numbering.
const SAVEPOINT: &str = "SAVEPOINT tether_request";
const RELEASE: &str = "RELEASE tether_request";
const ROLLBACK: &str = "ROLLBACK TO tether_request; RELEASE tether_request";

/// An open transaction (or savepoint) on a store connection, with the label that names the
/// database in errors. It derefs to the connection, so statements run inside the transaction.
pub(crate) struct Tx<'c> {
    conn: &'c Connection,
    label: &'c str,
}

impl<'c> Tx<'c> {
    /// Wraps a transaction the caller opened itself (the group-commit writer opens an
    /// `IMMEDIATE` one on its own connection and reports its begin and commit to every batch).
    pub(crate) fn new(conn: &'c Connection, label: &'c str) -> Tx<'c> {
        Tx { conn, label }
    }

    /// How the database is named in errors.
    pub(crate) fn label(&self) -> &'c str {
        self.label
    }

    /// Runs `f` inside a savepoint of this transaction. When `f` fails, its changes are rolled
    /// back and its error returned while the enclosing transaction goes on, so one failing request
    /// of a batch does not undo the others. Errors name the step: `begin WHAT`, `end WHAT`,
    /// `roll back WHAT`.
    pub(crate) fn savepoint<T>(
        &self,
        what: &str,
        f: impl FnOnce(&Tx<'c>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.conn
            .execute_batch(SAVEPOINT)
            .map_err(|e| step_failed(self.label, "begin", what, e))?;
        let result = f(self).and_then(|value| {
            self.conn
                .execute_batch(RELEASE)
                .map_err(|e| step_failed(self.label, "end", what, e))?;
            Ok(value)
        });
        if result.is_err() && self.conn.is_autocommit() {
            // SQLite rolled the whole transaction back itself (it may, on SQLITE_FULL or an
            // I/O error): nothing is left to roll back, and the statement's error says why.
            return result;
        }
        if result.is_err() {
            // Still open after a failed `f` or a failed RELEASE. A rollback that fails leaves the
            // enclosing transaction in an unknown state: that error is the one to report.
            self.conn
                .execute_batch(ROLLBACK)
                .map_err(|e| step_failed(self.label, "roll back", what, e))?;
        }
        result
    }
}

impl Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Store {
    /// Runs `f` in one write transaction: commits when it returns `Ok`, rolls back when it
    /// returns `Err` (or unwinds). `what` names the operation, e.g. `"register certificate"`;
    /// beginning and committing fail as `database PATH: begin WHAT failed: …` and
    /// `… commit WHAT failed: …`, and statements inside name themselves through
    /// [`SqlContext`](crate::error::SqlContext) with `tx.label()`.
    ///
    /// Every write method of `Store`, registry or broker, goes through here. New services
    /// (Device Shadow, Jobs) add their own modules to this crate and keep the same shape: each
    /// operation is a function of `&Tx` (it needs nothing else: the transaction carries the
    /// store's label for errors); the one-request `Store` method is
    /// `self.write("update shadow", |tx| update(tx, …))`; a batch (several requests that share
    /// one commit, as the group-commit [`crate::Writer`] does with broker batches) runs all of
    /// them in one `write`, each inside [`Tx::savepoint`], so that a request that fails is rolled
    /// back alone and answered with its own error while the rest commit.
    ///
    /// This is crate-private on purpose. [`Tx`] derefs to rusqlite's `Connection`, and the
    /// operations are `Store` methods that open their own transaction, so a public `write` would
    /// either put rusqlite in the public API or hand out a transaction nothing outside can use.
    /// If another crate ever has to compose operations itself, the public form is a store-owned
    /// transaction type without `Deref`, with those operations as its methods and `savepoint`
    /// kept; `Store` methods then become one-line `write` calls.
    pub(crate) fn write<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let label = self.label.as_str();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| step_failed(label, "begin", what, e))?;
        let value = f(&Tx::new(&tx, label))?;
        tx.commit()
            .map_err(|e| step_failed(label, "commit", what, e))?;
        Ok(value)
    }

    /// Runs `f` in one read snapshot (`DEFERRED`, so it never waits for the writer): every
    /// SELECT inside sees the same committed state. It is for reads only; writes go through
    /// [`Store::write`]. Errors name `begin WHAT` and `end WHAT`.
    pub(crate) fn read<T>(
        &self,
        what: &str,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let label = self.label.as_str();
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
            .map_err(|e| step_failed(label, "begin", what, e))?;
        let value = f(&Tx::new(&tx, label))?;
        tx.commit()
            .map_err(|e| step_failed(label, "end", what, e))?;
        Ok(value)
    }
}

/// A failed transaction step, named like the operations inside it: `commit create thing`.
fn step_failed(label: &str, step: &str, what: &str, source: rusqlite::Error) -> StoreError {
    StoreError::sqlite(label, format!("{step} {what}"), source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlContext;

    fn insert(tx: &Tx<'_>, name: &str) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO things (name, thing_id, thing_type, attributes, version, created_ms, \
             modified_ms) VALUES (?1, ?1, NULL, '{}', 1, 0, 0)",
            [name],
        )
        .ctx(tx.label(), "insert thing")?;
        Ok(())
    }

    /// The names among `candidates` that are stored.
    fn stored<'a>(store: &Store, candidates: &[&'a str]) -> Vec<&'a str> {
        let present = |name: &&str| store.thing(name).unwrap().is_some();
        candidates.iter().copied().filter(present).collect()
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let mut store = Store::open_in_memory().unwrap();
        let result: Result<(), _> = store.write("test", |tx| {
            insert(tx, "a")?;
            Err(StoreError::InvalidRequest("refused".into()))
        });
        assert!(matches!(result, Err(StoreError::InvalidRequest(_))));
        assert!(stored(&store, &["a"]).is_empty());
    }

    #[test]
    fn a_failed_savepoint_is_rolled_back_alone() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .write("batch", |tx| {
                tx.savepoint("first", |sp| insert(sp, "first"))?;
                let failed = tx.savepoint("second", |sp| {
                    insert(sp, "second")?;
                    // A nested savepoint that succeeds is undone with the one around it.
                    sp.savepoint("inner", |inner| insert(inner, "inner"))?;
                    Err::<(), _>(StoreError::InvalidRequest("refused".into()))
                });
                assert!(matches!(failed, Err(StoreError::InvalidRequest(_))));
                tx.savepoint("third", |sp| insert(sp, "third"))
            })
            .unwrap();
        assert_eq!(
            stored(&store, &["first", "second", "inner", "third"]),
            vec!["first", "third"]
        );
    }

    #[test]
    fn step_errors_name_the_database_and_the_operation() {
        let err = step_failed(
            "/x/tether.db",
            "commit",
            "register certificate",
            rusqlite::Error::QueryReturnedNoRows,
        );
        assert!(
            err.to_string()
                .starts_with("database /x/tether.db: commit register certificate failed: "),
            "{err}"
        );
    }
}
