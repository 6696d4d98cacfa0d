//! Device Advisor's shadow tests, on the real broker and Device Shadow service (broker.rs):
//! `Shadow_Publish_Reported_State` (the device reports its state to its thing's classic shadow
//! and the service takes it) and `Shadow_Update_Reported_State` (the endpoint writes a desired
//! state with client token `DeviceAdvisorShadowTestCaseSetup`; the device must report the
//! desired values back). Judged from what the device published and subscribed to and from the
//! shadow document afterwards (GetThingShadow). Named shadows are not tested (Device Advisor's
//! `SHADOW_NAME` is not taken), nor `REPORTED_STATE`: any reported state passes the first test.

use std::time::Duration;

use serde_json::{Value, json};

use super::Outcome;
use super::attempt::Judged;
use super::broker::{Api, Watch, segment};
use crate::faults::Observed;

/// The client token of the desired state the update test writes, as Device Advisor's.
pub(crate) const SETUP_TOKEN: &str = "DeviceAdvisorShadowTestCaseSetup";

/// How long after its CONNECT the update test waits for the device to subscribe to the
/// shadow's delta before it writes the desired state anyway.
const SUBSCRIBE_GRACE: Duration = Duration::from_secs(2);

/// How long the shadow service may take to apply a report the device published.
const APPLY_WAIT: Duration = Duration::from_secs(3);

/// Classic shadow topics of `thing`.
struct Topics {
    update: String,
    accepted: String,
    delta: String,
    documents: String,
    get: String,
}

impl Topics {
    fn of(thing: &str) -> Topics {
        let base = format!("$aws/things/{thing}/shadow");
        Topics {
            update: format!("{base}/update"),
            accepted: format!("{base}/update/accepted"),
            delta: format!("{base}/update/delta"),
            documents: format!("{base}/update/documents"),
            get: format!("{base}/get"),
        }
    }
}

/// Whether one of `filters` matches `topic`.
fn covers(filters: &[String], topic: &str) -> bool {
    filters.iter().any(|f| mqtt_proto::topic::matches(f, topic))
}

/// The `state.reported` object of an update the device published, if it has one.
fn reported_in(payload: &[u8]) -> Option<Value> {
    let doc: Value = serde_json::from_slice(payload).ok()?;
    let reported = doc.get("state")?.get("reported")?;
    reported.is_object().then(|| reported.clone())
}

/// Whether `document` holds every value of `want` (a null in `want` asks for the key to be
/// absent, as a shadow update deletes it).
fn holds(document: Option<&Value>, want: &Value) -> bool {
    match want {
        Value::Object(members) => members.iter().all(|(k, v)| {
            let inner = document.and_then(|d| d.get(k));
            match v {
                Value::Null => inner.is_none(),
                Value::Object(_) => holds(inner, v),
                _ => inner == Some(v),
            }
        }),
        _ => document == Some(want),
    }
}

/// The thing's classic shadow document (None when it has none or the call failed).
async fn shadow(api: &Api, thing: &str) -> Option<Value> {
    let path = format!("/things/{}/shadow", segment(thing));
    match api.call("iotdata", "GET", path, None).await {
        Ok((200, doc)) => Some(doc),
        _ => None,
    }
}

