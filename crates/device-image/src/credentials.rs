//! The input every target renders (trust anchor, device certificate, device key, checked to
//! belong together) and the output shape (named files plus instructions). It does not read or
//! write files: inputs arrive as bytes with display names, outputs leave as bytes.

use pki::{Encoding, KeyFormat, PKey, Private, X509};

use crate::error::{DeviceImageError, Result};

/// Bytes of one input file and the name errors use for it (normally its path).
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// A device's credential set: the CA it trusts for the server, its certificate and its key.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Trust anchor the device uses to verify the broker (e.g. Amazon Root CA 1).
    pub ca: X509,
    pub ca_name: String,
    pub certificate: X509,
    pub certificate_name: String,
    pub key: PKey<Private>,
    pub key_name: String,
    /// How the key was encoded on input, so outputs can say when they converted it.
    pub key_input: (Encoding, KeyFormat),
}

impl Credentials {
    /// Loads the three inputs (PEM or DER each) and checks that the key matches the certificate.
    pub fn load(ca: Input<'_>, certificate: Input<'_>, key: Input<'_>) -> Result<Self> {
        let loaded_ca = pki::load_certificate(ca.bytes, ca.name)?;
        let loaded_cert = pki::load_certificate(certificate.bytes, certificate.name)?;
        let loaded_key = pki::load_private_key(key.bytes, key.name)?;
        if !pki::key_matches_certificate(&loaded_key.key, &loaded_cert.certificate) {
            return Err(DeviceImageError::KeyMismatch {
                certificate: certificate.name.to_owned(),
                key: key.name.to_owned(),
            });
        }
        Ok(Self {
            ca: loaded_ca.certificate,
            ca_name: ca.name.to_owned(),
            certificate: loaded_cert.certificate,
            certificate_name: certificate.name.to_owned(),
            key: loaded_key.key,
            key_name: key.name.to_owned(),
            key_input: (loaded_key.encoding, loaded_key.format),
        })
    }
}

/// One file a target produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// File name without directory, e.g. `esp_cert_private_key.bin`.
    pub name: String,
    pub bytes: Vec<u8>,
    /// True when the file holds the private key; the CLI writes such files with mode 0600.
    pub secret: bool,
}

/// What a target produces: files to write and instructions for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub files: Vec<OutputFile>,
    pub instructions: String,
}
