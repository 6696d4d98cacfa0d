//! The delta state: what `desired` asks for that `reported` does not show, and the metadata
//! that goes with it (device-shadow-document.md "Delta state", device-shadow-mqtt.md
//! "/update/delta"). Pure functions over the two sections; it does not decide when a delta is
//! published (see `document.rs`).

use serde_json::{Map, Number, Value};

/// The delta between the two sections: every field of `desired` that `reported` lacks or holds
/// with a different value.
///
/// The rules, from device-shadow-document.md: the service "calculates the delta by iterating
/// through each field in the `desired` state and comparing it to the `reported` state"; fields
/// only in `reported` are left out; "when nested objects differ, the delta contains the path all
/// the way to the root" with only the differing leaves below it; arrays "are treated like
/// values", so a differing array is copied whole. An empty object in `desired` is a value like
/// any other: it appears in the delta when `reported` lacks it (moto's AWS-verified
/// `test_update_desired`), and two objects compare by their fields, so `{}` against any object
/// adds nothing.
///
/// Numbers compare by value, so `1` equals `1.0` (as AWS's local shadow service compares them;
/// the cloud's rule is undocumented), inside arrays too.
pub(crate) fn delta(
    desired: &Map<String, Value>,
    reported: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, wanted) in desired {
        match (wanted, reported.and_then(|section| section.get(key))) {
            (Value::Object(wanted_fields), Some(Value::Object(shown_fields))) => {
                let inner = delta(wanted_fields, Some(shown_fields));
                if !inner.is_empty() {
                    out.insert(key.clone(), Value::Object(inner));
                }
            }
            (_, Some(shown)) if values_equal(wanted, shown) => {}
            _ => {
                out.insert(key.clone(), wanted.clone());
            }
        }
    }
    out
}

/// The metadata of a delta: for each field in it, the `desired` metadata of that field ("The
/// delta contains metadata, and its values are equal to the metadata in the `desired` field").
/// A field whose metadata is missing (a stored document written by hand) is left out rather
/// than invented.
pub(crate) fn delta_metadata(
    delta: &Map<String, Value>,
    desired_metadata: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in delta {
        let Some(metadata) = desired_metadata.and_then(|section| section.get(key)) else {
            continue;
        };
        match (value, metadata) {
            (Value::Object(fields), Value::Object(field_metadata)) => {
                out.insert(
                    key.clone(),
                    Value::Object(delta_metadata(fields, Some(field_metadata))),
                );
            }
            _ => {
                out.insert(key.clone(), metadata.clone());
            }
        }
    }
    out
}

/// JSON equality with numbers compared by value.
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => numbers_equal(a, b),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, a)| b.get(key).is_some_and(|b| values_equal(a, b)))
        }
        _ => a == b,
    }
}

fn numbers_equal(a: &Number, b: &Number) -> bool {
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a.as_f64() == b.as_f64(),
    }
}

fn integer(number: &Number) -> Option<i128> {
    number
        .as_i64()
        .map(i128::from)
        .or_else(|| number.as_u64().map(i128::from))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn delta_of(desired: Value, reported: Value) -> Value {
        let reported = object(reported);
        Value::Object(delta(&object(desired), Some(&reported)))
    }

    #[test]
    fn documented_examples() {
        // device-shadow-document.md, "Delta state".
        assert_eq!(
            delta_of(
                json!({"color": "RED", "state": "STOP"}),
                json!({"color": "GREEN", "engine": "ON"})
            ),
            json!({"color": "RED", "state": "STOP"})
        );
        assert_eq!(
            delta_of(
                json!({"lights": {"color": {"r": 255, "g": 255, "b": 255}}}),
                json!({"lights": {"color": {"r": 255, "g": 0, "b": 255}}})
            ),
            json!({"lights": {"color": {"g": 255}}})
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(delta_of(json!({"a": 1}), json!({"a": 1.0})), json!({}));
        assert_eq!(
            delta_of(json!({"a": [1, 2]}), json!({"a": [1.0, 2]})),
            json!({})
        );
        assert_eq!(
            delta_of(json!({"a": 1}), json!({"a": 1.5})),
            json!({"a": 1})
        );
        assert_eq!(
            delta_of(json!({"a": -1}), json!({"a": u64::MAX})),
            json!({"a": -1})
        );
        assert_eq!(
            delta_of(json!({"a": 1}), json!({"a": "1"})),
            json!({"a": 1})
        );
    }

    #[test]
    fn empty_objects() {
        assert_eq!(delta_of(json!({"d": {}}), json!({})), json!({"d": {}}));
        assert_eq!(
            delta_of(json!({"d": {}}), json!({"d": {"x": 1}})),
            json!({})
        );
        assert_eq!(
            delta_of(json!({"d": {}}), json!({"d": 5})),
            json!({"d": {}})
        );
    }

    #[test]
    fn metadata_follows_the_delta() {
        let delta = object(json!({"a": {"b": 1}, "list": [1, 2], "gone": 3}));
        let metadata = object(json!({
            "a": {"b": {"timestamp": 5}, "c": {"timestamp": 6}},
            "list": [{"timestamp": 7}, {"timestamp": 7}],
        }));
        assert_eq!(
            Value::Object(delta_metadata(&delta, Some(&metadata))),
            json!({"a": {"b": {"timestamp": 5}}, "list": [{"timestamp": 7}, {"timestamp": 7}]})
        );
    }
}
