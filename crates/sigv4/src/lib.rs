//! AWS Signature Version 4 for tether's AWS-compatible HTTP API: verifying incoming requests
//! signed in the `Authorization` header against configured credentials plus the loopback-only
//! development credential ([`Verifier`]), and signing outgoing requests the way the AWS SDKs do
//! ([`sign_request`]). Both sides go through the `aws-sigv4` crate rather than a hand-rolled
//! HMAC chain. It speaks the `http` crate's types and knows no web framework and no other
//! tether crate. Presigned URLs (query-string signatures, as AWS IoT takes them on
//! `wss://…/mqtt`) are verified and made by `presign.rs` ([`Verifier::verify_presigned`],
//! [`presign_url`]). It never speaks SigV4a.
//!
//! ```
//! use std::time::SystemTime;
//!
//! use sigv4::{SigningKey, Verifier, sign_request};
//!
//! let key = SigningKey::new("test", "test", "us-east-1", "iot");
//! let host = [("host".to_owned(), "127.0.0.1:4580".to_owned())];
//! let now = SystemTime::now();
//! let added = sign_request(&key, "GET", "/things", &host, b"", now)?;
//! let mut headers = http::HeaderMap::new();
//! for (name, value) in host.into_iter().chain(added) {
//!     headers.insert(
//!         http::HeaderName::from_bytes(name.as_bytes())?,
//!         http::HeaderValue::from_str(&value)?,
//!     );
//! }
//! let verifier = Verifier::new(Vec::new(), Some("127.0.0.1:4580".parse()?));
//! let caller = verifier.verify("GET", "/things", &headers, b"", now)?;
//! assert_eq!(caller.service, "iot");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod date;
mod error;
pub mod fuzz;
mod presign;
mod sign;
mod verify;

pub use date::{format_amz_date, parse_amz_date};
pub use error::{SigV4Error, SigningError};
pub use presign::{MAX_EXPIRES_SECS, is_presigned, presign_url};
pub use sign::{SigningKey, sign_request};
pub use verify::{Caller, Verifier};

/// The documented development credential, accepted only while the API listens on loopback.
pub const DEV_ACCESS_KEY_ID: &str = "test";
/// Secret of [`DEV_ACCESS_KEY_ID`].
pub const DEV_SECRET_ACCESS_KEY: &str = "test";

/// Signing names accepted: the control plane (`iot`), the data plane as botocore names it
/// (`iotdata`) and as AWS's documentation names it (`iotdevicegateway`), and the Jobs device
/// plane (`iot-jobs-data`, whose paths the control plane shares: the API tells them apart by
/// this name).
pub const SIGNING_NAMES: [&str; 4] = ["iot", "iotdata", "iotdevicegateway", "iot-jobs-data"];

/// The only algorithm tether verifies and signs with.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
