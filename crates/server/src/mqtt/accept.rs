//! Admission of MQTT connections: one accept loop per listener, the connection limit, the TLS
//! handshake (`handshake.rs`), the checks after it (ALPN, a client certificate, the registry:
//! only an ACTIVE registered certificate gets in, with its policies installed in the router
//! before its CONNECT arrives; a certificate an auto-registering CA issued goes to
//! `auto_registration.rs`), and the record of every refusal for `tether doctor recent`.
//! Past admission, the connection task (`connection.rs`) takes over. It does not speak MQTT.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_core::ConnId;
use pki::CertificateId;
use refusals::{Recorder, Refusal, RefusalKind};
use store::Store;
use tokio::net::{TcpListener, TcpStream};

use super::connection::{self, Shared};
use super::handshake::{self, Accepted, TlsEdge};
use super::router::Command;
use crate::auth::{self, CertificateRefusal, DevicePolicies, Identity, Principal};

/// What the accept loops of every listener share.
#[derive(Debug)]
pub(crate) struct Admission {
    /// What connection tasks need.
    pub(crate) shared: Shared,
    /// The registry, read on the blocking pool.
    pub(crate) store: Arc<Mutex<Store>>,
    /// The registry's remembered answers per certificate.
    pub(crate) registry: Arc<auth::RegistryCache>,
    /// DATA_DIR/refusals.jsonl, written off the accept tasks.
    pub(crate) refusals: Recorder,
    /// The next connection number.
    pub(crate) next_conn: AtomicU64,
    /// Connections beyond this many are closed at once.
    pub(crate) max_connections: usize,
    /// The services worker (profile `aws`), for just-in-time registration.
    pub(crate) services: Option<crate::services::Link>,
}

/// A listener's transport: plain TCP, or TLS under a named edge.
#[derive(Debug, Clone)]
pub(crate) enum Transport {
    /// Plain MQTT (the `mqtt` profile's anonymous listener).
    Plain,
    /// Mutual TLS, with the listener's name for refusal records.
    Tls(&'static str, Arc<TlsEdge>),
}

/// Accepts connections until the task is aborted; each one is served on its own task.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    transport: Transport,
    admission: Arc<Admission>,
) {
    // A flood past the limit would write a line per refused connection: one line a second
    // at most, with the count of those not logged.
    let mut over_limit_logged: Option<std::time::Instant> = None;
    let mut over_limit_quiet: u64 = 0;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: report, back off briefly, go on.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let metrics = &admission.shared.metrics;
        let open = usize::try_from(metrics.connections_open.get()).unwrap_or(0);
        if open >= admission.max_connections {
            metrics.connections_over_limit.inc();
            if over_limit_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                tracing::warn!(
                    "refusing {peer}: max_connections ({}) reached (and {over_limit_quiet} \
                     more refused since the last line; raise --max-connections if these are \
                     real clients)",
                    admission.max_connections
                );
                over_limit_logged = Some(std::time::Instant::now());
                over_limit_quiet = 0;
            } else {
                over_limit_quiet += 1;
            }
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let conn = ConnId(admission.next_conn.fetch_add(1, Ordering::Relaxed));
        let admission = Arc::clone(&admission);
        let transport = transport.clone();
        tokio::spawn(async move {
            let metrics = Arc::clone(&admission.shared.metrics);
            metrics.connections_open.inc();
            match transport {
                Transport::Tls(name, edge) => {
                    serve_tls(name, &edge, tcp, peer, conn, &admission).await;
                }
                Transport::Plain => {
                    let principal = Principal::new(Identity::Anonymous { peer });
                    connection::serve(tcp, conn, principal, admission.shared.clone()).await;
                }
            }
            metrics.connections_open.dec();
        });
    }
}

