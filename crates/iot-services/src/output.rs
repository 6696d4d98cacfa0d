//! What a service hands back to the broker: messages to publish through it (subscribers are
//! authorized for `iot:Receive` as for any message) and messages for one connection only
//! (Jobs and fleet provisioning answer the requesting client alone). Plain data, converted to
//! the broker's message type at the server's edge.

/// A message a service publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    /// The topic.
    pub topic: String,
    /// The payload (JSON, or CBOR on fleet provisioning's `cbor` topics).
    pub payload: Vec<u8>,
    /// QoS 0 or 1.
    pub qos: u8,
    /// MQTT 5 properties (a rule's republish `headers`); `None` for plain service messages.
    pub headers: Option<Box<MessageHeaders>>,
    /// How many rule republishes led to this message (0 when no rule published it): the rules
    /// engine stops republish loops with it.
    pub hops: u8,
}

/// MQTT 5 publish properties a service sets (the republish action's `headers`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageHeaders {
    /// Payload Format Indicator: 1 for UTF-8 text.
    pub payload_format_indicator: Option<u8>,
    /// Content Type.
    pub content_type: Option<String>,
    /// Response Topic.
    pub response_topic: Option<String>,
    /// Correlation Data.
    pub correlation_data: Option<Vec<u8>>,
    /// Message Expiry Interval, seconds.
    pub message_expiry: Option<u32>,
    /// User Properties, in order.
    pub user_properties: Vec<(String, String)>,
}

impl OutMessage {
    /// A QoS 0 message with a JSON payload.
    pub fn json(topic: impl Into<String>, payload: &serde_json::Value) -> OutMessage {
        OutMessage {
            topic: topic.into(),
            payload: payload.to_string().into_bytes(),
            qos: 0,
            headers: None,
            hops: 0,
        }
    }
}

/// Everything a service wants published after handling one request or event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Published through the broker, in order.
    pub publish: Vec<OutMessage>,
    /// Sent to one connection only (by the server's connection number), in order.
    pub direct: Vec<(u64, OutMessage)>,
}

impl Output {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.publish.is_empty() && self.direct.is_empty()
    }

    /// Appends another output's messages after this one's.
    pub fn extend(&mut self, other: Output) {
        self.publish.extend(other.publish);
        self.direct.extend(other.direct);
    }
}
