//! Edge cases of `*` and `?` in resources and actions, escapes, substituted values, case, and
//! the 2008-10-17 version where variables are plain text.

use iot_policy::Action::*;
use iot_policy::Policy;
use iot_policy::ResourceKind::{Client, Topic, TopicFilter};

use super::{ARN, check, client, policy};

#[test]
fn star_crosses_levels_and_may_be_empty() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/a*"}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            (Publish, Topic, "a", "ALLOWED"),
            (Publish, Topic, "abc", "ALLOWED"),
            (Publish, Topic, "a/b/c/d/e/f/g", "ALLOWED"),
            (Publish, Topic, "b/a", "IMPLICIT_DENY"),
        ],
    );
}

#[test]
fn star_in_the_middle_of_a_level() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/dev-*/status"}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            (Publish, Topic, "dev-1/status", "ALLOWED"),
            (Publish, Topic, "dev-/status", "ALLOWED"),
            (Publish, Topic, "dev-1/x/status", "ALLOWED"),
            (Publish, Topic, "dev-1/status/x", "IMPLICIT_DENY"),
            (Publish, Topic, "gw-1/status", "IMPLICIT_DENY"),
        ],
    );
}

#[test]
fn question_mark_is_exactly_one_character() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/sensor-??"}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            (Connect, Client, "sensor-01", "ALLOWED"),
            (Connect, Client, "sensor-1", "IMPLICIT_DENY"),
            (Connect, Client, "sensor-001", "IMPLICIT_DENY"),
            (Connect, Client, "sensor-é1", "ALLOWED"),
        ],
    );
}

#[test]
fn question_mark_matches_a_slash() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/a?b"}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            (Publish, Topic, "a/b", "ALLOWED"),
            (Publish, Topic, "ab", "IMPLICIT_DENY"),
        ],
    );
}

#[test]
fn escaped_wildcards_are_literal() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":["{ARN}topic/odd/${{*}}","{ARN}topic/q${{?}}","{ARN}topic/cost${{$}}"]}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            (Publish, Topic, "odd/*", "ALLOWED"),
            (Publish, Topic, "odd/x", "IMPLICIT_DENY"),
            (Publish, Topic, "q?", "ALLOWED"),
            (Publish, Topic, "qx", "IMPLICIT_DENY"),
            (Publish, Topic, "cost$", "ALLOWED"),
        ],
    );
}

#[test]
fn dollar_without_brace_is_literal() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{ARN}topicfilter/$aws/events/*"}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[(Subscribe, TopicFilter, "$aws/events/presence/#", "ALLOWED")],
    );
}

#[test]
fn resources_are_case_sensitive() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/Sensors/*"}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            (Publish, Topic, "Sensors/x", "ALLOWED"),
            (Publish, Topic, "sensors/x", "IMPLICIT_DENY"),
        ],
    );
}

#[test]
fn actions_are_case_insensitive() {
    let p = policy(r#"[{"Effect":"Allow","Action":"IOT:publish","Resource":"*"}]"#);
    check(&p, &client("c"), &[(Publish, Topic, "x", "ALLOWED")]);
}

#[test]
fn a_client_id_of_star_does_not_widen_a_resource() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/clients/${{iot:ClientId}}"}}]"#
    ));
    check(
        &p,
        &client("*"),
        &[
            (Publish, Topic, "clients/*", "ALLOWED"),
            (Publish, Topic, "clients/dev-1", "IMPLICIT_DENY"),
        ],
    );
}

/// The documented trap: a client id of `+` is literal to the policy, but the filter it allows
/// is an MQTT wildcard. Pinning client ids with iot:Connect is the defence.
#[test]
fn a_client_id_of_plus_allows_a_wildcard_filter() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{ARN}topicfilter/${{iot:ClientId}}/cmd"}}]"#
    ));
    check(
        &p,
        &client("+"),
        &[(Subscribe, TopicFilter, "+/cmd", "ALLOWED")],
    );
}

#[test]
fn star_resource_matches_any_request_resource() {
    let p = policy(r#"[{"Effect":"Allow","Action":"*","Resource":"*"}]"#);
    check(
        &p,
        &client("c"),
        &[
            (Connect, Client, "", "ALLOWED"),
            (Publish, Topic, "a/+/#/$x/${y}", "ALLOWED"),
            (
                AssumeRoleWithCertificate,
                iot_policy::ResourceKind::RoleAlias,
                "r",
                "ALLOWED",
            ),
        ],
    );
}

#[test]
fn version_2008_treats_variables_as_text() {
    let document = format!(
        r#"{{"Version":"2008-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/${{iot:ClientId}}"}}]}}"#
    );
    let p = Policy::parse(&document).unwrap();
    check(
        &p,
        &client("dev-1"),
        &[
            (Publish, Topic, "dev-1", "IMPLICIT_DENY"),
            (Publish, Topic, "${iot:ClientId}", "ALLOWED"),
        ],
    );
}

#[test]
fn variable_names_ignore_case() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/${{IOT:clientID}}"}}]"#
    ));
    check(
        &p,
        &client("dev-1"),
        &[(Publish, Topic, "dev-1", "ALLOWED")],
    );
}

#[test]
fn one_unresolvable_resource_entry_does_not_spoil_the_others() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":["{ARN}topic/${{iot:Connection.Thing.ThingName}}","{ARN}topic/public"]}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            (Publish, Topic, "public", "ALLOWED"),
            (Publish, Topic, "c", "IMPLICIT_DENY"),
        ],
    );
}

#[test]
fn unresolvable_not_resource_makes_the_statement_not_apply() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}},
            {{"Effect":"Deny","Action":"iot:Publish","NotResource":"{ARN}topic/${{iot:Connection.Thing.ThingName}}/*"}}]"#
    ));
    // With a thing: the deny applies outside the thing's subtree.
    check(
        &p,
        &super::thing_client("lamp", true),
        &[
            (Publish, Topic, "lamp/x", "ALLOWED"),
            (Publish, Topic, "fan/x", "EXPLICIT_DENY"),
        ],
    );
    // Without one, the deny cannot be evaluated and does not apply.
    check(&p, &client("c"), &[(Publish, Topic, "fan/x", "ALLOWED")]);
}
