//! `tether qualify`: a local counterpart of AWS IoT Device Advisor's qualification tests. One
//! endpoint, on a listener the caller binds, runs the selected tests in turn against the device
//! that connects with the certificate under test, serving per test the server certificate the
//! test needs (certs.rs), judging each connection attempt from the server's side (attempt.rs)
//! and reporting verdicts as they come (`on_event`); report.rs writes JUnit XML, JSON and text.
//! It uses the data directory of `tether serve` (its CA, server certificates and registry) and
//! holds its lock while it runs, except during the shadow and jobs tests (shadow.rs, jobs.rs),
//! which run on the real broker and services that broker.rs starts on the same listener and
//! observes through a fault plan's observer (`crate::faults`). The TLS and MQTT tests are
//! answered by the endpoint itself, which withholds only what its tests need: the
//! PUBACK of puback.rs, the SUBACK of suback.rs and the CONNACKs of backoff.rs and every answer
//! in keepalive.rs. ciphers.rs judges the ClientHello, pubsub.rs the publish, subscribe and
//! full-record tests, session.rs the persistent session — see docs/qualification.md.

mod attempt;
mod backoff;
mod broker;
pub(crate) mod certs;
mod ciphers;
mod jobs;
mod keepalive;
mod puback;
mod pubsub;
mod report;
mod session;
mod shadow;
mod suback;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::auth::{Principal, ServerAuthorizer};
use crate::bootstrap;
use crate::clock::Clock;
use crate::config::ServerError;

pub use report::{json_report, junit_xml, text_summary};

/// A Device Advisor test this endpoint can run, named by Device Advisor's test id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TestId {
    /// `TLS_Connect`: the device completes the mutual-TLS handshake with the real server
    /// certificate (Device Advisor does not check MQTT here; the endpoint still answers its
    /// CONNECT so the device does not back off before the next test).
    TlsConnect,
    /// `TLS_Incorrect_Subject_Name_Server_Cert`: a certificate from the trusted CA for another
    /// host name; the device must close the connection.
    TlsIncorrectSubjectName,
    /// `TLS_Unsecure_Server_Cert`: a certificate signed by a CA the device does not trust; the
    /// device must close the connection.
    TlsUnsecureServerCert,
    /// `TLS_Expired_Server_Cert`: an expired certificate from the trusted CA; the device must
    /// refuse it.
    TlsExpiredServerCert,
    /// `TLS_Support_AWS_IoT_Cipher_Suites`: the device's ClientHello offers a suite AWS IoT
    /// recommends, judged against every AWS IoT TLS security policy (ciphers.rs).
    TlsSupportCipherSuites,
    /// `TLS_Receive_Maximum_Size_Fragments`: after a QoS 1 subscription the endpoint sends a
    /// PUBLISH that fills one 16 KB TLS record; the device must acknowledge it.
    TlsReceiveMaximumSizeFragments,
    /// `TLS_Large_Size_Server_Cert`: a server certificate of 8 KB or more (right names, trusted
    /// CA); the device must complete the handshake.
    TlsLargeSizeServerCert,
    /// `MQTT_Connect`: the device sends a CONNECT that AWS IoT Core would accept.
    MqttConnect,
    /// `MQTT_Publish`: the device publishes at QoS 0 or 1 to a topic its policy allows.
    MqttPublish,
    /// `MQTT_Subscribe`: the device subscribes to a filter its policy allows and acknowledges
    /// the QoS 1 message the endpoint sends it.
    MqttSubscribe,
    /// `MQTT_Persistent_Session_Happy_Case`: the device subscribes with clean session 0, the
    /// endpoint drops it and keeps a QoS 1 message; on the reconnect (session present 1) the
    /// device must take it without subscribing again (session.rs).
    MqttPersistentSession,
    /// `MQTT_Expired_Persistent_Session`: as the happy case, but on the reconnect CONNACK says
    /// session present 0 (the session expired); the device must subscribe again (session.rs).
    MqttExpiredPersistentSession,
    /// `MQTT_Client_Puback_Qos1`: after the device's QoS 1 SUBSCRIBE the endpoint sends a QoS 1
    /// PUBLISH on a topic the filter matches; the device must acknowledge it (pubsub.rs).
    MqttClientPubackQos1,
    /// `MQTT_Publish_Retry_No_Puback`: the PUBACK of the device's first QoS 1 PUBLISH is
    /// withheld; the device must re-send it with DUP and the same packet id without
    /// disconnecting (a reconnect starts the test over, as in Device Advisor).
    MqttPublishRetryNoPuback,
    /// `MQTT_Subscribe_Retry_No_Suback`: the SUBACK of the device's first SUBSCRIBE is
    /// withheld; the device must retry the subscription with the same packet id.
    MqttSubscribeRetryNoSuback,
    /// `MQTT_Connect_Exponential_Backoff_Retries`: CONNACK is withheld from five CONNECTs; the
    /// delays between the device's attempts must grow exponentially, with jitter.
    MqttConnectExponentialBackoffRetries,
    /// `MQTT_No_Ack_PingResp`: no PINGRESP (nor PUBACK or SUBACK) comes; the device must close
    /// the connection.
    MqttNoAckPingResp,
    /// `Shadow_Publish_Reported_State`: the device reports its state to its thing's classic
    /// shadow and the service takes it (run on the real broker, shadow.rs).
    ShadowPublishReportedState,
    /// `Shadow_Update_Reported_State`: the endpoint writes a desired state (client token
    /// `DeviceAdvisorShadowTestCaseSetup`); the device must report the desired values back.
    ShadowUpdateReportedState,
    /// `Job_Execution`: the endpoint creates a job for the device's thing; the device must run
    /// it to SUCCEEDED through IN_PROGRESS (run on the real broker, jobs.rs).
    JobExecution,
}

