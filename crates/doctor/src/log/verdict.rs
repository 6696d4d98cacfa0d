//! Turns the facts recognised in a log into the single most likely root cause and its fix,
//! and holds the per-alert and per-stack remediation texts. The ranking is a judgement: the
//! most specific, most decisive fact wins (a version refusal from a TLS 1.1-only stack beats
//! the alert it produced, a buffer error beats the reconnect loop it causes).

use tls::client_hello::{Progress, parse};
use tls::{Alert, DeviceProfile, HelloOptions, Listener, SecurityPolicy, explain};

use super::lines::fact_fix;
use super::{Fact, Stack};
use crate::finding::{Finding, Severity};

/// The fix for a received (or sent) alert, in the stack's terms.
pub(crate) fn alert_fix(alert: Alert, stack: Stack) -> String {
    match (alert.0, stack) {
        (40 | 70, Stack::NonosLibssl) => NONOS_LIBSSL_FIX.to_owned(),
        (40, _) => "compare the device's TLS versions and cipher suites with the endpoint's security policy (AWS IoT: TLS 1.2 or 1.3 only; default IoTSecurityPolicy_TLS13_1_2_2022_10); if the alert arrives after the device sent its certificate, check that a certificate and key are loaded".to_owned(),
        (42, _) => "check that the device certificate and private key belong together and the certificate is registered; on the device side check the server chain against the flashed root".to_owned(),
        (45, _) => "set the device clock (SNTP) before connecting and check the certificate validity dates".to_owned(),
        (46 | 44 | 49, _) => "register the device certificate (or its CA) and set it ACTIVE, then attach a policy".to_owned(),
        (48, _) => "flash the root that signs the endpoint: Amazon Root CA 1 for ATS endpoints, the VeriSign G5 root only for legacy endpoints".to_owned(),
        (51, _) => "the private key does not match the certificate: flash the key that belongs to this certificate".to_owned(),
        (70, _) => "use a TLS stack that offers TLS 1.2 or 1.3 (AWS IoT refuses TLS 1.0/1.1)".to_owned(),
        (80, _) => "check free heap on the device; if the device is fine, look at the server's logs".to_owned(),
        (112, _) => "send SNI with the exact endpoint host name".to_owned(),
        (116, _) => "load the client certificate and key before connecting (check flash sector and record names)".to_owned(),
        (120, _) => "on port 443 offer ALPN x-amzn-mqtt-ca; a stack without ALPN must use port 8883".to_owned(),
        _ => format!("see the usual causes: {}", alert.iot_causes()),
    }
}

/// The fix for a receive buffer smaller than the server's records.
pub(crate) fn buffer_fix(stack: Stack) -> &'static str {
    match stack {
        Stack::NonosMbedtls => {
            "call espconn_secure_set_size(ESPCONN_CLIENT, 8192) before espconn_secure_connect (free heap must exceed 8192 + 0x3800); AWS IoT ignores max_fragment_length and may still send 16 KB records for large messages"
        }
        Stack::EspIdf => {
            "set CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN=16384 (asymmetric buffers) or MBEDTLS_SSL_MAX_CONTENT_LEN=16384; AWS IoT sends full 16 KB records"
        }
        Stack::BearSsl => {
            "raise the receive buffer with setBufferSizes(16384, 512) (AWS IoT ignores max_fragment_length)"
        }
        _ => "enlarge the TLS receive buffer to 16384 bytes (AWS IoT ignores max_fragment_length)",
    }
}

const NONOS_LIBSSL_FIX: &str = "link NONOS mbedTLS instead of libssl (replace -lssl with -lmbedtls; SDK 2.2.0 or later): it speaks TLS 1.2 with AES128-SHA, AES256-SHA, AES128-SHA256 and AES256-SHA256, which IoTSecurityPolicy_TLS13_1_2_2022_10 allows; call espconn_secure_set_size(ESPCONN_CLIENT, 8192) first (needs about 30 KB free heap). Or move to the ESP8266 Arduino core 2.5+ (BearSSL) or ESP-IDF. When changing stacks, use the ATS endpoint with Amazon Root CA 1";

