//! The config file's `[[bridge]]` and `[[listener]]` tables into the server's plain structs: a
//! bridge's address, protocol, transport (mutual TLS with the three files AWS IoT gives, SigV4
//! WebSockets with the environment's credentials, or plain TCP), its topic lines and limits,
//! its certificate and key loaded and checked here (a wrong path or a key that is not the
//! certificate's fails at start, naming the bridge and the key); and device gateway listeners
//! with their own TLS policy. Whether the result can work is the server's check
//! (`BridgeConfig::check`), run here too so the error comes before anything binds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use client::{ConnectOptions, MqttStr, Protocol, QoS, SigV4Credentials, TlsOptions, Trust};
use serde::Deserialize;
use server::{BridgeConfig, BridgeDirection, BridgeTopic, UpstreamLimits};

/// One `[[bridge]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BridgeFile {
    name: String,
    /// `host:port` of the upstream broker.
    address: String,
    client_id: String,
    /// `"5"` (default) or `"3.1.1"`.
    protocol: Option<String>,
    /// `"mqtts"` (default), `"wss"` (SigV4-signed WebSockets) or `"tcp"` (plain).
    transport: Option<String>,
    /// The upstream's CA (AWS: AmazonRootCA1.pem); the system's CAs without it.
    cafile: Option<PathBuf>,
    /// The bridge's certificate and key, registered upstream.
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    /// ALPN to offer (`x-amzn-mqtt-ca` on AWS IoT's port 443, the default there).
    alpn: Option<String>,
    /// For `transport = "wss"`: the region signed for (else $AWS_REGION, else us-east-1).
    region: Option<String>,
    username: Option<String>,
    password: Option<String>,
    /// `"aws-iot"` (default) or `"none"`.
    limits: Option<String>,
    keep_alive: Option<u16>,
    clean_start: Option<bool>,
    session_expiry: Option<u32>,
    queue_limit: Option<usize>,
    max_inflight: Option<usize>,
    reconnect_delay_ms: Option<u64>,
    reconnect_delay_max_ms: Option<u64>,
    #[serde(default)]
    topics: Vec<TopicFile>,
}

/// One entry of `topics`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TopicFile {
    pattern: String,
    /// `in`, `out` or `both`.
    direction: String,
    qos: Option<u8>,
    #[serde(default)]
    local_prefix: String,
    #[serde(default)]
    remote_prefix: String,
}

/// One `[[listener]]` table: a device gateway.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ListenerFile {
    address: SocketAddr,
    tls_policy: Option<String>,
    #[serde(default)]
    allow_legacy_tls: bool,
}

/// Outbound messages a bridge keeps while its upstream is away, unless `queue-limit` says.
pub const DEFAULT_QUEUE_LIMIT: usize = 100_000;
/// QoS 1 messages a bridge has in flight upstream, unless `max-inflight` says.
pub const DEFAULT_MAX_INFLIGHT: usize = 10;

