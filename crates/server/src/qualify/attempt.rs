//! One test's connection attempts, judged from the server's side. A device that refuses the
//! server certificate shows it by a TLS alert (its certificate verification failing) or by
//! closing the connection before its Finished, or by silence past the step timeout; a device
//! that accepts it completes the
//! handshake. A completed handshake is answered as AWS IoT would answer (CONNECT → CONNACK
//! after the policy's iot:Connect decision), so the device does not back off before the next
//! test. Connections that carry no ClientHello, or that complete with another certificate than
//! the one under test, are noted and the test keeps waiting. What follows CONNACK in the
//! publish-retry test is puback.rs's, in the subscribe-retry test suback.rs's; the backoff
//! test's withheld CONNACKs are counted by backoff.rs and held here; the keep-alive test's
//! silence is keepalive.rs's.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use broker_core::{Action, Authorizer, Decision};
use bytes::BytesMut;
use mqtt_proto::codec::Decoder;
use mqtt_proto::{ConnAck, Connect, MAX_PACKET_SIZE, Packet, Protocol, ReasonCode};
use openssl::ssl::{self, Ssl, SslAcceptor};
use tls::Alert;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_openssl::SslStream;

use super::{Device, Outcome, TestId, Verdict};

/// How long a connection stays open after CONNACK for the device's own DISCONNECT, so that a
/// client such as mosquitto_pub finishes its work instead of seeing the socket drop.
const LINGER: Duration = Duration::from_secs(2);
/// OpenSSL's `SSL_AD_REASON_OFFSET`: a received alert N is reported as reason N + 1000.
const ALERT_REASON_OFFSET: i32 = 1000;
/// OpenSSL's `ERR_LIB_SSL`.
const ERR_LIB_SSL: i32 = 20;

/// AWS IoT Core's keep-alive range (developer guide, "MQTT": 30 to 1200 s; 0 means 1200).
const KEEP_ALIVE_MIN: u16 = 30;
const KEEP_ALIVE_MAX: u16 = 1200;

/// A test in progress.
pub(crate) struct Run<'a> {
    pub test: TestId,
    pub listener: &'a TcpListener,
    pub acceptor: &'a SslAcceptor,
    pub device: &'a mut Device,
    /// How long one attempt's handshake, or its CONNECT after the handshake, may take; also
    /// how long a withheld CONNACK is waited out before the endpoint closes the connection.
    pub step_timeout: Duration,
    /// The subscription whose SUBACK is withheld, across the test's connections.
    pub subscribe: Option<super::suback::Withheld>,
    /// The backoff test's attempts.
    pub backoff: super::backoff::Attempts,
    /// The cipher-suite test's verdict on the ClientHello, until the attempt ends.
    pub ciphers: Option<Judged>,
    /// The persistent-session test's session, across its connections.
    pub session: super::session::Stored,
}

/// What a test found, before it is timed.
pub(crate) struct Judged {
    pub outcome: Outcome,
    pub device_did: String,
    pub fix: Option<String>,
}

impl Judged {
    /// The verdict when the test's timeout passed: no attempt came, or (`last`) the last thing
    /// the device did left the test undecided.
    pub fn timed_out(test: TestId, timeout: Duration, last: Option<String>) -> Judged {
        let secs = timeout.as_secs();
        let Some(last) = last else {
            return Judged {
                outcome: Outcome::Fail,
                device_did: format!("did not connect within {secs} s ({})", test.id()),
                fix: Some(
                    "point the device at this endpoint's address and port (the ready line) and \
                     restart it, or raise --timeout"
                        .to_owned(),
                ),
            };
        };
        let fix = match test {
            TestId::MqttPublishRetryNoPuback => super::puback::FIX,
            TestId::MqttSubscribeRetryNoSuback => super::suback::FIX,
            TestId::MqttConnectExponentialBackoffRetries => super::backoff::FIX,
            TestId::MqttNoAckPingResp => super::keepalive::FIX,
            TestId::MqttPublish => super::pubsub::PUBLISH_FIX,
            TestId::MqttSubscribe => super::pubsub::SUBSCRIBE_FIX,
            TestId::TlsReceiveMaximumSizeFragments => super::pubsub::FRAGMENT_FIX,
            TestId::MqttPersistentSession => super::session::FIX,
            TestId::MqttExpiredPersistentSession => super::session::EXPIRED_FIX,
            TestId::MqttClientPubackQos1 => super::pubsub::PUBACK_FIX,
            _ => {
                "see the progress lines above for what the device did; raise --timeout if it \
                  needs longer"
            }
        };
        Judged {
            outcome: Outcome::Fail,
            device_did: format!("did not finish the test within {secs} s (last: {last})"),
            fix: Some(fix.to_owned()),
        }
    }

