//! Every refusal with AWS's code and exact message, and that a refused update changes nothing.

use iot_services::shadow::{
    Limits, ShadowError, UpdateRequest, apply_update, error_response, request_client_token,
};
use serde_json::json;

use crate::{request, run};

#[test]
fn every_request_error_has_aws_message() {
    let limits = Limits::default();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"{\"state\":{\"desired\":{\"a\":\"\xff\"}}}".to_vec(),
            415,
            "Unsupported documented encoding; supported encoding is UTF-8",
        ),
        (b"".to_vec(), 400, "Invalid JSON"),
        (b"{\"state\":".to_vec(), 400, "Invalid JSON"),
        (b"[1,2]".to_vec(), 400, "Invalid JSON"),
        (b"{} trailing".to_vec(), 400, "Invalid JSON"),
        (
            br#"{"desired":{"a":1}}"#.to_vec(),
            400,
            "Missing required node: state",
        ),
        (
            br#"{"state":"on"}"#.to_vec(),
            400,
            "State node must be an object",
        ),
        (
            br#"{"state":[]}"#.to_vec(),
            400,
            "State node must be an object",
        ),
        (
            br#"{"state":{"desired":[1]}}"#.to_vec(),
            400,
            "Desired node must be an object",
        ),
        (
            br#"{"state":{"reported":true}}"#.to_vec(),
            400,
            "Reported node must be an object",
        ),
        (
            br#"{"state":{},"version":"1"}"#.to_vec(),
            400,
            "Invalid version",
        ),
        (
            br#"{"state":{},"version":-1}"#.to_vec(),
            400,
            "Invalid version",
        ),
        (
            br#"{"state":{},"version":1.5}"#.to_vec(),
            400,
            "Invalid version",
        ),
        (
            br#"{"state":{},"clientToken":5}"#.to_vec(),
            400,
            "Invalid clientToken",
        ),
        (
            format!(r#"{{"state":{{}},"clientToken":"{}"}}"#, "x".repeat(65)).into_bytes(),
            400,
            "Invalid clientToken",
        ),
        (
            br#"{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":[]}}}}}}}}"#.to_vec(),
            400,
            "JSON contains too many levels of nesting; maximum is 6",
        ),
        (
            br#"{"state":{"delta":{"a":1}}}"#.to_vec(),
            400,
            "State contains an invalid node: 'delta'",
        ),
        (
            br#"{"state":{"desired":{},"metadata":{}}}"#.to_vec(),
            400,
            "State contains an invalid node: 'metadata'",
        ),
        (
            br#"{"state":{"desired":{"colors":[null,"RED","GREEN"]}}}"#.to_vec(),
            400,
            "Invalid JSON",
        ),
    ];
    for (payload, code, message) in cases {
        let err = UpdateRequest::parse(&payload, &limits).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (code, message),
            "{}",
            String::from_utf8_lossy(&payload)
        );
    }
    // A 64-byte token is allowed.
    let token = format!(r#"{{"state":{{}},"clientToken":"{}"}}"#, "x".repeat(64));
    assert!(UpdateRequest::parse(token.as_bytes(), &limits).is_ok());
}

#[test]
fn rejected_updates_change_nothing() {
    let limits = Limits {
        max_state_bytes: 64,
        ..Limits::default()
    };
    let document = run(&[
        json!({"state": {"reported": {"text": "0123456789012345678901234567890123456789"}}}),
    ]);
    let before = document.clone();
    // 413 on the merged document: the update itself is small.
    let small =
        UpdateRequest::parse(br#"{"state":{"desired":{"more":"0123456789"}}}"#, &limits).unwrap();
    let err = apply_update(Some(&document), &small, 900, &limits).unwrap_err();
    assert_eq!(err, ShadowError::payload_too_large());
    assert_eq!(err.message, "The payload exceeds the maximum size allowed");
    assert_eq!(document, before);
    // A deletion that shrinks the document is fine at any size.
    let shrink = UpdateRequest::parse(br#"{"state":{"reported":{"text":null}}}"#, &limits).unwrap();
    assert_eq!(
        apply_update(Some(&document), &shrink, 901, &limits)
            .unwrap()
            .document
            .version,
        2
    );
    // 409 leaves it too.
    let stale = request(&json!({"state": {"desired": {"x": 1}}, "version": 0}));
    assert!(apply_update(Some(&document), &stale, 902, &limits).is_err());
    assert_eq!(document, before);
}

#[test]
fn size_limit_counts_state_only_and_is_inclusive() {
    // `{"reported":{"k":"…"}}` is 21 bytes plus the string.
    let limits = Limits {
        max_state_bytes: 40,
        ..Limits::default()
    };
    let fits = request(&json!({"state": {"reported": {"k": "x".repeat(19)}}}));
    assert!(apply_update(None, &fits, 1, &limits).is_ok());
    let over = request(&json!({"state": {"reported": {"k": "x".repeat(20)}}}));
    assert_eq!(apply_update(None, &over, 1, &limits).unwrap_err().code, 413);
}

#[test]
fn error_documents_for_rejected_requests() {
    let limits = Limits::default();
    let payload = br#"{"state":{"desired":"x"},"clientToken":"abc"}"#;
    let err = UpdateRequest::parse(payload, &limits).unwrap_err();
    let token = request_client_token(payload, &limits);
    assert_eq!(
        error_response(&err, token.as_deref(), 77),
        json!({"code": 400, "message": "Desired node must be an object", "timestamp": 77, "clientToken": "abc"})
    );
    // Not JSON: no token to echo.
    let broken = br#"{"state":{},"clientToken":"abc""#;
    assert_eq!(request_client_token(broken, &limits), None);
}
