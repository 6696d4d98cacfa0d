//! The fuzz entry for provisioning templates: any bytes as a template body, parsed for each
//! use, and a parsed template evaluated with parameters drawn from the same bytes. It must never
//! panic; errors are the expected answer to most inputs.

use std::collections::BTreeMap;

use super::plan::CertificateFields;
use super::template::{Template, Use};

/// Parses `data` as a template body and evaluates what parses.
pub fn template(data: &[u8]) {
    let (body, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (
            data.get(..i).unwrap_or_default(),
            data.get(i + 1..).unwrap_or_default(),
        ),
        None => (data, &[][..]),
    };
    let Ok(body) = std::str::from_utf8(body) else {
        return;
    };
    // Parameters from the rest: `name=value` lines.
    let parameters: BTreeMap<String, String> = String::from_utf8_lossy(rest)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let certificate = CertificateFields {
        id: "0".repeat(64),
        common_name: parameters.get("cn").cloned(),
        country: parameters.get("c").cloned(),
        ..CertificateFields::default()
    };
    for used in [Use::Fleet, Use::Jitp, Use::Register] {
        if let Ok(template) = Template::parse(body, used) {
            let _ = template.evaluate(&parameters, Some(&certificate));
            let _ = template.evaluate(&parameters, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_corpus_replays_cleanly() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fuzz/corpus/provisioning_template"
        );
        let mut replayed = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            template(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
        assert!(
            replayed >= 10,
            "expected the seed corpus in {dir}, found {replayed}"
        );
    }
}
