//! The services' common face to the server: which topics each service answers ([`routes`]),
//! a claimed publish as a typed [`Request`], and [`Services`], which dispatches a request to its
//! service inside the caller's store transaction. A new service adds its id, its routes and a
//! dispatch arm here, and its own module beside `shadow/`.

use store::ServiceTx;

use crate::{Output, rules, shadow};

/// The Device Shadow service's id in [`Route::service`] and [`Request::service`].
pub const SHADOW: u16 = 1;

/// The rules engine's id. Its routes are Basic Ingest's (here) and the FROM filters of the
/// enabled rules ([`rules::Engine::filters`], added by the server and replaced when they change).
pub const RULES: u16 = 3;

/// A service's claim on request topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The topic filter claimed.
    pub filter: &'static str,
    /// The service.
    pub service: u16,
    /// Whether subscribers receive the request too (Device Shadow requests: yes, as in AWS).
    pub to_subscribers: bool,
}

/// Every route of every service.
pub fn routes() -> Vec<Route> {
    let mut routes: Vec<Route> = shadow::REQUEST_FILTERS
        .iter()
        .map(|filter| Route {
            filter,
            service: SHADOW,
            to_subscribers: true,
        })
        .collect();
    routes.push(Route {
        filter: rules::BASIC_INGEST_FILTER,
        service: RULES,
        to_subscribers: false,
    });
    routes
}

/// A publish a service claimed, with who sent it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Which service (one of the ids above).
    pub service: u16,
    /// The publishing connection (the server's number); `None` when the server published it.
    pub conn: Option<u64>,
    /// The publisher's client id, when known.
    pub client_id: Option<&'a str>,
    /// The publisher's certificate id, for devices.
    pub principal: Option<&'a str>,
    /// The topic.
    pub topic: &'a str,
    /// The payload.
    pub payload: &'a [u8],
    /// Earlier requests of the same connection still being handled.
    pub in_flight: usize,
    /// Rule republishes behind this message (0 for anything a rule did not publish).
    pub hops: u8,
}

/// Settings of the services.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// Device Shadow document limits.
    pub shadow: shadow::Limits,
    /// Requests one connection may have in flight; beyond them AWS answers 429 (Device Shadow:
    /// "more than 10 in-flight requests on one connection", device-shadow-error-messages.md).
    pub max_in_flight: usize,
    /// The rules engine's account, region, API address and seed.
    pub rules: rules::RulesConfig,
}

impl Default for ServicesConfig {
    fn default() -> ServicesConfig {
        ServicesConfig {
            shadow: shadow::Limits::default(),
            max_in_flight: 10,
            rules: rules::RulesConfig::default(),
        }
    }
}

/// What handling a request produced, and what to publish instead if its transaction cannot
/// be committed (the request's error on its `/rejected` topic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handled {
    /// What to publish once the transaction is committed.
    pub output: Output,
    /// What to publish when it is not.
    pub failure: Output,
}

/// Every service, with its settings.
#[derive(Debug, Default)]
pub struct Services {
    config: ServicesConfig,
    rules: rules::Engine,
}

impl Services {
    /// The services with these settings.
    pub fn new(config: ServicesConfig) -> Services {
        let rules = rules::Engine::new(config.rules.clone());
        Services { config, rules }
    }

    /// The services' settings.
    pub fn config(&self) -> &ServicesConfig {
        &self.config
    }

    /// The rules engine (its rules change through the control plane on the worker).
    pub fn rules(&mut self) -> &mut rules::Engine {
        &mut self.rules
    }

    /// Handles one claimed publish inside `tx`.
    pub fn publish(&mut self, tx: &ServiceTx<'_>, request: &Request<'_>, now_ms: i64) -> Handled {
        match request.service {
            SHADOW => {
                let limits = &self.config.shadow;
                Handled {
                    output: shadow::handle_publish(
                        tx,
                        request.topic,
                        request.payload,
                        request.in_flight >= self.config.max_in_flight,
                        limits,
                        now_ms,
                    ),
                    failure: shadow::failed(request.topic, request.payload, limits, now_ms)
                        .unwrap_or_default(),
                }
            }
            RULES => {
                // Rules change nothing in the store: what they publish goes out whether or not
                // the batch commits.
                let output = self.rules.publish(tx, request, now_ms);
                Handled {
                    failure: output.clone(),
                    output,
                }
            }
            other => {
                tracing::warn!(
                    "a publish on {} was claimed by unknown service {other}",
                    request.topic
                );
                Handled::default()
            }
        }
    }
}
