//! Broker configuration: the profile (AWS IoT Core or plain MQTT) and the limits and rules it
//! implies. Plain data with defaults; nothing here reads files or the environment (only `cli`
//! does), and nothing here enforces the rules (see `profile.rs` and the broker).

use mqtt_proto::{QoS, TopicFilter};

/// Which broker the core behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// AWS IoT Core as documented (shared/reference/aws-iot-contract.md §1): QoS ≤ 1, 128 KB
    /// payloads, topic and client id limits, retained messages only for exact-topic subscribes,
    /// `sensor/#` not matching `sensor`, unauthorized MQTT 3.1.1 operations close the connection.
    #[default]
    Aws,
    /// A standards-complete MQTT 3.1.1/5 broker: QoS 2, retained messages on wildcard subscribes
    /// with retain handling, subscription identifiers, no AWS size limits.
    Mqtt,
}

impl Profile {
    /// The profile's name as `tether serve --profile` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Aws => "aws",
            Profile::Mqtt => "mqtt",
        }
    }
}

/// Every limit and behavioural switch the profiles differ in. `Limits::for_profile` gives the
/// documented values; fields are public so a deployment can adjust the adjustable ones (AWS's
/// session expiry quota, for example).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Highest QoS accepted on PUBLISH, SUBSCRIBE and wills. Above it: QoS-not-supported (0x9B).
    pub maximum_qos: QoS,
    /// Largest accepted PUBLISH / will payload in bytes.
    pub max_payload: Option<usize>,
    /// Largest topic name or filter in bytes, not counting the `$aws/rules/<rule>/` and
    /// `$share/<name>/` prefixes.
    pub max_topic_bytes: Option<usize>,
    /// Most `/` in a topic name or filter, not counting those prefixes.
    pub max_topic_slashes: Option<usize>,
    /// Longest share name in a `$share/<name>/<filter>` filter, in bytes.
    pub max_share_name_bytes: Option<usize>,
    /// Longest client id in bytes.
    pub max_client_id_bytes: Option<usize>,
    /// Client ids starting with `$` are refused (AWS reserves them).
    pub reserve_dollar_client_ids: bool,
    /// Most filters handled per SUBSCRIBE; the rest get Quota exceeded (0x97).
    pub max_filters_per_subscribe: Option<usize>,
    /// Most subscriptions a session may hold; new ones beyond it get Quota exceeded (0x97).
    pub max_subscriptions_per_session: Option<usize>,
    /// Keep-alive clamp `(min, max)` in seconds; a client's 0 becomes `max`. `None` keeps the
    /// client's value.
    pub keep_alive_clamp: Option<(u16, u16)>,
    /// The longest keep-alive granted, in seconds, as mosquitto's `max_keepalive`: an MQTT 5
    /// client that asks for more, or for none (0), is told this value in CONNACK's Server Keep
    /// Alive ([MQTT-3.2.2-21]); an MQTT 3.1.1/3.1 client cannot be told, so it is refused with
    /// return code 2 (identifier rejected, the code that reference broker answers). `None`:
    /// whatever the client asks. Applied after `keep_alive_clamp`.
    pub max_keep_alive: Option<u16>,
    /// Topic filters no client may subscribe to (a deployment's list, e.g. what an
    /// interoperability suite expects to be refused). A requested filter is refused with SUBACK
    /// 0x87 Not authorized (MQTT 3.1.1: 0x80) when one of these matches it read as a topic
    /// name: `secret/#` refuses `secret/a`, `secret/+` and `secret/#`, but not `#`. It refuses
    /// subscribing, not receiving; policies (profile `aws`) decide what may be received.
    pub refused_filters: Vec<TopicFilter>,
    /// Session expiry (seconds) given to an MQTT 3.1.1 session with Clean Session = 0.
    /// `u32::MAX` means the session never expires.
    pub default_session_expiry: u32,
    /// Largest session expiry granted (seconds); larger requests are lowered and CONNACK says so.
    pub max_session_expiry: u32,
    /// `(min, max)` clamp for MQTT 5 Message Expiry Interval, in seconds (AWS: 1..=604800).
    pub message_expiry_clamp: Option<(u32, u32)>,
    /// Whether retained messages are delivered at subscribe time to wildcard subscriptions
    /// (MQTT) or only when the filter equals the topic (AWS).
    pub retained_on_wildcard_subscribe: bool,
    /// Whether `a/#` also matches `a` (MQTT §4.7.1.2) — AWS says it does not.
    pub multi_level_wildcard_matches_parent: bool,
    /// Whether PUBLISH with RETAIN on a `$` topic may store a retained message.
    pub retain_on_reserved_topics: bool,
    /// Whether a client's PUBLISH (or will) to a reserved topic AWS lists as subscribe-only
    /// (`$aws/events/…`, service responses, notifications: `reserved.rs`) is refused as not
    /// authorized, whatever the policy allows (AWS).
    pub subscribe_only_reserved_topics: bool,
    /// Whether SUBSCRIBE may carry a Subscription Identifier; if not, DISCONNECT 0xA1.
    pub subscription_identifiers: bool,
    /// Topic Alias Maximum advertised in CONNACK (the server's connection task applies it).
    pub topic_alias_maximum: u16,
    /// An unauthorized PUBLISH or SUBSCRIBE from an MQTT 3.1.1 client closes the connection
    /// (AWS) instead of being acknowledged and dropped / refused with SUBACK 0x80 (MQTT).
    pub unauthorized_v3_closes: bool,
    /// `$aws/rules/<rule>/...` publishes go to the rules engine only, never to subscribers.
    pub basic_ingest_topics: bool,
    /// Resuming a session with a different protocol version starts a fresh session (AWS).
    pub resume_requires_same_protocol: bool,
    /// A QoS 1 PUBACK (MQTT 5) says No matching subscribers (0x10) when nobody received the
    /// message. PUBREC never does.
    pub report_no_matching_subscribers: bool,
}

