//! Carrying out a [`Plan`] in the store: the certificate (an existing one by id, a PEM to
//! register, or a CSR to sign), the thing with its attributes, type and groups, the policies, and
//! the attachments, in the caller's savepoint so that a failure changes nothing. Registry rules
//! (type exists and is not deprecated, groups exist, at most ten groups, one group per hierarchy)
//! are the store's, applied as for the control plane.
//!
//! Where AWS is silent: a property of an existing thing whose `OverrideSettings` does not say
//! is left as it is (`DO_NOTHING`); `FAIL` fails only when the template would change the
//! property; an existing certificate's status is set as the template says unless its override
//! says otherwise, and a certificate still `PENDING_ACTIVATION` always takes the template's
//! status (the JITP example sets `DO_NOTHING` and AWS still activates it); a policy given by
//! document is named by the SHA-256 of the document ("Defaults to a hash of the policy
//! document"), and an existing policy of that name is reused; thing names follow AWS's
//! pattern `[a-zA-Z0-9:_-]{1,128}`.

use std::collections::{BTreeMap, BTreeSet};

use store::{AttributeUpdate, CertificateStatus, NewThing, ServiceTx, ThingUpdate};

use super::error::ProvisioningError;
use super::plan::{CertificatePlan, CertificateSource, Plan, PolicySource, ThingPlan};
use super::settings::ProvisioningSettings;
use super::template::Override;

/// What the caller already knows about the certificate being provisioned.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub settings: &'a ProvisioningSettings,
    /// The certificate the request proved it owns (fleet: the ownership token's; JITP: the
    /// device's): a `CertificateId` must name it.
    pub bound_certificate: Option<&'a str>,
}

/// What provisioning created or used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub thing_name: Option<String>,
    pub certificate_id: Option<String>,
    pub certificate_pem: Option<String>,
    /// Logical id to ARN, as the control plane's RegisterThing answers.
    pub resource_arns: BTreeMap<String, String>,
}

/// Carries out `plan` in `tx` (the caller's savepoint).
pub fn apply(
    tx: &ServiceTx<'_>,
    ctx: &Context<'_>,
    plan: &Plan,
    now_ms: i64,
) -> Result<Applied, ProvisioningError> {
    let mut applied = Applied::default();
    let certificate = match &plan.certificate {
        Some(cert) => Some(certificate(tx, ctx, cert, now_ms, &mut applied)?),
        None => None,
    };
    if let Some(thing_plan) = &plan.thing {
        let name = thing(tx, thing_plan, now_ms)?;
        applied
            .resource_arns
            .insert(thing_plan.logical_id.clone(), ctx.settings.thing_arn(&name));
        applied.thing_name = Some(name);
    }
    for policy in &plan.policies {
        let name = match &policy.source {
            PolicySource::Name(name) => {
                if tx.policy(name)?.is_none() {
                    return Err(ProvisioningError::registration_failure(format!(
                        "policy {name} does not exist; create it, or give the policy resource \
                         a PolicyDocument"
                    )));
                }
                name.clone()
            }
            PolicySource::Document(document) => {
                iot_policy::Policy::parse(document).map_err(|e| {
                    ProvisioningError::registration_failure(format!(
                        "Resources.{}.Properties.PolicyDocument is not a valid policy: {e}",
                        policy.logical_id
                    ))
                })?;
                // The SHA-256 of the document, in hex: the id function hashes any bytes.
                let name = pki::CertificateId::from_der(document.as_bytes())
                    .as_str()
                    .to_owned();
                if tx.policy(&name)?.is_none() {
                    tx.create_policy(&name, document, now_ms)?;
                }
                name
            }
        };
        if let Some(cert) = &certificate {
            tx.attach_policy(&name, &ctx.settings.cert_arn(cert))?;
        }
        applied
            .resource_arns
            .insert(policy.logical_id.clone(), ctx.settings.policy_arn(&name));
    }
    if let (Some(cert), Some(thing)) = (&certificate, &applied.thing_name) {
        tx.attach_thing_principal(thing, &ctx.settings.cert_arn(cert), false)?;
    }
    Ok(applied)
}

