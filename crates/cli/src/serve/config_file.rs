//! The `tether serve` config file (`--config FILE`, TOML): the same settings as the flags under
//! the same names, plus the tables only a file can hold (`[[bridge]]`, `[[listener]]`,
//! `[[fault]]`, `[rules]`, `[[provisioning-hook]]`, IAM policies and authorizer functions).
//! It reads and checks the file; merging it with the flags into `server::ServerConfig` is
//! serve.rs's job. Every key is documented in docs/tether.example.toml.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::{DurabilityArg, ProfileArg, bridges, faults};

/// The config file: the same settings as the flags, with the same names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub(super) data_dir: Option<PathBuf>,
    pub(super) mqtts: Option<SocketAddr>,
    pub(super) mqtt: Option<SocketAddr>,
    #[serde(alias = "mqtts-alpn")]
    pub(super) https_443: Option<SocketAddr>,
    pub(super) wss: Option<SocketAddr>,
    pub(super) mqtts_legacy: Option<SocketAddr>,
    pub(super) allow_legacy_tls: Option<bool>,
    pub(super) api: Option<SocketAddr>,
    pub(super) profile: Option<ProfileArg>,
    pub(super) durability: Option<DurabilityArg>,
    pub(super) tls_policy: Option<String>,
    #[serde(default)]
    pub(super) hostnames: Vec<String>,
    pub(super) max_connections: Option<usize>,
    pub(super) max_packet_size: Option<u32>,
    pub(super) max_queued_messages: Option<usize>,
    pub(super) region: Option<String>,
    pub(super) account_id: Option<String>,
    #[serde(default)]
    pub(super) api_credentials: Vec<String>,
    pub(super) min_keep_alive: Option<u16>,
    pub(super) max_keep_alive: Option<u16>,
    #[serde(default)]
    pub(super) refused_filters: Vec<String>,
    pub(super) jobs_minute: Option<u16>,
    pub(super) thing_type_delete_delay: Option<u64>,
    pub(super) ownership_token_lifetime: Option<u64>,
    pub(super) provisioning_claim_lifetime: Option<u64>,
    /// `[[provisioning-hook]]`: the local stand-ins of pre-provisioning hook Lambdas.
    #[serde(default)]
    pub(super) provisioning_hook: Vec<HookConfig>,
    pub(super) authorizer_timeout_ms: Option<u64>,
    /// IAM-style policies of API credentials (config file only).
    #[serde(default)]
    pub(super) iam_policies: Vec<IamPolicyEntry>,
    /// What answers for custom authorizers' functions (config file only).
    #[serde(default)]
    pub(super) authorizer_functions: Vec<AuthorizerFunctionEntry>,
    /// `[rules]`: the rules engine's local settings.
    #[serde(default)]
    pub(super) rules: RulesFile,
    /// `[[bridge]]`: bridges to upstream brokers (config file only).
    #[serde(default)]
    pub(super) bridge: Vec<bridges::BridgeFile>,
    /// `[[listener]]`: device gateway listeners with their own TLS policy (config file only).
    #[serde(default)]
    pub(super) listener: Vec<bridges::ListenerFile>,
    /// `[[fault]]`: misbehaviour of the broker towards chosen clients (config file only).
    #[serde(default)]
    pub(super) fault: Vec<faults::FaultFile>,
}

/// `[[iam-policies]]`: the IAM policy of one access key, for MQTT over WebSockets with SigV4.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct IamPolicyEntry {
    pub(super) access_key: String,
    /// The policy document, JSON text.
    pub(super) policy: String,
    /// A Cognito-style identity id whose attached IoT policies must allow too.
    pub(super) identity_id: Option<String>,
}

/// `[[authorizer-functions]]`: a URL or a command answering for a Lambda function ARN (or name).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct AuthorizerFunctionEntry {
    function: String,
    url: Option<String>,
    command: Option<Vec<String>>,
}

/// One `[[provisioning-hook]]`: the Lambda ARN templates name, and a URL or a command.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct HookConfig {
    target_arn: String,
    url: Option<String>,
    command: Option<Vec<String>>,
}

/// `[rules]` of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RulesFile {
    /// `[rules.lambda]`: function name (or ARN) = { url = "..." } or { command = [...] }.
    #[serde(default)]
    lambda: std::collections::BTreeMap<String, LambdaFile>,
}

