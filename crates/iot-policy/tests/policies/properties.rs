//! Property tests through the public API: evaluation never panics on arbitrary patterns and
//! resources, `*` matches every resource, and an applicable Deny always wins.

use iot_policy::{Action, Decision, Policy, RequestContext, evaluate};
use proptest::prelude::*;

use super::client;

/// A 2012-10-17 policy with one statement of the given effect on one resource pattern, or
/// `None` if the pattern is not a valid resource.
fn single(effect: &str, resource: &str) -> Option<Policy> {
    let resource = serde_json::to_string(resource).ok()?;
    Policy::parse(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Action":"*","Resource":{resource}}}]}}"#
    ))
    .ok()
}

fn any_action() -> impl Strategy<Value = Action> {
    proptest::sample::select(Action::ALL.to_vec())
}

proptest! {
    #[test]
    fn matching_never_panics(
        tail in "[a-z/+#*?${}.:\\[\\]é-]{0,40}",
        resource in "\\PC{0,60}",
        client_id in "\\PC{0,12}",
        action in any_action(),
    ) {
        if let Some(policy) = single("Allow", &format!("arn:aws:iot:*:*:{tail}")) {
            let decision = evaluate(&[("p", &policy)], &client(&client_id), action, &resource);
            let allow_or_implicit = matches!(decision, Decision::Allowed { .. } | Decision::ImplicitDeny);
            prop_assert!(allow_or_implicit, "unexpected {}", decision);
        }
    }

    #[test]
    fn star_matches_every_resource(resource in "\\PC{0,80}", action in any_action()) {
        let policy = single("Allow", "*").unwrap();
        let ctx = RequestContext::default();
        prop_assert!(evaluate(&[("p", &policy)], &ctx, action, &resource).is_allowed());
    }

    #[test]
    fn arn_prefix_star_matches_every_arn(tail in "\\PC{0,80}") {
        let policy = single("Allow", "arn:*").unwrap();
        let resource = format!("arn:{tail}");
        prop_assert!(evaluate(&[("p", &policy)], &client("c"), Action::Publish, &resource).is_allowed());
    }

    #[test]
    fn literal_resource_matches_exactly_itself(topic in "[a-z0-9/+#-]{0,30}", other in "[a-z0-9/+#-]{0,30}") {
        let ctx = client("c");
        let resource = ctx.arn(iot_policy::ResourceKind::Topic, &topic);
        let policy = single("Allow", &resource).unwrap();
        let other_resource = ctx.arn(iot_policy::ResourceKind::Topic, &other);
        prop_assert!(evaluate(&[("p", &policy)], &ctx, Action::Publish, &resource).is_allowed());
        prop_assert_eq!(
            evaluate(&[("p", &policy)], &ctx, Action::Publish, &other_resource).is_allowed(),
            topic == other
        );
    }

    #[test]
    fn deny_star_always_wins(tail in "[a-z/*?-]{0,20}", resource in "\\PC{0,40}", action in any_action()) {
        if let Some(allow) = single("Allow", &format!("arn:aws:iot:*:*:{tail}")) {
            let deny = single("Deny", "*").unwrap();
            let decision = evaluate(&[("a", &allow), ("d", &deny)], &client("c"), action, &resource);
            prop_assert_eq!(decision, Decision::ExplicitDeny { policy: "d", statement: 0, sid: None });
        }
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Policy::parse(&text);
    }
}
