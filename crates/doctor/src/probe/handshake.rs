//! The TLS step of a probe through OpenSSL, restricted to what a device profile offers
//! (versions, suites, SNI, ALPN; security level 0 for TLS 1.0/1.1), and the raw alternative that
//! replays a profile's exact ClientHello bytes. Both record the bytes on the wire so the probe
//! can tell whether the server asked for a client certificate and which plaintext alert came
//! back. The server chain is verified after the handshake, so a bad chain is reported rather
//! than aborting the probe. It does not speak MQTT (`mqtt.rs` does).

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use openssl::ssl::SslStream;
use openssl::x509::X509;
use pki::SubjectAltName;
use tls::context::{ClientContext, ClientOptions, Identity, Trust};
use tls::{DeviceProfile, HelloOptions};

use super::mqtt::{self, Failure};
use super::raw::{self, ServerAnswer};

/// Most bytes kept per direction; the handshake fits easily.
const RECORD_LIMIT: usize = 256 * 1024;

/// A TCP stream that keeps a copy of the first bytes read and written.
#[derive(Debug)]
pub(crate) struct Recorder {
    inner: TcpStream,
    pub read: Vec<u8>,
    pub written: Vec<u8>,
}

impl Recorder {
    pub(crate) fn new(inner: TcpStream) -> Recorder {
        Recorder {
            inner,
            read: Vec::new(),
            written: Vec::new(),
        }
    }
}

impl Read for Recorder {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.read.len() < RECORD_LIMIT {
            self.read
                .extend_from_slice(buf.get(..n).unwrap_or_default());
        }
        Ok(n)
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.written.len() < RECORD_LIMIT {
            self.written
                .extend_from_slice(buf.get(..n).unwrap_or_default());
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Whether OpenSSL can offer what this profile offers. OpenSSL 3 cannot offer RC4 (or
/// NULL/export) suites, so such profiles are replayed from their raw ClientHello bytes.
pub fn openssl_can_speak(profile: &DeviceProfile) -> bool {
    profile.cipher_suites.iter().all(|s| {
        let suite = tls::CipherSuite(*s);
        suite.is_signal()
            || suite.openssl_name().is_some_and(|name| {
                !["RC4", "NULL", "EXP", "MD5"]
                    .iter()
                    .any(|bad| name.contains(bad))
            })
    })
}

/// The OpenSSL client options that make OpenSSL offer what `profile` offers.
pub fn profile_options(profile: &DeviceProfile) -> ClientOptions {
    let names = |tls13: bool| -> Vec<&'static str> {
        profile
            .cipher_suites
            .iter()
            .map(|s| tls::CipherSuite(*s))
            .filter(|s| !s.is_signal() && s.is_tls13() == tls13)
            .filter_map(tls::CipherSuite::openssl_name)
            .collect()
    };
    let tls12 = names(false);
    // The device's key-exchange groups, in its order; `?` lets OpenSSL skip one it lacks.
    let groups: Vec<String> = profile
        .groups
        .iter()
        .filter_map(|g| tls::hello_types::NamedGroup(*g).name())
        .map(|name| format!("?{name}"))
        .collect();
    ClientOptions {
        min_version: Some(profile.min_version),
        max_version: Some(profile.max_version),
        tls12_ciphers: (!tls12.is_empty()).then(|| tls12.join(":")),
        tls13_suites: Some(names(true).join(":")),
        groups: (!groups.is_empty()).then(|| groups.join(":")),
        ..ClientOptions::default()
    }
}

/// What an OpenSSL handshake established.
#[derive(Debug)]
pub(crate) struct Established {
    pub stream: SslStream<Recorder>,
    pub version: String,
    pub cipher: String,
    pub alpn: Option<String>,
    pub server_chain: Vec<X509>,
    /// Whether the server sent a CertificateRequest; `None` when it cannot be told.
    pub certificate_requested: Option<bool>,
    /// How that was judged.
    pub requested_how: &'static str,
}

/// A failed OpenSSL handshake.
#[derive(Debug)]
pub(crate) struct HandshakeFailed {
    pub failure: Failure,
    /// Whether the failure came before the server's first flight (i.e. the ClientHello was
    /// refused).
    pub before_server_hello: bool,
    /// Whether our own OpenSSL refused to build the offer (a local limitation, not the server).
    pub local: bool,
    pub detail: String,
}

/// Runs an OpenSSL handshake on `tcp`.
pub(crate) fn openssl_handshake(
    tcp: TcpStream,
    mut options: ClientOptions,
    identity: Option<Identity>,
    server_name: Option<String>,
    alpn: Vec<String>,
) -> Result<Established, HandshakeFailed> {
    options.trust = Trust::DangerAcceptAny;
    options.identity = identity;
    options.server_name = server_name;
    options.alpn = alpn;
    let local = |detail: String| HandshakeFailed {
        failure: Failure::Other(detail.clone()),
        before_server_hello: true,
        local: true,
        detail,
    };
    let context = ClientContext::new(&options).map_err(|e| local(e.to_string()))?;
    let ssl = context.ssl().map_err(|e| local(e.to_string()))?;
    let recorder = Recorder::new(tcp);
    let mut stream = SslStream::new(ssl, recorder).map_err(|e| local(e.to_string()))?;
    if let Err(err) = stream.connect() {
        let read = &stream.get_ref().read;
        let server_spoke = raw::records(read).any(|r| r.kind == 22);
        let failure = match raw::plaintext_alert(read) {
            Some(alert) => Failure::Alert(alert),
            None => mqtt::ssl_failure(&err),
        };
        let reasons = mqtt::openssl_reasons(&err).unwrap_or_else(|| err.to_string());
        let local = !server_spoke
            && stream.get_ref().written.is_empty()
            && !matches!(failure, Failure::Alert(_));
        return Err(HandshakeFailed {
            failure,
            before_server_hello: !server_spoke,
            local,
            detail: reasons,
        });
    }
    let ssl = stream.ssl();
    let version = ssl.version_str().to_owned();
    let cipher = ssl
        .current_cipher()
        .map_or_else(|| "(unknown)".to_owned(), |c| c.name().to_owned());
    let alpn = ssl
        .selected_alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let server_chain: Vec<X509> = ssl
        .peer_cert_chain()
        .map(|chain| chain.iter().map(ToOwned::to_owned).collect())
        .unwrap_or_default();
    let tls13 = version == "TLSv1.3";
    let (certificate_requested, requested_how) = if tls13 {
        let (records, bytes) = raw::encrypted_records(&stream.get_ref().written);
        (
            Some(records > 1 || bytes > 120),
            "judged from the size of the client's encrypted second flight (TLS 1.3 hides the CertificateRequest)",
        )
    } else {
        (
            Some(raw::plaintext_handshake_types(&stream.get_ref().read).contains(&13)),
            "seen in the server's plaintext handshake flight",
        )
    };
    Ok(Established {
        stream,
        version,
        cipher,
        alpn,
        server_chain,
        certificate_requested,
        requested_how,
    })
}

/// Sends a profile's exact ClientHello and reads the server's first answer.
pub(crate) fn raw_hello(
    mut tcp: TcpStream,
    profile: &DeviceProfile,
    server_name: Option<String>,
    alpn: Vec<String>,
    timeout: Duration,
) -> Result<ServerAnswer, Failure> {
    let mut random = [0u8; 32];
    openssl::rand::rand_bytes(&mut random)
        .map_err(|e| Failure::Other(format!("no random bytes for the ClientHello: {e}")))?;
    let hello = profile.client_hello(&HelloOptions {
        random,
        server_name,
        alpn,
        p256_key_share: None,
    });
    tcp.write_all(&hello).map_err(|e| io(&e))?;
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::new();
    loop {
        match raw::server_answer(&buf) {
            ServerAnswer::Incomplete => {}
            answer => return Ok(answer),
        }
        if Instant::now() > deadline {
            return Err(Failure::Timeout);
        }
        let mut chunk = [0u8; 4096];
        match tcp.read(&mut chunk) {
            Ok(0) => return Err(Failure::Closed),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) => return Err(io(&e)),
        }
    }
}

fn io(e: &std::io::Error) -> Failure {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Failure::Timeout,
        std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::BrokenPipe => Failure::Closed,
        _ => Failure::Other(e.to_string()),
    }
}