/// Where one function runs locally.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LambdaFile {
    url: Option<String>,
    command: Option<Vec<String>>,
}

impl HookConfig {
    pub(super) fn hook(self) -> Result<server::ProvisioningHook> {
        let target = match (self.url, self.command) {
            (Some(url), None) => server::HookTarget::Url(url),
            (None, Some(command)) if !command.is_empty() => server::HookTarget::Command(command),
            _ => bail!(
                "[[provisioning-hook]] {}: give either url = \"http://...\" or command = \
                 [\"program\", \"arg\"...]",
                self.target_arn
            ),
        };
        Ok(server::ProvisioningHook {
            target_arn: self.target_arn,
            target,
        })
    }
}

/// The config file's authorizer functions as the server takes them.
pub(super) fn authorizer_functions(
    entries: Vec<AuthorizerFunctionEntry>,
) -> Result<Vec<server::AuthorizerFunctionConfig>> {
    entries
        .into_iter()
        .map(|entry| {
            let target = match (entry.url, entry.command) {
                (Some(url), None) => server::AuthorizerTarget::Url(url),
                (None, Some(command)) if !command.is_empty() => {
                    server::AuthorizerTarget::Command(command)
                }
                _ => bail!(
                    "authorizer-functions entry {:?}: give exactly one of url = \"http://…\" or \
                     command = [\"program\", \"arg\", …]",
                    entry.function
                ),
            };
            Ok(server::AuthorizerFunctionConfig {
                function: entry.function,
                target,
            })
        })
        .collect()
}

impl RulesFile {
    /// The server's settings; a function mapped to both or neither of url and command is an
    /// error naming it.
    pub(super) fn settings(self) -> Result<server::RulesSettings> {
        let mut settings = server::RulesSettings::default();
        for (name, target) in self.lambda {
            let target = match (target.url, target.command) {
                (Some(url), None) if url.starts_with("http://") || url.starts_with("https://") => {
                    server::LambdaTarget::Url(url)
                }
                (None, Some(command)) if !command.is_empty() => {
                    server::LambdaTarget::Command(command)
                }
                _ => bail!(
                    "[rules.lambda] {name}: give either url = \"http://...\" or command = \
                     [\"program\", \"arg\"...], not both or neither"
                ),
            };
            settings.lambda.push((name, target));
        }
        Ok(settings)
    }
}

