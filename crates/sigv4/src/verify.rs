//! Verifying incoming SigV4 requests: the request is rebuilt with exactly the headers the client
//! signed and its `x-amz-date`, signed again with the secret we hold, and the two signatures are
//! compared in constant time. A request without an `Authorization` header whose query carries
//! `X-Amz-Signature` is a presigned URL, verified by `presign.rs`. It does not decide what a
//! verified caller may do.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SigningSettings};
use aws_smithy_runtime_api::client::identity::Identity;
use http::HeaderMap;
use http::uri::PathAndQuery;

use crate::date::parse_amz_date;
use crate::error::SigV4Error;
use crate::sign::signature;
use crate::{ALGORITHM, DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY, SIGNING_NAMES};

/// Longest request target accepted (AWS front ends refuse URIs much past 8 KiB too).
pub(crate) const MAX_TARGET_LEN: usize = 8 * 1024;

/// AWS refuses signatures more than 15 minutes away from its clock.
pub(crate) const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Who signed a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Caller {
    /// The access key id.
    pub access_key_id: String,
    /// The region of the credential scope.
    pub region: String,
    /// The signing name of the credential scope.
    pub service: String,
    /// The session token of temporary credentials, when the request carried one.
    pub session_token: Option<String>,
}

/// Checks SigV4 signatures against a fixed set of credentials.
#[derive(Clone)]
pub struct Verifier {
    credentials: Vec<(String, String)>,
    dev_credential: bool,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs: only the access key ids are shown.
        let keys: Vec<&str> = self.credentials.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Verifier")
            .field("access_keys", &keys)
            .field("dev_credential", &self.dev_credential)
            .finish()
    }
}

impl Verifier {
    /// Accepts `configured` credentials (access key id, secret access key), plus the dev
    /// credential when `listener` is a loopback address (or absent, for in-process use).
    pub fn new(configured: Vec<(String, String)>, listener: Option<SocketAddr>) -> Verifier {
        Verifier {
            credentials: configured,
            dev_credential: listener.is_none_or(|addr| addr.ip().is_loopback()),
        }
    }

    /// Whether the dev credential `test`/`test` is accepted.
    pub fn accepts_dev_credential(&self) -> bool {
        self.dev_credential
    }

    /// Verifies one request. `path_and_query` is the request target exactly as received, `now`
    /// the clock the signature's date is checked against.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Caller, SigV4Error> {
        // Only origin-form targets ("/path?query") of a sane length are signed requests;
        // anything else would reach the signing library as an empty or over-long URI, which it
        // does not expect (it panics; both were found by the api_sigv4 fuzz target).
        if !path_and_query.starts_with('/')
            || path_and_query.len() > MAX_TARGET_LEN
            || path_and_query.parse::<PathAndQuery>().is_err()
        {
            return Err(SigV4Error::BadTarget);
        }
        let Some(authorization) = headers.get("authorization") else {
            if crate::presign::is_presigned(path_and_query) {
                return self.verify_presigned(method, path_and_query, headers, body, now);
            }
            return Err(SigV4Error::MissingAuthentication);
        };
        let authorization = authorization
            .to_str()
            .map_err(|_| SigV4Error::AuthorizationNotAscii)?;
        let parsed = Authorization::parse(authorization)?;
        if !SIGNING_NAMES.contains(&parsed.service) {
            return Err(SigV4Error::WrongService {
                service: parsed.service.to_owned(),
            });
        }
        // aws-sigv4 would take the host from the URI, which an origin-form request lacks.
        if headers.get("host").is_none() {
            return Err(SigV4Error::MissingHost);
        }
        let secret = self.secret_of(parsed.access_key_id)?;
        let date_text = header_text(headers, "x-amz-date")?.ok_or(SigV4Error::MissingDate)?;
        let time = parse_amz_date(date_text).ok_or_else(|| SigV4Error::MalformedDate {
            date: date_text.to_owned(),
        })?;
        let skew = now
            .duration_since(time)
            .or_else(|_| time.duration_since(now))
            .unwrap_or(Duration::MAX);
        if skew > MAX_SKEW {
            return Err(SigV4Error::SignatureExpired {
                date: date_text.to_owned(),
            });
        }

