//! Fuzz target `policy_json`: arbitrary bytes are parsed as an AWS IoT policy; documents that
//! parse are evaluated against a fixed set of requests and every decision is checked against
//! the statement it names (see `iot_policy::fuzz::policy_json`). It does not mutate policies
//! structurally; seeds in `fuzz/corpus/policy_json/` give the fuzzer valid shapes to start from.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = iot_policy::fuzz::policy_json(data) {
        panic!("policy_json invariant broken: {broken}");
    }
});
