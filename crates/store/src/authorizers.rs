//! Custom authorizers (CreateAuthorizer, DescribeAuthorizer, ListAuthorizers, UpdateAuthorizer,
//! DeleteAuthorizer, and the account's default authorizer): the records AWS IoT keeps for each.
//! It does not check token signatures, call functions or judge connections (the server does),
//! and it validates only what the table must hold; names and shapes are checked by the control
//! plane before they get here.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, params};

use crate::Store;
use crate::error::{ResourceKind, SqlContext, StoreError};
use crate::page::{Page, PageRequest};

/// One authorizer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerRecord {
    /// Its name (the ARN's last part).
    pub name: String,
    /// `authorizerFunctionArn`: what tether calls in place of the Lambda function.
    pub function_arn: String,
    /// `tokenKeyName`: the header, query parameter or user-name parameter holding the token.
    pub token_key_name: Option<String>,
    /// `tokenSigningPublicKeys`: key name to PEM public key.
    pub token_signing_public_keys: BTreeMap<String, String>,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// `signingDisabled`: no token signature is required.
    pub signing_disabled: bool,
    /// `enableCachingForHttp`.
    pub enable_caching_for_http: bool,
    /// Whether it is the account's default authorizer.
    pub is_default: bool,
    /// When it was created.
    pub created_ms: i64,
    /// When it last changed.
    pub modified_ms: i64,
}

/// What UpdateAuthorizer may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerUpdate {
    /// A new function ARN.
    pub function_arn: Option<String>,
    /// A new token key name.
    pub token_key_name: Option<String>,
    /// New token signing keys (replacing the old ones).
    pub token_signing_public_keys: Option<BTreeMap<String, String>>,
    /// A new status.
    pub status: Option<String>,
    /// A new caching flag.
    pub enable_caching_for_http: Option<bool>,
}

const SELECT: &str = "SELECT name, function_arn, token_key_name, token_signing_public_keys, \
     status, signing_disabled, enable_caching_for_http, is_default, created_ms, modified_ms \
     FROM authorizers";

impl Store {
    /// CreateAuthorizer. `AlreadyExists` when the name is taken.
    pub fn create_authorizer(&mut self, record: &AuthorizerRecord) -> Result<(), StoreError> {
        self.write("create authorizer", |tx| {
            let label = tx.label();
            if read(tx, label, &record.name)?.is_some() {
                return Err(StoreError::AlreadyExists {
                    kind: ResourceKind::Authorizer,
                    id: record.name.clone(),
                });
            }
            tx.execute(
                "INSERT INTO authorizers (name, function_arn, token_key_name, \
                 token_signing_public_keys, status, signing_disabled, enable_caching_for_http, \
                 is_default, created_ms, modified_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)",
                params![
                    record.name,
                    record.function_arn,
                    record.token_key_name,
                    keys_to_json(&record.token_signing_public_keys),
                    record.status,
                    record.signing_disabled,
                    record.enable_caching_for_http,
                    record.created_ms,
                ],
            )
            .ctx(label, "insert authorizer")?;
            Ok(())
        })
    }

    /// DescribeAuthorizer: the authorizer, or `None`.
    pub fn authorizer(&self, name: &str) -> Result<Option<AuthorizerRecord>, StoreError> {
        read(&self.conn, &self.label, name)
    }

    /// The account's default authorizer, if one is set.
    pub fn default_authorizer(&self) -> Result<Option<AuthorizerRecord>, StoreError> {
        self.conn
            .query_row(&format!("{SELECT} WHERE is_default = 1"), [], row)
            .optional()
            .ctx(&self.label, "read default authorizer")?
            .map(|r| r.finish(&self.label))
            .transpose()
    }

    /// ListAuthorizers, by name, optionally only those of one status.
    pub fn list_authorizers(
        &self,
        page: &PageRequest,
        status: Option<&str>,
    ) -> Result<Page<AuthorizerRecord>, StoreError> {
        let (dir, cmp) = page.sql_order();
        let sql = format!(
            "{SELECT} WHERE (?1 IS NULL OR name {cmp} ?1) AND (?2 IS NULL OR status = ?2) \
             ORDER BY name {dir} LIMIT ?3"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .ctx(&self.label, "list authorizers")?;
        let raw = stmt
            .query_map(params![page.token, status, page.probe_limit()], row)
            .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            .ctx(&self.label, "list authorizers")?;
        let rows = raw
            .into_iter()
            .map(|r| r.finish(&self.label))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_probe(rows, page, |a| a.name.clone()))
    }

