//! Table tests built from the example policies in the AWS IoT developer guide ("Connect and
//! publish policy examples", "Subscribe/Receive examples", "Thing policy variables",
//! "Connect attributes"), restated in our own words.

use iot_policy::Action::{self, *};
use iot_policy::ResourceKind::{Client, Thing, Topic, TopicFilter};
use iot_policy::{ConnectAttributes, Decision, RequestContext, ThingInfo, evaluate};

use super::{ARN, check, client, policy, thing_client};

#[test]
fn client_id_pinned_to_thing_name() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/${{iot:Connection.Thing.ThingName}}"}}]"#
    ));
    check(
        &p,
        &thing_client("lamp-1", true),
        &[(Connect, Client, "lamp-1", "ALLOWED")],
    );
    // The thing resolved for the connection is lamp-1, but the CONNECT names another id.
    let mut other = thing_client("lamp-1", true);
    other.client_id = Some("lamp-2".into());
    check(&p, &other, &[(Connect, Client, "lamp-2", "IMPLICIT_DENY")]);
    // No thing at all: the variable does not resolve and the statement does not apply.
    check(
        &p,
        &client("lamp-1"),
        &[(Connect, Client, "lamp-1", "IMPLICIT_DENY")],
    );
}

#[test]
fn connect_requires_certificate_attached_to_thing() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/${{iot:Connection.Thing.ThingName}}",
            "Condition":{{"Bool":{{"iot:Connection.Thing.IsAttached":"true"}}}}}}]"#
    ));
    check(
        &p,
        &thing_client("lamp-1", true),
        &[(Connect, Client, "lamp-1", "ALLOWED")],
    );
    check(
        &p,
        &thing_client("lamp-1", false),
        &[(Connect, Client, "lamp-1", "IMPLICIT_DENY")],
    );
    check(
        &p,
        &client("lamp-1"),
        &[(Connect, Client, "lamp-1", "IMPLICIT_DENY")],
    );
}

