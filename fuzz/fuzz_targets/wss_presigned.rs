//! Fuzz target `wss_presigned`: arbitrary bytes become a WebSocket upgrade's request target and
//! `Host` (see `sigv4::fuzz::verify_presigned`) and go through presigned-URL verification as
//! `tether serve` runs it on every `wss://…/mqtt` upgrade. Verification may refuse anything, but
//! must never panic. Seeds in `fuzz/corpus/wss_presigned/` include a URL that verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sigv4::fuzz::verify_presigned(data);
});
