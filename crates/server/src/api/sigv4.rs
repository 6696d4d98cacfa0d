//! SigV4 for the HTTP API: verifying incoming requests against the configured credentials, and
//! signing outgoing ones (for `tether device` and tests). Both go through the `aws-sigv4` crate:
//! to verify, the request is rebuilt with exactly the headers the client signed and its
//! `x-amz-date`, signed again with the secret we hold, and the two signatures are compared in
//! constant time. It does not hand-roll the HMAC chain, and does not support presigned URLs
//! (query-string signatures) or SigV4a.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::http::HeaderMap;

use super::error::ApiError;

/// Longest request target accepted (AWS front ends refuse URIs much past 8 KiB too).
const MAX_TARGET_LEN: usize = 8 * 1024;
/// The documented development credential, accepted only while the API listens on loopback.
pub const DEV_ACCESS_KEY_ID: &str = "test";
/// Secret of [`DEV_ACCESS_KEY_ID`].
pub const DEV_SECRET_ACCESS_KEY: &str = "test";

/// Signing names accepted: the control plane (`iot`), the data plane as botocore names it
/// (`iotdata`) and as AWS's documentation names it (`iotdevicegateway`).
pub const SIGNING_NAMES: [&str; 3] = ["iot", "iotdata", "iotdevicegateway"];

/// AWS refuses signatures more than 15 minutes away from its clock.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// AWS's words for a signature that does not match.
const MISMATCH: &str = "The request signature we calculated does not match the signature you \
     provided. Check your AWS Secret Access Key and signing method. Consult the service \
     documentation for details.";

/// Who signed a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The access key id.
    pub access_key_id: String,
    /// The region of the credential scope.
    pub region: String,
    /// The signing name of the credential scope.
    pub service: String,
}

/// Checks SigV4 signatures against a fixed set of credentials.
#[derive(Clone)]
pub struct Verifier {
    credentials: Vec<(String, String)>,
    dev_credential: bool,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.credentials.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Verifier")
            .field("access_keys", &keys)
            .field("dev_credential", &self.dev_credential)
            .finish()
    }
}

impl Verifier {
    /// Accepts `configured` credentials, plus the dev credential when `listener` is a loopback
    /// address (or absent, for in-process use).
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

    /// Verifies one request. `path_and_query` is the request target exactly as received.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Caller, ApiError> {
        // Only origin-form targets ("/path?query") of a sane length are signed requests;
        // anything else would reach the signing library as an empty or over-long URI, which it
        // does not expect (it panics; both were found by the api_sigv4 fuzz target).
        if !path_and_query.starts_with('/')
            || path_and_query.len() > MAX_TARGET_LEN
            || path_and_query
                .parse::<axum::http::uri::PathAndQuery>()
                .is_err()
        {
            return Err(ApiError::incomplete_signature(format!(
                "the request target is not a path of at most {MAX_TARGET_LEN} bytes; send \
                 requests to http://HOST:PORT/..."
            )));
        }
        let Some(authorization) = headers.get("authorization") else {
            if path_and_query.contains("X-Amz-Signature=") {
                return Err(ApiError::incomplete_signature(
                    "tether does not accept presigned URLs (query-string signatures); sign the \
                     Authorization header",
                ));
            }
            return Err(ApiError::missing_authentication(
                "Missing Authentication Token: sign requests with SigV4 (the AWS CLI and SDKs do \
                 this when credentials are configured)",
            ));
        };
        let authorization = authorization.to_str().map_err(|_| {
            ApiError::incomplete_signature("the Authorization header is not printable ASCII")
        })?;
        let parsed = Authorization::parse(authorization)?;
        if !SIGNING_NAMES.contains(&parsed.service) {
            return Err(ApiError::invalid_signature(format!(
                "Credential should be scoped to correct service: 'iot' (or 'iotdata' / \
                 'iotdevicegateway' for the data plane), not '{}'",
                parsed.service
            )));
        }
        // aws-sigv4 would take the host from the URI, which an origin-form request lacks.
        if headers.get("host").is_none() {
            return Err(ApiError::incomplete_signature(
                "the request has no Host header; SigV4 signs it",
            ));
        }
        let secret = self.secret_of(parsed.access_key_id)?;
        let date_text = header_text(headers, "x-amz-date")?.ok_or_else(|| {
            ApiError::incomplete_signature(
                "the request has no X-Amz-Date header; SigV4 requests must carry one",
            )
        })?;
        let time = parse_amz_date(date_text).ok_or_else(|| {
            ApiError::incomplete_signature(format!(
                "X-Amz-Date {date_text:?} is not in the form 20240131T235959Z"
            ))
        })?;
        let skew = now
            .duration_since(time)
            .or_else(|_| time.duration_since(now))
            .unwrap_or(Duration::MAX);
        if skew > MAX_SKEW {
            return Err(ApiError::invalid_signature(format!(
                "Signature expired: {date_text} is more than 15 minutes away from the server's \
                 time; check the client's clock"
            )));
        }

