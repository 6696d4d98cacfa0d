//! Recognisers for single log lines: each known message family becomes a finding plus the fact
//! it proves. The families: axTLS `SSL error N` / `Alert:` / `Error: <text>`, mbedTLS
//! `-0xNNNN` codes and debug alert lines, BearSSL error numbers, ESP-IDF esp-tls codes and
//! verification texts, espconn codes, libssl certificate-record traces, and generic
//! handshake-failure, out-of-memory and reconnect lines. Combining facts is `verdict`'s job.

use tls::Alert;

use super::bearssl::{self, BearSslError};
use super::verdict::{alert_fix, buffer_fix};
use super::{Fact, Observation, Stack, axtls, cert_record, esp, libssl, mbedtls, modem};
use crate::finding::{Finding, Severity};

/// All observations one line yields (usually zero or one).
pub(crate) fn recognise(line: &str, stack: Stack) -> Vec<Observation> {
    let mut out = Vec::new();
    let lower = line.to_ascii_lowercase();
    if let Some(trace) = cert_record::parse(line) {
        let finding = cert_record::assess(&trace);
        let plausible = finding.severity == Severity::Info
            && cert_record::role(&trace.name) == cert_record::Role::Ca;
        out.push(observe(
            finding,
            plausible.then_some(Fact::CaRecordPlausible),
        ));
        return out;
    }
    if let Some(obs) = libssl::recognise(line).or_else(|| modem::recognise(line)) {
        out.push(obs);
        return out;
    }
    if lower.contains("no server verification option set") {
        out.push(observe(
            Finding::new(
                Severity::Error,
                format!("esp-tls has no way to verify the server: `{}`", quote(line)),
                "the TLS configuration names no CA certificate, no certificate bundle and does not skip verification, so esp-tls refuses to start the handshake",
                fact_fix(&Fact::Misconfigured, stack),
            ),
            Some(Fact::Misconfigured),
        ));
        return out;
    }
    if let Some(fact) = plain_text_fact(&lower) {
        let (what, why) = match fact {
            Fact::Network => (
                "the device could not reach the broker",
                "the name did not resolve or the TCP connection failed; no TLS happened",
            ),
            Fact::Clock => (
                "a certificate is outside its validity period as the device sees it",
                "the device checks the server chain's dates against its clock, which is usually not set yet (1970) when this appears",
            ),
            _ => (
                "the server's certificate chain was not accepted",
                "the device could not verify the server's chain against the CA it holds",
            ),
        };
        out.push(observe(
            Finding::new(
                Severity::Error,
                format!("{what}: `{}`", quote(line)),
                why,
                fact_fix(&fact, stack),
            ),
            Some(fact),
        ));
        return out;
    }
    if let Some(n) = mbedtls_debug_alert(&lower) {
        out.push(alert_received(
            n,
            line,
            stack,
            "mbedTLS debug: got an alert message",
        ));
    }
    if stack == Stack::BearSsl {
        if let Some(code) = bearssl_number(&lower) {
            out.push(bearssl_observation(code, line, stack));
        }
    } else if let Some(n) = int_after(&lower, "ssl error") {
        match u8::try_from(n.unsigned_abs()) {
            Ok(n) if n > 0 => out.push(alert_received(
                n,
                line,
                stack,
                "axTLS reports a received fatal alert as `SSL error N`",
            )),
            _ => out.push(observe(
                Finding::new(
                    Severity::Error,
                    format!("axTLS error {n}: `{}`", quote(line)),
                    "an axTLS-local error code (not an alert)",
                    "see the text axTLS printed next to it",
                ),
                Some(Fact::HandshakeFailed),
            )),
        }
    }
    if let Some(text) = line.split_once("Alert: ").map(|(_, t)| t.trim()) {
        let alert = Alert::from_name(text);
        let what = match alert {
            Some(a) => format!("axTLS shows TLS alert {a}: `{}`", quote(line)),
            None => format!("axTLS shows a TLS alert: `{}`", quote(line)),
        };
        let why = alert.map_or("axTLS prints `Alert:` for alerts it sends or receives".to_owned(), |a| {
            format!("{} (axTLS prints `Alert:` for alerts it sends or receives; `SSL error N` follows when the server sent it)", a.meaning())
        });
        out.push(observe(Finding::new(Severity::Info, what, why, ""), None));
    }
    if stack != Stack::BearSsl
        && lower.contains("error")
        && !lower.contains("ssl error")
        && let Some(e) = axtls::find(line)
    {
        let fact = if e.certificate {
            classify_cert_text(&lower)
        } else if e.text == "no cipher" {
            Fact::NoCommonSuite
        } else if e.text == "invalid version" {
            Fact::VersionRefused
        } else {
            Fact::HandshakeFailed
        };
        out.push(observe(
            Finding::new(
                Severity::Error,
                format!("axTLS local error {}: `{}`", e.name, quote(line)),
                e.meaning,
                fact_fix(&fact, stack),
            ),
            Some(fact),
        ));
    }
    for code in mbedtls_codes(line, &lower) {
        out.push(mbedtls_observation(code, line, stack));
    }
    if stack == Stack::EspIdf
        && let Some(code) = esp_tls_code(&lower)
        && let Some((name, meaning)) = esp::esp_tls(code)
    {
        let fact = match code {
            0x8001 | 0x8002 | 0x8004 | 0x8006 => Some(Fact::Network),
            0x8008 => Some(Fact::ServerClosed),
            0x8015 | 0x8016 | 0x8019 => Some(Fact::CredentialsUnreadable),
            0x8017 => Some(Fact::OutOfMemory),
            0x801A => Some(Fact::HandshakeFailed),
            _ => None,
        };
        let fix = fact.as_ref().map_or(String::new(), |f| fact_fix(f, stack));
        out.push(observe(
            Finding::new(
                Severity::Error,
                format!("esp-tls error 0x{code:04X} {name}: `{}`", quote(line)),
                meaning,
                fix,
            ),
            fact,
        ));
    }
    if let Some(fact) = mbedtls_verify_info(&lower) {
        out.push(observe(
            Finding::new(
                Severity::Error,
                format!("server certificate verification failed: `{}`", quote(line)),
                "mbedTLS verification detail for the server's certificate chain",
                fact_fix(&fact, stack),
            ),
            Some(fact),
        ));
    }
    if let Some((code, name, meaning)) = espconn_code(line, &lower) {
        let fact = match code {
            -1 => Some(Fact::OutOfMemory),
            -28 => Some(Fact::HandshakeFailed),
            -61 => Some(Fact::BufferTooSmall),
            -4 | -8 | -9 => Some(Fact::Network),
            _ => None,
        };
        let fix = fact.as_ref().map_or(String::new(), |f| fact_fix(f, stack));
        out.push(observe(
            Finding::new(
                Severity::Error,
                format!("espconn error {code} {name}: `{}`", quote(line)),
                meaning,
                fix,
            ),
            fact,
        ));
    }
    if lower.contains("handshake failed") && out.is_empty() {
        out.push(observe(
            Finding::new(
                Severity::Error,
                format!("the TLS handshake failed: `{}`", quote(line)),
                format!("a generic failure message from {}; the specific reason is on the lines around it", stack.name()),
                "",
            ),
            Some(Fact::HandshakeFailed),
        ));
    }
    if (lower.contains("oom") && lower.contains("error")) || lower.contains("out of memory") {
        out.push(observe(
            Finding::new(
                Severity::Error,
                format!("out of memory: `{}`", quote(line)),
                "the TLS stack could not allocate its buffers or handshake state",
                fact_fix(&Fact::OutOfMemory, stack),
            ),
            Some(Fact::OutOfMemory),
        ));
    }
    if out.is_empty() && lower.contains("reconnect") {
        out.push(observe(
            Finding::new(
                Severity::Info,
                format!("the client retries: `{}`", quote(line)),
                "a reconnect loop follows a failed connection; the failure itself is on earlier lines",
                "",
            ),
            None,
        ));
    }
    out
}