    /// The verdict, with what AWS expects for the test.
    pub fn into_verdict(self, test: TestId, seconds: f64) -> Verdict {
        Verdict {
            test,
            outcome: self.outcome,
            device_did: self.device_did,
            aws_expects: expects(test).to_owned(),
            fix: self.fix,
            seconds,
        }
    }
}

/// What AWS IoT (Device Advisor) expects in each test.
fn expects(test: TestId) -> &'static str {
    match test {
        TestId::TlsConnect => "the device completes the TLS handshake with AWS IoT's certificate",
        TestId::TlsIncorrectSubjectName => {
            "the device closes the connection when the server certificate's names (CN/SAN) do \
             not match the endpoint it connects to"
        }
        TestId::TlsUnsecureServerCert => {
            "the device closes the connection when the server certificate is not signed by a \
             CA it trusts (Amazon Root CA)"
        }
        TestId::TlsExpiredServerCert => {
            "the device closes the connection when the server certificate has expired"
        }
        TestId::MqttConnect => {
            "the device sends a valid CONNECT that its policy allows (iot:Connect on its client \
             id), with a keep-alive of 30 to 1200 s"
        }
        TestId::MqttPublishRetryNoPuback => {
            "when no PUBACK comes for a QoS 1 PUBLISH, the device re-sends it on the same \
             connection with the DUP flag and the same packet id"
        }
        TestId::MqttSubscribeRetryNoSuback => {
            "when no SUBACK comes for a SUBSCRIBE, the device retries the subscription with the \
             same packet id"
        }
        TestId::MqttConnectExponentialBackoffRetries => {
            "when no CONNACK comes, the device reconnects at least five times with delays that \
             grow exponentially and carry random jitter (Exponential Backoff And Jitter)"
        }
        TestId::MqttNoAckPingResp => {
            "when PINGRESP (and PUBACK, SUBACK) do not come, the device closes the MQTT \
             connection"
        }
        TestId::TlsSupportCipherSuites => {
            "the ClientHello offers at least one cipher suite AWS IoT recommends (Device \
             Advisor warns when it offers none, or offers suites AWS IoT does not support)"
        }
        TestId::TlsReceiveMaximumSizeFragments => {
            "the device subscribes at QoS 1 and takes (PUBACK) a message that fills a TLS \
             record of the maximum size, 16 KB of plaintext"
        }
        TestId::TlsLargeSizeServerCert => {
            "the device completes the TLS handshake with a server certificate larger than AWS \
             IoT Core's (Device Advisor: 20 % larger), which tests its TLS input buffer"
        }
        TestId::MqttPersistentSession => {
            "the device connects with clean session 0 and subscribes at QoS 1; after the \
             endpoint drops it, it reconnects with clean session 0, does not subscribe again \
             (CONNACK says session present 1) and acknowledges the QoS 1 message kept for it"
        }
        TestId::MqttPublish => {
            "after CONNACK the device publishes (QoS 0 or 1) to a topic its policy allows"
        }
        TestId::MqttSubscribe => {
            "after CONNACK the device subscribes to a filter its policy allows and takes the \
             messages sent to it (PUBACK for QoS 1)"
        }
        TestId::MqttExpiredPersistentSession => {
            "the device connects with clean session 0 and subscribes; after the endpoint drops \
             it, it reconnects with clean session 0 and, as CONNACK says session present 0 (the \
             session expired), subscribes again"
        }
        TestId::MqttClientPubackQos1 => {
            "the device subscribes at QoS 1 and returns a PUBACK for the QoS 1 message sent to \
             it"
        }
        TestId::ShadowPublishReportedState => {
            "after it connects the device publishes its state as state.reported to its thing's \
             classic shadow ($aws/things/THING/shadow/update) and the Device Shadow service \
             accepts it"
        }
        TestId::ShadowUpdateReportedState => {
            "the device reads the shadow updates it receives (delta, or documents) and \
             publishes its reported state matching the desired state Device Advisor wrote \
             (clientToken DeviceAdvisorShadowTestCaseSetup)"
        }
        TestId::JobExecution => {
            "the device receives the job (notify-next, $aws/things/THING/jobs/JOB/get or \
             $next), sets its execution IN_PROGRESS and then SUCCEEDED through \
             $aws/things/THING/jobs/JOB/update"
        }
    }
}