        let mut signed: Vec<(&str, &str)> = Vec::new();
        let mut session_token = None;
        for name in &parsed.signed_headers {
            for value in headers.get_all(*name) {
                let value = value
                    .to_str()
                    .map_err(|_| SigV4Error::SignedHeaderNotAscii {
                        name: (*name).to_owned(),
                    })?;
                if *name == "x-amz-security-token" {
                    session_token = Some(value.to_owned());
                }
                signed.push((name, value));
            }
        }
        let unsigned_payload = headers
            .get("x-amz-content-sha256")
            .is_some_and(|v| v.as_bytes() == b"UNSIGNED-PAYLOAD");
        let body = if unsigned_payload {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(body)
        };
        let identity: Identity = Credentials::new(
            parsed.access_key_id,
            secret,
            session_token.clone(),
            None,
            "tether-api",
        )
        .into();
        // Sign exactly the headers the client signed, nothing else.
        let mut settings = SigningSettings::default();
        settings.excluded_headers = None;
        let expected = signature(
            &identity,
            parsed.region,
            parsed.service,
            time,
            settings,
            method,
            path_and_query,
            signed.into_iter(),
            body,
        )
        .map_err(|e| SigV4Error::Unverifiable { cause: e.0 })?;
        let given = parsed.signature.as_bytes();
        if expected.len() != given.len() || !openssl::memcmp::eq(expected.as_bytes(), given) {
            return Err(SigV4Error::SignatureMismatch);
        }
        Ok(Caller {
            access_key_id: parsed.access_key_id.to_owned(),
            region: parsed.region.to_owned(),
            service: parsed.service.to_owned(),
            session_token,
        })
    }

    pub(crate) fn secret_of(&self, access_key_id: &str) -> Result<&str, SigV4Error> {
        if let Some((_, secret)) = self.credentials.iter().find(|(k, _)| k == access_key_id) {
            return Ok(secret);
        }
        if access_key_id == DEV_ACCESS_KEY_ID {
            if self.dev_credential {
                return Ok(DEV_SECRET_ACCESS_KEY);
            }
            return Err(SigV4Error::DevCredentialOffLoopback);
        }
        Err(SigV4Error::UnrecognizedAccessKey {
            access_key_id: access_key_id.to_owned(),
        })
    }
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    access_key_id: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

impl<'a> Authorization<'a> {
    fn parse(text: &'a str) -> Result<Authorization<'a>, SigV4Error> {
        let rest = text
            .strip_prefix(ALGORITHM)
            .filter(|r| r.starts_with(' '))
            .ok_or_else(|| SigV4Error::WrongAlgorithm {
                got: text.split(' ').next().unwrap_or_default().to_owned(),
            })?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            match part.trim().split_once('=') {
                Some(("Credential", v)) => credential = Some(v),
                Some(("SignedHeaders", v)) => signed = Some(v),
                Some(("Signature", v)) => signature = Some(v),
                _ => {}
            }
        }
        let missing = |name| SigV4Error::MissingParameter { name };
        let credential = credential.ok_or_else(|| missing("Credential"))?;
        let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
        let signature = signature.ok_or_else(|| missing("Signature"))?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key_id, _date, region, service, "aws4_request"] = scope.as_slice() else {
            return Err(SigV4Error::MalformedCredential {
                credential: credential.to_owned(),
            });
        };
        let signed_headers: Vec<&str> = signed.split(';').filter(|h| !h.is_empty()).collect();
        if !signed_headers.contains(&"host") {
            return Err(SigV4Error::HostNotSigned);
        }
        Ok(Authorization {
            access_key_id,
            region,
            service,
            signed_headers,
            signature,
        })
    }
}

fn header_text<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h str>, SigV4Error> {
    headers
        .get(name)
        .map(|v| v.to_str().map_err(|_| SigV4Error::HeaderNotAscii { name }))
        .transpose()
}

#[cfg(test)]
mod tests {
    use http::{HeaderName, HeaderValue};

    use super::*;
    use crate::sign::{SigningKey, sign_request};

    #[test]
    fn a_target_that_is_not_a_path_is_refused_not_signed() {
        // Found by the fuzz target: a relative target reached the signing library as an
        // empty path and made it panic.
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:4580"));
        let err = Verifier::new(Vec::new(), None)
            .verify("GET", "things?x=1", &headers, b"", SystemTime::UNIX_EPOCH)
            .unwrap_err();
        assert!(
            err.to_string().contains("is not a path of at most"),
            "{err:?}"
        );
        let long = format!("/things?{}", "a=b&".repeat(3000));
        assert!(
            Verifier::new(Vec::new(), None)
                .verify("GET", &long, &headers, b"", SystemTime::UNIX_EPOCH)
                .is_err()
        );
        assert!(!crate::fuzz::verify(include_bytes!(
            "../../../fuzz/corpus/api_sigv4/regression-relative-target"
        )));
    }

