//! MQTT over WebSockets (MQTT 5 §6, MQTT 3.1.1 §6): the upgrade on `/mqtt` with the subprotocol
//! `mqtt`, done by `tokio-tungstenite` over the TLS stream, and [`WsStream`], which turns the
//! WebSocket's binary messages into the byte stream the connection task reads, so MQTT over
//! WebSockets runs through the same `connection::serve` as MQTT over TLS. Packets may span
//! messages and a message may hold several packets ([MQTT-6.0.0-2]); each flush of the
//! connection leaves as one binary message. A text message closes the connection
//! ([MQTT-6.0.0-1]). It does not authenticate anyone (`web_auth.rs`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::{Message, WebSocketConfig};

/// The path AWS IoT serves MQTT over WebSockets on.
pub const PATH: &str = "/mqtt";
/// The subprotocol MQTT over WebSockets uses ([MQTT-6.0.0-3]).
pub const SUBPROTOCOL: &str = "mqtt";

/// Whether a request asks for a WebSocket upgrade.
pub fn is_upgrade(headers: &http::HeaderMap) -> bool {
    headers
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Whether the client offers the `mqtt` subprotocol.
pub fn offers_mqtt(headers: &http::HeaderMap) -> bool {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL))
}

/// Completes the upgrade on `stream` (whose first bytes are the request, already read and put
/// back), selecting the `mqtt` subprotocol.
pub async fn accept<S>(stream: S, max_message: usize) -> io::Result<WsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(max_message);
    config.max_frame_size = Some(max_message);
    let ws = tokio_tungstenite::accept_hdr_async_with_config(stream, select_mqtt, Some(config))
        .await
        .map_err(io::Error::other)?;
    Ok(WsStream {
        ws,
        pending: Bytes::new(),
    })
}

/// The handshake's answer: the `mqtt` subprotocol selected (the request was checked before).
#[allow(clippy::result_large_err)] // tungstenite's callback type, refusing nothing here.
fn select_mqtt(_: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    response.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    Ok(response)
}

/// A WebSocket as a byte stream of MQTT: reads return the payloads of binary messages in
/// order, writes send binary messages.
#[derive(Debug)]
pub struct WsStream<S> {
    ws: WebSocketStream<S>,
    /// What is left of the last binary message read.
    pending: Bytes,
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
                // Pings are answered by the WebSocket layer itself; pongs and raw frames carry
                // nothing for MQTT.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a text message: MQTT over WebSockets uses binary messages only \
                         [MQTT-6.0.0-1]",
                    )));
                }
                // A close, or the end of the stream, is the end of the MQTT byte stream.
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
        match ready!(Pin::new(&mut self.ws).poll_close(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            // Closing a WebSocket the peer already closed is not a failure.
            Err(_) => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    use super::*;

    #[tokio::test]
    async fn binary_messages_become_a_byte_stream_and_writes_become_messages() {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move {
            let mut stream = accept(server_io, 1 << 20).await.unwrap();
            let mut got = vec![0u8; 6];
            stream.read_exact(&mut got).await.unwrap();
            stream.write_all(b"pong").await.unwrap();
            stream.flush().await.unwrap();
            let mut rest = Vec::new();
            let err = stream.read_to_end(&mut rest).await.unwrap_err();
            (got, err.to_string())
        });
        let mut request = "ws://localhost/mqtt".into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("mqtt"));
        let (mut client, response) = tokio_tungstenite::client_async(request, client_io)
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("sec-websocket-protocol").unwrap(),
            "mqtt"
        );
        // One packet split over two messages, as [MQTT-6.0.0-2] allows.
        client
            .send(Message::Binary(Bytes::from_static(b"\x10\x04")))
            .await
            .unwrap();
        client
            .send(Message::Binary(Bytes::from_static(b"abcd")))
            .await
            .unwrap();
        let answer = client.next().await.unwrap().unwrap();
        assert_eq!(answer, Message::Binary(Bytes::from_static(b"pong")));
        client.send(Message::Text("no".into())).await.unwrap();
        let (got, err) = server.await.unwrap();
        assert_eq!(got, b"\x10\x04abcd");
        assert!(err.contains("MQTT-6.0.0-1"), "{err}");
    }
}
