//! Refusal records of what happens after a connection is admitted: an AWS IoT policy denying a
//! CONNECT, PUBLISH or SUBSCRIBE, a limit of the profile, a protocol violation, a certificate
//! expiring while connected. Each names the principal, the client id, the action, the resource
//! and what decided it, and carries the log line the writer emits after the record is on disk
//! (`refusals::Recorder`, a thread of its own: the router and the connection tasks never wait
//! on the file). It decides nothing; the broker, the authorizer and the session already did.

use broker_core::Denial;
use mqtt_proto::ReasonCode;
use refusals::{Refusal, RefusalKind};

use crate::auth::{Identity, Principal, short_id};

/// A record of `principal`'s refusal, with what every record names.
fn base(
    principal: &Principal,
    client_id: Option<&str>,
    kind: RefusalKind,
    reason: String,
) -> Refusal {
    let (peer, listener, who) = match principal.identity() {
        Identity::Device {
            certificate_id,
            peer,
            listener,
            ..
        } => (
            peer.to_string(),
            (*listener).to_owned(),
            Some(certificate_id.clone()),
        ),
        Identity::Anonymous { peer } => (
            peer.to_string(),
            "mqtt".to_owned(),
            Some("anonymous".to_owned()),
        ),
        // Both arrive on a web listener (`--https-443` or `--wss`); the identity does not
        // say which.
        Identity::Iam {
            access_key_id,
            peer,
            ..
        } => (
            peer.to_string(),
            "web".to_owned(),
            Some(access_key_id.clone()),
        ),
        Identity::Custom {
            authorizer,
            principal_id,
            peer,
            ..
        } => (
            peer.to_string(),
            "web".to_owned(),
            Some(format!("{principal_id} (custom authorizer {authorizer})")),
        ),
        Identity::Restored => (String::new(), String::new(), None),
        Identity::Bridge { name } => (
            String::new(),
            "bridge".to_owned(),
            Some(format!("bridge {name}")),
        ),
    };
    Refusal {
        time: crate::mqtt::now_rfc3339(),
        peer,
        listener,
        kind,
        reason,
        principal: who,
        client_id: client_id.map(str::to_owned),
        ..Refusal::default()
    }
}

/// `client C (certificate 3e3b8a2d46 from 127.0.0.1:5000)`, for log lines.
fn who(principal: &Principal, client_id: Option<&str>) -> String {
    match client_id {
        Some(id) => format!("client {id:?} ({principal:?})"),
        None => format!("{principal:?}"),
    }
}

/// An authorization denial: kind `policy`, or `no_policy` when nothing is attached.
pub(crate) fn denied(principal: &Principal, client_id: &str, denial: &Denial) -> (Refusal, String) {
    let kind = if denial.nothing_granted {
        RefusalKind::NoPolicy
    } else {
        RefusalKind::Policy
    };
    let certificate = principal
        .certificate_id()
        .map(|id| format!(" (certificate {})", short_id(id)))
        .unwrap_or_default();
    let reason = format!("{denial}{certificate}");
    let log = format!(
        "denied {} on {} to {}: {}",
        denial.action,
        denial.resource,
        who(principal, Some(client_id)),
        denial.decided_by
    );
    let refusal = Refusal {
        action: Some(denial.action.clone()),
        resource: Some(denial.resource.clone()),
        decided_by: Some(denial.decided_by.clone()),
        ..base(principal, Some(client_id), kind, reason)
    };
    (refusal, log)
}

/// What a refused request was, for [`limited`].
pub(crate) struct Limited<'a> {
    /// `CONNECT`, `PUBLISH` or `SUBSCRIBE`.
    pub(crate) packet: &'static str,
    /// Its topic, filter or client id.
    pub(crate) resource: &'a str,
    /// The limit in words.
    pub(crate) limit: &'a str,
    /// What the client got.
    pub(crate) reason: ReasonCode,
}

