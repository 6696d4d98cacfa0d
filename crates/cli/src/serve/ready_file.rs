//! The readiness record of `tether serve --ready-file PATH`: one JSON document saying what a
//! test suite or CI script needs to use the server it started — where each listener is, the API
//! URL with a credential it accepts, the root CA and the demo device's files, the demo thing's
//! name, the data directory and the server's pid. It is written once every listener accepts,
//! atomically (a temporary file in the same directory renamed over PATH, mode 0600 because it
//! may hold a secret), before the ready line is printed, and removed when the server exits.
//! It does not describe the server's later state (things created, clients connected).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use server::{Ready, ServerConfig};

/// Version of the record's layout; bumped when a field changes meaning or disappears (new
/// fields may appear without a bump).
pub const FORMAT: u32 = 1;

/// What the record says beyond [`Ready`]: settings the server was given.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Region in ARNs and the one clients should sign for.
    pub region: String,
    /// Account id in ARNs.
    pub account_id: String,
    /// Credentials configured with `--api-credential`.
    pub api_credentials: Vec<(String, String)>,
    /// Whether the data directory is removed at exit.
    pub ephemeral: bool,
}

impl Settings {
    /// The settings of `config` the record repeats.
    pub fn of(config: &ServerConfig, ephemeral: bool) -> Settings {
        Settings {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            api_credentials: config.api_credentials.clone(),
            ephemeral,
        }
    }
}

/// The record as JSON. Listeners that are off are absent from `endpoints`; `api_url` and
/// `credentials` are null without an API listener.
pub fn record(ready: &Ready, settings: &Settings, pid: u32) -> Value {
    let mut endpoints = serde_json::Map::new();
    for (key, addr) in [
        ("mqtts", ready.mqtts),
        ("mqtts_alpn", ready.mqtts_alpn),
        ("https_443", ready.mqtts_alpn),
        ("wss", ready.wss),
        ("mqtt", ready.mqtt),
    ] {
        if let Some(addr) = addr {
            endpoints.insert(key.to_owned(), endpoint(addr));
        }
    }
    let demo = &ready.demo_device;
    json!({
        "format": FORMAT,
        "tether": crate::VERSION,
        "pid": pid,
        "ephemeral": settings.ephemeral,
        "data_dir": ready.data_dir,
        "endpoints": endpoints,
        "api_url": ready.http.map(|addr| format!("http://{addr}")),
        "region": settings.region,
        "account_id": settings.account_id,
        "credentials": credentials(ready.http, &settings.api_credentials),
        "root_ca": ready.ca_path,
        "demo_device": {
            "thing_name": server::DEMO_DEVICE,
            "client_id": server::DEMO_DEVICE,
            "certificate": demo.certificate,
            "private_key": demo.private_key,
            "public_key": demo.public_key,
            "root_ca": demo.root_ca,
        },
    })
}

/// One listener: its socket address, and the host and port a client should dial. The host is
/// a name the server certificate covers: `localhost` for loopback and wildcard listeners (what
/// DescribeEndpoint answers by default), else the listener's own address.
fn endpoint(addr: SocketAddr) -> Value {
    let host = if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        "localhost".to_owned()
    } else {
        addr.ip().to_string()
    };
    json!({ "address": addr.to_string(), "host": host, "port": addr.port() })
}

/// A credential the API accepts: the first `--api-credential`, else the development
/// credential on a loopback listener (the only place the server accepts it), else none.
fn credentials(api: Option<SocketAddr>, configured: &[(String, String)]) -> Value {
    let Some(api) = api else { return Value::Null };
    match configured.first() {
        Some((key, secret)) => json!({ "access_key_id": key, "secret_access_key": secret }),
        None if api.ip().is_loopback() => json!({
            "access_key_id": sigv4::DEV_ACCESS_KEY_ID,
            "secret_access_key": sigv4::DEV_SECRET_ACCESS_KEY,
        }),
        None => Value::Null,
    }
}

/// Writes the record when the server is ready and remembers a failure to, which ends the
/// server: a test suite waiting for the file would otherwise wait for nothing.
#[derive(Debug)]
pub struct Announcer {
    path: Option<PathBuf>,
    settings: Settings,
    written: Mutex<Option<ReadyFile>>,
    failure: Mutex<Option<anyhow::Error>>,
    failed: tokio::sync::Notify,
}

impl Announcer {
    /// An announcer for `--ready-file path` (none: it does nothing).
    pub fn new(path: Option<PathBuf>, settings: Settings) -> Announcer {
        Announcer {
            path,
            settings,
            written: Mutex::new(None),
            failure: Mutex::new(None),
            failed: tokio::sync::Notify::new(),
        }
    }

