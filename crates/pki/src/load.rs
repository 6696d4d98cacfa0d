//! Loading certificates, private keys and CSRs from bytes that may be PEM or DER, reporting which
//! encoding (PEM/DER) and key format (PKCS#1/PKCS#8/SEC1) was found, and naming the file and
//! what it really holds when it is the wrong thing. It does not decrypt password-protected keys
//! and does not touch the file system except in [`read_file`].

use std::fmt;
use std::path::Path;

use openssl::ec::EcKey;
use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509Req};

use crate::der::{self, Shape};
use crate::error::{PkiError, Result};
use crate::pem;

/// How the input bytes were framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Base64 text between `-----BEGIN …-----` lines.
    Pem,
    /// Raw ASN.1 DER bytes.
    Der,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pem => "PEM",
            Self::Der => "DER",
        })
    }
}

/// How a private key is encoded inside its PEM or DER framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    /// RFC 8017 `RSAPrivateKey` (`BEGIN RSA PRIVATE KEY`), as AWS IoT hands out.
    Pkcs1,
    /// RFC 5208 `PrivateKeyInfo` (`BEGIN PRIVATE KEY`), OpenSSL 3's default.
    Pkcs8,
    /// RFC 5915 `ECPrivateKey` (`BEGIN EC PRIVATE KEY`).
    Sec1,
}

impl fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pkcs1 => "PKCS#1",
            Self::Pkcs8 => "PKCS#8",
            Self::Sec1 => "SEC1",
        })
    }
}

/// What a PEM block or DER blob holds, as far as can be told without a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectKind {
    Certificate,
    CertificateRequest,
    PublicKey,
    PrivateKey(KeyFormat),
    EncryptedPrivateKey,
    /// A PEM block with a label this crate does not use.
    OtherPem(String),
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Certificate => f.write_str("a certificate"),
            Self::CertificateRequest => f.write_str("a certificate signing request"),
            Self::PublicKey => f.write_str("a public key"),
            Self::PrivateKey(KeyFormat::Pkcs1) => f.write_str("a private key (PKCS#1 RSA)"),
            Self::PrivateKey(format) => write!(f, "a private key ({format})"),
            Self::EncryptedPrivateKey => f.write_str("an encrypted private key"),
            Self::OtherPem(label) => write!(f, "a PEM block labelled '{label}'"),
        }
    }
}

/// The result of [`identify`]: what the first object in the input is and how it is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    pub encoding: Encoding,
    pub kind: ObjectKind,
}

/// A certificate and the framing it came in.
#[derive(Debug, Clone)]
pub struct LoadedCertificate {
    pub certificate: X509,
    pub encoding: Encoding,
}

/// A private key, its framing and its key format.
#[derive(Debug, Clone)]
pub struct LoadedKey {
    pub key: PKey<Private>,
    pub encoding: Encoding,
    pub format: KeyFormat,
}

/// A certificate signing request and the framing it came in.
pub struct LoadedCsr {
    pub request: X509Req,
    pub encoding: Encoding,
}

impl fmt::Debug for LoadedCsr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedCsr")
            .field("subject", &self.request.subject_name())
            .field("encoding", &self.encoding)
            .finish()
    }
}

/// Reads a whole file, naming the path in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        action: "read",
        source,
    })
}

/// Tells what the first recognisable object in `bytes` is, or `None` if nothing is.
pub fn identify(bytes: &[u8]) -> Option<Identified> {
    if pem::looks_like_pem(bytes) {
        let blocks = pem::blocks(bytes);
        let block = blocks.iter().find(|b| b.label != "EC PARAMETERS")?;
        return Some(Identified {
            encoding: Encoding::Pem,
            kind: pem_kind(block),
        });
    }
    let kind = der_kind(der::shape(bytes)?);
    Some(Identified {
        encoding: Encoding::Der,
        kind,
    })
}

/// Loads the first certificate from PEM or DER bytes. `name` is how errors refer to the input,
/// usually its path.
pub fn load_certificate(bytes: &[u8], name: &str) -> Result<LoadedCertificate> {
    let (mut certificates, encoding) = certificates(bytes, name)?;
    if certificates.is_empty() {
        return Err(wrong_kind(bytes, name, "a certificate"));
    }
    let certificate = certificates.swap_remove(0);
    Ok(LoadedCertificate {
        certificate,
        encoding,
    })
}

