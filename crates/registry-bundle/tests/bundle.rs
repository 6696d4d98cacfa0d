//! The bundle from outside: every seed in `fuzz/corpus/registry_bundle/` replayed through the
//! fuzz target's body (seeds named `valid-*` must also parse), and a bundle's text printed
//! stably whatever order its source listed things in.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::path::Path;

use registry_bundle::Bundle;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fuzz/corpus/registry_bundle"
);

#[test]
fn corpus_replays_cleanly_and_valid_seeds_parse() {
    let mut replayed = 0;
    let mut valid = 0;
    for entry in fs::read_dir(Path::new(CORPUS)).unwrap_or_else(|e| panic!("{CORPUS}: {e}")) {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        if let Err(broken) = registry_bundle::fuzz::registry_bundle(&data) {
            panic!("{}: {broken}", path.display());
        }
        replayed += 1;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("valid-") {
            if let Err(e) = Bundle::parse(std::str::from_utf8(&data).unwrap()) {
                panic!("{name}: {e}");
            }
            valid += 1;
        } else if name.starts_with("invalid-") {
            assert!(
                Bundle::parse(&String::from_utf8_lossy(&data)).is_err(),
                "{name}"
            );
        }
    }
    assert!(
        replayed >= 5 && valid >= 2,
        "{replayed} seeds, {valid} valid"
    );
}

#[test]
fn the_order_of_the_source_does_not_change_the_text() {
    let a = r#"{"format": "tether-registry/1",
        "thingGroups": {"b": {}, "a": {"attributes": {"z": "1", "y": "2"}}},
        "things": {"t2": {"groups": ["b", "a"]}, "t1": {}}}"#;
    let b = r#"{"things": {"t1": {}, "t2": {"groups": ["a", "b"]}},
        "thingGroups": {"a": {"attributes": {"y": "2", "z": "1"}}, "b": {}},
        "format": "tether-registry/1"}"#;
    let (a, b) = (Bundle::parse(a).unwrap(), Bundle::parse(b).unwrap());
    assert_eq!(a.to_text().unwrap(), b.to_text().unwrap());
    assert!(a.to_text().unwrap().ends_with("}\n"));
}
