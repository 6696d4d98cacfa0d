//! The rules engine in memory: the rules and destinations loaded from the store (kept current
//! by the control-plane operations in `service.rs`), which rules a publish triggers (its FROM
//! filter, or the Basic Ingest topic `$aws/rules/{ruleName}[/...]`), and what a firing produces:
//! republished messages for the broker, network work for the server (`network.rs`), and the
//! errorAction message when actions fail. It evaluates on the caller's thread (the services
//! worker) and does no IO; the network work is handed out after the batch commits.
//!
//! Republish loops: AWS documents no bound for a rule whose republish triggers itself. tether
//! counts the republishes behind a message ([`crate::OutMessage::hops`]) and stops evaluating
//! rules for a message that already has [`MAX_HOPS`] behind it, with a log line and the
//! `tether_rules_loops_stopped_total` counter (docs/aws-differences.md, "Rules engine").

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};

use iot_sql::{Context, Payload, basic_ingest_topic};
use store::ServiceTx;

use super::env::RuleEnv;
use super::fire::{Firing, fire, run_error_action};
use super::network::{ErrorContext, Failure, NetworkBatch};
use super::rule::TopicRule;
use crate::{Output, Request};

/// Republishes a message may have behind it and still trigger rules (tether's choice).
pub const MAX_HOPS: u8 = 8;

/// What the engine needs to know of the account and the API.
#[derive(Debug, Clone)]
pub struct RulesConfig {
    /// Account id in ARNs and `accountid()`.
    pub account_id: String,
    /// Region in ARNs.
    pub region: String,
    /// The API's base URL (`http://127.0.0.1:4580`), for destinations' `enableUrl`.
    pub api_base: Option<String>,
    /// Seed of `newuuid()`, `rand()` and trace ids.
    pub seed: u64,
}

impl Default for RulesConfig {
    fn default() -> RulesConfig {
        RulesConfig {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            api_base: None,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

/// Counts the server adds to `/metrics`, drained after each batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleCounts {
    /// Rules whose WHERE held for a message.
    pub fired: u64,
    /// Firings of actions tether does not execute.
    pub not_executed: u64,
    /// Actions that failed (including not executed ones).
    pub failed: u64,
    /// Messages not evaluated because of a republish loop.
    pub loops_stopped: u64,
    /// Statements whose evaluation failed.
    pub evaluation_errors: u64,
}

/// A destination as the engine checks HTTP actions against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DestinationState {
    pub(super) arn: String,
    pub(super) status: String,
}

/// The rules engine.
#[derive(Debug)]
pub struct Engine {
    pub(super) config: RulesConfig,
    pub(super) rules: BTreeMap<String, TopicRule>,
    /// By confirmation URL.
    pub(super) destinations: HashMap<String, DestinationState>,
    outbox: Vec<NetworkBatch>,
    routes_changed: bool,
    pub(super) counts: RuleCounts,
    pub(super) rng: Cell<u64>,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(RulesConfig::default())
    }
}

impl Engine {
    /// An engine with no rules.
    pub fn new(config: RulesConfig) -> Engine {
        let rng = Cell::new(config.seed);
        Engine {
            config,
            rules: BTreeMap::new(),
            destinations: HashMap::new(),
            outbox: Vec::new(),
            routes_changed: false,
            counts: RuleCounts::default(),
            rng,
        }
    }

    /// The settings.
    pub fn config(&self) -> &RulesConfig {
        &self.config
    }

    /// (Re)loads every rule and destination from the store; a stored rule that no longer
    /// parses (written by another tether version) is skipped with a log line.
    pub fn load(&mut self, tx: &ServiceTx<'_>) -> Result<(), store::StoreError> {
        self.rules.clear();
        for stored in tx.all_topic_rules()? {
            let parsed = serde_json::from_str(&stored.payload)
                .map_err(|e| e.to_string())
                .and_then(|payload| {
                    TopicRule::parse(&stored.name, &payload, stored.created_ms)
                        .map_err(|e| e.to_string())
                });
            match parsed {
                Ok(mut rule) => {
                    rule.disabled = stored.disabled;
                    self.rules.insert(stored.name.clone(), rule);
                }
                Err(e) => tracing::error!(
                    "topic rule {} in the database does not load and will not fire: {e}",
                    stored.name
                ),
            }
        }
        self.destinations = tx
            .all_rule_destinations()?
            .into_iter()
            .map(|d| {
                (
                    d.confirmation_url,
                    DestinationState {
                        arn: d.arn,
                        status: d.status,
                    },
                )
            })
            .collect();
        self.routes_changed = true;
        Ok(())
    }

    /// The FROM filters of the enabled rules, each once, sorted: the broker's service routes
    /// for the rules engine (besides Basic Ingest's `$aws/rules/#`).
    pub fn filters(&self) -> Vec<String> {
        let mut filters: Vec<String> = self
            .rules
            .values()
            .filter(|r| !r.disabled)
            .filter_map(|r| r.topic_pattern().map(str::to_owned))
            .collect();
        filters.sort();
        filters.dedup();
        filters
    }

    /// The rule `name`, if it exists.
    pub fn rule(&self, name: &str) -> Option<&TopicRule> {
        self.rules.get(name)
    }

    pub(super) fn put_rule(&mut self, rule: TopicRule) {
        self.rules.insert(rule.name.clone(), rule);
        self.routes_changed = true;
    }

    pub(super) fn remove_rule(&mut self, name: &str) {
        self.rules.remove(name);
        self.routes_changed = true;
    }

