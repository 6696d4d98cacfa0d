//! The `Broker` and its session lifecycle: connect (client id rules, takeover, clean start,
//! resume and queue drain), disconnect (wills, unacknowledged deliveries, session expiry),
//! timers, restore from storage, and statistics. Publishing, subscribing and routing are in
//! `routing.rs`. Nothing here reads a clock or does IO.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use mqtt_proto::time::Instant;
use mqtt_proto::{MqttStr, ReasonCode, Will};

use crate::auth::{Action, AllowAll, Authorizer, Decision};
use crate::config::{BrokerConfig, ConfigError};
use crate::connect::{ConnectOutcome, ConnectRequest, Connected, DisconnectKind};
use crate::effect::{ConnId, Effect, PersistOp};
use crate::index::{Matches, SessionKey, SubscriptionIndex};
use crate::message::{Delivery, Message};
use crate::profile;
use crate::reserved;
use crate::retained::RetainedStore;
use crate::services::{ServiceRoute, ServiceRoutes};
use crate::session::{PendingWill, Session};

/// Counters and sizes, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Sessions held (connected or not).
    pub sessions: usize,
    /// Connections attached to a session.
    pub connections: usize,
    /// Subscriptions held.
    pub subscriptions: usize,
    /// Retained messages held.
    pub retained: usize,
    /// Messages accepted for routing (client publishes, wills, server publishes).
    pub published: u64,
    /// Deliveries handed to connections or queued.
    pub delivered: u64,
    /// Queued messages dropped because a session's queue was full.
    pub queue_dropped: u64,
    /// Queued or retained messages dropped because they expired.
    pub expired: u64,
    /// Deliveries withheld because `Receive` was denied.
    pub receive_denied: u64,
    /// Wills published.
    pub wills_published: u64,
}

/// What a timer is for. Stale timers are removed when their deadline changes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    Will(SessionKey),
    SessionExpiry(SessionKey),
    QueueExpiry(SessionKey),
    Retained(MqttStr),
}

/// The broker: every session, subscription and retained message, driven by the server's
/// router task.
///
/// Call order: `handle_connect` for each new connection (after authentication); then, for an
/// accepted connection, any number of `handle_publish` / `handle_subscribe` /
/// `handle_unsubscribe`; finally exactly one `handle_disconnect` when its task ends, including
/// connections the broker asked to close (none after a refused CONNECT). Call `handle_tick`
/// whenever `next_deadline` has passed. After every call, drain
/// [`Broker::poll_effect`] and carry the effects out in order: the caller answers the
/// triggering packet (CONNACK, PUBACK, SUBACK...) from the return value *before* the effects,
/// so queued and retained deliveries follow their acknowledgement on the wire.
#[derive(Debug)]
pub struct Broker<A: Authorizer = AllowAll> {
    pub(crate) config: BrokerConfig,
    pub(crate) authorizer: A,
    // Keys the broker numbers itself hash with foldhash (looked up for every delivery); client
    // ids come from the network and keep std's SipHash.
    pub(crate) sessions: foldhash::HashMap<SessionKey, Session<A::Principal>>,
    pub(crate) by_client: HashMap<MqttStr, SessionKey>,
    pub(crate) conns: foldhash::HashMap<ConnId, SessionKey>,
    pub(crate) index: SubscriptionIndex,
    pub(crate) retained: RetainedStore,
    pub(crate) timers: BTreeSet<(Instant, Timer)>,
    pub(crate) effects: VecDeque<Effect>,
    /// Scratch space reused by every publish.
    pub(crate) matches: Matches,
    /// Publishes that go to services of the server.
    pub(crate) services: ServiceRoutes,
    pub(crate) next_session: u64,
    pub(crate) next_assigned: u64,
    pub(crate) stats: BrokerStats,
}

impl Broker<AllowAll> {
    /// A broker that allows everything.
    pub fn new(config: BrokerConfig) -> Result<Self, ConfigError> {
        Broker::with_authorizer(config, AllowAll)
    }
}