/// How one handshake ended.
enum Handshake {
    /// The device completed it.
    Completed(Box<SslStream<TcpStream>>),
    /// The device sent this alert, or closed the connection (None) before its Finished.
    Refused(Option<Alert>),
    /// The device sent neither its Finished nor an alert within the step timeout.
    Stalled,
    /// The handshake failed on the endpoint's side (the message says why).
    Failed(String),
    /// The connection closed without any TLS record, or sent something else.
    NoHello(String),
}

impl Run<'_> {
    /// Accepts attempts until one decides the test.
    pub async fn judge(mut self, progress: &mut impl FnMut(String)) -> Judged {
        loop {
            let accepted = self.listener.accept().await;
            let accepted_at = Instant::now();
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    progress(format!("accept failed: {e}"));
                    continue;
                }
            };
            if self.test == TestId::TlsSupportCipherSuites {
                let hello = super::ciphers::peek_hello(&tcp, self.step_timeout).await;
                self.ciphers = hello.map(|hello| super::ciphers::judge(&hello));
            }
            let handshake = handshake(self.acceptor, tcp, self.step_timeout).await;
            // The cipher-suite test is decided by the ClientHello, however the handshake ends.
            if !matches!(handshake, Handshake::NoHello(_) | Handshake::Completed(_))
                && let Some(judged) = self.ciphers.take()
            {
                return judged;
            }
            match handshake {
                Handshake::NoHello(why) => progress(format!("{peer}: {why}; still waiting")),
                Handshake::Refused(alert) => {
                    return refused(
                        self.test,
                        alert.map_or_else(
                            || "closed the connection without an alert".to_owned(),
                            |alert| format!("sent TLS alert {alert}"),
                        ),
                    );
                }
                Handshake::Stalled => {
                    return refused(
                        self.test,
                        format!(
                            "sent neither its Finished nor an alert within {} s (TLS libraries that \
                     delay their alert, as s2n does, look like this)",
                            self.step_timeout.as_secs()
                        ),
                    );
                }
                Handshake::Failed(why) => return failed(self.test, &why),
                Handshake::Completed(stream) => {
                    let leaf = stream
                        .ssl()
                        .peer_certificate()
                        .and_then(|c| c.to_der().ok());
                    if leaf.as_deref() != Some(self.device.der.as_slice()) {
                        progress(format!(
                            "{peer}: a connection with another certificate than the device \
                             under test was closed; still waiting"
                        ));
                        continue;
                    }
                    let completed = self.completed(*stream, peer, accepted_at, progress);
                    if let Some(judged) = completed.await {
                        return judged;
                    }
                }
            }
        }
    }

    /// The device completed the handshake with the certificate under test. None: the
    /// connection ended without deciding the test (a reconnect starts it over).
    async fn completed(
        &mut self,
        mut stream: SslStream<TcpStream>,
        peer: SocketAddr,
        accepted_at: Instant,
        progress: &mut impl FnMut(String),
    ) -> Option<Judged> {
        let version = stream.ssl().version_str().to_owned();
        let cipher = stream
            .ssl()
            .current_cipher()
            .map_or("?", |c| c.name())
            .to_owned();
        if let Some(judged) = accepted_bad_certificate(self.test, &version) {
            return Some(judged);
        }
        let read = read_connect(&mut stream, self.step_timeout).await;
        let (connect, rest) = match read {
            Ok((connect, rest)) => (Ok(connect), rest),
            Err(why) => (Err(why), BytesMut::new()),
        };
        let decision = connect.as_ref().ok().map(|connect| {
            self.device.authorizer.authorize(
                &self.device.principal(peer),
                connect.client_id.as_str(),
                Action::Connect,
            )
        });
        let judged = match (&connect, self.test) {
            (_, TestId::TlsSupportCipherSuites) => self.ciphers.take().unwrap_or_else(|| Judged {
                outcome: Outcome::Fail,
                device_did: "completed the handshake, but its ClientHello could not be read"
                    .to_owned(),
                fix: None,
            }),
            (_, TestId::TlsLargeSizeServerCert) => Judged {
                outcome: Outcome::Pass,
                device_did: format!(
                    "completed the handshake with a server certificate of {} bytes ({version}, \
                     {cipher})",
                    stream
                        .ssl()
                        .certificate()
                        .and_then(|c| c.to_der().ok())
                        .map_or(0, |der| der.len())
                ),
                fix: None,
            },
            (_, TestId::TlsConnect) => Judged {
                outcome: Outcome::Pass,
                device_did: format!("completed the mutual-TLS handshake ({version}, {cipher})"),
                fix: None,
            },
            (Ok(connect), _) => judge_connect(self.device, connect, decision.as_ref()),
            (Err(why), _) => Judged {
                outcome: Outcome::Fail,
                device_did: format!("completed TLS ({version}) but {why}"),
                fix: Some(
                    "send CONNECT as soon as the TLS handshake completes (MQTT 3.1.1 §3.1 or \
                     MQTT 5)"
                        .to_owned(),
                ),
            },
        };
        let Ok(connect) = connect else {
            return Some(judged);
        };
        let allowed = matches!(decision, Some(Decision::Allow));
        let withholds = matches!(
            self.test,
            TestId::MqttConnectExponentialBackoffRetries
                | TestId::MqttPublishRetryNoPuback
                | TestId::MqttSubscribeRetryNoSuback
                | TestId::MqttNoAckPingResp
                | TestId::MqttPublish
                | TestId::MqttSubscribe
                | TestId::TlsReceiveMaximumSizeFragments
                | TestId::MqttPersistentSession
                | TestId::MqttExpiredPersistentSession
                | TestId::MqttClientPubackQos1
        );
        if withholds && judged.outcome != Outcome::Fail {
            return self
                .withhold(stream, &connect, (rest, peer), accepted_at, progress)
                .await;
        }
        if send_connack(&mut stream, &connect, allowed).await && allowed {
            linger(&mut stream).await;
        }
        Some(judged)
    }
}

