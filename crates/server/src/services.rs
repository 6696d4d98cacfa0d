//! The services worker: one thread with its own store connection that runs the AWS IoT
//! services (`iot_services`) off the router task, so a store write never stalls delivery.
//! Publishes a service claimed arrive from the router, HTTP calls from the API; the worker
//! takes whatever is waiting, runs it in one write transaction (one fsync for the batch, each
//! request in its own savepoint), and only after the commit hands the router what to publish
//! and the API its answers. A service's answer is therefore never seen before its change is on
//! disk. The services' timers (Jobs timeouts and rollouts) run on the same thread: every batch
//! ends with [`Services::tick`], and the worker waits for work no longer than the next timer,
//! then runs a batch of its own; its first batch fires what fell due while tether was stopped.
//! A fleet provisioning request whose template has a pre-provisioning hook is finished in two
//! steps: after the commit the worker starts the hook on an async task (`crate::hooks`), which
//! hands its answer back as a call, so the worker never waits for a hook. After each batch the
//! rules engine's results leave the worker too: changed FROM filters become the broker's
//! service routes, network actions go to the rules dispatcher, counts go to `/metrics`.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use broker_core::{ConnId, Message, ServiceId, ServiceRoute};
use iot_services::{Handled, Output, Request, Services};
use mqtt_proto::TopicFilter;
use store::{ServiceTx, Store, StoreError};
use tokio::sync::mpsc as tokio_mpsc;

use crate::clock::Clock;
use crate::hooks::{self, ProvisioningHook};
use crate::metrics::Metrics;
use crate::mqtt::router::Command;
use crate::rules::Outbox;

/// Requests taken into one batch at most.
const BATCH: usize = 256;

/// Who published a request a service claimed.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// The publishing connection.
    pub(crate) conn: ConnId,
    /// Its client id.
    pub(crate) client_id: String,
    /// Its certificate id, for devices.
    pub(crate) certificate_id: Option<String>,
}

/// An HTTP call run on the worker: it gets the transaction and the services, returns what to
/// publish and what to do once the batch is committed (answer the API with the commit's
/// outcome).
pub(crate) type Call = Box<
    dyn FnOnce(&ServiceTx<'_>, &mut Services, i64) -> (Output, Box<dyn FnOnce(bool) + Send>) + Send,
>;

/// One piece of work for the worker.
enum Job {
    /// A publish a service claimed.
    Publish {
        service: ServiceId,
        origin: Option<Origin>,
        message: Arc<Message>,
        /// Rule republishes behind the message.
        hops: u8,
    },
    /// A call from the HTTP API.
    Call(Call),
}

/// The way to the worker; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    jobs: Arc<Sender<Job>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Publish { service, .. } => write!(f, "Publish({service:?})"),
            Job::Call(_) => f.write_str("Call"),
        }
    }
}

impl Link {
    /// Hands a claimed publish to the worker (never waits).
    pub(crate) fn publish(
        &self,
        service: ServiceId,
        origin: Option<Origin>,
        message: Arc<Message>,
        hops: u8,
    ) {
        let job = Job::Publish {
            service,
            origin,
            message,
            hops,
        };
        if self.jobs.send(job).is_err() {
            tracing::warn!("the services worker has stopped; a service request was dropped");
        }
    }

    /// Runs `call` on the worker; false when the worker has stopped.
    pub(crate) fn call(&self, call: Call) -> bool {
        self.jobs.send(Job::Call(call)).is_ok()
    }
}

/// The running worker: the server's own link to it, and its thread.
#[derive(Debug)]
pub(crate) struct Running {
    link: Link,
    thread: JoinHandle<()>,
}

impl Running {
    /// Another way to the worker.
    pub(crate) fn link(&self) -> Link {
        self.link.clone()
    }

    /// Waits for the worker to finish its batch and stop. It stops once every other link is
    /// gone too (the router's and the API's go with their tasks).
    pub(crate) fn stop(self) {
        drop(self.link);
        if self.thread.join().is_err() {
            tracing::error!("the services worker thread panicked");
        }
    }
}

