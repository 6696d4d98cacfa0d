//! Opening the byte stream under an MQTT session: name resolution, TCP connect (Nagle off), and
//! the OpenSSL handshake with SNI from the host name, ALPN and the client identity, plus the
//! translation of every failure into an [`Error`] that names host and port and says what the
//! server or this client objected to. It does not speak MQTT; `client` does.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use openssl::ssl::{self, ErrorCode, Ssl};
use openssl::x509::X509VerifyResult;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::error::{Error, UntrustedCertificate, io_detail};
use crate::options::{ConnectOptions, TlsOptions};
use crate::websocket::{self, WebSocketOptions, WsStream};
use tls::Alert;
use tls::context::{ClientContext, ClientOptions};

/// OpenSSL's `ERR_LIB_SSL`; reasons `1000 + n` of this library mean "received alert n".
const ERR_LIB_SSL: i32 = 20;
const ALERT_REASON_OFFSET: i32 = 1000;
/// OpenSSL's `ERR_LIB_SYS`: a failed system call under TLS.
const ERR_LIB_SYS: i32 = 2;

/// A connected byte stream, plain or TLS.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
    /// MQTT over WebSockets, over TCP or TLS.
    Ws(Box<WsStream<Stream>>),
}

/// Opens streams to one broker; built once per client and reused on reconnect.
#[derive(Debug)]
pub(crate) struct Connector {
    pub(crate) host: String,
    pub(crate) port: u16,
    timeout: Duration,
    bind_address: Option<std::net::IpAddr>,
    tls: Option<Arc<TlsSetup>>,
    websocket: Option<WebSocketOptions>,
}

#[derive(Debug)]
struct TlsSetup {
    context: ClientContext,
    trust: String,
    has_identity: bool,
    has_alpn: bool,
    skip_hostname: bool,
}

impl Connector {
    /// Builds the TLS context (if any) from the options.
    pub(crate) fn new(options: &ConnectOptions) -> Result<Connector, Error> {
        let tls = match &options.tls {
            None => None,
            Some(tls) => Some(cached_tls_setup(&options.host, tls)?),
        };
        Ok(Connector {
            host: options.host.clone(),
            port: options.port,
            timeout: options.connect_timeout,
            bind_address: options.bind_address,
            tls,
            websocket: options.websocket.clone(),
        })
    }

