//! `doctor probe`: connects to an MQTT-over-TLS endpoint the way a device would and reports
//! each step with its timing — DNS, TCP, TLS (version, suite, server chain against the device's
//! CA, SNI, ALPN, client-certificate request, alerts), MQTT CONNECT/CONNACK and an optional
//! subscribe + publish round trip — ending with a verdict: will this device connect, and if not,
//! the smallest change that fixes it. With a device profile it offers what that stack offers,
//! through OpenSSL where OpenSSL can, else by replaying the profile's raw ClientHello. Blocking
//! std IO; it prints nothing (the CLI renders the report).

mod handshake;
mod mqtt;
pub mod raw;
mod verdict;

use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_proto::{MqttStr, ReasonCode, TopicName};
use openssl::x509::X509;
use serde::Serialize;
use tls::context::{ClientOptions, Identity};
use tls::{Alert, DeviceProfile};

use crate::finding::{Finding, Severity};

pub use handshake::{openssl_can_speak, profile_options};
pub use mqtt_proto::Protocol;

/// Everything a probe needs.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// How the CA file is named in findings.
    pub ca_name: String,
    /// The roots the device trusts.
    pub roots: Vec<X509>,
    /// The device certificate (with chain) and key.
    pub identity: Option<Identity>,
    /// MQTT client id.
    pub client_id: String,
    /// The device stack to imitate; `None` offers OpenSSL's defaults.
    pub profile: Option<&'static DeviceProfile>,
    /// Topic for the subscribe + publish round trip.
    pub topic: Option<String>,
    /// MQTT version of CONNECT.
    pub protocol: Protocol,
    /// Limit for each network step.
    pub timeout: Duration,
}

/// One step of the probe.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// `dns`, `tcp`, `tls`, `server-certificate`, `client-certificate`, `mqtt`, `round-trip`.
    pub step: &'static str,
    /// How long the step took, in milliseconds.
    pub elapsed_ms: u64,
    /// What it found.
    #[serde(flatten)]
    pub finding: Finding,
}

/// What the probe found for the device, in a form scripts and tests compare: it connects (TLS,
/// CONNECT and the optional round trip all succeeded), it gets past the ClientHello (a raw
/// replay, which goes no further), or it is refused at a step, with the fatal alert the server
/// sent when one arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Every step succeeded.
    Connects,
    /// The server answered the replayed ClientHello with a ServerHello.
    HelloAccepted,
    /// A step failed.
    Refused {
        /// The first step that failed (`tls`, `mqtt`, ...).
        step: &'static str,
        /// The TLS alert the server sent, when one arrived.
        alert: Option<u8>,
    },
}

/// The whole probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// `HOST:PORT`.
    pub target: String,
    /// The profile imitated, if any.
    pub profile: Option<&'static str>,
    /// `openssl` or `raw-client-hello`.
    pub mode: &'static str,
    /// The steps in order.
    pub steps: Vec<Step>,
    /// Connects, or refused where and with which alert.
    pub outcome: Outcome,
    /// Will the device connect, and what to change if not.
    pub verdict: Finding,
}

impl ProbeReport {
    /// True when no step and not the verdict found anything wrong.
    pub fn is_clean(&self) -> bool {
        self.steps
            .iter()
            .map(|s| &s.finding)
            .chain(std::iter::once(&self.verdict))
            .all(|f| f.severity == Severity::Info)
    }
}

/// The first thing that went wrong, for the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    Network,
    /// The server refused the ClientHello (before its first flight).
    HelloRefused(Option<Alert>),
    /// The handshake failed later (client certificate, or our verification).
    HandshakeFailed(Option<Alert>),
    /// Our OpenSSL could not build the offer.
    Local,
    ServerChain,
    ServerName,
    ClientCertificate(Option<Alert>),
    Mqtt,
    RoundTrip,
}

struct Run<'a> {
    opts: &'a ProbeOptions,
    steps: Vec<Step>,
    problem: Option<(Problem, Finding)>,
    failed_step: Option<&'static str>,
}

