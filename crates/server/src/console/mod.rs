//! The web console at `/console` on the API listener: one page (embedded in the binary, plain ES
//! modules, no CDN) that shows the fleet, the shadows, the traffic and every refusal, and the
//! JSON and event-stream routes it reads. Registry, shadow and Jobs operations go through the AWS
//! API's own route table (`/console/aws/SERVICE/...`, answered by `api::handle_trusted` as if
//! signed), so the console can do nothing the API cannot; what AWS's API has no operation for —
//! sessions and kick, the refusal record with the doctor's advice, a policy evaluation for a
//! certificate, searching 10,000 things, live charts, an MQTT test client without WebSockets —
//! is answered here (`views.rs`, `live.rs`, `tap.rs`). Who may use it is `gate.rs`'s business;
//! the page itself is `assets.rs`. It does not serve on the port-443 or `--wss` listeners.

mod assets;
mod gate;
mod live;
mod tap;
mod views;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};
use store::Store;

use crate::api::Api;
use crate::metrics::Metrics;
use crate::mqtt::Admission;

pub(crate) use gate::Gate;

/// The console's state, shared by its routes.
pub(crate) struct Console {
    /// What reaches the broker and the services worker, until the server shuts down: it is
    /// taken out then, so that a browser holding a connection open cannot keep the services
    /// worker waiting.
    wired: RwLock<Option<Arc<Wired>>>,
    /// The console's own registry connection (search, evaluations), used on the blocking pool.
    store: Mutex<Store>,
    metrics: Arc<Metrics>,
    data_dir: PathBuf,
    gate: Gate,
    /// The `--wss` listener, known once it is bound (after the API listener).
    wss: OnceLock<Option<SocketAddr>>,
    /// The mutual-TLS listener, for the device examples the overview shows.
    mqtts: Option<SocketAddr>,
    region: String,
    account: String,
    live: live::Live,
}

/// What the console reaches while the server runs.
pub(crate) struct Wired {
    /// The AWS API, reached without a signature once the gate lets a request through.
    api: Arc<Api>,
    /// The router and the connection settings, for sessions, kick and the in-process test
    /// client.
    admission: Arc<Admission>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// What the console is built from.
pub(crate) struct Parts {
    pub(crate) api: Api,
    pub(crate) admission: Arc<Admission>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) data_dir: PathBuf,
    pub(crate) database: PathBuf,
    /// The API listener's address: a loopback one opens the console without a login.
    pub(crate) listener: Option<SocketAddr>,
    pub(crate) credentials: Vec<(String, String)>,
    pub(crate) mqtts: Option<SocketAddr>,
    pub(crate) region: String,
    pub(crate) account: String,
}

impl Console {
    /// The console, and its sampler task (overview charts, refusals as they are recorded),
    /// which ends when the console is dropped.
    pub(crate) fn start(parts: Parts) -> Result<Arc<Console>, store::StoreError> {
        let store = Store::open(&parts.database)?;
        let loopback = parts.listener.is_some_and(|a| a.ip().is_loopback());
        let console = Arc::new(Console {
            wired: RwLock::new(Some(Arc::new(Wired {
                api: Arc::new(parts.api),
                admission: parts.admission,
            }))),
            store: Mutex::new(store),
            live: live::Live::new(&parts.data_dir),
            metrics: parts.metrics,
            data_dir: parts.data_dir,
            gate: Gate::new(loopback, parts.credentials),
            wss: OnceLock::new(),
            mqtts: parts.mqtts,
            region: parts.region,
            account: parts.account,
        });
        live::spawn_sampler(Arc::downgrade(&console));
        Ok(console)
    }

    /// The broker and the API, or the answer to give while the server shuts down.
    fn wired(&self) -> Result<Arc<Wired>, Box<Response>> {
        self.wired
            .read()
            .ok()
            .and_then(|w| w.clone())
            .ok_or_else(|| {
                Box::new(error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "tether serve is shutting down",
                ))
            })
    }

    /// The server is shutting down: let go of the broker and the API, and end every event
    /// stream.
    pub(crate) fn close(&self) {
        if let Ok(mut wired) = self.wired.write() {
            *wired = None;
        }
        self.live.close();
    }

    /// Records where the `--wss` listener is (or that there is none).
    pub(crate) fn set_wss(&self, wss: Option<SocketAddr>) {
        let _ = self.wss.set(wss);
    }

    /// Runs `f` on the console's registry connection on the blocking pool.
    async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, String> + Send + 'static,
    ) -> Result<T, Response> {
        let console = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let store = console
                .store
                .lock()
                .map_err(|_| "the console's store lock is poisoned".to_owned())?;
            f(&store)
        })
        .await;
        match joined {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e)),
            Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
        }
    }
}

