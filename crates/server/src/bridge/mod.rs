//! Bridges: `tether serve` as a gateway in front of AWS IoT Core or another MQTT broker, as
//! mosquitto's `connection` sections are. Each `[[bridge]]` is a local session through the
//! router (`local.rs`: a persistent session whose store-backed queue is the durable outbound
//! queue) and a client of the upstream (`upstream.rs`, on the client crate: mutual TLS, or
//! WebSockets signed with SigV4), with pure parts apart: the configuration and its checks
//! (`config.rs`), the topic map (`topics.rs`), the outbound queue (`outbox.rs`), the pace
//! (`rate.rs`), and what it reports (`status.rs`: `/metrics`, refusal records). [`start`]
//! connects every local side before the server reports ready, so nothing published after the
//! ready line misses a bridge. Bridges do not authorize devices (the broker did) and do not
//! carry QoS 2: both sides run at QoS 1 at most.

mod config;
mod local;
mod outbox;
mod rate;
mod status;
mod topics;
mod upstream;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use broker_core::ConnId;
use tokio::task::JoinHandle;

pub use config::{
    AWS_BYTES_PER_SECOND, AWS_PUBLISHES_PER_SECOND, BridgeConfig, BridgeConfigError, BridgeTopic,
    Direction, UpstreamLimits,
};
pub(crate) use status::render as render_metrics;
pub use status::{BridgeStatus, DropReason};
pub use upstream::BRIDGE_MARKER;

use crate::config::ServerError;
use crate::mqtt::Admission;

/// What started bridges leave running.
#[derive(Debug)]
pub(crate) struct Running {
    /// Their states, for `/metrics` and the ready line.
    pub(crate) statuses: Vec<Arc<BridgeStatus>>,
    /// Their tasks: they end when the router closes their local sessions at shutdown.
    pub(crate) tasks: Vec<JoinHandle<()>>,
}

/// Connects each bridge's local session (resuming its queue; subscriptions the configuration
/// no longer names, from `restored`, are dropped) and starts its task. `restored` holds the
/// filters of the bridges' sessions reloaded from disk, by local client id.
pub(crate) async fn start(
    configs: &[BridgeConfig],
    admission: &Arc<Admission>,
    restored: &HashMap<String, Vec<String>>,
) -> Result<Running, ServerError> {
    let mut running = Running {
        statuses: Vec::new(),
        tasks: Vec::new(),
    };
    let mut names = Vec::new();
    for config in configs {
        config
            .check()
            .map_err(|e| ServerError::Config(e.to_string()))?;
        if names.contains(&config.name) {
            return Err(ServerError::Config(
                BridgeConfigError::DuplicateName(config.name.clone()).to_string(),
            ));
        }
        names.push(config.name.clone());
        let conn = ConnId(admission.next_conn.fetch_add(1, Ordering::Relaxed));
        let router = admission.shared.router.clone();
        let refuse =
            |e: local::LocalError| ServerError::Config(format!("bridge {}: {e}", config.name));
        let mut link = local::LocalLink::connect(&config.name, conn, router)
            .await
            .map_err(refuse)?;
        let topics = topics::TopicMap::new(&config.topics);
        let stale = restored
            .get(&local::client_id(&config.name))
            .map(|filters| topics.stale_local(filters))
            .unwrap_or_default();
        link.unsubscribe(stale).await.map_err(refuse)?;
        let filters = topics
            .local_subscriptions()
            .map_err(|e| ServerError::Config(format!("bridge {}: {e}", config.name)))?;
        let per_packet = admission
            .shared
            .settings
            .limits
            .max_filters_per_subscribe
            .unwrap_or(usize::MAX);
        link.subscribe(filters, per_packet).await.map_err(refuse)?;
        let upstream = format!("{}:{}", config.upstream.host, config.upstream.port);
        let status = Arc::new(BridgeStatus::new(
            &config.name,
            upstream,
            config.upstream.mqtt.client_id.as_str(),
        ));
        let bridge = upstream::Bridge::new(
            config.clone(),
            link,
            Arc::clone(&status),
            admission.refusals.clone(),
        );
        running.statuses.push(status);
        running.tasks.push(tokio::spawn(bridge.run()));
    }
    Ok(running)
}
