//! Fault injection per client inside the real broker: a plan, chosen at CONNECT by client id
//! or certificate id, that refuses the CONNECT with a reason code, withholds or delays the
//! packets of a type the server sends, or drops the connection after a number of bytes. The
//! connection routes everything for real (the router applies a PUBLISH whose PUBACK is
//! withheld; a SUBSCRIBE whose SUBACK is withheld still subscribes); only what leaves towards
//! the client changes. Used by `tether qualify`, the torture suite and `[[fault]]` tables of
//! `tether serve`. A plan may also carry an [`Observer`], told what the client sends (CONNECT,
//! PUBLISH, SUBSCRIBE, PUBACK of a delivery, DISCONNECT) and when its connection ends, so that a
//! test judges a device from its packets while the real broker and services answer it. It
//! does not inject faults into what the client sends, into TLS, or into WebSocket framing.
//!
//! Cost when no plan is set: the table is looked up once per CONNECT (an empty table is one
//! atomic load), and the connection task picks its loop once: without a plan it runs the plain
//! loop, which holds no trace of fault injection (mqtt/connection.rs, `Transmit`).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::BytesMut;
use mqtt_proto::{PacketType, ReasonCode};

/// Which connections a plan applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultTarget {
    /// Connections whose CONNECT carries this client id.
    ClientId(String),
    /// Connections authenticated by the certificate with this id (64 hex digits).
    CertificateId(String),
    /// TCP connections from this address. The only target a [`FaultPlan::server_certificate`]
    /// can have: the server's certificate leaves before the client's certificate or client id
    /// is known, and the peer address is what is known then (see [`ServerCertificate`]).
    Peer(IpAddr),
}

/// An alternate server certificate the mutual-TLS listeners present to a peer address instead
/// of the data directory's own (the ones `tether qualify` presents in its negative TLS tests,
/// made the same way: the server's own keys, only the one property differing).
///
/// Keyed by the peer's address, chosen over the two other things known when the certificate is
/// sent: the SNI name (a device connecting by IP address sends none, and one sending a name
/// would need that name to resolve to tether) and a dedicated listener (a device would need its
/// port changed, and every client of that port would get the fault). A desk device keeps its
/// address (a DHCP reservation), and a test client can pick one on the loopback network
/// (`mosquitto_pub -A 127.0.0.2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerCertificate {
    /// From the data directory's CA, for the right names, expired a day before it was made.
    Expired,
    /// From the data directory's CA, for `wrong-name.qualify.tether.invalid` only.
    WrongName,
    /// For the right names, from a CA made for the purpose, which no client trusts.
    Untrusted,
    /// From the data directory's CA, for the right names, padded to 8 KB or more with names
    /// under `.invalid`.
    Large,
}

impl ServerCertificate {
    /// Every kind, with its name in config files.
    pub const ALL: [(ServerCertificate, &'static str); 4] = [
        (ServerCertificate::Expired, "expired"),
        (ServerCertificate::WrongName, "wrong-name"),
        (ServerCertificate::Untrusted, "untrusted"),
        (ServerCertificate::Large, "large"),
    ];

    /// A kind by its config-file name (`expired`, `wrong-name`, `untrusted`, `large`).
    pub fn parse(name: &str) -> Option<ServerCertificate> {
        ServerCertificate::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name.trim()))
            .map(|(kind, _)| *kind)
    }
}

/// Packets of one type that the server does not send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Withhold {
    /// The packet type (CONNACK, PUBACK, SUBACK, PINGRESP, PUBLISH...).
    pub packet: PacketType,
    /// How many of them, counted across every connection of the plan's target; None: all.
    pub count: Option<u32>,
}

/// Packets of one type that leave late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    /// The packet type.
    pub packet: PacketType,
    /// How late. The connection writes nothing meanwhile, so what the server sends after the
    /// delayed packet waits too, as behind a slow link (order is kept).
    pub by: Duration,
}

/// What the broker does to one client's connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// CONNACK with this reason code instead of asking the broker (MQTT 3.1.1 clients get the
    /// return code the codec maps it to).
    pub refuse_connect: Option<ReasonCode>,
    /// Packet types not sent.
    pub withhold: Vec<Withhold>,
    /// Packet types sent late.
    pub delay: Vec<Delay>,
    /// After this many bytes sent to the client on a connection (MQTT bytes, before TLS), the
    /// server drops the connection without a DISCONNECT, as a lost link would.
    pub drop_after_bytes: Option<u64>,
    /// Told what the client sends; it changes nothing.
    pub observer: Option<Observer>,
    /// The server certificate presented instead of the real one (a [`FaultTarget::Peer`] plan
    /// only; the mutual-TLS listeners, not port 443 or WebSockets).
    pub server_certificate: Option<ServerCertificate>,
}

