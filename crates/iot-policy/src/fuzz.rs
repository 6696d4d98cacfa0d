//! The body of the `policy_json` fuzz target, kept in the crate so the corpus replay test and
//! the fuzzer run the same code. It checks invariants and reports a broken one as `Err`; it is
//! not a general-purpose API.

use crate::action::Action;
use crate::context::{CertificateInfo, ConnectAttributes, RequestContext, ThingInfo};
use crate::document::{Effect, Policy, check_aws_size_limit};
use crate::evaluate::{Decision, evaluate};
use crate::resource::{ANY_RESOURCE, ResourceKind};

/// Parses `data` as a policy; if it parses, evaluates a fixed set of requests under an empty
/// and a fully populated context and checks that every decision is consistent with the
/// statement it names. Returns a description of the first broken invariant.
pub fn policy_json(data: &[u8]) -> Result<(), String> {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = check_aws_size_limit(text);
    }
    let policy = match Policy::from_slice(data) {
        Ok(policy) => policy,
        Err(err) if err.to_string().is_empty() => {
            return Err("a parse error rendered as empty text".to_owned());
        }
        Err(_) => return Ok(()),
    };
    let _ = policy.unrecognized_variables();
    let full = populated_context();
    for ctx in [RequestContext::default(), full] {
        for (action, resource) in requests(&ctx) {
            check_decision(&policy, &ctx, action, &resource)?;
        }
    }
    Ok(())
}

fn check_decision(
    policy: &Policy,
    ctx: &RequestContext,
    action: Action,
    resource: &str,
) -> Result<(), String> {
    let decision = evaluate(&[("fuzz", policy)], ctx, action, resource);
    let applies = |effect: Effect| {
        policy
            .statements()
            .iter()
            .any(|s| s.effect() == effect && s.applies(ctx, action, resource))
    };
    let named = |statement: usize, effect: Effect| {
        policy
            .statements()
            .get(statement)
            .is_some_and(|s| s.effect() == effect && s.applies(ctx, action, resource))
    };
    let consistent = match decision {
        Decision::Allowed { statement, .. } => {
            named(statement, Effect::Allow) && !applies(Effect::Deny)
        }
        Decision::ExplicitDeny { statement, .. } => named(statement, Effect::Deny),
        Decision::ImplicitDeny => !applies(Effect::Allow) && !applies(Effect::Deny),
    };
    if consistent {
        Ok(())
    } else {
        Err(format!(
            "{action} on {resource}: decision \"{decision}\" contradicts the statements"
        ))
    }
}

fn populated_context() -> RequestContext {
    RequestContext {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        client_id: Some("dev-1".into()),
        thing: Some(ThingInfo {
            name: "dev-1".into(),
            type_name: Some("lamp".into()),
            attributes: [("floor".to_owned(), "3".to_owned())].into(),
            is_attached: true,
        }),
        certificate: Some(CertificateInfo {
            subject: vec![
                ("CommonName".into(), "dev-1".into()),
                ("Organization".into(), "Example".into()),
            ],
            issuer: vec![("CommonName".into(), "Example CA".into())],
            subject_alternative_names: vec![("DNSName".into(), "dev-1.example.com".into())],
            issuer_alternative_names: Vec::new(),
            serial_number: Some("4660".into()),
        }),
        source_ip: "203.0.113.7".parse().ok(),
        connect_attributes: ConnectAttributes {
            persistent_connect: true,
            last_will: false,
        },
    }
}

fn requests(ctx: &RequestContext) -> Vec<(Action, String)> {
    vec![
        (Action::Connect, ctx.arn(ResourceKind::Client, "dev-1")),
        (
            Action::Publish,
            ctx.arn(ResourceKind::Topic, "dev-1/telemetry"),
        ),
        (
            Action::RetainPublish,
            ctx.arn(ResourceKind::Topic, "dev-1/state"),
        ),
        (
            Action::Subscribe,
            ctx.arn(ResourceKind::TopicFilter, "dev-1/+/#"),
        ),
        (
            Action::Receive,
            ctx.arn(ResourceKind::Topic, "$aws/things/dev-1/shadow/update/delta"),
        ),
        (
            Action::GetThingShadow,
            ctx.arn(ResourceKind::Thing, "dev-1"),
        ),
        (Action::ListRetainedMessages, ANY_RESOURCE.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_garbage_and_valid_policies() {
        assert_eq!(policy_json(b"\xff\x00{"), Ok(()));
        assert_eq!(policy_json(b"{}"), Ok(()));
        let policy = br#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:*:*:*/${iot:ClientId}*"},
            {"Effect":"Deny","Action":"iot:Connect","Resource":"*",
             "Condition":{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}}]}"#;
        assert_eq!(policy_json(policy), Ok(()));
    }
}
