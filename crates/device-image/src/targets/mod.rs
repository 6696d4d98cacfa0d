//! The `flash pack` targets other than the NONOS sector images, and the one dispatch point for
//! all of them: each target turns a checked credential set into files plus instructions. The
//! targets only format; loading and checking happen in `Credentials`, conversion in `pki`.

mod arduino;
mod c_header;
mod esp_idf;
mod micropython;
mod raw_der;

use pki::{KeyFormat, PKeyRef, Private, X509Ref};

use crate::credentials::{Bundle, Credentials};
use crate::error::Result;
use crate::esp8266_nonos::{self, NonosPlan};

/// A device platform to produce credentials for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// ESP8266 NONOS SDK: two 4 KiB sector images plus esptool and espconn calls.
    Esp8266Nonos(NonosPlan),
    /// ESP8266 Arduino core ≥ 2.5 (BearSSL): a header of PEM strings plus sketch lines.
    Esp8266Arduino,
    /// ESP-IDF esp-mqtt: PEM files for `EMBED_TXTFILES` plus `esp_mqtt_client_config_t` fields.
    EspIdf,
    /// Any C stack (mbedTLS, wolfSSL, Zephyr): DER arrays with lengths, `xxd -i` style.
    CHeader,
    /// Raw DER files (certificate, CA, PKCS#1 key).
    Der,
    /// MicroPython: DER files and the `ssl.wrap_socket` call.
    MicroPython,
}

impl Target {
    /// The name used on the command line (`--target`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Esp8266Nonos(_) => "esp8266-nonos",
            Self::Esp8266Arduino => "esp8266-arduino",
            Self::EspIdf => "esp-idf",
            Self::CHeader => "c-header",
            Self::Der => "der",
            Self::MicroPython => "micropython",
        }
    }
}

/// Produces the files and instructions for `target`.
pub fn render(target: &Target, credentials: &Credentials) -> Result<Bundle> {
    match target {
        Target::Esp8266Nonos(plan) => esp8266_nonos::pack(credentials, plan),
        Target::Esp8266Arduino => arduino::render(credentials),
        Target::EspIdf => esp_idf::render(credentials),
        Target::CHeader => c_header::render(credentials),
        Target::Der => raw_der::render(credentials),
        Target::MicroPython => micropython::render(credentials),
    }
}

/// PEM text of a certificate (OpenSSL's 64-column layout).
fn cert_pem_text(cert: &X509Ref) -> Result<String> {
    Ok(String::from_utf8_lossy(&pki::certificate_pem(cert)?).into_owned())
}

/// PEM text of a key in its traditional format (PKCS#1 for RSA, as AWS hands out).
fn key_pem_text(key: &PKeyRef<Private>) -> Result<String> {
    let format = pki::traditional_format(key);
    Ok(String::from_utf8_lossy(&pki::private_key_pem(key, format)?).into_owned())
}

/// DER of a key in its traditional format, and that format.
fn key_der(key: &PKeyRef<Private>) -> Result<(Vec<u8>, KeyFormat)> {
    let format = pki::traditional_format(key);
    Ok((pki::private_key_der(key, format)?, format))
}

/// One line per input naming what it is, for file headers and instructions.
fn describe_inputs(credentials: &Credentials) -> Result<Vec<String>> {
    let ca = pki::summarize(&credentials.ca)?;
    let cert = pki::summarize(&credentials.certificate)?;
    Ok(vec![
        format!("CA:          {} ({})", ca.subject, ca.key),
        format!(
            "certificate: {} ({}), id {}",
            cert.subject, cert.key, cert.id
        ),
        format!(
            "private key: {}, {}",
            pki::describe_key(&credentials.key),
            pki::traditional_format(&credentials.key)
        ),
    ])
}
