//! The client library against a scripted broker on 127.0.0.1:0: each test plays the server
//! packet by packet with `mqtt_proto`'s codec (as h2's tests script their peer) to pin down
//! reconnect with DUP resend, renewed subscriptions, keep-alive, timeouts and refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::BytesMut;
use client::mqtt_proto::properties::ConnAckProperties;
use client::mqtt_proto::{ConnAck, Decoder, PacketId, PubAck, SubAck};
use client::{
    Client, ClientConfig, ConnectOptions, Error, Message, MqttStr, Packet, Protocol, QoS,
    ReasonCode, Reconnect, SubscriptionOptions, TopicFilter, TopicName,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(10);

/// One server-side connection speaking packets.
struct Peer {
    tcp: TcpStream,
    rx: BytesMut,
    decoder: Decoder,
    protocol: Protocol,
}

impl Peer {
    async fn accept(listener: &TcpListener, protocol: Protocol) -> Peer {
        let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
            .await
            .expect("the client connects")
            .unwrap();
        Peer {
            tcp,
            rx: BytesMut::new(),
            decoder: Decoder::new(protocol, client::mqtt_proto::MAX_PACKET_SIZE),
            protocol,
        }
    }

    async fn recv(&mut self) -> Packet {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.rx).unwrap() {
                return packet;
            }
            let n = tokio::time::timeout(WAIT, self.tcp.read_buf(&mut self.rx))
                .await
                .expect("the client sends a packet")
                .unwrap();
            assert!(n > 0, "the client closed the connection");
        }
    }

    async fn send(&mut self, packet: Packet) {
        let mut out = BytesMut::new();
        packet.encode(self.protocol, &mut out).unwrap();
        self.tcp.write_all(&out).await.unwrap();
    }

    async fn connack(&mut self, session_present: bool, reason: ReasonCode) -> Packet {
        let connect = self.recv().await;
        assert!(matches!(connect, Packet::Connect(_)), "{connect:?}");
        self.send(Packet::ConnAck(ConnAck {
            session_present,
            reason,
            properties: ConnAckProperties::default(),
        }))
        .await;
        connect
    }
}

async fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

fn options(port: u16, protocol: Protocol) -> ConnectOptions {
    ConnectOptions {
        host: "127.0.0.1".into(),
        port,
        mqtt: ClientConfig {
            protocol,
            client_id: MqttStr::new("tester").unwrap(),
            ..ClientConfig::default()
        },
        ..ConnectOptions::default()
    }
}

fn quick_reconnect() -> Option<Reconnect> {
    Some(Reconnect {
        initial_delay: Duration::from_millis(10),
        jitter: 0.0,
        max_attempts: Some(5),
        ..Reconnect::default()
    })
}

#[tokio::test]
async fn an_unacknowledged_message_is_resent_with_dup_after_a_reconnect() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        let mut first = Peer::accept(&listener, Protocol::V311).await;
        first.connack(false, ReasonCode::Success).await;
        let Packet::Publish(publish) = first.recv().await else {
            panic!("expected PUBLISH");
        };
        assert!(!publish.dup);
        let id = publish.delivery.packet_id().unwrap();
        drop(first); // lost before PUBACK
        let mut second = Peer::accept(&listener, Protocol::V311).await;
        let Packet::Connect(connect) = second.connack(true, ReasonCode::Success).await else {
            panic!("expected CONNECT");
        };
        assert!(!connect.clean_start, "the reconnect asks to resume");
        let Packet::Publish(again) = second.recv().await else {
            panic!("expected the resent PUBLISH");
        };
        assert!(again.dup, "[MQTT-3.3.1-1] a resent PUBLISH has DUP set");
        assert_eq!(again.delivery.packet_id(), Some(id));
        assert_eq!(&again.payload[..], b"keep me");
        second.send(Packet::PubAck(PubAck::new(id))).await;
        second
    });
    let mut opts = options(port, Protocol::V311);
    opts.mqtt.clean_start = false;
    opts.reconnect = quick_reconnect();
    let mut client = Client::connect(opts).await.unwrap();
    let topic = TopicName::new("a/b").unwrap();
    client
        .publish(Message::new(topic, QoS::AtLeastOnce, "keep me"))
        .await
        .unwrap();
    let mut peer = server.await.unwrap();
    client.disconnect().await.unwrap();
    assert!(matches!(peer.recv().await, Packet::Disconnect(_)));
}

