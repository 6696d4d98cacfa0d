//! Just-in-time registration and provisioning, on a device's first connection with a
//! certificate issued by a registered CA whose auto-registration is enabled
//! (auto-register-device-cert.md, jit-provisioning.md). Without a template (JITR) the certificate
//! is registered `PENDING_ACTIVATION` and `$aws/events/certificates/registered/{caCertificateId}`
//! is published, again whenever a certificate still `PENDING_ACTIVATION` connects. With a
//! template in the CA's `registrationConfig` (`templateBody`, or `templateName` of a JITP
//! template) the certificate is registered and the template run in one savepoint. The server
//! decides which CA issued the certificate and closes the first connection either way, as AWS
//! does; this module only writes the registry and says what happened.
//!
//! Where AWS is silent: a JITP template that fails (a subject field the template declares is
//! missing, a thing type that does not exist) leaves nothing behind, not even the certificate,
//! so the device's next connection tries again; the event's `timestamp` is epoch milliseconds
//! and `certificateRegistrationTimestamp` the registration time in epoch milliseconds as text,
//! as the guide's example writes one bare and the other quoted.

use serde_json::{Value, json};
use store::{CaCertificateStatus, CertificateStatus, NewCertificate, ServiceTx};

use super::apply::{self, Context};
use super::error::ProvisioningError;
use super::manage::{TYPE_JITP, load_template};
use super::settings::{ProvisioningSettings, certificate_fields};
use super::template::{Template, Use};
use crate::{OutMessage, Output};

/// A first connection with a certificate a registered CA issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstConnection {
    pub certificate_pem: String,
    pub certificate_id: String,
    pub ca_certificate_id: String,
}

/// What auto-registration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoRegistration {
    /// JITR: the certificate is `PENDING_ACTIVATION` (`newly` when registered just now) and the
    /// registered event was published.
    Pending { newly: bool },
    /// JITP: the template ran; the certificate has the status it set.
    Provisioned {
        thing: Option<String>,
        status: CertificateStatus,
    },
    /// Nothing was registered, for this reason.
    Refused(String),
}

/// Registers (and with a template, provisions) the certificate of a first connection.
pub fn first_connection(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    first: &FirstConnection,
    now_ms: i64,
) -> (AutoRegistration, Output) {
    match run(tx, settings, first, now_ms) {
        Ok(done) => done,
        Err(e) => (AutoRegistration::Refused(e.message), Output::default()),
    }
}

fn run(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    first: &FirstConnection,
    now_ms: i64,
) -> Result<(AutoRegistration, Output), ProvisioningError> {
    let ca_id = &first.ca_certificate_id;
    let ca = tx
        .ca_certificate(ca_id)?
        .filter(|ca| ca.status == CaCertificateStatus::Active && ca.auto_registration)
        .ok_or_else(|| {
            ProvisioningError::access_denied(format!(
                "CA certificate {ca_id} is not ACTIVE with auto-registration enabled"
            ))
        })?;
    let template = registration_template(tx, ca.registration_config.as_deref())?;
    let existing = tx.certificate(&first.certificate_id)?;
    if let Some(cert) = &existing
        && (cert.status != CertificateStatus::PendingActivation
            || cert.ca_certificate_id.as_deref() != Some(ca_id.as_str()))
    {
        return Err(ProvisioningError::access_denied(format!(
            "certificate {} is already registered as {}",
            cert.id, cert.status
        )));
    }
    let loaded = pki::load_certificate(first.certificate_pem.as_bytes(), &first.certificate_id)
        .map_err(|e| ProvisioningError::invalid_request(e.to_string()))?
        .certificate;
    let summary =
        pki::summarize(&loaded).map_err(|e| ProvisioningError::invalid_request(e.to_string()))?;
    let newly = existing.is_none();
    let Some(template) = template else {
        if newly {
            tx.register_certificate(
                &NewCertificate {
                    id: first.certificate_id.clone(),
                    pem: first.certificate_pem.clone(),
                    status: CertificateStatus::PendingActivation,
                    ca_certificate_id: Some(ca_id.clone()),
                    mode: ca.mode,
                    owned_by: settings.account.clone(),
                    not_before_ms: summary.not_before.saturating_mul(1000),
                    not_after_ms: summary.not_after.saturating_mul(1000),
                },
                now_ms,
            )?;
        }
        let registered_ms = tx
            .certificate(&first.certificate_id)?
            .map_or(now_ms, |c| c.created_ms);
        let event = json!({
            "certificateId": first.certificate_id,
            "caCertificateId": ca_id,
            "timestamp": now_ms,
            "certificateStatus": "PENDING_ACTIVATION",
            "awsAccountId": settings.account,
            "certificateRegistrationTimestamp": registered_ms.to_string(),
        });
        let output = Output {
            publish: vec![OutMessage::json(
                format!("$aws/events/certificates/registered/{ca_id}"),
                &event,
            )],
            direct: Vec::new(),
        };
        return Ok((AutoRegistration::Pending { newly }, output));
    };
    let fields = certificate_fields(&first.certificate_id, &loaded);
    let plan = template
        .evaluate(&Default::default(), Some(&fields))
        .map_err(|e| ProvisioningError::from_template(&e))?;
    let applied = apply::atomically(tx, "just-in-time provisioning", |tx| {
        if newly {
            tx.register_certificate(
                &NewCertificate {
                    id: first.certificate_id.clone(),
                    pem: first.certificate_pem.clone(),
                    status: CertificateStatus::PendingActivation,
                    ca_certificate_id: Some(ca_id.clone()),
                    mode: ca.mode,
                    owned_by: settings.account.clone(),
                    not_before_ms: summary.not_before.saturating_mul(1000),
                    not_after_ms: summary.not_after.saturating_mul(1000),
                },
                now_ms,
            )?;
        }
        let ctx = Context {
            settings,
            bound_certificate: Some(&first.certificate_id),
        };
        apply::apply(tx, &ctx, &plan, now_ms)
    })?;
    let status = tx
        .certificate(&first.certificate_id)?
        .map_or(CertificateStatus::PendingActivation, |c| c.status);
    Ok((
        AutoRegistration::Provisioned {
            thing: applied.thing_name,
            status,
        },
        Output::default(),
    ))
}

/// The JITP template of a CA's `registrationConfig`, if it has one.
fn registration_template(
    tx: &ServiceTx<'_>,
    config: Option<&str>,
) -> Result<Option<Template>, ProvisioningError> {
    let Some(config) = config.and_then(|c| serde_json::from_str::<Value>(c).ok()) else {
        return Ok(None);
    };
    let body = if let Some(body) = config.get("templateBody").and_then(Value::as_str) {
        body.to_owned()
    } else if let Some(name) = config.get("templateName").and_then(Value::as_str) {
        let (stored, body) = load_template(tx, name)?;
        if stored.template_type != TYPE_JITP {
            return Err(ProvisioningError::invalid_request(format!(
                "the CA's registrationConfig names template {name}, which is of type {}, not JITP",
                stored.template_type
            )));
        }
        body
    } else {
        return Ok(None);
    };
    Template::parse(&body, Use::Jitp).map(Some).map_err(|e| {
        ProvisioningError::invalid_request(format!("The JITP template is invalid: {e}"))
    })
}
