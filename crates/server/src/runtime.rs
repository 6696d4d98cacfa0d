//! Start-up, listeners and shutdown of `tether serve`: prepare the data directory, open the
//! store and reload persistent state, build one TLS edge per TLS listener, start the router,
//! accept loops, the registry watcher and the HTTP edge, report readiness, and on shutdown
//! close every client (MQTT 5: DISCONNECT 0x8B) and flush the store.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_core::{Broker, BrokerConfig, ConnId, Limits, Profile};
use mqtt_proto::ReasonCode;
use pki::CertificateId;
use store::{CertificateMode, CertificateStatus, NewCertificate, Store};
use tls::SecurityPolicy;
use tls::context::{ClientAuth, Identity as TlsIdentity, ServerOptions, server_acceptor};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::auth::{self, Identity, Principal, ServerAuthorizer};
use crate::bootstrap::{self, DataDir};
use crate::connection::{self, ConnectionSettings, Shared};
use crate::handshake::{self, TlsEdge};
use crate::metrics::Metrics;
use crate::persist::Clock;
use crate::refusals::{self, Refusal, RefusalLog};
use crate::router::{Command, Router};

/// Server settings. Plain data: the CLI fills it from flags and config files.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The data directory (CA, server certificates, devices, database).
    pub data_dir: PathBuf,
    /// `aws` (AWS IoT Core rules) or `mqtt` (a complete MQTT broker).
    pub profile: Profile,
    /// TLS security policy of the mutual-TLS listeners.
    pub tls_policy: SecurityPolicy,
    /// Extra host names or addresses for the server certificates.
    pub hostnames: Vec<String>,
    /// Connections beyond this many are closed at once.
    pub max_connections: usize,
    /// Time allowed for a TLS handshake.
    pub handshake_timeout: Duration,
    /// Time allowed between transport ready and CONNECT.
    pub connect_timeout: Duration,
    /// Largest MQTT packet accepted (defaults by profile when `None`).
    pub max_packet_size: Option<u32>,
    /// AWS account id used in ARNs and as certificate owner.
    pub account_id: String,
    /// AWS region used in ARNs.
    pub region: String,
    /// QoS 1/2 messages kept per offline persistent session; beyond it the oldest is dropped.
    pub max_queued_per_session: usize,
    /// Access key id and secret pairs the HTTP API accepts (besides the dev credential
    /// `test`/`test`, which only a loopback API listener accepts).
    pub api_credentials: Vec<(String, String)>,
}

impl ServerConfig {
    /// Defaults for a data directory: profile `aws`, the AWS default TLS policy.
    pub fn new(data_dir: PathBuf) -> ServerConfig {
        ServerConfig {
            data_dir,
            profile: Profile::Aws,
            tls_policy: SecurityPolicy::default(),
            hostnames: Vec::new(),
            max_connections: 100_000,
            handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            max_packet_size: None,
            account_id: "123456789012".to_owned(),
            region: "us-east-1".to_owned(),
            max_queued_per_session: 100_000,
            api_credentials: Vec::new(),
        }
    }
}

/// Bound listeners, any of which may be absent.
#[derive(Debug, Default)]
pub struct Listeners {
    /// Mutual TLS (AWS port 8883).
    pub mqtts: Option<std::net::TcpListener>,
    /// Mutual TLS with ALPN `x-amzn-mqtt-ca` (AWS port 443).
    pub mqtts_alpn: Option<std::net::TcpListener>,
    /// Plain MQTT over TCP (off unless asked for).
    pub mqtt: Option<std::net::TcpListener>,
    /// HTTP: `/metrics` (and the control plane).
    pub http: Option<std::net::TcpListener>,
}

