//! Fuzz target: arbitrary bytes through the ESP8266 NONOS image inspector and its text report.
//! Neither may panic, whatever the records, lengths, names or payloads claim.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = device_image::inspect(data);
    let _ = report.to_string();
});