#[tokio::test]
async fn subscriptions_are_renewed_when_the_server_lost_the_session() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        let mut first = Peer::accept(&listener, Protocol::V5).await;
        first.connack(false, ReasonCode::Success).await;
        let Packet::Subscribe(subscribe) = first.recv().await else {
            panic!("expected SUBSCRIBE");
        };
        first
            .send(Packet::SubAck(SubAck {
                packet_id: subscribe.packet_id,
                properties: Default::default(),
                reasons: vec![ReasonCode::GrantedQos1],
            }))
            .await;
        first
            .send(Packet::Disconnect(client::mqtt_proto::Disconnect::new(
                ReasonCode::ServerShuttingDown,
            )))
            .await;
        drop(first);
        let mut second = Peer::accept(&listener, Protocol::V5).await;
        second.connack(false, ReasonCode::Success).await;
        let Packet::Subscribe(again) = second.recv().await else {
            panic!("expected the renewed SUBSCRIBE");
        };
        assert_eq!(again.filters[0].0.as_str(), "sensors/#");
        second
            .send(Packet::SubAck(SubAck {
                packet_id: again.packet_id,
                properties: Default::default(),
                reasons: vec![ReasonCode::GrantedQos1],
            }))
            .await;
        let publish = client::mqtt_proto::Publish {
            dup: false,
            delivery: client::mqtt_proto::Delivery::new(
                QoS::AtLeastOnce,
                PacketId::new(9).unwrap(),
            ),
            retain: false,
            topic: TopicName::new("sensors/1").unwrap(),
            properties: Default::default(),
            payload: "21.5".into(),
        };
        second.send(Packet::Publish(publish)).await;
        assert_eq!(
            second.recv().await,
            Packet::PubAck(PubAck::new(PacketId::new(9).unwrap()))
        );
        second
    });
    let mut opts = options(port, Protocol::V5);
    opts.reconnect = quick_reconnect();
    let mut client = Client::connect(opts).await.unwrap();
    let filter = TopicFilter::new("sensors/#").unwrap();
    let suback = client
        .subscribe(vec![(
            filter,
            SubscriptionOptions::with_qos(QoS::AtLeastOnce),
        )])
        .await
        .unwrap();
    assert_eq!(suback.reasons, vec![ReasonCode::GrantedQos1]);
    // The server goes away with 0x8B; the client comes back, subscribes again, and receives.
    let message = tokio::time::timeout(WAIT, client.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.topic.as_str(), "sensors/1");
    assert_eq!(&message.payload[..], b"21.5");
    client.flush().await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn keep_alive_pings_while_the_caller_idles() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        let mut peer = Peer::accept(&listener, Protocol::V311).await;
        peer.connack(false, ReasonCode::Success).await;
        assert_eq!(peer.recv().await, Packet::PingReq);
        peer.send(Packet::PingResp).await;
        peer
    });
    let mut opts = options(port, Protocol::V311);
    opts.mqtt.keep_alive = 1;
    let mut client = Client::connect(opts).await.unwrap();
    client.idle(Duration::from_millis(1300)).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn a_server_that_never_answers_connect_times_out() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        let mut peer = Peer::accept(&listener, Protocol::V311).await;
        assert!(matches!(peer.recv().await, Packet::Connect(_)));
        peer
    });
    let mut opts = options(port, Protocol::V311);
    opts.mqtt.response_timeout = Duration::from_millis(200);
    let error = Client::connect(opts).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no CONNACK within the response timeout"),
        "{error}"
    );
    drop(server.await.unwrap());
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_names_the_reason() {
    let (listener, port) = listener().await;
    tokio::spawn(async move {
        let mut peer = Peer::accept(&listener, Protocol::V5).await;
        peer.connack(false, ReasonCode::NotAuthorized).await;
        peer
    });
    let mut opts = options(port, Protocol::V5);
    opts.reconnect = quick_reconnect();
    let error = Client::connect(opts).await.unwrap_err();
    assert!(matches!(error, Error::Refused { .. }), "{error}");
    assert!(error.to_string().contains("0x87 Not authorized"), "{error}");
}

#[tokio::test]
async fn a_refused_publication_is_an_error_with_the_reason() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        let mut peer = Peer::accept(&listener, Protocol::V5).await;
        peer.connack(false, ReasonCode::Success).await;
        let Packet::Publish(publish) = peer.recv().await else {
            panic!("expected PUBLISH");
        };
        let mut ack = PubAck::new(publish.delivery.packet_id().unwrap());
        ack.reason = ReasonCode::NotAuthorized;
        peer.send(Packet::PubAck(ack)).await;
        peer
    });
    let mut client = Client::connect(options(port, Protocol::V5)).await.unwrap();
    let topic = TopicName::new("forbidden").unwrap();
    let error = client
        .publish(Message::new(topic, QoS::AtLeastOnce, "x"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("0x87 Not authorized"), "{error}");
    server.await.unwrap();
}

