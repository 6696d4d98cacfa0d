//! Fuzz target `registry_bundle`: arbitrary bytes are parsed as a `tether registry` bundle; a
//! bundle that parses must order its groups, print, and parse back to itself with the same text
//! (see `registry_bundle::fuzz::registry_bundle`). It does not mutate bundles structurally;
//! seeds in `fuzz/corpus/registry_bundle/` give the fuzzer valid shapes to start from.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = registry_bundle::fuzz::registry_bundle(data) {
        panic!("registry_bundle invariant broken: {broken}");
    }
});