impl TestId {
    /// Every test, in the order they run.
    pub const ALL: [TestId; 20] = [
        TestId::TlsConnect,
        TestId::TlsIncorrectSubjectName,
        TestId::TlsUnsecureServerCert,
        TestId::TlsExpiredServerCert,
        TestId::TlsSupportCipherSuites,
        TestId::TlsReceiveMaximumSizeFragments,
        TestId::TlsLargeSizeServerCert,
        TestId::MqttConnect,
        TestId::MqttPublish,
        TestId::MqttSubscribe,
        TestId::MqttPersistentSession,
        TestId::MqttExpiredPersistentSession,
        TestId::MqttClientPubackQos1,
        TestId::MqttPublishRetryNoPuback,
        TestId::MqttSubscribeRetryNoSuback,
        TestId::MqttConnectExponentialBackoffRetries,
        TestId::MqttNoAckPingResp,
        TestId::ShadowPublishReportedState,
        TestId::ShadowUpdateReportedState,
        TestId::JobExecution,
    ];

    /// Whether the test runs on the real broker and services (broker.rs) rather than on the
    /// qualification endpoint's own answers.
    pub fn on_broker(self) -> bool {
        matches!(
            self,
            TestId::ShadowPublishReportedState
                | TestId::ShadowUpdateReportedState
                | TestId::JobExecution
        )
    }

