//! Attachments: AttachPolicy, DetachPolicy, ListAttachedPolicies, ListTargetsForPolicy, the
//! legacy Attach/DetachPrincipalPolicy and ListPrincipalPolicies (`x-amzn-iot-principal`), and
//! AttachThingPrincipal, DetachThingPrincipal, ListThingPrincipals, ListPrincipalThings
//! (`x-amzn-principal`). Principals and targets are passed to the store as written; the store
//! resolves certificate and thing-group ARNs and applies the rules. ListAttachedPolicies with
//! `recursive` lists a thing group's policies with its ancestors'; for any other target it is
//! the plain list (AWS documents `recursive` for groups only).

use serde_json::{Map, Value, json};
use store::{Order, Page};

use super::{Api, ApiError, Request, put_opt, required_str};

const PRINCIPAL: &str = "x-amzn-principal";
const IOT_PRINCIPAL: &str = "x-amzn-iot-principal";

/// AttachPolicy: `PUT /target-policies/{policyName}`, body `target`.
pub(super) fn attach_policy(api: &Api, req: &Request, policy: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let target = required_str(&body, "target")?;
    attach(api, policy, target)
}

/// DetachPolicy: `POST /target-policies/{policyName}`, body `target`.
pub(super) fn detach_policy(api: &Api, req: &Request, policy: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let target = required_str(&body, "target")?;
    detach(api, policy, target)
}

/// AttachPrincipalPolicy (deprecated, still in old scripts): `PUT /principal-policies/{name}`.
pub(super) fn attach_principal_policy(
    api: &Api,
    req: &Request,
    policy: &str,
) -> Result<Value, ApiError> {
    attach(api, policy, req.required_header(IOT_PRINCIPAL)?)
}

/// DetachPrincipalPolicy (deprecated): `DELETE /principal-policies/{name}`.
pub(super) fn detach_principal_policy(
    api: &Api,
    req: &Request,
    policy: &str,
) -> Result<Value, ApiError> {
    detach(api, policy, req.required_header(IOT_PRINCIPAL)?)
}

fn attach(api: &Api, policy: &str, target: &str) -> Result<Value, ApiError> {
    api.registry(|s| s.attach_policy(policy, target))?;
    Ok(json!({}))
}

fn detach(api: &Api, policy: &str, target: &str) -> Result<Value, ApiError> {
    api.registry(|s| s.detach_policy(policy, target))?;
    Ok(json!({}))
}

/// ListAttachedPolicies: `POST /attached-policies/{target}?marker=&pageSize=`.
pub(super) fn list_attached_policies(
    api: &Api,
    req: &Request,
    target: &str,
) -> Result<Value, ApiError> {
    let page = req.page("marker", "pageSize", 250, Order::Ascending)?;
    match store::thing_group_of_target(target) {
        Some(group) if req.query_bool("recursive")? == Some(true) => {
            let result = api.registry(|s| s.list_thing_group_policies_recursive(group, &page))?;
            Ok(policy_list(api, result))
        }
        Some(group) => {
            if api.registry(|s| s.thing_group(group))?.is_none() {
                return Err(ApiError::not_found(format!(
                    "thing group {group} of target {target} does not exist"
                )));
            }
            policies_of(api, target, &page)
        }
        None => policies_of(api, target, &page),
    }
}

/// ListPrincipalPolicies (deprecated): `GET /principal-policies`, header `x-amzn-iot-principal`.
pub(super) fn list_principal_policies(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let order = match req.query_bool("isAscendingOrder")? {
        Some(false) => Order::Descending,
        _ => Order::Ascending,
    };
    let page = req.page("marker", "pageSize", 250, order)?;
    policies_of(api, req.required_header(IOT_PRINCIPAL)?, &page)
}

fn policies_of(api: &Api, target: &str, page: &store::PageRequest) -> Result<Value, ApiError> {
    let result = api.registry(|s| s.list_attached_policies(target, page))?;
    Ok(policy_list(api, result))
}

fn policy_list(api: &Api, result: Page<String>) -> Value {
    let policies: Vec<Value> = result
        .items
        .iter()
        .map(|name| json!({ "policyName": name, "policyArn": api.arns.policy(name) }))
        .collect();
    let mut out = Map::new();
    out.insert("policies".into(), Value::Array(policies));
    put_opt(&mut out, "nextMarker", result.next_token.map(Value::String));
    Value::Object(out)
}

/// ListTargetsForPolicy: `POST /policy-targets/{policyName}?marker=&pageSize=`.
pub(super) fn list_targets_for_policy(
    api: &Api,
    req: &Request,
    policy: &str,
) -> Result<Value, ApiError> {
    let page = req.page("marker", "pageSize", 250, Order::Ascending)?;
    let result = api.registry(|s| s.list_policy_targets(policy, &page))?;
    Ok(names_page("targets", "nextMarker", result))
}

/// AttachThingPrincipal: `PUT /things/{thingName}/principals?thingPrincipalType=`.
pub(super) fn attach_thing_principal(
    api: &Api,
    req: &Request,
    thing: &str,
) -> Result<Value, ApiError> {
    let principal = req.required_header(PRINCIPAL)?;
    let exclusive = match req.query("thingPrincipalType") {
        None | Some("NON_EXCLUSIVE_THING") => false,
        Some("EXCLUSIVE_THING") => true,
        Some(other) => {
            return Err(ApiError::invalid_request(format!(
                "thingPrincipalType {other:?} is not EXCLUSIVE_THING or NON_EXCLUSIVE_THING"
            )));
        }
    };
    api.registry(|s| s.attach_thing_principal(thing, principal, exclusive))?;
    Ok(json!({}))
}

/// DetachThingPrincipal: `DELETE /things/{thingName}/principals`.
pub(super) fn detach_thing_principal(
    api: &Api,
    req: &Request,
    thing: &str,
) -> Result<Value, ApiError> {
    let principal = req.required_header(PRINCIPAL)?;
    api.registry(|s| s.detach_thing_principal(thing, principal))?;
    Ok(json!({}))
}

/// ListThingPrincipals: `GET /things/{thingName}/principals?nextToken=&maxResults=`.
pub(super) fn list_thing_principals(
    api: &Api,
    req: &Request,
    thing: &str,
) -> Result<Value, ApiError> {
    let page = req.page("nextToken", "maxResults", 250, Order::Ascending)?;
    let result = api.registry(|s| s.list_thing_principals(thing, &page))?;
    let names = Page {
        items: result.items.into_iter().map(|p| p.principal).collect(),
        next_token: result.next_token,
    };
    Ok(names_page("principals", "nextToken", names))
}

/// ListPrincipalThings: `GET /principals/things?nextToken=&maxResults=`, `x-amzn-principal`.
pub(super) fn list_principal_things(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let principal = req.required_header(PRINCIPAL)?;
    let page = req.page("nextToken", "maxResults", 250, Order::Ascending)?;
    let result = api.registry(|s| s.list_principal_things(principal, &page))?;
    let names = Page {
        items: result.items.into_iter().map(|p| p.thing_name).collect(),
        next_token: result.next_token,
    };
    Ok(names_page("things", "nextToken", names))
}

fn names_page(member: &str, token_member: &str, page: Page<String>) -> Value {
    let mut out = Map::new();
    out.insert(
        member.to_owned(),
        Value::Array(page.items.into_iter().map(Value::String).collect()),
    );
    put_opt(&mut out, token_member, page.next_token.map(Value::String));
    Value::Object(out)
}
