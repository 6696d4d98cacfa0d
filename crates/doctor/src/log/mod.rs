//! The device serial-log explainer: reads a log line by line, recognises the TLS and connection
//! messages of ESP8266 NONOS (libssl/axTLS and mbedTLS), axTLS, BearSSL, ESP-IDF esp-tls and
//! espconn, turns each into a finding, and ends with the most likely root cause and its fix
//! (device-side research §0, §5). It never panics on any input. It reads no device and sends
//! nothing; probing an endpoint is a separate diagnosis.

mod axtls;
mod bearssl;
mod cert_record;
mod context;
mod esp;
mod libssl;
mod lines;
mod mbedtls;
mod modem;
pub(crate) mod verdict;

use crate::finding::{Finding, LineNote, Report};

pub use cert_record::RecordTrace;

/// The TLS stack the log comes from, guessed from tell-tale strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// ESP8266 NONOS libssl (Espressif's axTLS 1.4.9 build): TLS 1.1 at most.
    NonosLibssl,
    /// Another axTLS build (Arduino core ≤ 2.4, MicroPython).
    Axtls,
    /// ESP8266 NONOS SDK with -lmbedtls (espconn).
    NonosMbedtls,
    /// BearSSL (ESP8266 Arduino core ≥ 2.5).
    BearSsl,
    /// ESP-IDF / ESP8266 RTOS SDK esp-tls over mbedTLS.
    EspIdf,
    /// Nothing recognisable.
    Unknown,
}

impl Stack {
    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            Stack::NonosLibssl => "ESP8266 NONOS libssl (axTLS 1.4.9)",
            Stack::Axtls => "axTLS",
            Stack::NonosMbedtls => "ESP8266 NONOS mbedTLS (espconn)",
            Stack::BearSsl => "BearSSL (ESP8266 Arduino)",
            Stack::EspIdf => "ESP-IDF esp-tls / mbedTLS",
            Stack::Unknown => "unknown TLS stack",
        }
    }

    /// Guesses the stack from the whole log.
    pub fn detect(text: &str) -> Stack {
        let has = |needle: &str| text.contains(needle);
        if has("BSSL") || has("BearSSL") || has("getLastSSLError") {
            Stack::BearSsl
        } else if has("esp-tls") || has("esp_tls") || has("TRANS_SSL") || has("MQTT_CLIENT") {
            Stack::EspIdf
        } else if has("Reason:[-0x") || has("client handshake failed!") {
            Stack::NonosMbedtls
        } else if has("SSL error") || has("Alert: ") {
            let nonos = has("client handshake failed")
                || has("espconn")
                || text.lines().any(|l| cert_record::parse(l).is_some());
            if nonos {
                Stack::NonosLibssl
            } else {
                Stack::Axtls
            }
        } else if has("client handshake failed") {
            // espconn without a library-specific line: libssl prints no "!".
            Stack::NonosLibssl
        } else {
            Stack::Unknown
        }
    }
}

/// What one line proved, for the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fact {
    AlertReceived(tls::Alert),
    AlertSent(tls::Alert),
    AlertReceivedUnknown,
    BufferTooSmall,
    WrongCa,
    Clock,
    OutOfMemory,
    CredentialsUnreadable,
    ServerClosed,
    Network,
    NoCommonSuite,
    VersionRefused,
    ClientCertMissing,
    HandshakeFailed,
    CaRecordPlausible,
    /// The broker refused the MQTT CONNECT after TLS succeeded.
    MqttRefused,
    /// The TLS client was configured so that it cannot run (no way to verify the server).
    Misconfigured,
    /// The server's certificate does not name the host the device connected to.
    WrongName,
    /// The handshake timed out waiting for the server.
    Timeout,
}

/// One recognised line: the finding and what it proves.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    pub finding: Finding,
    pub fact: Option<Fact>,
}

/// Explains a device log. Accepts any bytes (invalid UTF-8 is replaced). Every non-empty line
/// becomes a finding, a context note, or an entry of `not_understood`: none is skipped.
pub fn explain_log(input: &[u8]) -> Report {
    let text = String::from_utf8_lossy(input);
    let stack = Stack::detect(&text);
    let mut report = Report::default();
    let mut facts = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let number = index + 1;
        let observations = lines::recognise(line, stack);
        if !observations.is_empty() {
            for obs in observations {
                facts.push(obs.fact.clone());
                report.findings.push(obs.finding.at_line(number));
            }
        } else if let Some(meaning) = context::recognise(line) {
            report.context.push(LineNote {
                line: number,
                text: line.to_owned(),
                meaning,
            });
        } else {
            report.not_understood.push(LineNote {
                line: number,
                text: line.to_owned(),
                meaning: String::new(),
            });
        }
    }
    let facts: Vec<Fact> = facts.into_iter().flatten().collect();
    report.root_cause = verdict::root_cause(stack, &facts, report.findings.is_empty());
    report
}

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;
