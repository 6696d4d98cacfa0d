//! Making a registry hold what a bundle holds: one walk that compares each object of the bundle
//! with the target's (read once by `snapshot.rs`), records create, update, unchanged or
//! conflict, and, unless it is a dry run, makes the change with the AWS IoT operation that
//! makes it, in dependency order (types, groups parents first, things, CAs, certificates,
//! policies, attachments, templates, deprecations last, since AWS refuses new things of a
//! deprecated type). Objects only on the target are reported and left alone; nothing is ever
//! deleted except the policy versions an updated policy no longer has.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::snapshot::Arns;
use crate::api_client::{Call, Client};
use registry_bundle::{
    Bundle, CaCertificate, Certificate, Policy, ProvisioningTemplate, Thing, ThingGroup,
};

/// What the walk decided for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Create,
    Update(String),
    Unchanged,
    /// The target differs in a way AWS cannot change in place; the reason says what to do.
    Conflict(String),
    /// On the target only; left alone.
    TargetOnly,
}

/// One line of the plan.
#[derive(Debug, Clone)]
pub struct Step {
    pub kind: &'static str,
    pub name: String,
    pub change: Change,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (verb, detail) = match &self.change {
            Change::Create => ("create", String::new()),
            Change::Update(what) => ("update", format!(" ({what})")),
            Change::Unchanged => ("unchanged", String::new()),
            Change::Conflict(why) => ("conflict", format!(": {why}")),
            Change::TargetOnly => ("target-only", " (left alone)".to_owned()),
        };
        write!(f, "{verb:<11} {} {}{detail}", self.kind, self.name)
    }
}

/// The walk over one target.
pub struct Sync<'a> {
    client: &'a Client,
    dry_run: bool,
    target: Bundle,
    arns: Arns,
    pub steps: Vec<Step>,
}

