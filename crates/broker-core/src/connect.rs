//! The inputs and answers of the session lifecycle: what a CONNECT asks for, what CONNACK must
//! say, and how a connection ended. The decisions are made in `broker.rs`; encoding CONNACK is
//! the connection task's job.

use mqtt_proto::properties::ConnAckProperties;
use mqtt_proto::{Connect, MqttStr, Protocol, QoS, ReasonCode, Will};

use crate::config::Limits;

/// A CONNECT as the broker needs it, with the principal the server authenticated.
#[derive(Debug, Clone)]
pub struct ConnectRequest<P> {
    /// Client id; empty asks the broker to assign one.
    pub client_id: MqttStr,
    /// Protocol version.
    pub protocol: Protocol,
    /// Clean Session (3.1.1) / Clean Start (5).
    pub clean_start: bool,
    /// Requested keep-alive in seconds.
    pub keep_alive: u16,
    /// MQTT 5 Session Expiry Interval (absent = 0). Ignored for 3.1.1.
    pub session_expiry: Option<u32>,
    /// The will.
    pub will: Option<Will>,
    /// Who authenticated (certificate, user...); opaque to the broker.
    pub principal: P,
}

impl<P> ConnectRequest<P> {
    /// Takes the fields the broker needs from a decoded CONNECT.
    pub fn from_connect(connect: Connect, principal: P) -> Self {
        ConnectRequest {
            client_id: connect.client_id,
            protocol: connect.protocol,
            clean_start: connect.clean_start,
            keep_alive: connect.keep_alive,
            session_expiry: connect.properties.session_expiry_interval,
            will: connect.will,
            principal,
        }
    }
}

/// An accepted connection: what CONNACK must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// CONNACK Session Present.
    pub session_present: bool,
    /// The client id in force (assigned when the client sent an empty one).
    pub client_id: MqttStr,
    /// True when `client_id` was assigned: MQTT 5 CONNACK carries it.
    pub client_id_assigned: bool,
    /// Keep-alive in force (seconds).
    pub keep_alive: u16,
    /// True when it differs from the request: MQTT 5 CONNACK carries Server Keep Alive.
    pub keep_alive_changed: bool,
    /// Session expiry in force (seconds; `u32::MAX`: never).
    pub session_expiry: u32,
    /// True when it differs from the request: MQTT 5 CONNACK carries it.
    pub session_expiry_changed: bool,
}

/// The answer to a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// Send CONNACK Success, then carry out the effects (queued deliveries follow it).
    Accepted(Connected),
    /// Send CONNACK with this reason (3.1.1: [`ReasonCode::to_v3_connack`]) and close.
    Refused(ReasonCode),
}

/// How a connection ended, as the server saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectKind {
    /// The client sent DISCONNECT (reason 0x00): the will is discarded.
    Graceful,
    /// MQTT 5 DISCONNECT with reason 0x04: the will is published.
    GracefulWithWill,
    /// The network connection broke or the client sent garbage: the will is published.
    Lost,
    /// No packet within 1.5 × keep-alive: the will is published.
    KeepAliveTimeout,
    /// The server closed it (protocol violation, denial, shutdown): the will is published.
    ServerClose,
    /// The server closed it and must not publish the will (AWS `DeleteConnection` with
    /// `preventWillMessage=true`).
    ServerCloseWithoutWill,
}

impl Connected {
    /// The MQTT 5 CONNACK properties for this connection under `limits`: adjusted values the
    /// client must learn (assigned client id, server keep-alive, session expiry) and the
    /// server's capabilities (Maximum QoS, Topic Alias Maximum, subscription identifiers...).
    pub fn connack_properties(&self, limits: &Limits) -> ConnAckProperties {
        ConnAckProperties {
            session_expiry_interval: self.session_expiry_changed.then_some(self.session_expiry),
            maximum_qos: (limits.maximum_qos < QoS::ExactlyOnce)
                .then_some(limits.maximum_qos as u8),
            retain_available: Some(true),
            assigned_client_identifier: self.client_id_assigned.then(|| self.client_id.clone()),
            topic_alias_maximum: Some(limits.topic_alias_maximum),
            wildcard_subscription_available: Some(true),
            subscription_identifiers_available: Some(limits.subscription_identifiers),
            shared_subscription_available: Some(true),
            server_keep_alive: self.keep_alive_changed.then_some(self.keep_alive),
            ..ConnAckProperties::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;

    #[test]
    fn aws_connack_properties_advertise_its_limits() {
        let connected = Connected {
            session_present: false,
            client_id: MqttStr::new("tether-0").unwrap(),
            client_id_assigned: true,
            keep_alive: 1200,
            keep_alive_changed: true,
            session_expiry: 3600,
            session_expiry_changed: false,
        };
        let props = connected.connack_properties(&Limits::for_profile(Profile::Aws));
        assert_eq!(props.maximum_qos, Some(1));
        assert_eq!(props.topic_alias_maximum, Some(8));
        assert_eq!(props.subscription_identifiers_available, Some(false));
        assert_eq!(props.server_keep_alive, Some(1200));
        assert_eq!(props.session_expiry_interval, None);
        assert_eq!(
            props.assigned_client_identifier.as_deref(),
            Some("tether-0")
        );
        let mqtt = connected.connack_properties(&Limits::for_profile(Profile::Mqtt));
        assert_eq!(mqtt.maximum_qos, None, "absent means QoS 2");
        assert_eq!(mqtt.subscription_identifiers_available, Some(true));
    }
}
