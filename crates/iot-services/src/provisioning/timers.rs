//! Fleet provisioning's timers, run by the services worker like Jobs': a certificate ownership
//! token expires an hour after it was handed out, and "if the certificate ... has not been
//! activated and has not been attached to a policy or a thing by the time the token expires, the
//! certificate is deleted" (fleet-provision-api.md); a temporary claim certificate expires five
//! minutes after CreateProvisioningClaim. Both are rows with an `expires_ms`.

use store::{CertificateStatus, ServiceTx, StoreError};

/// Tokens handled per tick at most; the rest fire at the next one, at once.
const BATCH: usize = 256;

/// Fires what is due at `now_ms`.
pub fn tick(tx: &ServiceTx<'_>, now_ms: i64) -> Result<(), StoreError> {
    let claims = tx.delete_expired_claims(now_ms)?;
    if claims > 0 {
        tracing::info!("{claims} provisioning claim(s) expired");
    }
    for token in tx.expired_ownership_tokens(now_ms, BATCH)? {
        tx.delete_ownership_token(&token.token)?;
        let Some(cert) = tx.certificate(&token.certificate_id)? else {
            continue;
        };
        if cert.status == CertificateStatus::Active {
            continue;
        }
        if tx.certificate_attachments(&cert.id)? == (0, 0) {
            tx.delete_certificate(&cert.id, false)?;
            tracing::info!(
                "certificate {} was deleted: its ownership token expired before it was activated \
                 or attached",
                cert.id
            );
        }
    }
    Ok(())
}

/// When the next token or claim expires.
pub fn next_deadline(tx: &ServiceTx<'_>) -> Result<Option<i64>, StoreError> {
    tx.next_provisioning_deadline()
}
