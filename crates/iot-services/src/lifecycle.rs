//! Lifecycle events, as AWS IoT Core publishes them (developer guide, "Lifecycle events"):
//! `$aws/events/presence/connected|disconnected|connect_failed/{clientId}` and
//! `$aws/events/subscriptions/subscribed|unsubscribed/{clientId}`, with AWS's fields —
//! `clientId`, `timestamp` (epoch milliseconds), `eventType`, `sessionIdentifier`,
//! `principalIdentifier`, `ipAddress`, `versionNumber`, `clientInitiatedDisconnect`,
//! `disconnectReason`, `connectFailureReason`, `topics`. AWS publishes them always; clients whose
//! id contains `#` or `+` get none.
//!
//! [`Presence`] keeps what the events need across a client's connections: the session
//! identifier (one per session, kept while a persistent session is resumed) and the version
//! number (increasing per connection of a client id, shared by its connect and disconnect
//! events, back to 0 after about an hour away). It holds no sockets and reads no clock: the
//! server passes `now` and the random bytes of new session identifiers. Registry events
//! (`$aws/events/thing/...`) are not here.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{Map, Value, json};

use crate::OutMessage;

/// AWS resets a client's version number after it has been away for about an hour.
const VERSION_RESET_MS: i64 = 3600 * 1000;

/// Clients remembered before those away longer than [`VERSION_RESET_MS`] are swept.
const SWEEP_AT: usize = 4096;

/// Why a connection ended, in AWS's `disconnectReason` vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client sent DISCONNECT (or closed its WebSocket).
    ClientInitiated,
    /// Another connection with the same client id took over (the old one gets this).
    DuplicateClientId,
    /// No traffic for 1.5 × the keep-alive.
    KeepAliveTimeout,
    /// The network connection dropped without DISCONNECT.
    ConnectionLost,
    /// Authorization failed, or the certificate stopped being ACTIVE.
    AuthError,
    /// The client broke the protocol (a malformed or oversized packet, a second CONNECT...).
    ClientError,
    /// The server closed the connection (shutting down, or for a reason of its own).
    ServerInitiated,
    /// A custom authorizer's `disconnectAfterInSeconds` ran out.
    CustomAuthTtlExpiration,
}

impl DisconnectReason {
    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ClientInitiated => "CLIENT_INITIATED_DISCONNECT",
            DisconnectReason::DuplicateClientId => "DUPLICATE_CLIENTID",
            DisconnectReason::KeepAliveTimeout => "MQTT_KEEP_ALIVE_TIMEOUT",
            DisconnectReason::ConnectionLost => "CONNECTION_LOST",
            DisconnectReason::AuthError => "AUTH_ERROR",
            DisconnectReason::ClientError => "CLIENT_ERROR",
            DisconnectReason::ServerInitiated => "SERVER_INITIATED_DISCONNECT",
            DisconnectReason::CustomAuthTtlExpiration => "CUSTOMAUTH_TTL_EXPIRATION",
        }
    }
}

/// Who a connection is, for its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client<'a> {
    /// The MQTT client id.
    pub client_id: &'a str,
    /// The certificate id of a device (AWS: the credential that authenticated it).
    pub principal: &'a str,
    /// Where it connected from.
    pub ip: Option<IpAddr>,
}

/// What one connection's events share: its session identifier and version number. The server
/// keeps it with the connection, so the disconnect event of a connection that was taken over
/// still carries that connection's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    session: [u8; 16],
    version: u64,
}

/// One client id's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClientState {
    ticket: Ticket,
    /// When its last connection ended; `None` while connected.
    away_since_ms: Option<i64>,
}

/// The lifecycle state of every client id seen recently; builds the events.
#[derive(Debug, Default)]
pub struct Presence {
    clients: HashMap<String, ClientState>,
}

impl Presence {
    /// A client connected. `resumed` says it resumed a persistent session (which keeps its
    /// session identifier); `fresh` is random material for a new identifier. Returns the
    /// connection's ticket and the `connected` event (`None` for client ids AWS gives no
    /// events).
    pub fn connected(
        &mut self,
        client: &Client<'_>,
        resumed: bool,
        fresh: [u8; 16],
        now_ms: i64,
    ) -> (Ticket, Option<OutMessage>) {
        if self.clients.len() >= SWEEP_AT {
            self.sweep(now_ms);
        }
        let state = self
            .clients
            .entry(client.client_id.to_owned())
            .and_modify(|state| {
                let away_long = state
                    .away_since_ms
                    .is_some_and(|since| now_ms.saturating_sub(since) > VERSION_RESET_MS);
                state.ticket.version = if away_long {
                    0
                } else {
                    state.ticket.version + 1
                };
                if !resumed {
                    state.ticket.session = fresh;
                }
                state.away_since_ms = None;
            })
            .or_insert(ClientState {
                ticket: Ticket {
                    session: fresh,
                    version: 0,
                },
                away_since_ms: None,
            });
        let ticket = state.ticket;
        let event = base(client, "connected", &ticket, now_ms).map(|mut event| {
            if let Some(ip) = client.ip {
                event.insert("ipAddress".into(), json!(ip.to_string()));
            }
            event.insert("versionNumber".into(), json!(ticket.version));
            message("presence/connected", client.client_id, event)
        });
        (ticket, event)
    }

