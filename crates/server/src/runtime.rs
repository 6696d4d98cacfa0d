//! Wiring of `tether serve`: prepare the data directory, open the store and reload persistent
//! state, start the router, the MQTT listeners, the HTTP edge and the registry watcher, report
//! readiness, and on shutdown close every client (MQTT 5: DISCONNECT 0x8B) and flush the
//! store. Each part lives in its own module; this file only connects them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_core::{Broker, BrokerConfig, Profile};
use refusals::Recorder;
use store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::auth::ServerAuthorizer;
use crate::authorizer::Authorizers;
use crate::bootstrap::{self, DataDir};
use crate::clock::Clock;
use crate::config::{Listeners, Ready, ServerConfig, ServerError};
use crate::metrics::Metrics;
use crate::mqtt::router::{Aws, Command, Router};
use crate::mqtt::{
    self, Admission, ConnectionSettings, MqttListeners, Shared, WebListeners, WebServices,
};
use crate::{api, bridge, console, http, lock, persist, registry_watch, rules, services};

/// Commands the router's queue holds before senders wait.
const ROUTER_QUEUE: usize = 8192;

/// Runs the server until `shutdown` completes. `on_ready` is called once, when every listener
/// accepts and persistent state is loaded.
pub async fn run(
    config: ServerConfig,
    listeners: Listeners,
    on_ready: impl FnOnce(&Ready),
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    // Before anything in the directory is touched: one server per data directory.
    let _lock = lock::lock(&config.data_dir)?;
    if let Some(path) = &config.clock_offset_file {
        crate::clock::follow_offset_file(path.clone());
    }
    let clock = Clock::start();
    let data = bootstrap::prepare(&config.data_dir, &config.hostnames, clock.wall_ms() / 1000)?;
    let mut store = Store::open_with(
        data.database_path(),
        store::StoreOptions {
            durability: config.durability,
        },
    )?;
    bootstrap::register_demo_device(
        &mut store,
        &data,
        &config.region,
        &config.account_id,
        clock.wall_ms(),
    )?;
    let state = store.load_broker_state(clock.wall_ms())?;
    let restored_sessions = state.sessions.len();
    let bridge_filters = bridge_subscriptions(&state);
    let writer = store.writer()?;
    let store = Arc::new(Mutex::new(store));
    let metrics = Arc::new(Metrics::default());

    let (router_tx, router_rx) = mpsc::channel(ROUTER_QUEUE);
    let mut broker = broker(&config)?;
    let live_floor = persist::restore(&mut broker, state, &clock);
    let api_base = listeners
        .http
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|addr| format!("http://{addr}"));
    let (aws, services, dispatcher) = start_services(
        &config,
        &data,
        clock,
        &mut broker,
        &router_tx,
        (api_base, &metrics),
    )?;
    let refusals = Recorder::start(&data.root).map_err(|e| {
        ServerError::Config(format!("cannot start the refusal log's writer thread: {e}"))
    })?;
    let router = Router::new(
        broker,
        clock,
        writer.handle(),
        Arc::clone(&metrics),
        live_floor,
        aws,
        refusals.clone(),
    );
    let router_task = tokio::spawn(router.run(router_rx));

    let admission = Arc::new(Admission {
        shared: Shared {
            router: router_tx.clone(),
            clock,
            settings: Arc::new(connection_settings(&config)),
            metrics: Arc::clone(&metrics),
            refusals: refusals.clone(),
        },
        store: Arc::clone(&store),
        registry: Arc::default(),
        refusals,
        next_conn: AtomicU64::new(1),
        max_connections: config.max_connections,
        services: services.as_ref().map(services::Running::link),
    });
    let mut ready = Ready {
        mqtts: None,
        mqtts_alpn: None,
        wss: None,
        mqtt: None,
        http: None,
        mqtts_legacy: Vec::new(),
        bridges: Vec::new(),
        data_dir: data.root.clone(),
        ca_path: data.ca_path.clone(),
        demo_device: data.demo_device.clone(),
        first_start: data.demo_device_created,
        restored_sessions,
    };
    let mqtt_listeners = MqttListeners {
        mqtts: listeners.mqtts,
        mqtt: listeners.mqtt,
        legacy: listeners.mqtts_legacy,
    };
    let mut tasks = mqtt::start(&config, &data, mqtt_listeners, &admission, &mut ready)?;
    let authorizers = Arc::new(Authorizers::new(
        config.authorizer_functions.clone(),
        config.authorizer_timeout,
        Arc::clone(&store),
    ));
    let mut api = None;
    let mut console = None;
    if let Some(listener) = listeners.http {
        let (task, app, web_console) = start_http(
            &config,
            &data,
            listener,
            (&metrics, &admission),
            &router_tx,
            // Made here, not before the branch: a link left unused (no HTTP listener) would live
            // until this function returns and keep the services worker waiting at shutdown.
            services.as_ref().map(services::Running::link),
            &authorizers,
            &mut ready,
        )?;
        tasks.push(task);
        api = Some(app);
        console = Some(web_console);
    }
    let web = WebListeners {
        https_443: listeners.mqtts_alpn,
        wss: listeners.wss,
    };
    let web_services = WebServices {
        authorizers,
        api,
        store: Arc::clone(&store),
    };
    tasks.extend(mqtt::start_web(
        &config,
        &data,
        web,
        &admission,
        &web_services,
        &mut ready,
    )?);
    // What the listeners were built from holds a router sender and the services worker's link,
    // which must not outlive the listeners, or the worker would wait for them at shutdown.
    drop(web_services);
    if let Some(console) = &console {
        console.set_wss(ready.wss);
    }
    tasks.push(tokio::spawn(registry_watch::watch(
        Arc::clone(&store),
        router_tx.clone(),
    )));
    // Their local sessions are subscribed before the ready line; their tasks are not aborted at
    // shutdown but end when the router closes those sessions.
    let bridges = bridge::start(&config.bridges, &admission, &bridge_filters).await?;
    ready.bridges.clone_from(&bridges.statuses);
    let _ = metrics.bridges.set(bridges.statuses);

    on_ready(&ready);
    shutdown.await;

    tracing::info!("shutting down: closing client connections");
    for task in &tasks {
        task.abort();
    }
    // A browser may hold the console's event streams open: the console lets go of the API
    // (and so of the services worker) and ends them.
    if let Some(console) = console.take() {
        console.close();
    }
    drop(admission);
    if let Some(dispatcher) = dispatcher {
        dispatcher.stop();
    }
    stop(router_tx, router_task, services, writer).await
}

