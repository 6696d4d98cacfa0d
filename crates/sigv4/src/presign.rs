//! Presigned URLs (SigV4 query-string signatures), as AWS IoT takes them on
//! `wss://ENDPOINT/mqtt?X-Amz-Algorithm=…`: the signature's parts travel as `X-Amz-*` query
//! parameters instead of an `Authorization` header, and `X-Amz-Security-Token` is appended
//! after signing (AWS IoT developer guide, "MQTT over the WebSocket protocol": "If you use
//! temporary credentials … add the session token to the end of the URL string after signing").
//! [`Verifier::verify_presigned`](crate::Verifier::verify_presigned) checks such a URL;
//! [`presign_url`] makes one, for tether's own clients and tests.
//!
//! The canonical request is built here rather than by `aws-sigv4`'s presigning, which always
//! signs an `X-Amz-Expires` while the AWS Common Runtime (the IoT Device SDKs' websocket
//! builder) omits it; the signing key and the HMAC come from `aws-sigv4` all the same. The
//! payload hash of a presigned URL is that of the request body (empty for the WebSocket
//! upgrade), as AWS's own example of a signed IoT URL computes it. It knows nothing of
//! WebSockets or of what a verified caller may do.

use std::time::{Duration, SystemTime};

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};

use crate::date::{format_amz_date, parse_amz_date};
use crate::error::{SigV4Error, SigningError};
use crate::sign::SigningKey;
use crate::verify::{Caller, MAX_SKEW, MAX_TARGET_LEN, Verifier};
use crate::{ALGORITHM, SIGNING_NAMES};

/// The longest `X-Amz-Expires` AWS accepts: seven days.
pub const MAX_EXPIRES_SECS: u64 = 604_800;

/// Query parameters of a presigned URL.
const ALGORITHM_PARAM: &str = "X-Amz-Algorithm";
const CREDENTIAL: &str = "X-Amz-Credential";
const DATE: &str = "X-Amz-Date";
const EXPIRES: &str = "X-Amz-Expires";
const SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
const SIGNATURE: &str = "X-Amz-Signature";
const SECURITY_TOKEN: &str = "X-Amz-Security-Token";

/// Whether a request target carries a query-string signature.
pub fn is_presigned(path_and_query: &str) -> bool {
    path_and_query
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|p| p.starts_with("X-Amz-Signature=")))
}

/// Makes the target (`/path?query`) of a URL presigned with `key` for a request to `host`
/// (signed as the `host` header, port included when the client sends one), valid for `expires`
/// from `time`. A session token is appended after signing, as AWS IoT requires.
pub fn presign_url(
    key: &SigningKey<'_>,
    method: &str,
    host: &str,
    path: &str,
    expires: Duration,
    time: SystemTime,
) -> Result<String, SigningError> {
    if key.region.is_empty() || key.service.is_empty() || !path.starts_with('/') {
        return Err(SigningError(format!(
            "cannot presign {path:?}: a region, a service and an absolute path are required"
        )));
    }
    let date = format_amz_date(time);
    let day = date.get(..8).unwrap_or_default();
    let scope = format!("{day}/{}/{}/aws4_request", key.region, key.service);
    let mut params = vec![
        (ALGORITHM_PARAM.to_owned(), ALGORITHM.to_owned()),
        (
            CREDENTIAL.to_owned(),
            format!("{}/{scope}", key.access_key_id),
        ),
        (DATE.to_owned(), date.clone()),
        (EXPIRES.to_owned(), expires.as_secs().to_string()),
        (SIGNED_HEADERS.to_owned(), "host".to_owned()),
    ];
    let canonical = canonical_request(
        method,
        path,
        &params,
        &[("host", host.trim())],
        &hex_sha256(b""),
    );
    let signature = sign(
        key.secret_access_key,
        time,
        key.region,
        key.service,
        &date,
        &scope,
        &canonical,
    );
    params.push((SIGNATURE.to_owned(), signature));
    if let Some(token) = key.session_token {
        params.push((SECURITY_TOKEN.to_owned(), token.to_owned()));
    }
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v)))
        .collect();
    Ok(format!("{path}?{}", query.join("&")))
}

