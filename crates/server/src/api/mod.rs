//! The AWS-compatible HTTP API: the `iot` control plane (registry: things, thing types, static
//! thing groups, certificates, CA certificates, policies, attachments, custom authorizers;
//! DescribeEndpoint; fleet provisioning templates, claims and RegisterThing; Jobs; topic rules
//! and their destinations) and the `iot-data` data plane (Publish, retained messages, Device
//! Shadows, DeleteConnection) and the `iot-jobs-data` device plane, wire-compatible with
//! botocore's restJson1 models so the AWS CLI, boto3 and Terraform work with `--endpoint-url`.
//! Every request is SigV4-verified first (but a topic rule destination's unsigned `enableUrl`).
//! Registry operations run on the API's own store connection (the store enforces AWS's rules);
//! data-plane publishes go to the router as a command, like any other client of the broker;
//! shadow, Jobs, provisioning and topic rule operations run on the services worker, like their
//! MQTT form (Jobs' device plane, `iot-jobs-data`, shares the control plane's paths and is told
//! apart by the signature's service name). It does not enforce IoT policies on API callers (AWS
//! checks IAM there, not IoT policies) and serves no dynamic thing groups.

mod attachments;
mod authorizers;
mod ca_certificates;
mod certificates;
mod connections;
mod data;
mod endpoint;
pub mod error;
mod events;
mod jobs;
mod jobs_data;
mod policies;
mod provisioning;
mod routes;
mod rules;
mod shadows;
mod thing_groups;
mod thing_types;
mod things;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::Request as HttpRequest;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use broker_core::Limits;
use pki::CertificateAuthority;
use serde_json::{Map, Value};
use sigv4::Verifier;
use store::{Order, PageRequest, Store};
use tokio::sync::mpsc;

use crate::mqtt::router::Command;
use crate::services;
pub use error::ApiError;
pub use routes::{Operation, operations};

/// Largest request body read (policy documents may be up to 400 KB; publishes 128 KB).
const MAX_BODY: usize = 1024 * 1024;

/// What the API needs from the server's configuration.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Account id in ARNs.
    pub account_id: String,
    /// Region in ARNs.
    pub region: String,
    /// Access key id and secret pairs accepted besides the dev credential.
    pub credentials: Vec<(String, String)>,
    /// The API listener's address (the dev credential needs a loopback one).
    pub listener: Option<SocketAddr>,
    /// Host name DescribeEndpoint returns for every endpoint type.
    pub endpoint_host: String,
    /// Port of the mutual-TLS MQTT listener, reported as a tether extension header.
    pub mqtts_port: Option<u16>,
    /// Broker limits (payload and topic sizes) applied to data-plane publishes.
    pub limits: Limits,
    /// The SQLite database of the data directory.
    pub database: PathBuf,
    /// How long after its deprecation a thing type may be deleted (AWS: five minutes).
    pub thing_type_delete_delay: std::time::Duration,
    /// Custom authorizers' functions (TestInvokeAuthorizer calls them).
    pub authorizers: Arc<crate::authorizer::Authorizers>,
}

