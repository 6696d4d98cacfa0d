//! Attachments: policies to targets (certificate ARNs, thing-group ARNs, Cognito ids) and
//! principals to things (with the EXCLUSIVE_THING flag), with their list operations (§3.5, §4.1).
//! Principals and targets are stored as the caller's text; certificate ARNs are also resolved to
//! certificate ids, and thing-group ARNs to group names, so that deleting the certificate or the
//! group and the broker's lookup can follow them. It does not build ARNs or evaluate policies.

use rusqlite::{Connection, OptionalExtension, params};

use crate::Store;
use crate::certificates::read_certificate;
use crate::error::{ResourceKind, SqlContext, StoreError};
use crate::page::{Page, PageRequest};
use crate::policies::read_policy;
use crate::things::read_thing;
use crate::transaction::Tx;

/// One thing↔principal attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingPrincipal {
    pub thing_name: String,
    pub principal: String,
    /// `thingPrincipalType = EXCLUSIVE_THING`: the principal may belong to this thing only.
    pub exclusive: bool,
}

/// The certificate id in a certificate ARN (`arn:<partition>:iot:<region>:<account>:cert/<id>`),
/// or `None` for any other principal.
pub fn certificate_id_of_principal(principal: &str) -> Option<&str> {
    let mut parts = principal.splitn(6, ':');
    let (arn, _partition, service, _region, _account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if arn != "arn" || service != "iot" {
        return None;
    }
    let id = resource.strip_prefix("cert/")?;
    crate::certificates::check_certificate_id(id).ok()?;
    Some(id)
}

/// AWS: "You can attach a maximum number of two policies to a group" (developer guide, "Static
/// thing groups").
pub const MAX_POLICIES_PER_THING_GROUP: usize = 2;

/// The group name in a thing-group ARN (`arn:<partition>:iot:<region>:<account>:thinggroup/<name>`),
/// or `None` for any other target.
pub fn thing_group_of_target(target: &str) -> Option<&str> {
    let mut parts = target.splitn(6, ':');
    let (arn, _partition, service, _region, _account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if arn != "arn" || service != "iot" {
        return None;
    }
    resource
        .strip_prefix("thinggroup/")
        .filter(|name| !name.is_empty() && !name.contains('/'))
}

impl Store {
    /// AttachPolicy. The policy must exist; a certificate target must be a registered
    /// certificate; a thing-group target must be an existing group with fewer than
    /// [`MAX_POLICIES_PER_THING_GROUP`] policies (`LimitExceeded`). Returns `false` when it was
    /// already attached (nothing changes).
    pub fn attach_policy(&mut self, policy: &str, target: &str) -> Result<bool, StoreError> {
        self.write("attach policy", |tx| attach_policy(tx, policy, target))
    }

    /// ListAttachedPolicies with `recursive` for a thing group: the policies attached to the
    /// group and to its ancestors, sorted by name, each once. The group must exist.
    pub fn list_thing_group_policies_recursive(
        &self,
        group: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        if crate::thing_groups::read_thing_group(&self.conn, &self.label, group)?.is_none() {
            return Err(StoreError::not_found(ResourceKind::ThingGroup, group));
        }
        let (dir, cmp) = page.sql_order();
        self.names_page(
            &format!(
                "WITH RECURSIVE up(name) AS (SELECT ?1 UNION ALL
                    SELECT g.parent FROM thing_groups g JOIN up ON g.name = up.name
                    WHERE g.parent IS NOT NULL)
                 SELECT DISTINCT policy_name FROM policy_targets
                 WHERE thing_group IN (SELECT name FROM up)
                   AND (?2 IS NULL OR policy_name {cmp} ?2) ORDER BY policy_name {dir} LIMIT ?3"
            ),
            group,
            page,
            "list thing group policies",
        )
    }

    /// DetachPolicy. The policy must exist; returns `false` when it was not attached.
    pub fn detach_policy(&mut self, policy: &str, target: &str) -> Result<bool, StoreError> {
        self.write("detach policy", |tx| {
            if read_policy(tx, tx.label(), policy)?.is_none() {
                return Err(StoreError::not_found(ResourceKind::Policy, policy));
            }
            let n = tx
                .execute(
                    "DELETE FROM policy_targets WHERE policy_name = ?1 AND target = ?2",
                    params![policy, target],
                )
                .ctx(tx.label(), "detach policy")?;
            Ok(n > 0)
        })
    }

    /// ListAttachedPolicies (non-recursive): names of the policies attached to `target`.
    pub fn list_attached_policies(
        &self,
        target: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        let (dir, cmp) = page.sql_order();
        self.names_page(
            &format!(
                "SELECT policy_name FROM policy_targets WHERE target = ?1 \
                 AND (?2 IS NULL OR policy_name {cmp} ?2) ORDER BY policy_name {dir} LIMIT ?3"
            ),
            target,
            page,
            "list attached policies",
        )
    }

    /// ListTargetsForPolicy: the targets a policy is attached to.
    pub fn list_policy_targets(
        &self,
        policy: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        if read_policy(&self.conn, &self.label, policy)?.is_none() {
            return Err(StoreError::not_found(ResourceKind::Policy, policy));
        }
        let (dir, cmp) = page.sql_order();
        self.names_page(
            &format!(
                "SELECT target FROM policy_targets WHERE policy_name = ?1 \
                 AND (?2 IS NULL OR target {cmp} ?2) ORDER BY target {dir} LIMIT ?3"
            ),
            policy,
            page,
            "list policy targets",
        )
    }

    /// AttachThingPrincipal. The thing must exist; a certificate principal must be registered.
    /// An exclusive attachment is refused while the principal is attached to another thing, and
    /// any attachment is refused while the principal is exclusively attached elsewhere.
    /// Attaching an existing pair again updates its exclusive flag.
    pub fn attach_thing_principal(
        &mut self,
        thing: &str,
        principal: &str,
        exclusive: bool,
    ) -> Result<(), StoreError> {
        self.write("attach thing principal", |tx| {
            attach_thing_principal(tx, thing, principal, exclusive)
        })
    }

    /// DetachThingPrincipal. The thing must exist; returns `false` when it was not attached.
    pub fn detach_thing_principal(
        &mut self,
        thing: &str,
        principal: &str,
    ) -> Result<bool, StoreError> {
        self.write("detach thing principal", |tx| {
            if read_thing(tx, tx.label(), thing)?.is_none() {
                return Err(StoreError::not_found(ResourceKind::Thing, thing));
            }
            let n = tx
                .execute(
                    "DELETE FROM thing_principals WHERE thing_name = ?1 AND principal = ?2",
                    params![thing, principal],
                )
                .ctx(tx.label(), "detach thing principal")?;
            Ok(n > 0)
        })
    }

    /// ListThingPrincipals(V2): the principals attached to a thing, sorted by principal.
    pub fn list_thing_principals(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<ThingPrincipal>, StoreError> {
        if read_thing(&self.conn, &self.label, thing)?.is_none() {
            return Err(StoreError::not_found(ResourceKind::Thing, thing));
        }
        let (dir, cmp) = page.sql_order();
        let rows = self.thing_principal_rows(
            &format!(
                "SELECT thing_name, principal, exclusive FROM thing_principals \
                 WHERE thing_name = ?1 AND (?2 IS NULL OR principal {cmp} ?2) \
                 ORDER BY principal {dir} LIMIT ?3"
            ),
            thing,
            page,
        )?;
        Ok(Page::from_probe(rows, page, |p| p.principal.clone()))
    }

    /// ListPrincipalThings(V2): the things a principal is attached to, sorted by thing name.
    pub fn list_principal_things(
        &self,
        principal: &str,
        page: &PageRequest,
    ) -> Result<Page<ThingPrincipal>, StoreError> {
        let (dir, cmp) = page.sql_order();
        let rows = self.thing_principal_rows(
            &format!(
                "SELECT thing_name, principal, exclusive FROM thing_principals \
                 WHERE principal = ?1 AND (?2 IS NULL OR thing_name {cmp} ?2) \
                 ORDER BY thing_name {dir} LIMIT ?3"
            ),
            principal,
            page,
        )?;
        Ok(Page::from_probe(rows, page, |p| p.thing_name.clone()))
    }

    fn thing_principal_rows(
        &self,
        sql: &str,
        key: &str,
        page: &PageRequest,
    ) -> Result<Vec<ThingPrincipal>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .ctx(&self.label, "list thing principals")?;
        stmt.query_map(params![key, page.token, page.probe_limit()], |r| {
            Ok(ThingPrincipal {
                thing_name: r.get(0)?,
                principal: r.get(1)?,
                exclusive: r.get(2)?,
            })
        })
        .and_then(|r| r.collect::<Result<Vec<_>, _>>())
        .ctx(&self.label, "list thing principals")
    }

    fn names_page(
        &self,
        sql: &str,
        key: &str,
        page: &PageRequest,
        context: &'static str,
    ) -> Result<Page<String>, StoreError> {
        let mut stmt = self.conn.prepare(sql).ctx(&self.label, context)?;
        let rows = stmt
            .query_map(params![key, page.token, page.probe_limit()], |r| r.get(0))
            .and_then(|r| r.collect::<Result<Vec<String>, _>>())
            .ctx(&self.label, context)?;
        Ok(Page::from_probe(rows, page, Clone::clone))
    }
}

/// A thing group a policy is attached to must exist and have room for the policy (attaching an
/// attached policy again changes nothing and is not refused).
/// AttachPolicy inside an open transaction.
pub(crate) fn attach_policy(tx: &Tx<'_>, policy: &str, target: &str) -> Result<bool, StoreError> {
    let label = tx.label();
    if read_policy(tx, label, policy)?.is_none() {
        return Err(StoreError::not_found(ResourceKind::Policy, policy));
    }
    let cert = registered_certificate(tx, label, target)?;
    let group = thing_group_of_target(target);
    if let Some(group) = group {
        check_group_target(tx, label, group, policy)?;
    }
    let n = tx
        .execute(
            "INSERT OR IGNORE INTO policy_targets (policy_name, target, certificate_id, \
                     thing_group) VALUES (?1, ?2, ?3, ?4)",
            params![policy, target, cert, group],
        )
        .ctx(label, "attach policy")?;
    Ok(n > 0)
}

/// AttachThingPrincipal inside an open transaction.
pub(crate) fn attach_thing_principal(
    tx: &Tx<'_>,
    thing: &str,
    principal: &str,
    exclusive: bool,
) -> Result<(), StoreError> {
    let label = tx.label();
    if read_thing(tx, label, thing)?.is_none() {
        return Err(StoreError::not_found(ResourceKind::Thing, thing));
    }
    let cert = registered_certificate(tx, label, principal)?;
    let other: Option<(String, bool)> = tx
        .query_row(
            "SELECT thing_name, exclusive FROM thing_principals \
                     WHERE principal = ?1 AND thing_name <> ?2 ORDER BY exclusive DESC LIMIT 1",
            params![principal, thing],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .ctx(label, "read thing principals")?;
    if let Some((other_thing, other_exclusive)) = other {
        if other_exclusive {
            return Err(StoreError::InvalidRequest(format!(
                "principal {principal} is exclusively attached to thing {other_thing}; \
                         detach it there first"
            )));
        }
        if exclusive {
            return Err(StoreError::InvalidRequest(format!(
                "principal {principal} cannot be attached exclusively to {thing}: it is \
                         also attached to thing {other_thing}"
            )));
        }
    }
    tx.execute(
        "INSERT INTO thing_principals (thing_name, principal, certificate_id, exclusive) \
                 VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (thing_name, principal) DO UPDATE SET exclusive = excluded.exclusive",
        params![thing, principal, cert, exclusive],
    )
    .ctx(label, "attach thing principal")?;
    Ok(())
}

fn check_group_target(
    conn: &Connection,
    label: &str,
    group: &str,
    policy: &str,
) -> Result<(), StoreError> {
    if crate::thing_groups::read_thing_group(conn, label, group)?.is_none() {
        return Err(StoreError::not_found(ResourceKind::ThingGroup, group));
    }
    let attached: Vec<String> = conn
        .prepare("SELECT policy_name FROM policy_targets WHERE thing_group = ?1")
        .and_then(|mut stmt| {
            stmt.query_map([group], |r| r.get(0))
                .and_then(|rows| rows.collect())
        })
        .ctx(label, "count thing group policies")?;
    if attached.len() >= MAX_POLICIES_PER_THING_GROUP && !attached.iter().any(|p| p == policy) {
        return Err(StoreError::LimitExceeded(format!(
            "thing group {group} already has {MAX_POLICIES_PER_THING_GROUP} policies ({}), the \
             most AWS IoT attaches to a group; detach one first",
            attached.join(", ")
        )));
    }
    Ok(())
}

/// The certificate id of a certificate-ARN principal or target, which must be registered;
/// `None` for any other kind of principal.
fn registered_certificate<'p>(
    conn: &Connection,
    label: &str,
    principal: &'p str,
) -> Result<Option<&'p str>, StoreError> {
    let cert = certificate_id_of_principal(principal);
    if let Some(id) = cert
        && read_certificate(conn, label, id)?.is_none()
    {
        return Err(StoreError::not_found(ResourceKind::Certificate, id));
    }
    Ok(cert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_arns_yield_their_id() {
        let id = "0123456789abcdef".repeat(4);
        let arn = format!("arn:aws:iot:eu-west-1:123456789012:cert/{id}");
        assert_eq!(certificate_id_of_principal(&arn), Some(id.as_str()));
        let cn = format!("arn:aws-cn:iot:cn-north-1:123456789012:cert/{id}");
        assert_eq!(certificate_id_of_principal(&cn), Some(id.as_str()));
        for other in [
            "arn:aws:iot:eu-west-1:123456789012:thinggroup/g".to_owned(),
            format!("arn:aws:iam:eu-west-1:123456789012:cert/{id}"),
            "arn:aws:iot:eu-west-1:123456789012:cert/short".to_owned(),
            "eu-west-1:7c1d-cognito".to_owned(),
            id.clone(),
        ] {
            assert_eq!(certificate_id_of_principal(&other), None, "{other}");
        }
    }

    #[test]
    fn thing_group_arns_yield_their_name() {
        let arn = "arn:aws:iot:eu-west-1:123456789012:thinggroup/lights:red";
        assert_eq!(thing_group_of_target(arn), Some("lights:red"));
        for other in [
            "arn:aws:iot:eu-west-1:123456789012:thinggroup/",
            "arn:aws:iot:eu-west-1:123456789012:thing/lamp",
            "arn:aws:iam:eu-west-1:123456789012:thinggroup/g",
            "arn:aws:iot:eu-west-1:123456789012:thinggroup/a/b",
            "thinggroup/g",
        ] {
            assert_eq!(thing_group_of_target(other), None, "{other}");
        }
    }
}
