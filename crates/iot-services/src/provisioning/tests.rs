//! The provisioning service over a real store and a real CA: the MQTT operations in both formats,
//! RegisterThing with and without a hook, each rejection with nothing created, the token timer,
//! and just-in-time registration and provisioning.

use serde_json::{Map, Value, json};
use store::{CaCertificateStatus, CertificateMode, CertificateStatus, NewCaCertificate, Store};

use super::*;
use crate::Output;

const NOW: i64 = 1_800_000_000_000;

fn settings() -> ProvisioningSettings {
    let validity = pki::Validity::days_from(NOW / 1000, 30);
    let ca =
        pki::CertificateAuthority::generate("tether test CA", pki::KeyAlgorithm::EcP256, validity)
            .unwrap();
    ProvisioningSettings {
        issuer: Some(ca),
        ..ProvisioningSettings::default()
    }
}

const FLEET_TEMPLATE: &str = r#"{
  "Parameters": {"SerialNumber": {"Type": "String"}, "Region": {"Type": "String", "Default": "eu"}},
  "Mappings": {"Endpoints": {"eu": {"Url": "https://eu.example"}, "us": {"Url": "https://us.example"}}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing",
              "Properties": {"ThingName": {"Fn::Join": ["-", ["sensor", {"Ref": "SerialNumber"}]]},
                             "AttributePayload": {"region": {"Ref": "Region"}}}},
    "certificate": {"Type": "AWS::IoT::Certificate",
                    "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}},
    "policy": {"Type": "AWS::IoT::Policy",
               "Properties": {"PolicyDocument": {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}}}
  },
  "DeviceConfiguration": {"Url": {"Fn::FindInMap": ["Endpoints", {"Ref": "Region"}, "Url"]}}
}"#;

fn create_template(store: &mut Store, s: &ProvisioningSettings, name: &str, extra: Value) {
    let mut body: Map<String, Value> = json!({
        "templateName": name,
        "templateBody": FLEET_TEMPLATE,
        "provisioningRoleArn": "arn:aws:iam::123456789012:role/provisioning",
        "enabled": true,
    })
    .as_object()
    .cloned()
    .unwrap();
    body.extend(extra.as_object().cloned().unwrap_or_default());
    store
        .services("t", |tx| {
            super::create_template(tx, s, &body, format!("id-{name}"), NOW).unwrap();
            Ok(())
        })
        .unwrap();
}

/// Publishes on `topic` from connection 7 and returns the answer's topic and body.
fn publish(
    store: &mut Store,
    s: &ProvisioningSettings,
    topic: &str,
    payload: &[u8],
) -> (String, Value, Option<HookCall>) {
    store
        .services("t", |tx| {
            let (output, hook) = handle_publish(
                tx,
                s,
                &Publish {
                    conn: Some(7),
                    client_id: Some("factory-7"),
                    principal: None,
                    topic,
                    payload,
                },
                NOW,
            );
            Ok(decode(output, hook))
        })
        .unwrap()
}

fn decode(output: Output, hook: Option<HookCall>) -> (String, Value, Option<HookCall>) {
    let Some((conn, message)) = output.direct.into_iter().next() else {
        return (String::new(), Value::Null, hook);
    };
    assert_eq!(conn, 7, "answered to the requesting connection");
    let format = if message.topic.contains("/cbor/") {
        Format::Cbor
    } else {
        Format::Json
    };
    let body = Value::Object(format.decode(&message.payload).unwrap());
    (message.topic, body, hook)
}

