//! The bridge between broker-core's durable state and the store: `PersistOp` → `WriteOp` on
//! the way out, the start-up reload of sessions and retained messages into the broker on the
//! way back ([`restore`]), and the message blob format both use (an MQTT 5 PUBLISH encoded by
//! `mqtt-proto`, the project's only codec). Times cross here from the broker's monotonic
//! `Instant` to wall-clock milliseconds and back. It does not write: the store's group-commit
//! writer does.

use std::sync::Arc;

use broker_core::{Broker, Delivery, Message, PersistOp, StoredSession};
use bytes::{Bytes, BytesMut};
use mqtt_proto::time::Instant;
use mqtt_proto::{
    MqttStr, Packet, PacketId, Protocol, Publish, QoS, SubscriptionOptions, TopicFilter,
};
use store::{QueuedMessage, RetainedMessage, SessionRecord, SubscriptionRecord, WriteOp};

use crate::auth::{Identity, Principal, ServerAuthorizer};
use crate::clock::Clock;

/// Sequence numbers of deliveries written for live connections start here, above any number
/// broker-core gives the messages it queues for offline sessions. Each run starts its counter
/// from the wall clock, so numbers never repeat across restarts and the rows of an earlier run
/// sort below this run's floor.
const LIVE_SEQ_BASE: u64 = 1 << 62;

/// Reloads the persistent state an earlier run saved (retained messages, persistent sessions
/// with their subscriptions and queues) into `broker`. Returns the first queue sequence number
/// this run gives a delivery in flight on a live connection: above every stored number, so the
/// rows below it are the earlier run's.
pub fn restore(
    broker: &mut Broker<ServerAuthorizer>,
    state: store::BrokerState,
    clock: &Clock,
) -> u64 {
    let now = clock.now();
    let newest = state
        .sessions
        .iter()
        .flat_map(|s| s.queue.iter().map(|m| m.seq))
        .max()
        .unwrap_or(0);
    let from_clock = u64::try_from(clock.wall_ms()).unwrap_or(0) << 12;
    let live_floor = (LIVE_SEQ_BASE + from_clock).max(newest.saturating_add(1));
    for retained in state.retained {
        let expires_at = retained.expires_ms.map(|ms| clock.instant_of(ms));
        let what = format!("retained topic {:?}", retained.topic);
        match decode_delivery(&retained.message, &what, expires_at) {
            Ok(delivery) => broker.restore_retained(delivery.message, now),
            Err(e) => tracing::warn!("{e}"),
        }
    }
    for stored in state.sessions {
        if let Some(session) = stored_session(stored) {
            broker.restore_session(session, now);
        }
    }
    live_floor
}

/// A stored session as broker-core takes it back; `None` when its client id is unusable.
fn stored_session(stored: store::PersistedSession) -> Option<StoredSession<Principal>> {
    let client_id = MqttStr::new(&stored.session.client_id).ok()?;
    let protocol = match stored.session.protocol_level {
        5 => Protocol::V5,
        3 => Protocol::V31,
        _ => Protocol::V311,
    };
    let subscriptions = stored
        .subscriptions
        .iter()
        .filter_map(|s| {
            let filter = filter(&s.filter)?;
            Some((filter, options_from_byte(s.options), s.subscription_id))
        })
        .collect();
    let queued = stored
        .queue
        .iter()
        .filter_map(|m| {
            let what = format!("queue of {} #{}", stored.session.client_id, m.seq);
            decode_delivery(&m.message, &what, None)
                .map_err(|e| tracing::warn!("{e}"))
                .ok()
        })
        .collect();
    Some(StoredSession {
        client_id,
        expiry_interval: stored.session.expiry_interval_s,
        protocol,
        principal: Principal::new(Identity::Restored),
        subscriptions,
        queued,
    })
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
}
