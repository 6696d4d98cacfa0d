//! PUBLISH, SUBSCRIBE and UNSUBSCRIBE on an attached connection, server-originated publishes,
//! and routing: one `Arc<Message>` per publish, matched through the subscription index, one
//! copy per subscriber (max QoS of its overlapping subscriptions, all their subscription ids),
//! one copy per shared group, delivered live or queued. Session lifecycle is in `broker.rs`.

use std::sync::Arc;

use mqtt_proto::time::Instant;
use mqtt_proto::{
    MqttStr, Protocol, Publish, QoS, ReasonCode, RetainHandling, Subscribe, TopicFilter,
    Unsubscribe,
};

use crate::auth::{Action, Authorizer, Decision};
use crate::broker::{Broker, Timer, TimerSlot};
use crate::effect::{ConnId, Effect, PersistOp};
use crate::index::{Candidate, Reach, SessionKey, SubEntry};
use crate::message::{Delivery, Message};
use crate::profile;
use crate::reserved;
use crate::session::Enqueued;

/// The answer to a PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Routed (or deliberately discarded, e.g. an unauthorized MQTT 3.1.1 publish under the
    /// MQTT profile, [MQTT-3.3.5-2]). Acknowledge QoS 1/2 with this reason: Success, or No
    /// matching subscribers (0x10) where the profile reports it.
    Accepted(ReasonCode),
    /// Not routed; the connection stays. MQTT 5 QoS 1/2: acknowledge with this reason.
    /// QoS 0 (and MQTT 3.1.1, which never gets this variant): nothing to send.
    Refused(ReasonCode),
    /// Close the connection (MQTT 5: DISCONNECT with this reason first), then call
    /// `handle_disconnect` with [`crate::DisconnectKind::ServerClose`].
    Disconnect(ReasonCode),
}

/// The answer to a SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeOutcome {
    /// Send SUBACK with one code per filter (3.1.1: [`ReasonCode::to_v3_suback`]), then carry
    /// out the effects (retained deliveries follow the SUBACK).
    SubAck(Vec<ReasonCode>),
    /// Send no SUBACK; close the connection (MQTT 5: DISCONNECT with this reason first).
    Disconnect(ReasonCode),
}

/// The answer to an UNSUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsubscribeOutcome {
    /// Send UNSUBACK; MQTT 5 carries these codes (Success or No subscription existed).
    UnsubAck(Vec<ReasonCode>),
    /// Close the connection.
    Disconnect(ReasonCode),
}

impl<A: Authorizer> Broker<A> {
    /// Handles a PUBLISH received on `conn`. The connection task has already resolved any
    /// topic alias and run the QoS 2 receive flow; the broker routes exactly once per call.
    pub fn handle_publish(
        &mut self,
        conn: ConnId,
        publish: Publish,
        now: Instant,
    ) -> PublishOutcome {
        let (key, protocol) = match self.attached(conn) {
            Ok(found) => found,
            Err(reason) => return PublishOutcome::Disconnect(reason),
        };
        let qos = publish.delivery.qos();
        if publish.topic.is_empty() {
            // An unresolved topic alias reached the broker.
            return PublishOutcome::Disconnect(ReasonCode::TopicAliasInvalid);
        }
        if let Some((limit, outcome)) = self.publish_limit(&publish, protocol) {
            let client_id = self.sessions.get(&key).map(|s| s.client_id.clone());
            let reason = match outcome {
                PublishOutcome::Accepted(r)
                | PublishOutcome::Refused(r)
                | PublishOutcome::Disconnect(r) => r,
            };
            let resource = ("PUBLISH", publish.topic.as_str());
            self.limited(conn, client_id.as_ref(), resource, limit, reason);
            return outcome;
        }
        let Some(session) = self.sessions.get(&key) else {
            return PublishOutcome::Disconnect(ReasonCode::SessionTakenOver);
        };
        let client_id = session.client_id.clone();
        let action = Action::Publish {
            topic: publish.topic.as_str(),
            retain: publish.retain,
        };
        let allowed = match self
            .authorizer
            .authorize(&session.principal, &client_id, action)
        {
            Decision::Allow => true,
            Decision::Deny(denial) => {
                self.effects.push_back(Effect::Denied {
                    conn: Some(conn),
                    client_id: client_id.clone(),
                    action: action.aws_name(),
                    resource: action.resource(&client_id),
                    denial,
                });
                false
            }
        };
        if !allowed {
            return if protocol.is_v5() {
                PublishOutcome::Refused(ReasonCode::NotAuthorized)
            } else if self.config.limits.unauthorized_v3_closes {
                PublishOutcome::Disconnect(ReasonCode::NotAuthorized)
            } else {
                PublishOutcome::Accepted(ReasonCode::Success)
            };
        }

        let Publish {
            topic,
            payload,
            retain,
            mut properties,
            ..
        } = publish;
        properties.topic_alias = None;
        properties.subscription_identifiers.clear();
        let interval = self.clamp_message_expiry(properties.message_expiry_interval);
        let mut message = Message::new(topic, payload, qos, retain);
        message.properties = properties;
        message.set_expiry(interval, now);
        message.publisher = Some(client_id);
        let message = Arc::new(message);
        self.stats.published += 1;
        // A message a service takes for itself alone is neither routed nor retained.
        if !self.hand_to_services(&message, Some(conn)) {
            return PublishOutcome::Accepted(ReasonCode::Success);
        }
        if message.retain {
            self.store_retained(&message);
        }
        let routed = self.route(&message, Some(key), now);
        // Only PUBACK reports it, and only when no subscription matched at all (one that No
        // Local or an authorization skipped still counts), as from the reference broker, which
        // forwards QoS 2 messages at PUBREL and so always answers PUBREC with Success.
        if !routed.matched
            && qos == QoS::AtLeastOnce
            && protocol.is_v5()
            && self.config.limits.report_no_matching_subscribers
        {
            PublishOutcome::Accepted(ReasonCode::NoMatchingSubscribers)
        } else {
            PublishOutcome::Accepted(ReasonCode::Success)
        }
    }

