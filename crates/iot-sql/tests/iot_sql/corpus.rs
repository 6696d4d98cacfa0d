//! Replays every seed in `fuzz/corpus/iot_sql/` through the fuzz target's body, so the corpus
//! keeps passing in ordinary test runs.

use std::fs;
use std::path::Path;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/iot_sql");

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
        if let Err(broken) = iot_sql::fuzz::iot_sql(&data) {
            panic!("{}: {broken}", path.display());
        }
        replayed += 1;
    }
    assert!(
        replayed >= 10,
        "expected the seed corpus in {CORPUS}, found {replayed} files"
    );
}

#[test]
fn corpus_statements_that_should_parse_do() {
    // Seeds named `valid-*` are documentation examples and must keep parsing.
    let mut checked = 0;
    for entry in fs::read_dir(Path::new(CORPUS)).unwrap() {
        let path = entry.unwrap().path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if let Some(rest) = name.strip_prefix("valid-") {
            let data = fs::read(&path).unwrap();
            let (version, text) = data.split_first().unwrap();
            let version = if version % 3 == 0 {
                super::V1
            } else {
                super::V2
            };
            let text = std::str::from_utf8(text).unwrap();
            if rest.starts_with("template-") {
                iot_sql::Template::parse(text, version).unwrap_or_else(|e| panic!("{name}: {e}"));
            } else {
                iot_sql::Statement::parse(text, version).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "expected valid-* seeds, found {checked}");
}
