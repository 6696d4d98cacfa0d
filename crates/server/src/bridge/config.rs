//! What a `[[bridge]]` is, as plain data the CLI fills from the config file: the upstream
//! connection (client crate options: TCP, mutual TLS or SigV4 WebSockets, MQTT 3.1.1 or 5), the
//! topic lines (mosquitto's `topic PATTERN DIRECTION QOS LOCAL-PREFIX REMOTE-PREFIX`), the
//! upstream's limits (AWS IoT Core's by default), the durable queue's bound, the in-flight
//! window and the reconnect backoff; and [`BridgeConfig::check`], which refuses what cannot work
//! before anything connects. It reads no files and opens nothing.

use std::time::Duration;

use broker_core::{Limits, Profile};
use mqtt_proto::{Protocol, QoS, TopicFilter};

/// One bridge to an upstream broker.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Its name: in metrics labels, log lines, refusal records and the local client id.
    pub name: String,
    /// How to reach the upstream: host, port, TLS or WebSockets, and the MQTT session
    /// (protocol, client id, keep-alive, clean start, session expiry). `reconnect` is ignored:
    /// the bridge reconnects itself with `backoff`.
    pub upstream: client::ConnectOptions,
    /// The topic lines.
    pub topics: Vec<BridgeTopic>,
    /// What the upstream accepts.
    pub limits: UpstreamLimits,
    /// Outbound messages kept while the upstream is away (in memory and in the store); beyond
    /// it the oldest waiting one is dropped and counted.
    pub queue_limit: usize,
    /// Outbound QoS 1 messages sent upstream and not yet acknowledged, at most.
    pub max_inflight: usize,
    /// Delays between connection attempts: exponential with jitter.
    pub backoff: client::Reconnect,
}

/// Which way a topic line carries messages, as mosquitto's `in`, `out` and `both`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Upstream to tether.
    In,
    /// tether to upstream.
    Out,
    /// Both ways (needs MQTT 5's No Local upstream to keep messages from coming back).
    Both,
}

impl Direction {
    /// Whether local messages go upstream.
    pub fn outbound(self) -> bool {
        matches!(self, Direction::Out | Direction::Both)
    }

    /// Whether upstream messages come here.
    pub fn inbound(self) -> bool {
        matches!(self, Direction::In | Direction::Both)
    }

    /// `in`, `out` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Both => "both",
        }
    }
}

/// One topic line: the filter `local_prefix + pattern` here is `remote_prefix + pattern`
/// upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeTopic {
    /// The topic filter, wildcards allowed, without the prefixes.
    pub pattern: String,
    /// Which way.
    pub direction: Direction,
    /// The QoS of the subscriptions on both sides (messages keep a lower QoS of their own).
    pub qos: QoS,
    /// Prepended to `pattern` on this side ("" for none).
    pub local_prefix: String,
    /// Prepended to `pattern` upstream ("" for none).
    pub remote_prefix: String,
}

/// What the upstream broker accepts; a message beyond these is dropped and counted rather than
/// sent to be refused (AWS IoT closes the connection for most of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// What the limits are called in messages (`AWS IoT Core`, `none`).
    pub name: &'static str,
    /// Largest payload, bytes.
    pub max_payload: Option<usize>,
    /// Longest topic, bytes.
    pub max_topic_bytes: Option<usize>,
    /// Most `/` in a topic.
    pub max_topic_slashes: Option<usize>,
    /// Longest client id, bytes.
    pub max_client_id_bytes: Option<usize>,
    /// Client ids starting with `$` are refused.
    pub reserve_dollar_client_ids: bool,
    /// Highest QoS.
    pub maximum_qos: QoS,
    /// Filters per SUBSCRIBE packet.
    pub filters_per_subscribe: Option<usize>,
    /// Subscriptions per connection.
    pub max_subscriptions: Option<usize>,
    /// PUBLISH packets per second the bridge sends.
    pub publishes_per_second: Option<u32>,
    /// Payload bytes per second the bridge sends.
    pub bytes_per_second: Option<u32>,
}

/// AWS IoT Core's publishes per second per connection (in and out together; excess is
/// silently discarded) and throughput per connection (excess is delayed): "AWS IoT Core
/// message broker and protocol limits and quotas" in the AWS general reference. The bridge
/// keeps its outbound side within them; what comes in is the upstream's to pace.
pub const AWS_PUBLISHES_PER_SECOND: u32 = 100;
/// See [`AWS_PUBLISHES_PER_SECOND`]: 512 KiB/s.
pub const AWS_BYTES_PER_SECOND: u32 = 512 * 1024;