impl BridgeFile {
    /// The server's bridge, with its files loaded (relative paths from `base`, the config
    /// file's directory).
    pub fn bridge(self, base: &Path) -> Result<BridgeConfig> {
        let name = self.name.clone();
        let context = |what: &str| format!("[[bridge]] {name}: {what}");
        let (host, port) = split_address(&self.address)
            .with_context(|| context(&format!("address {:?}", self.address)))?;
        let protocol = match self.protocol.as_deref().unwrap_or("5") {
            "5" | "mqttv5" => Protocol::V5,
            "3.1.1" | "mqttv311" => Protocol::V311,
            other => bail!(
                "{}",
                context(&format!("protocol {other:?}: give \"5\" or \"3.1.1\""))
            ),
        };
        let limits = match self.limits.as_deref().unwrap_or("aws-iot") {
            "aws-iot" => UpstreamLimits::aws_iot(),
            "none" => UpstreamLimits::none(),
            other => bail!(
                "{}",
                context(&format!("limits {other:?}: give \"aws-iot\" or \"none\""))
            ),
        };
        let mut upstream = ConnectOptions {
            host: host.clone(),
            port,
            connect_timeout: Duration::from_secs(30),
            ..ConnectOptions::default()
        };
        let transport = self.transport.as_deref().unwrap_or("mqtts");
        match transport {
            "mqtts" => upstream.tls = Some(self.tls(base, port)?),
            "wss" => {
                upstream.tls = Some(self.tls(base, port)?);
                upstream.websocket = Some(client::WebSocketOptions {
                    signing: Some(self.sigv4()?),
                    ..client::WebSocketOptions::default()
                });
            }
            "tcp" => {}
            other => bail!(
                "{}",
                context(&format!(
                    "transport {other:?}: give \"mqtts\", \"wss\" or \"tcp\""
                ))
            ),
        }
        let mqtt = &mut upstream.mqtt;
        mqtt.protocol = protocol;
        mqtt.client_id = MqttStr::new(&self.client_id)
            .map_err(|e| anyhow::anyhow!("{}", context(&format!("client-id: {e}"))))?;
        mqtt.keep_alive = self.keep_alive.unwrap_or(60);
        mqtt.clean_start = self.clean_start.unwrap_or(false);
        // AWS IoT keeps a persistent session an hour by default.
        mqtt.session_expiry_interval = (protocol == Protocol::V5 && !mqtt.clean_start)
            .then_some(self.session_expiry.unwrap_or(3600));
        if let Some(user) = &self.username {
            mqtt.username = Some(
                MqttStr::new(user)
                    .map_err(|e| anyhow::anyhow!("{}", context(&format!("username: {e}"))))?,
            );
        }
        mqtt.password = self
            .password
            .as_ref()
            .map(|p| p.clone().into_bytes().into());
        let mut backoff = BridgeConfig::default_backoff();
        if let Some(ms) = self.reconnect_delay_ms {
            backoff.initial_delay = Duration::from_millis(ms.max(1));
        }
        if let Some(ms) = self.reconnect_delay_max_ms {
            backoff.max_delay = Duration::from_millis(ms.max(1));
        }
        let topics = self
            .topics
            .into_iter()
            .map(|t| t.topic(&name))
            .collect::<Result<_>>()?;
        let bridge = BridgeConfig {
            name: name.clone(),
            upstream,
            topics,
            limits,
            queue_limit: self.queue_limit.unwrap_or(DEFAULT_QUEUE_LIMIT),
            max_inflight: self.max_inflight.unwrap_or(DEFAULT_MAX_INFLIGHT),
            backoff,
        };
        bridge.check()?;
        Ok(bridge)
    }

    /// TLS towards the upstream: its CA, the bridge's certificate and key, ALPN.
    fn tls(&self, base: &Path, port: u16) -> Result<TlsOptions> {
        let name = &self.name;
        let trust = match &self.cafile {
            Some(path) => {
                let path = base.join(path);
                let bytes = read(&path, name, "cafile")?;
                let (certificates, _) =
                    pki::load_certificate_chain(&bytes, &path.display().to_string())
                        .with_context(|| format!("[[bridge]] {name}: cafile"))?;
                let mut pem = Vec::new();
                for certificate in &certificates {
                    pem.extend(pki::certificate_pem(certificate)?);
                }
                Trust::CaPem(pem)
            }
            None => Trust::SystemDefault,
        };
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(identity(&base.join(cert), &base.join(key), name)?),
            (None, None) => None,
            _ => bail!(
                "[[bridge]] {name}: give both cert and key (the files AWS IoT gives), or neither"
            ),
        };
        // AWS IoT serves MQTT with client certificates on 443 only to ALPN x-amzn-mqtt-ca.
        let alpn = match (&self.alpn, port, &identity, self.transport.as_deref()) {
            (Some(alpn), ..) => vec![alpn.clone()],
            (None, 443, Some(_), None | Some("mqtts")) => vec![client::AWS_MQTT_ALPN.to_owned()],
            _ => Vec::new(),
        };
        Ok(TlsOptions {
            trust_label: self
                .cafile
                .as_ref()
                .map(|p| format!("the bridge's cafile {}", p.display())),
            trust,
            identity,
            alpn,
            min_version: Some(client::ProtocolVersion::TLS12),
            ..TlsOptions::default()
        })
    }

    /// SigV4 credentials from the environment, as the AWS SDKs' default chain finds them first.
    fn sigv4(&self) -> Result<SigV4Credentials> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(access_key_id), Some(secret_access_key)) =
            (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        else {
            bail!(
                "[[bridge]] {}: transport = \"wss\" signs with SigV4: set AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials) in \
                 tether serve's environment",
                self.name
            );
        };
        Ok(SigV4Credentials {
            access_key_id,
            secret_access_key,
            session_token: var("AWS_SESSION_TOKEN"),
            region: self
                .region
                .clone()
                .or_else(|| var("AWS_REGION"))
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
        })
    }
}

