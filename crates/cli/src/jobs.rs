//! `tether jobs create|list|show|cancel|watch`: AWS IoT Jobs through the AWS-compatible HTTP API
//! of a running `tether serve`, with the SigV4-signed calls the AWS CLI makes (CreateJob,
//! ListJobs, DescribeJob, ListJobExecutionsForJob, CancelJob). `watch` polls DescribeJob once a
//! second and draws the job's executions by status until the job is over; its exit status says
//! whether every execution succeeded. Targets are things, named here and turned into their ARNs
//! with DescribeThing. It never touches the database directly.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::api_client::{Call, Client};

/// Where `tether serve` puts its API unless told otherwise.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4580";

/// The execution statuses in the order `show` and `watch` print them, with DescribeJob's
/// `jobProcessDetails` member for each.
const STATUSES: [(&str, &str); 8] = [
    ("QUEUED", "numberOfQueuedThings"),
    ("IN_PROGRESS", "numberOfInProgressThings"),
    ("SUCCEEDED", "numberOfSucceededThings"),
    ("FAILED", "numberOfFailedThings"),
    ("REJECTED", "numberOfRejectedThings"),
    ("TIMED_OUT", "numberOfTimedOutThings"),
    ("CANCELED", "numberOfCanceledThings"),
    ("REMOVED", "numberOfRemovedThings"),
];

/// Create, list, show, cancel and watch AWS IoT Jobs on a running `tether serve`.
#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(subcommand)]
    command: JobsCommand,
    /// The API of tether serve [default: $AWS_ENDPOINT_URL_IOT, $AWS_ENDPOINT_URL, else
    /// http://127.0.0.1:4580]. Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
    /// else the loopback-only development credential test/test.
    #[arg(long, global = true, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Region to sign for [default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1].
    #[arg(long, global = true)]
    region: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Create a job for one or more things.
    Create(CreateArgs),
    /// List jobs, newest first.
    List {
        /// Only jobs with this status (IN_PROGRESS, CANCELED, COMPLETED).
        #[arg(long)]
        status: Option<String>,
    },
    /// Show a job, its executions and its document.
    Show {
        /// Job id.
        job_id: String,
    },
    /// Cancel a job: its QUEUED executions, and with --force its IN_PROGRESS ones too.
    Cancel {
        /// Job id.
        job_id: String,
        /// Cancel executions in progress as well (their devices can no longer update them).
        #[arg(long)]
        force: bool,
        /// A reason code (upper-case letters, digits and '_').
        #[arg(long, value_name = "CODE")]
        reason_code: Option<String>,
        /// A comment.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Follow a job's executions by status until it is over. Exit status 0 when every
    /// execution succeeded, 1 otherwise.
    Watch {
        /// Job id.
        job_id: String,
        /// How often to ask, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        interval_ms: u64,
    },
}

/// `tether jobs create`.
#[derive(Debug, Args)]
struct CreateArgs {
    /// Job id: 1 to 64 of a-z, A-Z, 0-9, '_' and '-'.
    job_id: String,
    /// A thing to run it on (repeatable).
    #[arg(
        long = "thing",
        value_name = "NAME",
        required_unless_present = "groups"
    )]
    things: Vec<String>,
    /// A thing group to run it on: its things and its child groups' things (repeatable).
    #[arg(long = "group", value_name = "NAME")]
    groups: Vec<String>,
    /// The job document, as JSON text.
    #[arg(long, value_name = "JSON", conflicts_with_all = ["document_file", "document_source"])]
    document: Option<String>,
    /// A file holding the job document.
    #[arg(long, value_name = "PATH", conflicts_with = "document_source")]
    document_file: Option<PathBuf>,
    /// Where tether serve reads the document: file:///PATH or http://127.0.0.1:PORT/...
    #[arg(long, value_name = "URL")]
    document_source: Option<String>,
    /// A description.
    #[arg(long)]
    description: Option<String>,
    /// Keep the job running for things that become targets later (CONTINUOUS).
    #[arg(long)]
    continuous: bool,
    /// Time out executions in progress for longer than this (timeoutConfig).
    #[arg(long, value_name = "MINUTES")]
    timeout_minutes: Option<u32>,
    /// Notify at most this many things a minute (jobExecutionsRolloutConfig).
    #[arg(long, value_name = "N")]
    max_per_minute: Option<u32>,
}

