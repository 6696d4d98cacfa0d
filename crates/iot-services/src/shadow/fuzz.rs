//! The body of the `shadow_update` fuzz target (`fuzz/fuzz_targets/shadow_update.rs`), kept in
//! the crate so the fuzzer and the test that replays its seed corpus run the same code. It is
//! not a general-purpose API.

use serde_json::Value;

use super::document::{ShadowDocument, apply_update};
use super::limits::Limits;
use super::request::{UpdateRequest, request_client_token};
use super::response::{error_response, get_response};

/// An invariant of the shadow engine that an input broke, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shadow_update invariant broken: {0}")]
pub struct BrokenInvariant(pub String);

/// Feeds `data` as an update request payload to a small fixed shadow and to a shadow that does
/// not exist, with small limits so that the size and depth checks are reached. Any answer is
/// fine; it must never panic, and an accepted update must leave a consistent document (version
/// one higher, metadata shaped like the state, within the size limit, storable and readable
/// back, delta payload present exactly when there is a delta).
pub fn update(data: &[u8]) -> Result<(), BrokenInvariant> {
    let limits = Limits {
        max_depth: 4,
        max_state_bytes: 512,
        max_client_token_bytes: 16,
    };
    let request = match UpdateRequest::parse(data, &limits) {
        Ok(request) => request,
        Err(error) => {
            let _ = error_response(&error, request_client_token(data, &limits).as_deref(), 1);
            return Ok(());
        }
    };
    let fixed = fixed_document();
    for current in [Some(&fixed), None] {
        match apply_update(current, &request, 1_700_000_100, &limits) {
            Ok(applied) => check(current, &applied.document, applied.delta.as_ref(), &limits)?,
            Err(error) if matches!(error.code, 409 | 413) => {}
            Err(error) => return Err(BrokenInvariant(format!("unexpected refusal {error}"))),
        }
    }
    Ok(())
}

fn fixed_document() -> ShadowDocument {
    let text = r#"{"state":{"desired":{"color":"RED","lights":{"on":true,"level":3},"seq":[1,2]},
        "reported":{"color":"GREEN","lights":{"on":true}}},
        "metadata":{"desired":{"color":{"timestamp":1700000000},
        "lights":{"on":{"timestamp":1700000000},"level":{"timestamp":1700000000}},
        "seq":[{"timestamp":1700000000},{"timestamp":1700000000}]},
        "reported":{"color":{"timestamp":1700000000},"lights":{"on":{"timestamp":1700000000}}}},
        "version":7}"#;
    ShadowDocument::from_stored_json(text).unwrap_or_default()
}

fn check(
    before: Option<&ShadowDocument>,
    after: &ShadowDocument,
    delta: Option<&Value>,
    limits: &Limits,
) -> Result<(), BrokenInvariant> {
    let broken = |what: &str| Err(BrokenInvariant(what.to_owned()));
    if after.version != before.map_or(0, |document| document.version) + 1 {
        return broken("version did not grow by one");
    }
    if !same_shape(&after.desired, &after.metadata.desired)
        || !same_shape(&after.reported, &after.metadata.reported)
    {
        return broken("metadata is not shaped like the state");
    }
    if after.state_value().to_string().len() > limits.max_state_bytes {
        return broken("stored state is over the size limit");
    }
    if ShadowDocument::from_stored_json(&after.to_stored_json()).as_ref() != Ok(after) {
        return broken("stored document does not read back");
    }
    if delta.is_some() != after.delta().is_some() {
        return broken("delta payload disagrees with the document's delta");
    }
    if get_response(after, None, 1).get("version") != Some(&Value::from(after.version)) {
        return broken("get response has the wrong version");
    }
    Ok(())
}

fn same_shape(
    section: &Option<serde_json::Map<String, Value>>,
    metadata: &Option<serde_json::Map<String, Value>>,
) -> bool {
    match (section, metadata) {
        (None, None) => true,
        (Some(section), Some(metadata)) => same_value_shape(
            &Value::Object(section.clone()),
            &Value::Object(metadata.clone()),
        ),
        _ => false,
    }
}

fn same_value_shape(value: &Value, metadata: &Value) -> bool {
    match (value, metadata) {
        (Value::Object(fields), Value::Object(times)) => {
            fields.len() == times.len()
                && fields.iter().all(|(key, field)| {
                    times
                        .get(key)
                        .is_some_and(|time| same_value_shape(field, time))
                })
        }
        (Value::Array(items), Value::Array(times)) => {
            items.len() == times.len()
                && items
                    .iter()
                    .zip(times)
                    .all(|(item, time)| same_value_shape(item, time))
        }
        (Value::Object(_) | Value::Array(_), _) => false,
        (_, Value::Object(leaf)) => leaf.len() == 1 && leaf.get("timestamp").is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_document_is_valid() {
        assert_eq!(fixed_document().version, 7);
    }

    #[test]
    fn the_fuzz_corpus_replays_cleanly() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fuzz/corpus/shadow_update"
        );
        let mut replayed = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            if let Err(broken) = update(&bytes) {
                panic!("{}: {broken}", path.display());
            }
            replayed += 1;
        }
        assert!(
            replayed >= 10,
            "expected the seed corpus in {dir}, found {replayed}"
        );
    }
}
