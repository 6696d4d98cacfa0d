//! Deterministic simulations of the session state machines against scripted peers: the test
//! plays the server (for `ClientSession`, in `session/client*.rs`) or the client (for
//! `ServerConnection`, in `session/server.rs`) packet by packet over real encoded bytes, with
//! time passed in by hand. This file holds the shared helpers, a client wired to a server
//! connection, and the replay of the `client_session` fuzz corpus. Codec details are tested in
//! `codec.rs`.

use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_proto::codec::{Decoder, MAX_PACKET_SIZE};
use mqtt_proto::properties::{
    ConnAckProperties, ConnectProperties, DisconnectProperties, PublishProperties,
    SubscribeProperties, UnsubscribeProperties,
};
use mqtt_proto::session::client::{
    ClientConfig, ClientSession, ConnectionState, Event, OnSessionLost,
};
use mqtt_proto::session::server::{
    DeliveryOutcome, ServerConfig, ServerConnection, ServerEvent, ServerSession,
};
use mqtt_proto::session::{AbandonReason, Error, Message, Violation};
use mqtt_proto::{
    ConnAck, Connect, Delivery, Disconnect, Instant, MqttStr, Packet, PacketId, PacketType,
    Protocol, PubAck, Publish, QoS, ReasonCode, SubAck, SubscriptionOptions, TopicFilter,
    TopicName, UnsubAck,
};

// ---------------------------------------------------------------------------------------------
// Scripted-peer helpers

fn id(v: u16) -> PacketId {
    PacketId::new(v).unwrap()
}

fn topic(t: &str) -> TopicName {
    TopicName::new(t).unwrap()
}

fn at(secs: u64) -> Instant {
    Instant::from_secs(secs)
}

fn message(t: &str, qos: QoS, payload: &'static [u8]) -> Message {
    Message::new(topic(t), qos, Bytes::from_static(payload))
}

fn publish(t: &str, delivery: Delivery, payload: &'static [u8]) -> Publish {
    Publish {
        dup: false,
        delivery,
        retain: false,
        topic: topic(t),
        properties: PublishProperties::default(),
        payload: Bytes::from_static(payload),
    }
}

fn ack(kind: PacketType, packet_id: u16) -> Packet {
    let a = PubAck::new(id(packet_id));
    match kind {
        PacketType::PubAck => Packet::PubAck(a),
        PacketType::PubRec => Packet::PubRec(a),
        PacketType::PubRel => Packet::PubRel(a),
        PacketType::PubComp => Packet::PubComp(a),
        other => panic!("{other:?} is not an acknowledgement"),
    }
}

fn ack_with(kind: PacketType, packet_id: u16, reason: ReasonCode) -> Packet {
    match ack(kind, packet_id) {
        Packet::PubAck(mut a) => {
            a.reason = reason;
            Packet::PubAck(a)
        }
        Packet::PubRec(mut a) => {
            a.reason = reason;
            Packet::PubRec(a)
        }
        Packet::PubRel(mut a) => {
            a.reason = reason;
            Packet::PubRel(a)
        }
        Packet::PubComp(mut a) => {
            a.reason = reason;
            Packet::PubComp(a)
        }
        _ => unreachable!(),
    }
}

fn connack(session_present: bool, properties: ConnAckProperties) -> Packet {
    Packet::ConnAck(ConnAck {
        session_present,
        reason: ReasonCode::Success,
        properties,
    })
}

/// Decodes everything a session transmitted, as the peer would.
struct Wire {
    protocol: Protocol,
    decoder: Decoder,
    buf: BytesMut,
}

impl Wire {
    fn new(protocol: Protocol) -> Self {
        Wire {
            protocol,
            decoder: Decoder::new(protocol, MAX_PACKET_SIZE),
            buf: BytesMut::new(),
        }
    }

    fn packets(&mut self, mut poll: impl FnMut(&mut BytesMut) -> bool) -> Vec<Packet> {
        while poll(&mut self.buf) {}
        let mut out = Vec::new();
        while let Some(packet) = self.decoder.decode(&mut self.buf).unwrap() {
            out.push(packet);
        }
        assert!(self.buf.is_empty(), "a partial packet was transmitted");
        out
    }

