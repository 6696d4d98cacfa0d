//! A parsed rule statement and its evaluation against one message: WHERE decides whether the
//! rule fires (only a Boolean `true` fires it), SELECT builds the outgoing payload. A rule is
//! parsed once and evaluated per matching publish.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value as Json;

use crate::ast::{Expr, Query, Select, SelectItem};
use crate::context::{Context, Payload};
use crate::error::{EvalError, ParseError};
use crate::eval::{Doc, Evaluator};
use crate::functions::Regexes;
use crate::parser::Parser;
use crate::value::Value;
use crate::version::SqlVersion;

/// A parsed AWS IoT SQL statement, ready to evaluate.
///
/// ```
/// use iot_sql::{Context, Environment, Output, Payload, ShadowRequest, SqlVersion, Statement};
///
/// struct Offline;
/// impl Environment for Offline {
///     fn new_uuid(&self) -> String { "00000000-0000-4000-8000-000000000000".into() }
///     fn random(&self) -> f64 { 0.5 }
///     fn thing_shadow(&self, _: &ShadowRequest<'_>) -> Result<Option<serde_json::Value>, String> {
///         Ok(None)
///     }
/// }
///
/// let sql = "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30";
/// let statement = Statement::parse(sql, SqlVersion::V2016_03_23)?;
/// assert_eq!(statement.from_filter(), Some("sensors/+/data"));
///
/// let ctx = Context {
///     topic: "sensors/dev-1/data",
///     client_id: Some("dev-1"),
///     principal: None,
///     source_ip: None,
///     trace_id: None,
///     account_id: "123456789012",
///     timestamp_ms: 1_700_000_000_000,
///     environment: &Offline,
/// };
/// let hot = Payload::new(br#"{"temp": 35}"#);
/// let output = statement.evaluate(&ctx, &hot)?;
/// assert_eq!(output, Some(Output::Json(serde_json::json!({"temp": 35, "device": "dev-1"}))));
///
/// let cold = Payload::new(br#"{"temp": 20}"#);
/// assert_eq!(statement.evaluate(&ctx, &cold)?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    version: SqlVersion,
    query: Query,
    /// The first expression that reads a payload field, which a non-JSON payload cannot answer.
    field_reader: Option<String>,
    regexes: Regexes,
}

/// What a statement produced for a message that fired it.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A JSON document: an object, or with `SELECT VALUE` any JSON value.
    Json(Json),
    /// Raw bytes: the payload itself for `SELECT *` over a payload that is not a JSON object,
    /// or nothing for `SELECT VALUE` of an Undefined value ("Undefined is converted to an empty
    /// string when serialized by itself", Data types page).
    Bytes(Vec<u8>),
}

impl Output {
    /// The bytes an action sends: JSON serialized compactly, raw bytes as they are.
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Output::Json(json) => Cow::Owned(json.to_string().into_bytes()),
            Output::Bytes(bytes) => Cow::Borrowed(bytes),
        }
    }
}

impl Statement {
    /// Parses `sql` as a rule of the given `awsIotSqlVersion`.
    ///
    /// The error carries the position of the fault and says what was expected; functions AWS
    /// has but tether does not evaluate, and functions AWS does not have, are refused by name.
    pub fn parse(sql: &str, version: SqlVersion) -> Result<Statement, ParseError> {
        let query = Parser::new(sql, 0, version).statement()?;
        let field_reader = first_field_reader(&query).map(ToString::to_string);
        let regexes = Regexes::collect(|visit| query.walk(visit));
        Ok(Statement {
            version,
            query,
            field_reader,
            regexes,
        })
    }

    /// The rule's `awsIotSqlVersion`.
    pub fn version(&self) -> SqlVersion {
        self.version
    }

    /// The syntax tree.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The topic filter of FROM, or `None` when the statement has no FROM (which AWS allows
    /// only for rules triggered through Basic Ingest).
    pub fn from_filter(&self) -> Option<&str> {
        self.query.from.as_deref()
    }

    /// Whether a message published to `topic` triggers this rule: its FROM filter matches the
    /// topic by MQTT's rules (`+` one level, `#` the rest; wildcards at the start do not match
    /// `$` topics, [MQTT-4.7.2-1]). A statement without FROM matches no topic: it runs only
    /// through Basic Ingest.
    ///
    /// ```
    /// use iot_sql::{SqlVersion, Statement};
    /// let rule = Statement::parse("SELECT * FROM 'a/+/c/#'", SqlVersion::default())?;
    /// assert!(rule.matches_topic("a/b/c"));
    /// assert!(rule.matches_topic("a/b/c/d/e"));
    /// assert!(!rule.matches_topic("a/b/x"));
    /// # Ok::<(), iot_sql::ParseError>(())
    /// ```
    pub fn matches_topic(&self, topic: &str) -> bool {
        self.from_filter()
            .is_some_and(|filter| topic_matches(filter, topic))
    }

    /// Evaluates the statement for one message: `Ok(None)` when WHERE is not exactly `true`,
    /// otherwise the outgoing payload. An `Err` means the rule fails for this message (AWS runs
    /// its errorAction).
    pub fn evaluate(
        &self,
        ctx: &Context<'_>,
        payload: &Payload<'_>,
    ) -> Result<Option<Output>, EvalError> {
        let evaluator = Evaluator::new(ctx, payload, self.version, &self.regexes);
        let root = evaluator.root();
        if let (Doc::Binary, Some(field)) = (root, &self.field_reader) {
            return Err(EvalError::NotJson {
                field: field.clone(),
            });
        }
        if let Some(condition) = &self.query.condition
            && evaluator.eval(condition, root)? != Value::Bool(true)
        {
            return Ok(None);
        }
        let output = match (&self.query.select, root) {
            (Select::Value(Expr::Payload), Doc::Binary) => Output::Bytes(payload.bytes().to_vec()),
            (Select::Value(expr), _) => match evaluator.eval(expr, root)? {
                Value::Array(_) if !self.version.is_2016() => return Err(EvalError::ArrayOutput),
                value => value
                    .into_json()
                    .map_or_else(|| Output::Bytes(Vec::new()), Output::Json),
            },
            (Select::Items(items), Doc::Binary) => match items.as_slice() {
                [SelectItem::Wildcard] => Output::Bytes(payload.bytes().to_vec()),
                _ if items.contains(&SelectItem::Wildcard) => {
                    return Err(EvalError::BinaryWildcard);
                }
                _ => Output::Json(Json::Object(evaluator.select_items(items, root)?)),
            },
            (Select::Items(items), Doc::Json(_)) => {
                Output::Json(Json::Object(evaluator.select_items(items, root)?))
            }
        };
        Ok(Some(output))
    }
}

impl fmt::Display for Statement {
    /// The statement as canonical AWS IoT SQL; it parses back to the same statement.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.query)
    }
}

fn first_field_reader(query: &Query) -> Option<&Expr> {
    let selected: Vec<&Expr> = match &query.select {
        Select::Value(expr) => vec![expr],
        Select::Items(items) => items
            .iter()
            .filter_map(|item| match item {
                SelectItem::Wildcard => None,
                SelectItem::Expr { expr, .. } => Some(expr),
            })
            .collect(),
    };
    query
        .condition
        .iter()
        .chain(selected)
        .find_map(Expr::field_read)
}

/// MQTT topic filter matching.
fn topic_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match level {
            "#" => return true,
            "+" => {
                if topic_levels.next().is_none() {
                    return false;
                }
            }
            exact => {
                if topic_levels.next() != Some(exact) {
                    return false;
                }
            }
        }
    }
    topic_levels.next().is_none()
}
