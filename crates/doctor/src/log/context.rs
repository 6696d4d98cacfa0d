//! Log lines that are context rather than findings, each with what it means: the ESP8266 SDK's
//! boot and Wi-Fi lines, the MQTT clients' TCP and DNS progress (esp_mqtt on espconn), TLS
//! libraries' progress traces (libssl's `client handshake start.`, mbedTLS debug output),
//! esp-mqtt events, and a modem's AT command echo and plain answers. They prove no failure, so
//! they yield no fact; a line that is neither a finding nor context is listed as not
//! understood by the caller. Meanings are ours, written from the SDKs' behaviour.

/// What a context line means, or None when no rule knows it.
pub(crate) fn recognise(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let starts = |p: &str| lower.starts_with(p);
    let meaning: &str = if starts("sdk ver:") || starts("sdk:") {
        "the SDK's boot banner: its version and build"
    } else if starts("mode : ") {
        "the Wi-Fi mode the firmware chose (sta = station) and the module's MAC address"
    } else if starts("add if") {
        "the SDK brought up a network interface (if0 is the station, if1 the soft-AP)"
    } else if lower == "scandone" || starts("scandone") {
        "a Wi-Fi scan finished"
    } else if starts("state: ") && lower.contains("->") {
        "the Wi-Fi station state machine moved (0 idle, 2 authenticating, 3 associating, 5 connected); a move back to 0 means the association failed and the SDK retries"
    } else if lower == "add 0" || lower == "rm 0" || lower == "cnt" || starts("aid ") {
        "association bookkeeping of the SDK's Wi-Fi driver (association id, connection count)"
    } else if starts("connected with ") {
        "the device joined the Wi-Fi network named here"
    } else if starts("dhcp client start") {
        "the device asks for an IP address over DHCP"
    } else if starts("ip:") && lower.contains("mask:") {
        "the DHCP lease: the device has its IP address, netmask and gateway"
    } else if starts("wifi evt: ") {
        "an ESP8266 Arduino core Wi-Fi event (0 connected, 1 disconnected, 2 authentication mode changed, 3 got an IP address)"
    } else if starts("pm open") || starts("pm close") {
        "the Wi-Fi driver switched power saving on or off"
    } else if starts("sta disconnect") {
        "the station lost its Wi-Fi association (the number is the 802.11 reason); the core reconnects"
    } else if starts("tcp: connect to domain") {
        "the MQTT client (esp_mqtt over espconn) starts connecting to the broker by name: a DNS lookup comes first"
    } else if starts("tcp: connect to ip") {
        "the MQTT client (esp_mqtt over espconn) starts connecting to the broker's IP address"
    } else if starts("dns: found ip") {
        "the DNS answer for the broker's host name: name resolution works"
    } else if starts("tcp: connecting") {
        "the TCP connection to the broker is being opened"
    } else if starts("tcp: connected") {
        "the TCP connection to the broker is open; TLS comes next"
    } else if starts("client handshake start") {
        "ESP8266 NONOS libssl sent its ClientHello: DNS and TCP worked, the TLS handshake has begun"
    } else if starts("state:\t") || starts("state: sending") || starts("state: receiving") {
        "axTLS debug output: the handshake message it is sending or waiting for"
    } else if is_mbedtls_trace(&lower) {
        "mbedTLS debug output: one step of the handshake as the library traces it"
    } else if lower.contains("mqtt_event_") {
        "an esp-mqtt client event reported to the application"
    } else if is_at_command(line) {
        "an AT command sent to the modem"
    } else if line == "OK" {
        "the modem accepted the command above"
    } else if line == "CONNECT" || line == ">" {
        "the modem waits for the data of the command above (a file upload or a payload)"
    } else if is_modem_answer(line) {
        "the modem's answer to the command above"
    } else {
        return None;
    };
    Some(meaning.to_owned())
}

/// `ssl_tls.c:6674 => handshake`, `mbedtls: ssl_cli.c:...`: mbedTLS's debug lines.
fn is_mbedtls_trace(lower: &str) -> bool {
    lower
        .split(|c: char| c.is_whitespace() || c == '(' || c == '[')
        .any(|word| {
            let Some((file, rest)) = word.split_once(".c:") else {
                return false;
            };
            (file.starts_with("ssl_")
                || file.starts_with("x509")
                || file.starts_with("pk")
                || file.starts_with("ecp")
                || file.starts_with("bignum"))
                && rest.starts_with(|c: char| c.is_ascii_digit())
        })
}

/// `AT+QMTOPEN=0,"host",8883`, `AT`, `ATE0`: a command as the modem echoes it.
fn is_at_command(line: &str) -> bool {
    line == "AT"
        || line.starts_with("AT+")
        || line.starts_with("AT&")
        || (line.starts_with("ATE") && line.len() <= 4)
}

/// `+CSQ: 20,99`, `+QFUPL: 1267,f5f`: an unsolicited or command answer line.
fn is_modem_answer(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('+') else {
        return false;
    };
    rest.split_once(':').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_usual_context() {
        for line in [
            "SDK ver: 2.0.0(5a875ba) compiled @ Aug  9 2016 15:12:27",
            "state: 2 -> 3 (0)",
            "TCP: Connect to domain A21PT0FIM59RP0.iot.us-west-2.amazonaws.com:8883",
            "DNS: found ip 54.187.143.164",
            "client handshake start.",
            "mbedtls: ssl_tls.c:6674 => handshake",
            "I (95460) mbedtls: ssl_tls.c:3578 <= write record",
            "AT+QMTOPEN=0,\"a2c0mm2np5hs-ats.iot.us-west-2.amazonaws.com\",8883",
            "+CSQ: 20,99",
            "OK",
        ] {
            assert!(recognise(line).is_some(), "{line}");
        }
        for line in [
            "hello",
            "+",
            "+: x",
            "ATTENTION please",
            "ssl_tls.c is a file",
        ] {
            assert!(recognise(line).is_none(), "{line}");
        }
    }
}