impl Verifier {
    /// Verifies a presigned request: `path_and_query` exactly as received, `headers` holding at
    /// least the signed ones (`host`), `body` (empty for a WebSocket upgrade), `now` the clock
    /// the signing date is checked against. With `X-Amz-Expires` the URL is good from 15
    /// minutes before its date until its date plus that many seconds; without it (the AWS
    /// Common Runtime omits it) within 15 minutes of its date either way, as a header
    /// signature is.
    pub fn verify_presigned(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &http::HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Caller, SigV4Error> {
        if !path_and_query.starts_with('/') || path_and_query.len() > MAX_TARGET_LEN {
            return Err(SigV4Error::BadTarget);
        }
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let params = parse_query(query)?;
        let find = |name: &'static str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let required =
            |name: &'static str| find(name).ok_or(SigV4Error::QueryParameterMissing { name });
        let algorithm = required(ALGORITHM_PARAM)?;
        if algorithm != ALGORITHM {
            return Err(SigV4Error::WrongAlgorithm {
                got: algorithm.to_owned(),
            });
        }
        let credential = required(CREDENTIAL)?;
        let signed_headers = required(SIGNED_HEADERS)?;
        let given = required(SIGNATURE)?;
        let date = required(DATE)?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key_id, day, region, service, "aws4_request"] = scope.as_slice() else {
            return Err(SigV4Error::MalformedCredential {
                credential: credential.to_owned(),
            });
        };
        if !SIGNING_NAMES.contains(service) {
            return Err(SigV4Error::WrongService {
                service: (*service).to_owned(),
            });
        }
        let signed: Vec<&str> = signed_headers
            .split(';')
            .filter(|h| !h.is_empty())
            .collect();
        if !signed.contains(&"host") {
            return Err(SigV4Error::HostNotSigned);
        }
        let secret = self.secret_of(access_key_id)?;
        let time = parse_amz_date(date).ok_or_else(|| SigV4Error::MalformedDate {
            date: date.to_owned(),
        })?;
        let expires = find(EXPIRES)
            .map(|text| match text.parse::<u64>() {
                Ok(secs) if (1..=MAX_EXPIRES_SECS).contains(&secs) => Ok(secs),
                _ => Err(SigV4Error::BadExpires {
                    value: text.to_owned(),
                }),
            })
            .transpose()?;
        check_time(date, time, expires, now)?;
        let mut header_values: Vec<(&str, String)> = Vec::new();
        for name in &signed {
            let mut values = Vec::new();
            for value in headers.get_all(*name) {
                let value = value
                    .to_str()
                    .map_err(|_| SigV4Error::SignedHeaderNotAscii {
                        name: (*name).to_owned(),
                    })?;
                values.push(collapse_spaces(value.trim()));
            }
            if *name == "host" && values.is_empty() {
                return Err(SigV4Error::MissingHost);
            }
            header_values.push((name, values.join(",")));
        }
        // Everything but the signature itself, and the session token that IoT has appended after
        // signing.
        let signed_params: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != SIGNATURE && k != SECURITY_TOKEN)
            .cloned()
            .collect();
        let headers_ref: Vec<(&str, &str)> = header_values
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let canonical = canonical_request(
            method,
            path,
            &signed_params,
            &headers_ref,
            &hex_sha256(body),
        );
        let scope_text = format!("{day}/{region}/{service}/aws4_request");
        let expected = sign(secret, time, region, service, date, &scope_text, &canonical);
        if expected.len() != given.len()
            || !openssl::memcmp::eq(expected.as_bytes(), given.as_bytes())
        {
            return Err(SigV4Error::SignatureMismatch);
        }
        Ok(Caller {
            access_key_id: (*access_key_id).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
            session_token: find(SECURITY_TOKEN).map(str::to_owned),
        })
    }
}

