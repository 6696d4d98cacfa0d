//! Custom authorizers at connection time: find the authorizer a client names (or the account's
//! default), check its token signature when signing is enabled (`token.rs`), send AWS's event
//! (`event.rs`) to what stands in for its Lambda function — a configured local HTTP URL or
//! command, or an `authorizerFunctionArn` that is itself an `http://` URL — within the time
//! limit (AWS: 5 seconds), and read its answer under AWS's rules (`answer.rs`). The control
//! plane's TestInvokeAuthorizer calls the same function. Every failure says which authorizer,
//! which step and what to change, with the refusal kind the refusal log records. It does not
//! decide what an admitted principal may do (its policies do, in `auth/identity.rs`).

pub mod answer;
pub mod event;
pub mod token;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use refusals::RefusalKind;
use store::{AuthorizerRecord, Store};
use tokio::io::AsyncWriteExt;

pub use answer::Answer;
pub use event::{Credentials, HttpData, MqttData};

use crate::config::{AuthorizerFunctionConfig, AuthorizerTarget};

/// The request header, query parameter or user-name parameter naming the authorizer.
pub const NAME_KEY: &str = "x-amz-customauthorizer-name";
/// The one carrying the token's signature.
pub const SIGNATURE_KEY: &str = "x-amz-customauthorizer-signature";

/// Largest answer read from a function.
const MAX_ANSWER: u64 = 64 * 1024;

/// Why a custom authorizer did not admit a client; `Display` is the reason logged and recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Failure {
    /// The refusal kind.
    pub kind: RefusalKind,
    /// Why, in words, with what to change.
    pub reason: String,
}

impl Failure {
    fn new(kind: RefusalKind, reason: String) -> Failure {
        Failure { kind, reason }
    }
}

/// A client a custom authorizer admitted.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The authorizer's name.
    pub authorizer: String,
    /// Its function's answer (authenticated).
    pub answer: Answer,
}

/// The custom authorizers of one server: where their functions are, and how long they get.
pub struct Authorizers {
    functions: Vec<AuthorizerFunctionConfig>,
    timeout: Duration,
    store: Arc<Mutex<Store>>,
}