        let mut signed: Vec<(&str, &str)> = Vec::new();
        let mut session_token = None;
        for name in &parsed.signed_headers {
            for value in headers.get_all(*name) {
                let value = value.to_str().map_err(|_| {
                    ApiError::invalid_signature(format!(
                        "signed header {name} is not printable ASCII"
                    ))
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
            session_token,
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
        .map_err(|e| ApiError::invalid_signature(format!("{MISMATCH} ({e})")))?;
        let given = parsed.signature.as_bytes();
        if expected.len() != given.len() || !openssl::memcmp::eq(expected.as_bytes(), given) {
            return Err(ApiError::invalid_signature(MISMATCH));
        }
        Ok(Caller {
            access_key_id: parsed.access_key_id.to_owned(),
            region: parsed.region.to_owned(),
            service: parsed.service.to_owned(),
        })
    }

    fn secret_of(&self, access_key_id: &str) -> Result<&str, ApiError> {
        if let Some((_, secret)) = self.credentials.iter().find(|(k, _)| k == access_key_id) {
            return Ok(secret);
        }
        if access_key_id == DEV_ACCESS_KEY_ID {
            if self.dev_credential {
                return Ok(DEV_SECRET_ACCESS_KEY);
            }
            return Err(ApiError::unrecognized_client(
                "The security token included in the request is invalid: the development \
                 credential 'test' is accepted only while the API listens on a loopback address; \
                 configure API credentials for a non-loopback --api address",
            ));
        }
        Err(ApiError::unrecognized_client(format!(
            "The security token included in the request is invalid: access key {access_key_id} \
             is not configured on this tether"
        )))
    }
}

/// Fuzz entry: runs the verifier on a request described by `data`, lines `METHOD`,
/// `PATH?QUERY`, `Authorization` value, `X-Amz-Date` value, then the body (host
/// `127.0.0.1:4580`, dev credential, a fixed clock). Returns whether it verified; it must never
/// panic, whatever the bytes.
pub fn fuzz_verify(data: &[u8]) -> bool {
    let mut parts = data.splitn(5, |b| *b == b'\n');
    let mut next = || parts.next().unwrap_or_default();
    let (method, target, authorization, date, body) = (next(), next(), next(), next(), next());
    let (Ok(method), Ok(target)) = (std::str::from_utf8(method), std::str::from_utf8(target))
    else {
        return false;
    };
    if target.parse::<axum::http::Uri>().is_err() {
        return false;
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        axum::http::HeaderValue::from_static("127.0.0.1:4580"),
    );
    for (name, value) in [("authorization", authorization), ("x-amz-date", date)] {
        if let Ok(value) = axum::http::HeaderValue::from_bytes(value) {
            headers.insert(name, value);
        }
    }
    let now = parse_amz_date("20240101T000000Z").unwrap_or(UNIX_EPOCH);
    Verifier::new(Vec::new(), None)
        .verify(method, target, &headers, body, now)
        .is_ok()
}

/// What a client needs to sign a request.
#[derive(Debug, Clone)]
pub struct SigningKey<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Region of the credential scope.
    pub region: &'a str,
    /// Signing name (`iot` or `iotdata`).
    pub service: &'a str,
}

/// Signs a request the way the AWS SDKs do (every given header signed, `x-amz-date` added) and
/// returns the headers to add: `authorization` and `x-amz-date`. `headers` must include `host`.
pub fn sign_request(
    key: &SigningKey<'_>,
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity: Identity = Credentials::new(
        key.access_key_id,
        key.secret_access_key,
        None,
        None,
        "tether-client",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(key.region)
        .name(key.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let request = SignableRequest::new(
        method,
        path_and_query,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn signature<'a>(
    identity: &'a Identity,
    region: &'a str,
    service: &'a str,
    time: SystemTime,
    settings: SigningSettings,
    method: &'a str,
    path_and_query: &'a str,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    body: SignableBody<'a>,
) -> Result<String, String> {
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let request = SignableRequest::new(method, Cow::Borrowed(path_and_query), headers, body)
        .map_err(|e| e.to_string())?;
    let output = sign(request, &params).map_err(|e| e.to_string())?;
    Ok(output.signature().to_owned())
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
    fn parse(text: &'a str) -> Result<Authorization<'a>, ApiError> {
        let rest = text
            .strip_prefix(ALGORITHM)
            .filter(|r| r.starts_with(' '))
            .ok_or_else(|| {
                ApiError::incomplete_signature(format!(
                    "Authorization header must use {ALGORITHM} (SigV4); got {:?}",
                    text.split(' ').next().unwrap_or_default()
                ))
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
        let missing = |what: &str| {
            ApiError::incomplete_signature(format!(
                "Authorization header requires '{what}' parameter"
            ))
        };
        let credential = credential.ok_or_else(|| missing("Credential"))?;
        let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
        let signature = signature.ok_or_else(|| missing("Signature"))?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key_id, _date, region, service, "aws4_request"] = scope.as_slice() else {
            return Err(ApiError::incomplete_signature(format!(
                "Credential {credential:?} must be AKID/yyyymmdd/region/service/aws4_request"
            )));
        };
        let signed_headers: Vec<&str> = signed.split(';').filter(|h| !h.is_empty()).collect();
        if !signed_headers.contains(&"host") {
            return Err(ApiError::invalid_signature(
                "SignedHeaders must include host",
            ));
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

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::incomplete_signature(format!("header {name} is not printable ASCII"))
            })
        })
        .transpose()
}

/// Parses `20240131T235959Z`.
pub fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes.get(8) != Some(&b'T') || bytes.get(15) != Some(&b'Z') {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = text.get(from..to)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    let (hour, minute, second) = (num(9, 11)?, num(11, 13)?, num(13, 15)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats a time as `20240131T235959Z`.
pub fn format_amz_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderName, HeaderValue};

    use super::*;

    #[test]
    fn a_target_that_is_not_a_path_is_refused_not_signed() {
        // Found by the fuzz target: a relative target reached the signing library as an
        // empty path and made it panic.
        let mut headers = HeaderMap::new();
        headers.insert(
            "host",
            axum::http::HeaderValue::from_static("127.0.0.1:4580"),
        );
        let err = Verifier::new(Vec::new(), None)
            .verify("GET", "things?x=1", &headers, b"", UNIX_EPOCH)
            .unwrap_err();
        assert!(
            format!("{err:?}").contains("is not a path of at most"),
            "{err:?}"
        );
        let long = format!("/things?{}", "a=b&".repeat(3000));
        assert!(
            Verifier::new(Vec::new(), None)
                .verify("GET", &long, &headers, b"", UNIX_EPOCH)
                .is_err()
        );
        assert!(!fuzz_verify(include_bytes!(
            "../../../../fuzz/corpus/api_sigv4/regression-relative-target"
        )));
    }

    const BODY: &[u8] = br#"{"policyDocument":"{}"}"#;

    fn key<'a>(secret: &'a str, service: &'a str) -> SigningKey<'a> {
        SigningKey {
            access_key_id: "test",
            secret_access_key: secret,
            region: "us-east-1",
            service,
        }
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
            assert_eq!(e.kind, "InvalidSignatureException", "{method} {path}");
            assert_eq!(e.status.as_u16(), 403);
            assert!(e.message.starts_with("The request signature we calculated"));
        }
    }

    #[test]
    fn a_wrong_secret_is_refused_with_403() {
        let headers = signed("not-the-secret", "iot", BODY, now());
        let e = loopback()
            .verify("POST", "/policies/p%3A1?x=1", &headers, BODY, now())
            .unwrap_err();
        assert_eq!(e.kind, "InvalidSignatureException");
        assert_eq!(e.status.as_u16(), 403);
    }

    #[test]
    fn configured_credentials_verify_and_unknown_keys_are_unrecognized() {
        let verifier = Verifier::new(
            vec![("AKIDEXAMPLE".into(), "s3cret".into())],
            Some("0.0.0.0:4580".parse().unwrap()),
        );
        let base = vec![("host".to_owned(), "h:1".to_owned())];
        let signing = SigningKey {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: "s3cret",
            region: "eu-west-1",
            service: "iot",
        };
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
        assert_eq!(e.kind, "UnrecognizedClientException");
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
            assert_eq!(e.kind, "UnrecognizedClientException", "{addr}");
            assert_eq!(e.status.as_u16(), 403);
            assert!(e.message.contains("loopback"), "{}", e.message);
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
        assert!(e.message.starts_with("Signature expired"), "{}", e.message);

        let headers = signed("test", "s3", BODY, now());
        let e = loopback()
            .verify("POST", "/policies/p%3A1?x=1", &headers, BODY, now())
            .unwrap_err();
        assert!(e.message.contains("correct service"), "{}", e.message);
    }

    #[test]
    fn unsigned_and_malformed_requests_are_refused() {
        let e = loopback()
            .verify("GET", "/things", &HeaderMap::new(), b"", now())
            .unwrap_err();
        assert_eq!(e.kind, "MissingAuthenticationTokenException");
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Basic dGVzdA=="));
        let e = loopback()
            .verify("GET", "/things", &headers, b"", now())
            .unwrap_err();
        assert_eq!(e.kind, "IncompleteSignatureException");
        headers.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/iot"),
        );
        let e = loopback()
            .verify("GET", "/things", &headers, b"", now())
            .unwrap_err();
        assert_eq!(e.kind, "IncompleteSignatureException");
    }

    #[test]
    fn a_request_without_host_is_refused_not_a_panic() {
        let mut headers = signed("test", "iot", BODY, now());
        headers.remove("host");
        let e = loopback()
            .verify("POST", "/policies/p%3A1?x=1", &headers, BODY, now())
            .unwrap_err();
        assert_eq!(e.kind, "IncompleteSignatureException");
    }

    #[test]
    fn the_fuzz_corpus_replays_without_panics() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/api_sigv4");
        let mut verified = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            verified += usize::from(fuzz_verify(&bytes));
        }
        // One seed is a correctly signed request: the fuzzer starts from a verifying input.
        assert_eq!(verified, 1);
    }

    #[test]
    fn amz_dates_round_trip() {
        let t = parse_amz_date("20240229T235959Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_709_251_199
        );
        assert_eq!(format_amz_date(t), "20240229T235959Z");
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(UNIX_EPOCH));
        for bad in [
            "2024-02-29T23:59:59Z",
            "20241301T000000Z",
            "20240101T000000",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}
