//! Deterministic simulations of broker-core: scripted connections, publishes and clock
//! advances, checked against the effects the broker produces. No tokio, no sockets, no sleeps.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod auth;
mod delete_connection;
mod fuzz_corpus;
mod limits;
mod persistence;
mod property;
mod retained;
mod routing;
mod services;
mod sessions;
mod wills;

use std::time::Duration;

use broker_core::{
    AllowAll, Authorizer, Broker, BrokerConfig, ConnId, ConnectOutcome, ConnectRequest, Connected,
    Delivery, DisconnectKind, Effect, PersistOp, Profile, PublishOutcome, SubscribeOutcome,
};
use bytes::Bytes;
use mqtt_proto::properties::{SubscribeProperties, WillProperties};
use mqtt_proto::time::Instant;
use mqtt_proto::{
    MqttStr, PacketId, Protocol, Publish, QoS, Subscribe, SubscriptionOptions, TopicFilter,
    TopicName, Unsubscribe, Will,
};

/// One delivery as a test looks at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub conn: ConnId,
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
}

/// A broker plus a clock and connection numbering.
#[derive(Debug)]
pub struct Sim<A: Authorizer = AllowAll> {
    pub broker: Broker<A>,
    pub now: Instant,
    next_conn: u64,
}

impl Sim<AllowAll> {
    pub fn new(profile: Profile) -> Self {
        Self::with_config(BrokerConfig::for_profile(profile))
    }

    pub fn aws() -> Self {
        Self::new(Profile::Aws)
    }

    pub fn mqtt() -> Self {
        Self::new(Profile::Mqtt)
    }

    pub fn with_config(config: BrokerConfig) -> Self {
        Sim {
            broker: Broker::new(config).unwrap(),
            now: Instant::from_secs(1000),
            next_conn: 1,
        }
    }
}

impl<A: Authorizer> Sim<A> {
    pub fn with_authorizer(profile: Profile, authorizer: A) -> Self {
        let broker =
            Broker::with_authorizer(BrokerConfig::for_profile(profile), authorizer).unwrap();
        Sim {
            broker,
            now: Instant::from_secs(1000),
            next_conn: 1,
        }
    }

    pub fn request(
        &self,
        client_id: &str,
        protocol: Protocol,
        clean_start: bool,
        principal: A::Principal,
    ) -> ConnectRequest<A::Principal> {
        ConnectRequest {
            client_id: MqttStr::new(client_id).unwrap(),
            protocol,
            clean_start,
            keep_alive: 60,
            session_expiry: None,
            will: None,
            principal,
        }
    }

    /// Connects with a fresh connection id; returns it with the outcome.
    pub fn connect_with(
        &mut self,
        request: ConnectRequest<A::Principal>,
    ) -> (ConnId, ConnectOutcome) {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let outcome = self.broker.handle_connect(conn, request, self.now);
        (conn, outcome)
    }

    pub fn publish(
        &mut self,
        conn: ConnId,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> PublishOutcome {
        self.broker
            .handle_publish(conn, publish(topic, payload, qos, retain), self.now)
    }

    pub fn subscribe(&mut self, conn: ConnId, filters: &[(&str, QoS)]) -> SubscribeOutcome {
        let options: Vec<_> = filters
            .iter()
            .map(|(f, q)| (*f, SubscriptionOptions::with_qos(*q)))
            .collect();
        self.subscribe_opts(conn, &options, None)
    }

    pub fn subscribe_opts(
        &mut self,
        conn: ConnId,
        filters: &[(&str, SubscriptionOptions)],
        id: Option<u32>,
    ) -> SubscribeOutcome {
        let packet = Subscribe {
            packet_id: PacketId::MIN,
            properties: SubscribeProperties {
                subscription_identifier: id,
                ..Default::default()
            },
            filters: filters
                .iter()
                .map(|(f, o)| (TopicFilter::new(f).unwrap(), *o))
                .collect(),
        };
        self.broker.handle_subscribe(conn, packet, self.now)
    }

    pub fn unsubscribe(
        &mut self,
        conn: ConnId,
        filters: &[&str],
    ) -> broker_core::UnsubscribeOutcome {
        let packet = Unsubscribe {
            packet_id: PacketId::MIN,
            properties: Default::default(),
            filters: filters
                .iter()
                .map(|f| TopicFilter::new(f).unwrap())
                .collect(),
        };
        self.broker.handle_unsubscribe(conn, packet, self.now)
    }

    pub fn disconnect(&mut self, conn: ConnId, kind: DisconnectKind) {
        self.broker
            .handle_disconnect(conn, kind, None, Vec::new(), self.now);
    }

    pub fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.broker.handle_tick(self.now);
    }