fn observe(finding: Finding, fact: Option<Fact>) -> Observation {
    Observation { finding, fact }
}

/// The line, shortened for quoting.
fn quote(line: &str) -> String {
    const MAX: usize = 160;
    if line.len() <= MAX {
        return line.to_owned();
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", line.get(..end).unwrap_or_default())
}

fn alert_received(n: u8, line: &str, stack: Stack, how: &str) -> Observation {
    let alert = Alert(n);
    observe(
        Finding::new(
            Severity::Error,
            format!("the server sent fatal alert {alert}: `{}`", quote(line)),
            format!(
                "{how}. {}. Usual causes: {}",
                capitalise(alert.meaning()),
                alert.iot_causes()
            ),
            alert_fix(alert, stack),
        ),
        Some(Fact::AlertReceived(alert)),
    )
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
}

/// The remediation for a fact, in the stack's own terms.
pub(crate) fn fact_fix(fact: &Fact, stack: Stack) -> String {
    match fact {
        Fact::BufferTooSmall => buffer_fix(stack).to_owned(),
        Fact::WrongCa => "flash the root that signs the endpoint's chain: Amazon Root CA 1 (RSA) for ATS endpoints (…-ats.iot.<region>.amazonaws.com); the VeriSign G5 root only for legacy endpoints".to_owned(),
        Fact::Clock => "set the clock before connecting (SNTP, then wait until the time is valid) — or check the certificate dates".to_owned(),
        Fact::OutOfMemory => "free heap before connecting (smaller TLS buffers only if the server honours max_fragment_length; AWS does not), or move to a device with more RAM".to_owned(),
        Fact::CredentialsUnreadable => "re-create the credentials in the format the SDK expects (PEM with a trailing NUL and length strlen+1, or DER with the exact length; RSA keys as PKCS#1) and check the flash address/record names".to_owned(),
        Fact::ServerClosed => "check the server side: with AWS IoT an unregistered or inactive certificate, or a certificate whose CA is not registered, ends the connection; look at the device's certificate status".to_owned(),
        Fact::Network => "check Wi-Fi, DNS and that the endpoint host and port (8883, or 443 with ALPN) are reachable".to_owned(),
        Fact::NoCommonSuite | Fact::VersionRefused => "use a TLS stack/configuration that offers TLS 1.2 with a suite the endpoint's security policy allows".to_owned(),
        Fact::ClientCertMissing => "load the device certificate and private key before connecting".to_owned(),
        Fact::AlertReceived(a) | Fact::AlertSent(a) => alert_fix(*a, stack),
        Fact::AlertReceivedUnknown => "enable TLS debug output to see which alert the server sent".to_owned(),
        Fact::MqttRefused => "attach a policy that allows iot:Connect on client/<client id> to the ACTIVE device certificate, and connect with that client id".to_owned(),
        Fact::Misconfigured => "give esp-tls the broker's root CA (cacert_buf / broker.verification.certificate), attach the certificate bundle (crt_bundle_attach), or, for tests only, skip verification explicitly".to_owned(),
        Fact::WrongName => "connect with the host name the server's certificate carries (the endpoint from aws iot describe-endpoint, not an IP address), or give the TLS client that name for SNI and verification".to_owned(),
        Fact::Timeout => "check the network path to the broker's port (firewalls that drop rather than refuse), and allow the handshake more time on a slow device (RSA-2048 on an ESP8266 takes seconds)".to_owned(),
        Fact::HandshakeFailed | Fact::CaRecordPlausible => String::new(),
    }
}

/// Failures stated in words by TLS wrappers (esp-tls, the ESP32 Arduino core's ssl_client,
/// BearSSL's error strings, the AWS IoT Device SDK) rather than as a library code.
fn plain_text_fact(lower: &str) -> Option<Fact> {
    let has = |t: &str| lower.contains(t);
    if has("couldn't get hostname") || has("failed to connect to the server") {
        Some(Fact::Network)
    } else if has("certificate is expired or not yet valid") {
        Some(Fact::Clock)
    } else if has("server certificate verification failed") {
        Some(Fact::WrongCa)
    } else {
        None
    }
}

fn classify_cert_text(lower: &str) -> Fact {
    if lower.contains("not yet valid") || lower.contains("expired") {
        Fact::Clock
    } else if lower.contains("invalid key") {
        Fact::CredentialsUnreadable
    } else if lower.contains("no certificate defined") {
        Fact::ClientCertMissing
    } else {
        Fact::WrongCa
    }
}

/// mbedTLS debug line `got an alert message, type: [2:40]` (level 2 = fatal), or mbedTLS 3's
/// `is a fatal alert message (msg 70)`.
fn mbedtls_debug_alert(lower: &str) -> Option<u8> {
    if let Some(rest) = lower
        .split_once("is a fatal alert message (msg ")
        .map(|(_, r)| r)
    {
        let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return n.parse().ok();
    }
    let rest = lower.split_once("got an alert message, type: [")?.1;
    let (level, rest) = rest.split_once(':')?;
    let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (level.trim() == "2").then(|| n.parse().ok()).flatten()
}

/// The first integer after `keyword`, skipping separators like `:`, `=`, `#`, spaces.
fn int_after(lower: &str, keyword: &str) -> Option<i64> {
    let rest = lower.split_once(keyword)?.1;
    let rest = rest.trim_start_matches([' ', ':', '=', '#', '\'', '"', '(', '[']);
    let (neg, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.starts_with("0x") {
        return None;
    }
    let digits: String = rest
        .chars()
        .take_while(char::is_ascii_digit)
        .take(9)
        .collect();
    let n: i64 = digits.parse().ok()?;
    Some(if neg { -n } else { n })
}

/// A BearSSL error number: after "error", or in parentheses at the end.
fn bearssl_number(lower: &str) -> Option<u16> {
    let n = int_after(lower, "error").or_else(|| {
        let inner = lower.rsplit_once('(')?.1.split_once(')')?.0;
        inner.trim().parse().ok()
    })?;
    u16::try_from(n).ok().filter(|n| *n > 0)
}

fn bearssl_observation(code: u16, line: &str, stack: Stack) -> Observation {
    match bearssl::decode(code) {
        BearSslError::AlertReceived(alert) => alert_received(
            alert.0,
            line,
            stack,
            &format!(
                "BearSSL error {code} = 256 + {}: the server sent this alert",
                alert.0
            ),
        ),
        BearSslError::AlertSent(alert) => observe(
            Finding::new(
                Severity::Error,
                format!(
                    "the device sent fatal alert {alert} (BearSSL error {code} = 512 + {}): `{}`",
                    alert.0,
                    quote(line)
                ),
                format!(
                    "BearSSL refused something the server sent: {}",
                    alert.meaning()
                ),
                alert_fix(alert, stack),
            ),
            Some(Fact::AlertSent(alert)),
        ),
        BearSslError::Own {
            code,
            name,
            meaning,
        } => {
            let fact = match code {
                6 => Some(Fact::BufferTooSmall),
                29 => Some(Fact::ClientCertMissing),
                31 => Some(Fact::ServerClosed),
                3 | 16 => Some(Fact::NoCommonSuite),
                53 | 54 => Some(Fact::Clock),
                52 | 55 | 56 | 62 => Some(Fact::WrongCa),
                33..=51 => Some(Fact::CredentialsUnreadable),
                _ => None,
            };
            let fix = fact.as_ref().map_or(String::new(), |f| fact_fix(f, stack));
            observe(
                Finding::new(
                    Severity::Error,
                    format!("BearSSL error {code} {name}: `{}`", quote(line)),
                    meaning,
                    fix,
                ),
                fact,
            )
        }
        BearSslError::Unknown(code) => observe(
            Finding::new(
                Severity::Warning,
                format!(
                    "BearSSL error {code} is not a number BearSSL defines: `{}`",
                    quote(line)
                ),
                "BearSSL codes are 1–31 (SSL), 32–63 (X.509), 256+N (alert received), 512+N (alert sent)",
                "",
            ),
            None,
        ),
    }
}

/// `-0xNNNN` tokens, plus `tls stack error number: 0xNNNN` (esp-tls stores the magnitude).
fn mbedtls_codes(line: &str, lower: &str) -> Vec<u16> {
    let mut codes = Vec::new();
    for (i, _) in line.match_indices("-0x").chain(line.match_indices("-0X")) {
        let digits: String = line
            .get(i + 3..)
            .unwrap_or_default()
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        if (2..=4).contains(&digits.len())
            && let Ok(v) = u16::from_str_radix(&digits, 16)
        {
            codes.push(v);
        }
    }
    // `(-30592) SSL - A fatal alert…`: the decimal code next to mbedtls_strerror's text, as
    // the ESP32 Arduino core's ssl_client prints it.
    for (i, _) in line.match_indices("(-") {
        let digits: String = line
            .get(i + 2..)
            .unwrap_or_default()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let described = [") SSL - ", ") X509 - ", ") NET - ", ") PK - ", ") RSA - "]
            .iter()
            .any(|t| {
                line.get(i + 2 + digits.len()..)
                    .is_some_and(|r| r.starts_with(t))
            });
        if described
            && let Ok(v) = digits.parse::<u16>()
            && !codes.contains(&v)
        {
            codes.push(v);
        }
    }
    // `Handshake failed with error code -29312`: a decimal mbedTLS code in a wrapper's words.
    if lower.contains("handshake")
        && let Some(rest) = lower.split_once("error code -").map(|(_, r)| r)
    {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(v) = digits.parse::<u16>()
            && (0x1000..0x8000).contains(&v)
            && !codes.contains(&v)
        {
            codes.push(v);
        }
    }
    if let Some(rest) = lower.split_once("tls stack error").map(|(_, r)| r)
        && let Some(hex) = rest.split_once("0x").map(|(_, h)| h)
    {
        let digits: String = hex.chars().take_while(char::is_ascii_hexdigit).collect();
        if let Ok(v) = u16::from_str_radix(&digits, 16)
            && v != 0
            && !codes.contains(&v)
        {
            codes.push(v);
        }
    }
    codes
}

fn mbedtls_observation(code: u16, line: &str, stack: Stack) -> Observation {
    let d = mbedtls::decode(code);
    let high = d.high.map(|c| c.code).unwrap_or(0);
    let low = d.low.map(|c| c.code).unwrap_or(0);
    let fact = match (high, low) {
        (0x7200, _) | (0x6A00, _) => Some(Fact::BufferTooSmall),
        (0x2700, _) => Some(Fact::WrongCa),
        (0x7F00, _) | (0x2880, _) | (0x3F80, _) | (_, 0x006A) | (0, 0x0010) => {
            Some(Fact::OutOfMemory)
        }
        (0x6800, _) => Some(Fact::Timeout),
        (0x7780, _) => Some(Fact::AlertReceivedUnknown),
        (0x7280, _) | (0x7880, _) | (_, 0x0050) | (_, 0x004C) => Some(Fact::ServerClosed),
        (0x7380, _) | (0x6980, _) => Some(Fact::NoCommonSuite),
        (0x6E80, _) => Some(Fact::VersionRefused),
        (0x7480, _) | (0x7600, _) => Some(Fact::ClientCertMissing),
        (0x2000..=0x27FF, _) | (0x3900..=0x3FFF, _) | (0x1000..=0x14FF, _) => {
            Some(Fact::CredentialsUnreadable)
        }
        (_, 0x0042 | 0x0044 | 0x0052) => Some(Fact::Network),
        _ => None,
    };
    let severity = if matches!(high, 0x6900 | 0x6880) {
        Severity::Info
    } else {
        Severity::Error
    };
    let fix = fact.as_ref().map_or(String::new(), |f| fact_fix(f, stack));
    observe(
        Finding::new(
            severity,
            format!("mbedTLS error {}: `{}`", d.label(), quote(line)),
            d.meaning(),
            fix,
        ),
        fact,
    )
}

/// esp-tls `0x80NN` codes, numeric or by `ESP_ERR_…` name.
fn esp_tls_code(lower: &str) -> Option<u32> {
    let idx = lower.find("0x80")?;
    let digits: String = lower
        .get(idx + 2..)?
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    if digits.len() == 4 {
        return u32::from_str_radix(&digits, 16).ok();
    }
    None
}

/// mbedTLS `verification info` texts printed by esp-tls and mbedtls_x509_crt_verify_info.
fn mbedtls_verify_info(lower: &str) -> Option<Fact> {
    if !lower.contains("! the certificate") && !lower.contains("failed to verify peer certificate")
    {
        return None;
    }
    Some(
        if lower.contains("expired") || lower.contains("in the future") {
            Fact::Clock
        } else if lower.contains("common name (cn) does not match") {
            Fact::WrongName
        } else {
            Fact::WrongCa
        },
    )
}

/// `espconn … -28` or `ESPCONN_HANDSHAKE`.
fn espconn_code(line: &str, lower: &str) -> Option<(i32, &'static str, &'static str)> {
    if !lower.contains("espconn") {
        return None;
    }
    for code in [
        -1, -3, -4, -5, -7, -8, -9, -10, -11, -12, -14, -15, -28, -61,
    ] {
        if let Some((name, meaning)) = esp::espconn(code)
            && line.contains(name)
        {
            return Some((code, name, meaning));
        }
    }
    let n = lower
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter_map(|w| w.strip_prefix('-'))
        .find_map(|d| d.parse::<i32>().ok())?;
    esp::espconn(-n).map(|(name, meaning)| (-n, name, meaning))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_parsers() {
        assert_eq!(int_after("error: ssl error 40", "ssl error"), Some(40));
        assert_eq!(int_after("ssl error -266", "ssl error"), Some(-266));
        assert_eq!(int_after("ssl error: none", "ssl error"), None);
        assert_eq!(
            mbedtls_debug_alert("got an alert message, type: [2:40]"),
            Some(40)
        );
        assert_eq!(
            mbedtls_debug_alert("got an alert message, type: [1:0]"),
            None
        );
        assert_eq!(
            mbedtls_codes("Reason:[-0x7200]", "reason:[-0x7200]"),
            vec![0x7200]
        );
        assert_eq!(
            mbedtls_codes(
                "Last tls stack error number: 0x2700",
                "last tls stack error number: 0x2700"
            ),
            vec![0x2700]
        );
        assert_eq!(
            bearssl_number("[bssl] couldn't connect. error = 296"),
            Some(296)
        );
        assert_eq!(
            bearssl_number("ssl failed: chain could not be linked (62)"),
            Some(62)
        );
        assert_eq!(
            esp_tls_code("last error reported from esp-tls: 0x801a"),
            Some(0x801A)
        );
        assert_eq!(
            espconn_code("espconn connect err -28", "espconn connect err -28").map(|e| e.0),
            Some(-28)
        );
        assert_eq!(quote(&"é".repeat(200)).chars().count(), 81);
    }
}
