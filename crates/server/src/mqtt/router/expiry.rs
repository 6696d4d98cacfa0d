//! Live connections whose client certificate expires: each accepted device connection is
//! remembered with its certificate's notAfter, and when that moment passes the connection is
//! closed (MQTT 5: DISCONNECT 0x87 Not authorized first), as a new connection with the same
//! certificate would be refused at its handshake. AWS IoT does not document what it does to a
//! connection whose certificate expires while it is open (shared/reference/aws-iot-contract.md
//! §2.3); closing it keeps "expired certificates do not talk" true at every moment. The
//! deadline is the router's own timer, next to the broker's; nothing here reads a clock.

use broker_core::ConnId;
use mqtt_proto::ReasonCode;
use mqtt_proto::time::Instant;

use super::{Router, ToConn};
use crate::auth::{Identity, Principal};
use crate::mqtt::record;

impl Router {
    /// Remembers when `conn`'s certificate expires; returns that instant for its `Live`.
    pub(super) fn track_expiry(&mut self, conn: ConnId, principal: &Principal) -> Option<Instant> {
        let Identity::Device { not_after_ms, .. } = principal.identity() else {
            return None;
        };
        let at = self.clock.instant_of(*not_after_ms);
        self.expiries.insert((at, conn));
        Some(at)
    }

    /// Forgets a closed connection's expiry.
    pub(super) fn untrack_expiry(&mut self, conn: ConnId, at: Option<Instant>) {
        if let Some(at) = at {
            self.expiries.remove(&(at, conn));
        }
    }

    /// When the next certificate of a live connection expires.
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.expiries.first().map(|(at, _)| *at)
    }

    /// Closes the connections whose certificate has expired by `now`.
    pub(super) fn close_expired(&mut self, now: Instant) {
        while let Some((at, conn)) = self.expiries.first().copied() {
            if at > now {
                break;
            }
            self.expiries.remove(&(at, conn));
            let Some(live) = self.conns.get(&conn) else {
                continue;
            };
            let (refusal, log) = record::expired(&live.principal, &live.client_id);
            self.refusals.record(refusal, Some(log));
            self.send(conn, ToConn::Close(ReasonCode::NotAuthorized));
        }
    }
}
