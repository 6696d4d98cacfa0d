//! The listeners that speak HTTP as well as MQTT, as AWS IoT's port 443 does: `--wss` (TLS with
//! the server certificate only) and the port-443 listener (`--https-443`, alias `--mqtts-alpn`),
//! which picks the protocol by ALPN ("Device communication protocols" in the developer guide):
//! `x-amzn-mqtt-ca` is MQTT over mutual TLS (admitted as on 8883, `accept.rs`), `mqtt` is MQTT
//! with a custom authorizer (`custom_mqtt.rs`), and `x-amzn-http-ca`, `http/1.1` or no ALPN is
//! HTTP: a WebSocket upgrade on `/mqtt` is MQTT over WebSockets, authenticated by SigV4 or a
//! custom authorizer (`web_auth.rs`) and served through the same connection task
//! (`websocket.rs`, `admitted.rs`); any other request goes to the HTTP API, which verifies its
//! own signatures. Refusals are recorded like the TLS ones. The client certificate is asked for
//! on port 443 (mutual TLS needs it) but required only with `x-amzn-mqtt-ca`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use broker_core::ConnId;
use refusals::{Refusal, RefusalKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::accept::{self, Admission};
use super::handshake::{self, Accepted, TlsEdge};
use super::rewind::Rewind;
use super::web_auth::{self, Admit, SigV4Identities, Upgrade};
use super::{admitted, custom_mqtt, websocket};
use crate::auth::Identity;
use crate::authorizer::Authorizers;

/// ALPN protocols of the port-443 listener, in preference order.
pub(crate) const ALPN_443: [&str; 4] = ["x-amzn-mqtt-ca", "mqtt", "x-amzn-http-ca", "http/1.1"];

/// Longest HTTP request head read before deciding what a request is.
const MAX_HEAD: usize = 16 * 1024;

/// One HTTP-speaking listener.
pub(crate) struct WebEdge {
    /// Its name in refusal records and logs: `wss` or `https-443`.
    pub(crate) name: &'static str,
    /// TLS under the configured security policy.
    pub(crate) tls: TlsEdge,
    /// Whether MQTT over TLS is served by ALPN (port 443).
    pub(crate) port_443: bool,
    /// SigV4 credentials and their policies.
    pub(crate) sigv4: SigV4Identities,
    /// Custom authorizers.
    pub(crate) authorizers: Arc<Authorizers>,
    /// The HTTP API, for requests that are not WebSocket upgrades.
    pub(crate) api: Option<axum::Router>,
}

impl std::fmt::Debug for WebEdge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebEdge")
            .field("name", &self.name)
            .field("port_443", &self.port_443)
            .finish_non_exhaustive()
    }
}

impl WebEdge {
    /// Records and logs a refusal (record first, so a reader of the log finds it).
    pub(crate) fn record(
        &self,
        admission: &Admission,
        peer: SocketAddr,
        kind: RefusalKind,
        reason: &str,
        offered: Option<String>,
    ) {
        admission.shared.metrics.handshake_failed(kind);
        let refusal = Refusal {
            time: super::now_rfc3339(),
            peer: peer.to_string(),
            listener: self.name.to_owned(),
            kind,
            reason: reason.to_owned(),
            offered,
            client_certificate: None,
            ..Refusal::default()
        };
        let log = format!(
            "{} connection from {peer} refused ({kind}): {reason}",
            self.name
        );
        admission.refusals.record(refusal, Some(log));
    }
}

/// Accepts connections until the task is aborted; each one is served on its own task.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    edge: Arc<WebEdge>,
    admission: Arc<Admission>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let metrics = &admission.shared.metrics;
        let open = usize::try_from(metrics.connections_open.get()).unwrap_or(0);
        if open >= admission.max_connections {
            metrics.connections_over_limit.inc();
            tracing::warn!(
                "refusing {peer}: max_connections ({}) reached",
                admission.max_connections
            );
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let conn = ConnId(admission.next_conn.fetch_add(1, Ordering::Relaxed));
        let admission = Arc::clone(&admission);
        let edge = Arc::clone(&edge);
        tokio::spawn(async move {
            let metrics = Arc::clone(&admission.shared.metrics);
            metrics.connections_open.inc();
            serve(&edge, tcp, peer, conn, &admission).await;
            metrics.connections_open.dec();
        });
    }
}

