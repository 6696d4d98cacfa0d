//! The template engine against AWS's documented templates: every complete example of the
//! developer guide's "Provisioning templates" (provision-template.md), "Just-in-time
//! provisioning" (jit-provisioning.md) and "Provisioning devices that don't have device
//! certificates" (provision-wo-cert.md) is accepted and evaluates to what the page says it
//! creates; variations AWS refuses are refused.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// provision-template.md, "Template Example for JITP and Bulk Registration" (a CSR).
const BULK_WITH_CSR: &str = r#"{
    "Parameters" : {
        "SerialNumber" : { "Type" : "String" },
        "Location" : { "Type" : "String", "Default" : "WA" },
        "CSR" : { "Type" : "String" }
    },
    "Resources" : {
        "thing" : {
            "Type" : "AWS::IoT::Thing",
            "Properties" : {
                "AttributePayload" : { "version" : "v1", "serialNumber" :  {"Ref" : "SerialNumber"}},
                "ThingTypeName" :  "lightBulb-versionA",
                "ThingGroups" : ["v1-lightbulbs", {"Ref" : "Location"}]
            }
        },
        "certificate" : {
            "Type" : "AWS::IoT::Certificate",
            "Properties" : {
                "CertificateSigningRequest": {"Ref" : "CSR"},
                "Status" : "ACTIVE"
            }
        },
        "policy" : {
            "Type" : "AWS::IoT::Policy",
            "Properties" : {
                "PolicyDocument" : "{ \"Version\": \"2012-10-17\", \"Statement\": [{ \"Effect\": \"Allow\", \"Action\":[\"iot:Publish\"], \"Resource\": [\"arn:aws:iot:us-east-1:123456789012:topic/foo/bar\"] }] }"
            }
        }
    }
}"#;

/// provision-template.md, the same with an existing certificate's id.
const BULK_WITH_ID: &str = r#"{
    "Parameters" : {
        "SerialNumber" : { "Type" : "String" },
        "Location" : { "Type" : "String", "Default" : "WA" },
        "CertificateId" : { "Type" : "String" }
    },
    "Resources" : {
        "thing" : {
            "Type" : "AWS::IoT::Thing",
            "Properties" : {
                "AttributePayload" : { "version" : "v1", "serialNumber" :  {"Ref" : "SerialNumber"}},
                "ThingTypeName" :  "lightBulb-versionA",
                "ThingGroups" : ["v1-lightbulbs", {"Ref" : "Location"}]
            }
        },
        "certificate" : {
            "Type" : "AWS::IoT::Certificate",
            "Properties" : { "CertificateId": {"Ref" : "CertificateId"} }
        },
        "policy" : {
            "Type" : "AWS::IoT::Policy",
            "Properties" : {
                "PolicyDocument" : "{ \"Version\": \"2012-10-17\", \"Statement\": [{ \"Effect\": \"Allow\", \"Action\":[\"iot:Publish\"], \"Resource\": [\"arn:aws:iot:us-east-1:123456789012:topic/foo/bar\"] }] }"
            }
        }
    }
}"#;

/// provision-template.md, "Fleet Provisioning Template Example".
const FLEET: &str = r#"{
    "Parameters" : {
        "SerialNumber": { "Type": "String" },
        "DeviceLocation": { "Type": "String" }
    },
    "Mappings": {
        "LocationTable": { "Seattle": { "LocationUrl": "https://example.aws" } }
    },
    "Resources" : {
        "thing" : {
            "Type" : "AWS::IoT::Thing",
            "Properties" : {
                "AttributePayload" : { "version" : "v1", "serialNumber" : "serialNumber" },
                "ThingTypeName" : {"Fn::Join":["",["ThingPrefix_",{"Ref":"SerialNumber"}]]},
                "ThingGroups" : ["v1-lightbulbs", "WA"],
                "BillingGroup": "LightBulbBillingGroup"
            },
            "OverrideSettings" : {
                "AttributePayload" : "MERGE",
                "ThingTypeName" : "REPLACE",
                "ThingGroups" : "DO_NOTHING"
            }
        },
        "certificate" : {
            "Type" : "AWS::IoT::Certificate",
            "Properties" : {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                "Status" : "Active"
            }
        },
        "policy" : {
            "Type" : "AWS::IoT::Policy",
            "Properties" : {
                "PolicyDocument" : {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Action":["iot:Publish"],
                        "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/foo/bar"]
                    }]
                }
            }
        }
    },
    "DeviceConfiguration": {
        "FallbackUrl": "https://www.example.com/test-site",
        "LocationUrl": {
            "Fn::FindInMap": ["LocationTable",{"Ref": "DeviceLocation"}, "LocationUrl"]}
    }
}"#;

