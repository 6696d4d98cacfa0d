//! Closing a connection the server ends with a reason (a DISCONNECT with a reason code, a
//! CONNACK that refuses) so that the client can read the reason. Closing a socket whose
//! receive buffer still holds unread bytes makes the kernel send a TCP reset instead of a
//! FIN, and a reset discards what the client had not yet read: a client still writing (a
//! burst past the server's Receive Maximum, a pipelined CONNECT) would see "connection reset"
//! and never the DISCONNECT 0x93 that explains it. So the server shuts down its write side
//! (TLS close_notify, then FIN), then reads and discards what the client still sends until it
//! closes too, for at most [`LINGER`]. MQTT 5 §4.13 asks the server to close the connection
//! after the DISCONNECT; it leaves how to the implementation. Connections that end because the
//! client left, or whose transport failed, close at once; nothing here decides who closes.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long the server reads what a client still sends after the server's DISCONNECT or
/// refusing CONNACK, waiting for the client's own close. Long enough for a client on a slow
/// link to read the reason and close; short enough that a client that never closes holds its
/// slot (it still counts against `--max-connections`) only briefly.
pub(super) const LINGER: Duration = Duration::from_secs(2);

/// Most bytes read and discarded while lingering: a client flooding the closing connection
/// gets a reset after this much, as it would without the linger.
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// Shuts down the write side of `stream`, then drains its input until the client closes, an
/// error, [`LINGER`] or [`LINGER_BYTES`], whichever comes first. Then the caller drops it.
pub(super) async fn close_gracefully<S>(stream: &mut S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let drain = async {
        if stream.shutdown().await.is_err() {
            return;
        }
        let mut scratch = vec![0u8; 4096];
        let mut drained = 0usize;
        while drained < LINGER_BYTES {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(n) => drained = drained.saturating_add(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpSocket, TcpStream};

    /// The scenario of the reset: the client writes more than the server reads, the server
    /// answers and closes. With the linger the client reads the answer after its write.
    #[tokio::test]
    async fn a_client_still_writing_reads_the_last_words() {
        // Small kernel buffers, so the burst below cannot fit in them and the client is still
        // writing when the server closes (as a client on a real link is).
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(16 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(8).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 16];
            socket.read_exact(&mut first).await.unwrap();
            socket.write_all(&[0xE0, 0x01, 0x93]).await.unwrap();
            close_gracefully(&mut socket).await;
        });
        let client = TcpSocket::new_v4().unwrap();
        client.set_send_buffer_size(16 * 1024).unwrap();
        let mut client = client.connect(addr).await.unwrap();
        // Far more than the server reads before it answers and than the buffers hold: the
        // write completes only because the server drains it (without that, it fails with a
        // reset and the client never reads the answer).
        let burst = vec![0xC0u8; 1024 * 1024];
        client.write_all(&burst).await.unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, [0xE0, 0x01, 0x93]);
        drop(client);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_silent_client_is_closed_after_the_linger() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (mut socket, _) = listener.accept().await.unwrap();
        let started = tokio::time::Instant::now();
        close_gracefully(&mut socket).await;
        let waited = started.elapsed();
        assert!(
            waited >= LINGER && waited < LINGER + Duration::from_secs(2),
            "{waited:?}"
        );
    }
}