/// The broker's service routes: the request topics of every AWS IoT service, and the FROM
/// filters of the enabled topic rules (`rule_filters`), which reach subscribers too. A filter
/// the broker cannot use is left out with a log line (the rules engine checks them at
/// creation).
pub(crate) fn service_routes(rule_filters: &[String]) -> Vec<ServiceRoute> {
    let fixed = iot_services::routes()
        .into_iter()
        .map(|route| (route.filter.to_owned(), route.service, route.to_subscribers));
    let rules = rule_filters
        .iter()
        .map(|filter| (filter.clone(), iot_services::RULES, true));
    fixed
        .chain(rules)
        .filter_map(
            |(filter, service, to_subscribers)| match TopicFilter::new(&filter) {
                Ok(filter) => Some(ServiceRoute {
                    filter,
                    service: ServiceId(service),
                    to_subscribers,
                }),
                Err(e) => {
                    tracing::error!("service route {filter:?} is not a topic filter: {e}");
                    None
                }
            },
        )
        .collect()
}

/// What the worker needs besides the store and the router: where the rules engine's network
/// work goes, the metrics it counts into, and the local pre-provisioning hooks (run on the
/// caller's tokio runtime).
#[derive(Debug)]
pub(crate) struct Extras {
    /// The rules dispatcher's queue.
    pub(crate) network: Option<Outbox>,
    /// `/metrics`.
    pub(crate) metrics: Arc<Metrics>,
    /// Local pre-provisioning hooks.
    pub(crate) hooks: Vec<ProvisioningHook>,
}

/// Starts the worker on its own store connection. It stops when every [`Link`] is gone.
pub(crate) fn start(
    store: Store,
    services: Services,
    clock: Clock,
    router: tokio_mpsc::Sender<Command>,
    extras: Extras,
) -> std::io::Result<Running> {
    let (jobs, queue) = mpsc::channel();
    let jobs = Arc::new(jobs);
    let worker = Worker {
        store,
        services,
        clock,
        router,
        extras,
        runtime: tokio::runtime::Handle::try_current().ok(),
        link: Arc::downgrade(&jobs),
    };
    let thread = std::thread::Builder::new()
        .name("tether-services".to_owned())
        .spawn(move || worker.run(&queue))?;
    Ok(Running {
        link: Link { jobs },
        thread,
    })
}

struct Worker {
    store: Store,
    services: Services,
    clock: Clock,
    router: tokio_mpsc::Sender<Command>,
    extras: Extras,
    /// Where hooks run.
    runtime: Option<tokio::runtime::Handle>,
    /// The worker's own queue, for a hook's answer; weak, so that the worker still stops once
    /// every other link is gone.
    link: Weak<Sender<Job>>,
}

