//! Fuzz target `api_sigv4`: arbitrary bytes become an HTTP API request (method, request target,
//! `Authorization` and `X-Amz-Date` values, body; see `sigv4::fuzz::verify`) and go through
//! SigV4 verification as `tether serve` runs it on every API request. Verification may refuse
//! anything, but must never panic. Seeds in `fuzz/corpus/api_sigv4/` include a request signed by
//! botocore that verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sigv4::fuzz::verify(data);
});
