//! The few control-plane calls [`TestServer::device`](crate::TestServer::device) makes, sent
//! the way the AWS SDKs send them: SigV4-signed (`sigv4`) HTTP/1.1 over hyper to the server's
//! API on loopback, labels percent-encoded as the SDKs encode them, AWS's error shape
//! (`x-amzn-ErrorType` and a JSON `message`) read back into [`Error::Api`]. One connection per
//! call, no retries, no TLS: it talks to a local test server, not to AWS.

use std::net::SocketAddr;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::Error;

/// What the SDKs leave unencoded in URI labels and query values.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One control-plane call.
#[derive(Debug)]
pub(crate) struct Call {
    method: http::Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Call {
    /// A call to the path made of `labels`, each encoded as one segment.
    pub(crate) fn new(method: http::Method, labels: &[&str]) -> Call {
        let path = labels
            .iter()
            .map(|l| format!("/{}", utf8_percent_encode(l, UNRESERVED)))
            .collect();
        Call {
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a query parameter.
    pub(crate) fn query(mut self, name: &str, value: &str) -> Call {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a JSON body.
    pub(crate) fn json(mut self, body: &Value) -> Call {
        self.body = body.to_string().into_bytes();
        self.headers
            .push(("content-type".to_owned(), "application/json".to_owned()));
        self
    }

    /// `POST /things/x`, for messages.
    fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn path_and_query(&self) -> String {
        let mut query = self.query.clone();
        query.sort();
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, UNRESERVED),
                    utf8_percent_encode(v, UNRESERVED)
                )
            })
            .collect();
        if query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, query.join("&"))
        }
    }
}

/// Who signs, and for which region.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) region: String,
}

/// Sends `call` to the API at `addr` signed for the control plane (`iot`); the JSON answer
/// (`{}` when empty) or AWS's error.
pub(crate) async fn call(addr: SocketAddr, signer: &Signer, call: Call) -> Result<Value, Error> {
    let operation = call.describe();
    let transport = |reason: String| Error::Http {
        operation: operation.clone(),
        reason,
    };
    let host = addr.to_string();
    let path_and_query = call.path_and_query();
    let mut headers = vec![("host".to_owned(), host)];
    headers.extend(call.headers.iter().cloned());
    let key = sigv4::SigningKey::new(
        &signer.access_key_id,
        &signer.secret_access_key,
        &signer.region,
        "iot",
    );
    let signature = sigv4::sign_request(
        &key,
        call.method.as_str(),
        &path_and_query,
        &headers,
        &call.body,
        SystemTime::now(),
    )
    .map_err(|e| transport(format!("cannot sign the request: {e}")))?;
    headers.extend(signature);

    let mut request = http::Request::builder()
        .method(call.method.clone())
        .uri(&path_and_query);
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(call.body)))
        .map_err(|e| transport(format!("cannot build the request: {e}")))?;

    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| transport(format!("cannot connect to the API at {addr}: {e}")))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| transport(format!("HTTP handshake with {addr}: {e}")))?;
    let connection = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| transport(format!("no answer from {addr}: {e}")))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| transport(format!("reading the answer: {e}")))?
        .to_bytes();
    drop(sender);
    let _ = connection.await;

    if !parts.status.is_success() {
        return Err(aws_error(operation, parts.status, &parts.headers, &body));
    }
    if body.is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(&body).map_err(|e| Error::Http {
        operation,
        reason: format!("the answer is not JSON ({e})"),
    })
}

/// AWS's error answer: the exception from `x-amzn-ErrorType` (or `__type`), the `message`.
fn aws_error(
    operation: String,
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Error {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = parsed
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let kind = headers
        .get("x-amzn-ErrorType")
        .and_then(|v| v.to_str().ok())
        .or_else(|| parsed.get("__type").and_then(Value::as_str))
        .map(|kind| kind.split(':').next().unwrap_or(kind).to_owned())
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    Error::Api {
        operation,
        status: status.as_u16(),
        kind,
        message,
    }
}

/// A string field of an answer, or an error naming the call and the field.
pub(crate) fn text(answer: &Value, field: &str, operation: &str) -> Result<String, Error> {
    let mut value = answer;
    for part in field.split('.') {
        value = value.get(part).unwrap_or(&Value::Null);
    }
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::Http {
            operation: operation.to_owned(),
            reason: format!("the answer has no string {field}: {answer}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_query_values_are_encoded_like_the_sdks() {
        let call = Call::new(http::Method::PUT, &["things", "a b/c", "principals"])
            .query("z", "x y")
            .query("a", "1");
        assert_eq!(
            call.path_and_query(),
            "/things/a%20b%2Fc/principals?a=1&z=x%20y"
        );
        assert_eq!(call.describe(), "PUT /things/a%20b%2Fc/principals");
    }

    #[test]
    fn aws_errors_keep_the_exception_name_and_message() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-amzn-ErrorType",
            http::HeaderValue::from_static("ResourceAlreadyExistsException:http://internal"),
        );
        let err = aws_error(
            "POST /policies/p".to_owned(),
            http::StatusCode::CONFLICT,
            &headers,
            br#"{"message":"Policy p already exists"}"#,
        );
        let Error::Api {
            kind,
            message,
            status,
            ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(kind, "ResourceAlreadyExistsException");
        assert_eq!(message, "Policy p already exists");
        assert_eq!(*status, 409);
        assert!(err.to_string().contains("POST /policies/p"), "{err}");
    }

    #[test]
    fn nested_text_fields_are_found_or_named() {
        let answer = serde_json::json!({"keyPair": {"PrivateKey": "k"}});
        assert_eq!(text(&answer, "keyPair.PrivateKey", "op").unwrap(), "k");
        let err = text(&answer, "certificateArn", "op")
            .unwrap_err()
            .to_string();
        assert!(err.contains("certificateArn"), "{err}");
    }
}