    /// The limit of the profile a PUBLISH breaks, if any, with what the client gets.
    fn publish_limit(
        &self,
        publish: &Publish,
        protocol: Protocol,
    ) -> Option<(String, PublishOutcome)> {
        let limits = &self.config.limits;
        let qos = publish.delivery.qos();
        if qos > limits.maximum_qos {
            // AWS: QoS 2 is not supported at all (MQTT 5 DISCONNECT 0x9B, [MQTT-3.3.1-4]).
            let limit = format!(
                "the maximum QoS {} (this PUBLISH has QoS {})",
                limits.maximum_qos as u8, qos as u8
            );
            return Some((
                limit,
                PublishOutcome::Disconnect(ReasonCode::QosNotSupported),
            ));
        }
        if let Some(max) = limits.max_payload
            && publish.payload.len() > max
        {
            let limit = format!(
                "the maximum payload of {max} bytes (this one has {} bytes)",
                publish.payload.len()
            );
            return Some((
                limit,
                PublishOutcome::Disconnect(ReasonCode::PacketTooLarge),
            ));
        }
        if !profile::topic_allowed(limits, &publish.topic) {
            let limit = profile::topic_limit(limits);
            return Some((limit, refuse(protocol, ReasonCode::TopicNameInvalid)));
        }
        if publish.retain && publish.topic.is_reserved() && !limits.retain_on_reserved_topics {
            let limit = "no retained messages on reserved ($) topics".to_owned();
            return Some((limit, refuse(protocol, ReasonCode::TopicNameInvalid)));
        }
        if limits.subscribe_only_reserved_topics && reserved::subscribe_only(&publish.topic) {
            // AWS: "Unsupported publish or subscribe operations to reserved topics can result in
            // a terminated connection" (reserved-topics.md): refused as an unauthorized publish
            // is, MQTT 3.1.1 closed, MQTT 5 PUBACK 0x87 — the policy cannot allow it.
            return Some((
                reserved::LIMIT.to_owned(),
                refuse(protocol, ReasonCode::NotAuthorized),
            ));
        }
        None
    }

    /// Publishes a message the server originates (lifecycle events, shadow responses, the HTTP
    /// publish API): no limits, no authorization of the sender; RETAIN stores it. Returns the
    /// number of deliveries made or queued.
    pub fn handle_server_publish(&mut self, message: Message, now: Instant) -> usize {
        let mut message = message;
        let interval = self.clamp_message_expiry(message.properties.message_expiry_interval);
        if message.expires_at.is_none() {
            message.set_expiry(interval, now);
        }
        let message = Arc::new(message);
        self.stats.published += 1;
        if !self.hand_to_services(&message, None) {
            return 0;
        }
        if message.retain {
            self.store_retained(&message);
        }
        self.route(&message, None, now).delivered
    }

