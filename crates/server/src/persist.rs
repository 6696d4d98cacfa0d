//! The bridge between broker-core's durable state changes and the store: `PersistOp` →
//! `WriteOp`, message blobs (an MQTT 5 PUBLISH encoded by `mqtt-proto`, the project's only
//! codec), and the start-up reload of sessions and retained messages into the broker. Times
//! cross here from the broker's monotonic `Instant` to wall-clock milliseconds and back.

use std::sync::Arc;
use std::time::Duration;

use broker_core::{Delivery, Message, PersistOp};
use bytes::{Bytes, BytesMut};
use mqtt_proto::time::Instant;
use mqtt_proto::{Packet, PacketId, Protocol, Publish, QoS, SubscriptionOptions, TopicFilter};
use store::{QueuedMessage, RetainedMessage, SessionRecord, SubscriptionRecord, WriteOp};

/// Maps the broker's monotonic clock to wall-clock time: both are read once at start-up.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: std::time::Instant,
    origin_wall_ms: i64,
}

impl Clock {
    /// A clock whose `Instant` origin is now.
    pub fn start() -> Clock {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Clock {
            origin: std::time::Instant::now(),
            origin_wall_ms: wall,
        }
    }

    /// The broker's `now`.
    pub fn now(&self) -> Instant {
        let elapsed = self.origin.elapsed().as_millis();
        Instant::from_millis(u64::try_from(elapsed).unwrap_or(u64::MAX))
    }

    /// Wall-clock milliseconds now.
    pub fn wall_ms(&self) -> i64 {
        self.wall_of(self.now())
    }

    /// Wall-clock milliseconds of a broker instant.
    pub fn wall_of(&self, instant: Instant) -> i64 {
        self.origin_wall_ms
            .saturating_add(i64::try_from(instant.as_millis()).unwrap_or(i64::MAX))
    }

    /// The broker instant of a wall-clock time (the origin for times before it).
    pub fn instant_of(&self, wall_ms: i64) -> Instant {
        let since = wall_ms.saturating_sub(self.origin_wall_ms).max(0);
        Instant::from_millis(u64::try_from(since).unwrap_or(0))
    }

    /// The tokio deadline of a broker instant.
    pub fn deadline(&self, instant: Instant) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.origin + Duration::from_millis(instant.as_millis()))
    }
}

/// Why a stored blob could not be turned back into a message.
#[derive(Debug, thiserror::Error)]
#[error("stored message for {what} is unreadable ({reason}); it was skipped")]
pub struct BlobError {
    what: String,
    reason: String,
}

/// Converts broker persistence operations into store writes. `live_floor` is the first queue
/// sequence number of deliveries in flight on this run's connections: handing a queue to a
/// connection clears the rows below it and keeps those.
pub fn write_ops(ops: Vec<PersistOp>, clock: &Clock, live_floor: u64) -> Vec<WriteOp> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        out.push(match op {
            PersistOp::SessionUpserted {
                client_id,
                expiry_interval,
                protocol,
            } => WriteOp::UpsertSession(SessionRecord {
                client_id: client_id.to_string(),
                protocol_level: protocol.level(),
                expiry_interval_s: expiry_interval,
                disconnected_ms: None,
                will: None,
            }),
            PersistOp::SessionDeleted { client_id } => WriteOp::DeleteSession {
                client_id: client_id.to_string(),
            },
            PersistOp::SubscriptionAdded {
                client_id,
                filter,
                options,
                subscription_id,
            } => WriteOp::AddSubscription(SubscriptionRecord {
                client_id: client_id.to_string(),
                filter: filter.to_string(),
                options: options_byte(&options),
                subscription_id,
            }),
            PersistOp::SubscriptionRemoved { client_id, filter } => WriteOp::RemoveSubscription {
                client_id: client_id.to_string(),
                filter: filter.to_string(),
            },
            PersistOp::RetainedSet(message) => WriteOp::SetRetained(RetainedMessage {
                topic: message.topic.to_string(),
                message: encode_message(&message, message.qos, message.retain, false, &[]),
                expires_ms: message.expires_at.map(|at| clock.wall_of(at)),
                updated_ms: clock.wall_ms(),
            }),
            PersistOp::RetainedCleared { topic } => WriteOp::ClearRetained {
                topic: topic.to_string(),
            },
            PersistOp::MessageQueued {
                client_id,
                seq,
                delivery,
            } => WriteOp::Enqueue(QueuedMessage {
                client_id: client_id.to_string(),
                seq,
                message: encode_delivery(&delivery),
                packet_id: None,
            }),
            PersistOp::MessageDequeued { client_id, seq } => WriteOp::Ack {
                client_id: client_id.to_string(),
                seq,
            },
            PersistOp::QueueCleared { client_id } => WriteOp::ClearQueue {
                client_id: client_id.to_string(),
                below_seq: live_floor,
            },
        });
    }
    out
}

/// The SUBSCRIBE options byte (MQTT 5 §3.8.3.1).
pub fn options_byte(options: &SubscriptionOptions) -> u8 {
    (options.qos as u8)
        | (u8::from(options.no_local) << 2)
        | (u8::from(options.retain_as_published) << 3)
        | ((options.retain_handling as u8) << 4)
}

