//! The console's JSON routes for what AWS's API has no operation for: things searched and paged
//! on the server (so 10,000 things stay one small page in the browser), the broker's sessions
//! with their TLS, subscriptions and queues, kicking one, the refusal record with the doctor's
//! advice, and "would this be allowed?" for a certificate — answered by the same authorizer the
//! broker asks, over the certificate's policies and its thing groups' as the registry holds them
//! now. Registry changes go through the AWS API routes (`/console/aws/...`), not here.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use broker_core::{Action, Authorizer, Decision};
use mqtt_proto::{Protocol, QoS};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Order, PageRequest};
use tokio::sync::oneshot;

use super::{Console, allowed, error, json_ok, query_pairs};
use crate::auth::{self, Identity, Principal, ServerAuthorizer};
use crate::mqtt::router::Command;

/// Things per page unless the page asks for fewer.
const THINGS_PAGE: usize = 50;

/// Refusals answered at most.
const REFUSALS_SHOWN: usize = 500;

/// `GET /console/api/things?q=TEXT&next=TOKEN&size=N`: one page of matching things, each with
/// whether a client with its name is connected.
pub(crate) async fn things(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Err(refused) = allowed(&console, &Method::GET, &headers) {
        return *refused;
    }
    let (mut text, mut token, mut size) = (String::new(), None, THINGS_PAGE);
    for (key, value) in query_pairs(&uri) {
        match key.as_str() {
            "q" => text = value.trim().to_owned(),
            "next" if !value.is_empty() => token = Some(value),
            "size" => size = value.parse().unwrap_or(THINGS_PAGE),
            _ => {}
        }
    }
    let page = PageRequest {
        token,
        size: size.clamp(1, 200),
        order: Order::Ascending,
    };
    let found = match console
        .with_store(move |store| store.search_things(&text, &page).map_err(|e| e.to_string()))
        .await
    {
        Ok(found) => found,
        Err(e) => return e,
    };
    let connected: HashSet<String> = sessions_now(&console)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.conn.is_some())
        .map(|s| s.client_id)
        .collect();
    let items: Vec<Value> = found
        .page
        .items
        .iter()
        .map(|t| {
            json!({
                "thingName": t.name,
                "thingTypeName": t.thing_type,
                "attributes": t.attributes,
                "version": t.version,
                "connected": connected.contains(&t.name),
            })
        })
        .collect();
    json_ok(&json!({
        "things": items,
        "next": found.page.next_token,
        "total": found.total,
    }))
}

/// The broker's sessions now.
async fn sessions_now(console: &Console) -> Option<Vec<broker_core::SessionView<Principal>>> {
    let (reply, answer) = oneshot::channel();
    let wired = console.wired().ok()?;
    let router = &wired.admission.shared.router;
    router.send(Command::Sessions { reply }).await.ok()?;
    answer.await.ok()
}

/// `GET /console/api/sessions`: every session, connected ones first.
pub(crate) async fn sessions(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if let Err(refused) = allowed(&console, &Method::GET, &headers) {
        return *refused;
    }
    let Some(mut sessions) = sessions_now(&console).await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the broker is shutting down",
        );
    };
    sessions.sort_by_key(|s| s.conn.is_none());
    let items: Vec<Value> = sessions.iter().map(session_json).collect();
    json_ok(&json!({ "sessions": items }))
}

