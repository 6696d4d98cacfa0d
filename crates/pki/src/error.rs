//! The one error type of the `pki` crate. Variants separate bad input (a file that is not what
//! it should be) from local failures (OpenSSL refusing an operation); every message names the
//! file or thing concerned. It does not format for a terminal; the CLI does that.

use std::path::PathBuf;

use openssl::error::ErrorStack;

/// Everything that can go wrong in `pki`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The input holds something other than what was asked for.
    #[error("{name}: expected {expected}, found {found}")]
    WrongKind {
        name: String,
        expected: &'static str,
        found: String,
    },
    /// The input has the right shape but its contents do not parse.
    #[error("{name}: {what} is damaged and cannot be read ({detail}); export it again")]
    Malformed {
        name: String,
        what: &'static str,
        detail: String,
    },
    /// A password-protected private key; this crate never prompts for passwords.
    #[error(
        "{name}: the private key is encrypted; decrypt it first, e.g. `openssl pkey -in {name} -out plain.key`"
    )]
    EncryptedKey { name: String },
    /// Not a valid AWS certificate id.
    #[error("'{input}' is not a certificate id: {reason}")]
    InvalidCertificateId { input: String, reason: &'static str },
    /// A request this crate cannot satisfy for this key or input (e.g. PKCS#1 for an EC key).
    #[error("{0}")]
    Unsupported(String),
    /// OpenSSL refused a local operation (key generation, signing, encoding).
    #[error("{context}: {source}")]
    Crypto {
        context: String,
        #[source]
        source: ErrorStack,
    },
}

/// Shorthand used throughout the crate.
pub type Result<T> = std::result::Result<T, PkiError>;

/// Wraps an OpenSSL error with a sentence saying what was being done.
pub(crate) fn crypto(context: impl Into<String>) -> impl FnOnce(ErrorStack) -> PkiError {
    let context = context.into();
    move |source| PkiError::Crypto { context, source }
}