/// A request refused for a limit of the profile: kind `limit`.
pub(crate) fn limited(
    principal: &Principal,
    client_id: Option<&str>,
    limited: &Limited<'_>,
) -> (Refusal, String) {
    let Limited {
        packet,
        resource,
        limit,
        reason,
    } = *limited;
    let answer = format!("refused with {reason}");
    let reason_text = format!("{packet} {resource:?} breaks {limit}; {answer}");
    let log = format!(
        "refused {packet} {resource:?} of {}: it breaks {limit}; {answer}",
        who(principal, client_id)
    );
    let refusal = Refusal {
        action: Some(packet.to_owned()),
        resource: Some(resource.to_owned()),
        decided_by: Some(limit.to_owned()),
        ..base(principal, client_id, RefusalKind::Limit, reason_text)
    };
    (refusal, log)
}

/// The connection was closed for a protocol violation: kind `limit` when it broke one of the
/// sizes announced to it (packet size, Receive Maximum, topic aliases), else `protocol`.
pub(crate) fn violation(
    principal: &Principal,
    client_id: Option<&str>,
    what: &str,
    reason: ReasonCode,
) -> (Refusal, String) {
    let kind = match reason {
        ReasonCode::PacketTooLarge
        | ReasonCode::ReceiveMaximumExceeded
        | ReasonCode::TopicAliasInvalid => RefusalKind::Limit,
        _ => RefusalKind::Protocol,
    };
    let log = format!(
        "closed the connection of {}: {what}",
        who(principal, client_id)
    );
    let refusal = Refusal {
        decided_by: Some(what.to_owned()),
        ..base(
            principal,
            client_id,
            kind,
            format!("the connection was closed ({reason}): {what}"),
        )
    };
    (refusal, log)
}

/// A live connection closed because its certificate expired: kind `certificate_expired`.
pub(crate) fn expired(principal: &Principal, client_id: &str) -> (Refusal, String) {
    let id = principal.certificate_id().unwrap_or_default();
    let reason = format!(
        "the certificate {id} expired while client {client_id:?} was connected; its connection \
         was closed (MQTT 5: DISCONNECT 0x87 Not authorized): give the device a new certificate"
    );
    let log = format!(
        "closed the connection of {}: its certificate expired while it was connected",
        who(principal, Some(client_id))
    );
    let refusal = Refusal {
        action: Some("connection".to_owned()),
        client_certificate: Some(true),
        ..base(
            principal,
            Some(client_id),
            RefusalKind::CertificateExpired,
            reason,
        )
    };
    (refusal, log)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Principal {
        Principal::new(Identity::Device {
            certificate_id: "3e3b8a2d464927a6b411c2d15c00af08".to_owned(),
            peer: ([127, 0, 0, 1], 5000).into(),
            listener: "mqtts",
            certificate: Default::default(),
            not_after_ms: i64::MAX,
        })
    }

    #[test]
    fn a_policy_denial_names_principal_client_action_resource_and_statement() {
        let denial = Denial {
            action: "iot:Publish".to_owned(),
            resource: "arn:aws:iot:us-east-1:123456789012:topic/bad".to_owned(),
            decided_by: "IMPLICIT_DENY: no policy is attached to the certificate".to_owned(),
            nothing_granted: true,
        };
        let (refusal, log) = denied(&device(), "dev", &denial);
        assert_eq!(refusal.kind, RefusalKind::NoPolicy);
        assert_eq!(refusal.listener, "mqtts");
        assert_eq!(refusal.peer, "127.0.0.1:5000");
        assert_eq!(
            refusal.principal.as_deref(),
            Some("3e3b8a2d464927a6b411c2d15c00af08")
        );
        assert_eq!(refusal.client_id.as_deref(), Some("dev"));
        assert_eq!(refusal.action.as_deref(), Some("iot:Publish"));
        assert!(refusal.resource.as_deref().unwrap().ends_with("topic/bad"));
        assert!(log.contains("no policy is attached"), "{log}");
        let line = serde_json::to_string(&refusal).unwrap();
        assert!(line.len() < 600, "{} bytes: {line}", line.len());
    }

    #[test]
    fn violations_of_announced_sizes_are_limits() {
        let (refusal, _) = violation(&device(), None, "too big", ReasonCode::PacketTooLarge);
        assert_eq!(refusal.kind, RefusalKind::Limit);
        let (refusal, _) = violation(&device(), None, "bad", ReasonCode::MalformedPacket);
        assert_eq!(refusal.kind, RefusalKind::Protocol);
    }
}
