//! What `tether serve` is told and what it reports: [`ServerConfig`] (plain data the CLI fills
//! from flags and config files), the bound [`Listeners`] it is handed, the [`Ready`] report once
//! everything accepts, and [`ServerError`]. Nothing here reads files, flags or the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use broker_core::Profile;
use tls::SecurityPolicy;

use crate::bootstrap;

/// Server settings. Plain data: the CLI fills it from flags and config files.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The data directory (CA, server certificates, devices, database).
    pub data_dir: PathBuf,
    /// A test hook: a file holding a number of seconds (e.g. `3600` or `-120`), read at start
    /// and every 200 ms, by which the broker's wall clock is shifted from the host's
    /// (`clock.rs`). `None` outside fault tests.
    pub clock_offset_file: Option<PathBuf>,
    /// What a commit survives before a QoS 1 PUBACK (or any write) is answered: power loss
    /// (fsync on every commit, the default) or a crash of the process only (no fsync; for
    /// benchmarks, CI and throwaway data directories). See `store::Durability`.
    pub durability: store::Durability,
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
    /// Lowest keep-alive granted, in seconds, in place of the profile's (AWS: 30). A local
    /// setting for tests of a device's reconnection, not an AWS behaviour.
    pub min_keep_alive: Option<u16>,
    /// Profile `mqtt`: the longest keep-alive granted (`broker_core::Limits::max_keep_alive`).
    pub max_keep_alive: Option<u16>,
    /// Profile `mqtt`: filters no client may subscribe to
    /// (`broker_core::Limits::refused_filters`).
    pub refused_filters: Vec<mqtt_proto::TopicFilter>,
    /// How long a minute lasts for AWS IoT Jobs timers (in-progress and step timeouts) and
    /// rollout rates, in place of 60 seconds. A local setting for tests that need a job
    /// execution to time out in seconds, not an AWS behaviour.
    pub jobs_minute: Option<Duration>,
    /// How long after its deprecation a thing type may be deleted (AWS: five minutes). A
    /// local setting so that tests need not wait, like `min_keep_alive`.
    pub thing_type_delete_delay: Duration,
    /// Fleet provisioning: the local stand-ins of pre-provisioning hook Lambdas.
    pub provisioning_hooks: Vec<crate::hooks::ProvisioningHook>,
    /// How long a certificate ownership token lasts (AWS: one hour), and a
    /// CreateProvisioningClaim certificate (AWS: five minutes). Local settings for tests that
    /// need them to expire, like `jobs_minute`.
    pub ownership_token_lifetime: Duration,
    pub provisioning_claim_lifetime: Duration,
    /// The IAM-style policy of each API credential, for MQTT over WebSockets signed with SigV4
    /// (a credential without one may sign API requests but gets no IoT action).
    pub credential_policies: Vec<CredentialPolicyConfig>,
    /// What tether calls in place of the Lambda function of a custom authorizer.
    pub authorizer_functions: Vec<AuthorizerFunctionConfig>,
    /// How long an authorizer's function may take to answer (AWS: 5 seconds).
    pub authorizer_timeout: Duration,
    /// The rules engine's settings (local targets of `lambda` actions).
    pub rules: crate::rules::RulesSettings,
    /// Bridges to upstream brokers (`[[bridge]]` tables).
    pub bridges: Vec<crate::bridge::BridgeConfig>,
    /// Fault plans per client (`[[fault]]` tables, `tether qualify`, the torture suite); the
    /// caller may keep a clone and change the plans while the server runs.
    pub faults: crate::faults::Faults,
}

/// The IAM-style policy attached to one API credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialPolicyConfig {
    /// The access key id.
    pub access_key_id: String,
    /// The IAM policy document (JSON), evaluated with AWS IoT's actions and resources.
    pub policy: String,
    /// A Cognito-style identity id (`us-east-1:…`): the IoT policies attached to it must allow
    /// too, as AWS requires for authenticated Cognito identities.
    pub identity_id: Option<String>,
}

/// What a custom authorizer's function is, locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerFunctionConfig {
    /// The function ARN (`authorizerFunctionArn`) or the function's name.
    pub function: String,
    /// What answers for it.
    pub target: AuthorizerTarget,
}