impl TopicFile {
    fn topic(self, bridge: &str) -> Result<BridgeTopic> {
        let direction = match self.direction.as_str() {
            "in" => BridgeDirection::In,
            "out" => BridgeDirection::Out,
            "both" => BridgeDirection::Both,
            other => bail!(
                "[[bridge]] {bridge}: topic {:?}: direction {other:?}: give \"in\", \"out\" or \
                 \"both\"",
                self.pattern
            ),
        };
        let qos = match self.qos.unwrap_or(1) {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            2 => QoS::ExactlyOnce,
            other => bail!(
                "[[bridge]] {bridge}: topic {:?}: qos {other}: give 0 or 1",
                self.pattern
            ),
        };
        Ok(BridgeTopic {
            pattern: self.pattern,
            direction,
            qos,
            local_prefix: self.local_prefix,
            remote_prefix: self.remote_prefix,
        })
    }
}

impl ListenerFile {
    /// The bound listener with its policy.
    pub fn listener(self) -> Result<server::LegacyListener> {
        let tls_policy = self
            .tls_policy
            .as_deref()
            .map(tls::SecurityPolicy::by_name)
            .transpose()
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("[[listener]] {}: tls-policy", self.address))?;
        Ok(server::LegacyListener {
            listener: super::bind(self.address, "[[listener]] address")?,
            tls_policy,
            allow_legacy_tls: self.allow_legacy_tls,
        })
    }
}

/// The device gateway listeners: `--mqtts-legacy` (its TLS policy the global one, lowered with
/// `--allow-legacy-tls`) and the `[[listener]]` tables.
pub fn legacy_listeners(
    flag: Option<SocketAddr>,
    allow_legacy_tls: bool,
    tables: Vec<ListenerFile>,
) -> Result<Vec<server::LegacyListener>> {
    if allow_legacy_tls && flag.is_none() {
        bail!("allow-legacy-tls needs mqtts-legacy = \"ADDR\": it applies to that listener only");
    }
    let mut listeners = Vec::new();
    if let Some(addr) = flag {
        listeners.push(server::LegacyListener {
            listener: super::bind(addr, "--mqtts-legacy")?,
            tls_policy: None,
            allow_legacy_tls,
        });
    }
    for table in tables {
        listeners.push(table.listener()?);
    }
    Ok(listeners)
}

/// `host:port` (or `[v6]:port`) as its parts.
fn split_address(address: &str) -> Result<(String, u16)> {
    let Some((host, port)) = address.rsplit_once(':') else {
        bail!("write it as HOST:PORT, e.g. xxxxxxxx-ats.iot.us-east-1.amazonaws.com:8883");
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .with_context(|| format!("port {port:?} is not a port number"))?;
    if host.is_empty() {
        bail!("the host is empty; write it as HOST:PORT");
    }
    Ok((host.to_owned(), port))
}

fn read(path: &Path, bridge: &str, key: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| {
        format!(
            "[[bridge]] {bridge}: cannot read {key} {} (relative paths start at the config \
             file's directory)",
            path.display()
        )
    })
}