fn certificate(
    tx: &ServiceTx<'_>,
    ctx: &Context<'_>,
    plan: &CertificatePlan,
    now_ms: i64,
    applied: &mut Applied,
) -> Result<String, ProvisioningError> {
    let wanted = if plan.active {
        CertificateStatus::Active
    } else {
        CertificateStatus::Inactive
    };
    let id = match &plan.source {
        CertificateSource::Id(id) => {
            if let Some(bound) = ctx.bound_certificate
                && bound != id
            {
                return Err(ProvisioningError::access_denied(format!(
                    "the template names certificate {id}, but the request proves ownership of \
                     certificate {bound}; use {{\"Ref\": \"AWS::IoT::Certificate::Id\"}}"
                )));
            }
            id.clone()
        }
        CertificateSource::Csr(csr) => {
            let issued = ctx.settings.issue_from_csr(csr, now_ms)?;
            tx.register_certificate(&ctx.settings.new_certificate(&issued, wanted), now_ms)?;
            issued.id
        }
        CertificateSource::Pem { pem, ca_pem } => {
            register_pem(tx, ctx, pem, ca_pem.as_deref(), wanted, now_ms)?
        }
    };
    let existing = tx.certificate(&id)?.ok_or_else(|| {
        ProvisioningError::registration_failure(format!("certificate {id} does not exist"))
    })?;
    let set = match (existing.status, plan.status_override) {
        (current, _) if current == wanted => false,
        (CertificateStatus::PendingActivation, _) => true,
        (_, Override::DoNothing) => false,
        (current, Override::Fail) => {
            return Err(ProvisioningError::conflict(format!(
                "certificate {id} is {current}, the template says {wanted}, and its \
                 OverrideSettings Status is FAIL"
            )));
        }
        _ => true,
    };
    if set {
        tx.set_certificate_status(&id, wanted, now_ms)?;
    }
    applied.certificate_pem = Some(existing.pem);
    applied.certificate_id = Some(id.clone());
    applied
        .resource_arns
        .insert(plan.logical_id.clone(), ctx.settings.cert_arn(&id));
    Ok(id)
}

/// Registers a certificate given as PEM (control plane RegisterThing): issued by the CA given
/// with it (which must be registered), or by tether's own CA.
fn register_pem(
    tx: &ServiceTx<'_>,
    ctx: &Context<'_>,
    pem: &str,
    ca_pem: Option<&str>,
    status: CertificateStatus,
    now_ms: i64,
) -> Result<String, ProvisioningError> {
    let invalid = |e: pki::PkiError| ProvisioningError::invalid_request(e.to_string());
    let cert = pki::load_certificate(pem.as_bytes(), "CertificatePem")
        .map_err(invalid)?
        .certificate;
    let id = pki::CertificateId::of(&cert)
        .map_err(invalid)?
        .as_str()
        .to_owned();
    if tx.certificate(&id)?.is_some() {
        return Ok(id);
    }
    let ca_id = match ca_pem {
        Some(ca_pem) => {
            let ca = pki::load_certificate(ca_pem.as_bytes(), "CACertificatePem")
                .map_err(invalid)?
                .certificate;
            let ca_id = pki::CertificateId::of(&ca)
                .map_err(invalid)?
                .as_str()
                .to_owned();
            if tx.ca_certificate(&ca_id)?.is_none() {
                return Err(ProvisioningError::registration_failure(format!(
                    "CA certificate {ca_id} is not registered; register it with \
                     RegisterCACertificate first"
                )));
            }
            if !signed_by(&cert, &ca) {
                return Err(ProvisioningError::registration_failure(format!(
                    "the certificate was not issued by CA certificate {ca_id}"
                )));
            }
            Some(ca_id)
        }
        None => {
            let local = ctx.settings.issuer.as_ref().map(|ca| ca.certificate());
            if !local.is_some_and(|ca| signed_by(&cert, ca)) {
                return Err(ProvisioningError::registration_failure(
                    "CertificatePem was not issued by tether's CA; give CACertificatePem too",
                ));
            }
            None
        }
    };
    let summary = pki::summarize(&cert).map_err(invalid)?;
    let new = store::NewCertificate {
        id: id.clone(),
        pem: pem.to_owned(),
        status,
        ca_certificate_id: ca_id,
        mode: store::CertificateMode::Default,
        owned_by: ctx.settings.account.clone(),
        not_before_ms: summary.not_before.saturating_mul(1000),
        not_after_ms: summary.not_after.saturating_mul(1000),
    };
    tx.register_certificate(&new, now_ms)?;
    Ok(id)
}

