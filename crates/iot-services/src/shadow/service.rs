//! The Device Shadow service over the store: get, update, delete and list, each written once
//! for both forms AWS offers. The MQTT form ([`handle_publish`]) answers on the request's
//! `/accepted` and `/rejected` topics; the HTTP form (the `iot-data` routes in the server) uses
//! the same functions and turns a [`ShadowError`] into an HTTP error. As in AWS, updates and
//! deletes publish their notifications (`update/accepted`, `update/delta`, `update/documents`,
//! `delete/accepted`) whichever form made them, so a device hears about a back end's HTTP
//! update. Shadows need no registered thing and outlive their thing.
//!
//! A deleted shadow stays in the store as a tombstone for 48 hours so that its version
//! continues when it is recreated (device-shadow-data-flow.md). A store failure is AWS's 500
//! `Internal service failure`, with the cause in the server's log.

use serde_json::{Value, json};
use store::{PageRequest, ServiceTx, StoreError, StoredShadow};

use super::topic::{Operation, ShadowId};
use super::{
    Limits, ShadowDocument, ShadowError, UpdateRequest, apply_update, apply_update_after_delete,
    check_shadow_name, check_thing_name, delete_response, error_response, get_response,
    request_client_token,
};
use crate::{OutMessage, Output};

/// How long a deleted shadow's version is remembered.
const TOMBSTONE_MS: i64 = 48 * 3600 * 1000;

/// An accepted update: the `update/accepted` document (the HTTP answer) and everything to
/// publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// The `update/accepted` payload.
    pub body: Value,
    /// `update/accepted`, `update/delta` (when there is a delta) and `update/documents`.
    pub output: Output,
}

/// A deleted shadow: the `delete/accepted` document and its publication.
#[derive(Debug, Clone, PartialEq)]
pub struct Deleted {
    /// The `delete/accepted` payload.
    pub body: Value,
    /// `delete/accepted`.
    pub output: Output,
}

/// Handles a publish to a shadow request topic: the answer on `/accepted` or `/rejected`, and
/// the notifications. `throttled` says the connection has too many requests in flight already
/// (AWS answers 429). Returns nothing for a topic that is not a shadow request.
pub fn handle_publish(
    tx: &ServiceTx<'_>,
    topic: &str,
    payload: &[u8],
    throttled: bool,
    limits: &Limits,
    now_ms: i64,
) -> Output {
    let Some((id, operation)) = super::topic::parse(topic) else {
        return Output::default();
    };
    let token = request_client_token(payload, limits);
    let result = if throttled {
        Err(ShadowError::too_many_requests())
    } else {
        match operation {
            Operation::Get => get(tx, &id, token.as_deref(), now_ms).map(|body| Output {
                publish: vec![OutMessage::json(
                    id.topic(Operation::Get, "accepted"),
                    &body,
                )],
                direct: Vec::new(),
            }),
            Operation::Update => update(tx, &id, payload, limits, now_ms).map(|u| u.output),
            Operation::Delete => delete(tx, &id, token.as_deref(), now_ms).map(|d| d.output),
        }
    };
    result.unwrap_or_else(|error| rejected(&id, operation, &error, token.as_deref(), now_ms))
}

/// The answer to a request that could not be handled: its error on `{operation}/rejected`.
pub fn rejected(
    id: &ShadowId,
    operation: Operation,
    error: &ShadowError,
    client_token: Option<&str>,
    now_ms: i64,
) -> Output {
    let body = error_response(error, client_token, secs(now_ms));
    Output {
        publish: vec![OutMessage::json(id.topic(operation, "rejected"), &body)],
        direct: Vec::new(),
    }
}

/// What a request on a shadow topic is answered with when its batch could not be committed:
/// 500 on its `/rejected` topic. `None` for a topic that is not a shadow request.
pub fn failed(topic: &str, payload: &[u8], limits: &Limits, now_ms: i64) -> Option<Output> {
    let (id, operation) = super::topic::parse(topic)?;
    let token = request_client_token(payload, limits);
    Some(rejected(
        &id,
        operation,
        &ShadowError::internal_failure(),
        token.as_deref(),
        now_ms,
    ))
}

/// GetThingShadow: the whole document.
pub fn get(
    tx: &ServiceTx<'_>,
    id: &ShadowId,
    client_token: Option<&str>,
    now_ms: i64,
) -> Result<Value, ShadowError> {
    check_names(id)?;
    let document = current(tx, id)?
        .and_then(|stored| stored.document)
        .ok_or_else(|| ShadowError::no_shadow(id.display_name()))?;
    let document = parse_stored(id, &document)?;
    Ok(get_response(&document, client_token, secs(now_ms)))
}