    /// Device Advisor's id. The expired-certificate test's id is not in the pages read
    /// (aws-iot-services.md §4); `TLS_Expired_Server_Cert` follows the pattern of its siblings.
    pub fn id(self) -> &'static str {
        match self {
            TestId::TlsConnect => "TLS_Connect",
            TestId::TlsIncorrectSubjectName => "TLS_Incorrect_Subject_Name_Server_Cert",
            TestId::TlsUnsecureServerCert => "TLS_Unsecure_Server_Cert",
            TestId::TlsExpiredServerCert => "TLS_Expired_Server_Cert",
            TestId::TlsSupportCipherSuites => "TLS_Support_AWS_IoT_Cipher_Suites",
            TestId::TlsReceiveMaximumSizeFragments => "TLS_Receive_Maximum_Size_Fragments",
            TestId::TlsLargeSizeServerCert => "TLS_Large_Size_Server_Cert",
            TestId::MqttConnect => "MQTT_Connect",
            TestId::MqttPublish => "MQTT_Publish",
            TestId::MqttSubscribe => "MQTT_Subscribe",
            TestId::MqttPersistentSession => "MQTT_Persistent_Session_Happy_Case",
            TestId::MqttExpiredPersistentSession => "MQTT_Expired_Persistent_Session",
            TestId::MqttClientPubackQos1 => "MQTT_Client_Puback_Qos1",
            TestId::MqttPublishRetryNoPuback => "MQTT_Publish_Retry_No_Puback",
            TestId::MqttSubscribeRetryNoSuback => "MQTT_Subscribe_Retry_No_Suback",
            TestId::MqttConnectExponentialBackoffRetries => {
                "MQTT_Connect_Exponential_Backoff_Retries"
            }
            TestId::MqttNoAckPingResp => "MQTT_No_Ack_PingResp",
            TestId::ShadowPublishReportedState => "Shadow_Publish_Reported_State",
            TestId::ShadowUpdateReportedState => "Shadow_Update_Reported_State",
            TestId::JobExecution => "Job_Execution",
        }
    }

    /// One line on what the test checks.
    pub fn summary(self) -> &'static str {
        match self {
            TestId::TlsConnect => "the device completes the mutual-TLS handshake",
            TestId::TlsIncorrectSubjectName => {
                "the device refuses a server certificate issued for another host name"
            }
            TestId::TlsUnsecureServerCert => {
                "the device refuses a server certificate signed by a CA it does not trust"
            }
            TestId::TlsExpiredServerCert => "the device refuses an expired server certificate",
            TestId::TlsSupportCipherSuites => {
                "the device's ClientHello offers a cipher suite AWS IoT recommends"
            }
            TestId::TlsReceiveMaximumSizeFragments => {
                "the device takes a message that fills a 16 KB TLS record"
            }
            TestId::TlsLargeSizeServerCert => {
                "the device completes the handshake with an 8 KB server certificate"
            }
            TestId::MqttConnect => "the device sends a CONNECT that AWS IoT Core accepts",
            TestId::MqttPublish => "the device publishes at QoS 0 or 1 to a topic it may use",
            TestId::MqttSubscribe => {
                "the device subscribes and acknowledges a QoS 1 message sent to it"
            }
            TestId::MqttPersistentSession => {
                "the device resumes its session and takes the message kept for it"
            }
            TestId::MqttExpiredPersistentSession => {
                "the device subscribes again when CONNACK says its session is gone"
            }
            TestId::MqttClientPubackQos1 => {
                "the device acknowledges (PUBACK) a QoS 1 message sent to it"
            }
            TestId::MqttPublishRetryNoPuback => {
                "the device re-sends a QoS 1 PUBLISH whose PUBACK is withheld, with DUP"
            }
            TestId::MqttSubscribeRetryNoSuback => {
                "the device retries a SUBSCRIBE whose SUBACK is withheld, with its packet id"
            }
            TestId::MqttConnectExponentialBackoffRetries => {
                "the device backs off exponentially, with jitter, when CONNACK does not come"
            }
            TestId::MqttNoAckPingResp => {
                "the device closes the connection when its PINGREQ gets no PINGRESP"
            }
            TestId::ShadowPublishReportedState => {
                "the device reports its state to its thing's shadow and the shadow takes it"
            }
            TestId::ShadowUpdateReportedState => {
                "the device reports back a desired state written to its thing's shadow"
            }
            TestId::JobExecution => "the device runs a job to SUCCEEDED through IN_PROGRESS",
        }
    }

    /// The tests of Device Advisor's current qualification list (aws-iot-services.md §4) that
    /// this endpoint runs: `--suite aws-qualification`. The list's "MQTT Connect Jitter
    /// Retries" is run as `MQTT_Connect_Exponential_Backoff_Retries`, which judges jitter too.
    pub const AWS_QUALIFICATION: [TestId; 11] = [
        TestId::TlsConnect,
        TestId::TlsIncorrectSubjectName,
        TestId::TlsUnsecureServerCert,
        TestId::TlsSupportCipherSuites,
        TestId::TlsReceiveMaximumSizeFragments,
        TestId::TlsExpiredServerCert,
        TestId::TlsLargeSizeServerCert,
        TestId::MqttConnect,
        TestId::MqttSubscribe,
        TestId::MqttPublish,
        TestId::MqttConnectExponentialBackoffRetries,
    ];

    /// The tests of a suite: `aws-qualification` or `all`.
    pub fn suite(name: &str) -> Result<Vec<TestId>, QualifyError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "aws-qualification" => Ok(TestId::AWS_QUALIFICATION.to_vec()),
            "all" => Ok(TestId::ALL.to_vec()),
            _ => Err(QualifyError::UnknownSuite(name.to_owned())),
        }
    }

    /// Parses a Device Advisor id, case-insensitively.
    pub fn parse(text: &str) -> Result<TestId, QualifyError> {
        TestId::ALL
            .into_iter()
            .find(|t| t.id().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| QualifyError::UnknownTest(text.to_owned()))
    }
}

