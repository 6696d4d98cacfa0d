//! Identities without a device certificate: an IAM-style principal that signed a WebSocket URL
//! with SigV4 (its access key), and a principal a custom authorizer returned. Each is judged by
//! layers of policies that must all allow: for a SigV4 client the IAM policy configured for its
//! credential and, as AWS does for an authenticated Cognito identity ("Authorization with
//! Amazon Cognito identities" in the developer guide), the IoT policies attached to the identity
//! id configured for it; for a custom authorizer's principal the policy documents its function
//! returned. The layers are installed in the router's `ServerAuthorizer` per connection, under
//! a key the connection alone uses, so a refreshed authorizer answer replaces them. It does not
//! verify signatures or call authorizers (`mqtt/web_auth.rs`, `authorizer/`).

use std::net::SocketAddr;

use iot_policy::{Policy, RequestContext};

/// Policies one connection is judged by: every layer must allow an action.
#[derive(Debug, Clone, Default)]
pub struct IdentityPolicies {
    /// The layers, in the order they are evaluated.
    pub layers: Vec<PolicyLayer>,
}

/// One set of policies, named for refusals ("the IAM policy of access key AKID").
#[derive(Debug, Clone)]
pub struct PolicyLayer {
    /// What the layer is, in words.
    pub what: String,
    /// Policy name and document.
    pub policies: Vec<(String, Policy)>,
}

/// The IAM-style policy of one API credential, and the identity id whose attached IoT policies
/// also apply (when configured).
#[derive(Debug, Clone)]
pub struct CredentialPolicy {
    /// The IAM policy, parsed.
    pub policy: Policy,
    /// A Cognito-style identity id (`us-east-1:…`): the IoT policies attached to it (AttachPolicy
    /// with this target) must allow as well.
    pub identity_id: Option<String>,
}

/// The IAM policy the development credential `test` has on loopback: every IoT action.
pub const DEV_IAM_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

impl IdentityPolicies {
    /// The decision for `requests` (policy action and resource ARN each): the first layer that
    /// does not allow one of them gives the reason, naming the layer.
    pub(crate) fn decide(
        &self,
        context: &RequestContext,
        requests: &[(iot_policy::Action, String)],
        who: &str,
    ) -> Result<(), String> {
        for layer in &self.layers {
            let policies: Vec<(&str, &Policy)> = layer
                .policies
                .iter()
                .map(|(name, policy)| (name.as_str(), policy))
                .collect();
            for (action, resource) in requests {
                let decision = iot_policy::evaluate(&policies, context, *action, resource);
                if decision.is_allowed() {
                    continue;
                }
                let why = match &decision {
                    iot_policy::Decision::ImplicitDeny if policies.is_empty() => {
                        format!("{} grants nothing (no policy)", layer.what)
                    }
                    iot_policy::Decision::ImplicitDeny => {
                        format!("no statement of {} allows it", layer.what)
                    }
                    other => format!("{other} in {}", layer.what),
                };
                return Err(format!(
                    "{} {} on {resource}: {why} ({who})",
                    decision.as_str(),
                    action.as_str()
                ));
            }
        }
        Ok(())
    }
}

/// The policy context of an identity's request (no certificate, no thing: AWS resolves
/// `iot:Connection.Thing.*` only for certificates attached to things).
pub(crate) fn context(
    region: &str,
    account: &str,
    client_id: &str,
    peer: SocketAddr,
) -> RequestContext {
    RequestContext {
        region: region.to_owned(),
        account: account.to_owned(),
        client_id: Some(client_id.to_owned()),
        thing: None,
        certificate: None,
        source_ip: Some(peer.ip()),
        connect_attributes: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(what: &str, document: &str) -> PolicyLayer {
        PolicyLayer {
            what: what.to_owned(),
            policies: vec![("p".to_owned(), Policy::parse(document).unwrap())],
        }
    }

    #[test]
    fn every_layer_must_allow_and_the_refusing_one_is_named() {
        let iam = layer("the IAM policy of access key AKID", DEV_IAM_POLICY);
        let iot = layer(
            "the IoT policies of identity us-east-1:abc",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish",
               "Resource":"arn:aws:iot:us-east-1:123456789012:topic/ok"}]}"#,
        );
        let policies = IdentityPolicies {
            layers: vec![iam, iot],
        };
        let ctx = context(
            "us-east-1",
            "123456789012",
            "c1",
            "127.0.0.1:1".parse().unwrap(),
        );
        let ok = [(
            iot_policy::Action::Publish,
            "arn:aws:iot:us-east-1:123456789012:topic/ok".to_owned(),
        )];
        assert_eq!(policies.decide(&ctx, &ok, "AKID"), Ok(()));
        let other = [(
            iot_policy::Action::Publish,
            "arn:aws:iot:us-east-1:123456789012:topic/other".to_owned(),
        )];
        let why = policies.decide(&ctx, &other, "AKID").unwrap_err();
        assert!(why.starts_with("IMPLICIT_DENY iot:Publish"), "{why}");
        assert!(why.contains("identity us-east-1:abc"), "{why}");
        let empty = IdentityPolicies {
            layers: vec![PolicyLayer {
                what: "the IAM policy of access key X".to_owned(),
                policies: Vec::new(),
            }],
        };
        let why = empty.decide(&ctx, &ok, "X").unwrap_err();
        assert!(why.contains("grants nothing"), "{why}");
    }
}