/// provision-wo-cert.md, the template of "Using pre-provisioning hooks with the AWS CLI" (it
/// refers to `SerialNumber` without declaring it).
const FLEET_WITH_HOOK: &str = r#"{
    "Parameters" : { "DeviceLocation": { "Type": "String" } },
    "Mappings": { "LocationTable": { "Seattle": { "LocationUrl": "https://example.aws" } } },
    "Resources" : {
        "thing" : {
            "Type" : "AWS::IoT::Thing",
            "Properties" : {
                "AttributePayload" : { "version" : "v1", "serialNumber" : "serialNumber" },
                "ThingName" : {"Fn::Join":["",["ThingPrefix_",{"Ref":"SerialNumber"}]]},
                "ThingTypeName" : {"Fn::Join":["",["ThingTypePrefix_",{"Ref":"SerialNumber"}]]},
                "ThingGroups" : ["widgets", "WA"],
                "BillingGroup": "BillingGroup"
            },
            "OverrideSettings" : {
                "AttributePayload" : "MERGE",
                "ThingTypeName" : "REPLACE",
                "ThingGroups" : "DO_NOTHING"
            }
        },
        "certificate" : {
            "Type" : "AWS::IoT::Certificate",
            "Properties" : {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                "Status" : "Active"
            }
        },
        "policy" : {
            "Type" : "AWS::IoT::Policy",
            "Properties" : {
                "PolicyDocument" : {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Action":["iot:Publish"],
                        "Resource": ["arn:aws:iot:us-east-1:504350838278:topic/foo/bar"]
                    }]
                }
            }
        }
    },
    "DeviceConfiguration": {
        "FallbackUrl": "https://www.example.com/test-site",
        "LocationUrl": {
            "Fn::FindInMap": ["LocationTable",{"Ref": "DeviceLocation"}, "LocationUrl"]}
    }
}"#;