impl UpstreamLimits {
    /// AWS IoT Core's: the same values tether serve's aws profile enforces on its own clients
    /// (broker-core's `Limits`), plus the per-connection rates.
    pub fn aws_iot() -> UpstreamLimits {
        let aws = Limits::for_profile(Profile::Aws);
        UpstreamLimits {
            name: "AWS IoT Core",
            max_payload: aws.max_payload,
            max_topic_bytes: aws.max_topic_bytes,
            max_topic_slashes: aws.max_topic_slashes,
            max_client_id_bytes: aws.max_client_id_bytes,
            reserve_dollar_client_ids: aws.reserve_dollar_client_ids,
            maximum_qos: aws.maximum_qos,
            filters_per_subscribe: aws.max_filters_per_subscribe,
            max_subscriptions: aws.max_subscriptions_per_session,
            publishes_per_second: Some(AWS_PUBLISHES_PER_SECOND),
            bytes_per_second: Some(AWS_BYTES_PER_SECOND),
        }
    }

    /// A broker without such limits (mosquitto, EMQX, HiveMQ...): nothing is checked.
    pub fn none() -> UpstreamLimits {
        UpstreamLimits {
            name: "none",
            max_payload: None,
            max_topic_bytes: None,
            max_topic_slashes: None,
            max_client_id_bytes: None,
            reserve_dollar_client_ids: false,
            maximum_qos: QoS::ExactlyOnce,
            filters_per_subscribe: None,
            max_subscriptions: None,
            publishes_per_second: None,
            bytes_per_second: None,
        }
    }

    /// Why `topic` (with `payload_len` bytes) cannot go upstream, if it cannot.
    pub fn refuses_publish(&self, topic: &str, payload_len: usize) -> Option<String> {
        if let Some(max) = self.max_payload
            && payload_len > max
        {
            return Some(format!(
                "its payload of {payload_len} bytes is over the upstream's {max} ({} limits)",
                self.name
            ));
        }
        self.refuses_topic(topic)
    }

    /// Why a topic name or filter is beyond the upstream's limits, if it is. AWS does not count
    /// the `$aws/rules/RULE/` prefix of Basic Ingest topics.
    pub fn refuses_topic(&self, topic: &str) -> Option<String> {
        let counted = basic_ingest_rest(topic).unwrap_or(topic);
        // Nor the `$share/GROUP/` of a shared subscription.
        let counted = super::topics::split_share(counted).1;
        if let Some(max) = self.max_topic_bytes
            && counted.len() > max
        {
            return Some(format!(
                "topic {topic} is {} bytes, over the upstream's {max} ({} limits)",
                counted.len(),
                self.name
            ));
        }
        if let Some(max) = self.max_topic_slashes {
            let slashes = counted.bytes().filter(|b| *b == b'/').count();
            if slashes > max {
                return Some(format!(
                    "topic {topic} has {slashes} slashes, over the upstream's {max} ({} limits: \
                     {} levels at most)",
                    self.name,
                    max + 1
                ));
            }
        }
        None
    }
}

/// The part of a Basic Ingest topic after `$aws/rules/RULE/`.
fn basic_ingest_rest(topic: &str) -> Option<&str> {
    let rest = topic.strip_prefix("$aws/rules/")?;
    rest.split_once('/').map(|(_, after)| after)
}

