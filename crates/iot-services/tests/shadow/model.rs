//! A reference model of the Device Shadow document, written separately from the engine and as
//! plainly as possible: each section is a `BTreeMap` of nodes, an update is a recursive merge,
//! the delta a recursive walk over `desired`, every leaf remembers when it was set. The property
//! test applies random update sequences to both and compares every payload as whole JSON.

use std::collections::BTreeMap;

use iot_services::shadow::{Limits, ShadowDocument, UpdateRequest, apply_update, get_response};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

// Smaller than AWS's limits so that random sequences reach them often.
const LIMITS: Limits = Limits {
    max_depth: 4,
    max_state_bytes: 150,
    max_client_token_bytes: 64,
};

/// A field: a leaf value (scalar or array) with the time it was set, or an object.
#[derive(Debug, Clone)]
enum Node {
    Leaf(Value, u64),
    Object(BTreeMap<String, Node>),
}

type Section = BTreeMap<String, Node>;

#[derive(Debug, Clone, Default)]
struct Model {
    exists: bool,
    desired: Option<Section>,
    reported: Option<Section>,
    version: u64,
}

/// How a generated request states its version.
#[derive(Debug, Clone)]
pub enum VersionMode {
    Absent,
    Current,
    Off(u64),
}

#[derive(Debug, Clone)]
pub struct Step {
    state: Value,
    version: VersionMode,
    token: bool,
}

// --- generators --------------------------------------------------------------------------------

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(str::to_owned)
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-2i64..3).prop_map(Value::from),
        prop::sample::select(vec![0.0, 1.0, 1.5, 2.0]).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        prop::sample::select(vec!["x", "y"]).prop_map(Value::from),
    ]
}

/// Values found inside arrays: no nulls except, rarely, one to be refused.
fn array_item() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![20 => scalar(), 1 => Just(Value::Null)];
    leaf.prop_recursive(3, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..2)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A value in an update: scalar, null, array, or an object of such values, up to eight levels so
/// that some requests are too deep.
fn patch_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        6 => scalar(),
        3 => Just(Value::Null),
        2 => prop::collection::vec(array_item(), 0..3).prop_map(Value::Array),
    ];
    leaf.prop_recursive(7, 24, 3, |inner| {
        prop::collection::btree_map(key(), inner, 0..3)
            .prop_map(|map| Value::Object(map.into_iter().collect()))
    })
}

fn section_patch() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(Value::Null)),
        6 => prop::collection::btree_map(key(), patch_value(), 0..3)
            .prop_map(|map| Some(Value::Object(map.into_iter().collect()))),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let state = prop_oneof![
        1 => Just(Value::Null),
        12 => (section_patch(), section_patch()).prop_map(|(desired, reported)| {
            let mut state = Map::new();
            if let Some(desired) = desired {
                state.insert("desired".into(), desired);
            }
            if let Some(reported) = reported {
                state.insert("reported".into(), reported);
            }
            Value::Object(state)
        }),
    ];
    let version = prop_oneof![
        6 => Just(VersionMode::Absent),
        3 => Just(VersionMode::Current),
        1 => (1u64..3).prop_map(VersionMode::Off),
    ];
    (state, version, any::<bool>()).prop_map(|(state, version, token)| Step {
        state,
        version,
        token,
    })
}

pub fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step(), 1..14)
}

// --- the model ---------------------------------------------------------------------------------

fn to_value(node: &Node) -> Value {
    match node {
        Node::Leaf(value, _) => value.clone(),
        Node::Object(fields) => section_value(fields),
    }
}

fn section_value(section: &Section) -> Value {
    Value::Object(
        section
            .iter()
            .map(|(k, v)| (k.clone(), to_value(v)))
            .collect(),
    )
}

/// Metadata of a value set at `time`: one timestamp per scalar, per element of an array.
fn stamp(value: &Value, time: u64) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|item| stamp(item, time)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), stamp(v, time)))
                .collect(),
        ),
        _ => json!({"timestamp": time}),
    }
}

fn metadata(node: &Node) -> Value {
    match node {
        Node::Leaf(value, time) => stamp(value, *time),
        Node::Object(fields) => section_metadata(fields),
    }
}

fn section_metadata(section: &Section) -> Value {
    Value::Object(
        section
            .iter()
            .map(|(k, v)| (k.clone(), metadata(v)))
            .collect(),
    )
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, a)| b.get(k).is_some_and(|b| same(a, b)))
        }
        _ => a == b,
    }
}

fn merge(section: &mut Section, patch: &Map<String, Value>, now: u64) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                section.remove(key);
            }
            Value::Object(inner_patch) => {
                let mut inner = match section.remove(key) {
                    Some(Node::Object(inner)) => inner,
                    _ => Section::new(),
                };
                merge(&mut inner, inner_patch, now);
                section.insert(key.clone(), Node::Object(inner));
            }
            other => {
                section.insert(key.clone(), Node::Leaf(other.clone(), now));
            }
        }
    }
}

