//! Fuzz target `roundtrip`: decode the input as one MQTT packet under each version; whatever
//! decodes must encode, announce its exact length, and decode again to an equal packet. It does
//! not look at inputs that fail to decode (the `decode` target covers those).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = mqtt_proto::codec::fuzz::roundtrip(data) {
        panic!("{failure}");
    }
});
