//! A bridge's local side: a client of the router like a connection task, without a socket. It
//! connects a persistent MQTT 5 session under the bridge's reserved client id
//! (`tether-bridge:NAME`), so every QoS 1 message delivered to it is written to that session's
//! queue in the store before the publisher's PUBACK, and stays there until the bridge reports
//! it done (`Command::Acked`) once the upstream has acknowledged it: that queue is the
//! bridge's durable outbound queue, and it survives `kill -9` because the router's durability
//! invariant already covers it. Inbound messages are published through the router as the
//! bridge's own publishes. It decides nothing; `upstream.rs` drives it.

use std::collections::VecDeque;

use broker_core::{ConnId, DisconnectKind};
use mqtt_proto::properties::{ConnectProperties, SubscribeProperties};
use mqtt_proto::session::server::ServerSession;
use mqtt_proto::{
    Connect, MqttStr, PacketId, Protocol, Publish, ReasonCode, Subscribe, SubscriptionOptions,
    TopicFilter, Unsubscribe,
};
use tokio::sync::{mpsc, oneshot};

use crate::auth::{BRIDGE_CLIENT_PREFIX, Identity, Principal};
use crate::mqtt::router::{Command, ConnectReply, ToConn};

/// Why the local side could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalError {
    /// The router is gone (the server is stopping).
    #[error("the broker is shutting down")]
    RouterGone,
    /// The broker refused the bridge's CONNECT or SUBSCRIBE.
    #[error("the local broker refused the bridge's {what}: {reason}")]
    Refused {
        /// CONNECT or SUBSCRIBE of a filter.
        what: String,
        /// Its reason code.
        reason: ReasonCode,
    },
}

/// What the router sent the bridge's local side, one message at a time.
#[derive(Debug)]
pub(crate) enum LocalEvent {
    /// A message for the upstream; with a sequence number it is on disk until `acked`.
    Deliver(broker_core::Delivery, Option<u64>),
    /// An inbound publish was handled (durable where it must be).
    Published(ReasonCode),
    /// The router closes the bridge's session (shutdown): stop.
    Close(ReasonCode),
}

/// The bridge's session with the local broker.
#[derive(Debug)]
pub(crate) struct LocalLink {
    conn: ConnId,
    router: mpsc::Sender<Command>,
    from_router: mpsc::UnboundedReceiver<ToConn>,
    pending: VecDeque<ToConn>,
    next_packet_id: u16,
}

/// The local client id of bridge `name`.
pub(crate) fn client_id(name: &str) -> String {
    format!("{BRIDGE_CLIENT_PREFIX}{name}")
}

impl LocalLink {
    /// Connects bridge `name`'s session (resuming it and its queue), as connection `conn`.
    pub(crate) async fn connect(
        name: &str,
        conn: ConnId,
        router: mpsc::Sender<Command>,
    ) -> Result<LocalLink, LocalError> {
        let client_id = MqttStr::new(&client_id(name)).map_err(|_| LocalError::Refused {
            what: "client id".to_owned(),
            reason: ReasonCode::ClientIdentifierNotValid,
        })?;
        let connect = Connect {
            protocol: Protocol::V5,
            clean_start: false,
            keep_alive: 0,
            client_id,
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties {
                // As long as the broker grants (the aws profile: an hour after a clean stop;
                // a crash leaves the session connected on disk, so it resumes at start-up).
                session_expiry_interval: Some(u32::MAX),
                ..ConnectProperties::default()
            },
        };
        let (to_conn, from_router) = mpsc::unbounded_channel();
        let (reply, answer) = oneshot::channel();
        let principal = Principal::new(Identity::Bridge {
            name: name.to_owned(),
        });
        router
            .send(Command::Connect {
                conn,
                connect: Box::new(connect),
                principal,
                to_conn,
                reply,
            })
            .await
            .map_err(|_| LocalError::RouterGone)?;
        match answer.await.map_err(|_| LocalError::RouterGone)? {
            ConnectReply::Accepted { .. } => Ok(LocalLink {
                conn,
                router,
                from_router,
                pending: VecDeque::new(),
                next_packet_id: 0,
            }),
            ConnectReply::Refused(reason) => Err(LocalError::Refused {
                what: "CONNECT".to_owned(),
                reason,
            }),
        }
    }

