//! Serving a client admitted without a device certificate (SigV4 or a custom authorizer): its
//! policy layers go to the router before its CONNECT, the connection runs through the same
//! `connection::serve` as every other, and its lifetime is kept as AWS keeps it — closed at the
//! authorizer's `disconnectAfterInSeconds` (MQTT 5 reason 0xA0 Maximum connect time; lifecycle
//! `CUSTOMAUTH_TTL_EXPIRATION`), its policies replaced by a new call to the authorizer every
//! `refreshAfterInSeconds` (closed with 0x87 Not authorized when the new answer refuses), and a
//! SigV4 connection closed after 24 hours, the longest AWS IoT keeps one. Its layers are
//! forgotten when it ends. It does not decide who the client is (`web_auth.rs`,
//! `custom_mqtt.rs`).

use std::sync::Arc;
use std::time::Duration;

use broker_core::ConnId;
use mqtt_proto::ReasonCode;
use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::{self, Shared};
use super::router::Command;
use crate::auth::{Identity, IdentityPolicies, PolicyLayer, Principal};
use crate::authorizer::{Admitted, Authorizers, Credentials};

/// AWS IoT closes SigV4 WebSocket connections after 24 hours.
pub(crate) const SIGV4_MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// When a connection ends or is judged again.
#[derive(Debug, Default)]
pub(crate) struct Lifetime {
    /// Close it this long after it was admitted.
    pub(crate) disconnect_after: Option<Duration>,
    /// Ask its authorizer again on this schedule.
    pub(crate) refresh: Option<Refresh>,
}

/// What a refresh asks again.
#[derive(Debug)]
pub(crate) struct Refresh {
    pub(crate) authorizers: Arc<Authorizers>,
    pub(crate) authorizer: String,
    pub(crate) credentials: Credentials,
    pub(crate) every: Duration,
}

/// The policy layer of a custom authorizer's answer.
pub(crate) fn authorizer_layer(admitted: &Admitted) -> IdentityPolicies {
    let name = &admitted.authorizer;
    let principal = &admitted.answer.principal_id;
    IdentityPolicies {
        layers: vec![PolicyLayer {
            what: format!("the policies authorizer {name} returned for principal {principal}"),
            policies: admitted
                .answer
                .policies
                .iter()
                .enumerate()
                .map(|(i, (_, policy))| (format!("{name}[{i}]"), policy.clone()))
                .collect(),
        }],
    }
}

/// The lifetime of a custom authorizer's connection.
pub(crate) fn authorizer_lifetime(
    admitted: &Admitted,
    credentials: Credentials,
    authorizers: &Arc<Authorizers>,
) -> Lifetime {
    Lifetime {
        disconnect_after: admitted.answer.disconnect_after.map(Duration::from_secs),
        refresh: admitted.answer.refresh_after.map(|secs| Refresh {
            authorizers: Arc::clone(authorizers),
            authorizer: admitted.authorizer.clone(),
            credentials,
            every: Duration::from_secs(secs),
        }),
    }
}

/// Serves an admitted connection to its end. `identity` builds the identity from the key its
/// policies are installed under.
pub(crate) async fn serve<S>(
    stream: S,
    conn: ConnId,
    identity: impl FnOnce(String) -> Identity,
    policies: IdentityPolicies,
    lifetime: Lifetime,
    shared: &Shared,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let key = format!("conn-{}", conn.0);
    let install = Command::SetIdentityPolicies {
        key: key.clone(),
        policies: Arc::new(policies),
    };
    if shared.router.send(install).await.is_err() {
        return;
    }
    let timers = tokio::spawn(keep(lifetime, conn, key.clone(), shared.router.clone()));
    let principal = Principal::new(identity(key.clone()));
    connection::serve(stream, conn, principal, shared.clone()).await;
    timers.abort();
    let _ = shared.router.send(Command::ForgetIdentity { key }).await;
}