impl Limits {
    /// The documented values for `profile`.
    pub fn for_profile(profile: Profile) -> Limits {
        match profile {
            Profile::Aws => Limits {
                maximum_qos: QoS::AtLeastOnce,
                max_payload: Some(128 * 1024),
                max_topic_bytes: Some(256),
                max_topic_slashes: Some(7),
                max_share_name_bytes: Some(128),
                max_client_id_bytes: Some(128),
                reserve_dollar_client_ids: true,
                max_filters_per_subscribe: Some(8),
                max_subscriptions_per_session: Some(50),
                keep_alive_clamp: Some((30, 1200)),
                max_keep_alive: None,
                refused_filters: Vec::new(),
                default_session_expiry: 3600,
                max_session_expiry: 3600,
                message_expiry_clamp: Some((1, 604_800)),
                retained_on_wildcard_subscribe: false,
                multi_level_wildcard_matches_parent: false,
                retain_on_reserved_topics: false,
                subscribe_only_reserved_topics: true,
                subscription_identifiers: false,
                topic_alias_maximum: 8,
                unauthorized_v3_closes: true,
                basic_ingest_topics: true,
                resume_requires_same_protocol: true,
                report_no_matching_subscribers: false,
            },
            Profile::Mqtt => Limits {
                maximum_qos: QoS::ExactlyOnce,
                max_payload: None,
                max_topic_bytes: None,
                max_topic_slashes: None,
                max_share_name_bytes: None,
                max_client_id_bytes: None,
                reserve_dollar_client_ids: false,
                max_filters_per_subscribe: None,
                max_subscriptions_per_session: None,
                keep_alive_clamp: None,
                max_keep_alive: None,
                refused_filters: Vec::new(),
                default_session_expiry: u32::MAX,
                max_session_expiry: u32::MAX,
                message_expiry_clamp: None,
                retained_on_wildcard_subscribe: true,
                multi_level_wildcard_matches_parent: true,
                retain_on_reserved_topics: true,
                subscribe_only_reserved_topics: false,
                subscription_identifiers: true,
                topic_alias_maximum: 8,
                unauthorized_v3_closes: false,
                basic_ingest_topics: false,
                resume_requires_same_protocol: false,
                report_no_matching_subscribers: true,
            },
        }
    }
}

/// AWS's hard ceiling for the (adjustable) persistent-session expiry quota: 7 days.
pub const AWS_MAX_SESSION_EXPIRY: u32 = 7 * 24 * 3600;