    pub fn effects(&mut self) -> Vec<Effect> {
        self.broker.drain_effects().collect()
    }

    /// Drains the effects and returns only the deliveries.
    pub fn deliveries(&mut self) -> Vec<Got> {
        self.effects().into_iter().filter_map(got).collect()
    }

    /// Drains the effects and returns the raw deliveries.
    pub fn raw_deliveries(&mut self) -> Vec<(ConnId, Delivery)> {
        self.effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Deliver { conn, delivery } => Some((conn, delivery)),
                _ => None,
            })
            .collect()
    }
}

impl Sim<AllowAll> {
    /// Connects and expects acceptance.
    pub fn connect(
        &mut self,
        client_id: &str,
        protocol: Protocol,
        clean: bool,
    ) -> (ConnId, Connected) {
        let request = self.request(client_id, protocol, clean, ());
        accepted(self.connect_with(request))
    }

    /// MQTT 5 connect with a session expiry.
    pub fn connect_v5(&mut self, client_id: &str, clean: bool, expiry: u32) -> (ConnId, Connected) {
        let mut request = self.request(client_id, Protocol::V5, clean, ());
        request.session_expiry = Some(expiry);
        accepted(self.connect_with(request))
    }

    /// Connects with a will.
    pub fn connect_will(
        &mut self,
        client_id: &str,
        expiry: u32,
        will_topic: &str,
        delay: Option<u32>,
    ) -> ConnId {
        let mut request = self.request(client_id, Protocol::V5, false, ());
        request.session_expiry = Some(expiry);
        request.will = Some(will(will_topic, delay));
        accepted(self.connect_with(request)).0
    }
}

pub fn accepted((conn, outcome): (ConnId, ConnectOutcome)) -> (ConnId, Connected) {
    match outcome {
        ConnectOutcome::Accepted(connected) => (conn, connected),
        ConnectOutcome::Refused(reason) => panic!("connect refused: {reason}"),
    }
}

pub fn got(effect: Effect) -> Option<Got> {
    match effect {
        Effect::Deliver { conn, delivery } => Some(Got {
            conn,
            topic: delivery.message.topic.as_str().to_owned(),
            payload: delivery.message.payload.to_vec(),
            qos: delivery.qos,
            retain: delivery.retain,
            dup: delivery.dup,
        }),
        _ => None,
    }
}

pub fn persist_ops(effects: &[Effect]) -> Vec<PersistOp> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Persist(op) => Some(op.clone()),
            _ => None,
        })
        .collect()
}

pub fn publish(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Publish {
    Publish {
        dup: false,
        delivery: mqtt_proto::Delivery::new(qos, PacketId::MIN),
        retain,
        topic: TopicName::new(topic).unwrap(),
        properties: Default::default(),
        payload: Bytes::copy_from_slice(payload),
    }
}

pub fn will(topic: &str, delay: Option<u32>) -> Will {
    Will {
        topic: TopicName::new(topic).unwrap(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: WillProperties {
            will_delay_interval: delay,
            ..Default::default()
        },
    }
}

/// Topics of the deliveries to `conn`.
pub fn topics_for(deliveries: &[Got], conn: ConnId) -> Vec<String> {
    deliveries
        .iter()
        .filter(|d| d.conn == conn)
        .map(|d| d.topic.clone())
        .collect()
}