/// The handshake, then the protocol ALPN chose.
async fn serve(
    edge: &WebEdge,
    tcp: TcpStream,
    peer: SocketAddr,
    conn: ConnId,
    admission: &Admission,
) {
    let accepted = match Box::pin(handshake::accept(&edge.tls, tcp, peer)).await {
        Ok(accepted) => accepted,
        Err(refused) => {
            let offered = refused.hello.as_deref().map(handshake::offer_summary);
            edge.record(admission, peer, refused.kind, &refused.reason, offered);
            return;
        }
    };
    match accepted.alpn.as_deref() {
        Some("x-amzn-mqtt-ca") if edge.port_443 => {
            accept::serve_accepted(edge.name, &edge.tls, accepted, peer, conn, admission).await;
        }
        Some("mqtt") if edge.port_443 => {
            let server_name = accepted.hello.server_name.clone();
            custom_mqtt::serve(
                accepted.stream,
                conn,
                peer,
                server_name,
                None,
                edge,
                admission,
            )
            .await;
        }
        _ => http(edge, accepted, peer, conn, admission).await,
    }
}

/// An HTTP connection: a WebSocket upgrade on `/mqtt`, or the API.
async fn http(
    edge: &WebEdge,
    accepted: Accepted,
    peer: SocketAddr,
    conn: ConnId,
    admission: &Admission,
) {
    let Accepted {
        mut stream, hello, ..
    } = accepted;
    let refuse = |kind, reason: &str| {
        let offered = Some(handshake::offer_summary(&hello));
        edge.record(admission, peer, kind, reason, offered);
    };
    let head = match tokio::time::timeout(edge.tls.timeout, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(Head::NotHttp(first))) => {
            let (kind, reason) = not_http(edge, first);
            refuse(kind, reason);
            return;
        }
        Ok(Err(Head::Closed)) | Err(_) => return,
    };
    let parsed = match route(edge, &head) {
        Ok(Route::Api(api)) => {
            serve_api(api, Rewind::new(head, stream)).await;
            return;
        }
        Ok(Route::WebSocket(parsed)) => parsed,
        Err(refused) => {
            respond(&mut stream, refused.status, refused.words, &refused.reason).await;
            refuse(RefusalKind::NotWebsocket, &refused.reason);
            return;
        }
    };
    let request = Upgrade {
        target: &parsed.target,
        headers: &parsed.headers,
        server_name: hello.server_name.as_deref(),
    };
    let admit = match web_auth::authenticate(&request, &edge.sigv4, &edge.authorizers).await {
        Ok(admit) => admit,
        Err((kind, reason)) => {
            respond(&mut stream, 403, "Forbidden", &reason).await;
            refuse(kind, &reason);
            return;
        }
    };
    let server_name = hello.server_name.clone();
    let upgraded = matches!(admit, Admit::AtConnect).then(|| custom_mqtt::Upgraded {
        query: parsed
            .target
            .split_once('?')
            .map_or_else(String::new, |(_, q)| q.to_owned()),
        headers: parsed.headers.clone(),
    });
    drop((hello, parsed));
    let max_message = usize::try_from(admission.shared.settings.max_packet_size)
        .unwrap_or(usize::MAX)
        .saturating_add(1024);
    let ws = match websocket::accept(Rewind::new(head, stream), max_message).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::info!("WebSocket upgrade from {peer} failed: {e}");
            return;
        }
    };
    let client = Client {
        peer,
        conn,
        server_name,
    };
    serve_websocket(edge, ws, admit, upgraded, client, admission).await;
}

