//! Who may use the console. On a loopback API listener it opens directly, as the development
//! credential does (the request's `Host` must name a loopback address too, so a page on another
//! site cannot reach it by DNS rebinding); elsewhere a login exchanges one of the API's access
//! keys and its secret for a session cookie (`HttpOnly`, `SameSite=Strict`, path `/console`,
//! twelve hours). Every request that changes something (and every AWS operation, `mod.rs`)
//! must carry the caller's CSRF token in `X-Tether-Csrf` — a header another site's page cannot
//! set without a CORS preflight this server never grants — and, when the browser sends
//! `Origin`, come from the console's own origin. It decides nothing about what a caller may do once in: the console acts with the
//! authority of the API credential, as the AWS CLI does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{Console, error, json_ok};

/// The session cookie's name.
const COOKIE: &str = "tether_console";

/// The header that carries the CSRF token on writes.
pub(crate) const CSRF_HEADER: &str = "x-tether-csrf";

/// How long a login lasts.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Logins kept at once; the oldest goes first beyond it.
const MAX_SESSIONS: usize = 256;

/// A caller the gate let in.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The access key it acts as (`test`, the development credential, on loopback).
    pub(crate) access_key_id: String,
    /// Its secret (presigning the test client's WebSocket URL).
    pub(crate) secret: String,
    /// The token its writes carry.
    pub(crate) csrf: String,
}

#[derive(Debug)]
struct Session {
    caller: Caller,
    expires: Instant,
}

