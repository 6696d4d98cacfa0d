//! AWS `DeleteConnection`: the live connection is closed with 0x98; by default the session and
//! the will follow the usual rules of a server close, `cleanSession` ends the session with the
//! connection, `preventWillMessage` discards the will; a client that is not connected is not
//! found.

use mqtt_proto::ReasonCode;

use super::*;

fn closed_by_operator(effects: &[Effect], dev: ConnId) -> bool {
    effects.iter().any(|e| {
        matches!(e, Effect::Close { conn, reason: ReasonCode::AdministrativeAction } if *conn == dev)
    })
}

/// A watcher of `wills/#` and `dev` (persistent, 600 s, a will without delay, subscribed to
/// `cmd/dev`).
fn setup(sim: &mut Sim) -> (ConnId, ConnId) {
    let (w, _) = sim.connect("watcher", Protocol::V5, true);
    sim.subscribe(w, &[("wills/#", QoS::AtLeastOnce)]);
    let dev = sim.connect_will("dev", 600, "wills/dev", None);
    sim.subscribe(dev, &[("cmd/dev", QoS::AtLeastOnce)]);
    sim.effects();
    (w, dev)
}

#[test]
fn delete_connection_closes_the_client_and_by_default_keeps_its_session_and_will() {
    let mut sim = Sim::aws();
    let (w, dev) = setup(&mut sim);
    assert!(sim.broker.delete_connection("dev", false, false));
    let effects = sim.effects();
    assert!(closed_by_operator(&effects, dev), "{effects:?}");
    assert!(persist_ops(&effects).is_empty(), "{effects:?}");
    // The connection task reports the server's close.
    sim.disconnect(dev, DisconnectKind::ServerClose);
    let wills = sim
        .deliveries()
        .into_iter()
        .filter(|g| g.conn == w && g.topic == "wills/dev")
        .count();
    assert_eq!(wills, 1, "the will is published");
    assert_eq!(sim.broker.session_state("dev"), Some(false), "session kept");
    // Offline: not connected, so not found.
    assert!(!sim.broker.delete_connection("dev", false, false));
    assert!(!sim.broker.delete_connection("nobody", true, true));
    assert!(sim.effects().is_empty());
    let (_, again) = sim.connect_v5("dev", false, 600);
    assert!(again.session_present);
}

#[test]
fn clean_session_and_prevent_will_discard_the_session_and_the_will() {
    let mut sim = Sim::aws();
    let (w, dev) = setup(&mut sim);
    assert!(sim.broker.delete_connection("dev", true, true));
    let effects = sim.effects();
    assert!(closed_by_operator(&effects, dev), "{effects:?}");
    assert_eq!(
        persist_ops(&effects),
        vec![PersistOp::SessionDeleted {
            client_id: MqttStr::new("dev").unwrap()
        }]
    );
    sim.disconnect(dev, DisconnectKind::ServerClose);
    sim.advance(700);
    let wills = sim
        .deliveries()
        .into_iter()
        .filter(|g| g.conn == w && g.topic == "wills/dev")
        .count();
    assert_eq!(wills, 0, "the will is not published");
    assert_eq!(sim.broker.session_state("dev"), None, "session gone");
    // Nothing was queued for it meanwhile, and it comes back to a new session.
    let (pub_conn, _) = sim.connect("ops", Protocol::V5, true);
    sim.publish(pub_conn, "cmd/dev", b"x", QoS::AtLeastOnce, false);
    sim.effects();
    let (_, again) = sim.connect_v5("dev", false, 600);
    assert!(!again.session_present);
    assert!(sim.deliveries().is_empty());
}

#[test]
fn clean_session_publishes_a_delayed_will_when_the_session_ends() {
    let mut sim = Sim::aws();
    let (w, _) = sim.connect("watcher", Protocol::V5, true);
    sim.subscribe(w, &[("wills/#", QoS::AtLeastOnce)]);
    let dev = sim.connect_will("dev", 600, "wills/dev", Some(30));
    sim.effects();
    // cleanSession without preventWillMessage: the session ends with the connection, and a
    // will delayed past a session's end is published when it ends [MQTT-3.1.3-9].
    assert!(sim.broker.delete_connection("dev", true, false));
    sim.disconnect(dev, DisconnectKind::ServerClose);
    let wills = sim
        .deliveries()
        .into_iter()
        .filter(|g| g.conn == w && g.topic == "wills/dev")
        .count();
    assert_eq!(wills, 1);
}
