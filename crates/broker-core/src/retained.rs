//! Retained messages: at most one per topic, ordered by topic so that a wildcard subscribe scans
//! only the range sharing the filter's literal prefix. Deciding *when* to store, clear or send
//! them (profile rules, retain handling, expiry timers) is the broker's job, not this file's.

use std::collections::BTreeMap;
use std::sync::Arc;

use mqtt_proto::MqttStr;

use crate::index::filter_matches;
use crate::message::Message;

/// The retained message of every topic that has one.
#[derive(Debug, Default)]
pub(crate) struct RetainedStore {
    by_topic: BTreeMap<MqttStr, Arc<Message>>,
}

impl RetainedStore {
    pub(crate) fn len(&self) -> usize {
        self.by_topic.len()
    }

    /// Stores `message`, returning the one it replaced.
    pub(crate) fn set(&mut self, message: Arc<Message>) -> Option<Arc<Message>> {
        self.by_topic
            .insert(message.topic.as_mqtt_str().clone(), message)
    }

    /// Removes the message on `topic`.
    pub(crate) fn clear(&mut self, topic: &str) -> Option<Arc<Message>> {
        self.by_topic.remove(topic)
    }

    /// The message on `topic`.
    pub(crate) fn get(&self, topic: &str) -> Option<&Arc<Message>> {
        self.by_topic.get(topic)
    }

    /// Appends every retained message whose topic matches `pattern` to `out`, in topic order.
    pub(crate) fn matching(
        &self,
        pattern: &str,
        hash_matches_parent: bool,
        out: &mut Vec<Arc<Message>>,
    ) {
        // Every matching topic starts with the filter's text before its first wildcard, minus a
        // trailing '/' (so that `a/#` still finds `a` itself).
        let literal_end = pattern.find(['+', '#']).unwrap_or(pattern.len());
        let prefix = pattern.get(..literal_end).unwrap_or_default();
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        let candidates = self.by_topic.range::<str, _>((
            std::ops::Bound::Included(prefix),
            std::ops::Bound::Unbounded,
        ));
        for (topic, message) in candidates {
            if !topic.starts_with(prefix) {
                break;
            }
            if filter_matches(pattern, topic, hash_matches_parent) {
                out.push(Arc::clone(message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use mqtt_proto::{QoS, TopicName};

    fn msg(topic: &str) -> Arc<Message> {
        Arc::new(Message::new(
            TopicName::new(topic).unwrap(),
            Bytes::from_static(b"p"),
            QoS::AtMostOnce,
            true,
        ))
    }

    fn topics(store: &RetainedStore, pattern: &str, parent: bool) -> Vec<String> {
        let mut out = Vec::new();
        store.matching(pattern, parent, &mut out);
        out.iter().map(|m| m.topic.as_str().to_owned()).collect()
    }

    #[test]
    fn wildcard_scan_uses_literal_prefix_and_profile_matching() {
        let mut store = RetainedStore::default();
        for t in ["a", "a/b", "a/c/d", "ab", "b/x", "$SYS/x"] {
            store.set(msg(t));
        }
        assert_eq!(topics(&store, "a/#", true), vec!["a", "a/b", "a/c/d"]);
        assert_eq!(topics(&store, "a/#", false), vec!["a/b", "a/c/d"]);
        assert_eq!(topics(&store, "+/x", true), vec!["b/x"]);
        assert_eq!(
            topics(&store, "#", true),
            vec!["a", "a/b", "a/c/d", "ab", "b/x"]
        );
        assert_eq!(topics(&store, "$SYS/#", true), vec!["$SYS/x"]);
        assert!(store.set(msg("a")).is_some());
        assert!(store.clear("a").is_some());
        assert!(store.get("a").is_none());
        assert_eq!(store.len(), 5);
    }
}
