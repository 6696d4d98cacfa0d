//! AWS IoT SQL as AWS's rules engine evaluates it: a parser of rule statements and
//! substitution templates into a typed tree, and an evaluator over JSON payloads with AWS's
//! data types, conversions and `Undefined`. Pure: no IO, no clock, no randomness; the caller
//! passes the message's [`Context`] and an [`Environment`] for `newuuid()`, `rand()` and
//! `get_thing_shadow()`. Firing rules on publishes, and their actions, are the rules engine's
//! business, not this crate's.
//!
//! The contract is AWS IoT's SQL reference (developer guide pages `iot-sql-*.md`,
//! `iot-substitution-templates.md`, `iot-rule-sql-version.md`, `binary-payloads.md`); every
//! choice where it is silent is written at the code that makes it, and deliberate differences
//! are listed in `docs/aws-differences.md` ("IoT SQL").
//!
//! ```
//! use iot_sql::{Context, Environment, Output, Payload, ShadowRequest, SqlVersion, Statement, Template};
//!
//! struct Offline;
//! impl Environment for Offline {
//!     fn new_uuid(&self) -> String { "6a0bd2a4-2d5b-4f59-8f33-8b54e3c6f0a1".into() }
//!     fn random(&self) -> f64 { 0.25 }
//!     fn thing_shadow(&self, _: &ShadowRequest<'_>) -> Result<Option<serde_json::Value>, String> {
//!         Ok(None)
//!     }
//! }
//!
//! // Parse once, when the rule is created.
//! let statement = Statement::parse(
//!     "SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50",
//!     SqlVersion::default(), // 2015-10-08, AWS's default when awsIotSqlVersion is omitted
//! )?;
//! let topic = Template::parse("${topic()}/republish", SqlVersion::default())?;
//!
//! // Evaluate per matching publish.
//! let ctx = Context {
//!     topic: "topic/subtopic",
//!     client_id: Some("sensor-7"),
//!     principal: None,
//!     source_ip: None,
//!     trace_id: None,
//!     account_id: "123456789012",
//!     timestamp_ms: 1_481_825_251_155,
//!     environment: &Offline,
//! };
//! let payload = Payload::new(br#"{"color":"red","temperature":100}"#);
//! let output = statement.evaluate(&ctx, &payload)?;
//! assert_eq!(output, Some(Output::Json(serde_json::json!({"rgb": "red"}))));
//! assert_eq!(topic.render(&ctx, &payload)?, "topic/subtopic/republish");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The language
//!
//! - `SELECT` with `*`, expressions, `AS` aliases (dotted aliases nest: `AS a.b`), `*` with
//!   other items, `* AS name`, and `SELECT VALUE expr`; `FROM 'topic filter'` with `+` and `#`
//!   (optional: [`Statement::from_filter`] is `None` for Basic Ingest rules); `WHERE`.
//! - Literals: numbers (`1`, `-2.5`, `5E-12`), strings in `'...'` or `"..."`, `TRUE`,
//!   `FALSE`, `NULL`; array `[...]` and object `{'k': v}` literals in 2016-03-23.
//! - Operators `OR`, `AND`, `NOT`, `=`, `<>` (`!=`), `<`, `<=`, `>`, `>=`, `+`, `-`, `*`, `/`,
//!   `%`, unary `-`, with AWS's conversion tables; `CASE v WHEN t THEN r ... ELSE e END`.
//! - JSON extensions `a.b`, `a[0]`, after any expression (`get(x, 0).v`); nested object queries
//!   `(SELECT ... FROM array WHERE ...)` in 2016-03-23.
//! - An unselected value that is Undefined drops its key; a WHERE that is not the Boolean
//!   `true` does not fire; functions given the wrong types or argument counts are Undefined.
//! - Payloads that are not a JSON object are binary: `SELECT *` passes them through as
//!   [`Output::Bytes`], functions such as `encode(*, 'base64')` read them, and reading a field
//!   fails with [`EvalError::NotJson`].
//!
//! # Functions
//!
//! | Function | Status |
//! |---|---|
//! | `abs`, `ceil`, `floor`, `round`, `sign`, `trunc`, `mod`, `remainder` | implemented |
//! | `power`, `sqrt`, `exp`, `ln`, `log`, `sin`, `cos`, `tan`, `asin`, `acos`, `atan`, `atan2`, `sinh`, `cosh`, `tanh` | implemented (double precision) |
//! | `bitand`, `bitor`, `bitxor`, `bitnot` | implemented |
//! | `cast(x AS String/Int/Double/Decimal/Bool ...)` | implemented (Decimal, Bool, Boolean: 2016-03-23) |
//! | `concat`, `lower`, `upper`, `trim`, `ltrim`, `rtrim`, `lpad`, `rpad`, `substring`, `replace`, `startswith`, `endswith`, `chr` | implemented |
//! | `length`, `numbytes`, `indexof` | implemented (2016-03-23) |
//! | `regexp_matches`, `regexp_replace`, `regexp_substr` | implemented (`regex` crate syntax) |
//! | `get`, `isNull`, `nanvl` | implemented |
//! | `isUndefined`, `transform('enrichArray', ...)` | implemented (2016-03-23) |
//! | `encode(v, 'base64')`, `decode(v, 'base64')` | implemented (2016-03-23; other schemes refused) |
//! | `md5`, `sha1`, `sha224`, `sha256`, `sha384`, `sha512` | implemented |
//! | `topic`, `clientid`, `principal`, `sourceip`, `traceid`, `accountid`, `timestamp`, `sql_version` | implemented, from [`Context`] |
//! | `newuuid`, `rand` | implemented, from [`Environment`] |
//! | `get_thing_shadow` | implemented, from [`Environment::thing_shadow`] (2016-03-23) |
//! | `parse_time` | implemented for UTC and fixed offsets (2016-03-23; see the letters below) |
//! | `aws_lambda`, `get_dynamodb`, `get_secret`, `get_registry_data`, `machinelearning_predict` | refused at parse time: they call other AWS services |
//! | `get_mqtt_property`, `get_user_properties`, `get_or_default`, `time_to_epoch`, `md2` | refused at parse time: not implemented yet |
//!
//! [`AWS_FUNCTIONS`] lists every function AWS documents and [`UNSUPPORTED`] the refused ones
//! with their reasons. A name AWS does not have (`isString`, say) is a
//! [`ParseErrorKind::UnknownFunction`] error, with a suggestion when it looks like a typo.
//!
//! `parse_time` letters: `G C Y y M d D E e a H k K h m s S z Z` and `'quoted text'`; zones
//! `UTC`, `GMT`, `Z` and fixed offsets such as `+01:00` (named zones are Undefined).

#![warn(missing_docs)]

mod ast;
mod catalog;
mod context;
mod display;
mod error;
mod eval;
mod functions;
pub mod fuzz;
mod lexer;
mod operators;
mod parser;
mod statement;
mod template;
mod value;
mod version;

pub use ast::{
    BinaryOp, Case, CastType, Expr, Literal, Query, Select, SelectItem, Subquery, UnaryOp,
};
pub use catalog::{AWS_FUNCTIONS, Function, UNSUPPORTED};
pub use context::{Context, Environment, Payload, ShadowRequest, basic_ingest_topic};
pub use error::{EvalError, ParseError, ParseErrorKind, Position};
pub use parser::MAX_DEPTH;
pub use statement::{Output, Statement};
pub use template::{Part, Template};
pub use version::{SqlVersion, UnknownSqlVersion};
