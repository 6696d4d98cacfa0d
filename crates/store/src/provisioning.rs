//! Fleet provisioning records behind [`ServiceTx`]: provisioning templates and their versions,
//! the temporary claim certificates of CreateProvisioningClaim, and certificate ownership
//! tokens, each with the expiry the services worker's timers fire at. Stored as the services
//! layer hands them over: a template body is opaque text, a hook its JSON text. The broker's
//! connection lookup reads claims through [`crate::Store::certificate_for_connection`]. It does
//! not parse templates, decide expiry (the caller passes `now`) or draw tokens.

use rusqlite::{OptionalExtension, Row, params};

use crate::error::{ResourceKind, SqlContext, StoreError};
use crate::page::{Page, PageRequest};
use crate::services::ServiceTx;

/// AWS keeps at most five versions of a provisioning template.
pub const MAX_TEMPLATE_VERSIONS: usize = 5;

/// A provisioning template without its body (the default version holds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTemplate {
    pub name: String,
    /// A UUID-shaped id, unique per template.
    pub template_id: String,
    pub description: Option<String>,
    /// `FLEET_PROVISIONING` or `JITP`.
    pub template_type: String,
    pub enabled: bool,
    pub provisioning_role_arn: String,
    /// `preProvisioningHook` as JSON text.
    pub pre_provisioning_hook: Option<String>,
    pub default_version: i64,
    /// The highest version id given so far (ids are never reused).
    pub last_version: i64,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// One version of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTemplateVersion {
    pub template_name: String,
    pub version: i64,
    pub body: String,
    pub created_ms: i64,
}

/// A temporary claim certificate from CreateProvisioningClaim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClaim {
    pub certificate_id: String,
    pub template_name: String,
    pub pem: String,
    /// The policy the claim carries (the template's provisioning topics).
    pub policy_document: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// A certificate ownership token bound to the certificate it proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnershipToken {
    pub token: String,
    pub certificate_id: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

const TEMPLATE_COLUMNS: &str = "name, template_id, description, template_type, enabled, \
     provisioning_role_arn, pre_provisioning_hook, default_version, last_version, created_ms, \
     modified_ms";

fn template_row(r: &Row<'_>) -> rusqlite::Result<StoredTemplate> {
    Ok(StoredTemplate {
        name: r.get(0)?,
        template_id: r.get(1)?,
        description: r.get(2)?,
        template_type: r.get(3)?,
        enabled: r.get(4)?,
        provisioning_role_arn: r.get(5)?,
        pre_provisioning_hook: r.get(6)?,
        default_version: r.get(7)?,
        last_version: r.get(8)?,
        created_ms: r.get(9)?,
        modified_ms: r.get(10)?,
    })
}

fn version_row(r: &Row<'_>) -> rusqlite::Result<StoredTemplateVersion> {
    Ok(StoredTemplateVersion {
        template_name: r.get(0)?,
        version: r.get(1)?,
        body: r.get(2)?,
        created_ms: r.get(3)?,
    })
}

fn claim_row(r: &Row<'_>) -> rusqlite::Result<StoredClaim> {
    Ok(StoredClaim {
        certificate_id: r.get(0)?,
        template_name: r.get(1)?,
        pem: r.get(2)?,
        policy_document: r.get(3)?,
        created_ms: r.get(4)?,
        expires_ms: r.get(5)?,
    })
}

fn token_row(r: &Row<'_>) -> rusqlite::Result<OwnershipToken> {
    Ok(OwnershipToken {
        token: r.get(0)?,
        certificate_id: r.get(1)?,
        created_ms: r.get(2)?,
        expires_ms: r.get(3)?,
    })
}