/// UpdateThingShadow: merges the request into the shadow (creating it), stores it, and
/// returns the answer and the notifications. A refused request changes nothing.
pub fn update(
    tx: &ServiceTx<'_>,
    id: &ShadowId,
    payload: &[u8],
    limits: &Limits,
    now_ms: i64,
) -> Result<Updated, ShadowError> {
    check_names(id)?;
    let request = UpdateRequest::parse(payload, limits)?;
    let stored = current(tx, id)?;
    let now = secs(now_ms);
    let applied = match &stored {
        Some(StoredShadow {
            document: Some(text),
            ..
        }) => apply_update(Some(&parse_stored(id, text)?), &request, now, limits)?,
        Some(tombstone) if now_ms.saturating_sub(tombstone.updated_ms) <= TOMBSTONE_MS => {
            let version = u64::try_from(tombstone.version).unwrap_or(0);
            apply_update_after_delete(version, &request, now, limits)?
        }
        _ => apply_update(None, &request, now, limits)?,
    };
    write(
        tx,
        &StoredShadow {
            thing: id.thing.clone(),
            name: id.stored_name().to_owned(),
            document: Some(applied.document.to_stored_json()),
            version: i64::try_from(applied.document.version).unwrap_or(i64::MAX),
            updated_ms: now_ms,
        },
    )?;
    let mut publish = vec![OutMessage::json(
        id.topic(Operation::Update, "accepted"),
        &applied.accepted,
    )];
    if let Some(delta) = &applied.delta {
        publish.push(OutMessage::json(
            id.topic(Operation::Update, "delta"),
            delta,
        ));
    }
    publish.push(OutMessage::json(
        id.topic(Operation::Update, "documents"),
        &applied.documents,
    ));
    Ok(Updated {
        body: applied.accepted,
        output: Output {
            publish,
            direct: Vec::new(),
        },
    })
}

/// DeleteThingShadow: deletes the shadow, keeping its version for a recreation within 48
/// hours. A shadow that does not exist is 404.
pub fn delete(
    tx: &ServiceTx<'_>,
    id: &ShadowId,
    client_token: Option<&str>,
    now_ms: i64,
) -> Result<Deleted, ShadowError> {
    check_names(id)?;
    let stored = current(tx, id)?
        .filter(|stored| stored.document.is_some())
        .ok_or_else(|| ShadowError::no_shadow(id.display_name()))?;
    write(
        tx,
        &StoredShadow {
            document: None,
            updated_ms: now_ms,
            ..stored.clone()
        },
    )?;
    let version = u64::try_from(stored.version).unwrap_or(0);
    let body = delete_response(version, client_token, secs(now_ms));
    Ok(Deleted {
        output: Output {
            publish: vec![OutMessage::json(
                id.topic(Operation::Delete, "accepted"),
                &body,
            )],
            direct: Vec::new(),
        },
        body,
    })
}

/// ListNamedShadowsForThing: one page of the thing's named shadows, `{"results", "nextToken",
/// "timestamp"}`. An unknown thing has none (AWS answers an empty list, not 404).
pub fn list_named(
    tx: &ServiceTx<'_>,
    thing: &str,
    page_size: usize,
    next_token: Option<String>,
    now_ms: i64,
) -> Result<Value, ShadowError> {
    check_thing_name(thing)?;
    let page = PageRequest {
        token: next_token,
        size: page_size,
        order: store::Order::Ascending,
    };
    let page = tx.named_shadows(thing, &page).map_err(internal)?;
    let mut body = json!({ "results": page.items, "timestamp": secs(now_ms) });
    if let (Some(token), Value::Object(map)) = (page.next_token, &mut body) {
        map.insert("nextToken".to_owned(), json!(token));
    }
    Ok(body)
}

fn check_names(id: &ShadowId) -> Result<(), ShadowError> {
    check_thing_name(&id.thing)?;
    if let Some(name) = &id.name {
        check_shadow_name(name)?;
    }
    Ok(())
}

fn current(tx: &ServiceTx<'_>, id: &ShadowId) -> Result<Option<StoredShadow>, ShadowError> {
    tx.shadow(&id.thing, id.stored_name()).map_err(internal)
}

fn write(tx: &ServiceTx<'_>, shadow: &StoredShadow) -> Result<(), ShadowError> {
    tx.put_shadow(shadow).map_err(internal)
}

fn parse_stored(id: &ShadowId, text: &str) -> Result<ShadowDocument, ShadowError> {
    ShadowDocument::from_stored_json(text).map_err(|e| {
        tracing::error!(
            "the stored shadow {:?} of thing {:?} is unreadable: {e}",
            id.display_name(),
            id.thing
        );
        ShadowError::internal_failure()
    })
}

/// A store failure: AWS's 500, with the cause logged.
fn internal(e: StoreError) -> ShadowError {
    tracing::error!("shadow store: {e}");
    ShadowError::internal_failure()
}

/// Shadow documents count in epoch seconds.
fn secs(now_ms: i64) -> u64 {
    u64::try_from(now_ms.div_euclid(1000)).unwrap_or(0)
}