/// What is serving, reported once everything is bound and loaded.
#[derive(Debug, Clone)]
pub struct Ready {
    /// Mutual-TLS listener address.
    pub mqtts: Option<SocketAddr>,
    /// ALPN listener address.
    pub mqtts_alpn: Option<SocketAddr>,
    /// Plain listener address.
    pub mqtt: Option<SocketAddr>,
    /// HTTP listener address.
    pub http: Option<SocketAddr>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The root CA devices must trust.
    pub ca_path: PathBuf,
    /// The demo device's files.
    pub demo_device: bootstrap::DeviceFiles,
    /// True on the first start of this data directory.
    pub first_start: bool,
    /// Persistent sessions reloaded from disk.
    pub restored_sessions: usize,
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Preparing the data directory failed.
    #[error(transparent)]
    Bootstrap(#[from] bootstrap::BootstrapError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The TLS context could not be built.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The broker configuration is inconsistent.
    #[error("broker configuration: {0}")]
    Config(String),
    /// A listener failed.
    #[error("listener {what}: {source}")]
    Listener {
        /// Which listener.
        what: &'static str,
        /// The IO error.
        source: std::io::Error,
    },
}

/// Runs the server until `shutdown` completes. `on_ready` is called once, when every listener
/// accepts and persistent state is loaded.
pub async fn run(
    config: ServerConfig,
    listeners: Listeners,
    on_ready: impl FnOnce(&Ready),
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let clock = Clock::start();
    let now_secs = clock.wall_ms() / 1000;
    let data = bootstrap::prepare(&config.data_dir, &config.hostnames, now_secs)?;

    let mut store = Store::open(data.database_path())?;
    register_demo_device(&mut store, &data, &config, clock.wall_ms())?;
    let state = store.load_broker_state(clock.wall_ms())?;
    let restored_sessions = state.sessions.len();
    let writer = store.writer()?;
    let store = Arc::new(Mutex::new(store));

    let limits = Limits::for_profile(config.profile);
    let mut broker_config = BrokerConfig::for_profile(config.profile);
    broker_config.max_queued_per_session = config.max_queued_per_session;
    let authorizer = ServerAuthorizer::new(
        config.profile == Profile::Mqtt,
        &config.region,
        &config.account_id,
    );
    let broker = Broker::with_authorizer(broker_config, authorizer)
        .map_err(|e| ServerError::Config(e.to_string()))?;
    let metrics = Arc::new(Metrics::default());
    let mut router = Router::new(broker, clock, writer.handle(), Arc::clone(&metrics));
    router.restore(state);
    let (router_tx, router_rx) = mpsc::channel(8192);
    let router_task = tokio::spawn(router.run(router_rx));

    let settings = Arc::new(ConnectionSettings {
        max_packet_size: config.max_packet_size.unwrap_or(match config.profile {
            // 128 KiB of payload plus room for the topic, properties and headers.
            Profile::Aws => 132 * 1024,
            Profile::Mqtt => 16 * 1024 * 1024,
        }),
        limits,
        receive_maximum: 100,
        connect_timeout: config.connect_timeout,
    });
    let shared = Shared {
        router: router_tx.clone(),
        clock,
        settings,
        metrics: Arc::clone(&metrics),
    };
    let accept = Arc::new(Accept {
        shared,
        store: Arc::clone(&store),
        registry: Arc::default(),
        refusals: RefusalLog::new(&data.root),
        next_conn: AtomicU64::new(1),
        max_connections: config.max_connections,
    });

    let identities = vec![
        tls_identity(&data.server_rsa)?,
        tls_identity(&data.server_ec)?,
    ];
    let mut ready = Ready {
        mqtts: None,
        mqtts_alpn: None,
        mqtt: None,
        http: None,
        data_dir: data.root.clone(),
        ca_path: data.ca_path.clone(),
        demo_device: data.demo_device.clone(),
        first_start: data.demo_device_created,
        restored_sessions,
    };
    let mut tasks = Vec::new();
    if let Some(listener) = listeners.mqtts {
        let listener = tokio_listener(listener, "mqtts")?;
        ready.mqtts = listener.local_addr().ok();
        let edge = tls_edge(&config, &identities, &[], ready.mqtts)?;
        tasks.push(tokio::spawn(accept_loop(
            listener,
            Some(("mqtts", edge)),
            Arc::clone(&accept),
        )));
    }
    if let Some(listener) = listeners.mqtts_alpn {
        let listener = tokio_listener(listener, "mqtts-alpn")?;
        ready.mqtts_alpn = listener.local_addr().ok();
        let edge = tls_edge(
            &config,
            &identities,
            &["x-amzn-mqtt-ca".to_owned()],
            ready.mqtts_alpn,
        )?;
        tasks.push(tokio::spawn(accept_loop(
            listener,
            Some(("mqtts-alpn", edge)),
            Arc::clone(&accept),
        )));
    }
    if let Some(listener) = listeners.mqtt {
        let listener = tokio_listener(listener, "mqtt")?;
        ready.mqtt = listener.local_addr().ok();
        tasks.push(tokio::spawn(accept_loop(
            listener,
            None,
            Arc::clone(&accept),
        )));
    }
    if let Some(listener) = listeners.http {
        let listener = tokio_listener(listener, "http")?;
        ready.http = listener.local_addr().ok();
        let api_config = crate::api::ApiConfig {
            account_id: config.account_id.clone(),
            region: config.region.clone(),
            credentials: config.api_credentials.clone(),
            listener: ready.http,
            endpoint_host: crate::api::endpoint_host(&config.hostnames),
            mqtts_port: ready.mqtts.map(|a| a.port()),
            limits: Limits::for_profile(config.profile),
            database: data.database_path(),
        };
        let api = crate::api::Api::new(api_config, data.ca.clone(), router_tx.clone())?;
        let app = crate::http::routes(Arc::clone(&metrics), Some(Arc::new(api)));
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("HTTP listener stopped: {e}");
            }
        }));
    }
    tasks.push(tokio::spawn(watch_registry(
        Arc::clone(&store),
        router_tx.clone(),
    )));

    on_ready(&ready);
    shutdown.await;

    tracing::info!("shutting down: closing client connections");
    for task in &tasks {
        task.abort();
    }
    let _ = router_tx.send(Command::Shutdown).await;
    drop(router_tx);
    drop(accept);
    if tokio::time::timeout(Duration::from_secs(5), router_task)
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within 5 s");
    }
    tokio::task::spawn_blocking(move || writer.shutdown())
        .await
        .map_err(|e| ServerError::Config(format!("store writer thread: {e}")))??;
    Ok(())
}

