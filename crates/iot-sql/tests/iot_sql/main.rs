//! Integration tests for `iot-sql` through its public API only: AWS's documented examples,
//! functions with their Undefined and type cases, parse errors with messages and positions,
//! substitution templates, the print/parse property, and the fuzz corpus replay. Shared
//! fixtures live here; each group of tests is a module beside this file.

// Clippy's test allowances cover `#[test]` functions only, not the fixtures they share.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test fixtures fail the test loudly on bad fixtures"
)]

mod aws_examples;
mod corpus;
mod functions;
mod parse_errors;
mod properties;
mod semantics;
mod templates;

use iot_sql::fuzz::FixedEnvironment;
use iot_sql::{Context, EvalError, Output, Payload, SqlVersion, Statement};
use serde_json::Value as Json;

pub const V1: SqlVersion = SqlVersion::V2015_10_08;
pub const V2: SqlVersion = SqlVersion::V2016_03_23;

/// The timestamp every test message carries; divisible by 12 (binary payload example).
pub const NOW: i64 = 1_481_825_251_152;

/// A message on `topic` from client `dev-1` in account 123456789012.
pub fn ctx(topic: &str) -> Context<'_> {
    Context {
        topic,
        client_id: Some("dev-1"),
        principal: Some("ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373"),
        source_ip: Some("203.0.113.7"),
        trace_id: Some("12345678-1234-1234-1234-123456789012"),
        account_id: "123456789012",
        timestamp_ms: NOW,
        environment: &FixedEnvironment,
    }
}

/// Parses `sql`, failing the test with the parser's message if it does not parse.
pub fn parse(sql: &str, version: SqlVersion) -> Statement {
    Statement::parse(sql, version).unwrap_or_else(|err| panic!("{sql:?} does not parse: {err}"))
}

/// Evaluates `sql` for `payload` published on `topic`.
pub fn run(
    sql: &str,
    version: SqlVersion,
    topic: &str,
    payload: &[u8],
) -> Result<Option<Output>, EvalError> {
    parse(sql, version).evaluate(&ctx(topic), &Payload::new(payload))
}

/// The JSON output of `sql` for a JSON `payload` on topic `a/b`; `None` when it did not fire.
pub fn output(sql: &str, version: SqlVersion, payload: &str) -> Option<Json> {
    match run(sql, version, "a/b", payload.as_bytes()) {
        Ok(Some(Output::Json(json))) => Some(json),
        Ok(None) => None,
        other => panic!("{sql:?} over {payload}: {other:?}"),
    }
}

/// The value of `expr` for `payload` (`None` when Undefined), through `SELECT expr AS v`.
pub fn value(expr: &str, version: SqlVersion, payload: &str) -> Option<Json> {
    let sql = format!("SELECT {expr} AS v FROM 'a/b'");
    let out = output(&sql, version, payload).unwrap_or_else(|| panic!("{sql:?} did not fire"));
    out.get("v").cloned()
}