/// The console's routes, to be merged with the API listener's.
pub(crate) fn routes(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console", get(|| async { redirect("/console/") }))
        .route("/console/", get(assets::index))
        .route("/console/assets/{file}", get(assets::file))
        .route("/console/api/whoami", get(whoami))
        .route("/console/api/login", post(gate::login))
        .route("/console/api/logout", post(gate::logout))
        .route("/console/api/overview", get(live::overview))
        .route("/console/api/events", get(live::events))
        .route("/console/api/things", get(views::things))
        .route("/console/api/sessions", get(views::sessions))
        .route("/console/api/sessions/{client}/kick", post(views::kick))
        .route("/console/api/refusals", get(views::refusals))
        .route("/console/api/evaluate", post(views::evaluate))
        .route("/console/api/mqtt/subscribe", get(tap::subscribe))
        .route("/console/api/mqtt/presign", post(tap::presign))
        .route("/console/aws/{service}/{*rest}", any(aws))
        .with_state(console)
}

/// Who the caller is and what the page needs to know before anything else: whether a login is
/// needed, the token writes must carry, and where the WebSocket listener is.
async fn whoami(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let caller = console.gate.caller(&headers);
    let wss = console.wss.get().copied().flatten();
    json_ok(&json!({
        "authenticated": caller.is_some(),
        "loopback": console.gate.loopback(),
        "accessKeyId": caller.as_ref().map(|c| c.access_key_id.clone()),
        "csrf": caller.as_ref().map(|c| c.csrf.clone()),
        "region": console.region,
        "account": console.account,
        "wssPort": wss.map(|a| a.port()),
        "mqttsPort": console.mqtts.map(|a| a.port()),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// `/console/aws/SERVICE/PATH`: the AWS API's operation at `/PATH`, for signing name SERVICE
/// (`iot` or `iotdata`), without a signature once the gate allows the caller and the request
/// carries its CSRF token.
async fn aws(
    State(console): State<Arc<Console>>,
    Path((service, _rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    // Every AWS operation needs the CSRF token, reads too: a few GETs change something
    // (ConfirmTopicRuleDestination), and on loopback a page of any site may send a GET to
    // 127.0.0.1 with a loopback Host.
    if let Err(refused) = console.gate.check(&Method::POST, request.headers()) {
        return *refused;
    }
    let wired = match console.wired() {
        Ok(wired) => wired,
        Err(response) => return *response,
    };
    if !matches!(service.as_str(), "iot" | "iotdata") {
        return error(
            StatusCode::NOT_FOUND,
            &format!("the console reaches the iot and iotdata APIs, not {service:?}"),
        );
    }
    let (mut parts, body) = request.into_parts();
    let prefix = format!("/console/aws/{service}");
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .strip_prefix(&prefix)
        .unwrap_or("/")
        .to_owned();
    match target.parse::<Uri>() {
        Ok(uri) => parts.uri = uri,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("path {target:?}: {e}")),
    }
    // The console's own cookie is no business of the API's.
    parts.headers.remove(header::COOKIE);
    let request = Request::from_parts(parts, body);
    crate::api::handle_trusted(Arc::clone(&wired.api), &service, request).await
}

fn redirect(to: &'static str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, to)],
        Body::empty(),
    )
        .into_response()
}

/// A JSON answer.
fn json_ok(value: &Value) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        value.to_string(),
    )
        .into_response()
}

/// A JSON error `{"message": ...}` with `status`.
fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// The gate's verdict for a request, as the handlers use it.
fn allowed(
    console: &Console,
    method: &Method,
    headers: &HeaderMap,
) -> Result<gate::Caller, Box<Response>> {
    console.gate.check(method, headers)
}

/// The query string's pairs, percent-decoded.
fn query_pairs(uri: &Uri) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
}