/// The policy the demo device gets: everything, for local development only.
pub const DEV_POLICY: &str = "tether-dev-allow-all";
const DEV_POLICY_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

/// Registers the demo device's certificate as ACTIVE with the development policy attached, if
/// the registry does not know it yet.
fn register_demo_device(
    store: &mut Store,
    data: &DataDir,
    config: &ServerConfig,
    now_ms: i64,
) -> Result<(), ServerError> {
    if store.certificate(data.demo_device_id.as_str())?.is_some() {
        return Ok(());
    }
    let cert = pki::load_certificate(data.demo_device_pem.as_bytes(), "demo device certificate")
        .map_err(bootstrap::BootstrapError::from)?;
    let summary = pki::summarize(&cert.certificate).map_err(bootstrap::BootstrapError::from)?;
    store.register_certificate(
        &NewCertificate {
            id: data.demo_device_id.as_str().to_owned(),
            pem: data.demo_device_pem.clone(),
            status: CertificateStatus::Active,
            ca_certificate_id: None,
            mode: CertificateMode::Default,
            owned_by: config.account_id.clone(),
            not_before_ms: summary.not_before.saturating_mul(1000),
            not_after_ms: summary.not_after.saturating_mul(1000),
        },
        now_ms,
    )?;
    if store.policy(DEV_POLICY)?.is_none() {
        store.create_policy(DEV_POLICY, DEV_POLICY_DOCUMENT, now_ms)?;
    }
    let arn = format!(
        "arn:aws:iot:{}:{}:cert/{}",
        config.region, config.account_id, data.demo_device_id
    );
    store.attach_policy(DEV_POLICY, &arn)?;
    Ok(())
}

fn tls_identity(identity: &bootstrap::Identity) -> Result<TlsIdentity, ServerError> {
    Ok(TlsIdentity {
        certificate: identity.certificate.clone(),
        chain: Vec::new(),
        key: identity.key.clone(),
    })
}

fn tls_edge(
    config: &ServerConfig,
    identities: &[TlsIdentity],
    alpn: &[String],
    addr: Option<SocketAddr>,
) -> Result<TlsEdge, ServerError> {
    let port = addr.map(|a| a.port());
    let options = ServerOptions {
        policy: config.tls_policy,
        port,
        identities: identities.to_vec(),
        client_auth: ClientAuth::Require,
        alpn: alpn.to_vec(),
        alpn_required: !alpn.is_empty(),
    };
    let acceptor = server_acceptor(&options).map_err(|e| ServerError::Tls(e.to_string()))?;
    Ok(TlsEdge {
        acceptor,
        listener: tls::Listener {
            policy: config.tls_policy,
            port,
            required_server_name: None,
            required_alpn: alpn.to_vec(),
        },
        timeout: config.handshake_timeout,
    })
}

fn tokio_listener(
    listener: std::net::TcpListener,
    what: &'static str,
) -> Result<TcpListener, ServerError> {
    listener
        .set_nonblocking(true)
        .and_then(|()| TcpListener::from_std(listener))
        .map_err(|source| ServerError::Listener { what, source })
}

/// What the accept loops share.
struct Accept {
    shared: Shared,
    store: Arc<Mutex<Store>>,
    registry: Arc<auth::RegistryCache>,
    refusals: RefusalLog,
    next_conn: AtomicU64,
    max_connections: usize,
}

