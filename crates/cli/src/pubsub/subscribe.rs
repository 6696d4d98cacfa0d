//! `tether sub`: mosquitto_sub's flags (-t -T -C -W -R -v -N -F -E -q --retained-only
//! --remove-retained, plus --json and the shared connection flags), its output, its `-d`
//! "Subscribed" line and its exit codes: 27 when -W runs out, 0 when every subscription is
//! denied or the server sends an MQTT 5 DISCONNECT (after saying why), 7 for a connection
//! closed without a word. Like mosquitto_sub it reconnects after such a close while -W runs;
//! without -W, where mosquitto_sub would retry forever, it stops with the reason. It does not
//! publish except to clear retained messages (--remove-retained).

use std::io::Write;
use std::time::Duration;

use clap::Args;
use client::{Bytes, Client, Message, QoS, SubscriptionOptions, TopicFilter};

use super::connection::{ConnArgs, Failure, exit, parse_qos};
use super::format::Output;

/// How long to finish open QoS flows before exiting.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Subscribe and print messages (mosquitto_sub's flags).
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct SubArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Topic filter to subscribe to (repeatable).
    #[arg(short = 't', long = "topic")]
    topics: Vec<String>,
    /// Do not print messages whose topic matches this filter (repeatable).
    #[arg(short = 'T', long = "filter-out")]
    filter_out: Vec<String>,
    /// Exit after this many messages.
    #[arg(short = 'C', long = "count")]
    count: Option<u64>,
    /// Exit after this many seconds (exit code 27).
    #[arg(short = 'W', long = "timeout")]
    timeout: Option<u64>,
    /// Do not print retained ("stale") messages.
    #[arg(short = 'R', long = "no-retained")]
    no_retained: bool,
    /// Print the topic before the payload.
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// Do not print a newline after each message.
    #[arg(short = 'N', long = "no-eol")]
    no_eol: bool,
    /// Output format: %t topic, %p payload, %q QoS, %r retain, %m message id, %l length,
    /// %I ISO 8601 time, %U Unix time, %x/%X payload in hex, %j JSON, %% a percent sign.
    #[arg(short = 'F', long = "format", allow_hyphen_values = true)]
    format: Option<String>,
    /// Print each message as one JSON object per line.
    #[arg(long = "json", conflicts_with_all = ["format", "verbose"])]
    json: bool,
    /// Exit right after the subscription is acknowledged.
    #[arg(short = 'E', long = "exit-after-sub")]
    exit_after_subscribe: bool,
    /// Subscription QoS: 0, 1 or 2.
    #[arg(short = 'q', long = "qos", default_value = "0", value_parser = parse_qos)]
    qos: QoS,
    /// Print only retained messages; exit at the first live one.
    #[arg(long = "retained-only")]
    retained_only: bool,
    /// Clear each retained message received (publish an empty retained message to its topic).
    #[arg(long = "remove-retained")]
    remove_retained: bool,
}

