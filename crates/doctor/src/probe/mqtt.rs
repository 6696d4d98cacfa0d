//! The MQTT part of a probe over an established TLS stream: CONNECT/CONNACK, then an optional
//! SUBSCRIBE + PUBLISH round trip, all packets built and parsed with `mqtt-proto`'s codec
//! (the one codec of the workspace). Blocking, with the socket's read timeout as the deadline;
//! it keeps no session state beyond one probe and does no retries.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_proto::properties::{ConnectProperties, PublishProperties, SubscribeProperties};
use mqtt_proto::{
    ConnAck, Connect, Decoder, Delivery, MAX_PACKET_SIZE, MqttStr, Packet, PacketId, Protocol,
    PubAck, Publish, QoS, ReasonCode, Subscribe, SubscriptionOptions, TopicFilter, TopicName,
};
use openssl::ssl::{ErrorCode, SslStream};
use tls::Alert;

/// How a read or write on the TLS stream ended badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server sent an alert (decoded from OpenSSL's error).
    Alert(Alert),
    /// The server closed the connection (close_notify or TCP FIN).
    Closed,
    /// Nothing arrived in time.
    Timeout,
    /// Anything else, in words.
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Alert(a) => write!(f, "the server sent alert {a}"),
            Failure::Closed => f.write_str("the server closed the connection"),
            Failure::Timeout => f.write_str("no answer before the timeout"),
            Failure::Other(s) => f.write_str(s),
        }
    }
}

/// A blocking MQTT conversation over one stream.
pub(crate) struct Conversation<'a, S: Read + Write> {
    stream: &'a mut SslStream<S>,
    decoder: Decoder,
    buf: BytesMut,
    protocol: Protocol,
}

impl<'a, S: Read + Write> Conversation<'a, S> {
    pub(crate) fn new(stream: &'a mut SslStream<S>, protocol: Protocol) -> Self {
        Conversation {
            stream,
            decoder: Decoder::new(protocol, MAX_PACKET_SIZE),
            buf: BytesMut::with_capacity(4096),
            protocol,
        }
    }

    /// Sends CONNECT and waits for CONNACK.
    pub(crate) fn connect(
        &mut self,
        client_id: &MqttStr,
        keep_alive: u16,
    ) -> Result<ConnAck, Failure> {
        let connect = Packet::Connect(Box::new(Connect {
            protocol: self.protocol,
            clean_start: true,
            keep_alive,
            client_id: client_id.clone(),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }));
        self.send(&connect)?;
        match self.receive()? {
            Packet::ConnAck(ack) => Ok(ack),
            other => Err(Failure::Other(format!(
                "expected CONNACK, got {:?}",
                other.packet_type()
            ))),
        }
    }

    /// Subscribes to `topic` at QoS 1, publishes `payload` to it at QoS 1, and waits for the
    /// SUBACK, the PUBACK and the message coming back. Returns the granted QoS code.
    pub(crate) fn round_trip(
        &mut self,
        topic: &TopicName,
        payload: Bytes,
        deadline: Duration,
    ) -> Result<RoundTrip, Failure> {
        let (Some(sub_id), Some(pub_id)) = (PacketId::new(1), PacketId::new(2)) else {
            return Err(Failure::Other("packet ids 1 and 2 are valid".to_owned()));
        };
        let filter = TopicFilter::new(topic.as_str())
            .map_err(|e| Failure::Other(format!("topic {} as a filter: {e}", topic.as_str())))?;
        self.send(&Packet::Subscribe(Subscribe {
            packet_id: sub_id,
            properties: SubscribeProperties::default(),
            filters: vec![(filter, SubscriptionOptions::with_qos(QoS::AtLeastOnce))],
        }))?;
        let started = Instant::now();
        let mut result = RoundTrip::default();
        loop {
            if started.elapsed() > deadline {
                return Err(Failure::Timeout);
            }
            match self.receive()? {
                Packet::SubAck(ack) if ack.packet_id == sub_id => {
                    let code = ack.reasons.first().copied();
                    result.granted = code;
                    if code.is_none_or(ReasonCode::is_error) {
                        return Ok(result);
                    }
                    self.send(&Packet::Publish(Publish {
                        dup: false,
                        delivery: Delivery::new(QoS::AtLeastOnce, pub_id),
                        retain: false,
                        topic: topic.clone(),
                        properties: PublishProperties::default(),
                        payload: payload.clone(),
                    }))?;
                }
                Packet::PubAck(ack) if ack.packet_id == pub_id => {
                    result.puback = Some(ack.reason);
                }
                Packet::Publish(p) if p.topic.as_str() == topic.as_str() => {
                    if let Some(id) = p.delivery.packet_id() {
                        self.send(&Packet::PubAck(PubAck {
                            packet_id: id,
                            reason: ReasonCode::Success,
                            properties: Default::default(),
                        }))?;
                    }
                    if p.payload == payload {
                        result.echoed = true;
                    }
                }
                _ => {}
            }
            if result.puback.is_some() && result.echoed {
                return Ok(result);
            }
        }
    }