impl Run<'_> {
    /// The tests that withhold a packet after an accepted CONNECT: the backoff test withholds
    /// CONNACK, the others send it and hand the connection to their module. None: the
    /// connection ended without deciding the test.
    async fn withhold(
        &mut self,
        mut stream: SslStream<TcpStream>,
        connect: &Connect,
        (rest, peer): (BytesMut, SocketAddr),
        accepted_at: Instant,
        progress: &mut impl FnMut(String),
    ) -> Option<Judged> {
        if self.test == TestId::MqttConnectExponentialBackoffRetries {
            return self.backoff(stream, connect, accepted_at, progress).await;
        }
        if matches!(
            self.test,
            TestId::MqttPersistentSession | TestId::MqttExpiredPersistentSession
        ) {
            let expire = self.test == TestId::MqttExpiredPersistentSession;
            let stored = &mut self.session;
            return super::session::run(stored, &mut stream, (connect, expire), rest, progress)
                .await;
        }
        if !send_connack(&mut stream, connect, true).await {
            progress("the connection broke before CONNACK; still waiting".to_owned());
            return None;
        }
        let protocol = connect.protocol;
        match self.test {
            TestId::MqttPublish
            | TestId::MqttSubscribe
            | TestId::MqttClientPubackQos1
            | TestId::TlsReceiveMaximumSizeFragments => {
                let peer = super::pubsub::Peer {
                    device: self.device,
                    addr: peer,
                    client_id: connect.client_id.as_str(),
                };
                super::pubsub::run(self.test, &mut stream, protocol, rest, peer, progress).await
            }
            TestId::MqttNoAckPingResp => {
                let keep_alive = connect.keep_alive;
                super::keepalive::withhold(&mut stream, protocol, keep_alive, rest, progress).await
            }
            TestId::MqttSubscribeRetryNoSuback => {
                let pending = &mut self.subscribe;
                super::suback::withhold(&mut stream, protocol, rest, pending, progress).await
            }
            _ => super::puback::withhold(&mut stream, protocol, rest, progress).await,
        }
    }

    /// One attempt of the backoff test: the first five CONNECTs get no CONNACK (the device
    /// closes, or the endpoint does after the step timeout), the sixth gets one and the delays
    /// are judged.
    async fn backoff(
        &mut self,
        mut stream: SslStream<TcpStream>,
        connect: &Connect,
        accepted_at: Instant,
        progress: &mut impl FnMut(String),
    ) -> Option<Judged> {
        if !self.backoff.connect(accepted_at) {
            if send_connack(&mut stream, connect, true).await {
                linger(&mut stream).await;
            }
            return Some(self.backoff.judge());
        }
        let after = self.backoff.last_delay().map_or_else(String::new, |d| {
            format!(" {d:.2} s after the previous one ended")
        });
        progress(format!(
            "CONNECT {} of {}{after}: CONNACK withheld",
            self.backoff.connects,
            super::backoff::WITHHELD
        ));
        let mut sink = [0u8; 4096];
        let drain = async {
            while let Ok(n) = stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(self.step_timeout, drain).await;
        drop(stream);
        self.backoff.ended();
        None
    }
}

