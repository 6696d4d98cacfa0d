//! Plays conformance cases against a broker over plain TCP with blocking sockets and read
//! timeouts. A `recv` step must match byte for byte, or, failing that, decode to the same packet
//! with tether's codec (MQTT 5 properties are order-free except user properties, and CONNACK
//! properties are the reference broker's configuration, so only its flags and reason count).
//! Every read is bounded by the timeout; nothing sleeps but a case's own `wait` step.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{Packet, Protocol};

use crate::conformance::{Case, Step};
use crate::notation;

/// How a passing case passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    /// Every received packet matched byte for byte.
    Exact,
    /// Some packet differed in bytes but decoded to the same packet (property order, CONNACK
    /// properties).
    Equivalent,
}

/// Why a case failed: the step (0-based; `None` for the CONNECT or the final check) and what
/// was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The step that failed.
    pub step: Option<usize>,
    /// What went wrong, with the bytes involved in hex.
    pub detail: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.step {
            Some(step) => write!(f, "step {}: {}", step + 1, self.detail),
            None => f.write_str(&self.detail),
        }
    }
}

/// Runs one case against the broker at `addr`.
pub fn run_case(addr: SocketAddr, case: &Case, timeout: Duration) -> Result<Pass, Failure> {
    let at = |step: Option<usize>| move |detail: String| Failure { step, detail };
    let mut conn = Conn::open(addr, timeout).map_err(at(None))?;
    let protocol = protocol_of(case.version);
    if case.connect {
        conn.send(&connect_packet(case.version, &case.full_name))
            .map_err(at(None))?;
        let connack = conn.packet().map_err(at(None))?;
        if connack.first() != Some(&0x20) || connack.get(2..4) != Some(&[0, 0][..]) {
            return Err(at(None)(format!(
                "the broker refused the runner's CONNECT: received {}",
                hex(&connack)
            )));
        }
    }
    let mut pass = Pass::Exact;
    let mut closed = false;
    for (index, step) in case.steps.iter().enumerate() {
        let fail = at(Some(index));
        match step {
            Step::Send(bytes) => {
                if let Err(err) = conn.send(bytes) {
                    // A broker may close as soon as it sees a violation, before the script
                    // has finished writing; but when the script still expects to read, the
                    // broker must let the write end so that the client can read its answer
                    // (a reset would lose it).
                    let reads_after = case.steps.get(index + 1..).is_some_and(|rest| {
                        rest.iter().any(|s| {
                            matches!(
                                s,
                                Step::Recv(_) | Step::Subscribe { .. } | Step::Unsubscribe { .. }
                            )
                        })
                    });
                    if case.expect_disconnect && !reads_after {
                        closed = true;
                        break;
                    }
                    return Err(fail(err));
                }
            }
            Step::Wait(duration) => std::thread::sleep(*duration),
            Step::Recv(expected) => {
                if compare(&mut conn, expected, protocol).map_err(fail)? == Pass::Equivalent {
                    pass = Pass::Equivalent;
                }
            }
            Step::ExternalPublish {
                topic,
                qos,
                payload,
                retain,
            } => {
                external_publish(addr, timeout, topic, *qos, payload, *retain).map_err(fail)?;
            }
            Step::Subscribe { topic, qos } => {
                let (request, reply) = subscribe_packets(case.version, topic, *qos);
                conn.send(&request).map_err(&fail)?;
                compare(&mut conn, &reply, protocol).map_err(fail)?;
            }
            Step::Unsubscribe { topic } => {
                let (request, reply) = unsubscribe_packets(case.version, topic);
                conn.send(&request).map_err(&fail)?;
                compare(&mut conn, &reply, protocol).map_err(fail)?;
            }
        }
    }
    let end = at(None);
    if case.expect_disconnect {
        if !closed {
            conn.expect_close().map_err(end)?;
        }
    } else {
        conn.send(&[0xC0, 0x00]).map_err(&end)?;
        let reply = conn.packet().map_err(&end)?;
        if reply != [0xD0, 0x00] {
            return Err(end(format!(
                "the connection should still be open: sent PINGREQ, expected D0 00, received {}",
                hex(&reply)
            )));
        }
    }
    Ok(pass)
}

