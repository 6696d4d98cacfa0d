//! `MQTT_No_Ack_PingResp` after CONNACK: the endpoint answers nothing, as Device Advisor does
//! ("blocks responses sent from AWS IoT Core for publish, subscribe, and ping requests"), and
//! the device must close the connection once a PINGREQ goes unanswered (MQTT 3.1.1 §3.1.2.10:
//! a client that does not receive a PINGRESP within a reasonable time should close the network
//! connection). A close before any PINGREQ says nothing about keep-alive and starts the test
//! over; a device that keeps the connection open fails when the test's timeout passes. It does
//! not judge how soon the device closes (Device Advisor's page gives only the test timeout,
//! more than 1.5 times the keep-alive).

use std::time::Instant;

use bytes::BytesMut;
use mqtt_proto::codec::Decoder;
use mqtt_proto::{MAX_PACKET_SIZE, Packet, Protocol};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::Outcome;
use super::attempt::Judged;

/// What to change when the device keeps a connection whose PINGRESP never comes.
pub(crate) const FIX: &str = "close the connection and reconnect when no PINGRESP arrives \
    within a few seconds of a PINGREQ (coreMQTT: MQTT_ProcessLoop returns MQTTKeepAliveTimeout, \
    then close the socket and reconnect with backoff; PubSubClient: loop() returning false); \
    set a keep-alive of 30 to 1200 s so that PINGREQs are sent at all";

/// Withholds every answer and waits for the device to close after an unanswered PINGREQ. None:
/// the device closed before pinging, which starts the test over.
pub(crate) async fn withhold(
    stream: &mut SslStream<TcpStream>,
    protocol: Protocol,
    keep_alive: u16,
    mut buf: BytesMut,
    progress: &mut impl FnMut(String),
) -> Option<Judged> {
    let mut decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
    let mut first_ping: Option<Instant> = None;
    let mut pings = 0u32;
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(Packet::PingReq)) => {
                pings += 1;
                first_ping.get_or_insert_with(Instant::now);
                progress(format!(
                    "PINGREQ {pings} (keep-alive {keep_alive} s): PINGRESP withheld"
                ));
                continue;
            }
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(e) => {
                return Some(Judged {
                    outcome: Outcome::Fail,
                    device_did: format!("sent a packet that does not decode: {e}"),
                    fix: Some("fix the MQTT encoding the error names".to_owned()),
                });
            }
        }
        match stream.read_buf(&mut buf).await {
            Ok(n) if n > 0 => continue,
            _ => {}
        }
        let Some(first) = first_ping else {
            progress(
                "the device disconnected before sending a PINGREQ; a reconnect starts the test \
                 over"
                    .to_owned(),
            );
            return None;
        };
        return Some(Judged {
            outcome: Outcome::Pass,
            device_did: format!(
                "closed the connection {:.1} s after its first unanswered PINGREQ ({pings} \
                 PINGREQ sent, keep-alive {keep_alive} s)",
                first.elapsed().as_secs_f64()
            ),
            fix: None,
        });
    }
}