/// jit-provisioning.md: the `templateBody` of the copy-and-paste registration config.
const JITP: &str = "{\r\n    \"Parameters\" : {\r\n        \"AWS::IoT::Certificate::CommonName\": {\r\n            \"Type\": \"String\"\r\n        },\r\n        \"AWS::IoT::Certificate::SerialNumber\": {\r\n            \"Type\": \"String\"\r\n        },\r\n        \"AWS::IoT::Certificate::Country\": {\r\n            \"Type\": \"String\"\r\n        },\r\n        \"AWS::IoT::Certificate::Id\": {\r\n            \"Type\": \"String\"\r\n        }\r\n    },\r\n    \"Resources\": {\r\n        \"thing\": {\r\n            \"Type\": \"AWS::IoT::Thing\",\r\n            \"Properties\": {\r\n                \"ThingName\": {\r\n                    \"Ref\": \"AWS::IoT::Certificate::CommonName\"\r\n                },\r\n                \"AttributePayload\": {\r\n                    \"version\": \"v1\",\r\n                    \"serialNumber\": {\r\n                        \"Ref\": \"AWS::IoT::Certificate::SerialNumber\"\r\n                    }\r\n                },\r\n                \"ThingTypeName\": \"lightBulb-versionA\",\r\n                \"ThingGroups\": [\r\n                    \"v1-lightbulbs\",\r\n                    {\r\n                        \"Ref\": \"AWS::IoT::Certificate::Country\"\r\n                    }\r\n                ]\r\n            },\r\n            \"OverrideSettings\": {\r\n                \"AttributePayload\": \"MERGE\",\r\n                \"ThingTypeName\": \"REPLACE\",\r\n                \"ThingGroups\": \"DO_NOTHING\"\r\n            }\r\n        },\r\n        \"certificate\": {\r\n            \"Type\": \"AWS::IoT::Certificate\",\r\n            \"Properties\": {\r\n                \"CertificateId\": {\r\n                    \"Ref\": \"AWS::IoT::Certificate::Id\"\r\n                },\r\n                \"Status\": \"ACTIVE\"\r\n            },\r\n            \"OverrideSettings\": {\r\n                \"Status\": \"DO_NOTHING\"\r\n            }\r\n        },\r\n        \"policy\": {\r\n            \"Type\": \"AWS::IoT::Policy\",\r\n            \"Properties\": {\r\n                \"PolicyDocument\": \"{ \\\"Version\\\": \\\"2012-10-17\\\", \\\"Statement\\\": [{ \\\"Effect\\\": \\\"Allow\\\", \\\"Action\\\":[\\\"iot:Publish\\\"], \\\"Resource\\\": [\\\"arn:aws:iot:us-east-1:123456789012:topic\\/foo\\/bar\\\"] }] }\"\r\n            }\r\n        }\r\n    }\r\n}";

fn device_certificate() -> CertificateFields {
    CertificateFields {
        id: "ab".repeat(32),
        common_name: Some("lightbulb-0042".into()),
        country: Some("US".into()),
        serial_number: Some("1234567".into()),
        ..CertificateFields::default()
    }
}

#[test]
fn the_bulk_registration_example_with_a_csr_evaluates_as_documented() {
    let t = Template::parse(BULK_WITH_CSR, Use::Register).unwrap();
    let plan = t
        .evaluate(
            &params(&[("SerialNumber", "123"), ("CSR", "-----BEGIN")]),
            None,
        )
        .unwrap();
    let thing = plan.thing.unwrap();
    assert_eq!(
        thing.attributes.unwrap(),
        params(&[("version", "v1"), ("serialNumber", "123")])
    );
    assert_eq!(thing.thing_type.as_deref(), Some("lightBulb-versionA"));
    assert_eq!(
        thing.groups.unwrap(),
        ["v1-lightbulbs", "WA"],
        "the Default"
    );
    let cert = plan.certificate.unwrap();
    assert_eq!(cert.source, CertificateSource::Csr("-----BEGIN".into()));
    assert!(cert.active);
    let PolicySource::Document(doc) = &plan.policies[0].source else {
        panic!("a document")
    };
    assert!(doc.contains("topic/foo/bar"));
    // The same template is refused for fleet provisioning, which names certificates by id.
    let e = Template::parse(BULK_WITH_CSR, Use::Fleet).unwrap_err();
    assert!(e.to_string().contains("CertificateId"), "{e}");
    // A declared parameter without a value or default fails the provisioning.
    let e = t.evaluate(&params(&[("CSR", "x")]), None).unwrap_err();
    assert_eq!(
        e.kind,
        TemplateErrorKind::MissingParameter("SerialNumber".into())
    );
}

#[test]
fn the_bulk_registration_example_with_an_id_overrides_the_default() {
    let t = Template::parse(BULK_WITH_ID, Use::Register).unwrap();
    let plan = t
        .evaluate(
            &params(&[
                ("SerialNumber", "9"),
                ("Location", "OR"),
                ("CertificateId", "c1"),
            ]),
            None,
        )
        .unwrap();
    assert_eq!(plan.thing.unwrap().groups.unwrap(), ["v1-lightbulbs", "OR"]);
    assert_eq!(
        plan.certificate.unwrap().source,
        CertificateSource::Id("c1".into())
    );
}