fn session_json(session: &broker_core::SessionView<Principal>) -> Value {
    let mut value = json!({
        "clientId": session.client_id,
        "connected": session.conn.is_some(),
        "protocol": match session.protocol {
            Protocol::V31 => "3.1",
            Protocol::V311 => "3.1.1",
            Protocol::V5 => "5",
        },
        "persistent": session.expiry_interval > 0,
        "subscriptions": session.subscriptions.iter().map(|(filter, qos)| json!({
            "filter": filter,
            "qos": match qos { QoS::AtMostOnce => 0, QoS::AtLeastOnce => 1, QoS::ExactlyOnce => 2 },
        })).collect::<Vec<_>>(),
        "queued": session.queued,
    });
    let principal = match session.principal.identity() {
        Identity::Device {
            certificate_id,
            peer,
            listener,
            tls,
            ..
        } => json!({
            "kind": "certificate",
            "id": certificate_id,
            "short": auth::short_id(certificate_id),
            "peer": peer.to_string(),
            "listener": listener,
            "tlsVersion": tls.version,
            "cipher": tls.cipher,
        }),
        Identity::Iam {
            access_key_id,
            peer,
            ..
        } => json!({
            "kind": "sigv4",
            "id": access_key_id,
            "peer": peer.to_string(),
            "listener": "wss",
        }),
        Identity::Custom {
            authorizer,
            principal_id,
            peer,
            ..
        } => json!({
            "kind": "custom-authorizer",
            "id": principal_id,
            "authorizer": authorizer,
            "peer": peer.to_string(),
        }),
        Identity::Anonymous { peer } => json!({ "kind": "anonymous", "peer": peer.to_string() }),
        Identity::Restored => json!({ "kind": "restored" }),
        Identity::Bridge { name } => json!({ "kind": "bridge", "id": name }),
    };
    if let Value::Object(map) = &mut value {
        map.insert("principal".to_owned(), principal);
    }
    value
}

/// `POST /console/api/sessions/CLIENT/kick`: closes that client's connection (MQTT 5:
/// DISCONNECT 0x98 Administrative action). Its session stays, as after any disconnect.
pub(crate) async fn kick(
    State(console): State<Arc<Console>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let caller = match allowed(&console, &Method::POST, &headers) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    let (reply, answer) = oneshot::channel();
    let command = Command::Kick {
        client_id: client_id.clone(),
        reply,
    };
    let wired = match console.wired() {
        Ok(wired) => wired,
        Err(response) => return *response,
    };
    if wired.admission.shared.router.send(command).await.is_err() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the broker is shutting down",
        );
    }
    match answer.await {
        Ok(true) => {
            tracing::info!(client_id, by = %caller.access_key_id, "console: connection kicked");
            json_ok(&json!({ "kicked": client_id }))
        }
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            &format!("client {client_id:?} is not connected"),
        ),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the broker is shutting down",
        ),
    }
}

/// `GET /console/api/refusals?kind=KIND&q=TEXT`: recorded refusals, newest first, each with
/// the doctor's advice for its kind.
pub(crate) async fn refusals(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Err(refused) = allowed(&console, &Method::GET, &headers) {
        return *refused;
    }
    let (mut kind, mut text) = (None, String::new());
    for (key, value) in query_pairs(&uri) {
        match key.as_str() {
            "kind" if !value.is_empty() => kind = Some(value),
            "q" => text = value.trim().to_lowercase(),
            _ => {}
        }
    }
    let dir = console.data_dir.clone();
    let read = tokio::task::spawn_blocking(move || refusals::read_recent(&dir, 10_000)).await;
    let records = match read {
        Ok(Ok(records)) => records,
        Ok(Err(e)) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot read {}: {e}", refusals::FILE_NAME),
            );
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let shown: Vec<Value> = records
        .iter()
        .rev()
        .filter(|r| kind.as_deref().is_none_or(|k| r.kind.as_str() == k))
        .filter(|r| text.is_empty() || matches_text(r, &text))
        .take(REFUSALS_SHOWN)
        .map(refusal_json)
        .collect();
    let kinds: Vec<&str> = refusals::RefusalKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    json_ok(&json!({ "refusals": shown, "kinds": kinds }))
}

fn matches_text(r: &refusals::Refusal, text: &str) -> bool {
    [
        Some(&r.reason),
        Some(&r.peer),
        Some(&r.listener),
        r.principal.as_ref(),
        r.client_id.as_ref(),
        r.action.as_ref(),
        r.resource.as_ref(),
        r.decided_by.as_ref(),
    ]
    .into_iter()
    .flatten()
    .any(|field| field.to_lowercase().contains(text))
}

/// A refusal record with the doctor's advice for its kind.
pub(crate) fn refusal_json(r: &refusals::Refusal) -> Value {
    let advice = doctor::recent::advice(r.kind);
    let mut value = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("why".to_owned(), Value::from(advice.why));
        map.insert("fix".to_owned(), Value::from(advice.fix));
    }
    value
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Evaluation {
    certificate_id: String,
    client_id: String,
    action: String,
    /// The topic (publish, receive), topic filter (subscribe); ignored for connect, whose
    /// resource is the client id.
    #[serde(default)]
    resource: String,
    /// The source address the policy's `aws:SourceIp` conditions see.
    source_ip: Option<String>,
}