/// What an [`Observer`] is told, in the order the connection saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// The CONNECT was accepted and its CONNACK queued.
    Connected {
        /// The CONNECT's client id.
        client_id: String,
        /// Its clean session (3.1.1) or clean start (5) flag.
        clean_start: bool,
        /// What the CONNACK says.
        session_present: bool,
    },
    /// The client published (reported after the router has it, so whatever the broker does
    /// next comes after it).
    Publish {
        /// The topic.
        topic: String,
        /// 0, 1 or 2.
        qos: u8,
        /// The payload.
        payload: Vec<u8>,
    },
    /// The client subscribed (after the router has the SUBSCRIBE).
    Subscribe {
        /// The filters, as sent.
        filters: Vec<String>,
        /// The packet id.
        packet_id: u16,
    },
    /// The client acknowledged a QoS 1 or 2 delivery (PUBACK, PUBCOMP).
    Delivered {
        /// The delivery's packet id.
        packet_id: u16,
    },
    /// The client sent DISCONNECT.
    Disconnected,
    /// The connection ended (after a DISCONNECT, or lost, or closed by the server).
    Closed,
}

/// A callback told what a client's connections send ([`FaultPlan::observer`]). Called on the
/// connection's task: it must not block (send the event into a channel).
#[derive(Clone)]
pub struct Observer(Arc<dyn Fn(Observed) + Send + Sync>);

impl Observer {
    /// An observer calling `f` with each event.
    pub fn new(f: impl Fn(Observed) + Send + Sync + 'static) -> Observer {
        Observer(Arc::new(f))
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

/// Two observers are equal when they are the same callback.
impl PartialEq for Observer {
    fn eq(&self, other: &Observer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Observer {}

impl FaultPlan {
    /// Whether the plan changes anything.
    pub fn is_empty(&self) -> bool {
        *self == FaultPlan::default()
    }
}

/// A plan with its counters, shared by the connections of its target.
#[derive(Debug)]
struct Armed {
    target: FaultTarget,
    plan: FaultPlan,
    /// Per `plan.withhold` entry: how many were withheld so far.
    withheld: Vec<AtomicU32>,
}

/// The broker's fault plans, changeable while it runs (cheap to clone: one shared table).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    any: Arc<AtomicBool>,
    plans: Arc<RwLock<Vec<Arc<Armed>>>>,
}

impl Faults {
    /// No plans.
    pub fn new() -> Faults {
        Faults::default()
    }

    /// Sets the plan for `target`, replacing any earlier one (and its counters). Connections
    /// already established keep the plan they started with.
    pub fn set(&self, target: FaultTarget, plan: FaultPlan) {
        let withheld = plan.withhold.iter().map(|_| AtomicU32::new(0)).collect();
        let armed = Arc::new(Armed {
            target,
            plan,
            withheld,
        });
        let mut plans = self.plans.write().unwrap_or_else(|e| e.into_inner());
        plans.retain(|p| p.target != armed.target);
        plans.push(armed);
        self.any.store(true, Ordering::Release);
    }

    /// Removes the plan for `target`.
    pub fn remove(&self, target: &FaultTarget) {
        let mut plans = self.plans.write().unwrap_or_else(|e| e.into_inner());
        plans.retain(|p| p.target != *target);
        self.any.store(!plans.is_empty(), Ordering::Release);
    }

    /// Removes every plan.
    pub fn clear(&self) {
        let mut plans = self.plans.write().unwrap_or_else(|e| e.into_inner());
        plans.clear();
        self.any.store(false, Ordering::Release);
    }

    /// The alternate server certificate for a TCP connection from `peer`, if a plan sets one.
    pub(crate) fn server_certificate_for(&self, peer: IpAddr) -> Option<ServerCertificate> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let plans = self.plans.read().unwrap_or_else(|e| e.into_inner());
        plans
            .iter()
            .find(|p| p.target == FaultTarget::Peer(peer))
            .and_then(|p| p.plan.server_certificate)
    }

    /// The plan of a new connection: the client id's plan first, else the certificate's.
    pub(crate) fn plan_for(
        &self,
        client_id: &str,
        certificate_id: Option<&str>,
    ) -> Option<ConnectionFaults> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let plans = self.plans.read().unwrap_or_else(|e| e.into_inner());
        let by_client = plans
            .iter()
            .find(|p| matches!(&p.target, FaultTarget::ClientId(id) if id == client_id));
        let by_certificate = || {
            let certificate_id = certificate_id?;
            plans.iter().find(|p| {
                matches!(&p.target, FaultTarget::CertificateId(id)
                    if id.eq_ignore_ascii_case(certificate_id))
            })
        };
        let armed = by_client.or_else(by_certificate)?;
        Some(ConnectionFaults {
            armed: Arc::clone(armed),
            sent: 0,
        })
    }
}

/// One connection's plan and what it has sent.
#[derive(Debug)]
pub(crate) struct ConnectionFaults {
    armed: Arc<Armed>,
    sent: u64,
}

/// What to do with one flush's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Shaped {
    /// Wait this long before writing.
    pub wait: Option<Duration>,
    /// After writing what is left, drop the connection.
    pub drop: bool,
}

