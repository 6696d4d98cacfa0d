//! The MQTT wing of the server: listeners and their accept loops with TLS admission
//! (`accept.rs`, `handshake.rs`, `rewind.rs`), one task per connection (`connection.rs`,
//! `first_packet.rs`, `linger.rs`), the router task that owns the broker (`router/`), and the
//! refusal records of what happens after admission (`record.rs`). [`start`] builds one TLS edge
//! per TLS listener and spawns the accept loops; [`start_web`] does the same for the listeners
//! that also speak HTTP (`web.rs`: the port-443 listener and `--wss`, with MQTT over WebSockets
//! in `websocket.rs`, its authentication in `web_auth.rs`, custom authorizers over MQTT in
//! `custom_mqtt.rs`, and connections without a certificate in `admitted.rs`). The HTTP wing is
//! `api/`.

mod accept;
pub(crate) mod admitted;
mod auto_registration;
mod connection;
mod custom_mqtt;
mod fault_certificates;
mod first_packet;
mod handshake;
mod linger;
mod record;
mod rewind;
pub(crate) mod router;
mod web;
mod web_auth;
mod websocket;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tls::context::{ClientAuth, Identity as TlsIdentity, ServerOptions, server_acceptor};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub(crate) use accept::Admission;
use accept::Transport;
pub(crate) use connection::{ConnectionSettings, Shared};
use handshake::TlsEdge;

use crate::auth::CredentialPolicy;
use crate::auth::identity::DEV_IAM_POLICY;
use crate::authorizer::Authorizers;
use crate::bootstrap::DataDir;
use crate::config::{Ready, ServerConfig, ServerError};

/// Now as RFC 3339 UTC, for refusal records.
pub(crate) fn now_rfc3339() -> String {
    let secs = crate::clock::system_now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    pki::rfc3339(secs)
}

/// The MQTT listeners, bound by the caller.
#[derive(Debug)]
pub(crate) struct MqttListeners {
    /// Mutual TLS (AWS port 8883).
    pub(crate) mqtts: Option<std::net::TcpListener>,
    /// Plain MQTT over TCP.
    pub(crate) mqtt: Option<std::net::TcpListener>,
    /// Device gateways with a TLS policy of their own.
    pub(crate) legacy: Vec<crate::config::LegacyListener>,
}

/// Starts an accept loop per listener; records their addresses in `ready`.
pub(crate) fn start(
    config: &ServerConfig,
    data: &DataDir,
    listeners: MqttListeners,
    admission: &Arc<Admission>,
    ready: &mut Ready,
) -> Result<Vec<JoinHandle<()>>, ServerError> {
    let identities = [&data.server_rsa, &data.server_ec].map(|identity| TlsIdentity {
        certificate: identity.certificate.clone(),
        chain: Vec::new(),
        key: identity.key.clone(),
    });
    let fault_certificates = Arc::new(fault_certificates::FaultCertificates::new(
        data.ca.clone(),
        [data.server_rsa.clone(), data.server_ec.clone()],
    ));
    let tls = |name: &'static str, alpn: &[&str], addr: Option<SocketAddr>| {
        let mut edge = tls_edge(config, config.tls_policy, &identities, alpn, addr)?;
        edge.fault_certificates = Some(Arc::clone(&fault_certificates));
        Ok::<_, ServerError>(Transport::Tls(name, Arc::new(edge)))
    };
    let mut tasks = Vec::new();
    let mut spawn = |listener: TcpListener, transport: Transport| {
        let admission = Arc::clone(admission);
        tasks.push(tokio::spawn(accept::accept_loop(
            listener, transport, admission,
        )));
    };
    if let Some(listener) = listeners.mqtts {
        let listener = tokio_listener(listener, "mqtts")?;
        ready.mqtts = listener.local_addr().ok();
        spawn(listener, tls("mqtts", &[], ready.mqtts)?);
    }
    if let Some(listener) = listeners.mqtt {
        let listener = tokio_listener(listener, "mqtt")?;
        ready.mqtt = listener.local_addr().ok();
        spawn(listener, Transport::Plain);
    }
    for legacy in listeners.legacy {
        let listener = tokio_listener(legacy.listener, "mqtts-legacy")?;
        let addr = listener.local_addr().ok();
        let policy = legacy_policy(config, legacy.tls_policy, legacy.allow_legacy_tls)?;
        if policy.min_version < tls::version::ProtocolVersion::TLS12 {
            tracing::warn!(
                "the device gateway listener on {} allows TLS 1.0 and 1.1 (allow-legacy-tls): \
                 their suites are weak and AWS IoT Core refuses them; keep it on the site \
                 network, for devices that cannot be given TLS 1.2, behind a bridge",
                addr.map_or_else(|| "?".to_owned(), |a| a.to_string())
            );
        }
        let mut edge = tls_edge(config, policy, &identities, &[], addr)?;
        edge.fault_certificates = Some(Arc::clone(&fault_certificates));
        ready.mqtts_legacy.extend(addr);
        spawn(listener, Transport::Tls("mqtts-legacy", Arc::new(edge)));
    }
    Ok(tasks)
}

