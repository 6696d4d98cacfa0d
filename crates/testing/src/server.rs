//! [`TestServer`] and its [`Builder`]: tether's server (`server::run`) in this process, on its
//! own thread and tokio runtime, with listeners bound to `127.0.0.1:0` before it starts and a
//! data directory made fresh in `$TMPDIR`. Its own runtime makes it independent of the test's
//! (a `#[tokio::test]` on one thread, a multi-threaded one, or none) and lets `Drop` finish a
//! real shutdown — clients disconnected, the store flushed — before the directory is removed.
//! It does not spawn the `tether` binary (the pytest plugin and `tether serve --ephemeral` do).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use server::{DeviceFiles, Listeners, Ready, ServerConfig};
use tokio::sync::oneshot;

use crate::api::Signer;
use crate::{Device, Error};

/// Where a running [`TestServer`] listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    /// MQTT over mutual TLS (AWS IoT's port 8883).
    pub mqtts: SocketAddr,
    /// MQTT over mutual TLS with ALPN `x-amzn-mqtt-ca` (AWS IoT's port 443), when asked for
    /// with [`Builder::alpn_listener`].
    pub mqtts_alpn: Option<SocketAddr>,
    /// Plain MQTT over TCP, when asked for with [`Builder::plain_mqtt`].
    pub mqtt: Option<SocketAddr>,
    /// The HTTP API (control plane, `iot-data`, `/metrics`).
    pub api: SocketAddr,
}

/// Settings for a [`TestServer`] beyond the defaults of [`TestServer::start`].
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), tether_testing::Error> {
/// use tether_testing::{Profile, TestServer};
///
/// let server = TestServer::builder()
///     .plain_mqtt(true)
///     .configure(|config| {
///         config.profile = Profile::Mqtt;
///         config.min_keep_alive = Some(1);
///     })
///     .start()
///     .await?;
/// assert!(server.endpoints().mqtt.is_some());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Builder {
    config: ServerConfig,
    plain_mqtt: bool,
    alpn_listener: bool,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            // The data directory is replaced by a fresh temporary one at start.
            config: ServerConfig::new(PathBuf::new()),
            plain_mqtt: false,
            alpn_listener: false,
        }
    }

    /// Changes the server's settings: profile, TLS policy, limits, region, account id, API
    /// credentials. Its `data_dir` is ignored; every test server gets a fresh one.
    pub fn configure(mut self, change: impl FnOnce(&mut ServerConfig)) -> Builder {
        change(&mut self.config);
        self
    }

    /// Also listen for plain MQTT over TCP (anonymous clients only under
    /// [`Profile::Mqtt`](crate::Profile::Mqtt), as with `tether serve --mqtt`).
    pub fn plain_mqtt(mut self, on: bool) -> Builder {
        self.plain_mqtt = on;
        self
    }

    /// Also listen with ALPN `x-amzn-mqtt-ca` required, as AWS IoT does on port 443.
    pub fn alpn_listener(mut self, on: bool) -> Builder {
        self.alpn_listener = on;
        self
    }

    /// Starts the server and waits until every listener accepts. The first start of a data
    /// directory creates a CA, server certificates and the demo device (RSA keys included),
    /// which takes 0.2–0.3 s on a busy 2-core machine (docs/benchmarks.md).
    pub async fn start(self) -> Result<TestServer, Error> {
        let dir = tempfile::Builder::new()
            .prefix("tether-test-")
            .tempdir()
            .map_err(Error::DataDir)?;
        let mut config = self.config;
        config.data_dir = dir.path().to_owned();
        let listeners = Listeners {
            mqtts: Some(bind("mqtts")?),
            mqtts_alpn: self.alpn_listener.then(|| bind("mqtts-alpn")).transpose()?,
            wss: None,
            mqtt: self.plain_mqtt.then(|| bind("mqtt")).transpose()?,
            http: Some(bind("api")?),
            ..Listeners::default()
        };
        let signer = Signer {
            access_key_id: config
                .api_credentials
                .first()
                .map_or(sigv4::DEV_ACCESS_KEY_ID, |(key, _)| key.as_str())
                .to_owned(),
            secret_access_key: config
                .api_credentials
                .first()
                .map_or(sigv4::DEV_SECRET_ACCESS_KEY, |(_, secret)| secret.as_str())
                .to_owned(),
            region: config.region.clone(),
        };
        let account_id = config.account_id.clone();

        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tether-test-server".to_owned())
            .spawn(move || serve(config, listeners, ready_tx, stop_rx))
            .map_err(Error::Thread)?;
        let ready = match ready_rx.await {
            Ok(ready) => ready,
            // The server ended before it was ready: its thread says why.
            Err(_) => {
                return Err(match thread.join() {
                    Ok(Err(e)) => e,
                    Ok(Ok(())) | Err(_) => Error::Crashed,
                });
            }
        };
        let endpoints = Endpoints {
            mqtts: ready.mqtts.ok_or(Error::Crashed)?,
            mqtts_alpn: ready.mqtts_alpn,
            mqtt: ready.mqtt,
            api: ready.http.ok_or(Error::Crashed)?,
        };
        Ok(TestServer {
            endpoints,
            ready,
            signer,
            account_id,
            stop: Some(stop_tx),
            thread: Some(thread),
            dir: Some(dir),
        })
    }
}