impl Run<'_> {
    fn step(&mut self, step: &'static str, started: Instant, finding: Finding) {
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.steps.push(Step {
            step,
            elapsed_ms,
            finding,
        });
    }

    fn fail(&mut self, step: &'static str, started: Instant, problem: Problem, finding: Finding) {
        if self.problem.is_none() {
            self.problem = Some((problem, finding.clone()));
            self.failed_step = Some(step);
        }
        self.step(step, started, finding);
    }
}

/// `tether-doctor-` and 8 random hex digits: unique enough not to take over a device's session.
pub fn default_client_id() -> String {
    let mut tag = [0u8; 4];
    // Without randomness the fixed suffix still works; it only risks a session takeover.
    let _ = openssl::rand::rand_bytes(&mut tag);
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("tether-doctor-{hex}")
}

/// Runs the probe. Never panics on anything the server sends.
pub fn run(opts: &ProbeOptions) -> ProbeReport {
    let raw_mode = opts.profile.is_some_and(|p| !openssl_can_speak(p));
    let mut run = Run {
        opts,
        steps: Vec::new(),
        problem: None,
        failed_step: None,
    };
    let negotiated = probe_steps(&mut run, raw_mode);
    let verdict = verdict::verdict(opts, raw_mode, run.problem.as_ref(), negotiated.as_deref());
    let outcome = match (&run.problem, run.failed_step) {
        (Some((problem, _)), step) => Outcome::Refused {
            step: step.unwrap_or("tls"),
            alert: match problem {
                Problem::HelloRefused(alert)
                | Problem::HandshakeFailed(alert)
                | Problem::ClientCertificate(alert) => alert.map(|a| a.0),
                _ => None,
            },
        },
        (None, _) if raw_mode => Outcome::HelloAccepted,
        (None, _) => Outcome::Connects,
    };
    ProbeReport {
        target: format!("{}:{}", opts.host, opts.port),
        profile: opts.profile.map(|p| p.name),
        mode: if raw_mode {
            "raw-client-hello"
        } else {
            "openssl"
        },
        steps: run.steps,
        outcome,
        verdict,
    }
}

