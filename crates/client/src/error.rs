//! Why a connection or a command failed, in words a newcomer can act on: name resolution and
//! TCP failures name host and port, TLS alerts carry their name, number and likely causes,
//! untrusted server certificates say which CA was used and who issued the server's certificate,
//! MQTT refusals and server disconnects carry the reason code in words. It does not decide exit
//! codes or print anything; the CLI does.

use std::io;
use std::time::Duration;

use mqtt_proto::session::{Error as SessionError, Violation};
use mqtt_proto::{PacketId, PacketType, Protocol, ReasonCode};
use tls::Alert;

/// Everything that can go wrong in this crate. Variants separate the network, the server's
/// TLS or MQTT refusal, a protocol violation by the server, and local misuse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host name does not resolve.
    #[error(
        "cannot resolve the host name {host} (port {port}): {detail}; check the spelling of -h (for AWS IoT: `aws iot describe-endpoint --endpoint-type iot:Data-ATS`)"
    )]
    Resolve {
        host: String,
        port: u16,
        detail: String,
    },
    /// TCP connect failed.
    #[error("cannot connect to {host}:{port}: {detail}")]
    Connect {
        host: String,
        port: u16,
        /// What happened and what to check, in words.
        detail: String,
    },
    /// TCP connect and TLS handshake together took longer than allowed.
    #[error(
        "no connection to {host}:{port} within {} s; is the host reachable and is a broker listening on that port (a firewall may be dropping packets)?",
        after.as_secs()
    )]
    ConnectTimeout {
        host: String,
        port: u16,
        after: Duration,
    },
    /// The server sent a fatal TLS alert.
    #[error("{}", alert_text(.host, *.port, *.alert, .during, .hint.as_deref()))]
    TlsAlert {
        host: String,
        port: u16,
        alert: Alert,
        /// "during the TLS handshake" or "right after the TLS handshake".
        during: &'static str,
        /// Extra advice from what this client knows (e.g. no client certificate was given).
        hint: Option<String>,
    },
    /// This client refused the server's certificate.
    #[error("{0}")]
    UntrustedServer(Box<UntrustedCertificate>),
    /// Another TLS failure (no alert from the server, nothing about its certificate).
    #[error("TLS with {host}:{port} failed: {detail}")]
    Tls {
        host: String,
        port: u16,
        detail: String,
    },
    /// The WebSocket upgrade failed or was refused (HTTP 403 for a bad signature).
    #[error("MQTT over WebSockets with {host}:{port} failed: {detail}")]
    WebSocket {
        host: String,
        port: u16,
        detail: String,
    },
    /// The TLS context could not be built from the options (a local configuration fault).
    #[error("cannot set up TLS: {0}")]
    TlsSetup(#[from] tls::context::ContextError),
    /// The server refused the MQTT connection in its CONNACK.
    #[error("{}", refused_text(*.protocol, *.reason, .reason_string.as_deref()))]
    Refused {
        protocol: Protocol,
        reason: ReasonCode,
        reason_string: Option<String>,
    },
    /// The server ended the connection with DISCONNECT.
    #[error(
        "the server disconnected this client: {reason}{}{}",
        .reason_string.as_deref().map(|s| format!(" (\"{s}\")")).unwrap_or_default(),
        disconnect_hint(*.reason)
    )]
    DisconnectedByServer {
        reason: ReasonCode,
        reason_string: Option<String>,
    },
    /// The server closed the connection without DISCONNECT.
    #[error("{host}:{port} closed the connection {during}{}", .hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    Closed {
        host: String,
        port: u16,
        during: &'static str,
        hint: Option<String>,
    },
    /// Reading or writing the connection failed.
    #[error("the connection to {host}:{port} failed {during}: {detail}")]
    Io {
        host: String,
        port: u16,
        during: &'static str,
        detail: String,
    },
    /// CONNACK or PINGRESP did not come in time.
    #[error(
        "the server did not answer: no {} within the response timeout; it may be overloaded or not an MQTT broker",
        .waiting_for.name()
    )]
    Timeout { waiting_for: PacketType },
    /// The server broke the MQTT protocol; the connection was closed.
    #[error("the server broke the MQTT protocol: {0}")]
    Protocol(Violation),
    /// The server refused a publication (MQTT 5 PUBACK/PUBREC reason).
    #[error("the server refused the message with packet id {}: {reason}", packet_id.get())]
    PublishRefused {
        packet_id: PacketId,
        reason: ReasonCode,
    },
    /// The session gave up on a publication.
    #[error("the message with packet id {packet_id:?} was not delivered: {reason}")]
    PublishAbandoned {
        packet_id: Option<PacketId>,
        reason: String,
    },
    /// The server refused a subscription in its SUBACK.
    #[error("the server refused the subscription to {filter}: {}", suback_words(*.reason, *.protocol))]
    SubscribeRefused {
        filter: String,
        reason: ReasonCode,
        protocol: Protocol,
    },
    /// The connection ended while a SUBSCRIBE waited for its SUBACK: how AWS IoT refuses an
    /// MQTT 3.1.1 subscription its policy does not allow (shared/reference/aws-iot-contract.md
    /// §1.6), where other brokers answer SUBACK 0x80.
    #[error(
        "the broker refused the subscription to {}: it closed the connection instead of \
         answering SUBSCRIBE (no SUBACK), which is how AWS IoT (and tether serve's aws profile) \
         refuse an MQTT 3.1.1 subscription the policy does not allow, where other brokers answer \
         SUBACK 0x80: check that the policy attached to the certificate allows iot:Subscribe on \
         topicfilter/{} (with -V mqttv5 the broker answers 0x87 Not authorized instead)",
        .filters.join(", "),
        .filters.first().map_or("", String::as_str)
    )]
    SubscribeUnanswered {
        /// The filters of the SUBSCRIBE.
        filters: Vec<String>,
        /// How the connection ended (not shown: the refusal is the news).
        cause: Box<Error>,
    },
    /// A command this session cannot carry out (local misuse, e.g. QoS above the server's
    /// maximum).
    #[error("{0}")]
    Session(#[from] SessionError),
    /// Reconnecting failed too often in a row.
    #[error("gave up reconnecting after {attempts} attempts; the last failure: {last}")]
    ReconnectExhausted { attempts: u32, last: Box<Error> },
}

