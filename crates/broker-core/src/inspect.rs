//! A read-only view of the sessions the broker holds, for operators (the server's web console
//! lists them): client id, owner connection, protocol, principal, persistence, subscriptions and
//! the offline queue's length. It copies what it shows and changes nothing; deciding anything
//! from it is the broker's job, not the viewer's.

use mqtt_proto::{Protocol, QoS};

use crate::auth::Authorizer;
use crate::broker::Broker;
use crate::effect::ConnId;

/// One session as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView<P> {
    /// The client id.
    pub client_id: String,
    /// The connection that owns it now; `None` for an offline persistent session.
    pub conn: Option<ConnId>,
    /// The MQTT version of its last CONNECT.
    pub protocol: Protocol,
    /// Who its (last) client was.
    pub principal: P,
    /// Seconds it outlives its connection (0: not persistent).
    pub expiry_interval: u32,
    /// Its subscriptions: filter and granted QoS, in filter order.
    pub subscriptions: Vec<(String, QoS)>,
    /// Messages waiting in its offline queue.
    pub queued: usize,
}

impl<A: Authorizer> Broker<A> {
    /// Every session, connected or not, ordered by client id.
    pub fn sessions(&self) -> Vec<SessionView<A::Principal>> {
        let mut views: Vec<_> = self
            .sessions
            .values()
            .map(|s| SessionView {
                client_id: s.client_id.to_string(),
                conn: s.conn,
                protocol: s.protocol,
                principal: s.principal.clone(),
                expiry_interval: s.expiry_interval,
                subscriptions: s
                    .subscriptions
                    .iter()
                    .map(|(filter, entry)| (filter.to_string(), entry.options.qos))
                    .collect(),
                queued: s.queue.len(),
            })
            .collect();
        views.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        views
    }
}

#[cfg(test)]
mod tests {
    use mqtt_proto::time::Instant;
    use mqtt_proto::{
        MqttStr, PacketId, Protocol, QoS, Subscribe, SubscriptionOptions, TopicFilter,
    };

    use crate::{Broker, BrokerConfig, ConnId, ConnectRequest, Profile};

    fn request(client_id: &str, protocol: Protocol) -> ConnectRequest<()> {
        ConnectRequest {
            client_id: MqttStr::try_from(client_id.to_owned()).unwrap(),
            protocol,
            clean_start: true,
            keep_alive: 60,
            session_expiry: None,
            will: None,
            principal: (),
        }
    }

    #[test]
    fn sessions_show_subscriptions_and_owners() {
        let mut broker = Broker::new(BrokerConfig::for_profile(Profile::Mqtt)).unwrap();
        let now = Instant::from_millis(0);
        broker.handle_connect(ConnId(1), request("b-client", Protocol::V5), now);
        let subscribe = Subscribe {
            packet_id: PacketId::MIN,
            properties: Default::default(),
            filters: vec![(
                TopicFilter::new("sensors/#").unwrap(),
                SubscriptionOptions::with_qos(QoS::AtLeastOnce),
            )],
        };
        broker.handle_subscribe(ConnId(1), subscribe, now);
        broker.handle_connect(ConnId(2), request("a-client", Protocol::V311), now);
        let views = broker.sessions();
        assert_eq!(views.len(), 2);
        assert_eq!(views[0].client_id, "a-client");
        assert_eq!(views[0].protocol, Protocol::V311);
        assert!(views[0].subscriptions.is_empty());
        assert_eq!(views[1].conn, Some(ConnId(1)));
        assert_eq!(
            views[1].subscriptions,
            vec![("sensors/#".to_owned(), QoS::AtLeastOnce)]
        );
        assert_eq!(views[1].queued, 0);
    }
}
