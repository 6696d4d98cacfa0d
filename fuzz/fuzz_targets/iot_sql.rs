//! Fuzz target `iot_sql`: arbitrary bytes (a version byte, then text) are parsed as an AWS IoT
//! SQL statement and as a substitution template; whatever parses must print back to the same
//! tree and evaluate against a few payloads without panicking (see `iot_sql::fuzz::iot_sql`).
//! It does not mutate syntax trees; seeds in `fuzz/corpus/iot_sql/` give the fuzzer valid
//! statements to start from.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = iot_sql::fuzz::iot_sql(data) {
        panic!("iot_sql invariant broken: {broken}");
    }
});
