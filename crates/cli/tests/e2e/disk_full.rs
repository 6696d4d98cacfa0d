//! Issue 21 (2), disk full: `tether serve` with its data directory on a small tmpfs that a
//! filler file fills up. The broker must acknowledge nothing it could not store (every PUBACK
//! that said success is delivered after space returns, across a SIGKILL), refuse new persistent
//! work with a reason (MQTT 5 0x97 Quota exceeded, seen by mosquitto_pub too; MQTT 3.1.1
//! CONNACK 3, and a refused PUBLISH closes the connection without PUBACK), say so once in its
//! log naming the data directory, keep serving clean sessions, and resume by itself when the
//! filler is removed. Raw packets show the exact bytes; the mount needs root, which CI has.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use test_support::process::Tether;

use crate::reliability::{connect, connected, frame, publish_qos1, subscribe};
use crate::support::{LOG_WAIT, read_packet, tether};

/// A tmpfs mounted on a temporary directory for the test's life.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `32m`). Mounting needs root (CI runs as root): without
    /// it the test fails and says why rather than passing untested.
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "cannot mount a {size} tmpfs on {} for the disk-full test (it needs root, as in \
             CI): {}",
            dir.path().display(),
            String::from_utf8_lossy(&output.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a server the test could not stop still has files open there.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes a file in `dir` until the filesystem has no block left; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 4096, 512] {
        let block = vec![0x5A_u8; chunk];
        while file.write_all(&block).is_ok() {}
    }
    path
}

fn serve(data: &Path) -> Tether {
    let args = ["--profile", "mqtt", "--mqtt", "127.0.0.1:0", "--no-api"];
    Tether::serve(tether(), data, &args).unwrap()
}

/// A payload of about 64 KiB that starts with its sequence number: each one needs new pages.
fn payload(seq: u32) -> Vec<u8> {
    let mut out = format!("{seq:06} ").into_bytes();
    out.resize(64 * 1024, b'x');
    out
}

/// Publishes `seq` at QoS 1 with MQTT 5 and returns the PUBACK's reason code.
fn publish_v5(stream: &mut TcpStream, seq: u32) -> u8 {
    let packet_id = u16::try_from(seq % 60_000 + 1).unwrap();
    stream
        .write_all(&publish_qos1(5, "full/t", packet_id, &payload(seq)))
        .unwrap();
    let puback = read_packet(stream).expect("PUBACK");
    assert_eq!(puback[0], 0x40, "PUBACK expected: {puback:02X?}");
    assert_eq!(puback[2..4], packet_id.to_be_bytes());
    // Remaining length 2: success with no reason code (MQTT 5 §3.4.2.1).
    if puback[1] >= 3 { puback[4] } else { 0 }
}

fn qos0(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u16::try_from(topic.len()).unwrap().to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(payload);
    frame(0x30, &body)
}