/// Runs the steps; returns what was negotiated (for the verdict) when TLS got that far.
fn probe_steps(run: &mut Run<'_>, raw_mode: bool) -> Option<String> {
    let opts = run.opts;
    let t = Instant::now();
    let addrs: Vec<SocketAddr> = match (opts.host.as_str(), opts.port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            run.fail(
                "dns",
                t,
                Problem::Network,
                Finding::new(
                    Severity::Error,
                    format!("cannot resolve {}: {e}", opts.host),
                    "the device would fail the same way before any TLS (espconn: ESPCONN_RTE / DNS error)",
                    "check the host name (aws iot describe-endpoint --endpoint-type iot:Data-ATS gives the right one) and the network's DNS",
                ),
            );
            return None;
        }
    };
    let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    run.step(
        "dns",
        t,
        Finding::new(
            Severity::Info,
            format!("{} resolves to {}", opts.host, shown.join(", ")),
            "",
            "",
        ),
    );

    let t = Instant::now();
    let mut last_err = None;
    let mut tcp = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, opts.timeout) {
            Ok(s) => {
                tcp = Some((s, *addr));
                break;
            }
            Err(e) => last_err = Some(format!("{addr}: {e}")),
        }
    }
    let Some((tcp, addr)) = tcp else {
        run.fail(
            "tcp",
            t,
            Problem::Network,
            Finding::new(
                Severity::Error,
                format!(
                    "cannot open a TCP connection to port {}: {}",
                    opts.port,
                    last_err.unwrap_or_default()
                ),
                "nothing accepts connections there, or a firewall drops them; no TLS happened",
                "check the port (AWS IoT: 8883, or 443 with ALPN) and that outbound traffic to it is allowed",
            ),
        );
        return None;
    };
    let _ = tcp.set_read_timeout(Some(opts.timeout));
    let _ = tcp.set_write_timeout(Some(opts.timeout));
    let _ = tcp.set_nodelay(true);
    run.step(
        "tcp",
        t,
        Finding::new(Severity::Info, format!("connected to {addr}"), "", ""),
    );

    let sends_sni = opts.profile.is_none_or(|p| p.sends_sni);
    let is_ip = opts.host.parse::<IpAddr>().is_ok();
    let server_name = (sends_sni && !is_ip).then(|| opts.host.clone());
    let sni_text = match (&server_name, sends_sni) {
        (Some(name), _) => format!("SNI {name}"),
        (None, true) => "no SNI (the host is an IP address)".to_owned(),
        (None, false) => "no SNI (this stack never sends it)".to_owned(),
    };
    let offers_alpn = opts.profile.is_none_or(|p| p.alpn);
    let alpn: Vec<String> = if opts.port == 443 && offers_alpn {
        vec!["x-amzn-mqtt-ca".to_owned()]
    } else {
        Vec::new()
    };
    let alpn_text = if alpn.is_empty() {
        "no ALPN".to_owned()
    } else {
        format!("ALPN {}", alpn.join(","))
    };

    if raw_mode {
        let profile = opts.profile?;
        return raw_tls(run, tcp, profile, server_name, alpn, &sni_text);
    }

    let t = Instant::now();
    let options = opts
        .profile
        .map_or_else(ClientOptions::default, profile_options);
    let established = match handshake::openssl_handshake(
        tcp,
        options,
        opts.identity.clone(),
        server_name,
        alpn,
    ) {
        Ok(e) => e,
        Err(failed) => {
            let problem = if failed.local {
                Problem::Local
            } else {
                let alert = match failed.failure {
                    mqtt::Failure::Alert(a) => Some(a),
                    _ => None,
                };
                if failed.before_server_hello {
                    Problem::HelloRefused(alert)
                } else {
                    Problem::HandshakeFailed(alert)
                }
            };
            let finding = tls_failure_finding(&failed, &sni_text, &alpn_text);
            run.fail("tls", t, problem, finding);
            return None;
        }
    };
    let negotiated = format!("{} with {}", established.version, established.cipher);
    run.step(
        "tls",
        t,
        Finding::new(
            Severity::Info,
            format!(
                "handshake complete: {negotiated}; {sni_text}; {}",
                established.alpn.as_ref().map_or_else(
                    || format!("{alpn_text} offered, none selected"),
                    |a| format!("ALPN {a} selected")
                )
            ),
            "the server accepted what this client offered",
            "",
        ),
    );
    server_certificate(run, &established.server_chain, sends_sni);
    let t = Instant::now();
    let requested = established.certificate_requested;
    let has_identity = opts.identity.is_some();
    let finding = match (requested, has_identity) {
        (Some(true), true) => Finding::new(
            Severity::Info,
            "the server asked for a client certificate; the device certificate was sent",
            format!(
                "mutual TLS, as AWS IoT requires on 8883 ({})",
                established.requested_how
            ),
            "",
        ),
        (Some(true), false) => Finding::new(
            Severity::Warning,
            "the server asked for a client certificate, and none was given to the probe",
            format!(
                "AWS IoT refuses connections without one ({})",
                established.requested_how
            ),
            "pass --cert and --key with the device's certificate and key",
        ),
        (Some(false), _) => Finding::new(
            Severity::Info,
            "the server did not ask for a client certificate",
            format!(
                "this endpoint authenticates clients another way, or not at all ({})",
                established.requested_how
            ),
            "",
        ),
        (None, _) => Finding::new(
            Severity::Info,
            "whether the server asked for a client certificate could not be told",
            "",
            "",
        ),
    };
    run.step("client-certificate", t, finding);

    let mut stream = established.stream;
    let cert_missing = requested == Some(true) && !has_identity;
    mqtt_steps(run, &mut stream, cert_missing);
    Some(negotiated)
}

