//! The router's side of the AWS IoT services (profile `aws` only): lifecycle events at the
//! moments the broker decides them (connected, connect_failed, disconnected with AWS's reason,
//! subscribed, unsubscribed), publishes a service claimed sent to the services worker, and what
//! the services hand back published through the broker. Lifecycle events need no store, so they
//! are built right here, in order with the connection's own packets; everything that writes
//! the store runs on the services worker (`crate::services`), never on this task.

use std::sync::Arc;

use broker_core::{ConnId, DisconnectKind, Message};
use bytes::Bytes;
use iot_services::lifecycle::{Client, DisconnectReason, Presence, Ticket};
use iot_services::{MessageHeaders, OutMessage, Output};
use mqtt_proto::properties::PublishProperties;
use mqtt_proto::{MqttStr, QoS, ReasonCode, TopicFilter, TopicName};

use super::Router;
use crate::auth::{Identity, Principal};
use crate::services::{self, Origin};

/// What the router keeps for the AWS IoT services.
#[derive(Debug, Default)]
pub(crate) struct Aws {
    presence: Presence,
    /// The services worker, when services run.
    worker: Option<services::Link>,
    /// Rule republishes behind the message being published now (see `service_output`).
    hops: u8,
}

impl Aws {
    /// Lifecycle events, and `worker` for publishes services claim.
    pub(crate) fn new(worker: Option<services::Link>) -> Aws {
        Aws {
            presence: Presence::default(),
            worker,
            hops: 0,
        }
    }
}

/// AWS's disconnect reason for how a connection ended.
fn disconnect_reason(kind: DisconnectKind, reason: Option<ReasonCode>) -> DisconnectReason {
    match kind {
        DisconnectKind::Graceful | DisconnectKind::GracefulWithWill => {
            DisconnectReason::ClientInitiated
        }
        DisconnectKind::KeepAliveTimeout => DisconnectReason::KeepAliveTimeout,
        DisconnectKind::Lost => DisconnectReason::ConnectionLost,
        _ => match reason {
            Some(ReasonCode::SessionTakenOver) => DisconnectReason::DuplicateClientId,
            Some(ReasonCode::NotAuthorized) => DisconnectReason::AuthError,
            // Only a custom authorizer's disconnectAfterInSeconds closes with this reason.
            Some(ReasonCode::MaximumConnectTime) => DisconnectReason::CustomAuthTtlExpiration,
            Some(ReasonCode::ServerShuttingDown) | None => DisconnectReason::ServerInitiated,
            Some(
                ReasonCode::ProtocolError
                | ReasonCode::MalformedPacket
                | ReasonCode::PacketTooLarge
                | ReasonCode::QosNotSupported
                | ReasonCode::TopicNameInvalid
                | ReasonCode::TopicAliasInvalid
                | ReasonCode::ReceiveMaximumExceeded
                | ReasonCode::TopicFilterInvalid
                | ReasonCode::SubscriptionIdentifiersNotSupported
                | ReasonCode::MessageRateTooHigh
                | ReasonCode::QuotaExceeded,
            ) => DisconnectReason::ClientError,
            Some(_) => DisconnectReason::ServerInitiated,
        },
    }
}

/// The principal identifier and address AWS's events name.
fn who<'a>(principal: &'a Principal, client_id: &'a str) -> Client<'a> {
    let (principal, ip) = match principal.identity() {
        Identity::Device {
            certificate_id,
            peer,
            ..
        } => (certificate_id.as_str(), Some(peer.ip())),
        Identity::Iam {
            access_key_id,
            peer,
            ..
        } => (access_key_id.as_str(), Some(peer.ip())),
        Identity::Custom {
            principal_id, peer, ..
        } => (principal_id.as_str(), Some(peer.ip())),
        Identity::Anonymous { peer } => ("", Some(peer.ip())),
        Identity::Restored | Identity::Bridge { .. } => ("", None),
    };
    Client {
        client_id,
        principal,
        ip,
    }
}

/// Fresh material for a session identifier.
fn fresh() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    // The OpenSSL RNG does not fail once seeded; an all-zero id would only look odd.
    let _ = openssl::rand::rand_bytes(&mut bytes);
    bytes
}

impl Router {
    /// A connection was accepted: its `connected` event. Returns its ticket.
    pub(super) fn announce_connected(
        &mut self,
        principal: &Principal,
        client_id: &MqttStr,
        resumed: bool,
    ) -> Option<Ticket> {
        // A bridge's local side is tether's own client, not a device AWS would report.
        if matches!(principal.identity(), Identity::Bridge { .. }) {
            return None;
        }
        let now_ms = self.clock.wall_ms();
        let aws = self.aws.as_mut()?;
        let (ticket, event) =
            aws.presence
                .connected(&who(principal, client_id), resumed, fresh(), now_ms);
        self.publish_event(event);
        Some(ticket)
    }

    /// A CONNECT was refused as not authorized: its `connect_failed` event.
    pub(super) fn announce_connect_failed(&mut self, principal: &Principal, client_id: &str) {
        let now_ms = self.clock.wall_ms();
        let Some(aws) = self.aws.as_ref() else {
            return;
        };
        let event = aws
            .presence
            .connect_failed(&who(principal, client_id), fresh(), now_ms);
        self.publish_event(event);
    }