    /// Delivers a message of the server's to connection `conn` alone (AWS answers Jobs and fleet
    /// provisioning requests to the requesting client only, whatever it subscribed to), after
    /// asking about `Receive` like any delivery. Returns whether it was delivered: not when the
    /// connection is gone or `Receive` is denied.
    pub fn handle_direct_delivery(&mut self, conn: ConnId, message: Message, now: Instant) -> bool {
        let Ok((key, _)) = self.attached(conn) else {
            return false;
        };
        let mut message = message;
        let interval = self.clamp_message_expiry(message.properties.message_expiry_interval);
        if message.expires_at.is_none() {
            message.set_expiry(interval, now);
        }
        let qos = message.qos;
        let message = Arc::new(message);
        self.stats.published += 1;
        self.deliver_to(key, &message, qos, false, Vec::new(), now)
    }

    /// Hands `message` to every service whose route claims it. Returns whether subscribers
    /// get it too: not when a claiming route keeps it, nor for Basic Ingest topics where the
    /// profile has them (AWS: `$aws/rules/...` reaches the rules engine only).
    pub(crate) fn hand_to_services(
        &mut self,
        message: &Arc<Message>,
        from: Option<ConnId>,
    ) -> bool {
        let basic_ingest =
            self.config.limits.basic_ingest_topics && profile::is_basic_ingest(&message.topic);
        let Some(claims) = self.services.claims(&message.topic) else {
            return !basic_ingest;
        };
        for service in claims.services {
            self.effects.push_back(Effect::ToService {
                service,
                from,
                message: Arc::clone(message),
            });
        }
        claims.to_subscribers && !basic_ingest
    }

    /// Handles a SUBSCRIBE received on `conn`.
    pub fn handle_subscribe(
        &mut self,
        conn: ConnId,
        subscribe: Subscribe,
        now: Instant,
    ) -> SubscribeOutcome {
        let (key, protocol) = match self.attached(conn) {
            Ok(found) => found,
            Err(reason) => return SubscribeOutcome::Disconnect(reason),
        };
        let limits = self.config.limits.clone();
        let subscription_id = subscribe.properties.subscription_identifier;
        if let Some(refused) = self.subscribe_limit(conn, key, &subscribe) {
            return refused;
        }
        let Some(session) = self.sessions.get(&key) else {
            return SubscribeOutcome::Disconnect(ReasonCode::SessionTakenOver);
        };
        let principal = session.principal.clone();
        let client_id = session.client_id.clone();

        // First decide every filter, so that a denial that closes the connection leaves no
        // half-applied SUBSCRIBE behind.
        let mut verdicts: Vec<Result<(), ReasonCode>> = Vec::with_capacity(subscribe.filters.len());
        for (i, (filter, _)) in subscribe.filters.iter().enumerate() {
            let verdict = match self.filter_limit(conn, &client_id, i, filter) {
                Some(reason) => Err(reason),
                None if !self.authorize(
                    Some(conn),
                    &principal,
                    &client_id,
                    Action::Subscribe {
                        filter: filter.as_str(),
                    },
                ) =>
                {
                    if !protocol.is_v5() && limits.unauthorized_v3_closes {
                        return SubscribeOutcome::Disconnect(ReasonCode::NotAuthorized);
                    }
                    Err(ReasonCode::NotAuthorized)
                }
                None => Ok(()),
            };
            verdicts.push(verdict);
        }

        let mut reasons = Vec::with_capacity(verdicts.len());
        let mut retained = Vec::new();
        for ((filter, options), verdict) in subscribe.filters.into_iter().zip(verdicts) {
            if let Err(reason) = verdict {
                reasons.push(reason);
                continue;
            }
            let Some(session) = self.sessions.get_mut(&key) else {
                break;
            };
            let existed = session.subscriptions.contains_key(&filter);
            if !existed
                && let Some(max) = limits
                    .max_subscriptions_per_session
                    .filter(|max| session.subscriptions.len() >= *max)
            {
                let reason = ReasonCode::QuotaExceeded;
                let limit = format!("at most {max} subscriptions per session");
                let resource = ("SUBSCRIBE", filter.as_str());
                self.limited(conn, Some(&client_id), resource, limit, reason);
                reasons.push(reason);
                continue;
            }
            let granted = options.qos.min(limits.maximum_qos);
            let mut options = options;
            options.qos = granted;
            if !protocol.is_v5() {
                // 3.1.1 has none of these options; make sure defaults apply.
                options.no_local = false;
                options.retain_as_published = false;
                options.retain_handling = RetainHandling::SendAtSubscribe;
            }
            let entry = SubEntry {
                options,
                id: subscription_id,
            };
            session.subscriptions.insert(filter.clone(), entry);
            self.index.insert(&filter, key, entry);
            if session.durable() {
                self.effects
                    .push_back(Effect::Persist(PersistOp::SubscriptionAdded {
                        client_id: client_id.clone(),
                        filter: filter.clone(),
                        options,
                        subscription_id,
                    }));
            }
            reasons.push(match granted {
                QoS::AtMostOnce => ReasonCode::Success,
                QoS::AtLeastOnce => ReasonCode::GrantedQos1,
                QoS::ExactlyOnce => ReasonCode::GrantedQos2,
            });

            // Retained messages at subscribe time: never for shared subscriptions (MQTT 5
            // §4.8.2); per Retain Handling; AWS only when the filter is the topic itself.
            let send = match options.retain_handling {
                RetainHandling::SendAtSubscribe => true,
                RetainHandling::SendIfNew => !existed,
                RetainHandling::DoNotSend => false,
            };
            if send && !filter.is_shared() {
                if !filter.has_wildcards() {
                    if let Some(message) = self.retained.get(filter.pattern()) {
                        retained.push(Arc::clone(message));
                    }
                } else if limits.retained_on_wildcard_subscribe {
                    let parent = limits.multi_level_wildcard_matches_parent;
                    self.retained
                        .matching(filter.pattern(), parent, &mut retained);
                }
                self.send_retained(key, &mut retained, entry, now);
            }
        }
        SubscribeOutcome::SubAck(reasons)
    }

