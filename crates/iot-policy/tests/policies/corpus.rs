//! Replays every seed in `fuzz/corpus/policy_json/` through the fuzz target's body, so the
//! corpus keeps passing in ordinary test runs.

use std::fs;
use std::path::Path;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/policy_json");

#[test]
fn corpus_replays_cleanly() {
    let entries = fs::read_dir(Path::new(CORPUS)).unwrap_or_else(|e| panic!("{CORPUS}: {e}"));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let data = fs::read(&path).unwrap();
        if let Err(broken) = iot_policy::fuzz::policy_json(&data) {
            panic!("{}: {broken}", path.display());
        }
        replayed += 1;
    }
    assert!(
        replayed >= 5,
        "expected the seed corpus in {CORPUS}, found {replayed} files"
    );
}

#[test]
fn corpus_policies_that_should_parse_do() {
    // Seeds named `valid-*` are documentation examples and must keep parsing.
    let mut checked = 0;
    for entry in fs::read_dir(Path::new(CORPUS)).unwrap() {
        let path = entry.unwrap().path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name.starts_with("valid-") {
            let text = fs::read_to_string(&path).unwrap();
            if let Err(err) = iot_policy::Policy::parse(&text) {
                panic!("{name}: {err}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 3, "expected valid-* seeds, found {checked}");
}