/// Where tether sends AWS's authorizer event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizerTarget {
    /// POSTed as JSON to this URL; the body of the answer is the function's result.
    Url(String),
    /// Run with the event on its standard input; its standard output is the result.
    Command(Vec<String>),
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
            min_keep_alive: None,
            max_keep_alive: None,
            refused_filters: Vec::new(),
            jobs_minute: None,
            thing_type_delete_delay: Duration::from_millis(
                u64::try_from(store::AWS_DELETE_DELAY_MS).unwrap_or(300_000),
            ),
            provisioning_hooks: Vec::new(),
            ownership_token_lifetime: Duration::from_secs(3600),
            provisioning_claim_lifetime: Duration::from_secs(300),
            credential_policies: Vec::new(),
            authorizer_functions: Vec::new(),
            authorizer_timeout: Duration::from_secs(5),
            rules: crate::rules::RulesSettings::default(),
            bridges: Vec::new(),
            clock_offset_file: None,
            durability: store::Durability::default(),
            faults: crate::faults::Faults::new(),
        }
    }

    /// The broker's limits: the profile's, with the configured keep-alive minimum and maximum
    /// and refused filters.
    pub(crate) fn limits(&self) -> broker_core::Limits {
        let mut limits = broker_core::Limits::for_profile(self.profile);
        if let (Some(min), Some((_, max))) = (self.min_keep_alive, limits.keep_alive_clamp) {
            limits.keep_alive_clamp = Some((min.min(max), max));
        }
        limits.max_keep_alive = self.max_keep_alive;
        limits.refused_filters.clone_from(&self.refused_filters);
        limits
    }

    /// The AWS IoT services' settings: ARNs of this account and region, the Jobs minute, the
    /// provisioning lifetimes (the issuing CA is the data directory's, added at start-up).
    pub(crate) fn services(&self) -> iot_services::ServicesConfig {
        let jobs = iot_services::jobs::JobsSettings {
            account: self.account_id.clone(),
            region: self.region.clone(),
            minute_ms: self.jobs_minute.map_or(60_000, |minute| {
                i64::try_from(minute.as_millis()).unwrap_or(i64::MAX).max(1)
            }),
            ..iot_services::jobs::JobsSettings::default()
        };
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1);
        let provisioning = iot_services::provisioning::ProvisioningSettings {
            account: self.account_id.clone(),
            region: self.region.clone(),
            issuer: None,
            token_lifetime_ms: millis(self.ownership_token_lifetime),
            claim_lifetime_ms: millis(self.provisioning_claim_lifetime),
        };
        iot_services::ServicesConfig {
            jobs,
            provisioning,
            ..iot_services::ServicesConfig::default()
        }
    }

    /// The largest MQTT packet accepted: as configured, else by profile.
    pub(crate) fn packet_size_limit(&self) -> u32 {
        self.max_packet_size.unwrap_or(match self.profile {
            // 128 KiB of payload plus room for the topic, properties and headers.
            Profile::Aws => 132 * 1024,
            Profile::Mqtt => 16 * 1024 * 1024,
        })
    }
}

/// Bound listeners, any of which may be absent.
#[derive(Debug, Default)]
pub struct Listeners {
    /// Mutual TLS (AWS port 8883).
    pub mqtts: Option<std::net::TcpListener>,
    /// The port-443 listener as AWS serves it: ALPN `x-amzn-mqtt-ca` (MQTT over mutual TLS),
    /// `mqtt` (MQTT with a custom authorizer), `x-amzn-http-ca` (HTTPS), and without ALPN HTTP:
    /// MQTT over WebSockets on `/mqtt`, the API elsewhere.
    pub mqtts_alpn: Option<std::net::TcpListener>,
    /// TLS (server certificate only) serving MQTT over WebSockets on `/mqtt` and the API.
    pub wss: Option<std::net::TcpListener>,
    /// Plain MQTT over TCP (off unless asked for).
    pub mqtt: Option<std::net::TcpListener>,
    /// HTTP: `/metrics` (and the control plane).
    pub http: Option<std::net::TcpListener>,
    /// Mutual-TLS gateways for devices with their own TLS policy (`--mqtts-legacy`,
    /// `[[listener]]`).
    pub mqtts_legacy: Vec<LegacyListener>,
}

/// A mutual-TLS listener for a site's devices, with a TLS policy of its own: the global one
/// unless it names another, lowered to TLS 1.0 only when `allow_legacy_tls` says so (devices
/// that cannot be fixed, such as an ESP8266 on the NONOS SDK, in front of a bridge to AWS IoT
/// Core, which refuses them). The server warns at start when it allows TLS 1.0/1.1.
#[derive(Debug)]
pub struct LegacyListener {
    /// The bound listener.
    pub listener: std::net::TcpListener,
    /// Its policy (`None`: the server's `tls_policy`).
    pub tls_policy: Option<SecurityPolicy>,
    /// Allow TLS 1.0 and 1.1 (and the CBC suites they have) on it.
    pub allow_legacy_tls: bool,
}

/// What is serving, reported once everything is bound and loaded.
#[derive(Debug, Clone)]
pub struct Ready {
    /// Mutual-TLS listener address.
    pub mqtts: Option<SocketAddr>,
    /// Port-443 listener address.
    pub mqtts_alpn: Option<SocketAddr>,
    /// WebSocket listener address.
    pub wss: Option<SocketAddr>,
    /// Plain listener address.
    pub mqtt: Option<SocketAddr>,
    /// HTTP listener address.
    pub http: Option<SocketAddr>,
    /// The device gateway listeners' addresses.
    pub mqtts_legacy: Vec<SocketAddr>,
    /// The bridges (their state is live: they connect after the ready line).
    pub bridges: Vec<std::sync::Arc<crate::bridge::BridgeStatus>>,
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
    /// Another `tether serve` holds the data directory.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
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