fn tls_failure_finding(
    failed: &handshake::HandshakeFailed,
    sni_text: &str,
    alpn_text: &str,
) -> Finding {
    if failed.local {
        return Finding::new(
            Severity::Error,
            format!(
                "this machine's OpenSSL cannot make this offer: {}",
                failed.detail
            ),
            "the probe could not build the ClientHello; this says nothing about the server",
            "probe with a profile OpenSSL can speak, or from a machine whose OpenSSL still has these versions and suites",
        );
    }
    let when = if failed.before_server_hello {
        "in answer to the ClientHello"
    } else {
        "after the server's first flight"
    };
    match &failed.failure {
        mqtt::Failure::Alert(alert) => Finding::new(
            Severity::Error,
            format!("the server refused the handshake with fatal alert {alert} {when}"),
            format!(
                "{}. Usual causes: {}. Offered {sni_text}, {alpn_text}; OpenSSL said: {}",
                alert.meaning(),
                alert.iot_causes(),
                failed.detail
            ),
            crate::log::verdict::alert_fix(*alert, crate::log::Stack::Unknown),
        ),
        other => Finding::new(
            Severity::Error,
            format!("the TLS handshake failed {when}: {other}"),
            format!(
                "OpenSSL said: {}; offered {sni_text}, {alpn_text}",
                failed.detail
            ),
            "a server that closes without an alert usually refused the client certificate (AWS IoT closes for unknown or inactive certificates); check the certificate's registration",
        ),
    }
}

fn raw_tls(
    run: &mut Run<'_>,
    tcp: TcpStream,
    profile: &'static DeviceProfile,
    server_name: Option<String>,
    alpn: Vec<String>,
    sni_text: &str,
) -> Option<String> {
    let t = Instant::now();
    let why_raw = format!(
        "OpenSSL cannot offer {}'s suites (RC4), so its exact ClientHello bytes were sent ({} at most, {sni_text}, no extensions beyond the profile's)",
        profile.name,
        handshake::max_version_text(profile)
    );
    match handshake::raw_hello(tcp, profile, server_name, alpn, run.opts.timeout) {
        Ok(raw::ServerAnswer::ServerHello {
            version,
            suite,
            retry,
        }) => {
            let negotiated = format!("{version} with {suite}");
            run.step(
                "tls",
                t,
                Finding::new(
                    Severity::Info,
                    format!(
                        "the server accepted the device's ClientHello: it chose {negotiated}{}",
                        if retry {
                            " (HelloRetryRequest for another key share)"
                        } else {
                            ""
                        }
                    ),
                    why_raw,
                    "",
                ),
            );
            Some(negotiated)
        }
        Ok(raw::ServerAnswer::Alert { alert, .. }) => {
            run.fail(
                "tls",
                t,
                Problem::HelloRefused(Some(alert)),
                Finding::new(
                    Severity::Error,
                    format!(
                        "the server answered the device's ClientHello with fatal alert {alert}"
                    ),
                    format!("{}. {why_raw}", alert.meaning()),
                    crate::log::verdict::alert_fix(alert, stack_of(profile)),
                ),
            );
            None
        }
        Ok(raw::ServerAnswer::Malformed(what)) => {
            run.fail(
                "tls",
                t,
                Problem::HandshakeFailed(None),
                Finding::new(
                    Severity::Error,
                    format!("the server's answer is not TLS: {what}"),
                    "something other than a TLS server listens there (plain MQTT, HTTP, a proxy)",
                    "check host and port",
                ),
            );
            None
        }
        Ok(raw::ServerAnswer::Incomplete) | Err(_) => {
            run.fail(
                "tls",
                t,
                Problem::HelloRefused(None),
                Finding::new(
                    Severity::Error,
                    "the server closed the connection (or stayed silent) without answering the device's ClientHello",
                    format!("some gateways drop offers they refuse without an alert. {why_raw}"),
                    "compare the device's versions and suites with the endpoint's security policy",
                ),
            );
            None
        }
    }
}

/// The log explainer's name for the stack a profile describes, for shared fix texts.
pub(crate) fn stack_of(profile: &DeviceProfile) -> crate::log::Stack {
    use crate::log::Stack;
    match profile.name {
        "esp8266-nonos-axtls" => Stack::NonosLibssl,
        "esp8266-nonos-mbedtls" => Stack::NonosMbedtls,
        "esp8266-arduino-axtls" => Stack::Axtls,
        "esp8266-arduino-bearssl" => Stack::BearSsl,
        "esp-idf-mbedtls" => Stack::EspIdf,
        _ => Stack::Unknown,
    }
}

