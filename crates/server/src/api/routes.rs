//! The route table: every operation the API answers, as data — HTTP method, path pattern (as in
//! botocore's service models, `{label}` for a path label), AWS operation and service name, and
//! the handler. `handle_inner` finds the route and runs it; `docs/aws-api-coverage.md` is
//! generated from this table. The handlers live in one file per resource group; nothing here
//! decides anything about a request.

use axum::http::Method;

use super::provisioning::ProvisioningOp;
use super::rules::RuleOp;
use super::{
    Api, ApiError, Reply, Request, attachments, authorizers, ca_certificates, certificates, data,
    endpoint, events, policies, thing_groups, thing_types, things,
};

/// What runs a route.
#[derive(Clone, Copy)]
pub(super) enum Handler {
    /// A registry operation on the API's store connection, run on the blocking pool. Gets the
    /// request and the path labels in order.
    Blocking(fn(&Api, &Request, &[String]) -> Result<Reply, ApiError>),
    /// iot-data Publish: the message goes to the router.
    Publish,
    /// iot-data DeleteConnection: the router closes the connection (`connections.rs`).
    DeleteConnection,
    /// A Device Shadow operation, run on the services worker.
    Shadow(ShadowOp),
    /// TestInvokeAuthorizer: calls the authorizer's function (`authorizers.rs`).
    TestInvokeAuthorizer,
    /// A Jobs operation (control plane, or the device plane when signed for `iot-jobs-data`),
    /// run on the services worker (`jobs.rs`, `jobs_data.rs`).
    Jobs,
    /// A fleet provisioning operation, run on the services worker (`provisioning.rs`).
    Provisioning(ProvisioningOp),
    /// A topic rule or destination operation, run on the services worker.
    Rules(RuleOp),
}

/// The Device Shadow operations of the `iot-data` plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ShadowOp {
    Get,
    Update,
    Delete,
    ListNamed,
}

/// One operation.
pub(super) struct Route {
    pub(super) method: Method,
    /// The path pattern, e.g. `/things/{thingName}/principals`.
    pub(super) path: &'static str,
    /// AWS's operation name, e.g. `ListThingPrincipals`.
    pub(super) operation: &'static str,
    /// The AWS service: `iot`, `iot-data` or `iot-jobs-data`.
    pub(super) service: &'static str,
    pub(super) handler: Handler,
}

/// Path label `i` of a matched route (always present: the route pattern has it).
fn label(labels: &[String], i: usize) -> &str {
    labels.get(i).map_or("", String::as_str)
}

macro_rules! route {
    ($method:ident $path:literal $operation:ident $service:literal => |$api:ident, $req:ident, $l:ident| $body:expr) => {
        Route {
            method: Method::$method,
            path: $path,
            operation: stringify!($operation),
            service: $service,
            handler: Handler::Blocking(|$api, $req, $l| {
                let _ = (&$req, &$l);
                $body.map(Reply::from)
            }),
        }
    };
    ($method:ident $path:literal $operation:ident $service:literal => $handler:expr) => {
        Route {
            method: Method::$method,
            path: $path,
            operation: stringify!($operation),
            service: $service,
            handler: $handler,
        }
    };
}

