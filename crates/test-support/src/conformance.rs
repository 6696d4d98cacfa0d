//! Loading the broker conformance sequences (`shared/conformance/mqtt-sequences/*.json`): each
//! file is a list of groups, each group a list of tests, each test a list of steps. Defaults are
//! resolved here (protocol 4, connect first, expect a disconnect), so the runner sees plain
//! values. The format is described in the sequences' README; tether's own sequences add two
//! things to it: a `wait` step (`{"type": "wait", "seconds": 2}`) and `repeat` on a `send`
//! (its bytes that many times over, in one write).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::notation::{self, NotationError};

/// One test with its defaults resolved.
#[derive(Debug, Clone)]
pub struct Case {
    /// File the test came from, e.g. `PUBLISH.json`.
    pub file: String,
    /// `group + " " + name`: the test's identity and the client id it connects with.
    pub full_name: String,
    /// MQTT protocol level: 3, 4 or 5.
    pub version: u8,
    /// Whether the runner sends a CONNECT and expects a successful CONNACK first.
    pub connect: bool,
    /// Whether the broker must have closed the connection after the steps.
    pub expect_disconnect: bool,
    /// Set when the data itself marks the group or test disabled.
    pub disabled: bool,
    /// The steps in order.
    pub steps: Vec<Step>,
}

/// One scripted step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Expect exactly these bytes next.
    Recv(Vec<u8>),
    /// Another client (`helper`, MQTT 3.1.1) publishes with the full QoS handshake.
    ExternalPublish {
        /// Topic name.
        topic: String,
        /// QoS 0, 1 or 2.
        qos: u8,
        /// Payload text.
        payload: String,
        /// Retain flag.
        retain: bool,
    },
    /// SUBSCRIBE with packet id 1 on the test's connection, expecting the matching SUBACK.
    Subscribe {
        /// Topic filter.
        topic: String,
        /// Requested QoS.
        qos: u8,
    },
    /// UNSUBSCRIBE with packet id 1, expecting the matching UNSUBACK.
    Unsubscribe {
        /// Topic filter.
        topic: String,
    },
    /// Let this much time pass before the next step (tether's sequences only: what a message
    /// waited is what Message Expiry is about). Never a way to wait for the broker.
    Wait(std::time::Duration),
}

/// Why the sequences could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The directory or a file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A file is not valid JSON of the expected shape.
    #[error("{path} is not a list of conformance groups: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A step's packet notation is invalid.
    #[error("{file}: test {test:?}: {source}")]
    Notation {
        /// The file.
        file: String,
        /// The test's full name.
        test: String,
        /// The notation error.
        source: NotationError,
    },
    /// A step type the runner does not know.
    #[error("{file}: test {test:?}: unknown step type {kind:?}")]
    UnknownStep {
        /// The file.
        file: String,
        /// The test's full name.
        test: String,
        /// The step type.
        kind: String,
    },
}

#[derive(Deserialize)]
struct RawGroup {
    group: String,
    ver: Option<u8>,
    connect: Option<bool>,
    expect_disconnect: Option<bool>,
    disable: Option<serde_json::Value>,
    tests: Vec<RawTest>,
}

#[derive(Deserialize)]
struct RawTest {
    name: String,
    ver: Option<u8>,
    connect: Option<bool>,
    expect_disconnect: Option<bool>,
    disable: Option<serde_json::Value>,
    msgs: Vec<RawStep>,
}

#[derive(Deserialize)]
struct RawStep {
    #[serde(rename = "type")]
    kind: String,
    payload: Option<String>,
    topic: Option<String>,
    qos: Option<u8>,
    retain: Option<bool>,
    /// `send` only: the payload's bytes this many times over, in one write.
    repeat: Option<usize>,
    /// `wait` only.
    seconds: Option<f64>,
}

/// Loads every `*.json` file in `dir`, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<Case>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        cases.extend(load_str(&file, &text).map_err(|e| match e {
            LoadError::Json { source, .. } => LoadError::Json {
                path: path.clone(),
                source,
            },
            other => other,
        })?);
    }
    Ok(cases)
}