fn create_keys(store: &mut Store, s: &ProvisioningSettings) -> (String, String) {
    let (topic, body, _) = publish(store, s, "$aws/certificates/create/json", b"");
    assert_eq!(topic, "$aws/certificates/create/json/accepted", "{body}");
    (
        body["certificateId"].as_str().unwrap().to_owned(),
        body["certificateOwnershipToken"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

fn status(store: &Store, id: &str) -> Option<CertificateStatus> {
    store.certificate(id).unwrap().map(|c| c.status)
}

#[test]
fn a_device_gets_a_certificate_and_registers_its_thing() {
    let mut store = Store::open_in_memory().unwrap();
    let s = settings();
    create_template(&mut store, &s, "fleet", json!({}));
    let (id, token) = create_keys(&mut store, &s);
    assert_eq!(
        status(&store, &id),
        Some(CertificateStatus::PendingActivation)
    );
    let request = json!({"certificateOwnershipToken": token, "parameters": {"SerialNumber": "42"}});
    let (topic, body, _) = publish(
        &mut store,
        &s,
        "$aws/provisioning-templates/fleet/provision/json",
        request.to_string().as_bytes(),
    );
    assert_eq!(
        topic,
        "$aws/provisioning-templates/fleet/provision/json/accepted"
    );
    assert_eq!(
        body,
        json!({"thingName": "sensor-42", "deviceConfiguration": {"Url": "https://eu.example"}})
    );
    assert_eq!(status(&store, &id), Some(CertificateStatus::Active));
    let thing = store.thing("sensor-42").unwrap().unwrap();
    assert_eq!(thing.attributes["region"], "eu");
    let auth = store.certificate_for_connection(&id).unwrap().unwrap();
    assert_eq!(auth.things[0].name, "sensor-42");
    assert_eq!(auth.policies.len(), 1);
    // The token is single-use.
    let (topic, body, _) = publish(
        &mut store,
        &s,
        "$aws/provisioning-templates/fleet/provision/json",
        request.to_string().as_bytes(),
    );
    assert!(topic.ends_with("/rejected"));
    assert_eq!(body["errorCode"], "InvalidCertificateOwnershipToken");
}

#[test]
fn csr_requests_and_answers_speak_cbor() {
    let mut store = Store::open_in_memory().unwrap();
    let s = settings();
    let key = pki::generate_key(pki::KeyAlgorithm::EcP256).unwrap();
    let csr = pki::create_csr(&key, "device-csr")
        .unwrap()
        .to_pem()
        .unwrap();
    let request = json!({"certificateSigningRequest": String::from_utf8(csr).unwrap()});
    let mut payload = Vec::new();
    ciborium::ser::into_writer(&request, &mut payload).unwrap();
    let (topic, body, _) = publish(
        &mut store,
        &s,
        "$aws/certificates/create-from-csr/cbor",
        &payload,
    );
    assert_eq!(
        topic, "$aws/certificates/create-from-csr/cbor/accepted",
        "{body}"
    );
    let id = body["certificateId"].as_str().unwrap();
    assert!(
        body["certificatePem"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert!(body.get("privateKey").is_none());
    assert_eq!(
        status(&store, id),
        Some(CertificateStatus::PendingActivation)
    );
    // A CSR with a key AWS refuses, and a payload that is not CBOR, are rejected in CBOR.
    let (topic, body, _) = publish(
        &mut store,
        &s,
        "$aws/certificates/create-from-csr/cbor",
        b"\xa1",
    );
    assert_eq!(topic, "$aws/certificates/create-from-csr/cbor/rejected");
    assert_eq!(body["statusCode"], 400);
    assert_eq!(body["errorCode"], "InvalidPayload");
}

#[test]
fn each_rejection_has_its_error_and_creates_nothing() {
    let mut store = Store::open_in_memory().unwrap();
    let s = settings();
    create_template(&mut store, &s, "fleet", json!({}));
    create_template(&mut store, &s, "off", json!({"enabled": false}));
    let (id, token) = create_keys(&mut store, &s);
    let cases = [
        (
            "fleet",
            json!({"parameters": {"SerialNumber": "1"}}),
            400,
            "InvalidCertificateOwnershipToken",
            "Certificate ownership token cannot be empty.",
        ),
        (
            "fleet",
            json!({"certificateOwnershipToken": "nope", "parameters": {"SerialNumber": "1"}}),
            400,
            "InvalidCertificateOwnershipToken",
            "invalid",
        ),
        (
            "off",
            json!({"certificateOwnershipToken": token, "parameters": {"SerialNumber": "1"}}),
            400,
            "InvalidRequest",
            "disabled",
        ),
        (
            "nope",
            json!({"certificateOwnershipToken": token}),
            404,
            "ResourceNotFound",
            "does not exist",
        ),
        (
            "fleet",
            json!({"certificateOwnershipToken": token}),
            400,
            "InvalidParameters",
            "SerialNumber",
        ),
        (
            "fleet",
            json!({"certificateOwnershipToken": token, "parameters": {"SerialNumber": "1", "Region": "mars"}}),
            400,
            "ResourceRegistrationFailure",
            "mars",
        ),
    ];
    for (template, request, code, error, needle) in cases {
        let (topic, body, _) = publish(
            &mut store,
            &s,
            &format!("$aws/provisioning-templates/{template}/provision/json"),
            request.to_string().as_bytes(),
        );
        assert!(topic.ends_with("/rejected"), "{request}: {body}");
        assert_eq!(body["statusCode"], code, "{request}: {body}");
        assert_eq!(body["errorCode"], error, "{request}: {body}");
        assert!(
            body["errorMessage"].as_str().unwrap().contains(needle),
            "{body}"
        );
        assert_eq!(
            status(&store, &id),
            Some(CertificateStatus::PendingActivation)
        );
        assert!(
            store
                .list_things(&Default::default(), &store::PageRequest::first(10))
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            store
                .list_policies(&store::PageRequest::first(10))
                .unwrap()
                .items
                .is_empty()
        );
    }
}

#[test]
fn a_hook_is_called_before_provisioning_and_may_refuse_or_override() {
    let mut store = Store::open_in_memory().unwrap();
    let s = settings();
    let hook_arn = "arn:aws:lambda:us-east-1:123456789012:function:hook";
    create_template(
        &mut store,
        &s,
        "hooked",
        json!({"preProvisioningHook": {"targetArn": hook_arn}}),
    );
    for (answer, expected) in [
        (Ok(json!({"allowProvisioning": false})), "AccessDenied"),
        (Err("timed out after 5 s".to_owned()), "AccessDenied"),
        (
            Ok(json!({"allowProvisioning": true, "parameterOverrides": {"SerialNumber": "99"}})),
            "accepted",
        ),
    ] {
        let (_, token) = create_keys(&mut store, &s);
        let request =
            json!({"certificateOwnershipToken": token, "parameters": {"SerialNumber": "1"}});
        let (topic, _, hook) = publish(
            &mut store,
            &s,
            "$aws/provisioning-templates/hooked/provision/json",
            request.to_string().as_bytes(),
        );
        assert_eq!(topic, "", "nothing is answered before the hook");
        let hook = hook.unwrap();
        assert_eq!(hook.target_arn, hook_arn);
        assert_eq!(hook.event["clientId"], "factory-7");
        assert_eq!(hook.event["parameters"]["SerialNumber"], "1");
        assert_eq!(hook.event["templateArn"], s.template_arn("hooked"));
        let (topic, body, _) = store
            .services("t", |tx| {
                Ok(decode(
                    resume(tx, &s, hook.resume.clone(), answer.clone(), NOW),
                    None,
                ))
            })
            .unwrap();
        if expected == "accepted" {
            assert!(topic.ends_with("/accepted"), "{body}");
            assert_eq!(body["thingName"], "sensor-99", "the override wins");
        } else {
            assert!(topic.ends_with("/rejected"));
            assert_eq!(body["errorCode"], expected);
            assert_eq!(body["statusCode"], 403);
        }
    }
}

#[test]
fn an_unused_token_expires_and_takes_its_certificate_with_it() {
    let mut store = Store::open_in_memory().unwrap();
    let s = settings();
    let (id, _) = create_keys(&mut store, &s);
    store
        .services("t", |tx| {
            assert_eq!(next_deadline(tx)?, Some(NOW + 3_600_000));
            tick(tx, NOW + 3_599_999)?;
            Ok(())
        })
        .unwrap();
    assert!(store.certificate(&id).unwrap().is_some());
    store.services("t", |tx| tick(tx, NOW + 3_600_000)).unwrap();
    assert!(store.certificate(&id).unwrap().is_none());
}

fn register_ca(store: &mut Store, ca: &pki::CertificateAuthority, config: Option<Value>) -> String {
    let id = pki::CertificateId::of(ca.certificate())
        .unwrap()
        .as_str()
        .to_owned();
    store
        .register_ca_certificate(
            &NewCaCertificate {
                id: id.clone(),
                pem: String::from_utf8(pki::certificate_pem(ca.certificate()).unwrap()).unwrap(),
                status: CaCertificateStatus::Active,
                auto_registration: true,
                mode: CertificateMode::Default,
                owned_by: "123456789012".into(),
                registration_config: config.map(|c| c.to_string()),
                not_before_ms: 0,
                not_after_ms: i64::MAX,
            },
            NOW,
        )
        .unwrap();
    id
}

fn device(ca: &pki::CertificateAuthority, name: &str, ca_id: &str) -> FirstConnection {
    let key = pki::generate_key(pki::KeyAlgorithm::EcP256).unwrap();
    let cert = ca
        .issue_client(name, &key, pki::Validity::days_from(NOW / 1000, 1))
        .unwrap();
    FirstConnection {
        certificate_pem: String::from_utf8(pki::certificate_pem(&cert).unwrap()).unwrap(),
        certificate_id: pki::CertificateId::of(&cert).unwrap().as_str().to_owned(),
        ca_certificate_id: ca_id.to_owned(),
    }
}

#[test]
fn jitr_registers_pending_and_announces_it_each_time() {
    let mut store = Store::open_in_memory().unwrap();
    let s = settings();
    let ca = pki::CertificateAuthority::generate(
        "maker CA",
        pki::KeyAlgorithm::EcP256,
        pki::Validity::days_from(NOW / 1000, 30),
    )
    .unwrap();
    let ca_id = register_ca(&mut store, &ca, None);
    let first = device(&ca, "dev-1", &ca_id);
    for newly in [true, false] {
        let (outcome, output) = store
            .services("t", |tx| Ok(first_connection(tx, &s, &first, NOW)))
            .unwrap();
        assert_eq!(outcome, AutoRegistration::Pending { newly });
        let event = &output.publish[0];
        assert_eq!(
            event.topic,
            format!("$aws/events/certificates/registered/{ca_id}")
        );
        let body: Value = serde_json::from_slice(&event.payload).unwrap();
        assert_eq!(body["certificateStatus"], "PENDING_ACTIVATION");
        assert_eq!(body["certificateId"], first.certificate_id);
        assert_eq!(body["awsAccountId"], "123456789012");
    }
    assert_eq!(
        status(&store, &first.certificate_id),
        Some(CertificateStatus::PendingActivation)
    );
}

#[test]
fn jitp_provisions_from_the_subject_or_leaves_nothing() {
    let mut store = Store::open_in_memory().unwrap();
    let s = settings();
    let ca = pki::CertificateAuthority::generate(
        "maker CA",
        pki::KeyAlgorithm::EcP256,
        pki::Validity::days_from(NOW / 1000, 30),
    )
    .unwrap();
    let body = json!({
        "Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"},
                       "AWS::IoT::Certificate::Id": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"}}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}}
        }
    });
    let ca_id = register_ca(
        &mut store,
        &ca,
        Some(
            json!({"templateBody": body.to_string(), "roleArn": "arn:aws:iam::123456789012:role/jitp"}),
        ),
    );
    let first = device(&ca, "lamp-7", &ca_id);
    let (outcome, _) = store
        .services("t", |tx| Ok(first_connection(tx, &s, &first, NOW)))
        .unwrap();
    assert_eq!(
        outcome,
        AutoRegistration::Provisioned {
            thing: Some("lamp-7".into()),
            status: CertificateStatus::Active
        }
    );
    assert_eq!(
        store
            .certificate_for_connection(&first.certificate_id)
            .unwrap()
            .unwrap()
            .things[0]
            .name,
        "lamp-7"
    );
    // A template that needs a subject field the certificate lacks leaves nothing behind.
    let other = pki::CertificateAuthority::generate(
        "other CA",
        pki::KeyAlgorithm::EcP256,
        pki::Validity::days_from(NOW / 1000, 30),
    )
    .unwrap();
    let needs_country = json!({
        "Parameters": {"AWS::IoT::Certificate::Country": {"Type": "String"}},
        "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "AWS::IoT::Certificate::Country"}}}}
    });
    let other_id = register_ca(
        &mut store,
        &other,
        Some(json!({"templateBody": needs_country.to_string()})),
    );
    let second = device(&other, "lamp-8", &other_id);
    let (outcome, _) = store
        .services("t", |tx| Ok(first_connection(tx, &s, &second, NOW)))
        .unwrap();
    let AutoRegistration::Refused(why) = outcome else {
        panic!("refused")
    };
    assert!(why.contains("AWS::IoT::Certificate::Country"), "{why}");
    assert!(store.certificate(&second.certificate_id).unwrap().is_none());
}

#[test]
fn claims_are_hidden_from_the_account_and_carry_their_policy() {
    let mut store = Store::open_in_memory().unwrap();
    let s = settings();
    create_template(&mut store, &s, "fleet", json!({}));
    let claim = store
        .services("t", |tx| Ok(create_claim(tx, &s, "fleet", NOW).unwrap()))
        .unwrap();
    let id = claim["certificateId"].as_str().unwrap();
    assert!(
        store.certificate(id).unwrap().is_none(),
        "not among the account's certificates"
    );
    let auth = store.certificate_for_connection(id).unwrap().unwrap();
    assert_eq!(auth.status, CertificateStatus::Active);
    assert!(
        auth.policies[0]
            .document
            .contains("provisioning-templates/fleet/provision/*")
    );
    store.services("t", |tx| tick(tx, NOW + 300_000)).unwrap();
    assert!(store.certificate_for_connection(id).unwrap().is_none());
}