    fn encode(&self, packet: &Packet) -> Bytes {
        packet.to_bytes(self.protocol).unwrap()
    }
}

/// A client session with the test playing the server.
struct ClientSim {
    session: ClientSession,
    wire: Wire,
    now: Instant,
}

impl ClientSim {
    fn new(config: ClientConfig) -> Self {
        let wire = Wire::new(config.protocol);
        ClientSim {
            session: ClientSession::new(config),
            wire,
            now: Instant::ZERO,
        }
    }

    fn v311() -> Self {
        Self::new(ClientConfig {
            client_id: MqttStr::new("dev-1").unwrap(),
            clean_start: false,
            keep_alive: 30,
            ..ClientConfig::default()
        })
    }

    fn v5() -> Self {
        Self::new(ClientConfig {
            protocol: Protocol::V5,
            client_id: MqttStr::new("dev-5").unwrap(),
            clean_start: true,
            keep_alive: 30,
            session_expiry_interval: Some(3600),
            receive_maximum: NonZeroU16::new(2),
            maximum_packet_size: NonZeroU32::new(1024),
            topic_alias_maximum: 4,
            ..ClientConfig::default()
        })
    }

    /// Connects and answers CONNACK; returns the CONNECT the client sent.
    fn connected(mut self, props: ConnAckProperties) -> Self {
        self.connect_with(false, props);
        self
    }

    fn connect_with(&mut self, session_present: bool, props: ConnAckProperties) -> Connect {
        self.session.connect(self.now).unwrap();
        let sent = self.sent();
        let [Packet::Connect(connect)] = sent.as_slice() else {
            panic!("expected CONNECT, got {sent:?}")
        };
        let connect = (**connect).clone();
        self.feed(&connack(session_present, props));
        let events = self.events();
        assert!(
            matches!(events.first(), Some(Event::Connected { session_present: p, .. }) if *p == session_present),
            "{events:?}"
        );
        connect
    }

    fn feed(&mut self, packet: &Packet) {
        let bytes = self.wire.encode(packet);
        self.session.handle_bytes(&bytes, self.now);
    }

    fn sent(&mut self) -> Vec<Packet> {
        let session = &mut self.session;
        self.wire.packets(|out| session.poll_transmit(out))
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.session.handle_timeout(self.now);
    }

    /// The transport broke; a new one is opened.
    fn reconnect(&mut self) {
        self.session.connection_lost(self.now);
        self.wire = Wire::new(self.session.config().protocol);
    }
}

