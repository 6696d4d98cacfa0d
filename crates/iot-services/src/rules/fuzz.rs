//! The body of the `rule_payload` fuzz target (`fuzz/fuzz_targets/rule_payload.rs`), kept in
//! the crate so the fuzzer and the test that replays its seed corpus run the same code. It is
//! not a general-purpose API.

use serde_json::Value;

use super::rule::TopicRule;

/// An invariant of the rule parser that an input broke, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule_payload invariant broken: {0}")]
pub struct BrokenInvariant(pub String);

/// Feeds `data` as the TopicRulePayload of CreateTopicRule. Any answer is fine; it must never
/// panic, and an accepted payload must print (as GetTopicRule shows it) to a payload that is
/// accepted again and prints the same.
pub fn payload(data: &[u8]) -> Result<(), BrokenInvariant> {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return Ok(());
    };
    let Ok(rule) = TopicRule::parse("fuzz_rule", &value, 0) else {
        return Ok(());
    };
    let shown = rule.payload_json();
    let again = TopicRule::parse("fuzz_rule", &shown, 0)
        .map_err(|e| BrokenInvariant(format!("the printed payload {shown} is refused: {e}")))?;
    if again.payload_json() != shown {
        return Err(BrokenInvariant(format!(
            "the printed payload {shown} prints differently: {}",
            again.payload_json()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_corpus_replays_cleanly() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fuzz/corpus/rule_payload"
        );
        let mut replayed = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            if let Err(broken) = payload(&bytes) {
                panic!("{}: {broken}", path.display());
            }
            replayed += 1;
        }
        assert!(
            replayed >= 6,
            "expected the seed corpus in {dir}, found {replayed}"
        );
    }
}