/// The edge presenting the alternate server certificate a fault plan sets for `peer`'s
/// address, if one does (`crate::faults::ServerCertificate`).
fn alternate_edge(edge: &TlsEdge, peer: SocketAddr, admission: &Admission) -> Option<TlsEdge> {
    let kind = admission
        .shared
        .settings
        .faults
        .server_certificate_for(peer.ip())?;
    let certificates = edge.fault_certificates.as_ref()?;
    match certificates.edge(edge, kind) {
        Ok(alternate) => {
            tracing::info!(%peer, "presenting the {kind:?} server certificate (a fault plan)");
            Some(alternate)
        }
        Err(e) => {
            tracing::warn!(%peer, "cannot present the {kind:?} server certificate a fault plan asks for ({e}); presenting the real one");
            None
        }
    }
}

/// Runs the handshake and the checks after it, then serves the connection.
async fn serve_tls(
    listener: &'static str,
    edge: &TlsEdge,
    tcp: TcpStream,
    peer: SocketAddr,
    conn: ConnId,
    admission: &Admission,
) {
    let alternate = alternate_edge(edge, peer, admission);
    let edge = alternate.as_ref().unwrap_or(edge);
    // Boxed: the handshake's state is large and only needed during the handshake, while this
    // task lives as long as the device stays connected.
    let accepted = match Box::pin(handshake::accept(edge, tcp, peer)).await {
        Ok(accepted) => accepted,
        Err(refused) => {
            admission.shared.metrics.handshake_failed(refused.kind);
            let offered = refused
                .hello
                .as_deref()
                .map(|hello| handshake::offer_record(hello, refused.kind));
            let refusal = Refusal {
                time: super::now_rfc3339(),
                peer: peer.to_string(),
                listener: listener.to_owned(),
                kind: refused.kind,
                reason: refused.reason.clone(),
                offered,
                client_certificate: refused.certificate_sent,
                principal: refused.certificate_id.clone(),
                action: Some("TLS handshake".to_owned()),
                ..Refusal::default()
            };
            // Logged by the writer after the record, so whoever reads the log line finds it.
            admission
                .refusals
                .record(refusal, Some(refused.to_string()));
            return;
        }
    };
    serve_accepted(listener, edge, accepted, peer, conn, admission).await;
}

/// After a completed mutual-TLS handshake (here, or on the port-443 listener with ALPN
/// `x-amzn-mqtt-ca`): the checks, the certificate's policies to the router, then the connection.
pub(super) async fn serve_accepted(
    listener: &'static str,
    edge: &TlsEdge,
    accepted: Accepted,
    peer: SocketAddr,
    conn: ConnId,
    admission: &Admission,
) {
    let Some((id, policies)) = admit(edge, listener, peer, &accepted, admission).await else {
        return;
    };
    // The router installs the policies before it sees this connection's CONNECT (one channel,
    // in order).
    let command = Command::SetPolicies {
        certificate_id: id.as_str().to_owned(),
        policies,
    };
    if admission.shared.router.send(command).await.is_err() {
        return;
    }
    // Keep only the stream for the connection's lifetime: the parsed ClientHello and the
    // certificate would otherwise sit in this future next to every idle device.
    let Accepted {
        stream,
        hello,
        peer_certificate,
        alpn,
    } = accepted;
    let Some(certificate) = peer_certificate else {
        return;
    };
    // The handshake refused a certificate outside its validity period; one that expires while
    // connected is closed by the router at this moment.
    let not_after_ms = pki::validity_period(&certificate)
        .map_or(i64::MAX, |(_, not_after)| not_after.saturating_mul(1000));
    let principal = Principal::new(Identity::Device {
        certificate_id: id.as_str().to_owned(),
        peer,
        listener,
        certificate: auth::certificate_info(&certificate),
        not_after_ms,
        tls: auth::TlsSession::of(stream.ssl()),
    });
    drop((hello, certificate, alpn));
    connection::serve(stream, conn, principal, admission.shared.clone()).await;
}

