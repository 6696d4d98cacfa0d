//! Just-in-time registration (JITR) and provisioning (JITP) at the TLS edge: a client
//! certificate the registry does not know, or knows as `PENDING_ACTIVATION`, that a registered,
//! ACTIVE CA with auto-registration enabled issued, is handed to the services worker, which
//! registers it (and runs the CA's JITP template) in one transaction; the connection is then
//! closed, as AWS closes a device's first connection, and the device's next one finds its
//! certificate registered. The TLS handshake already accepts any client certificate (the
//! registry, not the chain, decides: `tls::context`), so nothing changes there.
//!
//! AWS's rule for the chain (auto-register-device-cert.md, jit-provisioning.md): "Presenting the
//! CA certificate is optional but the device is required to send the Server Name Indication
//! (SNI) extension". tether reads it as: a device of a DEFAULT-mode CA sends the CA in its chain
//! or sends SNI; a device of an SNI_ONLY CA (registered without a verification certificate, so
//! possibly in several accounts) sends SNI.

use std::sync::Arc;

use iot_services::provisioning::{self, AutoRegistration, FirstConnection};
use pki::{CertificateId, X509};
use refusals::RefusalKind;
use store::{CaCertificate, CaCertificateStatus, CertificateMode, CertificateStatus, PageRequest};
use tokio::sync::oneshot;

use super::accept::Admission;
use super::handshake::Accepted;
use crate::auth::CertificateRefusal;
use crate::services::Call;

/// When `refusal` is about a certificate an auto-registering CA issued, registers it through the
/// services worker and returns why this connection is closed all the same; `None` leaves the
/// refusal as it is.
pub(crate) async fn first_connection(
    admission: &Admission,
    accepted: &Accepted,
    certificate: &X509,
    id: &CertificateId,
    refusal: &CertificateRefusal,
) -> Option<(RefusalKind, String)> {
    match refusal {
        CertificateRefusal::NotRegistered { .. }
        | CertificateRefusal::NotActive {
            status: CertificateStatus::PendingActivation,
            ..
        } => {}
        _ => return None,
    }
    let link = admission.services.as_ref()?;
    let ca = issuing_ca(admission, certificate).await?;
    let chain_has_ca = accepted
        .stream
        .ssl()
        .peer_cert_chain()
        .is_some_and(|chain| {
            chain
                .iter()
                .any(|c| c.to_der().ok().as_deref() == Some(ca.1.as_slice()))
        });
    let sni = accepted.hello.server_name.is_some();
    let ca = ca.0;
    let allowed = match ca.mode {
        CertificateMode::Default => chain_has_ca || sni,
        CertificateMode::SniOnly => sni,
    };
    if !allowed {
        return Some((
            RefusalKind::Sni,
            format!(
                "certificate {} was issued by CA certificate {}, which registers certificates \
                 automatically, but the device sent {}; AWS IoT requires the Server Name \
                 Indication (SNI) extension{} for just-in-time registration",
                id.as_str(),
                ca.id,
                if ca.mode == CertificateMode::SniOnly {
                    "no SNI"
                } else {
                    "neither the CA certificate in its chain nor SNI"
                },
                if ca.mode == CertificateMode::SniOnly {
                    ""
                } else {
                    ", or the CA certificate after the device certificate,"
                }
            ),
        ));
    }
    let first = FirstConnection {
        certificate_pem: pki::certificate_pem(certificate)
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .ok()?,
        certificate_id: id.as_str().to_owned(),
        ca_certificate_id: ca.id.clone(),
    };
    let (reply, answer) = oneshot::channel();
    let call: Call = Box::new(move |tx, services, now| {
        let (outcome, output) =
            provisioning::first_connection(tx, &services.config().provisioning, &first, now);
        let done = Box::new(move |committed: bool| {
            let _ = reply.send((outcome, committed));
        });
        (output, done as Box<dyn FnOnce(bool) + Send>)
    });
    if !link.call(call) {
        return None;
    }
    let (outcome, committed) = answer.await.ok()?;
    let (id, ca) = (id.as_str(), &ca.id);
    Some(match outcome {
        _ if !committed => (
            RefusalKind::Registry,
            format!("just-in-time registration of certificate {id} could not be committed"),
        ),
        AutoRegistration::Pending { .. } => (
            RefusalKind::NotActive,
            format!(
                "certificate {id} was registered just in time by CA certificate {ca} as \
                 PENDING_ACTIVATION, and $aws/events/certificates/registered/{ca} was published; \
                 activate it (aws iot update-certificate --new-status ACTIVE) and connect again"
            ),
        ),
        AutoRegistration::Provisioned { thing, status } => (
            RefusalKind::NotRegistered,
            format!(
                "certificate {id} was registered and provisioned just in time from CA \
                 certificate {ca}'s template ({}certificate {status}); AWS IoT closes this \
                 first connection: connect again",
                thing.map(|t| format!("thing {t}, ")).unwrap_or_default()
            ),
        ),
        AutoRegistration::Refused(why) => (
            RefusalKind::NotRegistered,
            format!(
                "certificate {id} was issued by CA certificate {ca}, which registers \
                 certificates automatically, but just-in-time registration failed: {why}"
            ),
        ),
    })
}

/// The registered, ACTIVE, auto-registering CA that issued `certificate`, with its DER.
async fn issuing_ca(admission: &Admission, certificate: &X509) -> Option<(CaCertificate, Vec<u8>)> {
    let store = Arc::clone(&admission.store);
    let certificate = certificate.clone();
    tokio::task::spawn_blocking(move || {
        let store = store.lock().ok()?;
        let mut page = PageRequest::first(store::MAX_PAGE_SIZE);
        loop {
            let result = store.list_ca_certificates(&page).ok()?;
            for ca in &result.items {
                if ca.status != CaCertificateStatus::Active || !ca.auto_registration {
                    continue;
                }
                if let Ok(loaded) = pki::load_certificate(ca.pem.as_bytes(), &ca.id)
                    && provisioning::signed_by(&certificate, &loaded.certificate)
                {
                    let der = loaded.certificate.to_der().ok()?;
                    return Some((ca.clone(), der));
                }
            }
            page = page.after(&result)?;
        }
    })
    .await
    .ok()
    .flatten()
}
