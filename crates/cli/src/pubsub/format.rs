//! How `tether sub` prints a message: the payload, `-v` ("topic payload"), `-F` with
//! mosquitto's specifiers (%t %p %q %r %m %l %I %U %x %X %j %%) and backslash escapes, and
//! `--json` (one object per line, exactly mosquitto's %j). The format string is parsed
//! once, before connecting. It does not decide which messages are printed.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use client::Publish;

/// One piece of a `-F` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Topic,
    Payload,
    Qos,
    Retain,
    Mid,
    Length,
    Iso,
    Unix,
    Hex,
    HexUpper,
    Json,
}

/// How messages are printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The payload (`-v`: topic and payload).
    Plain { verbose: bool },
    /// A `-F` format.
    Format(Vec<Piece>),
    /// `--json`.
    Json,
}

impl Output {
    /// Parses `-F`; unknown specifiers are an error naming them.
    pub fn format(text: &str) -> Result<Output, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let piece = match chars.next() {
                        Some('%') => {
                            literal.push('%');
                            continue;
                        }
                        Some('t') => Piece::Topic,
                        Some('p') => Piece::Payload,
                        Some('q') => Piece::Qos,
                        Some('r') => Piece::Retain,
                        Some('m') => Piece::Mid,
                        Some('l') => Piece::Length,
                        Some('I') => Piece::Iso,
                        Some('U') => Piece::Unix,
                        Some('x') => Piece::Hex,
                        Some('X') => Piece::HexUpper,
                        Some('j') => Piece::Json,
                        Some(other) => {
                            return Err(format!(
                                "-F: unsupported format specifier %{other}; use %t %p %q %r %m %l %I %U %x %X %j or %%"
                            ));
                        }
                        None => return Err("-F: the format ends with a lone %".to_owned()),
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(piece);
                }
                '\\' => match chars.next() {
                    Some('n') => literal.push('\n'),
                    Some('t') => literal.push('\t'),
                    Some('r') => literal.push('\r'),
                    Some('v') => literal.push('\u{b}'),
                    Some('a') => literal.push('\u{7}'),
                    Some('e') => literal.push('\u{1b}'),
                    Some('0') => literal.push('\0'),
                    Some('\\') => literal.push('\\'),
                    Some(other) => {
                        literal.push('\\');
                        literal.push(other);
                    }
                    None => literal.push('\\'),
                },
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Output::Format(pieces))
    }

    /// Appends the printed form of `message` to `out`, with a newline unless `-N`.
    pub fn render(&self, message: &Publish, eol: bool, out: &mut Vec<u8>) {
        match self {
            Output::Plain { verbose } => {
                if *verbose {
                    out.extend_from_slice(message.topic.as_str().as_bytes());
                    out.push(b' ');
                    if message.payload.is_empty() {
                        out.extend_from_slice(b"(null)");
                    }
                }
                out.extend_from_slice(&message.payload);
            }
            Output::Json => out.extend_from_slice(json(message).as_bytes()),
            Output::Format(pieces) => {
                for piece in pieces {
                    render_piece(piece, message, out);
                }
            }
        }
        if eol {
            out.push(b'\n');
        }
    }
}

fn render_piece(piece: &Piece, message: &Publish, out: &mut Vec<u8>) {
    let text = match piece {
        Piece::Text(text) => text.clone(),
        Piece::Topic => message.topic.as_str().to_owned(),
        Piece::Payload => {
            out.extend_from_slice(&message.payload);
            return;
        }
        Piece::Qos => (message.delivery.qos() as u8).to_string(),
        Piece::Retain => u8::from(message.retain).to_string(),
        Piece::Mid => message
            .delivery
            .packet_id()
            .map_or(0, |id| id.get())
            .to_string(),
        Piece::Length => message.payload.len().to_string(),
        Piece::Iso => iso_time(),
        Piece::Unix => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
        }
        Piece::Hex => hex(&message.payload, false),
        Piece::HexUpper => hex(&message.payload, true),
        Piece::Json => json(message),
    };
    out.extend_from_slice(text.as_bytes());
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// mosquitto's %I: ISO 8601 with a numeric zone ("2024-01-31T12:00:00+0000"; always UTC here).
fn iso_time() -> String {
    let text = pki::rfc3339(unix_now());
    format!("{}+0000", text.trim_end_matches('Z'))
}

fn hex(bytes: &[u8], upper: bool) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = if upper {
            write!(text, "{b:02X}")
        } else {
            write!(text, "{b:02x}")
        };
    }
    text
}

