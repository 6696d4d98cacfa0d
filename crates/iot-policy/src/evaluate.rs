//! Evaluation: does a statement apply to a request, and what do a principal's policies decide
//! together (IAM rules: default deny, any applicable Deny wins, otherwise any applicable
//! Allow). It does not choose which policies apply to a principal; the caller passes them.

use std::fmt;

use crate::action::Action;
use crate::context::RequestContext;
use crate::document::{Effect, Policy, Statement};

/// The outcome of [`evaluate`], with what is needed to log why. The names follow AWS
/// TestAuthorization (`ALLOWED`, `EXPLICIT_DENY`, `IMPLICIT_DENY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'p> {
    /// An Allow statement applied and no Deny did. Names the first applicable Allow.
    Allowed {
        /// Name of the policy holding the statement, as passed to [`evaluate`].
        policy: &'p str,
        /// Index of the statement in [`Policy::statements`].
        statement: usize,
        /// The statement's `Sid`, if it has one.
        sid: Option<&'p str>,
    },
    /// A Deny statement applied; it wins over every Allow. Names the first applicable Deny.
    ExplicitDeny {
        /// Name of the policy holding the statement.
        policy: &'p str,
        /// Index of the statement in [`Policy::statements`].
        statement: usize,
        /// The statement's `Sid`, if it has one.
        sid: Option<&'p str>,
    },
    /// No statement allowed the request.
    ImplicitDeny,
}

impl Decision<'_> {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }

    /// The AWS TestAuthorization spelling: `ALLOWED`, `EXPLICIT_DENY` or `IMPLICIT_DENY`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Allowed { .. } => "ALLOWED",
            Decision::ExplicitDeny { .. } => "EXPLICIT_DENY",
            Decision::ImplicitDeny => "IMPLICIT_DENY",
        }
    }
}

impl fmt::Display for Decision<'_> {
    /// E.g. `allowed by policy "dev" Statement[1] (Sid "pub")`, `explicitly denied by policy
    /// "lockdown" Statement[0]`, `implicitly denied: no Allow statement matched`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verb, policy, statement, sid) = match self {
            Decision::Allowed {
                policy,
                statement,
                sid,
            } => ("allowed", policy, statement, sid),
            Decision::ExplicitDeny {
                policy,
                statement,
                sid,
            } => ("explicitly denied", policy, statement, sid),
            Decision::ImplicitDeny => {
                return f.write_str("implicitly denied: no Allow statement matched");
            }
        };
        write!(f, "{verb} by policy {policy:?} Statement[{statement}]")?;
        if let Some(sid) = sid {
            write!(f, " (Sid {sid:?})")?;
        }
        Ok(())
    }
}

impl Statement {
    /// Whether this statement speaks to the request: its action list covers `action` (or its
    /// `NotAction` list does not), its resources match `resource` (or its `NotResource` list
    /// does not), and every condition holds.
    ///
    /// A `Resource` entry whose variables do not resolve matches nothing (other entries still
    /// can); under `NotResource`, one unresolvable entry makes the statement not apply, since
    /// it cannot be shown that the resource is outside the list.
    pub fn applies(&self, ctx: &RequestContext, action: Action, resource: &str) -> bool {
        let listed = self.actions.iter().any(|pattern| pattern.matches(action));
        if listed == self.not_action {
            return false;
        }
        let resource_ok = if self.not_resource {
            self.resources
                .iter()
                .all(|pattern| pattern.matches(ctx, resource) == Some(false))
        } else {
            self.resources
                .iter()
                .any(|pattern| pattern.matches(ctx, resource) == Some(true))
        };
        resource_ok && self.conditions.iter().all(|condition| condition.holds(ctx))
    }
}

/// Decides a request against the named policies of one principal: the first applicable Deny
/// (in the order given) decides; otherwise the first applicable Allow; otherwise an implicit
/// deny. `resource` is a full ARN (see [`crate::arn`]) or [`crate::ANY_RESOURCE`].
pub fn evaluate<'p>(
    policies: &[(&'p str, &'p Policy)],
    context: &RequestContext,
    action: Action,
    resource: &str,
) -> Decision<'p> {
    let mut allowed = None;
    for (name, policy) in policies {
        for (index, statement) in policy.statements().iter().enumerate() {
            let effect = statement.effect();
            // Once an Allow is known, only a Deny can change the outcome.
            if effect == Effect::Allow && allowed.is_some() {
                continue;
            }
            if !statement.applies(context, action, resource) {
                continue;
            }
            let sid = statement.sid();
            match effect {
                Effect::Deny => {
                    return Decision::ExplicitDeny {
                        policy: name,
                        statement: index,
                        sid,
                    };
                }
                Effect::Allow => {
                    allowed = Some(Decision::Allowed {
                        policy: name,
                        statement: index,
                        sid,
                    });
                }
            }
        }
    }
    allowed.unwrap_or(Decision::ImplicitDeny)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_policy_statement_and_sid() {
        let allowed = Decision::Allowed {
            policy: "dev",
            statement: 1,
            sid: Some("pub"),
        };
        assert_eq!(
            allowed.to_string(),
            "allowed by policy \"dev\" Statement[1] (Sid \"pub\")"
        );
        assert_eq!(allowed.as_str(), "ALLOWED");
        let denied = Decision::ExplicitDeny {
            policy: "lockdown",
            statement: 0,
            sid: None,
        };
        assert_eq!(
            denied.to_string(),
            "explicitly denied by policy \"lockdown\" Statement[0]"
        );
        assert!(!denied.is_allowed());
        assert_eq!(
            Decision::ImplicitDeny.to_string(),
            "implicitly denied: no Allow statement matched"
        );
        assert_eq!(Decision::ImplicitDeny.as_str(), "IMPLICIT_DENY");
    }

    #[test]
    fn deny_in_a_later_policy_beats_an_earlier_allow() {
        let allow = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .unwrap();
        let deny = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
            {"Sid":"no","Effect":"Deny","Action":"iot:Publish","Resource":"*"}]}"#,
        )
        .unwrap();
        let ctx = RequestContext::default();
        let policies = [("allow", &allow), ("deny", &deny)];
        assert_eq!(
            evaluate(&policies, &ctx, Action::Publish, "arn:aws:iot:r:1:topic/t"),
            Decision::ExplicitDeny {
                policy: "deny",
                statement: 1,
                sid: Some("no")
            }
        );
        assert_eq!(
            evaluate(&policies, &ctx, Action::Connect, "arn:aws:iot:r:1:client/c"),
            Decision::Allowed {
                policy: "allow",
                statement: 0,
                sid: None
            }
        );
        assert_eq!(
            evaluate(&[], &ctx, Action::Connect, "arn:aws:iot:r:1:client/c"),
            Decision::ImplicitDeny
        );
    }
}