/// A bridge that cannot work as configured. Each names the bridge and the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeConfigError {
    /// The name is empty or unusable in a client id and metrics label.
    #[error(
        "bridge name {0:?}: use 1 to 64 letters, digits, '-' or '_' (it names the bridge in \
         metrics, logs and its local client id)"
    )]
    Name(String),
    /// Two bridges share a name.
    #[error("two [[bridge]] tables are named {0:?}; give each its own name")]
    DuplicateName(String),
    /// The client id breaks the upstream's rules.
    #[error("bridge {bridge}: client-id {client_id:?} {why}")]
    ClientId {
        /// The bridge.
        bridge: String,
        /// The client id.
        client_id: String,
        /// What is wrong.
        why: String,
    },
    /// No topic line.
    #[error(
        "bridge {0}: no topics; add topics = [{{ pattern = \"site/#\", direction = \"out\", \
         qos = 1 }}]"
    )]
    NoTopics(String),
    /// A topic line's filter is not a valid MQTT filter, here or upstream.
    #[error("bridge {bridge}: topic {pattern:?}: {why}")]
    Topic {
        /// The bridge.
        bridge: String,
        /// The pattern as written.
        pattern: String,
        /// What is wrong.
        why: String,
    },
    /// `both` over MQTT 3.1.1 would echo every message back.
    #[error(
        "bridge {bridge}: topic {pattern:?} has direction \"both\", which needs protocol = \"5\" \
         (MQTT 3.1.1 has no No Local, so every message would come back and loop); use \
         protocol 5, or an \"in\" and an \"out\" line with prefixes that do not overlap"
    )]
    BothOverV311 {
        /// The bridge.
        bridge: String,
        /// The pattern.
        pattern: String,
    },
    /// More subscriptions upstream than it allows.
    #[error(
        "bridge {bridge}: {count} inbound topic lines, but the upstream allows {max} \
         subscriptions per connection ({limits} limits); merge them with wildcards"
    )]
    TooManySubscriptions {
        /// The bridge.
        bridge: String,
        /// Inbound lines.
        count: usize,
        /// The limit.
        max: usize,
        /// Whose limits.
        limits: &'static str,
    },
    /// A number that must be positive is zero.
    #[error("bridge {bridge}: {setting} must be at least 1")]
    Zero {
        /// The bridge.
        bridge: String,
        /// The setting.
        setting: &'static str,
    },
}

