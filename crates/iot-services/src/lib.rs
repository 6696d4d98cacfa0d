//! tether's services layer: every AWS IoT feature that is a request on a reserved topic or an
//! HTTP route, answered on accepted/rejected topics or in an HTTP body. Each service is written
//! once, as functions over the store that take a typed request and return what to publish
//! ([`Output`]); the server's thin adapters decode the MQTT and HTTP forms into those requests.
//! Nothing here opens a socket, reads a clock or decides authorization: the broker authorizes
//! every request publish and every delivery of what a service publishes, as for any client.

pub mod jobs;
pub mod lifecycle;
mod output;
pub mod provisioning;
pub mod registry_events;
pub mod rules;
mod service;
pub mod shadow;

pub use output::{MessageHeaders, OutMessage, Output};
pub use service::{
    Handled, JOBS, PROVISIONING, RULES, Request, Route, SHADOW, Services, ServicesConfig, routes,
};
