//! `tether rules test|list|show`. `test` evaluates an AWS IoT SQL statement against one message
//! on the spot, with the same engine `tether serve` runs (`iot_sql`), and prints the output the
//! rule's actions would get, or why it did not fire (its FROM does not match the topic, its
//! WHERE is not true, the SQL does not parse, at which line and column); no server is needed.
//! `list` and `show` read the rules of a running `tether serve` through its API
//! (ListTopicRules, GetTopicRule) as the AWS CLI does, and print the JSON answer.

use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use iot_sql::{Context, Environment, Output, Payload, ShadowRequest, SqlVersion, Statement};
use serde_json::Value;

use crate::api_client::{ApiArgs, Call, Client};

/// Try IoT SQL statements locally; list and show the topic rules of a running tether serve.
#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Evaluate a statement against one message and print its output, or why it did not fire
    /// (exit status 1). No server needed.
    Test {
        /// The rule's statement, e.g. "SELECT temp FROM 'sensors/+/data' WHERE temp > 30".
        #[arg(long, value_name = "SQL")]
        sql: String,
        /// The topic the message is published to (a Basic Ingest topic $aws/rules/NAME/... skips
        /// the FROM check, as AWS does).
        #[arg(long, value_name = "TOPIC")]
        topic: String,
        /// The payload file (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        payload: PathBuf,
        /// awsIotSqlVersion [default: 2015-10-08, as AWS when the rule omits it].
        #[arg(long, value_name = "VERSION")]
        sql_version: Option<String>,
        /// clientid() of the publisher.
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        /// principal() of the publisher (a certificate id).
        #[arg(long, value_name = "ID")]
        principal: Option<String>,
        /// accountid().
        #[arg(long, value_name = "ID", default_value = "123456789012")]
        account_id: String,
    },
    /// List the topic rules (ListTopicRules, every page).
    List {
        /// Only the rules whose FROM filter is this text.
        #[arg(long, value_name = "FILTER")]
        topic: Option<String>,
    },
    /// Print one topic rule (GetTopicRule).
    Show {
        /// The rule name.
        name: String,
    },
}

