//! Profile checks on names: topic and filter sizes (AWS counts neither the
//! `$aws/rules/<rule>/` Basic Ingest prefix nor the `$share/<name>/` prefix), share names and
//! client ids. Syntax is already guaranteed by `mqtt_proto::topic`; reason codes and what a
//! failure does to the connection are decided by the broker.

use mqtt_proto::TopicFilter;

use crate::config::Limits;

const BASIC_INGEST_PREFIX: &str = "$aws/rules/";

/// Most levels a wildcard filter may have under any profile. Routing walks the filter trie
/// recursively, one frame per level, so this bounds the stack a publish can use; MQTT sets no
/// limit, and no real filter comes near it.
pub(crate) const MAX_FILTER_LEVELS: usize = 1024;

/// True for `$aws/rules/<rule>/...` topics, which go to the rules engine only.
pub(crate) fn is_basic_ingest(topic: &str) -> bool {
    topic.starts_with(BASIC_INGEST_PREFIX)
}

/// The part of a topic that counts against the size limits.
fn counted(topic: &str) -> &str {
    if let Some(rest) = topic.strip_prefix(BASIC_INGEST_PREFIX)
        && let Some((_rule, tail)) = rest.split_once('/')
    {
        return tail;
    }
    topic
}

fn within(limits: &Limits, text: &str) -> bool {
    let bytes_ok = limits.max_topic_bytes.is_none_or(|max| text.len() <= max);
    let slashes_ok = limits
        .max_topic_slashes
        .is_none_or(|max| text.bytes().filter(|&b| b == b'/').count() <= max);
    bytes_ok && slashes_ok
}

/// Whether a topic name is within the profile's limits.
pub(crate) fn topic_allowed(limits: &Limits, topic: &str) -> bool {
    within(limits, counted(topic))
}

/// Whether a topic filter is within the profile's limits.
pub(crate) fn filter_allowed(limits: &Limits, filter: &TopicFilter) -> bool {
    let share_ok = match (filter.share_name(), limits.max_share_name_bytes) {
        (Some(name), Some(max)) => name.len() <= max,
        _ => true,
    };
    let levels_ok = filter.pattern().bytes().filter(|&b| b == b'/').count() < MAX_FILTER_LEVELS;
    share_ok && levels_ok && within(limits, counted(filter.pattern()))
}

/// The configured refused filter that matches `filter` read as a topic name, if any (see
/// `Limits::refused_filters`; the `$share/<name>/` prefix is not part of what is matched).
pub(crate) fn refused_by<'a>(limits: &'a Limits, filter: &TopicFilter) -> Option<&'a TopicFilter> {
    limits
        .refused_filters
        .iter()
        .find(|refused| refused.matches(filter.pattern()))
}

/// The topic limits in words, for refusal records.
pub(crate) fn topic_limit(limits: &Limits) -> String {
    let mut parts = Vec::new();
    if let Some(max) = limits.max_topic_bytes {
        parts.push(format!("at most {max} bytes"));
    }
    if let Some(max) = limits.max_topic_slashes {
        parts.push(format!("at most {max} slashes (/)"));
    }
    if parts.is_empty() {
        return "no topic limits".to_owned();
    }
    format!(
        "topic names and filters of {} ($aws/rules/<rule>/ and $share/<name>/ not counted)",
        parts.join(" and ")
    )
}

/// The topic-filter limits in words, for refusal records.
pub(crate) fn filter_limit(limits: &Limits) -> String {
    match limits.max_share_name_bytes {
        Some(max) => format!(
            "{}; share names of at most {max} bytes",
            topic_limit(limits)
        ),
        None => topic_limit(limits),
    }
}

/// The client id limits in words, for refusal records.
pub(crate) fn client_id_limit(limits: &Limits) -> String {
    let mut text = match limits.max_client_id_bytes {
        Some(max) => format!("client ids of at most {max} bytes"),
        None => "client ids of any length".to_owned(),
    };
    if limits.reserve_dollar_client_ids {
        text.push_str(", not starting with $ (reserved)");
    }
    text
}

/// Whether a non-empty client id is acceptable.
pub(crate) fn client_id_allowed(limits: &Limits, client_id: &str) -> bool {
    limits
        .max_client_id_bytes
        .is_none_or(|max| client_id.len() <= max)
        && !(limits.reserve_dollar_client_ids && client_id.starts_with('$'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;

    #[test]
    fn aws_topic_limits_exclude_basic_ingest_prefix() {
        let aws = Limits::for_profile(Profile::Aws);
        assert!(topic_allowed(&aws, "a/b/c/d/e/f/g/h"));
        assert!(!topic_allowed(&aws, "a/b/c/d/e/f/g/h/i"));
        assert!(topic_allowed(&aws, "$aws/rules/r1/a/b/c/d/e/f/g/h"));
        assert!(!topic_allowed(&aws, &"x".repeat(257)));
        assert!(topic_allowed(
            &aws,
            &format!("$aws/rules/r/{}", "x".repeat(256))
        ));
        let mqtt = Limits::for_profile(Profile::Mqtt);
        assert!(topic_allowed(&mqtt, "a/b/c/d/e/f/g/h/i/j/k"));
    }

    #[test]
    fn aws_filter_limits_exclude_share_prefix_and_bound_share_name() {
        let aws = Limits::for_profile(Profile::Aws);
        let ok = TopicFilter::new("$share/g/a/b/c/d/e/f/g/#").unwrap();
        assert!(filter_allowed(&aws, &ok));
        let long_name = TopicFilter::new(&format!("$share/{}/a", "n".repeat(129))).unwrap();
        assert!(!filter_allowed(&aws, &long_name));
        assert!(!filter_allowed(
            &aws,
            &TopicFilter::new("a/b/c/d/e/f/g/h/#").unwrap()
        ));
    }

    #[test]
    fn aws_client_ids_are_bounded_and_dollar_is_reserved() {
        let aws = Limits::for_profile(Profile::Aws);
        assert!(client_id_allowed(&aws, &"c".repeat(128)));
        assert!(!client_id_allowed(&aws, &"c".repeat(129)));
        assert!(!client_id_allowed(&aws, "$dev"));
        assert!(client_id_allowed(
            &Limits::for_profile(Profile::Mqtt),
            "$dev"
        ));
    }
}
