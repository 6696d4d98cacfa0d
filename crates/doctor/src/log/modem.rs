//! Cellular modems' answers when an MCU (STM32 and the like) drives MQTT over TLS through AT
//! commands: Quectel's MQTT result lines (`+QMTOPEN`, `+QMTCONN`, `+QMTSTAT`, numbers as
//! Quectel's MQTT application note defines them) and the generic `ERROR` / `+CME ERROR`. The
//! TLS handshake runs inside the modem, so these numbers are all the log says about it.

use super::{Fact, Observation};
use crate::finding::{Finding, Severity};

/// The observation for a modem result line, if the line is one.
pub(crate) fn recognise(line: &str) -> Option<Observation> {
    if line == "ERROR" || line.starts_with("+CME ERROR") || line.starts_with("+CMS ERROR") {
        return Some(Observation {
            finding: Finding::new(
                Severity::Warning,
                format!("the modem refused the command above: `{line}`"),
                "a wrong parameter or syntax, or a command this firmware does not have; the settings it carried did not take effect",
                "check the command against the modem's AT manual (for example a cipher suite written as a number, not a string)",
            ),
            fact: None,
        });
    }
    let (name, args) = line.strip_prefix('+')?.split_once(':')?;
    let numbers: Vec<i64> = args
        .split(',')
        .map(|a| a.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .ok()?;
    match name {
        "QMTOPEN" => qmtopen(line, *numbers.get(1)?),
        "QMTCONN" => qmtconn(line, *numbers.get(1)?, numbers.get(2).copied()),
        "QMTSTAT" => qmtstat(line, *numbers.get(1)?),
        _ => None,
    }
}

const TLS_SETTINGS: &str = "on a TLS connection the modem's handshake failures end here too: check the SSL context (AT+QSSLCFG cacert, clientcert, clientkey naming the uploaded files, sslversion 3 for TLS 1.2 or 4 for all, seclevel 2 for mutual TLS, ciphersuite 0xFFFF for all) and that AT+QMTCFG=\"ssl\" ties the MQTT client to that context";

fn qmtopen(line: &str, result: i64) -> Option<Observation> {
    let (severity, what, fact) = match result {
        0 => (
            Severity::Info,
            "the modem opened the network connection to the broker",
            None,
        ),
        -1 => (
            Severity::Error,
            "the modem could not open the connection to the broker (-1: failed to open network)",
            Some(Fact::Network),
        ),
        1 => (
            Severity::Error,
            "AT+QMTOPEN had a wrong parameter (1)",
            None,
        ),
        2 => (
            Severity::Error,
            "the MQTT client index is already in use (2): close it with AT+QMTCLOSE first",
            None,
        ),
        3 => (
            Severity::Error,
            "the modem could not activate its data context (3: PDP activation failed)",
            Some(Fact::Network),
        ),
        4 => (
            Severity::Error,
            "the modem could not resolve the broker's name (4)",
            Some(Fact::Network),
        ),
        5 => (
            Severity::Error,
            "the connection to the broker failed (5: network connection error)",
            Some(Fact::Network),
        ),
        _ => return None,
    };
    let why = if severity == Severity::Info {
        "TCP (and TLS, when configured) are up; MQTT CONNECT comes next".to_owned()
    } else {
        format!("Quectel +QMTOPEN result {result}; {TLS_SETTINGS}")
    };
    Some(Observation {
        finding: Finding::new(severity, format!("{what}: `{line}`"), why, ""),
        fact,
    })
}

fn qmtconn(line: &str, result: i64, code: Option<i64>) -> Option<Observation> {
    let refused = match code {
        Some(0) | None if result == 0 => None,
        Some(1) => Some("unacceptable protocol version"),
        Some(2) => Some("identifier rejected"),
        Some(3) => Some("server unavailable"),
        Some(4) => Some("bad user name or password"),
        Some(5) => Some("not authorized"),
        _ if result != 0 => Some("no CONNACK (the CONNECT could not be sent or was not answered)"),
        _ => return None,
    };
    Some(match refused {
        None => Observation {
            finding: Finding::new(
                Severity::Info,
                format!("the broker accepted the MQTT CONNECT: `{line}`"),
                "",
                "",
            ),
            fact: None,
        },
        Some(why) => Observation {
            finding: Finding::new(
                Severity::Error,
                format!("the broker refused the MQTT CONNECT ({why}): `{line}`"),
                "TLS worked; AWS IoT refuses a CONNECT whose client id the certificate's policy does not allow (iot:Connect), and closes the connection of an unknown or inactive certificate",
                "attach a policy allowing iot:Connect on client/<client id> to an ACTIVE certificate, and connect with that client id",
            ),
            fact: Some(Fact::MqttRefused),
        },
    })
}

fn qmtstat(line: &str, code: i64) -> Option<Observation> {
    let what = match code {
        1 => "the broker closed or reset the connection (1)",
        2 => "PINGREQ went unanswered (2)",
        3 => "the CONNECT could not be sent or timed out (3)",
        4 => "no CONNACK arrived (4)",
        5 => "the client disconnected itself (5)",
        6 => "a PUBLISH failed repeatedly (6)",
        7 => "the link is gone or the broker is unavailable (7)",
        _ => return None,
    };
    Some(Observation {
        finding: Finding::new(
            if code == 5 {
                Severity::Info
            } else {
                Severity::Error
            },
            format!("{what}: `{line}`"),
            "AWS IoT closes the connection of a client whose policy does not allow what it just did (connect, publish, subscribe)",
            "check the policy attached to the device certificate",
        ),
        fact: (code == 1).then_some(Fact::ServerClosed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quectel_results() {
        let open = recognise("+QMTOPEN: 0,-1").unwrap();
        assert_eq!(open.fact, Some(Fact::Network));
        assert!(open.finding.why.contains("AT+QSSLCFG"));
        assert_eq!(
            recognise("+QMTOPEN: 0,0").unwrap().finding.severity,
            Severity::Info
        );
        assert_eq!(
            recognise("+QMTCONN: 0,0,5").unwrap().fact,
            Some(Fact::MqttRefused)
        );
        assert_eq!(
            recognise("+QMTCONN: 0,0,0").unwrap().finding.severity,
            Severity::Info
        );
        assert_eq!(
            recognise("+QMTSTAT: 0,1").unwrap().fact,
            Some(Fact::ServerClosed)
        );
        assert!(recognise("ERROR").is_some());
        assert!(recognise("+CSQ: 20,99").is_none());
        assert!(recognise("+QMTOPEN: x").is_none());
    }
}
