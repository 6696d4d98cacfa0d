//! AWS IoT policy documents: parse the IAM-style JSON, substitute policy variables from a
//! request context, and decide requests (default deny, explicit deny wins). Pure: no IO, no
//! clock, no async; which policies apply to a principal is the caller's business.
//!
//! ```
//! use iot_policy::{Action, Policy, RequestContext, ResourceKind, evaluate};
//!
//! let policy = Policy::parse(r#"{
//!     "Version": "2012-10-17",
//!     "Statement": [{
//!         "Effect": "Allow",
//!         "Action": "iot:Publish",
//!         "Resource": "arn:aws:iot:us-east-1:123456789012:topic/${iot:ClientId}/*"
//!     }]
//! }"#)?;
//! let ctx = RequestContext {
//!     region: "us-east-1".into(),
//!     account: "123456789012".into(),
//!     client_id: Some("dev-1".into()),
//!     ..RequestContext::default()
//! };
//! let topic = ctx.arn(ResourceKind::Topic, "dev-1/telemetry");
//! let decision = evaluate(&[("dev-policy", &policy)], &ctx, Action::Publish, &topic);
//! assert_eq!(decision.to_string(), r#"allowed by policy "dev-policy" Statement[0]"#);
//! # Ok::<(), iot_policy::PolicyError>(())
//! ```

mod action;
mod condition;
mod context;
mod document;
mod error;
mod evaluate;
pub mod fuzz;
mod json;
mod resource;
mod template;
mod variable;

pub use action::{Action, UnknownAction};
pub use context::{
    ALT_NAME_ATTRIBUTES, CertificateInfo, ConnectAttributes, DN_ATTRIBUTES, RequestContext,
    ThingInfo,
};
pub use document::{
    AWS_MAX_POLICY_CHARACTERS, Effect, Policy, PolicyVersion, Statement, check_aws_size_limit,
};
pub use error::PolicyError;
pub use evaluate::{Decision, evaluate};
pub use resource::{ANY_RESOURCE, ResourceKind, arn, partition};
