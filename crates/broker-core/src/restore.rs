//! Reloading persistent state at startup: sessions (with subscriptions and queued deliveries)
//! and retained messages, as a store rebuilt them from the `PersistOp`s the broker produced.
//! Reading the store is the server's job; this file only rebuilds the in-memory state.

use std::sync::Arc;
use std::time::Duration;

use mqtt_proto::time::Instant;
use mqtt_proto::{MqttStr, Protocol, SubscriptionOptions, TopicFilter};

use crate::auth::Authorizer;
use crate::broker::{Broker, Timer, TimerSlot};
use crate::index::{SessionKey, SubEntry};
use crate::message::{Delivery, Message};
use crate::session::Session;

/// A persistent session as a store holds it, for [`Broker::restore_session`].
#[derive(Debug, Clone)]
pub struct StoredSession<P> {
    /// Client id.
    pub client_id: MqttStr,
    /// Session expiry interval in seconds (`u32::MAX`: never); counted from the restore.
    pub expiry_interval: u32,
    /// Protocol of the connection that owned it.
    pub protocol: Protocol,
    /// Principal used for `Receive` checks while the session is offline.
    pub principal: P,
    /// Subscriptions: filter, granted options, subscription identifier.
    pub subscriptions: Vec<(TopicFilter, SubscriptionOptions, Option<u32>)>,
    /// Queued deliveries, oldest first.
    pub queued: Vec<Delivery>,
}

impl<A: Authorizer> Broker<A> {
    /// Reloads a persistent session from storage at startup (offline, expiry counted from
    /// `now`). Queued deliveries are re-sent on resume in the order given. Produces no
    /// `Persist` effects. Replaces any session with the same client id.
    pub fn restore_session(&mut self, stored: StoredSession<A::Principal>, now: Instant) {
        let StoredSession {
            client_id,
            expiry_interval,
            protocol,
            principal,
            subscriptions,
            queued,
        } = stored;
        if let Some(old) = self.by_client.get(&client_id).copied() {
            self.end_session(old, now);
        }
        let key = SessionKey(self.next_session);
        self.next_session += 1;
        let mut session = Session::new(client_id.clone(), protocol, principal);
        session.expiry_interval = expiry_interval.max(1);
        for (filter, options, id) in subscriptions {
            let entry = SubEntry { options, id };
            self.index.insert(&filter, key, entry);
            session.subscriptions.insert(filter, entry);
        }
        for delivery in queued {
            if !delivery.message.is_expired(now) {
                let seq = session.next_seq;
                session.next_seq += 1;
                if let Some(at) = delivery.message.expires_at {
                    session.queue_check_at = Some(session.queue_check_at.map_or(at, |c| c.min(at)));
                }
                session
                    .queue
                    .push_back(crate::session::Queued { seq, delivery });
            }
        }
        let check = session.queue_check_at.take();
        self.sessions.insert(key, session);
        self.by_client.insert(client_id, key);
        self.set_timer(key, check, TimerSlot::Queue);
        if expiry_interval != u32::MAX {
            let at = now + Duration::from_secs(u64::from(expiry_interval));
            self.set_timer(key, Some(at), TimerSlot::Expiry);
        }
    }

    /// Reloads a retained message from storage at startup. Produces no `Persist` effects.
    pub fn restore_retained(&mut self, message: Arc<Message>, now: Instant) {
        if message.is_expired(now) || message.payload.is_empty() {
            return;
        }
        let at = message.expires_at;
        let topic = message.topic.as_mqtt_str().clone();
        if let Some(old) = self.retained.set(message)
            && let Some(old_at) = old.expires_at
        {
            self.timers
                .remove(&(old_at, Timer::Retained(topic.clone())));
        }
        if let Some(at) = at {
            self.timers.insert((at, Timer::Retained(topic)));
        }
    }
}
