//! Fuzz target: arbitrary bytes through every `pki` loader (certificate, chain, private key,
//! CSR, identify) and, when a certificate loads, the summary. None of them may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pki::identify(data);
    if let Ok(loaded) = pki::load_certificate(data, "fuzz") {
        let _ = pki::summarize(&loaded.certificate);
    }
    let _ = pki::load_certificate_chain(data, "fuzz");
    if let Ok(key) = pki::load_private_key(data, "fuzz") {
        let _ = pki::describe_key(&key.key);
    }
    let _ = pki::load_csr(data, "fuzz");
});
