//! Fuzz target `client_session`: arbitrary bytes become a script of client commands, elapsed
//! time, raw inbound bytes and well-formed server packets run against
//! `mqtt_proto::ClientSession` (see `mqtt_proto::session::fuzz::client_session` for the format
//! and the invariants checked). It does not exercise the server side; seeds in
//! `fuzz/corpus/client_session/` reach connected, resumed and failed sessions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = mqtt_proto::session::fuzz::client_session(data) {
        panic!("client_session invariant broken: {broken}");
    }
});