impl ConnectionFaults {
    /// The reason code the CONNECT is refused with, if the plan refuses it.
    pub fn refuse_connect(&self) -> Option<ReasonCode> {
        self.armed.plan.refuse_connect
    }

    /// Tells the plan's observer, if it has one.
    pub fn observe(&self, event: impl FnOnce() -> Option<Observed>) {
        if let Some(observer) = &self.armed.plan.observer
            && let Some(event) = event()
        {
            (observer.0)(event);
        }
    }

    /// Rewrites `tx` (whole packets, as the session encoded them): withheld packets removed,
    /// the bytes past the drop limit cut; says how long to wait first and whether to drop.
    pub fn shape(&mut self, tx: &mut BytesMut) -> Shaped {
        let plan = &self.armed.plan;
        let mut kept = BytesMut::with_capacity(tx.len());
        let mut wait = None;
        let mut rest: &[u8] = tx;
        while !rest.is_empty() {
            let len = packet_len(rest).unwrap_or(rest.len()).min(rest.len());
            let (packet, after) = rest.split_at(len);
            rest = after;
            let kind = packet
                .first()
                .and_then(|b| PacketType::from_u8(b >> 4))
                .unwrap_or(PacketType::Auth);
            if self.withholds(kind) {
                continue;
            }
            if let Some(delay) = plan.delay.iter().find(|d| d.packet == kind) {
                wait = Some(wait.map_or(delay.by, |w: Duration| w.max(delay.by)));
            }
            kept.extend_from_slice(packet);
        }
        let mut drop = false;
        if let Some(limit) = plan.drop_after_bytes {
            let room = limit.saturating_sub(self.sent);
            if room <= kept.len() as u64 {
                kept.truncate(usize::try_from(room).unwrap_or(usize::MAX));
                drop = true;
            }
        }
        self.sent = self.sent.saturating_add(kept.len() as u64);
        *tx = kept;
        Shaped { wait, drop }
    }

    /// Whether this packet is withheld (and counts it).
    fn withholds(&self, kind: PacketType) -> bool {
        let entries = self.armed.plan.withhold.iter().zip(&self.armed.withheld);
        for (entry, counter) in entries {
            if entry.packet != kind {
                continue;
            }
            let Some(count) = entry.count else {
                return true;
            };
            let taken = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < count).then_some(n + 1)
            });
            if taken.is_ok() {
                return true;
            }
        }
        false
    }
}

/// The length of the packet at the start of `bytes` from its fixed header (MQTT 3.1.1 §2.2,
/// MQTT 5 §2.1); None when the header is incomplete or malformed.
fn packet_len(bytes: &[u8]) -> Option<usize> {
    let mut remaining: usize = 0;
    for (i, byte) in bytes.iter().skip(1).take(4).enumerate() {
        remaining |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return remaining.checked_add(i + 2);
        }
    }
    None
}