    /// True when the stream is TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// True when a client certificate is configured.
    pub(crate) fn has_identity(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.has_identity)
    }

    /// True when TLS offers no ALPN protocol.
    pub(crate) fn lacks_alpn(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| !t.has_alpn)
    }

    /// Resolves, connects and (for TLS) completes the handshake within the timeout.
    pub(crate) async fn open(&self) -> Result<Stream, Error> {
        match tokio::time::timeout(self.timeout, self.open_unbounded()).await {
            Ok(result) => result,
            Err(_) => Err(Error::ConnectTimeout {
                host: self.host.clone(),
                port: self.port,
                after: self.timeout,
            }),
        }
    }

    async fn open_unbounded(&self) -> Result<Stream, Error> {
        let stream = self.open_transport().await?;
        match &self.websocket {
            None => Ok(stream),
            Some(options) => {
                let tls = self.tls.is_some();
                let ws = websocket::upgrade(stream, &self.host, self.port, tls, options).await?;
                Ok(Stream::Ws(Box::new(ws)))
            }
        }
    }

    async fn open_transport(&self) -> Result<Stream, Error> {
        let tcp = self.tcp().await?;
        let Some(tls) = &self.tls else {
            return Ok(Stream::Tcp(tcp));
        };
        let ssl = self.ssl(tls)?;
        let mut stream = SslStream::new(ssl, tcp).map_err(|e| Error::Tls {
            host: self.host.clone(),
            port: self.port,
            detail: e.to_string(),
        })?;
        match Pin::new(&mut stream).connect().await {
            Ok(()) => Ok(Stream::Tls(Box::new(stream))),
            Err(error) => Err(self.handshake_error(tls, &stream, &error)),
        }
    }

    async fn tcp(&self) -> Result<TcpStream, Error> {
        let addresses: Vec<_> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| Error::Resolve {
                host: self.host.clone(),
                port: self.port,
                detail: resolve_detail(&e),
            })?
            .collect();
        let mut last = None;
        for address in &addresses {
            match self.connect_from(*address).await {
                Ok(tcp) => {
                    // MQTT packets are small and latency matters more than coalescing.
                    let _ = tcp.set_nodelay(true);
                    return Ok(tcp);
                }
                Err(e) => last = Some((*address, e)),
            }
        }
        let detail = match last {
            Some((address, e)) => connect_detail(&address.to_string(), self.port, &e),
            None => "the name resolved to no address".to_owned(),
        };
        Err(Error::Connect {
            host: self.host.clone(),
            port: self.port,
            detail,
        })
    }

    /// TCP connect to `address`, from the configured local address if there is one.
    async fn connect_from(&self, address: std::net::SocketAddr) -> io::Result<TcpStream> {
        let Some(local) = self.bind_address else {
            return TcpStream::connect(address).await;
        };
        let socket = if address.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket
            .bind(std::net::SocketAddr::new(local, 0))
            .map_err(|e| {
                io::Error::new(e.kind(), format!("binding the local address {local}: {e}"))
            })?;
        socket.connect(address).await
    }

    fn ssl(&self, tls: &TlsSetup) -> Result<Ssl, Error> {
        if tls.skip_hostname {
            let config = tls
                .context
                .connector()
                .configure()
                .map_err(|e| Error::Tls {
                    host: self.host.clone(),
                    port: self.port,
                    detail: e.to_string(),
                })?;
            config
                .verify_hostname(false)
                .into_ssl(&self.host)
                .map_err(|e| Error::Tls {
                    host: self.host.clone(),
                    port: self.port,
                    detail: e.to_string(),
                })
        } else {
            Ok(tls.context.ssl()?)
        }
    }

    /// Explains a failed handshake: an alert from the server, our refusal of its certificate,
    /// a peer that is not TLS, or a silent close.
    fn handshake_error(
        &self,
        tls: &TlsSetup,
        stream: &SslStream<TcpStream>,
        error: &ssl::Error,
    ) -> Error {
        if let Some(alert) = received_alert(error) {
            return self.alert_error(alert, "during the TLS handshake");
        }
        let verify = stream.ssl().verify_result();
        if verify != X509VerifyResult::OK {
            return self.untrusted(tls, stream, verify);
        }
        let text = error_text(error);
        if text.contains("wrong version number")
            || text.contains("packet length too long")
            || text.contains("record layer failure")
        {
            return Error::Tls {
                host: self.host.clone(),
                port: self.port,
                detail: format!(
                    "the server did not answer with TLS ({text}); port {} may be a plain MQTT port: leave out --cafile, --capath, --cert and --key to connect without TLS",
                    self.port
                ),
            };
        }
        if error.code() == ErrorCode::SYSCALL || error.code() == ErrorCode::ZERO_RETURN {
            return Error::Closed {
                host: self.host.clone(),
                port: self.port,
                during: "during the TLS handshake",
                hint: Some(
                    "the server refused without saying why; is this a TLS port, and does it accept this client's certificate and TLS version?"
                        .to_owned(),
                ),
            };
        }
        Error::Tls {
            host: self.host.clone(),
            port: self.port,
            detail: text,
        }
    }

    pub(crate) fn alert_error(&self, alert: Alert, during: &'static str) -> Error {
        let client_auth = matches!(alert.0, 40 | 42 | 46 | 116);
        let hint = (client_auth && !self.has_identity()).then(|| {
            "No client certificate was given: brokers with mutual TLS (AWS IoT, tether serve) need --cert and --key.".to_owned()
        });
        Error::TlsAlert {
            host: self.host.clone(),
            port: self.port,
            alert,
            during,
            hint,
        }
    }

    fn untrusted(
        &self,
        tls: &TlsSetup,
        stream: &SslStream<TcpStream>,
        verify: X509VerifyResult,
    ) -> Error {
        let leaf = stream
            .ssl()
            .peer_cert_chain()
            .and_then(|chain| chain.iter().next())
            .and_then(|cert| pki::summarize(cert).ok());
        let (subject, issuer, names) = match &leaf {
            Some(summary) => (
                summary.subject.clone(),
                summary.issuer.clone(),
                summary
                    .subject_alt_names
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            ),
            None => ("unknown".to_owned(), "unknown".to_owned(), Vec::new()),
        };
        let advice = match verify.as_raw() {
            // X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
            62 | 64 => format!(
                "The certificate is for {}, not {}: connect with a name it covers, or add --insecure to skip only the name check.",
                if names.is_empty() {
                    "other names".to_owned()
                } else {
                    names.join(", ")
                },
                self.host
            ),
            // X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED
            9 | 10 => "Check this computer's clock; if it is right, the server's certificate has expired.".to_owned(),
            _ => "Give the CA that issued the server's certificate with --cafile (AWS IoT: AmazonRootCA1.pem; tether serve: root-ca.pem in the device's folder).".to_owned(),
        };
        Error::UntrustedServer(Box::new(UntrustedCertificate {
            host: self.host.clone(),
            port: self.port,
            reason: verify.error_string().to_owned(),
            subject,
            issuer,
            trust: tls.trust.clone(),
            advice,
        }))
    }

    /// Explains a read or write failure on an open stream (an alert after the handshake, as
    /// TLS 1.3 servers send when they refuse the client certificate, or a network error).
    pub(crate) fn io_error(&self, error: &io::Error, during: &'static str) -> Error {
        if let Some(ssl_error) = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<ssl::Error>())
        {
            if let Some(alert) = received_alert(ssl_error) {
                return self.alert_error(alert, "right after the TLS handshake");
            }
            // OpenSSL reports a socket failure under TLS as a "system library" error.
            let system_only = ssl_error.ssl_error().is_some_and(|stack| {
                stack
                    .errors()
                    .iter()
                    .all(|e| e.library_code() == ERR_LIB_SYS)
            });
            if system_only {
                return Error::Io {
                    host: self.host.clone(),
                    port: self.port,
                    during,
                    detail: "the server closed the connection while this client was writing"
                        .to_owned(),
                };
            }
            return Error::Tls {
                host: self.host.clone(),
                port: self.port,
                detail: error_text(ssl_error),
            };
        }
        Error::Io {
            host: self.host.clone(),
            port: self.port,
            during,
            detail: io_detail(error),
        }
    }
}

