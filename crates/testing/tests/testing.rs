//! The integration tests of `tether-testing`: two servers at once, each with its own registry
//! and broker, driven through the control plane (the crate's own registration, the AWS CLI and,
//! with the `aws-sdk` feature, the AWS SDK for Rust) and MQTT; shutdown on drop; policies that
//! refuse; the builder's listeners. Every wait is for a packet or an answer, with a deadline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tether_testing::mqtt::{
    Client, ConnectOptions, Message, QoS, SubscriptionOptions, TopicFilter, TopicName,
};
use tether_testing::{Profile, TestServer};

/// How long a test waits for a message it expects.
const WAIT: Duration = Duration::from_secs(10);

/// Subscribes `client` to `filter` at QoS 1.
async fn subscribe(client: &mut Client, filter: &str) {
    let filter = TopicFilter::new(filter).unwrap();
    let ack = client
        .subscribe(vec![(
            filter,
            SubscriptionOptions::with_qos(QoS::AtLeastOnce),
        )])
        .await
        .unwrap();
    assert!(ack.reasons.iter().all(|r| !r.is_error()), "{ack:?}");
}

async fn publish(client: &mut Client, topic: &str, payload: &'static str) {
    let topic = TopicName::new(topic).unwrap();
    client
        .publish(Message::new(topic, QoS::AtLeastOnce, payload))
        .await
        .unwrap();
}

/// The next message's topic and payload, within [`WAIT`].
async fn next(client: &mut Client) -> (String, String) {
    let message = tokio::time::timeout(WAIT, client.recv())
        .await
        .expect("a message within the deadline")
        .unwrap();
    (
        message.topic.as_str().to_owned(),
        String::from_utf8_lossy(&message.payload).into_owned(),
    )
}

/// The AWS CLI of the test venv (`$TETHER_VENV`, made by scripts/setup).
fn aws_cli() -> PathBuf {
    let venv = std::env::var_os("TETHER_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
        PathBuf::from,
    );
    let aws = venv.join("bin/aws");
    assert!(
        aws.exists(),
        "no AWS CLI at {}: run scripts/setup (or set TETHER_VENV)",
        aws.display()
    );
    aws
}

