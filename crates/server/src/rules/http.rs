//! The rules engine's HTTP client: one POST over plain TCP or TLS (OpenSSL, the system's
//! trusted roots, the host name checked), HTTP/1.1 through hyper, with a deadline, answering the
//! status and whether the answer was larger than AWS's retry limit. And AWS's retry policy for
//! the `http` action on top of it. It decides nothing about rules.

use std::time::{Duration, Instant};

use axum::http::{Request, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use openssl::ssl::{SslConnector, SslMethod};
use tokio::net::TcpStream;

/// How long one try may take (tether's choice: AWS documents a request timeout limit but not
/// its value; its own error text shows requests timing out after a few seconds).
pub(crate) const TRY_TIMEOUT: Duration = Duration::from_secs(3);

/// https-rule-action.md: "The maximum number of tries is three."
const MAX_TRIES: u32 = 3;

/// https-rule-action.md: no retry after "a response larger than 16,384 bytes".
const LARGE_RESPONSE: usize = 16_384;

/// What the endpoint answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// Whether the body was larger than 16,384 bytes.
    pub(crate) large: bool,
}

/// Why a try failed before an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TryError {
    /// No connection (refused, DNS, TLS): worth another try.
    Connect(String),
    /// The deadline passed.
    Timeout,
    /// The endpoint closed the connection or broke HTTP after the request was sent: AWS does
    /// not retry it.
    Closed(String),
}

impl std::fmt::Display for TryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TryError::Connect(e) => write!(f, "cannot connect: {e}"),
            TryError::Timeout => write!(f, "no answer within {} ms", TRY_TIMEOUT.as_millis()),
            TryError::Closed(e) => write!(f, "the endpoint closed the connection: {e}"),
        }
    }
}

/// POSTs `body` to `url` once.
pub(crate) async fn post(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Answer, TryError> {
    match tokio::time::timeout(TRY_TIMEOUT, post_once(url, headers, body)).await {
        Ok(result) => result,
        Err(_) => Err(TryError::Timeout),
    }
}

async fn post_once(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Answer, TryError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| TryError::Connect(format!("{url:?} is not a URL: {e}")))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => {
            return Err(TryError::Connect(format!(
                "{url:?} is neither an https:// nor an http:// URL"
            )));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| TryError::Connect(format!("{url:?} has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| TryError::Connect(format!("{host}:{port}: {e}")))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().map_or(host.clone(), ToString::to_string);
    let mut request = Request::post(path).header("host", authority);
    for (key, value) in headers {
        request = request.header(key.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| TryError::Connect(format!("a header of the request is not valid: {e}")))?;
    if https {
        let connector = SslConnector::builder(SslMethod::tls_client())
            .map_err(|e| TryError::Connect(format!("TLS setup: {e}")))?
            .build();
        let ssl = connector
            .configure()
            .and_then(|c| c.into_ssl(&host))
            .map_err(|e| TryError::Connect(format!("TLS setup for {host}: {e}")))?;
        let mut stream = tokio_openssl::SslStream::new(ssl, tcp)
            .map_err(|e| TryError::Connect(format!("TLS setup for {host}: {e}")))?;
        std::pin::Pin::new(&mut stream)
            .connect()
            .await
            .map_err(|e| TryError::Connect(format!("TLS handshake with {host}:{port}: {e}")))?;
        exchange(stream, request).await
    } else {
        exchange(tcp, request).await
    }
}

async fn exchange<S>(stream: S, request: Request<Full<Bytes>>) -> Result<Answer, TryError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| TryError::Connect(e.to_string()))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| TryError::Closed(e.to_string()))?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut size = 0usize;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                size += frame.data_ref().map_or(0, Bytes::len);
                if size > LARGE_RESPONSE {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Ok(Answer {
        status,
        large: size > LARGE_RESPONSE,
    })
}

/// POSTs with AWS's retries (https-rule-action.md, "HTTP action retry logic"): at least once,
/// at most three tries, a retry only after a 429 or 5xx answer or no answer at all, never after
/// a large answer or a connection the endpoint closed. `Ok` with the 2xx status, or `Err` with
/// what happened, in words for the errorAction.
pub(crate) async fn post_with_retries(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<u16, String> {
    let started = Instant::now();
    let mut last = String::new();
    for attempt in 1..=MAX_TRIES {
        let retry = match post(url, headers, body).await {
            Ok(answer) if (200..300).contains(&answer.status) => return Ok(answer.status),
            Ok(answer) => {
                last = format!("the endpoint answered HTTP {}", answer.status);
                (answer.status == 429 || answer.status >= 500) && !answer.large
            }
            Err(e) => {
                let retry = !matches!(e, TryError::Closed(_));
                last = e.to_string();
                retry
            }
        };
        if !retry || attempt == MAX_TRIES {
            return Err(format!(
                "HttpAction failed to make a request to the specified endpoint {url}: {last} \
                 (after {attempt} {} in {} ms)",
                if attempt == 1 { "try" } else { "tries" },
                started.elapsed().as_millis()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A receiver on 127.0.0.1:0 answering each request with the next status of `statuses`.
    async fn receiver(statuses: Vec<u16>) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/in", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let status = statuses.get(n).copied().unwrap_or(200);
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        (url, count)
    }

    #[tokio::test]
    async fn server_errors_are_retried_up_to_three_tries() {
        let (url, count) = receiver(vec![500, 503, 200]).await;
        assert_eq!(post_with_retries(&url, &[], b"{}").await, Ok(200));
        assert_eq!(count.load(Ordering::SeqCst), 3);
        let (url, count) = receiver(vec![500, 500, 500, 500]).await;
        let e = post_with_retries(&url, &[], b"{}").await.unwrap_err();
        assert!(e.contains("HTTP 500") && e.contains("3 tries"), "{e}");
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let (url, count) = receiver(vec![404]).await;
        let e = post_with_retries(&url, &[], b"{}").await.unwrap_err();
        assert!(e.contains("HTTP 404") && e.contains("1 try"), "{e}");
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_failure_with_the_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        drop(listener);
        let e = post_with_retries(&url, &[], b"").await.unwrap_err();
        assert!(e.contains("cannot connect"), "{e}");
    }
}
