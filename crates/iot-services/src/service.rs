//! The services' common face to the server: which topics each service answers ([`routes`]),
//! a claimed publish as a typed [`Request`], and [`Services`], which dispatches a request to its
//! service inside the caller's store transaction, and runs the services' timers ([`Services::tick`]:
//! Jobs, and fleet provisioning's tokens and claims). The rules engine is a service too: Basic
//! Ingest is its static route, its FROM filters are added by the server.
//! A new service adds its id, its routes and a dispatch arm here, and its own module beside
//! `shadow/`, `jobs/` and `rules/`.

use store::ServiceTx;

use crate::{Output, jobs, provisioning, rules, shadow};

/// The Device Shadow service's id in [`Route::service`] and [`Request::service`].
pub const SHADOW: u16 = 1;

/// The Jobs service's id.
pub const JOBS: u16 = 2;

/// The fleet provisioning service's id.
pub const PROVISIONING: u16 = 3;

/// The rules engine's id. Its routes are Basic Ingest's (here) and the FROM filters of the
/// enabled rules ([`rules::Engine::filters`], added by the server and replaced when they change).
pub const RULES: u16 = 4;

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
    let shadows = shadow::REQUEST_FILTERS.iter().map(|filter| Route {
        filter,
        service: SHADOW,
        to_subscribers: true,
    });
    let jobs = jobs::ROUTES.iter().map(|&(filter, to_subscribers)| Route {
        filter,
        service: JOBS,
        to_subscribers,
    });
    let provisioning = provisioning::ROUTES.iter().map(|filter| Route {
        filter,
        service: PROVISIONING,
        to_subscribers: false,
    });
    let basic_ingest = std::iter::once(Route {
        filter: rules::BASIC_INGEST_FILTER,
        service: RULES,
        to_subscribers: false,
    });
    shadows
        .chain(jobs)
        .chain(provisioning)
        .chain(basic_ingest)
        .collect()
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
    /// Jobs: ARNs and timers.
    pub jobs: jobs::JobsSettings,
    /// Fleet provisioning: ARNs, the issuing CA, token and claim lifetimes.
    pub provisioning: provisioning::ProvisioningSettings,
    /// The rules engine's account, region, API address and seed.
    pub rules: rules::RulesConfig,
}

impl Default for ServicesConfig {
    fn default() -> ServicesConfig {
        ServicesConfig {
            shadow: shadow::Limits::default(),
            max_in_flight: 10,
            jobs: jobs::JobsSettings::default(),
            provisioning: provisioning::ProvisioningSettings::default(),
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
    /// Pre-provisioning hooks to call once the transaction is committed; each request is
    /// finished by [`Services::resume_hook`] with the hook's answer.
    pub hooks: Vec<provisioning::HookCall>,
}

/// Every service, with its settings and the next time one of their timers is due.
#[derive(Debug, Default)]
pub struct Services {
    config: ServicesConfig,
    rules: rules::Engine,
    /// The earliest timer (epoch milliseconds), as last read by [`Services::tick`].
    next_deadline: Option<i64>,
    /// Whether [`Services::tick`] ran once (the first fires whatever was due before a restart).
    ticked: bool,
}

impl Services {
    /// The services with these settings.
    pub fn new(config: ServicesConfig) -> Services {
        let rules = rules::Engine::new(config.rules.clone());
        Services {
            config,
            rules,
            next_deadline: None,
            ticked: false,
        }
    }

    /// When [`Services::tick`] must run next (epoch milliseconds), if a timer is set. Known
    /// after the first tick: the services worker ticks once at start-up, so timers set before a
    /// restart fire.
    pub fn next_deadline(&self) -> Option<i64> {
        self.next_deadline
    }

    /// Fires every timer due at `now_ms` (Jobs timeouts and rollout windows) inside `tx`, and
    /// reads when the next one is due. The services worker calls it at the end of every batch
    /// and when the next deadline passes.
    pub fn tick(&mut self, tx: &ServiceTx<'_>, now_ms: i64) -> Output {
        let due = !self.ticked
            || self
                .next_deadline
                .is_some_and(|deadline| deadline <= now_ms);
        self.ticked = true;
        let mut failed = false;
        let output = if due {
            jobs::tick(tx, &self.config.jobs, now_ms).unwrap_or_else(|e| {
                tracing::error!("firing job timers failed: {e}");
                failed = true;
                Output::default()
            })
        } else {
            Output::default()
        };
        if due
            && let Err(e) = tx.request("provisioning timers", |tx| provisioning::tick(tx, now_ms))
        {
            tracing::error!("firing provisioning timers failed: {e}");
            failed = true;
        }
        let next = jobs::next_deadline(tx)
            .map_err(|e| e.to_string())
            .and_then(|jobs| {
                let provisioning = provisioning::next_deadline(tx).map_err(|e| e.to_string())?;
                Ok(match (jobs, provisioning) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                })
            });
        match next {
            // After a failure, try again in a second rather than at once.
            Ok(next) if failed => {
                self.next_deadline = next.map(|d| d.max(now_ms.saturating_add(1000)))
            }
            Ok(next) => self.next_deadline = next,
            Err(e) => {
                tracing::error!("reading the next job timer failed: {e}");
                self.next_deadline = Some(now_ms.saturating_add(1000));
            }
        }
        output
    }

    /// The services' settings.
    pub fn config(&self) -> &ServicesConfig {
        &self.config
    }

    /// The rules engine (its rules change through the control plane on the worker).
    pub fn rules(&mut self) -> &mut rules::Engine {
        &mut self.rules
    }

    /// Finishes a RegisterThing that waited for its pre-provisioning hook: `outcome` is the
    /// hook's answer, or why calling it failed.
    pub fn resume_hook(
        &self,
        tx: &ServiceTx<'_>,
        resume: provisioning::Resume,
        outcome: Result<serde_json::Value, String>,
        now_ms: i64,
    ) -> Output {
        provisioning::resume(tx, &self.config.provisioning, resume, outcome, now_ms)
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
                    hooks: Vec::new(),
                }
            }
            JOBS => {
                let throttle = (request.in_flight >= self.config.max_in_flight)
                    .then_some(self.config.max_in_flight);
                Handled {
                    output: jobs::handle_publish(
                        tx,
                        &self.config.jobs,
                        request.conn,
                        request.topic,
                        request.payload,
                        throttle,
                        now_ms,
                    ),
                    failure: jobs::failed(request.conn, request.topic, request.payload, now_ms)
                        .unwrap_or_default(),
                    hooks: Vec::new(),
                }
            }
            PROVISIONING => {
                let publish = provisioning::Publish {
                    conn: request.conn,
                    client_id: request.client_id,
                    principal: request.principal,
                    topic: request.topic,
                    payload: request.payload,
                };
                let (output, hook) =
                    provisioning::handle_publish(tx, &self.config.provisioning, &publish, now_ms);
                Handled {
                    output,
                    failure: provisioning::failed(request.conn, request.topic).unwrap_or_default(),
                    hooks: hook.into_iter().collect(),
                }
            }
            RULES => {
                // Rules change nothing in the store: what they publish goes out whether or not
                // the batch commits.
                let output = self.rules.publish(tx, request, now_ms);
                Handled {
                    failure: output.clone(),
                    output,
                    hooks: Vec::new(),
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
