//! One bridge's task: it connects to the upstream with the client crate (reconnecting with
//! exponential backoff and jitter, never less than a second apart under AWS IoT's limits, which
//! allow one CONNECT per second per client id), subscribes to the inbound lines, sends the
//! outbound queue in order within the in-flight window and the upstream's pace, forgets a
//! message locally only once the upstream has acknowledged it, and publishes what comes in
//! through the router. The local side is serviced the whole time, connected or not, so
//! deliveries queue while the upstream is away and a shutdown is never kept waiting. Refusals
//! go to the refusal log through `status.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{Client, Error, Message, QoS, TopicName};
use mqtt_proto::properties::PublishProperties;
use mqtt_proto::{MqttStr, Protocol, Publish, ReasonCode};
use refusals::{Recorder, RefusalKind};

use super::config::BridgeConfig;
use super::local::{LocalEvent, LocalLink};
use super::outbox::{Outbound, Outbox};
use super::rate::Pace;
use super::status::{BridgeStatus, DropReason, UpstreamRefusal, refusal_of};
use super::topics::TopicMap;

/// The MQTT 5 user property that marks what a bridge sent: a message that comes back carrying
/// this bridge's name has looped and is dropped (No Local already stops the direct echo).
pub const BRIDGE_MARKER: &str = "tether-bridge";

/// How a session with the upstream ended.
enum End {
    /// The server is stopping.
    Stop,
    /// The connection failed.
    Lost(Error),
}

/// One bridge's state across connections.
pub(crate) struct Bridge {
    config: BridgeConfig,
    topics: TopicMap,
    outbox: Outbox,
    pace: Pace,
    status: Arc<BridgeStatus>,
    refusals: Recorder,
    local: LocalLink,
}