impl ServiceTx<'_> {
    /// The provisioning template `name`.
    pub fn provisioning_template(&self, name: &str) -> Result<Option<StoredTemplate>, StoreError> {
        let tx = self.tx();
        tx.prepare_cached(&format!(
            "SELECT {TEMPLATE_COLUMNS} FROM provisioning_templates WHERE name = ?1"
        ))
        .and_then(|mut stmt| stmt.query_row(params![name], template_row).optional())
        .ctx(tx.label(), "read provisioning template")
    }

    /// Inserts a new template with its first version: `AlreadyExists` when the name is taken.
    pub fn create_provisioning_template(
        &self,
        template: &StoredTemplate,
        first: &StoredTemplateVersion,
    ) -> Result<(), StoreError> {
        if self.provisioning_template(&template.name)?.is_some() {
            return Err(StoreError::AlreadyExists {
                kind: ResourceKind::ProvisioningTemplate,
                id: template.name.clone(),
            });
        }
        self.put_provisioning_template(template)?;
        self.put_template_version(first)
    }

    /// Writes a template's record, replacing what was there (its versions stay).
    pub fn put_provisioning_template(&self, t: &StoredTemplate) -> Result<(), StoreError> {
        let tx = self.tx();
        tx.prepare_cached(
            "INSERT INTO provisioning_templates (name, template_id, description, template_type, \
             enabled, provisioning_role_arn, pre_provisioning_hook, default_version, last_version, \
             created_ms, modified_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (name) DO UPDATE SET description = excluded.description, \
             enabled = excluded.enabled, provisioning_role_arn = excluded.provisioning_role_arn, \
             pre_provisioning_hook = excluded.pre_provisioning_hook, \
             default_version = excluded.default_version, last_version = excluded.last_version, \
             modified_ms = excluded.modified_ms",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                t.name,
                t.template_id,
                t.description,
                t.template_type,
                t.enabled,
                t.provisioning_role_arn,
                t.pre_provisioning_hook,
                t.default_version,
                t.last_version,
                t.created_ms,
                t.modified_ms
            ])
        })
        .ctx(tx.label(), "write provisioning template")?;
        Ok(())
    }

    /// Deletes a template and its versions; false when there was none.
    pub fn delete_provisioning_template(&self, name: &str) -> Result<bool, StoreError> {
        let tx = self.tx();
        let n = tx
            .execute(
                "DELETE FROM provisioning_templates WHERE name = ?1",
                params![name],
            )
            .ctx(tx.label(), "delete provisioning template")?;
        Ok(n > 0)
    }

    /// ListProvisioningTemplates: one page by name.
    pub fn provisioning_templates(
        &self,
        page: &PageRequest,
    ) -> Result<Page<StoredTemplate>, StoreError> {
        let tx = self.tx();
        let (dir, cmp) = page.sql_order();
        let rows = tx
            .prepare(&format!(
                "SELECT {TEMPLATE_COLUMNS} FROM provisioning_templates \
                 WHERE (?1 IS NULL OR name {cmp} ?1) ORDER BY name {dir} LIMIT ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![page.token, page.probe_limit()], template_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(tx.label(), "list provisioning templates")?;
        Ok(Page::from_probe(rows, page, |t| t.name.clone()))
    }

    /// Version `version` of template `name`.
    pub fn template_version(
        &self,
        name: &str,
        version: i64,
    ) -> Result<Option<StoredTemplateVersion>, StoreError> {
        let tx = self.tx();
        tx.prepare_cached(
            "SELECT template_name, version, body, created_ms FROM provisioning_template_versions \
             WHERE template_name = ?1 AND version = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![name, version], version_row)
                .optional()
        })
        .ctx(tx.label(), "read provisioning template version")
    }

    /// Every version of template `name`, oldest first.
    pub fn template_versions(&self, name: &str) -> Result<Vec<StoredTemplateVersion>, StoreError> {
        let tx = self.tx();
        tx.prepare_cached(
            "SELECT template_name, version, body, created_ms FROM provisioning_template_versions \
             WHERE template_name = ?1 ORDER BY version",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![name], version_row)
                .and_then(|rows| rows.collect())
        })
        .ctx(tx.label(), "list provisioning template versions")
    }

    /// Adds a version.
    pub fn put_template_version(&self, v: &StoredTemplateVersion) -> Result<(), StoreError> {
        let tx = self.tx();
        tx.prepare_cached(
            "INSERT INTO provisioning_template_versions (template_name, version, body, created_ms) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![v.template_name, v.version, v.body, v.created_ms])
        })
        .ctx(tx.label(), "write provisioning template version")?;
        Ok(())
    }

    /// Deletes one version; false when there was none.
    pub fn delete_template_version(&self, name: &str, version: i64) -> Result<bool, StoreError> {
        let tx = self.tx();
        let n = tx
            .execute(
                "DELETE FROM provisioning_template_versions WHERE template_name = ?1 \
                 AND version = ?2",
                params![name, version],
            )
            .ctx(tx.label(), "delete provisioning template version")?;
        Ok(n > 0)
    }

    /// Stores a temporary claim certificate.
    pub fn put_claim(&self, claim: &StoredClaim) -> Result<(), StoreError> {
        let tx = self.tx();
        tx.prepare_cached(
            "INSERT INTO provisioning_claims (certificate_id, template_name, pem, policy_document, \
             created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                claim.certificate_id,
                claim.template_name,
                claim.pem,
                claim.policy_document,
                claim.created_ms,
                claim.expires_ms
            ])
        })
        .ctx(tx.label(), "write provisioning claim")?;
        Ok(())
    }

    /// The temporary claim certificate `id`.
    pub fn claim(&self, certificate_id: &str) -> Result<Option<StoredClaim>, StoreError> {
        let tx = self.tx();
        read_claim(tx, tx.label(), certificate_id)
    }

    /// Deletes the claims expired at `now_ms`; returns how many.
    pub fn delete_expired_claims(&self, now_ms: i64) -> Result<usize, StoreError> {
        let tx = self.tx();
        tx.execute(
            "DELETE FROM provisioning_claims WHERE expires_ms <= ?1",
            params![now_ms],
        )
        .ctx(tx.label(), "delete expired provisioning claims")
    }

    /// Stores an ownership token.
    pub fn put_ownership_token(&self, token: &OwnershipToken) -> Result<(), StoreError> {
        let tx = self.tx();
        tx.prepare_cached(
            "INSERT INTO ownership_tokens (token, certificate_id, created_ms, expires_ms) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                token.token,
                token.certificate_id,
                token.created_ms,
                token.expires_ms
            ])
        })
        .ctx(tx.label(), "write ownership token")?;
        Ok(())
    }

    /// The ownership token `token`, expired or not.
    pub fn ownership_token(&self, token: &str) -> Result<Option<OwnershipToken>, StoreError> {
        let tx = self.tx();
        tx.prepare_cached(
            "SELECT token, certificate_id, created_ms, expires_ms FROM ownership_tokens \
             WHERE token = ?1",
        )
        .and_then(|mut stmt| stmt.query_row(params![token], token_row).optional())
        .ctx(tx.label(), "read ownership token")
    }

    /// Deletes an ownership token (it was used, or its timer fired).
    pub fn delete_ownership_token(&self, token: &str) -> Result<(), StoreError> {
        let tx = self.tx();
        tx.execute(
            "DELETE FROM ownership_tokens WHERE token = ?1",
            params![token],
        )
        .ctx(tx.label(), "delete ownership token")?;
        Ok(())
    }

    /// The tokens expired at `now_ms`, oldest first, at most `limit`.
    pub fn expired_ownership_tokens(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<OwnershipToken>, StoreError> {
        let tx = self.tx();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        tx.prepare_cached(
            "SELECT token, certificate_id, created_ms, expires_ms FROM ownership_tokens \
             WHERE expires_ms <= ?1 ORDER BY expires_ms LIMIT ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![now_ms, limit], token_row)
                .and_then(|rows| rows.collect())
        })
        .ctx(tx.label(), "list expired ownership tokens")
    }

    /// When the next token or claim expires (epoch milliseconds), if any does.
    pub fn next_provisioning_deadline(&self) -> Result<Option<i64>, StoreError> {
        let tx = self.tx();
        tx.query_row(
            "SELECT min(t) FROM (SELECT min(expires_ms) AS t FROM ownership_tokens \
             UNION ALL SELECT min(expires_ms) FROM provisioning_claims)",
            [],
            |r| r.get(0),
        )
        .ctx(tx.label(), "read the next provisioning deadline")
    }
}

