//! Device certificates and CA certificates in the registry: register, read, list (by creation
//! time, optionally per CA), change status, delete under AWS's rules (§4.2). The two tables mirror
//! each other, so registering, reading, listing, row decoding, deleting and the status enums'
//! text are written once, over `CertificateTable`, and each table only states what differs. It
//! does not parse PEM or compute ids (the caller passes the SHA-256 of the DER from `pki`), and it
//! does not disconnect devices whose certificate changed status (the server does, from the
//! returned previous status).

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::Store;
use crate::error::{ResourceKind, SqlContext, StoreError};
use crate::page::{Page, PageRequest, parse_time_id_token, time_id_token};
use crate::transaction::Tx;

/// Declares an enum that is stored and sent as its AWS spelling, from one table of variants and
/// spellings: `ALL`, `as_str`, `parse`, `Display` and the SQL text conversion.
macro_rules! aws_text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every value, in the AWS model's order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The AWS wire spelling, e.g. `ACTIVE`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// Parses the AWS wire spelling (exact case).
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|value| value.as_str() == text)
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                $name::parse(text).ok_or_else(|| {
                    FromSqlError::Other(format!("unknown {} {text:?}", $what).into())
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

aws_text_enum! {
    /// A device certificate's status (`CertificateStatus` in the AWS model).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum CertificateStatus ("certificate status") {
        Active = "ACTIVE",
        Inactive = "INACTIVE",
        Revoked = "REVOKED",
        PendingTransfer = "PENDING_TRANSFER",
        /// Deprecated by AWS, still accepted on registration.
        RegisterInactive = "REGISTER_INACTIVE",
        PendingActivation = "PENDING_ACTIVATION",
    }
}

aws_text_enum! {
    /// A CA certificate's status.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum CaCertificateStatus ("CA certificate status") {
        Active = "ACTIVE",
        Inactive = "INACTIVE",
    }
}

aws_text_enum! {
    /// `certificateMode`: whether the CA was registered with a verification certificate.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum CertificateMode ("certificate mode") {
        #[default]
        Default = "DEFAULT",
        SniOnly = "SNI_ONLY",
    }
}

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

impl Store {
    /// Registers a device certificate. `AlreadyExists` (with the id) when it is present.
    pub fn register_certificate(
        &mut self,
        new: &NewCertificate,
        now_unix_ms: i64,
    ) -> Result<Certificate, StoreError> {
        self.register(Certificate {
            id: new.id.clone(),
            pem: new.pem.clone(),
            status: new.status,
            ca_certificate_id: new.ca_certificate_id.clone(),
            mode: new.mode,
            owned_by: new.owned_by.clone(),
            previous_owned_by: None,
            not_before_ms: new.not_before_ms,
            not_after_ms: new.not_after_ms,
            created_ms: now_unix_ms,
            modified_ms: now_unix_ms,
            generation: 1,
        })
    }

    /// DescribeCertificate: the certificate, or `None`.
    pub fn certificate(&self, id: &str) -> Result<Option<Certificate>, StoreError> {
        read(&self.conn, &self.label, id)
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
        list(&self.conn, &self.label, None, page)
    }

