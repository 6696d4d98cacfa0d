//! MQTT over WebSockets for the client, as AWS IoT serves it (`wss://HOST/mqtt`, subprotocol
//! `mqtt`): the upgrade over the TLS (or TCP) stream by `tokio-tungstenite`, signed with SigV4
//! in the query string (service `iotdevicegateway`, the session token appended after signing)
//! anew on every connect, and [`WsStream`], the binary messages as the byte stream the MQTT
//! session reads. An upgrade the server refuses is reported with its HTTP status and the words
//! of its answer. It reads no credentials itself (the caller passes them).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::protocol::Message;

use crate::error::Error;

/// How long a presigned URL the client makes is good for (it signs one per connect).
const EXPIRES: Duration = Duration::from_secs(300);

/// MQTT over WebSockets settings.
#[derive(Debug, Clone)]
pub struct WebSocketOptions {
    /// The request path, `/mqtt` for AWS IoT.
    pub path: String,
    /// SigV4 credentials to presign the upgrade with; `None` sends it unsigned (a custom
    /// authorizer may still admit it through `headers`).
    pub signing: Option<SigV4Credentials>,
    /// Extra request headers (custom authorizer name, token and signature).
    pub headers: Vec<(String, String)>,
}

impl Default for WebSocketOptions {
    fn default() -> Self {
        WebSocketOptions {
            path: "/mqtt".to_owned(),
            signing: None,
            headers: Vec::new(),
        }
    }
}

/// An AWS credential and the region it signs for.
#[derive(Clone)]
pub struct SigV4Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Region of the credential scope.
    pub region: String,
}

impl std::fmt::Debug for SigV4Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret and the token stay out of logs.
        f.debug_struct("SigV4Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The request target: the path, presigned when there are credentials.
pub(crate) fn target(
    options: &WebSocketOptions,
    host_header: &str,
    now: SystemTime,
) -> Result<String, String> {
    let Some(creds) = &options.signing else {
        return Ok(options.path.clone());
    };
    let mut key = sigv4::SigningKey::new(
        &creds.access_key_id,
        &creds.secret_access_key,
        &creds.region,
        "iotdevicegateway",
    );
    if let Some(token) = &creds.session_token {
        key = key.with_session_token(token);
    }
    sigv4::presign_url(&key, "GET", host_header, &options.path, EXPIRES, now)
        .map_err(|e| e.to_string())
}

/// Upgrades `stream` to MQTT over WebSockets.
pub(crate) async fn upgrade<S>(
    stream: S,
    host: &str,
    port: u16,
    tls: bool,
    options: &WebSocketOptions,
) -> Result<WsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let failed = |detail: String| Error::WebSocket {
        host: host.to_owned(),
        port,
        detail,
    };
    let host_header = format!("{host}:{port}");
    let target = target(options, &host_header, SystemTime::now()).map_err(&failed)?;
    let scheme = if tls { "wss" } else { "ws" };
    let mut request = http::Request::builder()
        .method("GET")
        .uri(format!("{scheme}://{host_header}{target}"))
        .header("host", &host_header)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", generate_key())
        .header("sec-websocket-protocol", "mqtt");
    for (name, value) in &options.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(())
        .map_err(|e| failed(format!("cannot build the upgrade request: {e}")))?;
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((ws, _)) => Ok(WsStream::new(ws)),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).trim().to_owned())
                .unwrap_or_default();
            Err(failed(format!(
                "the server refused the WebSocket upgrade with HTTP {}{}",
                response.status(),
                if body.is_empty() {
                    String::new()
                } else {
                    format!(": {body}")
                }
            )))
        }
        Err(e) => Err(failed(format!("the WebSocket upgrade failed: {e}"))),
    }
}

/// A WebSocket as a byte stream of MQTT, for either end of the connection: reads return
/// binary messages' payloads in order, writes send one binary message each; a close or the
/// end of the stream reads as the end of the bytes, a text message is an error
/// ([MQTT-6.0.0-1]).
#[derive(Debug)]
pub struct WsStream<S> {
    ws: WebSocketStream<S>,
    /// What is left of the last binary message read.
    pending: Bytes,
}

impl<S> WsStream<S> {
    /// The byte stream of an upgraded WebSocket.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        WsStream {
            ws,
            pending: Bytes::new(),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(this.pending.get(..n).unwrap_or_default());
                this.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.pending = data,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a text message: MQTT over WebSockets uses binary messages only \
                         [MQTT-6.0.0-1]",
                    )));
                }
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let ws = &mut self.ws;
        ready!(Pin::new(&mut *ws).poll_ready(cx)).map_err(io::Error::other)?;
        Pin::new(ws)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(io::Error::other)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws)
            .poll_flush(cx)
            .map_err(io::Error::other)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Closing a WebSocket the peer already closed is not a failure.
        let _ = ready!(Pin::new(&mut self.ws).poll_close(cx));
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_presigned_for_iotdevicegateway_only_with_credentials() {
        let plain = WebSocketOptions::default();
        assert_eq!(target(&plain, "h:1", SystemTime::now()).unwrap(), "/mqtt");
        let signed = WebSocketOptions {
            signing: Some(SigV4Credentials {
                access_key_id: "test".into(),
                secret_access_key: "test".into(),
                session_token: Some("tok".into()),
                region: "eu-west-1".into(),
            }),
            ..WebSocketOptions::default()
        };
        let now = SystemTime::now();
        let url = target(&signed, "h:1", now).unwrap();
        assert!(
            url.contains("%2Feu-west-1%2Fiotdevicegateway%2Faws4_request"),
            "{url}"
        );
        assert!(url.ends_with("&X-Amz-Security-Token=tok"), "{url}");
        let mut headers = http::HeaderMap::new();
        headers.insert("host", http::HeaderValue::from_static("h:1"));
        let caller = sigv4::Verifier::new(Vec::new(), None)
            .verify_presigned("GET", &url, &headers, b"", now)
            .unwrap();
        assert_eq!(caller.session_token.as_deref(), Some("tok"));
        assert!(format!("{:?}", signed.signing).contains("test"));
        assert!(!format!("{:?}", signed.signing).contains("tok"));
    }
}