/// The console's door.
#[derive(Debug)]
pub(crate) struct Gate {
    loopback: bool,
    credentials: Vec<(String, String)>,
    /// The CSRF token of loopback callers (one per server run).
    loopback_csrf: String,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Gate {
    /// A gate for an API listener that is (or is not) on loopback, accepting `credentials`.
    pub(crate) fn new(loopback: bool, credentials: Vec<(String, String)>) -> Gate {
        Gate {
            loopback,
            credentials,
            loopback_csrf: random_token(),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the console opens without a login.
    pub(crate) fn loopback(&self) -> bool {
        self.loopback
    }

    /// The caller of a request with these headers, if the gate lets it in.
    pub(crate) fn caller(&self, headers: &HeaderMap) -> Option<Caller> {
        if self.loopback {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            return host.is_some_and(is_loopback_host).then(|| Caller {
                access_key_id: "test".to_owned(),
                secret: "test".to_owned(),
                csrf: self.loopback_csrf.clone(),
            });
        }
        let token = cookie(headers, COOKIE)?;
        let mut sessions = self.sessions.lock().ok()?;
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.get(token).map(|s| s.caller.clone())
    }

    /// The caller, when it may make this request: reads need a caller, writes its CSRF token
    /// and, when the browser names one, the console's own origin.
    pub(crate) fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<Caller, Box<Response>> {
        let Some(caller) = self.caller(headers) else {
            return Err(Box::new(error(
                StatusCode::UNAUTHORIZED,
                "log in to the console with an API access key and secret (the API listener is \
                 not on loopback)",
            )));
        };
        if matches!(*method, Method::GET | Method::HEAD) {
            return Ok(caller);
        }
        let token = headers.get(CSRF_HEADER).and_then(|h| h.to_str().ok());
        let token_ok = token.is_some_and(|t| {
            t.len() == caller.csrf.len()
                && openssl::memcmp::eq(t.as_bytes(), caller.csrf.as_bytes())
        });
        if !token_ok {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                "this change lacks the console's X-Tether-Csrf token: reload the console page",
            )));
        }
        if !same_origin(headers) {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                "this change comes from a page of another origin than the console's",
            )));
        }
        Ok(caller)
    }

    /// A new session for a valid access key and secret.
    fn login(&self, access_key_id: &str, secret: &str) -> Option<(String, Caller)> {
        let known = self
            .credentials
            .iter()
            .find(|(key, _)| key == access_key_id)?;
        let matches = known.1.len() == secret.len()
            && openssl::memcmp::eq(known.1.as_bytes(), secret.as_bytes());
        if !matches {
            return None;
        }
        let caller = Caller {
            access_key_id: access_key_id.to_owned(),
            secret: secret.to_owned(),
            csrf: random_token(),
        };
        let token = random_token();
        let mut sessions = self.sessions.lock().ok()?;
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            token.clone(),
            Session {
                caller: caller.clone(),
                expires: Instant::now() + SESSION_LIFETIME,
            },
        );
        Some((token, caller))
    }

    fn logout(&self, headers: &HeaderMap) {
        if let (Some(token), Ok(mut sessions)) = (cookie(headers, COOKIE), self.sessions.lock()) {
            sessions.remove(token);
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Login {
    access_key_id: String,
    secret_access_key: String,
}

/// `POST /console/api/login`: an access key and secret for a session cookie.
pub(crate) async fn login(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if console.gate.loopback() {
        return json_ok(&json!({ "loopback": true }));
    }
    if !same_origin(&headers) {
        return error(
            StatusCode::FORBIDDEN,
            "a login must come from the console's own page",
        );
    }
    let Ok(form) = serde_json::from_slice::<Login>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the login body must be JSON with accessKeyId and secretAccessKey",
        );
    };
    match console
        .gate
        .login(&form.access_key_id, &form.secret_access_key)
    {
        Some((token, caller)) => {
            let cookie = format!(
                "{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}",
                SESSION_LIFETIME.as_secs()
            );
            let mut response = json_ok(&json!({ "csrf": caller.csrf }));
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        None => {
            tracing::info!(
                access_key_id = %form.access_key_id,
                "console login refused: unknown access key or wrong secret"
            );
            error(
                StatusCode::UNAUTHORIZED,
                "unknown access key or wrong secret: use a pair from the api-credentials of \
                 tether serve's configuration",
            )
        }
    }
}

/// `POST /console/api/logout`: forgets the session and clears the cookie.
pub(crate) async fn logout(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if let Err(refused) = console.gate.check(&Method::POST, &headers) {
        return *refused;
    }
    console.gate.logout(&headers);
    let clear = format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// 32 random bytes in hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        // The OpenSSL RNG does not fail once seeded; a time-derived token is still unguessable
        // enough for a loopback CSRF token and never used for a login (which would fail first).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes
            .iter_mut()
            .zip(nanos.to_le_bytes().iter().cycle())
            .for_each(|(b, n)| *b = *n);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether `Host` names a loopback address (`127.0.0.1:PORT`, `localhost`, `[::1]:PORT`).
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// False when the browser names an `Origin` whose host is not the request's `Host`.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn loopback_opens_for_loopback_hosts_only() {
        let gate = Gate::new(true, Vec::new());
        assert!(
            gate.caller(&headers(&[("host", "127.0.0.1:9000")]))
                .is_some()
        );
        assert!(
            gate.caller(&headers(&[("host", "localhost:9000")]))
                .is_some()
        );
        assert!(gate.caller(&headers(&[("host", "[::1]:9000")])).is_some());
        assert!(
            gate.caller(&headers(&[("host", "evil.example:9000")]))
                .is_none()
        );
        assert!(gate.caller(&headers(&[])).is_none());
    }

    #[test]
    fn writes_need_the_csrf_token_and_the_same_origin() {
        let gate = Gate::new(true, Vec::new());
        let host = ("host", "127.0.0.1:9000");
        let csrf = gate.caller(&headers(&[host])).unwrap().csrf;
        assert!(gate.check(&Method::GET, &headers(&[host])).is_ok());
        let refused = gate.check(&Method::POST, &headers(&[host])).unwrap_err();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(
            gate.check(&Method::POST, &headers(&[host, (CSRF_HEADER, &csrf)]))
                .is_ok()
        );
        let foreign = ("origin", "http://evil.example");
        assert!(
            gate.check(
                &Method::POST,
                &headers(&[host, (CSRF_HEADER, &csrf), foreign])
            )
            .is_err()
        );
        let own = ("origin", "http://127.0.0.1:9000");
        assert!(
            gate.check(&Method::POST, &headers(&[host, (CSRF_HEADER, &csrf), own]))
                .is_ok()
        );
    }

    #[test]
    fn elsewhere_a_login_gives_a_session_cookie() {
        let gate = Gate::new(false, vec![("AKID".into(), "s3cret".into())]);
        assert!(gate.login("AKID", "wrong").is_none());
        assert!(gate.login("OTHER", "s3cret").is_none());
        let (token, caller) = gate.login("AKID", "s3cret").unwrap();
        let cookie = format!("a=b; {COOKIE}={token}");
        let with_cookie = headers(&[("host", "10.0.0.1:9000"), ("cookie", &cookie)]);
        assert_eq!(gate.caller(&with_cookie).unwrap().access_key_id, "AKID");
        assert!(
            gate.caller(&headers(&[("host", "127.0.0.1:9000")]))
                .is_none()
        );
        assert!(
            gate.check(&Method::POST, &with_cookie)
                .is_err_and(|r| r.status() == StatusCode::FORBIDDEN)
        );
        let mut writing = with_cookie.clone();
        writing.insert(CSRF_HEADER, HeaderValue::from_str(&caller.csrf).unwrap());
        assert!(gate.check(&Method::POST, &writing).is_ok());
        gate.logout(&with_cookie);
        assert!(gate.caller(&with_cookie).is_none());
    }
}
