//! `tether shadow get|update|delete|list`: a thing's Device Shadows through the `iot-data` API of
//! a running `tether serve`, with the same SigV4-signed calls the AWS CLI makes
//! (GetThingShadow, UpdateThingShadow, DeleteThingShadow, ListNamedShadowsForThing); prints the
//! JSON answer. `get --watch` then follows the shadow's `update/delta` and `update/documents`
//! topics over MQTT with a device's credentials (the demo device's by default) and prints each
//! change as it happens. It keeps no state and never reads the database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use client::{QoS, SubscriptionOptions, TopicFilter};
use serde_json::Value;

use crate::api_client::{ApiArgs, Call, Client, is_aws_error};
use crate::pubsub::device_connection;

/// Read, change and follow Device Shadows through the API of a running tether serve.
#[derive(Debug, Args)]
pub struct ShadowArgs {
    #[command(subcommand)]
    command: ShadowCommand,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Subcommand)]
enum ShadowCommand {
    /// Print a shadow (GetThingShadow).
    Get {
        #[command(flatten)]
        shadow: Which,
        /// Then follow update/delta and update/documents over MQTT until interrupted.
        #[arg(long)]
        watch: bool,
        #[command(flatten)]
        device: DeviceFiles,
    },
    /// Merge a state into a shadow (UpdateThingShadow) and print the accepted document.
    Update {
        #[command(flatten)]
        shadow: Which,
        /// The desired state, a JSON object (`'{"color":"red"}'`).
        #[arg(long, value_name = "JSON", conflicts_with = "document")]
        desired: Option<String>,
        /// The reported state, a JSON object.
        #[arg(long, value_name = "JSON", conflicts_with = "document")]
        reported: Option<String>,
        /// A whole request document (`{"state":{…},"version":N,"clientToken":"…"}`), or
        /// `@FILE` to read it from a file.
        #[arg(long, value_name = "JSON|@FILE")]
        document: Option<String>,
    },
    /// Delete a shadow (DeleteThingShadow).
    Delete {
        #[command(flatten)]
        shadow: Which,
    },
    /// List a thing's named shadows (ListNamedShadowsForThing, every page).
    List {
        /// Thing name.
        thing: String,
    },
}

/// Which shadow: a thing and, for a named shadow, its name.
#[derive(Debug, Args)]
struct Which {
    /// Thing name (no registered thing is needed, as in AWS).
    thing: String,
    /// Shadow name; without it, the thing's classic shadow.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

/// The device credentials `--watch` connects with.
#[derive(Debug, Args)]
struct DeviceFiles {
    /// Device certificate [default: the demo device's, in the data directory].
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// Its private key.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// CA file the server certificate is checked against [default: the data directory's].
    #[arg(long, value_name = "FILE")]
    cafile: Option<PathBuf>,
    /// Data directory of tether serve, for the defaults. Default: as tether serve.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

pub fn run(args: ShadowArgs) -> Result<ExitCode> {
    let client = args.api.client()?;
    match args.command {
        ShadowCommand::Get {
            shadow,
            watch,
            device,
        } => {
            match client.call(shadow_call("GET", &shadow)) {
                Ok(document) => print(&document)?,
                Err(e) if watch && is_aws_error(&e, "ResourceNotFoundException") => {
                    println!("{}: no shadow yet; waiting for changes", shadow.describe());
                }
                Err(e) => return Err(e),
            }
            if watch {
                watch_changes(&client, &shadow, &device)?;
            }
        }
        ShadowCommand::Update {
            shadow,
            desired,
            reported,
            document,
        } => {
            let body = request_document(desired, reported, document)?;
            print(&client.call(shadow_call("POST", &shadow).json(body))?)?;
        }
        ShadowCommand::Delete { shadow } => print(&client.call(shadow_call("DELETE", &shadow))?)?,
        ShadowCommand::List { thing } => print(&list(&client, &thing)?)?,
    }
    Ok(ExitCode::SUCCESS)
}

impl Which {
    fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("shadow {name} of {}", self.thing),
            None => format!("the classic shadow of {}", self.thing),
        }
    }

    /// The MQTT topic prefix of this shadow.
    fn prefix(&self) -> String {
        match &self.name {
            Some(name) => format!("$aws/things/{}/shadow/name/{name}", self.thing),
            None => format!("$aws/things/{}/shadow", self.thing),
        }
    }
}