/// Parses one file's text; `file` names it in errors and in each case.
pub fn load_str(file: &str, text: &str) -> Result<Vec<Case>, LoadError> {
    let groups: Vec<RawGroup> = serde_json::from_str(text).map_err(|source| LoadError::Json {
        path: PathBuf::from(file),
        source,
    })?;
    let mut cases = Vec::new();
    for group in groups {
        for test in group.tests {
            let full_name = format!("{} {}", group.group, test.name);
            let steps = test
                .msgs
                .into_iter()
                .map(|raw| step(file, &full_name, raw))
                .collect::<Result<Vec<_>, _>>()?;
            cases.push(Case {
                file: file.to_owned(),
                version: test.ver.or(group.ver).unwrap_or(4),
                connect: test.connect.or(group.connect).unwrap_or(true),
                expect_disconnect: test
                    .expect_disconnect
                    .or(group.expect_disconnect)
                    .unwrap_or(true),
                disabled: is_set(&test.disable) || is_set(&group.disable),
                steps,
                full_name,
            });
        }
    }
    Ok(cases)
}

fn is_set(flag: &Option<serde_json::Value>) -> bool {
    match flag {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => false,
        Some(_) => true,
    }
}

fn step(file: &str, test: &str, raw: RawStep) -> Result<Step, LoadError> {
    let bytes = |payload: Option<String>| {
        notation::parse(payload.as_deref().unwrap_or_default()).map_err(|source| {
            LoadError::Notation {
                file: file.to_owned(),
                test: test.to_owned(),
                source,
            }
        })
    };
    Ok(match raw.kind.as_str() {
        "send" => Step::Send(bytes(raw.payload)?.repeat(raw.repeat.unwrap_or(1))),
        "wait" => Step::Wait(std::time::Duration::from_secs_f64(
            raw.seconds.unwrap_or(0.0).clamp(0.0, 60.0),
        )),
        "recv" => Step::Recv(bytes(raw.payload)?),
        "external_publish" => Step::ExternalPublish {
            topic: raw.topic.unwrap_or_default(),
            qos: raw.qos.unwrap_or(0),
            payload: raw.payload.unwrap_or_default(),
            retain: raw.retain.unwrap_or(false),
        },
        "subscribe" => Step::Subscribe {
            topic: raw.topic.unwrap_or_default(),
            qos: raw.qos.unwrap_or(0),
        },
        "unsubscribe" => Step::Unsubscribe {
            topic: raw.topic.unwrap_or_default(),
        },
        other => {
            return Err(LoadError::UnknownStep {
                file: file.to_owned(),
                test: test.to_owned(),
                kind: other.to_owned(),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_from_group_then_test() {
        let text = r#"[{"group":"g","ver":5,"expect_disconnect":false,"tests":[
            {"name":"a","msgs":[{"type":"send","payload":"C0 00"},{"type":"recv","payload":"D0 00"}]},
            {"name":"b","ver":4,"connect":false,"expect_disconnect":true,"msgs":[]}]}]"#;
        let cases = load_str("X.json", text).unwrap();
        assert_eq!(cases[0].full_name, "g a");
        assert_eq!(
            (
                cases[0].version,
                cases[0].connect,
                cases[0].expect_disconnect
            ),
            (5, true, false)
        );
        assert_eq!(
            cases[0].steps,
            [Step::Send(vec![0xC0, 0]), Step::Recv(vec![0xD0, 0])]
        );
        assert_eq!(
            (
                cases[1].version,
                cases[1].connect,
                cases[1].expect_disconnect
            ),
            (4, false, true)
        );
    }

    #[test]
    fn bad_notation_names_file_and_test() {
        let text =
            r#"[{"group":"g","tests":[{"name":"t","msgs":[{"type":"send","payload":"zz"}]}]}]"#;
        let err = load_str("X.json", text).unwrap_err().to_string();
        assert!(err.starts_with("X.json: test \"g t\""), "{err}");
    }

    #[test]
    fn the_shared_sequences_load_completely() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance/mqtt-sequences");
        let cases = load_dir(&dir).unwrap();
        assert_eq!(cases.len(), 1826);
    }
}
