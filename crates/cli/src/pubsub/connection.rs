//! The connection flags `tether pub` and `tether sub` share with mosquitto_pub/mosquitto_sub
//! (-h -p -i -I -k -u -P -V -c -x -d, TLS files and versions, ALPN, will), the checks of
//! certificate and key files before connecting (missing, unreadable, PEM or DER, key not
//! matching the certificate), and mosquitto's exit codes for failures. It does not publish or
//! subscribe; the command modules do.

use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{ArgAction, Args};
use client::Bytes;
use client::mqtt_proto::properties::WillProperties;
use client::{
    ClientConfig, ConnectOptions, Identity, MqttStr, Protocol, ProtocolVersion, QoS,
    SigV4Credentials, TlsOptions, TopicName, Trust, WebSocketOptions, Will,
};

/// Flags both commands take, with mosquitto's names and meanings.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Broker host name or IP address.
    #[arg(short = 'h', long = "host", default_value = "localhost")]
    pub host: String,
    /// Broker port [default: 8883 with --cafile, --capath or --cert, else 1883].
    #[arg(short = 'p', long = "port")]
    pub port: Option<u16>,
    /// Client id [default: none; MQTT 5 brokers assign one].
    #[arg(short = 'i', long = "id")]
    pub id: Option<String>,
    /// Client id prefix; the process id is appended.
    #[arg(short = 'I', long = "id-prefix")]
    pub id_prefix: Option<String>,
    /// Keep-alive in seconds.
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    pub keepalive: u16,
    /// User name.
    #[arg(short = 'u', long = "username")]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'P', long = "pw")]
    pub password: Option<String>,
    /// MQTT version: mqttv311 (311) or mqttv5 (5).
    #[arg(short = 'V', long = "protocol-version", default_value = "mqttv311", value_parser = parse_protocol)]
    pub protocol: Protocol,
    /// Disable clean session: keep the session (subscriptions, queued QoS 1/2) on the broker.
    #[arg(short = 'c', long = "disable-clean-session")]
    pub persistent: bool,
    /// MQTT 5 session expiry interval in seconds [default: unlimited with -c, else 0].
    #[arg(short = 'x', long = "session-expiry-interval")]
    pub session_expiry: Option<u32>,
    /// Print the packets sent and received, as mosquitto does.
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// PEM (or DER) file of CA certificates that sign the server certificate; enables TLS.
    #[arg(long)]
    pub cafile: Option<PathBuf>,
    /// Directory of CA certificates (every certificate file in it is trusted); enables TLS.
    #[arg(long)]
    pub capath: Option<PathBuf>,
    /// Client certificate for mutual TLS (PEM or DER).
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Private key of --cert (PEM or DER; PKCS#1, PKCS#8 or SEC1).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Do not check that the server certificate names the host (the chain is still checked).
    #[arg(long)]
    pub insecure: bool,
    /// Lowest TLS version to use, as in mosquitto: tlsv1.3, tlsv1.2 or tlsv1.1 [default:
    /// tlsv1.2].
    #[arg(long = "tls-version", value_parser = parse_tls_version)]
    pub tls_version: Option<ProtocolVersion>,
    /// ALPN protocol to offer (x-amzn-mqtt-ca for AWS IoT on port 443).
    #[arg(long = "alpn", visible_alias = "tls-alpn")]
    pub alpn: Option<String>,
    /// Key-exchange groups to offer, colon-separated (X25519:P-256, as a device's TLS stack
    /// would); default: OpenSSL's list, which includes the post-quantum X25519MLKEM768.
    #[arg(long = "tls-groups", value_name = "GROUPS")]
    pub tls_groups: Option<String>,
    /// MQTT over WebSockets on /mqtt (wss:// with --cafile or --capath, else ws://), the
    /// upgrade signed with SigV4 from the AWS credential chain's environment variables
    /// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; AWS_REGION or
    /// AWS_DEFAULT_REGION, else us-east-1), as AWS IoT takes it on port 443.
    #[arg(long)]
    pub wss: bool,
    /// Topic of the will message.
    #[arg(long = "will-topic")]
    pub will_topic: Option<String>,
    /// Payload of the will message.
    #[arg(long = "will-payload")]
    pub will_payload: Option<String>,
    /// QoS of the will message.
    #[arg(long = "will-qos", value_parser = parse_qos)]
    pub will_qos: Option<QoS>,
    /// Retain the will message.
    #[arg(long = "will-retain")]
    pub will_retain: bool,
    /// Print help (-h is the host, as in mosquitto).
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// A failure before or during the connection, with mosquitto's exit code.
#[derive(Debug)]
pub struct Failure {
    /// The message, printed as `Error: …`.
    pub message: String,
    /// The process exit code.
    pub code: u8,
}

impl Failure {
    /// A usage or file problem (exit code 1).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// mosquitto's exit codes: libmosquitto's `MOSQ_ERR_*` numbers, which mosquitto_pub and
/// mosquitto_sub return from their network loop.
pub mod exit {
    /// `MOSQ_ERR_NO_CONN`: mosquitto_pub after the server's MQTT 5 DISCONNECT.
    pub const NO_CONN: u8 = 4;
    /// `MOSQ_ERR_CONN_LOST`: the connection was closed or lost (also a TLS 1.3 alert after the
    /// handshake, such as an unregistered or missing client certificate).
    pub const CONN_LOST: u8 = 7;
    /// `MOSQ_ERR_TIMEOUT`: mosquitto_sub's -W ran out.
    pub const TIMEOUT: u8 = 27;
}

impl From<client::Error> for Failure {
    /// The exit code mosquitto_pub gives for the same failure, measured side by side against
    /// mosquitto 2.0 (crates/cli/tests/e2e/compat.rs): 1 when the connection could not be
    /// made (name, TCP, a TLS alert during the handshake, this client refusing the server's
    /// certificate: mosquitto's connect fails), the CONNACK code for a refused CONNECT (1–5 in
    /// 3.1.1, the reason code in MQTT 5), 7 when the connection was closed or lost, 4 after
    /// the server's MQTT 5 DISCONNECT. Where mosquitto's own answer depends on timing (its
    /// handshake runs partly in its connect call, partly in its loop) this is the answer it
    /// gives most often. Failures mosquitto has no counterpart for exit 1.
    fn from(error: client::Error) -> Failure {
        let code = code_of(&error);
        Failure {
            message: error.to_string(),
            code,
        }
    }
}

fn code_of(error: &client::Error) -> u8 {
    use client::Error as E;
    match error {
        E::Refused {
            protocol, reason, ..
        } => {
            if protocol.is_v5() {
                reason.value()
            } else {
                reason.to_v3_connack()
            }
        }
        E::TlsAlert { .. } if error.alert_during_handshake() => 1,
        E::TlsAlert { .. }
        | E::Closed { .. }
        | E::Io { .. }
        | E::SubscribeUnanswered { .. }
        | E::PublishAbandoned { .. } => exit::CONN_LOST,
        E::DisconnectedByServer { .. } => exit::NO_CONN,
        E::ReconnectExhausted { last, .. } => code_of(last),
        _ => 1,
    }
}

impl ConnArgs {
    /// True when any TLS flag was given.
    fn uses_tls(&self) -> bool {
        self.cafile.is_some() || self.capath.is_some() || self.cert.is_some()
    }

    /// The client id to send: -i, else -I plus the process id, else empty.
    pub fn client_id(&self) -> String {
        match (&self.id, &self.id_prefix) {
            (Some(id), _) => id.clone(),
            (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
            (None, None) => String::new(),
        }
    }

    /// Checks the files, prints what the checks noticed, and connects (printing packets as
    /// mosquitto does with -d).
    pub async fn connect(&self) -> Result<client::Client, Failure> {
        let mut notes = Vec::new();
        let options = self.options(&mut notes)?;
        for note in notes {
            eprintln!("{note}");
        }
        let observer = self
            .debug
            .then(|| super::trace::printer(&self.client_id(), self.protocol));
        Ok(client::Client::connect_observed(options, observer).await?)
    }

    /// Checks flags and files and builds the connection options. `notes` collects remarks
    /// for stderr (a DER file where mosquitto wants PEM).
    pub fn options(&self, notes: &mut Vec<String>) -> Result<ConnectOptions, Failure> {
        let client_id = self.client_id();
        if self.persistent && client_id.is_empty() {
            return Err(Failure::usage(
                "You must provide a client id if you are using the -c option (-i ID).",
            ));
        }
        let mut mqtt = ClientConfig {
            protocol: self.protocol,
            client_id: mqtt_str(&client_id, "-i")?,
            clean_start: !self.persistent,
            keep_alive: self.keepalive,
            will: self.will()?,
            username: self
                .username
                .as_deref()
                .map(|u| mqtt_str(u, "-u"))
                .transpose()?,
            password: self
                .password
                .as_ref()
                .map(|p| Bytes::from(p.clone().into_bytes())),
            ..ClientConfig::default()
        };
        if self.protocol.is_v5() {
            mqtt.session_expiry_interval = match (self.session_expiry, self.persistent) {
                (Some(seconds), _) => Some(seconds),
                (None, true) => Some(u32::MAX),
                (None, false) => None,
            };
        }
        let tls = if self.uses_tls() {
            Some(self.tls(notes)?)
        } else {
            None
        };
        let websocket = self.wss.then(websocket_options).transpose()?;
        let port = self.port.unwrap_or(match (&websocket, &tls) {
            (Some(_), _) => 443,
            (None, Some(_)) => 8883,
            (None, None) => 1883,
        });
        Ok(ConnectOptions {
            host: self.host.clone(),
            port,
            tls,
            websocket,
            mqtt,
            connect_timeout: Duration::from_secs(30),
            bind_address: None,
            reconnect: None,
        })
    }

    fn will(&self) -> Result<Option<Will>, Failure> {
        let Some(topic) = &self.will_topic else {
            if self.will_payload.is_some() || self.will_qos.is_some() || self.will_retain {
                return Err(Failure::usage(
                    "Will payload, QoS or retain given, but no --will-topic.",
                ));
            }
            return Ok(None);
        };
        let topic = TopicName::new(topic)
            .map_err(|e| Failure::usage(format!("--will-topic {topic:?} is not valid: {e}")))?;
        Ok(Some(Will {
            topic,
            payload: Bytes::from(self.will_payload.clone().unwrap_or_default().into_bytes()),
            qos: self.will_qos.unwrap_or(QoS::AtMostOnce),
            retain: self.will_retain,
            properties: WillProperties::default(),
        }))
    }

    fn tls(&self, notes: &mut Vec<String>) -> Result<TlsOptions, Failure> {
        let (trust, label) = match (&self.cafile, &self.capath) {
            (Some(file), _) => (
                Trust::CaPem(load_cas(file, "--cafile", notes)?),
                format!("--cafile {}", file.display()),
            ),
            (None, Some(dir)) => (
                Trust::CaPem(load_ca_dir(dir)?),
                format!("--capath {}", dir.display()),
            ),
            (None, None) => (
                Trust::SystemDefault,
                "the system's default CA store (no --cafile given)".to_owned(),
            ),
        };
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(load_identity(cert, key, notes)?),
            (None, None) => None,
            _ => {
                return Err(Failure::usage(
                    "Both --cert and --key must be given if one of them is.",
                ));
            }
        };
        // mosquitto's --tls-version is the lowest version offered (it disables the ones
        // below), TLS 1.2 when not given; the highest is whatever OpenSSL supports.
        Ok(TlsOptions {
            trust,
            trust_label: Some(label),
            identity,
            alpn: self.alpn.iter().cloned().collect(),
            min_version: Some(self.tls_version.unwrap_or(ProtocolVersion::TLS12)),
            max_version: None,
            groups: self.tls_groups.clone(),
            danger_skip_hostname: self.insecure,
        })
    }
}

/// MQTT over WebSockets signed with the credentials of the environment, as the AWS SDKs' default
/// chain finds them first.
fn websocket_options() -> Result<WebSocketOptions, Failure> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(access_key_id), Some(secret_access_key)) =
        (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
    else {
        return Err(Failure::usage(
            "--wss signs the WebSocket upgrade with SigV4: set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY (for tether serve on loopback: test and test)",
        ));
    };
    Ok(WebSocketOptions {
        signing: Some(SigV4Credentials {
            access_key_id,
            secret_access_key,
            session_token: var("AWS_SESSION_TOKEN"),
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
        }),
        ..WebSocketOptions::default()
    })
}

/// Connection options for a device over mutual TLS: `cafile` to trust, `cert`/`key` checked as
/// `--cert`/`--key` are, MQTT 3.1.1 with a clean session. Used by commands that follow topics
/// on a device's behalf (`tether shadow get --watch`).
pub fn device_connection(
    host: &str,
    port: u16,
    cafile: &Path,
    cert: &Path,
    key: &Path,
    client_id: &str,
) -> Result<ConnectOptions, Failure> {
    let mut notes = Vec::new();
    let trust = Trust::CaPem(load_cas(cafile, "--cafile", &mut notes)?);
    let identity = load_identity(cert, key, &mut notes)?;
    for note in notes {
        eprintln!("{note}");
    }
    Ok(ConnectOptions {
        host: host.to_owned(),
        port,
        websocket: None,
        tls: Some(TlsOptions {
            trust,
            trust_label: Some(format!("--cafile {}", cafile.display())),
            identity: Some(identity),
            ..TlsOptions::default()
        }),
        mqtt: ClientConfig {
            client_id: mqtt_str(client_id, "client id")?,
            ..ClientConfig::default()
        },
        connect_timeout: Duration::from_secs(30),
        bind_address: None,
        reconnect: None,
    })
}

fn mqtt_str(text: &str, flag: &str) -> Result<MqttStr, Failure> {
    MqttStr::new(text).map_err(|e| Failure::usage(format!("{flag} {text:?} is not valid: {e}")))
}

/// Reads a file given on the command line, saying in words what is wrong with it.
pub fn read_named(path: &Path, flag: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        let why = match e.kind() {
            ErrorKind::NotFound => "the file does not exist; check the path".to_owned(),
            ErrorKind::PermissionDenied => {
                "the file cannot be read (permission denied); check its owner and mode".to_owned()
            }
            ErrorKind::IsADirectory => "it is a directory, not a file".to_owned(),
            _ => format!("cannot read it: {e}"),
        };
        Failure::usage(format!("{flag} {}: {why}", path.display()))
    })
}

