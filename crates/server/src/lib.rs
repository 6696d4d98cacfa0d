//! The `tether serve` runtime, in two wings: `mqtt/` (listeners, TLS admission, one task per
//! connection, the router task that owns `broker_core`) and `api/` (the AWS-compatible HTTP
//! API, one file per resource group), with what both share: `auth/` (registry checks and the
//! AWS IoT policy authorizer), `persist.rs` (broker ⇄ store), `clock.rs`, `metrics.rs`,
//! `bootstrap.rs` (the data directory), `registry_watch.rs`; `runtime.rs` only wires them. This
//! is the only crate that opens listening sockets — and it does not even bind them: the caller
//! passes bound listeners (port 0 works) and a shutdown future, and learns the addresses from
//! [`Ready`]. Command-line and config-file parsing belong to the CLI; this crate takes plain
//! structs.

mod api;
mod auth;
mod authorizer;
mod bootstrap;
mod bridge;
mod clock;
mod config;
mod console;
mod faults;
mod hooks;
mod http;
mod lock;
mod metrics;
mod mqtt;
mod persist;
pub mod qualify;
mod registry_watch;
mod rules;
mod runtime;
mod services;

pub use api::{Operation as ApiOperation, operations as api_operations};
pub use bootstrap::{BootstrapError, DEMO_DEVICE, DeviceFiles};
pub use bridge::{
    AWS_BYTES_PER_SECOND, AWS_PUBLISHES_PER_SECOND, BRIDGE_MARKER, BridgeConfig, BridgeConfigError,
    BridgeStatus, BridgeTopic, Direction as BridgeDirection, DropReason, UpstreamLimits,
};
pub use config::{
    AuthorizerFunctionConfig, AuthorizerTarget, CredentialPolicyConfig, LegacyListener, Listeners,
    Ready, ServerConfig, ServerError,
};
pub use faults::{
    Delay, FaultPlan, FaultTarget, Faults, Observed, Observer, ServerCertificate, Withhold,
    packet_type,
};
pub use hooks::{HOOK_TIMEOUT, HookTarget, ProvisioningHook};
pub use lock::{LOCK_FILE, LockError};
/// The packet types and reason codes fault plans name.
pub use mqtt_proto::{PacketType, ReasonCode};
pub use rules::{LambdaTarget, RulesSettings};
pub use runtime::run;
pub use store::Durability;