    /// Writes the ready file for `ready` (this process's pid in it).
    pub fn announce(&self, ready: &Ready) {
        let Some(path) = &self.path else { return };
        let record = record(ready, &self.settings, std::process::id());
        match ReadyFile::write(path, &record) {
            Ok(file) => {
                if let Ok(mut written) = self.written.lock() {
                    *written = Some(file);
                }
            }
            Err(e) => {
                tracing::error!("{e:#}; shutting down");
                if let Ok(mut failure) = self.failure.lock() {
                    *failure = Some(e);
                }
                self.failed.notify_one();
            }
        }
    }

    /// Completes if writing the ready file failed.
    pub async fn failed(&self) {
        self.failed.notified().await;
    }

    /// Removes the ready file; the write error, if writing it failed.
    pub fn finish(self) -> Result<()> {
        drop(self.written);
        match self.failure.into_inner() {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }
}

/// The written record; removes the file when dropped, since it describes a running server.
#[derive(Debug)]
pub struct ReadyFile {
    path: PathBuf,
}

impl ReadyFile {
    /// Writes `record` to `path` atomically with mode 0600.
    pub fn write(path: &Path, record: &Value) -> Result<ReadyFile> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let what = || {
            format!(
                "cannot write the ready file {}; check that its directory exists and is \
                 writable, or choose another --ready-file",
                path.display()
            )
        };
        // NamedTempFile creates its file with mode 0600 on Unix.
        let mut temporary = tempfile::NamedTempFile::new_in(dir).with_context(what)?;
        let mut text = serde_json::to_vec_pretty(record).with_context(what)?;
        text.push(b'\n');
        std::io::Write::write_all(&mut temporary, &text).with_context(what)?;
        temporary.persist(path).with_context(what)?;
        Ok(ReadyFile {
            path: path.to_owned(),
        })
    }
}

impl Drop for ReadyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(http: Option<SocketAddr>) -> Ready {
        let dir = Path::new("/data");
        Ready {
            mqtts: Some("127.0.0.1:8883".parse().unwrap()),
            mqtts_alpn: None,
            wss: Some("127.0.0.1:8443".parse().unwrap()),
            mqtt: Some("0.0.0.0:1883".parse().unwrap()),
            http,
            data_dir: dir.to_owned(),
            ca_path: dir.join("ca/root-ca.pem"),
            demo_device: server::DeviceFiles::in_dir(&dir.join("devices/demo-device")),
            first_start: true,
            restored_sessions: 0,
            mqtts_legacy: Vec::new(),
            bridges: Vec::new(),
        }
    }

    fn settings(credentials: &[(&str, &str)]) -> Settings {
        Settings {
            region: "eu-west-1".to_owned(),
            account_id: "111122223333".to_owned(),
            api_credentials: credentials
                .iter()
                .map(|(k, s)| ((*k).to_owned(), (*s).to_owned()))
                .collect(),
            ephemeral: true,
        }
    }

    #[test]
    fn the_record_names_listeners_api_credentials_and_files() {
        let record = record(
            &ready(Some("127.0.0.1:4580".parse().unwrap())),
            &settings(&[]),
            42,
        );
        assert_eq!(record["format"], 1);
        assert_eq!(record["pid"], 42);
        assert_eq!(record["endpoints"]["mqtts"]["host"], "localhost");
        assert_eq!(record["endpoints"]["mqtts"]["port"], 8883);
        assert_eq!(record["endpoints"]["mqtts"]["address"], "127.0.0.1:8883");
        assert_eq!(record["endpoints"]["mqtt"]["host"], "localhost");
        assert!(record["endpoints"].get("mqtts_alpn").is_none());
        assert_eq!(record["endpoints"]["wss"]["port"], 8443);
        assert_eq!(record["api_url"], "http://127.0.0.1:4580");
        assert_eq!(record["credentials"]["access_key_id"], "test");
        assert_eq!(record["region"], "eu-west-1");
        assert_eq!(record["root_ca"], "/data/ca/root-ca.pem");
        assert_eq!(record["demo_device"]["thing_name"], "demo-device");
        assert_eq!(
            record["demo_device"]["private_key"],
            "/data/devices/demo-device/private.pem.key"
        );
    }

    #[test]
    fn configured_credentials_come_first_and_a_public_api_gets_no_dev_credential() {
        let public = Some("192.0.2.1:4580".parse().unwrap());
        let with = record(&ready(public), &settings(&[("AKID", "secret")]), 1);
        assert_eq!(with["credentials"]["access_key_id"], "AKID");
        assert_eq!(with["credentials"]["secret_access_key"], "secret");
        let without = record(&ready(public), &settings(&[]), 1);
        assert!(without["credentials"].is_null());
        let no_api = record(&ready(None), &settings(&[]), 1);
        assert!(no_api["api_url"].is_null() && no_api["credentials"].is_null());
    }

    #[test]
    fn the_file_is_private_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready.json");
        let file = ReadyFile::write(&path, &json!({"format": 1})).unwrap();
        let read: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(read["format"], 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = ReadyFile::write(Path::new("/nonexistent-dir/ready.json"), &json!({}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent-dir/ready.json"), "{err}");
    }
}