    /// What closes the connection before any filter of a SUBSCRIBE is looked at: a
    /// subscription identifier or a QoS the profile does not take (reported as limits), No
    /// Local on a shared subscription ([MQTT-3.8.3-4]).
    fn subscribe_limit(
        &mut self,
        conn: ConnId,
        key: SessionKey,
        subscribe: &Subscribe,
    ) -> Option<SubscribeOutcome> {
        let limits = &self.config.limits;
        let client_id = self.sessions.get(&key).map(|s| s.client_id.clone());
        let first = subscribe
            .filters
            .first()
            .map_or_else(String::new, |(f, _)| f.to_string());
        if subscribe.properties.subscription_identifier.is_some()
            && !limits.subscription_identifiers
        {
            let reason = ReasonCode::SubscriptionIdentifiersNotSupported;
            let limit = "no subscription identifiers".to_owned();
            let resource = ("SUBSCRIBE", first.as_str());
            self.limited(conn, client_id.as_ref(), resource, limit, reason);
            return Some(SubscribeOutcome::Disconnect(reason));
        }
        if let Some((filter, options)) = subscribe
            .filters
            .iter()
            .find(|(_, o)| o.qos > limits.maximum_qos)
        {
            // AWS sends no SUBACK for QoS 2 requests; we close with 0x9B rather than hang.
            let reason = ReasonCode::QosNotSupported;
            let limit = format!(
                "the maximum QoS {} (this subscription asks for QoS {})",
                limits.maximum_qos as u8, options.qos as u8
            );
            let resource = ("SUBSCRIBE", filter.as_str());
            self.limited(conn, client_id.as_ref(), resource, limit, reason);
            return Some(SubscribeOutcome::Disconnect(reason));
        }
        if subscribe
            .filters
            .iter()
            .any(|(f, o)| f.is_shared() && o.no_local)
        {
            return Some(SubscribeOutcome::Disconnect(ReasonCode::ProtocolError));
        }
        None
    }

