//! The tests that need AWS IoT's services answering (shadow.rs, jobs.rs) run on the real broker:
//! for one test, `tether serve`'s runtime (the same router, policies and services) starts on
//! the qualification listener itself (a second descriptor of the same socket, so the device's
//! port does not change) and on a loopback HTTP listener for the test's own setup and checks,
//! made through the AWS-compatible API with the loopback dev credential, as the AWS CLI would.
//! The device's packets are observed through a fault plan on its certificate that changes
//! nothing (`crate::faults::Observer`). The qualification endpoint's lock on the data directory
//! is given up while the broker holds it. Nothing here judges: the tests' modules do.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::attempt::Judged;
use super::{QualifyConfig, QualifyError, TestId};
use crate::config::{Listeners, ServerConfig, ServerError};
use crate::faults::{FaultPlan, FaultTarget, Observed, Observer};

/// How long one API call of a test's setup or check may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What a broker-backed test has while it runs.
pub(crate) struct Watch<'a> {
    /// The API of the running broker.
    pub api: Api,
    /// What the device sends, in order.
    pub events: mpsc::UnboundedReceiver<Observed>,
    /// The thing attached to the device's certificate (the first, as Device Advisor's run
    /// takes one thing).
    pub thing: String,
    /// The thing's ARN.
    pub thing_arn: String,
    /// Progress lines.
    pub progress: &'a mut dyn FnMut(String),
    /// When the test gives up.
    pub deadline: tokio::time::Instant,
    /// The test's timeout, for verdicts.
    pub timeout: Duration,
}