    /// UpdateAuthorizer. `NotFound` when it does not exist.
    pub fn update_authorizer(
        &mut self,
        name: &str,
        update: &AuthorizerUpdate,
        now_unix_ms: i64,
    ) -> Result<AuthorizerRecord, StoreError> {
        self.write("update authorizer", |tx| {
            let label = tx.label();
            let mut record = read(tx, label, name)?
                .ok_or_else(|| StoreError::not_found(ResourceKind::Authorizer, name))?;
            if let Some(arn) = &update.function_arn {
                record.function_arn.clone_from(arn);
            }
            if let Some(key) = &update.token_key_name {
                record.token_key_name = Some(key.clone());
            }
            if let Some(keys) = &update.token_signing_public_keys {
                record.token_signing_public_keys.clone_from(keys);
            }
            if let Some(status) = &update.status {
                record.status.clone_from(status);
            }
            if let Some(caching) = update.enable_caching_for_http {
                record.enable_caching_for_http = caching;
            }
            record.modified_ms = now_unix_ms;
            tx.execute(
                "UPDATE authorizers SET function_arn = ?2, token_key_name = ?3, \
                 token_signing_public_keys = ?4, status = ?5, enable_caching_for_http = ?6, \
                 modified_ms = ?7 WHERE name = ?1",
                params![
                    name,
                    record.function_arn,
                    record.token_key_name,
                    keys_to_json(&record.token_signing_public_keys),
                    record.status,
                    record.enable_caching_for_http,
                    now_unix_ms,
                ],
            )
            .ctx(label, "update authorizer")?;
            Ok(record)
        })
    }

    /// DeleteAuthorizer. AWS refuses to delete an ACTIVE authorizer or the default one
    /// (`DeleteConflictException`); `NotFound` when it does not exist.
    pub fn delete_authorizer(&mut self, name: &str) -> Result<(), StoreError> {
        self.write("delete authorizer", |tx| {
            let label = tx.label();
            let record = read(tx, label, name)?
                .ok_or_else(|| StoreError::not_found(ResourceKind::Authorizer, name))?;
            let conflict = |reason: &str| StoreError::DeleteConflict {
                kind: ResourceKind::Authorizer,
                id: name.to_owned(),
                reason: reason.to_owned(),
            };
            if record.status == "ACTIVE" {
                return Err(conflict(
                    "it is ACTIVE; set it INACTIVE first (aws iot update-authorizer --status \
                     INACTIVE)",
                ));
            }
            if record.is_default {
                return Err(conflict(
                    "it is the default authorizer; clear the default first (aws iot \
                     clear-default-authorizer)",
                ));
            }
            tx.execute("DELETE FROM authorizers WHERE name = ?1", params![name])
                .ctx(label, "delete authorizer")?;
            Ok(())
        })
    }

    /// SetDefaultAuthorizer: `name` becomes the default (replacing another). `NotFound` when it
    /// does not exist.
    pub fn set_default_authorizer(&mut self, name: &str) -> Result<AuthorizerRecord, StoreError> {
        self.write("set default authorizer", |tx| {
            let label = tx.label();
            let mut record = read(tx, label, name)?
                .ok_or_else(|| StoreError::not_found(ResourceKind::Authorizer, name))?;
            tx.execute(
                "UPDATE authorizers SET is_default = (name = ?1)",
                params![name],
            )
            .ctx(label, "set default authorizer")?;
            record.is_default = true;
            Ok(record)
        })
    }

    /// ClearDefaultAuthorizer. `NotFound` when no default is set.
    pub fn clear_default_authorizer(&mut self) -> Result<(), StoreError> {
        self.write("clear default authorizer", |tx| {
            let n = tx
                .execute(
                    "UPDATE authorizers SET is_default = 0 WHERE is_default = 1",
                    [],
                )
                .ctx(tx.label(), "clear default authorizer")?;
            if n == 0 {
                return Err(StoreError::not_found(
                    ResourceKind::Authorizer,
                    "(default authorizer)",
                ));
            }
            Ok(())
        })
    }
}

/// A row before its JSON column is parsed.
struct RawRecord {
    record: AuthorizerRecord,
    keys: String,
}

