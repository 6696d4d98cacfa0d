//! Registry changes reach live connections through one path: every change to things, thing
//! types, thing groups and their members, certificates, policies or attachments bumps the
//! store's `registry_version` (SQLite triggers), and this task polls it. When it moves,
//! connections whose certificate is no longer ACTIVE are closed and the others get their current
//! policies (their thing groups' included), within about half a second, whoever made the change
//! (the API, the CLI, another process writing the database). It decides nothing
//! itself: `auth::check_certificate` judges, the router applies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_core::ConnId;
use mqtt_proto::ReasonCode;
use pki::CertificateId;
use store::Store;
use tokio::sync::{mpsc, oneshot};

use crate::auth::{self, CertificateRefusal, DevicePolicies};
use crate::mqtt::router::Command;

/// How often the registry version is read.
const POLL: Duration = Duration::from_millis(250);

/// Watches the registry until the router is gone.
pub(crate) async fn watch(store: Arc<Mutex<Store>>, router: mpsc::Sender<Command>) {
    let mut last_version = None;
    let mut interval = tokio::time::interval(POLL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(version) = read(&store, |s| s.registry_version().ok()).await else {
            continue;
        };
        let changed = last_version.is_some_and(|last| last != version);
        last_version = Some(version);
        if changed && !apply(&store, &router).await {
            return;
        }
    }
}

/// Re-judges every live certificate and tells the router. False when the router is gone.
async fn apply(store: &Arc<Mutex<Store>>, router: &mpsc::Sender<Command>) -> bool {
    let (reply, live) = oneshot::channel();
    if router
        .send(Command::LiveCertificates { reply })
        .await
        .is_err()
    {
        return false;
    }
    let Ok(live) = live.await else { return false };
    let mut ids: Vec<String> = live.iter().map(|(_, id)| id.clone()).collect();
    ids.sort();
    ids.dedup();
    let Some(verdicts) = read(store, move |s| Some(judge(s, ids))).await else {
        return true;
    };
    let mut closing = Vec::new();
    for (id, verdict) in verdicts {
        match verdict {
            Ok(policies) => {
                let command = Command::SetPolicies {
                    certificate_id: id,
                    policies: Arc::new(policies),
                };
                if router.send(command).await.is_err() {
                    return false;
                }
            }
            Err(refusal) => {
                tracing::warn!(
                    "closing the connections of certificate {}: {refusal}",
                    auth::short_id(&id)
                );
                closing.extend(connections_of(&live, &id));
            }
        }
    }
    if closing.is_empty() {
        return true;
    }
    let command = Command::CloseConnections {
        conns: closing,
        reason: ReasonCode::NotAuthorized,
    };
    router.send(command).await.is_ok()
}

/// What the registry says of each certificate now.
fn judge(
    store: &Store,
    ids: Vec<String>,
) -> Vec<(String, Result<DevicePolicies, CertificateRefusal>)> {
    ids.into_iter()
        .filter_map(|id| {
            let cert_id: CertificateId = id.parse().ok()?;
            Some((id, auth::check_certificate(store, &cert_id)))
        })
        .collect()
}

fn connections_of<'a>(
    live: &'a [(ConnId, String)],
    id: &'a str,
) -> impl Iterator<Item = ConnId> + 'a {
    live.iter()
        .filter(move |(_, cert)| cert == id)
        .map(|(conn, _)| *conn)
}

/// Runs a read of the registry on the blocking pool; `None` when it failed.
async fn read<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&Store) -> Option<T> + Send + 'static,
) -> Option<T> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || store.lock().ok().and_then(|s| f(&s)))
        .await
        .ok()
        .flatten()
}