/// One JSON object as mosquitto's %j writes it (mosquitto 2.0): the keys in its order — `tst`
/// (UTC with microseconds, written `…Z+0000` as mosquitto does), `topic`, `qos`, `retain`,
/// `payloadlen`, `payload` — and `null` for an empty payload. A payload that is not UTF-8, or
/// holds a NUL byte, is given as `payload_hex` instead: mosquitto writes such bytes raw (not
/// valid JSON) or cuts the payload at the NUL, and tether does not copy that.
fn json(message: &Publish) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let tst = format!(
        "{}.{:06}Z+0000",
        pki::rfc3339(seconds).trim_end_matches('Z'),
        now.subsec_micros()
    );
    let quote = |text: &str| serde_json::Value::from(text).to_string();
    let mut out = format!(
        "{{\"tst\":{},\"topic\":{},\"qos\":{},\"retain\":{},\"payloadlen\":{},",
        quote(&tst),
        quote(message.topic.as_str()),
        message.delivery.qos() as u8,
        u8::from(message.retain),
        message.payload.len()
    );
    match std::str::from_utf8(&message.payload) {
        Ok("") => out.push_str("\"payload\":null}"),
        Ok(text) if !text.contains('\0') => {
            let _ = write!(out, "\"payload\":{}}}", quote(text));
        }
        _ => {
            let _ = write!(
                out,
                "\"payload_hex\":{}}}",
                quote(&hex(&message.payload, false))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use client::{Bytes, QoS, TopicName};

    use super::*;

    fn message(payload: &'static [u8]) -> Publish {
        Publish {
            dup: false,
            delivery: client::mqtt_proto::Delivery::new(
                QoS::ExactlyOnce,
                client::mqtt_proto::PacketId::new(1).unwrap(),
            ),
            retain: true,
            topic: TopicName::new("a/b").unwrap(),
            properties: Default::default(),
            payload: Bytes::from_static(payload),
        }
    }

    fn render(output: &Output, payload: &'static [u8], eol: bool) -> String {
        let mut out = Vec::new();
        output.render(&message(payload), eol, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn format_specifiers_match_mosquitto() {
        let output = Output::format("%t|%p|%q|%r|%m|%l|%x|%X").unwrap();
        assert_eq!(render(&output, b"hi", true), "a/b|hi|2|1|1|2|6869|6869\n");
        let escaped = Output::format("%t\\t%p\\n%%").unwrap();
        assert_eq!(render(&escaped, b"hi", true), "a/b\thi\n%\n");
        assert!(Output::format("%z").unwrap_err().contains("%z"));
        let unix = render(&Output::format("%U").unwrap(), b"", false);
        assert!(unix.contains('.') && unix.len() > 15, "{unix}");
        let iso = render(&Output::format("%I").unwrap(), b"", false);
        assert!(iso.ends_with("+0000") && iso.contains('T'), "{iso}");
    }

    #[test]
    fn plain_and_verbose_output() {
        let plain = Output::Plain { verbose: false };
        assert_eq!(render(&plain, b"hello", true), "hello\n");
        assert_eq!(render(&plain, b"hello", false), "hello");
        let verbose = Output::Plain { verbose: true };
        assert_eq!(render(&verbose, b"hello", true), "a/b hello\n");
        assert_eq!(render(&verbose, b"", true), "a/b (null)\n");
    }

    #[test]
    fn json_has_one_object_per_message_in_mosquittos_key_order() {
        let text = render(&Output::Json, b"a\"b\\\n\x01", true);
        let (tst, rest) = text.split_once("\",\"topic\"").unwrap();
        assert_eq!(
            rest,
            ":\"a/b\",\"qos\":2,\"retain\":1,\"payloadlen\":6,\"payload\":\"a\\\"b\\\\\\n\\u0001\"}\n"
        );
        // {"tst":"2026-01-31T12:00:00.123456Z+0000
        let tst = tst.strip_prefix("{\"tst\":\"").unwrap();
        assert_eq!(tst.len(), 32, "{tst}");
        assert!(
            tst.ends_with("Z+0000") && tst.as_bytes()[19] == b'.',
            "{tst}"
        );
        let value: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(value["payload"], "a\"b\\\n\u{1}");
        let empty = render(&Output::Json, b"", true);
        assert!(
            empty.ends_with(",\"payloadlen\":0,\"payload\":null}\n"),
            "{empty}"
        );
        let binary = render(&Output::Json, b"\xff\x00", true);
        let value: serde_json::Value = serde_json::from_str(binary.trim_end()).unwrap();
        assert_eq!(value["payload_hex"], "ff00");
    }
}
