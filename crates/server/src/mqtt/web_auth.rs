//! Who a WebSocket client is, from its upgrade request, the way AWS IoT decides it: a SigV4
//! query signature (`X-Amz-Algorithm` … `X-Amz-Signature`, service `iotdevicegateway`) makes it
//! the IAM-style principal of that access key, judged by the IAM policy configured for the
//! credential (`iot:*` for the development credential `test` on loopback) and, where an identity
//! id is configured for it, by the IoT policies attached to that id as well; otherwise a custom
//! authorizer named by `x-amz-customauthorizer-name` (header or query parameter), or the default
//! authorizer, is asked with AWS's event; without either the upgrade is refused. Every refusal
//! comes with its refusal kind and words naming the skew, the mismatch or the authorizer's
//! answer. It does not perform the upgrade (`websocket.rs`) or serve MQTT.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use iot_policy::Policy;
use refusals::RefusalKind;
use sigv4::{SigV4Error, Verifier};
use store::{PageRequest, Store};

use crate::auth::{CredentialPolicy, IdentityPolicies, PolicyLayer};
use crate::authorizer::{self, Admitted, Authorizers, Credentials, HttpData};

/// A refusal: its kind and why, in words.
pub(crate) type Refusal = (RefusalKind, String);

/// How a WebSocket client was admitted. Short-lived and returned by value: its size does not
/// matter.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Admit {
    /// A SigV4-signed URL: the access key and its policy layers.
    Iam {
        access_key_id: String,
        policies: IdentityPolicies,
    },
    /// A custom authorizer's answer, with the credentials (for refreshes).
    Custom {
        admitted: Admitted,
        credentials: Credentials,
    },
    /// Nothing in the upgrade names a way in: the CONNECT decides (`custom_mqtt.rs`).
    AtConnect,
}

/// The credentials SigV4 clients sign with, and the policies of each.
#[derive(Debug)]
pub(crate) struct SigV4Identities {
    /// Verifies signatures (the development credential only on a loopback listener).
    pub(crate) verifier: Verifier,
    /// IAM policies by access key id.
    pub(crate) policies: HashMap<String, CredentialPolicy>,
    /// The registry, for IoT policies attached to identity ids.
    pub(crate) store: Arc<Mutex<Store>>,
}

/// The upgrade request's parts the decision reads.
#[derive(Debug)]
pub(crate) struct Upgrade<'a> {
    /// The request target as received.
    pub(crate) target: &'a str,
    /// Its headers.
    pub(crate) headers: &'a http::HeaderMap,
    /// The TLS server name the client sent.
    pub(crate) server_name: Option<&'a str>,
}

/// Decides who the client of `upgrade` is.
pub(crate) async fn authenticate(
    upgrade: &Upgrade<'_>,
    sigv4: &SigV4Identities,
    authorizers: &Authorizers,
) -> Result<Admit, Refusal> {
    if sigv4::is_presigned(upgrade.target) {
        return sign_in(upgrade, sigv4).await;
    }
    let query = upgrade
        .target
        .split_once('?')
        .map_or("", |(_, query)| query);
    let params = query_params(query);
    let Some(name) = header(upgrade.headers, authorizer::NAME_KEY)
        .or_else(|| params.get(authorizer::NAME_KEY).cloned())
    else {
        return Ok(Admit::AtConnect);
    };
    let extract = |token_key: Option<&str>| {
        let pick = |key: &str| header(upgrade.headers, key).or_else(|| params.get(key).cloned());
        Credentials {
            token: token_key.and_then(pick),
            signature: pick(authorizer::SIGNATURE_KEY),
            server_name: upgrade.server_name.map(str::to_owned),
            http: Some(http_data(upgrade.headers, query)),
            mqtt: None,
        }
    };
    match authorizers.authorize(Some(&name), extract).await {
        Ok(Some((admitted, credentials))) => Ok(Admit::Custom {
            admitted,
            credentials,
        }),
        // A named authorizer is found or refused; `None` cannot come back for one.
        Ok(None) => Err((
            RefusalKind::AuthorizerFailed,
            format!("authorizer {name} does not exist"),
        )),
        Err(failure) => Err((failure.kind, failure.reason)),
    }
}

/// The HTTP part of the authorizer event.
pub(crate) fn http_data(headers: &http::HeaderMap, query: &str) -> HttpData {
    HttpData {
        headers: headers_map(headers),
        query_string: if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        },
    }
}

