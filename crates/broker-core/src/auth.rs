//! The authorization hook: the broker asks an `Authorizer` before connect, publish, subscribe
//! and each delivery (receive). The core knows nothing about policies or identities; the
//! principal type is the authorizer's own. What a denial does to the client is decided by the
//! broker's profile rules, not here.

use core::fmt;

/// What a client is trying to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Connect with this client id (AWS `iot:Connect` on `client/<id>`). Checked for the will
    /// too: a will is authorized as a `Publish` at connect time.
    Connect,
    /// Publish to a topic (AWS `iot:Publish`; with `retain`, also `iot:RetainPublish`).
    Publish {
        /// Topic name.
        topic: &'a str,
        /// Whether RETAIN is set.
        retain: bool,
    },
    /// Subscribe with a filter, as written (AWS `iot:Subscribe` on `topicfilter/<filter>`).
    Subscribe {
        /// Filter text, including any `$share/<name>/` prefix.
        filter: &'a str,
    },
    /// Receive a message on a topic (AWS `iot:Receive` on `topic/<topic>`).
    Receive {
        /// Topic name of the delivered message.
        topic: &'a str,
    },
}

impl Action<'_> {
    /// The AWS IoT action name this corresponds to.
    pub fn aws_name(&self) -> &'static str {
        match self {
            Action::Connect => "iot:Connect",
            Action::Publish { retain: false, .. } => "iot:Publish",
            Action::Publish { retain: true, .. } => "iot:RetainPublish",
            Action::Subscribe { .. } => "iot:Subscribe",
            Action::Receive { .. } => "iot:Receive",
        }
    }

    /// The resource the action is on: `client/<id>`, `topic/<t>` or `topicfilter/<f>`.
    pub fn resource(&self, client_id: &str) -> String {
        match self {
            Action::Connect => format!("client/{client_id}"),
            Action::Publish { topic, .. } | Action::Receive { topic } => format!("topic/{topic}"),
            Action::Subscribe { filter } => format!("topicfilter/{filter}"),
        }
    }
}

/// The authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refused; the denial (which policy statement, which variable...) goes to the log and the
    /// server's refusal record through [`crate::Effect::Denied`], never to the client.
    Deny(Denial),
}

/// Why the authorizer refused, in its own vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The action refused (for AWS IoT policies `iot:Publish`, or `iot:RetainPublish` when that
    /// part of a retained publish is the one refused).
    pub action: String,
    /// The resource (an ARN for AWS IoT policies).
    pub resource: String,
    /// What decided: the statement that denied it, or why no statement allowed it.
    pub decided_by: String,
    /// The principal is granted nothing at all (no policy attached), so no action could have
    /// been allowed.
    pub nothing_granted: bool,
}

impl Denial {
    /// A denial of `action` on `resource`, decided by `decided_by`.
    pub fn new(
        action: impl Into<String>,
        resource: impl Into<String>,
        decided_by: impl Into<String>,
    ) -> Denial {
        Denial {
            action: action.into(),
            resource: resource.into(),
            decided_by: decided_by.into(),
            nothing_granted: false,
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {}: {}",
            self.action, self.resource, self.decided_by
        )
    }
}

/// Decides whether a principal may perform an action. Called synchronously on the broker's
/// hot paths (every delivery asks about `Receive`), so implementations should answer from
/// memory.
pub trait Authorizer {
    /// Who is connected: opaque to the broker (a certificate id with its policies, a user...).
    type Principal: fmt::Debug + Clone;

    /// Whether `principal`, connected as `client_id`, may perform `action`.
    fn authorize(
        &mut self,
        principal: &Self::Principal,
        client_id: &str,
        action: Action<'_>,
    ) -> Decision;
}

/// Allows everything; the principal carries no information.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllowAll;

impl Authorizer for AllowAll {
    type Principal = ();

    fn authorize(&mut self, _: &(), _: &str, _: Action<'_>) -> Decision {
        Decision::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_name_aws_resources() {
        let publish = Action::Publish {
            topic: "a/b",
            retain: true,
        };
        assert_eq!(publish.aws_name(), "iot:RetainPublish");
        assert_eq!(publish.resource("c"), "topic/a/b");
        assert_eq!(Action::Connect.resource("dev1"), "client/dev1");
        assert_eq!(
            Action::Subscribe { filter: "a/+" }.resource("c"),
            "topicfilter/a/+"
        );
        assert_eq!(
            AllowAll.authorize(&(), "c", Action::Connect),
            Decision::Allow
        );
    }
}