/// How a test ended, as Device Advisor grades it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// The device did what AWS expects.
    Pass,
    /// It did, with something AWS tolerates but advises against.
    PassWithWarnings,
    /// It did not.
    Fail,
}

impl Outcome {
    /// `PASS`, `PASS_WITH_WARNINGS` or `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::PassWithWarnings => "PASS_WITH_WARNINGS",
            Outcome::Fail => "FAIL",
        }
    }
}

/// One test's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The test.
    #[serde(serialize_with = "serialize_test")]
    pub test: TestId,
    /// Pass, warn or fail.
    pub outcome: Outcome,
    /// What the device did, in words.
    pub device_did: String,
    /// What AWS IoT expects of it.
    pub aws_expects: String,
    /// What to change, for a failure or warning.
    pub fix: Option<String>,
    /// Seconds from the test's start to its verdict.
    pub seconds: f64,
}

fn serialize_test<S: serde::Serializer>(test: &TestId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(test.id())
}

/// What the endpoint reports while it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// The endpoint accepts connections.
    Ready {
        /// The listening address.
        addr: SocketAddr,
        /// The root CA devices trust (`ca/root-ca.pem`).
        ca_path: &'a Path,
        /// The certificate id of the device under test.
        certificate_id: &'a str,
    },
    /// A test started and waits for the device to connect.
    Waiting(TestId),
    /// Something happened within a test (a connection from another certificate, a retry).
    Progress(TestId, String),
    /// A test ended.
    Verdict(&'a Verdict),
}

/// What a qualification run needs.
#[derive(Debug, Clone)]
pub struct QualifyConfig {
    /// The data directory of `tether serve`.
    pub data_dir: PathBuf,
    /// The device certificate under test (PEM or DER).
    pub device_cert: PathBuf,
    /// Tests to run, in order.
    pub tests: Vec<TestId>,
    /// Extra host names the server certificates cover, as `serve --hostname`.
    pub hostnames: Vec<String>,
    /// How long each test waits for the device, Device Advisor's `EXECUTION_TIMEOUT` (300 s).
    pub test_timeout: Duration,
    /// How long one attempt's handshake, or its CONNECT after the handshake, may take; a
    /// device silent that long in a negative TLS test has not accepted the certificate.
    pub handshake_timeout: Duration,
    /// AWS region in policy ARNs.
    pub region: String,
    /// AWS account in policy ARNs.
    pub account_id: String,
}

impl QualifyConfig {
    /// Every test, Device Advisor's timeout, `serve`'s region and account.
    pub fn new(data_dir: PathBuf, device_cert: PathBuf) -> QualifyConfig {
        QualifyConfig {
            data_dir,
            device_cert,
            tests: TestId::ALL.to_vec(),
            hostnames: Vec::new(),
            test_timeout: Duration::from_secs(300),
            handshake_timeout: Duration::from_secs(10),
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
        }
    }
}