fn der_note(flag: &str, path: &Path, what: &str) -> String {
    format!(
        "Note: {flag} {} holds {what} in DER (binary) form; mosquitto wants PEM, tether accepts both.",
        path.display()
    )
}

fn load_cas(path: &Path, flag: &str, notes: &mut Vec<String>) -> Result<Vec<u8>, Failure> {
    let bytes = read_named(path, flag)?;
    let name = format!("{flag} {}", path.display());
    let (certificates, encoding) =
        pki::load_certificate_chain(&bytes, &name).map_err(|e| Failure::usage(e.to_string()))?;
    if encoding == pki::Encoding::Der {
        notes.push(der_note(flag, path, "the CA certificate"));
    }
    let mut pem = Vec::new();
    for certificate in &certificates {
        pem.extend(pki::certificate_pem(certificate).map_err(|e| Failure::usage(e.to_string()))?);
    }
    Ok(pem)
}

fn load_ca_dir(dir: &Path) -> Result<Vec<u8>, Failure> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Failure::usage(format!(
            "--capath {}: cannot list the directory ({})",
            dir.display(),
            e.kind()
        ))
    })?;
    let mut pem = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if let Ok((certificates, _)) = pki::load_certificate_chain(&bytes, "") {
            for certificate in &certificates {
                if let Ok(text) = pki::certificate_pem(certificate) {
                    pem.extend(text);
                }
            }
        }
    }
    if pem.is_empty() {
        return Err(Failure::usage(format!(
            "--capath {}: the directory holds no CA certificate",
            dir.display()
        )));
    }
    Ok(pem)
}