    /// The connection of `client` that got `ticket` ended. Returns the `disconnected` event.
    pub fn disconnected(
        &mut self,
        client: &Client<'_>,
        ticket: Ticket,
        reason: DisconnectReason,
        now_ms: i64,
    ) -> Option<OutMessage> {
        // A connection taken over ends after its successor connected: the client is away only
        // when this was its latest connection.
        if let Some(state) = self.clients.get_mut(client.client_id)
            && state.ticket == ticket
        {
            state.away_since_ms = Some(now_ms);
        }
        let mut event = base(client, "disconnected", &ticket, now_ms)?;
        event.insert(
            "clientInitiatedDisconnect".into(),
            json!(reason == DisconnectReason::ClientInitiated),
        );
        event.insert("disconnectReason".into(), json!(reason.as_str()));
        event.insert("versionNumber".into(), json!(ticket.version));
        Some(message("presence/disconnected", client.client_id, event))
    }

    /// A CONNECT was refused because the client may not connect (or may not publish its
    /// will). Returns the `connect_failed` event.
    pub fn connect_failed(
        &self,
        client: &Client<'_>,
        fresh: [u8; 16],
        now_ms: i64,
    ) -> Option<OutMessage> {
        let ticket = Ticket {
            session: fresh,
            version: 0,
        };
        let mut event = base(client, "connect_failed", &ticket, now_ms)?;
        event.insert("connectFailureReason".into(), json!("AUTHORIZATION_FAILED"));
        if let Some(ip) = client.ip {
            event.insert("ipAddress".into(), json!(ip.to_string()));
        }
        Some(message("presence/connect_failed", client.client_id, event))
    }

    /// The connection of `client` that got `ticket` subscribed to `topics` (those granted).
    pub fn subscribed(
        client: &Client<'_>,
        ticket: Ticket,
        topics: &[&str],
        now_ms: i64,
    ) -> Option<OutMessage> {
        subscriptions(client, ticket, "subscribed", topics, now_ms)
    }

    /// The connection of `client` that got `ticket` unsubscribed from `topics`.
    pub fn unsubscribed(
        client: &Client<'_>,
        ticket: Ticket,
        topics: &[&str],
        now_ms: i64,
    ) -> Option<OutMessage> {
        subscriptions(client, ticket, "unsubscribed", topics, now_ms)
    }

    /// Forgets clients away longer than the version reset: they start over at 0 anyway.
    fn sweep(&mut self, now_ms: i64) {
        self.clients.retain(|_, state| {
            state
                .away_since_ms
                .is_none_or(|since| now_ms.saturating_sub(since) <= VERSION_RESET_MS)
        });
    }
}

fn subscriptions(
    client: &Client<'_>,
    ticket: Ticket,
    kind: &str,
    topics: &[&str],
    now_ms: i64,
) -> Option<OutMessage> {
    if topics.is_empty() {
        return None;
    }
    let mut event = base(client, kind, &ticket, now_ms)?;
    event.insert("topics".into(), json!(topics));
    Some(message(
        &format!("subscriptions/{kind}"),
        client.client_id,
        event,
    ))
}

/// The fields every event has; `None` for client ids AWS gives no events.
fn base(
    client: &Client<'_>,
    event_type: &str,
    ticket: &Ticket,
    now_ms: i64,
) -> Option<Map<String, Value>> {
    if client.client_id.contains(['#', '+']) {
        return None;
    }
    let mut event = Map::new();
    event.insert("clientId".into(), json!(client.client_id));
    event.insert("timestamp".into(), json!(now_ms));
    event.insert("eventType".into(), json!(event_type));
    event.insert(
        "sessionIdentifier".into(),
        json!(session_text(&ticket.session)),
    );
    event.insert("principalIdentifier".into(), json!(client.principal));
    Some(event)
}

fn message(kind: &str, client_id: &str, event: Map<String, Value>) -> OutMessage {
    OutMessage::json(
        format!("$aws/events/{kind}/{client_id}"),
        &Value::Object(event),
    )
}

