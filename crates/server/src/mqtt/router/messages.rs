//! What crosses the router's channels: [`Command`]s from connection tasks, the registry watcher,
//! the HTTP API and the services worker; [`ToConn`] messages to one connection task; the
//! [`ConnectReply`] to a CONNECT. Plain data: the router decides, these only carry.

use std::collections::HashMap;
use std::sync::Arc;

use broker_core::{ConnId, Connected, Delivery, DisconnectKind};
use mqtt_proto::session::server::ServerSession;
use mqtt_proto::{Connect, PacketId, Publish, ReasonCode, Subscribe, Unsubscribe};
use tokio::sync::{mpsc, oneshot};

use crate::auth::Principal;

/// Durable sequence numbers of in-flight deliveries, by packet id.
pub type InFlightSeqs = HashMap<u16, u64>;

/// What a connection task receives from the router.
#[derive(Debug)]
pub enum ToConn {
    /// Send this message to the client. With a sequence number, the delivery is on disk (in the
    /// session's queue) until the client acknowledges it: report that with `Command::Acked`.
    Deliver(Delivery, Option<u64>),
    /// The client's QoS 1/2 PUBLISH is handled (durable where it must be): send PUBACK/PUBREC.
    PublishDone {
        /// The client's packet id.
        packet_id: PacketId,
        /// The reason to acknowledge with.
        reason: ReasonCode,
    },
    /// Answer a SUBSCRIBE.
    SubAck {
        /// The SUBSCRIBE's packet id.
        packet_id: PacketId,
        /// One code per filter.
        reasons: Vec<ReasonCode>,
    },
    /// Answer an UNSUBSCRIBE.
    UnsubAck {
        /// The UNSUBSCRIBE's packet id.
        packet_id: PacketId,
        /// One code per filter.
        reasons: Vec<ReasonCode>,
    },
    /// Close the connection (MQTT 5: DISCONNECT with this reason first).
    Close(ReasonCode),
    /// Several of the above, applied in order before the connection reads its socket again:
    /// a PUBREC with the publisher's own copies, so a PUBREL it answers with cannot get its
    /// PUBCOMP out ahead of them.
    Batch(Vec<ToConn>),
}

/// The router's answer to a CONNECT.
// Sent once per connection through a oneshot channel: boxing the large variant would buy
// nothing but an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ConnectReply {
    /// Accepted: send CONNACK Success; `session` holds in-flight state to resume.
    Accepted {
        /// What the broker granted.
        connected: Connected,
        /// In-flight state of the resumed session (empty for a new one).
        session: ServerSession,
        /// Durable sequence numbers of the resumed session's in-flight deliveries, by packet id.
        inflight: InFlightSeqs,
    },
    /// Refused: send CONNACK with this reason and close.
    Refused(ReasonCode),
}

