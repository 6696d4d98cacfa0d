//! The config file's `[[fault]]` tables into the server's fault plans: which client (by client
//! id or certificate id) gets which misbehaviour of the broker — a refused CONNECT, withheld or
//! delayed packet types, a connection dropped after some bytes — and which peer address is
//! presented an alternate server certificate (expired, wrong name, untrusted, large: keyed by
//! address because the certificate leaves before the client id or the client's certificate is
//! known; `server::ServerCertificate` says why not by SNI or listener). For firmware tests and
//! the torture suite; the plans themselves and their cost are the server's (`server::Faults`).
//! It does not check that a named client or certificate exists.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Deserialize;
use server::{Delay, FaultPlan, FaultTarget, Faults, ServerCertificate, Withhold};

/// One `[[fault]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FaultFile {
    /// The client id whose connections the plan applies to.
    client_id: Option<String>,
    /// Or the certificate id (64 hex digits) whose connections it applies to.
    certificate_id: Option<String>,
    /// Or the peer IP address whose TCP connections it applies to (with server-certificate
    /// only: the server's certificate is sent before the client id or the client certificate
    /// is known, and the address is).
    peer: Option<String>,
    /// The server certificate the mutual-TLS listeners present to `peer` instead of the real
    /// one: "expired", "wrong-name", "untrusted" (a CA no client trusts) or "large" (8 KB).
    server_certificate: Option<String>,
    /// CONNACK with this reason code (MQTT 5 numbering: 135 not authorized, 136 server
    /// unavailable...) instead of connecting.
    refuse_connack: Option<u8>,
    /// Packet types never sent to the client (`"PUBACK"`, `"SUBACK"`, `"PINGRESP"`...).
    #[serde(default)]
    withhold: Vec<String>,
    /// Packet types of which the first N are not sent, counted across the client's
    /// connections: `{ CONNACK = 5 }`.
    #[serde(default)]
    withhold_first: BTreeMap<String, u32>,
    /// Packet types sent late, in milliseconds: `{ PINGRESP = 3000 }`.
    #[serde(default)]
    delay_ms: BTreeMap<String, u64>,
    /// Drop each connection after sending it this many bytes.
    drop_after_bytes: Option<u64>,
}

/// The plans of the config file's `[[fault]]` tables, checked.
pub fn faults(tables: Vec<FaultFile>) -> Result<Faults> {
    let faults = Faults::new();
    for table in tables {
        let (target, plan) = table.plan()?;
        faults.set(target, plan);
    }
    Ok(faults)
}