/// Contexts already built by this process, by everything that shapes them. Building one reads
/// CA files and OpenSSL's default paths (milliseconds of CPU), so a process opening many
/// connections with one set of options — `tether bench`, reconnects — builds it once. CA files
/// are read when first used; a change to them reaches new processes.
fn cached_tls_setup(host: &str, tls: &TlsOptions) -> Result<Arc<TlsSetup>, Error> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<TlsSetup>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = cache_key(host, tls);
    if let Some(found) = cache.lock().ok().and_then(|map| map.get(&key).cloned()) {
        return Ok(found);
    }
    let setup = Arc::new(tls_setup(host, tls)?);
    if let Ok(mut map) = cache.lock() {
        if map.len() >= 32 {
            map.clear();
        }
        map.insert(key, Arc::clone(&setup));
    }
    Ok(setup)
}

/// Everything in `tls` (and the host, for SNI and name checks) that changes the context.
fn cache_key(host: &str, tls: &TlsOptions) -> String {
    let identity = tls.identity.as_ref().map(|id| {
        (
            id.certificate.to_der().unwrap_or_default(),
            id.key.public_key_to_der().unwrap_or_default(),
            id.chain
                .iter()
                .map(|c| c.to_der().unwrap_or_default())
                .collect::<Vec<_>>(),
        )
    });
    format!(
        "{host}|{:?}|{:?}|{identity:?}|{:?}|{:?}|{:?}|{:?}|{}",
        tls.trust,
        tls.trust_label,
        tls.alpn,
        tls.min_version,
        tls.max_version,
        tls.groups,
        tls.danger_skip_hostname
    )
}

fn tls_setup(host: &str, tls: &TlsOptions) -> Result<TlsSetup, Error> {
    let options = ClientOptions {
        trust: tls.trust.clone(),
        identity: tls.identity.clone(),
        server_name: Some(host.to_owned()),
        alpn: tls.alpn.clone(),
        min_version: tls.min_version,
        max_version: tls.max_version,
        groups: tls.groups.clone(),
        ..ClientOptions::default()
    };
    Ok(TlsSetup {
        context: ClientContext::new(&options)?,
        trust: tls.trust_description(),
        has_identity: tls.identity.is_some(),
        has_alpn: !tls.alpn.is_empty(),
        skip_hostname: tls.danger_skip_hostname,
    })
}