#[test]
fn deny_connect_when_not_attached() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/*"}},
            {{"Effect":"Deny","Action":"iot:Connect","Resource":"*",
              "Condition":{{"Bool":{{"iot:Connection.Thing.IsAttached":"false"}}}}}}]"#
    ));
    check(
        &p,
        &thing_client("lamp-1", true),
        &[(Connect, Client, "lamp-1", "ALLOWED")],
    );
    check(
        &p,
        &client("stranger"),
        &[(Connect, Client, "stranger", "EXPLICIT_DENY")],
    );
}

#[test]
fn topic_per_client_id() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/${{iot:ClientId}}"}},
            {{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"{ARN}topic/clients/${{iot:ClientId}}/*"}},
            {{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{ARN}topicfilter/clients/${{iot:ClientId}}/*"}}]"#
    ));
    check(
        &p,
        &client("dev-7"),
        &[
            (Connect, Client, "dev-7", "ALLOWED"),
            (Publish, Topic, "clients/dev-7/telemetry", "ALLOWED"),
            (Publish, Topic, "clients/dev-7/a/b/c", "ALLOWED"),
            (Receive, Topic, "clients/dev-7/cmd", "ALLOWED"),
            (Subscribe, TopicFilter, "clients/dev-7/#", "ALLOWED"),
            (Subscribe, TopicFilter, "clients/dev-7/+/cmd", "ALLOWED"),
            (Publish, Topic, "clients/dev-8/telemetry", "IMPLICIT_DENY"),
            (
                Subscribe,
                TopicFilter,
                "clients/+/telemetry",
                "IMPLICIT_DENY",
            ),
            (Subscribe, TopicFilter, "clients/#", "IMPLICIT_DENY"),
            (Publish, Topic, "clients/dev-7", "IMPLICIT_DENY"),
        ],
    );
}

#[test]
fn plus_in_a_policy_is_a_literal_character() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{ARN}topicfilter/sensors/+/temperature"}},
            {{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"{ARN}topic/sensors/+/temperature"}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            // Only the filter written exactly so may be subscribed.
            (Subscribe, TopicFilter, "sensors/+/temperature", "ALLOWED"),
            (
                Subscribe,
                TopicFilter,
                "sensors/kitchen/temperature",
                "IMPLICIT_DENY",
            ),
            (Subscribe, TopicFilter, "sensors/#", "IMPLICIT_DENY"),
            // A real topic name never contains `+`, so these statements grant nothing.
            (
                Publish,
                Topic,
                "sensors/kitchen/temperature",
                "IMPLICIT_DENY",
            ),
            (
                Receive,
                Topic,
                "sensors/kitchen/temperature",
                "IMPLICIT_DENY",
            ),
        ],
    );
}

#[test]
fn hash_in_a_policy_is_a_literal_character() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{ARN}topicfilter/sensors/#"}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            (Subscribe, TopicFilter, "sensors/#", "ALLOWED"),
            (Subscribe, TopicFilter, "sensors/kitchen", "IMPLICIT_DENY"),
            (Subscribe, TopicFilter, "sensors/+", "IMPLICIT_DENY"),
        ],
    );
}

#[test]
fn star_in_topicfilter_allows_mqtt_wildcard_filters() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{ARN}topicfilter/sensors/*"}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            (Subscribe, TopicFilter, "sensors/#", "ALLOWED"),
            (Subscribe, TopicFilter, "sensors/+/temperature", "ALLOWED"),
            (Subscribe, TopicFilter, "sensors/kitchen", "ALLOWED"),
            (Subscribe, TopicFilter, "sensors", "IMPLICIT_DENY"),
            (Subscribe, TopicFilter, "#", "IMPLICIT_DENY"),
        ],
    );
}

/// A Deny on a topic filter only stops that SUBSCRIBE; a broader subscription still receives
/// the messages. Denying `iot:Receive` is what keeps them away.
#[test]
fn deny_on_topicfilter_does_not_stop_receive() {
    let base = format!(
        r#"{{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{ARN}topicfilter/a/*"}},
           {{"Effect":"Allow","Action":"iot:Receive","Resource":"{ARN}topic/a/*"}},
           {{"Effect":"Deny","Action":"iot:Subscribe","Resource":"{ARN}topicfilter/a/restricted/*"}}"#
    );
    let filter_only = policy(&format!("[{base}]"));
    check(
        &filter_only,
        &client("c"),
        &[
            (Subscribe, TopicFilter, "a/restricted/x", "EXPLICIT_DENY"),
            (Subscribe, TopicFilter, "a/#", "ALLOWED"),
            (Receive, Topic, "a/restricted/x", "ALLOWED"),
        ],
    );
    let with_receive = policy(&format!(
        r#"[{base}, {{"Effect":"Deny","Action":"iot:Receive","Resource":"{ARN}topic/a/restricted/*"}}]"#
    ));
    check(
        &with_receive,
        &client("c"),
        &[
            (Subscribe, TopicFilter, "a/#", "ALLOWED"),
            (Receive, Topic, "a/restricted/x", "EXPLICIT_DENY"),
            (Receive, Topic, "a/open/x", "ALLOWED"),
        ],
    );
}

#[test]
fn retain_publish_needs_its_own_grant() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":["{ARN}topic/telemetry/*","{ARN}topic/state/*"]}},
            {{"Effect":"Allow","Action":"iot:RetainPublish","Resource":"{ARN}topic/state/*"}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            (Publish, Topic, "telemetry/t1", "ALLOWED"),
            (RetainPublish, Topic, "telemetry/t1", "IMPLICIT_DENY"),
            (Publish, Topic, "state/lamp", "ALLOWED"),
            (RetainPublish, Topic, "state/lamp", "ALLOWED"),
        ],
    );
}

#[test]
fn pub_star_action_does_not_cover_retain_publish() {
    let p = policy(r#"[{"Effect":"Allow","Action":"iot:Pub*","Resource":"*"}]"#);
    check(
        &p,
        &client("c"),
        &[
            (Publish, Topic, "x", "ALLOWED"),
            (RetainPublish, Topic, "x", "IMPLICIT_DENY"),
            (Connect, Client, "c", "IMPLICIT_DENY"),
        ],
    );
}

fn connecting(persistent_connect: bool, last_will: bool) -> RequestContext {
    RequestContext {
        connect_attributes: ConnectAttributes {
            persistent_connect,
            last_will,
        },
        ..client("client1")
    }
}

#[test]
fn connect_attributes_forbid_persistent_sessions() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/client1"}},
            {{"Effect":"Deny","Action":"iot:Connect","Resource":"{ARN}client/client1",
              "Condition":{{"ForAnyValue:StringEquals":{{"iot:ConnectAttributes":["PersistentConnect"]}}}}}}]"#
    ));
    let case = |expected| [(Connect, Client, "client1", expected)];
    check(&p, &connecting(false, false), &case("ALLOWED"));
    check(&p, &connecting(false, true), &case("ALLOWED"));
    check(&p, &connecting(true, false), &case("EXPLICIT_DENY"));
    check(&p, &connecting(true, true), &case("EXPLICIT_DENY"));
}

#[test]
fn connect_attributes_allow_only_listed_features() {
    // ForAllValues: every attribute the CONNECT uses must be listed; none used also passes.
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/client1",
              "Condition":{{"ForAllValues:StringEquals":{{"iot:ConnectAttributes":["PersistentConnect"]}}}}}}]"#
    ));
    let case = |expected| [(Connect, Client, "client1", expected)];
    check(&p, &connecting(false, false), &case("ALLOWED"));
    check(&p, &connecting(true, false), &case("ALLOWED"));
    check(&p, &connecting(false, true), &case("IMPLICIT_DENY"));
    check(&p, &connecting(true, true), &case("IMPLICIT_DENY"));
}

#[test]
fn connect_attributes_require_a_will() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/client1",
              "Condition":{{"ForAnyValue:StringEquals":{{"iot:ConnectAttributes":"LastWill"}}}}}}]"#
    ));
    let case = |expected| [(Connect, Client, "client1", expected)];
    check(&p, &connecting(false, true), &case("ALLOWED"));
    check(&p, &connecting(true, true), &case("ALLOWED"));
    check(&p, &connecting(false, false), &case("IMPLICIT_DENY"));
}

#[test]
fn unconditional_connect_allows_every_attribute() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/client1"}}]"#
    ));
    check(
        &p,
        &connecting(true, true),
        &[(Connect, Client, "client1", "ALLOWED")],
    );
}

#[test]
fn shadow_topics_per_thing() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],
              "Resource":"{ARN}topic/$aws/things/${{iot:Connection.Thing.ThingName}}/shadow/*"}},
            {{"Effect":"Allow","Action":"iot:Subscribe",
              "Resource":"{ARN}topicfilter/$aws/things/${{iot:Connection.Thing.ThingName}}/shadow/*"}}]"#
    ));
    check(
        &p,
        &thing_client("lamp", true),
        &[
            (Publish, Topic, "$aws/things/lamp/shadow/update", "ALLOWED"),
            (
                Publish,
                Topic,
                "$aws/things/lamp/shadow/name/cfg/get",
                "ALLOWED",
            ),
            (
                Receive,
                Topic,
                "$aws/things/lamp/shadow/update/delta",
                "ALLOWED",
            ),
            (
                Subscribe,
                TopicFilter,
                "$aws/things/lamp/shadow/update/+",
                "ALLOWED",
            ),
            (
                Publish,
                Topic,
                "$aws/things/fan/shadow/update",
                "IMPLICIT_DENY",
            ),
            (
                Subscribe,
                TopicFilter,
                "$aws/things/+/shadow/update/delta",
                "IMPLICIT_DENY",
            ),
        ],
    );
}

#[test]
fn shadow_http_actions_on_the_thing_resource() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":["iot:GetThingShadow","iot:UpdateThingShadow"],
              "Resource":["{ARN}thing/${{iot:Connection.Thing.ThingName}}","{ARN}thing/${{iot:Connection.Thing.ThingName}}/*"]}}]"#
    ));
    check(
        &p,
        &thing_client("lamp", true),
        &[
            (GetThingShadow, Thing, "lamp", "ALLOWED"),
            (UpdateThingShadow, Thing, "lamp/cfg", "ALLOWED"),
            (DeleteThingShadow, Thing, "lamp", "IMPLICIT_DENY"),
            (GetThingShadow, Thing, "fan", "IMPLICIT_DENY"),
        ],
    );
}

#[test]
fn client_id_from_certificate_common_name() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/${{iot:Certificate.Subject.CommonName}}"}}]"#
    ));
    let mut ctx = client("dev-1");
    ctx.certificate = Some(iot_policy::CertificateInfo {
        subject: vec![("CommonName".into(), "dev-1".into())],
        ..Default::default()
    });
    check(
        &p,
        &ctx,
        &[
            (Connect, Client, "dev-1", "ALLOWED"),
            (Connect, Client, "dev-2", "IMPLICIT_DENY"),
        ],
    );
    check(
        &p,
        &client("dev-1"),
        &[(Connect, Client, "dev-1", "IMPLICIT_DENY")],
    );
}

#[test]
fn topic_from_thing_attribute() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/buildings/${{iot:Connection.Thing.Attributes[building]}}/*"}}]"#
    ));
    let mut ctx = thing_client("meter", true);
    if let Some(thing) = ctx.thing.as_mut() {
        thing.attributes.insert("building".into(), "b7".into());
    }
    check(
        &p,
        &ctx,
        &[
            (Publish, Topic, "buildings/b7/power", "ALLOWED"),
            (Publish, Topic, "buildings/b8/power", "IMPLICIT_DENY"),
        ],
    );
    // A thing without that attribute gets nothing.
    check(
        &p,
        &thing_client("meter", true),
        &[(Publish, Topic, "buildings/b7/power", "IMPLICIT_DENY")],
    );
}

#[test]
fn connect_only_things_of_a_type() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/*",
              "Condition":{{"StringEquals":{{"iot:Connection.Thing.ThingTypeName":"sensor"}}}}}}]"#
    ));
    let typed = |type_name: Option<&str>| RequestContext {
        thing: Some(ThingInfo {
            name: "t".into(),
            type_name: type_name.map(Into::into),
            attributes: Default::default(),
            is_attached: true,
        }),
        ..client("t")
    };
    check(
        &p,
        &typed(Some("sensor")),
        &[(Connect, Client, "t", "ALLOWED")],
    );
    check(
        &p,
        &typed(Some("camera")),
        &[(Connect, Client, "t", "IMPLICIT_DENY")],
    );
    check(&p, &typed(None), &[(Connect, Client, "t", "IMPLICIT_DENY")]);
}

#[test]
fn not_resource_allows_everything_but_admin_topics() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","NotResource":"{ARN}topic/admin/*"}}]"#
    ));
    check(
        &p,
        &client("c"),
        &[
            (Publish, Topic, "telemetry/x", "ALLOWED"),
            (Publish, Topic, "admin/reboot", "IMPLICIT_DENY"),
            (Receive, Topic, "telemetry/x", "IMPLICIT_DENY"),
        ],
    );
}

#[test]
fn not_action_deny_leaves_only_connect() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":"iot:*","Resource":"*"},
            {"Effect":"Deny","NotAction":"iot:Connect","Resource":"*"}]"#,
    );
    check(
        &p,
        &client("c"),
        &[
            (Connect, Client, "c", "ALLOWED"),
            (Publish, Topic, "x", "EXPLICIT_DENY"),
            (Subscribe, TopicFilter, "x", "EXPLICIT_DENY"),
        ],
    );
}

#[test]
fn list_retained_messages_is_authorized_on_star_only() {
    let scoped = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:ListRetainedMessages","Resource":"{ARN}topic/*"}}]"#
    ));
    let any = policy(r#"[{"Effect":"Allow","Action":"iot:ListRetainedMessages","Resource":"*"}]"#);
    let ctx = client("c");
    let ask = |p| {
        evaluate(
            &[("p", p)],
            &ctx,
            Action::ListRetainedMessages,
            iot_policy::ANY_RESOURCE,
        )
    };
    assert_eq!(ask(&scoped), Decision::ImplicitDeny);
    assert!(ask(&any).is_allowed());
}

#[test]
fn policy_for_another_region_or_account_grants_nothing() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:eu-west-1:123456789012:topic/*"}]"#,
    );
    check(&p, &client("c"), &[(Publish, Topic, "x", "IMPLICIT_DENY")]);
    let any_region = policy(
        r#"[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:123456789012:topic/*"}]"#,
    );
    check(
        &any_region,
        &client("c"),
        &[(Publish, Topic, "x", "ALLOWED")],
    );
}
