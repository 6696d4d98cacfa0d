//! The AWS IoT rules engine on top of `iot_sql`: topic rules and destinations as the `iot`
//! control plane manages them (`service.rs`, `destination.rs`), their payloads parsed and
//! checked at creation (`rule.rs`, `action.rs`), and the engine that fires them for publishes
//! their FROM filter or Basic Ingest topic claims (`engine.rs`, `fire.rs`), handing network work
//! to the server as data (`network.rs`). Evaluation runs on the services worker; nothing here
//! does IO, reads a clock or authorizes (the broker authorized the publish as `iot:Publish`).

mod action;
mod destination;
mod engine;
mod env;
mod error;
mod fire;
pub mod fuzz;
mod network;
mod rule;
mod service;

pub use action::{Action, ActionKind, Headers, Http, MAX_ACTIONS, Republish};
pub use destination::{
    confirm_destination, confirmation_failed, create_destination, delete_destination,
    get_destination, list_destinations, update_destination,
};
pub use engine::{Engine, MAX_HOPS, RuleCounts, RulesConfig};
pub use error::RuleError;
pub use network::{
    Call, ConfirmCall, ErrorContext, Failure, HttpCall, LambdaCall, NetworkBatch, function_name,
};
pub use rule::{TopicRule, check_rule_name};
pub use service::{create_rule, delete_rule, get_rule, list_rules, replace_rule, set_rule_enabled};

/// The Basic Ingest topic filter: every `$aws/rules/{ruleName}[/...]` publish goes to the rules
/// engine only.
pub const BASIC_INGEST_FILTER: &str = "$aws/rules/#";

#[cfg(test)]
mod tests;
