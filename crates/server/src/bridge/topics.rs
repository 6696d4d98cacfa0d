//! A bridge's topic lines as a map between the two sides, pure: which filters the bridge
//! subscribes to here (outbound lines) and upstream (inbound lines), with the subscription
//! options that keep messages from looping, and how one topic name is rewritten on its way
//! (mosquitto's rule: `local-prefix + rest` here is `remote-prefix + rest` upstream). A remote
//! prefix may start with `$share/GROUP/`: the upstream subscription is then shared, so several
//! gateways split one stream between them, and only the rest of the prefix is part of topic
//! names. It does no IO and checks no limits (`config.rs` did).

use mqtt_proto::topic::matches;
use mqtt_proto::{QoS, RetainHandling, SubscriptionOptions, TopicFilter};

use super::config::{BridgeTopic, Direction};

/// The topic lines of one bridge, ready to map topics.
#[derive(Debug, Clone)]
pub(crate) struct TopicMap {
    lines: Vec<Line>,
}

#[derive(Debug, Clone)]
struct Line {
    direction: Direction,
    qos: QoS,
    local_prefix: String,
    /// The remote prefix without any `$share/GROUP/`.
    remote_prefix: String,
    /// `$share/GROUP/` when the upstream subscription is shared.
    share: String,
    pattern: String,
}

/// A topic line whose filters do not parse (the configuration check refuses these first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic filter {filter:?} of a bridge does not parse: {why}")]
pub(crate) struct BadFilter {
    filter: String,
    why: String,
}

impl TopicMap {
    pub(crate) fn new(topics: &[BridgeTopic]) -> TopicMap {
        let lines = topics
            .iter()
            .map(|t| {
                let (share, remote_prefix) = split_share(&t.remote_prefix);
                Line {
                    direction: t.direction,
                    qos: t.qos,
                    local_prefix: t.local_prefix.clone(),
                    remote_prefix: remote_prefix.to_owned(),
                    share: share.to_owned(),
                    pattern: t.pattern.clone(),
                }
            })
            .collect();
        TopicMap { lines }
    }

    /// What the bridge's local session subscribes to: every outbound line, with No Local (the
    /// bridge's own inbound publishes never go back out), Retain As Published (a retained
    /// message stays retained upstream) and retained messages only for a new subscription (a
    /// restart does not send them again).
    pub(crate) fn local_subscriptions(
        &self,
    ) -> Result<Vec<(TopicFilter, SubscriptionOptions)>, BadFilter> {
        let options = |qos| SubscriptionOptions {
            qos,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::SendIfNew,
        };
        self.lines
            .iter()
            .filter(|l| l.direction.outbound())
            .map(|l| {
                Ok((
                    filter(&format!("{}{}", l.local_prefix, l.pattern))?,
                    options(l.qos),
                ))
            })
            .collect()
    }

    /// What the bridge subscribes to upstream: every inbound line. Over MQTT 5 with No Local,
    /// so what the bridge publishes on a `both` line does not come back.
    pub(crate) fn remote_subscriptions(
        &self,
        v5: bool,
    ) -> Result<Vec<(TopicFilter, SubscriptionOptions)>, BadFilter> {
        self.lines
            .iter()
            .filter(|l| l.direction.inbound())
            .map(|l| {
                let text = format!("{}{}{}", l.share, l.remote_prefix, l.pattern);
                let options = SubscriptionOptions {
                    qos: l.qos,
                    // A shared subscription may not set No Local ([MQTT-3.8.3-4]).
                    no_local: v5 && l.share.is_empty(),
                    retain_as_published: v5,
                    retain_handling: RetainHandling::SendAtSubscribe,
                };
                Ok((filter(&text)?, options))
            })
            .collect()
    }

    /// The filters the local session holds that no outbound line names any more (a changed
    /// configuration), from those a restored session still has.
    pub(crate) fn stale_local(&self, restored: &[String]) -> Vec<TopicFilter> {
        let wanted: Vec<String> = self
            .lines
            .iter()
            .filter(|l| l.direction.outbound())
            .map(|l| format!("{}{}", l.local_prefix, l.pattern))
            .collect();
        restored
            .iter()
            .filter(|f| !wanted.contains(f))
            .filter_map(|f| TopicFilter::new(f).ok())
            .collect()
    }