pub fn load_identity(
    cert_path: &Path,
    key_path: &Path,
    notes: &mut Vec<String>,
) -> Result<Identity, Failure> {
    let cert_bytes = read_named(cert_path, "--cert")?;
    let key_bytes = read_named(key_path, "--key")?;
    let cert_name = format!("--cert {}", cert_path.display());
    let key_name = format!("--key {}", key_path.display());
    let (mut chain, encoding) = pki::load_certificate_chain(&cert_bytes, &cert_name)
        .map_err(|e| Failure::usage(e.to_string()))?;
    if encoding == pki::Encoding::Der {
        notes.push(der_note("--cert", cert_path, "the certificate"));
    }
    let key =
        pki::load_private_key(&key_bytes, &key_name).map_err(|e| Failure::usage(e.to_string()))?;
    if key.encoding == pki::Encoding::Der {
        notes.push(der_note("--key", key_path, "the private key"));
    }
    if chain.is_empty() {
        return Err(Failure::usage(format!("{cert_name}: holds no certificate")));
    }
    let certificate = chain.remove(0);
    if !pki::key_matches_certificate(&key.key, &certificate) {
        let cert_key = certificate
            .public_key()
            .map(|k| pki::describe_key(&k).to_string())
            .unwrap_or_else(|_| "unreadable".to_owned());
        let subject = pki::summarize(&certificate)
            .map(|s| s.subject)
            .unwrap_or_default();
        return Err(Failure::usage(format!(
            "{key_name} does not belong to {cert_name}: the certificate (subject \"{subject}\") holds a {cert_key} public key and the file holds a different {} private key. Use the key that was created with this certificate.",
            pki::describe_key(&key.key)
        )));
    }
    Ok(Identity {
        certificate,
        chain,
        key: key.key,
    })
}