fn sent_publish(packet: &Packet) -> &Publish {
    match packet {
        Packet::Publish(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Server connection

struct ServerSim {
    conn: ServerConnection,
    wire: Wire,
    now: Instant,
    /// What went out right after CONNACK (resent deliveries).
    resent: Vec<Packet>,
}

fn connect_packet(protocol: Protocol, keep_alive: u16, receive_maximum: Option<u16>) -> Connect {
    Connect {
        protocol,
        clean_start: false,
        keep_alive,
        client_id: MqttStr::new("dev").unwrap(),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties {
            receive_maximum,
            maximum_packet_size: Some(64),
            session_expiry_interval: Some(60),
            ..Default::default()
        },
    }
}

impl ServerSim {
    fn open(
        protocol: Protocol,
        session: ServerSession,
        present: bool,
        props: ConnAckProperties,
    ) -> Self {
        let connect = connect_packet(protocol, 10, Some(2));
        let mut conn =
            ServerConnection::new(&connect, session, ServerConfig::default(), Instant::ZERO);
        conn.send_connack(ConnAck {
            session_present: present,
            reason: ReasonCode::Success,
            properties: props,
        })
        .unwrap();
        let mut sim = ServerSim {
            conn,
            wire: Wire::new(protocol),
            now: Instant::ZERO,
            resent: Vec::new(),
        };
        let sent = sim.sent();
        assert!(matches!(sent.first(), Some(Packet::ConnAck(_))), "{sent:?}");
        sim.resent = sent[1..].to_vec();
        sim
    }

    fn v5() -> Self {
        Self::open(
            Protocol::V5,
            ServerSession::new(),
            false,
            ConnAckProperties {
                receive_maximum: Some(2),
                topic_alias_maximum: Some(2),
                ..Default::default()
            },
        )
    }

    fn feed(&mut self, packet: &Packet) {
        let bytes = self.wire.encode(packet);
        self.conn.handle_bytes(&bytes, self.now);
    }

    fn sent(&mut self) -> Vec<Packet> {
        let conn = &mut self.conn;
        self.wire.packets(|out| conn.poll_transmit(out))
    }

    fn events(&mut self) -> Vec<ServerEvent> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }
}

mod client;
mod client_limits;
mod server;

// ---------------------------------------------------------------------------------------------
// Client and server connection wired together

/// Moves bytes both ways until neither side has anything to send.
fn shuttle(client: &mut ClientSession, server: &mut ServerConnection, now: Instant) {
    loop {
        let mut to_server = BytesMut::new();
        let mut to_client = BytesMut::new();
        let a = client.poll_transmit(&mut to_server);
        let b = server.poll_transmit(&mut to_client);
        if !a && !b {
            return;
        }
        server.handle_bytes(&to_server, now);
        client.handle_bytes(&to_client, now);
    }
}

#[test]
fn client_and_server_exchange_qos2_both_ways() {
    let config = ClientConfig {
        protocol: Protocol::V5,
        client_id: MqttStr::new("pair").unwrap(),
        ..Default::default()
    };
    let mut client = ClientSession::new(config);
    client.connect(Instant::ZERO).unwrap();
    let mut bytes = BytesMut::new();
    client.poll_transmit(&mut bytes);
    let Some(Packet::Connect(connect)) = Decoder::new(Protocol::V5, MAX_PACKET_SIZE)
        .decode(&mut bytes)
        .unwrap()
    else {
        panic!("expected CONNECT")
    };
    let mut server = ServerConnection::new(
        &connect,
        ServerSession::new(),
        ServerConfig::default(),
        Instant::ZERO,
    );
    server
        .send_connack(ConnAck {
            session_present: false,
            reason: ReasonCode::Success,
            properties: Default::default(),
        })
        .unwrap();
    shuttle(&mut client, &mut server, Instant::ZERO);
    assert!(matches!(
        client.poll_event(),
        Some(Event::Connected {
            session_present: false,
            ..
        })
    ));

    let pid = client
        .publish(message("up", QoS::ExactlyOnce, b"hello"))
        .unwrap()
        .unwrap();
    shuttle(&mut client, &mut server, Instant::ZERO);
    let Some(ServerEvent::Publish(received)) = server.poll_event() else {
        panic!("no publish")
    };
    assert_eq!(received.payload, Bytes::from_static(b"hello"));
    assert_eq!(client.inflight(), 1, "not complete before the broker acks");
    server
        .ack_publish(received.delivery.packet_id().unwrap(), ReasonCode::Success)
        .unwrap();
    shuttle(&mut client, &mut server, Instant::ZERO);
    assert_eq!(
        client.poll_event(),
        Some(Event::Published {
            packet_id: pid,
            qos: QoS::ExactlyOnce,
            reason: ReasonCode::Success
        })
    );

    server
        .deliver(
            message("down", QoS::ExactlyOnce, b"world"),
            None,
            Instant::ZERO,
        )
        .unwrap();
    shuttle(&mut client, &mut server, Instant::ZERO);
    assert!(
        matches!(client.poll_event(), Some(Event::Message(p)) if p.payload == Bytes::from_static(b"world"))
    );
    assert!(matches!(
        server.poll_event(),
        Some(ServerEvent::Delivered {
            qos: QoS::ExactlyOnce,
            ..
        })
    ));
    assert_eq!(
        (
            client.inflight(),
            client.incoming_pending(),
            server.inflight()
        ),
        (0, 0, 0)
    );
}

// ---------------------------------------------------------------------------------------------
// Fuzz corpus replay

#[test]
fn client_session_fuzz_corpus_replays_cleanly() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/client_session"
    );
    let mut replayed = 0;
    let mut connected = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let coverage = mqtt_proto::session::fuzz::client_session(&data)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        println!("{}: {coverage:?}", path.display());
        connected += coverage.connections;
        replayed += 1;
    }
    assert!(
        replayed >= 4,
        "the seed corpus has at least four inputs, found {replayed}"
    );
    assert!(connected > 0, "some seed reaches a connected session");
}