/// The time checks of a presigned URL, with the distance to the server's clock in the words.
fn check_time(
    date: &str,
    time: SystemTime,
    expires: Option<u64>,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    if let Ok(ahead) = time.duration_since(now)
        && ahead > MAX_SKEW
    {
        return Err(SigV4Error::SignatureNotYetCurrent {
            date: date.to_owned(),
            limit: format_amz_date(now + MAX_SKEW),
            now: format_amz_date(now),
            skew_secs: ahead.as_secs(),
        });
    }
    let behind = now.duration_since(time).unwrap_or_default();
    match expires {
        Some(expires) if behind > Duration::from_secs(expires) => {
            Err(SigV4Error::PresignedUrlExpired {
                date: date.to_owned(),
                expires,
                now: format_amz_date(now),
                age_secs: behind.as_secs(),
            })
        }
        None if behind > MAX_SKEW => Err(SigV4Error::SignatureExpired {
            date: date.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Query parameters, percent-decoded (`+` stays `+`: SigV4 clients encode spaces as `%20`).
fn parse_query(query: &str) -> Result<Vec<(String, String)>, SigV4Error> {
    let mut params = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |text: &str| {
            percent_decode(text).ok_or_else(|| SigV4Error::MalformedQuery {
                parameter: pair.chars().take(64).collect(),
            })
        };
        let name = decode(name)?;
        if name.starts_with("X-Amz-") && params.iter().any(|(k, _)| *k == name) {
            return Err(SigV4Error::MalformedQuery {
                parameter: name.chars().take(64).collect(),
            });
        }
        params.push((name, decode(value)?));
    }
    Ok(params)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// SigV4's URI encoding: unreserved characters as they are, every other byte `%XX`.
fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Runs of spaces inside a header value become one, as SigV4 canonicalizes them.
fn collapse_spaces(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut last_space = false;
    for c in value.chars() {
        if c == ' ' {
            if !last_space {
                out.push(c);
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out
}

/// The canonical request of a query-signed request: `path` as sent (already URI-encoded),
/// parameters encoded and sorted, the signed headers sorted by name.
fn canonical_request(
    method: &str,
    path: &str,
    params: &[(String, String)],
    headers: &[(&str, &str)],
    payload_hash: &str,
) -> String {
    let mut query: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    query.sort();
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut headers: Vec<(String, &str)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), *v))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        query.join("&"),
        signed.join(";")
    )
}

/// The signature of a canonical request (key derivation and HMAC by `aws-sigv4`).
fn sign(
    secret: &str,
    time: SystemTime,
    region: &str,
    service: &str,
    date: &str,
    scope: &str,
    canonical: &str,
) -> String {
    let string_to_sign = format!(
        "{ALGORITHM}\n{date}\n{scope}\n{}",
        hex_sha256(canonical.as_bytes())
    );
    let key = generate_signing_key(secret, time, region, service);
    calculate_signature(key, string_to_sign.as_bytes())
}

fn hex_sha256(bytes: &[u8]) -> String {
    openssl::sha::sha256(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::*;

    const HOST: &str = "127.0.0.1:4443";

    fn host() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static(HOST));
        headers
    }

    fn loopback() -> Verifier {
        Verifier::new(Vec::new(), Some("127.0.0.1:4443".parse().unwrap()))
    }

    fn key(secret: &str) -> SigningKey<'_> {
        SigningKey::new("test", secret, "us-east-1", "iotdevicegateway")
    }

    fn url(secret: &str, expires: u64, time: SystemTime) -> String {
        presign_url(
            &key(secret),
            "GET",
            HOST,
            "/mqtt",
            Duration::from_secs(expires),
            time,
        )
        .unwrap()
    }

    #[test]
    fn a_presigned_url_verifies_and_names_its_caller() {
        let now = SystemTime::now();
        let target = url("test", 300, now);
        assert!(is_presigned(&target));
        let caller = loopback()
            .verify_presigned("GET", &target, &host(), b"", now)
            .unwrap();
        assert_eq!(caller.access_key_id, "test");
        assert_eq!(caller.service, "iotdevicegateway");
        assert_eq!(caller.session_token, None);
    }

    /// AWS's documented example of a presigned IoT URL, computed the way its Python sample
    /// does (sha256 of the empty payload, `host` alone signed), as the AWS Common Runtime signs
    /// it: without X-Amz-Expires.
    #[test]
    fn a_url_without_expires_verifies_within_fifteen_minutes() {
        let time = parse_amz_date("20240301T120000Z").unwrap();
        let params = vec![
            (ALGORITHM_PARAM.to_owned(), ALGORITHM.to_owned()),
            (
                CREDENTIAL.to_owned(),
                "test/20240301/us-east-1/iotdevicegateway/aws4_request".to_owned(),
            ),
            (DATE.to_owned(), "20240301T120000Z".to_owned()),
            (SIGNED_HEADERS.to_owned(), "host".to_owned()),
        ];
        let canonical =
            canonical_request("GET", "/mqtt", &params, &[("host", HOST)], &hex_sha256(b""));
        let signature = sign(
            "test",
            time,
            "us-east-1",
            "iotdevicegateway",
            "20240301T120000Z",
            "20240301/us-east-1/iotdevicegateway/aws4_request",
            &canonical,
        );
        let target = format!(
            "/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20240301%2Fus-east-1\
             %2Fiotdevicegateway%2Faws4_request&X-Amz-Date=20240301T120000Z&X-Amz-SignedHeaders=\
             host&X-Amz-Signature={signature}&X-Amz-Security-Token=c2Vzc2lvbg%3D%3D"
        );
        let later = time + Duration::from_secs(600);
        let caller = loopback()
            .verify_presigned("GET", &target, &host(), b"", later)
            .unwrap();
        assert_eq!(caller.session_token.as_deref(), Some("c2Vzc2lvbg=="));
        let e = loopback()
            .verify_presigned(
                "GET",
                &target,
                &host(),
                b"",
                time + Duration::from_secs(1000),
            )
            .unwrap_err();
        assert!(matches!(e, SigV4Error::SignatureExpired { .. }), "{e}");
    }

    #[test]
    fn a_session_token_appended_after_signing_is_not_signed() {
        let now = SystemTime::now();
        let signing = key("test").with_session_token("FwoGZXIvYXdzE+token/=");
        let target =
            presign_url(&signing, "GET", HOST, "/mqtt", Duration::from_secs(60), now).unwrap();
        assert!(target.ends_with("&X-Amz-Security-Token=FwoGZXIvYXdzE%2Btoken%2F%3D"));
        let caller = loopback()
            .verify_presigned("GET", &target, &host(), b"", now)
            .unwrap();
        assert_eq!(
            caller.session_token.as_deref(),
            Some("FwoGZXIvYXdzE+token/=")
        );
    }

    #[test]
    fn a_wrong_secret_another_host_or_path_is_a_mismatch() {
        let now = SystemTime::now();
        let target = url("wrong", 300, now);
        let e = loopback()
            .verify_presigned("GET", &target, &host(), b"", now)
            .unwrap_err();
        assert_eq!(e, SigV4Error::SignatureMismatch);
        assert_eq!(e.exception(), "InvalidSignatureException");
        let good = url("test", 300, now);
        let mut other = HeaderMap::new();
        other.insert("host", HeaderValue::from_static("localhost:4443"));
        assert_eq!(
            loopback().verify_presigned("GET", &good, &other, b"", now),
            Err(SigV4Error::SignatureMismatch)
        );
        let moved = good.replacen("/mqtt", "/mqtt2", 1);
        assert_eq!(
            loopback().verify_presigned("GET", &moved, &host(), b"", now),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    #[test]
    fn expiry_and_clock_skew_are_named_with_their_seconds() {
        let now = parse_amz_date("20240301T120000Z").unwrap();
        let target = url("test", 60, now - Duration::from_secs(120));
        let e = loopback()
            .verify_presigned("GET", &target, &host(), b"", now)
            .unwrap_err();
        let SigV4Error::PresignedUrlExpired {
            expires, age_secs, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!((*expires, *age_secs), (60, 120));
        assert!(e.to_string().starts_with("Signature expired"), "{e}");
        assert!(e.to_string().contains("120 s"), "{e}");

        let ahead = url("test", 3600, now + Duration::from_secs(3600));
        let e = loopback()
            .verify_presigned("GET", &ahead, &host(), b"", now)
            .unwrap_err();
        assert!(
            e.to_string().starts_with("Signature not yet current"),
            "{e}"
        );
        assert!(e.to_string().contains("3600 s ahead"), "{e}");
        assert_eq!(e.exception(), "InvalidSignatureException");
    }

    #[test]
    fn missing_or_malformed_parts_are_incomplete() {
        let now = SystemTime::now();
        let good = url("test", 300, now);
        let without = |name: &str| {
            let (path, query) = good.split_once('?').unwrap();
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| !p.starts_with(&format!("{name}=")))
                .collect();
            format!("{path}?{}", kept.join("&"))
        };
        for name in [ALGORITHM_PARAM, CREDENTIAL, DATE, SIGNED_HEADERS, SIGNATURE] {
            let e = loopback()
                .verify_presigned("GET", &without(name), &host(), b"", now)
                .unwrap_err();
            assert_eq!(e.exception(), "IncompleteSignatureException", "{name}: {e}");
        }
        let e = loopback()
            .verify_presigned(
                "GET",
                &good.replace("X-Amz-Expires=300", "X-Amz-Expires=604801"),
                &host(),
                b"",
                now,
            )
            .unwrap_err();
        assert!(matches!(e, SigV4Error::BadExpires { .. }), "{e}");
        let e = loopback()
            .verify_presigned("GET", &format!("{good}&X-Amz-Date=x"), &host(), b"", now)
            .unwrap_err();
        assert!(matches!(e, SigV4Error::MalformedQuery { .. }), "{e}");
        let e = loopback()
            .verify_presigned("GET", &format!("{good}&x=%zz"), &host(), b"", now)
            .unwrap_err();
        assert!(matches!(e, SigV4Error::MalformedQuery { .. }), "{e}");
        let e = loopback()
            .verify_presigned("GET", &good, &HeaderMap::new(), b"", now)
            .unwrap_err();
        assert_eq!(e, SigV4Error::MissingHost);
    }

    #[test]
    fn unknown_keys_and_the_dev_key_off_loopback_are_unrecognized() {
        let now = SystemTime::now();
        let target = url("test", 300, now);
        let public = Verifier::new(Vec::new(), Some("0.0.0.0:443".parse().unwrap()));
        let e = public
            .verify_presigned("GET", &target, &host(), b"", now)
            .unwrap_err();
        assert_eq!(e, SigV4Error::DevCredentialOffLoopback);
        let configured = Verifier::new(
            vec![("AKIDEXAMPLE".into(), "s3cret".into())],
            Some("0.0.0.0:443".parse().unwrap()),
        );
        let signing = SigningKey::new("AKIDEXAMPLE", "s3cret", "eu-west-1", "iotdevicegateway");
        let target =
            presign_url(&signing, "GET", HOST, "/mqtt", Duration::from_secs(60), now).unwrap();
        let caller = configured
            .verify_presigned("GET", &target, &host(), b"", now)
            .unwrap();
        assert_eq!(caller.region, "eu-west-1");
    }
}
