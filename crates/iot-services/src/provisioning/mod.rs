//! AWS IoT fleet provisioning. The pure template engine comes first — the template language
//! (`template.rs`: sections, resources, properties, overrides), its intrinsic functions
//! (`intrinsic.rs`) and its evaluation for one device (`plan.rs`) — then the service over the
//! store.

mod error;
mod intrinsic;
mod plan;
mod template;

#[cfg(test)]
mod examples;

pub use error::{ProvisioningError, TemplateError, TemplateErrorKind};
pub use intrinsic::FUNCTIONS;
pub use plan::{
    CertificateFields, CertificatePlan, CertificateSource, Plan, PolicyPlan, PolicySource,
    ThingPlan,
};
pub use template::{
    MAX_BODY, Override, PSEUDO_PARAMETERS, Parameter, Resource, ResourceType, Template, Use,
};