#[test]
fn a_full_disk_refuses_what_it_cannot_store_and_recovers_by_itself() {
    let tmpfs = Tmpfs::mount("48m");
    let data = tmpfs.path();
    let server = serve(data);
    let addr = server.addr("mqtt");

    // A persistent subscriber goes offline: what is published for it is queued on disk.
    let (mut keeper, _) = connected(addr, &connect(4, "keeper", false));
    keeper.write_all(&subscribe(4, "full/t", 1)).unwrap();
    assert_eq!(read_packet(&mut keeper).unwrap(), [0x90, 3, 0, 1, 1]);
    keeper.write_all(&[0xE0, 0]).unwrap();
    assert!(
        read_packet(&mut keeper).is_none(),
        "closed after DISCONNECT"
    );
    // A persistent session that stays connected, and a clean one on QoS 0.
    let (mut durable, _) = connected(addr, &connect(5, "durable-v5", false));
    let (mut watcher, _) = connected(addr, &connect(4, "watcher", true));
    watcher.write_all(&subscribe(4, "free/t", 0)).unwrap();
    assert_eq!(read_packet(&mut watcher).unwrap(), [0x90, 3, 0, 1, 0]);
    let (mut publisher, _) = connected(addr, &connect(5, "pub-v5", true));
    let mut acked = Vec::new();
    for seq in 0..3 {
        assert_eq!(publish_v5(&mut publisher, seq), 0, "before the disk fills");
        acked.push(seq);
    }

    let filler = fill(data);
    // SQLite may still have room in pages it already owns; the first write that must grow
    // the files is refused, and refused with Quota exceeded.
    let mut seq = 3;
    let mut refused = 0;
    while refused < 3 {
        assert!(
            seq < 400,
            "no publish was refused after {seq} of 64 KiB on a full disk"
        );
        match publish_v5(&mut publisher, seq) {
            0 => acked.push(seq),
            0x97 => refused += 1,
            other => panic!("PUBACK reason {other:#04X} for publish {seq}, expected 0 or 0x97"),
        }
        seq += 1;
    }
    let line = server
        .wait_for_log(
            &format!("data directory {} is full", data.display()),
            LOG_WAIT,
        )
        .unwrap();
    assert!(
        line.contains("free space there") && line.contains("no restart needed"),
        "{line}"
    );

    // While full: new persistent sessions are refused, in both versions.
    let (_, connack) = connected(addr, &connect(5, "new-durable", false));
    assert_eq!(connack[3], 0x97, "MQTT 5 CONNACK: {connack:02X?}");
    let (_, connack) = connected(addr, &connect(4, "new-durable-3", false));
    assert_eq!(
        connack,
        [0x20, 2, 0, 3],
        "MQTT 3.1.1 CONNACK: server unavailable"
    );
    // A persistent session's SUBSCRIBE is refused.
    durable.write_all(&subscribe(5, "more/t", 1)).unwrap();
    assert_eq!(read_packet(&mut durable).unwrap(), [0x90, 4, 0, 1, 0, 0x97]);
    // MQTT 3.1.1 cannot refuse in a PUBACK: the connection closes without one, and the
    // client keeps the message to send again.
    let (mut old, _) = connected(addr, &connect(4, "pub-v3", true));
    old.write_all(&publish_qos1(4, "full/t", 7, &payload(9_999)))
        .unwrap();
    assert_eq!(read_packet(&mut old), None, "closed, no PUBACK");
    // mosquitto_pub shows the reason. Its payload file lives off the full tmpfs.
    let message = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(message.path(), payload(50_000)).unwrap();
    let output = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &addr.port().to_string()])
        .args([
            "-V",
            "5",
            "-q",
            "1",
            "-i",
            "mosquitto-full",
            "-t",
            "full/t",
            "-f",
        ])
        .arg(message.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Quota exceeded"), "mosquitto_pub: {stderr}");
    // Clean sessions and QoS 0 still work.
    let (mut sender, connack) = connected(addr, &connect(4, "clean-sender", true));
    assert_eq!(connack, [0x20, 2, 0, 0]);
    sender.write_all(&qos0("free/t", b"still served")).unwrap();
    let delivered = read_packet(&mut watcher).unwrap();
    assert!(delivered.ends_with(b"still served"), "{delivered:02X?}");

    let told: Vec<_> = server
        .logs()
        .into_iter()
        .filter(|l| l.contains("is full") || l.contains("can be written again"))
        .collect();
    assert_eq!(told.len(), 1, "one line while full: {told:#?}");

    // Space back: the broker finds out by itself and accepts persistent work again.
    std::fs::remove_file(&filler).unwrap();
    server
        .wait_for_log("can be written again", Duration::from_secs(10))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    for _ in 0..5 {
        loop {
            assert!(
                Instant::now() < deadline,
                "publishes still refused after space returned"
            );
            if publish_v5(&mut publisher, seq) == 0 {
                acked.push(seq);
                seq += 1;
                break;
            }
            seq += 1;
        }
    }
    let (_, connack) = connected(addr, &connect(5, "new-durable", false));
    assert_eq!(
        connack[3], 0,
        "MQTT 5 CONNACK after recovery: {connack:02X?}"
    );

    // Every acknowledged message was on disk: it survives a SIGKILL and reaches the keeper.
    drop((publisher, durable, watcher, sender));
    server.kill9();
    let server = serve(data);
    let delivered = drain_keeper(server.addr("mqtt"), &acked);
    let missing: Vec<_> = acked.iter().filter(|s| !delivered.contains(s)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not delivered: {missing:?} (acknowledged {acked:?}, delivered {delivered:?})"
    );
}

/// Resumes the keeper's session and returns the sequence numbers it is sent, acknowledging
/// each, until every one of `wanted` came or nothing more arrives for 3 s.
fn drain_keeper(addr: SocketAddr, wanted: &[u32]) -> Vec<u32> {
    let (mut keeper, connack) = connected(addr, &connect(4, "keeper", false));
    assert_eq!(connack, [0x20, 2, 1, 0], "session present");
    keeper
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut delivered = Vec::new();
    while !wanted.iter().all(|seq| delivered.contains(seq)) {
        let Some(packet) = read_packet(&mut keeper) else {
            break;
        };
        let (packet_id, _, body) = decode(&packet);
        let mut ack = vec![0x40, 2];
        ack.extend_from_slice(&packet_id.to_be_bytes());
        keeper.write_all(&ack).unwrap();
        delivered.push(std::str::from_utf8(&body[..6]).unwrap().parse().unwrap());
    }
    delivered
}

/// A QoS 1 PUBLISH (MQTT 3.1.1) as packet id, dup and payload; remaining lengths of any size.
fn decode(packet: &[u8]) -> (u16, bool, Vec<u8>) {
    assert_eq!(packet[0] >> 4, 3, "PUBLISH expected: {:02X?}", &packet[..4]);
    let dup = packet[0] & 0x08 != 0;
    let mut at = 1;
    while packet[at] & 0x80 != 0 {
        at += 1;
    }
    at += 1;
    let topic_len = usize::from(u16::from_be_bytes([packet[at], packet[at + 1]]));
    at += 2 + topic_len;
    let packet_id = u16::from_be_bytes([packet[at], packet[at + 1]]);
    (packet_id, dup, packet[at + 2..].to_vec())
}