    /// Sends DISCONNECT (best effort).
    pub(crate) fn disconnect(&mut self) {
        let _ = self.send(&Packet::Disconnect(Default::default()));
        let _ = self.stream.shutdown();
    }

    fn send(&mut self, packet: &Packet) -> Result<(), Failure> {
        let mut out = Vec::new();
        packet.encode(self.protocol, &mut out).map_err(|e| {
            Failure::Other(format!("cannot encode {:?}: {e}", packet.packet_type()))
        })?;
        self.stream.write_all(&out).map_err(|e| io_failure(&e))?;
        self.stream.flush().map_err(|e| io_failure(&e))
    }

    fn receive(&mut self) -> Result<Packet, Failure> {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(packet)) => return Ok(packet),
                Ok(None) => {}
                Err(e) => {
                    return Err(Failure::Other(format!(
                        "the server sent a malformed packet: {e}"
                    )));
                }
            }
            let mut chunk = [0u8; 4096];
            match self.stream.ssl_read(&mut chunk) {
                Ok(0) => return Err(Failure::Closed),
                Ok(n) => self
                    .buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) => return Err(ssl_failure(&e)),
            }
        }
    }
}

/// What a round trip achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RoundTrip {
    /// The SUBACK code.
    pub granted: Option<ReasonCode>,
    /// The PUBACK reason.
    pub puback: Option<ReasonCode>,
    /// Whether our message came back.
    pub echoed: bool,
}

/// Classifies an OpenSSL read/handshake error: alert, clean close, timeout or other.
pub(crate) fn ssl_failure(err: &openssl::ssl::Error) -> Failure {
    if err.code() == ErrorCode::ZERO_RETURN {
        return Failure::Closed;
    }
    if let Some(alert) = alert_in_error(err) {
        return Failure::Alert(alert);
    }
    if let Some(io) = err.io_error() {
        return io_failure(io);
    }
    if openssl_reasons(err).is_some_and(|r| r.contains("unexpected eof")) {
        return Failure::Closed;
    }
    if err.code() == ErrorCode::SYSCALL && openssl_reasons(err).is_none() {
        return Failure::Closed;
    }
    Failure::Other(openssl_reasons(err).unwrap_or_else(|| err.to_string()))
}

fn io_failure(e: &std::io::Error) -> Failure {
    // SslStream's Read/Write wrap OpenSSL errors in io::Error (kind Other): look inside, so an
    // alert or a close during a write is classified like one during a read.
    if let Some(ssl) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<openssl::ssl::Error>())
    {
        return ssl_failure(ssl);
    }
    if e.to_string()
        .to_ascii_lowercase()
        .contains("unexpected eof")
    {
        return Failure::Closed;
    }
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Failure::Timeout,
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::BrokenPipe => Failure::Closed,
        _ => Failure::Other(e.to_string()),
    }
}

/// OpenSSL's reason strings, joined.
pub(crate) fn openssl_reasons(err: &openssl::ssl::Error) -> Option<String> {
    let stack = err.ssl_error()?;
    let reasons: Vec<&str> = stack.errors().iter().filter_map(|e| e.reason()).collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// An alert the peer sent, from OpenSSL's reason text ("sslv3 alert handshake failure",
/// "tlsv1 alert protocol version", "tlsv13 alert certificate required", "ssl/tls alert bad
/// certificate").
pub(crate) fn alert_in_error(err: &openssl::ssl::Error) -> Option<Alert> {
    let stack = err.ssl_error()?;
    stack
        .errors()
        .iter()
        .filter_map(|e| e.reason())
        .find_map(alert_in_reason)
}

pub(crate) fn alert_in_reason(reason: &str) -> Option<Alert> {
    let (prefix, name) = reason.split_once(" alert ")?;
    let prefix = prefix.trim();
    let from_peer = ["sslv3", "tlsv1", "tlsv13", "ssl/tls"].contains(&prefix);
    from_peer.then(|| Alert::from_name(name)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_reasons_of_each_openssl_spelling() {
        assert_eq!(
            alert_in_reason("sslv3 alert handshake failure"),
            Some(Alert(40))
        );
        assert_eq!(
            alert_in_reason("tlsv1 alert protocol version"),
            Some(Alert(70))
        );
        assert_eq!(
            alert_in_reason("tlsv13 alert certificate required"),
            Some(Alert(116))
        );
        assert_eq!(
            alert_in_reason("ssl/tls alert bad certificate"),
            Some(Alert(42))
        );
        assert_eq!(alert_in_reason("unsupported protocol"), None);
        assert_eq!(alert_in_reason("no alert here at all"), None);
    }
}