    /// ListCertificatesByCA.
    pub fn list_certificates_by_ca(
        &self,
        ca_certificate_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Certificate>, StoreError> {
        let filter = ("ca_certificate_id", ca_certificate_id);
        list(&self.conn, &self.label, Some(filter), page)
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
            set_certificate_status(tx, id, status, now_unix_ms)
        })
    }

    /// DeleteCertificate: refused while `ACTIVE` (CertificateState), while things are attached
    /// (DeleteConflict), and while policies are attached unless `force` (then they are detached).
    pub fn delete_certificate(&mut self, id: &str, force: bool) -> Result<(), StoreError> {
        self.write("delete certificate", |tx| delete_certificate(tx, id, force))
    }

    /// RegisterCACertificate. `AlreadyExists` when present.
    pub fn register_ca_certificate(
        &mut self,
        new: &NewCaCertificate,
        now_unix_ms: i64,
    ) -> Result<CaCertificate, StoreError> {
        self.register(CaCertificate {
            id: new.id.clone(),
            pem: new.pem.clone(),
            status: new.status,
            auto_registration: new.auto_registration,
            mode: new.mode,
            owned_by: new.owned_by.clone(),
            registration_config: new.registration_config.clone(),
            not_before_ms: new.not_before_ms,
            not_after_ms: new.not_after_ms,
            created_ms: now_unix_ms,
            modified_ms: now_unix_ms,
            generation: 1,
        })
    }

    /// DescribeCACertificate: the CA certificate, or `None`.
    pub fn ca_certificate(&self, id: &str) -> Result<Option<CaCertificate>, StoreError> {
        read(&self.conn, &self.label, id)
    }

    /// ListCACertificates, sorted by creation time then id.
    pub fn list_ca_certificates(
        &self,
        page: &PageRequest,
    ) -> Result<Page<CaCertificate>, StoreError> {
        list(&self.conn, &self.label, None, page)
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
            let mut ca: CaCertificate = read_existing(tx, tx.label(), id)?;
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
            .ctx(tx.label(), "update CA certificate")?;
            Ok(ca)
        })
    }

    /// DeleteCACertificate: refused while `ACTIVE` (CertificateState). Device certificates
    /// registered with it keep their `caCertificateId`.
    pub fn delete_ca_certificate(&mut self, id: &str) -> Result<(), StoreError> {
        self.write("delete CA certificate", |tx| {
            deletable::<CaCertificate>(tx, tx.label(), id)?;
            delete_row::<CaCertificate>(tx, tx.label(), id)
        })
    }

    /// Inserts a new row of either table: `AlreadyExists` when the id is taken. Returns the row
    /// as stored.
    fn register<R: CertificateTable>(&mut self, row: R) -> Result<R, StoreError> {
        self.write(&format!("register {}", R::KIND), |tx| insert(tx, row))
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

/// The device certificate `id` (crate-wide: attachments and the connection lookup check it).
pub(crate) fn read_certificate(
    conn: &Connection,
    label: &str,
    id: &str,
) -> Result<Option<Certificate>, StoreError> {
    read(conn, label, id)
}

/// Sets a certificate's status inside an open transaction; returns the previous one.
pub(crate) fn set_certificate_status(
    tx: &Tx<'_>,
    id: &str,
    status: CertificateStatus,
    now_unix_ms: i64,
) -> Result<CertificateStatus, StoreError> {
    let cert: Certificate = read_existing(tx, tx.label(), id)?;
    tx.execute(
        "UPDATE certificates SET status = ?2, modified_ms = ?3, generation = generation + 1 \
                 WHERE id = ?1",
        params![id, status, now_unix_ms],
    )
    .ctx(tx.label(), "update certificate")?;
    Ok(cert.status)
}

/// DeleteCertificate inside an open transaction.
pub(crate) fn delete_certificate(tx: &Tx<'_>, id: &str, force: bool) -> Result<(), StoreError> {
    let label = tx.label();
    deletable::<Certificate>(tx, label, id)?;
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
    delete_row::<Certificate>(tx, label, id)
}

/// Inserts a new row of either table inside an open transaction: `AlreadyExists` when the id
/// is taken. Returns the row as stored.
pub(crate) fn insert<R: CertificateTable>(tx: &Tx<'_>, row: R) -> Result<R, StoreError> {
    check_certificate_id(row.id())?;
    let label = tx.label();
    if read::<R>(tx, label, row.id())?.is_some() {
        return Err(StoreError::AlreadyExists {
            kind: R::KIND,
            id: row.id().to_owned(),
        });
    }
    let values = row.values();
    let placeholders = vec!["?"; values.len()].join(", ");
    tx.execute(
        &format!(
            "INSERT INTO {} ({}) VALUES ({placeholders})",
            R::TABLE,
            R::COLUMNS
        ),
        values.as_slice(),
    )
    .map_err(|e| StoreError::sqlite(label, format!("insert {}", R::KIND), e))?;
    read_existing(tx, label, row.id())
}

/// The CA certificate `id` (crate-wide: the services layer's auto-registration reads it).
pub(crate) fn read_ca_certificate(
    conn: &Connection,
    label: &str,
    id: &str,
) -> Result<Option<CaCertificate>, StoreError> {
    read(conn, label, id)
}

// ---------------------------------------------------------------------------------------------
// One implementation for both tables

/// What the shared code needs to know about one of the two certificate tables; everything else
/// about them is the same. Rows are whole structs whose fields are the table's columns
/// (`table_row!` writes the column list and the decoding from one list of fields).
pub(crate) trait CertificateTable: Sized {
    /// What errors call a row, e.g. `CA certificate` (`read CA certificate`).
    const KIND: ResourceKind;
    const TABLE: &'static str;
    /// The columns in field order, for `SELECT` and `INSERT`.
    const COLUMNS: &'static str;
    /// Why an `ACTIVE` row cannot be deleted, and what to do instead.
    const ACTIVE_DELETE_RULE: &'static str;

    /// Decodes a row selected with [`Self::COLUMNS`].
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self>;
    /// The fields in [`Self::COLUMNS`] order, for `INSERT`.
    fn values(&self) -> Vec<&dyn ToSql>;
    fn id(&self) -> &str;
    fn created_ms(&self) -> i64;
    /// The status, as text, while it is `ACTIVE` (which forbids deleting the row), else `None`.
    fn active_status(&self) -> Option<String>;
}

/// Implements [`CertificateTable`] for a row struct: `$fields` are its columns, in order.
macro_rules! table_row {
    (
        $row:ident in $table:literal as $kind:ident,
        active when $active:path, rule $rule:literal,
        columns { $($field:ident),+ $(,)? }
    ) => {
        impl CertificateTable for $row {
            const KIND: ResourceKind = ResourceKind::$kind;
            const TABLE: &'static str = $table;
            const COLUMNS: &'static str = stringify!($($field),+);
            const ACTIVE_DELETE_RULE: &'static str = $rule;

            fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
                let mut columns = InOrder { row, next: 0 };
                Ok($row {
                    $($field: columns.take()?,)+
                })
            }

            fn values(&self) -> Vec<&dyn ToSql> {
                vec![$(&self.$field),+]
            }

            fn id(&self) -> &str {
                &self.id
            }

            fn created_ms(&self) -> i64 {
                self.created_ms
            }

            fn active_status(&self) -> Option<String> {
                (self.status == $active).then(|| self.status.to_string())
            }
        }
    };
}

