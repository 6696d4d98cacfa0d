//! `doctor creds`: checks a device's CA file, certificate and private key the way a device
//! stack and AWS IoT will judge them — encodings and what each SDK expects, key/certificate
//! match, chain, validity (and the unset device clock), key type and size, signature
//! algorithm, whether the CA fits the endpoint, and, given a `tether serve` data directory, the
//! certificate's registry status. Callers pass bytes and the current time in; only the
//! registry lookup (`registry.rs`) opens a file. It makes no network connection.

mod checks;
mod registry;
pub mod roots;

use std::path::PathBuf;

use tls::DeviceProfile;

use crate::finding::{Finding, Report, Severity};

pub use registry::registry_findings;
pub use roots::{EndpointKind, KNOWN_ROOTS, KnownRoot, Recognised, endpoint_kind, recognise};

/// One credential file as read by the caller.
#[derive(Debug, Clone)]
pub struct CredentialFile {
    /// How findings name it (usually the path).
    pub name: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

impl CredentialFile {
    /// A file called `name` holding `bytes`.
    pub fn new(name: impl Into<String>, bytes: Vec<u8>) -> CredentialFile {
        CredentialFile {
            name: name.into(),
            bytes,
        }
    }
}

/// Everything `doctor creds` looks at.
#[derive(Debug, Clone)]
pub struct CredsInput {
    /// The root(s) the device trusts for the server (`--cafile`).
    pub ca: Option<CredentialFile>,
    /// The device certificate, optionally followed by intermediates.
    pub certificate: CredentialFile,
    /// The device private key.
    pub key: Option<CredentialFile>,
    /// `HOST[:PORT]` the device connects to.
    pub endpoint: Option<String>,
    /// The device stack, when known: turns stack caveats into verdicts.
    pub profile: Option<&'static DeviceProfile>,
    /// A `tether serve` data directory whose registry to consult.
    pub data_dir: Option<PathBuf>,
    /// Now, in seconds since the Unix epoch.
    pub now: i64,
}

/// Runs every credential check. Never panics on any input bytes.
pub fn check_credentials(input: &CredsInput) -> Report {
    let mut findings = Vec::new();
    let cert = checks::certificate(&input.certificate, &mut findings);
    let key = input
        .key
        .as_ref()
        .and_then(|k| checks::key(k, input.profile, &mut findings));
    let ca = input
        .ca
        .as_ref()
        .and_then(|c| checks::ca_file(c, &mut findings));
    if let Some(leaf) = &cert {
        if let Some(key) = &key {
            findings.push(checks::key_match(&key.key, leaf, input));
        }
        findings.extend(checks::validity(&leaf.summary, input.now));
        findings.push(checks::key_type(&leaf.summary, input.profile));
        findings.push(checks::signature(&leaf.summary));
        if let Some(ca) = &ca {
            findings.push(checks::chain(leaf, ca));
        } else {
            findings.push(Finding::new(
                Severity::Info,
                format!(
                    "{} was issued by {}",
                    input.certificate.name, leaf.summary.issuer
                ),
                "no CA file was given, so the chain was not checked",
                "",
            ));
        }
    }
    if let Some(ca) = &ca {
        findings.extend(checks::ca_fit(ca, input.endpoint.as_deref(), input.profile));
        findings.extend(checks::ca_clock(ca, input.profile, input.now));
    }
    if let Some(endpoint) = input.endpoint.as_deref() {
        findings.extend(checks::endpoint_port(endpoint, input.profile));
    }
    if let (Some(dir), Some(leaf)) = (&input.data_dir, &cert) {
        findings.extend(registry_findings(dir, &leaf.summary.id));
    }
    let root_cause = findings
        .iter()
        .find(|f| f.severity == Severity::Error)
        .cloned();
    Report {
        findings,
        root_cause,
        ..Report::default()
    }
}
