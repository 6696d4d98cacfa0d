//! AWS IoT's `DeleteConnection` (the `iot-data` API): an operator disconnects a connected client,
//! optionally discarding its persistent session and its will. It decides what the broker keeps;
//! the HTTP request, its validation and its errors are the server's.

use mqtt_proto::ReasonCode;

use crate::auth::Authorizer;
use crate::broker::Broker;
use crate::effect::{Effect, PersistOp};

impl<A: Authorizer> Broker<A> {
    /// Closes `client_id`'s live connection, as `DeleteConnection` does. Returns false, changing
    /// nothing, when no connection of that client id is live (AWS answers
    /// ResourceNotFoundException then, even for an offline persistent session).
    ///
    /// - `clean_session`: the session ends with the connection — its subscriptions, its queue and
    ///   its stored copy go ("For clean sessions this parameter will be ignored": a session that
    ///   is not persistent ends anyway).
    /// - `prevent_will`: the will is discarded, not published; without it the will is published
    ///   as for any connection the server closes (after its delay, when the session outlives the
    ///   connection).
    ///
    /// The client is sent MQTT 5 DISCONNECT 0x98 Administrative action: AWS does not say which
    /// reason it sends, and this is the reason MQTT 5 defines for a close by an operator.
    pub fn delete_connection(
        &mut self,
        client_id: &str,
        clean_session: bool,
        prevent_will: bool,
    ) -> bool {
        let Some(session) = self
            .by_client
            .get(client_id)
            .and_then(|key| self.sessions.get_mut(key))
        else {
            return false;
        };
        let Some(conn) = session.conn else {
            return false;
        };
        if prevent_will {
            session.will = None;
        }
        if clean_session && session.durable() {
            // Not persistent from now on: when the connection ends, the session ends with it
            // (`handle_disconnect`), and nothing more of it is stored meanwhile.
            session.expiry_interval = 0;
            self.effects
                .push_back(Effect::Persist(PersistOp::SessionDeleted {
                    client_id: session.client_id.clone(),
                }));
        }
        self.effects.push_back(Effect::Close {
            conn,
            reason: ReasonCode::AdministrativeAction,
        });
        true
    }
}
