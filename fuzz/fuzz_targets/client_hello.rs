//! Fuzz target: arbitrary bytes as the first bytes of a TLS connection. The ClientHello parser
//! must return Complete, Incomplete or an error — never panic — and a parsed hello must be
//! explainable against every AWS IoT security policy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tls::client_hello::{Progress, parse};
use tls::policy::POLICIES;
use tls::{Listener, explain};

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Progress::Complete { hello, consumed }) => {
            assert!(consumed <= data.len());
            for policy in POLICIES {
                let listener = Listener {
                    policy: *policy,
                    ..Listener::default()
                };
                let _ = explain(&hello, &listener, None).to_string();
            }
        }
        Ok(Progress::Incomplete { needed }) => assert!(needed > 0),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
