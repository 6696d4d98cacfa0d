//! Fuzz target: arbitrary bytes as a device serial log. The explainer must produce a report
//! (findings plus a root cause) for any input without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = doctor::explain_log(data);
    assert!(report.root_cause.is_some());
});