/// A packet type by its name in the specification (`CONNACK`, `puback`...), for config files
/// and command lines.
pub fn packet_type(name: &str) -> Option<PacketType> {
    (1..=15)
        .filter_map(PacketType::from_u8)
        .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
    const PUBACK: [u8; 4] = [0x40, 0x02, 0x00, 0x07];
    const PINGRESP: [u8; 2] = [0xD0, 0x00];

    fn faults(plan: FaultPlan) -> (Faults, ConnectionFaults) {
        let faults = Faults::new();
        faults.set(FaultTarget::ClientId("dev".into()), plan);
        let conn = faults.plan_for("dev", None).unwrap();
        (faults, conn)
    }

    fn buf(parts: &[&[u8]]) -> BytesMut {
        let mut out = BytesMut::new();
        for p in parts {
            out.extend_from_slice(p);
        }
        out
    }

    #[test]
    fn no_plan_means_no_lookup_result_and_targets_are_matched_exactly() {
        let faults = Faults::new();
        assert!(faults.plan_for("dev", Some("ab")).is_none());
        faults.set(
            FaultTarget::CertificateId("ABCD".into()),
            FaultPlan::default(),
        );
        assert!(faults.plan_for("dev", None).is_none());
        assert!(faults.plan_for("dev", Some("abcd")).is_some());
        faults.set(FaultTarget::ClientId("dev".into()), FaultPlan::default());
        assert!(faults.plan_for("other", Some("ef")).is_none());
        let peer = IpAddr::from([127, 0, 0, 2]);
        assert_eq!(faults.server_certificate_for(peer), None);
        faults.set(
            FaultTarget::Peer(peer),
            FaultPlan {
                server_certificate: ServerCertificate::parse(" Wrong-Name"),
                ..FaultPlan::default()
            },
        );
        assert_eq!(
            faults.server_certificate_for(peer),
            Some(ServerCertificate::WrongName)
        );
        assert_eq!(faults.server_certificate_for([127, 0, 0, 1].into()), None);
        assert_eq!(ServerCertificate::parse("nope"), None);
        faults.clear();
        assert!(faults.plan_for("dev", Some("abcd")).is_none());
    }

    #[test]
    fn the_first_n_packets_of_a_type_are_withheld_across_connections() {
        let plan = FaultPlan {
            withhold: vec![Withhold {
                packet: PacketType::ConnAck,
                count: Some(2),
            }],
            ..FaultPlan::default()
        };
        let (faults, mut first) = faults(plan);
        let mut tx = buf(&[&CONNACK, &PINGRESP]);
        assert_eq!(
            first.shape(&mut tx),
            Shaped {
                wait: None,
                drop: false
            }
        );
        assert_eq!(&tx[..], &PINGRESP);
        for want in [&[][..], &CONNACK[..]] {
            let mut next = faults.plan_for("dev", None).unwrap();
            let mut tx = buf(&[&CONNACK]);
            next.shape(&mut tx);
            assert_eq!(&tx[..], want);
        }
    }

    #[test]
    fn withholding_all_keeps_the_others_in_order_and_delays_take_the_longest() {
        let plan = FaultPlan {
            withhold: vec![Withhold {
                packet: PacketType::PubAck,
                count: None,
            }],
            delay: vec![Delay {
                packet: PacketType::PingResp,
                by: Duration::from_millis(300),
            }],
            ..FaultPlan::default()
        };
        let (_faults, mut conn) = faults(plan);
        let long_publish = {
            let mut p = vec![0x30, 0x80, 0x01];
            p.extend(std::iter::repeat_n(b'x', 128));
            p
        };
        let mut tx = buf(&[&PUBACK, &long_publish, &PUBACK, &PINGRESP]);
        let shaped = conn.shape(&mut tx);
        assert_eq!(shaped.wait, Some(Duration::from_millis(300)));
        assert_eq!(&tx[..], &buf(&[&long_publish, &PINGRESP])[..]);
    }

    #[test]
    fn the_connection_drops_after_the_byte_limit_across_flushes() {
        let plan = FaultPlan {
            drop_after_bytes: Some(5),
            ..FaultPlan::default()
        };
        let (_faults, mut conn) = faults(plan);
        let mut tx = buf(&[&CONNACK]);
        assert!(!conn.shape(&mut tx).drop);
        assert_eq!(tx.len(), 4);
        let mut tx = buf(&[&PUBACK]);
        assert!(conn.shape(&mut tx).drop);
        assert_eq!(&tx[..], &PUBACK[..1]);
    }

    #[test]
    fn an_observer_is_told_only_what_happened_and_a_plan_with_one_is_not_empty() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let observer = Observer::new(move |e| sink.lock().unwrap().push(e));
        let plan = FaultPlan {
            observer: Some(observer.clone()),
            ..FaultPlan::default()
        };
        assert!(!plan.is_empty());
        assert_eq!(plan.observer, Some(observer));
        let (_faults, conn) = faults(plan);
        conn.observe(|| Some(Observed::Disconnected));
        conn.observe(|| None);
        conn.observe(|| Some(Observed::Closed));
        assert_eq!(
            *seen.lock().unwrap(),
            [Observed::Disconnected, Observed::Closed]
        );
        let (_faults, plain) = faults(FaultPlan::default());
        plain.observe(|| panic!("no observer: the event is not even made"));
    }

    #[test]
    fn packet_names_parse_case_insensitively() {
        assert_eq!(packet_type("puback"), Some(PacketType::PubAck));
        assert_eq!(packet_type(" PINGRESP "), Some(PacketType::PingResp));
        assert_eq!(packet_type("nope"), None);
        assert_eq!(packet_len(&[0x30]), None);
        assert_eq!(packet_len(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF]), None);
    }
}