/// Every route, in the order they are tried.
pub(super) static ROUTES: &[Route] = &[
    route!(GET "/endpoint" DescribeEndpoint "iot" => |a, r, l| endpoint::describe(a, r)),
    route!(GET "/registrationcode" GetRegistrationCode "iot" =>
        |a, r, l| Ok::<_, ApiError>(ca_certificates::registration_code(a))),
    route!(GET "/event-configurations" DescribeEventConfigurations "iot" =>
        |a, r, l| events::describe(a)),
    route!(PATCH "/event-configurations" UpdateEventConfigurations "iot" =>
        |a, r, l| events::update(a, r)),
    route!(GET "/things" ListThings "iot" => |a, r, l| things::list(a, r)),
    route!(POST "/things/{thingName}" CreateThing "iot" =>
        |a, r, l| things::create(a, r, label(l, 0))),
    route!(GET "/things/{thingName}" DescribeThing "iot" =>
        |a, r, l| things::describe(a, label(l, 0))),
    route!(PATCH "/things/{thingName}" UpdateThing "iot" =>
        |a, r, l| things::update(a, r, label(l, 0))),
    route!(DELETE "/things/{thingName}" DeleteThing "iot" =>
        |a, r, l| things::delete(a, r, label(l, 0))),
    route!(PUT "/things/{thingName}/principals" AttachThingPrincipal "iot" =>
        |a, r, l| attachments::attach_thing_principal(a, r, label(l, 0))),
    route!(DELETE "/things/{thingName}/principals" DetachThingPrincipal "iot" =>
        |a, r, l| attachments::detach_thing_principal(a, r, label(l, 0))),
    route!(GET "/things/{thingName}/principals" ListThingPrincipals "iot" =>
        |a, r, l| attachments::list_thing_principals(a, r, label(l, 0))),
    route!(GET "/principals/things" ListPrincipalThings "iot" =>
        |a, r, l| attachments::list_principal_things(a, r)),
    route!(GET "/things/{thingName}/thing-groups" ListThingGroupsForThing "iot" =>
        |a, r, l| thing_groups::groups_for_thing(a, r, label(l, 0))),
    route!(GET "/thing-groups" ListThingGroups "iot" => |a, r, l| thing_groups::list(a, r)),
    route!(POST "/thing-groups/{thingGroupName}" CreateThingGroup "iot" =>
        |a, r, l| thing_groups::create(a, r, label(l, 0))),
    route!(GET "/thing-groups/{thingGroupName}" DescribeThingGroup "iot" =>
        |a, r, l| thing_groups::describe(a, label(l, 0))),
    route!(PATCH "/thing-groups/{thingGroupName}" UpdateThingGroup "iot" =>
        |a, r, l| thing_groups::update(a, r, label(l, 0))),
    route!(DELETE "/thing-groups/{thingGroupName}" DeleteThingGroup "iot" =>
        |a, r, l| thing_groups::delete(a, r, label(l, 0))),
    route!(PUT "/thing-groups/addThingToThingGroup" AddThingToThingGroup "iot" =>
        |a, r, l| thing_groups::add_thing(a, r)),
    route!(PUT "/thing-groups/removeThingFromThingGroup" RemoveThingFromThingGroup "iot" =>
        |a, r, l| thing_groups::remove_thing(a, r)),
    route!(PUT "/thing-groups/updateThingGroupsForThing" UpdateThingGroupsForThing "iot" =>
        |a, r, l| thing_groups::update_groups_for_thing(a, r)),
    route!(GET "/thing-groups/{thingGroupName}/things" ListThingsInThingGroup "iot" =>
        |a, r, l| thing_groups::list_things(a, r, label(l, 0))),
    route!(POST "/dynamic-thing-groups/{thingGroupName}" CreateDynamicThingGroup "iot" =>
        |_a, r, l| thing_groups::dynamic_refused(label(l, 0))),
    route!(PATCH "/dynamic-thing-groups/{thingGroupName}" UpdateDynamicThingGroup "iot" =>
        |_a, r, l| thing_groups::dynamic_refused(label(l, 0))),
    route!(DELETE "/dynamic-thing-groups/{thingGroupName}" DeleteDynamicThingGroup "iot" =>
        |_a, r, l| thing_groups::dynamic_refused(label(l, 0))),
    route!(GET "/thing-types" ListThingTypes "iot" => |a, r, l| thing_types::list(a, r)),
    route!(POST "/thing-types/{thingTypeName}" CreateThingType "iot" =>
        |a, r, l| thing_types::create(a, r, label(l, 0))),
    route!(GET "/thing-types/{thingTypeName}" DescribeThingType "iot" =>
        |a, r, l| thing_types::describe(a, label(l, 0))),
    route!(PATCH "/thing-types/{thingTypeName}" UpdateThingType "iot" =>
        |a, r, l| thing_types::update(a, r, label(l, 0))),
    route!(POST "/thing-types/{thingTypeName}/deprecate" DeprecateThingType "iot" =>
        |a, r, l| thing_types::deprecate(a, r, label(l, 0))),
    route!(DELETE "/thing-types/{thingTypeName}" DeleteThingType "iot" =>
        |a, r, l| thing_types::delete(a, label(l, 0))),
    route!(POST "/keys-and-certificate" CreateKeysAndCertificate "iot" =>
        |a, r, l| certificates::create_keys_and_certificate(a, r)),
    route!(POST "/certificates" CreateCertificateFromCsr "iot" =>
        |a, r, l| certificates::create_from_csr(a, r)),
    route!(GET "/certificates" ListCertificates "iot" => |a, r, l| certificates::list(a, r)),
    route!(GET "/certificates/{certificateId}" DescribeCertificate "iot" =>
        |a, r, l| certificates::describe(a, label(l, 0))),
    route!(PUT "/certificates/{certificateId}" UpdateCertificate "iot" =>
        |a, r, l| certificates::update(a, r, label(l, 0))),
    route!(DELETE "/certificates/{certificateId}" DeleteCertificate "iot" =>
        |a, r, l| certificates::delete(a, r, label(l, 0))),
    route!(POST "/certificate/register" RegisterCertificate "iot" =>
        |a, r, l| certificates::register(a, r)),
    route!(POST "/certificate/register-no-ca" RegisterCertificateWithoutCA "iot" =>
        |a, r, l| certificates::register_without_ca(a, r)),
    route!(GET "/certificates-by-ca/{caCertificateId}" ListCertificatesByCA "iot" =>
        |a, r, l| certificates::list_by_ca(a, r, label(l, 0))),
    route!(POST "/cacertificate" RegisterCACertificate "iot" =>
        |a, r, l| ca_certificates::register_ca(a, r)),
    route!(GET "/cacertificate/{caCertificateId}" DescribeCACertificate "iot" =>
        |a, r, l| ca_certificates::describe_ca(a, label(l, 0))),
    route!(PUT "/cacertificate/{caCertificateId}" UpdateCACertificate "iot" =>
        |a, r, l| ca_certificates::update_ca(a, r, label(l, 0))),
    route!(DELETE "/cacertificate/{caCertificateId}" DeleteCACertificate "iot" =>
        |a, r, l| ca_certificates::delete_ca(a, label(l, 0))),
    route!(GET "/cacertificates" ListCACertificates "iot" =>
        |a, r, l| ca_certificates::list_ca(a, r)),
    route!(GET "/policies" ListPolicies "iot" => |a, r, l| policies::list(a, r)),
    route!(POST "/policies/{policyName}" CreatePolicy "iot" =>
        |a, r, l| policies::create(a, r, label(l, 0))),
    route!(GET "/policies/{policyName}" GetPolicy "iot" =>
        |a, r, l| policies::get(a, label(l, 0))),
    route!(DELETE "/policies/{policyName}" DeletePolicy "iot" =>
        |a, r, l| policies::delete(a, label(l, 0))),
    route!(POST "/policies/{policyName}/version" CreatePolicyVersion "iot" =>
        |a, r, l| policies::create_version(a, r, label(l, 0))),
    route!(GET "/policies/{policyName}/version" ListPolicyVersions "iot" =>
        |a, r, l| policies::list_versions(a, label(l, 0))),
    route!(GET "/policies/{policyName}/version/{policyVersionId}" GetPolicyVersion "iot" =>
        |a, r, l| policies::get_version(a, label(l, 0), label(l, 1))),
    route!(PATCH "/policies/{policyName}/version/{policyVersionId}" SetDefaultPolicyVersion "iot" =>
        |a, r, l| policies::set_default_version(a, label(l, 0), label(l, 1))),
    route!(DELETE "/policies/{policyName}/version/{policyVersionId}" DeletePolicyVersion "iot" =>
        |a, r, l| policies::delete_version(a, label(l, 0), label(l, 1))),
    route!(PUT "/target-policies/{policyName}" AttachPolicy "iot" =>
        |a, r, l| attachments::attach_policy(a, r, label(l, 0))),
    route!(POST "/target-policies/{policyName}" DetachPolicy "iot" =>
        |a, r, l| attachments::detach_policy(a, r, label(l, 0))),
    route!(POST "/attached-policies/{target}" ListAttachedPolicies "iot" =>
        |a, r, l| attachments::list_attached_policies(a, r, label(l, 0))),
    route!(POST "/policy-targets/{policyName}" ListTargetsForPolicy "iot" =>
        |a, r, l| attachments::list_targets_for_policy(a, r, label(l, 0))),
    route!(PUT "/principal-policies/{policyName}" AttachPrincipalPolicy "iot" =>
        |a, r, l| attachments::attach_principal_policy(a, r, label(l, 0))),
    route!(DELETE "/principal-policies/{policyName}" DetachPrincipalPolicy "iot" =>
        |a, r, l| attachments::detach_principal_policy(a, r, label(l, 0))),
    route!(GET "/principal-policies" ListPrincipalPolicies "iot" =>
        |a, r, l| attachments::list_principal_policies(a, r)),
    route!(GET "/authorizers/" ListAuthorizers "iot" => |a, r, l| authorizers::list(a, r)),
    route!(POST "/authorizer/{authorizerName}" CreateAuthorizer "iot" =>
        |a, r, l| authorizers::create(a, r, label(l, 0))),
    route!(GET "/authorizer/{authorizerName}" DescribeAuthorizer "iot" =>
        |a, r, l| authorizers::describe(a, label(l, 0))),
    route!(PUT "/authorizer/{authorizerName}" UpdateAuthorizer "iot" =>
        |a, r, l| authorizers::update(a, r, label(l, 0))),
    route!(DELETE "/authorizer/{authorizerName}" DeleteAuthorizer "iot" =>
        |a, r, l| authorizers::delete(a, label(l, 0))),
    route!(POST "/authorizer/{authorizerName}/test" TestInvokeAuthorizer "iot" =>
        Handler::TestInvokeAuthorizer),
    route!(POST "/default-authorizer" SetDefaultAuthorizer "iot" =>
        |a, r, l| authorizers::set_default(a, r)),
    route!(GET "/default-authorizer" DescribeDefaultAuthorizer "iot" =>
        |a, r, l| authorizers::describe_default(a)),
    route!(DELETE "/default-authorizer" ClearDefaultAuthorizer "iot" =>
        |a, r, l| authorizers::clear_default(a)),
    route!(POST "/topics/{topic}" Publish "iot-data" => Handler::Publish),
    route!(DELETE "/connections/{clientId}" DeleteConnection "iot-data" =>
        Handler::DeleteConnection),
    route!(GET "/retainedMessage" ListRetainedMessages "iot-data" =>
        |a, r, l| data::list_retained(a, r)),
    route!(GET "/retainedMessage/{topic}" GetRetainedMessage "iot-data" =>
        |a, r, l| data::get_retained(a, label(l, 0))),
    route!(GET "/things/{thingName}/shadow" GetThingShadow "iot-data" =>
        Handler::Shadow(ShadowOp::Get)),
    route!(POST "/things/{thingName}/shadow" UpdateThingShadow "iot-data" =>
        Handler::Shadow(ShadowOp::Update)),
    route!(DELETE "/things/{thingName}/shadow" DeleteThingShadow "iot-data" =>
        Handler::Shadow(ShadowOp::Delete)),
    route!(GET "/api/things/shadow/ListNamedShadowsForThing/{thingName}" ListNamedShadowsForThing "iot-data" =>
        Handler::Shadow(ShadowOp::ListNamed)),
    route!(GET "/jobs" ListJobs "iot" => Handler::Jobs),
    route!(PUT "/jobs/{jobId}" CreateJob "iot" => Handler::Jobs),
    route!(GET "/jobs/{jobId}" DescribeJob "iot" => Handler::Jobs),
    route!(PATCH "/jobs/{jobId}" UpdateJob "iot" => Handler::Jobs),
    route!(DELETE "/jobs/{jobId}" DeleteJob "iot" => Handler::Jobs),
    route!(PUT "/jobs/{jobId}/cancel" CancelJob "iot" => Handler::Jobs),
    route!(POST "/jobs/{jobId}/targets" AssociateTargetsWithJob "iot" => Handler::Jobs),
    route!(GET "/jobs/{jobId}/job-document" GetJobDocument "iot" => Handler::Jobs),
    route!(GET "/jobs/{jobId}/things" ListJobExecutionsForJob "iot" => Handler::Jobs),
    route!(GET "/things/{thingName}/jobs" ListJobExecutionsForThing "iot" => Handler::Jobs),
    route!(GET "/things/{thingName}/jobs/{jobId}" DescribeJobExecution "iot" => Handler::Jobs),
    route!(PUT "/things/{thingName}/jobs/{jobId}/cancel" CancelJobExecution "iot" => Handler::Jobs),
    route!(DELETE "/things/{thingName}/jobs/{jobId}/executionNumber/{executionNumber}" DeleteJobExecution "iot" =>
        Handler::Jobs),
    route!(GET "/job-templates" ListJobTemplates "iot" => Handler::Jobs),
    route!(PUT "/job-templates/{jobTemplateId}" CreateJobTemplate "iot" => Handler::Jobs),
    route!(GET "/job-templates/{jobTemplateId}" DescribeJobTemplate "iot" => Handler::Jobs),
    route!(DELETE "/job-templates/{jobTemplateId}" DeleteJobTemplate "iot" => Handler::Jobs),
    route!(POST "/provisioning-templates" CreateProvisioningTemplate "iot" =>
        Handler::Provisioning(ProvisioningOp::CreateTemplate)),
    route!(GET "/provisioning-templates" ListProvisioningTemplates "iot" =>
        Handler::Provisioning(ProvisioningOp::ListTemplates)),
    route!(GET "/provisioning-templates/{templateName}" DescribeProvisioningTemplate "iot" =>
        Handler::Provisioning(ProvisioningOp::DescribeTemplate)),
    route!(PATCH "/provisioning-templates/{templateName}" UpdateProvisioningTemplate "iot" =>
        Handler::Provisioning(ProvisioningOp::UpdateTemplate)),
    route!(DELETE "/provisioning-templates/{templateName}" DeleteProvisioningTemplate "iot" =>
        Handler::Provisioning(ProvisioningOp::DeleteTemplate)),
    route!(POST "/provisioning-templates/{templateName}/versions" CreateProvisioningTemplateVersion "iot" =>
        Handler::Provisioning(ProvisioningOp::CreateVersion)),
    route!(GET "/provisioning-templates/{templateName}/versions" ListProvisioningTemplateVersions "iot" =>
        Handler::Provisioning(ProvisioningOp::ListVersions)),
    route!(GET "/provisioning-templates/{templateName}/versions/{versionId}" DescribeProvisioningTemplateVersion "iot" =>
        Handler::Provisioning(ProvisioningOp::DescribeVersion)),
    route!(DELETE "/provisioning-templates/{templateName}/versions/{versionId}" DeleteProvisioningTemplateVersion "iot" =>
        Handler::Provisioning(ProvisioningOp::DeleteVersion)),
    route!(POST "/provisioning-templates/{templateName}/provisioning-claim" CreateProvisioningClaim "iot" =>
        Handler::Provisioning(ProvisioningOp::CreateClaim)),
    route!(POST "/things" RegisterThing "iot" => Handler::Provisioning(ProvisioningOp::RegisterThing)),
    route!(GET "/things/{thingName}/jobs" GetPendingJobExecutions "iot-jobs-data" => Handler::Jobs),
    route!(GET "/things/{thingName}/jobs/{jobId}" DescribeJobExecution "iot-jobs-data" => Handler::Jobs),
    route!(PUT "/things/{thingName}/jobs/$next" StartNextPendingJobExecution "iot-jobs-data" =>
        Handler::Jobs),
    route!(POST "/things/{thingName}/jobs/{jobId}" UpdateJobExecution "iot-jobs-data" => Handler::Jobs),
    route!(GET "/rules" ListTopicRules "iot" => Handler::Rules(RuleOp::List)),
    route!(POST "/rules/{ruleName}" CreateTopicRule "iot" => Handler::Rules(RuleOp::Create)),
    route!(GET "/rules/{ruleName}" GetTopicRule "iot" => Handler::Rules(RuleOp::Get)),
    route!(PATCH "/rules/{ruleName}" ReplaceTopicRule "iot" => Handler::Rules(RuleOp::Replace)),
    route!(DELETE "/rules/{ruleName}" DeleteTopicRule "iot" => Handler::Rules(RuleOp::Delete)),
    route!(POST "/rules/{ruleName}/enable" EnableTopicRule "iot" =>
        Handler::Rules(RuleOp::Enable)),
    route!(POST "/rules/{ruleName}/disable" DisableTopicRule "iot" =>
        Handler::Rules(RuleOp::Disable)),
    route!(POST "/destinations" CreateTopicRuleDestination "iot" =>
        Handler::Rules(RuleOp::CreateDestination)),
    route!(GET "/destinations" ListTopicRuleDestinations "iot" =>
        Handler::Rules(RuleOp::ListDestinations)),
    route!(PATCH "/destinations" UpdateTopicRuleDestination "iot" =>
        Handler::Rules(RuleOp::UpdateDestination)),
    route!(GET "/destinations/{arn+}" GetTopicRuleDestination "iot" =>
        Handler::Rules(RuleOp::GetDestination)),
    route!(DELETE "/destinations/{arn+}" DeleteTopicRuleDestination "iot" =>
        Handler::Rules(RuleOp::DeleteDestination)),
    route!(GET "/confirmdestination/{confirmationToken+}" ConfirmTopicRuleDestination "iot" =>
        Handler::Rules(RuleOp::ConfirmDestination)),
];