    /// A connection ended: its `disconnected` event with AWS's reason.
    pub(super) fn announce_disconnected(
        &mut self,
        principal: &Principal,
        client_id: &str,
        ticket: Ticket,
        kind: DisconnectKind,
        reason: Option<ReasonCode>,
    ) {
        let now_ms = self.clock.wall_ms();
        let Some(aws) = self.aws.as_mut() else {
            return;
        };
        let event = aws.presence.disconnected(
            &who(principal, client_id),
            ticket,
            disconnect_reason(kind, reason),
            now_ms,
        );
        self.publish_event(event);
    }

    /// The filters of a SUBSCRIBE or UNSUBSCRIBE, kept for its event when events are published.
    pub(super) fn event_filters<'a>(
        &self,
        filters: impl Iterator<Item = &'a TopicFilter>,
    ) -> Option<Vec<String>> {
        self.aws
            .as_ref()
            .map(|_| filters.map(ToString::to_string).collect())
    }

    /// A subscribe or unsubscribe was answered: its event names the filters whose reason code
    /// is not an error.
    pub(super) fn announce_subscriptions(
        &mut self,
        conn: ConnId,
        subscribed: bool,
        filters: Option<Vec<String>>,
        reasons: &[ReasonCode],
    ) {
        let now_ms = self.clock.wall_ms();
        let (Some(filters), Some(live)) = (filters, self.conns.get(&conn)) else {
            return;
        };
        let Some(ticket) = live.ticket else {
            return;
        };
        let taken: Vec<&str> = filters
            .iter()
            .zip(reasons)
            .filter(|(_, reason)| !reason.is_error())
            .map(|(filter, _)| filter.as_str())
            .collect();
        let client = who(&live.principal, &live.client_id);
        let event = if subscribed {
            Presence::subscribed(&client, ticket, &taken, now_ms)
        } else {
            Presence::unsubscribed(&client, ticket, &taken, now_ms)
        };
        self.publish_event(event);
    }

    /// Hands a publish a service claimed to the services worker.
    pub(super) fn hand_to_service(
        &mut self,
        service: broker_core::ServiceId,
        from: Option<ConnId>,
        message: Arc<Message>,
    ) {
        let Some(aws) = self.aws.as_ref() else {
            return;
        };
        let hops = if from.is_none() { aws.hops } else { 0 };
        let Some(worker) = aws.worker.as_ref() else {
            return;
        };
        let origin = from.and_then(|conn| {
            let live = self.conns.get(&conn)?;
            Some(Origin {
                conn,
                client_id: live.client_id.to_string(),
                certificate_id: live.principal.certificate_id().map(str::to_owned),
            })
        });
        worker.publish(service, origin, message, hops);
    }

    /// Publishes what a service handed back. A message a rule republished carries its hop
    /// count to the services it reaches in turn, so the rules engine can stop loops: its
    /// effects are carried out while the count is set.
    pub(super) fn service_output(&mut self, output: Output) {
        for message in output.publish {
            let hops = message.hops;
            if hops == 0 {
                self.publish_event(Some(message));
                continue;
            }
            // Effects of the messages before it keep their own count.
            self.carry_out_effects(None);
            if let Some(aws) = self.aws.as_mut() {
                aws.hops = hops;
            }
            self.publish_event(Some(message));
            self.carry_out_effects(None);
            if let Some(aws) = self.aws.as_mut() {
                aws.hops = 0;
            }
        }
        for (conn, message) in output.direct {
            if let Some(message) = broker_message(message) {
                self.broker
                    .handle_direct_delivery(ConnId(conn), message, self.clock.now());
            }
        }
        self.carry_out_effects(None);
    }

    /// Publishes one message of the server's own; the caller carries out the effects.
    fn publish_event(&mut self, message: Option<OutMessage>) {
        if let Some(message) = message.and_then(broker_message) {
            self.broker.handle_server_publish(message, self.clock.now());
        }
    }
}

/// A service's message as the broker's. Services publish topics they build from names the
/// registry and the request checked, so an invalid one is a bug worth a log line, not a panic.
fn broker_message(message: OutMessage) -> Option<Message> {
    let topic = match TopicName::new(&message.topic) {
        Ok(topic) => topic,
        Err(e) => {
            tracing::error!("a service built an invalid topic {:?}: {e}", message.topic);
            return None;
        }
    };
    let qos = if message.qos >= 1 {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };
    let mut out = Message::new(topic, Bytes::from(message.payload), qos, false);
    if let Some(headers) = message.headers {
        out.properties = publish_properties(*headers);
    }
    Some(out)
}

/// A service's MQTT 5 headers (a republish action's) as publish properties. A value MQTT
/// cannot carry (a response topic with a wildcard, a string with NUL) is left out with a log
/// line; the rules engine checks what it can before.
fn publish_properties(headers: MessageHeaders) -> PublishProperties {
    let text = |what: &str, value: String| match MqttStr::new(&value) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("a republish {what} {value:?} cannot be sent over MQTT: {e}");
            None
        }
    };
    PublishProperties {
        payload_format_indicator: headers.payload_format_indicator,
        message_expiry_interval: headers.message_expiry,
        response_topic: headers.response_topic.and_then(|t| TopicName::new(&t).ok()),
        correlation_data: headers.correlation_data.map(Bytes::from),
        user_properties: headers
            .user_properties
            .into_iter()
            .filter_map(|(k, v)| Some((text("user property", k)?, text("user property", v)?)))
            .collect(),
        content_type: headers.content_type.and_then(|c| text("content type", c)),
        ..PublishProperties::default()
    }
}