/// Configuration of a [`crate::Broker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// The profile the limits came from (reported, and used where a rule has no limit field).
    pub profile: Profile,
    /// Limits and rules in force.
    pub limits: Limits,
    /// Most messages queued for one offline persistent session. When full, the oldest queued
    /// message is dropped to make room (telemetry favours fresh data) and
    /// [`crate::BrokerStats::queue_dropped`] counts it.
    pub max_queued_per_session: usize,
    /// Prefix of client ids the broker assigns to clients that send an empty one.
    pub assigned_client_id_prefix: String,
    /// Publishes that go to services of the server (see [`crate::Broker::set_service_routes`]).
    pub service_routes: Vec<crate::ServiceRoute>,
}

impl BrokerConfig {
    /// The configuration for `profile` with its documented limits.
    pub fn for_profile(profile: Profile) -> BrokerConfig {
        BrokerConfig {
            profile,
            limits: Limits::for_profile(profile),
            max_queued_per_session: 1000,
            assigned_client_id_prefix: "tether-".to_owned(),
            service_routes: Vec::new(),
        }
    }

    /// Checks values that cannot work together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_queued_per_session == 0 {
            return Err(ConfigError::ZeroQueue);
        }
        if self.profile == Profile::Aws && self.limits.max_session_expiry > AWS_MAX_SESSION_EXPIRY {
            return Err(ConfigError::AwsSessionExpiry(
                self.limits.max_session_expiry,
            ));
        }
        if self.limits.default_session_expiry > self.limits.max_session_expiry {
            return Err(ConfigError::DefaultAboveMax {
                default: self.limits.default_session_expiry,
                max: self.limits.max_session_expiry,
            });
        }
        if let Some((min, max)) = self.limits.keep_alive_clamp
            && (min > max || min == 0)
        {
            return Err(ConfigError::KeepAliveClamp { min, max });
        }
        if self.limits.max_keep_alive == Some(0) {
            return Err(ConfigError::ZeroMaxKeepAlive);
        }
        Ok(())
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig::for_profile(Profile::Aws)
    }
}

/// A configuration the broker refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `max_queued_per_session` is 0.
    #[error("broker config: max_queued_per_session is 0; set it to at least 1")]
    ZeroQueue,
    /// The AWS profile's session expiry quota is above AWS's 7-day ceiling.
    #[error(
        "broker config: max_session_expiry {0} s is above AWS IoT's 7-day ceiling (604800 s); \
         lower it or use the mqtt profile"
    )]
    AwsSessionExpiry(u32),
    /// The default session expiry is larger than the maximum.
    #[error(
        "broker config: default_session_expiry {default} s is above max_session_expiry {max} s; \
         lower the default or raise the maximum"
    )]
    DefaultAboveMax {
        /// The default.
        default: u32,
        /// The maximum.
        max: u32,
    },
    /// `max_keep_alive` is 0, which would grant no keep-alive to everyone.
    #[error(
        "broker config: max_keep_alive is 0; give the longest keep-alive to grant, 1 to 65535 \
         seconds, or leave it unset for no maximum"
    )]
    ZeroMaxKeepAlive,
    /// The keep-alive clamp is empty or starts at 0.
    #[error(
        "broker config: keep_alive_clamp ({min}, {max}) must have 0 < min <= max; fix the bounds"
    )]
    KeepAliveClamp {
        /// Lower bound.
        min: u16,
        /// Upper bound.
        max: u16,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_profiles_validate() {
        assert_eq!(BrokerConfig::for_profile(Profile::Aws).validate(), Ok(()));
        assert_eq!(BrokerConfig::for_profile(Profile::Mqtt).validate(), Ok(()));
        assert_eq!(BrokerConfig::default().profile, Profile::Aws);
    }

    #[test]
    fn aws_session_expiry_cannot_exceed_seven_days() {
        let mut config = BrokerConfig::for_profile(Profile::Aws);
        config.limits.max_session_expiry = AWS_MAX_SESSION_EXPIRY;
        assert_eq!(config.validate(), Ok(()));
        config.limits.max_session_expiry = AWS_MAX_SESSION_EXPIRY + 1;
        assert_eq!(
            config.validate(),
            Err(ConfigError::AwsSessionExpiry(604_801))
        );
        config.limits.max_session_expiry = 10;
        assert!(matches!(
            config.validate(),
            Err(ConfigError::DefaultAboveMax { .. })
        ));
    }
}