    /// The limit the `i`th filter of a SUBSCRIBE breaks, if any, reported as such.
    fn filter_limit(
        &mut self,
        conn: ConnId,
        client_id: &MqttStr,
        i: usize,
        filter: &TopicFilter,
    ) -> Option<ReasonCode> {
        let limits = &self.config.limits;
        let (limit, reason) =
            if let Some(max) = limits.max_filters_per_subscribe.filter(|m| i >= *m) {
                let limit = format!("at most {max} topic filters per SUBSCRIBE");
                (limit, ReasonCode::QuotaExceeded)
            } else if !profile::filter_allowed(limits, filter) {
                (
                    profile::filter_limit(limits),
                    ReasonCode::TopicFilterInvalid,
                )
            } else if let Some(refused) = profile::refused_by(limits, filter) {
                let limit = format!("no subscriptions matching the refused filter {refused}");
                (limit, ReasonCode::NotAuthorized)
            } else {
                return None;
            };
        let resource = ("SUBSCRIBE", filter.as_str());
        self.limited(conn, Some(client_id), resource, limit, reason);
        Some(reason)
    }

    /// Handles an UNSUBSCRIBE received on `conn`.
    pub fn handle_unsubscribe(
        &mut self,
        conn: ConnId,
        unsubscribe: Unsubscribe,
        _now: Instant,
    ) -> UnsubscribeOutcome {
        let key = match self.attached(conn) {
            Ok((key, _)) => key,
            Err(reason) => return UnsubscribeOutcome::Disconnect(reason),
        };
        let Some(session) = self.sessions.get_mut(&key) else {
            return UnsubscribeOutcome::Disconnect(ReasonCode::SessionTakenOver);
        };
        let mut reasons = Vec::with_capacity(unsubscribe.filters.len());
        for filter in unsubscribe.filters {
            if session.subscriptions.remove(&filter).is_some() {
                self.index.remove(&filter, key);
                if session.durable() {
                    self.effects
                        .push_back(Effect::Persist(PersistOp::SubscriptionRemoved {
                            client_id: session.client_id.clone(),
                            filter,
                        }));
                }
                reasons.push(ReasonCode::Success);
            } else {
                reasons.push(ReasonCode::NoSubscriptionExisted);
            }
        }
        UnsubscribeOutcome::UnsubAck(reasons)
    }

    /// Stores, replaces or (empty payload) deletes the retained message of `message.topic`.
    pub(crate) fn store_retained(&mut self, message: &Arc<Message>) {
        let topic = message.topic.as_mqtt_str();
        let old = if message.payload.is_empty() {
            let old = self.retained.clear(topic);
            if old.is_some() {
                self.effects
                    .push_back(Effect::Persist(PersistOp::RetainedCleared {
                        topic: message.topic.clone(),
                    }));
            }
            old
        } else {
            self.effects
                .push_back(Effect::Persist(PersistOp::RetainedSet(Arc::clone(message))));
            if let Some(at) = message.expires_at {
                self.timers.insert((at, Timer::Retained(topic.clone())));
            }
            self.retained.set(Arc::clone(message))
        };
        if let Some(old_at) = old.and_then(|m| m.expires_at)
            && (message.expires_at != Some(old_at) || message.payload.is_empty())
        {
            self.timers
                .remove(&(old_at, Timer::Retained(topic.clone())));
        }
    }

    /// Routes `message` to every matching subscription. `origin` is the publishing session
    /// (for No Local).
    pub(crate) fn route(
        &mut self,
        message: &Arc<Message>,
        origin: Option<SessionKey>,
        now: Instant,
    ) -> Routed {
        let mut matches = std::mem::take(&mut self.matches);
        matches.clear();
        let sessions = &self.sessions;
        self.index.collect(&message.topic, &mut matches, |key| {
            match sessions.get(&key) {
                Some(s) if s.conn.is_some() => Reach::Online,
                Some(s) if s.durable() => Reach::Queueable,
                _ => Reach::Unreachable,
            }
        });

        let matched = !matches.plain.is_empty() || !matches.shared.is_empty();
        // No Local applies per subscription, before overlapping subscriptions are merged.
        if origin.is_some() {
            matches
                .plain
                .retain(|c| !(c.entry.options.no_local && Some(c.session) == origin));
        }
        matches.plain.sort_unstable_by_key(|c| c.session);
        let mut delivered = 0;
        let mut rest = matches.plain.as_slice();
        while let Some((first, _)) = rest.split_first() {
            let same = rest
                .iter()
                .take_while(|c| c.session == first.session)
                .count();
            let (group, tail) = rest.split_at(same);
            rest = tail;
            let (qos, retain, ids) = merge(group, message);
            if self.deliver_to(first.session, message, qos, retain, ids, now) {
                delivered += 1;
            }
        }
        for chosen in &matches.shared {
            let (qos, retain, ids) = merge(std::slice::from_ref(chosen), message);
            if self.deliver_to(chosen.session, message, qos, retain, ids, now) {
                delivered += 1;
            }
        }
        self.matches = matches;
        Routed { matched, delivered }
    }

