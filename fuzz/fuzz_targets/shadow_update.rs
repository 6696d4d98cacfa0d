//! Fuzz target `shadow_update`: arbitrary bytes are an update request payload for the Device
//! Shadow service, applied to a small fixed shadow and to one that does not exist (see
//! `iot_services::shadow::fuzz::update`). Any answer is fine; it must never panic, and an
//! accepted update must leave a consistent document. Seeds in `fuzz/corpus/shadow_update/` hold
//! valid updates and one request for each refusal.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = iot_services::shadow::fuzz::update(data) {
        panic!("{broken}");
    }
});
