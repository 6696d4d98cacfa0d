//! `der`: the CA, certificate and key as raw DER files (key in PKCS#1 for RSA, SEC1 for EC),
//! for stacks that load binary files or for further conversion. No source code is generated.

use std::fmt::Write as _;

use pki::KeyFormat;

use super::{describe_inputs, key_der};
use crate::credentials::{Bundle, Credentials, OutputFile};
use crate::error::Result;

pub(super) fn render(credentials: &Credentials) -> Result<Bundle> {
    let (files, format) = der_files(credentials)?;
    let mut text = String::new();
    let _ = writeln!(text, "Raw DER files:");
    for line in describe_inputs(credentials)? {
        let _ = writeln!(text, "  {line}");
    }
    for file in &files {
        let _ = writeln!(text, "  {:<10}{:>6} bytes", file.name, file.bytes.len());
    }
    let _ = writeln!(text, "\nThe same with openssl:");
    let _ = writeln!(text, "  openssl x509 -in CA.pem -outform DER -out ca.der");
    let _ = writeln!(
        text,
        "  openssl x509 -in CERT.pem -outform DER -out cert.der"
    );
    let _ = match format {
        KeyFormat::Pkcs1 => writeln!(
            text,
            "  openssl rsa -in KEY.pem -traditional -outform DER -out key.der   # PKCS#1"
        ),
        _ => writeln!(
            text,
            "  openssl ec -in KEY.pem -outform DER -out key.der   # SEC1"
        ),
    };
    Ok(Bundle {
        files,
        instructions: text,
    })
}

/// `ca.der`, `cert.der`, `key.der`; shared with the MicroPython target.
pub(super) fn der_files(credentials: &Credentials) -> Result<(Vec<OutputFile>, KeyFormat)> {
    let (key_bytes, format) = key_der(&credentials.key)?;
    Ok((
        vec![
            OutputFile {
                name: "ca.der".to_owned(),
                bytes: pki::certificate_der(&credentials.ca)?,
                secret: false,
            },
            OutputFile {
                name: "cert.der".to_owned(),
                bytes: pki::certificate_der(&credentials.certificate)?,
                secret: false,
            },
            OutputFile {
                name: "key.der".to_owned(),
                bytes: key_bytes,
                secret: true,
            },
        ],
        format,
    ))
}
