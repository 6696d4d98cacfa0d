//! The bodies of the `api_sigv4` and `wss_presigned` fuzz targets (`fuzz/fuzz_targets/`), kept
//! in the crate so the fuzzer and the tests that replay their seed corpora run the same code. It
//! is not a general-purpose API.

use std::time::UNIX_EPOCH;

use http::{HeaderMap, HeaderValue, Uri};

use crate::date::parse_amz_date;
use crate::verify::Verifier;

/// Runs the verifier on a request described by `data`, lines `METHOD`, `PATH?QUERY`,
/// `Authorization` value, `X-Amz-Date` value, then the body (host `127.0.0.1:4580`, dev
/// credential, a fixed clock). Returns whether it verified; it must never panic, whatever the
/// bytes.
pub fn verify(data: &[u8]) -> bool {
    let mut parts = data.splitn(5, |b| *b == b'\n');
    let mut next = || parts.next().unwrap_or_default();
    let (method, target, authorization, date, body) = (next(), next(), next(), next(), next());
    let (Ok(method), Ok(target)) = (std::str::from_utf8(method), std::str::from_utf8(target))
    else {
        return false;
    };
    if target.parse::<Uri>().is_err() {
        return false;
    }
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:4580"));
    for (name, value) in [("authorization", authorization), ("x-amz-date", date)] {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(name, value);
        }
    }
    let now = parse_amz_date("20240101T000000Z").unwrap_or(UNIX_EPOCH);
    Verifier::new(Vec::new(), None)
        .verify(method, target, &headers, body, now)
        .is_ok()
}

/// Runs presigned-URL verification on a WebSocket upgrade described by `data`: the request
/// target on the first line, the `Host` value on the second (dev credential, a fixed clock).
/// Returns whether it verified; it must never panic, whatever the bytes.
pub fn verify_presigned(data: &[u8]) -> bool {
    let mut parts = data.splitn(2, |b| *b == b'\n');
    let (Some(target), host) = (parts.next(), parts.next().unwrap_or_default()) else {
        return false;
    };
    let Ok(target) = std::str::from_utf8(target) else {
        return false;
    };
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(host) {
        headers.insert("host", value);
    }
    let now = parse_amz_date("20240301T120000Z").unwrap_or(UNIX_EPOCH);
    Verifier::new(Vec::new(), None)
        .verify_presigned("GET", target, &headers, b"", now)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_presigned_fuzz_corpus_replays_without_panics() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fuzz/corpus/wss_presigned"
        );
        let mut verified = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            verified += usize::from(verify_presigned(&bytes));
        }
        // One seed is a URL presigned at the fuzzer's fixed clock: the fuzzer starts from a
        // verifying input.
        assert_eq!(verified, 1);
    }

    #[test]
    fn the_fuzz_corpus_replays_without_panics() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/api_sigv4");
        let mut verified = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            verified += usize::from(verify(&bytes));
        }
        // One seed is a correctly signed request: the fuzzer starts from a verifying input.
        assert_eq!(verified, 1);
    }
}