/// Runs `aws iot ARGS…` against `server` with the endpoint, credential and region it reports,
/// isolated from the machine's AWS configuration; its exit status, stdout and stderr.
fn aws_iot(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(aws_cli())
        .args(["iot", "--endpoint-url", &server.api_url()])
        .args(["--region", server.region(), "--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", server.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", server.secret_access_key())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn two_servers_at_once_keep_their_registries_and_brokers_apart() {
    let (a, b) = tokio::join!(TestServer::start(), TestServer::start());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.endpoints().mqtts, b.endpoints().mqtts);
    assert_ne!(a.endpoints().api, b.endpoints().api);
    assert_ne!(a.data_dir(), b.data_dir());

    // The same thing name on both: each registry is its own, so both registrations succeed,
    // with different certificates.
    let (sensor_a, sensor_b) = tokio::join!(a.device("sensor"), b.device("sensor"));
    let (mut sensor_a, mut sensor_b) = (sensor_a.unwrap(), sensor_b.unwrap());
    assert_ne!(sensor_a.certificate_id, sensor_b.certificate_id);
    assert!(sensor_a.thing_arn.ends_with(":thing/sensor"));
    assert!(sensor_a.files.dir.starts_with(a.data_dir()));

    // A thing created on A through the AWS CLI exists on A only.
    let (ok, created, err) = aws_iot(&a, &["create-thing", "--thing-name", "only-on-a"]);
    assert!(ok, "{err}");
    assert!(created.contains(":thing/only-on-a"), "{created}");
    let (ok, described, err) = aws_iot(&a, &["describe-thing", "--thing-name", "sensor"]);
    assert!(ok, "{err}");
    assert!(
        described.contains("\"thingName\": \"sensor\""),
        "{described}"
    );
    let (ok, _, err) = aws_iot(&b, &["describe-thing", "--thing-name", "only-on-a"]);
    assert!(!ok && err.contains("ResourceNotFoundException"), "{err}");

    // Each broker delivers its own messages only.
    let mut listener_a = a.device("listener").await.unwrap().client;
    let mut listener_b = b.device("listener").await.unwrap().client;
    subscribe(&mut listener_a, "telemetry/#").await;
    subscribe(&mut listener_b, "telemetry/#").await;
    publish(&mut sensor_a.client, "telemetry/sensor", "from a").await;
    publish(&mut sensor_b.client, "telemetry/sensor", "from b").await;
    assert_eq!(
        next(&mut listener_a).await,
        ("telemetry/sensor".into(), "from a".into())
    );
    assert_eq!(
        next(&mut listener_b).await,
        ("telemetry/sensor".into(), "from b".into())
    );

    // A's device is a stranger to B: B's CA did not sign its certificate.
    let mut stranger = sensor_a.connect_options().clone();
    stranger.port = b.endpoints().mqtts.port();
    let refused = Client::connect(stranger).await;
    assert!(refused.is_err(), "B accepted a certificate only A issued");

    #[cfg(feature = "aws-sdk")]
    the_aws_sdk_for_rust_sees_each_servers_registry(&a, &b).await;

    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[cfg(feature = "aws-sdk")]
async fn the_aws_sdk_for_rust_sees_each_servers_registry(a: &TestServer, b: &TestServer) {
    use tether_testing::aws_sdk_iot;

    let iot_a = aws_sdk_iot::Client::from_conf(a.iot_config());
    let iot_b = aws_sdk_iot::Client::from_conf(b.iot_config());
    let created = iot_b
        .create_thing()
        .thing_name("only-on-b")
        .send()
        .await
        .unwrap();
    assert!(created.thing_arn().unwrap().ends_with(":thing/only-on-b"));

    let names = |out: aws_sdk_iot::operation::list_things::ListThingsOutput| {
        let mut names: Vec<String> = out
            .things()
            .iter()
            .filter_map(|t| t.thing_name().map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    let on_a = names(iot_a.list_things().send().await.unwrap());
    let on_b = names(iot_b.list_things().send().await.unwrap());
    assert_eq!(on_a, ["demo-device", "listener", "only-on-a", "sensor"]);
    assert_eq!(on_b, ["demo-device", "listener", "only-on-b", "sensor"]);

    let missing = iot_a
        .describe_thing()
        .thing_name("only-on-b")
        .send()
        .await
        .unwrap_err();
    let service_error = missing.into_service_error();
    assert!(
        service_error.is_resource_not_found_exception(),
        "{service_error:?}"
    );

    // The SDK's view of a device registered by the crate: its certificate is ACTIVE and its
    // policy attached.
    let principals = iot_a
        .list_thing_principals()
        .thing_name("sensor")
        .send()
        .await
        .unwrap();
    let arn = principals.principals()[0].clone();
    let id = arn.rsplit('/').next().unwrap();
    let described = iot_a
        .describe_certificate()
        .certificate_id(id)
        .send()
        .await
        .unwrap();
    let status = described
        .certificate_description()
        .and_then(|d| d.status())
        .map(|s| s.as_str().to_owned());
    assert_eq!(status.as_deref(), Some("ACTIVE"));
    let policies = iot_a
        .list_attached_policies()
        .target(&arn)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = policies
        .policies()
        .iter()
        .filter_map(|p| p.policy_name())
        .collect();
    assert_eq!(names, ["sensor-policy"]);
}

#[tokio::test]
async fn dropping_a_server_stops_it_and_removes_its_directory() {
    let server = TestServer::start().await.unwrap();
    let mqtts = server.endpoints().mqtts;
    let dir = server.data_dir().to_owned();
    let mut device = server.device("doomed").await.unwrap();
    assert!(dir.join("tether.db").exists());
    drop(server);
    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert!(
        tokio::net::TcpStream::connect(mqtts).await.is_err(),
        "{mqtts} still accepts connections"
    );
    // The connected client learns that the server went away.
    let ended = tokio::time::timeout(WAIT, device.client.recv()).await;
    assert!(matches!(ended, Ok(Err(_))), "{ended:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_without_connect_is_refused_like_on_aws() {
    let server = TestServer::start().await.unwrap();
    let publish_only = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"iot:Publish","Resource":"*"}]}"#;
    let err = server
        .device_with_policy("no-connect", publish_only)
        .await
        .unwrap_err();
    assert!(
        matches!(err, tether_testing::Error::Mqtt(_)),
        "refused at CONNECT, not before: {err}"
    );
    // The registration itself happened: a second device() with that name is refused by name.
    let again = server.device("no-connect").await.unwrap_err().to_string();
    assert!(again.contains("no-connect"), "{again}");
}

#[tokio::test]
async fn the_builder_adds_listeners_and_changes_the_profile() {
    let server = TestServer::builder()
        .plain_mqtt(true)
        .alpn_listener(true)
        .configure(|config| config.profile = Profile::Mqtt)
        .start()
        .await
        .unwrap();
    let plain = server.endpoints().mqtt.unwrap();
    assert!(server.endpoints().mqtts_alpn.is_some());
    // The mqtt profile lets an anonymous client in on the plain listener.
    let mut options = ConnectOptions {
        host: plain.ip().to_string(),
        port: plain.port(),
        ..ConnectOptions::default()
    };
    options.mqtt.client_id = tether_testing::mqtt::MqttStr::new("anonymous").unwrap();
    let mut client = Client::connect(options).await.unwrap();
    subscribe(&mut client, "echo").await;
    publish(&mut client, "echo", "hi").await;
    assert_eq!(next(&mut client).await, ("echo".into(), "hi".into()));
}

#[tokio::test]
async fn the_demo_device_connects_with_the_servers_connect_options() {
    let server = TestServer::start().await.unwrap();
    let options = server
        .connect_options(server.demo_device(), "demo-device")
        .unwrap();
    let mut client = Client::connect(options).await.unwrap();
    subscribe(&mut client, "demo/#").await;
    publish(&mut client, "demo/1", "ok").await;
    assert_eq!(next(&mut client).await, ("demo/1".into(), "ok".into()));
    client.disconnect().await.unwrap();
}