/// The filters each bridge's local session held when it was saved, by client id: a bridge
/// drops those its configuration no longer names.
fn bridge_subscriptions(state: &store::BrokerState) -> HashMap<String, Vec<String>> {
    state
        .sessions
        .iter()
        .filter(|s| {
            s.session
                .client_id
                .starts_with(crate::auth::BRIDGE_CLIENT_PREFIX)
        })
        .map(|s| {
            let filters = s.subscriptions.iter().map(|f| f.filter.clone()).collect();
            (s.session.client_id.clone(), filters)
        })
        .collect()
}

/// Closes every client (the router ends once they are gone, or after 5 s), then lets the
/// services worker finish its batch and the store writer flush.
async fn stop(
    router: mpsc::Sender<Command>,
    router_task: JoinHandle<()>,
    services: Option<services::Running>,
    writer: store::Writer,
) -> Result<(), ServerError> {
    let _ = router.send(Command::Shutdown).await;
    drop(router);
    let abort = router_task.abort_handle();
    if tokio::time::timeout(Duration::from_secs(5), router_task)
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within 5 s");
        abort.abort();
    }
    tokio::task::spawn_blocking(move || {
        if let Some(services) = services {
            services.stop();
        }
        writer.shutdown()
    })
    .await
    .map_err(|e| ServerError::Config(format!("store writer thread: {e}")))??;
    Ok(())
}

/// What `start_services` starts: the router's side, the worker, the rules dispatcher.
type StartedServices = (
    Option<Aws>,
    Option<services::Running>,
    Option<rules::Dispatcher>,
);

/// The AWS IoT services run under the aws profile: lifecycle events (the router's `Aws`), a
/// worker on its own store connection for the services that answer reserved topics, whose
/// request topics and the enabled topic rules' FROM filters become the broker's service routes,
/// and the rules engine's dispatcher for the actions that wait on the network.
fn start_services(
    config: &ServerConfig,
    data: &DataDir,
    clock: Clock,
    broker: &mut Broker<ServerAuthorizer>,
    router: &mpsc::Sender<Command>,
    (api_base, metrics): (Option<String>, &Arc<Metrics>),
) -> Result<StartedServices, ServerError> {
    if config.profile != Profile::Aws {
        return Ok((None, None, None));
    }
    let mut seed = [0u8; 8];
    // The OpenSSL RNG does not fail once seeded; the clock still makes runs differ.
    let _ = openssl::rand::rand_bytes(&mut seed);
    let mut services_config = config.services();
    services_config.provisioning.issuer = Some(data.ca.clone());
    services_config.rules = iot_services::rules::RulesConfig {
        account_id: config.account_id.clone(),
        region: config.region.clone(),
        api_base,
        seed: u64::from_le_bytes(seed) ^ clock.wall_ms().unsigned_abs(),
    };
    let mut services = iot_services::Services::new(services_config);
    let mut store = Store::open_with(
        data.database_path(),
        store::StoreOptions {
            durability: config.durability,
        },
    )?;
    let engine = services.rules();
    store.services("load topic rules", |tx| engine.load(tx))?;
    broker.set_service_routes(services::service_routes(&services.rules().filters()));
    let (outbox, batches) = rules::channel();
    let extras = services::Extras {
        network: Some(outbox),
        metrics: Arc::clone(metrics),
        hooks: config.provisioning_hooks.clone(),
    };
    let running = services::start(store, services, clock, router.clone(), extras)
        .map_err(|e| ServerError::Config(format!("cannot start the services worker: {e}")))?;
    let dispatcher = rules::start(
        config.rules.clone(),
        batches,
        running.link(),
        Arc::clone(metrics),
    );
    Ok((
        Some(Aws::new(Some(running.link()))),
        Some(running),
        Some(dispatcher),
    ))
}