/// The policy of a device gateway listener: its own or the server's, lowered to TLS 1.0 when
/// legacy TLS is allowed on it.
fn legacy_policy(
    config: &ServerConfig,
    own: Option<tls::SecurityPolicy>,
    allow_legacy_tls: bool,
) -> Result<tls::SecurityPolicy, ServerError> {
    let base = own.unwrap_or(config.tls_policy);
    if !allow_legacy_tls {
        return Ok(base);
    }
    base.allowing_legacy_versions().ok_or_else(|| {
        ServerError::Config(format!(
            "allow-legacy-tls on a listener whose tls-policy is {base}, which has no TLS 1.2 \
             suites an old device could use; give that listener another tls-policy (e.g. \
             IoTSecurityPolicy_TLS13_1_2_2022_10)"
        ))
    })
}

/// The listeners that speak HTTP too, bound by the caller.
#[derive(Debug)]
pub(crate) struct WebListeners {
    /// The port-443 listener (ALPN chooses the protocol).
    pub(crate) https_443: Option<std::net::TcpListener>,
    /// TLS with the server certificate only: MQTT over WebSockets and the API.
    pub(crate) wss: Option<std::net::TcpListener>,
}

/// What the HTTP-speaking listeners need besides the admission of MQTT connections.
#[derive(Debug)]
pub(crate) struct WebServices {
    /// Custom authorizers.
    pub(crate) authorizers: Arc<Authorizers>,
    /// What the HTTP API's routes are built from, for requests that are not WebSocket
    /// upgrades (each listener gets its own, judging the development credential by its own
    /// address).
    pub(crate) api: Option<crate::http::ApiRoutes>,
    /// The registry (IoT policies of identity ids).
    pub(crate) store: Arc<Mutex<store::Store>>,
}