/// Loads every certificate (a PEM bundle, or one or more concatenated DER certificates).
pub fn load_certificate_chain(bytes: &[u8], name: &str) -> Result<(Vec<X509>, Encoding)> {
    let (certificates, encoding) = certificates(bytes, name)?;
    if certificates.is_empty() {
        return Err(wrong_kind(bytes, name, "a certificate"));
    }
    Ok((certificates, encoding))
}

/// Loads an unencrypted private key in PKCS#1, PKCS#8 or SEC1, PEM or DER.
pub fn load_private_key(bytes: &[u8], name: &str) -> Result<LoadedKey> {
    const EXPECTED: &str = "a private key";
    let (der_bytes, encoding, format) = if pem::looks_like_pem(bytes) {
        let blocks = pem::blocks(bytes);
        let Some(block) = blocks.iter().find(|b| {
            matches!(
                pem_kind(b),
                ObjectKind::PrivateKey(_) | ObjectKind::EncryptedPrivateKey
            )
        }) else {
            return Err(wrong_kind(bytes, name, EXPECTED));
        };
        if block.encrypted_headers || pem_kind(block) == ObjectKind::EncryptedPrivateKey {
            return Err(PkiError::EncryptedKey {
                name: name.to_owned(),
            });
        }
        let der_bytes = block
            .der
            .clone()
            .ok_or_else(|| bad_base64(name, "the private key"))?;
        // Trust the ASN.1 structure over the label when they disagree.
        let format = match (der::shape(&der_bytes), pem_kind(block)) {
            (Some(shape), _) if der_key_format(shape).is_some() => der_key_format(shape),
            (_, ObjectKind::PrivateKey(format)) => Some(format),
            _ => None,
        };
        let format = format.ok_or_else(|| PkiError::Malformed {
            name: name.to_owned(),
            what: "the private key",
            detail: format!("the '{}' block does not hold a key", block.label),
        })?;
        (der_bytes, Encoding::Pem, format)
    } else {
        match der::shape(bytes) {
            Some(Shape::EncryptedPkcs8) => {
                return Err(PkiError::EncryptedKey {
                    name: name.to_owned(),
                });
            }
            Some(shape) => match der_key_format(shape) {
                Some(format) => (bytes.to_vec(), Encoding::Der, format),
                None => return Err(wrong_kind(bytes, name, EXPECTED)),
            },
            None => return Err(wrong_kind(bytes, name, EXPECTED)),
        }
    };
    let parsed = match format {
        KeyFormat::Pkcs1 => Rsa::private_key_from_der(&der_bytes).and_then(PKey::from_rsa),
        KeyFormat::Pkcs8 => PKey::private_key_from_pkcs8(&der_bytes),
        KeyFormat::Sec1 => EcKey::private_key_from_der(&der_bytes).and_then(PKey::from_ec_key),
    };
    let key = parsed.map_err(|e| malformed(name, "the private key", &e))?;
    Ok(LoadedKey {
        key,
        encoding,
        format,
    })
}

/// Loads a PKCS#10 certificate signing request from PEM or DER.
pub fn load_csr(bytes: &[u8], name: &str) -> Result<LoadedCsr> {
    const EXPECTED: &str = "a certificate signing request";
    let (der_bytes, encoding) = if pem::looks_like_pem(bytes) {
        let blocks = pem::blocks(bytes);
        let block = blocks
            .iter()
            .find(|b| pem_kind(b) == ObjectKind::CertificateRequest)
            .ok_or_else(|| wrong_kind(bytes, name, EXPECTED))?;
        let der_bytes = block
            .der
            .clone()
            .ok_or_else(|| bad_base64(name, "the certificate signing request"))?;
        (der_bytes, Encoding::Pem)
    } else if der::shape(bytes) == Some(Shape::CertificateRequest) {
        (bytes.to_vec(), Encoding::Der)
    } else {
        return Err(wrong_kind(bytes, name, EXPECTED));
    };
    let request = X509Req::from_der(&der_bytes)
        .map_err(|e| malformed(name, "the certificate signing request", &e))?;
    Ok(LoadedCsr { request, encoding })
}