#[test]
fn the_fleet_example_uses_mappings_join_and_the_certificate_id() {
    let t = Template::parse(FLEET, Use::Fleet).unwrap();
    let cert = device_certificate();
    let plan = t
        .evaluate(
            &params(&[("SerialNumber", "0042"), ("DeviceLocation", "Seattle")]),
            Some(&cert),
        )
        .unwrap();
    let thing = plan.thing.unwrap();
    assert_eq!(thing.thing_type.as_deref(), Some("ThingPrefix_0042"));
    assert_eq!(
        thing.billing_group.as_deref(),
        Some("LightBulbBillingGroup")
    );
    assert_eq!(thing.attributes_override, Override::Merge);
    assert_eq!(thing.thing_type_override, Override::Replace);
    assert_eq!(thing.groups_override, Override::DoNothing);
    let certificate = plan.certificate.unwrap();
    assert_eq!(certificate.source, CertificateSource::Id(cert.id.clone()));
    assert!(certificate.active, "\"Active\" is read case-insensitively");
    let PolicySource::Document(doc) = &plan.policies[0].source else {
        panic!("a document")
    };
    let doc: serde_json::Value = serde_json::from_str(doc).unwrap();
    assert_eq!(doc["Statement"][0]["Action"][0], "iot:Publish");
    assert_eq!(
        plan.device_configuration,
        params(&[
            ("FallbackUrl", "https://www.example.com/test-site"),
            ("LocationUrl", "https://example.aws"),
        ])
    );
    // A location the mapping does not have fails the provisioning, naming the key.
    let e = t
        .evaluate(
            &params(&[("SerialNumber", "1"), ("DeviceLocation", "Paris")]),
            Some(&cert),
        )
        .unwrap_err();
    assert!(e.to_string().contains("Paris"), "{e}");
}

#[test]
fn the_hook_example_takes_an_undeclared_parameter_from_the_request() {
    let t = Template::parse(FLEET_WITH_HOOK, Use::Fleet).unwrap();
    let cert = device_certificate();
    let plan = t
        .evaluate(
            &params(&[("SerialNumber", "77"), ("DeviceLocation", "Seattle")]),
            Some(&cert),
        )
        .unwrap();
    assert_eq!(plan.thing.unwrap().name.as_deref(), Some("ThingPrefix_77"));
    let e = t
        .evaluate(&params(&[("DeviceLocation", "Seattle")]), Some(&cert))
        .unwrap_err();
    assert_eq!(
        e.kind,
        TemplateErrorKind::MissingParameter("SerialNumber".into())
    );
}

#[test]
fn the_jitp_example_reads_the_certificate_subject() {
    let t = Template::parse(JITP, Use::Jitp).unwrap();
    let cert = device_certificate();
    let plan = t.evaluate(&BTreeMap::new(), Some(&cert)).unwrap();
    let thing = plan.thing.unwrap();
    assert_eq!(thing.name.as_deref(), Some("lightbulb-0042"));
    assert_eq!(thing.groups.unwrap(), ["v1-lightbulbs", "US"]);
    assert_eq!(
        thing.attributes.unwrap()["serialNumber"],
        "1234567",
        "the certificate's serial number"
    );
    let certificate = plan.certificate.unwrap();
    assert_eq!(certificate.source, CertificateSource::Id(cert.id.clone()));
    assert_eq!(certificate.status_override, Override::DoNothing);
    // "the device provisioning fails if the certificate doesn't have all of the properties
    // mentioned in the Parameters section" (jit-provisioning.md).
    let without_country = CertificateFields {
        country: None,
        ..device_certificate()
    };
    let e = t
        .evaluate(&BTreeMap::new(), Some(&without_country))
        .unwrap_err();
    assert_eq!(
        e.kind,
        TemplateErrorKind::MissingParameter("AWS::IoT::Certificate::Country".into())
    );
    // The request cannot override what the certificate says.
    let plan = t
        .evaluate(
            &params(&[("AWS::IoT::Certificate::CommonName", "spoofed")]),
            Some(&cert),
        )
        .unwrap();
    assert_eq!(plan.thing.unwrap().name.as_deref(), Some("lightbulb-0042"));
}

