//! A SigV4-signing client for tether's AWS-compatible API: plain HTTP to a local tether, not a
//! general AWS client. A [`Call`] names the signing service (`iot`, `iotdata` or
//! `iotdevicegateway`, `iot-jobs-data`), the method, the path labels (encoded here as the SDKs
//! encode them), query, headers and JSON body; [`Client::call`] signs it with `sigv4` and returns
//! the JSON answer or a typed [`AwsError`]. `https://` endpoints (AWS's own) go through
//! OpenSSL (`https.rs`). It does no retries and no endpoint discovery.

mod https;

use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use clap::Args;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use sigv4::SigningKey;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector as _, TcpConnector};

/// What the SDKs leave unencoded in URI labels and query values.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An AWS error answer, kept typed so callers can react to one exception.
#[derive(Debug)]
pub struct AwsError {
    /// The call, e.g. `POST /things/x`.
    pub operation: String,
    /// HTTP status.
    pub status: u16,
    /// Exception name from `x-amzn-ErrorType` (or `__type`), else `HTTP <status>`.
    pub kind: String,
    /// The answer's `message`, else its body as text.
    pub message: String,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} failed with {} (HTTP {}): {}",
            self.operation, self.kind, self.status, self.message
        )
    }
}

impl std::error::Error for AwsError {}

/// Whether `e` is an [`AwsError`] with exception name `kind`.
pub fn is_aws_error(e: &anyhow::Error, kind: &str) -> bool {
    e.downcast_ref::<AwsError>().is_some_and(|a| a.kind == kind)
}

/// One API call: signing service, method, path labels (encoded here), query, extra headers,
/// JSON body.
#[derive(Debug)]
pub struct Call {
    service: &'static str,
    method: &'static str,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Call {
    /// A call signed for `service` to the path made of `labels`, each percent-encoded as one
    /// segment (so `a/b` stays one label).
    pub fn new(service: &'static str, method: &'static str, labels: &[&str]) -> Call {
        let path: String = labels
            .iter()
            .map(|l| format!("/{}", utf8_percent_encode(l, UNRESERVED)))
            .collect();
        Call {
            service,
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A control-plane call (signing name `iot`).
    pub fn iot(method: &'static str, labels: &[&str]) -> Call {
        Call::new("iot", method, labels)
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: &str) -> Call {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a header (signed like every other).
    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: Value) -> Call {
        self.body = body.to_string().into_bytes();
        self.headers
            .push(("content-type".to_owned(), "application/json".to_owned()));
        self
    }

    fn path_and_query(&self) -> String {
        let mut query = self.query.clone();
        query.sort();
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, UNRESERVED),
                    utf8_percent_encode(v, UNRESERVED)
                )
            })
            .collect();
        if query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, query.join("&"))
        }
    }

    /// The operation's name for messages, e.g. `POST /things/x`.
    fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Where tether serve's API is and which region to sign for: the flags every API subcommand
/// takes, with the AWS CLI's environment variables as defaults.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// The API of tether serve [default: $AWS_ENDPOINT_URL_IOT, $AWS_ENDPOINT_URL, else
    /// http://127.0.0.1:4580]. Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
    /// else the loopback-only development credential test/test.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Region to sign for [default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1].
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Sign with this profile of the AWS shared credentials file
    /// ($AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials) [default: $AWS_PROFILE when set;
    /// without either, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the development credential].
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
}

/// Where `tether serve` puts its API unless told otherwise.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4580";

impl ApiArgs {
    /// The endpoint and region these flags (or the environment) name.
    pub fn endpoint(&self) -> Endpoint {
        let url = self
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_IOT").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let region = self
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".to_owned());
        Endpoint {
            url,
            explicit: self.endpoint_url.is_some(),
            region,
        }
    }

    /// A client for the API these flags (or the environment) name.
    pub fn client(&self) -> Result<Client> {
        let endpoint = self.endpoint();
        let mut client = Client::new(&endpoint.url, endpoint.region)?;
        let profile = self
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
        if let Some(profile) = profile {
            client.credentials = Credentials::from_profile(&profile)?;
        }
        Ok(client)
    }
}

/// The API endpoint as the user gave it, for commands printed back to them.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The API's URL.
    pub url: String,
    /// Given with --endpoint-url (else from the environment or the default).
    pub explicit: bool,
    /// The region the calls are signed for.
    pub region: String,
}

impl Endpoint {
    /// `--endpoint-url URL ` when a printed `tether` command needs it to reach this API.
    pub fn flag(&self) -> String {
        if self.explicit || self.url != DEFAULT_ENDPOINT {
            format!("--endpoint-url {} ", self.url)
        } else {
            String::new()
        }
    }
}