/// What the default policy says to the NONOS libssl offer, e.g. "client offered TLS 1.1 at
/// most; policy IoTSecurityPolicy_TLS13_1_2_2022_10 requires TLS 1.2".
fn libssl_refusal() -> String {
    let fallback =
        "client offered TLS 1.1 at most; every AWS IoT security policy requires TLS 1.2".to_owned();
    let Ok(profile) = DeviceProfile::by_name("esp8266-nonos-axtls") else {
        return fallback;
    };
    let Ok(Progress::Complete { hello, .. }) =
        parse(&profile.client_hello(&HelloOptions::default()))
    else {
        return fallback;
    };
    let listener = Listener {
        policy: SecurityPolicy::default(),
        ..Listener::default()
    };
    explain(&hello, &listener, None)
        .refusals
        .first()
        .map_or(fallback, ToString::to_string)
}

/// The verdict for ESP8266 NONOS libssl refused for its TLS 1.1 offer — shared by the log
/// explainer and `doctor probe --profile esp8266-nonos-axtls`, so both say the same words.
/// `alert_text` is how the refusal arrived, e.g. "fatal alert 40 handshake_failure".
pub(crate) fn libssl_version_refusal(alert_text: &str, ca_ok: bool) -> Finding {
    Finding::new(
        Severity::Error,
        format!(
            "{} cannot speak TLS 1.2, so the server refused its ClientHello with {alert_text}: {}",
            Stack::NonosLibssl.name(),
            libssl_refusal()
        ),
        format!(
            "libssl offers TLS 1.0–1.1 only, with AES128-SHA, AES256-SHA, RC4-SHA and RC4-MD5, no SNI and no extensions; every AWS IoT security policy requires TLS 1.2 or TLS 1.3. The handshake dies at the first flight, before any certificate is exchanged, so the root CA, the client certificate and the key are not what failed{}. AWS IoT Core answers this hello with alert 40 handshake_failure, not the 70 protocol_version RFC 5246 suggests for a version refusal, and tether serve does the same.",
            if ca_ok {
                " — the CA record trace shows the CA was found and read"
            } else {
                ""
            }
        ),
        NONOS_LIBSSL_FIX,
    )
}

fn rank(fact: &Fact, stack: Stack) -> u8 {
    match fact {
        Fact::AlertReceived(Alert(40 | 70)) | Fact::VersionRefused
            if stack == Stack::NonosLibssl =>
        {
            100
        }
        Fact::BufferTooSmall => 90,
        Fact::Clock => 88,
        Fact::WrongCa => 85,
        Fact::CredentialsUnreadable => 84,
        Fact::OutOfMemory => 80,
        Fact::ClientCertMissing => 78,
        Fact::NoCommonSuite | Fact::VersionRefused => 75,
        Fact::AlertReceived(_) => 70,
        Fact::AlertSent(_) => 65,
        Fact::Network => 60,
        Fact::ServerClosed => 50,
        Fact::AlertReceivedUnknown => 45,
        Fact::Misconfigured => 86,
        Fact::WrongName => 87,
        Fact::Timeout => 55,
        Fact::MqttRefused => 72,
        Fact::HandshakeFailed => 10,
        Fact::CaRecordPlausible => 0,
    }
}

