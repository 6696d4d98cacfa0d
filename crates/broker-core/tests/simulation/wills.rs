//! Will messages: which disconnects publish them, will delay, cancellation by reconnect,
//! session end before the delay, takeover, retained wills.

use super::*;

fn watcher(sim: &mut Sim) -> ConnId {
    let (w, _) = sim.connect("watcher", Protocol::V5, true);
    sim.subscribe(w, &[("wills/#", QoS::AtLeastOnce)]);
    sim.effects();
    w
}

fn will_count(sim: &mut Sim, watcher: ConnId) -> usize {
    sim.deliveries()
        .iter()
        .filter(|g| g.conn == watcher && g.topic.starts_with("wills/"))
        .count()
}

#[test]
fn will_is_published_on_lost_connection_keep_alive_timeout_and_server_close() {
    for kind in [
        DisconnectKind::Lost,
        DisconnectKind::KeepAliveTimeout,
        DisconnectKind::ServerClose,
    ] {
        let mut sim = Sim::mqtt();
        let w = watcher(&mut sim);
        let dev = sim.connect_will("dev", 0, "wills/dev", None);
        sim.disconnect(dev, kind);
        assert_eq!(will_count(&mut sim, w), 1, "{kind:?}");
        assert_eq!(sim.broker.stats().wills_published, 1);
    }
}

#[test]
fn graceful_disconnect_discards_the_will() {
    for kind in [
        DisconnectKind::Graceful,
        DisconnectKind::ServerCloseWithoutWill,
    ] {
        let mut sim = Sim::mqtt();
        let w = watcher(&mut sim);
        let dev = sim.connect_will("dev", 600, "wills/dev", None);
        sim.disconnect(dev, kind);
        assert_eq!(will_count(&mut sim, w), 0, "{kind:?}");
        sim.advance(700);
        assert_eq!(will_count(&mut sim, w), 0, "not even when the session ends");
    }
}

#[test]
fn disconnect_with_will_message_publishes_it() {
    let mut sim = Sim::mqtt();
    let w = watcher(&mut sim);
    let dev = sim.connect_will("dev", 0, "wills/dev", None);
    sim.disconnect(dev, DisconnectKind::GracefulWithWill);
    let got = sim.deliveries();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].conn, got[0].payload.as_slice(), got[0].qos),
        (w, &b"gone"[..], QoS::AtLeastOnce)
    );
}

#[test]
fn delayed_will_is_published_when_the_delay_passes() {
    let mut sim = Sim::mqtt();
    let w = watcher(&mut sim);
    let dev = sim.connect_will("dev", 600, "wills/dev", Some(30));
    sim.disconnect(dev, DisconnectKind::Lost);
    assert_eq!(will_count(&mut sim, w), 0);
    assert_eq!(
        sim.broker.next_deadline(),
        Some(sim.now + Duration::from_secs(30))
    );
    sim.advance(29);
    assert_eq!(will_count(&mut sim, w), 0);
    sim.advance(1);
    assert_eq!(will_count(&mut sim, w), 1);
    sim.advance(1000);
    assert_eq!(will_count(&mut sim, w), 0, "published once");
}

#[test]
fn reconnect_within_the_will_delay_cancels_the_will() {
    let mut sim = Sim::mqtt();
    let w = watcher(&mut sim);
    let dev = sim.connect_will("dev", 600, "wills/dev", Some(30));
    sim.disconnect(dev, DisconnectKind::Lost);
    sim.advance(10);
    let (_, connected) = sim.connect_v5("dev", false, 600);
    assert!(connected.session_present);
    sim.advance(100);
    assert_eq!(will_count(&mut sim, w), 0);
}

#[test]
fn session_ending_before_the_will_delay_publishes_the_will() {
    let mut sim = Sim::mqtt();
    let w = watcher(&mut sim);
    let dev = sim.connect_will("dev", 10, "wills/dev", Some(60));
    sim.disconnect(dev, DisconnectKind::Lost);
    sim.advance(10);
    assert_eq!(
        will_count(&mut sim, w),
        1,
        "MQTT 5 §3.1.3.2.2: will delay or session end, whichever first"
    );
    assert_eq!(sim.broker.session_state("dev"), None);
}

#[test]
fn clean_start_reconnect_publishes_a_pending_delayed_will() {
    let mut sim = Sim::mqtt();
    let w = watcher(&mut sim);
    let dev = sim.connect_will("dev", 600, "wills/dev", Some(60));
    sim.disconnect(dev, DisconnectKind::Lost);
    sim.connect_v5("dev", true, 600);
    assert_eq!(will_count(&mut sim, w), 1, "the old session ended");
}

#[test]
fn takeover_publishes_the_old_connections_will() {
    let mut sim = Sim::aws();
    let (w, _) = sim.connect("watcher", Protocol::V5, true);
    sim.subscribe(w, &[("wills/#", QoS::AtLeastOnce)]);
    let dev = sim.connect_will("dev", 600, "wills/dev", None);
    sim.effects();
    sim.connect_v5("dev", false, 600);
    let effects = sim.effects();
    assert!(effects.contains(&Effect::Close {
        conn: dev,
        reason: mqtt_proto::ReasonCode::SessionTakenOver
    }));
    assert_eq!(
        effects
            .into_iter()
            .filter_map(got)
            .filter(|g| g.conn == w)
            .count(),
        1
    );
}

#[test]
fn takeover_resuming_the_session_cancels_a_delayed_will() {
    let mut sim = Sim::mqtt();
    let w = watcher(&mut sim);
    sim.connect_will("dev", 600, "wills/dev", Some(5));
    sim.connect_v5("dev", false, 600);
    sim.advance(100);
    assert_eq!(will_count(&mut sim, w), 0);
}

#[test]
fn retained_will_is_stored() {
    let mut sim = Sim::mqtt();
    let mut request = sim.request("dev", Protocol::V311, true, ());
    let mut w = will("status/dev", None);
    w.retain = true;
    w.payload = Bytes::from_static(b"offline");
    request.will = Some(w);
    let (dev, _) = accepted(sim.connect_with(request));
    sim.disconnect(dev, DisconnectKind::Lost);
    let (s, _) = sim.connect("s", Protocol::V311, true);
    sim.effects();
    sim.subscribe(s, &[("status/+", QoS::AtLeastOnce)]);
    let got = sim.deliveries();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].payload.as_slice(), got[0].retain),
        (&b"offline"[..], true)
    );
}

#[test]
fn will_message_expiry_counts_from_publication() {
    let mut sim = Sim::mqtt();
    let (w, _) = sim.connect_v5("watcher", true, 600);
    sim.subscribe(w, &[("wills/#", QoS::AtLeastOnce)]);
    sim.disconnect(w, DisconnectKind::Graceful);
    let mut request = sim.request("dev", Protocol::V5, false, ());
    request.session_expiry = Some(600);
    let mut will = will("wills/dev", Some(20));
    will.properties.message_expiry_interval = Some(50);
    request.will = Some(will);
    let (dev, _) = accepted(sim.connect_with(request));
    sim.advance(100);
    sim.disconnect(dev, DisconnectKind::Lost);
    sim.advance(20);
    sim.advance(10);
    sim.connect_v5("watcher", false, 600);
    let got = sim.raw_deliveries();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]
            .1
            .to_publish(PacketId::MIN, sim.now)
            .properties
            .message_expiry_interval,
        Some(40)
    );
}