/// `POST /console/api/evaluate`: would the broker allow this certificate's client this action
/// now? Answered by the broker's own authorizer over the registry as it stands.
pub(crate) async fn evaluate(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(refused) = allowed(&console, &Method::POST, &headers) {
        return *refused;
    }
    let question: Evaluation = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "the body must be JSON with certificateId, clientId, action and resource: {e}"
                ),
            );
        }
    };
    let (region, account) = (console.region.clone(), console.account.clone());
    match console
        .with_store(move |store| Ok(decide(store, &question, &region, &account)))
        .await
    {
        Ok(Ok(answer)) => json_ok(&answer),
        Ok(Err(message)) => error(StatusCode::BAD_REQUEST, &message),
        Err(response) => response,
    }
}

/// The authorizer's answer to one question, or what is wrong with the question.
fn decide(
    store: &store::Store,
    question: &Evaluation,
    region: &str,
    account: &str,
) -> Result<Value, String> {
    let id = question.certificate_id.trim();
    let record = store
        .certificate(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no certificate {id} is registered"))?;
    let x509 = openssl::x509::X509::from_pem(record.pem.as_bytes())
        .map_err(|e| format!("certificate {id}'s PEM does not parse: {e}"))?;
    let certificate_id = pki::CertificateId::of(&x509).map_err(|e| e.to_string())?;
    let policies = match auth::check_certificate(store, &certificate_id) {
        Ok(policies) => policies,
        Err(refusal) => {
            return Ok(json!({
                "allowed": false,
                "decidedBy": format!("the TLS edge refuses the connection first: {refusal}"),
            }));
        }
    };
    let topic = question.resource.trim();
    let action = match question.action.as_str() {
        "iot:Connect" => Action::Connect,
        "iot:Publish" => Action::Publish {
            topic,
            retain: false,
        },
        "iot:RetainPublish" => Action::Publish {
            topic,
            retain: true,
        },
        "iot:Subscribe" => Action::Subscribe { filter: topic },
        "iot:Receive" => Action::Receive { topic },
        other => {
            return Err(format!(
                "action {other:?} is not one the broker asks about: use iot:Connect, \
                 iot:Publish, iot:RetainPublish, iot:Subscribe or iot:Receive"
            ));
        }
    };
    let peer_ip = question
        .source_ip
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("127.0.0.1");
    let peer = format!("{peer_ip}:0")
        .parse()
        .or_else(|_| format!("[{peer_ip}]:0").parse())
        .map_err(|_| format!("source address {peer_ip:?} is not an IP address"))?;
    let considered: Vec<String> = policies
        .policies
        .iter()
        .map(|(name, _)| name.clone())
        .chain(
            policies
                .group_policies
                .get(&question.client_id)
                .into_iter()
                .flatten()
                .map(|p| format!("{} (thing group {})", p.name, p.group)),
        )
        .collect();
    let mut authorizer = ServerAuthorizer::new(false, region, account);
    authorizer.set_policies(certificate_id.as_str(), Arc::new(policies));
    let principal = Principal::new(Identity::Device {
        certificate_id: certificate_id.as_str().to_owned(),
        peer,
        listener: "mqtts",
        certificate: auth::certificate_info(&x509),
        not_after_ms: record.not_after_ms,
        tls: auth::TlsSession::default(),
    });
    let arn = format!(
        "arn:aws:iot:{region}:{account}:{}",
        action.resource(&question.client_id)
    );
    Ok(
        match authorizer.authorize(&principal, &question.client_id, action) {
            Decision::Allow => json!({
                "allowed": true,
                "action": action.aws_name(),
                "resource": arn,
                "policies": considered,
                "decidedBy": "an Allow statement matches and no Deny does",
            }),
            Decision::Deny(denial) => json!({
                "allowed": false,
                "action": denial.action,
                "resource": denial.resource,
                "policies": considered,
                "decidedBy": denial.decided_by,
            }),
        },
    )
}
