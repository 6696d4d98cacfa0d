//! The client certificate's validity period at the handshake. A server built by
//! [`crate::context::server_acceptor`] accepts any client chain (authorisation is the registry's
//! lookup of the leaf, not chain validation), but refuses a leaf whose notBefore/notAfter does
//! not include the time of the handshake: OpenSSL's own time check runs on every connection
//! against the clock of that moment, and its verdict is kept (alert 45 certificate_expired, or
//! 42 bad_certificate for a certificate not yet valid, as OpenSSL maps them). Since OpenSSL
//! keeps no peer certificate after a failed verification, the refused leaf is remembered on
//! the connection (ex-data set up by [`watch`]) so the server can name it. It does not look
//! anything up in a registry or decide anything else about the chain.
//!
//! AWS IoT's documentation does not say what happens to an expired but ACTIVE certificate
//! (shared/reference/aws-iot-contract.md §2.3: unconfirmed); its registration checks refuse a
//! certificate outside its validity period, and tether refuses it at connection time too.

use std::sync::OnceLock;

use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslRef};
use openssl::x509::{X509, X509StoreContext, X509StoreContextRef};

/// OpenSSL's `X509_V_ERR_CERT_NOT_YET_VALID` (x509_vfy.h).
const CERT_NOT_YET_VALID: i32 = openssl_sys::X509_V_ERR_CERT_NOT_YET_VALID;
/// OpenSSL's `X509_V_ERR_CERT_HAS_EXPIRED` (x509_vfy.h).
const CERT_HAS_EXPIRED: i32 = openssl_sys::X509_V_ERR_CERT_HAS_EXPIRED;

/// Which end of its validity period the handshake fell outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfDate {
    /// Past notAfter.
    Expired,
    /// Before notBefore.
    NotYetValid,
}

/// A client certificate refused because the handshake fell outside its validity period.
#[derive(Debug, Clone)]
pub struct RefusedCertificate {
    /// The client's leaf certificate.
    pub certificate: X509,
    /// Why.
    pub why: OutOfDate,
}

/// Where the verify callback leaves the refused leaf: one slot per connection.
type Slot = OnceLock<RefusedCertificate>;

fn index() -> Option<Index<Ssl, Slot>> {
    static INDEX: OnceLock<Option<Index<Ssl, Slot>>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index().ok())
}

/// Prepares a server connection to remember a client certificate refused for its validity
/// period (read it back with [`refused`]). Without it the refusal still happens; only the
/// certificate is not kept.
pub fn watch(ssl: &mut SslRef) {
    if let Some(index) = index() {
        ssl.set_ex_data(index, Slot::new());
    }
}

/// The client certificate this connection's handshake refused for its validity period.
pub fn refused(ssl: &SslRef) -> Option<&RefusedCertificate> {
    ssl.ex_data(index()?)?.get()
}

/// The server's verify callback: chain errors are accepted (the registry decides who may
/// connect), a leaf outside its validity period is refused and remembered.
pub(crate) fn verify(preverify_ok: bool, ctx: &mut X509StoreContextRef) -> bool {
    if preverify_ok || ctx.error_depth() != 0 {
        return true;
    }
    let why = match ctx.error().as_raw() {
        CERT_HAS_EXPIRED => OutOfDate::Expired,
        CERT_NOT_YET_VALID => OutOfDate::NotYetValid,
        _ => return true,
    };
    if let Some(certificate) = ctx.current_cert().map(ToOwned::to_owned)
        && let Ok(ssl_index) = X509StoreContext::ssl_idx()
        && let Some(ssl) = ctx.ex_data(ssl_index)
        && let Some(slot) = index().and_then(|i| ssl.ex_data(i))
    {
        let _ = slot.set(RefusedCertificate { certificate, why });
    }
    false
}