/// Waits until the shadow's reported state holds `want`; returns its version then.
async fn applied(api: &Api, thing: &str, want: &Value) -> Option<i64> {
    let until = tokio::time::Instant::now() + APPLY_WAIT;
    loop {
        if let Some(doc) = shadow(api, thing).await {
            let reported = doc.get("state").and_then(|s| s.get("reported"));
            if holds(reported, want) {
                return Some(doc.get("version").and_then(Value::as_i64).unwrap_or(0));
            }
        }
        if tokio::time::Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `Shadow_Publish_Reported_State`.
pub(crate) async fn publish_reported(mut watch: Watch<'_>) -> Judged {
    let thing = watch.thing.clone();
    let topics = Topics::of(&thing);
    let mut filters: Vec<String> = Vec::new();
    let mut last: Option<String> = None;
    while let Some(event) = watch.next().await {
        match event {
            Observed::Subscribe { filters: f, .. } => filters.extend(f),
            Observed::Publish { topic, payload, .. } if topic == topics.update => {
                let Some(reported) = reported_in(&payload) else {
                    let line = format!(
                        "published to {topic} without a state.reported object: {}",
                        String::from_utf8_lossy(&payload)
                    );
                    (watch.progress)(line.clone());
                    last = Some(line);
                    continue;
                };
                let Some(version) = applied(&watch.api, &thing, &reported).await else {
                    let line = format!(
                        "published the reported state {reported} to {topic}, but the shadow \
                         service did not take it (its answer went to {topic}/rejected)"
                    );
                    (watch.progress)(line.clone());
                    last = Some(line);
                    continue;
                };
                let did = format!(
                    "published the reported state {reported} to {topic}; the shadow took it \
                     (version {version})"
                );
                if covers(&filters, &topics.accepted) {
                    return Judged {
                        outcome: Outcome::Pass,
                        device_did: format!("{did} and the device got {}", topics.accepted),
                        fix: None,
                    };
                }
                return Judged {
                    outcome: Outcome::PassWithWarnings,
                    device_did: format!(
                        "{did}, but never subscribed to {}, so it cannot know",
                        topics.accepted
                    ),
                    fix: Some(format!(
                        "subscribe to {} and {}/rejected before publishing the update, so the \
                         device learns whether the service took its state",
                        topics.accepted, topics.update
                    )),
                };
            }
            Observed::Publish { topic, .. }
                if topic.starts_with(&format!("$aws/things/{thing}/shadow/name/")) =>
            {
                let line = format!(
                    "published to the named shadow topic {topic}; this test reads the classic \
                     shadow ({})",
                    topics.update
                );
                (watch.progress)(line.clone());
                last = Some(line);
            }
            _ => {}
        }
    }
    let secs = watch.timeout.as_secs();
    Judged {
        outcome: Outcome::Fail,
        device_did: match last {
            Some(last) => {
                format!("did not report a state the shadow took within {secs} s (last: {last})")
            }
            None => format!(
                "never published a reported state to {} within {secs} s",
                topics.update
            ),
        },
        fix: Some(format!(
            "after connecting, publish the device's state as {{\"state\":{{\"reported\":{{...}}}}}} \
             to {} (the classic shadow of its thing {thing}), and check the policy allows \
             iot:Publish on it",
            topics.update
        )),
    }
}

/// What the update test saw the device do.
#[derive(Default)]
struct Seen {
    filters: Vec<String>,
    /// The last reported state the device published after the desired state was written.
    reported: Option<Value>,
    connected: bool,
}

/// `Shadow_Update_Reported_State`.
pub(crate) async fn update_reported(mut watch: Watch<'_>) -> Judged {
    let thing = watch.thing.clone();
    let topics = Topics::of(&thing);
    let mut seen = Seen::default();
    // Until the desired state is written: the device connects, then subscribes to the delta
    // (or the documents), or asks for the shadow, or the grace period passes.
    let mut grace_until = None;
    loop {
        let wait = grace_until.map_or(watch.timeout, |until: tokio::time::Instant| {
            until.saturating_duration_since(tokio::time::Instant::now())
        });
        match watch.next_within(wait).await {
            Err(()) if seen.connected => break,
            Err(()) => return update_verdict(&watch, &seen, &topics, None),
            Ok(None) => break,
            Ok(Some(Observed::Connected { .. })) => {
                seen.connected = true;
                grace_until.get_or_insert(tokio::time::Instant::now() + SUBSCRIBE_GRACE);
            }
            Ok(Some(Observed::Subscribe { filters, .. })) => {
                seen.filters.extend(filters);
                if covers(&seen.filters, &topics.delta) || covers(&seen.filters, &topics.documents)
                {
                    break;
                }
            }
            Ok(Some(Observed::Publish { topic, .. })) if topic == topics.get => break,
            Ok(Some(_)) => {}
        }
    }
    let desired = json!({ "tetherQualify": format!("sync-{}", unique()) });
    let body = json!({ "state": { "desired": desired }, "clientToken": SETUP_TOKEN });
    let path = format!("/things/{}/shadow", segment(&thing));
    match watch.api.call("iotdata", "POST", path, Some(body)).await {
        Ok((200, _)) => (watch.progress)(format!(
            "wrote the desired state {desired} (clientToken {SETUP_TOKEN}); waiting for the \
             device to report it"
        )),
        Ok((status, answer)) => {
            return setup_failed(format!("UpdateThingShadow answered {status}: {answer}"));
        }
        Err(e) => return setup_failed(e),
    }
    while let Some(event) = watch.next().await {
        match event {
            Observed::Subscribe { filters, .. } => seen.filters.extend(filters),
            Observed::Publish { topic, payload, .. } if topic == topics.update => {
                let Some(reported) = reported_in(&payload) else {
                    continue;
                };
                seen.reported = Some(reported.clone());
                if let Some(version) = applied(&watch.api, &thing, &desired).await {
                    return Judged {
                        outcome: Outcome::Pass,
                        device_did: format!(
                            "reported the desired state {desired} back to {topic}; the shadow \
                             has no delta left (version {version})"
                        ),
                        fix: None,
                    };
                }
                (watch.progress)(format!(
                    "reported {reported}, not the desired {desired}; still waiting"
                ));
            }
            _ => {}
        }
    }
    update_verdict(&watch, &seen, &topics, Some(&desired))
}

/// The update test's failure at its timeout.
fn update_verdict(
    watch: &Watch<'_>,
    seen: &Seen,
    topics: &Topics,
    desired: Option<&Value>,
) -> Judged {
    let secs = watch.timeout.as_secs();
    let Some(desired) = desired else {
        return Judged {
            outcome: Outcome::Fail,
            device_did: format!("did not connect within {secs} s"),
            fix: Some(
                "point the device at this endpoint's address and port (the ready line) and \
                 restart it, or raise --timeout"
                    .to_owned(),
            ),
        };
    };
    let listens = covers(&seen.filters, &topics.delta) || covers(&seen.filters, &topics.documents);
    let (did, fix) = match (&seen.reported, listens) {
        (Some(reported), _) => (
            format!(
                "reported {reported} after the desired state {desired} was written, never the \
                 desired values (within {secs} s)"
            ),
            format!(
                "take the values of the delta's state (from {}) and publish them as \
                 state.reported to {}",
                topics.delta, topics.update
            ),
        ),
        (None, false) => (
            format!(
                "never subscribed to {} (nor {}) and never reported the desired state {desired} \
                 (within {secs} s)",
                topics.delta, topics.documents
            ),
            format!(
                "subscribe to {} (or to {}) and report the desired values back to {}",
                topics.delta, topics.documents, topics.update
            ),
        ),
        (None, true) => (
            format!(
                "subscribed to the shadow's changes but never reported the desired state \
                 {desired} to {} (within {secs} s)",
                topics.update
            ),
            format!(
                "when a delta arrives on {}, apply it and publish the new values as \
                 state.reported to {}",
                topics.delta, topics.update
            ),
        ),
    };
    Judged {
        outcome: Outcome::Fail,
        device_did: did,
        fix: Some(fix),
    }
}

/// The verdict when the endpoint itself could not set the test up.
pub(crate) fn setup_failed(why: String) -> Judged {
    Judged {
        outcome: Outcome::Fail,
        device_did: format!("could not be tested: the endpoint's setup failed ({why})"),
        fix: Some(
            "run the test again; if it fails the same way, report it as a tether bug".to_owned(),
        ),
    }
}

/// A value that differs between runs (milliseconds since the epoch).
pub(crate) fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_states_are_found_and_compared_as_a_shadow_merges_them() {
        assert_eq!(
            reported_in(br#"{"state":{"reported":{"a":1}}}"#),
            Some(json!({"a": 1}))
        );
        assert_eq!(reported_in(br#"{"state":{"desired":{"a":1}}}"#), None);
        assert_eq!(reported_in(b"not json"), None);
        let doc = json!({"a": 1, "b": {"c": "x", "d": 2}});
        assert!(holds(Some(&doc), &json!({"a": 1, "b": {"c": "x"}})));
        assert!(holds(Some(&doc), &json!({"gone": null})));
        assert!(!holds(Some(&doc), &json!({"a": 2})));
        assert!(!holds(None, &json!({"a": 1})));
        assert!(covers(
            &["$aws/things/t/shadow/update/#".to_owned()],
            "$aws/things/t/shadow/update/delta"
        ));
        assert!(!covers(
            &["#".to_owned()],
            "$aws/things/t/shadow/update/delta"
        ));
    }
}