/// The service whose routes a request signed for `signing_name` prefers where two services share
/// a path (the control plane and the Jobs data plane do).
fn plane(signing_name: &str) -> &'static str {
    match signing_name {
        "iot-jobs-data" => "iot-jobs-data",
        "iotdata" | "iotdevicegateway" => "iot-data",
        _ => "iot",
    }
}

/// One operation the API answers, for documentation (`docs/aws-api-coverage.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The AWS service: `iot`, `iot-data` or `iot-jobs-data`.
    pub service: &'static str,
    /// AWS's operation name.
    pub name: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The path pattern, `{label}` for path labels.
    pub path: &'static str,
}

/// Every operation of the route table.
pub fn operations() -> Vec<Operation> {
    ROUTES
        .iter()
        .map(|route| Operation {
            service: route.service,
            name: route.operation,
            method: route.method.as_str(),
            path: route.path,
        })
        .collect()
}

/// The route for `method` and the decoded path `segments`, with its path labels in order; of two
/// routes on the same path, the one of the plane `signing_name` names. A greedy label (`{arn+}`,
/// last in its pattern) takes every remaining segment, joined with `/`.
pub(super) fn find(
    method: &Method,
    segments: &[String],
    signing_name: &str,
) -> Option<(&'static Route, Vec<String>)> {
    let wanted = plane(signing_name);
    let mut found = ROUTES
        .iter()
        .filter_map(|route| matches(route, method, segments));
    let first = found.next()?;
    if first.0.service == wanted {
        return Some(first);
    }
    Some(
        found
            .find(|(route, _)| route.service == wanted)
            .unwrap_or(first),
    )
}

