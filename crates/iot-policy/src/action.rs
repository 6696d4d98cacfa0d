//! Actions: the AWS IoT actions a request can ask for ([`Action`]) and the action patterns a
//! statement lists (`iot:Publish`, `iot:Pub*`, `iot:*`, `*`). It does not decide which action a
//! protocol event needs; the broker maps PUBLISH/SUBSCRIBE/delivery to actions.

use std::fmt;
use std::str::FromStr;

use crate::template::{Glob, glob_match};

/// An action AWS IoT authorizes (developer guide, "AWS IoT Core policy actions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Every CONNECT, on `client/<clientId>`.
    Connect,
    /// Every inbound PUBLISH (also HTTP publish and will messages), on `topic/<topic>`.
    Publish,
    /// A PUBLISH with RETAIN set, on `topic/<topic>`; `Publish` is needed as well.
    RetainPublish,
    /// Each filter of a SUBSCRIBE, on `topicfilter/<filter as written>`.
    Subscribe,
    /// Every delivery to the client, on `topic/<topic>`.
    Receive,
    /// HTTP GetRetainedMessage, on `topic/<topic>`.
    GetRetainedMessage,
    /// HTTP ListRetainedMessages, on [`crate::ANY_RESOURCE`] only.
    ListRetainedMessages,
    /// Shadow HTTP API, on `thing/<thing>` or `thing/<thing>/<shadowName>`.
    GetThingShadow,
    /// Shadow HTTP API, on `thing/<thing>` or `thing/<thing>/<shadowName>`.
    UpdateThingShadow,
    /// Shadow HTTP API, on `thing/<thing>` or `thing/<thing>/<shadowName>`.
    DeleteThingShadow,
    /// Shadow HTTP API, on [`crate::ANY_RESOURCE`].
    ListNamedShadowsForThing,
    /// Jobs HTTPS API, on `thing/<thing>`.
    DescribeJobExecution,
    /// Jobs HTTPS API, on `thing/<thing>`.
    GetPendingJobExecutions,
    /// Jobs HTTPS API, on `thing/<thing>`.
    StartNextPendingJobExecution,
    /// Jobs HTTPS API, on `thing/<thing>`.
    UpdateJobExecution,
    /// Credentials provider, on `rolealias/<alias>`.
    AssumeRoleWithCertificate,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: &'static [Action] = &[
        Action::Connect,
        Action::Publish,
        Action::RetainPublish,
        Action::Subscribe,
        Action::Receive,
        Action::GetRetainedMessage,
        Action::ListRetainedMessages,
        Action::GetThingShadow,
        Action::UpdateThingShadow,
        Action::DeleteThingShadow,
        Action::ListNamedShadowsForThing,
        Action::DescribeJobExecution,
        Action::GetPendingJobExecutions,
        Action::StartNextPendingJobExecution,
        Action::UpdateJobExecution,
        Action::AssumeRoleWithCertificate,
    ];

    /// The IAM spelling, e.g. `iot:Publish`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Connect => "iot:Connect",
            Action::Publish => "iot:Publish",
            Action::RetainPublish => "iot:RetainPublish",
            Action::Subscribe => "iot:Subscribe",
            Action::Receive => "iot:Receive",
            Action::GetRetainedMessage => "iot:GetRetainedMessage",
            Action::ListRetainedMessages => "iot:ListRetainedMessages",
            Action::GetThingShadow => "iot:GetThingShadow",
            Action::UpdateThingShadow => "iot:UpdateThingShadow",
            Action::DeleteThingShadow => "iot:DeleteThingShadow",
            Action::ListNamedShadowsForThing => "iot:ListNamedShadowsForThing",
            Action::DescribeJobExecution => "iot:DescribeJobExecution",
            Action::GetPendingJobExecutions => "iot:GetPendingJobExecutions",
            Action::StartNextPendingJobExecution => "iot:StartNextPendingJobExecution",
            Action::UpdateJobExecution => "iot:UpdateJobExecution",
            Action::AssumeRoleWithCertificate => "iot:AssumeRoleWithCertificate",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the actions in [`Action::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown AWS IoT action {0:?}; expected a name such as \"iot:Publish\"")]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    /// Parses `iot:Publish` (ASCII case-insensitive, like IAM).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownAction(name.to_owned()))
    }
}

/// An entry of a statement's `Action` / `NotAction`: `*`, or `service:name` where the name may
/// use `*` and `?`. Matched without regard to case, as IAM does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActionPattern {
    text: String,
    globs: Vec<Glob>,
}

impl ActionPattern {
    /// Parses one entry; the error text completes "expected ..., found ...".
    pub(crate) fn parse(text: &str) -> Result<ActionPattern, String> {
        let well_formed = text == "*"
            || text.split_once(':').is_some_and(|(service, name)| {
                !service.is_empty()
                    && service
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
            });
        if !well_formed {
            return Err(format!(
                "expected \"*\" or \"service:action\" such as \"iot:Publish\" or \"iot:*\", found {text:?}"
            ));
        }
        let globs = text
            .chars()
            .map(|c| match c {
                '*' => Glob::AnyRun,
                '?' => Glob::AnyOne,
                c => Glob::Char(c),
            })
            .collect();
        Ok(ActionPattern {
            text: text.to_owned(),
            globs,
        })
    }

    pub(crate) fn matches(&self, action: Action) -> bool {
        glob_match(&self.globs, action.as_str(), true)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, action: Action) -> bool {
        ActionPattern::parse(pattern).unwrap().matches(action)
    }

    #[test]
    fn wildcards_and_case() {
        assert!(matches("*", Action::AssumeRoleWithCertificate));
        assert!(matches("iot:*", Action::Receive));
        assert!(matches("iot:Pub*", Action::Publish));
        assert!(!matches("iot:Pub*", Action::RetainPublish));
        assert!(matches("iot:*Publish", Action::RetainPublish));
        assert!(matches("IOT:publish", Action::Publish));
        assert!(matches("iot:?onnect", Action::Connect));
        assert!(!matches("iot:Publish", Action::RetainPublish));
        assert!(!matches("greengrass:*", Action::Publish));
        assert!(matches("iot:*ThingShadow", Action::DeleteThingShadow));
    }

    #[test]
    fn malformed_patterns() {
        for bad in [
            "",
            "Publish",
            "iot:",
            ":Publish",
            "iot:Pub lish",
            "iot:a/b",
            "i t:x",
        ] {
            let err = ActionPattern::parse(bad).unwrap_err();
            assert!(
                err.contains("expected \"*\" or \"service:action\""),
                "{err}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(*action));
        }
        assert_eq!(
            "iot:Pubish".parse::<Action>().unwrap_err().to_string(),
            "unknown AWS IoT action \"iot:Pubish\"; expected a name such as \"iot:Publish\""
        );
    }
}