fn parse_protocol(text: &str) -> Result<Protocol, String> {
    match text {
        "mqttv311" | "311" => Ok(Protocol::V311),
        "mqttv5" | "5" => Ok(Protocol::V5),
        "mqttv31" | "31" => Err("MQTT 3.1 is not supported; use mqttv311 or mqttv5".to_owned()),
        _ => Err("expected mqttv311 (311) or mqttv5 (5)".to_owned()),
    }
}

fn parse_tls_version(text: &str) -> Result<ProtocolVersion, String> {
    match text {
        "tlsv1.3" => Ok(ProtocolVersion::TLS13),
        "tlsv1.2" => Ok(ProtocolVersion::TLS12),
        "tlsv1.1" => Ok(ProtocolVersion::TLS11),
        _ => Err("expected tlsv1.3, tlsv1.2 or tlsv1.1 (the lowest version to use)".to_owned()),
    }
}

/// Parses a QoS flag value (0, 1 or 2).
pub fn parse_qos(text: &str) -> Result<QoS, String> {
    text.parse::<u8>()
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| "QoS must be 0, 1 or 2".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_follow_mosquitto() {
        assert_eq!(parse_protocol("mqttv5"), Ok(Protocol::V5));
        assert_eq!(parse_protocol("311"), Ok(Protocol::V311));
        assert!(parse_protocol("mqttv31").is_err());
        assert_eq!(parse_tls_version("tlsv1.2"), Ok(ProtocolVersion::TLS12));
        assert!(
            parse_tls_version("tlsv1").is_err(),
            "mosquitto refuses it too"
        );
        assert_eq!(parse_qos("2"), Ok(QoS::ExactlyOnce));
        assert!(parse_qos("3").is_err());
    }

    #[test]
    fn a_missing_file_is_named() {
        let failure = read_named(Path::new("/nonexistent/ca.pem"), "--cafile").unwrap_err();
        assert_eq!(
            failure.message,
            "--cafile /nonexistent/ca.pem: the file does not exist; check the path"
        );
    }

    #[test]
    fn refusals_exit_with_the_connack_code() {
        let v3: Failure = client::Error::Refused {
            protocol: Protocol::V311,
            reason: client::ReasonCode::NotAuthorized,
            reason_string: None,
        }
        .into();
        assert_eq!(v3.code, 5);
        let v5: Failure = client::Error::Refused {
            protocol: Protocol::V5,
            reason: client::ReasonCode::NotAuthorized,
            reason_string: None,
        }
        .into();
        assert_eq!(v5.code, 135);
    }
}
