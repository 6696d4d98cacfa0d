//! A template evaluated for one device: parameter values resolved (the certificate's
//! pseudo-parameters, then the request's parameters, then each declared `Default`), every
//! intrinsic call replaced by its value, and each resource's properties checked for their types.
//! The result, a [`Plan`], says what to create or change; `apply.rs` carries it out in the
//! store. Pure.
//!
//! Where AWS is silent: the certificate's pseudo-parameters cannot be overridden by the request
//! (a device must not choose its certificate id); a declared parameter without a value fails
//! the provisioning even when nothing refers to it, as JITP documents for the certificate's
//! fields ("The certificate must contain values for all of the parameters"); a certificate's
//! `SerialNumber` is its decimal text, as the `iot:Certificate.SerialNumber` policy variable;
//! `BillingGroup` is evaluated and kept but tether has no billing groups
//! (docs/aws-differences.md).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::TemplateError;
use super::intrinsic::{self, Scope};
use super::template::{Override, Resource, ResourceType, Template};

/// The certificate's subject fields, for the pseudo-parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateFields {
    /// The certificate id (SHA-256 of the DER).
    pub id: String,
    pub common_name: Option<String>,
    pub country: Option<String>,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub distinguished_name_qualifier: Option<String>,
    pub state_name: Option<String>,
    /// Decimal.
    pub serial_number: Option<String>,
}

impl CertificateFields {
    /// The pseudo-parameters the certificate has values for.
    pub fn pseudo_parameters(&self) -> BTreeMap<String, String> {
        let fields = [
            ("Id", Some(&self.id)),
            ("CommonName", self.common_name.as_ref()),
            ("Country", self.country.as_ref()),
            ("Organization", self.organization.as_ref()),
            ("OrganizationalUnit", self.organizational_unit.as_ref()),
            (
                "DistinguishedNameQualifier",
                self.distinguished_name_qualifier.as_ref(),
            ),
            ("StateName", self.state_name.as_ref()),
            ("SerialNumber", self.serial_number.as_ref()),
        ];
        fields
            .into_iter()
            .filter_map(|(name, value)| {
                value
                    .filter(|v| !v.is_empty())
                    .map(|v| (format!("AWS::IoT::Certificate::{name}"), v.clone()))
            })
            .collect()
    }
}

/// The thing to create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingPlan {
    pub logical_id: String,
    pub name: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub thing_type: Option<String>,
    pub groups: Option<Vec<String>>,
    pub billing_group: Option<String>,
    pub attributes_override: Override,
    pub thing_type_override: Override,
    pub groups_override: Override,
}

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// An existing certificate.
    Id(String),
    /// A certificate to register, optionally with its CA.
    Pem { pem: String, ca_pem: Option<String> },
    /// A CSR to sign.
    Csr(String),
}

/// The certificate to register, activate or deactivate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePlan {
    pub logical_id: String,
    pub source: CertificateSource,
    /// `Status`: `true` for ACTIVE (the default), `false` for INACTIVE.
    pub active: bool,
    pub status_override: Override,
}

/// A policy to attach: an existing one, or a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    Name(String),
    Document(String),
}

/// One policy resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyPlan {
    pub logical_id: String,
    pub source: PolicySource,
}

/// Everything one device's provisioning does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub thing: Option<ThingPlan>,
    pub certificate: Option<CertificatePlan>,
    pub policies: Vec<PolicyPlan>,
    /// `DeviceConfiguration`, evaluated.
    pub device_configuration: BTreeMap<String, String>,
    /// The parameter values used.
    pub parameters: BTreeMap<String, String>,
}

impl Template {
    /// Evaluates the template with the request's `parameters` and the certificate's fields.
    pub fn evaluate(
        &self,
        parameters: &BTreeMap<String, String>,
        certificate: Option<&CertificateFields>,
    ) -> Result<Plan, TemplateError> {
        let mut values = parameters.clone();
        for (name, declared) in &self.parameters {
            if !values.contains_key(name)
                && let Some(default) = &declared.default
            {
                values.insert(name.clone(), default.clone());
            }
        }
        if let Some(certificate) = certificate {
            values.extend(certificate.pseudo_parameters());
        }
        for (name, declared) in &self.parameters {
            if !values.contains_key(name) && declared.default.is_none() {
                return Err(TemplateError::missing(&format!("Parameters.{name}"), name));
            }
        }
        let scope = Scope {
            parameters: &values,
            mappings: &self.mappings,
        };
        let mut plan = Plan::default();
        for resource in &self.resources {
            match resource.kind {
                ResourceType::Thing => plan.thing = Some(thing(resource, &scope)?),
                ResourceType::Certificate => {
                    plan.certificate = Some(certificate_plan(resource, &scope)?);
                }
                ResourceType::Policy => plan.policies.push(policy(resource, &scope)?),
            }
        }
        for (key, value) in &self.device_configuration {
            let path = format!("DeviceConfiguration.{key}");
            plan.device_configuration
                .insert(key.clone(), intrinsic::eval_string(value, &path, &scope)?);
        }
        plan.parameters = values;
        Ok(plan)
    }
}