/// The negative TLS tests' verdict once the device completed the handshake: it accepted the
/// certificate it should have refused. None for the other tests.
fn accepted_bad_certificate(test: TestId, version: &str) -> Option<Judged> {
    let accepted = |what: &str, fix: &str| {
        Some(Judged {
            outcome: Outcome::Fail,
            device_did: format!("accepted {what} and completed the handshake ({version})"),
            fix: Some(fix.to_owned()),
        })
    };
    match test {
        TestId::TlsIncorrectSubjectName => accepted(
            &format!(
                "a server certificate for the wrong host name {}",
                super::certs::WRONG_NAME
            ),
            "enable host name verification against the endpoint name: \
                 mbedtls_ssl_set_hostname (mbedTLS), br_ssl_client_reset with the host name \
                 (BearSSL), esp-tls without skip_cert_common_name_check, mosquitto without \
                 --insecure",
        ),
        TestId::TlsUnsecureServerCert => accepted(
            "a server certificate signed by a CA it was not given",
            "verify the server chain against the root CA (Amazon Root CA 1 for AWS): \
                 MBEDTLS_SSL_VERIFY_REQUIRED with mbedtls_ssl_conf_ca_chain (mbedTLS), \
                 WiFiClientSecure::setCACert instead of setInsecure (Arduino), a trust anchor \
                 list with br_x509_minimal (BearSSL)",
        ),
        TestId::TlsExpiredServerCert => accepted(
            "an expired server certificate",
            "set the clock (SNTP) before connecting and let the TLS library check \
                 validity dates: MBEDTLS_HAVE_TIME_DATE (mbedTLS), br_x509_minimal_set_time \
                 (BearSSL), WiFiClientSecure after configTime (Arduino)",
        ),
        TestId::TlsConnect
        | TestId::TlsSupportCipherSuites
        | TestId::TlsReceiveMaximumSizeFragments
        | TestId::TlsLargeSizeServerCert
        | TestId::MqttConnect
        | TestId::MqttPublish
        | TestId::MqttSubscribe
        | TestId::MqttPersistentSession
        | TestId::MqttPublishRetryNoPuback
        | TestId::MqttSubscribeRetryNoSuback
        | TestId::MqttConnectExponentialBackoffRetries
        | TestId::MqttNoAckPingResp
        | TestId::MqttExpiredPersistentSession
        | TestId::MqttClientPubackQos1
        | TestId::ShadowPublishReportedState
        | TestId::ShadowUpdateReportedState
        | TestId::JobExecution => None,
    }
}