/// The SigV4 path: verify, then gather the policy layers of the access key.
async fn sign_in(upgrade: &Upgrade<'_>, sigv4: &SigV4Identities) -> Result<Admit, Refusal> {
    let caller = sigv4
        .verifier
        .verify_presigned(
            "GET",
            upgrade.target,
            upgrade.headers,
            b"",
            crate::clock::system_now(),
        )
        .map_err(|e| (sigv4_kind(&e), format!("SigV4: {e} ({})", e.exception())))?;
    if caller.service != "iotdevicegateway" {
        return Err((
            RefusalKind::SignatureMismatch,
            format!(
                "SigV4: Credential should be scoped to correct service: 'iotdevicegateway', not \
                 '{}' (InvalidSignatureException)",
                caller.service
            ),
        ));
    }
    let key = caller.access_key_id;
    let mut layers = Vec::new();
    let iam_what = format!("the IAM policy of access key {key}");
    match sigv4.policies.get(&key) {
        Some(configured) => {
            layers.push(PolicyLayer {
                what: iam_what,
                policies: vec![(format!("iam:{key}"), configured.policy.clone())],
            });
            if let Some(identity) = &configured.identity_id {
                layers.push(identity_layer(&sigv4.store, identity).await?);
            }
        }
        None => layers.push(PolicyLayer {
            what: format!(
                "{iam_what} (none is configured: add one under iam-policies in tether serve's \
                 config file)"
            ),
            policies: Vec::new(),
        }),
    }
    Ok(Admit::Iam {
        access_key_id: key,
        policies: IdentityPolicies { layers },
    })
}

/// The IoT policies attached to an identity id (AttachPolicy with the id as target).
async fn identity_layer(store: &Arc<Mutex<Store>>, identity: &str) -> Result<PolicyLayer, Refusal> {
    let store = Arc::clone(store);
    let target = identity.to_owned();
    let read = tokio::task::spawn_blocking(move || -> Result<Vec<store::Policy>, String> {
        let store = store
            .lock()
            .map_err(|_| "the store lock is poisoned".to_owned())?;
        let mut found = Vec::new();
        let mut page = Some(PageRequest::first(250));
        while let Some(request) = page {
            let names = store
                .list_attached_policies(&target, &request)
                .map_err(|e| e.to_string())?;
            for name in &names.items {
                if let Some(policy) = store.policy(name).map_err(|e| e.to_string())? {
                    found.push(policy);
                }
            }
            page = request.after(&names);
        }
        Ok(found)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r)
    .map_err(|e| {
        (
            RefusalKind::Registry,
            format!("the IoT policies of identity {identity} could not be read: {e}"),
        )
    })?;
    let policies = read
        .into_iter()
        .filter_map(|p| match Policy::parse(&p.document) {
            Ok(policy) => Some((p.name, policy)),
            Err(e) => {
                tracing::warn!("policy {:?} does not parse and grants nothing: {e}", p.name);
                None
            }
        })
        .collect();
    Ok(PolicyLayer {
        what: format!("the IoT policies attached to identity {identity}"),
        policies,
    })
}

/// The refusal kind of a SigV4 refusal.
fn sigv4_kind(e: &SigV4Error) -> RefusalKind {
    match e {
        SigV4Error::SignatureExpired { .. }
        | SigV4Error::PresignedUrlExpired { .. }
        | SigV4Error::SignatureNotYetCurrent { .. } => RefusalKind::SignatureExpired,
        SigV4Error::UnrecognizedAccessKey { .. } | SigV4Error::DevCredentialOffLoopback => {
            RefusalKind::UnknownAccessKey
        }
        _ if e.exception() == "IncompleteSignatureException" => RefusalKind::SignatureIncomplete,
        _ => RefusalKind::SignatureMismatch,
    }
}

/// A header's value as text.
pub(crate) fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The headers as the authorizer event carries them: by lower-case name, repeats joined.
fn headers_map(headers: &http::HeaderMap) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        map.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    map
}

/// Query parameters, percent-decoded (`+` stays `+`: base64 signatures often carry it
/// unencoded). The first of a repeated name wins.
pub(crate) fn query_params(query: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        params.entry(decode(name)).or_insert_with(|| decode(value));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_keep_plus_signs_and_decode_escapes() {
        let params = query_params("a=b%2Bc&sig=ab+cd==&a=2&empty");
        assert_eq!(params["a"], "b+c");
        assert_eq!(params["sig"], "ab+cd==");
        assert_eq!(params["empty"], "");
    }

    #[test]
    fn sigv4_refusals_get_their_kinds() {
        assert_eq!(
            sigv4_kind(&SigV4Error::SignatureMismatch),
            RefusalKind::SignatureMismatch
        );
        assert_eq!(
            sigv4_kind(&SigV4Error::QueryParameterMissing { name: "X-Amz-Date" }),
            RefusalKind::SignatureIncomplete
        );
        assert_eq!(
            sigv4_kind(&SigV4Error::DevCredentialOffLoopback),
            RefusalKind::UnknownAccessKey
        );
    }
}
