//! Application messages as the broker holds them (`Message`, shared through `Arc` once per
//! publish) and one subscriber's copy of one (`Delivery`: QoS, RETAIN and subscription ids as
//! delivered). Packet ids, topic aliases and encoding belong to the server's connection task.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::properties::PublishProperties;
use mqtt_proto::time::Instant;
use mqtt_proto::{MqttStr, PacketId, Publish, QoS, TopicName};

/// An application message as published (by a client, a will, or the server itself).
///
/// `properties` never carries a topic alias or subscription identifiers (those are per
/// connection and per subscriber); its `message_expiry_interval` is the interval as published
/// after profile clamping, while `expires_at` is the absolute deadline computed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic name.
    pub topic: TopicName,
    /// Payload, shared with the receive buffer.
    pub payload: Bytes,
    /// QoS as published (already capped by the profile).
    pub qos: QoS,
    /// RETAIN as published.
    pub retain: bool,
    /// MQTT 5 publish properties (no alias, no subscription identifiers).
    pub properties: PublishProperties,
    /// When the message expires (MQTT 5 Message Expiry Interval), if it does.
    pub expires_at: Option<Instant>,
    /// Client id of the publisher, for No Local; `None` for messages the server originates.
    pub publisher: Option<MqttStr>,
}

impl Message {
    /// A message with no properties, no expiry and no publisher (server-originated).
    pub fn new(topic: TopicName, payload: Bytes, qos: QoS, retain: bool) -> Message {
        Message {
            topic,
            payload,
            qos,
            retain,
            properties: PublishProperties::default(),
            expires_at: None,
            publisher: None,
        }
    }

    /// True once `now` has reached the expiry deadline.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Whole seconds of life left at `now`, rounded down (AWS: 999 ms left reads as 0);
    /// `None` when the message does not expire.
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|at| {
            let secs = (at - now).as_secs();
            u32::try_from(secs).unwrap_or(u32::MAX)
        })
    }

    /// Sets the expiry from an MQTT 5 Message Expiry Interval received at `now`.
    pub(crate) fn set_expiry(&mut self, interval: Option<u32>, now: Instant) {
        self.properties.message_expiry_interval = interval;
        self.expires_at = interval.map(|secs| now + Duration::from_secs(u64::from(secs)));
    }
}

/// One subscriber's copy of a message: what the connection task turns into a PUBLISH.
///
/// Cloning is cheap: the message is shared and `subscription_ids` is empty unless the
/// subscriber used MQTT 5 subscription identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The shared message.
    pub message: Arc<Message>,
    /// QoS as delivered: the lower of the message's and the subscription's.
    pub qos: QoS,
    /// RETAIN as delivered: 1 for retained messages sent at subscribe time, the published flag
    /// for Retain As Published subscriptions, else 0.
    pub retain: bool,
    /// Identifiers of every matching subscription that has one (MQTT 5 §3.3.4).
    pub subscription_ids: Vec<u32>,
    /// DUP as delivered: true for a re-send of a delivery that was in flight when the previous
    /// connection of the session closed.
    pub dup: bool,
}

impl Delivery {
    /// A first-time delivery of `message` at `qos` without subscription ids.
    pub fn new(message: Arc<Message>, qos: QoS, retain: bool) -> Delivery {
        Delivery {
            message,
            qos,
            retain,
            subscription_ids: Vec::new(),
            dup: false,
        }
    }

    /// Builds the PUBLISH for this delivery at `now`. `packet_id` is used only for QoS > 0;
    /// the Message Expiry Interval is the remaining lifetime (MQTT 5 §3.3.2.3.3).
    pub fn to_publish(&self, packet_id: PacketId, now: Instant) -> Publish {
        let mut properties = self.message.properties.clone();
        properties.message_expiry_interval = self.message.remaining_expiry(now);
        properties.topic_alias = None;
        properties
            .subscription_identifiers
            .clone_from(&self.subscription_ids);
        Publish {
            dup: self.dup && self.qos != QoS::AtMostOnce,
            delivery: mqtt_proto::Delivery::new(self.qos, packet_id),
            retain: self.retain,
            topic: self.message.topic.clone(),
            properties,
            payload: self.message.payload.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_expiry_rounds_down() {
        let mut m = Message::new(
            TopicName::new("a").unwrap(),
            Bytes::new(),
            QoS::AtLeastOnce,
            false,
        );
        m.set_expiry(Some(10), Instant::from_secs(100));
        assert_eq!(m.remaining_expiry(Instant::from_millis(100_001)), Some(9));
        assert_eq!(m.remaining_expiry(Instant::from_millis(109_001)), Some(0));
        assert!(!m.is_expired(Instant::from_millis(109_999)));
        assert!(m.is_expired(Instant::from_secs(110)));
    }

    #[test]
    fn to_publish_carries_delivery_fields() {
        let m = Arc::new(Message::new(
            TopicName::new("t").unwrap(),
            Bytes::from_static(b"x"),
            QoS::ExactlyOnce,
            true,
        ));
        let mut d = Delivery::new(m, QoS::AtLeastOnce, false);
        d.subscription_ids = vec![3, 7];
        d.dup = true;
        let p = d.to_publish(PacketId::new(9).unwrap(), Instant::ZERO);
        assert_eq!(
            p.delivery,
            mqtt_proto::Delivery::AtLeastOnce(PacketId::new(9).unwrap())
        );
        assert!(p.dup);
        assert!(!p.retain);
        assert_eq!(p.properties.subscription_identifiers, vec![3, 7]);
        assert_eq!(p.properties.message_expiry_interval, None);
    }
}