/// Whether the server certificate names `host` (DNS SANs with a leading wildcard, IP SANs, or
/// the CN when there are no SANs).
pub(crate) fn names_host(summary: &pki::CertificateSummary, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if let Ok(ip) = host.parse::<IpAddr>() {
        return summary
            .subject_alt_names
            .iter()
            .any(|n| matches!(n, SubjectAltName::Ip(i) if *i == ip));
    }
    let dns: Vec<String> = summary
        .subject_alt_names
        .iter()
        .filter_map(|n| match n {
            SubjectAltName::Dns(d) => Some(d.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let candidates = if dns.is_empty() {
        summary
            .subject
            .split(", ")
            .filter_map(|part| part.strip_prefix("CN="))
            .map(str::to_ascii_lowercase)
            .collect()
    } else {
        dns
    };
    candidates.iter().any(|name| match name.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => *name == host,
    })
}

/// The version a profile is capped at, in words ("TLS 1.1").
pub(crate) fn max_version_text(profile: &DeviceProfile) -> String {
    profile.max_version.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tls::ProtocolVersion;

    #[test]
    fn only_the_rc4_profile_needs_raw_bytes() {
        for p in tls::PROFILES {
            assert_eq!(
                openssl_can_speak(p),
                p.name != "esp8266-nonos-axtls",
                "{}",
                p.name
            );
        }
    }

    #[test]
    fn profile_options_restrict_versions_and_suites() {
        let p = DeviceProfile::by_name("esp8266-nonos-mbedtls").unwrap();
        let o = profile_options(p);
        assert_eq!(o.max_version, Some(ProtocolVersion::TLS12));
        assert_eq!(
            o.tls12_ciphers.as_deref(),
            Some("AES256-SHA256:AES256-SHA:AES128-SHA256:AES128-SHA")
        );
        assert_eq!(o.tls13_suites.as_deref(), Some(""));
        let e = profile_options(DeviceProfile::by_name("embedded-tls").unwrap());
        assert_eq!(e.tls12_ciphers, None);
        assert_eq!(e.tls13_suites.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
    }

    #[test]
    fn profile_options_offer_the_devices_groups_in_its_order() {
        let rsa_only = profile_options(DeviceProfile::by_name("esp8266-nonos-mbedtls").unwrap());
        assert_eq!(
            rsa_only.groups, None,
            "no groups: OpenSSL's list is left alone"
        );
        let with_ecc = tls::PROFILES
            .iter()
            .find(|p| p.groups == [29, 23, 24, 25])
            .expect("a profile offering x25519, P-256, P-384, P-521");
        assert_eq!(
            profile_options(with_ecc).groups.as_deref(),
            Some("?x25519:?secp256r1:?secp384r1:?secp521r1")
        );
        // The list is one OpenSSL accepts.
        tls::context::ClientContext::new(&profile_options(with_ecc)).unwrap();
    }
}
