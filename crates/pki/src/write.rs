//! Encoding certificates and keys as PEM or DER (private keys as PKCS#1, PKCS#8 or SEC1) and
//! writing them to disk, private keys with mode 0600 from the moment the file is created. It
//! does not encrypt keys and does not choose file names.

use std::io::Write;
use std::path::Path;

use openssl::pkey::{HasPublic, Id, PKeyRef, Private};
use openssl::x509::X509Ref;

use crate::error::{PkiError, Result, crypto};
use crate::load::KeyFormat;
use crate::summary::describe_key;

/// Certificate as PEM (`BEGIN CERTIFICATE`).
pub fn certificate_pem(cert: &X509Ref) -> Result<Vec<u8>> {
    cert.to_pem()
        .map_err(crypto("encoding a certificate as PEM"))
}

/// Certificate as DER.
pub fn certificate_der(cert: &X509Ref) -> Result<Vec<u8>> {
    cert.to_der()
        .map_err(crypto("encoding a certificate as DER"))
}

/// Public key as PEM SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`).
pub fn public_key_pem<T: HasPublic>(key: &PKeyRef<T>) -> Result<Vec<u8>> {
    key.public_key_to_pem()
        .map_err(crypto("encoding a public key as PEM"))
}

/// Public key as DER SubjectPublicKeyInfo.
pub fn public_key_der<T: HasPublic>(key: &PKeyRef<T>) -> Result<Vec<u8>> {
    key.public_key_to_der()
        .map_err(crypto("encoding a public key as DER"))
}

/// Private key as PEM in the given format: PKCS#1 (`BEGIN RSA PRIVATE KEY`, RSA only, as AWS
/// hands out), PKCS#8 (`BEGIN PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`, EC only).
pub fn private_key_pem(key: &PKeyRef<Private>, format: KeyFormat) -> Result<Vec<u8>> {
    check_format(key, format)?;
    let context = format!("encoding a private key as {format} PEM");
    match format {
        KeyFormat::Pkcs1 => key.rsa().and_then(|rsa| rsa.private_key_to_pem()),
        KeyFormat::Pkcs8 => key.private_key_to_pem_pkcs8(),
        KeyFormat::Sec1 => key.ec_key().and_then(|ec| ec.private_key_to_pem()),
    }
    .map_err(crypto(context))
}

/// Private key as DER in the given format (see [`private_key_pem`]).
pub fn private_key_der(key: &PKeyRef<Private>, format: KeyFormat) -> Result<Vec<u8>> {
    check_format(key, format)?;
    let context = format!("encoding a private key as {format} DER");
    match format {
        KeyFormat::Pkcs1 => key.rsa().and_then(|rsa| rsa.private_key_to_der()),
        KeyFormat::Pkcs8 => key.private_key_to_pkcs8(),
        KeyFormat::Sec1 => key.ec_key().and_then(|ec| ec.private_key_to_der()),
    }
    .map_err(crypto(context))
}

/// The key's "traditional" format: PKCS#1 for RSA, SEC1 for EC, PKCS#8 for anything else.
pub fn traditional_format<T: HasPublic>(key: &PKeyRef<T>) -> KeyFormat {
    match key.id() {
        Id::RSA => KeyFormat::Pkcs1,
        Id::EC => KeyFormat::Sec1,
        _ => KeyFormat::Pkcs8,
    }
}

fn check_format(key: &PKeyRef<Private>, format: KeyFormat) -> Result<()> {
    let fits = match format {
        KeyFormat::Pkcs1 => key.id() == Id::RSA,
        KeyFormat::Sec1 => key.id() == Id::EC,
        KeyFormat::Pkcs8 => true,
    };
    if fits {
        return Ok(());
    }
    Err(PkiError::Unsupported(format!(
        "a {format} private key encoding needs an {} key, but this is an {} key; use PKCS#8{}",
        if format == KeyFormat::Pkcs1 {
            "RSA"
        } else {
            "EC"
        },
        describe_key(key),
        if key.id() == Id::EC { " or SEC1" } else { "" },
    )))
}

/// Writes secret bytes (a private key) to `path`. On Unix the file is created with mode 0600
/// so the secret is never readable by others, not even briefly; an existing file is truncated
/// and restricted to 0600 before anything is written.
pub fn write_private_key(path: &Path, contents: &[u8]) -> Result<()> {
    let io = |action: &'static str| {
        move |source| PkiError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(io("create the private key file"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // `mode` only applies to newly created files; an existing one keeps its old mode.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io("restrict the private key file to mode 0600"))?;
    }
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io("write the private key file"))
}

/// Writes non-secret bytes (certificates, public keys, headers) to `path`.
pub fn write_public_file(path: &Path, contents: &[u8]) -> Result<()> {
    std::fs::write(path, contents).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        action: "write",
        source,
    })
}