fn certificates(bytes: &[u8], name: &str) -> Result<(Vec<X509>, Encoding)> {
    if pem::looks_like_pem(bytes) {
        let mut out = Vec::new();
        for block in pem::blocks(bytes) {
            if pem_kind(&block) != ObjectKind::Certificate {
                continue;
            }
            let der_bytes = block
                .der
                .ok_or_else(|| bad_base64(name, "the certificate"))?;
            let cert =
                X509::from_der(&der_bytes).map_err(|e| malformed(name, "the certificate", &e))?;
            out.push(cert);
        }
        return Ok((out, Encoding::Pem));
    }
    let mut out = Vec::new();
    let mut rest = bytes;
    while der::shape(rest) == Some(Shape::Certificate) {
        let Some(len) = der::der_claimed_len(rest) else {
            break;
        };
        let (one, next) = rest.split_at_checked(len).unwrap_or((rest, &[]));
        let cert = X509::from_der(one).map_err(|e| malformed(name, "the certificate", &e))?;
        out.push(cert);
        rest = next;
    }
    Ok((out, Encoding::Der))
}

fn pem_kind(block: &pem::Block) -> ObjectKind {
    match block.label.as_str() {
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => ObjectKind::Certificate,
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => ObjectKind::CertificateRequest,
        "PUBLIC KEY" | "RSA PUBLIC KEY" => ObjectKind::PublicKey,
        "RSA PRIVATE KEY" => ObjectKind::PrivateKey(KeyFormat::Pkcs1),
        "EC PRIVATE KEY" => ObjectKind::PrivateKey(KeyFormat::Sec1),
        "PRIVATE KEY" => ObjectKind::PrivateKey(KeyFormat::Pkcs8),
        "ENCRYPTED PRIVATE KEY" => ObjectKind::EncryptedPrivateKey,
        other => ObjectKind::OtherPem(other.to_owned()),
    }
}

fn der_kind(shape: Shape) -> ObjectKind {
    match shape {
        Shape::Certificate => ObjectKind::Certificate,
        Shape::CertificateRequest => ObjectKind::CertificateRequest,
        Shape::PublicKeyInfo | Shape::RsaPublicKey => ObjectKind::PublicKey,
        Shape::Pkcs1PrivateKey => ObjectKind::PrivateKey(KeyFormat::Pkcs1),
        Shape::Pkcs8PrivateKey => ObjectKind::PrivateKey(KeyFormat::Pkcs8),
        Shape::Sec1PrivateKey => ObjectKind::PrivateKey(KeyFormat::Sec1),
        Shape::EncryptedPkcs8 => ObjectKind::EncryptedPrivateKey,
    }
}

fn der_key_format(shape: Shape) -> Option<KeyFormat> {
    match shape {
        Shape::Pkcs1PrivateKey => Some(KeyFormat::Pkcs1),
        Shape::Pkcs8PrivateKey => Some(KeyFormat::Pkcs8),
        Shape::Sec1PrivateKey => Some(KeyFormat::Sec1),
        _ => None,
    }
}

/// Builds the "expected X, found Y" error, describing Y as precisely as possible.
fn wrong_kind(bytes: &[u8], name: &str, expected: &'static str) -> PkiError {
    let found = match identify(bytes) {
        Some(identified) => identified.kind.to_string(),
        None => describe_unrecognised(bytes),
    };
    PkiError::WrongKind {
        name: name.to_owned(),
        expected,
        found,
    }
}

fn describe_unrecognised(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "an empty file".to_owned();
    }
    if pem::looks_like_pem(bytes) {
        return "a PEM header without a matching END line".to_owned();
    }
    let printable = bytes
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if printable {
        return "text without any -----BEGIN----- block".to_owned();
    }
    let head: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!(
        "{} bytes of binary data that is not DER (starts {})",
        bytes.len(),
        head.join(" ")
    )
}

fn malformed(name: &str, what: &'static str, err: &ErrorStack) -> PkiError {
    let detail = err
        .errors()
        .first()
        .and_then(|e| e.reason())
        .unwrap_or("OpenSSL could not decode it")
        .to_owned();
    PkiError::Malformed {
        name: name.to_owned(),
        what,
        detail,
    }
}