/// Why a qualification run could not start.
#[derive(Debug, thiserror::Error)]
pub enum QualifyError {
    /// The data directory, its lock or its database failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The device certificate could not be read.
    #[error(
        "cannot read the device certificate {path}: {why}; give the device's certificate.pem.crt"
    )]
    DeviceCertificate {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// The device certificate cannot connect to this registry at all.
    #[error(
        "the device certificate {path} cannot connect to tether: {why}. Register it first \
         (tether device create, or aws iot register-certificate --endpoint-url ...)"
    )]
    NotAdmitted {
        /// The file.
        path: PathBuf,
        /// The registry's refusal.
        why: String,
    },
    /// A test id is not one of [`TestId::ALL`].
    #[error("unknown qualification test {0:?}; tether qualify --list prints the test ids")]
    UnknownTest(String),
    /// A suite name is not `aws-qualification` or `all`.
    #[error("unknown qualification suite {0:?}; use --suite aws-qualification or --suite all")]
    UnknownSuite(String),
    /// A certificate for a test could not be made.
    #[error("cannot prepare the {what} server certificate: {why}")]
    Certificate {
        /// Which alternate.
        what: &'static str,
        /// What went wrong.
        why: String,
    },
    /// The listener failed.
    #[error("the qualification listener failed: {0}; pick another address with --port")]
    Listener(std::io::Error),
}

/// The device under test as the registry knows it.
pub(crate) struct Device {
    /// Its certificate's DER, compared with each connection's leaf.
    pub der: Vec<u8>,
    /// Its certificate id.
    pub id: String,
    /// The policy authorizer holding what is attached to it.
    pub authorizer: ServerAuthorizer,
    /// Names of the things attached to it.
    pub things: Vec<String>,
    /// Its certificate's names, for `iot:Certificate.*` variables.
    pub info: iot_policy::CertificateInfo,
    /// When it expires, wall-clock milliseconds.
    pub not_after_ms: i64,
}

impl Device {
    /// The principal of a connection from this device.
    pub fn principal(&self, peer: SocketAddr) -> Principal {
        Principal::new(crate::auth::Identity::Device {
            certificate_id: self.id.clone(),
            peer,
            listener: "qualify",
            certificate: self.info.clone(),
            not_after_ms: self.not_after_ms,
            // The authorizer, the only reader of this principal, does not look at TLS.
            tls: crate::auth::TlsSession::default(),
        })
    }
}