/// The checks after a completed handshake: ALPN where the listener requires it, a client
/// certificate, and its registry status. Returns the certificate id and what is attached to
/// it, or records and logs why the connection is refused.
async fn admit(
    edge: &TlsEdge,
    listener: &'static str,
    peer: SocketAddr,
    accepted: &Accepted,
    admission: &Admission,
) -> Option<(CertificateId, Arc<DevicePolicies>)> {
    let metrics = &admission.shared.metrics;
    let refuse = |kind: RefusalKind, reason: String, certificate_id: Option<String>| {
        refuse_after_handshake(
            admission,
            listener,
            peer,
            accepted,
            kind,
            reason,
            certificate_id,
        );
    };
    if !edge.listener.required_alpn.is_empty() && accepted.alpn.is_none() {
        // OpenSSL's ALPN callback only runs when the client offers ALPN; a client that offers
        // none is refused here, as AWS refuses it on port 443.
        metrics.handshake_failed(RefusalKind::Alpn);
        let verdict = tls::explain(&accepted.hello, &edge.listener, None);
        let reason = verdict.refusals.first().map_or_else(
            || "ALPN x-amzn-mqtt-ca is required".to_owned(),
            ToString::to_string,
        );
        refuse(RefusalKind::Alpn, reason, None);
        return None;
    }
    let Some(certificate) = accepted.peer_certificate.as_ref() else {
        metrics.handshake_failed(RefusalKind::ClientCertificate);
        let reason = "the client sent no certificate, and this listener requires mutual TLS: \
                      give the client its device certificate and private key";
        refuse(RefusalKind::ClientCertificate, reason.to_owned(), None);
        return None;
    };
    let id = match CertificateId::of(certificate) {
        Ok(id) => id,
        Err(e) => {
            metrics.certificates_refused.inc();
            let reason = format!("the client certificate cannot be read: {e}");
            refuse(RefusalKind::Other, reason, None);
            return None;
        }
    };
    let checked = check_registry(admission, &id).await;
    if let Err(refusal) = &checked
        && let Some((kind, reason)) = super::auto_registration::first_connection(
            admission,
            accepted,
            certificate,
            &id,
            refusal,
        )
        .await
    {
        metrics.certificates_refused.inc();
        refuse(kind, reason, Some(id.as_str().to_owned()));
        return None;
    }
    match checked {
        Ok(policies) => Some((id, policies)),
        Err(refusal) => {
            metrics.certificates_refused.inc();
            let kind = match refusal {
                CertificateRefusal::NotRegistered { .. } => RefusalKind::NotRegistered,
                CertificateRefusal::NotActive { .. } => RefusalKind::NotActive,
                CertificateRefusal::Registry(_) => RefusalKind::Registry,
            };
            refuse(kind, refusal.to_string(), Some(id.as_str().to_owned()));
            None
        }
    }
}

/// Looks the certificate up in the registry on the blocking pool.
async fn check_registry(
    admission: &Admission,
    id: &CertificateId,
) -> Result<Arc<DevicePolicies>, CertificateRefusal> {
    let store = Arc::clone(&admission.store);
    let registry = Arc::clone(&admission.registry);
    let id = id.clone();
    tokio::task::spawn_blocking(move || match store.lock() {
        Ok(store) => registry.check(&store, &id),
        Err(_) => Err(CertificateRefusal::Registry(
            "registry lock poisoned".to_owned(),
        )),
    })
    .await
    .unwrap_or_else(|e| Err(CertificateRefusal::Registry(e.to_string())))
}

/// Records and logs a refusal that happened after a completed handshake (record first, so a
/// reader of the log line finds the record).
fn refuse_after_handshake(
    admission: &Admission,
    listener: &str,
    peer: SocketAddr,
    accepted: &Accepted,
    kind: RefusalKind,
    reason: String,
    certificate_id: Option<String>,
) {
    let offered = handshake::offer_summary(&accepted.hello);
    let refusal = Refusal {
        time: super::now_rfc3339(),
        peer: peer.to_string(),
        listener: listener.to_owned(),
        kind,
        reason: reason.clone(),
        offered: Some(handshake::offer_record(&accepted.hello, kind)),
        client_certificate: Some(accepted.peer_certificate.is_some()),
        principal: certificate_id,
        action: Some("TLS connection".to_owned()),
        ..Refusal::default()
    };
    let log = format!("TLS connection from {peer} refused: {reason} | client offered {offered}");
    admission.refusals.record(refusal, Some(log));
}