/// Parses an options byte written by [`options_byte`].
pub fn options_from_byte(byte: u8) -> SubscriptionOptions {
    SubscriptionOptions {
        qos: QoS::from_u8(byte & 0b11).unwrap_or(QoS::AtMostOnce),
        no_local: byte & 0b100 != 0,
        retain_as_published: byte & 0b1000 != 0,
        retain_handling: match (byte >> 4) & 0b11 {
            1 => mqtt_proto::RetainHandling::SendIfNew,
            2 => mqtt_proto::RetainHandling::DoNotSend,
            _ => mqtt_proto::RetainHandling::SendAtSubscribe,
        },
    }
}

/// A queued delivery as a PUBLISH blob: QoS, RETAIN and DUP as delivered, subscription ids.
pub fn encode_delivery(delivery: &Delivery) -> Vec<u8> {
    encode_message(
        &delivery.message,
        delivery.qos,
        delivery.retain,
        delivery.dup,
        &delivery.subscription_ids,
    )
}

fn encode_message(
    message: &Message,
    qos: QoS,
    retain: bool,
    dup: bool,
    subscription_ids: &[u32],
) -> Vec<u8> {
    let mut properties = message.properties.clone();
    properties.subscription_identifiers = subscription_ids.to_vec();
    properties.topic_alias = None;
    let packet = Packet::Publish(Publish {
        dup: dup && qos != QoS::AtMostOnce,
        delivery: mqtt_proto::Delivery::new(qos, PacketId::MIN),
        retain,
        topic: message.topic.clone(),
        properties,
        payload: message.payload.clone(),
    });
    let mut buf = BytesMut::new();
    // A message the broker accepted always re-encodes; an error here would be a codec bug,
    // and an empty blob is then skipped (and reported) at load time.
    if packet.encode(Protocol::V5, &mut buf).is_err() {
        buf.clear();
    }
    buf.to_vec()
}

/// Decodes a blob back into a message and how it was to be delivered.
pub fn decode_delivery(
    blob: &[u8],
    what: &str,
    expires_at: Option<Instant>,
) -> Result<Delivery, BlobError> {
    let error = |reason: String| BlobError {
        what: what.to_owned(),
        reason,
    };
    let packet = mqtt_proto::codec::decode(Bytes::copy_from_slice(blob), Protocol::V5)
        .map_err(|e| error(e.to_string()))?;
    let Packet::Publish(publish) = packet else {
        return Err(error("not a PUBLISH".to_owned()));
    };
    let mut properties = publish.properties;
    let subscription_ids = std::mem::take(&mut properties.subscription_identifiers);
    let qos = publish.delivery.qos();
    let message = Message {
        topic: publish.topic,
        payload: publish.payload,
        qos,
        retain: publish.retain,
        properties,
        expires_at,
        publisher: None,
    };
    Ok(Delivery {
        message: Arc::new(message),
        qos,
        retain: publish.retain,
        subscription_ids,
        dup: publish.dup,
    })
}

/// Parses a stored filter; stored filters were valid when written.
pub fn filter(text: &str) -> Option<TopicFilter> {
    TopicFilter::new(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::{RetainHandling, TopicName};

    #[test]
    fn options_byte_round_trips() {
        let options = SubscriptionOptions {
            qos: QoS::ExactlyOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::DoNotSend,
        };
        assert_eq!(options_byte(&options), 0b0010_1110);
        assert_eq!(options_from_byte(options_byte(&options)), options);
    }

    #[test]
    fn deliveries_survive_the_blob_format() {
        let mut message = Message::new(
            TopicName::new("devices/1/telemetry").unwrap(),
            Bytes::from_static(b"{\"t\":21}"),
            QoS::AtLeastOnce,
            true,
        );
        message.properties.content_type =
            Some(mqtt_proto::MqttStr::new("application/json").unwrap());
        let delivery = Delivery {
            message: Arc::new(message),
            qos: QoS::AtLeastOnce,
            retain: false,
            subscription_ids: vec![7],
            dup: true,
        };
        let blob = encode_delivery(&delivery);
        let back = decode_delivery(&blob, "test", None).unwrap();
        assert_eq!(back.message.topic, delivery.message.topic);
        assert_eq!(back.message.payload, delivery.message.payload);
        assert_eq!(
            back.message.properties.content_type,
            delivery.message.properties.content_type
        );
        assert_eq!(back.subscription_ids, vec![7]);
        assert!(back.dup);
        assert!(!back.retain);
    }

    #[test]
    fn a_damaged_blob_is_an_error_naming_its_owner() {
        let err = decode_delivery(&[0x30, 0x05, 0x00], "queue of dev-1 #3", None).unwrap_err();
        assert!(err.to_string().contains("queue of dev-1 #3"), "{err}");
    }

    #[test]
    fn wall_clock_and_instants_map_both_ways() {
        let clock = Clock::start();
        let now = clock.now();
        let wall = clock.wall_of(now);
        assert_eq!(clock.instant_of(wall), now);
    }
}