fn delta(desired: &Section, reported: Option<&Section>) -> Section {
    let mut out = Section::new();
    for (key, wanted) in desired {
        match (wanted, reported.and_then(|r| r.get(key))) {
            (Node::Object(w), Some(Node::Object(r))) => {
                let inner = delta(w, Some(r));
                if !inner.is_empty() {
                    out.insert(key.clone(), Node::Object(inner));
                }
            }
            (_, Some(shown)) if same(&to_value(wanted), &to_value(shown)) => {}
            _ => {
                out.insert(key.clone(), wanted.clone());
            }
        }
    }
    out
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn null_in_array(value: &Value, inside: bool) -> bool {
    match value {
        Value::Null => inside,
        Value::Array(items) => items.iter().any(|v| null_in_array(v, true)),
        Value::Object(map) => map.values().any(|v| null_in_array(v, inside)),
        _ => false,
    }
}

impl Model {
    fn state(&self) -> Map<String, Value> {
        let mut state = Map::new();
        if let Some(desired) = &self.desired {
            state.insert("desired".into(), section_value(desired));
        }
        if let Some(reported) = &self.reported {
            state.insert("reported".into(), section_value(reported));
        }
        state
    }

    fn metadata(&self) -> Map<String, Value> {
        let mut metadata = Map::new();
        if let Some(desired) = &self.desired {
            metadata.insert("desired".into(), section_metadata(desired));
        }
        if let Some(reported) = &self.reported {
            metadata.insert("reported".into(), section_metadata(reported));
        }
        metadata
    }

    fn delta(&self) -> Option<Section> {
        let delta = delta(self.desired.as_ref()?, self.reported.as_ref());
        (!delta.is_empty()).then_some(delta)
    }

    fn get(&self) -> Value {
        let mut state = self.state();
        let mut metadata = self.metadata();
        if let Some(delta) = self.delta() {
            state.insert("delta".into(), section_value(&delta));
            metadata.insert("delta".into(), section_metadata(&delta));
        }
        json!({"state": state, "metadata": metadata, "version": self.version, "timestamp": 0})
    }

    fn snapshot(&self) -> Value {
        json!({"state": self.state(), "metadata": self.metadata(), "version": self.version})
    }

    /// Applies a request, or returns the (code, message) it is refused with.
    fn apply(&self, step: &Step, version: Option<u64>, now: u64) -> Result<Model, (u16, String)> {
        if let Value::Object(sections) = &step.state {
            for section in sections.values() {
                if depth(section) > LIMITS.max_depth {
                    return Err((
                        400,
                        format!(
                            "JSON contains too many levels of nesting; maximum is {}",
                            LIMITS.max_depth
                        ),
                    ));
                }
                if null_in_array(section, false) {
                    return Err((400, "Invalid JSON".into()));
                }
            }
        }
        if version.is_some_and(|v| v != self.version) {
            return Err((409, "Version conflict".into()));
        }
        let mut next = self.clone();
        next.exists = true;
        next.version += 1;
        match &step.state {
            Value::Object(sections) => {
                for (name, target) in [
                    ("desired", &mut next.desired),
                    ("reported", &mut next.reported),
                ] {
                    match sections.get(name) {
                        None => {}
                        Some(Value::Object(patch)) => {
                            let mut section = target.take().unwrap_or_default();
                            merge(&mut section, patch, now);
                            *target = (!section.is_empty()).then_some(section);
                        }
                        Some(_) => *target = None,
                    }
                }
            }
            _ => {
                next.desired = None;
                next.reported = None;
            }
        }
        if Value::Object(next.state()).to_string().len() > LIMITS.max_state_bytes {
            return Err((413, "The payload exceeds the maximum size allowed".into()));
        }
        Ok(next)
    }
}

// --- the property ------------------------------------------------------------------------------

pub fn check_sequence(steps: &[Step]) {
    let mut model = Model::default();
    let mut document: Option<ShadowDocument> = None;
    for (index, step) in steps.iter().enumerate() {
        let now = 1000 + index as u64;
        let version = match step.version {
            VersionMode::Absent => None,
            VersionMode::Current => Some(model.version),
            VersionMode::Off(by) => Some(model.version + by),
        };
        let mut payload = json!({"state": step.state});
        if let Some(version) = version {
            payload["version"] = json!(version);
        }
        if step.token {
            payload["clientToken"] = json!("tok");
        }
        let token = step.token.then_some("tok");

        let engine = UpdateRequest::parse(payload.to_string().as_bytes(), &LIMITS)
            .and_then(|request| apply_update(document.as_ref(), &request, now, &LIMITS));
        match (model.apply(step, version, now), engine) {
            (Err(expected), Err(got)) => {
                assert_eq!((got.code, got.message), expected, "step {index}: {payload}");
            }
            (Ok(next), Ok(applied)) => {
                let mut accepted = json!({
                    "state": step.state,
                    "metadata": stamp(&step.state, now),
                    "version": next.version,
                    "timestamp": now,
                });
                let mut documents = json!({
                    "previous": if model.exists { model.snapshot() } else { Value::Null },
                    "current": next.snapshot(),
                    "timestamp": now,
                });
                let mut delta = next.delta().map(|delta| {
                    json!({
                        "state": section_value(&delta),
                        "metadata": section_metadata(&delta),
                        "version": next.version,
                        "timestamp": now,
                    })
                });
                if let Some(token) = token {
                    accepted["clientToken"] = json!(token);
                    documents["clientToken"] = json!(token);
                    if let Some(delta) = delta.as_mut() {
                        delta["clientToken"] = json!(token);
                    }
                }
                assert_eq!(applied.accepted, accepted, "step {index}: {payload}");
                assert_eq!(applied.delta, delta, "step {index}: {payload}");
                assert_eq!(applied.documents, documents, "step {index}: {payload}");
                assert_eq!(
                    get_response(&applied.document, None, 0),
                    next.get(),
                    "step {index}"
                );
                let stored = applied.document.to_stored_json();
                assert_eq!(
                    ShadowDocument::from_stored_json(&stored).unwrap(),
                    applied.document
                );
                model = next;
                document = Some(applied.document);
            }
            (expected, got) => {
                panic!("step {index}: {payload}\nmodel {expected:?}\nengine {got:?}")
            }
        }
    }
}
