//! Device certificates and CA certificates in the registry: register, read, list (by creation
//! time, optionally per CA), change status, delete under AWS's rules (§4.2). It does not parse
//! PEM or compute ids (the caller passes the SHA-256 of the DER from `pki`), and it does not
//! disconnect devices whose certificate changed status (the server does, from the returned
//! previous status).

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{OptionalExtension, Row, params};

use crate::Store;
use crate::error::{ResourceKind, SqlContext, StoreError};
use crate::page::{Page, PageRequest, parse_time_id_token, time_id_token};

/// A device certificate's status (`CertificateStatus` in the AWS model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateStatus {
    Active,
    Inactive,
    Revoked,
    PendingTransfer,
    /// Deprecated by AWS, still accepted on registration.
    RegisterInactive,
    PendingActivation,
}

impl CertificateStatus {
    /// Every status, in the model's order.
    pub const ALL: [CertificateStatus; 6] = [
        CertificateStatus::Active,
        CertificateStatus::Inactive,
        CertificateStatus::Revoked,
        CertificateStatus::PendingTransfer,
        CertificateStatus::RegisterInactive,
        CertificateStatus::PendingActivation,
    ];

    /// The AWS wire spelling, e.g. `PENDING_ACTIVATION`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Active => "ACTIVE",
            CertificateStatus::Inactive => "INACTIVE",
            CertificateStatus::Revoked => "REVOKED",
            CertificateStatus::PendingTransfer => "PENDING_TRANSFER",
            CertificateStatus::RegisterInactive => "REGISTER_INACTIVE",
            CertificateStatus::PendingActivation => "PENDING_ACTIVATION",
        }
    }

    /// Parses the AWS wire spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A CA certificate's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaCertificateStatus {
    Active,
    Inactive,
}

impl CaCertificateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaCertificateStatus::Active => "ACTIVE",
            CaCertificateStatus::Inactive => "INACTIVE",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ACTIVE" => Some(CaCertificateStatus::Active),
            "INACTIVE" => Some(CaCertificateStatus::Inactive),
            _ => None,
        }
    }
}

/// `certificateMode`: whether the CA was registered with a verification certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CertificateMode {
    #[default]
    Default,
    SniOnly,
}

impl CertificateMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateMode::Default => "DEFAULT",
            CertificateMode::SniOnly => "SNI_ONLY",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "DEFAULT" => Some(CertificateMode::Default),
            "SNI_ONLY" => Some(CertificateMode::SniOnly),
            _ => None,
        }
    }
}

macro_rules! text_enum_sql {
    ($ty:ty, $what:literal) => {
        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }
        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                <$ty>::parse(text).ok_or_else(|| {
                    FromSqlError::Other(format!("unknown {} {text:?}", $what).into())
                })
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum_sql!(CertificateStatus, "certificate status");
text_enum_sql!(CaCertificateStatus, "CA certificate status");
text_enum_sql!(CertificateMode, "certificate mode");

/// What RegisterCertificate / CreateKeysAndCertificate / JITR store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate {
    /// Lowercase hex SHA-256 of the DER (64 characters).
    pub id: String,
    pub pem: String,
    pub status: CertificateStatus,
    pub ca_certificate_id: Option<String>,
    pub mode: CertificateMode,
    /// Account id (`ownedBy`).
    pub owned_by: String,
    pub not_before_ms: i64,
    pub not_after_ms: i64,
}

/// A stored device certificate (`CertificateDescription` without ARN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub id: String,
    pub pem: String,
    pub status: CertificateStatus,
    pub ca_certificate_id: Option<String>,
    pub mode: CertificateMode,
    pub owned_by: String,
    pub previous_owned_by: Option<String>,
    pub not_before_ms: i64,
    pub not_after_ms: i64,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// Grows by one on every change (`generationId`, `customerVersion`).
    pub generation: i64,
}

/// What RegisterCACertificate stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCaCertificate {
    pub id: String,
    pub pem: String,
    pub status: CaCertificateStatus,
    pub auto_registration: bool,
    pub mode: CertificateMode,
    pub owned_by: String,
    /// `registrationConfig` (JITP template) as the caller's JSON text, kept verbatim.
    pub registration_config: Option<String>,
    pub not_before_ms: i64,
    pub not_after_ms: i64,
}