/// Reads and checks a config file.
pub fn load_config(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| {
        format!(
            "config file {} is not valid (see docs/tether.example.toml)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tether.example.toml");
        let config = load_config(&path).unwrap();
        assert_eq!(config.profile, Some(ProfileArg::Aws));
        assert!(config.mqtts.is_some());
    }

    #[test]
    fn durability_is_read_by_its_kebab_case_names() {
        let file: FileConfig = toml::from_str("durability = \"process-crash\"\n").unwrap();
        assert_eq!(file.durability, Some(DurabilityArg::ProcessCrash));
        let file: FileConfig = toml::from_str("durability = \"power-loss\"\n").unwrap();
        assert_eq!(file.durability, Some(DurabilityArg::PowerLoss));
        let e = toml::from_str::<FileConfig>("durability = \"fsync\"\n").unwrap_err();
        assert!(e.to_string().contains("power-loss"), "{e}");
    }

    #[test]
    fn the_example_mqtt_profile_keys_parse_once_uncommented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tether.example.toml");
        let example = std::fs::read_to_string(path).unwrap();
        let keys: String = example
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with("max-keep-alive =") || l.starts_with("refused-filters ="))
            .map(|l| format!("{l}\n"))
            .collect();
        let file: FileConfig = toml::from_str(&keys).unwrap();
        assert_eq!(file.max_keep_alive, Some(3600));
        assert_eq!(file.refused_filters, ["test/nosubscribe"]);
    }

    #[test]
    fn the_example_fault_table_parses_once_uncommented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tether.example.toml");
        let example = std::fs::read_to_string(path).unwrap();
        // Each commented `[[fault]]` table, up to the next blank line.
        let table: String = example
            .match_indices("# [[fault]]")
            .flat_map(|(start, _)| {
                example[start..]
                    .lines()
                    .take_while(|l| !l.trim().is_empty())
                    .filter_map(|l| l.strip_prefix("# "))
                    .map(|l| format!("{l}\n"))
            })
            .collect();
        let file: FileConfig = toml::from_str(&table).unwrap();
        assert_eq!(file.fault.len(), 2);
        faults::faults(file.fault).unwrap();
    }

    #[test]
    fn the_example_hooks_parse_once_uncommented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tether.example.toml");
        let example = std::fs::read_to_string(path).unwrap();
        // The commented `[[provisioning-hook]]` tables, each up to the next blank line.
        let mut hooks = String::new();
        let mut inside = false;
        for line in example.lines() {
            let text = line.strip_prefix("# ");
            if text == Some("[[provisioning-hook]]") {
                inside = true;
            } else if line.trim().is_empty() {
                inside = false;
            }
            if let (true, Some(text)) = (inside, text) {
                hooks.push_str(text);
                hooks.push('\n');
            }
        }
        let file: FileConfig = toml::from_str(&hooks).unwrap();
        let hooks: Vec<server::ProvisioningHook> = file
            .provisioning_hook
            .into_iter()
            .map(|h| h.hook().unwrap())
            .collect();
        assert_eq!(hooks.len(), 2, "{hooks:?}");
        assert!(matches!(hooks[0].target, server::HookTarget::Url(_)));
        assert!(matches!(hooks[1].target, server::HookTarget::Command(_)));
        let neither: FileConfig =
            toml::from_str("[[provisioning-hook]]\ntarget-arn = \"arn:x\"\n").unwrap();
        let err = format!(
            "{:#}",
            neither
                .provisioning_hook
                .into_iter()
                .next()
                .unwrap()
                .hook()
                .unwrap_err()
        );
        assert!(err.contains("arn:x") && err.contains("url"), "{err}");
    }

    #[test]
    fn websocket_and_authorizer_settings_are_read_from_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws.toml");
        std::fs::write(
            &path,
            r#"mqtts-alpn = "127.0.0.1:8443"
wss = "127.0.0.1:8444"
authorizer-timeout-ms = 250
[[iam-policies]]
access-key = "AKIA1"
policy = '{"Version":"2012-10-17","Statement":[]}'
identity-id = "us-east-1:abc"
[[authorizer-functions]]
function = "a"
url = "http://127.0.0.1:9/"
[[authorizer-functions]]
function = "b"
command = ["auth", "--json"]
"#,
        )
        .unwrap();
        let config = load_config(&path).unwrap();
        assert_eq!(config.https_443, Some("127.0.0.1:8443".parse().unwrap()));
        assert_eq!(
            config.iam_policies[0].identity_id.as_deref(),
            Some("us-east-1:abc")
        );
        let functions = authorizer_functions(config.authorizer_functions).unwrap();
        assert_eq!(
            functions[1].target,
            server::AuthorizerTarget::Command(vec!["auth".into(), "--json".into()])
        );
        let both = vec![AuthorizerFunctionEntry {
            function: "c".into(),
            url: Some("http://x".into()),
            command: Some(vec!["y".into()]),
        }];
        let e = authorizer_functions(both).unwrap_err().to_string();
        assert!(e.contains("exactly one of url"), "{e}");
    }

    #[test]
    fn lambda_targets_are_read_from_the_rules_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(
            &path,
            "[rules.lambda]\nf = { url = \"http://127.0.0.1:9/\" }\ng = { command = [\"sh\", \"x\"] }\n",
        )
        .unwrap();
        let settings = load_config(&path).unwrap().rules.settings().unwrap();
        assert_eq!(
            settings.lambda,
            [
                (
                    "f".to_owned(),
                    server::LambdaTarget::Url("http://127.0.0.1:9/".into())
                ),
                (
                    "g".to_owned(),
                    server::LambdaTarget::Command(vec!["sh".into(), "x".into()])
                ),
            ]
        );
        std::fs::write(&path, "[rules.lambda]\nf = { }\n").unwrap();
        let e = load_config(&path).unwrap().rules.settings().unwrap_err();
        assert!(e.to_string().contains("[rules.lambda] f"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused_with_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "profile = \"aws\"\nmqtts-port = 8883\n").unwrap();
        let err = format!("{:#}", load_config(&path).unwrap_err());
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains("mqtts-port"), "{err}");
    }
}
