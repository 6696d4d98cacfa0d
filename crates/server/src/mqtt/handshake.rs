//! The TLS edge of a listener: read the client's first bytes ourselves, parse the ClientHello
//! with tether's own parser, then let OpenSSL run the handshake under the listener's AWS
//! security policy, which also refuses a client certificate outside its validity period
//! (`tls::client_validity`, named here with its id and dates). Every refusal becomes a
//! `Refused` that says, in one line, what the client offered and why it failed in words (the
//! vocabulary is `tls::explain`'s, shared with `tether doctor`). A hello that shares no version
//! or suite with the policy is refused with alert 40 handshake_failure, as AWS IoT Core refuses
//! it (`tls::hello_refusal`). Registry checks of the client
//! certificate happen after this (`accept.rs` with `auth`).

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use openssl::ssl::{Ssl, SslAcceptor};
use openssl::x509::X509;
use refusals::RefusalKind;
use tls::{ClientHello, ClientHelloError, Progress};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::rewind::Rewind;

/// The stream a connection task reads MQTT from after a successful handshake.
pub type TlsStream = SslStream<Rewind<TcpStream>>;

/// What a TLS listener needs to accept and explain.
#[derive(Clone)]
pub struct TlsEdge {
    /// OpenSSL context built from the listener's security policy.
    pub acceptor: SslAcceptor,
    /// The same policy and expectations, for explanations.
    pub listener: tls::Listener,
    /// How long a client may take to finish its handshake.
    pub timeout: Duration,
    /// The alternate certificates fault plans can ask for (mutual-TLS listeners only).
    pub fault_certificates: Option<std::sync::Arc<super::fault_certificates::FaultCertificates>>,
}

impl fmt::Debug for TlsEdge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsEdge")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

/// A completed handshake.
#[derive(Debug)]
pub struct Accepted {
    /// The encrypted stream.
    pub stream: TlsStream,
    /// What the client offered.
    pub hello: Box<ClientHello>,
    /// The client's leaf certificate, when it sent one.
    pub peer_certificate: Option<X509>,
    /// The ALPN protocol selected, if any.
    pub alpn: Option<String>,
}

/// Why a handshake was refused, with what the client offered; `Display` is the log line.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The client's address.
    pub peer: SocketAddr,
    /// What the client offered, when its ClientHello arrived.
    pub hello: Option<Box<ClientHello>>,
    /// Whether the client presented a certificate before the failure, when known.
    pub certificate_sent: Option<bool>,
    /// Why, as a kind (metrics label, refusal log, the doctor's advice).
    pub kind: RefusalKind,
    /// Why, in words, with what to change.
    pub reason: String,
    /// The client certificate's id, when the refusal concerns it (its validity period).
    pub certificate_id: Option<String>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TLS handshake from {} refused: {}",
            self.peer, self.reason
        )?;
        if let Some(hello) = &self.hello {
            write!(f, " | client offered {}", offer_summary(hello))?;
        }
        match self.certificate_sent {
            Some(true) => f.write_str(", client certificate sent"),
            Some(false) => f.write_str(", no client certificate"),
            None => Ok(()),
        }
    }
}

/// Summarises a ClientHello: versions, suites by name, SNI and ALPN.
pub fn offer_summary(hello: &ClientHello) -> String {
    let versions: Vec<String> = [
        tls::ProtocolVersion::TLS13,
        tls::ProtocolVersion::TLS12,
        tls::ProtocolVersion::TLS11,
        tls::ProtocolVersion::TLS10,
    ]
    .into_iter()
    .filter(|v| hello.offers(*v))
    .map(|v| v.to_string())
    .collect();
    let suites: Vec<String> = hello.real_suites().map(|s| s.to_string()).collect();
    let sni = hello
        .server_name
        .as_deref()
        .map_or("no SNI".to_owned(), |n| format!("SNI {n}"));
    let alpn = if hello.alpn.is_empty() {
        "no ALPN".to_owned()
    } else {
        format!("ALPN {}", hello.alpn.join(","))
    };
    format!(
        "{} with suites {}; {sni}; {alpn}",
        if versions.is_empty() {
            "no known TLS version".to_owned()
        } else {
            versions.join("/")
        },
        suites.join(", ")
    )
}