/// The broker for the configured profile, with the AWS IoT policy authorizer.
fn broker(config: &ServerConfig) -> Result<Broker<ServerAuthorizer>, ServerError> {
    if config.profile == Profile::Aws {
        // AWS IoT grants 30 to 1200 s and decides subscriptions by policy; these settings
        // belong to the plain MQTT broker.
        if let Some(max) = config.max_keep_alive {
            return Err(ServerError::Config(format!(
                "max-keep-alive {max}: the aws profile grants AWS IoT's keep-alive (30 to 1200 \
                 s); use --profile mqtt, or remove the setting"
            )));
        }
        if let Some(filter) = config.refused_filters.first() {
            return Err(ServerError::Config(format!(
                "refused-filters {filter}: the aws profile refuses subscriptions by AWS IoT \
                 policy (iot:Subscribe); use --profile mqtt, or a policy"
            )));
        }
    }
    let mut broker_config = BrokerConfig::for_profile(config.profile);
    broker_config.limits = config.limits();
    broker_config.max_queued_per_session = config.max_queued_per_session;
    let authorizer = ServerAuthorizer::new(
        config.profile == Profile::Mqtt,
        &config.region,
        &config.account_id,
    );
    Broker::with_authorizer(broker_config, authorizer)
        .map_err(|e| ServerError::Config(e.to_string()))
}

fn connection_settings(config: &ServerConfig) -> ConnectionSettings {
    ConnectionSettings {
        max_packet_size: config.packet_size_limit(),
        limits: config.limits(),
        receive_maximum: 100,
        connect_timeout: config.connect_timeout,
        faults: config.faults.clone(),
    }
}

/// Serves `/metrics`, the AWS-compatible API and the web console on the HTTP listener; returns
/// the task, what the port-443 and WebSocket listeners build their own routes from, and the
/// console.
#[allow(clippy::too_many_arguments)]
fn start_http(
    config: &ServerConfig,
    data: &DataDir,
    listener: std::net::TcpListener,
    (metrics, admission): (&Arc<Metrics>, &Arc<Admission>),
    router: &mpsc::Sender<Command>,
    services: Option<services::Link>,
    authorizers: &Arc<Authorizers>,
    ready: &mut Ready,
) -> Result<(JoinHandle<()>, http::ApiRoutes, Arc<console::Console>), ServerError> {
    let listener = mqtt::tokio_listener(listener, "http")?;
    ready.http = listener.local_addr().ok();
    let api_config = api::ApiConfig {
        account_id: config.account_id.clone(),
        region: config.region.clone(),
        credentials: config.api_credentials.clone(),
        listener: ready.http,
        endpoint_host: api::endpoint_host(&config.hostnames),
        mqtts_port: ready.mqtts.map(|a| a.port()),
        limits: config.limits(),
        database: data.database_path(),
        thing_type_delete_delay: config.thing_type_delete_delay,
        authorizers: Arc::clone(authorizers),
    };
    let routes = http::ApiRoutes {
        config: api_config,
        ca: data.ca.clone(),
        router: router.clone(),
        services,
        metrics: Arc::clone(metrics),
    };
    let web_console = console::Console::start(console::Parts {
        api: routes.api(ready.http)?,
        admission: Arc::clone(admission),
        metrics: Arc::clone(metrics),
        data_dir: data.root.clone(),
        database: data.database_path(),
        listener: ready.http,
        credentials: config.api_credentials.clone(),
        mqtts: ready.mqtts,
        region: config.region.clone(),
        account: config.account_id.clone(),
    })?;
    let app = routes
        .build(ready.http)?
        .merge(console::routes(Arc::clone(&web_console)));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("HTTP listener stopped: {e}");
        }
    });
    Ok((task, routes, web_console))
}