/// A session identifier in the form AWS shows: 32 lowercase hex digits.
fn session_text(bytes: &[u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str) -> Client<'_> {
        Client {
            client_id: id,
            principal: "ab12",
            ip: Some("192.0.2.7".parse().unwrap()),
        }
    }

    fn event(message: &OutMessage) -> Value {
        serde_json::from_slice(&message.payload).unwrap()
    }

    #[test]
    fn connect_and_disconnect_share_a_version_and_carry_awss_fields() {
        let mut presence = Presence::default();
        let c = client("sensor-1");
        let (ticket, connected) = presence.connected(&c, false, [0xab; 16], 1_000);
        let connected = connected.unwrap();
        assert_eq!(connected.topic, "$aws/events/presence/connected/sensor-1");
        assert_eq!(
            event(&connected),
            json!({
                "clientId": "sensor-1",
                "timestamp": 1000,
                "eventType": "connected",
                "sessionIdentifier": "abababababababababababababababab",
                "principalIdentifier": "ab12",
                "ipAddress": "192.0.2.7",
                "versionNumber": 0
            })
        );
        let gone = presence
            .disconnected(&c, ticket, DisconnectReason::ClientInitiated, 2_000)
            .unwrap();
        assert_eq!(gone.topic, "$aws/events/presence/disconnected/sensor-1");
        assert_eq!(
            event(&gone),
            json!({
                "clientId": "sensor-1",
                "timestamp": 2000,
                "eventType": "disconnected",
                "sessionIdentifier": "abababababababababababababababab",
                "principalIdentifier": "ab12",
                "clientInitiatedDisconnect": true,
                "disconnectReason": "CLIENT_INITIATED_DISCONNECT",
                "versionNumber": 0
            })
        );
    }

    #[test]
    fn versions_grow_per_connection_and_reset_after_an_hour_away() {
        let mut presence = Presence::default();
        let c = client("d");
        let (first, _) = presence.connected(&c, false, [1; 16], 0);
        presence.disconnected(&c, first, DisconnectReason::ConnectionLost, 10);
        let (second, _) = presence.connected(&c, false, [2; 16], 20);
        assert_eq!((first.version, second.version), (0, 1));
        let lost = presence
            .disconnected(&c, second, DisconnectReason::ConnectionLost, 30)
            .unwrap();
        assert_eq!(event(&lost)["clientInitiatedDisconnect"], json!(false));
        let (later, _) = presence.connected(&c, false, [3; 16], 30 + VERSION_RESET_MS + 1);
        assert_eq!(later.version, 0);
    }

    #[test]
    fn a_taken_over_connection_reports_its_own_numbers_and_leaves_the_client_connected() {
        let mut presence = Presence::default();
        let c = client("d");
        let (old, _) = presence.connected(&c, false, [1; 16], 0);
        let (new, _) = presence.connected(&c, false, [2; 16], 5);
        let gone = presence
            .disconnected(&c, old, DisconnectReason::DuplicateClientId, 6)
            .unwrap();
        assert_eq!(event(&gone)["versionNumber"], json!(0));
        assert_eq!(
            event(&gone)["disconnectReason"],
            json!("DUPLICATE_CLIENTID")
        );
        // The client is still connected through `new`: an hour later its next connection
        // continues the count instead of starting over.
        let (next, _) = presence.connected(&c, false, [3; 16], 6 + VERSION_RESET_MS + 1);
        assert_eq!(next.version, new.version + 1);
    }

    #[test]
    fn a_resumed_session_keeps_its_identifier_and_a_clean_one_does_not() {
        let mut presence = Presence::default();
        let c = client("d");
        let (first, _) = presence.connected(&c, false, [1; 16], 0);
        let (resumed, _) = presence.connected(&c, true, [2; 16], 1);
        let (clean, _) = presence.connected(&c, false, [3; 16], 2);
        assert_eq!(first.session, resumed.session);
        assert_ne!(resumed.session, clean.session);
    }

    #[test]
    fn client_ids_with_wildcards_get_no_events() {
        let mut presence = Presence::default();
        assert!(
            presence
                .connected(&client("a+b"), false, [0; 16], 0)
                .1
                .is_none()
        );
        assert!(
            presence
                .connected(&client("a#"), false, [0; 16], 0)
                .1
                .is_none()
        );
        assert!(presence.connect_failed(&client("x#"), [0; 16], 0).is_none());
    }

    #[test]
    fn subscription_and_failure_events() {
        let mut presence = Presence::default();
        let c = client("d");
        let (ticket, _) = presence.connected(&c, false, [7; 16], 0);
        let sub = Presence::subscribed(&c, ticket, &["a/b", "c/#"], 5).unwrap();
        assert_eq!(sub.topic, "$aws/events/subscriptions/subscribed/d");
        assert_eq!(event(&sub)["topics"], json!(["a/b", "c/#"]));
        assert_eq!(event(&sub)["eventType"], json!("subscribed"));
        assert!(Presence::unsubscribed(&c, ticket, &[], 6).is_none());
        let unsub = Presence::unsubscribed(&c, ticket, &["a/b"], 6).unwrap();
        assert_eq!(unsub.topic, "$aws/events/subscriptions/unsubscribed/d");
        let failed = presence.connect_failed(&client("e"), [9; 16], 7).unwrap();
        assert_eq!(failed.topic, "$aws/events/presence/connect_failed/e");
        assert_eq!(
            event(&failed)["connectFailureReason"],
            json!("AUTHORIZATION_FAILED")
        );
    }

    #[test]
    fn clients_long_gone_are_forgotten() {
        let mut presence = Presence::default();
        for n in 0..SWEEP_AT {
            let id = format!("c{n}");
            let c = client(&id);
            let (ticket, _) = presence.connected(&c, false, [0; 16], 0);
            presence.disconnected(&c, ticket, DisconnectReason::ConnectionLost, 0);
        }
        presence.connected(&client("new"), false, [0; 16], VERSION_RESET_MS + 1);
        assert_eq!(presence.clients.len(), 1);
    }
}