fn server_certificate(run: &mut Run<'_>, chain: &[X509], checks_name: bool) {
    let opts = run.opts;
    let t = Instant::now();
    let Some((leaf, intermediates)) = chain.split_first() else {
        run.fail(
            "server-certificate",
            t,
            Problem::ServerChain,
            Finding::new(Severity::Error, "the server sent no certificate", "", ""),
        );
        return;
    };
    let summary = pki::summarize(leaf).ok();
    let subject = summary
        .as_ref()
        .map_or("(unreadable)", |s| s.subject.as_str());
    match pki::verify_chain(leaf, intermediates, &opts.roots) {
        Ok(()) => run.step(
            "server-certificate",
            t,
            Finding::new(
                Severity::Info,
                format!(
                    "the server's chain ({subject}) verifies against {}",
                    opts.ca_name
                ),
                "",
                "",
            ),
        ),
        Err(err) => {
            let issuer = summary.as_ref().map_or("(unknown)", |s| s.issuer.as_str());
            run.fail(
                "server-certificate",
                t,
                Problem::ServerChain,
                Finding::new(
                    Severity::Error,
                    format!("the server's chain does not verify against {}: {err}", opts.ca_name),
                    format!("the server presented {subject}, issued by {issuer}; a device trusting only {} refuses it with alert 48 unknown_ca", opts.ca_name),
                    "give the device the root that issued the server's chain: Amazon Root CA 1 for ATS endpoints, VeriSign G5 for legacy endpoints, the data dir's ca/root-ca.pem for tether serve",
                ),
            );
            return;
        }
    }
    if let Some(summary) = &summary
        && !handshake::names_host(summary, &opts.host)
    {
        let severity = if checks_name {
            Severity::Error
        } else {
            Severity::Warning
        };
        run.fail(
            "server-certificate",
            t,
            Problem::ServerName,
            Finding::new(
                severity,
                format!("the server's certificate does not name {}", opts.host),
                "stacks that check the host name (OpenSSL, BearSSL, ESP-IDF) refuse it; ESP8266 NONOS stacks never check it",
                "connect with the name the certificate carries (for tether serve: localhost, 127.0.0.1 or a name passed with --hostname)",
            ),
        );
    }
}

