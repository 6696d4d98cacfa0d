//! The console's page: HTML, CSS and plain ES modules from `console/assets/`, compiled into the
//! binary with `include_str!`, so the console works offline and `cargo build` needs no npm.
//! There is no build step: the files served are the source (docs/console.md says how to change
//! them). Each answer carries a strict Content-Security-Policy: scripts and styles from this
//! origin only, connections to this origin and to `wss:` (the MQTT test client), no frames.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Name, content type, text.
const FILES: &[(&str, &str, &str)] = &[
    ("style.css", "text/css", include_str!("assets/style.css")),
    ("app.js", JS, include_str!("assets/app.js")),
    ("api.js", JS, include_str!("assets/api.js")),
    ("ui.js", JS, include_str!("assets/ui.js")),
    ("charts.js", JS, include_str!("assets/charts.js")),
    ("mqtt-ws.js", JS, include_str!("assets/mqtt-ws.js")),
    ("overview.js", JS, include_str!("assets/overview.js")),
    ("things.js", JS, include_str!("assets/things.js")),
    (
        "certificates.js",
        JS,
        include_str!("assets/certificates.js"),
    ),
    ("policies.js", JS, include_str!("assets/policies.js")),
    ("sessions.js", JS, include_str!("assets/sessions.js")),
    ("refusals.js", JS, include_str!("assets/refusals.js")),
    ("mqtt.js", JS, include_str!("assets/mqtt.js")),
];

const JS: &str = "text/javascript";

const INDEX: &str = include_str!("assets/index.html");

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   connect-src 'self' wss:; img-src 'self' data:; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

/// `GET /console/`: the page.
pub(crate) async fn index() -> Response {
    serve("text/html; charset=utf-8", INDEX)
}

/// `GET /console/assets/NAME`.
pub(crate) async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, text)) => serve(kind, text),
        None => (
            StatusCode::NOT_FOUND,
            format!("the console has no asset {name:?}"),
        )
            .into_response(),
    }
}

fn serve(kind: &'static str, text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module the page imports is served (a renamed file would break the page silently).
    #[test]
    fn every_imported_module_is_served() {
        let mut sources: Vec<&str> = FILES.iter().map(|(_, _, text)| *text).collect();
        sources.push(INDEX);
        for text in sources {
            for line in text.lines() {
                let Some(start) = line
                    .find("from \"./")
                    .or_else(|| line.find("src=\"assets/"))
                else {
                    continue;
                };
                let rest = &line[start..];
                let name = rest
                    .split('"')
                    .nth(1)
                    .unwrap()
                    .trim_start_matches("./")
                    .trim_start_matches("assets/");
                assert!(
                    FILES.iter().any(|(n, _, _)| *n == name),
                    "{name} is imported but not served"
                );
            }
        }
    }
}
