//! Sans-IO MQTT 3.1.1 and 5.0 for tether: one packet model shared by both versions, a
//! version-aware encoder and decoder, topic names and filters, and the client and server session
//! state machines. Bytes and time go in; packets, events and bytes come out. This crate opens no
//! sockets, reads no clock, spawns nothing, and depends on no other tether crate.
//!
//! It builds as `#![no_std]` with `alloc`; the default `std` feature only adds `std::error::Error`
//! implementations through its dependencies.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod codec;
pub mod error;
pub mod packet;
pub mod properties;
pub mod reason;
pub mod session;
pub mod string;
pub mod time;
pub mod topic;
pub mod types;

pub use codec::{Decoder, Frame, MAX_PACKET_SIZE, check_frame, decode};
pub use error::{DecodeError, EncodeError};
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketType, PubAck, Publish, SubAck, Subscribe,
    UnsubAck, Unsubscribe, Will,
};
pub use reason::ReasonCode;
pub use session::Message;
pub use session::client::{ClientConfig, ClientSession};
pub use session::server::{ServerConfig, ServerConnection};
pub use string::MqttStr;
pub use time::Instant;
pub use topic::{TopicFilter, TopicName};
pub use types::{Delivery, PacketId, Protocol, QoS, RetainHandling, SubscriptionOptions};