fn mqtt_steps(
    run: &mut Run<'_>,
    stream: &mut openssl::ssl::SslStream<handshake::Recorder>,
    cert_missing: bool,
) {
    let opts = run.opts;
    let t = Instant::now();
    let client_id = match MqttStr::new(&opts.client_id) {
        Ok(id) => id,
        Err(e) => {
            run.fail(
                "mqtt",
                t,
                Problem::Mqtt,
                Finding::new(
                    Severity::Error,
                    format!(
                        "client id {:?} is not a valid MQTT string: {e}",
                        opts.client_id
                    ),
                    "",
                    "choose another client id",
                ),
            );
            return;
        }
    };
    let mut conv = mqtt::Conversation::new(stream, opts.protocol);
    match conv.connect(&client_id, 30) {
        Ok(ack) if ack.reason == ReasonCode::Success => run.step(
            "mqtt",
            t,
            Finding::new(
                Severity::Info,
                format!(
                    "{} CONNECT as {:?} accepted (CONNACK success, session present: {})",
                    opts.protocol, opts.client_id, ack.session_present
                ),
                "",
                "",
            ),
        ),
        Ok(ack) => {
            run.fail(
                "mqtt",
                t,
                Problem::Mqtt,
                Finding::new(
                    Severity::Error,
                    format!(
                        "CONNECT refused: CONNACK {:?} ({})",
                        ack.reason,
                        ack.reason.description()
                    ),
                    "the TLS side is fine; the broker refused this client at the MQTT layer",
                    connack_fix(ack.reason, &opts.client_id),
                ),
            );
            return;
        }
        Err(failure) => {
            let alert = match failure {
                mqtt::Failure::Alert(a) => Some(a),
                _ => None,
            };
            let (what, why, fix) = match &failure {
                mqtt::Failure::Alert(a) => (
                    format!("after the handshake the server sent alert {a} instead of a CONNACK"),
                    format!("in TLS 1.3 the server judges the client certificate after the client finished its handshake, so its refusal arrives here: {}", a.iot_causes()),
                    crate::log::verdict::alert_fix(*a, crate::log::Stack::Unknown),
                ),
                mqtt::Failure::Closed if cert_missing => (
                    "the server closed the connection after CONNECT: it asked for a client certificate and the probe had none to send".to_owned(),
                    "mutual TLS is required here; in TLS 1.3 the server's refusal (alert 116 certificate_required) arrives after the client's handshake is done and is often lost with the closed connection".to_owned(),
                    "pass the device certificate and key (--cert, --key); on the device, load them before connecting".to_owned(),
                ),
                mqtt::Failure::Closed => (
                    "the server closed the connection after CONNECT without a CONNACK".to_owned(),
                    "AWS IoT (and tether serve) close the connection when the client certificate is not registered or not ACTIVE, or the policy does not allow iot:Connect for this client id".to_owned(),
                    format!("check the certificate's registration (tether doctor creds --data-dir DIR) and that its policy allows iot:Connect on client/{}", opts.client_id),
                ),
                other => (
                    format!("no CONNACK: {other}"),
                    "the broker did not answer CONNECT".to_owned(),
                    "check that the port speaks MQTT over TLS".to_owned(),
                ),
            };
            let problem = if alert.is_some() || cert_missing {
                Problem::ClientCertificate(alert)
            } else {
                Problem::Mqtt
            };
            run.fail(
                "mqtt",
                t,
                problem,
                Finding::new(Severity::Error, what, why, fix),
            );
            return;
        }
    }
    if let Some(topic) = &opts.topic {
        let t = Instant::now();
        match TopicName::new(topic) {
            Ok(name) => {
                let mut tag = [0u8; 8];
                let _ = openssl::rand::rand_bytes(&mut tag);
                let payload: String = tag.iter().map(|b| format!("{b:02x}")).collect();
                let payload = Bytes::from(format!("tether doctor probe {payload}"));
                match conv.round_trip(&name, payload, opts.timeout) {
                    Ok(rt) if rt.echoed && rt.puback.is_some_and(|r| !r.is_error()) => run.step(
                        "round-trip",
                        t,
                        Finding::new(Severity::Info, format!("subscribed to {topic} (SUBACK {:?}), published at QoS 1 (PUBACK) and received the message back", rt.granted.unwrap_or(ReasonCode::Success)), "", ""),
                    ),
                    Ok(rt) => run.fail(
                        "round-trip",
                        t,
                        Problem::RoundTrip,
                        Finding::new(
                            Severity::Error,
                            format!("the round trip on {topic} failed: SUBACK {:?}, PUBACK {:?}, message back: {}", rt.granted, rt.puback, rt.echoed),
                            "a refused subscription (SUBACK 0x80) or publish means the policy does not allow iot:Subscribe / iot:Publish / iot:Receive on this topic",
                            format!("allow iot:Subscribe on topicfilter/{topic} and iot:Publish, iot:Receive on topic/{topic} in the certificate's policy"),
                        ),
                    ),
                    Err(f) => run.fail(
                        "round-trip",
                        t,
                        Problem::RoundTrip,
                        Finding::new(
                            Severity::Error,
                            format!("the round trip on {topic} failed: {f}"),
                            "AWS IoT closes the connection when a client publishes or subscribes where its policy does not allow it",
                            format!("allow iot:Subscribe on topicfilter/{topic} and iot:Publish, iot:Receive on topic/{topic}"),
                        ),
                    ),
                }
            }
            Err(e) => run.fail(
                "round-trip",
                t,
                Problem::RoundTrip,
                Finding::new(
                    Severity::Error,
                    format!("{topic:?} is not a topic name: {e}"),
                    "",
                    "give a topic without wildcards",
                ),
            ),
        }
    }
    conv.disconnect();
}

fn connack_fix(reason: ReasonCode, client_id: &str) -> String {
    match reason {
        ReasonCode::NotAuthorized => format!(
            "attach a policy that allows iot:Connect on client/{client_id} to the certificate, or connect with a client id the policy allows (often the thing name)"
        ),
        ReasonCode::ClientIdentifierNotValid => {
            "use a client id of 1 to 128 characters without a leading $".to_owned()
        }
        ReasonCode::UnsupportedProtocolVersion => "connect with MQTT 3.1.1 or 5".to_owned(),
        _ => "see the broker's log for this client".to_owned(),
    }
}
