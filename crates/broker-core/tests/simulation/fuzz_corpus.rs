//! Replays every seed of the `broker_sequence` fuzz target through the same driver, so CI
//! covers the corpus without the fuzzer.

use std::fs;

#[test]
fn broker_sequence_corpus_replays_cleanly() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/broker_sequence"
    );
    let mut seen = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        let summary = broker_core::fuzz::broker_sequence(&data)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(summary.steps > 0, "{} holds no steps", path.display());
        seen += 1;
    }
    assert!(seen >= 5, "expected the committed seeds, found {seen}");
}
