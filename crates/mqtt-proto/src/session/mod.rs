//! Sans-IO MQTT session state machines: [`client::ClientSession`] for a client connection and
//! [`server::ServerConnection`] for one client connection on a broker. They take bytes, packets
//! and the current [`Instant`](crate::time::Instant) through `handle_*` methods and give bytes to
//! send, events and the next deadline through `poll_*` methods. They own packet ids, the QoS 1/2
//! flows, keep-alive deadlines, receive maximum windows and topic aliases. They do not open
//! sockets, read clocks, persist anything or route messages between clients (that is the
//! broker's job).

pub mod client;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod inflight;
mod packet_id;
pub mod server;
mod topic_alias;

use bytes::{Bytes, BytesMut};

pub use error::{Error, Violation};

use crate::codec::MAX_PACKET_SIZE;
use crate::error::EncodeError;
use crate::packet::{Packet, PacketType, Publish};
use crate::properties::PublishProperties;
use crate::topic::TopicName;
use crate::types::{Delivery, PacketId, Protocol, QoS};

/// An application message to publish: what the caller decides. The session adds the packet
/// id, DUP flag and topic alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic to publish to (never the empty alias placeholder).
    pub topic: TopicName,
    /// Quality of service.
    pub qos: QoS,
    /// Whether the server should retain it.
    pub retain: bool,
    /// Application payload.
    pub payload: Bytes,
    /// MQTT 5 properties. Any `topic_alias` here is ignored: the session manages aliases.
    pub properties: PublishProperties,
}

impl Message {
    /// A message without retain and properties.
    pub fn new(topic: TopicName, qos: QoS, payload: impl Into<Bytes>) -> Self {
        Message {
            topic,
            qos,
            retain: false,
            payload: payload.into(),
            properties: PublishProperties::default(),
        }
    }

    /// The same message with the retain flag set as given.
    pub fn retained(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// The PUBLISH carrying this message, before a packet id is assigned.
    pub(crate) fn into_publish(self) -> Publish {
        let mut properties = self.properties;
        properties.topic_alias = None;
        Publish {
            dup: false,
            delivery: Delivery::AtMostOnce,
            retain: self.retain,
            topic: self.topic,
            properties,
            payload: self.payload,
        }
    }
}

/// Why a session gave up on a packet it had accepted from the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbandonReason {
    /// The connection ended before the flow completed. SUBSCRIBE and UNSUBSCRIBE are never
    /// resent ([MQTT-4.4.0-1] covers only PUBLISH and PUBREL), nor is a QoS 0 PUBLISH.
    ConnectionLost,
    /// The peer came back without the session (Session Present = 0), so the flow cannot be
    /// finished ([MQTT-3.2.2-5]).
    SessionLost,
    /// The packet is larger than the peer's Maximum Packet Size, learned after it was queued.
    PacketTooLarge {
        /// Encoded size.
        size: usize,
        /// The peer's limit.
        maximum: u32,
    },
    /// The server's Maximum QoS, learned after the message was queued, is lower than its QoS.
    QosNotSupported,
    /// The server does not support retained messages, learned after the message was queued.
    RetainNotSupported,
    /// The packet cannot be encoded for this protocol version.
    Unencodable(EncodeError),
}

/// The transmit buffer shared by both session types: packets are encoded as soon as they are
/// decided, so that encoding problems surface at the command that caused them.
#[derive(Debug, Default)]
pub(crate) struct Transmit {
    bytes: BytesMut,
}

impl Transmit {
    /// Encodes `packet` at the end of the buffer; on failure the buffer is left unchanged.
    pub(crate) fn push(&mut self, packet: &Packet, protocol: Protocol) -> Result<(), EncodeError> {
        let before = self.bytes.len();
        let result = packet.encode(protocol, &mut self.bytes);
        if result.is_err() {
            self.bytes.truncate(before);
        }
        result
    }

    /// [`Outbox::push`] for a PUBLISH held elsewhere (no copy into a [`Packet`]).
    pub(crate) fn push_publish(
        &mut self,
        publish: &Publish,
        protocol: Protocol,
    ) -> Result<(), EncodeError> {
        let before = self.bytes.len();
        let result = publish.encode(protocol, &mut self.bytes);
        if result.is_err() {
            self.bytes.truncate(before);
        }
        result
    }

    /// Moves everything encoded so far to `out`; false when there was nothing.
    pub(crate) fn drain_into(&mut self, out: &mut BytesMut) -> bool {
        if self.bytes.is_empty() {
            return false;
        }
        if out.is_empty() {
            // The usual case: hand the buffer over instead of copying it.
            core::mem::swap(out, &mut self.bytes);
        } else {
            out.extend_from_slice(&self.bytes);
            self.bytes.clear();
        }
        true
    }

    /// Drops everything not yet handed out (the connection is gone).
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
    }
}

/// [`check_size`] for a PUBLISH, without wrapping it in a [`Packet`].
pub(crate) fn check_publish_size(
    publish: &Publish,
    protocol: Protocol,
    maximum: Option<u32>,
) -> Result<(), Error> {
    within_limit(PacketType::Publish, publish.encoded_len(protocol)?, maximum)
}

/// Checks the encoded size of `packet` against the peer's limit (`None`: the protocol's own).
pub(crate) fn check_size(
    packet: &Packet,
    protocol: Protocol,
    maximum: Option<u32>,
) -> Result<(), Error> {
    within_limit(packet.packet_type(), packet.encoded_len(protocol)?, maximum)
}

/// `size` bytes of `packet` against the peer's limit (`None`: the protocol's own).
fn within_limit(packet: PacketType, size: usize, maximum: Option<u32>) -> Result<(), Error> {
    let maximum = maximum.unwrap_or(MAX_PACKET_SIZE);
    if u64::try_from(size).unwrap_or(u64::MAX) > u64::from(maximum) {
        Err(Error::PacketTooLarge {
            packet,
            size,
            maximum,
        })
    } else {
        Ok(())
    }
}

/// The acknowledgement packet of `kind` (PUBACK, PUBREC, PUBREL or PUBCOMP) for `id`. MQTT
/// 3.1.1 cannot carry a reason, so `reason` is dropped there.
pub(crate) fn ack_packet(
    kind: PacketType,
    id: PacketId,
    reason: crate::reason::ReasonCode,
    protocol: Protocol,
) -> Packet {
    let mut ack = crate::packet::PubAck::new(id);
    if protocol.is_v5() {
        ack.reason = reason;
    }
    match kind {
        PacketType::PubRec => Packet::PubRec(ack),
        PacketType::PubRel => Packet::PubRel(ack),
        PacketType::PubComp => Packet::PubComp(ack),
        _ => Packet::PubAck(ack),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draining_appends_to_what_the_caller_holds_and_loses_nothing() {
        let mut transmit = Transmit::default();
        transmit.push(&Packet::PingReq, Protocol::V311).unwrap();
        let mut out = BytesMut::new();
        assert!(transmit.drain_into(&mut out));
        assert_eq!(&out[..], &[0xC0, 0x00]);
        assert!(!transmit.drain_into(&mut out), "nothing left to hand over");

        transmit.push(&Packet::PingResp, Protocol::V311).unwrap();
        assert!(transmit.drain_into(&mut out));
        assert_eq!(
            &out[..],
            &[0xC0, 0x00, 0xD0, 0x00],
            "appended after what was there"
        );
        out.clear();
        transmit.push(&Packet::PingReq, Protocol::V311).unwrap();
        assert!(transmit.drain_into(&mut out));
        assert_eq!(&out[..], &[0xC0, 0x00]);
    }
}
