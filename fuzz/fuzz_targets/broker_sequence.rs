//! Fuzz target `broker_sequence`: arbitrary bytes become a script of connects, publishes,
//! subscribes, disconnects (with unacknowledged deliveries handed back), acknowledgements,
//! server publishes and clock advances run against `broker_core::Broker` under the AWS or MQTT
//! profile (see `broker_core::fuzz::broker_sequence` for the format and the invariants: no
//! delivery to a connection without a session, no QoS above the message's or the profile's,
//! consistent connection counts, identical effects on a second run). It does not exercise the
//! wire codec; seeds in `fuzz/corpus/broker_sequence/` reach takeover, resume and wills.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = broker_core::fuzz::broker_sequence(data) {
        panic!("broker_sequence invariant broken: {broken}");
    }
});