/// The details of a server certificate this client does not trust.
#[derive(Debug, thiserror::Error)]
#[error(
    "the server certificate of {host}:{port} is not trusted: {reason}. It was issued by \"{issuer}\" (subject \"{subject}\"); the trusted CAs came from {trust}. {advice}"
)]
pub struct UntrustedCertificate {
    pub host: String,
    pub port: u16,
    /// OpenSSL's verification result in words.
    pub reason: String,
    pub subject: String,
    pub issuer: String,
    /// Where the trusted CAs came from.
    pub trust: String,
    /// What to do.
    pub advice: String,
}

impl Error {
    /// Whether this is a TLS alert that arrived before this client finished its handshake
    /// (TLS 1.2 refusals), rather than right after it (TLS 1.3, where the server judges the
    /// client certificate once the client is done).
    pub fn alert_during_handshake(&self) -> bool {
        matches!(self, Error::TlsAlert { during, .. } if *during == "during the TLS handshake")
    }

    /// The MQTT reason when the server refused or ended the connection.
    pub fn reason_code(&self) -> Option<ReasonCode> {
        match self {
            Error::Refused { reason, .. }
            | Error::DisconnectedByServer { reason, .. }
            | Error::PublishRefused { reason, .. }
            | Error::SubscribeRefused { reason, .. } => Some(*reason),
            Error::ReconnectExhausted { last, .. } => last.reason_code(),
            _ => None,
        }
    }
}

/// The first two causes of an alert's cause list, the most likely ones.
pub fn likely_causes(alert: Alert) -> String {
    let causes: Vec<&str> = alert
        .iot_causes()
        .split("; ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .take(2)
        .collect();
    causes.join("; or ")
}

fn alert_text(host: &str, port: u16, alert: Alert, during: &str, hint: Option<&str>) -> String {
    let name = alert.name().unwrap_or("unregistered");
    let mut text = format!(
        "{host}:{port} refused the connection {during} with TLS alert {} {name} ({}). Most likely: {}.",
        alert.0,
        alert.meaning(),
        likely_causes(alert)
    );
    if let Some(hint) = hint {
        text.push(' ');
        text.push_str(hint);
    }
    text
}

/// The 3.1.1 CONNACK return codes in mosquitto's words (MQTT 3.1.1 §3.2.2.3).
pub fn v3_connack_words(code: u8) -> &'static str {
    match code {
        0 => "Connection Accepted",
        1 => "unacceptable protocol version",
        2 => "identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorised",
        _ => "unknown return code",
    }
}

