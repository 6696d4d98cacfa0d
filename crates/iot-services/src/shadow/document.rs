//! The stored shadow document and the update operation on it: deep merge of `desired` and
//! `reported`, per-leaf metadata timestamps, optimistic locking, the size limit, and the three
//! payloads AWS publishes after an accepted update. No IO and no clock: `now` is passed in as
//! epoch seconds, the unit shadow documents use. It does not store anything (the store keeps
//! [`ShadowDocument::to_stored_json`] as opaque text) and does not route topics.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::delta::{delta, delta_metadata};
use super::error::ShadowError;
use super::limits::Limits;
use super::request::{SectionChange, UpdateRequest};
use super::response;

/// One shadow as stored: its two sections, their metadata and its version.
///
/// The metadata of each section has the section's shape, with `{"timestamp": T}` (epoch seconds
/// of the update that last set it) in place of each scalar, and for an array a list with one
/// entry per element, built the same way (so `[1, 2]` has `[{"timestamp": T}, {"timestamp":
/// T}]`). Arrays follow AWS's own captures (developerguide/using-device-shadows.md shows
/// `"ColorRGB": [{"timestamp": …}, …]`), not the older example in device-shadow-document.md
/// that gave an array a single timestamp. An empty object's metadata is an empty object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShadowDocument {
    /// The desired section; `None` when the document has none.
    pub desired: Option<Map<String, Value>>,
    /// The reported section; `None` when the document has none.
    pub reported: Option<Map<String, Value>>,
    /// Per-leaf timestamps of both sections.
    pub metadata: ShadowMetadata,
    /// Incremented by one on every accepted update.
    pub version: u64,
}

/// The metadata of a shadow's two sections (see [`ShadowDocument`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowMetadata {
    /// Timestamps of the desired section's leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Map<String, Value>>,
    /// Timestamps of the reported section's leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<Map<String, Value>>,
}

/// A stored shadow text that cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredDocumentError {
    /// The text is not JSON; the detail is serde_json's, with line and column.
    #[error("stored shadow document is not JSON: {0}")]
    NotJson(String),
    /// The JSON does not have the stored document's shape (for example `desired` is not an
    /// object, or `version` is missing); the detail names the field.
    #[error("stored shadow document has the wrong shape: {0}")]
    WrongShape(String),
}

/// The result of an accepted update: the document to store and the payloads to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The document after the update, to store in place of the old one.
    pub document: ShadowDocument,
    /// The `update/accepted` payload (also the HTTP UpdateThingShadow response body): the
    /// request's `state` as sent, metadata of the same shape stamped `now`, the new `version`,
    /// `timestamp`, and `clientToken` when the request had one.
    pub accepted: Value,
    /// The `update/delta` payload, present when the updated document has a delta.
    ///
    /// It carries the whole current delta, not only the fields this request touched: "It
    /// contains all of these attributes, regardless of whether these attributes were contained
    /// in the current update message or were already stored" (device-shadow-mqtt.md). It is
    /// sent after any accepted update that leaves a delta, a `reported`-only update included;
    /// AWS documents no exception, and its local shadow service does the same.
    pub delta: Option<Value>,
    /// The `update/documents` payload: `previous` and `current` snapshots (`state` with
    /// `desired` and `reported`, `metadata`, `version`; no delta), `timestamp` and
    /// `clientToken`. On a shadow's creation `previous` is `null`: the documentation defines
    /// it only as the state before the update and there was none; ministack, whose shadow
    /// behaviour was checked against the live service, sends `null` too.
    pub documents: Value,
}