/// Accepts one TLS handshake, within `timeout`.
async fn handshake(acceptor: &SslAcceptor, tcp: TcpStream, timeout: Duration) -> Handshake {
    let mut first = [0u8; 1];
    match tokio::time::timeout(timeout, tcp.peek(&mut first)).await {
        Ok(Ok(0)) => return Handshake::NoHello("closed without sending anything".to_owned()),
        Ok(Ok(_)) if first[0] != 0x16 => {
            return Handshake::NoHello(format!(
                "sent byte {:#04x}, not a TLS handshake record (plain MQTT on a TLS port?)",
                first[0]
            ));
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Handshake::NoHello(format!("read failed: {e}")),
        Err(_) => {
            let secs = timeout.as_secs();
            return Handshake::NoHello(format!("sent nothing for {secs} s"));
        }
    }
    let stream = Ssl::new(acceptor.context()).and_then(|ssl| SslStream::new(ssl, tcp));
    let mut stream = match stream {
        Ok(stream) => stream,
        Err(e) => return Handshake::Failed(format!("OpenSSL could not start a session: {e}")),
    };
    match tokio::time::timeout(timeout, Pin::new(&mut stream).accept()).await {
        Err(_) => Handshake::Stalled,
        Ok(Ok(())) => Handshake::Completed(Box::new(stream)),
        Ok(Err(e)) => classify(&e),
    }
}

/// A failed handshake: the device's alert, the device's silence, or the endpoint's refusal.
fn classify(error: &ssl::Error) -> Handshake {
    let stack = error
        .ssl_error()
        .map(|s| s.errors().to_vec())
        .unwrap_or_default();
    let alert = stack.iter().find_map(|e| {
        let code = e.reason_code().checked_sub(ALERT_REASON_OFFSET)?;
        (e.library_code() == ERR_LIB_SSL)
            .then(|| u8::try_from(code).ok().map(Alert))
            .flatten()
    });
    if alert.is_some() {
        return Handshake::Refused(alert);
    }
    let reasons: Vec<&str> = stack.iter().filter_map(|e| e.reason()).collect();
    let eof = reasons.iter().any(|r| r.contains("unexpected eof"))
        || (reasons.is_empty()
            && matches!(
                error.code(),
                ssl::ErrorCode::SYSCALL | ssl::ErrorCode::ZERO_RETURN
            ));
    if eof {
        Handshake::Refused(None)
    } else if reasons.is_empty() {
        Handshake::Failed(error.to_string())
    } else {
        Handshake::Failed(reasons.join("; "))
    }
}

fn refused(test: TestId, how: String) -> Judged {
    match test {
        TestId::TlsLargeSizeServerCert => Judged {
            outcome: Outcome::Fail,
            device_did: format!(
                "refused a server certificate of {} KB or more from the trusted CA for the right \
                 names: {how}",
                super::certs::LARGE_CERT_BYTES / 1024
            ),
            fix: Some(LARGE_FIX.to_owned()),
        },
        TestId::TlsConnect
        | TestId::TlsReceiveMaximumSizeFragments
        | TestId::MqttPublish
        | TestId::MqttSubscribe
        | TestId::MqttPersistentSession
        | TestId::MqttConnect
        | TestId::MqttPublishRetryNoPuback
        | TestId::MqttSubscribeRetryNoSuback
        | TestId::MqttConnectExponentialBackoffRetries
        | TestId::MqttNoAckPingResp => Judged {
            outcome: Outcome::Fail,
            device_did: format!("refused the endpoint's real server certificate: {how}"),
            fix: Some(
                "give the device the root CA this endpoint's certificate chains to (the ready \
                 line's root CA; Amazon Root CA 1 for AWS) and connect by a name the \
                 certificate covers (serve --hostname adds one)"
                    .to_owned(),
            ),
        },
        _ => Judged {
            outcome: Outcome::Pass,
            device_did: format!("refused the certificate during the handshake: {how}"),
            fix: None,
        },
    }
}

/// What to change when a large certificate chain does not fit.
const LARGE_FIX: &str = "give the TLS library an input buffer that holds a full 16 KB record \
    and a certificate chain of several KB: MBEDTLS_SSL_IN_CONTENT_LEN 16384 (mbedTLS, ESP-IDF's \
    CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN), a 16 KB input buffer for br_ssl_engine_set_buffer \
    (BearSSL), WiFiClientSecure::setBufferSizes(16384, 512) (Arduino ESP8266)";

fn failed(test: TestId, why: &str) -> Judged {
    let hint = if why.contains("certificate") {
        "the device sent no client certificate: configure its certificate and private key"
    } else if why.contains("cipher") || why.contains("version") {
        "the device offers no TLS version or cipher suite AWS IoT's policy allows: tether doctor \
         probe shows what a device stack can negotiate"
    } else {
        "fix the handshake first: tether doctor explains device logs and probes"
    };
    Judged {
        outcome: Outcome::Fail,
        device_did: format!(
            "could not complete a handshake the endpoint accepts ({why}), so {} could not be \
             checked",
            test.id()
        ),
        fix: Some(hint.to_owned()),
    }
}

/// Reads the CONNECT that should follow the handshake.
/// Reads the CONNECT that should follow the handshake; returns it with the bytes read after it.
async fn read_connect(
    stream: &mut SslStream<TcpStream>,
    timeout: Duration,
) -> Result<(Connect, BytesMut), String> {
    let mut decoder = Decoder::new(Protocol::V311, MAX_PACKET_SIZE);
    let mut buf = BytesMut::with_capacity(1024);
    let read = async {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Packet::Connect(connect))) => return Ok((*connect, buf.split())),
                Ok(Some(other)) => {
                    return Err(format!(
                        "sent {:?} first instead of CONNECT [MQTT-3.1.0-1]",
                        other.packet_type()
                    ));
                }
                Ok(None) => {}
                Err(e) => return Err(format!("sent a CONNECT that does not decode: {e}")),
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) => return Err("closed the connection without sending CONNECT".to_owned()),
                Ok(_) => {}
                Err(e) => return Err(format!("broke the connection before CONNECT ({e})")),
            }
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| Err(format!("sent no CONNECT within {} s", timeout.as_secs())))
}

