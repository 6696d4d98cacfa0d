//! Integration tests for `iot-policy` through its public API only: AWS documentation examples,
//! wildcard and condition edge cases, parse errors, properties, and the fuzz corpus replay.
//! Shared fixtures live here; each group of tests is a module beside this file.

// Clippy's test allowances cover `#[test]` functions only, not the fixtures they share.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test fixtures fail the test loudly on bad fixtures"
)]

mod aws_examples;
mod conditions;
mod corpus;
mod parse_errors;
mod properties;
mod wildcards;

use iot_policy::{Action, Policy, RequestContext, ResourceKind, ThingInfo, evaluate};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// `arn:aws:iot:us-east-1:123456789012:` — prefix for resources in test policies.
pub const ARN: &str = "arn:aws:iot:us-east-1:123456789012:";

/// Parses a 2012-10-17 policy from its statement array text, failing the test with the
/// parser's message if it does not parse.
pub fn policy(statements: &str) -> Policy {
    let document = format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#);
    Policy::parse(&document).unwrap_or_else(|err| panic!("policy does not parse: {err}"))
}

/// A context for client `client_id` in the test region and account, with no thing.
pub fn client(client_id: &str) -> RequestContext {
    RequestContext {
        region: REGION.into(),
        account: ACCOUNT.into(),
        client_id: Some(client_id.into()),
        ..RequestContext::default()
    }
}

/// A context where the client id is also the name of a thing, attached or not.
pub fn thing_client(name: &str, is_attached: bool) -> RequestContext {
    RequestContext {
        thing: Some(ThingInfo {
            name: name.into(),
            is_attached,
            ..ThingInfo::default()
        }),
        ..client(name)
    }
}

/// One request and the TestAuthorization-style result it must get.
pub type Case<'a> = (Action, ResourceKind, &'a str, &'a str);

/// Evaluates each case against `policy` alone and compares the decision's AWS spelling
/// (`ALLOWED` / `EXPLICIT_DENY` / `IMPLICIT_DENY`).
pub fn check(policy: &Policy, ctx: &RequestContext, cases: &[Case<'_>]) {
    for (action, kind, value, expected) in cases {
        let resource = ctx.arn(*kind, value);
        let decision = evaluate(&[("under-test", policy)], ctx, *action, &resource);
        assert_eq!(
            decision.as_str(),
            *expected,
            "{action} on {resource} as {:?}: {decision}",
            ctx.client_id
        );
    }
}
