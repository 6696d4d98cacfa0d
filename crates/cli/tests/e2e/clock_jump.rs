//! Issue 21 (2), clock jumps: `tether serve --clock-offset-file` (a hidden test hook) shifts the
//! broker's own wall clock at run time, forward and back by an hour. Timestamps the broker
//! shows move with it (a retained message's lastModifiedTime, read with the AWS CLI), while
//! every timer of MQTT runs on the monotonic clock: a live connection is not timed out, an
//! offline persistent session with a 60 s expiry is not expired, and QoS 1 messages with a
//! 120 s Message Expiry Interval queued for it are all delivered. Raw packets show the bytes.

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;

use crate::reliability::{connect, connected, frame, subscribe};
use crate::support::{LOG_WAIT, aws, read_packet, start, unix_now};

/// An MQTT 5 CONNECT, clean start off, Session Expiry Interval `expiry` seconds.
fn connect_v5(client_id: &str, expiry: u32) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 5, 0x00, 0, 60, 5, 0x11];
    body.extend_from_slice(&expiry.to_be_bytes());
    body.extend_from_slice(&u16::try_from(client_id.len()).unwrap().to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    frame(0x10, &body)
}

/// An MQTT 5 QoS 1 PUBLISH with a Message Expiry Interval of 120 s.
fn publish_expiring(topic: &str, packet_id: u16, payload: &str) -> Vec<u8> {
    let mut body = u16::try_from(topic.len()).unwrap().to_be_bytes().to_vec();
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(&packet_id.to_be_bytes());
    body.extend_from_slice(&[5, 0x02, 0, 0, 0, 120]);
    body.extend_from_slice(payload.as_bytes());
    frame(0x32, &body)
}

/// Publishes and checks the PUBACK says success.
fn publish_acked(publisher: &mut TcpStream, packet_id: u16, payload: &str) {
    publisher
        .write_all(&publish_expiring("clock/t", packet_id, payload))
        .unwrap();
    let puback = read_packet(publisher).unwrap();
    assert_eq!(&puback[..4], [0x40, 2, 0, u8::try_from(packet_id).unwrap()]);
}

/// Sets the offset and waits until the broker logged it.
fn jump(server: &test_support::process::Tether, file: &Path, seconds: i64) {
    std::fs::write(file, seconds.to_string()).unwrap();
    server
        .wait_for_log(
            &format!("wall clock is now {seconds} s from the host's"),
            LOG_WAIT,
        )
        .unwrap();
}

/// The payloads of the QoS 1 PUBLISHes read until `count` came, acknowledging each.
fn payloads(stream: &mut TcpStream, level: u8, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < count {
        let packet = read_packet(stream).expect("a PUBLISH");
        assert_eq!(packet[0] >> 4, 3, "PUBLISH expected: {packet:02X?}");
        let mut at = 2 + 2 + usize::from(u16::from_be_bytes([packet[2], packet[3]]));
        let packet_id = [packet[at], packet[at + 1]];
        at += 2;
        if level == 5 {
            at += 1 + usize::from(packet[at]);
        }
        stream
            .write_all(&[0x40, 2, packet_id[0], packet_id[1]])
            .unwrap();
        out.push(String::from_utf8(packet[at..].to_vec()).unwrap());
    }
    out
}

#[test]
fn a_jump_of_the_brokers_clock_loses_no_message_and_expires_no_live_session() {
    let offset = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(offset.path(), "0").unwrap();
    let file = offset.path().to_str().unwrap();
    let (_dir, server) = start(&[
        "--profile",
        "mqtt",
        "--mqtt",
        "127.0.0.1:0",
        "--clock-offset-file",
        file,
    ]);
    let addr = server.addr("mqtt");

    // An offline session that expires 60 s after it disconnects, and a live one.
    let (mut sleeper, _) = connected(addr, &connect_v5("sleeper", 60));
    sleeper.write_all(&subscribe(5, "clock/t", 1)).unwrap();
    assert_eq!(read_packet(&mut sleeper).unwrap(), [0x90, 4, 0, 1, 0, 1]);
    sleeper.write_all(&[0xE0, 0]).unwrap();
    assert!(
        read_packet(&mut sleeper).is_none(),
        "closed after DISCONNECT"
    );
    let (mut awake, _) = connected(addr, &connect(4, "awake", false));
    awake.write_all(&subscribe(4, "clock/t", 1)).unwrap();
    assert_eq!(read_packet(&mut awake).unwrap(), [0x90, 3, 0, 1, 1]);
    let (mut publisher, _) = connected(addr, &connect(5, "clock-pub", true));

    // Back ten minutes: timestamps the broker shows move with its clock.
    jump(&server, offset.path(), -600);
    publisher
        .write_all(&frame(0x31, b"\x00\x07clock/r\x00retained"))
        .unwrap();
    publish_acked(&mut publisher, 1, "before");
    let retained = aws(
        &server,
        &["iot-data", "get-retained-message", "--topic", "clock/r"],
    );
    let modified_s = retained["lastModifiedTime"].as_i64().unwrap() / 1000;
    assert!(
        (modified_s - (unix_now() - 600)).abs() < 60,
        "lastModifiedTime {modified_s} is not ten minutes behind the host ({}): {retained}",
        unix_now()
    );

    // An hour forward, then an hour back: MQTT's timers do not move.
    jump(&server, offset.path(), 3600);
    publish_acked(&mut publisher, 2, "forward");
    jump(&server, offset.path(), -3600);
    publish_acked(&mut publisher, 3, "backward");
    jump(&server, offset.path(), 0);

    assert_eq!(
        payloads(&mut awake, 4, 3),
        ["before", "forward", "backward"]
    );
    awake.write_all(&[0xC0, 0]).unwrap();
    assert_eq!(
        read_packet(&mut awake).unwrap(),
        [0xD0, 0],
        "still connected"
    );
    let (mut back, connack) = connected(addr, &connect_v5("sleeper", 60));
    assert_eq!(
        connack[2], 1,
        "session present after the jumps: {connack:02X?}"
    );
    assert_eq!(
        payloads(&mut back, 5, 3),
        ["before", "forward", "backward"],
        "no queued message expired"
    );
}