pub fn run(args: JobsArgs) -> Result<ExitCode> {
    let endpoint = args
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_IOT").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    let region = args
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .unwrap_or_else(|| "us-east-1".to_owned());
    let client = Client::new(&endpoint, region)?;
    match args.command {
        JobsCommand::Create(create_args) => create(&client, create_args, args.json),
        JobsCommand::List { status } => list(&client, status.as_deref(), args.json),
        JobsCommand::Show { job_id } => show(&client, &job_id, args.json),
        JobsCommand::Cancel {
            job_id,
            force,
            reason_code,
            comment,
        } => {
            let mut body = Map::new();
            if let Some(code) = reason_code {
                body.insert("reasonCode".into(), json!(code));
            }
            if let Some(c) = comment {
                body.insert("comment".into(), json!(c));
            }
            let mut call = Call::iot("PUT", &["jobs", &job_id, "cancel"]).json(Value::Object(body));
            if force {
                call = call.query("force", "true");
            }
            let canceled = client.call(call)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&canceled)?);
            } else {
                let what = if force {
                    "queued and in-progress"
                } else {
                    "queued"
                };
                println!("canceled job {job_id} and its {what} executions");
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Watch {
            job_id,
            interval_ms,
        } => watch(
            &client,
            &job_id,
            Duration::from_millis(interval_ms.max(50)),
            args.json,
        ),
    }
}

/// CreateJob for things and thing groups named on the command line (their ARNs from
/// DescribeThing and DescribeThingGroup).
fn create(client: &Client, args: CreateArgs, json_out: bool) -> Result<ExitCode> {
    let CreateArgs {
        job_id,
        things,
        groups,
        document,
        document_file,
        document_source,
        description,
        continuous,
        timeout_minutes,
        max_per_minute,
    } = args;
    let mut body = Map::new();
    let mut targets = Vec::new();
    for thing in &things {
        let described = client
            .call(Call::iot("GET", &["things", thing]))
            .with_context(|| format!("thing {thing} cannot be targeted"))?;
        targets.push(text(&described, "thingArn")?);
    }
    for group in &groups {
        let described = client
            .call(Call::iot("GET", &["thing-groups", group]))
            .with_context(|| format!("thing group {group} cannot be targeted"))?;
        targets.push(text(&described, "thingGroupArn")?);
    }
    body.insert("targets".into(), json!(targets));
    match (document, document_file, document_source) {
        (Some(doc), None, None) => {
            body.insert("document".into(), json!(doc));
        }
        (None, Some(path), None) => {
            let doc = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the job document {}", path.display()))?;
            body.insert("document".into(), json!(doc));
        }
        (None, None, Some(url)) => {
            body.insert("documentSource".into(), json!(url));
        }
        _ => bail!("give the job document with --document, --document-file or --document-source"),
    }
    if let Some(d) = description {
        body.insert("description".into(), json!(d));
    }
    if continuous {
        body.insert("targetSelection".into(), json!("CONTINUOUS"));
    }
    if let Some(m) = timeout_minutes {
        body.insert(
            "timeoutConfig".into(),
            json!({ "inProgressTimeoutInMinutes": m }),
        );
    }
    if let Some(n) = max_per_minute {
        body.insert(
            "jobExecutionsRolloutConfig".into(),
            json!({ "maximumPerMinute": n }),
        );
    }
    let created = client.call(Call::iot("PUT", &["jobs", &job_id]).json(Value::Object(body)))?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&created)?);
    } else {
        let named: Vec<String> = things
            .iter()
            .cloned()
            .chain(groups.iter().map(|g| format!("thing group {g}")))
            .collect();
        println!("created job {job_id} for {}", named.join(", "));
        println!("follow it with: tether jobs watch {job_id}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The member `name` of `value` (`null` when absent).
fn at<'a>(value: &'a Value, name: &str) -> &'a Value {
    value.get(name).unwrap_or(&Value::Null)
}

fn text(value: &Value, name: &str) -> Result<String> {
    value
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("the API's answer lacks {name}: {value}"))
}