/// The claim `certificate_id` (crate-wide: the broker's connection lookup reads it).
pub(crate) fn read_claim(
    conn: &rusqlite::Connection,
    label: &str,
    certificate_id: &str,
) -> Result<Option<StoredClaim>, StoreError> {
    conn.prepare_cached(
        "SELECT certificate_id, template_name, pem, policy_document, created_ms, expires_ms \
         FROM provisioning_claims WHERE certificate_id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![certificate_id], claim_row)
            .optional()
    })
    .ctx(label, "read provisioning claim")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn template(name: &str) -> StoredTemplate {
        StoredTemplate {
            name: name.to_owned(),
            template_id: format!("id-{name}"),
            description: None,
            template_type: "FLEET_PROVISIONING".to_owned(),
            enabled: true,
            provisioning_role_arn: "arn:aws:iam::123456789012:role/p".to_owned(),
            pre_provisioning_hook: None,
            default_version: 1,
            last_version: 1,
            created_ms: 1,
            modified_ms: 1,
        }
    }

    fn version(name: &str, version: i64) -> StoredTemplateVersion {
        StoredTemplateVersion {
            template_name: name.to_owned(),
            version,
            body: format!("{{\"v\":{version}}}"),
            created_ms: version,
        }
    }

    #[test]
    fn templates_and_versions_are_stored_listed_and_deleted_together() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .services("test", |tx| {
                tx.create_provisioning_template(&template("b"), &version("b", 1))?;
                tx.create_provisioning_template(&template("a"), &version("a", 1))?;
                let again = tx.create_provisioning_template(&template("a"), &version("a", 1));
                assert!(matches!(again, Err(StoreError::AlreadyExists { .. })));
                tx.put_template_version(&version("a", 2))?;
                let page = tx.provisioning_templates(&PageRequest::first(1))?;
                assert_eq!(page.items[0].name, "a");
                assert!(page.next_token.is_some());
                assert_eq!(tx.template_versions("a")?.len(), 2);
                assert!(tx.delete_provisioning_template("a")?);
                assert!(tx.template_versions("a")?.is_empty());
                assert_eq!(tx.template_version("b", 1)?.unwrap().body, "{\"v\":1}");
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn tokens_and_claims_expire_in_order() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .services("test", |tx| {
                assert_eq!(tx.next_provisioning_deadline()?, None);
                for (token, expires) in [("t1", 30), ("t2", 10)] {
                    tx.put_ownership_token(&OwnershipToken {
                        token: token.to_owned(),
                        certificate_id: "c".to_owned(),
                        created_ms: 0,
                        expires_ms: expires,
                    })?;
                }
                tx.put_claim(&StoredClaim {
                    certificate_id: "x".to_owned(),
                    template_name: "t".to_owned(),
                    pem: String::new(),
                    policy_document: "{}".to_owned(),
                    created_ms: 0,
                    expires_ms: 5,
                })?;
                assert_eq!(tx.next_provisioning_deadline()?, Some(5));
                assert_eq!(tx.delete_expired_claims(5)?, 1);
                assert_eq!(tx.next_provisioning_deadline()?, Some(10));
                let due = tx.expired_ownership_tokens(20, 10)?;
                assert_eq!(due.len(), 1);
                assert_eq!(due[0].token, "t2");
                tx.delete_ownership_token("t2")?;
                assert_eq!(tx.next_provisioning_deadline()?, Some(30));
                Ok(())
            })
            .unwrap();
    }
}
