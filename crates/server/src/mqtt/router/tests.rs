//! Router tests without sockets: commands in, what the connection tasks would receive out, over
//! a real store in a temporary directory.

use std::net::SocketAddr;

use broker_core::{BrokerConfig, Profile};
use bytes::Bytes;
use mqtt_proto::{Packet, Protocol};

use super::*;
use crate::auth::Identity;

fn packet(bytes: &[u8]) -> Packet {
    mqtt_proto::codec::decode(Bytes::copy_from_slice(bytes), Protocol::V311).unwrap()
}

/// Connection 1 publishes the PUBLISH encoded in `bytes`.
fn publish(router: &mut Router, bytes: &[u8]) {
    let Packet::Publish(publish) = packet(bytes) else {
        panic!("not a PUBLISH")
    };
    router.handle(Command::Publish {
        conn: ConnId(1),
        publish,
    });
}

/// A router over a fresh store, with client `c` connected (MQTT 3.1.1, clean session) and
/// subscribed to `t` at QoS 1.
fn router_with_subscriber(
    dir: &std::path::Path,
) -> (Router, store::Writer, mpsc::UnboundedReceiver<ToConn>) {
    let store = store::Store::open(dir.join("broker.db")).unwrap();
    let writer = store.writer().unwrap();
    let broker = Broker::with_authorizer(
        BrokerConfig::for_profile(Profile::Mqtt),
        ServerAuthorizer::new(true, "us-east-1", "123456789012"),
    )
    .unwrap();
    let mut router = Router::new(
        broker,
        Clock::start(),
        writer.handle(),
        Arc::new(Metrics::default()),
        1 << 62,
        None,
        refusals::Recorder::discard(),
    );
    let Packet::Connect(connect) = packet(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01c") else {
        panic!("not a CONNECT")
    };
    let (to_conn, mut from_router) = mpsc::unbounded_channel();
    let (reply, answer) = oneshot::channel();
    let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
    router.handle(Command::Connect {
        conn: ConnId(1),
        connect,
        principal: Principal::new(Identity::Anonymous { peer }),
        to_conn,
        reply,
    });
    assert!(matches!(
        answer.blocking_recv(),
        Ok(ConnectReply::Accepted { .. })
    ));
    let Packet::Subscribe(subscribe) = packet(b"\x82\x06\x00\x01\x00\x01t\x01") else {
        panic!("not a SUBSCRIBE")
    };
    router.handle(Command::Subscribe {
        conn: ConnId(1),
        subscribe,
    });
    assert!(matches!(
        from_router.blocking_recv(),
        Some(ToConn::SubAck { .. })
    ));
    (router, writer, from_router)
}

#[test]
fn pubrec_precedes_and_puback_follows_the_publishers_own_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (mut router, _writer, mut from_router) = router_with_subscriber(dir.path());
    // QoS 2, nothing to write: PUBREC first, in one batch with the copy so that the
    // client's PUBREL cannot be answered in between.
    publish(&mut router, b"\x34\x06\x00\x01t\x00\x02x");
    let Some(ToConn::Batch(batch)) = from_router.blocking_recv() else {
        panic!("expected one batch")
    };
    assert!(matches!(
        batch.as_slice(),
        [ToConn::PublishDone { .. }, ToConn::Deliver(..)]
    ));
    // QoS 1: the copy first, then PUBACK.
    publish(&mut router, b"\x32\x06\x00\x01t\x00\x03x");
    assert!(matches!(
        from_router.blocking_recv(),
        Some(ToConn::Deliver(..))
    ));
    assert!(matches!(
        from_router.blocking_recv(),
        Some(ToConn::PublishDone { .. })
    ));
}

#[test]
fn puback_of_a_retained_publish_waits_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let (mut router, _writer, mut from_router) = router_with_subscriber(dir.path());
    // Retained: durable state changed, so even at QoS 2 the copy goes out first and the
    // PUBREC only after the commit.
    publish(&mut router, b"\x35\x06\x00\x01t\x00\x02x");
    assert!(matches!(
        from_router.blocking_recv(),
        Some(ToConn::Deliver(..))
    ));
    assert!(matches!(
        from_router.blocking_recv(),
        Some(ToConn::PublishDone {
            reason: ReasonCode::Success,
            ..
        })
    ));
}
