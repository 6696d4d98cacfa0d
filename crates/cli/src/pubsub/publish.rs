//! `tether pub`: mosquitto_pub's flags (-t with one of -m -f -l -n -s; -q -r --repeat
//! --repeat-delay plus the shared connection flags), its `-d` output, warnings and exit codes
//! (a message the server refuses in an MQTT 5 PUBACK is a warning and exit 0, as there). `-l`
//! pipelines QoS 1/2 messages through a window instead of waiting for each acknowledgement.
//! It does not subscribe.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use client::{Bytes, Client, Message, QoS, ReasonCode, TopicName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::connection::{ConnArgs, Failure, parse_qos, read_named};

/// Unfinished QoS 1/2 messages `-l` allows before it waits for acknowledgements.
const WINDOW: usize = 256;

/// Publish one message, a file, or stdin line by line (mosquitto_pub's flags).
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct PubArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Topic to publish to.
    #[arg(short = 't', long = "topic")]
    topic: Option<String>,
    /// Message payload.
    #[arg(
        short = 'm',
        long = "message",
        allow_hyphen_values = true,
        group = "source"
    )]
    message: Option<String>,
    /// Send the contents of a file as the message.
    #[arg(short = 'f', long = "file", group = "source")]
    file: Option<PathBuf>,
    /// Send each line of stdin as a separate message.
    #[arg(short = 'l', long = "stdin-line", group = "source")]
    lines: bool,
    /// Send a zero-length message.
    #[arg(short = 'n', long = "null-message", group = "source")]
    null: bool,
    /// Send all of stdin as one message.
    #[arg(short = 's', long = "stdin-file", group = "source")]
    stdin_file: bool,
    /// Retain the message.
    #[arg(short = 'r', long = "retain")]
    retain: bool,
    /// Quality of service: 0, 1 or 2.
    #[arg(short = 'q', long = "qos", default_value = "0", value_parser = parse_qos)]
    qos: QoS,
    /// Publish the message this many times.
    #[arg(long = "repeat", default_value_t = 1)]
    repeat: u32,
    /// Seconds to wait between repeats (fractions allowed).
    #[arg(long = "repeat-delay", default_value_t = 0.0)]
    repeat_delay: f64,
}

enum Source {
    Payload(Bytes),
    Lines,
}

/// Runs `tether pub`; failures are printed as mosquitto does and become the exit code.
pub async fn run(args: PubArgs) -> Result<(), Failure> {
    let Some(topic) = args.topic.as_deref() else {
        return Err(Failure::usage(
            "Both topic and message must be supplied (-t TOPIC and one of -m, -f, -l, -n, -s).",
        ));
    };
    let topic = TopicName::new(topic)
        .map_err(|e| Failure::usage(format!("-t {topic:?} is not a valid topic name: {e}")))?;
    let source = if let Some(message) = &args.message {
        Source::Payload(Bytes::from(message.clone().into_bytes()))
    } else if let Some(path) = &args.file {
        Source::Payload(Bytes::from(read_named(path, "-f")?))
    } else if args.null {
        Source::Payload(Bytes::new())
    } else if args.stdin_file {
        let mut all = Vec::new();
        tokio::io::stdin()
            .read_to_end(&mut all)
            .await
            .map_err(|e| Failure::usage(format!("cannot read stdin for -s: {e}")))?;
        Source::Payload(Bytes::from(all))
    } else if args.lines {
        Source::Lines
    } else {
        return Err(Failure::usage(
            "Both topic and message must be supplied (-t TOPIC and one of -m, -f, -l, -n, -s).",
        ));
    };
    if !(args.repeat_delay.is_finite() && args.repeat_delay >= 0.0) {
        return Err(Failure::usage(
            "--repeat-delay must be a number of seconds, 0 or more",
        ));
    }
    let mut client = args.conn.connect().await?;
    match source {
        Source::Payload(payload) => {
            let message = Message::new(topic, args.qos, payload).retained(args.retain);
            for round in 0..args.repeat {
                if round > 0 && args.repeat_delay > 0.0 {
                    client
                        .idle(Duration::from_secs_f64(args.repeat_delay))
                        .await?;
                }
                match client.publish(message.clone()).await {
                    Ok(()) => {}
                    Err(error) if warn_if_refused(&error) => {}
                    Err(client::Error::Session(error)) => {
                        // mosquitto_pub, too, says the message cannot be sent (QoS above the
                        // server's maximum, larger than its maximum packet size), disconnects
                        // and exits 0.
                        eprintln!("Error: {error}");
                        client.disconnect().await?;
                        return Ok(());
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        }
        Source::Lines => publish_lines(&mut client, topic, args.qos, args.retain).await?,
    }
    loop {
        match client.flush().await {
            Ok(()) => break,
            Err(error) if warn_if_refused(&error) => {}
            Err(error) => return Err(error.into()),
        }
    }
    client.disconnect().await?;
    Ok(())
}

/// A message the server refused in its MQTT 5 PUBACK/PUBREC is a warning, not a failure, as in
/// mosquitto_pub ("Warning: Publish 1 failed: Not authorized.", exit 0); tether adds what the
/// reason usually means. True when `error` was such a refusal.
fn warn_if_refused(error: &client::Error) -> bool {
    let client::Error::PublishRefused { packet_id, reason } = error else {
        return false;
    };
    eprintln!(
        "Warning: Publish {} failed: {}.",
        packet_id.get(),
        reason.description()
    );
    let likely = match reason {
        ReasonCode::NotAuthorized => {
            "the broker does not let this client publish to that topic (its ACL, or on AWS IoT \
             the iot:Publish resources of the policy attached to the certificate)"
        }
        ReasonCode::TopicNameInvalid => {
            "the topic breaks a rule of the broker (AWS IoT: at most 256 bytes and 7 slashes, no \
             retained messages on $ topics)"
        }
        ReasonCode::QuotaExceeded | ReasonCode::MessageRateTooHigh => {
            "the broker's rate or quota limit; publish more slowly"
        }
        ReasonCode::PacketTooLarge => "the payload is larger than the broker accepts",
        _ => "",
    };
    if !likely.is_empty() {
        eprintln!("  likely cause: {likely}");
    }
    true
}

/// `-l`: one message per stdin line (the newline removed; empty lines are sent empty, as
/// mosquitto does). The connection is driven while stdin is quiet.
async fn publish_lines(
    client: &mut Client,
    topic: TopicName,
    qos: QoS,
    retain: bool,
) -> Result<(), Failure> {
    let mut reader = BufReader::with_capacity(64 * 1024, tokio::io::stdin());
    let mut line = Vec::with_capacity(1024);
    loop {
        // A complete line already buffered needs no waiting; otherwise keep the connection
        // alive while stdin is read. `read_until` keeps partial input in `line` if cancelled.
        let read = if reader.buffer().contains(&b'\n') {
            reader.read_until(b'\n', &mut line).await
        } else {
            tokio::select! {
                read = reader.read_until(b'\n', &mut line) => read,
                driven = client.idle(Duration::from_secs(3600)) => {
                    driven?;
                    continue;
                }
            }
        };
        let n = read.map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        if n == 0 && line.is_empty() {
            return Ok(());
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let message = Message::new(topic.clone(), qos, Bytes::copy_from_slice(text));
        client.start_publish(message.retained(retain))?;
        line.clear();
        loop {
            match client.wait_pending_below(WINDOW).await {
                Ok(()) => break,
                Err(error) if warn_if_refused(&error) => {}
                Err(error) => return Err(error.into()),
            }
        }
        if n == 0 {
            return Ok(());
        }
    }
}