/// The host DescribeEndpoint answers: the first DNS name among the server certificates' extra
/// host names (so TLS verification succeeds), else `localhost`.
pub fn endpoint_host(hostnames: &[String]) -> String {
    hostnames
        .iter()
        .find(|h| h.parse::<std::net::IpAddr>().is_err())
        .cloned()
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The API's state: its own store connection, the local CA that issues certificates, and the
/// router's command channel.
pub struct Api {
    config: ApiConfig,
    arns: Arns,
    store: Mutex<Store>,
    ca: CertificateAuthority,
    router: mpsc::Sender<Command>,
    /// The services worker (profile `aws`), for the shadow routes.
    services: Option<services::Link>,
    verifier: Verifier,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("config", &self.config)
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// Opens the API's store connection.
    pub fn new(
        config: ApiConfig,
        ca: CertificateAuthority,
        router: mpsc::Sender<Command>,
        services: Option<services::Link>,
    ) -> Result<Api, store::StoreError> {
        let store = Store::open(&config.database)?;
        let verifier = Verifier::new(config.credentials.clone(), config.listener);
        if !verifier.accepts_dev_credential() && config.credentials.is_empty() {
            tracing::warn!(
                "the API listens on a non-loopback address and no API credentials are \
                 configured: every API request will be refused (the dev credential test/test \
                 works on loopback only)"
            );
        }
        Ok(Api {
            arns: Arns {
                region: config.region.clone(),
                account: config.account_id.clone(),
            },
            config,
            store: Mutex::new(store),
            ca,
            router,
            services,
            verifier,
        })
    }

    /// Runs one registry operation on the API's store connection; a registry error becomes
    /// AWS's error for it (names and ARNs of this account).
    fn registry<T>(
        &self,
        operation: impl FnOnce(&mut Store) -> Result<T, store::StoreError>,
    ) -> Result<T, ApiError> {
        let mut store = self
            .store
            .lock()
            .map_err(|_| ApiError::internal("the API's store lock is poisoned"))?;
        operation(&mut store).map_err(|e| ApiError::from_store(e, &self.arns))
    }
}

/// ARNs of this account and region.
#[derive(Debug, Clone)]
pub struct Arns {
    /// Region.
    pub region: String,
    /// Account id.
    pub account: String,
}

impl Arns {
    pub(crate) fn arn(&self, resource: &str) -> String {
        format!("arn:aws:iot:{}:{}:{resource}", self.region, self.account)
    }

    /// `…:thing/NAME`.
    pub fn thing(&self, name: &str) -> String {
        self.arn(&format!("thing/{name}"))
    }

    /// `…:cert/ID`.
    pub fn cert(&self, id: &str) -> String {
        self.arn(&format!("cert/{id}"))
    }

    /// `…:cacert/ID`.
    pub fn cacert(&self, id: &str) -> String {
        self.arn(&format!("cacert/{id}"))
    }

    /// `…:policy/NAME`.
    pub fn policy(&self, name: &str) -> String {
        self.arn(&format!("policy/{name}"))
    }

    /// `…:thinggroup/NAME`.
    pub fn thing_group(&self, name: &str) -> String {
        self.arn(&format!("thinggroup/{name}"))
    }

    /// `…:thingtype/NAME`.
    pub fn thing_type(&self, name: &str) -> String {
        self.arn(&format!("thingtype/{name}"))
    }
}

/// One API request after signature verification: decoded path segments, query, headers, body.
#[derive(Debug)]
pub(crate) struct Request {
    /// The signing name of the signature (`iot`, `iotdata`, `iot-jobs-data`, ...).
    service: String,
    method: Method,
    path: String,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
}

impl Request {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn query_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.query(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid_request(format!(
                "query parameter {name} must be true or false, not {other:?}"
            ))),
        }
    }

    fn query_int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.query(name) else {
            return Ok(None);
        };
        match text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::invalid_request(format!(
                "query parameter {name} must be an integer from {min} to {max}, not {text:?}"
            ))),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn required_header(&self, name: &str) -> Result<&str, ApiError> {
        self.header(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::invalid_request(format!("the {name} header is required")))
    }

    /// The JSON body as an object; an empty body is `{}`.
    fn json(&self) -> Result<Map<String, Value>, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(ApiError::invalid_request(
                "the request body must be a JSON object",
            )),
            Err(e) => Err(ApiError::invalid_request(format!(
                "the request body is not valid JSON: {e}"
            ))),
        }
    }

    /// A page request from `token_param` and `size_param`, sizes from 1 to `max` (default `max`).
    fn page(
        &self,
        token_param: &str,
        size_param: &str,
        max: i64,
        order: Order,
    ) -> Result<PageRequest, ApiError> {
        let size = self.query_int(size_param, 1, max)?.unwrap_or(max);
        Ok(PageRequest {
            token: self.query(token_param).map(str::to_owned),
            size: usize::try_from(size).unwrap_or(1),
            order,
        })
    }
}