table_row! {
    Certificate in "certificates" as Certificate,
    active when CertificateStatus::Active,
    rule "an ACTIVE certificate cannot be deleted; set it INACTIVE or REVOKED first",
    columns {
        id, pem, status, ca_certificate_id, mode, owned_by, previous_owned_by,
        not_before_ms, not_after_ms, created_ms, modified_ms, generation,
    }
}

table_row! {
    CaCertificate in "ca_certificates" as CaCertificate,
    active when CaCertificateStatus::Active,
    rule "an ACTIVE CA certificate cannot be deleted; set it INACTIVE first",
    columns {
        id, pem, status, auto_registration, mode, owned_by, registration_config,
        not_before_ms, not_after_ms, created_ms, modified_ms, generation,
    }
}

/// Reads a row's columns one after the other, so decoding follows the column list.
struct InOrder<'a, 'r> {
    row: &'a Row<'r>,
    next: usize,
}

impl InOrder<'_, '_> {
    fn take<T: FromSql>(&mut self) -> rusqlite::Result<T> {
        let index = self.next;
        self.next = self.next.saturating_add(1);
        self.row.get(index)
    }
}

/// The row with `id`, or `None`.
fn read<R: CertificateTable>(
    conn: &Connection,
    label: &str,
    id: &str,
) -> Result<Option<R>, StoreError> {
    conn.query_row(
        &format!("SELECT {} FROM {} WHERE id = ?1", R::COLUMNS, R::TABLE),
        [id],
        R::from_row,
    )
    .optional()
    .map_err(|e| StoreError::sqlite(label, format!("read {}", R::KIND), e))
}

/// The row with `id`; `NotFound` when there is none.
fn read_existing<R: CertificateTable>(
    conn: &Connection,
    label: &str,
    id: &str,
) -> Result<R, StoreError> {
    read(conn, label, id)?.ok_or_else(|| StoreError::not_found(R::KIND, id))
}

/// A page of rows sorted by `(created_ms, id)`, the token being the last row's pair;
/// `filter` keeps the rows whose column equals the value.
fn list<R: CertificateTable>(
    conn: &Connection,
    label: &str,
    filter: Option<(&'static str, &str)>,
    page: &PageRequest,
) -> Result<Page<R>, StoreError> {
    let failed = |e| StoreError::sqlite(label, format!("list {}s", R::KIND), e);
    let after = match &page.token {
        None => None,
        Some(t) => Some(
            parse_time_id_token(t).ok_or_else(|| StoreError::InvalidToken { token: t.clone() })?,
        ),
    };
    let (ms, id) = after.unzip();
    let limit = page.probe_limit();
    let mut values: Vec<&dyn ToSql> = vec![&ms, &id, &limit];
    let filter_sql = match &filter {
        Some((column, value)) => {
            values.push(value);
            format!("AND {column} = ?4")
        }
        None => String::new(),
    };
    let (dir, cmp) = page.sql_order();
    let sql = format!(
        "SELECT {} FROM {}
         WHERE (?1 IS NULL OR (created_ms, id) {cmp} (?1, ?2)) {filter_sql}
         ORDER BY created_ms {dir}, id {dir} LIMIT ?3",
        R::COLUMNS,
        R::TABLE
    );
    let mut stmt = conn.prepare(&sql).map_err(failed)?;
    let rows = stmt
        .query_map(values.as_slice(), R::from_row)
        .and_then(|r| r.collect::<Result<Vec<_>, _>>())
        .map_err(failed)?;
    Ok(Page::from_probe(rows, page, |r| {
        time_id_token(r.created_ms(), r.id())
    }))
}

/// The row to delete: `NotFound` when there is none, `CertificateState` while it is `ACTIVE`.
fn deletable<R: CertificateTable>(
    conn: &Connection,
    label: &str,
    id: &str,
) -> Result<R, StoreError> {
    let row: R = read_existing(conn, label, id)?;
    match row.active_status() {
        Some(status) => Err(StoreError::CertificateState {
            kind: R::KIND,
            id: id.to_owned(),
            status,
            rule: R::ACTIVE_DELETE_RULE,
        }),
        None => Ok(row),
    }
}

fn delete_row<R: CertificateTable>(
    conn: &Connection,
    label: &str,
    id: &str,
) -> Result<(), StoreError> {
    conn.execute(&format!("DELETE FROM {} WHERE id = ?1", R::TABLE), [id])
        .map_err(|e| StoreError::sqlite(label, format!("delete {}", R::KIND), e))?;
    Ok(())
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
