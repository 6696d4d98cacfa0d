//! The MQTT test client's server side. With `--wss` the page speaks MQTT over WebSockets itself
//! and only asks here for a URL presigned with the caller's credential ([`presign`]: the secret
//! never reaches the browser). Without it, [`subscribe`] opens an in-process MQTT 5 client
//! connection — through a memory pipe into the same `connection::serve` every client goes
//! through, so the broker admits, authorizes and delivers as for any client — subscribes to one
//! filter and streams what arrives as server-sent events; publishing uses the `iot-data`
//! Publish route like the AWS console's. The connection acts as the caller's access key with
//! every IoT action allowed (the console is an administrator's tool, as the AWS console's MQTT
//! test client is for an IAM administrator), shows in the sessions list as
//! `tether-console-N`, and ends when the page closes the stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use broker_core::ConnId;
use bytes::BytesMut;
use mqtt_proto::packet::{Connect, Disconnect, Packet, PubAck, Subscribe};
use mqtt_proto::{
    Decoder, MqttStr, PacketId, Protocol, QoS, ReasonCode, SubscriptionOptions, TopicFilter,
};
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

use super::{Console, allowed, error, json_ok, query_pairs};
use crate::auth::identity::DEV_IAM_POLICY;
use crate::auth::{Identity, IdentityPolicies, PolicyLayer};
use crate::mqtt::admitted::{self, Lifetime};

/// Keep-alive of the in-process client, in seconds.
const KEEP_ALIVE: u16 = 60;

/// How long a presigned URL stays valid.
const PRESIGN_EXPIRES: Duration = Duration::from_secs(300);

/// Messages an open page may fall behind by; beyond it the oldest are not shown.
const QUEUE: usize = 256;

/// The pipe's buffer each way.
const PIPE: usize = 256 * 1024;

/// What `subscribe` is asked.
#[derive(Default)]
struct SubscribeQuery {
    filter: String,
    qos: u8,
    /// The caller's CSRF token: the stream opens a connection, so another site's page must not
    /// be able to open one.
    csrf: String,
}

impl SubscribeQuery {
    fn of(uri: &Uri) -> SubscribeQuery {
        let mut query = SubscribeQuery::default();
        for (key, value) in query_pairs(uri) {
            match key.as_str() {
                "filter" => query.filter = value,
                "qos" => query.qos = value.parse().unwrap_or(0),
                "csrf" => query.csrf = value,
                _ => {}
            }
        }
        query
    }
}