#[test]
fn jitp_templates_declare_only_certificate_parameters() {
    let e = Template::parse(BULK_WITH_ID, Use::Jitp).unwrap_err();
    assert!(e.to_string().contains("can declare only"), "{e}");
}

#[test]
fn what_aws_refuses_at_creation_is_refused_with_its_path() {
    let fleet: serde_json::Value = serde_json::from_str(FLEET).unwrap();
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            {
                let mut t = fleet.clone();
                t["Resources"]["thing"]["Properties"]["ThingName"] =
                    json!({"Fn::GetAtt": ["certificate", "Id"]});
                t
            },
            "Resources.thing.Properties.ThingName.Fn::GetAtt",
        ),
        (
            {
                let mut t = fleet.clone();
                t["Mappings"]["LocationTable"]["Seattle"]["LocationUrl"] =
                    json!({"Ref": "DeviceLocation"});
                t
            },
            "Mappings.LocationTable.Seattle.LocationUrl",
        ),
        (
            {
                let mut t = fleet.clone();
                t["Resources"]["policy"]["Properties"]["PolicyName"] = json!("p");
                t
            },
            "PolicyName or PolicyDocument, but not both",
        ),
        (
            {
                let mut t = fleet.clone();
                t["Resources"]["policy"]["OverrideSettings"] = json!({"PolicyName": "REPLACE"});
                t
            },
            "not available for policy resources",
        ),
        (
            {
                let mut t = fleet.clone();
                t["Resources"]["thing"]["OverrideSettings"]["ThingTypeName"] = json!("MERGE");
                t
            },
            "OverrideSettings.ThingTypeName",
        ),
        (
            {
                let mut t = fleet.clone();
                t["Resources"]["thing"]["Type"] = json!("AWS::IoT::ThingGroup");
                t
            },
            "Resources.thing.Type",
        ),
        (
            {
                let mut t = fleet.clone();
                t["Resources"]["certificate"]["Properties"]["Status"] = json!("REVOKED");
                t
            },
            "use ACTIVE or INACTIVE",
        ),
        (
            {
                let mut t = fleet.clone();
                t["Parameters"]["SerialNumber"]["Type"] = json!("Number");
                t
            },
            "Parameters.SerialNumber.Type",
        ),
        (
            {
                let mut t = fleet.clone();
                t["Conditions"] = json!({});
                t
            },
            "Conditions",
        ),
        (
            {
                let mut t = fleet.clone();
                t["DeviceConfiguration"]["Nested"] = json!({"a": "b"});
                t
            },
            "DeviceConfiguration.Nested",
        ),
        (
            {
                let mut t = fleet.clone();
                t["Resources"]["thing2"] = t["Resources"]["thing"].clone();
                t
            },
            "at most one AWS::IoT::Thing",
        ),
        (
            {
                let mut t = fleet.clone();
                t["DeviceConfiguration"]["LocationUrl"]["Fn::FindInMap"][0] = json!("Nope");
                t
            },
            "does not declare",
        ),
    ];
    for (template, needle) in cases {
        let e = Template::parse(&template.to_string(), Use::Fleet).unwrap_err();
        assert_eq!(e.kind, TemplateErrorKind::Invalid);
        assert!(e.to_string().contains(needle), "{needle}: {e}");
    }
    let big = format!("{{\"Parameters\":{{}},\"x\":\"{}\"}}", "a".repeat(MAX_BODY));
    assert!(Template::parse(&big, Use::Fleet).is_err());
    assert!(Template::parse("[]", Use::Fleet).is_err());
    assert!(Template::parse("{", Use::Fleet).is_err());
}