impl<'a> Sync<'a> {
    pub fn new(client: &'a Client, dry_run: bool, target: Bundle, arns: Arns) -> Sync<'a> {
        Sync {
            client,
            dry_run,
            target,
            arns,
            steps: Vec::new(),
        }
    }

    /// Records `change` for `kind name` and, when it is a change and this is not a dry run,
    /// makes it with `act`.
    fn step(
        &mut self,
        kind: &'static str,
        name: String,
        change: Change,
        act: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        let changes = matches!(change, Change::Create | Change::Update(_));
        if changes && !self.dry_run {
            act(self).with_context(|| format!("{kind} {name}: the change failed"))?;
        }
        self.steps.push(Step { kind, name, change });
        Ok(())
    }

    fn call(&self, call: Call) -> Result<Value> {
        self.client.call(call)
    }

    /// Applies `source` to the target in dependency order.
    pub fn run(&mut self, source: &Bundle) -> Result<()> {
        self.thing_types(source)?;
        for name in source.hierarchy()? {
            if let Some(group) = source.thing_groups.get(name) {
                self.thing_group(name, group)?;
            }
        }
        for (name, thing) in &source.things {
            self.thing(name, thing)?;
        }
        for (id, ca) in &source.ca_certificates {
            self.ca_certificate(id, ca)?;
        }
        for (id, cert) in &source.certificates {
            self.certificate(source, id, cert)?;
        }
        for (name, policy) in &source.policies {
            self.policy(name, policy)?;
        }
        self.attachments(source)?;
        for (name, template) in &source.provisioning_templates {
            self.template(name, template)?;
        }
        self.deprecations(source)?;
        self.target_only(source);
        Ok(())
    }

    fn thing_types(&mut self, source: &Bundle) -> Result<()> {
        for (name, t) in &source.thing_types {
            let change = match self.target.thing_types.get(name) {
                None => Change::Create,
                Some(have)
                    if have.description != t.description
                        || have.searchable_attributes != t.searchable_attributes =>
                {
                    Change::Conflict(
                        "its description or searchable attributes differ, which AWS IoT cannot \
                         change after creation; delete the type on the target or rename it"
                            .to_owned(),
                    )
                }
                Some(have) if have.deprecated && !t.deprecated => {
                    Change::Update("undo deprecation".to_owned())
                }
                Some(_) => Change::Unchanged,
            };
            let create = change == Change::Create;
            self.step("thing-type", name.clone(), change, |s| {
                if create {
                    let mut props = serde_json::Map::new();
                    if let Some(d) = &t.description {
                        props.insert("thingTypeDescription".into(), json!(d));
                    }
                    if !t.searchable_attributes.is_empty() {
                        props.insert(
                            "searchableAttributes".into(),
                            json!(t.searchable_attributes),
                        );
                    }
                    s.call(
                        Call::iot("POST", &["thing-types", name])
                            .json(json!({ "thingTypeProperties": props })),
                    )?;
                } else {
                    s.deprecate(name, false)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn deprecate(&self, name: &str, deprecate: bool) -> Result<()> {
        self.call(
            Call::iot("POST", &["thing-types", name, "deprecate"])
                .json(json!({ "undoDeprecate": !deprecate })),
        )
        .map(|_| ())
    }

    /// Deprecations come last: AWS refuses to create a thing of a deprecated type.
    fn deprecations(&mut self, source: &Bundle) -> Result<()> {
        for (name, t) in &source.thing_types {
            let already = self
                .target
                .thing_types
                .get(name)
                .is_some_and(|have| have.deprecated);
            if t.deprecated && !already {
                self.step(
                    "thing-type",
                    name.clone(),
                    Change::Update("deprecate".to_owned()),
                    |s| s.deprecate(name, true),
                )?;
            }
        }
        Ok(())
    }

    fn thing_group(&mut self, name: &str, group: &ThingGroup) -> Result<()> {
        let change = match self.target.thing_groups.get(name) {
            None => Change::Create,
            Some(have) if have.parent != group.parent => Change::Conflict(format!(
                "its parent on the target is {:?}, not {:?}; AWS IoT cannot move a group, so \
                 delete it on the target or rename it",
                have.parent, group.parent
            )),
            Some(have) if have != group => Change::Update("properties".to_owned()),
            Some(_) => Change::Unchanged,
        };
        let create = change == Change::Create;
        self.step("thing-group", name.to_owned(), change, |s| {
            let mut properties = json!({
                "attributePayload": { "attributes": group.attributes, "merge": false },
            });
            // An update clears a description the bundle lacks; a creation has none to clear.
            if group.description.is_some() || !create {
                put(
                    &mut properties,
                    "thingGroupDescription",
                    json!(group.description.clone().unwrap_or_default()),
                );
            }
            if create {
                let mut body = json!({ "thingGroupProperties": properties });
                if let Some(parent) = &group.parent {
                    put(&mut body, "parentGroupName", json!(parent));
                }
                let answer = s.call(Call::iot("POST", &["thing-groups", name]).json(body))?;
                if let Some(arn) = answer.get("thingGroupArn").and_then(Value::as_str) {
                    s.arns.thing_groups.insert(name.to_owned(), arn.to_owned());
                }
            } else {
                s.call(
                    Call::iot("PATCH", &["thing-groups", name])
                        .json(json!({ "thingGroupProperties": properties })),
                )?;
            }
            Ok(())
        })
    }

    fn thing(&mut self, name: &str, thing: &Thing) -> Result<()> {
        let change = match self.target.things.get(name) {
            None => Change::Create,
            Some(have) if have.thing_type != thing.thing_type => {
                Change::Update("thing type".to_owned())
            }
            Some(have) if have.attributes != thing.attributes => {
                Change::Update("attributes".to_owned())
            }
            Some(_) => Change::Unchanged,
        };
        let create = change == Change::Create;
        self.step("thing", name.to_owned(), change, |s| {
            let mut body = json!({
                "attributePayload": { "attributes": thing.attributes, "merge": false },
            });
            match &thing.thing_type {
                Some(t) => put(&mut body, "thingTypeName", json!(t)),
                None if !create => put(&mut body, "removeThingType", json!(true)),
                None => {}
            }
            let method = if create { "POST" } else { "PATCH" };
            s.call(Call::iot(method, &["things", name]).json(body))
                .map(|_| ())
        })
    }

    fn ca_certificate(&mut self, id: &str, ca: &CaCertificate) -> Result<()> {
        let change = match self.target.ca_certificates.get(id) {
            None => Change::Create,
            Some(have) => {
                let mut what = Vec::new();
                if have.status != ca.status {
                    what.push("status");
                }
                if have.auto_registration != ca.auto_registration {
                    what.push("auto-registration");
                }
                if ca.registration_config.is_some()
                    && have.registration_config != ca.registration_config
                {
                    what.push("registration config");
                }
                if what.is_empty() {
                    Change::Unchanged
                } else {
                    Change::Update(what.join(", "))
                }
            }
        };
        let create = change == Change::Create;
        let auto = if ca.auto_registration {
            "ENABLE"
        } else {
            "DISABLE"
        };
        self.step("ca-certificate", id.to_owned(), change, |s| {
            if create {
                // SNI_ONLY: DEFAULT mode needs a verification certificate signed by the CA's
                // private key, which a bundle never holds (RegisterCACertificate, AWS IoT API
                // reference).
                let mut body = json!({ "caCertificate": ca.pem, "certificateMode": "SNI_ONLY" });
                if let Some(config) = &ca.registration_config {
                    put(&mut body, "registrationConfig", config.clone());
                }
                let active = if ca.status == "ACTIVE" {
                    "true"
                } else {
                    "false"
                };
                let auto = if ca.auto_registration {
                    "true"
                } else {
                    "false"
                };
                s.call(
                    Call::iot("POST", &["cacertificate"])
                        .query("setAsActive", active)
                        .query("allowAutoRegistration", auto)
                        .json(body),
                )?;
            } else {
                // UpdateCACertificate has no way to drop a registration config, so one only
                // the target has stays (AWS IoT API reference, UpdateCACertificate).
                let body = match &ca.registration_config {
                    Some(config) => json!({ "registrationConfig": config }),
                    None => json!({}),
                };
                s.call(
                    Call::iot("PUT", &["cacertificate", id])
                        .query("newStatus", &ca.status)
                        .query("newAutoRegistrationStatus", auto)
                        .json(body),
                )?;
            }
            Ok(())
        })
    }

    fn certificate(&mut self, source: &Bundle, id: &str, cert: &Certificate) -> Result<()> {
        let change = match self.target.certificates.get(id) {
            None => Change::Create,
            Some(have) if have.status != cert.status && settable(&cert.status) => {
                Change::Update(format!("status {} → {}", have.status, cert.status))
            }
            Some(have) if have.status != cert.status => Change::Conflict(format!(
                "its status is {} on the target; {} cannot be set through the API \
                 (UpdateCertificate takes ACTIVE, INACTIVE or REVOKED)",
                have.status, cert.status
            )),
            Some(_) => Change::Unchanged,
        };
        let create = change == Change::Create;
        self.step("certificate", id.to_owned(), change, |s| {
            if create {
                // Registered INACTIVE or ACTIVE; any other status is set afterwards with
                // UpdateCertificate, which is where AWS accepts REVOKED.
                let first = if cert.status == "ACTIVE" {
                    "ACTIVE"
                } else {
                    "INACTIVE"
                };
                let ca_pem = cert
                    .ca_certificate_id
                    .as_ref()
                    .and_then(|ca| source.ca_certificates.get(ca))
                    .map(|ca| ca.pem.clone());
                let answer = match ca_pem {
                    Some(ca_pem) => {
                        s.call(Call::iot("POST", &["certificate", "register"]).json(
                            json!({ "certificatePem": cert.pem, "caCertificatePem": ca_pem,
                                "status": first }),
                        ))?
                    }
                    None => s.call(
                        Call::iot("POST", &["certificate", "register-no-ca"])
                            .json(json!({ "certificatePem": cert.pem, "status": first })),
                    )?,
                };
                if let Some(arn) = answer.get("certificateArn").and_then(Value::as_str) {
                    s.arns.certificates.insert(id.to_owned(), arn.to_owned());
                }
                if cert.status == first || !settable(&cert.status) {
                    return Ok(());
                }
            }
            s.call(Call::iot("PUT", &["certificates", id]).query("newStatus", &cert.status))
                .map(|_| ())
        })
    }

    fn policy(&mut self, name: &str, policy: &Policy) -> Result<()> {
        let change = match self.target.policies.get(name) {
            None => Change::Create,
            Some(have) => {
                let docs = |p: &Policy| -> BTreeSet<String> {
                    p.versions.iter().map(|v| v.document.to_string()).collect()
                };
                if docs(have) != docs(policy) {
                    Change::Update("versions".to_owned())
                } else if have.default_document() != policy.default_document() {
                    Change::Update("default version".to_owned())
                } else {
                    Change::Unchanged
                }
            }
        };
        let create = change == Change::Create;
        self.step("policy", name.to_owned(), change, |s| {
            if create {
                s.create_policy(name, policy)
            } else {
                s.update_policy(name, policy)
            }
        })
    }

    fn create_policy(&self, name: &str, policy: &Policy) -> Result<()> {
        let mut versions = policy.versions.iter();
        if let Some(first) = versions.next() {
            self.call(
                Call::iot("POST", &["policies", name])
                    .json(json!({ "policyDocument": document_text(&first.document) })),
            )?;
        }
        for v in versions {
            self.call(
                Call::iot("POST", &["policies", name, "version"])
                    .query("setAsDefault", if v.default { "true" } else { "false" })
                    .json(json!({ "policyDocument": document_text(&v.document) })),
            )?;
        }
        Ok(())
    }

    /// Makes the target's versions the bundle's: versions the bundle lacks go (first those that
    /// are not default, to stay within AWS's five), missing ones are created, the default is set.
    fn update_policy(&self, name: &str, policy: &Policy) -> Result<()> {
        let wanted: BTreeSet<String> = policy
            .versions
            .iter()
            .map(|v| v.document.to_string())
            .collect();
        let have = self.target_versions(name)?;
        for (id, doc, default) in &have {
            if !default && !wanted.contains(doc) {
                self.call(Call::iot("DELETE", &["policies", name, "version", id]))?;
            }
        }
        let present: BTreeSet<&String> = have.iter().map(|(_, doc, _)| doc).collect();
        for v in &policy.versions {
            if !present.contains(&v.document.to_string()) {
                self.call(
                    Call::iot("POST", &["policies", name, "version"])
                        .query("setAsDefault", if v.default { "true" } else { "false" })
                        .json(json!({ "policyDocument": document_text(&v.document) })),
                )?;
            }
        }
        let default = policy.default_document().map(Value::to_string);
        for (id, doc, _) in self.target_versions(name)? {
            if Some(&doc) == default.as_ref() {
                self.call(Call::iot("PATCH", &["policies", name, "version", &id]))?;
            }
        }
        for (id, doc, default) in self.target_versions(name)? {
            if !default && !wanted.contains(&doc) {
                self.call(Call::iot("DELETE", &["policies", name, "version", &id]))?;
            }
        }
        Ok(())
    }

    /// The target's versions of policy `name` now: id, document as compact JSON, default.
    fn target_versions(&self, name: &str) -> Result<Vec<(String, String, bool)>> {
        let listed = self.call(Call::iot("GET", &["policies", name, "version"]))?;
        let mut out = Vec::new();
        for v in listed
            .get("policyVersions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = v.get("versionId").and_then(Value::as_str) else {
                continue;
            };
            let got = self.call(Call::iot("GET", &["policies", name, "version", id]))?;
            let text = got
                .get("policyDocument")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let doc = serde_json::from_str::<Value>(text)
                .unwrap_or_else(|_| Value::String(text.to_owned()));
            let default = got.get("isDefaultVersion").and_then(Value::as_bool) == Some(true);
            out.push((id.to_owned(), doc.to_string(), default));
        }
        Ok(out)
    }

    fn attachments(&mut self, source: &Bundle) -> Result<()> {
        for (thing, t) in &source.things {
            let have = self.target.things.get(thing).cloned().unwrap_or_default();
            for group in &t.groups {
                let change = presence(have.groups.contains(group));
                self.step("membership", format!("{thing} in {group}"), change, |s| {
                    s.call(
                        Call::iot("PUT", &["thing-groups", "addThingToThingGroup"])
                            .json(json!({ "thingGroupName": group, "thingName": thing })),
                    )
                    .map(|_| ())
                })?;
            }
            for cert in &t.principals {
                let change = presence(have.principals.contains(cert));
                self.step("principal", format!("{cert} on {thing}"), change, |s| {
                    let arn = s.certificate_arn(cert)?;
                    s.call(
                        Call::iot("PUT", &["things", thing, "principals"])
                            .header("x-amzn-principal", &arn),
                    )
                    .map(|_| ())
                })?;
            }
        }
        for (name, p) in &source.policies {
            let have = self.target.policies.get(name).cloned().unwrap_or_default();
            for cert in &p.certificates {
                let change = presence(have.certificates.contains(cert));
                self.step(
                    "attachment",
                    format!("{name} to certificate {cert}"),
                    change,
                    |s| {
                        let arn = s.certificate_arn(cert)?;
                        s.attach(name, &arn)
                    },
                )?;
            }
            for group in &p.thing_groups {
                let change = presence(have.thing_groups.contains(group));
                self.step(
                    "attachment",
                    format!("{name} to thing group {group}"),
                    change,
                    |s| {
                        let arn = s.group_arn(group)?;
                        s.attach(name, &arn)
                    },
                )?;
            }
        }
        Ok(())
    }

    fn attach(&self, policy: &str, target: &str) -> Result<()> {
        self.call(Call::iot("PUT", &["target-policies", policy]).json(json!({ "target": target })))
            .map(|_| ())
    }

    /// The target's ARN of certificate `id`, asked for when the read did not see it.
    fn certificate_arn(&mut self, id: &str) -> Result<String> {
        if let Some(arn) = self.arns.certificates.get(id) {
            return Ok(arn.clone());
        }
        let d = self.call(Call::iot("GET", &["certificates", id]))?;
        let arn = d
            .pointer("/certificateDescription/certificateArn")
            .and_then(Value::as_str)
            .with_context(|| format!("DescribeCertificate {id}: the answer has no ARN"))?
            .to_owned();
        self.arns.certificates.insert(id.to_owned(), arn.clone());
        Ok(arn)
    }

    fn group_arn(&mut self, name: &str) -> Result<String> {
        if let Some(arn) = self.arns.thing_groups.get(name) {
            return Ok(arn.clone());
        }
        let d = self.call(Call::iot("GET", &["thing-groups", name]))?;
        let arn = d
            .get("thingGroupArn")
            .and_then(Value::as_str)
            .with_context(|| format!("DescribeThingGroup {name}: the answer has no ARN"))?
            .to_owned();
        self.arns.thing_groups.insert(name.to_owned(), arn.clone());
        Ok(arn)
    }

    fn template(&mut self, name: &str, t: &ProvisioningTemplate) -> Result<()> {
        let have = self.target.provisioning_templates.get(name).cloned();
        let change = match &have {
            None => Change::Create,
            Some(have) if have.r#type != t.r#type => Change::Conflict(format!(
                "its type on the target is {:?}, not {:?}, which AWS IoT cannot change; delete \
                 it on the target or rename it",
                have.r#type, t.r#type
            )),
            Some(have) if have.template_body != t.template_body => {
                Change::Update("new default version".to_owned())
            }
            Some(have) if have != t => Change::Update("settings".to_owned()),
            Some(_) => Change::Unchanged,
        };
        self.step("provisioning-template", name.to_owned(), change, |s| {
            let Some(have) = have else {
                let mut body = json!({
                    "templateName": name,
                    "templateBody": document_text(&t.template_body),
                    "enabled": t.enabled,
                    "provisioningRoleArn": t.provisioning_role_arn,
                });
                if let Some(d) = &t.description {
                    put(&mut body, "description", json!(d));
                }
                if let Some(h) = &t.pre_provisioning_hook {
                    put(&mut body, "preProvisioningHook", h.clone());
                }
                if let Some(ty) = &t.r#type {
                    put(&mut body, "type", json!(ty));
                }
                return s
                    .call(Call::iot("POST", &["provisioning-templates"]).json(body))
                    .map(|_| ());
            };
            if have.template_body != t.template_body {
                s.call(
                    Call::iot("POST", &["provisioning-templates", name, "versions"])
                        .query("setAsDefault", "true")
                        .json(json!({ "templateBody": document_text(&t.template_body) })),
                )?;
            }
            let mut body = json!({
                "description": t.description.clone().unwrap_or_default(),
                "enabled": t.enabled,
                "provisioningRoleArn": t.provisioning_role_arn,
            });
            match &t.pre_provisioning_hook {
                Some(h) => put(&mut body, "preProvisioningHook", h.clone()),
                None if have.pre_provisioning_hook.is_some() => {
                    put(&mut body, "removePreProvisioningHook", json!(true));
                }
                None => {}
            }
            s.call(Call::iot("PATCH", &["provisioning-templates", name]).json(body))
                .map(|_| ())
        })
    }

    /// Reports what the target has and the bundle does not: left alone (see docs/registry.md).
    fn target_only(&mut self, source: &Bundle) {
        fn extra<V>(
            steps: &mut Vec<Step>,
            kind: &'static str,
            have: &std::collections::BTreeMap<String, V>,
            want: &std::collections::BTreeMap<String, V>,
        ) {
            for name in have.keys().filter(|k| !want.contains_key(*k)) {
                steps.push(Step {
                    kind,
                    name: name.clone(),
                    change: Change::TargetOnly,
                });
            }
        }
        let t = &self.target;
        let s = &mut self.steps;
        extra(s, "thing-type", &t.thing_types, &source.thing_types);
        extra(s, "thing-group", &t.thing_groups, &source.thing_groups);
        extra(s, "thing", &t.things, &source.things);
        extra(
            s,
            "ca-certificate",
            &t.ca_certificates,
            &source.ca_certificates,
        );
        extra(s, "certificate", &t.certificates, &source.certificates);
        extra(s, "policy", &t.policies, &source.policies);
        extra(
            s,
            "provisioning-template",
            &t.provisioning_templates,
            &source.provisioning_templates,
        );
    }
}

/// Whether UpdateCertificate can set `status` (AWS IoT API reference: PENDING_TRANSFER and
/// PENDING_ACTIVATION are refused there).
fn settable(status: &str) -> bool {
    matches!(status, "ACTIVE" | "INACTIVE" | "REVOKED")
}

/// Sets member `key` of the JSON object `body`.
fn put(body: &mut Value, key: &str, value: Value) {
    if let Some(object) = body.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
}

fn presence(present: bool) -> Change {
    if present {
        Change::Unchanged
    } else {
        Change::Create
    }
}

/// A JSON document as the string the API takes (a document kept as a string goes as is).
fn document_text(doc: &Value) -> String {
    match doc {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The plan's totals, e.g. `2 to create, 1 to update, 30 unchanged, 1 only on the target`.
pub fn summary(steps: &[Step]) -> String {
    let count = |f: fn(&Change) -> bool| steps.iter().filter(|s| f(&s.change)).count();
    format!(
        "{} to create, {} to update, {} unchanged, {} in conflict, {} only on the target (left \
         alone)",
        count(|c| *c == Change::Create),
        count(|c| matches!(c, Change::Update(_))),
        count(|c| *c == Change::Unchanged),
        count(|c| matches!(c, Change::Conflict(_))),
        count(|c| *c == Change::TargetOnly),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_print_as_one_aligned_line() {
        let step = Step {
            kind: "policy",
            name: "p".into(),
            change: Change::Update("versions".into()),
        };
        assert_eq!(step.to_string(), "update      policy p (versions)");
        let steps = vec![
            step,
            Step {
                kind: "thing",
                name: "t".into(),
                change: Change::Unchanged,
            },
        ];
        assert_eq!(
            summary(&steps),
            "0 to create, 1 to update, 1 unchanged, 0 in conflict, 0 only on the target (left \
             alone)"
        );
    }

    #[test]
    fn documents_go_back_as_compact_json() {
        assert_eq!(document_text(&json!({"a": [1]})), r#"{"a":[1]}"#);
        assert_eq!(document_text(&json!("raw")), "raw");
    }
}
