//! The registry bundle: what `tether registry export` writes and `import`, `push` and `pull`
//! carry — things, thing types, thing groups, policies with every version, certificates and CA
//! certificates by PEM, their attachments and provisioning templates — as pretty JSON with
//! sorted keys, so two exports of equal registries are byte-identical and diff line by line.
//! It holds only what a user chose; everything a server assigns (ids other than certificate
//! ids, ARNs, version numbers and ids, dates, generation ids) is left out, and so are private
//! keys, which the AWS IoT API never returns. It does no IO: `tether registry` (crates/cli)
//! reads and writes registries through the API.

pub mod fuzz;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a bundle was refused; every variant names the field or position to fix.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Not JSON, or not the bundle's shape (an unknown field, a wrong type).
    #[error(
        "the bundle is not a tether registry bundle: {message} (line {line}, column {column}); \
         write one with `tether registry export`"
    )]
    Json {
        message: String,
        line: usize,
        column: usize,
    },
    /// A `format` other than [`FORMAT`].
    #[error(
        "the bundle's format is {found:?}; this tether reads \"tether-registry/1\" (export it \
         again with this version)"
    )]
    Format { found: String },
    /// A field whose value the shape allows but the bundle's rules do not.
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    /// Not printable as JSON (cannot happen for a parsed bundle; kept typed, not unwrapped).
    #[error("the bundle cannot be written as JSON: {0}")]
    Write(String),
}

type Result<T> = std::result::Result<T, BundleError>;

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> BundleError {
    BundleError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

/// The `format` every bundle carries; a different one is refused rather than half-understood.
pub const FORMAT: &str = "tether-registry/1";

/// One registry, as a bundle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// Thing types by name.
    #[serde(default)]
    pub thing_types: BTreeMap<String, ThingType>,
    /// Static thing groups by name (dynamic groups are left out: their members follow from
    /// the fleet index, which the bundle does not carry).
    #[serde(default)]
    pub thing_groups: BTreeMap<String, ThingGroup>,
    /// Things by name, with their groups and attached certificates.
    #[serde(default)]
    pub things: BTreeMap<String, Thing>,
    /// Policies by name, with every version and the targets they are attached to.
    #[serde(default)]
    pub policies: BTreeMap<String, Policy>,
    /// CA certificates by certificate id (the SHA-256 of the DER, the same on every server).
    #[serde(default)]
    pub ca_certificates: BTreeMap<String, CaCertificate>,
    /// Device certificates by certificate id.
    #[serde(default)]
    pub certificates: BTreeMap<String, Certificate>,
    /// Provisioning templates by name (their default version).
    #[serde(default)]
    pub provisioning_templates: BTreeMap<String, ProvisioningTemplate>,
}

/// A thing type: DescribeThingType's `thingTypeProperties` and whether it is deprecated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ThingType {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub searchable_attributes: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deprecated: bool,
}

/// A static thing group: its parent and `thingGroupProperties`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ThingGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// A thing: type, attributes, the static groups it is in and the certificates attached to it
/// (AttachThingPrincipal).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Thing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thing_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub groups: BTreeSet<String>,
    /// Certificate ids.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub principals: BTreeSet<String>,
}

/// A policy: its versions oldest first, exactly one marked default, and its targets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    pub versions: Vec<PolicyVersion>,
    /// Certificate ids the policy is attached to (AttachPolicy on the certificate's ARN).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub certificates: BTreeSet<String>,
    /// Thing group names the policy is attached to.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub thing_groups: BTreeSet<String>,
}

impl Policy {
    /// The default version's document.
    pub fn default_document(&self) -> Option<&Value> {
        self.versions
            .iter()
            .find(|v| v.default)
            .map(|v| &v.document)
    }
}

/// One policy version: the document as JSON (so it reads and diffs as JSON; the server gets it
/// back compact) and whether it is the default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyVersion {
    #[serde(default, skip_serializing_if = "is_false")]
    pub default: bool,
    pub document: Value,
}

