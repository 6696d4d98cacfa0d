//! The body of the `registry_bundle` fuzz target, kept in the crate so the corpus replay test
//! and the fuzzer run the same code. It checks invariants and reports a broken one as `Err`; it
//! is not a general-purpose API.

use crate::Bundle;

/// Parses `data` as a bundle; one that parses must order its groups, print, parse back to the
/// same bundle and print the same text again. Returns the first broken invariant.
pub fn registry_bundle(data: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let bundle = match Bundle::parse(text) {
        Ok(bundle) => bundle,
        Err(e) if e.to_string().is_empty() => return Err("an empty error message".to_owned()),
        Err(_) => return Ok(()),
    };
    let order = bundle
        .hierarchy()
        .map_err(|e| format!("a checked bundle has no group order: {e}"))?;
    if order.len() != bundle.thing_groups.len() {
        return Err(format!(
            "{} groups ordered of {}",
            order.len(),
            bundle.thing_groups.len()
        ));
    }
    let printed = bundle
        .to_text()
        .map_err(|e| format!("a parsed bundle does not print: {e}"))?;
    let again =
        Bundle::parse(&printed).map_err(|e| format!("a printed bundle does not parse: {e}"))?;
    if again != bundle {
        return Err("a printed bundle parses to a different bundle".to_owned());
    }
    let reprinted = again
        .to_text()
        .map_err(|e| format!("a reparsed bundle does not print: {e}"))?;
    if reprinted != printed {
        return Err("printing is not stable".to_owned());
    }
    Ok(())
}