/// Closes the connection when its time is up and refreshes its policies until then.
async fn keep(
    lifetime: Lifetime,
    conn: ConnId,
    key: String,
    router: tokio::sync::mpsc::Sender<Command>,
) {
    let close = |reason| Command::CloseConnections {
        conns: vec![conn],
        reason,
    };
    let end = lifetime
        .disconnect_after
        .map(|after| tokio::time::Instant::now() + after);
    let mut refresh = lifetime.refresh;
    loop {
        let next_refresh = refresh
            .as_ref()
            .map(|r| tokio::time::Instant::now() + r.every);
        let wake = match (end, next_refresh) {
            (Some(end), Some(next)) => end.min(next),
            (Some(at), None) | (None, Some(at)) => at,
            (None, None) => return,
        };
        tokio::time::sleep_until(wake).await;
        if end.is_some_and(|end| end <= tokio::time::Instant::now()) {
            let _ = router.send(close(ReasonCode::MaximumConnectTime)).await;
            return;
        }
        let Some(current) = refresh.take() else {
            continue;
        };
        let credentials = current.credentials.clone();
        match current
            .authorizers
            .authorize(Some(&current.authorizer), |_| credentials)
            .await
        {
            Ok(Some((admitted, credentials))) => {
                let install = Command::SetIdentityPolicies {
                    key: key.clone(),
                    policies: Arc::new(authorizer_layer(&admitted)),
                };
                if router.send(install).await.is_err() {
                    return;
                }
                refresh = admitted.answer.refresh_after.map(|secs| Refresh {
                    every: Duration::from_secs(secs),
                    credentials,
                    ..current
                });
            }
            Ok(None) | Err(_) => {
                tracing::info!(
                    "closing connection {}: authorizer {} no longer admits it",
                    conn.0,
                    current.authorizer
                );
                let _ = router.send(close(ReasonCode::NotAuthorized)).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use tokio::sync::mpsc;

    use super::*;
    use crate::config::{AuthorizerFunctionConfig, AuthorizerTarget};

    #[tokio::test(start_paused = true)]
    async fn the_connection_is_closed_when_its_time_is_up() {
        let (router, mut commands) = mpsc::channel(4);
        let lifetime = Lifetime {
            disconnect_after: Some(Duration::from_secs(300)),
            refresh: None,
        };
        tokio::spawn(keep(lifetime, ConnId(7), "conn-7".into(), router));
        match commands.recv().await {
            Some(Command::CloseConnections { conns, reason }) => {
                assert_eq!(conns, vec![ConnId(7)]);
                assert_eq!(reason, ReasonCode::MaximumConnectTime);
            }
            other => panic!("expected the connection closed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn refreshed_answers_replace_the_policies_and_a_refusal_closes() {
        let dir = tempfile::tempdir().unwrap();
        let answer = dir.path().join("answer.json");
        let allow = r#"{"isAuthenticated":true,"principalId":"p1","policyDocuments":[]}"#;
        std::fs::write(&answer, allow).unwrap();
        let mut store = store::Store::open_in_memory().unwrap();
        store
            .create_authorizer(&store::AuthorizerRecord {
                name: "a".into(),
                function_arn: "fn".into(),
                token_key_name: None,
                token_signing_public_keys: BTreeMap::new(),
                status: "ACTIVE".into(),
                signing_disabled: true,
                enable_caching_for_http: false,
                is_default: false,
                created_ms: 0,
                modified_ms: 0,
            })
            .unwrap();
        let script = format!("cat >/dev/null; cat {}", answer.display());
        let authorizers: Arc<Authorizers> = Arc::new(Authorizers::new(
            vec![AuthorizerFunctionConfig {
                function: "fn".into(),
                target: AuthorizerTarget::Command(vec!["sh".into(), "-c".into(), script]),
            }],
            Duration::from_secs(5),
            Arc::new(Mutex::new(store)),
        ));
        let lifetime = || Lifetime {
            disconnect_after: None,
            refresh: Some(Refresh {
                authorizers: Arc::clone(&authorizers),
                authorizer: "a".into(),
                credentials: Credentials::default(),
                every: Duration::from_millis(20),
            }),
        };
        let (router, mut commands) = mpsc::channel(4);
        tokio::spawn(keep(lifetime(), ConnId(3), "conn-3".into(), router));
        match commands.recv().await {
            Some(Command::SetIdentityPolicies { key, .. }) => assert_eq!(key, "conn-3"),
            other => panic!("expected new policies, got {other:?}"),
        }
        // That answer asks for no further refresh: the task ends quietly.
        assert!(commands.recv().await.is_none());

        std::fs::write(&answer, r#"{"isAuthenticated":false}"#).unwrap();
        let (router, mut commands) = mpsc::channel(4);
        tokio::spawn(keep(lifetime(), ConnId(4), "conn-4".into(), router));
        match commands.recv().await {
            Some(Command::CloseConnections { conns, reason }) => {
                assert_eq!(conns, vec![ConnId(4)]);
                assert_eq!(reason, ReasonCode::NotAuthorized);
            }
            other => panic!("expected the connection closed, got {other:?}"),
        }
    }
}
