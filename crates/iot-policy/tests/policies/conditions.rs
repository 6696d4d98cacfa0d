//! Condition blocks through whole policies: source IP, certificate attributes and their list
//! forms, variables inside condition values, IfExists, and how several conditions combine.

use iot_policy::Action::*;
use iot_policy::ResourceKind::{Client, Topic};
use iot_policy::{CertificateInfo, RequestContext};

use super::{ARN, check, client, policy, thing_client};

fn from_ip(ip: &str) -> RequestContext {
    RequestContext {
        source_ip: Some(ip.parse().unwrap()),
        ..client("c")
    }
}

#[test]
fn connect_only_from_a_network() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/*",
              "Condition":{{"IpAddress":{{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}}}}]"#
    ));
    let case = |expected| [(Connect, Client, "c", expected)];
    check(&p, &from_ip("10.20.30.40"), &case("ALLOWED"));
    check(&p, &from_ip("2001:db8::5"), &case("ALLOWED"));
    check(&p, &from_ip("192.0.2.1"), &case("IMPLICIT_DENY"));
    check(&p, &client("c"), &case("IMPLICIT_DENY"));
}

#[test]
fn deny_from_outside_a_network() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":"iot:*","Resource":"*"},
            {"Effect":"Deny","Action":"iot:*","Resource":"*",
              "Condition":{"NotIpAddress":{"aws:SourceIp":"192.168.0.0/16"}}}]"#,
    );
    check(
        &p,
        &from_ip("192.168.4.4"),
        &[(Publish, Topic, "t", "ALLOWED")],
    );
    check(
        &p,
        &from_ip("8.8.8.8"),
        &[(Publish, Topic, "t", "EXPLICIT_DENY")],
    );
    // No source address known: a negated operator on an absent key holds (IAM), so deny.
    check(&p, &client("c"), &[(Publish, Topic, "t", "EXPLICIT_DENY")]);
}

#[test]
fn source_ip_as_a_resource_variable() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/from/${{aws:SourceIp}}"}}]"#
    ));
    check(
        &p,
        &from_ip("203.0.113.5"),
        &[(Publish, Topic, "from/203.0.113.5", "ALLOWED")],
    );
}

fn with_certificate(subject: &[(&str, &str)]) -> RequestContext {
    RequestContext {
        certificate: Some(CertificateInfo {
            subject: subject
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            issuer: vec![("Organization".into(), "Example CA Inc".into())],
            serial_number: Some("1234".into()),
            ..CertificateInfo::default()
        }),
        ..client("dev-1")
    }
}

#[test]
fn certificate_attribute_lists_with_set_qualifiers() {
    let any = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/*",
              "Condition":{{"ForAnyValue:StringEquals":{{"iot:Certificate.Subject.OrganizationalUnit.List":["ops","lab"]}}}}}}]"#
    ));
    let all = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/*",
              "Condition":{{"ForAllValues:StringEquals":{{"iot:Certificate.Subject.OrganizationalUnit.List":["ops","lab"]}}}}}}]"#
    ));
    let ops_and_sales = with_certificate(&[
        ("OrganizationalUnit", "ops"),
        ("OrganizationalUnit", "sales"),
    ]);
    let ops_and_lab =
        with_certificate(&[("OrganizationalUnit", "ops"), ("OrganizationalUnit", "lab")]);
    let none = with_certificate(&[("CommonName", "dev-1")]);
    let case = |expected| [(Connect, Client, "dev-1", expected)];
    check(&any, &ops_and_sales, &case("ALLOWED"));
    check(&all, &ops_and_sales, &case("IMPLICIT_DENY"));
    check(&all, &ops_and_lab, &case("ALLOWED"));
    check(&any, &none, &case("IMPLICIT_DENY"));
    check(&all, &none, &case("ALLOWED"));
}

#[test]
fn certificate_issuer_and_serial_conditions() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/*",
              "Condition":{{"StringLike":{{"iot:Certificate.Issuer.Organization":"Example*"}},
                            "StringNotEquals":{{"iot:Certificate.SerialNumber":["666","667"]}}}}}}]"#
    ));
    check(
        &p,
        &with_certificate(&[]),
        &[(Connect, Client, "dev-1", "ALLOWED")],
    );
    check(
        &p,
        &client("dev-1"),
        &[(Connect, Client, "dev-1", "IMPLICIT_DENY")],
    );
}

#[test]
fn nth_certificate_value_in_a_resource() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/${{iot:Certificate.Subject.OrganizationalUnit.2}}/*"}}]"#
    ));
    let ctx = with_certificate(&[("OrganizationalUnit", "ops"), ("OrganizationalUnit", "lab")]);
    check(
        &p,
        &ctx,
        &[
            (Publish, Topic, "lab/x", "ALLOWED"),
            (Publish, Topic, "ops/x", "IMPLICIT_DENY"),
        ],
    );
}

#[test]
fn list_variable_never_resolves_in_a_resource() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/${{iot:Certificate.Subject.OrganizationalUnit.List}}/*"}}]"#
    ));
    let ctx = with_certificate(&[("OrganizationalUnit", "ops")]);
    check(&p, &ctx, &[(Publish, Topic, "ops/x", "IMPLICIT_DENY")]);
}

#[test]
fn condition_value_with_a_variable() {
    // Client id must equal the certificate's common name.
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/*",
              "Condition":{{"StringEquals":{{"iot:ClientId":"${{iot:Certificate.Subject.CommonName}}"}}}}}}]"#
    ));
    check(
        &p,
        &with_certificate(&[("CommonName", "dev-1")]),
        &[(Connect, Client, "dev-1", "ALLOWED")],
    );
    check(
        &p,
        &with_certificate(&[("CommonName", "dev-2")]),
        &[(Connect, Client, "dev-1", "IMPLICIT_DENY")],
    );
}

#[test]
fn if_exists_passes_when_the_key_is_missing() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/*",
              "Condition":{{"StringEqualsIfExists":{{"iot:Connection.Thing.ThingTypeName":"sensor"}}}}}}]"#
    ));
    check(&p, &client("c"), &[(Connect, Client, "c", "ALLOWED")]);
    let mut typed = thing_client("c", true);
    if let Some(thing) = typed.thing.as_mut() {
        thing.type_name = Some("camera".into());
    }
    check(&p, &typed, &[(Connect, Client, "c", "IMPLICIT_DENY")]);
}

#[test]
fn null_condition_requires_a_thing() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/*",
              "Condition":{{"Null":{{"iot:Connection.Thing.ThingName":"false"}}}}}}]"#
    ));
    check(
        &p,
        &thing_client("c", true),
        &[(Connect, Client, "c", "ALLOWED")],
    );
    check(&p, &client("c"), &[(Connect, Client, "c", "IMPLICIT_DENY")]);
}

#[test]
fn all_conditions_must_hold() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}client/*",
              "Condition":{{"Bool":{{"iot:Connection.Thing.IsAttached":"true"}},
                            "StringLike":{{"iot:ClientId":"lamp-*","iot:Connection.Thing.ThingName":"lamp-*"}}}}}}]"#
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
        &thing_client("fan-1", true),
        &[(Connect, Client, "fan-1", "IMPLICIT_DENY")],
    );
}

#[test]
fn numeric_condition_on_a_thing_attribute() {
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/*",
              "Condition":{{"NumericLessThanEquals":{{"iot:Connection.Thing.Attributes[firmware]":2.5}}}}}}]"#
    ));
    let with_firmware = |v: &str| {
        let mut ctx = thing_client("d", true);
        if let Some(thing) = ctx.thing.as_mut() {
            thing.attributes.insert("firmware".into(), v.into());
        }
        ctx
    };
    check(
        &p,
        &with_firmware("2.5"),
        &[(Publish, Topic, "t", "ALLOWED")],
    );
    check(&p, &with_firmware("1"), &[(Publish, Topic, "t", "ALLOWED")]);
    check(
        &p,
        &with_firmware("3.0"),
        &[(Publish, Topic, "t", "IMPLICIT_DENY")],
    );
    check(
        &p,
        &with_firmware("beta"),
        &[(Publish, Topic, "t", "IMPLICIT_DENY")],
    );
}

#[test]
fn arn_like_matches_parts_separately() {
    // A contrived key with an ARN value: the thing attribute holds an ARN.
    let p = policy(&format!(
        r#"[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}topic/*",
              "Condition":{{"ArnLike":{{"iot:Connection.Thing.Attributes[owner]":"arn:aws:iot:*:123456789012:thing/*"}}}}}}]"#
    ));
    let owned_by = |v: &str| {
        let mut ctx = thing_client("d", true);
        if let Some(thing) = ctx.thing.as_mut() {
            thing.attributes.insert("owner".into(), v.into());
        }
        ctx
    };
    check(
        &p,
        &owned_by("arn:aws:iot:eu-west-1:123456789012:thing/x"),
        &[(Publish, Topic, "t", "ALLOWED")],
    );
    check(
        &p,
        &owned_by("arn:aws:iot:eu-west-1:999999999999:thing/x"),
        &[(Publish, Topic, "t", "IMPLICIT_DENY")],
    );
}
