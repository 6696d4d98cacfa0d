//! Topic names and topic filters (§4.7) and shared-subscription syntax (§4.8.2): validation at
//! construction and filter matching. Profile-specific limits (AWS's 256 bytes and 7 slashes) are
//! not checked here; they belong to the broker's profile rules.

use core::fmt;
use core::ops::Deref;

use bytes::Bytes;

use crate::string::{MqttStr, StringError, Wildcards};

/// Why a string is not a valid topic name or topic filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Not a valid MQTT string.
    #[error(transparent)]
    String(#[from] StringError),
    /// Topic names and filters are at least one character long.
    #[error("[MQTT-4.7.3-1] topic names and topic filters must not be empty")]
    Empty,
    /// A topic name contains `+` or `#`.
    #[error("[MQTT-3.3.2-2] a topic name must not contain the wildcard characters '+' or '#'")]
    WildcardInName,
    /// `#` is not alone in the last level of a filter.
    #[error("[MQTT-4.7.1-2] '#' must be the last character of a filter and fill its whole level")]
    MisplacedMultiLevelWildcard,
    /// `+` does not fill its level.
    #[error("[MQTT-4.7.1-3] '+' must fill a whole level of a filter")]
    MisplacedSingleLevelWildcard,
    /// `$share/` without a valid share name or filter.
    #[error(
        "[MQTT-4.8.2-1] a shared subscription is '$share/<name>/<filter>' with a non-empty name \
         free of '/', '+' and '#', and a non-empty filter"
    )]
    InvalidShare,
}

/// A topic name: a valid MQTT string without wildcard characters.
///
/// It is non-empty, except for the one case the protocol allows: an MQTT 5 PUBLISH whose topic
/// is carried by a topic alias ([`TopicName::alias_placeholder`]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(MqttStr);

impl TopicName {
    /// Validates `topic` as a topic name.
    pub fn new(topic: &str) -> Result<Self, TopicError> {
        Self::from_mqtt_str(MqttStr::new(topic)?)
    }

    /// Validates bytes as a topic name, sharing them.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, TopicError> {
        Self::from_mqtt_str(MqttStr::from_bytes(bytes)?)
    }

    /// Validates an already valid MQTT string as a topic name.
    pub fn from_mqtt_str(topic: MqttStr) -> Result<Self, TopicError> {
        if topic.is_empty() {
            return Err(TopicError::Empty);
        }
        if topic.bytes().any(|b| b == b'+' || b == b'#') {
            return Err(TopicError::WildcardInName);
        }
        Ok(TopicName(topic))
    }

    /// The decoder's fast check (see [`MqttStr::from_clean_bytes`]): accepts a non-empty,
    /// wildcard-free MQTT string without control characters in one pass. A refusal gives the
    /// bytes back for the detailed checks that name the rule.
    #[inline]
    pub(crate) fn from_clean_bytes(bytes: Bytes) -> Result<Self, Bytes> {
        match MqttStr::from_clean_bytes(bytes)? {
            (text, Wildcards::None) if !text.is_empty() => Ok(TopicName(text)),
            (text, _) => Err(text.into_bytes()),
        }
    }

    /// The empty topic of an MQTT 5 PUBLISH that relies on a topic alias (§3.3.2.3.4).
    pub fn alias_placeholder() -> Self {
        TopicName(MqttStr::EMPTY)
    }

    /// True when the topic starts with `$` (reserved for the server, [MQTT-4.7.2-1]).
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with('$')
    }

    /// The underlying string.
    pub fn as_mqtt_str(&self) -> &MqttStr {
        &self.0
    }

    /// The topic as `&str`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// A topic filter: levels separated by `/`, where `+` fills one level and `#` fills the last.
/// A shared subscription `$share/<name>/<filter>` is a filter too; [`TopicFilter::share_name`]
/// and [`TopicFilter::pattern`] take it apart.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter {
    text: MqttStr,
    /// Byte offset of the pattern inside `text` (0 unless shared).
    pattern_start: u16,
}

impl TopicFilter {
    /// Validates `filter`.
    pub fn new(filter: &str) -> Result<Self, TopicError> {
        Self::from_mqtt_str(MqttStr::new(filter)?)
    }