/// The path labels of `segments` when `route` answers `method` on them.
fn matches(
    route: &'static Route,
    method: &Method,
    segments: &[String],
) -> Option<(&'static Route, Vec<String>)> {
    if route.method != method {
        return None;
    }
    let pattern: Vec<&str> = route.path.trim_start_matches('/').split('/').collect();
    let greedy = pattern.last().is_some_and(|p| p.ends_with("+}"));
    if pattern.len() != segments.len() && !(greedy && segments.len() > pattern.len()) {
        return None;
    }
    let mut labels = Vec::new();
    for (i, (part, segment)) in pattern.iter().zip(segments).enumerate() {
        if greedy && i + 1 == pattern.len() {
            labels.push(segments.get(i..).unwrap_or_default().join("/"));
        } else if part.starts_with('{') {
            labels.push(segment.clone());
        } else if part != segment {
            return None;
        }
    }
    Some((route, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<String> {
        path.trim_start_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn routes_are_found_with_their_labels_and_unknown_ones_are_not() {
        let (route, labels) =
            find(&Method::GET, &segments("/policies/p/version/3"), "iot").unwrap();
        assert_eq!(route.operation, "GetPolicyVersion");
        assert_eq!(labels, ["p", "3"]);
        let (route, _) = find(&Method::POST, &segments("/target-policies/p"), "iot").unwrap();
        assert_eq!(route.operation, "DetachPolicy");
        assert!(find(&Method::PATCH, &segments("/policies/p"), "iot").is_none());
        assert!(find(&Method::GET, &segments("/no/such/route"), "iot").is_none());
        // The control plane and the Jobs data plane share a path; the signature tells them apart.
        let jobs = segments("/things/t/jobs/j");
        let (control, _) = find(&Method::GET, &jobs, "iot").unwrap();
        assert_eq!(control.service, "iot");
        let (device, _) = find(&Method::GET, &jobs, "iot-jobs-data").unwrap();
        assert_eq!(device.service, "iot-jobs-data");
        let (route, labels) =
            find(&Method::GET, &segments("/thing-groups/g/things"), "iot").unwrap();
        assert_eq!(
            (route.operation, labels),
            ("ListThingsInThingGroup", vec!["g".to_owned()])
        );
        let (route, _) = find(
            &Method::PUT,
            &segments("/thing-groups/addThingToThingGroup"),
            "iot",
        )
        .unwrap();
        assert_eq!(route.operation, "AddThingToThingGroup");
    }

    #[test]
    fn greedy_labels_take_the_rest_of_the_path() {
        let arn = "arn:aws:iot:us-east-1:1:ruledestination/http/ab-cd";
        let (route, labels) = find(
            &Method::GET,
            &segments(&format!("/destinations/{arn}")),
            "iot",
        )
        .unwrap();
        assert_eq!(route.operation, "GetTopicRuleDestination");
        assert_eq!(labels, [arn]);
        let (route, _) = find(&Method::GET, &segments("/destinations"), "iot").unwrap();
        assert_eq!(route.operation, "ListTopicRuleDestinations");
        let (route, labels) = find(&Method::POST, &segments("/rules/r1/enable"), "iot").unwrap();
        assert_eq!(
            (route.operation, labels.as_slice()),
            ("EnableTopicRule", &["r1".to_owned()][..])
        );
    }

    #[test]
    fn every_operation_appears_once_and_every_pattern_is_a_path() {
        let mut seen = std::collections::BTreeSet::new();
        for route in ROUTES {
            assert!(
                seen.insert((route.service, route.operation)),
                "{}",
                route.operation
            );
            assert!(route.path.starts_with('/'), "{}", route.path);
        }
    }
}
