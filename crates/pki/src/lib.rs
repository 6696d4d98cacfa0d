//! Keys, certificates and CSRs for tether: PEM/DER loading with PKCS#1/PKCS#8/SEC1 detection,
//! certificate summaries, AWS certificate ids, key/certificate and chain checks, a local CA that
//! issues server and device certificates, and PEM/DER writers (private keys 0600). Built on the
//! OpenSSL binding; it opens no sockets and keeps no state.
//!
//! Loaders take bytes plus a display name (usually the path) so every error names its input:
//! `devices/x/private.pem.key: expected a private key, found a certificate`.

mod ca;
mod chain;
mod der;
mod error;
mod id;
mod load;
mod pem;
mod subject;
mod summary;
mod write;

pub use ca::{CertificateAuthority, KeyAlgorithm, LeafProfile, Validity, create_csr, generate_key};
pub use chain::verify_chain;
pub use der::der_claimed_len;
pub use error::{PkiError, Result};
pub use id::CertificateId;
pub use load::{
    Encoding, Identified, KeyFormat, LoadedCertificate, LoadedCsr, LoadedKey, ObjectKind, identify,
    load_certificate, load_certificate_chain, load_csr, load_private_key, read_file,
};
pub use subject::{SubjectFields, random_bytes, subject_fields};
pub use summary::{
    CertificateSummary, KeyDescription, SubjectAltName, describe_key, key_matches_certificate,
    rfc3339, summarize, validity_period,
};
pub use write::{
    certificate_der, certificate_pem, private_key_der, private_key_pem, public_key_der,
    public_key_pem, traditional_format, write_private_key, write_public_file,
};

/// The OpenSSL types this crate's API hands out, re-exported so callers need no direct
/// dependency to name them.
pub use openssl::pkey::{PKey, PKeyRef, Private, Public};
pub use openssl::x509::{X509, X509Ref, X509Req};