/// What a refusal record keeps of the ClientHello: versions, the number of suites, SNI and
/// ALPN; the suites by name only when they decided (`cipher`), so a record stays small.
pub fn offer_record(hello: &ClientHello, kind: RefusalKind) -> String {
    if kind == RefusalKind::Cipher {
        return offer_summary(hello);
    }
    let versions: Vec<String> = [
        tls::ProtocolVersion::TLS13,
        tls::ProtocolVersion::TLS12,
        tls::ProtocolVersion::TLS11,
        tls::ProtocolVersion::TLS10,
    ]
    .into_iter()
    .filter(|v| hello.offers(*v))
    .map(|v| v.to_string())
    .collect();
    let suites = hello.real_suites().count();
    let sni = hello
        .server_name
        .as_deref()
        .map_or("no SNI".to_owned(), |n| format!("SNI {n}"));
    let alpn = if hello.alpn.is_empty() {
        "no ALPN".to_owned()
    } else {
        format!("ALPN {}", hello.alpn.join(","))
    };
    format!(
        "{} with {suites} suite{}; {sni}; {alpn}",
        if versions.is_empty() {
            "no known TLS version".to_owned()
        } else {
            versions.join("/")
        },
        if suites == 1 { "" } else { "s" }
    )
}

/// Runs the TLS side of accepting `stream`: ClientHello capture, then the handshake, all within
/// the edge's timeout.
pub async fn accept(
    edge: &TlsEdge,
    stream: TcpStream,
    peer: SocketAddr,
) -> Result<Accepted, Refused> {
    match tokio::time::timeout(edge.timeout, accept_inner(edge, stream, peer)).await {
        Ok(result) => result,
        Err(_) => Err(Refused {
            peer,
            hello: None,
            certificate_sent: None,
            kind: RefusalKind::Timeout,
            certificate_id: None,
            reason: format!(
                "the client did not finish its TLS handshake within {} s; a device this slow \
                 usually lacks the CPU or RAM for the chosen key size, or is not speaking TLS",
                edge.timeout.as_secs()
            ),
        }),
    }
}

async fn accept_inner(
    edge: &TlsEdge,
    mut stream: TcpStream,
    peer: SocketAddr,
) -> Result<Accepted, Refused> {
    let refuse = |hello: Option<Box<ClientHello>>, kind, reason: String| Refused {
        peer,
        hello,
        certificate_sent: None,
        kind,
        reason,
        certificate_id: None,
    };
    let mut buf = Vec::with_capacity(2048);
    let hello = loop {
        match tls::parse_client_hello(&buf) {
            Ok(Progress::Complete { hello, .. }) => break hello,
            Ok(Progress::Incomplete { needed }) => {
                let start = buf.len();
                buf.resize(start + needed.max(512), 0);
                let n = stream
                    .read(buf.get_mut(start..).unwrap_or_default())
                    .await
                    .map_err(|e| {
                        refuse(
                            None,
                            RefusalKind::Closed,
                            format!("reading the ClientHello failed: {e}"),
                        )
                    })?;
                buf.truncate(start + n);
                if n == 0 {
                    return Err(refuse(
                        None,
                        RefusalKind::Closed,
                        "the client closed the connection before sending a complete ClientHello"
                            .to_owned(),
                    ));
                }
            }
            Err(ClientHelloError::NotTls(not_tls)) => {
                return Err(refuse(None, RefusalKind::NotTls, not_tls.to_string()));
            }
            Err(err) => {
                return Err(refuse(
                    None,
                    RefusalKind::Other,
                    format!("malformed ClientHello: {err}"),
                ));
            }
        }
    };

    let mut ssl = Ssl::new(edge.acceptor.context()).map_err(|e| {
        refuse(
            Some(hello.clone()),
            RefusalKind::Other,
            format!("OpenSSL: {e}"),
        )
    })?;
    tls::client_validity::watch(&mut ssl);
    // A hello that shares no version or suite with the policy is refused at once with the
    // alert AWS sends for it (40, not OpenSSL's 70 for a version; `tls::hello_refusal`).
    if let Some(refusal) = tls::explain(&hello, &edge.listener, None)
        .refusals
        .first()
        .filter(|r| r.shares_nothing())
    {
        tls::hello_refusal::refuse(&mut ssl, refusal.alert());
    }
    let mut tls = SslStream::new(ssl, Rewind::new(buf, stream)).map_err(|e| {
        refuse(
            Some(hello.clone()),
            RefusalKind::Other,
            format!("OpenSSL: {e}"),
        )
    })?;
    match Pin::new(&mut tls).accept().await {
        Ok(()) => {
            let peer_certificate = tls.ssl().peer_certificate();
            let alpn = tls
                .ssl()
                .selected_alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            Ok(Accepted {
                stream: tls,
                hello,
                peer_certificate,
                alpn,
            })
        }
        Err(err) => {
            if let Some(refused) = tls::client_validity::refused(tls.ssl()) {
                let (kind, reason, id) = out_of_date(refused);
                return Err(Refused {
                    peer,
                    hello: Some(hello),
                    certificate_sent: Some(true),
                    kind,
                    reason,
                    certificate_id: id,
                });
            }
            let certificate_sent = Some(tls.ssl().peer_certificate().is_some());
            let (kind, reason) = explain_failure(edge, &hello, &err);
            Err(Refused {
                peer,
                hello: Some(hello),
                certificate_sent,
                kind,
                reason,
                certificate_id: None,
            })
        }
    }
}

