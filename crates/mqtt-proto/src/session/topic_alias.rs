//! MQTT 5 topic aliases (§3.3.2.3.4), which live for one network connection: [`InboundAliases`]
//! resolves aliases in received PUBLISH packets against the maximum this side announced, and
//! [`OutboundAliases`] assigns aliases to topics this side sends, up to the peer's maximum.
//! Outbound assignment is first come, first served; once every alias is taken, further topics
//! go out in full (no replacement policy).

use alloc::collections::BTreeMap;

use crate::packet::Publish;
use crate::session::error::Violation;
use crate::topic::TopicName;

/// Aliases the peer set up on this connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct InboundAliases {
    maximum: u16,
    topics: BTreeMap<u16, TopicName>,
}

impl InboundAliases {
    /// Accepts aliases 1..=`maximum` (0 accepts none).
    pub(crate) fn new(maximum: u16) -> Self {
        InboundAliases {
            maximum,
            topics: BTreeMap::new(),
        }
    }

    /// Binds or looks up the alias of `publish` and leaves its full topic in place. A PUBLISH
    /// without an alias is left as it is.
    pub(crate) fn resolve(&mut self, publish: &mut Publish) -> Result<(), Violation> {
        let Some(alias) = publish.properties.topic_alias else {
            return Ok(());
        };
        if alias == 0 || alias > self.maximum {
            return Err(Violation::TopicAliasOutOfRange {
                alias,
                maximum: self.maximum,
            });
        }
        if publish.topic.is_empty() {
            let topic = self
                .topics
                .get(&alias)
                .ok_or(Violation::TopicAliasUnknown { alias })?;
            publish.topic = topic.clone();
        } else {
            self.topics.insert(alias, publish.topic.clone());
        }
        Ok(())
    }
}

/// Aliases this side assigned on this connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutboundAliases {
    maximum: u16,
    aliases: BTreeMap<TopicName, u16>,
}

impl OutboundAliases {
    /// Uses aliases 1..=`maximum` (0 disables aliasing).
    pub(crate) fn new(maximum: u16) -> Self {
        OutboundAliases {
            maximum,
            aliases: BTreeMap::new(),
        }
    }

    /// Rewrites `publish` for the wire: an already bound topic is replaced by its alias and an
    /// empty topic; a new topic gets the next free alias alongside its full name.
    pub(crate) fn apply(&mut self, publish: &mut Publish) {
        publish.properties.topic_alias = None;
        if self.maximum == 0 || publish.topic.is_empty() {
            return;
        }
        if let Some(&alias) = self.aliases.get(&publish.topic) {
            publish.properties.topic_alias = Some(alias);
            publish.topic = TopicName::alias_placeholder();
            return;
        }
        let used = self.aliases.len();
        if used < usize::from(self.maximum) {
            // `used` < maximum <= u16::MAX, so the next alias fits.
            let alias = u16::try_from(used).map_or(self.maximum, |u| u.saturating_add(1));
            self.aliases.insert(publish.topic.clone(), alias);
            publish.properties.topic_alias = Some(alias);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Delivery;
    use bytes::Bytes;

    fn publish(topic: &str, alias: Option<u16>) -> Publish {
        let topic = if topic.is_empty() {
            TopicName::alias_placeholder()
        } else {
            TopicName::new(topic).unwrap()
        };
        let mut p = Publish {
            dup: false,
            delivery: Delivery::AtMostOnce,
            retain: false,
            topic,
            properties: Default::default(),
            payload: Bytes::new(),
        };
        p.properties.topic_alias = alias;
        p
    }

    #[test]
    fn inbound_binds_then_resolves() {
        let mut aliases = InboundAliases::new(2);
        let mut first = publish("s/1", Some(2));
        aliases.resolve(&mut first).unwrap();
        let mut second = publish("", Some(2));
        aliases.resolve(&mut second).unwrap();
        assert_eq!(second.topic.as_str(), "s/1");
        let mut rebound = publish("s/2", Some(2));
        aliases.resolve(&mut rebound).unwrap();
        let mut third = publish("", Some(2));
        aliases.resolve(&mut third).unwrap();
        assert_eq!(third.topic.as_str(), "s/2");
    }

    #[test]
    fn inbound_refuses_out_of_range_and_unbound_aliases() {
        let mut aliases = InboundAliases::new(2);
        assert_eq!(
            aliases.resolve(&mut publish("a", Some(3))),
            Err(Violation::TopicAliasOutOfRange {
                alias: 3,
                maximum: 2
            })
        );
        assert_eq!(
            aliases.resolve(&mut publish("a", Some(0))),
            Err(Violation::TopicAliasOutOfRange {
                alias: 0,
                maximum: 2
            })
        );
        assert_eq!(
            aliases.resolve(&mut publish("", Some(1))),
            Err(Violation::TopicAliasUnknown { alias: 1 })
        );
    }

    #[test]
    fn outbound_assigns_until_the_maximum_then_sends_full_topics() {
        let mut aliases = OutboundAliases::new(1);
        let mut a = publish("a", None);
        aliases.apply(&mut a);
        assert_eq!((a.topic.as_str(), a.properties.topic_alias), ("a", Some(1)));
        let mut again = publish("a", None);
        aliases.apply(&mut again);
        assert_eq!(
            (again.topic.as_str(), again.properties.topic_alias),
            ("", Some(1))
        );
        let mut b = publish("b", Some(9));
        aliases.apply(&mut b);
        assert_eq!((b.topic.as_str(), b.properties.topic_alias), ("b", None));
    }
}