/// A string member of a JSON body.
fn str_member<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid_request(format!(
            "member {name} must be a string"
        ))),
    }
}

fn required_str<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    str_member(body, name)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid_request(format!("member {name} is required")))
}

/// A string→string map member (thing attributes).
fn string_map(value: &Value, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let Value::Object(map) = value else {
        return Err(ApiError::invalid_request(format!(
            "{name} must be an object of strings"
        )));
    };
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(ApiError::invalid_request(format!(
                "{name}.{k} must be a string"
            ))),
        })
        .collect()
}

/// Epoch seconds with a fractional part, as AWS's JSON timestamps are.
fn timestamp(ms: i64) -> Value {
    // Millisecond precision fits an f64 exactly for any realistic date.
    #[allow(clippy::cast_precision_loss)]
    let secs = ms as f64 / 1000.0;
    serde_json::Number::from_f64(secs).map_or(Value::Null, Value::Number)
}

fn now_ms() -> i64 {
    crate::clock::system_now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Adds `key: value` when `value` is `Some`.
fn put_opt(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

/// 16 random bytes (thing ids, request ids).
fn random_16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        // The OpenSSL RNG does not fail once seeded; fall back to time so ids stay distinct.
        let t = now_ms().to_le_bytes();
        for (b, t) in bytes.iter_mut().zip(t.iter().cycle()) {
            *b = *t;
        }
    }
    bytes
}

/// What an operation answers: JSON, or a response built by the handler (extension routes).
pub(crate) enum Reply {
    Json(Value),
    Raw(Response),
}

impl From<Value> for Reply {
    fn from(v: Value) -> Reply {
        Reply::Json(v)
    }
}

/// The HTTP entry point: verifies the signature, dispatches, and shapes the answer.
pub async fn handle(api: Arc<Api>, request: HttpRequest) -> Response {
    answer(handle_inner(api, request, None).await)
}

/// The web console's entry: a request the console has already authenticated (loopback, or its
/// session cookie) is answered as if it were signed for the signing name `service` (`iot`,
/// `iotdata`), without a signature. It reaches exactly the routes a signed request reaches.
pub(crate) async fn handle_trusted(api: Arc<Api>, service: &str, request: HttpRequest) -> Response {
    answer(handle_inner(api, request, Some(service)).await)
}