    /// Sends retained messages found for a new subscription, emptying `found`.
    fn send_retained(
        &mut self,
        key: SessionKey,
        found: &mut Vec<Arc<Message>>,
        entry: SubEntry,
        now: Instant,
    ) {
        for message in found.drain(..) {
            if message.is_expired(now) {
                continue;
            }
            let qos = message.qos.min(entry.options.qos);
            let ids = entry.id.into_iter().collect();
            // [MQTT-3.3.1-8] retained messages sent at subscribe time carry RETAIN=1.
            self.deliver_to(key, &message, qos, true, ids, now);
        }
    }

    /// Delivers one copy to session `key` (live or queued), after asking about `Receive`.
    fn deliver_to(
        &mut self,
        key: SessionKey,
        message: &Arc<Message>,
        qos: QoS,
        retain: bool,
        subscription_ids: Vec<u32>,
        now: Instant,
    ) -> bool {
        let Some(session) = self.sessions.get_mut(&key) else {
            return false;
        };
        let action = Action::Receive {
            topic: message.topic.as_str(),
        };
        if let Decision::Deny(denial) =
            self.authorizer
                .authorize(&session.principal, &session.client_id, action)
        {
            self.stats.receive_denied += 1;
            self.effects.push_back(Effect::Denied {
                conn: session.conn,
                client_id: session.client_id.clone(),
                action: action.aws_name(),
                resource: action.resource(&session.client_id),
                denial,
            });
            return false;
        }
        let delivery = Delivery {
            message: Arc::clone(message),
            qos,
            retain,
            subscription_ids,
            dup: false,
        };
        if let Some(conn) = session.conn {
            self.effects.push_back(Effect::Deliver { conn, delivery });
            self.stats.delivered += 1;
            return true;
        }
        if !session.durable() {
            return false;
        }
        let before = session.queue_check_at;
        let outcome = session.enqueue(
            delivery,
            self.config.max_queued_per_session,
            now,
            &mut self.effects,
        );
        let after = session.queue_check_at;
        if after != before {
            session.queue_check_at = before;
            self.set_timer(key, after, TimerSlot::Queue);
        }
        match outcome {
            Enqueued::Skipped => false,
            Enqueued::Queued => {
                self.stats.delivered += 1;
                true
            }
            Enqueued::QueuedDroppingOldest => {
                self.stats.delivered += 1;
                self.stats.queue_dropped += 1;
                true
            }
        }
    }

    /// The session and protocol of an attached connection, or why it cannot act.
    fn attached(&self, conn: ConnId) -> Result<(SessionKey, Protocol), ReasonCode> {
        // A packet before CONNECT is a protocol error; a connection that was taken over is
        // already being closed with 0x8E.
        let key = *self.conns.get(&conn).ok_or(ReasonCode::ProtocolError)?;
        match self.sessions.get(&key) {
            Some(session) if session.conn == Some(conn) => Ok((key, session.protocol)),
            _ => Err(ReasonCode::SessionTakenOver),
        }
    }
}

/// A refusal that MQTT 3.1.1 cannot express closes the connection.
fn refuse(protocol: Protocol, reason: ReasonCode) -> PublishOutcome {
    if protocol.is_v5() {
        PublishOutcome::Refused(reason)
    } else {
        PublishOutcome::Disconnect(reason)
    }
}

/// What routing one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Routed {
    /// Some subscription matched the topic (whether or not a copy was made for it).
    pub(crate) matched: bool,
    /// Deliveries made or queued.
    pub(crate) delivered: usize,
}

/// One subscriber's overlapping subscriptions merged into one copy: the highest QoS granted
/// (capped by the message's), RETAIN kept if any subscription has Retain As Published, and
/// every subscription identifier ([MQTT-3.3.4-2], [MQTT-3.3.4-3]).
fn merge(group: &[Candidate], message: &Message) -> (QoS, bool, Vec<u32>) {
    let mut qos = QoS::AtMostOnce;
    let mut rap = false;
    let mut ids = Vec::new();
    for c in group {
        qos = qos.max(c.entry.options.qos);
        rap |= c.entry.options.retain_as_published;
        if let Some(id) = c.entry.id {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    (qos.min(message.qos), rap && message.retain, ids)
}
