//! What the broker asks its owner to do: deliver to a connection, close a connection, persist a
//! state change, hand a message to a service, record a denial or a limit. Effects are data; the
//! server's router task carries them out in the order they are produced. Nothing here performs
//! them.

use std::sync::Arc;

use mqtt_proto::{MqttStr, Protocol, ReasonCode, SubscriptionOptions, TopicFilter, TopicName};

use crate::auth::Denial;
use crate::message::{Delivery, Message};

/// A network connection, numbered by the server. Unique for the broker's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// One thing for the server to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this delivery on that connection (the connection task assigns the packet id and
    /// holds it while its in-flight window is full).
    Deliver {
        /// Target connection.
        conn: ConnId,
        /// What to send.
        delivery: Delivery,
    },
    /// Close another connection (takeover, administrative action). For MQTT 5 send
    /// DISCONNECT with `reason` first. The server still calls
    /// [`crate::Broker::handle_disconnect`] for it when its task ends.
    Close {
        /// Connection to close.
        conn: ConnId,
        /// DISCONNECT reason (MQTT 5).
        reason: ReasonCode,
    },
    /// Apply this change to durable storage. Only persistent sessions (expiry > 0) and
    /// retained messages produce these.
    Persist(PersistOp),
    /// Hand this message to a service of the server (it matched one of its
    /// [`crate::ServiceRoute`]s), after the publisher's authorization.
    ToService {
        /// Which service.
        service: crate::ServiceId,
        /// The publishing connection; `None` for a message the server published.
        from: Option<ConnId>,
        /// The message, as routed.
        message: Arc<Message>,
    },
    /// An authorization denial, for the log and the refusal record: who, what, on which
    /// resource, and why.
    Denied {
        /// The connection whose request was denied (the subscriber's for `iot:Receive`); `None`
        /// for a delivery to an offline session.
        conn: Option<ConnId>,
        /// Client id.
        client_id: MqttStr,
        /// AWS action name of the broker's question (`iot:Publish`...).
        action: &'static str,
        /// Resource (`topic/a/b`...).
        resource: String,
        /// The authorizer's answer.
        denial: Denial,
    },
    /// A request refused for a limit of the profile (not for authorization), for the log and
    /// the refusal record. The client's answer is the operation's outcome.
    Limited {
        /// The connection whose request was refused.
        conn: ConnId,
        /// Client id, when the session exists (not for a refused CONNECT's own id).
        client_id: Option<MqttStr>,
        /// The packet refused: `CONNECT`, `PUBLISH` or `SUBSCRIBE`.
        packet: &'static str,
        /// Its topic, topic filter or client id.
        resource: String,
        /// The limit and its value, in words.
        limit: String,
        /// The reason code the client gets (or the connection is closed with).
        reason: ReasonCode,
    },
}

/// A durable state change. Applying them in order to an empty store and reloading with
/// [`crate::Broker::restore_session`] / [`crate::Broker::restore_retained`] rebuilds the
/// broker's persistent state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersistOp {
    /// A persistent session was created or its expiry interval changed.
    SessionUpserted {
        /// Client id.
        client_id: MqttStr,
        /// Session expiry interval in seconds (`u32::MAX`: never).
        expiry_interval: u32,
        /// Protocol of the connection that owns it.
        protocol: Protocol,
    },
    /// The session ended; delete it with its subscriptions and queue.
    SessionDeleted {
        /// Client id.
        client_id: MqttStr,
    },
    /// A subscription was added or replaced.
    SubscriptionAdded {
        /// Client id.
        client_id: MqttStr,
        /// Filter as written.
        filter: TopicFilter,
        /// Options granted (QoS already downgraded to what was granted).
        options: SubscriptionOptions,
        /// MQTT 5 subscription identifier.
        subscription_id: Option<u32>,
    },
    /// A subscription was removed.
    SubscriptionRemoved {
        /// Client id.
        client_id: MqttStr,
        /// Filter as written.
        filter: TopicFilter,
    },
    /// A retained message was stored (replacing any previous one on its topic).
    RetainedSet(Arc<Message>),
    /// The retained message on this topic was deleted (empty payload or expiry).
    RetainedCleared {
        /// Topic.
        topic: TopicName,
    },
    /// A message was queued for an offline persistent session.
    MessageQueued {
        /// Client id.
        client_id: MqttStr,
        /// Position in the session's queue (increasing).
        seq: u64,
        /// The queued delivery.
        delivery: Delivery,
    },
    /// One queued message left the queue without being delivered (expired or dropped because
    /// the queue was full).
    MessageDequeued {
        /// Client id.
        client_id: MqttStr,
        /// Its position.
        seq: u64,
    },
    /// The whole queue was handed to a connection on resume.
    QueueCleared {
        /// Client id.
        client_id: MqttStr,
    },
}
