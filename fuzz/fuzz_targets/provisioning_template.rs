//! Fuzz target `provisioning_template`: arbitrary bytes are a provisioning template body, then a
//! NUL and `name=value` parameter lines (see `iot_services::provisioning::fuzz::template`). The
//! body is parsed for fleet provisioning, JITP and RegisterThing, and what parses is evaluated
//! with and without a certificate. Any answer is fine; it must never panic. Seeds in
//! `fuzz/corpus/provisioning_template/` hold AWS's documented templates and refused variants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    iot_services::provisioning::fuzz::template(data);
});