    /// Subscribes to `filters` (in SUBSCRIBEs of at most `per_packet` filters, as the aws
    /// profile allows 8) and waits for each SUBACK; deliveries that arrive meanwhile are kept
    /// for [`LocalLink::recv`].
    pub(crate) async fn subscribe(
        &mut self,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        per_packet: usize,
    ) -> Result<(), LocalError> {
        for chunk in filters.chunks(per_packet.max(1)) {
            let packet_id = self.packet_id();
            let subscribe = Subscribe {
                packet_id,
                properties: SubscribeProperties::default(),
                filters: chunk.to_vec(),
            };
            self.command(Command::Subscribe {
                conn: self.conn,
                subscribe,
            })
            .await?;
            let reasons = self
                .wait_for(|m| matches!(m, ToConn::SubAck { packet_id: id, .. } if *id == packet_id))
                .await?;
            if let ToConn::SubAck { reasons, .. } = reasons {
                for ((filter, _), reason) in chunk.iter().zip(reasons) {
                    if reason.is_error() {
                        return Err(LocalError::Refused {
                            what: format!("SUBSCRIBE to {filter}"),
                            reason,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Unsubscribes from filters the configuration no longer names.
    pub(crate) async fn unsubscribe(
        &mut self,
        filters: Vec<TopicFilter>,
    ) -> Result<(), LocalError> {
        if filters.is_empty() {
            return Ok(());
        }
        let packet_id = self.packet_id();
        self.command(Command::Unsubscribe {
            conn: self.conn,
            unsubscribe: Unsubscribe {
                packet_id,
                properties: Default::default(),
                filters,
            },
        })
        .await?;
        self.wait_for(|m| matches!(m, ToConn::UnsubAck { packet_id: id, .. } if *id == packet_id))
            .await?;
        Ok(())
    }

    /// The next event from the router; `None` when the router is gone.
    pub(crate) async fn recv(&mut self) -> Option<LocalEvent> {
        loop {
            let message = match self.pending.pop_front() {
                Some(message) => message,
                None => self.from_router.recv().await?,
            };
            match message {
                ToConn::Deliver(delivery, seq) => return Some(LocalEvent::Deliver(delivery, seq)),
                ToConn::PublishDone { reason, .. } => return Some(LocalEvent::Published(reason)),
                ToConn::Close(reason) => return Some(LocalEvent::Close(reason)),
                ToConn::Batch(messages) => {
                    for message in messages.into_iter().rev() {
                        self.pending.push_front(message);
                    }
                }
                ToConn::SubAck { .. } | ToConn::UnsubAck { .. } => {}
            }
        }
    }

    /// Publishes an inbound message as the bridge; QoS 1 gets a packet id here and its
    /// `Published` event once it is handled.
    pub(crate) async fn publish(&mut self, mut publish: Publish) -> Result<(), LocalError> {
        if publish.delivery.packet_id().is_some() {
            publish.delivery = mqtt_proto::Delivery::new(publish.delivery.qos(), self.packet_id());
        }
        self.command(Command::Publish {
            conn: self.conn,
            publish,
        })
        .await
    }

    /// The delivery with sequence number `seq` is upstream (or given up): drop it from disk.
    pub(crate) async fn acked(&self, seq: u64) -> Result<(), LocalError> {
        self.command(Command::Acked {
            conn: self.conn,
            seq,
        })
        .await
    }

    /// Ends the session's connection (the session and its queue stay).
    pub(crate) async fn disconnect(self) {
        let _ = self
            .router
            .send(Command::Disconnect {
                conn: self.conn,
                kind: DisconnectKind::Graceful,
                reason: None,
                violation: None,
                session_expiry: None,
                session: ServerSession::default(),
                inflight: Default::default(),
            })
            .await;
    }

    async fn command(&self, command: Command) -> Result<(), LocalError> {
        self.router
            .send(command)
            .await
            .map_err(|_| LocalError::RouterGone)
    }

    /// Reads router messages until one satisfies `wanted`, keeping the others in order.
    async fn wait_for(&mut self, wanted: impl Fn(&ToConn) -> bool) -> Result<ToConn, LocalError> {
        let mut kept = VecDeque::new();
        loop {
            let Some(message) = self.from_router.recv().await else {
                return Err(LocalError::RouterGone);
            };
            let mut arrived: VecDeque<ToConn> = match message {
                ToConn::Batch(messages) => messages.into(),
                message => VecDeque::from([message]),
            };
            while let Some(message) = arrived.pop_front() {
                if wanted(&message) {
                    self.pending.extend(kept);
                    self.pending.extend(arrived);
                    return Ok(message);
                }
                kept.push_back(message);
            }
        }
    }

    fn packet_id(&mut self) -> PacketId {
        self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
        PacketId::new(self.next_packet_id).unwrap_or(PacketId::MIN)
    }
}
