//! AWS's reserved topics that clients may only subscribe to: the topics AWS IoT itself publishes
//! (events, service responses and notifications), which a client publishing to would forge.
//! The list is the "Client operations allowed: Subscribe" rows of AWS's developer guide page
//! "Reserved topics" (developerguide/reserved-topics.md). It says nothing of what a client may
//! publish elsewhere, and decides no reason code: the broker does.

/// The limit in words, for refusal records.
pub(crate) const LIMIT: &str = "AWS's reserved topics: this one is published by AWS IoT only, \
     clients may subscribe to it but not publish to it (developer guide, Reserved topics)";

/// Last levels of the service responses (`…/accepted`, `…/rejected`) on every service family.
const RESPONSES: [&str; 2] = ["accepted", "rejected"];

/// True when `topic` is a reserved topic AWS lists as subscribe-only: `$aws/events/…` (lifecycle,
/// registry, Jobs and certificate-registration events) and `$aws/sitewise/…`; the
/// `…/accepted` and `…/rejected` answers of Shadow, Jobs, Device Defender and fleet
/// provisioning; Shadow's `…/update/delta` and `…/update/documents`; Jobs' `notify` and
/// `notify-next`; secure tunneling's `tunnels/notify`; MQTT file delivery's `data`,
/// `description` and `rejected` stream topics. Request topics (`…/get`, `…/update`,
/// `$aws/rules/…`) are not among them.
pub(crate) fn subscribe_only(topic: &str) -> bool {
    // Every publish passes here: anything outside `$aws/` is answered without looking further.
    if !topic.starts_with("$aws/") {
        return false;
    }
    if topic.starts_with("$aws/events/") || topic.starts_with("$aws/sitewise/") {
        return true;
    }
    let levels: Vec<&str> = topic.split('/').collect();
    let last = levels.last().copied().unwrap_or_default();
    match levels.as_slice() {
        ["$aws", "things", _, family, rest @ ..] if !rest.is_empty() => {
            thing_topic(family, rest, last)
        }
        ["$aws", "certificates" | "provisioning-templates", _, _, ..] => RESPONSES.contains(&last),
        _ => false,
    }
}

/// `$aws/things/<thing>/<family>/<rest…>`, `last` being the final level.
fn thing_topic(family: &str, rest: &[&str], last: &str) -> bool {
    let before_last = rest.len().checked_sub(2).and_then(|i| rest.get(i)).copied();
    match family {
        "shadow" => {
            RESPONSES.contains(&last) && matches!(before_last, Some("get" | "update" | "delete"))
                || matches!(last, "delta" | "documents") && before_last == Some("update")
        }
        "jobs" => {
            (rest.len() == 1 && matches!(last, "notify" | "notify-next"))
                || (rest.len() >= 2 && RESPONSES.contains(&last))
        }
        "tunnels" => rest == ["notify"],
        // `$aws/things/<thing>/streams/<stream>/{data,description,rejected}/<format>`.
        "streams" => {
            rest.len() == 3
                && rest
                    .get(1)
                    .is_some_and(|l| matches!(*l, "data" | "description" | "rejected"))
        }
        _ => RESPONSES.contains(&last),
    }
}

#[cfg(test)]
mod tests {
    use super::subscribe_only;

    #[test]
    fn aws_subscribe_only_topics_are_recognised() {
        for topic in [
            "$aws/events/presence/connected/dev-b",
            "$aws/events/subscriptions/subscribed/c",
            "$aws/events/thing/t/created",
            "$aws/events/certificates/registered/abc",
            "$aws/sitewise/asset-models/m/assets/a/properties/p",
            "$aws/things/t/shadow/update/accepted",
            "$aws/things/t/shadow/get/rejected",
            "$aws/things/t/shadow/update/delta",
            "$aws/things/t/shadow/update/documents",
            "$aws/things/t/shadow/name/n/update/accepted",
            "$aws/things/t/shadow/name/n/update/delta",
            "$aws/things/t/jobs/notify",
            "$aws/things/t/jobs/notify-next",
            "$aws/things/t/jobs/get/accepted",
            "$aws/things/t/jobs/job-1/update/rejected",
            "$aws/things/t/defender/metrics/json/accepted",
            "$aws/things/t/tunnels/notify",
            "$aws/things/t/streams/s/data/json",
            "$aws/certificates/create/json/accepted",
            "$aws/certificates/create-from-csr/cbor/rejected",
            "$aws/provisioning-templates/fleet/provision/json/accepted",
        ] {
            assert!(subscribe_only(topic), "{topic}");
        }
    }

    #[test]
    fn request_topics_and_ordinary_topics_are_not() {
        for topic in [
            "$aws/things/t/shadow/update",
            "$aws/things/t/shadow/name/accepted/update",
            "$aws/things/t/shadow/name/n/get",
            "$aws/things/t/jobs/get",
            "$aws/things/t/jobs/start-next",
            "$aws/things/t/jobs/accepted/get",
            "$aws/things/t/jobs/notify/update",
            "$aws/things/t/defender/metrics/json",
            "$aws/things/t/streams/s/get/json",
            "$aws/certificates/create/json",
            "$aws/provisioning-templates/fleet/provision/json",
            "$aws/rules/r/accepted",
            "things/t/shadow/update/accepted",
            "$aws/things/accepted",
            "accepted",
            "",
        ] {
            assert!(!subscribe_only(topic), "{topic}");
        }
    }
}