fn refused_text(protocol: Protocol, reason: ReasonCode, reason_string: Option<&str>) -> String {
    let what = if protocol.is_v5() {
        format!("CONNACK reason {reason}")
    } else {
        let code = reason.to_v3_connack();
        format!("CONNACK return code {code} ({})", v3_connack_words(code))
    };
    let detail = reason_string
        .map(|s| format!(" (\"{s}\")"))
        .unwrap_or_default();
    let hint = match reason {
        ReasonCode::NotAuthorized | ReasonCode::Banned => {
            "; the broker does not allow this client: check the client id (-i), user name and password, or the policy attached to the certificate"
        }
        ReasonCode::BadUserNameOrPassword => "; check -u and -P",
        ReasonCode::ClientIdentifierNotValid => {
            "; choose another client id with -i (some brokers refuse empty or long ids)"
        }
        ReasonCode::UnsupportedProtocolVersion => {
            "; try the other protocol version (-V mqttv311 or -V mqttv5)"
        }
        _ => "",
    };
    format!("the server refused the connection: {what}{detail}{hint}")
}

fn disconnect_hint(reason: ReasonCode) -> &'static str {
    match reason {
        ReasonCode::SessionTakenOver => "; another client connected with the same client id (-i)",
        ReasonCode::ServerShuttingDown => "; the broker is shutting down",
        ReasonCode::KeepAliveTimeout => "; nothing was sent within 1.5 times the keep-alive",
        ReasonCode::NotAuthorized => {
            "; the client did something its policy does not allow (publish or subscribe to a topic outside it), or its certificate was revoked, deactivated or expired (AWS IoT and tether serve close the connections of a certificate that is no longer ACTIVE or valid)"
        }
        ReasonCode::QosNotSupported => "; lower the QoS (AWS IoT supports QoS 0 and 1 only)",
        _ => "",
    }
}

fn suback_words(reason: ReasonCode, protocol: Protocol) -> String {
    let why = "the broker does not let this client subscribe to it (its ACL, or on AWS IoT the \
               iot:Subscribe resources of the policy attached to the certificate)";
    if protocol.is_v5() {
        match reason {
            ReasonCode::NotAuthorized => format!("{reason}: {why}"),
            _ => reason.to_string(),
        }
    } else {
        format!("SUBACK return code 0x80 (failure): {why}")
    }
}

/// Turns an IO failure on an established connection into words.
pub(crate) fn io_detail(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset => "the server reset the connection".to_owned(),
        io::ErrorKind::ConnectionAborted => "the connection was aborted".to_owned(),
        io::ErrorKind::BrokenPipe => "the server had already closed the connection".to_owned(),
        io::ErrorKind::TimedOut => "the connection timed out".to_owned(),
        _ => format!("{error} ({:?})", error.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_names_itself_and_its_two_likely_causes() {
        let error = Error::TlsAlert {
            host: "broker".into(),
            port: 8883,
            alert: Alert::HANDSHAKE_FAILURE,
            during: "during the TLS handshake",
            hint: None,
        };
        let text = error.to_string();
        assert!(text.contains("TLS alert 40 handshake_failure"), "{text}");
        assert!(text.contains("no common TLS version"), "{text}");
        assert!(
            text.contains("; or a server that requires a client certificate got none"),
            "{text}"
        );
        assert!(!text.contains("some gateways"), "{text}");
    }

    #[test]
    fn refusals_use_the_words_of_each_protocol_version() {
        let v3 = Error::Refused {
            protocol: Protocol::V311,
            reason: ReasonCode::NotAuthorized,
            reason_string: None,
        };
        assert!(
            v3.to_string()
                .contains("CONNACK return code 5 (not authorised)"),
            "{v3}"
        );
        let v5 = Error::Refused {
            protocol: Protocol::V5,
            reason: ReasonCode::BadUserNameOrPassword,
            reason_string: Some("who are you".into()),
        };
        let text = v5.to_string();
        assert!(
            text.contains("CONNACK reason 0x86 Bad User Name or Password (\"who are you\")"),
            "{text}"
        );
        assert_eq!(v5.reason_code(), Some(ReasonCode::BadUserNameOrPassword));
    }

    #[test]
    fn a_takeover_says_what_happened() {
        let error = Error::DisconnectedByServer {
            reason: ReasonCode::SessionTakenOver,
            reason_string: None,
        };
        let text = error.to_string();
        assert!(text.contains("0x8E Session taken over"), "{text}");
        assert!(text.contains("same client id"), "{text}");
    }
}