fn bad_base64(name: &str, what: &'static str) -> PkiError {
    PkiError::Malformed {
        name: name.to_owned(),
        what,
        detail: "its base64 text is damaged".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{KeyAlgorithm, generate_key};
    use crate::write::{private_key_der, private_key_pem};

    #[test]
    fn key_formats_are_detected_in_pem_and_der() {
        let rsa = generate_key(KeyAlgorithm::Rsa2048).unwrap();
        let ec = generate_key(KeyAlgorithm::EcP256).unwrap();
        let cases = [
            (&rsa, KeyFormat::Pkcs1),
            (&rsa, KeyFormat::Pkcs8),
            (&ec, KeyFormat::Sec1),
            (&ec, KeyFormat::Pkcs8),
        ];
        for (key, format) in cases {
            let pem_bytes = private_key_pem(key, format).unwrap();
            let loaded = load_private_key(&pem_bytes, "k.pem").unwrap();
            assert_eq!((loaded.encoding, loaded.format), (Encoding::Pem, format));
            assert!(loaded.key.public_eq(key));

            let der_bytes = private_key_der(key, format).unwrap();
            let loaded = load_private_key(&der_bytes, "k.der").unwrap();
            assert_eq!((loaded.encoding, loaded.format), (Encoding::Der, format));
            assert!(loaded.key.public_eq(key));

            assert_eq!(
                identify(&der_bytes),
                Some(Identified {
                    encoding: Encoding::Der,
                    kind: ObjectKind::PrivateKey(format)
                })
            );
        }
    }

    #[test]
    fn sec1_pem_with_ec_parameters_block_loads() {
        let ec = generate_key(KeyAlgorithm::EcP256).unwrap();
        let mut text =
            b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
                .to_vec();
        text.extend(private_key_pem(&ec, KeyFormat::Sec1).unwrap());
        let loaded = load_private_key(&text, "ec.pem").unwrap();
        assert_eq!(loaded.format, KeyFormat::Sec1);
        assert_eq!(
            identify(&text).unwrap().kind,
            ObjectKind::PrivateKey(KeyFormat::Sec1)
        );
    }

    #[test]
    fn mislabelled_pem_key_is_read_by_its_structure() {
        let rsa = generate_key(KeyAlgorithm::Rsa2048).unwrap();
        let pkcs1 = private_key_pem(&rsa, KeyFormat::Pkcs1).unwrap();
        let relabelled = String::from_utf8(pkcs1)
            .unwrap()
            .replace("RSA PRIVATE KEY", "PRIVATE KEY");
        let loaded = load_private_key(relabelled.as_bytes(), "k.pem").unwrap();
        assert_eq!(loaded.format, KeyFormat::Pkcs1);
    }

    #[test]
    fn encrypted_keys_are_refused_by_name() {
        let rsa = generate_key(KeyAlgorithm::Rsa2048).unwrap();
        let pem_bytes = rsa
            .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_128_cbc(), b"pw")
            .unwrap();
        let err = load_private_key(&pem_bytes, "secret.pem").unwrap_err();
        assert!(matches!(err, PkiError::EncryptedKey { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("secret.pem: the private key is encrypted")
        );

        let legacy = rsa
            .rsa()
            .unwrap()
            .private_key_to_pem_passphrase(openssl::symm::Cipher::aes_128_cbc(), b"pw")
            .unwrap();
        let err = load_private_key(&legacy, "legacy.pem").unwrap_err();
        assert!(matches!(err, PkiError::EncryptedKey { .. }), "{err}");
    }

    #[test]
    fn unrecognised_inputs_are_described() {
        let cases: [(&[u8], &str); 4] = [
            (b"", "k: expected a private key, found an empty file"),
            (
                b"hello world\n",
                "k: expected a private key, found text without any -----BEGIN----- block",
            ),
            (
                &[0xde, 0xad, 0xbe, 0xef, 0x00],
                "k: expected a private key, found 5 bytes of binary data that is not DER (starts de ad be ef)",
            ),
            (
                b"-----BEGIN FOO-----\nQUJD\n-----END FOO-----\n",
                "k: expected a private key, found a PEM block labelled 'FOO'",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                load_private_key(input, "k").unwrap_err().to_string(),
                message
            );
        }
        let err = load_certificate(b"-----BEGIN CERTIFICATE-----\nQUJD\n", "c.pem").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.pem: expected a certificate, found a PEM header without a matching END line"
        );
    }

    #[test]
    fn damaged_base64_is_malformed_not_wrong_kind() {
        let text = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let err = load_certificate(text, "c.pem").unwrap_err();
        assert!(matches!(err, PkiError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("base64"), "{err}");
        let text = b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        let err = load_certificate(text, "c.pem").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("c.pem: the certificate is damaged"),
            "{err}"
        );
    }

    #[test]
    fn read_file_names_the_path() {
        let err = read_file(Path::new("/nonexistent/tether/key.pem")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("/nonexistent/tether/key.pem: cannot read:"),
            "{text}"
        );
    }
}
