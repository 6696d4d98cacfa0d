//! The registry side of `doctor creds`: is this certificate registered in a `tether serve` data
//! directory's database, is it ACTIVE, which policies and things are attached, and which policies
//! those things' groups pass on (contract §2.3: only ACTIVE, registered certificates connect; a
//! policy must allow iot:Connect). It only reads, and refuses to create a database where none
//! exists.

use std::path::Path;

use pki::CertificateId;
use store::{CertificateStatus, Store};

use crate::finding::{Finding, Severity};

/// The database file inside a data directory (as `tether serve` names it).
pub const DATABASE_FILE: &str = "tether.db";

/// Findings about certificate `id` in the registry of data directory `dir`.
pub fn registry_findings(dir: &Path, id: &CertificateId) -> Vec<Finding> {
    let db = dir.join(DATABASE_FILE);
    if !db.is_file() {
        return vec![Finding::new(
            Severity::Error,
            format!("{} does not exist", db.display()),
            "the registry lives in the data directory of tether serve; this directory has none, so the certificate's status cannot be read",
            "give the directory tether serve runs with (--data-dir, $TETHER_DATA_DIR or ~/.local/share/tether)",
        )];
    }
    let store = match Store::open(&db) {
        Ok(store) => store,
        Err(err) => {
            return vec![Finding::new(
                Severity::Error,
                format!("cannot open the registry {}", db.display()),
                err.to_string(),
                "check the file's permissions, or that it is a tether database",
            )];
        }
    };
    let auth = match store.certificate_for_connection(id.as_str()) {
        Ok(auth) => auth,
        Err(err) => {
            return vec![Finding::new(
                Severity::Error,
                format!("cannot read certificate {id} from {}", db.display()),
                err.to_string(),
                "",
            )];
        }
    };
    let Some(auth) = auth else {
        return vec![Finding::new(
            Severity::Error,
            format!("certificate {id} is not registered in {}", db.display()),
            "the broker looks the device certificate up by its SHA-256 id; an unregistered certificate is refused (AWS IoT closes the connection, tether serve logs not_registered)",
            "register it: aws iot register-certificate-without-ca --certificate-pem file://cert.pem --status ACTIVE (pointed at tether serve's API), then attach a policy",
        )];
    };
    let mut out = Vec::new();
    if auth.status == CertificateStatus::Active {
        out.push(Finding::new(
            Severity::Info,
            format!("certificate {id} is registered and ACTIVE"),
            "",
            "",
        ));
    } else {
        out.push(Finding::new(
            Severity::Error,
            format!("certificate {id} is registered but {}", auth.status),
            "only ACTIVE certificates may connect (contract §2.3)",
            format!(
                "activate it: aws iot update-certificate --certificate-id {id} --new-status ACTIVE"
            ),
        ));
    }
    let inherited: Vec<String> = auth
        .things
        .iter()
        .flat_map(|t| {
            t.group_policies.iter().map(move |p| {
                format!(
                    "{} (thing group {}, for client id {})",
                    p.policy.name, p.group, t.name
                )
            })
        })
        .collect();
    if !inherited.is_empty() {
        out.push(Finding::new(
            Severity::Info,
            format!("policies from thing groups: {}", inherited.join(", ")),
            "a thing group's policies apply to a connection whose client id is the name of a thing in the group or its child groups (AWS: the thing name must match the client ID)",
            "",
        ));
    }
    if auth.policies.is_empty() && inherited.is_empty() {
        out.push(Finding::new(
            Severity::Warning,
            format!("no policy is attached to certificate {id}"),
            "without a policy allowing iot:Connect the broker refuses CONNECT (AWS IoT closes the connection)",
            "attach one: aws iot attach-policy --policy-name NAME --target <certificate ARN>",
        ));
    } else if !auth.policies.is_empty() {
        let names: Vec<&str> = auth.policies.iter().map(|p| p.name.as_str()).collect();
        out.push(Finding::new(
            Severity::Info,
            format!("attached policies: {}", names.join(", ")),
            "the default version of each is evaluated for CONNECT, PUBLISH and SUBSCRIBE",
            "",
        ));
    }
    if !auth.things.is_empty() {
        let names: Vec<&str> = auth.things.iter().map(|t| t.name.as_str()).collect();
        out.push(Finding::new(
            Severity::Info,
            format!("attached things: {}", names.join(", ")),
            "policies using ${iot:Connection.Thing.ThingName} expect the client id to equal the thing name",
            "",
        ));
    }
    out
}