/// Words for a client certificate refused for its validity period, with its id.
fn out_of_date(
    refused: &tls::client_validity::RefusedCertificate,
) -> (RefusalKind, String, Option<String>) {
    let id = pki::CertificateId::of(&refused.certificate)
        .ok()
        .map(|id| id.as_str().to_owned());
    let named = id.as_deref().unwrap_or("(unreadable id)");
    let now = pki::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0),
    );
    let (not_before, not_after) = pki::validity_period(&refused.certificate)
        .map(|(from, to)| (pki::rfc3339(from), pki::rfc3339(to)))
        .unwrap_or_default();
    match refused.why {
        tls::client_validity::OutOfDate::Expired => (
            RefusalKind::CertificateExpired,
            format!(
                "the client certificate {named} expired at {not_after} (it is now {now}); an \
                 expired certificate is refused at the TLS handshake (alert 45 \
                 certificate_expired), registered or not: give the device a new certificate"
            ),
            id,
        ),
        tls::client_validity::OutOfDate::NotYetValid => (
            RefusalKind::CertificateNotYetValid,
            format!(
                "the client certificate {named} is not valid before {not_before} (it is now \
                 {now}); it is refused at the TLS handshake (alert 42 bad_certificate): check \
                 this machine's clock, or reissue the certificate"
            ),
            id,
        ),
    }
}

/// Words for a failed handshake: the policy-level prediction when it refuses (it knows what was
/// offered and what was allowed), otherwise what OpenSSL reported, translated.
fn explain_failure(
    edge: &TlsEdge,
    hello: &ClientHello,
    err: &openssl::ssl::Error,
) -> (RefusalKind, String) {
    let verdict = tls::explain(hello, &edge.listener, None);
    if let Some(refusal) = verdict.refusals.first() {
        let kind = match refusal {
            tls::Refusal::VersionTooLow { .. } | tls::Refusal::VersionTooHigh { .. } => {
                RefusalKind::Version
            }
            tls::Refusal::NoSharedSuite { .. } => RefusalKind::Cipher,
            tls::Refusal::ServerNameMissing { .. } | tls::Refusal::ServerNameMismatch { .. } => {
                RefusalKind::Sni
            }
            tls::Refusal::Alpn { .. } => RefusalKind::Alpn,
            _ => RefusalKind::ClientCertificate,
        };
        return (kind, format!("{refusal} (alert {})", refusal.alert()));
    }
    let reasons: Vec<String> = err
        .ssl_error()
        .map(|stack| {
            stack
                .errors()
                .iter()
                .filter_map(|e| e.reason().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
    if has("peer did not return a certificate") || has("certificate required") {
        return (
            RefusalKind::ClientCertificate,
            "the client sent no certificate, and this listener requires mutual TLS: give the \
             client its device certificate and private key (mosquitto_pub --cert/--key)"
                .to_owned(),
        );
    }
    if has("unknown ca") {
        return (
            RefusalKind::ServerCertificateRejected,
            "the client rejected the server's certificate with alert 48 unknown_ca: it does not \
             trust tether's CA; give the client the data dir's ca/root-ca.pem as its CA file"
                .to_owned(),
        );
    }
    if has("bad certificate") || has("certificate unknown") {
        return (
            RefusalKind::ServerCertificateRejected,
            "the client rejected the server's certificate (alert 42/46): usually the host name it \
             connected to is not in the certificate; connect to localhost, 127.0.0.1 or a name \
             given with --hostname, or check the client's clock"
                .to_owned(),
        );
    }
    if has("no shared cipher") {
        return (
            RefusalKind::Cipher,
            "no cipher suite is shared with the client".to_owned(),
        );
    }
    if has("unsupported protocol") || has("wrong version number") {
        return (
            RefusalKind::Version,
            "no TLS version is shared with the client".to_owned(),
        );
    }
    if reasons.is_empty() {
        let io = err.io_error().map(ToString::to_string);
        return (
            RefusalKind::Closed,
            match io {
                Some(e) => format!("the connection failed during the handshake: {e}"),
                None => "the client closed the connection during the handshake (often because it \
                         rejected the server certificate without sending an alert)"
                    .to_owned(),
            },
        );
    }
    (
        RefusalKind::Other,
        format!("OpenSSL reported: {}", reasons.join("; ")),
    )
}
