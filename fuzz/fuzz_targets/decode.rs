//! Fuzz target `decode`: arbitrary bytes through the MQTT `Decoder` for MQTT 3.1, 3.1.1 and 5.0,
//! whole and split in two. It checks only that decoding never panics; correctness of what
//! decodes is the `roundtrip` target's job.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mqtt_proto::codec::fuzz::decode_stream(data);
});