    /// A local topic's name upstream and the QoS of its line: the first outbound line whose
    /// local filter matches.
    pub(crate) fn to_remote(&self, local: &str) -> Option<(String, QoS)> {
        self.lines
            .iter()
            .filter(|l| l.direction.outbound())
            .find_map(|l| {
                let rest = local.strip_prefix(l.local_prefix.as_str())?;
                matches(&l.pattern, rest).then(|| (format!("{}{rest}", l.remote_prefix), l.qos))
            })
    }

    /// An upstream topic's name here and the QoS of its line: the first inbound line whose
    /// remote filter matches.
    pub(crate) fn to_local(&self, remote: &str) -> Option<(String, QoS)> {
        self.lines
            .iter()
            .filter(|l| l.direction.inbound())
            .find_map(|l| {
                let rest = remote.strip_prefix(l.remote_prefix.as_str())?;
                matches(&l.pattern, rest).then(|| (format!("{}{rest}", l.local_prefix), l.qos))
            })
    }
}

/// `$share/GROUP/rest` as (`$share/GROUP/`, `rest`); anything else has no share part.
pub(crate) fn split_share(prefix: &str) -> (&str, &str) {
    let Some(after) = prefix.strip_prefix("$share/") else {
        return ("", prefix);
    };
    match after.find('/') {
        Some(at) => prefix.split_at("$share/".len() + at + 1),
        None => ("", prefix),
    }
}

fn filter(text: &str) -> Result<TopicFilter, BadFilter> {
    TopicFilter::new(text).map_err(|e| BadFilter {
        filter: text.to_owned(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pattern: &str, direction: Direction, local: &str, remote: &str) -> BridgeTopic {
        BridgeTopic {
            pattern: pattern.to_owned(),
            direction,
            qos: QoS::AtLeastOnce,
            local_prefix: local.to_owned(),
            remote_prefix: remote.to_owned(),
        }
    }

    #[test]
    fn prefixes_are_swapped_as_mosquitto_does() {
        let map = TopicMap::new(&[
            line("#", Direction::Out, "site/", "factory/7/"),
            line("cmd/+", Direction::In, "", "factory/7/"),
        ]);
        assert_eq!(
            map.to_remote("site/temp/1"),
            Some(("factory/7/temp/1".to_owned(), QoS::AtLeastOnce))
        );
        assert_eq!(map.to_remote("other/temp"), None);
        assert_eq!(
            map.to_local("factory/7/cmd/reboot"),
            Some(("cmd/reboot".to_owned(), QoS::AtLeastOnce))
        );
        assert_eq!(map.to_local("factory/7/cmd/a/b"), None);
        let local: Vec<String> = map
            .local_subscriptions()
            .unwrap()
            .iter()
            .map(|(f, _)| f.to_string())
            .collect();
        assert_eq!(local, ["site/#"]);
        let remote = map.remote_subscriptions(true).unwrap();
        assert_eq!(remote[0].0.as_str(), "factory/7/cmd/+");
        assert!(remote[0].1.no_local);
        assert!(!map.remote_subscriptions(false).unwrap()[0].1.no_local);
    }

    #[test]
    fn both_lines_subscribe_on_both_sides_without_echo() {
        let map = TopicMap::new(&[line("chat/#", Direction::Both, "", "")]);
        let (local, options) = &map.local_subscriptions().unwrap()[0];
        assert_eq!(local.as_str(), "chat/#");
        assert!(options.no_local && options.retain_as_published);
        assert_eq!(options.retain_handling, RetainHandling::SendIfNew);
        assert_eq!(map.remote_subscriptions(true).unwrap().len(), 1);
    }

    #[test]
    fn a_shared_remote_prefix_subscribes_shared_and_maps_plain_topics() {
        let map = TopicMap::new(&[line(
            "cmd/#",
            Direction::In,
            "gw/",
            "$share/gateways/fleet/",
        )]);
        let (filter, options) = &map.remote_subscriptions(true).unwrap()[0];
        assert_eq!(filter.as_str(), "$share/gateways/fleet/cmd/#");
        assert!(!options.no_local);
        assert_eq!(
            map.to_local("fleet/cmd/x"),
            Some(("gw/cmd/x".to_owned(), QoS::AtLeastOnce))
        );
        assert_eq!(split_share("$share/g/a/"), ("$share/g/", "a/"));
        assert_eq!(split_share("$share/g"), ("", "$share/g"));
        assert_eq!(split_share("a/"), ("", "a/"));
    }

    #[test]
    fn filters_no_line_names_any_more_are_stale() {
        let map = TopicMap::new(&[line("a/#", Direction::Out, "", "")]);
        let stale = map.stale_local(&["a/#".to_owned(), "b/#".to_owned()]);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].as_str(), "b/#");
    }
}