/// A CA certificate by PEM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaCertificate {
    pub pem: String,
    /// ACTIVE or INACTIVE.
    pub status: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_registration: bool,
    /// DEFAULT or SNI_ONLY on the server it was exported from. Pushing registers the CA in
    /// SNI_ONLY mode (DEFAULT needs a verification certificate signed by the CA's private key,
    /// which the bundle does not have), so this field changes in transit.
    pub mode: String,
    /// The just-in-time provisioning template attached to the CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_config: Option<Value>,
}

/// A device certificate by PEM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Certificate {
    pub pem: String,
    /// ACTIVE, INACTIVE, REVOKED, PENDING_ACTIVATION, …
    pub status: String,
    /// The registered CA that issued it, when the server knows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate_id: Option<String>,
}

/// A provisioning template: DescribeProvisioningTemplate's fields a user chose, with the
/// default version's body as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvisioningTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub template_body: Value,
    #[serde(default)]
    pub enabled: bool,
    /// Carried verbatim: an IAM role ARN names its account, so a bundle moved to another
    /// account needs this edited.
    pub provisioning_role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_provisioning_hook: Option<Value>,
    /// FLEET_PROVISIONING or JITP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Bundle {
    /// An empty bundle of the current format.
    pub fn new() -> Bundle {
        Bundle {
            format: FORMAT.to_owned(),
            ..Bundle::default()
        }
    }

    /// Parses a bundle file's text and checks what the JSON shape cannot say: the format,
    /// one default version per policy, and that every name a bundle refers to is in it or
    /// plainly outside it (a certificate's CA may be unregistered).
    pub fn parse(text: &str) -> Result<Bundle> {
        let bundle: Bundle = serde_json::from_str(text).map_err(|e| BundleError::Json {
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })?;
        bundle.check()?;
        Ok(bundle)
    }

    fn check(&self) -> Result<()> {
        if self.format != FORMAT {
            return Err(BundleError::Format {
                found: self.format.clone(),
            });
        }
        for (name, policy) in &self.policies {
            let defaults = policy.versions.iter().filter(|v| v.default).count();
            if defaults != 1 {
                return Err(invalid(
                    format!("policies.{name}"),
                    format!("{defaults} versions are marked \"default\": true; mark exactly one"),
                ));
            }
            for group in &policy.thing_groups {
                self.need_group(&format!("policies.{name}.thingGroups"), group)?;
            }
            for cert in &policy.certificates {
                self.need_certificate(&format!("policies.{name}.certificates"), cert)?;
            }
        }
        for (name, group) in &self.thing_groups {
            if let Some(parent) = &group.parent {
                self.need_group(&format!("thingGroups.{name}.parent"), parent)?;
            }
        }
        for (name, thing) in &self.things {
            if let Some(t) = &thing.thing_type
                && !self.thing_types.contains_key(t)
            {
                return Err(invalid(
                    format!("things.{name}.thingType"),
                    format!("thing type {t:?} is not in the bundle's thingTypes"),
                ));
            }
            for group in &thing.groups {
                self.need_group(&format!("things.{name}.groups"), group)?;
            }
            for cert in &thing.principals {
                self.need_certificate(&format!("things.{name}.principals"), cert)?;
            }
        }
        self.hierarchy().map(|_| ())
    }

    fn need_group(&self, field: &str, group: &str) -> Result<()> {
        if !self.thing_groups.contains_key(group) {
            return Err(invalid(
                field,
                format!("thing group {group:?} is not in the bundle's thingGroups"),
            ));
        }
        Ok(())
    }

    fn need_certificate(&self, field: &str, id: &str) -> Result<()> {
        if !self.certificates.contains_key(id) {
            return Err(invalid(
                field,
                format!("certificate {id} is not in the bundle's certificates"),
            ));
        }
        Ok(())
    }

    /// The thing groups parents first (a group can only be created under an existing parent),
    /// or the cycle that makes that impossible.
    pub fn hierarchy(&self) -> Result<Vec<&str>> {
        let mut order: Vec<&str> = Vec::new();
        let mut placed: BTreeSet<&str> = BTreeSet::new();
        while order.len() < self.thing_groups.len() {
            let before = order.len();
            for (name, group) in &self.thing_groups {
                let ready = group
                    .parent
                    .as_deref()
                    .is_none_or(|p| placed.contains(p) || !self.thing_groups.contains_key(p));
                if !placed.contains(name.as_str()) && ready {
                    order.push(name);
                    placed.insert(name);
                }
            }
            if order.len() == before {
                let stuck: Vec<&String> = self
                    .thing_groups
                    .keys()
                    .filter(|k| !placed.contains(k.as_str()))
                    .collect();
                return Err(invalid(
                    "thingGroups",
                    format!("the parents of {stuck:?} form a cycle; a group hierarchy is a tree"),
                ));
            }
        }
        Ok(order)
    }

    /// The bundle as pretty JSON with a final newline: sorted keys (maps are `BTreeMap`s),
    /// so equal registries give equal text.
    pub fn to_text(&self) -> Result<String> {
        let mut text =
            serde_json::to_string_pretty(self).map_err(|e| BundleError::Write(e.to_string()))?;
        text.push('\n');
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> &'static str {
        r#"{
          "format": "tether-registry/1",
          "thingTypes": {"sensor": {"description": "a sensor"}},
          "thingGroups": {"site": {}, "floor": {"parent": "site"}},
          "things": {"t1": {"thingType": "sensor", "groups": ["floor"], "principals": ["ab"]}},
          "policies": {"p": {"versions": [{"document": {"Version": "2012-10-17"}},
                                          {"default": true, "document": {}}],
                             "certificates": ["ab"], "thingGroups": ["site"]}},
          "certificates": {"ab": {"pem": "x", "status": "ACTIVE"}}
        }"#
    }

    #[test]
    fn a_bundle_round_trips_and_prints_stably() {
        let bundle = Bundle::parse(sample()).unwrap();
        let text = bundle.to_text().unwrap();
        assert_eq!(Bundle::parse(&text).unwrap(), bundle);
        assert_eq!(Bundle::parse(&text).unwrap().to_text().unwrap(), text);
        assert_eq!(bundle.hierarchy().unwrap(), vec!["site", "floor"]);
    }

    #[test]
    fn references_and_defaults_are_checked_with_the_field_named() {
        let two_defaults = sample().replace(r#"[{"document""#, r#"[{"default": true, "document""#);
        let err = Bundle::parse(&two_defaults).unwrap_err().to_string();
        assert!(
            err.contains("policies.p") && err.contains("exactly one"),
            "{err}"
        );
        let unknown_group = sample().replace(r#""groups": ["floor"]"#, r#""groups": ["x"]"#);
        let err = Bundle::parse(&unknown_group).unwrap_err().to_string();
        assert!(err.contains("things.t1.groups"), "{err}");
        let cycle = sample().replace(r#""site": {}"#, r#""site": {"parent": "floor"}"#);
        let err = Bundle::parse(&cycle).unwrap_err().to_string();
        assert!(err.contains("cycle"), "{err}");
        let err = Bundle::parse(r#"{"format": "x/2"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("x/2"), "{err}");
        let err = Bundle::parse(r#"{"format": "tether-registry/1", "extra": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("extra"), "{err}");
    }

    #[test]
    fn junk_is_refused_not_panicked_on() {
        for junk in [
            "",
            "{",
            "[]",
            "null",
            r#"{"format": 1}"#,
            r#"{"format": "tether-registry/1", "policies": {"p": {"versions": []}}}"#,
        ] {
            assert!(Bundle::parse(junk).is_err(), "{junk}");
        }
    }
}