/// `GET /console/api/mqtt/subscribe?filter=F&qos=Q&csrf=T`: messages on `F` as server-sent
/// events (`subscribed`, `message`, `closed`).
pub(crate) async fn subscribe(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let query = SubscribeQuery::of(&uri);
    let caller = match allowed(&console, &Method::GET, &headers) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    if query.csrf != caller.csrf {
        return error(
            StatusCode::FORBIDDEN,
            "the subscription lacks the console's csrf token: reload the console page",
        );
    }
    let filter = match TopicFilter::new(&query.filter) {
        Ok(filter) => filter,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("{:?} is not a topic filter: {e}", query.filter),
            );
        }
    };
    let qos = if query.qos >= 1 {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };
    let wired = match console.wired() {
        Ok(wired) => wired,
        Err(response) => return *response,
    };
    let conn = ConnId(wired.admission.next_conn.fetch_add(1, Ordering::Relaxed));
    let client_id = format!("tether-console-{}", conn.0);
    let (client_end, server_end) = tokio::io::duplex(PIPE);
    let shared = wired.admission.shared.clone();
    let access_key_id = caller.access_key_id.clone();
    let policies = match iot_policy::Policy::parse(DEV_IAM_POLICY) {
        Ok(policy) => IdentityPolicies {
            layers: vec![PolicyLayer {
                what: format!("the web console's test client (access key {access_key_id})"),
                policies: vec![("console".to_owned(), policy)],
            }],
        },
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    tokio::spawn(async move {
        let identity = |key| Identity::Iam {
            access_key_id,
            peer: ([127, 0, 0, 1], 0).into(),
            key,
        };
        admitted::serve(
            server_end,
            conn,
            identity,
            policies,
            Lifetime::default(),
            &shared,
        )
        .await;
    });
    let (events, receiver) = mpsc::channel(QUEUE);
    tokio::spawn(run_client(client_end, client_id, (filter, qos), events));
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let event = receiver.recv().await?;
        Some((Ok::<_, Infallible>(event), receiver))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The in-process client: CONNECT, SUBSCRIBE, then every PUBLISH to the page until either side
/// goes.
async fn run_client(
    stream: DuplexStream,
    client_id: String,
    (filter, qos): (TopicFilter, QoS),
    events: mpsc::Sender<Event>,
) {
    let mut client = Pipe {
        stream,
        decoder: Decoder::new(Protocol::V5, mqtt_proto::MAX_PACKET_SIZE),
        rx: BytesMut::with_capacity(4096),
    };
    let said =
        |name: &str, value: serde_json::Value| Event::default().event(name).data(value.to_string());
    let Ok(client_id_str) = MqttStr::try_from(client_id.clone()) else {
        return;
    };
    let connect = Connect {
        protocol: Protocol::V5,
        clean_start: true,
        keep_alive: KEEP_ALIVE,
        client_id: client_id_str,
        will: None,
        username: None,
        password: None,
        properties: Default::default(),
    };
    let subscribe = Subscribe {
        packet_id: PacketId::MIN,
        properties: Default::default(),
        filters: vec![(filter.clone(), SubscriptionOptions::with_qos(qos))],
    };
    if client
        .send(&Packet::Connect(Box::new(connect)))
        .await
        .is_err()
        || client.send(&Packet::Subscribe(subscribe)).await.is_err()
    {
        return;
    }
    let mut ping = tokio::time::interval(Duration::from_secs(u64::from(KEEP_ALIVE / 2)));
    ping.tick().await;
    loop {
        tokio::select! {
            packet = client.receive() => {
                let Some(packet) = packet else {
                    let _ = events.send(said("closed", json!({ "reason": "the broker closed the connection" }))).await;
                    return;
                };
                let event = match packet {
                    Packet::ConnAck(ack) if ack.reason != ReasonCode::Success => {
                        said("closed", json!({ "reason": format!("CONNACK {}", ack.reason) }))
                    }
                    Packet::SubAck(ack) => said("subscribed", json!({
                        "clientId": client_id,
                        "filter": filter.to_string(),
                        "reason": ack.reasons.first().map(|r| r.to_string()),
                        "granted": ack.reasons.first().is_some_and(|r| !r.is_error()),
                    })),
                    Packet::Publish(publish) => {
                        if let Some(id) = publish.delivery.packet_id()
                            && client.send(&Packet::PubAck(PubAck::new(id))).await.is_err()
                        {
                            return;
                        }
                        let payload = &publish.payload;
                        let mut message = json!({
                            "topic": publish.topic.to_string(),
                            "qos": publish.delivery.qos() as u8,
                            "retain": publish.retain,
                            "bytes": payload.len(),
                        });
                        if let serde_json::Value::Object(map) = &mut message {
                            match std::str::from_utf8(payload) {
                                Ok(text) => map.insert("payload".to_owned(), text.into()),
                                Err(_) => map.insert(
                                    "payloadBase64".to_owned(),
                                    base64::engine::general_purpose::STANDARD.encode(payload).into(),
                                ),
                            };
                        }
                        said("message", message)
                    }
                    Packet::Disconnect(d) => {
                        let _ = events.send(said("closed", json!({ "reason": format!("DISCONNECT {}", d.reason) }))).await;
                        return;
                    }
                    _ => continue,
                };
                if events.send(event).await.is_err() {
                    break;
                }
            }
            _ = ping.tick() => {
                if client.send(&Packet::PingReq).await.is_err() {
                    return;
                }
            }
            () = events.closed() => break,
        }
    }
    let _ = client
        .send(&Packet::Disconnect(Disconnect::new(ReasonCode::Success)))
        .await;
}

/// The client's end of the memory pipe.
struct Pipe {
    stream: DuplexStream,
    decoder: Decoder,
    rx: BytesMut,
}

impl Pipe {
    async fn send(&mut self, packet: &Packet) -> Result<(), ()> {
        let mut out = BytesMut::new();
        packet.encode(Protocol::V5, &mut out).map_err(|_| ())?;
        self.stream.write_all(&out).await.map_err(|_| ())
    }

    async fn receive(&mut self) -> Option<Packet> {
        loop {
            match self.decoder.decode(&mut self.rx) {
                Ok(Some(packet)) => return Some(packet),
                Ok(None) => {}
                Err(_) => return None,
            }
            if self.stream.read_buf(&mut self.rx).await.ok()? == 0 {
                return None;
            }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct PresignRequest {
    /// The host name the page was loaded from (the WebSocket goes to the same host).
    host: String,
}

/// `POST /console/api/mqtt/presign {"host": H}`: a `wss://H:PORT/mqtt?X-Amz-...` URL presigned
/// with the caller's credential for service `iotdevicegateway`, valid five minutes.
pub(crate) async fn presign(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let caller = match allowed(&console, &Method::POST, &headers) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    let Some(wss) = console.wss.get().copied().flatten() else {
        return error(
            StatusCode::NOT_FOUND,
            "the WebSocket listener is not enabled (tether serve --wss ADDR): use the \
             server-sent event stream",
        );
    };
    let Ok(request) = serde_json::from_slice::<PresignRequest>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body must be JSON with host");
    };
    let host = request.host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return error(
            StatusCode::BAD_REQUEST,
            "host must be a host name or address",
        );
    }
    let host = if host.contains(':') {
        format!("[{host}]:{}", wss.port())
    } else {
        format!("{host}:{}", wss.port())
    };
    let key = sigv4::SigningKey::new(
        &caller.access_key_id,
        &caller.secret,
        &console.region,
        "iotdevicegateway",
    );
    match sigv4::presign_url(
        &key,
        "GET",
        &host,
        "/mqtt",
        PRESIGN_EXPIRES,
        SystemTime::now(),
    ) {
        Ok(target) => json_ok(&json!({ "url": format!("wss://{host}{target}") })),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