impl<A: Authorizer> Broker<A> {
    /// A broker that asks `authorizer` before every connect, publish, subscribe and delivery.
    pub fn with_authorizer(config: BrokerConfig, authorizer: A) -> Result<Self, ConfigError> {
        config.validate()?;
        let hash_matches_parent = config.limits.multi_level_wildcard_matches_parent;
        let index = SubscriptionIndex::new(hash_matches_parent);
        let services = ServiceRoutes::new(config.service_routes.clone(), hash_matches_parent);
        Ok(Broker {
            config,
            authorizer,
            sessions: foldhash::HashMap::default(),
            by_client: HashMap::new(),
            conns: foldhash::HashMap::default(),
            index,
            retained: RetainedStore::default(),
            timers: BTreeSet::new(),
            effects: VecDeque::new(),
            matches: Matches::default(),
            services,
            next_session: 0,
            next_assigned: 0,
            stats: BrokerStats::default(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Replaces the service routes (e.g. when topic rules change). Publishes routed from now on
    /// follow the new routes.
    pub fn set_service_routes(&mut self, routes: Vec<ServiceRoute>) {
        let hash_matches_parent = self.config.limits.multi_level_wildcard_matches_parent;
        self.config.service_routes = routes.clone();
        self.services = ServiceRoutes::new(routes, hash_matches_parent);
    }

    /// The service routes in force.
    pub fn service_routes(&self) -> &[ServiceRoute] {
        self.services.routes()
    }

    /// The authorizer, e.g. to update the policies it holds.
    pub fn authorizer_mut(&mut self) -> &mut A {
        &mut self.authorizer
    }

    /// The next effect to carry out, oldest first.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// All pending effects, oldest first.
    pub fn drain_effects(&mut self) -> std::collections::vec_deque::Drain<'_, Effect> {
        self.effects.drain(..)
    }

    /// When `handle_tick` next has work (will delay, session expiry, message expiry).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Counters and sizes.
    pub fn stats(&self) -> BrokerStats {
        BrokerStats {
            sessions: self.sessions.len(),
            connections: self.sessions.values().filter(|s| s.conn.is_some()).count(),
            subscriptions: self.index.len(),
            retained: self.retained.len(),
            ..self.stats
        }
    }

    /// Queued messages dropped so far because a session's queue was full (the oldest goes):
    /// [`BrokerStats::queue_dropped`] without counting sessions, cheap enough for every step.
    pub fn queue_dropped(&self) -> u64 {
        self.stats.queue_dropped
    }

    /// The client id a connection is attached to, if it is (still) the session's owner.
    pub fn client_id(&self, conn: ConnId) -> Option<&MqttStr> {
        let key = self.conns.get(&conn)?;
        let session = self.sessions.get(key)?;
        (session.conn == Some(conn)).then_some(&session.client_id)
    }

    /// The live connection of `client_id`'s session, if it is connected: the one a CONNECT with
    /// the same client id would take over.
    pub fn connection_of(&self, client_id: &str) -> Option<ConnId> {
        let key = self.by_client.get(client_id)?;
        self.sessions.get(key).and_then(|s| s.conn)
    }

    /// Whether a session exists for `client_id`, and whether it is connected.
    pub fn session_state(&self, client_id: &str) -> Option<bool> {
        let key = self.by_client.get(client_id)?;
        self.sessions.get(key).map(|s| s.conn.is_some())
    }

    /// Asks the server to close `client_id`'s connection (administrative action, revoked
    /// certificate). Returns false when it is not connected.
    pub fn close_client(&mut self, client_id: &str, reason: ReasonCode) -> bool {
        let conn = self
            .by_client
            .get(client_id)
            .and_then(|key| self.sessions.get(key))
            .and_then(|s| s.conn);
        if let Some(conn) = conn {
            self.effects.push_back(Effect::Close { conn, reason });
        }
        conn.is_some()
    }

    /// Handles an authenticated CONNECT on a new connection `conn`: admission (client id, will,
    /// `iot:Connect`), what is granted, takeover of a live connection with the same client id,
    /// then resume or a new session.
    pub fn handle_connect(
        &mut self,
        conn: ConnId,
        request: ConnectRequest<A::Principal>,
        now: Instant,
    ) -> ConnectOutcome {
        if self.conns.contains_key(&conn) {
            // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
            return ConnectOutcome::Refused(ReasonCode::ProtocolError);
        }
        let (client_id, client_id_assigned) = match self.admit(conn, &request) {
            Ok(admitted) => admitted,
            Err(reason) => return ConnectOutcome::Refused(reason),
        };
        let ConnectRequest {
            protocol,
            clean_start,
            keep_alive,
            session_expiry,
            will,
            principal,
            ..
        } = request;
        let limits = &self.config.limits;
        let granted_keep_alive = match limits.keep_alive_clamp {
            Some((_, max)) if keep_alive == 0 => max,
            Some((min, max)) => keep_alive.clamp(min, max),
            None => keep_alive,
        };
        // `admit` refused the 3.1.1 clients this would change; MQTT 5 ones learn it in CONNACK.
        let granted_keep_alive = match limits.max_keep_alive {
            Some(max) if granted_keep_alive == 0 || granted_keep_alive > max => max,
            _ => granted_keep_alive,
        };
        let requested_expiry = if protocol.is_v5() {
            session_expiry.unwrap_or(0)
        } else if clean_start {
            0
        } else {
            limits.default_session_expiry
        };
        let granted_expiry = requested_expiry.min(limits.max_session_expiry);

        let resumed = self.take_over(&client_id, clean_start, protocol, now);
        let key = resumed.unwrap_or_else(|| self.new_session(&client_id, protocol, &principal));
        self.conns.insert(conn, key);

        // A reconnect before the will delay passed cancels the will (MQTT 5 §3.1.3.2.2).
        self.set_timer(key, None, TimerSlot::Will);
        self.set_timer(key, None, TimerSlot::Expiry);
        let Some(session) = self.sessions.get_mut(&key) else {
            return ConnectOutcome::Refused(ReasonCode::ImplementationSpecificError);
        };
        let was_durable = session.durable();
        session.conn = Some(conn);
        session.protocol = protocol;
        session.principal = principal;
        session.expiry_interval = granted_expiry;
        session.will = will.map(|w| will_message(w, &client_id));
        if session.durable() {
            self.effects
                .push_back(Effect::Persist(PersistOp::SessionUpserted {
                    client_id: client_id.clone(),
                    expiry_interval: granted_expiry,
                    protocol,
                }));
        } else if was_durable {
            self.effects
                .push_back(Effect::Persist(PersistOp::SessionDeleted {
                    client_id: client_id.clone(),
                }));
        }
        if resumed.is_some() {
            self.drain_queue(key, conn, &client_id, was_durable, now);
        }
        self.set_timer(key, None, TimerSlot::Queue);

        ConnectOutcome::Accepted(Connected {
            session_present: resumed.is_some(),
            client_id,
            client_id_assigned,
            keep_alive: granted_keep_alive,
            keep_alive_changed: granted_keep_alive != keep_alive,
            session_expiry: granted_expiry,
            session_expiry_changed: protocol.is_v5() && granted_expiry != requested_expiry,
        })
    }

    /// The checks a CONNECT must pass before it touches any session: the client id (or one
    /// assigned), an MQTT 3.1.1 keep-alive under a configured maximum, the will under the
    /// profile, `iot:Connect` and the will's `iot:Publish`.
    /// Returns the client id and whether the broker assigned it.
    fn admit(
        &mut self,
        conn: ConnId,
        request: &ConnectRequest<A::Principal>,
    ) -> Result<(MqttStr, bool), ReasonCode> {
        let limits = &self.config.limits;
        let protocol = request.protocol;
        // Client id: [MQTT-3.1.3-7/8] an empty id needs a clean 3.1.1 session or MQTT 5;
        // MQTT 3.1 (MQIsdp) has no assigned ids at all (its ids are 1 to 23 characters).
        let (client_id, assigned) = if request.client_id.is_empty() {
            if protocol == mqtt_proto::Protocol::V31 || (!protocol.is_v5() && !request.clean_start)
            {
                return Err(ReasonCode::ClientIdentifierNotValid);
            }
            (self.assign_client_id(), true)
        } else {
            if !profile::client_id_allowed(limits, &request.client_id) {
                let limit = profile::client_id_limit(limits);
                let reason = ReasonCode::ClientIdentifierNotValid;
                let id = request.client_id.as_str();
                self.limited(conn, None, ("CONNECT", id), limit, reason);
                return Err(reason);
            }
            (request.client_id.clone(), false)
        };

        // A keep-alive above the configured maximum (or none at all) can only be corrected in
        // an MQTT 5 CONNACK; older clients are refused, as that reference broker does.
        if let Some(max) = self.config.limits.max_keep_alive
            && !protocol.is_v5()
            && (request.keep_alive == 0 || request.keep_alive > max)
        {
            let asked = match request.keep_alive {
                0 => "none (0)".to_owned(),
                seconds => format!("{seconds} s"),
            };
            let limit = format!(
                "a keep-alive of at most {max} s (this MQTT 3.1.1 client asks for {asked} and \
                 cannot be told the server's value; MQTT 5 clients get Server Keep Alive)"
            );
            let reason = ReasonCode::ClientIdentifierNotValid;
            let resource = ("CONNECT", client_id.as_str());
            self.limited(conn, Some(&client_id), resource, limit, reason);
            return Err(reason);
        }

        // The will must be publishable under the profile ([MQTT-3.2.2-12] QoS, topic, size).
        if let Some(will) = &request.will
            && let Some((limit, reason)) = self.will_limit(will)
        {
            let resource = ("CONNECT", will.topic.as_str());
            self.limited(conn, Some(&client_id), resource, limit, reason);
            return Err(reason);
        }

        let principal = &request.principal;
        if !self.authorize(Some(conn), principal, &client_id, Action::Connect) {
            return Err(ReasonCode::NotAuthorized);
        }
        if let Some(will) = &request.will {
            let action = Action::Publish {
                topic: will.topic.as_str(),
                retain: will.retain,
            };
            if !self.authorize(Some(conn), principal, &client_id, action) {
                return Err(ReasonCode::NotAuthorized);
            }
        }
        Ok((client_id, assigned))
    }

    /// The limit of the profile a CONNECT's will breaks, if any, with the CONNACK reason.
    fn will_limit(&self, will: &Will) -> Option<(String, ReasonCode)> {
        let limits = &self.config.limits;
        if will.qos > limits.maximum_qos {
            let limit = format!(
                "the maximum QoS {} (the will has QoS {})",
                limits.maximum_qos as u8, will.qos as u8
            );
            return Some((limit, ReasonCode::QosNotSupported));
        }
        if let Some(max) = limits.max_payload
            && will.payload.len() > max
        {
            let limit = format!(
                "the maximum payload of {max} bytes (the will's is {} bytes)",
                will.payload.len()
            );
            return Some((limit, ReasonCode::PacketTooLarge));
        }
        if !profile::topic_allowed(limits, &will.topic) {
            return Some((profile::topic_limit(limits), ReasonCode::TopicNameInvalid));
        }
        if will.retain && will.topic.is_reserved() && !limits.retain_on_reserved_topics {
            let limit = "no retained messages on reserved ($) topics".to_owned();
            return Some((limit, ReasonCode::TopicNameInvalid));
        }
        if limits.subscribe_only_reserved_topics && reserved::subscribe_only(&will.topic) {
            // A will there would forge an event or a service's answer on the client's behalf.
            return Some((reserved::LIMIT.to_owned(), ReasonCode::NotAuthorized));
        }
        None
    }

    /// Takes over the session of `client_id`, if there is one: its live connection is closed
    /// and its will handled; the session is resumed when the CONNECT allows it (returned) or
    /// ended otherwise.
    fn take_over(
        &mut self,
        client_id: &MqttStr,
        clean_start: bool,
        protocol: mqtt_proto::Protocol,
        now: Instant,
    ) -> Option<SessionKey> {
        let key = self.by_client.get(client_id).copied()?;
        if let Some(old_conn) = self.sessions.get_mut(&key).and_then(|s| s.conn.take()) {
            // [MQTT-3.1.4-3] the new connection wins; the old one gets DISCONNECT 0x8E and its
            // will is handled as for any connection that did not DISCONNECT normally.
            self.effects.push_back(Effect::Close {
                conn: old_conn,
                reason: ReasonCode::SessionTakenOver,
            });
            self.trigger_will(key, now);
        }
        let resumable = self.sessions.get(&key).is_some_and(|s| {
            !clean_start
                && s.durable()
                && !(self.config.limits.resume_requires_same_protocol && s.protocol != protocol)
        });
        if resumable {
            return Some(key);
        }
        self.end_session(key, now);
        None
    }

    /// A new, empty session for `client_id`.
    fn new_session(
        &mut self,
        client_id: &MqttStr,
        protocol: mqtt_proto::Protocol,
        principal: &A::Principal,
    ) -> SessionKey {
        let key = SessionKey(self.next_session);
        self.next_session += 1;
        let session = Session::new(client_id.clone(), protocol, principal.clone());
        self.sessions.insert(key, session);
        self.by_client.insert(client_id.clone(), key);
        key
    }

    /// Resume: deliveries left unacknowledged by the last connection come first (they were
    /// queued first at its disconnect), then what was queued while offline; expired ones are
    /// dropped.
    fn drain_queue(
        &mut self,
        key: SessionKey,
        conn: ConnId,
        client_id: &MqttStr,
        was_durable: bool,
        now: Instant,
    ) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        if session.queue.is_empty() {
            return;
        }
        let mut expired = 0;
        for queued in session.queue.drain(..) {
            if queued.delivery.message.is_expired(now) {
                expired += 1;
            } else {
                self.effects.push_back(Effect::Deliver {
                    conn,
                    delivery: queued.delivery,
                });
            }
        }
        self.stats.expired += expired;
        if session.durable() || was_durable {
            self.effects
                .push_back(Effect::Persist(PersistOp::QueueCleared {
                    client_id: client_id.clone(),
                }));
        }
    }

    /// Handles the end of connection `conn`. `session_expiry` is the MQTT 5 DISCONNECT's
    /// Session Expiry Interval, if any (it cannot raise an interval of 0, [MQTT-3.14.2-2]; such
    /// a value is ignored). `unacked` are the deliveries the connection task still had in
    /// flight or waiting, in order; for a persistent session they are re-sent with DUP on
    /// resume, before anything queued later.
    pub fn handle_disconnect(
        &mut self,
        conn: ConnId,
        kind: DisconnectKind,
        session_expiry: Option<u32>,
        unacked: Vec<Delivery>,
        now: Instant,
    ) {
        let Some(key) = self.conns.remove(&conn) else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        if session.conn != Some(conn) {
            // Taken over: the session lives on without this connection. Its unacknowledged
            // deliveries go to the new owner, or to the queue if that one is gone too.
            if let Some(owner) = session.conn {
                for mut delivery in unacked
                    .into_iter()
                    .filter(|d| d.qos != mqtt_proto::QoS::AtMostOnce)
                {
                    delivery.dup = true;
                    self.effects.push_back(Effect::Deliver {
                        conn: owner,
                        delivery,
                    });
                }
            } else if session.durable() {
                self.requeue(key, unacked, now);
            }
            return;
        }
        session.conn = None;
        let before = session.expiry_interval;
        if let Some(requested) = session_expiry
            && before != 0
        {
            session.expiry_interval = requested.min(self.config.limits.max_session_expiry);
        }
        let after = session.expiry_interval;
        if after != before {
            let client_id = session.client_id.clone();
            self.effects.push_back(Effect::Persist(if after > 0 {
                PersistOp::SessionUpserted {
                    client_id,
                    expiry_interval: after,
                    protocol: session.protocol,
                }
            } else {
                PersistOp::SessionDeleted { client_id }
            }));
        }
        match kind {
            DisconnectKind::Graceful | DisconnectKind::ServerCloseWithoutWill => {
                session.will = None
            }
            DisconnectKind::GracefulWithWill
            | DisconnectKind::Lost
            | DisconnectKind::KeepAliveTimeout
            | DisconnectKind::ServerClose => self.trigger_will(key, now),
        }
        let Some(session) = self.sessions.get(&key) else {
            return;
        };
        if !session.durable() {
            self.end_session(key, now);
            return;
        }
        let expiry = session.expiry_interval;
        self.requeue(key, unacked, now);
        if expiry != u32::MAX {
            let at = now + Duration::from_secs(u64::from(expiry));
            self.set_timer(key, Some(at), TimerSlot::Expiry);
        }
    }

    /// Runs what is due at `now`: delayed wills, session expiry, message expiry in queues and
    /// among retained messages.
    pub fn handle_tick(&mut self, now: Instant) {
        while let Some((at, _)) = self.timers.first() {
            if *at > now {
                break;
            }
            let Some((at, timer)) = self.timers.pop_first() else {
                break;
            };
            match timer {
                Timer::Will(key) => {
                    let will = self.sessions.get_mut(&key).and_then(|s| {
                        s.will_at = None;
                        s.will.take()
                    });
                    if let Some(will) = will {
                        self.publish_will(key, will, now);
                    }
                }
                Timer::SessionExpiry(key) => {
                    if let Some(session) = self.sessions.get_mut(&key) {
                        session.expires_at = None;
                        if session.conn.is_none() {
                            self.end_session(key, now);
                        }
                    }
                }
                Timer::QueueExpiry(key) => {
                    if let Some(session) = self.sessions.get_mut(&key) {
                        session.queue_check_at = None;
                        self.stats.expired += session.purge_expired(now, &mut self.effects);
                        let next = session.queue_check_at.take();
                        self.set_timer(key, next, TimerSlot::Queue);
                    }
                }
                Timer::Retained(topic) => {
                    if self
                        .retained
                        .get(&topic)
                        .is_some_and(|m| m.expires_at == Some(at))
                        && let Some(old) = self.retained.clear(&topic)
                    {
                        self.stats.expired += 1;
                        self.effects
                            .push_back(Effect::Persist(PersistOp::RetainedCleared {
                                topic: old.topic.clone(),
                            }));
                    }
                }
            }
        }
    }

    // ---- helpers ----

    /// Asks the authorizer about `conn`'s request; a denial is reported as an effect.
    pub(crate) fn authorize(
        &mut self,
        conn: Option<ConnId>,
        principal: &A::Principal,
        client_id: &MqttStr,
        action: Action<'_>,
    ) -> bool {
        match self.authorizer.authorize(principal, client_id, action) {
            Decision::Allow => true,
            Decision::Deny(denial) => {
                self.effects.push_back(Effect::Denied {
                    conn,
                    client_id: client_id.clone(),
                    action: action.aws_name(),
                    resource: action.resource(client_id),
                    denial,
                });
                false
            }
        }
    }

    /// Reports a request of `conn` refused for a limit of the profile.
    pub(crate) fn limited(
        &mut self,
        conn: ConnId,
        client_id: Option<&MqttStr>,
        (packet, resource): (&'static str, &str),
        limit: String,
        reason: ReasonCode,
    ) {
        self.effects.push_back(Effect::Limited {
            conn,
            client_id: client_id.cloned(),
            packet,
            resource: resource.to_owned(),
            limit: format!("{limit} ({} profile)", self.config.profile.name()),
            reason,
        });
    }

    fn assign_client_id(&mut self) -> MqttStr {
        loop {
            let candidate = format!(
                "{}{}",
                self.config.assigned_client_id_prefix, self.next_assigned
            );
            self.next_assigned += 1;
            if !self.by_client.contains_key(candidate.as_str())
                && let Ok(id) = MqttStr::try_from(candidate)
            {
                return id;
            }
        }
    }

    /// The connection of `key` ended without a normal DISCONNECT: publish its will now, or
    /// schedule it when it has a delay and the session outlives the connection.
    fn trigger_will(&mut self, key: SessionKey, now: Instant) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let Some(will) = session.will.as_ref() else {
            return;
        };
        if will.delay == 0 || !session.durable() {
            if let Some(will) = session.will.take() {
                self.publish_will(key, will, now);
            }
        } else {
            let at = now + Duration::from_secs(u64::from(will.delay));
            self.set_timer(key, Some(at), TimerSlot::Will);
        }
    }

    fn publish_will(&mut self, key: SessionKey, will: PendingWill, now: Instant) {
        let mut message = will.message;
        let interval = self.clamp_message_expiry(message.properties.message_expiry_interval);
        message.set_expiry(interval, now);
        let message = Arc::new(message);
        self.stats.wills_published += 1;
        self.stats.published += 1;
        // A will is a publish like any other: a service may claim it (its connection is gone).
        if !self.hand_to_services(&message, None) {
            return;
        }
        if message.retain {
            self.store_retained(&message);
        }
        self.route(&message, Some(key), now);
    }

    /// Ends session `key`: a pending (delayed) will is published, subscriptions and queue go.
    pub(crate) fn end_session(&mut self, key: SessionKey, now: Instant) {
        self.set_timer(key, None, TimerSlot::Expiry);
        self.set_timer(key, None, TimerSlot::Queue);
        let pending_will = self.sessions.get(&key).is_some_and(|s| s.will_at.is_some());
        self.set_timer(key, None, TimerSlot::Will);
        if pending_will && let Some(will) = self.sessions.get_mut(&key).and_then(|s| s.will.take())
        {
            self.publish_will(key, will, now);
        }
        let Some(session) = self.sessions.remove(&key) else {
            return;
        };
        if self.by_client.get(&session.client_id) == Some(&key) {
            self.by_client.remove(&session.client_id);
        }
        for filter in session.subscriptions.keys() {
            self.index.remove(filter, key);
        }
        if session.durable() {
            self.effects
                .push_back(Effect::Persist(PersistOp::SessionDeleted {
                    client_id: session.client_id,
                }));
        }
    }

    /// Queues deliveries that a connection left unacknowledged, marked DUP.
    fn requeue(&mut self, key: SessionKey, unacked: Vec<Delivery>, now: Instant) {
        let max = self.config.max_queued_per_session;
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let before = session.queue_check_at;
        for mut delivery in unacked {
            delivery.dup = true;
            if session.enqueue(delivery, max, now, &mut self.effects)
                == crate::session::Enqueued::QueuedDroppingOldest
            {
                self.stats.queue_dropped += 1;
            }
        }
        let after = session.queue_check_at;
        if after != before {
            session.queue_check_at = before;
            self.set_timer(key, after, TimerSlot::Queue);
        }
    }

    /// Moves one of a session's timers to `at` (or cancels it).
    pub(crate) fn set_timer(&mut self, key: SessionKey, at: Option<Instant>, slot: TimerSlot) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let (field, timer) = match slot {
            TimerSlot::Will => (&mut session.will_at, Timer::Will(key)),
            TimerSlot::Expiry => (&mut session.expires_at, Timer::SessionExpiry(key)),
            TimerSlot::Queue => (&mut session.queue_check_at, Timer::QueueExpiry(key)),
        };
        if let Some(old) = field.take() {
            self.timers.remove(&(old, timer.clone()));
        }
        if let Some(at) = at {
            *field = Some(at);
            self.timers.insert((at, timer));
        }
    }

    /// Applies the profile's clamp to a Message Expiry Interval.
    pub(crate) fn clamp_message_expiry(&self, interval: Option<u32>) -> Option<u32> {
        match (interval, self.config.limits.message_expiry_clamp) {
            (Some(secs), Some((min, max))) => Some(secs.clamp(min, max)),
            (interval, _) => interval,
        }
    }
}

/// Which per-session timer `set_timer` moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerSlot {
    Will,
    Expiry,
    Queue,
}

/// Turns a CONNECT's will into the message it will become.
fn will_message(will: Will, client_id: &MqttStr) -> PendingWill {
    let props = will.properties;
    let mut message = Message::new(will.topic, will.payload, will.qos, will.retain);
    message.properties.payload_format_indicator = props.payload_format_indicator;
    message.properties.message_expiry_interval = props.message_expiry_interval;
    message.properties.content_type = props.content_type;
    message.properties.response_topic = props.response_topic;
    message.properties.correlation_data = props.correlation_data;
    message.properties.user_properties = props.user_properties;
    message.publisher = Some(client_id.clone());
    PendingWill {
        message,
        delay: props.will_delay_interval.unwrap_or(0),
    }
}