fn protocol_of(version: u8) -> Protocol {
    match version {
        3 => Protocol::V31,
        5 => Protocol::V5,
        _ => Protocol::V311,
    }
}

/// Reads as many whole packets as the expected bytes hold and compares them.
fn compare(conn: &mut Conn, expected: &[u8], protocol: Protocol) -> Result<Pass, String> {
    let expected_packets = split_packets(expected)
        .ok_or_else(|| format!("the expected bytes {} are not whole packets", hex(expected)))?;
    let mut received = Vec::new();
    for _ in &expected_packets {
        received.push(
            conn.packet()
                .map_err(|e| format!("expected {}: {e}", hex(expected)))?,
        );
    }
    let mut pass = Pass::Exact;
    for (want, got) in expected_packets.iter().zip(&received) {
        if want == got {
            continue;
        }
        if equivalent(want, got, protocol) {
            pass = Pass::Equivalent;
            continue;
        }
        return Err(format!("expected {}, received {}", hex(want), hex(got)));
    }
    Ok(pass)
}

fn equivalent(want: &[u8], got: &[u8], protocol: Protocol) -> bool {
    let decode = |bytes: &[u8]| mqtt_proto::codec::decode(Bytes::copy_from_slice(bytes), protocol);
    match (decode(want), decode(got)) {
        // The reference broker's CONNACK properties are its configuration, except Server Keep
        // Alive, which answers the client's keep-alive: that one must agree (absent included).
        (Ok(Packet::ConnAck(a)), Ok(Packet::ConnAck(b))) => {
            a.session_present == b.session_present
                && a.reason == b.reason
                && a.properties.server_keep_alive == b.properties.server_keep_alive
        }
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Splits bytes into packets by their fixed headers; `None` if they do not end on a boundary.
fn split_packets(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut packets = Vec::new();
    while !bytes.is_empty() {
        let (remaining, header_len) = remaining_length(bytes.get(1..)?)?;
        let total = 1 + header_len + remaining;
        packets.push(bytes.get(..total)?.to_vec());
        bytes = bytes.get(total..)?;
    }
    Some(packets)
}

/// Decodes a variable-byte integer of at most four bytes: (value, bytes used).
fn remaining_length(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

struct Conn {
    stream: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr, timeout: Duration) -> Result<Conn, String> {
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| format!("cannot connect to the broker at {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Conn { stream })
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("could not send {}: {e}", hex_head(bytes)))
    }

    /// Reads one whole packet.
    fn packet(&mut self) -> Result<Vec<u8>, String> {
        let mut packet = vec![0u8; 1];
        self.read_exact(&mut packet)?;
        for _ in 0..4 {
            let mut byte = [0u8];
            self.read_exact(&mut byte)?;
            packet.push(byte[0]);
            if byte[0] & 0x80 == 0 {
                break;
            }
        }
        let (len, _) = remaining_length(packet.get(1..).unwrap_or_default())
            .ok_or_else(|| format!("the broker sent a malformed length: {}", hex(&packet)))?;
        let start = packet.len();
        packet.resize(start + len, 0);
        self.read_exact(packet.get_mut(start..).unwrap_or_default())?;
        Ok(packet)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), String> {
        self.stream.read_exact(buf).map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset => {
                "the broker closed the connection".to_owned()
            }
            ErrorKind::WouldBlock | ErrorKind::TimedOut => "nothing received in time".to_owned(),
            _ => e.to_string(),
        })
    }

    /// Waits for the broker to close, allowing DISCONNECT packets before the close.
    fn expect_close(&mut self) -> Result<(), String> {
        loop {
            match self.packet() {
                Ok(packet) if packet.first() == Some(&0xE0) => continue,
                Ok(packet) => {
                    return Err(format!(
                        "expected the broker to close the connection, received {}",
                        hex(&packet)
                    ));
                }
                Err(e) if e == "the broker closed the connection" => return Ok(()),
                Err(e) if e == "nothing received in time" => {
                    return Err(
                        "expected the broker to close the connection; it stayed open".to_owned(),
                    );
                }
                // Other errors (reset during read) also mean the connection is gone.
                Err(_) => return Ok(()),
            }
        }
    }
}