/// Applies an update request to a shadow (`None` when the shadow does not exist).
///
/// What happens, in order:
/// - **Version.** When the request carries a `version`, it must equal the shadow's current
///   version, else 409 `Version conflict` (device-shadow-data-flow.md, "Optimistic locking").
///   A shadow that does not exist is at version 0: a new shadow's versions start from 0
///   (device-shadow-data-flow.md: a shadow re-created after its 48 hours of tombstone "will be
///   0"), so `"version": 0` creates it and any other version is a conflict. AWS's local shadow
///   service instead refuses such a version with 400 `Invalid version`; the cloud's answer is
///   undocumented.
/// - **Merge.** `"state": null` clears both sections. `"desired": null` (or `reported`)
///   removes the section. Otherwise the section object is deep-merged: a `null` removes its
///   field (and a `null` for a field that is not there stores nothing), an object merges into
///   an object field and replaces anything else, an array or scalar replaces the field whole.
///   Empty objects are stored like any value, but a section left with no field at all is
///   removed ("If an update causes the `desired` or `reported` properties to become null, it
///   is removed"; moto's AWS-verified tests: `{"desired":{}}` on a new shadow reads back as
///   `state: {}`, an inner `"d": {}` reads back as `"d": {}`).
/// - **Metadata.** Every field the request sets gets `now` as its timestamp; fields it does not
///   touch keep theirs (AWS keeps per-attribute update times; moto re-stamps every field, its
///   open issue #3849).
/// - **Size.** The merged state may hold at most [`Limits::max_state_bytes`], else 413 `The
///   payload exceeds the maximum size allowed` and nothing changes: the limit is on the stored
///   document, so a small update to a full shadow is refused too.
/// - **Version + 1**, on every accepted update, even one that changes nothing.
pub fn apply_update(
    current: Option<&ShadowDocument>,
    request: &UpdateRequest,
    now_secs: u64,
    limits: &Limits,
) -> Result<Applied, ShadowError> {
    match current {
        Some(document) => update(Some(document), document.version, request, now_secs, limits),
        None => update(None, 0, request, now_secs, limits),
    }
}

/// Applies an update request to a shadow that was deleted at version `deleted_version` within
/// the last 48 hours: the new shadow's versions continue from it ("If you create a device
/// shadow document that has the same name as one that was deleted within the past 48 hours, the
/// version number of the new device shadow document will follow that of the deleted one",
/// device-shadow-data-flow.md). Otherwise as [`apply_update`] on a shadow that does not exist:
/// a request `version` must equal `deleted_version`, and `previous` is `null`.
pub fn apply_update_after_delete(
    deleted_version: u64,
    request: &UpdateRequest,
    now_secs: u64,
    limits: &Limits,
) -> Result<Applied, ShadowError> {
    update(None, deleted_version, request, now_secs, limits)
}

fn update(
    current: Option<&ShadowDocument>,
    current_version: u64,
    request: &UpdateRequest,
    now: u64,
    limits: &Limits,
) -> Result<Applied, ShadowError> {
    if request
        .version()
        .is_some_and(|version| version != current_version)
    {
        return Err(ShadowError::version_conflict());
    }
    let version = current_version
        .checked_add(1)
        .ok_or_else(ShadowError::internal_failure)?;
    let mut document = match current {
        Some(document) if !request.clears_state() => document.clone(),
        _ => ShadowDocument::default(),
    };
    document.version = version;
    if !request.clears_state() {
        let ShadowDocument {
            desired,
            reported,
            metadata,
            ..
        } = &mut document;
        change_section(
            desired,
            &mut metadata.desired,
            request.section("desired"),
            now,
        );
        change_section(
            reported,
            &mut metadata.reported,
            request.section("reported"),
            now,
        );
    }
    if document.state_bytes() > limits.max_state_bytes {
        return Err(ShadowError::payload_too_large());
    }
    let delta = document.delta().map(|delta| {
        response::delta_payload(
            &delta,
            delta_metadata(&delta, document.metadata.desired.as_ref()),
            version,
            now,
            request.client_token(),
        )
    });
    Ok(Applied {
        accepted: response::accepted_payload(request, version, now),
        delta,
        documents: response::documents_payload(current, &document, now, request.client_token()),
        document,
    })
}

impl ShadowDocument {
    /// The delta between `desired` and `reported`, `None` when there is none (no desired
    /// section, or nothing in it that `reported` does not already show).
    pub fn delta(&self) -> Option<Map<String, Value>> {
        let delta = delta(self.desired.as_ref()?, self.reported.as_ref());
        (!delta.is_empty()).then_some(delta)
    }

    /// The document as the JSON text the store keeps: `{"state":{"desired":…,"reported":…},
    /// "metadata":{…},"version":N}`, absent sections left out.
    pub fn to_stored_json(&self) -> String {
        self.snapshot().to_string()
    }

    /// Reads back a text written by [`to_stored_json`](Self::to_stored_json).
    pub fn from_stored_json(text: &str) -> Result<ShadowDocument, StoredDocumentError> {
        let stored: Stored = serde_json::from_str(text).map_err(|err| match err.classify() {
            serde_json::error::Category::Data => StoredDocumentError::WrongShape(err.to_string()),
            _ => StoredDocumentError::NotJson(err.to_string()),
        })?;
        Ok(ShadowDocument {
            desired: stored.state.desired,
            reported: stored.state.reported,
            metadata: stored.metadata,
            version: stored.version,
        })
    }

