//! What the caller tells the evaluator about one message (topic, client, principal, time,
//! account, trace id, source IP) and the caller's side of the functions that need the world
//! (`newuuid()`, `rand()`, `get_thing_shadow()`), plus the payload as the rules engine sees it.
//! The crate reads no clock and draws no random numbers itself.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value as Json;

/// The message a rule is evaluated for, and the environment it runs in.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The topic the message was published to, as `topic()` returns it. For Basic Ingest, the
    /// caller strips the `$aws/rules/{ruleName}/` prefix first (see [`basic_ingest_topic`]).
    pub topic: &'a str,
    /// The MQTT client id; `clientid()` returns `"n/a"` when there is none (AWS: "or n/a if
    /// the message wasn't sent over MQTT").
    pub client_id: Option<&'a str>,
    /// `principal()`: the certificate id for X.509 clients, the IAM identity for HTTP; Undefined
    /// when absent (tether's choice).
    pub principal: Option<&'a str>,
    /// `sourceip()`: the publisher's IP address; Undefined when absent.
    pub source_ip: Option<&'a str>,
    /// `traceid()`: the MQTT message's trace id; Undefined when absent (AWS: "or Undefined if the
    /// message wasn't sent over MQTT").
    pub trace_id: Option<&'a str>,
    /// `accountid()`: the account that owns the rule.
    pub account_id: &'a str,
    /// `timestamp()`: milliseconds since the Unix epoch, as the rules engine observed it.
    pub timestamp_ms: i64,
    /// `newuuid()`, `rand()` and `get_thing_shadow()`.
    pub environment: &'a dyn Environment,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("topic", &self.topic)
            .field("client_id", &self.client_id)
            .field("principal", &self.principal)
            .field("source_ip", &self.source_ip)
            .field("trace_id", &self.trace_id)
            .field("account_id", &self.account_id)
            .field("timestamp_ms", &self.timestamp_ms)
            .finish_non_exhaustive()
    }
}

/// A `get_thing_shadow(thingName[, shadowName], roleArn)` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShadowRequest<'a> {
    /// The thing.
    pub thing: &'a str,
    /// The named shadow; `None` for the classic shadow.
    pub shadow: Option<&'a str>,
    /// The role AWS would assume (it needs `iot:GetThingShadow`).
    pub role_arn: &'a str,
}

/// The caller's side of the functions that need more than the message.
pub trait Environment {
    /// A fresh random UUID for `newuuid()` (AWS: "a random 16-byte UUID"), in the 8-4-4-4-12
    /// hexadecimal form.
    fn new_uuid(&self) -> String;

    /// A uniformly distributed double in `[0.0, 1.0)` for `rand()`.
    fn random(&self) -> f64;

    /// The shadow document `get_thing_shadow` returns (as GetThingShadow would), `Ok(None)`
    /// when there is no such shadow (the call is then Undefined), or `Err` with a message when
    /// the lookup failed (the rule then fails and its errorAction runs).
    fn thing_shadow(&self, request: &ShadowRequest<'_>) -> Result<Option<Json>, String>;
}

/// For a Basic Ingest topic `$aws/rules/{ruleName}[/rest]`, the rule name and the topic as
/// `topic()` sees it (AWS: "the initial prefix of the topic (`$aws/rules/rule-name`) is not
/// available to the topic() function"). `None` for other topics.
///
/// ```
/// use iot_sql::basic_ingest_topic;
/// assert_eq!(
///     basic_ingest_topic("$aws/rules/BuildingManager/Buildings/Building5"),
///     Some(("BuildingManager", "Buildings/Building5"))
/// );
/// assert_eq!(basic_ingest_topic("$aws/rules/R"), Some(("R", "")));
/// assert_eq!(basic_ingest_topic("a/b"), None);
/// ```
pub fn basic_ingest_topic(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix("$aws/rules/")?;
    let (rule, remainder) = rest.split_once('/').unwrap_or((rest, ""));
    (!rule.is_empty()).then_some((rule, remainder))
}

/// A message payload as the rules engine sees it: a JSON object, or anything else (AWS's
/// "binary payload": only `*` and functions such as `encode(*, 'base64')` apply).
///
/// AWS's own example treats the payload `80` as "non-JSON" (WHERE clause page), so only an
/// object counts as a JSON payload here. Parse it once and evaluate every statement and
/// template of a rule against it.
#[derive(Debug, Clone)]
pub struct Payload<'p> {
    bytes: &'p [u8],
    json: Option<Json>,
}

impl<'p> Payload<'p> {
    /// Classifies and parses `bytes`.
    pub fn new(bytes: &'p [u8]) -> Payload<'p> {
        let json = serde_json::from_slice::<Json>(bytes)
            .ok()
            .filter(Json::is_object);
        Payload { bytes, json }
    }

    /// The bytes as published.
    pub fn bytes(&self) -> &'p [u8] {
        self.bytes
    }

    /// The JSON object, when the payload is one.
    pub fn json(&self) -> Option<&Json> {
        self.json.as_ref()
    }

    /// The payload as text (for `*` over a non-JSON payload), if it is UTF-8.
    pub(crate) fn text(&self) -> Option<Cow<'p, str>> {
        std::str::from_utf8(self.bytes).ok().map(Cow::Borrowed)
    }
}