/// A stored CA certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaCertificate {
    pub id: String,
    pub pem: String,
    pub status: CaCertificateStatus,
    pub auto_registration: bool,
    pub mode: CertificateMode,
    pub owned_by: String,
    pub registration_config: Option<String>,
    pub not_before_ms: i64,
    pub not_after_ms: i64,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub generation: i64,
}

const CERT_COLUMNS: &str = "id, pem, status, ca_certificate_id, mode, owned_by, previous_owned_by, \
     not_before_ms, not_after_ms, created_ms, modified_ms, generation";

const CA_COLUMNS: &str = "id, pem, status, auto_registration, mode, owned_by, registration_config, \
     not_before_ms, not_after_ms, created_ms, modified_ms, generation";

impl Store {
    /// Registers a device certificate. `AlreadyExists` (with the id) when it is present.
    pub fn register_certificate(
        &mut self,
        new: &NewCertificate,
        now_unix_ms: i64,
    ) -> Result<Certificate, StoreError> {
        check_certificate_id(&new.id)?;
        self.write("register certificate", |tx| {
            let label = tx.label();
            if read_certificate(tx, label, &new.id)?.is_some() {
                return Err(StoreError::AlreadyExists {
                    kind: ResourceKind::Certificate,
                    id: new.id.clone(),
                });
            }
            tx.execute(
                &format!("INSERT INTO certificates ({CERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8, ?9, ?9, 1)"),
                params![
                    new.id,
                    new.pem,
                    new.status,
                    new.ca_certificate_id,
                    new.mode,
                    new.owned_by,
                    new.not_before_ms,
                    new.not_after_ms,
                    now_unix_ms
                ],
            )
            .ctx(label, "insert certificate")?;
            let cert = read_certificate(tx, label, &new.id)?
                .ok_or_else(|| StoreError::not_found(ResourceKind::Certificate, &new.id))?;
            Ok(cert)
        })
    }

    /// DescribeCertificate: the certificate, or `None`.
    pub fn certificate(&self, id: &str) -> Result<Option<Certificate>, StoreError> {
        read_certificate(&self.conn, &self.label, id)
    }