pub fn run(args: RulesArgs) -> Result<ExitCode> {
    match args.command {
        RulesCommand::Test {
            sql,
            topic,
            payload,
            sql_version,
            client_id,
            principal,
            account_id,
        } => {
            let bytes = if payload.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                    .context("cannot read the payload from standard input")?;
                buf
            } else {
                std::fs::read(&payload).with_context(|| {
                    format!("--payload {}: cannot read the file", payload.display())
                })?
            };
            let message = Message {
                topic: &topic,
                payload: &bytes,
                client_id: client_id.as_deref(),
                principal: principal.as_deref(),
                account_id: &account_id,
            };
            match test(&sql, sql_version.as_deref(), &message)? {
                Verdict::Fired(output) => {
                    match output {
                        Output::Json(json) => println!("{}", serde_json::to_string_pretty(&json)?),
                        Output::Bytes(bytes) => {
                            use std::io::Write as _;
                            std::io::stdout().write_all(&bytes)?;
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Verdict::NotFired(why) => {
                    println!("did not fire: {why}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        RulesCommand::List { topic } => {
            let client = args.api.client()?;
            print(&list(&client, topic.as_deref())?)?;
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Show { name } => {
            let client = args.api.client()?;
            print(&client.call(Call::iot("GET", &["rules", &name]))?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The message a statement is tested against.
#[derive(Debug)]
struct Message<'a> {
    topic: &'a str,
    payload: &'a [u8],
    client_id: Option<&'a str>,
    principal: Option<&'a str>,
    account_id: &'a str,
}

/// What a statement did with the message.
#[derive(Debug, PartialEq)]
enum Verdict {
    Fired(Output),
    NotFired(String),
}

fn test(sql: &str, version: Option<&str>, message: &Message<'_>) -> Result<Verdict> {
    let version = SqlVersion::from_field(version)
        .map_err(|e| anyhow::anyhow!("--sql-version: {e} (use 2015-10-08, 2016-03-23 or beta)"))?;
    let statement = match Statement::parse(sql, version) {
        Ok(statement) => statement,
        Err(e) => bail!("the statement does not parse (AWS answers SqlParseException): {e}"),
    };
    let topic = match iot_sql::basic_ingest_topic(message.topic) {
        Some((_, rest)) => rest,
        None if statement.matches_topic(message.topic) => message.topic,
        None => {
            return Ok(Verdict::NotFired(match statement.from_filter() {
                Some(filter) => format!(
                    "FROM '{filter}' does not match the topic {:?}",
                    message.topic
                ),
                None => "the statement has no FROM: only Basic Ingest ($aws/rules/NAME/...) \
                         triggers it"
                    .to_owned(),
            }));
        }
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let ctx = Context {
        topic,
        client_id: message.client_id,
        principal: message.principal,
        source_ip: None,
        trace_id: None,
        account_id: message.account_id,
        timestamp_ms: now,
        environment: &Local,
    };
    match statement.evaluate(&ctx, &Payload::new(message.payload)) {
        Ok(Some(output)) => Ok(Verdict::Fired(output)),
        Ok(None) => Ok(Verdict::NotFired(match &statement.query().condition {
            Some(condition) => format!("WHERE {condition} is not true for this message"),
            None => "the statement did not fire".to_owned(),
        })),
        Err(e) => bail!("the statement failed for this message: {e}"),
    }
}

/// `newuuid()` and `rand()` from the process's random hasher keys; no shadows without a server.
struct Local;

impl Local {
    fn random_u64() -> u64 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.finish()
    }
}

impl Environment for Local {
    fn new_uuid(&self) -> String {
        let (a, b) = (Local::random_u64(), Local::random_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    fn random(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let r = (Local::random_u64() >> 11) as f64 / (1u64 << 53) as f64;
        r
    }

    fn thing_shadow(&self, request: &ShadowRequest<'_>) -> Result<Option<Value>, String> {
        Err(format!(
            "get_thing_shadow({:?}) needs the shadows of a running tether serve; `tether rules \
             test` evaluates without them: create the rule and publish to test it",
            request.thing
        ))
    }
}

/// Every page of ListTopicRules, as one `{"rules": [...]}`.
fn list(client: &Client, topic: Option<&str>) -> Result<Value> {
    let mut rules = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut call = Call::iot("GET", &["rules"]);
        if let Some(t) = topic {
            call = call.query("topic", t);
        }
        if let Some(t) = &token {
            call = call.query("nextToken", t);
        }
        let page = client.call(call)?;
        if let Some(items) = page.get("rules").and_then(Value::as_array) {
            rules.extend(items.iter().cloned());
        }
        token = page
            .get("nextToken")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if token.is_none() {
            return Ok(serde_json::json!({ "rules": rules }));
        }
    }
}

fn print(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message<'a>(topic: &'a str, payload: &'a [u8]) -> Message<'a> {
        Message {
            topic,
            payload,
            client_id: Some("dev-1"),
            principal: None,
            account_id: "123456789012",
        }
    }

    const SQL: &str = "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30";

    #[test]
    fn a_matching_message_prints_the_select_output() {
        let verdict = test(SQL, None, &message("sensors/d1/data", br#"{"temp": 31}"#)).unwrap();
        assert_eq!(
            verdict,
            Verdict::Fired(Output::Json(json!({"temp": 31, "device": "d1"})))
        );
    }

    #[test]
    fn a_message_that_does_not_fire_says_why() {
        let Verdict::NotFired(why) =
            test(SQL, None, &message("sensors/d1/data", br#"{"temp": 3}"#)).unwrap()
        else {
            panic!()
        };
        assert!(why.contains("WHERE") && why.contains("temp > 30"), "{why}");
        let Verdict::NotFired(why) =
            test(SQL, None, &message("other/topic", br#"{"temp": 99}"#)).unwrap()
        else {
            panic!()
        };
        assert!(why.contains("does not match"), "{why}");
    }

    #[test]
    fn sql_that_does_not_parse_names_the_position() {
        let e = test("SELECT * FORM 'a'", None, &message("a", b"{}")).unwrap_err();
        assert!(e.to_string().contains("line 1, column"), "{e}");
    }
}