/// A request to the router.
#[derive(Debug)]
pub enum Command {
    /// A client sent CONNECT on connection `conn`.
    Connect {
        /// The connection.
        conn: ConnId,
        /// The decoded CONNECT.
        connect: Box<Connect>,
        /// Who the client is.
        principal: Principal,
        /// Where to send deliveries and answers.
        to_conn: mpsc::UnboundedSender<ToConn>,
        /// The answer.
        reply: oneshot::Sender<ConnectReply>,
    },
    /// A client published.
    Publish {
        /// The connection.
        conn: ConnId,
        /// The message (topic alias resolved).
        publish: Publish,
    },
    /// A client subscribed.
    Subscribe {
        /// The connection.
        conn: ConnId,
        /// The request.
        subscribe: Subscribe,
    },
    /// A client unsubscribed.
    Unsubscribe {
        /// The connection.
        conn: ConnId,
        /// The request.
        unsubscribe: Unsubscribe,
    },
    /// A connection ended.
    Disconnect {
        /// The connection.
        conn: ConnId,
        /// How it ended.
        kind: DisconnectKind,
        /// Why the server closed it, when it did (DISCONNECT reason, or the reason it would
        /// have sent to an MQTT 3.1.1 client).
        reason: Option<ReasonCode>,
        /// The protocol rule the client broke, in words, when that is why (for the refusal
        /// record).
        violation: Option<String>,
        /// MQTT 5 DISCONNECT's new session expiry, if any.
        session_expiry: Option<u32>,
        /// In-flight state to keep for a persistent session.
        session: ServerSession,
        /// Durable sequence numbers of its in-flight deliveries, by packet id.
        inflight: InFlightSeqs,
    },
    /// A durable delivery (`ToConn::Deliver` with a sequence number) was acknowledged by the
    /// client, or will never be sent (too large for the client): drop it from disk.
    Acked {
        /// The connection.
        conn: ConnId,
        /// The delivery's sequence number.
        seq: u64,
    },
    /// The certificate ids of live connections, for the registry watcher.
    LiveCertificates {
        /// The answer.
        reply: oneshot::Sender<Vec<(ConnId, String)>>,
    },
    /// Install what the registry attaches to a certificate (its policies): sent before the
    /// CONNECT of a device using it, and again whenever the registry changes.
    SetPolicies {
        /// The certificate id.
        certificate_id: String,
        /// Its policies and things.
        policies: Arc<crate::auth::DevicePolicies>,
    },
    /// Install (or replace) the policy layers of a connection without a certificate (SigV4 or a
    /// custom authorizer): sent before its CONNECT, and again when an authorizer's answer is
    /// refreshed.
    SetIdentityPolicies {
        /// The connection's key (`Identity::Iam`/`Custom`'s `key`).
        key: String,
        /// Its policy layers.
        policies: Arc<crate::auth::IdentityPolicies>,
    },
    /// Forget a connection's policy layers: it has ended (sent after its `Disconnect`).
    ForgetIdentity {
        /// The connection's key.
        key: String,
    },
    /// Close these connections (certificate no longer ACTIVE, administrative action).
    CloseConnections {
        /// Which.
        conns: Vec<ConnId>,
        /// MQTT 5 DISCONNECT reason.
        reason: ReasonCode,
    },
    /// A message the server itself publishes (the HTTP data plane). `reply` answers with the
    /// number of deliveries once the message is routed and its durable changes are committed.
    ServerPublish {
        /// The message.
        message: broker_core::Message,
        /// The answer.
        reply: oneshot::Sender<usize>,
    },
    /// What a service wants published after handling a request (from the services worker).
    ServiceOutput(iot_services::Output),
    /// Replace the broker's service routes (the services worker sends it after a topic rule
    /// change is committed): publishes routed from now on follow them.
    SetServiceRoutes(Vec<broker_core::ServiceRoute>),
    /// Every session the broker holds, for the web console's sessions page.
    Sessions {
        /// The answer, ordered by client id.
        reply: oneshot::Sender<Vec<broker_core::SessionView<Principal>>>,
    },
    /// Close the connection of `client_id` (MQTT 5: DISCONNECT 0x98 Administrative action), as
    /// the web console's kick asks; the answer says whether it was connected.
    Kick {
        /// The client id.
        client_id: String,
        /// The answer.
        reply: oneshot::Sender<bool>,
    },
    /// AWS `DeleteConnection`: close `client_id`'s live connection (MQTT 5: DISCONNECT 0x98),
    /// ending its session with it when `clean_session`, discarding its will when
    /// `prevent_will` (`broker_core::Broker::delete_connection`). The answer says whether it was
    /// connected.
    DeleteConnection {
        /// The client id.
        client_id: String,
        /// `cleanSession`.
        clean_session: bool,
        /// `preventWillMessage`.
        prevent_will: bool,
        /// The answer.
        reply: oneshot::Sender<bool>,
    },
    /// Close every connection and stop once they are gone.
    Shutdown,
}