/// The bridge's certificate (with any chain after it) and its key, checked to belong together.
fn identity(cert: &Path, key: &Path, bridge: &str) -> Result<client::Identity> {
    let cert_bytes = read(cert, bridge, "cert")?;
    let key_bytes = read(key, bridge, "key")?;
    let (mut chain, _) = pki::load_certificate_chain(&cert_bytes, &cert.display().to_string())
        .with_context(|| format!("[[bridge]] {bridge}: cert"))?;
    let key = pki::load_private_key(&key_bytes, &key.display().to_string())
        .with_context(|| format!("[[bridge]] {bridge}: key"))?;
    if chain.is_empty() {
        bail!(
            "[[bridge]] {bridge}: cert {} holds no certificate",
            cert.display()
        );
    }
    let certificate = chain.remove(0);
    if !pki::key_matches_certificate(&key.key, &certificate) {
        bail!(
            "[[bridge]] {bridge}: the key is not the private key of cert {}; give the \
             private.pem.key that came with that certificate",
            cert.display()
        );
    }
    Ok(client::Identity {
        certificate,
        chain,
        key: key.key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(
            split_address("abc-ats.iot.eu-west-1.amazonaws.com:8883").unwrap(),
            ("abc-ats.iot.eu-west-1.amazonaws.com".to_owned(), 8883)
        );
        assert_eq!(
            split_address("[::1]:1883").unwrap(),
            ("::1".to_owned(), 1883)
        );
        assert!(split_address("host").is_err());
        assert!(split_address("host:0").is_err());
    }

    #[test]
    fn a_plain_bridge_is_read_with_its_defaults() {
        let file: BridgeFile = toml::from_str(
            r#"name = "mosq"
address = "127.0.0.1:1883"
client-id = "gw-1"
transport = "tcp"
limits = "none"
topics = [{ pattern = "site/#", direction = "both" }, { pattern = "cmd/#", direction = "in", qos = 0, local-prefix = "dev/" }]
"#,
        )
        .unwrap();
        let bridge = file.bridge(Path::new(".")).unwrap();
        assert_eq!(bridge.upstream.mqtt.protocol, Protocol::V5);
        assert!(!bridge.upstream.mqtt.clean_start);
        assert_eq!(bridge.upstream.mqtt.session_expiry_interval, Some(3600));
        assert!(bridge.upstream.tls.is_none());
        assert_eq!(bridge.topics[0].qos, QoS::AtLeastOnce);
        assert_eq!(bridge.topics[1].local_prefix, "dev/");
        assert_eq!(bridge.queue_limit, DEFAULT_QUEUE_LIMIT);
    }

    #[test]
    fn mistakes_name_the_bridge_and_the_key() {
        let read = |text: &str| {
            let file: BridgeFile = toml::from_str(text).unwrap();
            format!("{:#}", file.bridge(Path::new(".")).unwrap_err())
        };
        let base = "name = \"b\"\naddress = \"h:1\"\nclient-id = \"c\"\ntransport = \"tcp\"\n";
        let e = read(&format!(
            "{base}topics = [{{ pattern = \"a\", direction = \"sideways\" }}]"
        ));
        assert!(e.contains("[[bridge]] b") && e.contains("sideways"), "{e}");
        let e = read(&format!(
            "{base}protocol = \"3.1.1\"\ntopics = [{{ pattern = \"a\", direction = \"both\" }}]"
        ));
        assert!(e.contains("protocol = \"5\""), "{e}");
        let e = read(&format!("{base}topics = []"));
        assert!(e.contains("no topics"), "{e}");
        let e = read(
            "name = \"b\"\naddress = \"h:1\"\nclient-id = \"c\"\ncert = \"/nonexistent.crt\"\nkey = \"/nonexistent.key\"\ntopics = [{ pattern = \"a\", direction = \"out\" }]",
        );
        assert!(e.contains("cannot read cert /nonexistent.crt"), "{e}");
    }
}