fn list(client: &Client, status: Option<&str>, json_out: bool) -> Result<ExitCode> {
    let mut jobs = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut call = Call::iot("GET", &["jobs"]).query("maxResults", "250");
        if let Some(s) = status {
            call = call.query("status", s);
        }
        if let Some(t) = &token {
            call = call.query("nextToken", t);
        }
        let page = client.call(call)?;
        jobs.extend(at(&page, "jobs").as_array().cloned().unwrap_or_default());
        match page.get("nextToken").and_then(Value::as_str) {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&jobs)?);
    } else if jobs.is_empty() {
        println!("no jobs");
    } else {
        for job in &jobs {
            println!(
                "{:<40} {:<12} {}",
                at(job, "jobId").as_str().unwrap_or("?"),
                at(job, "status").as_str().unwrap_or("?"),
                at(job, "targetSelection").as_str().unwrap_or("?")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every execution of a job, by thing.
fn executions(client: &Client, job_id: &str) -> Result<Vec<Value>> {
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut call = Call::iot("GET", &["jobs", job_id, "things"]).query("maxResults", "250");
        if let Some(t) = &token {
            call = call.query("nextToken", t);
        }
        let page = client.call(call)?;
        all.extend(
            at(&page, "executionSummaries")
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        match page.get("nextToken").and_then(Value::as_str) {
            Some(next) => token = Some(next.to_owned()),
            None => return Ok(all),
        }
    }
}

fn show(client: &Client, job_id: &str, json_out: bool) -> Result<ExitCode> {
    let described = client.call(Call::iot("GET", &["jobs", job_id]))?;
    let document = client.call(Call::iot("GET", &["jobs", job_id, "job-document"]))?;
    let executions = executions(client, job_id)?;
    if json_out {
        let out = json!({ "job": at(&described, "job"), "document": at(&document, "document"), "executions": executions });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let job = &at(&described, "job");
    println!(
        "job {job_id}: {} ({})",
        at(job, "status").as_str().unwrap_or("?"),
        at(job, "targetSelection").as_str().unwrap_or("?")
    );
    if let Some(d) = at(job, "description").as_str() {
        println!("  description: {d}");
    }
    if let Some(c) = at(job, "comment").as_str() {
        println!("  comment: {c}");
    }
    println!(
        "  document: {}",
        at(&document, "document").as_str().unwrap_or("")
    );
    println!("  {}", counts_line(at(job, "jobProcessDetails")));
    for e in &executions {
        let thing = at(e, "thingArn")
            .as_str()
            .and_then(|arn| arn.rsplit('/').next())
            .unwrap_or("?");
        let summary = &at(e, "jobExecutionSummary");
        println!(
            "  {thing:<40} {:<12} execution {}",
            at(summary, "status").as_str().unwrap_or("?"),
            at(summary, "executionNumber")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `QUEUED 1  IN_PROGRESS 2 ...` for the statuses that have executions.
fn counts_line(details: &Value) -> String {
    let parts: Vec<String> = STATUSES
        .iter()
        .filter_map(|(status, member)| {
            let n = at(details, member).as_u64().unwrap_or(0);
            (n > 0).then(|| format!("{status} {n}"))
        })
        .collect();
    if parts.is_empty() {
        "no executions yet".to_owned()
    } else {
        parts.join("  ")
    }
}

/// A bar of `width` characters: `#` for finished executions, `-` for the others.
fn bar(done: u64, total: u64, width: u64) -> String {
    let filled = (done.min(total) * width).checked_div(total).unwrap_or(0);
    let filled = usize::try_from(filled).unwrap_or(0);
    let width = usize::try_from(width).unwrap_or(0);
    format!(
        "[{}{}]",
        "#".repeat(filled),
        "-".repeat(width.saturating_sub(filled))
    )
}

fn watch(client: &Client, job_id: &str, interval: Duration, json_out: bool) -> Result<ExitCode> {
    let tty = std::io::stdout().is_terminal() && !json_out;
    let mut last = String::new();
    loop {
        let job = at(&client.call(Call::iot("GET", &["jobs", job_id]))?, "job").clone();
        let details = &at(&job, "jobProcessDetails");
        let count = |member: &str| at(details, member).as_u64().unwrap_or(0);
        let total: u64 = STATUSES.iter().map(|(_, m)| count(m)).sum();
        let pending = count("numberOfQueuedThings") + count("numberOfInProgressThings");
        let status = at(&job, "status").as_str().unwrap_or("?").to_owned();
        let over = (status == "COMPLETED" || status == "CANCELED") && pending == 0;
        let line = if json_out {
            json!({ "jobId": job_id, "status": status, "jobProcessDetails": details }).to_string()
        } else {
            format!(
                "{job_id} {status:<11} {} {}/{total} done  {}",
                bar(total - pending, total, 20),
                total - pending,
                counts_line(details)
            )
        };
        if line != last {
            if tty {
                print!("\r\x1b[2K{line}");
            } else {
                println!("{line}");
            }
            std::io::stdout().flush().ok();
            last = line;
        }
        if over {
            if tty {
                println!();
            }
            let succeeded = count("numberOfSucceededThings");
            return Ok(if succeeded == total {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_and_counts_show_progress() {
        assert_eq!(bar(0, 4, 8), "[--------]");
        assert_eq!(bar(2, 4, 8), "[####----]");
        assert_eq!(bar(4, 4, 8), "[########]");
        assert_eq!(bar(0, 0, 4), "[----]");
        let details = json!({"numberOfQueuedThings": 1, "numberOfSucceededThings": 3, "numberOfFailedThings": 0});
        assert_eq!(counts_line(&details), "QUEUED 1  SUCCEEDED 3");
        assert_eq!(counts_line(&json!({})), "no executions yet");
    }
}