async fn accept_loop(
    listener: TcpListener,
    edge: Option<(&'static str, TlsEdge)>,
    accept: Arc<Accept>,
) {
    let edge = edge.map(|(name, edge)| (name, Arc::new(edge)));
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
        let metrics = &accept.shared.metrics;
        if usize::try_from(metrics.connections_open.get()).unwrap_or(0) >= accept.max_connections {
            metrics.connections_over_limit.inc();
            tracing::warn!(
                "refusing {peer}: max_connections ({}) reached",
                accept.max_connections
            );
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let conn = ConnId(accept.next_conn.fetch_add(1, Ordering::Relaxed));
        let accept = Arc::clone(&accept);
        let edge = edge.clone();
        tokio::spawn(async move {
            let metrics = Arc::clone(&accept.shared.metrics);
            metrics.connections_open.inc();
            match edge {
                Some((name, edge)) => serve_tls(name, &edge, tcp, peer, conn, &accept).await,
                None => {
                    let principal = Principal::new(Identity::Anonymous { peer });
                    connection::serve(tcp, conn, principal, accept.shared.clone()).await;
                }
            }
            metrics.connections_open.dec();
        });
    }
}

async fn serve_tls(
    listener: &'static str,
    edge: &TlsEdge,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    conn: ConnId,
    accept: &Accept,
) {
    let metrics = &accept.shared.metrics;
    // Boxed: the handshake's state is large and only needed during the handshake, while this
    // task lives as long as the device stays connected.
    let accepted = match Box::pin(handshake::accept(edge, tcp, peer)).await {
        Ok(accepted) => accepted,
        Err(refused) => {
            metrics.handshake_failed(refused.kind);
            accept.refusals.record(&Refusal {
                time: refusals::now_rfc3339(),
                peer: peer.to_string(),
                listener: listener.to_owned(),
                kind: refused.kind.to_owned(),
                reason: refused.reason.clone(),
                offered: refused.hello.as_deref().map(handshake::offer_summary),
                client_certificate: refused.certificate_sent,
                certificate_id: None,
            });
            // Logged after the record, so whoever reads the log line finds the record.
            tracing::warn!("{refused}");
            return;
        }
    };
    if !edge.listener.required_alpn.is_empty() && accepted.alpn.is_none() {
        // OpenSSL's ALPN callback only runs when the client offers ALPN; a client that offers
        // none is refused here, as AWS refuses it on port 443.
        metrics.handshake_failed("alpn");
        let verdict = tls::explain(&accepted.hello, &edge.listener, None);
        let reason = verdict.refusals.first().map_or_else(
            || "ALPN x-amzn-mqtt-ca is required".to_owned(),
            ToString::to_string,
        );
        refuse_after_handshake(accept, listener, peer, &accepted, "alpn", reason, None);
        return;
    }
    let Some(certificate) = accepted.peer_certificate.as_ref() else {
        metrics.handshake_failed("client_certificate");
        let reason = "the client sent no certificate, and this listener requires mutual TLS: \
                      give the client its device certificate and private key";
        refuse_after_handshake(
            accept,
            listener,
            peer,
            &accepted,
            "client_certificate",
            reason.to_owned(),
            None,
        );
        return;
    };
    let id = match CertificateId::of(certificate) {
        Ok(id) => id,
        Err(e) => {
            metrics.certificates_refused.inc();
            tracing::warn!(
                "TLS connection from {peer} refused: unreadable client certificate: {e}"
            );
            return;
        }
    };
    let store = Arc::clone(&accept.store);
    let registry = Arc::clone(&accept.registry);
    let lookup_id = id.clone();
    let verdict = tokio::task::spawn_blocking(move || match store.lock() {
        Ok(store) => registry.check(&store, &lookup_id),
        Err(_) => Err(auth::CertificateRefusal::Registry(
            "registry lock poisoned".to_owned(),
        )),
    })
    .await
    .unwrap_or_else(|e| Err(auth::CertificateRefusal::Registry(e.to_string())));
    let policies = match verdict {
        Ok(policies) => policies,
        Err(refusal) => {
            metrics.certificates_refused.inc();
            let kind = match refusal {
                auth::CertificateRefusal::NotRegistered { .. } => "not_registered",
                auth::CertificateRefusal::NotActive { .. } => "not_active",
                auth::CertificateRefusal::Registry(_) => "registry",
            };
            let id = Some(id.as_str().to_owned());
            refuse_after_handshake(
                accept,
                listener,
                peer,
                &accepted,
                kind,
                refusal.to_string(),
                id,
            );
            return;
        }
    };
    // The router installs the policies before it sees this connection's CONNECT (one channel,
    // in order).
    let command = Command::SetPolicies {
        certificate_id: id.as_str().to_owned(),
        policies,
    };
    if accept.shared.router.send(command).await.is_err() {
        return;
    }
    let principal = Principal::new(Identity::Device {
        certificate_id: id.as_str().to_owned(),
        peer,
        certificate: auth::certificate_info(certificate),
    });
    // Keep only the stream for the connection's lifetime: the parsed ClientHello and the extra
    // certificate reference would otherwise sit in this future next to every idle device.
    let handshake::Accepted {
        stream,
        hello,
        peer_certificate,
        alpn,
    } = accepted;
    drop((hello, peer_certificate, alpn));
    connection::serve(stream, conn, principal, accept.shared.clone()).await;
}

/// Records and logs a refusal that happened after a completed handshake (record first, so a
/// reader of the log line finds the record).
fn refuse_after_handshake(
    accept: &Accept,
    listener: &str,
    peer: SocketAddr,
    accepted: &handshake::Accepted,
    kind: &str,
    reason: String,
    certificate_id: Option<String>,
) {
    let offered = handshake::offer_summary(&accepted.hello);
    accept.refusals.record(&Refusal {
        time: refusals::now_rfc3339(),
        peer: peer.to_string(),
        listener: listener.to_owned(),
        kind: kind.to_owned(),
        reason: reason.clone(),
        offered: Some(offered.clone()),
        client_certificate: Some(accepted.peer_certificate.is_some()),
        certificate_id,
    });
    tracing::warn!("TLS connection from {peer} refused: {reason} | client offered {offered}");
}

/// Applies registry changes to live connections within about half a second, whoever made them
/// (the API, the CLI, another process writing the database): connections whose certificate is
/// no longer ACTIVE are closed, and the others get their current policies.
async fn watch_registry(store: Arc<Mutex<Store>>, router: mpsc::Sender<Command>) {
    let blocking = |f: RegistryJob| {
        let store = Arc::clone(&store);
        async move {
            tokio::task::spawn_blocking(move || store.lock().ok().and_then(|s| f(&s)))
                .await
                .ok()
                .flatten()
        }
    };
    let mut last_version = None;
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let version = blocking(Box::new(|s| {
            s.registry_version().ok().map(RegistryRead::Version)
        }))
        .await;
        let Some(RegistryRead::Version(version)) = version else {
            continue;
        };
        if last_version == Some(version) {
            continue;
        }
        let first_look = last_version.is_none();
        last_version = Some(version);
        if first_look {
            continue;
        }
        let (reply, live) = tokio::sync::oneshot::channel();
        if router
            .send(Command::LiveCertificates { reply })
            .await
            .is_err()
        {
            return;
        }
        let Ok(live) = live.await else { return };
        let mut ids: Vec<String> = live.iter().map(|(_, id)| id.clone()).collect();
        ids.sort();
        ids.dedup();
        let lookup = blocking(Box::new(move |s| {
            let verdicts = ids
                .into_iter()
                .filter_map(|id| {
                    let cert_id: CertificateId = id.parse().ok()?;
                    Some((id, auth::check_certificate(s, &cert_id)))
                })
                .collect();
            Some(RegistryRead::Verdicts(verdicts))
        }))
        .await;
        let Some(RegistryRead::Verdicts(verdicts)) = lookup else {
            continue;
        };
        let mut closing = Vec::new();
        for (id, verdict) in verdicts {
            match verdict {
                Ok(policies) => {
                    let command = Command::SetPolicies {
                        certificate_id: id,
                        policies: Arc::new(policies),
                    };
                    if router.send(command).await.is_err() {
                        return;
                    }
                }
                Err(refusal) => {
                    tracing::warn!(
                        "closing the connections of certificate {}: {refusal}",
                        auth::short_id(&id)
                    );
                    closing.extend(live.iter().filter(|(_, cert)| *cert == id).map(|(c, _)| *c));
                }
            }
        }
        if !closing.is_empty() {
            let command = Command::CloseConnections {
                conns: closing,
                reason: ReasonCode::NotAuthorized,
            };
            if router.send(command).await.is_err() {
                return;
            }
        }
    }
}

/// A read the registry watcher runs on the blocking pool.
type RegistryJob = Box<dyn FnOnce(&Store) -> Option<RegistryRead> + Send>;

/// What the registry watcher reads on the blocking pool.
enum RegistryRead {
    Version(i64),
    Verdicts(
        Vec<(
            String,
            Result<auth::DevicePolicies, auth::CertificateRefusal>,
        )>,
    ),
}