/// Why a connection that did not start with an HTTP request is refused: on port 443, MQTT
/// without ALPN is named as such.
fn not_http(edge: &WebEdge, first: Option<u8>) -> (RefusalKind, &'static str) {
    if edge.port_443 && first == Some(0x10) {
        (
            RefusalKind::Alpn,
            "the client sent MQTT without ALPN: on this port MQTT needs ALPN x-amzn-mqtt-ca \
             (mutual TLS) or mqtt (custom authorizer); without ALPN the port speaks HTTP \
             (WebSockets on /mqtt, HTTPS)",
        )
    } else {
        (
            RefusalKind::NotWebsocket,
            "the client did not send an HTTP request; this listener serves MQTT over \
             WebSockets on wss://HOST:PORT/mqtt",
        )
    }
}

/// Where an HTTP request goes.
enum Route {
    /// To the HTTP API (any request but a WebSocket upgrade, when the listener serves it).
    Api(axum::Router),
    /// An MQTT WebSocket upgrade on `/mqtt`, still to be authenticated.
    WebSocket(ParsedHead),
}

/// An HTTP request answered with an error status and recorded as a refusal.
struct BadRequest {
    status: u16,
    words: &'static str,
    reason: String,
}

/// Routes a request by its head: the API, or a WebSocket upgrade that offers `mqtt`.
fn route(edge: &WebEdge, head: &[u8]) -> Result<Route, BadRequest> {
    let bad_request = |reason: &str| BadRequest {
        status: 400,
        words: "Bad Request",
        reason: reason.to_owned(),
    };
    let parsed =
        parse_head(head).ok_or_else(|| bad_request("the HTTP request head cannot be read"))?;
    let path = parsed.target.split('?').next().unwrap_or_default();
    let upgrade = websocket::is_upgrade(&parsed.headers);
    if !(upgrade && path == websocket::PATH) {
        if let Some(api) = &edge.api
            && !upgrade
        {
            return Ok(Route::Api(api.clone()));
        }
        return Err(BadRequest {
            status: 404,
            words: "Not Found",
            reason: format!(
                "{} {} is not an MQTT WebSocket upgrade; connect to wss://HOST:PORT{}",
                parsed.method,
                path,
                websocket::PATH
            ),
        });
    }
    if !websocket::offers_mqtt(&parsed.headers) {
        return Err(bad_request(
            "the WebSocket upgrade does not offer the subprotocol mqtt \
             (Sec-WebSocket-Protocol: mqtt), which MQTT over WebSockets requires \
             [MQTT-6.0.0-3]",
        ));
    }
    Ok(Route::WebSocket(parsed))
}

/// Who is on an upgraded connection.
struct Client {
    peer: SocketAddr,
    conn: ConnId,
    /// The TLS server name (SNI) the client asked for.
    server_name: Option<String>,
}

/// MQTT over an upgraded WebSocket, as the upgrade was admitted: by SigV4, by a custom
/// authorizer, or by a custom authorizer at CONNECT (with what the upgrade carried).
async fn serve_websocket(
    edge: &WebEdge,
    ws: websocket::WsStream<Rewind<handshake::TlsStream>>,
    admit: Admit,
    upgraded: Option<custom_mqtt::Upgraded>,
    client: Client,
    admission: &Admission,
) {
    let Client {
        peer,
        conn,
        server_name,
    } = client;
    let shared = &admission.shared;
    match admit {
        Admit::Iam {
            access_key_id,
            policies,
        } => {
            let identity = |key| Identity::Iam {
                access_key_id,
                peer,
                key,
            };
            let lifetime = admitted::Lifetime {
                disconnect_after: Some(admitted::SIGV4_MAX_LIFETIME),
                refresh: None,
            };
            admitted::serve(ws, conn, identity, policies, lifetime, shared).await;
        }
        Admit::Custom {
            admitted,
            credentials,
        } => {
            let policies = admitted::authorizer_layer(&admitted);
            let lifetime = admitted::authorizer_lifetime(&admitted, credentials, &edge.authorizers);
            let identity = |key| Identity::Custom {
                authorizer: admitted.authorizer.clone(),
                principal_id: admitted.answer.principal_id.clone(),
                peer,
                key,
            };
            admitted::serve(ws, conn, identity, policies, lifetime, shared).await;
        }
        Admit::AtConnect => {
            custom_mqtt::serve(ws, conn, peer, server_name, upgraded, edge, admission).await;
        }
    }
}

