//! The MQTT wing of the server: listeners and their accept loops with TLS admission
//! (`accept.rs`, `handshake.rs`, `rewind.rs`), one task per connection (`connection.rs`,
//! `first_packet.rs`), the router task that owns the broker (`router/`), and the refusal
//! records of what happens after admission (`record.rs`). [`start`] builds
//! one TLS edge per TLS listener and spawns the accept loops. The HTTP wing is `api/`.

mod accept;
mod auto_registration;
mod connection;
mod first_packet;
mod handshake;
mod record;
mod rewind;
pub(crate) mod router;

use std::net::SocketAddr;
use std::sync::Arc;

use tls::context::{ClientAuth, Identity as TlsIdentity, ServerOptions, server_acceptor};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub(crate) use accept::Admission;
use accept::Transport;
pub(crate) use connection::{ConnectionSettings, Shared};
use handshake::TlsEdge;

use crate::bootstrap::DataDir;
use crate::config::{Ready, ServerConfig, ServerError};

/// Now as RFC 3339 UTC, for refusal records.
pub(crate) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
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
    /// Mutual TLS with ALPN `x-amzn-mqtt-ca` (AWS port 443).
    pub(crate) mqtts_alpn: Option<std::net::TcpListener>,
    /// Plain MQTT over TCP.
    pub(crate) mqtt: Option<std::net::TcpListener>,
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
    let tls = |name: &'static str, alpn: &[&str], addr: Option<SocketAddr>| {
        let edge = tls_edge(config, &identities, alpn, addr)?;
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
    if let Some(listener) = listeners.mqtts_alpn {
        let listener = tokio_listener(listener, "mqtts-alpn")?;
        ready.mqtts_alpn = listener.local_addr().ok();
        spawn(
            listener,
            tls("mqtts-alpn", &["x-amzn-mqtt-ca"], ready.mqtts_alpn)?,
        );
    }
    if let Some(listener) = listeners.mqtt {
        let listener = tokio_listener(listener, "mqtt")?;
        ready.mqtt = listener.local_addr().ok();
        spawn(listener, Transport::Plain);
    }
    Ok(tasks)
}

/// The TLS edge of one listener: an OpenSSL acceptor under the configured security policy,
/// requiring client certificates, with the ALPN protocols it requires.
fn tls_edge(
    config: &ServerConfig,
    identities: &[TlsIdentity],
    alpn: &[&str],
    addr: Option<SocketAddr>,
) -> Result<TlsEdge, ServerError> {
    let port = addr.map(|a| a.port());
    let alpn: Vec<String> = alpn.iter().map(|p| (*p).to_owned()).collect();
    let options = ServerOptions {
        policy: config.tls_policy,
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
            policy: config.tls_policy,
            port,
            required_server_name: None,
            required_alpn: alpn,
        },
        timeout: config.handshake_timeout,
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