#[tokio::test]
async fn a_subscription_answered_by_closing_the_connection_is_named_as_refused() {
    let (listener, port) = listener().await;
    tokio::spawn(async move {
        let mut peer = Peer::accept(&listener, Protocol::V311).await;
        peer.connack(false, ReasonCode::Success).await;
        let subscribe = peer.recv().await;
        assert!(matches!(subscribe, Packet::Subscribe(_)), "{subscribe:?}");
        // AWS IoT's answer to a 3.1.1 subscription the policy forbids: no SUBACK, a close.
        drop(peer);
    });
    let mut client = Client::connect(options(port, Protocol::V311))
        .await
        .unwrap();
    let filter = TopicFilter::new("forbidden/#").unwrap();
    let error = client
        .subscribe(vec![(
            filter,
            SubscriptionOptions::with_qos(QoS::AtLeastOnce),
        )])
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::SubscribeUnanswered { .. }),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("the broker refused the subscription to forbidden/#"),
        "{text}"
    );
    assert!(text.contains("SUBACK 0x80"), "{text}");
    assert!(!text.contains("connect() first"), "{text}");
}

#[tokio::test]
async fn each_refused_publication_is_reported_once_in_turn() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        let mut peer = Peer::accept(&listener, Protocol::V5).await;
        peer.connack(false, ReasonCode::Success).await;
        for _ in 0..2 {
            let Packet::Publish(publish) = peer.recv().await else {
                panic!("expected PUBLISH");
            };
            let mut ack = PubAck::new(publish.delivery.packet_id().unwrap());
            ack.reason = ReasonCode::NotAuthorized;
            peer.send(Packet::PubAck(ack)).await;
        }
        peer
    });
    let mut client = Client::connect(options(port, Protocol::V5)).await.unwrap();
    let topic = TopicName::new("forbidden").unwrap();
    for _ in 0..2 {
        client
            .start_publish(Message::new(topic.clone(), QoS::AtLeastOnce, "x"))
            .unwrap();
    }
    let mut refused = Vec::new();
    loop {
        match client.flush().await {
            Ok(()) => break,
            Err(Error::PublishRefused { packet_id, .. }) => refused.push(packet_id.get()),
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(refused, [1, 2]);
    server.await.unwrap();
}

#[tokio::test]
async fn completions_name_each_packet_id_with_its_outcome_while_messages_arrive() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        let mut peer = Peer::accept(&listener, Protocol::V5).await;
        peer.connack(false, ReasonCode::Success).await;
        let mut ids = Vec::new();
        for _ in 0..2 {
            let Packet::Publish(publish) = peer.recv().await else {
                panic!("expected PUBLISH");
            };
            ids.push(publish.delivery.packet_id().unwrap());
        }
        // The second is refused, the first taken; then a message for the client.
        let mut refused = PubAck::new(ids[1]);
        refused.reason = ReasonCode::NotAuthorized;
        peer.send(Packet::PubAck(refused)).await;
        peer.send(Packet::PubAck(PubAck::new(ids[0]))).await;
        let message = client::Publish {
            dup: false,
            delivery: client::mqtt_proto::Delivery::AtMostOnce,
            retain: false,
            topic: TopicName::new("down/1").unwrap(),
            properties: Default::default(),
            payload: bytes::Bytes::from_static(b"hi"),
        };
        peer.send(Packet::Publish(message)).await;
        peer
    });
    let mut client = Client::connect(options(port, Protocol::V5)).await.unwrap();
    let topic = TopicName::new("up").unwrap();
    let first = client
        .start_publish(Message::new(topic.clone(), QoS::AtLeastOnce, "a"))
        .unwrap();
    let second = client
        .start_publish(Message::new(topic, QoS::AtLeastOnce, "b"))
        .unwrap();
    let received = client.recv().await.unwrap();
    assert_eq!(received.topic.as_str(), "down/1");
    let completed = client.take_completed();
    assert_eq!(completed.len(), 2, "{completed:?}");
    assert_eq!(completed[0].0, second);
    assert!(
        matches!(&completed[0].1, Err(Error::PublishRefused { reason, .. }) if *reason == ReasonCode::NotAuthorized),
        "{completed:?}"
    );
    assert_eq!(completed[1].0, first);
    assert!(completed[1].1.is_ok(), "{completed:?}");
    assert!(client.take_completed().is_empty());
    server.await.unwrap();
}

#[tokio::test]
async fn next_event_returns_when_a_publication_completes_without_a_message() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        let mut peer = Peer::accept(&listener, Protocol::V5).await;
        peer.connack(false, ReasonCode::Success).await;
        let Packet::Publish(publish) = peer.recv().await else {
            panic!("expected PUBLISH");
        };
        peer.send(Packet::PubAck(PubAck::new(
            publish.delivery.packet_id().unwrap(),
        )))
        .await;
        peer
    });
    let mut client = Client::connect(options(port, Protocol::V5)).await.unwrap();
    let topic = TopicName::new("up").unwrap();
    let sent = client
        .start_publish(Message::new(topic, QoS::AtLeastOnce, "a"))
        .unwrap();
    assert!(client.next_event().await.unwrap().is_none());
    let completed = client.take_completed();
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].0, sent);
    assert!(completed[0].1.is_ok());
    let _peer = server.await.unwrap();
}