impl BridgeConfig {
    /// Checks everything that can be checked before connecting.
    pub fn check(&self) -> Result<(), BridgeConfigError> {
        let bridge = || self.name.clone();
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(BridgeConfigError::Name(self.name.clone()));
        }
        self.check_client_id()?;
        if self.topics.is_empty() {
            return Err(BridgeConfigError::NoTopics(bridge()));
        }
        for (setting, value) in [
            ("queue-limit", self.queue_limit),
            ("max-inflight", self.max_inflight),
        ] {
            if value == 0 {
                return Err(BridgeConfigError::Zero {
                    bridge: bridge(),
                    setting,
                });
            }
        }
        for topic in &self.topics {
            self.check_topic(topic)?;
        }
        let inbound = self.topics.iter().filter(|t| t.direction.inbound()).count();
        if let Some(max) = self.limits.max_subscriptions
            && inbound > max
        {
            return Err(BridgeConfigError::TooManySubscriptions {
                bridge: bridge(),
                count: inbound,
                max,
                limits: self.limits.name,
            });
        }
        Ok(())
    }

    fn check_client_id(&self) -> Result<(), BridgeConfigError> {
        let client_id = self.upstream.mqtt.client_id.as_str();
        let refuse = |why: String| BridgeConfigError::ClientId {
            bridge: self.name.clone(),
            client_id: client_id.to_owned(),
            why,
        };
        if client_id.is_empty() {
            return Err(refuse(
                "is empty; a bridge needs a client id of its own upstream, e.g. the site name"
                    .to_owned(),
            ));
        }
        if let Some(max) = self.limits.max_client_id_bytes
            && client_id.len() > max
        {
            return Err(refuse(format!(
                "is {} bytes; the upstream allows {max} ({} limits)",
                client_id.len(),
                self.limits.name
            )));
        }
        if self.limits.reserve_dollar_client_ids && client_id.starts_with('$') {
            return Err(refuse(format!(
                "starts with $, which the upstream reserves ({} limits)",
                self.limits.name
            )));
        }
        Ok(())
    }

    fn check_topic(&self, topic: &BridgeTopic) -> Result<(), BridgeConfigError> {
        let refuse = |why: String| BridgeConfigError::Topic {
            bridge: self.name.clone(),
            pattern: topic.pattern.clone(),
            why,
        };
        if topic.pattern.is_empty() {
            return Err(refuse(
                "the pattern is empty; give a topic filter such as site/#".to_owned(),
            ));
        }
        for (side, prefix) in [
            ("local-prefix", &topic.local_prefix),
            ("remote-prefix", &topic.remote_prefix),
        ] {
            if prefix.contains(['+', '#']) {
                return Err(refuse(format!(
                    "{side} {prefix:?} has a wildcard; prefixes are plain topic levels ending \
                     with /"
                )));
            }
            let filter = format!("{prefix}{}", topic.pattern);
            if let Err(e) = TopicFilter::new(&filter) {
                return Err(refuse(format!("{filter:?} is not a topic filter: {e}")));
            }
        }
        let remote = format!("{}{}", topic.remote_prefix, topic.pattern);
        if let Some(why) = self.limits.refuses_topic(&remote) {
            return Err(refuse(why));
        }
        if topic.qos > self.limits.maximum_qos {
            return Err(refuse(format!(
                "qos {} is above what the upstream supports ({} limits: QoS {} at most)",
                topic.qos as u8, self.limits.name, self.limits.maximum_qos as u8
            )));
        }
        if topic.direction == Direction::Both && self.upstream.mqtt.protocol != Protocol::V5 {
            return Err(BridgeConfigError::BothOverV311 {
                bridge: self.name.clone(),
                pattern: topic.pattern.clone(),
            });
        }
        Ok(())
    }

    /// The subscription window and reconnect pacing defaults, for the CLI.
    pub fn default_backoff() -> client::Reconnect {
        client::Reconnect {
            // AWS IoT allows one CONNECT per second per client id.
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(120),
            multiplier: 2.0,
            jitter: 0.5,
            max_attempts: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(pattern: &str, direction: Direction) -> BridgeTopic {
        BridgeTopic {
            pattern: pattern.to_owned(),
            direction,
            qos: QoS::AtLeastOnce,
            local_prefix: String::new(),
            remote_prefix: String::new(),
        }
    }

    fn config(topics: Vec<BridgeTopic>) -> BridgeConfig {
        let mut upstream = client::ConnectOptions::default();
        upstream.mqtt.client_id = mqtt_proto::MqttStr::new("site-1").unwrap();
        upstream.mqtt.protocol = Protocol::V5;
        BridgeConfig {
            name: "aws".to_owned(),
            upstream,
            topics,
            limits: UpstreamLimits::aws_iot(),
            queue_limit: 10,
            max_inflight: 10,
            backoff: BridgeConfig::default_backoff(),
        }
    }

    #[test]
    fn a_usable_bridge_passes() {
        config(vec![topic("site/#", Direction::Out)])
            .check()
            .unwrap();
    }

    #[test]
    fn aws_limits_refuse_what_aws_would() {
        let mut deep = config(vec![topic("a/b/c/d/e/f/g/h/#", Direction::In)]);
        let e = deep.check().unwrap_err().to_string();
        assert!(e.contains("8 slashes") && e.contains("AWS IoT Core"), "{e}");
        deep.limits = UpstreamLimits::none();
        deep.check().unwrap();

        let mut qos2 = config(vec![topic("x", Direction::Out)]);
        qos2.topics[0].qos = QoS::ExactlyOnce;
        assert!(qos2.check().unwrap_err().to_string().contains("qos 2"));

        let mut dollar = config(vec![topic("x", Direction::Out)]);
        dollar.upstream.mqtt.client_id = mqtt_proto::MqttStr::new("$gw").unwrap();
        assert!(
            dollar
                .check()
                .unwrap_err()
                .to_string()
                .contains("starts with $")
        );

        let many = config(
            (0..51)
                .map(|i| topic(&format!("t{i}"), Direction::In))
                .collect(),
        );
        assert!(matches!(
            many.check(),
            Err(BridgeConfigError::TooManySubscriptions { count: 51, .. })
        ));
        let limits = UpstreamLimits::aws_iot();
        assert!(limits.refuses_publish("a", 128 * 1024).is_none());
        assert!(
            limits
                .refuses_publish("a", 128 * 1024 + 1)
                .unwrap()
                .contains("131073 bytes")
        );
        // Basic Ingest's prefix does not count, as on AWS.
        assert!(limits.refuses_topic("$aws/rules/r/a/b/c/d/e/f/g").is_none());
    }

    #[test]
    fn both_directions_need_mqtt_5_and_prefixes_no_wildcards() {
        let mut v3 = config(vec![topic("x/#", Direction::Both)]);
        v3.upstream.mqtt.protocol = Protocol::V311;
        assert!(matches!(
            v3.check(),
            Err(BridgeConfigError::BothOverV311 { .. })
        ));
        let mut wild = config(vec![topic("x", Direction::Out)]);
        wild.topics[0].local_prefix = "+/".to_owned();
        assert!(wild.check().unwrap_err().to_string().contains("wildcard"));
        let mut bad = config(vec![topic("a/#/b", Direction::Out)]);
        assert!(
            bad.check()
                .unwrap_err()
                .to_string()
                .contains("not a topic filter")
        );
        bad.topics.clear();
        assert!(matches!(bad.check(), Err(BridgeConfigError::NoTopics(_))));
        let mut name = config(vec![topic("x", Direction::Out)]);
        name.name = "a b".to_owned();
        assert!(matches!(name.check(), Err(BridgeConfigError::Name(_))));
    }
}
