//! The Device Shadow document engine against AWS's own examples and observed behaviour, as
//! whole JSON values: moto's AWS-verified cases (`aws_verified.rs`), the developer guide's
//! worked examples, including the live service output recorded in using-device-shadows.md
//! (`documented.rs`), every error with AWS's message (`errors.rs`), and a property test against
//! a small reference model (`model.rs`).

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

#[path = "shadow/aws_verified.rs"]
mod aws_verified;
#[path = "shadow/documented.rs"]
mod documented;
#[path = "shadow/errors.rs"]
mod errors;
#[path = "shadow/model.rs"]
mod model;

use iot_services::shadow::{
    Applied, Limits, ShadowDocument, UpdateRequest, apply_update, get_response,
};
use serde_json::Value;

/// Parses a request that must be valid.
pub fn request(payload: &Value) -> UpdateRequest {
    UpdateRequest::parse(payload.to_string().as_bytes(), &Limits::default())
        .unwrap_or_else(|err| panic!("{payload}: {err}"))
}

/// Applies a request that must be accepted.
pub fn apply(current: Option<&ShadowDocument>, payload: Value, now: u64) -> Applied {
    apply_update(current, &request(&payload), now, &Limits::default())
        .unwrap_or_else(|err| panic!("{payload}: {err}"))
}

/// Applies the payloads in order to a new shadow, one second apart, and returns the document.
pub fn run(payloads: &[Value]) -> ShadowDocument {
    let mut document: Option<ShadowDocument> = None;
    for (step, payload) in payloads.iter().enumerate() {
        let applied = apply(document.as_ref(), payload.clone(), 100 + step as u64);
        document = Some(applied.document);
    }
    document.unwrap()
}

/// The `state` a GET returns.
pub fn get_state(document: &ShadowDocument) -> Value {
    get_response(document, None, 0)["state"].clone()
}

// ---------------------------------------------------------------------------------------------
// Property: random update sequences match the reference model in `model.rs`.

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(512))]

    #[test]
    fn updates_match_the_reference_model(steps in model::steps()) {
        model::check_sequence(&steps);
    }
}