/// The HTTP response of an operation's result, with AWS's request id header.
fn answer(result: Result<Reply, ApiError>) -> Response {
    let request_id = store::thing_id_from_bytes(random_16());
    let mut response = match result {
        Ok(Reply::Json(value)) => json_response(&value),
        Ok(Reply::Raw(response)) => response,
        Err(e) => {
            if e.status.is_server_error() {
                tracing::error!("API: {e}");
            } else {
                tracing::info!("API: {e}");
            }
            e.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-RequestId", value);
    }
    response
}

fn json_response(value: &Value) -> Response {
    let mut response = (StatusCode::OK, value.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn handle_inner(
    api: Arc<Api>,
    request: HttpRequest,
    trusted: Option<&str>,
) -> Result<Reply, ApiError> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::too_large(format!("the request body is larger than {MAX_BODY} bytes"))
    })?;
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let path = parts.uri.path().to_owned();
    // Public extension route: the root CA devices must trust (like LocalStack's CA download).
    if parts.method == Method::GET && path == "/_tether/root-ca.pem" {
        return endpoint::root_ca(&api);
    }
    // A destination's enableUrl is browsed to without a signature: its token is the credential.
    // It is a control plane (`iot`) route.
    let enable_url = parts.method == Method::GET
        && path.starts_with("/confirmdestination/")
        && !parts.headers.contains_key(header::AUTHORIZATION);
    let service = if let Some(service) = trusted {
        service.to_owned()
    } else if enable_url {
        "iot".to_owned()
    } else {
        api.verifier
            .verify(
                parts.method.as_str(),
                &path_and_query,
                &parts.headers,
                &body,
                crate::clock::system_now(),
            )?
            .service
    };
    let request = Request {
        service,
        segments: decode_segments(&path)?,
        query: parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default(),
        method: parts.method,
        path,
        headers: parts.headers,
        body,
    };
    let Some((route, labels)) = routes::find(&request.method, &request.segments, &request.service)
    else {
        return Err(ApiError::unknown_operation(
            request.method.as_str(),
            &request.path,
        ));
    };
    tracing::debug!(
        service = route.service,
        operation = route.operation,
        path = %request.path,
        "API request"
    );
    match route.handler {
        routes::Handler::Blocking(handler) => {
            tokio::task::spawn_blocking(move || handler(&api, &request, &labels))
                .await
                .map_err(ApiError::internal)?
        }
        routes::Handler::Publish => {
            let topic = labels.first().map_or("", String::as_str);
            data::publish(&api, &request, topic).await.map(Reply::from)
        }
        routes::Handler::DeleteConnection => {
            let client_id = labels.first().map_or("", String::as_str);
            connections::delete(&api, &request, client_id)
                .await
                .map(Reply::from)
        }
        routes::Handler::Shadow(op) => shadows::run(&api, &request, op, &labels)
            .await
            .map(Reply::from),
        routes::Handler::Rules(op) => rules::run(&api, &request, op, &labels)
            .await
            .map(Reply::from),
        routes::Handler::Provisioning(op) => provisioning::run(&api, &request, op, &labels)
            .await
            .map(Reply::from),
        routes::Handler::TestInvokeAuthorizer => {
            let name = labels.first().map_or("", String::as_str);
            authorizers::test_invoke(&api, &request, name)
                .await
                .map(Reply::from)
        }
        routes::Handler::Jobs => match jobs::route(&api, &request).await {
            Some(answer) => answer.map(Reply::from),
            None => Err(ApiError::unknown_operation(
                request.method.as_str(),
                &request.path,
            )),
        },
    }
}

/// Splits the path on `/` first, then percent-decodes each segment (labels carry `%2F`).
fn decode_segments(path: &str) -> Result<Vec<String>, ApiError> {
    path.strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| {
                    ApiError::invalid_request(format!(
                        "path segment {segment:?} is not UTF-8 once percent-decoded"
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_split_before_decoding() {
        assert_eq!(
            decode_segments("/topics/a%2Fb%24c").unwrap(),
            vec!["topics", "a/b$c"]
        );
        assert_eq!(
            decode_segments("/attached-policies/arn%3Aaws%3Aiot%3Aus-east-1%3A1%3Acert%2Fab")
                .unwrap(),
            vec!["attached-policies", "arn:aws:iot:us-east-1:1:cert/ab"]
        );
        assert!(decode_segments("/things/%ff").is_err());
    }

    #[test]
    fn arns_follow_the_aws_format() {
        let arns = Arns {
            region: "eu-west-1".into(),
            account: "000000000000".into(),
        };
        assert_eq!(
            arns.thing("t1"),
            "arn:aws:iot:eu-west-1:000000000000:thing/t1"
        );
        assert_eq!(
            arns.cert("ab"),
            "arn:aws:iot:eu-west-1:000000000000:cert/ab"
        );
        assert_eq!(
            arns.policy("p"),
            "arn:aws:iot:eu-west-1:000000000000:policy/p"
        );
    }

    #[test]
    fn timestamps_are_fractional_epoch_seconds() {
        assert_eq!(timestamp(1_678_750_928_997).to_string(), "1678750928.997");
    }
}