impl Bridge {
    pub(crate) fn new(
        config: BridgeConfig,
        local: LocalLink,
        status: Arc<BridgeStatus>,
        refusals: Recorder,
    ) -> Bridge {
        let topics = TopicMap::new(&config.topics);
        let outbox = Outbox::new(config.queue_limit, config.max_inflight);
        let pace = Pace::new(
            config.limits.publishes_per_second,
            config.limits.bytes_per_second,
            Instant::now(),
        );
        Bridge {
            config,
            topics,
            outbox,
            pace,
            status,
            refusals,
            local,
        }
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn v5(&self) -> bool {
        self.config.upstream.mqtt.protocol == Protocol::V5
    }

    /// Runs until the server stops.
    pub(crate) async fn run(mut self) {
        let mut attempt = 0u32;
        loop {
            let options = client::ConnectOptions {
                reconnect: None,
                ..self.config.upstream.clone()
            };
            let connecting = Client::connect(options);
            tokio::pin!(connecting);
            let connected = loop {
                tokio::select! {
                    result = &mut connecting => break Some(result),
                    event = self.local.recv() => if !self.on_local(event, false).await {
                        break None;
                    },
                }
            };
            let Some(connected) = connected else {
                return self.stop(None).await;
            };
            let failure = match connected {
                Ok(mut client) => {
                    attempt = 0;
                    self.status.set_connected(true);
                    self.status.connections.inc();
                    tracing::info!(
                        "bridge {}: connected to {} as {} (connection {}); {} queued message(s) \
                         to send",
                        self.name(),
                        self.status.upstream,
                        self.status.client_id,
                        self.status.connections.get(),
                        self.outbox.len()
                    );
                    let end = self.session(&mut client).await;
                    self.status.set_connected(false);
                    self.connection_lost().await;
                    match end {
                        End::Stop => return self.stop(Some(client)).await,
                        End::Lost(error) => error,
                    }
                }
                Err(error) => {
                    self.status.connect_failures.inc();
                    error
                }
            };
            if let Some(refusal) = refusal_of(&failure) {
                self.status.record(&self.refusals, refusal);
            }
            let delay = self.backoff(attempt);
            attempt = attempt.saturating_add(1);
            tracing::warn!(
                "bridge {}: {}; {} queued message(s) kept, trying again in {:.1} s",
                self.name(),
                failure,
                self.outbox.len(),
                delay.as_secs_f64()
            );
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    () = &mut sleep => break,
                    event = self.local.recv() => if !self.on_local(event, false).await {
                        return self.stop(None).await;
                    },
                }
            }
        }
    }

    /// The delay before attempt `attempt` (0-based): the configured backoff, at least a second
    /// apart where the upstream allows one CONNECT per second (AWS IoT Core).
    fn backoff(&self, attempt: u32) -> Duration {
        let mut random = [0u8; 8];
        // The OpenSSL RNG does not fail once seeded; without it the jitter is just the middle.
        let random = match openssl::rand::rand_bytes(&mut random) {
            Ok(()) => (u64::from_le_bytes(random) >> 11) as f64 / (1u64 << 53) as f64,
            Err(_) => 0.5,
        };
        let delay = self.config.backoff.delay(attempt, random);
        if self.config.limits.publishes_per_second.is_some() {
            delay.max(Duration::from_secs(1))
        } else {
            delay
        }
    }

    /// One connection: subscribe upstream, then carry messages both ways until it ends.
    async fn session(&mut self, client: &mut Client) -> End {
        let filters = match self.topics.remote_subscriptions(self.v5()) {
            Ok(filters) => filters,
            Err(e) => {
                tracing::error!("bridge {}: {e}", self.name());
                Vec::new()
            }
        };
        let per_packet = self
            .config
            .limits
            .filters_per_subscribe
            .unwrap_or(usize::MAX);
        for chunk in filters.chunks(per_packet.max(1)) {
            let subscribing = client.subscribe(chunk.to_vec());
            tokio::pin!(subscribing);
            let answer = loop {
                tokio::select! {
                    answer = &mut subscribing => break answer,
                    event = self.local.recv() => if !self.on_local(event, true).await {
                        return End::Stop;
                    },
                }
            };
            match answer {
                Ok(suback) => self.check_suback(chunk, &suback.reasons),
                Err(error) => return End::Lost(error),
            }
        }
        // Tests and operators wait for this line: from here on what the upstream publishes on
        // the inbound lines comes across.
        tracing::info!(
            "bridge {}: subscribed upstream to {} inbound filter(s)",
            self.name(),
            filters.len()
        );
        loop {
            let wait = self.fill(client).await;
            tokio::select! {
                event = self.local.recv() => if !self.on_local(event, true).await {
                    self.completions(client).await;
                    return End::Stop;
                },
                // A completion wakes the loop too: the PUBACK of the last message in flight
                // must free its row even when nothing else happens.
                received = client.next_event() => match received {
                    Ok(Some(publish)) => self.inbound(publish).await,
                    Ok(None) => {}
                    Err(error) => {
                        self.completions(client).await;
                        return End::Lost(error);
                    }
                },
                () = pause(wait) => {}
            }
            self.completions(client).await;
        }
    }

    /// Records each filter the upstream refused in its SUBACK.
    fn check_suback(
        &self,
        chunk: &[(client::TopicFilter, client::SubscriptionOptions)],
        reasons: &[ReasonCode],
    ) {
        for ((filter, _), reason) in chunk.iter().zip(reasons) {
            if reason.is_error() {
                let error = Error::SubscribeRefused {
                    filter: filter.to_string(),
                    reason: *reason,
                    protocol: self.config.upstream.mqtt.protocol,
                };
                tracing::warn!("bridge {}: {error}", self.name());
                if let Some(refusal) = refusal_of(&error) {
                    self.status.record(&self.refusals, refusal);
                }
            }
        }
    }

    /// Hands the connection what the window and the pace allow; returns how long to wait for
    /// the pace, if that is what stops it.
    async fn fill(&mut self, client: &mut Client) -> Option<Duration> {
        loop {
            let (key, message) = match self.outbox.next() {
                Some((key, message)) => (key, message.clone()),
                None => return None,
            };
            let size = message.payload.len();
            let wait = self.pace.wait(size, Instant::now());
            if !wait.is_zero() {
                return Some(wait);
            }
            match client.start_publish(message) {
                Ok(packet_id) => {
                    self.pace.spend(size);
                    if let Some(gone) = self.outbox.sent(key, packet_id) {
                        // QoS 0: handed over is all there is.
                        self.status.forwarded_out.inc();
                        self.forget(gone.seq).await;
                    }
                }
                Err(Error::Session(
                    mqtt_proto::session::Error::NotConnected { .. }
                    | mqtt_proto::session::Error::PacketIdsExhausted,
                )) => return None,
                Err(error) => {
                    // This message cannot be sent on this connection (too large for the
                    // server's maximum packet size, a QoS or retain it does not support).
                    if let Some(item) = self.outbox.remove(key) {
                        self.refused(&item, error.to_string(), None).await;
                    }
                }
            }
            self.status.set_queued(self.outbox.len());
        }
    }

    /// Settles what the upstream acknowledged.
    async fn completions(&mut self, client: &mut Client) {
        for (packet_id, result) in client.take_completed() {
            let Some(packet_id) = packet_id else { continue };
            match result {
                Ok(()) => {
                    if let Some(item) = self.outbox.completed(packet_id) {
                        self.status.forwarded_out.inc();
                        self.forget(item.seq).await;
                    }
                }
                Err(Error::PublishRefused { reason, .. }) => {
                    if let Some(item) = self.outbox.completed(packet_id) {
                        let why = format!(
                            "the upstream refused the message on {} with PUBACK {reason}",
                            item.message.topic
                        );
                        self.refused(&item, why, Some(format!("PUBACK {reason}")))
                            .await;
                    }
                }
                // Abandoned with the connection: it waits for the next one.
                Err(_) => {}
            }
        }
        self.status.set_queued(self.outbox.len());
    }

    /// After a lost connection: what was in flight waits again; a message the upstream keeps
    /// closing the connection over is given up; QoS 0 messages are not kept.
    async fn connection_lost(&mut self) {
        if let Some(item) = self.outbox.connection_lost() {
            let why = format!(
                "the upstream closed the connection {} times in a row while the message on {} \
                 was the only one in flight; AWS IoT does that for an MQTT 3.1.1 publish its \
                 policy does not allow, so the message is dropped",
                super::outbox::POISON_AFTER,
                item.message.topic
            );
            self.status.dropped(DropReason::Refused);
            self.status.record(
                &self.refusals,
                UpstreamRefusal {
                    kind: RefusalKind::UpstreamClosed,
                    reason: why,
                    action: Some("iot:Publish".to_owned()),
                    resource: Some(item.message.topic.to_string()),
                    decided_by: None,
                },
            );
            self.forget(item.seq).await;
        }
        for _ in 0..self.outbox.drop_qos0() {
            self.status.dropped(DropReason::Qos0Offline);
        }
        self.status.set_queued(self.outbox.len());
    }

    /// A message the upstream will not take: dropped, counted, recorded.
    async fn refused(&mut self, item: &Outbound, why: String, decided_by: Option<String>) {
        self.status.dropped(DropReason::Refused);
        self.status.record(
            &self.refusals,
            UpstreamRefusal {
                kind: RefusalKind::UpstreamRefused,
                reason: why,
                action: Some("iot:Publish".to_owned()),
                resource: Some(item.message.topic.to_string()),
                decided_by,
            },
        );
        self.forget(item.seq).await;
    }

    /// Drops a delivery's row from the local session's queue.
    async fn forget(&self, seq: Option<u64>) {
        if let Some(seq) = seq {
            // A gone router means the server is stopping; the row stays for the next run.
            let _ = self.local.acked(seq).await;
        }
    }

    /// Handles one event of the local side; false when the bridge must stop.
    async fn on_local(&mut self, event: Option<LocalEvent>, connected: bool) -> bool {
        match event {
            None => false,
            Some(LocalEvent::Close(reason)) => {
                tracing::debug!(
                    "bridge {}: the broker closes its local side ({reason})",
                    self.name()
                );
                false
            }
            Some(LocalEvent::Published(reason)) => {
                if reason.is_error() {
                    tracing::warn!(
                        "bridge {}: the local broker refused a message from upstream: {reason}",
                        self.name()
                    );
                }
                true
            }
            Some(LocalEvent::Deliver(delivery, seq)) => {
                self.outbound(delivery, seq, connected).await;
                true
            }
        }
    }

    /// A local message for the upstream: mapped, checked against its limits, queued.
    async fn outbound(
        &mut self,
        delivery: broker_core::Delivery,
        seq: Option<u64>,
        connected: bool,
    ) {
        let message = &delivery.message;
        let Some((remote, line_qos)) = self.topics.to_remote(message.topic.as_str()) else {
            self.status.dropped(DropReason::NoRoute);
            return self.forget(seq).await;
        };
        if let Some(why) = self
            .config
            .limits
            .refuses_publish(&remote, message.payload.len())
        {
            self.status.dropped(DropReason::Limit);
            self.status.record(
                &self.refusals,
                UpstreamRefusal {
                    kind: RefusalKind::Limit,
                    reason: format!("the bridge did not send a message upstream: {why}"),
                    action: Some("PUBLISH".to_owned()),
                    resource: Some(remote),
                    decided_by: Some(format!(
                        "the upstream's limits ({})",
                        self.config.limits.name
                    )),
                },
            );
            return self.forget(seq).await;
        }
        let qos = delivery
            .qos
            .min(line_qos)
            .min(self.config.limits.maximum_qos);
        if qos == QoS::AtMostOnce && !connected {
            self.status.dropped(DropReason::Qos0Offline);
            return self.forget(seq).await;
        }
        let Ok(topic) = TopicName::new(&remote) else {
            self.status.dropped(DropReason::NoRoute);
            return self.forget(seq).await;
        };
        let mut properties = PublishProperties {
            topic_alias: None,
            subscription_identifiers: Vec::new(),
            ..message.properties.clone()
        };
        if self.v5()
            && let (Ok(key), Ok(value)) = (MqttStr::new(BRIDGE_MARKER), MqttStr::new(self.name()))
        {
            properties.user_properties.push((key, value));
        }
        let out = Message {
            topic,
            qos,
            retain: delivery.retain,
            payload: message.payload.clone(),
            properties,
        };
        if let Some(dropped) = self.outbox.push(Outbound::new(seq, out)) {
            self.status.dropped(DropReason::QueueFull);
            self.forget(dropped.seq).await;
        }
        self.status.set_queued(self.outbox.len());
    }

    /// A message from upstream: loop check, mapped, published here (at QoS 1 at most: the
    /// local side takes no QoS 2 flows).
    async fn inbound(&mut self, publish: Publish) {
        let looped = publish
            .properties
            .user_properties
            .iter()
            .any(|(k, v)| k.as_str() == BRIDGE_MARKER && v.as_str() == self.name());
        if looped {
            self.status.dropped(DropReason::Loop);
            return;
        }
        let Some((local, line_qos)) = self.topics.to_local(publish.topic.as_str()) else {
            self.status.dropped(DropReason::NoRoute);
            return;
        };
        let Ok(topic) = TopicName::new(&local) else {
            self.status.dropped(DropReason::NoRoute);
            return;
        };
        let qos = publish.delivery.qos().min(line_qos).min(QoS::AtLeastOnce);
        let local_publish = Publish {
            dup: false,
            delivery: mqtt_proto::Delivery::new(qos, client::PacketId::MIN),
            retain: publish.retain,
            topic,
            properties: PublishProperties {
                topic_alias: None,
                subscription_identifiers: Vec::new(),
                ..publish.properties
            },
            payload: publish.payload,
        };
        if self.local.publish(local_publish).await.is_ok() {
            self.status.forwarded_in.inc();
        }
    }

    /// Ends the local session's connection, then the upstream's.
    async fn stop(self, client: Option<Client>) {
        tracing::info!(
            "bridge {}: stopping; {} queued message(s) stay in the store for the next start",
            self.config.name,
            self.outbox.len()
        );
        self.local.disconnect().await;
        if let Some(client) = client {
            let _ = client.disconnect().await;
        }
    }
}

/// Waits `wait`, or forever without one.
async fn pause(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}