impl FaultFile {
    fn plan(self) -> Result<(FaultTarget, FaultPlan)> {
        let target = match (self.client_id, self.certificate_id, self.peer) {
            (Some(id), None, None) => FaultTarget::ClientId(id),
            (None, Some(id), None) => FaultTarget::CertificateId(id),
            (None, None, Some(peer)) => match peer.trim().parse() {
                Ok(ip) => FaultTarget::Peer(ip),
                Err(_) => bail!(
                    "[[fault]] peer = {peer:?} is not an IP address; give the device's address,                      e.g. peer = \"192.168.1.50\""
                ),
            },
            _ => bail!(
                "a [[fault]] table needs exactly one of client-id = \"...\", certificate-id = \
                 \"...\" or peer = \"IP\" (see docs/tether.example.toml)"
            ),
        };
        let name = match &target {
            FaultTarget::ClientId(id) => format!("client-id {id:?}"),
            FaultTarget::CertificateId(id) => format!("certificate-id {id:?}"),
            FaultTarget::Peer(ip) => format!("peer \"{ip}\""),
        };
        let server_certificate = match &self.server_certificate {
            None => None,
            Some(text) => match ServerCertificate::parse(text) {
                Some(kind) => Some(kind),
                None => bail!(
                    "[[fault]] {name}: server-certificate = {text:?} is not one of \"expired\", \
                     \"wrong-name\", \"untrusted\" or \"large\""
                ),
            },
        };
        let is_peer = matches!(target, FaultTarget::Peer(_));
        let packet_faults = self.refuse_connack.is_some()
            || !self.withhold.is_empty()
            || !self.withhold_first.is_empty()
            || !self.delay_ms.is_empty()
            || self.drop_after_bytes.is_some();
        if is_peer && (packet_faults || server_certificate.is_none()) {
            bail!(
                "[[fault]] {name}: a peer table takes only server-certificate = \"...\"; packet \
                 faults go in a client-id or certificate-id table (the client is known from its \
                 CONNECT)"
            );
        }
        if !is_peer && server_certificate.is_some() {
            bail!(
                "[[fault]] {name}: server-certificate needs peer = \"IP\" instead: the server's \
                 certificate is sent before the client id or the client certificate is known"
            );
        }
        let packet = |text: &str| {
            server::packet_type(text).ok_or_else(|| {
                anyhow::anyhow!(
                    "[[fault]] {name}: {text:?} is not an MQTT packet type; use the \
                     specification's names: CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, \
                     SUBACK, UNSUBACK, PINGRESP, DISCONNECT"
                )
            })
        };
        let refuse_connect = match self.refuse_connack {
            None => None,
            Some(code) => match server::ReasonCode::from_u8(code) {
                Some(reason) if reason.is_error() => Some(reason),
                _ => bail!(
                    "[[fault]] {name}: refuse-connack = {code} is not a CONNACK error reason \
                     code; use 128 or above (135 not authorized, 136 server unavailable)"
                ),
            },
        };
        let mut withhold = Vec::new();
        for text in &self.withhold {
            withhold.push(Withhold {
                packet: packet(text)?,
                count: None,
            });
        }
        for (text, count) in &self.withhold_first {
            withhold.push(Withhold {
                packet: packet(text)?,
                count: Some(*count),
            });
        }
        let mut delay = Vec::new();
        for (text, ms) in &self.delay_ms {
            delay.push(Delay {
                packet: packet(text)?,
                by: Duration::from_millis(*ms),
            });
        }
        let plan = FaultPlan {
            refuse_connect,
            withhold,
            delay,
            drop_after_bytes: self.drop_after_bytes,
            observer: None,
            server_certificate,
        };
        Ok((target, plan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<(FaultTarget, FaultPlan)> {
        toml::from_str::<FaultFile>(text).unwrap().plan()
    }

    #[test]
    fn a_table_becomes_a_plan_for_its_client() {
        let (target, plan) = table(
            "client-id = \"dev\"\nwithhold = [\"puback\"]\nwithhold-first = { CONNACK = 5 }\n\
             delay-ms = { PINGRESP = 3000 }\ndrop-after-bytes = 100\nrefuse-connack = 135\n",
        )
        .unwrap();
        assert_eq!(target, FaultTarget::ClientId("dev".into()));
        assert_eq!(plan.withhold.len(), 2);
        assert_eq!(plan.withhold[1].count, Some(5));
        assert_eq!(plan.delay[0].by, Duration::from_secs(3));
        assert_eq!(plan.drop_after_bytes, Some(100));
        assert_eq!(plan.refuse_connect, Some(server::ReasonCode::NotAuthorized));
    }

    #[test]
    fn wrong_tables_are_refused_naming_the_client_and_the_field() {
        let err = table("withhold = [\"PUBACK\"]").unwrap_err().to_string();
        assert!(err.contains("client-id"), "{err}");
        let err = table("client-id = \"d\"\nwithhold = [\"PUBAK\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"PUBAK\"") && err.contains("\"d\""), "{err}");
        let err =
            table("peer = \"127.0.0.2\"\nwithhold = [\"PUBACK\"]\nserver-certificate = \"large\"")
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("peer \"127.0.0.2\"") && err.contains("client-id"),
            "{err}"
        );
        let err = table("client-id = \"d\"\nserver-certificate = \"expired\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("peer = \"IP\""), "{err}");
        let err = table("peer = \"localhost\"\nserver-certificate = \"expired\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an IP address"), "{err}");
        let err = table("peer = \"::1\"\nserver-certificate = \"old\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"old\"") && err.contains("wrong-name"),
            "{err}"
        );
        let (target, plan) = table("peer = \"::1\"\nserver-certificate = \"Wrong-Name\"").unwrap();
        assert_eq!(target, FaultTarget::Peer("::1".parse().unwrap()));
        assert_eq!(plan.server_certificate, Some(ServerCertificate::WrongName));
        let err = table("client-id = \"d\"\nrefuse-connack = 0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("refuse-connack = 0"), "{err}");
    }
}