    /// Validates bytes as a filter, sharing them.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, TopicError> {
        Self::from_mqtt_str(MqttStr::from_bytes(bytes)?)
    }

    /// Validates an already valid MQTT string as a filter.
    pub fn from_mqtt_str(text: MqttStr) -> Result<Self, TopicError> {
        let pattern_start = pattern_start(&text)?;
        Ok(TopicFilter {
            text,
            pattern_start,
        })
    }

    /// The decoder's fast check (see [`MqttStr::from_clean_bytes`]): a filter without control
    /// characters is accepted after one pass over its bytes when it has no wildcard and no
    /// `$share/` prefix, and after the pattern rules otherwise. A refusal gives the bytes back
    /// for the detailed checks that name the rule.
    #[inline]
    pub(crate) fn from_clean_bytes(bytes: Bytes) -> Result<Self, Bytes> {
        let (text, wildcards) = MqttStr::from_clean_bytes(bytes)?;
        let checked = if wildcards == Wildcards::None
            && !text.is_empty()
            && !text.as_bytes().starts_with(SHARE_PREFIX.as_bytes())
        {
            Ok(0)
        } else {
            pattern_start(&text)
        };
        match checked {
            Ok(pattern_start) => Ok(TopicFilter {
                text,
                pattern_start,
            }),
            Err(_) => Err(text.into_bytes()),
        }
    }

    /// The filter as written, including any `$share/<name>/` prefix.
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// The filter as written, shared.
    pub fn as_mqtt_str(&self) -> &MqttStr {
        &self.text
    }

    /// The share name of a shared subscription.
    pub fn share_name(&self) -> Option<&str> {
        if self.pattern_start == 0 {
            return None;
        }
        let end = usize::from(self.pattern_start).saturating_sub(1);
        self.text.get(SHARE_PREFIX.len()..end)
    }

    /// The pattern that topics are matched against (without any `$share/<name>/` prefix).
    pub fn pattern(&self) -> &str {
        self.text
            .get(usize::from(self.pattern_start)..)
            .unwrap_or_default()
    }

    /// True for `$share/...` filters.
    pub fn is_shared(&self) -> bool {
        self.pattern_start != 0
    }

    /// True when the pattern contains `+` or `#`.
    pub fn has_wildcards(&self) -> bool {
        self.pattern().bytes().any(|b| b == b'+' || b == b'#')
    }

    /// Whether `topic` matches this filter under the MQTT rules (§4.7), including the rule that
    /// a filter starting with a wildcard does not match topics starting with `$`.
    pub fn matches(&self, topic: &str) -> bool {
        matches(self.pattern(), topic)
    }
}

/// Matches a filter pattern (no `$share/` prefix) against a topic name under the MQTT rules:
/// `+` matches exactly one level, `#` matches the parent level and any number of child levels,
/// and a leading wildcard never matches a topic that starts with `$` ([MQTT-4.7.2-1]).
pub fn matches(pattern: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (pattern.starts_with('+') || pattern.starts_with('#')) {
        return false;
    }
    let mut filter_levels = pattern.split('/');
    let mut topic_levels = topic.split('/');
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            (Some("#"), _) => return true,
            (Some(f), Some(t)) => {
                if f != "+" && f != t {
                    return false;
                }
            }
            (None, None) => return true,
            (Some(_), None) | (None, Some(_)) => return false,
        }
    }
}

/// Checks `text` as a filter and returns where its pattern starts: after `$share/<name>/` for a
/// shared subscription, 0 otherwise.
#[inline]
fn pattern_start(text: &str) -> Result<u16, TopicError> {
    let pattern_start = match text.strip_prefix(SHARE_PREFIX) {
        Some(rest) => {
            let (name, pattern) = rest.split_once('/').ok_or(TopicError::InvalidShare)?;
            if name.is_empty() || pattern.is_empty() || name.bytes().any(|b| b == b'+' || b == b'#')
            {
                return Err(TopicError::InvalidShare);
            }
            text.len() - pattern.len()
        }
        None => 0,
    };
    let pattern = text.get(pattern_start..).unwrap_or_default();
    if !wildcards_well_placed(pattern.as_bytes()) {
        // The precise check, which names the first offending level.
        validate_pattern(pattern)?;
    }
    // MQTT strings are at most 65,535 bytes, so the offset fits.
    u16::try_from(pattern_start).map_err(|_| TopicError::InvalidShare)
}

/// The prefix of a shared subscription (§4.8.2).
const SHARE_PREFIX: &str = "$share/";

