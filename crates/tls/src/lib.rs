//! The TLS boundary of tether: AWS IoT security policies as OpenSSL contexts, our own raw
//! ClientHello parser, alert names and meanings, refusal explanations and device TLS profiles.
//! It opens no sockets and reads no files except CA files a caller names; listeners live in
//! `server`, diagnosis flows in `doctor`.

pub mod alert;
pub mod client_hello;
pub mod client_validity;
pub mod context;
pub mod explain;
pub mod hello_builder;
pub mod hello_refusal;
pub mod hello_types;
pub mod policy;
pub mod profile;
pub mod suite;
pub mod version;

pub use alert::Alert;
pub use client_hello::{
    ClientHello, ClientHelloError, NotTls, Progress, parse as parse_client_hello,
};
pub use explain::{ClientCertificate, Listener, Refusal, Verdict, explain};
pub use policy::{DEFAULT_POLICY, SecurityPolicy, UnknownPolicy};
pub use profile::{DeviceProfile, HelloOptions, PROFILES};
pub use suite::CipherSuite;
pub use version::ProtocolVersion;
