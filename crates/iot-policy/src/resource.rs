//! Resource ARNs AWS IoT authorizes against (`client/`, `topic/`, `topicfilter/`, `thing/`,
//! `rolealias/`) and how to build them. It builds request ARNs only; matching policy resource
//! patterns against them lives in `template.rs`.

use std::fmt;

/// The resource forms of AWS IoT's data-plane actions
/// (AWS IoT developer guide, "AWS IoT Core policy actions" / "resources").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `client/<clientId>`, for `iot:Connect`.
    Client,
    /// `topic/<topic>`, for `iot:Publish`, `iot:Receive`, `iot:RetainPublish`,
    /// `iot:GetRetainedMessage`.
    Topic,
    /// `topicfilter/<filter as written>`, for `iot:Subscribe`.
    TopicFilter,
    /// `thing/<thing>` or `thing/<thing>/<shadowName>`, for shadow and job actions.
    Thing,
    /// `rolealias/<alias>`, for `iot:AssumeRoleWithCertificate`.
    RoleAlias,
}

impl ResourceKind {
    /// The ARN resource-type prefix, without the slash.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Client => "client",
            ResourceKind::Topic => "topic",
            ResourceKind::TopicFilter => "topicfilter",
            ResourceKind::Thing => "thing",
            ResourceKind::RoleAlias => "rolealias",
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The resource for actions AWS authorizes only against `*` (`iot:ListRetainedMessages`,
/// `iot:ListNamedShadowsForThing`): pass this as the request resource.
pub const ANY_RESOURCE: &str = "*";

/// The AWS partition a region belongs to (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// `arn:<partition>:iot:<region>:<account>:<kind>/<value>`. The value is used verbatim: MQTT
/// `+`/`#` and policy wildcards in it are just characters of the request resource.
pub fn arn(region: &str, account: &str, kind: ResourceKind, value: &str) -> String {
    format!(
        "arn:{}:iot:{region}:{account}:{kind}/{value}",
        partition(region)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_each_kind() {
        let cases = [
            (ResourceKind::Client, "dev-1", "client/dev-1"),
            (ResourceKind::Topic, "a/b", "topic/a/b"),
            (ResourceKind::TopicFilter, "a/+/#", "topicfilter/a/+/#"),
            (ResourceKind::Thing, "lamp/cfg", "thing/lamp/cfg"),
            (ResourceKind::RoleAlias, "uploader", "rolealias/uploader"),
        ];
        for (kind, value, tail) in cases {
            assert_eq!(
                arn("us-east-1", "123456789012", kind, value),
                format!("arn:aws:iot:us-east-1:123456789012:{tail}")
            );
        }
    }

    #[test]
    fn partitions_follow_region() {
        assert_eq!(
            arn("cn-north-1", "1", ResourceKind::Topic, "t"),
            "arn:aws-cn:iot:cn-north-1:1:topic/t"
        );
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("ap-south-1"), "aws");
    }
}