/// The runner's CONNECT: clean start, keep-alive 60, the test's full name as client id; MQTT 5
/// adds Receive Maximum 20.
pub fn connect_packet(version: u8, client_id: &str) -> Vec<u8> {
    let id = client_id.as_bytes();
    let (name, props): (&[u8], &[u8]) = match version {
        3 => (b"\x00\x06MQIsdp", &[]),
        5 => (b"\x00\x04MQTT", &[0x03, 0x21, 0x00, 0x14]),
        _ => (b"\x00\x04MQTT", &[]),
    };
    let mut body = Vec::with_capacity(16 + id.len());
    body.extend_from_slice(name);
    body.extend_from_slice(&[version, 0x02, 0x00, 60]);
    body.extend_from_slice(props);
    body.extend_from_slice(&u16::try_from(id.len()).unwrap_or(u16::MAX).to_be_bytes());
    body.extend_from_slice(id);
    frame(0x10, &body)
}

fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u16::try_from(s.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn subscribe_packets(version: u8, topic: &str, qos: u8) -> (Vec<u8>, Vec<u8>) {
    let mut body = vec![0x00, 0x01];
    if version == 5 {
        body.push(0);
    }
    string(&mut body, topic);
    body.push(qos);
    let reply = if version == 5 {
        vec![0x90, 4, 0, 1, 0, qos]
    } else {
        vec![0x90, 3, 0, 1, qos]
    };
    (frame(0x82, &body), reply)
}

fn unsubscribe_packets(version: u8, topic: &str) -> (Vec<u8>, Vec<u8>) {
    let mut body = vec![0x00, 0x01];
    if version == 5 {
        body.push(0);
    }
    string(&mut body, topic);
    let reply = if version == 5 {
        vec![0xB0, 4, 0, 1, 0, 0]
    } else {
        vec![0xB0, 2, 0, 1]
    };
    (frame(0xA2, &body), reply)
}

/// A second client, `helper` on MQTT 3.1.1, publishes one message with the full QoS handshake
/// and disconnects.
fn external_publish(
    addr: SocketAddr,
    timeout: Duration,
    topic: &str,
    qos: u8,
    payload: &str,
    retain: bool,
) -> Result<(), String> {
    let mut helper = Conn::open(addr, timeout)?;
    helper.send(&connect_packet(4, "helper"))?;
    let connack = helper.packet()?;
    if connack != [0x20, 0x02, 0x00, 0x00] {
        return Err(format!(
            "the helper's CONNECT was refused: {}",
            hex(&connack)
        ));
    }
    let mut body = Vec::new();
    string(&mut body, topic);
    if qos > 0 {
        body.extend_from_slice(&[0x00, 0x01]);
    }
    body.extend_from_slice(payload.as_bytes());
    helper.send(&frame(0x30 | (qos << 1) | u8::from(retain), &body))?;
    let expect = |helper: &mut Conn, want: &[u8]| -> Result<(), String> {
        let got = helper.packet()?;
        if got == want {
            Ok(())
        } else {
            Err(format!(
                "helper expected {}, received {}",
                hex(want),
                hex(&got)
            ))
        }
    };
    match qos {
        1 => expect(&mut helper, &[0x40, 2, 0, 1])?,
        2 => {
            expect(&mut helper, &[0x50, 2, 0, 1])?;
            helper.send(&[0x62, 2, 0, 1])?;
            expect(&mut helper, &[0x70, 2, 0, 1])?;
        }
        _ => {}
    }
    helper.send(&[0xE0, 0x00])
}

/// [`hex`] of at most the first 64 bytes, with the total when there are more (a `repeat`ed
/// send can be megabytes).
fn hex_head(bytes: &[u8]) -> String {
    match bytes.get(..64) {
        Some(head) if bytes.len() > 64 => format!("{} ... ({} bytes)", hex(head), bytes.len()),
        _ => hex(bytes),
    }
}

/// Hex with a space between bytes, for failure messages.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// Whether `case` must run alone: it picks its own client id (no runner CONNECT) or uses the
/// shared `helper` client, so it would take over another case's session; or it subscribes, or
/// publishes a retained message, so another case's publications (or retained messages) on the
/// same topics would reach it, or its own would reach another case's subscription.
pub fn runs_alone(case: &Case) -> bool {
    !case.connect
        || case.steps.iter().any(|step| match step {
            Step::ExternalPublish { .. } | Step::Subscribe { .. } => true,
            Step::Send(bytes) => match bytes.first() {
                // SUBSCRIBE, or PUBLISH with RETAIN.
                Some(&first) => first == 0x82 || (first & 0xF1 == 0x31),
                None => false,
            },
            Step::Recv(_) | Step::Unsubscribe { .. } | Step::Wait(_) => false,
        })
}

/// Runs `cases` against `addr`; results come back in case order. Cases that [`runs_alone`],
/// and cases whose full name (their client id) another case shares, run one at a time after
/// the others, which run on `threads` worker threads.
pub fn run_all(
    addr: SocketAddr,
    cases: &[Case],
    threads: usize,
    timeout: Duration,
) -> Vec<Result<Pass, Failure>> {
    let mut names: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for case in cases {
        *names.entry(case.full_name.as_str()).or_default() += 1;
    }
    let alone = |case: &Case| runs_alone(case) || names.get(case.full_name.as_str()) > Some(&1);
    let (serial, parallel): (Vec<usize>, Vec<usize>) =
        (0..cases.len()).partition(|&i| cases.get(i).is_some_and(alone));
    let mut results: Vec<Option<Result<Pass, Failure>>> = vec![None; cases.len()];
    let next = std::sync::atomic::AtomicUsize::new(0);
    let collected = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&index) = parallel.get(n) else { break };
                    if let Some(case) = cases.get(index) {
                        mine.push((index, run_case(addr, case, timeout)));
                    }
                }
                if let Ok(mut all) = collected.lock() {
                    all.extend(mine);
                }
            });
        }
    });
    for (index, result) in collected.into_inner().unwrap_or_default() {
        if let Some(slot) = results.get_mut(index) {
            *slot = Some(result);
        }
    }
    for index in serial {
        if let (Some(case), Some(slot)) = (cases.get(index), results.get_mut(index)) {
            *slot = Some(run_case(addr, case, timeout));
        }
    }
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(Failure {
                    step: None,
                    detail: "not run".to_owned(),
                })
            })
        })
        .collect()
}