/// The most likely root cause; an info finding when nothing failed.
pub(crate) fn root_cause(
    stack: Stack,
    facts: &[Fact],
    nothing_recognised: bool,
) -> Option<Finding> {
    let best =
        facts
            .iter()
            .filter(|f| rank(f, stack) > 0)
            .fold(None::<&Fact>, |best, f| match best {
                Some(b) if rank(b, stack) >= rank(f, stack) => Some(b),
                _ => Some(f),
            });
    let Some(best) = best else {
        let what = if nothing_recognised {
            "no TLS or connection messages recognised in this log"
        } else {
            "nothing in this log shows a failed connection"
        };
        return Some(Finding::new(
            Severity::Info,
            what,
            "the explainer knows ESP8266 NONOS libssl/mbedTLS, axTLS, BearSSL, ESP-IDF esp-tls and espconn messages",
            "capture the serial log from boot through the first connection attempt, with the TLS library's debug output on",
        ));
    };
    let ca_ok = facts.contains(&Fact::CaRecordPlausible);
    let finding = match best {
        Fact::AlertReceived(_) | Fact::VersionRefused if rank(best, stack) == 100 => {
            let alert_text = match best {
                Fact::AlertReceived(a) => format!("fatal alert {a}"),
                _ => format!("a version refusal ({})", Alert::PROTOCOL_VERSION),
            };
            libssl_version_refusal(&alert_text, ca_ok)
        }
        Fact::AlertReceived(alert) => Finding::new(
            Severity::Error,
            format!("the server refused the handshake with fatal alert {alert}"),
            format!("{}. Usual causes: {}", alert.meaning(), alert.iot_causes()),
            alert_fix(*alert, stack),
        ),
        Fact::AlertSent(alert) => Finding::new(
            Severity::Error,
            format!("the device aborted the handshake with alert {alert}"),
            format!(
                "the device's TLS stack refused what the server sent: {}",
                alert.meaning()
            ),
            alert_fix(*alert, stack),
        ),
        other => {
            let (what, why) = match other {
                Fact::BufferTooSmall => (
                    "the device's TLS receive buffer is smaller than the server's records",
                    "the server's Certificate flight and AWS IoT's 16 KB records do not fit; the handshake fails with an invalid-record error",
                ),
                Fact::Clock => (
                    "the device clock is not set (or a certificate is outside its validity period)",
                    "certificate validity is checked against the device clock, which starts at 1970 until SNTP has run",
                ),
                Fact::WrongCa => (
                    "the server's certificate chain does not verify against the CA on the device",
                    "the flashed root is not the one that signs the endpoint (ATS endpoints chain to Amazon Root CA 1/3, legacy endpoints to VeriSign G5)",
                ),
                Fact::CredentialsUnreadable => (
                    "the device cannot parse its certificate or key",
                    "the TLS library rejected the credential bytes before or during the handshake",
                ),
                Fact::OutOfMemory => (
                    "the device ran out of memory during the TLS handshake",
                    "TLS buffers plus handshake state exceed the free heap",
                ),
                Fact::ClientCertMissing => (
                    "no client certificate is loaded",
                    "AWS IoT requires mutual TLS on 8883: the device must present its certificate",
                ),
                Fact::NoCommonSuite | Fact::VersionRefused => (
                    "the device and the server share no TLS version or cipher suite",
                    "the device's offer does not meet the endpoint's security policy",
                ),
                Fact::Network => (
                    "the connection to the broker could not be opened",
                    "DNS, the network link or the TCP connection to the endpoint failed (a modem that runs TLS itself reports its handshake failures the same way)",
                ),
                Fact::WrongName => (
                    "the server's certificate does not name the host the device connected to",
                    "the TLS client checks the certificate's names against the host it was given; an IP address or another name fails the check",
                ),
                Fact::Timeout => (
                    "the TLS handshake timed out waiting for the server",
                    "the server's answer did not arrive in time: a network path that drops traffic, or a device too slow for the key exchange",
                ),
                Fact::ServerClosed => (
                    "the server closed the connection during the handshake without an alert",
                    "AWS IoT closes connections whose client certificate is unknown or not ACTIVE, or whose CA is not registered",
                ),
                Fact::MqttRefused => (
                    "the broker refused the MQTT CONNECT",
                    "TLS succeeded; the broker refused the client at the MQTT layer, which on AWS IoT means the certificate's policy does not allow iot:Connect for this client id",
                ),
                Fact::Misconfigured => (
                    "the TLS client is configured so that it cannot verify the server",
                    "esp-tls refuses to connect without a CA, a certificate bundle or an explicit skip of verification",
                ),
                Fact::AlertReceivedUnknown => (
                    "the server sent a fatal alert, but the log does not say which",
                    "mbedTLS reports FATAL_ALERT_MESSAGE; the number is only in its debug output",
                ),
                _ => (
                    "the TLS handshake failed, but the log does not say why",
                    "only a generic failure line was recognised",
                ),
            };
            let fix = match other {
                Fact::HandshakeFailed => "enable the TLS library's debug output (or capture the handshake with tcpdump) and run the explainer again".to_owned(),
                f => fact_fix(f, stack),
            };
            Finding::new(Severity::Error, what, why, fix)
        }
    };
    Some(finding)
}
