//! AWS IoT fleet provisioning. The pure template engine comes first — the template language
//! (`template.rs`: sections, resources, properties, overrides), its intrinsic functions
//! (`intrinsic.rs`), its evaluation for one device (`plan.rs`), the pre-provisioning hook's
//! event and answer (`hook.rs`), the MQTT topics and payload formats (`topic.rs`) — then the
//! service over the store: carrying out a plan (`apply.rs`), the device side over MQTT
//! (`device.rs`), the control plane (`manage.rs`), just-in-time registration and provisioning
//! on a first connection (`auto.rs`), and the timers of ownership tokens and claims
//! (`timers.rs`), with the settings and certificate issuing they share (`settings.rs`).
//!
//! Billing groups are not served; a template's `BillingGroup` is ignored
//! (docs/aws-differences.md).

mod apply;
mod auto;
mod device;
mod error;
pub mod fuzz;
mod hook;
mod intrinsic;
mod manage;
mod plan;
mod settings;
mod template;
mod timers;
mod topic;

#[cfg(test)]
mod examples;
#[cfg(test)]
mod tests;

pub use apply::{Applied, atomically, signed_by};
pub use auto::{AutoRegistration, FirstConnection, first_connection};
pub use device::{Publish, failed, handle_publish, resume};
pub use error::{ProvisioningError, TemplateError, TemplateErrorKind};
pub use hook::{HookCall, Resume};
pub use intrinsic::FUNCTIONS;
pub use manage::{
    TYPE_FLEET, TYPE_JITP, check_template_name, create_claim, create_template, create_version,
    delete_template, delete_version, describe_template, describe_version, list_templates,
    list_versions, register_thing, update_template,
};
pub use plan::{
    CertificateFields, CertificatePlan, CertificateSource, Plan, PolicyPlan, PolicySource,
    ThingPlan,
};
pub use settings::{Issued, ProvisioningSettings, certificate_fields};
pub use template::{
    MAX_BODY, Override, PSEUDO_PARAMETERS, Parameter, Resource, ResourceType, Template, Use,
};
pub use timers::{next_deadline, tick};
pub use topic::{Format, ROUTES};