    /// Ids and statuses of every certificate that is not ACTIVE: what the broker's registry
    /// watcher compares against its live connections (a deleted certificate was made
    /// non-ACTIVE first, because an ACTIVE one cannot be deleted).
    pub fn certificates_not_active(&self) -> Result<Vec<(String, CertificateStatus)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, status FROM certificates WHERE status != 'ACTIVE'")
            .ctx(&self.label, "list non-active certificates")?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(&self.label, "list non-active certificates")?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, status)| CertificateStatus::parse(&status).map(|s| (id, s)))
            .collect())
    }

    /// A counter bumped by every change to things, certificates, policies and attachments,
    /// whoever makes it (this process's API, the CLI, another process): the broker polls it to
    /// apply registry changes to live connections. Broker writes do not move it.
    pub fn registry_version(&self) -> Result<i64, StoreError> {
        // Read on every device connection: keep the statement compiled.
        self.conn
            .prepare_cached("SELECT version FROM registry_version")
            .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
            .ctx(&self.label, "read registry version")
    }

    /// ListCertificates, sorted by creation time then id (AWS lists newest first by default:
    /// pass [`crate::Order::Descending`]).
    pub fn list_certificates(&self, page: &PageRequest) -> Result<Page<Certificate>, StoreError> {
        self.list_certificates_where(None, page)
    }

    /// ListCertificatesByCA.
    pub fn list_certificates_by_ca(
        &self,
        ca_certificate_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Certificate>, StoreError> {
        self.list_certificates_where(Some(ca_certificate_id), page)
    }

    fn list_certificates_where(
        &self,
        ca: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Certificate>, StoreError> {
        let after = decode_time_token(page)?;
        let (dir, cmp) = page.sql_order();
        let sql = format!(
            "SELECT {CERT_COLUMNS} FROM certificates
             WHERE (?1 IS NULL OR ca_certificate_id = ?1)
               AND (?2 IS NULL OR (created_ms, id) {cmp} (?2, ?3))
             ORDER BY created_ms {dir}, id {dir} LIMIT ?4"
        );
        let (ms, id) = after.unzip();
        let mut stmt = self
            .conn
            .prepare(&sql)
            .ctx(&self.label, "list certificates")?;
        let rows = stmt
            .query_map(params![ca, ms, id, page.probe_limit()], certificate_row)
            .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            .ctx(&self.label, "list certificates")?;
        Ok(Page::from_probe(rows, page, |c| {
            time_id_token(c.created_ms, &c.id)
        }))
    }

    /// UpdateCertificate. Returns the status before the change so the server can disconnect
    /// devices that lost `ACTIVE`. `PENDING_TRANSFER` and `PENDING_ACTIVATION` are internal
    /// states and refused as targets.
    pub fn update_certificate_status(
        &mut self,
        id: &str,
        status: CertificateStatus,
        now_unix_ms: i64,
    ) -> Result<CertificateStatus, StoreError> {
        if matches!(
            status,
            CertificateStatus::PendingTransfer | CertificateStatus::PendingActivation
        ) {
            return Err(StoreError::InvalidRequest(format!(
                "certificate {id}: the status cannot be set to {status}; use ACTIVE, INACTIVE or REVOKED"
            )));
        }
        self.set_certificate_status(id, status, now_unix_ms)
    }

    /// Sets any status, including the internal ones (JITR registers `PENDING_ACTIVATION`, fleet
    /// provisioning activates). Returns the previous status.
    pub fn set_certificate_status(
        &mut self,
        id: &str,
        status: CertificateStatus,
        now_unix_ms: i64,
    ) -> Result<CertificateStatus, StoreError> {
        self.write("update certificate", |tx| {
            let label = tx.label();
            let cert = read_certificate(tx, label, id)?
                .ok_or_else(|| StoreError::not_found(ResourceKind::Certificate, id))?;
            tx.execute(
                "UPDATE certificates SET status = ?2, modified_ms = ?3, generation = generation + 1 \
                 WHERE id = ?1",
                params![id, status, now_unix_ms],
            )
            .ctx(label, "update certificate")?;
            Ok(cert.status)
        })
    }

    /// DeleteCertificate: refused while `ACTIVE` (CertificateState), while things are attached
    /// (DeleteConflict), and while policies are attached unless `force` (then they are detached).
    pub fn delete_certificate(&mut self, id: &str, force: bool) -> Result<(), StoreError> {
        self.write("delete certificate", |tx| {
            let label = tx.label();
            let cert = read_certificate(tx, label, id)?
                .ok_or_else(|| StoreError::not_found(ResourceKind::Certificate, id))?;
            if cert.status == CertificateStatus::Active {
                return Err(StoreError::CertificateState {
                    kind: ResourceKind::Certificate,
                    id: id.to_owned(),
                    status: cert.status.to_string(),
                    rule: "an ACTIVE certificate cannot be deleted; set it INACTIVE or REVOKED first",
                });
            }
            let count = |sql: &str| -> Result<i64, StoreError> {
                tx.query_row(sql, [id], |r| r.get(0))
                    .ctx(label, "count certificate attachments")
            };
            let things = count("SELECT count(*) FROM thing_principals WHERE certificate_id = ?1")?;
            if things > 0 {
                return Err(StoreError::DeleteConflict {
                    kind: ResourceKind::Certificate,
                    id: id.to_owned(),
                    reason: format!("it is attached to {things} thing(s); detach them first"),
                });
            }
            let policies = count("SELECT count(*) FROM policy_targets WHERE certificate_id = ?1")?;
            if policies > 0 && !force {
                return Err(StoreError::DeleteConflict {
                    kind: ResourceKind::Certificate,
                    id: id.to_owned(),
                    reason: format!(
                        "{policies} polic(ies) are attached; detach them or delete with forceDelete"
                    ),
                });
            }
            // policy_targets rows go with it (ON DELETE CASCADE).
            tx.execute("DELETE FROM certificates WHERE id = ?1", [id])
                .ctx(label, "delete certificate")?;
            Ok(())
        })
    }

    /// RegisterCACertificate. `AlreadyExists` when present.
    pub fn register_ca_certificate(
        &mut self,
        new: &NewCaCertificate,
        now_unix_ms: i64,
    ) -> Result<CaCertificate, StoreError> {
        check_certificate_id(&new.id)?;
        self.write("register CA certificate", |tx| {
            let label = tx.label();
            if read_ca(tx, label, &new.id)?.is_some() {
                return Err(StoreError::AlreadyExists {
                    kind: ResourceKind::CaCertificate,
                    id: new.id.clone(),
                });
            }
            tx.execute(
                &format!("INSERT INTO ca_certificates ({CA_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 1)"),
                params![
                    new.id,
                    new.pem,
                    new.status,
                    new.auto_registration,
                    new.mode,
                    new.owned_by,
                    new.registration_config,
                    new.not_before_ms,
                    new.not_after_ms,
                    now_unix_ms
                ],
            )
            .ctx(label, "insert CA certificate")?;
            let ca = read_ca(tx, label, &new.id)?
                .ok_or_else(|| StoreError::not_found(ResourceKind::CaCertificate, &new.id))?;
            Ok(ca)
        })
    }

    /// DescribeCACertificate: the CA certificate, or `None`.
    pub fn ca_certificate(&self, id: &str) -> Result<Option<CaCertificate>, StoreError> {
        read_ca(&self.conn, &self.label, id)
    }

    /// ListCACertificates, sorted by creation time then id.
    pub fn list_ca_certificates(
        &self,
        page: &PageRequest,
    ) -> Result<Page<CaCertificate>, StoreError> {
        let after = decode_time_token(page)?;
        let (dir, cmp) = page.sql_order();
        let sql = format!(
            "SELECT {CA_COLUMNS} FROM ca_certificates
             WHERE (?1 IS NULL OR (created_ms, id) {cmp} (?1, ?2))
             ORDER BY created_ms {dir}, id {dir} LIMIT ?3"
        );
        let (ms, id) = after.unzip();
        let mut stmt = self
            .conn
            .prepare(&sql)
            .ctx(&self.label, "list CA certificates")?;
        let rows = stmt
            .query_map(params![ms, id, page.probe_limit()], ca_row)
            .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            .ctx(&self.label, "list CA certificates")?;
        Ok(Page::from_probe(rows, page, |c| {
            time_id_token(c.created_ms, &c.id)
        }))
    }

    /// UpdateCACertificate: each `Some` field is changed. Returns the stored result.
    pub fn update_ca_certificate(
        &mut self,
        id: &str,
        status: Option<CaCertificateStatus>,
        auto_registration: Option<bool>,
        registration_config: Option<&str>,
        now_unix_ms: i64,
    ) -> Result<CaCertificate, StoreError> {
        self.write("update CA certificate", |tx| {
            let label = tx.label();
            let mut ca = read_ca(tx, label, id)?
                .ok_or_else(|| StoreError::not_found(ResourceKind::CaCertificate, id))?;
            if let Some(s) = status {
                ca.status = s;
            }
            if let Some(a) = auto_registration {
                ca.auto_registration = a;
            }
            if let Some(c) = registration_config {
                ca.registration_config = Some(c.to_owned());
            }
            ca.modified_ms = now_unix_ms;
            ca.generation = ca.generation.saturating_add(1);
            tx.execute(
                "UPDATE ca_certificates SET status = ?2, auto_registration = ?3, \
                 registration_config = ?4, modified_ms = ?5, generation = ?6 WHERE id = ?1",
                params![
                    id,
                    ca.status,
                    ca.auto_registration,
                    ca.registration_config,
                    ca.modified_ms,
                    ca.generation
                ],
            )
            .ctx(label, "update CA certificate")?;
            Ok(ca)
        })
    }

    /// DeleteCACertificate: refused while `ACTIVE` (CertificateState). Device certificates
    /// registered with it keep their `caCertificateId`.
    pub fn delete_ca_certificate(&mut self, id: &str) -> Result<(), StoreError> {
        self.write("delete CA certificate", |tx| {
            let label = tx.label();
            let ca = read_ca(tx, label, id)?
                .ok_or_else(|| StoreError::not_found(ResourceKind::CaCertificate, id))?;
            if ca.status == CaCertificateStatus::Active {
                return Err(StoreError::CertificateState {
                    kind: ResourceKind::CaCertificate,
                    id: id.to_owned(),
                    status: ca.status.to_string(),
                    rule: "an ACTIVE CA certificate cannot be deleted; set it INACTIVE first",
                });
            }
            tx.execute("DELETE FROM ca_certificates WHERE id = ?1", [id])
                .ctx(label, "delete CA certificate")?;
            Ok(())
        })
    }
}

/// AWS certificate ids are 64 lowercase hex characters.
pub(crate) fn check_certificate_id(id: &str) -> Result<(), StoreError> {
    if id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(StoreError::InvalidRequest(format!(
            "certificate id {id:?} is not 64 lowercase hex characters (the SHA-256 of the DER)"
        )))
    }
}