    const BODY: &[u8] = br#"{"policyDocument":"{}"}"#;

    fn key<'a>(secret: &'a str, service: &'a str) -> SigningKey<'a> {
        SigningKey::new("test", secret, "us-east-1", service)
    }

    /// Headers of a request as received: `base` plus what signing added, plus `user-agent`
    /// (an unsigned header, as clients send).
    fn received(base: Vec<(String, String)>, added: Vec<(String, String)>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in base.into_iter().chain(added) {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(&v).unwrap(),
            );
        }
        headers.insert("user-agent", HeaderValue::from_static("aws-cli/1.0"));
        headers
    }

    /// A request to `POST /policies/p%3A1?x=1` signed with `secret`, as received.
    fn signed(secret: &str, service: &str, body: &[u8], time: SystemTime) -> HeaderMap {
        let base = vec![
            ("host".to_owned(), "127.0.0.1:4580".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        let added = sign_request(
            &key(secret, service),
            "POST",
            "/policies/p%3A1?x=1",
            &base,
            body,
            time,
        )
        .unwrap();
        received(base, added)
    }

    fn loopback() -> Verifier {
        Verifier::new(Vec::new(), Some("127.0.0.1:4580".parse().unwrap()))
    }

    fn now() -> SystemTime {
        SystemTime::now()
    }

    #[test]
    fn a_good_signature_verifies() {
        for service in SIGNING_NAMES {
            let headers = signed("test", service, BODY, now());
            let caller = loopback()
                .verify("POST", "/policies/p%3A1?x=1", &headers, BODY, now())
                .unwrap();
            assert_eq!(caller.access_key_id, "test");
            assert_eq!(caller.service, service);
        }
    }

    #[test]
    fn a_session_token_is_signed_and_verified() {
        let base = vec![("host".to_owned(), "127.0.0.1:4580".to_owned())];
        let signing = key("test", "iot").with_session_token("FwoGZXIvYXdzE-token");
        let added = sign_request(&signing, "GET", "/things", &base, b"", now()).unwrap();
        assert!(
            added
                .iter()
                .any(|(k, v)| k == "x-amz-security-token" && v == "FwoGZXIvYXdzE-token"),
            "{added:?}"
        );
        let mut headers = received(base, added);
        loopback()
            .verify("GET", "/things", &headers, b"", now())
            .unwrap();
        headers.insert("x-amz-security-token", HeaderValue::from_static("other"));
        let e = loopback()
            .verify("GET", "/things", &headers, b"", now())
            .unwrap_err();
        assert_eq!(e, SigV4Error::SignatureMismatch);
    }

    #[test]
    fn a_tampered_body_path_or_method_is_refused() {
        let headers = signed("test", "iot", BODY, now());
        let verifier = loopback();
        for (method, path, body) in [
            (
                "POST",
                "/policies/p%3A1?x=1",
                &br#"{"policyDocument":"{ }"}"#[..],
            ),
            ("POST", "/policies/p%3A2?x=1", BODY),
            ("POST", "/policies/p%3A1?x=2", BODY),
            ("PUT", "/policies/p%3A1?x=1", BODY),
        ] {
            let e = verifier
                .verify(method, path, &headers, body, now())
                .unwrap_err();
            assert_eq!(
                e.exception(),
                "InvalidSignatureException",
                "{method} {path}"
            );
            assert_eq!(e.status().as_u16(), 403);
            assert!(
                e.to_string()
                    .starts_with("The request signature we calculated")
            );
        }
    }

    #[test]
    fn a_wrong_secret_is_refused_with_403() {
        let headers = signed("not-the-secret", "iot", BODY, now());
        let e = loopback()
            .verify("POST", "/policies/p%3A1?x=1", &headers, BODY, now())
            .unwrap_err();
        assert_eq!(e.exception(), "InvalidSignatureException");
        assert_eq!(e.status().as_u16(), 403);
    }

    #[test]
    fn configured_credentials_verify_and_unknown_keys_are_unrecognized() {
        let verifier = Verifier::new(
            vec![("AKIDEXAMPLE".into(), "s3cret".into())],
            Some("0.0.0.0:4580".parse().unwrap()),
        );
        let base = vec![("host".to_owned(), "h:1".to_owned())];
        let signing = SigningKey::new("AKIDEXAMPLE", "s3cret", "eu-west-1", "iot");
        let added = sign_request(&signing, "GET", "/things", &base, b"", now()).unwrap();
        let mut headers = HeaderMap::new();
        for (k, v) in base.into_iter().chain(added) {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(&v).unwrap(),
            );
        }
        let caller = verifier
            .verify("GET", "/things", &headers, b"", now())
            .unwrap();
        assert_eq!(caller.region, "eu-west-1");

        let other = Verifier::new(Vec::new(), Some("127.0.0.1:1".parse().unwrap()));
        let e = other
            .verify("GET", "/things", &headers, b"", now())
            .unwrap_err();
        assert_eq!(e.exception(), "UnrecognizedClientException");
    }

    #[test]
    fn the_dev_credential_is_refused_on_a_non_loopback_listener() {
        let headers = signed("test", "iot", BODY, now());
        for addr in ["0.0.0.0:4580", "192.168.1.10:4580", "[::]:4580"] {
            let verifier = Verifier::new(Vec::new(), Some(addr.parse().unwrap()));
            assert!(!verifier.accepts_dev_credential());
            let e = verifier
                .verify("POST", "/policies/p%3A1?x=1", &headers, BODY, now())
                .unwrap_err();
            assert_eq!(e.exception(), "UnrecognizedClientException", "{addr}");
            assert_eq!(e.status().as_u16(), 403);
            assert!(e.to_string().contains("loopback"), "{e}");
        }
        assert!(
            Verifier::new(Vec::new(), Some("[::1]:1".parse().unwrap())).accepts_dev_credential()
        );
    }

    #[test]
    fn old_signatures_and_other_services_are_refused() {
        let an_hour_ago = now() - Duration::from_secs(3600);
        let headers = signed("test", "iot", BODY, an_hour_ago);
        let e = loopback()
            .verify("POST", "/policies/p%3A1?x=1", &headers, BODY, now())
            .unwrap_err();
        assert!(e.to_string().starts_with("Signature expired"), "{e}");

        let headers = signed("test", "s3", BODY, now());
        let e = loopback()
            .verify("POST", "/policies/p%3A1?x=1", &headers, BODY, now())
            .unwrap_err();
        assert!(e.to_string().contains("correct service"), "{e}");
    }

    #[test]
    fn unsigned_and_malformed_requests_are_refused() {
        let e = loopback()
            .verify("GET", "/things", &HeaderMap::new(), b"", now())
            .unwrap_err();
        assert_eq!(e.exception(), "MissingAuthenticationTokenException");
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Basic dGVzdA=="));
        let e = loopback()
            .verify("GET", "/things", &headers, b"", now())
            .unwrap_err();
        assert_eq!(e.exception(), "IncompleteSignatureException");
        headers.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/iot"),
        );
        let e = loopback()
            .verify("GET", "/things", &headers, b"", now())
            .unwrap_err();
        assert_eq!(e.exception(), "IncompleteSignatureException");
    }

    #[test]
    fn a_presigned_api_request_is_verified_from_its_query() {
        let now = now();
        let key = key("test", "iot");
        let target = crate::presign_url(
            &key,
            "GET",
            "127.0.0.1:4580",
            "/things",
            Duration::from_secs(60),
            now,
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:4580"));
        let caller = loopback()
            .verify("GET", &target, &headers, b"", now)
            .unwrap();
        assert_eq!(caller.service, "iot");
        let e = loopback()
            .verify("GET", "/mqtt?X-Amz-Signature=ab", &headers, b"", now)
            .unwrap_err();
        assert_eq!(e.exception(), "IncompleteSignatureException");
    }

    #[test]
    fn a_request_without_host_is_refused_not_a_panic() {
        let mut headers = signed("test", "iot", BODY, now());
        headers.remove("host");
        let e = loopback()
            .verify("POST", "/policies/p%3A1?x=1", &headers, BODY, now())
            .unwrap_err();
        assert_eq!(e.exception(), "IncompleteSignatureException");
    }

    #[test]
    fn refusals_keep_their_exact_words_and_exceptions() {
        // These texts reach AWS CLI and boto3 users; they must not drift.
        let cases = [
            (
                SigV4Error::BadTarget,
                "IncompleteSignatureException",
                "the request target is not a path of at most 8192 bytes; send requests to \
                 http://HOST:PORT/...",
            ),
            (
                SigV4Error::MissingAuthentication,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token: sign requests with SigV4 (the AWS CLI and SDKs \
                 do this when credentials are configured)",
            ),
            (
                SigV4Error::QueryParameterMissing {
                    name: "X-Amz-Credential",
                },
                "IncompleteSignatureException",
                "AWS query-string parameters must include 'X-Amz-Credential'. Re-examine the \
                 query-string parameters.",
            ),
            (
                SigV4Error::PresignedUrlExpired {
                    date: "20240101T000000Z".into(),
                    expires: 60,
                    now: "20240101T000200Z".into(),
                    age_secs: 120,
                },
                "InvalidSignatureException",
                "Signature expired: 20240101T000000Z + 60 s is now earlier than \
                 20240101T000200Z; the URL was signed 120 s ago: presign a new one, or check the \
                 client's clock",
            ),
            (
                SigV4Error::SignatureNotYetCurrent {
                    date: "20240101T010000Z".into(),
                    limit: "20240101T001500Z".into(),
                    now: "20240101T000000Z".into(),
                    skew_secs: 3600,
                },
                "InvalidSignatureException",
                "Signature not yet current: 20240101T010000Z is still later than \
                 20240101T001500Z (20240101T000000Z + 15 min.); the client's clock is 3600 s \
                 ahead of the server's: set it right",
            ),
            (
                SigV4Error::AuthorizationNotAscii,
                "IncompleteSignatureException",
                "the Authorization header is not printable ASCII",
            ),
            (
                SigV4Error::WrongAlgorithm {
                    got: "Basic".into(),
                },
                "IncompleteSignatureException",
                "Authorization header must use AWS4-HMAC-SHA256 (SigV4); got \"Basic\"",
            ),
            (
                SigV4Error::MissingParameter {
                    name: "SignedHeaders",
                },
                "IncompleteSignatureException",
                "Authorization header requires 'SignedHeaders' parameter",
            ),
            (
                SigV4Error::MalformedCredential {
                    credential: "test/x".into(),
                },
                "IncompleteSignatureException",
                "Credential \"test/x\" must be AKID/yyyymmdd/region/service/aws4_request",
            ),
            (
                SigV4Error::HostNotSigned,
                "InvalidSignatureException",
                "SignedHeaders must include host",
            ),
            (
                SigV4Error::WrongService {
                    service: "s3".into(),
                },
                "InvalidSignatureException",
                "Credential should be scoped to correct service: 'iot' (or 'iotdata' / \
                 'iotdevicegateway' for the data plane, 'iot-jobs-data' for the Jobs device \
                 plane), not 's3'",
            ),
            (
                SigV4Error::MissingHost,
                "IncompleteSignatureException",
                "the request has no Host header; SigV4 signs it",
            ),
            (
                SigV4Error::UnrecognizedAccessKey {
                    access_key_id: "AKID".into(),
                },
                "UnrecognizedClientException",
                "The security token included in the request is invalid: access key AKID is not \
                 configured on this tether",
            ),
            (
                SigV4Error::DevCredentialOffLoopback,
                "UnrecognizedClientException",
                "The security token included in the request is invalid: the development \
                 credential 'test' is accepted only while the API listens on a loopback \
                 address; configure API credentials for a non-loopback --api address",
            ),
            (
                SigV4Error::HeaderNotAscii { name: "x-amz-date" },
                "IncompleteSignatureException",
                "header x-amz-date is not printable ASCII",
            ),
            (
                SigV4Error::MissingDate,
                "IncompleteSignatureException",
                "the request has no X-Amz-Date header; SigV4 requests must carry one",
            ),
            (
                SigV4Error::MalformedDate {
                    date: "2024".into(),
                },
                "IncompleteSignatureException",
                "X-Amz-Date \"2024\" is not in the form 20240131T235959Z",
            ),
            (
                SigV4Error::SignatureExpired {
                    date: "20240101T000000Z".into(),
                },
                "InvalidSignatureException",
                "Signature expired: 20240101T000000Z is more than 15 minutes away from the \
                 server's time; check the client's clock",
            ),
            (
                SigV4Error::SignedHeaderNotAscii {
                    name: "x-custom".into(),
                },
                "InvalidSignatureException",
                "signed header x-custom is not printable ASCII",
            ),
            (
                SigV4Error::Unverifiable {
                    cause: "bad".into(),
                },
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details. (bad)",
            ),
            (
                SigV4Error::SignatureMismatch,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details.",
            ),
        ];
        for (error, exception, message) in cases {
            assert_eq!(error.to_string(), message);
            assert_eq!(error.exception(), exception, "{error:?}");
            assert_eq!(error.status().as_u16(), 403);
        }
    }
}