impl std::fmt::Debug for Authorizers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizers")
            .field("functions", &self.functions)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Authorizers {
    /// Authorizers read from `store`, calling `functions`, each given `timeout`.
    pub fn new(
        functions: Vec<AuthorizerFunctionConfig>,
        timeout: Duration,
        store: Arc<Mutex<Store>>,
    ) -> Authorizers {
        Authorizers {
            functions,
            timeout,
            store,
        }
    }

    /// Runs the authorizer named `name` (else the default) on the credentials `extract` finds
    /// in the request once it knows the authorizer's `tokenKeyName`. `Ok(None)` when no name
    /// was given and no default is set.
    pub async fn authorize(
        &self,
        name: Option<&str>,
        extract: impl FnOnce(Option<&str>) -> Credentials,
    ) -> Result<Option<(Admitted, Credentials)>, Failure> {
        let Some(record) = self.lookup(name).await? else {
            return Ok(None);
        };
        let credentials = extract(record.token_key_name.as_deref());
        if record.status != "ACTIVE" {
            return Err(Failure::new(
                RefusalKind::AuthorizerFailed,
                format!(
                    "authorizer {} is {}; activate it (aws iot update-authorizer --status ACTIVE)",
                    record.name, record.status
                ),
            ));
        }
        let verified = check_token(&record, &credentials)?;
        let answer = self.call(&record, &credentials, verified).await?;
        if !answer.is_authenticated {
            return Err(Failure::new(
                RefusalKind::AuthorizerDenied,
                format!(
                    "authorizer {}: its function answered isAuthenticated: false",
                    record.name
                ),
            ));
        }
        Ok(Some((
            Admitted {
                authorizer: record.name,
                answer,
            },
            credentials,
        )))
    }

    async fn lookup(&self, name: Option<&str>) -> Result<Option<AuthorizerRecord>, Failure> {
        let store = Arc::clone(&self.store);
        let wanted = name.map(str::to_owned);
        let read = tokio::task::spawn_blocking(move || {
            let store = store
                .lock()
                .map_err(|_| "the store lock is poisoned".to_owned())?;
            match &wanted {
                Some(name) => store.authorizer(name),
                None => store.default_authorizer(),
            }
            .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
        .map_err(|e| {
            Failure::new(
                RefusalKind::AuthorizerFailed,
                format!("the authorizers could not be read: {e}"),
            )
        })?;
        match (read, name) {
            (Some(record), _) => Ok(Some(record)),
            (None, Some(name)) => Err(Failure::new(
                RefusalKind::AuthorizerFailed,
                format!(
                    "authorizer {name} does not exist (x-amz-customauthorizer-name); create it \
                     with aws iot create-authorizer, or check the name"
                ),
            )),
            (None, None) => Ok(None),
        }
    }

    /// Sends the event to the authorizer's function and reads its answer.
    pub async fn call(
        &self,
        record: &AuthorizerRecord,
        credentials: &Credentials,
        signature_verified: bool,
    ) -> Result<Answer, Failure> {
        let connection_id = store::thing_id_from_bytes(random_16());
        let event = event::event(credentials, signature_verified, &connection_id).to_string();
        let target = self.target(record)?;
        let limit = self.timeout;
        let what = match &target {
            AuthorizerTarget::Url(url) => url.clone(),
            AuthorizerTarget::Command(argv) => argv.join(" "),
        };
        let bytes = match tokio::time::timeout(limit, run(target, event, limit)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => {
                return Err(Failure::new(
                    RefusalKind::AuthorizerFailed,
                    format!(
                        "authorizer {}: its function ({what}) failed: {e}",
                        record.name
                    ),
                ));
            }
            Err(_) => {
                return Err(Failure::new(
                    RefusalKind::AuthorizerTimeout,
                    format!(
                        "authorizer {}: its function ({what}) did not answer within {} ms \
                         (AWS IoT gives authorizer functions 5 s)",
                        record.name,
                        limit.as_millis()
                    ),
                ));
            }
        };
        answer::parse(&bytes).map_err(|e| {
            Failure::new(
                RefusalKind::AuthorizerFailed,
                format!(
                    "authorizer {}: its function's answer is invalid: {e}",
                    record.name
                ),
            )
        })
    }

    /// What answers for the authorizer's function.
    fn target(&self, record: &AuthorizerRecord) -> Result<AuthorizerTarget, Failure> {
        let arn = record.function_arn.as_str();
        // `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`
        let name = arn
            .strip_prefix("arn:")
            .and_then(|_| arn.split(':').nth(6))
            .unwrap_or(arn);
        if let Some(found) = self
            .functions
            .iter()
            .find(|f| f.function == arn || f.function == name)
        {
            return Ok(found.target.clone());
        }
        if arn.starts_with("http://") || arn.starts_with("https://") {
            return Ok(AuthorizerTarget::Url(arn.to_owned()));
        }
        Err(Failure::new(
            RefusalKind::AuthorizerFailed,
            format!(
                "authorizer {}: no local function answers for {arn}; add it to \
                 authorizer-functions in tether serve's config file (a URL or a command), or give \
                 the authorizer an http:// URL as its function ARN",
                record.name
            ),
        ))
    }
}

/// Checks the token's signature when the authorizer signs tokens. Returns whether it was
/// verified (false when signing is disabled).
pub fn check_token(record: &AuthorizerRecord, credentials: &Credentials) -> Result<bool, Failure> {
    if record.signing_disabled {
        return Ok(false);
    }
    let key_name = record.token_key_name.as_deref().unwrap_or("(tokenKeyName)");
    let Some(token) = credentials.token.as_deref() else {
        return Err(Failure::new(
            RefusalKind::AuthorizerTokenMissing,
            format!(
                "authorizer {} signs tokens and the client sent no token {key_name} (header, \
                 query parameter or MQTT user-name parameter)",
                record.name
            ),
        ));
    };
    let Some(signature) = credentials.signature.as_deref() else {
        return Err(Failure::new(
            RefusalKind::AuthorizerTokenMissing,
            format!(
                "authorizer {} signs tokens and the client sent no {SIGNATURE_KEY} with its token",
                record.name
            ),
        ));
    };
    if token::verify(&record.token_signing_public_keys, token, signature) {
        Ok(true)
    } else {
        Err(Failure::new(
            RefusalKind::AuthorizerTokenSignature,
            format!(
                "authorizer {}: the token's signature does not verify with any of its \
                 tokenSigningPublicKeys ({}); sign the token with SHA-256 and RSA and send it \
                 base64-encoded",
                record.name,
                record
                    .token_signing_public_keys
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

/// Runs the function: a POST to a URL (on the blocking pool), or a command fed on stdin.
async fn run(target: AuthorizerTarget, event: String, limit: Duration) -> Result<Vec<u8>, String> {
    match target {
        AuthorizerTarget::Url(url) => {
            tokio::task::spawn_blocking(move || post(&url, &event, limit))
                .await
                .map_err(|e| e.to_string())?
        }
        AuthorizerTarget::Command(argv) => command(&argv, &event).await,
    }
}

fn post(url: &str, event: &str, limit: Duration) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(limit))
        .build()
        .into();
    let mut response = agent
        .post(url)
        .header("content-type", "application/json")
        .send(event)
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("POST {url} answered HTTP {status}"));
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_vec()
        .map_err(|e| format!("reading the answer of {url}: {e}"))
}

async fn command(argv: &[String], event: &str) -> Result<Vec<u8>, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("the command is empty".to_owned());
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input still gets to answer.
        let _ = stdin.write_all(event.as_bytes()).await;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| format!("{program}: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "{program} exited with {}: {}",
            output.status,
            stderr.trim().chars().take(200).collect::<String>()
        ));
    }
    Ok(output.stdout)
}

fn random_16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    // The OpenSSL RNG does not fail once seeded; a zero id would only look odd in the event.
    let _ = openssl::rand::rand_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn record(function: &str) -> AuthorizerRecord {
        AuthorizerRecord {
            name: "auth".into(),
            function_arn: function.into(),
            token_key_name: Some("token".into()),
            token_signing_public_keys: BTreeMap::new(),
            status: "ACTIVE".into(),
            signing_disabled: true,
            enable_caching_for_http: false,
            is_default: false,
            created_ms: 0,
            modified_ms: 0,
        }
    }

    fn authorizers(target: AuthorizerTarget, timeout: Duration) -> Authorizers {
        let store = Store::open_in_memory().unwrap();
        Authorizers::new(
            vec![AuthorizerFunctionConfig {
                function: "auth-fn".into(),
                target,
            }],
            timeout,
            Arc::new(Mutex::new(store)),
        )
    }

    fn sh(script: &str) -> AuthorizerTarget {
        AuthorizerTarget::Command(vec!["sh".into(), "-c".into(), script.into()])
    }

    #[tokio::test]
    async fn a_command_answers_for_the_function_named_in_the_arn() {
        let auth = authorizers(
            sh(r#"cat >/dev/null; echo '{"isAuthenticated":true,"principalId":"p1"}'"#),
            Duration::from_secs(5),
        );
        let record = record("arn:aws:lambda:us-east-1:123456789012:function:auth-fn");
        let answer = auth
            .call(&record, &Credentials::default(), false)
            .await
            .unwrap();
        assert_eq!(answer.principal_id, "p1");
    }

    #[tokio::test]
    async fn slow_failing_and_unknown_functions_are_refused_with_their_kind() {
        let slow = authorizers(sh("sleep 5"), Duration::from_millis(200));
        let e = slow
            .call(&record("auth-fn"), &Credentials::default(), false)
            .await
            .unwrap_err();
        assert_eq!(e.kind, RefusalKind::AuthorizerTimeout, "{e}");
        assert!(e.reason.contains("within 200 ms"), "{e}");
        let failing = authorizers(sh("echo broken >&2; exit 3"), Duration::from_secs(5));
        let e = failing
            .call(&record("auth-fn"), &Credentials::default(), false)
            .await
            .unwrap_err();
        assert_eq!(e.kind, RefusalKind::AuthorizerFailed);
        assert!(e.reason.contains("broken"), "{e}");
        let e = failing
            .call(&record("other"), &Credentials::default(), false)
            .await
            .unwrap_err();
        assert!(e.reason.contains("authorizer-functions"), "{e}");
    }

    #[test]
    fn tokens_are_required_when_signing_is_enabled() {
        let mut signing = record("auth-fn");
        signing.signing_disabled = false;
        let e = check_token(&signing, &Credentials::default()).unwrap_err();
        assert_eq!(e.kind, RefusalKind::AuthorizerTokenMissing);
        let with_token = Credentials {
            token: Some("t".into()),
            signature: Some("c2ln".into()),
            ..Credentials::default()
        };
        let e = check_token(&signing, &with_token).unwrap_err();
        assert_eq!(e.kind, RefusalKind::AuthorizerTokenSignature);
        assert_eq!(check_token(&record("auth-fn"), &with_token), Ok(false));
    }
}
