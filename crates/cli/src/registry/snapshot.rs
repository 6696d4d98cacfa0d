//! Reading a registry through the AWS IoT control plane into a [`Bundle`]: every page of
//! ListThings, ListThingTypes, ListThingGroups, ListPolicies, ListCertificates,
//! ListCACertificates and ListProvisioningTemplates, then the Describe/Get/List calls each object
//! needs, only operations AWS has, so the same code reads an AWS account. It also keeps the
//! server's ARNs of certificates and thing groups ([`Arns`]) that attaching needs; it never
//! writes anything.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::api_client::{Call, Client};
use registry_bundle::{
    Bundle, CaCertificate, Certificate, Policy, PolicyVersion, ProvisioningTemplate, Thing,
    ThingGroup, ThingType,
};

/// The server-assigned ARNs of one registry, for AttachPolicy and AttachThingPrincipal.
#[derive(Debug, Default)]
pub struct Arns {
    /// Certificate id → ARN.
    pub certificates: BTreeMap<String, String>,
    /// Thing group name → ARN.
    pub thing_groups: BTreeMap<String, String>,
}

/// Where a list operation keeps its continuation: `nextToken` (query `nextToken`) or
/// `nextMarker` (query `marker`), as botocore's models say per operation.
#[derive(Clone, Copy)]
enum Paging {
    Token,
    Marker,
}

/// Every item of `member` over every page of the list call `make` builds.
fn list_all(
    client: &Client,
    make: impl Fn() -> Call,
    paging: Paging,
    member: &str,
) -> Result<Vec<Value>> {
    let (query, field) = match paging {
        Paging::Token => ("nextToken", "nextToken"),
        Paging::Marker => ("marker", "nextMarker"),
    };
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut call = make();
        if let Some(token) = &next {
            call = call.query(query, token);
        }
        let page = client.call(call)?;
        if let Some(list) = page.get(member).and_then(Value::as_array) {
            items.extend(list.iter().cloned());
        }
        match page.get(field).and_then(Value::as_str) {
            Some(token) if !token.is_empty() && next.as_deref() != Some(token) => {
                next = Some(token.to_owned());
            }
            _ => return Ok(items),
        }
    }
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn need(v: &Value, field: &str, what: &str) -> Result<String> {
    text(v, field).with_context(|| format!("{what}: the answer lacks {field}: {v}"))
}