impl RawRecord {
    fn finish(mut self, label: &str) -> Result<AuthorizerRecord, StoreError> {
        self.record.token_signing_public_keys =
            serde_json::from_str(&self.keys).map_err(|e| StoreError::Corrupt {
                path: label.to_owned(),
                record: format!("authorizer {}", self.record.name),
                detail: format!("token_signing_public_keys: {e}"),
            })?;
        Ok(self.record)
    }
}

fn row(r: &Row<'_>) -> rusqlite::Result<RawRecord> {
    Ok(RawRecord {
        record: AuthorizerRecord {
            name: r.get(0)?,
            function_arn: r.get(1)?,
            token_key_name: r.get(2)?,
            token_signing_public_keys: BTreeMap::new(),
            status: r.get(4)?,
            signing_disabled: r.get(5)?,
            enable_caching_for_http: r.get(6)?,
            is_default: r.get(7)?,
            created_ms: r.get(8)?,
            modified_ms: r.get(9)?,
        },
        keys: r.get(3)?,
    })
}

fn read(
    conn: &rusqlite::Connection,
    label: &str,
    name: &str,
) -> Result<Option<AuthorizerRecord>, StoreError> {
    conn.query_row(&format!("{SELECT} WHERE name = ?1"), params![name], row)
        .optional()
        .ctx(label, "read authorizer")?
        .map(|r| r.finish(label))
        .transpose()
}

fn keys_to_json(keys: &BTreeMap<String, String>) -> String {
    serde_json::to_string(keys).unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> AuthorizerRecord {
        AuthorizerRecord {
            name: name.to_owned(),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:auth".to_owned(),
            token_key_name: Some("token".to_owned()),
            token_signing_public_keys: BTreeMap::from([("k1".to_owned(), "PEM".to_owned())]),
            status: "ACTIVE".to_owned(),
            signing_disabled: false,
            enable_caching_for_http: false,
            is_default: false,
            created_ms: 5,
            modified_ms: 5,
        }
    }

    #[test]
    fn authorizers_are_created_listed_updated_and_deleted_under_awss_rules() {
        let mut store = Store::open_in_memory().unwrap();
        store.create_authorizer(&record("b")).unwrap();
        store.create_authorizer(&record("a")).unwrap();
        assert!(matches!(
            store.create_authorizer(&record("a")),
            Err(StoreError::AlreadyExists { .. })
        ));
        assert_eq!(store.authorizer("a").unwrap(), Some(record("a")));
        let page = store
            .list_authorizers(&PageRequest::first(1), Some("ACTIVE"))
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].name, "a");
        assert!(page.next_token.is_some());

        let default = store.set_default_authorizer("a").unwrap();
        assert!(default.is_default);
        assert_eq!(store.default_authorizer().unwrap().unwrap().name, "a");
        store.set_default_authorizer("b").unwrap();
        assert_eq!(store.default_authorizer().unwrap().unwrap().name, "b");
        assert!(!store.authorizer("a").unwrap().unwrap().is_default);

        assert!(matches!(
            store.delete_authorizer("a"),
            Err(StoreError::DeleteConflict { .. })
        ));
        let update = AuthorizerUpdate {
            status: Some("INACTIVE".to_owned()),
            ..AuthorizerUpdate::default()
        };
        let updated = store.update_authorizer("a", &update, 9).unwrap();
        assert_eq!(
            (updated.status.as_str(), updated.modified_ms),
            ("INACTIVE", 9)
        );
        assert_eq!(
            store
                .list_authorizers(&PageRequest::first(10), Some("INACTIVE"))
                .unwrap()
                .items
                .len(),
            1
        );
        store.delete_authorizer("a").unwrap();
        assert_eq!(store.authorizer("a").unwrap(), None);

        store.update_authorizer("b", &update, 10).unwrap();
        assert!(matches!(
            store.delete_authorizer("b"),
            Err(StoreError::DeleteConflict { .. })
        ));
        store.clear_default_authorizer().unwrap();
        assert!(matches!(
            store.clear_default_authorizer(),
            Err(StoreError::NotFound { .. })
        ));
        store.delete_authorizer("b").unwrap();
        assert!(matches!(
            store.update_authorizer("b", &update, 11),
            Err(StoreError::NotFound { .. })
        ));
    }
}