fn decode_time_token(page: &PageRequest) -> Result<Option<(i64, String)>, StoreError> {
    match &page.token {
        None => Ok(None),
        Some(t) => parse_time_id_token(t)
            .map(|(ms, id)| Some((ms, id.to_owned())))
            .ok_or_else(|| StoreError::InvalidToken { token: t.clone() }),
    }
}

pub(crate) fn read_certificate(
    conn: &rusqlite::Connection,
    label: &str,
    id: &str,
) -> Result<Option<Certificate>, StoreError> {
    conn.query_row(
        &format!("SELECT {CERT_COLUMNS} FROM certificates WHERE id = ?1"),
        [id],
        certificate_row,
    )
    .optional()
    .ctx(label, "read certificate")
}

fn read_ca(
    conn: &rusqlite::Connection,
    label: &str,
    id: &str,
) -> Result<Option<CaCertificate>, StoreError> {
    conn.query_row(
        &format!("SELECT {CA_COLUMNS} FROM ca_certificates WHERE id = ?1"),
        [id],
        ca_row,
    )
    .optional()
    .ctx(label, "read CA certificate")
}

fn certificate_row(r: &Row<'_>) -> rusqlite::Result<Certificate> {
    Ok(Certificate {
        id: r.get(0)?,
        pem: r.get(1)?,
        status: r.get(2)?,
        ca_certificate_id: r.get(3)?,
        mode: r.get(4)?,
        owned_by: r.get(5)?,
        previous_owned_by: r.get(6)?,
        not_before_ms: r.get(7)?,
        not_after_ms: r.get(8)?,
        created_ms: r.get(9)?,
        modified_ms: r.get(10)?,
        generation: r.get(11)?,
    })
}

