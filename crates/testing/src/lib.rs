//! A local AWS IoT Core inside your Rust tests: [`TestServer`] runs tether's server in your test
//! process, on free loopback ports and a fresh temporary directory, registers devices through
//! its AWS-compatible API and hands you connected MQTT clients and, with the `aws-sdk` feature,
//! an AWS SDK for Rust config. It owns starting, provisioning and stopping; what a test asserts
//! stays in the test. It does not start the `tether` binary (see `tether serve --ephemeral`
//! for that) and does not talk to AWS.
//!
//! # A device talking to itself
//!
//! ```
//! use tether_testing::TestServer;
//! use tether_testing::mqtt::{Message, QoS, SubscriptionOptions, TopicFilter, TopicName};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = TestServer::start().await?;
//!
//! // A thing with an ACTIVE certificate and a policy, created through the API and connected
//! // over MQTT 5 with mutual TLS.
//! let mut thermostat = server.device("thermostat").await?;
//! let commands = TopicFilter::new("thermostat/commands")?;
//! thermostat
//!     .client
//!     .subscribe(vec![(commands, SubscriptionOptions::with_qos(QoS::AtLeastOnce))])
//!     .await?;
//!
//! // A second device sends it a command.
//! let mut phone = server.device("phone").await?;
//! let topic = TopicName::new("thermostat/commands")?;
//! phone.client.publish(Message::new(topic, QoS::AtLeastOnce, "set 21")).await?;
//!
//! let command = thermostat.client.recv().await?;
//! assert_eq!(&command.payload[..], b"set 21");
//! # Ok(()) }
//! ```
//!
//! # What a server gives you
//!
//! - [`TestServer::endpoints`]: the MQTT-over-TLS listener (and, when asked for, the ALPN and
//!   plain MQTT ones) and the API, all on `127.0.0.1` with ports the kernel chose.
//! - [`TestServer::api_url`], [`TestServer::access_key_id`], [`TestServer::secret_access_key`],
//!   [`TestServer::region`]: what any AWS client needs (`--endpoint-url` for the CLI,
//!   `endpoint_url` for boto3 and the SDKs).
//! - [`TestServer::root_ca`] and [`TestServer::demo_device`]: the CA devices trust and a
//!   device registered on every server.
//! - [`TestServer::device`]: a new registered and connected [`Device`].
//! - [`TestServer::iot_config`] (feature `aws-sdk`): an `aws_sdk_iot::Config` for it.
//!
//! Servers are independent, so tests using them run in parallel. Each one has its own thread
//! and tokio runtime, so it works under `#[tokio::test]` of either flavour. Dropping a server
//! shuts it down (clients get a DISCONNECT, the store is flushed) and removes its directory.
//!
//! # Features
//!
//! - `aws-sdk` (off by default): [`TestServer::iot_config`] and a re-export of `aws_sdk_iot`.
//!   It is optional because the SDK is large: on a 2-core machine `aws-sdk-iot` alone took
//!   102 s to compile from clean, and about 150 s with what it pulls in (no TLS stack; the
//!   server's API is plain HTTP on loopback). Tests that only need MQTT and devices should
//!   not pay for it.
//!
//! # Start-up cost
//!
//! Each server creates a CA, two server certificates and the demo device on start (three RSA
//! 2048 keys and one P-256 key): 0.2–0.3 s on a busy 2-core machine, 90–95 % of it key
//! generation; the rest of start-up is 10–20 ms.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod api;
#[cfg(feature = "aws-sdk")]
mod aws_sdk;
mod device;
mod error;
mod server;

pub use device::Device;
pub use error::Error;
pub use server::{Builder, Endpoints, TestServer};

/// The server's settings type, for [`Builder::configure`].
pub use ::server::{DeviceFiles, ServerConfig};
/// Which rules the server applies: `Aws` (AWS IoT Core's) or `Mqtt` (a complete MQTT broker).
pub use broker_core::Profile;

/// tether's async MQTT 3.1.1/5 client, which [`Device::client`] is: connect options, messages,
/// topics and filters, QoS.
pub use client as mqtt;

/// The AWS SDK for Rust's AWS IoT client, the version [`TestServer::iot_config`] builds for.
#[cfg(feature = "aws-sdk")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws-sdk")))]
pub use aws_sdk_iot;