/// The alert the server sent, if the error stack holds one.
fn received_alert(error: &ssl::Error) -> Option<Alert> {
    error.ssl_error()?.errors().iter().find_map(|e| {
        let code = e.reason_code().checked_sub(ALERT_REASON_OFFSET)?;
        (e.library_code() == ERR_LIB_SSL)
            .then(|| u8::try_from(code).ok().map(Alert))
            .flatten()
    })
}

fn error_text(error: &ssl::Error) -> String {
    match error.ssl_error() {
        Some(stack) => stack
            .errors()
            .iter()
            .map(|e| match (e.reason(), e.data()) {
                (Some(reason), _) => reason.to_owned(),
                (None, Some(data)) => data.to_owned(),
                (None, None) => format!("OpenSSL error {}", e.code()),
            })
            .collect::<Vec<_>>()
            .join("; "),
        None => match error.io_error() {
            Some(io) => io_detail(io),
            None => format!("{:?}", error.code()),
        },
    }
}

fn resolve_detail(error: &io::Error) -> String {
    let text = error.to_string();
    if text.contains("failed to lookup address") || text.contains("Name or service not known") {
        "no such host is known to DNS".to_owned()
    } else {
        text
    }
}

/// Why TCP connect failed, with what to check.
pub(crate) fn connect_detail(address: &str, port: u16, error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => format!(
            "connection refused by {address}: nothing is listening on port {port}; is the broker running, and is {port} its port (MQTT 1883, MQTT over TLS 8883)?"
        ),
        io::ErrorKind::TimedOut => format!(
            "{address} did not answer; the host may be down or a firewall drops port {port}"
        ),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            format!("{address} is unreachable from this machine; check the network and routes")
        }
        io::ErrorKind::PermissionDenied => {
            format!("connecting to {address} was not permitted (firewall or sandbox)")
        }
        _ => format!("{address}: {error}"),
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            Stream::Ws(ws) => Pin::new(ws.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
            Stream::Ws(ws) => Pin::new(ws.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            Stream::Ws(ws) => Pin::new(ws.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            Stream::Ws(ws) => Pin::new(ws.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_tcp_connect_says_what_to_check() {
        let error = io::Error::from(io::ErrorKind::ConnectionRefused);
        let text = connect_detail("127.0.0.1:1", 1, &error);
        assert!(text.contains("nothing is listening on port 1"), "{text}");
        assert!(text.contains("is the broker running"), "{text}");
    }

    #[tokio::test]
    async fn an_unknown_host_is_named_with_its_port() {
        let connector = Connector::new(&ConnectOptions {
            host: "no-such-host.invalid".into(),
            port: 8883,
            ..ConnectOptions::default()
        })
        .unwrap();
        let error = connector.open().await.unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, Error::Resolve { .. }), "{text}");
        assert!(
            text.contains("cannot resolve the host name no-such-host.invalid (port 8883)"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let connector = Connector::new(&ConnectOptions {
            host: "127.0.0.1".into(),
            port,
            ..ConnectOptions::default()
        })
        .unwrap();
        let text = connector.open().await.unwrap_err().to_string();
        assert!(
            text.contains(&format!("cannot connect to 127.0.0.1:{port}")),
            "{text}"
        );
        assert!(text.contains("connection refused"), "{text}");
    }

    #[tokio::test]
    async fn connects_from_the_bound_local_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let from: std::net::IpAddr = "127.0.0.2".parse().unwrap();
        let connector = Connector::new(&ConnectOptions {
            host: "127.0.0.1".into(),
            port,
            bind_address: Some(from),
            ..ConnectOptions::default()
        })
        .unwrap();
        let (opened, accepted) = tokio::join!(connector.open(), listener.accept());
        assert!(opened.is_ok(), "{:?}", opened.err());
        assert_eq!(accepted.unwrap().1.ip(), from);
    }
}
