//! broker-core: the deterministic broker logic that outlives a connection or spans
//! connections — sessions and their lifecycle, subscriptions, routing, retained messages,
//! wills, offline queues, and the AWS IoT Core / MQTT profile rules. Pure and synchronous:
//! inputs and `now` (an [`mqtt_proto::time::Instant`]) go in, return values and [`Effect`]s
//! come out. No tokio, no IO, no clock.
//!
//! # Division of labour with the server
//!
//! The server's per-connection task owns the wire: codec, keep-alive enforcement, inbound
//! topic aliases, the QoS 2 receive flow, and the outbound in-flight window with its packet
//! ids (`mqtt_proto::session::server`). The broker owns what spans connections. When a
//! connection ends, the task hands back the deliveries still unacknowledged; the broker keeps
//! them (persistent sessions only) and re-sends them with DUP first on resume, then what was
//! queued while the client was away.
//!
//! # Driving it
//!
//! See [`Broker`] for the call order. Each `handle_*` call returns what to answer the client
//! (CONNACK, PUBACK, SUBACK, UNSUBACK reasons, or "close the connection") and leaves effects
//! to drain with [`Broker::poll_effect`]: deliveries, closes of other connections (takeover),
//! persistence operations, and authorization denials for the log. Durability is done outside:
//! applying the [`PersistOp`]s to a store and reloading it with
//! [`Broker::restore_session`] / [`Broker::restore_retained`] rebuilds persistent state.
//!
//! # Codemap
//!
//! `broker.rs` (the `Broker`, session lifecycle, timers), `connect.rs` (CONNECT inputs and
//! CONNACK answers), `routing.rs` (PUBLISH/SUBSCRIBE/UNSUBSCRIBE and routing), `index.rs`
//! (subscription index: exact hash map + wildcard level trie + shared groups), `retained.rs`,
//! `session.rs` (per-session state and the offline queue), `restore.rs` (reload from a store),
//! `message.rs`, `effect.rs`, `delete_connection.rs` (AWS's `DeleteConnection`), `auth.rs` (the `Authorizer` hook), `services.rs` (which publishes
//! go to the server's services), `config.rs` and `profile.rs`
//! (AWS/MQTT limits), `fuzz.rs` (the `broker_sequence` fuzz driver).
//!
//! # Choices (where the specifications leave room)
//!
//! - One copy per subscriber per publish: overlapping subscriptions of one session are merged
//!   into a single delivery with the highest granted QoS, every subscription identifier, and
//!   RETAIN kept if any of them has Retain As Published (MQTT 5 §3.3.4 allows either). Each
//!   shared group gets its own copy.
//! - Shared groups pick members by deterministic round robin, preferring connected members;
//!   with none connected, a member with a persistent session gets it queued (AWS behaviour).
//! - Offline queues hold QoS ≥ 1 only, bounded by `max_queued_per_session`; when full, the
//!   *oldest* message is dropped (fresh telemetry is worth more) and counted in
//!   [`BrokerStats::queue_dropped`].
//! - Will on takeover: handled like any connection that ended without DISCONNECT — published
//!   at once when it has no delay (AWS publishes it on takeover), delayed wills are cancelled
//!   when the new connection resumes the session and published when it starts clean.
//! - AWS QoS 2 SUBSCRIBE: AWS sends no SUBACK at all; we close the connection with 0x9B
//!   instead of leaving the client hanging. A retained publish to a `$` topic under AWS is
//!   refused as Topic Name invalid (0x90).
//! - Authorization denial: MQTT 5 gets 0x87 in PUBACK/SUBACK; MQTT 3.1.1 under AWS closes
//!   the connection; MQTT 3.1.1 under the MQTT profile gets SUBACK 0x80 or a positive PUBACK
//!   with the message dropped ([MQTT-3.3.5-2]). A denied `Receive` silently skips that
//!   subscriber.
//! - Retained messages for wildcard subscribes (MQTT profile) are found by scanning the topic
//!   range that shares the filter's literal prefix; a filter starting with a wildcard scans
//!   all retained messages.
//! - Wildcard filters are limited to 1024 levels under every profile: routing walks the filter
//!   trie one stack frame per level, and this bounds it.
//! - Persistence granularity: a queued message is deleted from the store when it is handed to
//!   a resuming connection (`QueueCleared`); from then on the connection task owns it, and it
//!   comes back to the broker through `handle_disconnect`'s `unacked` if not acknowledged.

mod auth;
mod broker;
mod config;
mod connect;
mod delete_connection;
mod effect;
pub mod fuzz;
mod index;
mod inspect;
mod message;
mod profile;
mod reserved;
mod restore;
mod retained;
mod routing;
mod services;
mod session;

pub use auth::{Action, AllowAll, Authorizer, Decision, Denial};
pub use broker::{Broker, BrokerStats};
pub use config::{AWS_MAX_SESSION_EXPIRY, BrokerConfig, ConfigError, Limits, Profile};
pub use connect::{ConnectOutcome, ConnectRequest, Connected, DisconnectKind};
pub use effect::{ConnId, Effect, PersistOp};
pub use index::filter_matches;
pub use inspect::SessionView;
pub use message::{Delivery, Message};
pub use restore::StoredSession;
pub use routing::{PublishOutcome, SubscribeOutcome, UnsubscribeOutcome};
pub use services::{ServiceId, ServiceRoute};