/// The credential a [`Client`] signs with.
#[derive(Debug, Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl Credentials {
    /// The loopback-only development credential every `tether serve` accepts.
    pub fn development() -> Credentials {
        Credentials {
            access_key_id: sigv4::DEV_ACCESS_KEY_ID.to_owned(),
            secret_access_key: sigv4::DEV_SECRET_ACCESS_KEY.to_owned(),
            session_token: None,
        }
    }

    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), else the
    /// development credential.
    fn from_environment() -> Credentials {
        match (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Ok(k), Ok(s)) if !k.is_empty() => Credentials {
                access_key_id: k,
                secret_access_key: s,
                session_token: std::env::var("AWS_SESSION_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty()),
            },
            _ => Credentials::development(),
        }
    }

    /// Profile `name` of the shared credentials file, read as the AWS CLI reads it
    /// (`[name]` sections, `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`).
    fn from_profile(name: &str) -> Result<Credentials> {
        let path = match std::env::var_os("AWS_SHARED_CREDENTIALS_FILE") {
            Some(path) => std::path::PathBuf::from(path),
            None => std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".aws/credentials"),
        };
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "--profile {name}: cannot read the shared credentials file {}; create it with \
                 `aws configure --profile {name}` or set AWS_SHARED_CREDENTIALS_FILE",
                path.display()
            )
        })?;
        parse_profile(&text, name).with_context(|| {
            format!(
                "--profile {name}: {} has no [{name}] section with aws_access_key_id and \
                 aws_secret_access_key",
                path.display()
            )
        })
    }
}

/// The credential of profile `name` in a shared credentials file's text.
fn parse_profile(text: &str, name: &str) -> Option<Credentials> {
    let mut section = None;
    let (mut key, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(header.trim().to_owned());
            continue;
        }
        if section.as_deref() != Some(name) {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let value = Some(v.trim().to_owned());
            match k.trim() {
                "aws_access_key_id" => key = value,
                "aws_secret_access_key" => secret = value,
                "aws_session_token" => token = value,
                _ => {}
            }
        }
    }
    Some(Credentials {
        access_key_id: key?,
        secret_access_key: secret?,
        session_token: token,
    })
}

/// A SigV4-signing HTTP client for the tether API. Credentials come from
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else the loopback-only development credential.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    host: String,
    credentials: Credentials,
    region: String,
}

impl Client {
    /// A client of the API at `endpoint` (`http://HOST:PORT`) signing for `region`.
    pub fn new(endpoint: &str, region: String) -> Result<Client> {
        let (scheme, rest) = if let Some(rest) = endpoint.strip_prefix("http://") {
            ("http", rest)
        } else if let Some(rest) = endpoint.strip_prefix("https://") {
            ("https", rest)
        } else {
            bail!(
                "endpoint {endpoint} is neither http:// nor https://; a local tether serve's API \
                 is http://HOST:PORT (its ready line shows api=http://…), AWS's is \
                 https://iot.REGION.amazonaws.com"
            );
        };
        let host = rest.trim_end_matches('/').to_owned();
        if host.is_empty() || host.contains('/') {
            bail!("endpoint {endpoint} must be {scheme}://HOST[:PORT] with no path");
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build();
        let tls = https::OpensslConnector::new()
            .context("cannot set up OpenSSL for https:// endpoints")?;
        let agent = ureq::Agent::with_parts(
            config,
            TcpConnector::default().chain(tls),
            DefaultResolver::default(),
        );
        Ok(Client {
            agent,
            base: format!("{scheme}://{host}"),
            host,
            credentials: Credentials::from_environment(),
            region,
        })
    }

    /// This client, signing with `credentials` instead.
    pub fn with_credentials(mut self, credentials: Credentials) -> Client {
        self.credentials = credentials;
        self
    }

    /// The API's base URL, for messages.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Makes a signed call and returns its JSON answer (`{}` for an empty one).
    pub fn call(&self, call: Call) -> Result<Value> {
        let (status, headers, body) = self.send(&call)?;
        if !(200..300).contains(&status) {
            return Err(aws_error(&call, status, &headers, &body).into());
        }
        if body.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(&body)
            .with_context(|| format!("{}: the answer is not JSON", call.describe()))
    }

    /// A signed GET of a tether extension path that answers raw bytes (the root CA).
    pub fn raw_get(&self, path: &str) -> Result<Vec<u8>> {
        let call = Call {
            path: path.to_owned(),
            ..Call::iot("GET", &[])
        };
        let (status, headers, body) = self.send(&call)?;
        if status != 200 {
            return Err(aws_error(&call, status, &headers, &body).into());
        }
        Ok(body)
    }

    /// DescribeEndpoint's host and tether's mqtts port (8883 when not reported).
    pub fn endpoint(&self) -> Result<(String, u16)> {
        let call = Call::iot("GET", &["endpoint"]).query("endpointType", "iot:Data-ATS");
        let (status, headers, body) = self.send(&call)?;
        if status != 200 {
            return Err(aws_error(&call, status, &headers, &body).into());
        }
        let answer: Value = serde_json::from_slice(&body).context("DescribeEndpoint answer")?;
        let host = answer
            .get("endpointAddress")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("the API's answer lacks endpointAddress: {answer}"))?;
        let port = headers
            .get("x-tether-mqtts-port")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(8883);
        Ok((host, port))
    }