fn ca_row(r: &Row<'_>) -> rusqlite::Result<CaCertificate> {
    Ok(CaCertificate {
        id: r.get(0)?,
        pem: r.get(1)?,
        status: r.get(2)?,
        auto_registration: r.get(3)?,
        mode: r.get(4)?,
        owned_by: r.get(5)?,
        registration_config: r.get(6)?,
        not_before_ms: r.get(7)?,
        not_after_ms: r.get(8)?,
        created_ms: r.get(9)?,
        modified_ms: r.get(10)?,
        generation: r.get(11)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_their_aws_spelling() {
        for s in CertificateStatus::ALL {
            assert_eq!(CertificateStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(CertificateStatus::parse("active"), None);
        assert_eq!(
            CaCertificateStatus::parse("INACTIVE"),
            Some(CaCertificateStatus::Inactive)
        );
        assert_eq!(
            CertificateMode::parse("SNI_ONLY"),
            Some(CertificateMode::SniOnly)
        );
    }

    #[test]
    fn certificate_ids_must_be_sha256_hex() {
        assert!(check_certificate_id(&"a".repeat(64)).is_ok());
        assert!(check_certificate_id(&"A".repeat(64)).is_err());
        assert!(check_certificate_id(&"a".repeat(63)).is_err());
        assert!(check_certificate_id("../../etc").is_err());
    }
}
