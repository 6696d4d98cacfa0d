//! What a connection is made of: the broker address, the transport (TCP, TLS, mutual TLS), the
//! MQTT session settings and the reconnect policy with its jittered exponential backoff. Plain
//! data with `Default`; it reads no files (the CLI loads certificates and keys) and opens nothing.

use std::path::PathBuf;
use std::time::Duration;

use mqtt_proto::ClientConfig;
use tls::context::{Identity, Trust};
use tls::version::ProtocolVersion;

/// ALPN protocol AWS IoT needs for MQTT with client certificates on port 443.
pub const AWS_MQTT_ALPN: &str = "x-amzn-mqtt-ca";

/// Everything [`Client::connect`](crate::Client::connect) needs.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Host name or IP address of the broker. A host name is also sent as SNI and checked
    /// against the server certificate.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `None` speaks plain MQTT over TCP.
    pub tls: Option<TlsOptions>,
    /// `Some` speaks MQTT over WebSockets (over TLS when `tls` is set: `wss://`).
    pub websocket: Option<crate::WebSocketOptions>,
    /// The MQTT session: protocol version, client id, keep-alive, will, credentials.
    pub mqtt: ClientConfig,
    /// Time allowed for TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Local address to connect from (port chosen by the system); `None` lets the system
    /// choose. A load generator spreads connections over several loopback addresses this way:
    /// one source address has at most ~64,000 ephemeral ports towards one server port.
    pub bind_address: Option<std::net::IpAddr>,
    /// `None` fails on the first lost connection; `Some` reconnects and resends in-flight
    /// QoS 1/2 messages.
    pub reconnect: Option<Reconnect>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            host: "localhost".to_owned(),
            port: 1883,
            tls: None,
            websocket: None,
            mqtt: ClientConfig::default(),
            connect_timeout: Duration::from_secs(30),
            bind_address: None,
            reconnect: None,
        }
    }
}

/// TLS settings. The server name is always the connection's host.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Which server certificates to trust.
    pub trust: Trust,
    /// How to name the trust source in error messages (`--cafile ca.pem`); derived from
    /// `trust` when `None`.
    pub trust_label: Option<String>,
    /// Client certificate and key for mutual TLS.
    pub identity: Option<Identity>,
    /// ALPN protocols to offer, e.g. [`AWS_MQTT_ALPN`] on port 443.
    pub alpn: Vec<String>,
    /// Lowest TLS version to offer.
    pub min_version: Option<ProtocolVersion>,
    /// Highest TLS version to offer.
    pub max_version: Option<ProtocolVersion>,
    /// Key-exchange groups to offer (OpenSSL syntax, `X25519:P-256`); None: OpenSSL's default.
    pub groups: Option<String>,
    /// Skip the check that the certificate names the host (the chain is still verified), as
    /// mosquitto's `--insecure`.
    pub danger_skip_hostname: bool,
}

impl TlsOptions {
    /// The words used for the trust source in messages.
    pub fn trust_description(&self) -> String {
        if let Some(label) = &self.trust_label {
            return label.clone();
        }
        match &self.trust {
            Trust::SystemDefault => "the system's default CA store".to_owned(),
            Trust::CaFile(path) => format!("the CA file {}", path.display()),
            Trust::CaPem(_) => "the given CA certificates".to_owned(),
            Trust::DangerAcceptAny => "nothing (verification disabled)".to_owned(),
        }
    }

    /// Trusts the roots in a PEM file.
    pub fn with_ca_file(path: impl Into<PathBuf>) -> Self {
        TlsOptions {
            trust: Trust::CaFile(path.into()),
            ..TlsOptions::default()
        }
    }
}

/// When and how to reconnect after a lost connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconnect {
    /// Delay before the first retry.
    pub initial_delay: Duration,
    /// Upper bound of the delay.
    pub max_delay: Duration,
    /// Factor applied to the delay after each failed attempt.
    pub multiplier: f64,
    /// Fraction of the delay that is random (0.0 none, 0.5 means ±25%), so a fleet that lost
    /// its broker at once does not come back at once.
    pub jitter: f64,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            multiplier: 2.0,
            jitter: 0.5,
            max_attempts: None,
        }
    }
}

impl Reconnect {
    /// The delay before attempt `attempt` (0-based), with `random` in `[0, 1)` choosing the
    /// jitter. Pure so that it can be tested; the client feeds it a cheap random number.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let exponent = i32::try_from(attempt.min(64)).unwrap_or(64);
        let base = self.initial_delay.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        let base = base.min(self.max_delay.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 - jitter / 2.0 + jitter * random.clamp(0.0, 1.0);
        Duration::try_from_secs_f64((base * factor).max(0.0)).unwrap_or(self.max_delay)
    }
}

/// A small xorshift generator for backoff jitter; seeded from the clock and the process id,
/// which is all jitter needs.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Jitter((u64::from(nanos) << 20) ^ u64::from(std::process::id()) | 1)
    }

    /// A number in `[0, 1)`.
    pub(crate) fn next(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        // The top 53 bits as a fraction.
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_up_to_the_maximum() {
        let policy = Reconnect {
            jitter: 0.0,
            ..Reconnect::default()
        };
        assert_eq!(policy.delay(0, 0.3), Duration::from_millis(500));
        assert_eq!(policy.delay(1, 0.3), Duration::from_secs(1));
        assert_eq!(policy.delay(3, 0.3), Duration::from_secs(4));
        assert_eq!(policy.delay(20, 0.3), Duration::from_secs(60));
        assert_eq!(policy.delay(u32::MAX, 0.3), Duration::from_secs(60));
    }

    #[test]
    fn jitter_spreads_the_delay_around_the_base() {
        let policy = Reconnect::default();
        assert_eq!(policy.delay(1, 0.0), Duration::from_millis(750));
        assert_eq!(policy.delay(1, 0.5), Duration::from_secs(1));
        let high = policy.delay(1, 0.999_999);
        assert!(high > Duration::from_millis(1249) && high < Duration::from_millis(1251));
    }

    #[test]
    fn the_jitter_source_stays_in_range_and_varies() {
        let mut jitter = Jitter::new();
        let values: Vec<f64> = (0..1000).map(|_| jitter.next()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        let low = values.iter().filter(|v| **v < 0.5).count();
        assert!((300..700).contains(&low), "{low} of 1000 below 0.5");
    }

    #[test]
    fn trust_is_described_by_its_source() {
        let options = TlsOptions::with_ca_file("/tmp/ca.pem");
        assert_eq!(options.trust_description(), "the CA file /tmp/ca.pem");
        let labelled = TlsOptions {
            trust_label: Some("--cafile x".to_owned()),
            ..options
        };
        assert_eq!(labelled.trust_description(), "--cafile x");
    }
}