impl Watch<'_> {
    /// The next thing the device did, or None at the deadline.
    pub async fn next(&mut self) -> Option<Observed> {
        tokio::time::timeout_at(self.deadline, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next thing the device did within `wait` (and before the deadline): Err(()) at the
    /// deadline, Ok(None) when `wait` passed first.
    pub async fn next_within(&mut self, wait: Duration) -> Result<Option<Observed>, ()> {
        let until = (tokio::time::Instant::now() + wait).min(self.deadline);
        match tokio::time::timeout_at(until, self.events.recv()).await {
            Ok(Some(event)) => Ok(Some(event)),
            Ok(None) => Err(()),
            Err(_) if until >= self.deadline => Err(()),
            Err(_) => Ok(None),
        }
    }
}

/// Runs `test` on the real broker, on a second descriptor of `listener`.
pub(crate) async fn run(
    config: &QualifyConfig,
    listener: &tokio::net::TcpListener,
    (certificate_id, thing): (&str, Option<&str>),
    test: TestId,
    progress: &mut dyn FnMut(String),
) -> Result<Judged, QualifyError> {
    let Some(thing) = thing else {
        return Ok(Judged {
            outcome: super::Outcome::Fail,
            device_did: format!(
                "has no thing attached to its certificate {certificate_id}, and {} works on a \
                 thing's shadow or jobs",
                test.id()
            ),
            fix: Some(format!(
                "attach the device's thing to its certificate (aws iot attach-thing-principal \
                 --thing-name NAME --principal CERTIFICATE_ARN) and run {} again",
                test.id()
            )),
        });
    };
    let mqtts = listener
        .as_fd()
        .try_clone_to_owned()
        .map(std::net::TcpListener::from)
        .map_err(QualifyError::Listener)?;
    let http = std::net::TcpListener::bind("127.0.0.1:0").map_err(QualifyError::Listener)?;
    let (observed, events) = mpsc::unbounded_channel();
    let mut server_config = ServerConfig::new(config.data_dir.clone());
    server_config.hostnames.clone_from(&config.hostnames);
    server_config.region.clone_from(&config.region);
    server_config.account_id.clone_from(&config.account_id);
    server_config.handshake_timeout = config.handshake_timeout;
    server_config.faults.set(
        FaultTarget::CertificateId(certificate_id.to_owned()),
        FaultPlan {
            observer: Some(Observer::new(move |event| {
                let _ = observed.send(event);
            })),
            ..FaultPlan::default()
        },
    );
    let listeners = Listeners {
        mqtts: Some(mqtts),
        http: Some(http),
        ..Listeners::default()
    };
    let (ready_tx, ready_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = crate::runtime::run(
        server_config,
        listeners,
        move |ready| {
            let _ = ready_tx.send(ready.http);
        },
        async {
            let _ = stop_rx.await;
        },
    );
    let region = config.region.clone();
    let thing_arn = format!(
        "arn:aws:iot:{}:{}:thing/{thing}",
        config.region, config.account_id
    );
    let timeout = config.test_timeout;
    let driver = async move {
        let judged = match ready_rx.await {
            Ok(Some(addr)) => {
                let watch = Watch {
                    api: Api { addr, region },
                    events,
                    thing: thing.to_owned(),
                    thing_arn,
                    progress,
                    deadline: tokio::time::Instant::now() + timeout,
                    timeout,
                };
                Some(judge(test, watch).await)
            }
            _ => None,
        };
        let _ = stop_tx.send(());
        judged
    };
    let (served, judged) = tokio::join!(server, driver);
    match (served, judged) {
        (_, Some(judged)) => Ok(judged),
        (Err(e), None) => Err(QualifyError::Server(e)),
        (Ok(()), None) => Err(QualifyError::Server(ServerError::Config(
            "the broker for the test stopped before it was ready".to_owned(),
        ))),
    }
}

/// Runs one broker-backed test.
async fn judge(test: TestId, watch: Watch<'_>) -> Judged {
    match test {
        TestId::ShadowPublishReportedState => super::shadow::publish_reported(watch).await,
        TestId::ShadowUpdateReportedState => super::shadow::update_reported(watch).await,
        _ => super::jobs::execution(watch).await,
    }
}

/// The running broker's HTTP API, called with the loopback dev credential.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    addr: SocketAddr,
    region: String,
}

/// An API answer: the HTTP status and the JSON body (Null when empty).
pub(crate) type Answer = (u16, Value);

impl Api {
    /// Calls `method path` signed for `service` (`iot` or `iotdata`) with an optional JSON
    /// body. Err: the call could not be made at all.
    pub async fn call(
        &self,
        service: &'static str,
        method: &'static str,
        path: String,
        body: Option<Value>,
    ) -> Result<Answer, String> {
        let api = self.clone();
        let what = format!("{method} {path}");
        tokio::task::spawn_blocking(move || api.call_blocking(service, method, &path, body))
            .await
            .map_err(|e| format!("the API call {what} did not finish: {e}"))?
    }

    fn call_blocking(
        &self,
        service: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Answer, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let host = self.addr.to_string();
        let mut headers = vec![("host".to_owned(), host.clone())];
        if !body.is_empty() {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        let key = sigv4::SigningKey::new("test", "test", &self.region, service);
        let signed = sigv4::sign_request(
            &key,
            method,
            path,
            &headers,
            body.as_bytes(),
            SystemTime::now(),
        )
        .map_err(|e| format!("cannot sign {method} {path}: {e}"))?;
        headers.extend(signed);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .into();
        let url = format!("http://{host}{path}");
        let request = http::Request::builder().method(method).uri(&url);
        let request = headers
            .iter()
            .filter(|(k, _)| k != "host")
            .fold(request, |r, (k, v)| r.header(k.as_str(), v.as_str()))
            .body(body)
            .map_err(|e| format!("cannot build {method} {path}: {e}"))?;
        let mut response = agent
            .run(request)
            .map_err(|e| format!("{method} {path} failed: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("reading the answer to {method} {path} failed: {e}"))?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }
}

/// A thing name or job id as one path segment (they hold only `[a-zA-Z0-9:_-]`, but the
/// encoding keeps the path valid whatever they hold).
pub(crate) fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