/// Why no request head was read.
enum Head {
    /// The first bytes are not an HTTP method (the first byte, if any).
    NotHttp(Option<u8>),
    /// The connection ended first.
    Closed,
}

/// Reads up to the end of the request head (`\r\n\r\n`); returns every byte read.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Vec<u8>, Head> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        if let Some(&first) = buf.first()
            && !first.is_ascii_uppercase()
        {
            return Err(Head::NotHttp(Some(first)));
        }
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(buf);
        }
        if buf.len() >= MAX_HEAD {
            return Err(Head::NotHttp(buf.first().copied()));
        }
        let mut chunk = [0u8; 2048];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(Head::Closed),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
}

/// A request head's method, target and headers.
#[derive(Debug)]
pub(crate) struct ParsedHead {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: http::HeaderMap,
}

/// Parses a complete request head.
pub(crate) fn parse_head(head: &[u8]) -> Option<ParsedHead> {
    let mut slots = [httparse::EMPTY_HEADER; 96];
    let mut request = httparse::Request::new(&mut slots);
    let httparse::Status::Complete(_) = request.parse(head).ok()? else {
        return None;
    };
    let mut headers = http::HeaderMap::new();
    for h in request.headers.iter() {
        let name = http::HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let value = http::HeaderValue::from_bytes(h.value).ok()?;
        headers.append(name, value);
    }
    Some(ParsedHead {
        method: request.method?.to_owned(),
        target: request.path?.to_owned(),
        headers,
    })
}

/// Serves the API on this connection (HTTP/1.1, keep-alive), the request head put back.
async fn serve_api<S>(api: axum::Router, stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = hyper_util::rt::TokioIo::new(stream);
    let service = hyper_util::service::TowerToHyperService::new(api);
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await
    {
        tracing::debug!("HTTPS connection ended: {e}");
    }
}

/// Answers with a plain-text status and closes.
async fn respond<S: AsyncWrite + Unpin>(stream: &mut S, status: u16, words: &str, body: &str) {
    let text = format!(
        "HTTP/1.1 {status} {words}\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(text.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads_are_read_with_their_headers() {
        let head = b"GET /mqtt?X-Amz-Date=1 HTTP/1.1\r\nHost: h:1\r\nUpgrade: websocket\r\n\
                     Sec-WebSocket-Protocol: mqttv3.1, mqtt\r\n\r\n";
        let parsed = parse_head(head).unwrap();
        assert_eq!(parsed.method, "GET");
        assert_eq!(parsed.target, "/mqtt?X-Amz-Date=1");
        assert!(websocket::is_upgrade(&parsed.headers));
        assert!(websocket::offers_mqtt(&parsed.headers));
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost").is_none());
        assert!(parse_head(b"\x10\x0c\x00\x04MQTT").is_none());
    }

    #[tokio::test]
    async fn mqtt_bytes_are_told_apart_from_http() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(b"\x10\x0c\x00\x04MQTT\x04").await.unwrap();
        assert!(matches!(
            read_head(&mut server).await,
            Err(Head::NotHttp(Some(0x10)))
        ));
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        client.write_all(b"Host: x\r\n\r\nrest").await.unwrap();
        let head = read_head(&mut server).await.ok().unwrap();
        assert!(head.starts_with(b"GET / HTTP/1.1"));
    }
}