fn shadow_call(method: &'static str, shadow: &Which) -> Call {
    let call = Call::new(
        "iotdevicegateway",
        method,
        &["things", &shadow.thing, "shadow"],
    );
    match &shadow.name {
        Some(name) => call.query("name", name),
        None => call,
    }
}

/// The request body from `--desired`/`--reported` or `--document`.
fn request_document(
    desired: Option<String>,
    reported: Option<String>,
    document: Option<String>,
) -> Result<Value> {
    if let Some(text) = document {
        let text = match text.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("--document @{path}: cannot read the file"))?,
            None => text,
        };
        return serde_json::from_str(&text).with_context(|| {
            "--document is not JSON; give a request document like \
                {\"state\":{\"desired\":{\"color\":\"red\"}}}"
        });
    }
    let mut state = serde_json::Map::new();
    for (section, text) in [("desired", desired), ("reported", reported)] {
        if let Some(text) = text {
            let value: Value = serde_json::from_str(&text).with_context(|| {
                format!("--{section} is not JSON; give an object like '{{\"color\":\"red\"}}'")
            })?;
            state.insert(section.to_owned(), value);
        }
    }
    if state.is_empty() {
        bail!("nothing to update: give --desired JSON, --reported JSON or --document JSON");
    }
    Ok(serde_json::json!({ "state": state }))
}

/// Every page of ListNamedShadowsForThing, as one `{"results": [...]}`.
fn list(client: &Client, thing: &str) -> Result<Value> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut call = Call::new(
            "iotdevicegateway",
            "GET",
            &["api", "things", "shadow", "ListNamedShadowsForThing", thing],
        );
        if let Some(t) = &token {
            call = call.query("nextToken", t);
        }
        let page = client.call(call)?;
        if let Some(results) = page.get("results").and_then(Value::as_array) {
            names.extend(results.iter().cloned());
        }
        token = page
            .get("nextToken")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if token.is_none() {
            return Ok(serde_json::json!({ "results": names }));
        }
    }
}

fn print(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Follows `update/delta` and `update/documents` over MQTT, printing each message, until the
/// connection ends or the process is interrupted.
fn watch_changes(client: &Client, shadow: &Which, device: &DeviceFiles) -> Result<()> {
    let (host, port) = client.endpoint()?;
    let data_dir = match &device.data_dir {
        Some(dir) => dir.clone(),
        None => crate::serve::default_data_dir()?,
    };
    let demo = data_dir.join("devices").join(server::DEMO_DEVICE);
    let file =
        |given: &Option<PathBuf>, name: &str| given.clone().unwrap_or_else(|| demo.join(name));
    let cert = file(&device.cert, "certificate.pem.crt");
    let key = file(&device.key, "private.pem.key");
    let cafile = file(&device.cafile, "root-ca.pem");
    let prefix = shadow.prefix();
    let client_id = format!("tether-shadow-watch-{}", std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let options = device_connection(&host, port, &cafile, &cert, &key, &client_id)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut mqtt = client::Client::connect(options)
            .await
            .with_context(|| connect_hint(&cert, &host, port))?;
        let mut filters = Vec::new();
        for suffix in ["update/delta", "update/documents"] {
            let filter = TopicFilter::new(&format!("{prefix}/{suffix}")).map_err(|e| {
                anyhow::anyhow!("{prefix}/{suffix} is not a valid topic filter: {e}")
            })?;
            filters.push((filter, SubscriptionOptions::with_qos(QoS::AtLeastOnce)));
        }
        let granted = mqtt
            .subscribe(filters)
            .await
            .context("cannot subscribe to the shadow's topics")?;
        if granted.reasons.iter().any(|r| r.is_error()) {
            bail!(
                "the broker refused the subscription to {prefix}/update/…: the device's policy \
                 must allow iot:Subscribe and iot:Receive on the shadow's topics"
            );
        }
        eprintln!("watching {prefix}/update/delta and …/update/documents (Ctrl-C to stop)");
        loop {
            let publish = mqtt.recv().await.context("the connection ended")?;
            let kind = publish.topic.as_str().rsplit('/').next().unwrap_or("");
            let body: Value = serde_json::from_slice(&publish.payload).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&publish.payload).into())
            });
            println!("{kind}: {}", serde_json::to_string(&body)?);
        }
    })
}

fn connect_hint(cert: &Path, host: &str, port: u16) -> String {
    format!(
        "cannot connect to {host}:{port} with {} to watch the shadow; pass a device's --cert, \
         --key and --cafile (its policy must allow iot:Subscribe and iot:Receive on the shadow's \
         topics)",
        cert.display()
    )
}
