//! tether's async MQTT 3.1.1/5 client: plain TCP, TLS and mutual TLS over OpenSSL (SNI from
//! the host name, ALPN on request), MQTT over WebSockets presigned with SigV4 (`websocket.rs`), QoS 0/1/2 driven by `mqtt_proto`'s sans-IO client session,
//! opt-in reconnect with jittered exponential backoff that resends unfinished QoS 1/2 flows,
//! and errors that explain failures (TLS alerts, untrusted server certificates, CONNACK
//! refusals, server disconnects, DNS and TCP problems). It is used by `tether pub`/`sub`,
//! `doctor` and `bench`. It parses no command lines, reads no files, and prints nothing.
//!
//! One [`Client`] owns its connection; there is no background task, so every `async` method
//! drives the socket while it waits:
//!
//! 1. [`Client::connect`] with [`ConnectOptions`] (waits for CONNACK).
//! 2. [`Client::publish`] (waits for the QoS flow), or [`Client::start_publish`] plus
//!    [`Client::flush`] to pipeline; [`Client::subscribe`]; [`Client::recv`] for messages;
//!    [`Client::idle`] to keep the connection alive without a command.
//! 3. [`Client::disconnect`].

mod client;
mod error;
mod options;
mod transport;
mod websocket;

pub use client::{Client, Connected, Direction, Observer};
pub use error::{Error, UntrustedCertificate, likely_causes, v3_connack_words};
pub use options::{AWS_MQTT_ALPN, ConnectOptions, Reconnect, TlsOptions};
pub use websocket::{SigV4Credentials, WebSocketOptions, WsStream};

/// The MQTT vocabulary the API speaks, re-exported so callers need no direct dependency.
pub use bytes::Bytes;
pub use mqtt_proto::{
    self, ClientConfig, Message, MqttStr, Packet, PacketId, Protocol, Publish, QoS, ReasonCode,
    SubscriptionOptions, TopicFilter, TopicName, Will,
};
/// TLS settings types from the `tls` crate.
pub use tls::context::{Identity, Trust};
pub use tls::version::ProtocolVersion;