    pub(super) fn send(&mut self, batch: NetworkBatch) {
        self.outbox.push(batch);
    }

    /// Whether the rules' filters changed since the last call (the server then replaces the
    /// broker's service routes).
    pub fn take_routes_changed(&mut self) -> bool {
        std::mem::take(&mut self.routes_changed)
    }

    /// The network work produced since the last call, to run once the batch is committed.
    pub fn take_network(&mut self) -> Vec<NetworkBatch> {
        std::mem::take(&mut self.outbox)
    }

    /// The counts since the last call.
    pub fn take_counts(&mut self) -> RuleCounts {
        std::mem::take(&mut self.counts)
    }

    /// A fresh random UUID (version 4 layout) from the engine's generator.
    pub(super) fn uuid(&self) -> String {
        super::env::uuid(&self.rng)
    }

    /// Evaluates the rules a publish triggers and runs their actions.
    pub fn publish(&mut self, tx: &ServiceTx<'_>, request: &Request<'_>, now_ms: i64) -> Output {
        if request.hops > MAX_HOPS {
            self.counts.loops_stopped += 1;
            tracing::warn!(
                "a message on {} has been republished by rules {} times in a chain; tether stops \
                 republish loops there and evaluates no rule for it (check the rules whose \
                 republish topic matches their own FROM filter)",
                request.topic,
                request.hops
            );
            return Output::default();
        }
        let (names, topic): (Vec<String>, &str) = match basic_ingest_topic(request.topic) {
            Some((rule, rest)) => {
                let enabled = self.rules.get(rule).is_some_and(|r| !r.disabled);
                if !enabled {
                    tracing::info!(
                        "a Basic Ingest publish to {} names no enabled rule {rule}; dropped",
                        request.topic
                    );
                }
                (enabled.then(|| rule.to_owned()).into_iter().collect(), rest)
            }
            None => (
                self.rules
                    .values()
                    .filter(|r| !r.disabled && r.statement.matches_topic(request.topic))
                    .map(|r| r.name.clone())
                    .collect(),
                request.topic,
            ),
        };
        let mut output = Output::default();
        if names.is_empty() {
            return output;
        }
        let env = RuleEnv::new(tx, &self.rng, now_ms);
        let ctx = Context {
            topic,
            client_id: request.client_id,
            principal: request.principal,
            source_ip: None,
            trace_id: None,
            account_id: &self.config.account_id,
            timestamp_ms: now_ms,
            environment: &env,
        };
        let payload = Payload::new(request.payload);
        let mut firings = Vec::new();
        for name in &names {
            let Some(rule) = self.rules.get(name) else {
                continue;
            };
            let message = ErrorContext {
                rule: name.clone(),
                topic: request.topic.to_owned(),
                client_id: request.client_id.map(str::to_owned),
                principal: request.principal.map(str::to_owned),
                payload: request.payload.to_vec(),
                timestamp_ms: now_ms,
                hops: request.hops,
                trace_id: String::new(),
            };
            firings.push(fire(self, rule, &ctx, &payload, message));
        }
        for firing in firings {
            self.settle(tx, firing, &mut output, now_ms);
        }
        output
    }

    /// Publishes what a firing republished, queues its network work, and runs the errorAction
    /// for failures that need no network.
    fn settle(&mut self, tx: &ServiceTx<'_>, firing: Firing, output: &mut Output, now_ms: i64) {
        let fired = match firing {
            Firing::Fired(fired) => *fired,
            Firing::NotFired => return,
            Firing::Failed => {
                self.counts.evaluation_errors += 1;
                return;
            }
        };
        self.counts.fired += 1;
        self.counts.not_executed += fired.not_executed;
        output.publish.extend(fired.publish);
        self.counts.failed += fired.failures.len() as u64;
        match fired.network {
            Some(mut batch) => {
                batch.failures = fired.failures;
                self.outbox.push(batch);
            }
            None if !fired.failures.is_empty() => {
                let out = self.failed(tx, fired.context, &fired.failures, now_ms);
                output.extend(out);
            }
            None => {}
        }
    }

    /// Runs the errorAction of `context.rule` for `failures` (after network failures too).
    /// Each failure is logged; a rule without errorAction only logs, as in AWS.
    pub fn failed(
        &mut self,
        tx: &ServiceTx<'_>,
        mut context: ErrorContext,
        failures: &[Failure],
        now_ms: i64,
    ) -> Output {
        for f in failures {
            tracing::warn!(
                "rule {}: {} on {} failed for a message on {}: {}",
                context.rule,
                f.failed_action,
                f.failed_resource,
                context.topic,
                f.error_message
            );
        }
        let Some(rule) = self.rules.get(&context.rule) else {
            return Output::default();
        };
        let Some(action) = rule.error_action.clone() else {
            return Output::default();
        };
        context.trace_id = self.uuid();
        let message = context.error_message(failures);
        let (output, network, errors) =
            run_error_action(self, tx, &action, &context, &message, now_ms);
        if matches!(action.kind, super::ActionKind::NotExecuted { .. }) {
            self.counts.not_executed += 1;
        }
        for e in errors {
            self.counts.failed += 1;
            tracing::warn!(
                "rule {}: the errorAction {} on {} failed too: {}",
                context.rule,
                e.failed_action,
                e.failed_resource,
                e.error_message
            );
        }
        if let Some(batch) = network {
            self.outbox.push(batch);
        }
        output
    }
}