    /// The document as `update/documents` shows it in `previous` and `current`, and as the
    /// store keeps it: `state` (desired, reported), `metadata` and `version`, no delta.
    pub(crate) fn snapshot(&self) -> Value {
        let mut out = Map::new();
        out.insert("state".into(), self.state_value());
        out.insert(
            "metadata".into(),
            sections(&self.metadata.desired, &self.metadata.reported),
        );
        out.insert("version".into(), self.version.into());
        Value::Object(out)
    }

    /// `{"desired":…,"reported":…}` with absent sections left out.
    pub(crate) fn state_value(&self) -> Value {
        sections(&self.desired, &self.reported)
    }

    /// The bytes the state counts against [`Limits::max_state_bytes`].
    fn state_bytes(&self) -> usize {
        let mut counter = ByteCounter(0);
        // Writing a Value into a counter cannot fail: the counter never refuses bytes and a
        // Value has only string keys.
        let _ = serde_json::to_writer(&mut counter, &self.state_value());
        counter.0
    }
}

/// `{"desired":…,"reported":…}` from two optional sections.
pub(crate) fn sections(
    desired: &Option<Map<String, Value>>,
    reported: &Option<Map<String, Value>>,
) -> Value {
    let mut out = Map::new();
    if let Some(desired) = desired {
        out.insert("desired".into(), Value::Object(desired.clone()));
    }
    if let Some(reported) = reported {
        out.insert("reported".into(), Value::Object(reported.clone()));
    }
    Value::Object(out)
}

/// The metadata a value gets when an update sets it at `now`: `{"timestamp": now}` for a
/// scalar (or the `null` that deletes a field, as `update/accepted` echoes it), the same shape
/// for an object, one entry per element for an array.
pub(crate) fn stamped(value: &Value, now: u64) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| (key.clone(), stamped(value, now)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|item| stamped(item, now)).collect()),
        _ => {
            let mut leaf = Map::new();
            leaf.insert("timestamp".into(), now.into());
            Value::Object(leaf)
        }
    }
}

fn change_section(
    section: &mut Option<Map<String, Value>>,
    metadata: &mut Option<Map<String, Value>>,
    change: SectionChange<'_>,
    now: u64,
) {
    match change {
        SectionChange::Keep => {}
        SectionChange::Remove => {
            *section = None;
            *metadata = None;
        }
        SectionChange::Merge(patch) => {
            let mut fields = section.take().unwrap_or_default();
            let mut times = metadata.take().unwrap_or_default();
            merge(&mut fields, &mut times, patch, now);
            if !fields.is_empty() {
                *section = Some(fields);
                *metadata = Some(times);
            }
        }
    }
}

/// Deep-merges `patch` into `fields`, keeping `times` (the metadata of `fields`) in step.
fn merge(
    fields: &mut Map<String, Value>,
    times: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    now: u64,
) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                fields.remove(key);
                times.remove(key);
            }
            Value::Object(inner_patch) => {
                // An object merges into an object; anything else it replaces, starting from
                // an empty object (and empty metadata) so that only its own fields are set.
                if !matches!(fields.get(key), Some(Value::Object(_))) {
                    fields.insert(key.clone(), Value::Object(Map::new()));
                    times.insert(key.clone(), Value::Object(Map::new()));
                } else if !matches!(times.get(key), Some(Value::Object(_))) {
                    times.insert(key.clone(), Value::Object(Map::new()));
                }
                if let (Some(Value::Object(inner_fields)), Some(Value::Object(inner_times))) =
                    (fields.get_mut(key), times.get_mut(key))
                {
                    merge(inner_fields, inner_times, inner_patch, now);
                }
            }
            _ => {
                fields.insert(key.clone(), value.clone());
                times.insert(key.clone(), stamped(value, now));
            }
        }
    }
}

#[derive(Deserialize)]
struct Stored {
    #[serde(default)]
    state: StoredState,
    #[serde(default)]
    metadata: ShadowMetadata,
    version: u64,
}

#[derive(Default, Deserialize)]
struct StoredState {
    #[serde(default)]
    desired: Option<Map<String, Value>>,
    #[serde(default)]
    reported: Option<Map<String, Value>>,
}

struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
