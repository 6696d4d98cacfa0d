//! Fuzz target: arbitrary bytes as a server's answer to a device's ClientHello, as
//! `tether doctor probe` reads it in raw mode, and as recorded handshake traffic. The parsers
//! must classify any input — ServerHello, alert, incomplete or malformed — and never panic.
#![no_main]

use doctor::probe::raw;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = raw::server_answer(data);
    let framed: usize = raw::records(data).map(|r| r.payload.len() + 5).sum();
    assert!(framed <= data.len());
    let _ = raw::plaintext_alert(data);
    let _ = raw::plaintext_handshake_types(data);
    let (_, total) = raw::encrypted_records(data);
    assert!(total <= framed);
});