fn path(resource: &Resource, property: &str) -> String {
    format!("Resources.{}.Properties.{property}", resource.logical_id)
}

fn string_property(
    resource: &Resource,
    name: &str,
    scope: &Scope<'_>,
) -> Result<Option<String>, TemplateError> {
    resource
        .properties
        .get(name)
        .map(|value| intrinsic::eval_string(value, &path(resource, name), scope))
        .transpose()
}

fn thing(resource: &Resource, scope: &Scope<'_>) -> Result<ThingPlan, TemplateError> {
    let attributes = match resource.properties.get("AttributePayload") {
        None => None,
        Some(value) => {
            let at = path(resource, "AttributePayload");
            match intrinsic::eval(value, &at, scope)? {
                Value::Object(map) => Some(string_map(map, &at)?),
                _ => {
                    return Err(TemplateError::evaluation(
                        &at,
                        "must be an object of attribute names and string values",
                    ));
                }
            }
        }
    };
    let groups = match resource.properties.get("ThingGroups") {
        None => None,
        Some(value) => {
            let at = path(resource, "ThingGroups");
            match intrinsic::eval(value, &at, scope)? {
                Value::Array(items) => Some(
                    items
                        .into_iter()
                        .map(|item| match item {
                            Value::String(s) => Ok(s),
                            _ => Err(TemplateError::evaluation(
                                &at,
                                "must be a list of thing group names",
                            )),
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                _ => {
                    return Err(TemplateError::evaluation(
                        &at,
                        "must be a list of thing group names",
                    ));
                }
            }
        }
    };
    let over = |name: &str| resource.overrides.get(name).copied().unwrap_or_default();
    Ok(ThingPlan {
        logical_id: resource.logical_id.clone(),
        name: string_property(resource, "ThingName", scope)?,
        attributes,
        thing_type: string_property(resource, "ThingTypeName", scope)?,
        groups,
        billing_group: string_property(resource, "BillingGroup", scope)?,
        attributes_override: over("AttributePayload"),
        thing_type_override: over("ThingTypeName"),
        groups_override: over("ThingGroups"),
    })
}

fn string_map(
    map: Map<String, Value>,
    at: &str,
) -> Result<BTreeMap<String, String>, TemplateError> {
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(TemplateError::evaluation(
                &format!("{at}.{k}"),
                format!("attribute values are strings, not {other}"),
            )),
        })
        .collect()
}

fn certificate_plan(
    resource: &Resource,
    scope: &Scope<'_>,
) -> Result<CertificatePlan, TemplateError> {
    let source = if let Some(id) = string_property(resource, "CertificateId", scope)? {
        CertificateSource::Id(id)
    } else if let Some(pem) = string_property(resource, "CertificatePem", scope)? {
        CertificateSource::Pem {
            pem,
            ca_pem: string_property(resource, "CACertificatePem", scope)?,
        }
    } else if let Some(csr) = string_property(resource, "CertificateSigningRequest", scope)? {
        CertificateSource::Csr(csr)
    } else {
        return Err(TemplateError::evaluation(
            &format!("Resources.{}.Properties", resource.logical_id),
            "the certificate resource names no certificate",
        ));
    };
    let active = match string_property(resource, "Status", scope)? {
        None => true,
        Some(status) => match status.to_ascii_uppercase().as_str() {
            "ACTIVE" => true,
            "INACTIVE" => false,
            _ => {
                return Err(TemplateError::evaluation(
                    &path(resource, "Status"),
                    format!("is {status:?}; use ACTIVE or INACTIVE"),
                ));
            }
        },
    };
    Ok(CertificatePlan {
        logical_id: resource.logical_id.clone(),
        source,
        active,
        status_override: resource
            .overrides
            .get("Status")
            .copied()
            .unwrap_or(Override::Replace),
    })
}

fn policy(resource: &Resource, scope: &Scope<'_>) -> Result<PolicyPlan, TemplateError> {
    let source = if let Some(name) = string_property(resource, "PolicyName", scope)? {
        PolicySource::Name(name)
    } else {
        let at = path(resource, "PolicyDocument");
        let value = resource.properties.get("PolicyDocument").ok_or_else(|| {
            TemplateError::evaluation(&at, "the policy resource has no PolicyDocument")
        })?;
        match intrinsic::eval(value, &at, scope)? {
            Value::String(text) => PolicySource::Document(text),
            document @ Value::Object(_) => PolicySource::Document(document.to_string()),
            _ => {
                return Err(TemplateError::evaluation(
                    &at,
                    "must be a policy document: an object, or its JSON text",
                ));
            }
        }
    };
    Ok(PolicyPlan {
        logical_id: resource.logical_id.clone(),
        source,
    })
}