/// Checks the wildcard rules level by level, reporting the first offending level; within a
/// level a misplaced `#` is reported before a misplaced `+`. One pass over the bytes: `/`, `+`
/// and `#` are ASCII and never part of a multi-byte UTF-8 sequence.
#[cold]
fn validate_pattern(pattern: &str) -> Result<(), TopicError> {
    if pattern.is_empty() {
        return Err(TopicError::Empty);
    }
    // Per level: where it starts, and whether it holds `#` or `+`.
    let (mut start, mut hash, mut plus) = (0, false, false);
    for (i, &b) in pattern.as_bytes().iter().enumerate() {
        match b {
            b'/' => {
                check_level(i - start, hash, plus, false)?;
                (start, hash, plus) = (i + 1, false, false);
            }
            b'#' => hash = true,
            b'+' => plus = true,
            _ => {}
        }
    }
    check_level(pattern.len() - start, hash, plus, true)
}

/// The fast form of [`validate_pattern`]: true exactly when it would accept `pattern`. Only the
/// wildcards are looked at — a `+` must fill its level (start of pattern or `/` before it, end
/// or `/` after it), and a `#` must fill the last level — and they are found eight bytes at a
/// time.
#[inline]
fn wildcards_well_placed(pattern: &[u8]) -> bool {
    let Some(last) = pattern.len().checked_sub(1) else {
        return false;
    };
    let fills_its_level = |i: usize| {
        let starts_level = i == 0 || pattern.get(i.wrapping_sub(1)) == Some(&b'/');
        let ends_level = i == last || pattern.get(i + 1) == Some(&b'/');
        starts_level && ends_level && (i == last || pattern.get(i) == Some(&b'+'))
    };
    // Checks the wildcards in the eight bytes from `start`.
    let word_ok = |start: usize, word: &[u8; 8]| {
        let w = u64::from_le_bytes(*word);
        let mut found = byte_is(w, b'+') | byte_is(w, b'#');
        while found != 0 {
            // The flag is the high bit of the matching byte.
            let i = start + (found.trailing_zeros() / 8) as usize;
            if !fills_its_level(i) {
                return false;
            }
            found &= found - 1;
        }
        true
    };
    let (words, _) = pattern.as_chunks::<8>();
    match pattern.last_chunk::<8>() {
        // The last word may overlap the others; checking a wildcard twice is harmless.
        Some(tail) => {
            words
                .iter()
                .enumerate()
                .all(|(k, word)| word_ok(k * 8, word))
                && word_ok(pattern.len() - 8, tail)
        }
        None => pattern
            .iter()
            .enumerate()
            .all(|(i, &b)| (b != b'+' && b != b'#') || fills_its_level(i)),
    }
}

/// The high bit of each byte of `w` that equals `b`, and no other bit.
#[inline(always)]
fn byte_is(w: u64, b: u8) -> u64 {
    const LOW7: u64 = u64::from_ne_bytes([0x7F; 8]);
    let x = w ^ u64::from_ne_bytes([b; 8]);
    !(((x & LOW7) + LOW7) | x) & !LOW7
}

/// The rules for one level of `len` bytes: `#` only as the whole last level, `+` only as a
/// whole level.
#[inline]
fn check_level(len: usize, hash: bool, plus: bool, last: bool) -> Result<(), TopicError> {
    if hash && (len != 1 || !last) {
        return Err(TopicError::MisplacedMultiLevelWildcard);
    }
    if plus && len != 1 {
        return Err(TopicError::MisplacedSingleLevelWildcard);
    }
    Ok(())
}