/// The server's thread: its own runtime, `server::run` until told to stop.
fn serve(
    config: ServerConfig,
    listeners: Listeners,
    ready: oneshot::Sender<Ready>,
    stop: oneshot::Receiver<()>,
) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tether-test-server")
        .enable_all()
        .build()
        .map_err(Error::Thread)?;
    runtime
        .block_on(server::run(
            config,
            listeners,
            |report: &Ready| {
                let _ = ready.send(report.clone());
            },
            async {
                // A dropped sender (the TestServer is gone) stops the server as well.
                let _ = stop.await;
            },
        ))
        .map_err(Error::Start)
}

fn bind(what: &'static str) -> Result<TcpListener, Error> {
    TcpListener::bind(("127.0.0.1", 0)).map_err(|source| Error::Bind { what, source })
}

/// A running tether server for one test: AWS IoT Core's MQTT broker on mutual TLS and its
/// control plane, on free loopback ports, with a data directory of its own.
///
/// Start one per test — they are independent, so tests may run in parallel — and let it drop
/// at the end: dropping it shuts the server down (connected clients get a DISCONNECT, the
/// store is flushed) and removes its directory. [`TestServer::shutdown`] does the same
/// without blocking the calling thread.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), tether_testing::Error> {
/// use tether_testing::TestServer;
///
/// let server = TestServer::start().await?;
/// println!("MQTT on {}, API at {}", server.endpoints().mqtts, server.api_url());
/// assert!(server.root_ca().exists());
/// assert!(server.demo_device().certificate.ends_with("certificate.pem.crt"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TestServer {
    endpoints: Endpoints,
    ready: Ready,
    signer: Signer,
    account_id: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), Error>>>,
    dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server with the defaults of `tether serve`: the `aws` profile, AWS's default
    /// TLS policy, region `us-east-1`, account `123456789012`, the development credential.
    pub async fn start() -> Result<TestServer, Error> {
        Builder::new().start().await
    }

    /// A [`Builder`] for other settings.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Where the server listens.
    pub fn endpoints(&self) -> Endpoints {
        self.endpoints
    }

    /// The host name devices connect to: `localhost`, which the server certificates cover
    /// and which DescribeEndpoint answers.
    pub fn host(&self) -> &str {
        "localhost"
    }

    /// The API's URL, `http://127.0.0.1:PORT`: the `--endpoint-url` of the AWS CLI, boto3's
    /// `endpoint_url`, the SDK's `endpoint_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.endpoints.api)
    }

    /// The access key id API clients sign with: the first configured API credential, else the
    /// development credential `test`.
    pub fn access_key_id(&self) -> &str {
        &self.signer.access_key_id
    }

    /// The secret access key that goes with [`TestServer::access_key_id`].
    pub fn secret_access_key(&self) -> &str {
        &self.signer.secret_access_key
    }

    /// The region in ARNs, and the one to sign requests for.
    pub fn region(&self) -> &str {
        &self.signer.region
    }

    /// The account id in ARNs.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The server's data directory (removed when the server drops).
    pub fn data_dir(&self) -> &Path {
        &self.ready.data_dir
    }

    /// The root CA that signed the server certificates: what devices trust.
    pub fn root_ca(&self) -> &Path {
        &self.ready.ca_path
    }

    /// The demo device's files. It is registered (thing `demo-device`, ACTIVE certificate,
    /// policy `tether-dev-allow-all`) on every server.
    pub fn demo_device(&self) -> &DeviceFiles {
        &self.ready.demo_device
    }

    /// Registers a device through the server's API, as a provisioning script would with the
    /// AWS SDK — CreateThing, CreateKeysAndCertificate (RSA 2048, ACTIVE), CreatePolicy,
    /// AttachPolicy, AttachThingPrincipal — writes its files, and connects it over MQTT 5 with
    /// mutual TLS using the thing name as client id.
    ///
    /// Its policy (`NAME-policy`) lets it connect only as its own thing
    /// (`client/${iot:Connection.Thing.ThingName}`) and publish, subscribe and receive on every
    /// topic. Use [`TestServer::device_with_policy`] for another document.
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tether_testing::TestServer;
    /// use tether_testing::mqtt::{Message, QoS, SubscriptionOptions, TopicFilter, TopicName};
    ///
    /// let server = TestServer::start().await?;
    /// let mut sensor = server.device("sensor-1").await?;
    /// let filter = TopicFilter::new("sensors/#")?;
    /// sensor.client.subscribe(vec![(filter, SubscriptionOptions::with_qos(QoS::AtLeastOnce))]).await?;
    /// let topic = TopicName::new("sensors/1/temperature")?;
    /// sensor.client.publish(Message::new(topic, QoS::AtLeastOnce, "21.5")).await?;
    /// let received = sensor.client.recv().await?;
    /// assert_eq!(&received.payload[..], b"21.5");
    /// assert!(sensor.files.private_key.exists());
    /// # Ok(()) }
    /// ```
    pub async fn device(&self, name: &str) -> Result<Device, Error> {
        let policy = crate::device::default_policy(self.region(), self.account_id());
        self.device_with_policy(name, &policy).await
    }

    /// Like [`TestServer::device`] with `policy` (an AWS IoT policy document, JSON) as the
    /// device's policy. A policy that does not allow `iot:Connect` for the thing name makes
    /// this fail with the server's refusal, as it would on AWS.
    pub async fn device_with_policy(&self, name: &str, policy: &str) -> Result<Device, Error> {
        crate::device::register(self, name, policy).await
    }

    /// MQTT 5 connection options for a device's files: mutual TLS to the `mqtts` listener
    /// with `client_id`, trusting the server's root CA. For more connections of one device,
    /// or for the demo device:
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), tether_testing::Error> {
    /// use tether_testing::TestServer;
    /// use tether_testing::mqtt::Client;
    ///
    /// let server = TestServer::start().await?;
    /// let options = server.connect_options(server.demo_device(), "demo-device")?;
    /// let client = Client::connect(options).await?;
    /// client.disconnect().await?;
    /// # Ok(()) }
    /// ```
    pub fn connect_options(
        &self,
        files: &DeviceFiles,
        client_id: &str,
    ) -> Result<client::ConnectOptions, Error> {
        crate::device::connect_options(self, files, client_id)
    }

    pub(crate) fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Shuts the server down and waits for it without blocking the thread (dropping it does
    /// the same, blocking for those few milliseconds). Its error, if it stopped with one.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        drop(self.stop.take());
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let (done_tx, done_rx) = oneshot::channel();
        // Joined on a helper thread so that this task yields while the server stops.
        std::thread::spawn(move || {
            let _ = done_tx.send(thread.join());
        });
        match done_rx.await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) | Err(_) => Err(Error::Crashed),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // The directory goes last, after the store has closed its files.
        drop(self.dir.take());
    }
}