fn attributes(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// A document the API returns as a JSON string, as JSON (kept as a string if it is not).
fn document(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The certificate id at the end of a certificate ARN (`…:cert/ID`).
fn cert_id(arn: &str) -> Option<&str> {
    arn.rsplit_once(":cert/").map(|(_, id)| id)
}

/// Reads the whole registry behind `client`.
pub fn read(client: &Client) -> Result<(Bundle, Arns)> {
    let mut bundle = Bundle::new();
    let mut arns = Arns::default();
    read_types(client, &mut bundle)?;
    read_groups(client, &mut bundle, &mut arns)?;
    read_certificates(client, &mut bundle, &mut arns)?;
    read_things(client, &mut bundle)?;
    read_policies(client, &mut bundle, &arns)?;
    read_templates(client, &mut bundle)?;
    Ok((bundle, arns))
}

fn read_types(client: &Client, bundle: &mut Bundle) -> Result<()> {
    let types = list_all(
        client,
        || Call::iot("GET", &["thing-types"]),
        Paging::Token,
        "thingTypes",
    )?;
    for t in types {
        let name = need(&t, "thingTypeName", "ListThingTypes")?;
        let props = t.get("thingTypeProperties");
        let searchable = props
            .and_then(|p| p.get("searchableAttributes"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let deprecated = t
            .pointer("/thingTypeMetadata/deprecated")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        bundle.thing_types.insert(
            name,
            ThingType {
                description: props
                    .and_then(|p| text(p, "thingTypeDescription"))
                    .filter(|s| !s.is_empty()),
                searchable_attributes: searchable,
                deprecated,
            },
        );
    }
    Ok(())
}

fn read_groups(client: &Client, bundle: &mut Bundle, arns: &mut Arns) -> Result<()> {
    let groups = list_all(
        client,
        || Call::iot("GET", &["thing-groups"]),
        Paging::Token,
        "thingGroups",
    )?;
    for g in groups {
        let name = need(&g, "groupName", "ListThingGroups")?;
        let d = client.call(Call::iot("GET", &["thing-groups", &name]))?;
        if d.get("queryString").is_some_and(|q| !q.is_null()) {
            eprintln!("registry: thing group {name} is dynamic; dynamic groups are not carried");
            continue;
        }
        arns.thing_groups.insert(
            name.clone(),
            need(&d, "thingGroupArn", "DescribeThingGroup")?,
        );
        bundle.thing_groups.insert(
            name,
            ThingGroup {
                parent: d
                    .pointer("/thingGroupMetadata/parentGroupName")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                description: d
                    .pointer("/thingGroupProperties/thingGroupDescription")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                attributes: attributes(
                    d.pointer("/thingGroupProperties/attributePayload/attributes"),
                ),
            },
        );
    }
    Ok(())
}

fn read_certificates(client: &Client, bundle: &mut Bundle, arns: &mut Arns) -> Result<()> {
    let cas = list_all(
        client,
        || Call::iot("GET", &["cacertificates"]),
        Paging::Marker,
        "certificates",
    )?;
    for ca in cas {
        let id = need(&ca, "certificateId", "ListCACertificates")?;
        let d = client.call(Call::iot("GET", &["cacertificate", &id]))?;
        let desc = d.get("certificateDescription").unwrap_or(&Value::Null);
        let config = d
            .get("registrationConfig")
            .filter(|c| c.as_object().is_some_and(|m| !m.is_empty()));
        bundle.ca_certificates.insert(
            id,
            CaCertificate {
                pem: need(desc, "certificatePem", "DescribeCACertificate")?,
                status: need(desc, "status", "DescribeCACertificate")?,
                auto_registration: text(desc, "autoRegistrationStatus").as_deref()
                    == Some("ENABLE"),
                mode: text(desc, "certificateMode").unwrap_or_else(|| "DEFAULT".to_owned()),
                registration_config: config.cloned(),
            },
        );
    }
    let certs = list_all(
        client,
        || Call::iot("GET", &["certificates"]),
        Paging::Marker,
        "certificates",
    )?;
    for c in certs {
        let id = need(&c, "certificateId", "ListCertificates")?;
        let d = client.call(Call::iot("GET", &["certificates", &id]))?;
        let desc = d.get("certificateDescription").unwrap_or(&Value::Null);
        arns.certificates.insert(
            id.clone(),
            need(desc, "certificateArn", "DescribeCertificate")?,
        );
        // A CA id the registry does not list (the server's own issuing CA) names nothing
        // another server could register the certificate under.
        let ca = text(desc, "caCertificateId").filter(|ca| bundle.ca_certificates.contains_key(ca));
        bundle.certificates.insert(
            id,
            Certificate {
                pem: need(desc, "certificatePem", "DescribeCertificate")?,
                status: need(desc, "status", "DescribeCertificate")?,
                ca_certificate_id: ca,
            },
        );
    }
    Ok(())
}

fn read_things(client: &Client, bundle: &mut Bundle) -> Result<()> {
    let things = list_all(
        client,
        || Call::iot("GET", &["things"]),
        Paging::Token,
        "things",
    )?;
    for t in things {
        let name = need(&t, "thingName", "ListThings")?;
        let principals = list_all(
            client,
            || Call::iot("GET", &["things", &name, "principals"]),
            Paging::Token,
            "principals",
        )?;
        bundle.things.insert(
            name,
            Thing {
                thing_type: text(&t, "thingTypeName"),
                attributes: attributes(t.get("attributes")),
                groups: Default::default(),
                principals: principals
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(cert_id)
                    .filter(|id| bundle.certificates.contains_key(*id))
                    .map(str::to_owned)
                    .collect(),
            },
        );
    }
    // ListThingGroupsForThing also names the ancestors of a thing's groups (developer guide,
    // "Static thing groups"); ListThingsInThingGroup without `recursive` names only the direct
    // members, which is what AddThingToThingGroup recreates.
    let groups: Vec<String> = bundle.thing_groups.keys().cloned().collect();
    for group in groups {
        let members = list_all(
            client,
            || Call::iot("GET", &["thing-groups", &group, "things"]),
            Paging::Token,
            "things",
        )?;
        for member in members.iter().filter_map(Value::as_str) {
            if let Some(thing) = bundle.things.get_mut(member) {
                thing.groups.insert(group.clone());
            }
        }
    }
    Ok(())
}

fn read_policies(client: &Client, bundle: &mut Bundle, arns: &Arns) -> Result<()> {
    let policies = list_all(
        client,
        || Call::iot("GET", &["policies"]),
        Paging::Marker,
        "policies",
    )?;
    let group_by_arn: BTreeMap<&str, &str> = arns
        .thing_groups
        .iter()
        .map(|(name, arn)| (arn.as_str(), name.as_str()))
        .collect();
    for p in policies {
        let name = need(&p, "policyName", "ListPolicies")?;
        let listed = client.call(Call::iot("GET", &["policies", &name, "version"]))?;
        let mut ids: Vec<(u64, String)> = listed
            .get("policyVersions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| text(v, "versionId"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .map(|id| (id.parse().unwrap_or(u64::MAX), id))
            .collect();
        ids.sort();
        let mut policy = Policy::default();
        for (_, id) in ids {
            let v = client.call(Call::iot("GET", &["policies", &name, "version", &id]))?;
            policy.versions.push(PolicyVersion {
                default: v.get("isDefaultVersion").and_then(Value::as_bool) == Some(true),
                document: document(&need(&v, "policyDocument", "GetPolicyVersion")?),
            });
        }
        let targets = list_all(
            client,
            || Call::iot("POST", &["policy-targets", &name]),
            Paging::Marker,
            "targets",
        )?;
        for target in targets.iter().filter_map(Value::as_str) {
            if let Some(group) = group_by_arn.get(target) {
                policy.thing_groups.insert((*group).to_owned());
            } else if let Some(id) =
                cert_id(target).filter(|id| bundle.certificates.contains_key(*id))
            {
                policy.certificates.insert(id.to_owned());
            } else {
                eprintln!("registry: policy {name} is attached to {target}, which is not carried");
            }
        }
        bundle.policies.insert(name, policy);
    }
    Ok(())
}

fn read_templates(client: &Client, bundle: &mut Bundle) -> Result<()> {
    let templates = list_all(
        client,
        || Call::iot("GET", &["provisioning-templates"]),
        Paging::Token,
        "templates",
    )?;
    for t in templates {
        let name = need(&t, "templateName", "ListProvisioningTemplates")?;
        let d = client.call(Call::iot("GET", &["provisioning-templates", &name]))?;
        bundle.provisioning_templates.insert(
            name,
            ProvisioningTemplate {
                description: text(&d, "description").filter(|s| !s.is_empty()),
                template_body: document(&need(&d, "templateBody", "DescribeProvisioningTemplate")?),
                enabled: d.get("enabled").and_then(Value::as_bool).unwrap_or(false),
                provisioning_role_arn: need(
                    &d,
                    "provisioningRoleArn",
                    "DescribeProvisioningTemplate",
                )?,
                pre_provisioning_hook: d
                    .get("preProvisioningHook")
                    .filter(|h| !h.is_null())
                    .cloned(),
                r#type: text(&d, "type"),
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_ids_come_from_arns() {
        assert_eq!(
            cert_id("arn:aws:iot:us-east-1:123456789012:cert/abc"),
            Some("abc")
        );
        assert_eq!(cert_id("arn:aws:iot:us-east-1:1:thinggroup/x"), None);
    }

    #[test]
    fn documents_are_json_when_they_parse() {
        assert_eq!(document("{\"a\": 1}"), serde_json::json!({"a": 1}));
        assert_eq!(document("not json"), Value::String("not json".into()));
    }
}
