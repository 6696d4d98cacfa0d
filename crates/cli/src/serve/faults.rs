//! The config file's `[[fault]]` tables into the server's fault plans: which client (by client
//! id or certificate id) gets which misbehaviour of the broker — a refused CONNECT, withheld or
//! delayed packet types, a connection dropped after some bytes. For firmware tests and the
//! torture suite; the plans themselves and their cost are the server's (`server::Faults`).
//! It does not check that a named client or certificate exists.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Deserialize;
use server::{Delay, FaultPlan, FaultTarget, Faults, Withhold};

/// One `[[fault]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FaultFile {
    /// The client id whose connections the plan applies to.
    client_id: Option<String>,
    /// Or the certificate id (64 hex digits) whose connections it applies to.
    certificate_id: Option<String>,
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
        let target = match (self.client_id, self.certificate_id) {
            (Some(id), None) => FaultTarget::ClientId(id),
            (None, Some(id)) => FaultTarget::CertificateId(id),
            _ => bail!(
                "a [[fault]] table needs exactly one of client-id = \"...\" or certificate-id = \
                 \"...\" (see docs/tether.example.toml)"
            ),
        };
        let name = match &target {
            FaultTarget::ClientId(id) => format!("client-id {id:?}"),
            FaultTarget::CertificateId(id) => format!("certificate-id {id:?}"),
        };
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
        let err = table("client-id = \"d\"\nrefuse-connack = 0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("refuse-connack = 0"), "{err}");
    }
}