impl Worker {
    fn run(mut self, queue: &Receiver<Job>) {
        // The first batch runs at once, with whatever is already waiting: its tick fires the
        // timers that fell due while tether was stopped.
        let mut batch = Vec::new();
        loop {
            while batch.len() < BATCH {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            if !self.run_batch(std::mem::take(&mut batch)) {
                return;
            }
            match self.wait(queue) {
                Ok(Some(job)) => batch.push(job),
                Ok(None) => {}
                Err(()) => return,
            }
        }
    }

    /// Waits for the next job, or until the next timer is due (`None`). `Err` when every link
    /// is gone.
    fn wait(&self, queue: &Receiver<Job>) -> Result<Option<Job>, ()> {
        let Some(deadline) = self.services.next_deadline() else {
            return queue.recv().map(Some).map_err(|_| ());
        };
        let left = deadline.saturating_sub(self.clock.wall_ms()).max(0);
        match queue.recv_timeout(Duration::from_millis(u64::try_from(left).unwrap_or(0))) {
            Ok(job) => Ok(Some(job)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(()),
        }
    }

    /// Starts the pre-provisioning hooks of the batch; each answers through the worker's queue.
    fn start_hooks(&self, calls: Vec<iot_services::provisioning::HookCall>) {
        for call in calls {
            match (&self.runtime, self.link.upgrade()) {
                (Some(runtime), Some(jobs)) => {
                    hooks::spawn(runtime, &self.extras.hooks, call, Link { jobs });
                }
                _ => tracing::warn!(
                    "a pre-provisioning hook could not be started (the server is stopping)"
                ),
            }
        }
    }

    /// Runs one batch in one transaction; after the commit, hands the router the output and
    /// the API its answers. False when the router is gone.
    fn run_batch(&mut self, batch: Vec<Job>) -> bool {
        let now_ms = self.clock.wall_ms();
        let services = &mut self.services;
        let mut after_commit: Vec<Box<dyn FnOnce(bool) + Send>> = Vec::new();
        let mut in_flight: foldhash::HashMap<ConnId, usize> = Default::default();
        let mut failure = Output::default();
        let mut hooks = Vec::new();
        let result = self.store.services("services batch", |tx| {
            let mut output = Output::default();
            for job in batch {
                match job {
                    Job::Publish {
                        service,
                        origin,
                        message,
                        hops,
                    } => {
                        let earlier = origin.as_ref().map_or(0, |o| {
                            let count = in_flight.entry(o.conn).or_default();
                            *count += 1;
                            *count - 1
                        });
                        let request = Request {
                            service: service.0,
                            conn: origin.as_ref().map(|o| o.conn.0),
                            client_id: origin
                                .as_ref()
                                .map(|o| o.client_id.as_str())
                                .or_else(|| message.publisher.as_ref().map(|p| p.as_str())),
                            principal: origin.as_ref().and_then(|o| o.certificate_id.as_deref()),
                            topic: message.topic.as_str(),
                            payload: &message.payload,
                            in_flight: earlier,
                            hops,
                        };
                        let handled: Handled = services.publish(tx, &request, now_ms);
                        output.extend(handled.output);
                        failure.extend(handled.failure);
                        hooks.extend(handled.hooks);
                    }
                    Job::Call(call) => {
                        let (out, done) = call(tx, services, now_ms);
                        output.extend(out);
                        after_commit.push(done);
                    }
                }
            }
            output.extend(services.tick(tx, now_ms));
            Ok::<_, StoreError>(output)
        });
        let (committed, output) = match result {
            Ok(output) => (true, output),
            Err(e) => {
                tracing::error!("a batch of service requests could not be committed: {e}");
                (false, failure)
            }
        };
        if !output.is_empty()
            && self
                .router
                .blocking_send(Command::ServiceOutput(output))
                .is_err()
        {
            return false;
        }
        if !self.after_rules(committed) {
            return false;
        }
        for done in after_commit {
            done(committed);
        }
        if committed {
            self.start_hooks(hooks);
        }
        true
    }

    /// The rules engine's work after a batch: on a failed commit its rules are reloaded from
    /// the store (a rule change was rolled back); changed FROM filters replace the broker's
    /// routes (before the API answers, so a publish after CreateTopicRule fires it); network
    /// work goes to the dispatcher; counts go to `/metrics`. False when the router is gone.
    fn after_rules(&mut self, committed: bool) -> bool {
        if !committed {
            let rules = self.services.rules();
            if let Err(e) = self
                .store
                .services("reload topic rules", |tx| rules.load(tx))
            {
                tracing::error!("cannot reload the topic rules after a failed commit: {e}");
            }
        }
        let rules = self.services.rules();
        self.extras.metrics.rules.add(rules.take_counts());
        let network = rules.take_network();
        if rules.take_routes_changed() {
            let routes = service_routes(&rules.filters());
            if self
                .router
                .blocking_send(Command::SetServiceRoutes(routes))
                .is_err()
            {
                return false;
            }
        }
        if !network.is_empty() {
            match &self.extras.network {
                Some(outbox) => {
                    for batch in network {
                        if outbox.send(batch).is_err() {
                            tracing::warn!("the rules dispatcher has stopped; a call was dropped");
                        }
                    }
                }
                None => tracing::warn!("rule actions need the network but no dispatcher runs"),
            }
        }
        true
    }
}