/// True when `issuer` issued `certificate` (names match and the signature verifies).
pub fn signed_by(certificate: &pki::X509Ref, issuer: &pki::X509Ref) -> bool {
    let names_match = match (
        certificate.issuer_name().to_der(),
        issuer.subject_name().to_der(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    names_match
        && issuer
            .public_key()
            .and_then(|key| certificate.verify(&key))
            .unwrap_or(false)
}

fn check_thing_name(name: &str) -> Result<(), ProvisioningError> {
    let ok = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ProvisioningError::registration_failure(format!(
            "thing name {name:?} is not valid: use 1 to 128 of a-z, A-Z, 0-9, ':', '_' and '-'"
        )))
    }
}

fn seed() -> Result<[u8; 16], ProvisioningError> {
    pki::random_bytes::<16>()
        .map_err(|e| ProvisioningError::internal(format!("drawing an id failed: {e}")))
}

fn thing(tx: &ServiceTx<'_>, plan: &ThingPlan, now_ms: i64) -> Result<String, ProvisioningError> {
    let name = plan.name.clone().ok_or_else(|| {
        ProvisioningError::registration_failure(format!(
            "Resources.{}.Properties has no ThingName",
            plan.logical_id
        ))
    })?;
    check_thing_name(&name)?;
    if plan.billing_group.is_some() {
        tracing::debug!("provisioning thing {name}: BillingGroup is ignored (no billing groups)");
    }
    let Some(existing) = tx.thing(&name)? else {
        tx.create_thing(
            &NewThing {
                name: name.clone(),
                thing_type: plan.thing_type.clone(),
                attributes: plan.attributes.clone().unwrap_or_default(),
            },
            seed()?,
            now_ms,
        )?;
        for group in plan.groups.iter().flatten() {
            tx.add_thing_to_thing_group(group, &name, seed()?, now_ms)?;
        }
        return Ok(name);
    };
    let conflict = |property: &str| {
        ProvisioningError::conflict(format!(
            "thing {name} exists with another {property}, and its OverrideSettings \
             {property} is FAIL"
        ))
    };
    let mut update = ThingUpdate::default();
    if let Some(attributes) = &plan.attributes
        && *attributes != existing.attributes
    {
        update.attributes = match plan.attributes_override {
            Override::DoNothing => AttributeUpdate::Keep,
            Override::Replace => AttributeUpdate::Replace(attributes.clone()),
            Override::Merge => AttributeUpdate::Merge(attributes.clone()),
            Override::Fail => return Err(conflict("AttributePayload")),
        };
    }
    if let Some(thing_type) = &plan.thing_type
        && existing.thing_type.as_ref() != Some(thing_type)
    {
        match plan.thing_type_override {
            Override::DoNothing | Override::Merge => {}
            Override::Replace => update.thing_type = Some(thing_type.clone()),
            Override::Fail => return Err(conflict("ThingTypeName")),
        }
    }
    if update != ThingUpdate::default() {
        tx.update_thing(&name, &update, now_ms)?;
    }
    if let Some(groups) = &plan.groups {
        let current: BTreeSet<String> = tx
            .thing_group_memberships(&name)?
            .into_iter()
            .map(|m| m.group)
            .collect();
        let wanted: BTreeSet<String> = groups.iter().cloned().collect();
        if current != wanted {
            match plan.groups_override {
                Override::DoNothing => {}
                Override::Fail => return Err(conflict("ThingGroups")),
                Override::Replace => {
                    for group in current.difference(&wanted) {
                        tx.remove_thing_from_thing_group(group, &name)?;
                    }
                    for group in wanted.difference(&current) {
                        tx.add_thing_to_thing_group(group, &name, seed()?, now_ms)?;
                    }
                }
                Override::Merge => {
                    for group in wanted.difference(&current) {
                        tx.add_thing_to_thing_group(group, &name, seed()?, now_ms)?;
                    }
                }
            }
        }
    }
    Ok(name)
}

/// Runs `f` in a savepoint of `tx`: its changes are kept when it succeeds and rolled back when
/// it fails, with its own error (all resources or none).
pub fn atomically<T>(
    tx: &ServiceTx<'_>,
    what: &str,
    f: impl FnOnce(&ServiceTx<'_>) -> Result<T, ProvisioningError>,
) -> Result<T, ProvisioningError> {
    let mut refused = None;
    let result = tx.request(what, |tx| {
        f(tx).map_err(|e| {
            refused = Some(e);
            store::StoreError::InvalidRequest(format!("{what} was refused"))
        })
    });
    match result {
        Ok(value) => Ok(value),
        Err(e) => Err(refused.unwrap_or_else(|| ProvisioningError::from_store(&e))),
    }
}