/// Runs `tether sub`.
pub async fn run(args: SubArgs) -> Result<(), Failure> {
    if args.topics.is_empty() {
        return Err(Failure::usage(
            "You must specify a topic to subscribe to (-t).",
        ));
    }
    let filters = args
        .topics
        .iter()
        .map(|t| {
            TopicFilter::new(t)
                .map(|f| (f, SubscriptionOptions::with_qos(args.qos)))
                .map_err(|e| Failure::usage(format!("-t {t:?} is not a valid topic filter: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let filter_out = args
        .filter_out
        .iter()
        .map(|t| {
            TopicFilter::new(t)
                .map_err(|e| Failure::usage(format!("-T {t:?} is not a valid topic filter: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let output = match (&args.format, args.json) {
        (Some(format), _) => Output::format(format).map_err(Failure::usage)?,
        (None, true) => Output::Json,
        (None, false) => Output::Plain {
            verbose: args.verbose,
        },
    };
    let printer = Printer {
        output,
        eol: !args.no_eol,
        filter_out,
        no_retained: args.no_retained,
        retained_only: args.retained_only,
        remove_retained: args.remove_retained,
    };
    let mut client = args.conn.connect().await?;
    // -W counts from the connection, as in mosquitto.
    let deadline = args
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut warned = false;
    loop {
        let lost = match session(&args, &mut client, &filters, &printer, deadline).await {
            Ended::Done => {
                client.disconnect().await?;
                return Ok(());
            }
            Ended::TimedOut => {
                eprintln!("Timed out");
                client.disconnect().await?;
                return Err(Failure {
                    message: String::new(),
                    code: exit::TIMEOUT,
                });
            }
            Ended::Failed(failure) => return Err(failure),
            Ended::Lost(error) => error,
        };
        // A connection that ends without a word (a refused MQTT 3.1.1 subscription, a revoked
        // certificate, another client taking the id over): mosquitto_sub reconnects every
        // second and subscribes again, so with -W it ends when -W runs out (27). Without -W it
        // would retry forever; tether sub stops there with the reason instead (7).
        let Some(deadline) = deadline else {
            return Err(lost.into());
        };
        if !warned {
            eprintln!(
                "Warning: {lost}. Reconnecting every second, as mosquitto_sub does, until -W \
                 runs out."
            );
            warned = true;
        }
        let retry = tokio::time::Instant::now() + RECONNECT_DELAY;
        if retry >= deadline {
            tokio::time::sleep_until(deadline).await;
            eprintln!("Timed out");
            return Err(Failure {
                message: String::new(),
                code: exit::TIMEOUT,
            });
        }
        tokio::time::sleep_until(retry).await;
        // A reconnection that fails ends the command with that failure, as in mosquitto_sub.
        client = args.conn.connect().await?;
    }
}

/// How long mosquitto_sub waits before it reconnects.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// How one connection's subscription ended.
enum Ended {
    /// -C reached, --retained-only done, -E, all subscriptions denied, Ctrl-C.
    Done,
    /// -W ran out.
    TimedOut,
    /// The connection ended without a reason given: mosquitto_sub would reconnect.
    Lost(client::Error),
    /// Anything else ends the command with this.
    Failed(Failure),
}

/// Subscribes on `client` and prints until the subscription ends.
async fn session(
    args: &SubArgs,
    client: &mut Client,
    filters: &[(TopicFilter, SubscriptionOptions)],
    printer: &Printer,
    deadline: Option<tokio::time::Instant>,
) -> Ended {
    let topics: Vec<String> = filters.iter().map(|(f, _)| f.as_str().to_owned()).collect();
    let subscribed = match deadline {
        Some(at) => match tokio::time::timeout_at(at, client.subscribe(filters.to_vec())).await {
            Ok(subscribed) => subscribed,
            Err(_) => return Ended::TimedOut,
        },
        None => client.subscribe(filters.to_vec()).await,
    };
    let suback = match subscribed {
        Ok(suback) => suback,
        Err(error) => return ended_by(error),
    };
    if args.conn.debug {
        let granted: Vec<String> = suback
            .reasons
            .iter()
            .map(|r| {
                if args.conn.protocol.is_v5() {
                    r.value().to_string()
                } else {
                    r.to_v3_suback().to_string()
                }
            })
            .collect();
        println!(
            "Subscribed (mid: {}): {}",
            suback.packet_id.get(),
            granted.join(", ")
        );
    }
    for (topic, reason) in topics.iter().zip(&suback.reasons) {
        if reason.is_error() {
            eprintln!(
                "Warning: {}",
                client::Error::SubscribeRefused {
                    filter: topic.clone(),
                    reason: *reason,
                    protocol: args.conn.protocol,
                }
            );
        }
    }
    if !suback.reasons.is_empty() && suback.reasons.iter().all(|r| r.is_error()) {
        // mosquitto_sub disconnects and exits 0.
        eprintln!("All subscription requests were denied.");
        return Ended::Done;
    }
    if args.exit_after_subscribe {
        return Ended::Done;
    }
    match receive(client, printer, args.count, deadline).await {
        Ok(Ending::Done) => {
            // Finish QoS 2 handshakes and --remove-retained publications, but do not hang on
            // a server that never sends PUBREL.
            match tokio::time::timeout(FLUSH_TIMEOUT, client.flush()).await {
                Ok(Err(error)) => ended_by(error),
                Ok(Ok(())) | Err(_) => Ended::Done,
            }
        }
        Ok(Ending::TimedOut) => Ended::TimedOut,
        Err(error) => ended_by(error),
    }
}

/// What a client error means for the command, as for mosquitto_sub: a connection closed
/// without a reason is reconnected (with -W); the server's MQTT 5 DISCONNECT ends it with exit
/// 0 after saying why; anything else ends it with its exit code.
fn ended_by(error: client::Error) -> Ended {
    match error {
        client::Error::Closed { .. }
        | client::Error::Io { .. }
        | client::Error::SubscribeUnanswered { .. } => Ended::Lost(error),
        client::Error::DisconnectedByServer { .. } => Ended::Failed(Failure {
            message: error.to_string(),
            code: 0,
        }),
        other => Ended::Failed(other.into()),
    }
}

struct Printer {
    output: Output,
    eol: bool,
    filter_out: Vec<TopicFilter>,
    no_retained: bool,
    retained_only: bool,
    remove_retained: bool,
}

enum Ending {
    Done,
    TimedOut,
}

async fn receive(
    client: &mut Client,
    printer: &Printer,
    count: Option<u64>,
    deadline: Option<tokio::time::Instant>,
) -> Result<Ending, client::Error> {
    let mut printed = 0u64;
    let mut buffer = Vec::with_capacity(4096);
    let mut stdout = std::io::stdout();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let next = async {
            match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, client.recv()).await.ok(),
                None => Some(client.recv().await),
            }
        };
        let message = tokio::select! {
            message = next => message,
            _ = &mut ctrl_c => return Ok(Ending::Done),
        };
        let Some(message) = message else {
            return Ok(Ending::TimedOut);
        };
        let message = message?;
        if printer.retained_only && !message.retain {
            return Ok(Ending::Done);
        }
        if printer.remove_retained && message.retain && !message.payload.is_empty() {
            let clear = Message::new(message.topic.clone(), QoS::AtLeastOnce, Bytes::new());
            client.start_publish(clear.retained(true))?;
        }
        if printer.no_retained && message.retain {
            continue;
        }
        if printer
            .filter_out
            .iter()
            .any(|f| f.matches(message.topic.as_str()))
        {
            continue;
        }
        buffer.clear();
        printer.output.render(&message, printer.eol, &mut buffer);
        let written = stdout.write_all(&buffer).and_then(|()| stdout.flush());
        if written.is_err() {
            // stdout closed (e.g. `| head`): stop like mosquitto does.
            return Ok(Ending::Done);
        }
        printed = printed.saturating_add(1);
        if count.is_some_and(|c| printed >= c) {
            return Ok(Ending::Done);
        }
    }
}
