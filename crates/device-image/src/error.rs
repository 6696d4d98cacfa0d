//! The error type of `device-image`: refusals of inputs a device format cannot carry (long
//! names, oversized payloads, EC keys on ESP8266 NONOS, mismatched key and certificate) and bad
//! placements. Messages say which record or address is at fault and what to do instead.

/// Everything that can go wrong while building device images.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceImageError {
    /// Loading or converting a key or certificate failed.
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    /// A NONOS record name does not fit the 32-byte NUL-terminated name field.
    #[error(
        "record name '{name}' is {len} bytes; the ESP8266 NONOS record header holds at most 31 bytes plus the terminating NUL"
    )]
    NameTooLong { name: String, len: usize },
    /// A NONOS record name with characters the SDK cannot match.
    #[error("record name '{name}' must be printable ASCII without NUL bytes")]
    BadName { name: String },
    /// A NONOS record payload longer than its 16-bit length field allows.
    #[error(
        "record '{name}' payload is {len} bytes; the NONOS length field is 16 bits, so at most 65535"
    )]
    PayloadTooLarge { name: String, len: usize },
    /// An elliptic-curve key or certificate for a target without ECC.
    #[error(
        "{what} uses an {key} key, but {target} has no elliptic-curve support; issue an RSA-2048 key and certificate for this device"
    )]
    EcUnsupported {
        what: String,
        key: String,
        target: &'static str,
    },
    /// The private key is not the one the device certificate was issued for.
    #[error(
        "the private key {key} does not match the certificate {certificate} (their public keys differ); use the key that was created together with this certificate"
    )]
    KeyMismatch { certificate: String, key: String },
    /// Image placements that would overwrite code or SDK data.
    #[error("refusing this flash placement:\n  {}", problems.join("\n  "))]
    Placement { problems: Vec<String> },
    /// A flash map or flash size the layout tables do not know.
    #[error("{0}")]
    Layout(String),
}

/// Shorthand used throughout the crate.
pub type Result<T> = std::result::Result<T, DeviceImageError>;