/// Starts the port-443 and WebSocket listeners; records their addresses in `ready`.
pub(crate) fn start_web(
    config: &ServerConfig,
    data: &DataDir,
    listeners: WebListeners,
    admission: &Arc<Admission>,
    services: &WebServices,
    ready: &mut Ready,
) -> Result<Vec<JoinHandle<()>>, ServerError> {
    let identities = [&data.server_rsa, &data.server_ec].map(|identity| TlsIdentity {
        certificate: identity.certificate.clone(),
        chain: Vec::new(),
        key: identity.key.clone(),
    });
    let mut tasks = Vec::new();
    for (listener, name, port_443) in [
        (listeners.https_443, "https-443", true),
        (listeners.wss, "wss", false),
    ] {
        let Some(listener) = listener else { continue };
        let listener = tokio_listener(listener, name)?;
        let addr = listener.local_addr().ok();
        if port_443 {
            ready.mqtts_alpn = addr;
        } else {
            ready.wss = addr;
        }
        let (client_auth, alpn): (ClientAuth, &[&str]) = if port_443 {
            (ClientAuth::Request, &web::ALPN_443)
        } else {
            (ClientAuth::None, &["http/1.1"])
        };
        let mut tls = tls_edge(config, config.tls_policy, &identities, alpn, addr)?;
        tls.acceptor = server_acceptor(&ServerOptions {
            policy: config.tls_policy,
            port: addr.map(|a| a.port()),
            identities: identities.to_vec(),
            client_auth,
            alpn: alpn.iter().map(|p| (*p).to_owned()).collect(),
            alpn_required: false,
        })
        .map_err(|e| ServerError::Tls(e.to_string()))?;
        // No ALPN is required: without one the port speaks HTTP.
        tls.listener.required_alpn = Vec::new();
        let verifier = sigv4::Verifier::new(config.api_credentials.clone(), addr);
        let policies = credential_policies(config, verifier.accepts_dev_credential())?;
        let edge = web::WebEdge {
            name,
            tls,
            port_443,
            sigv4: web_auth::SigV4Identities {
                verifier,
                policies,
                store: Arc::clone(&services.store),
            },
            authorizers: Arc::clone(&services.authorizers),
            api: services
                .api
                .as_ref()
                .map(|api| api.build(addr))
                .transpose()?,
        };
        tasks.push(tokio::spawn(web::accept_loop(
            listener,
            Arc::new(edge),
            Arc::clone(admission),
        )));
    }
    Ok(tasks)
}

/// The IAM-style policy of each configured credential, parsed; the development credential gets
/// `iot:*` where it is accepted (loopback) unless the configuration gives it another.
fn credential_policies(
    config: &ServerConfig,
    dev_credential: bool,
) -> Result<HashMap<String, CredentialPolicy>, ServerError> {
    let mut policies = HashMap::new();
    for configured in &config.credential_policies {
        let policy = iot_policy::Policy::parse(&configured.policy).map_err(|e| {
            ServerError::Config(format!(
                "the IAM policy of access key {} does not parse: {e}",
                configured.access_key_id
            ))
        })?;
        policies.insert(
            configured.access_key_id.clone(),
            CredentialPolicy {
                policy,
                identity_id: configured.identity_id.clone(),
            },
        );
    }
    if dev_credential && !policies.contains_key(sigv4::DEV_ACCESS_KEY_ID) {
        let policy = iot_policy::Policy::parse(DEV_IAM_POLICY)
            .map_err(|e| ServerError::Config(format!("the development IAM policy: {e}")))?;
        policies.insert(
            sigv4::DEV_ACCESS_KEY_ID.to_owned(),
            CredentialPolicy {
                policy,
                identity_id: None,
            },
        );
    }
    Ok(policies)
}

/// The TLS edge of one listener: an OpenSSL acceptor under `policy`, requiring client
/// certificates, with the ALPN protocols it requires.
fn tls_edge(
    config: &ServerConfig,
    policy: tls::SecurityPolicy,
    identities: &[TlsIdentity],
    alpn: &[&str],
    addr: Option<SocketAddr>,
) -> Result<TlsEdge, ServerError> {
    let port = addr.map(|a| a.port());
    let alpn: Vec<String> = alpn.iter().map(|p| (*p).to_owned()).collect();
    let options = ServerOptions {
        policy,
        port,
        identities: identities.to_vec(),
        client_auth: ClientAuth::Require,
        alpn: alpn.clone(),
        alpn_required: !alpn.is_empty(),
    };
    let acceptor = server_acceptor(&options).map_err(|e| ServerError::Tls(e.to_string()))?;
    Ok(TlsEdge {
        acceptor,
        listener: tls::Listener {
            policy,
            port,
            required_server_name: None,
            required_alpn: alpn,
        },
        timeout: config.handshake_timeout,
        fault_certificates: None,
    })
}

/// A bound standard listener as a tokio one.
pub(crate) fn tokio_listener(
    listener: std::net::TcpListener,
    what: &'static str,
) -> Result<TcpListener, ServerError> {
    listener
        .set_nonblocking(true)
        .and_then(|()| TcpListener::from_std(listener))
        .map_err(|source| ServerError::Listener { what, source })
}