impl Deref for TopicName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_match(filter: &str, topic: &str, expected: bool) {
        let f = TopicFilter::new(filter).unwrap();
        assert_eq!(
            f.matches(topic),
            expected,
            "filter {filter:?} against topic {topic:?}"
        );
    }

    #[test]
    fn spec_examples_of_multi_level_wildcard() {
        // §4.7.1.2: "sport/tennis/player1/#" matches these three.
        check_match("sport/tennis/player1/#", "sport/tennis/player1", true);
        check_match(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking",
            true,
        );
        check_match(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon",
            true,
        );
        check_match("sport/#", "sport", true);
        check_match("#", "anything/at/all", true);
        check_match("sport/#", "sports", false);
    }

    #[test]
    fn spec_examples_of_single_level_wildcard() {
        // §4.7.1.3
        check_match("sport/tennis/+", "sport/tennis/player1", true);
        check_match("sport/tennis/+", "sport/tennis/player2", true);
        check_match("sport/tennis/+", "sport/tennis/player1/ranking", false);
        check_match("sport/+", "sport", false);
        check_match("sport/+", "sport/", true);
        check_match("+/+", "/finance", true);
        check_match("/+", "/finance", true);
        check_match("+", "/finance", false);
        check_match("+/tennis/#", "sport/tennis/x", true);
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        // [MQTT-4.7.2-1]
        check_match("#", "$SYS/broker", false);
        check_match("+/monitor/Clients", "$SYS/monitor/Clients", false);
        check_match("$SYS/#", "$SYS/monitor/Clients", true);
        check_match("$SYS/monitor/+", "$SYS/monitor/Clients", true);
    }

    #[test]
    fn empty_levels_are_levels() {
        check_match("a//b", "a//b", true);
        check_match("a/+/b", "a//b", true);
        check_match("a/b", "a/b/", false);
    }

    #[test]
    fn invalid_filters_name_their_rule() {
        assert_eq!(TopicFilter::new(""), Err(TopicError::Empty));
        assert_eq!(
            TopicFilter::new("sport/tennis#"),
            Err(TopicError::MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            TopicFilter::new("sport/#/ranking"),
            Err(TopicError::MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            TopicFilter::new("sport+"),
            Err(TopicError::MisplacedSingleLevelWildcard)
        );
        assert_eq!(
            TopicFilter::new("a/b+/c"),
            Err(TopicError::MisplacedSingleLevelWildcard)
        );
    }

    #[test]
    fn topic_names_refuse_wildcards_and_emptiness() {
        assert_eq!(TopicName::new("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(TopicName::new("a/#"), Err(TopicError::WildcardInName));
        assert_eq!(TopicName::new(""), Err(TopicError::Empty));
        assert!(
            TopicName::new("$aws/things/x/shadow/get")
                .unwrap()
                .is_reserved()
        );
    }

    #[test]
    fn shared_subscriptions_split_into_name_and_pattern() {
        let f = TopicFilter::new("$share/group/sensors/+/temp").unwrap();
        assert!(f.is_shared());
        assert_eq!(f.share_name(), Some("group"));
        assert_eq!(f.pattern(), "sensors/+/temp");
        assert!(f.matches("sensors/1/temp"));
        assert_eq!(
            TopicFilter::new("$share/group"),
            Err(TopicError::InvalidShare)
        );
        assert_eq!(TopicFilter::new("$share//a"), Err(TopicError::InvalidShare));
        assert_eq!(
            TopicFilter::new("$share/g+/a"),
            Err(TopicError::InvalidShare)
        );
        assert_eq!(TopicFilter::new("$share/g/"), Err(TopicError::InvalidShare));
        let plain = TopicFilter::new("$shared/x").unwrap();
        assert!(!plain.is_shared());
    }

    /// The level-by-level rules as first written with `split`, kept as the reference that
    /// the byte-wise checks must agree with.
    fn reference_pattern(pattern: &str) -> Result<(), TopicError> {
        if pattern.is_empty() {
            return Err(TopicError::Empty);
        }
        let mut levels = pattern.split('/').peekable();
        while let Some(level) = levels.next() {
            if level.contains('#') && (level != "#" || levels.peek().is_some()) {
                return Err(TopicError::MisplacedMultiLevelWildcard);
            }
            if level.contains('+') && level != "+" {
                return Err(TopicError::MisplacedSingleLevelWildcard);
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 4096,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        #[test]
        fn byte_wise_pattern_checks_agree_with_the_reference(pattern in "[a/+#é]{0,40}") {
            let expected = reference_pattern(&pattern);
            proptest::prop_assert_eq!(validate_pattern(&pattern), expected);
            proptest::prop_assert_eq!(wildcards_well_placed(pattern.as_bytes()), expected.is_ok());
        }

        #[test]
        fn clean_constructors_agree_with_the_checked_ones(text in "[a/+#$]{0,12}|\\$share/[a/+#]{0,8}") {
            let bytes = Bytes::copy_from_slice(text.as_bytes());
            proptest::prop_assert_eq!(
                TopicName::from_clean_bytes(bytes.clone()).ok(),
                TopicName::new(&text).ok()
            );
            proptest::prop_assert_eq!(
                TopicFilter::from_clean_bytes(bytes).ok(),
                TopicFilter::new(&text).ok()
            );
        }
    }
}