/// Judges a CONNECT as AWS IoT Core takes it.
fn judge_connect(device: &Device, connect: &Connect, decision: Option<&Decision>) -> Judged {
    let client_id = connect.client_id.as_str();
    let version = match connect.protocol {
        Protocol::V5 => "MQTT 5",
        _ => "MQTT 3.1.1",
    };
    let did = format!(
        "sent CONNECT ({version}, client id {client_id:?}, keep-alive {} s, clean session {})",
        connect.keep_alive, connect.clean_start
    );
    if let Some(Decision::Deny(denial)) = decision {
        let fix = match device.things.first() {
            Some(thing) if !device.things.iter().any(|t| t == client_id) => format!(
                "connect with the thing name as the client id ({thing}): the attached policy \
                 allows iot:Connect only for its own names ({denial})"
            ),
            _ => format!(
                "allow iot:Connect on {} in a policy attached to the certificate ({denial})",
                Action::Connect.resource(client_id)
            ),
        };
        return Judged {
            outcome: Outcome::Fail,
            device_did: format!("{did}, which its policy does not allow"),
            fix: Some(fix),
        };
    }
    let mut warnings = Vec::new();
    if connect.keep_alive == 0 || connect.keep_alive > KEEP_ALIVE_MAX {
        warnings.push(format!(
            "keep-alive {} s is outside 30–1200 s: AWS IoT uses 1200 s, so a dead connection \
             is noticed only after 30 minutes; set 30 to 1200 s",
            connect.keep_alive
        ));
    } else if connect.keep_alive < KEEP_ALIVE_MIN {
        warnings.push(format!(
            "keep-alive {} s is below AWS IoT's 30 s minimum: AWS uses 30 s, so pings sent \
             more often are wasted; set 30 to 1200 s",
            connect.keep_alive
        ));
    }
    if !device.things.is_empty() && !device.things.iter().any(|t| t == client_id) {
        warnings.push(format!(
            "the client id is not the name of the attached thing ({}): \
             iot:Connection.Thing.* policy variables and thing-based features do not resolve; \
             use the thing name as the client id",
            device.things.join(", ")
        ));
    }
    Judged {
        outcome: if warnings.is_empty() {
            Outcome::Pass
        } else {
            Outcome::PassWithWarnings
        },
        device_did: did,
        fix: (!warnings.is_empty()).then(|| warnings.join("; ")),
    }
}

/// Answers the CONNECT as AWS IoT would; false when the connection broke.
async fn send_connack(stream: &mut SslStream<TcpStream>, connect: &Connect, allowed: bool) -> bool {
    let reason = if allowed {
        ReasonCode::Success
    } else {
        ReasonCode::NotAuthorized
    };
    let connack = Packet::ConnAck(ConnAck {
        session_present: false,
        reason,
        properties: Default::default(),
    });
    let mut out = BytesMut::new();
    connack.encode(connect.protocol, &mut out).is_ok() && stream.write_all(&out).await.is_ok()
}

/// Waits briefly for the device to finish (its DISCONNECT, or its close).
async fn linger(stream: &mut SslStream<TcpStream>) {
    let mut sink = [0u8; 4096];
    let drain = async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}
