//! Fuzz target `jobs_request`: arbitrary bytes are an AWS IoT Jobs request — a device payload
//! for each of the four device APIs, a control-plane body, a topic (see
//! `iot_services::jobs::fuzz::request`). Any answer is fine; it must never panic, and an update
//! that parses must move an execution by the state machine's rules. Seeds in
//! `fuzz/corpus/jobs_request/` hold a request of each kind and one for each refusal.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = iot_services::jobs::fuzz::request(data) {
        panic!("{broken}");
    }
});