/// Runs the tests of `config` on `listener` (bound by the caller; port 0 works), calling
/// `on_event` with progress and verdicts, and returns the verdicts in order.
pub async fn run(
    config: &QualifyConfig,
    listener: std::net::TcpListener,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Vec<Verdict>, QualifyError> {
    // Given up while a test runs on the real broker, which takes it (broker.rs).
    let mut lock = Some(crate::lock::lock(&config.data_dir).map_err(ServerError::from)?);
    let clock = Clock::start();
    let now = clock.wall_ms() / 1000;
    let data =
        bootstrap::prepare(&config.data_dir, &config.hostnames, now).map_err(ServerError::from)?;
    let mut store = store::Store::open(data.database_path()).map_err(ServerError::from)?;
    bootstrap::register_demo_device(
        &mut store,
        &data,
        &config.region,
        &config.account_id,
        clock.wall_ms(),
    )?;
    let mut device = device(config, &store)?;
    drop(store);
    let certificates = certs::Alternates::new(&data, now)?;
    listener
        .set_nonblocking(true)
        .map_err(QualifyError::Listener)?;
    let addr = listener.local_addr().map_err(QualifyError::Listener)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(QualifyError::Listener)?;
    on_event(Event::Ready {
        addr,
        ca_path: &data.ca_path,
        certificate_id: &device.id,
    });
    let mut verdicts = Vec::new();
    for &test in &config.tests {
        on_event(Event::Waiting(test));
        let started = Instant::now();
        if test.on_broker() {
            drop(lock.take());
            let mut progress = |line: String| on_event(Event::Progress(test, line));
            let thing = device.things.first().map(String::as_str);
            let judged =
                broker::run(config, &listener, (&device.id, thing), test, &mut progress).await;
            lock = Some(crate::lock::lock(&config.data_dir).map_err(ServerError::from)?);
            let verdict = judged?.into_verdict(test, started.elapsed().as_secs_f64());
            on_event(Event::Verdict(&verdict));
            verdicts.push(verdict);
            continue;
        }
        let acceptor = certificates.acceptor(test)?;
        let run = attempt::Run {
            test,
            listener: &listener,
            acceptor: &acceptor,
            device: &mut device,
            step_timeout: config.handshake_timeout,
            subscribe: None,
            backoff: backoff::Attempts::default(),
            ciphers: None,
            session: session::Stored::default(),
        };
        let mut last = None;
        let mut progress = |line: String| {
            on_event(Event::Progress(test, line.clone()));
            last = Some(line);
        };
        let judged = match tokio::time::timeout(config.test_timeout, run.judge(&mut progress)).await
        {
            Ok(judged) => judged,
            Err(_) => attempt::Judged::timed_out(test, config.test_timeout, last.take()),
        };
        let verdict = judged.into_verdict(test, started.elapsed().as_secs_f64());
        on_event(Event::Verdict(&verdict));
        verdicts.push(verdict);
    }
    drop(lock);
    Ok(verdicts)
}

/// Reads the device certificate and what the registry attaches to it.
fn device(config: &QualifyConfig, store: &store::Store) -> Result<Device, QualifyError> {
    let path = &config.device_cert;
    let unreadable = |why: String| QualifyError::DeviceCertificate {
        path: path.clone(),
        why,
    };
    let bytes = pki::read_file(path).map_err(|e| unreadable(e.to_string()))?;
    let loaded = pki::load_certificate(&bytes, &path.display().to_string())
        .map_err(|e| unreadable(e.to_string()))?;
    let certificate = loaded.certificate;
    let id = pki::CertificateId::of(&certificate).map_err(|e| unreadable(e.to_string()))?;
    let der = certificate
        .to_der()
        .map_err(|e| unreadable(e.to_string()))?;
    let summary = pki::summarize(&certificate).map_err(|e| unreadable(e.to_string()))?;
    let policies =
        crate::auth::check_certificate(store, &id).map_err(|e| QualifyError::NotAdmitted {
            path: path.clone(),
            why: e.to_string(),
        })?;
    let things = policies.things.iter().map(|t| t.name.clone()).collect();
    let mut authorizer = ServerAuthorizer::new(false, &config.region, &config.account_id);
    authorizer.set_policies(id.as_str(), std::sync::Arc::new(policies));
    Ok(Device {
        der,
        id: id.as_str().to_owned(),
        authorizer,
        things,
        info: crate::auth::certificate_info(&certificate),
        not_after_ms: summary.not_after.saturating_mul(1000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ids_parse_back_case_insensitively_and_unknown_ids_name_the_list() {
        for test in TestId::ALL {
            assert_eq!(TestId::parse(test.id()).unwrap(), test);
            assert_eq!(TestId::parse(&test.id().to_lowercase()).unwrap(), test);
        }
        assert!(
            TestId::AWS_QUALIFICATION
                .iter()
                .all(|t| TestId::ALL.contains(t))
        );
        assert_eq!(TestId::suite("ALL").unwrap().len(), TestId::ALL.len());
        let err = TestId::suite("dqp").unwrap_err().to_string();
        assert!(
            err.contains("\"dqp\"") && err.contains("aws-qualification"),
            "{err}"
        );
        let err = TestId::parse("TLS_Nope").unwrap_err().to_string();
        assert!(
            err.contains("\"TLS_Nope\"") && err.contains("--list"),
            "{err}"
        );
    }
}