/// Parses packet notation; re-exported for tests that script their own transcripts.
pub fn bytes(notation_text: &str) -> Result<Vec<u8>, notation::NotationError> {
    notation::parse(notation_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_connect_matches_the_documented_shape() {
        let v4 = connect_packet(4, "p");
        assert_eq!(
            v4,
            notation::parse("10 r13 s4 'MQTT' 04 02 k60 s1 'p'").unwrap()
        );
        let v5 = connect_packet(5, "p");
        assert_eq!(
            v5,
            notation::parse("10 r17 s4 'MQTT' 05 02 k60 03 21 H20 s1 'p'").unwrap()
        );
        let v3 = connect_packet(3, "p");
        assert_eq!(
            v3,
            notation::parse("10 r15 s6 'MQIsdp' 03 02 k60 s1 'p'").unwrap()
        );
    }

    #[test]
    fn cases_that_share_topics_or_ids_run_alone() {
        let case = |connect, steps: Vec<Step>| Case {
            file: "T.json".to_owned(),
            full_name: "g t".to_owned(),
            version: 4,
            connect,
            expect_disconnect: false,
            disabled: false,
            steps,
        };
        let send = |text: &str| Step::Send(notation::parse(text).unwrap());
        assert!(!runs_alone(&case(true, vec![send("30 r3 s1 'p'")])));
        assert!(!runs_alone(&case(true, vec![send("32 r5 s1 'p' m1")])));
        assert!(
            runs_alone(&case(true, vec![send("31 r3 s1 'p'")])),
            "retained"
        );
        assert!(runs_alone(&case(true, vec![send("82 r6 m1 s1 'p' 00")])));
        assert!(runs_alone(&case(false, vec![send("30 r3 s1 'p'")])));
        let subscribe = Step::Subscribe {
            topic: "p".to_owned(),
            qos: 0,
        };
        assert!(runs_alone(&case(true, vec![subscribe])));
    }

    #[test]
    fn packets_split_on_fixed_headers() {
        let two = notation::parse("90 r3 m1 00 D0 00").unwrap();
        assert_eq!(
            split_packets(&two).unwrap(),
            [vec![0x90, 3, 0, 1, 0], vec![0xD0, 0]]
        );
        assert_eq!(split_packets(&[0x90, 3, 0]), None);
    }
}