    /// The request target and every header to send (`host`, the call's, the signature's).
    fn signed(&self, call: &Call, time: SystemTime) -> Result<(String, Vec<(String, String)>)> {
        let path_and_query = call.path_and_query();
        let mut headers = vec![("host".to_owned(), self.host.clone())];
        headers.extend(call.headers.iter().cloned());
        let mut key = SigningKey::new(
            &self.credentials.access_key_id,
            &self.credentials.secret_access_key,
            &self.region,
            call.service,
        );
        key.session_token = self.credentials.session_token.as_deref();
        let signed = sigv4::sign_request(
            &key,
            call.method,
            &path_and_query,
            &headers,
            &call.body,
            time,
        )
        .map_err(|e| anyhow::anyhow!("cannot sign {}: {e}", call.describe()))?;
        headers.extend(signed);
        Ok((path_and_query, headers))
    }

    fn send(&self, call: &Call) -> Result<(u16, ureq::http::HeaderMap, Vec<u8>)> {
        let (path_and_query, headers) = self.signed(call, SystemTime::now())?;
        let mut request = ureq::http::Request::builder()
            .method(call.method)
            .uri(format!("{}{path_and_query}", self.base));
        for (k, v) in &headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let request = request
            .body(call.body.clone())
            .with_context(|| format!("cannot build {}", call.describe()))?;
        let mut response = self.agent.run(request).with_context(|| {
            format!(
                "cannot reach the API at {} ({}); for a local tether serve, is it running? Its \
                 ready line shows api=http://…; pass that as --endpoint-url",
                self.base,
                call.describe()
            )
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .body_mut()
            .read_to_vec()
            .with_context(|| format!("{}: reading the answer failed", call.describe()))?;
        Ok((status, headers, body))
    }
}

fn aws_error(call: &Call, status: u16, headers: &ureq::http::HeaderMap, body: &[u8]) -> AwsError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = parsed
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let kind = headers
        .get("x-amzn-ErrorType")
        .and_then(|v| v.to_str().ok())
        .or_else(|| parsed.get("__type").and_then(Value::as_str))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP {status}"));
    AwsError {
        operation: call.describe(),
        status,
        kind,
        message,
    }
}

#[cfg(test)]
mod tests {
    use ureq::http::{HeaderMap, HeaderName, HeaderValue};

    use super::*;

    #[test]
    fn labels_and_query_values_are_encoded_like_the_sdks() {
        let call = Call::iot("POST", &["attached-policies", "arn:aws:iot:r:1:cert/ab"])
            .query("b", "x y")
            .query("a", "1");
        assert_eq!(
            call.path_and_query(),
            "/attached-policies/arn%3Aaws%3Aiot%3Ar%3A1%3Acert%2Fab?a=1&b=x%20y"
        );
    }

    #[test]
    fn a_profile_is_read_from_its_own_section() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n\
                    [prod]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token=E\n";
        let prod = parse_profile(text, "prod").unwrap();
        assert_eq!(
            (prod.access_key_id.as_str(), prod.secret_access_key.as_str()),
            ("C", "D")
        );
        assert_eq!(prod.session_token.as_deref(), Some("E"));
        assert_eq!(parse_profile(text, "default").unwrap().access_key_id, "A");
        assert!(parse_profile(text, "missing").is_none());
    }

    #[test]
    fn http_and_https_endpoints_are_accepted() {
        assert!(Client::new("http://127.0.0.1:4580", "us-east-1".into()).is_ok());
        assert!(Client::new("https://iot.us-east-1.amazonaws.com", "us-east-1".into()).is_ok());
        assert!(Client::new("ftp://127.0.0.1:4580", "us-east-1".into()).is_err());
        assert!(Client::new("http://127.0.0.1:4580/x", "us-east-1".into()).is_err());
    }

    #[test]
    fn calls_are_signed_for_their_service_so_tethers_verifier_accepts_them() {
        let mut client = Client::new("http://127.0.0.1:4580", "eu-west-1".into()).unwrap();
        // The environment may hold real credentials; this test signs with the dev credential.
        client.credentials = Credentials::development();
        let verifier = sigv4::Verifier::new(Vec::new(), Some("127.0.0.1:4580".parse().unwrap()));
        for service in sigv4::SIGNING_NAMES {
            let call = Call::new(service, "POST", &["topics", "a/b"])
                .query("qos", "1")
                .json(json!({ "x": 1 }));
            let now = SystemTime::now();
            let (path_and_query, headers) = client.signed(&call, now).unwrap();
            let mut received = HeaderMap::new();
            for (k, v) in &headers {
                received.append(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            let caller = verifier
                .verify(call.method, &path_and_query, &received, &call.body, now)
                .unwrap();
            assert_eq!(caller.service, service);
            assert_eq!(caller.region, "eu-west-1");
        }
    }
}
