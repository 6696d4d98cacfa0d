//! MQTT over WebSockets (MQTT 5 §6, MQTT 3.1.1 §6): the upgrade on `/mqtt` with the subprotocol
//! `mqtt`, done by `tokio-tungstenite` over the TLS stream, giving the client crate's
//! [`WsStream`] (one adapter for both ends), which turns the WebSocket's binary messages into
//! the byte stream the connection task reads, so MQTT over
//! WebSockets runs through the same `connection::serve` as MQTT over TLS. Packets may span
//! messages and a message may hold several packets ([MQTT-6.0.0-2]); each flush of the
//! connection leaves as one binary message. A text message closes the connection
//! ([MQTT-6.0.0-1]). It does not authenticate anyone (`web_auth.rs`).

use std::io;

pub use client::WsStream;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

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
    Ok(WsStream::new(ws))
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

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::protocol::Message;

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
