//! Fuzz target `rule_payload`: arbitrary bytes are the TopicRulePayload of CreateTopicRule
//! (see `iot_services::rules::fuzz::payload`). Any answer is fine; it must never panic, and an
//! accepted payload must print to one that is accepted again and prints the same. Seeds in
//! `fuzz/corpus/rule_payload/` hold rules with every locally run action, actions tether does not
//! run, headers, an errorAction, and refusals.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = iot_services::rules::fuzz::payload(data) {
        panic!("{broken}");
    }
});
