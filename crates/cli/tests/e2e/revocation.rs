//! Revocation measured (issue 21, item 5): UpdateCertificate to INACTIVE and REVOKED, DetachPolicy
//! and DetachThingPrincipal under a `${iot:Connection.Thing.ThingName}` policy, a thing group's
//! policy detached or the thing removed from the group, and iot-data DeleteConnection cut or
//! restrict a live connection, timed from the API's HTTP 200 by `bench/revocation` (the short run here, a
//! bound that cannot flake; the 100-trial figures and their command are in
//! docs/reliability.md). And CA changes — RegisterCACertificate, UpdateCACertificate INACTIVE and
//! back — take effect on the running server, seen by mosquitto_pub connections.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use test_support::process::Tether;

use crate::support::{aws, start, stdout_stderr, tether, text, venv_bin};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bench(args: &[&str]) -> (Output, Value) {
    let out = Command::new(repo().join("bench/revocation"))
        .args(["--tether", &tether().display().to_string(), "--json"])
        .args(args)
        .env("TETHER_VENV", venv_bin().parent().unwrap())
        .output()
        .unwrap();
    let (stdout, stderr) = stdout_stderr(&out);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("bench/revocation printed no report ({e}):\n{stdout}\n{stderr}")
    });
    (out, report)
}

#[test]
fn revocation_cuts_live_connections_within_5_s() {
    let (out, report) = bench(&["--trials", "3", "--bound", "5"]);
    let (_, stderr) = stdout_stderr(&out);
    for kind in [
        "inactive",
        "revoked",
        "detach-policy",
        "detach-thing",
        "group-detach-policy",
        "group-remove-thing",
        "delete-connection",
    ] {
        let r = &report["kinds"][kind];
        assert_eq!(r["trials"], 3, "{kind}: {report}\n{stderr}");
        assert_eq!(
            r["missed"], 0,
            "{kind} did not cut within 5 s: {report}\n{stderr}"
        );
        let max = r["max_ms"].as_f64().unwrap();
        assert!(max < 5000.0, "{kind}: {max} ms\n{stderr}");
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // The control: with no change, nothing is reported cut and the run fails.
    let (out, report) = bench(&["--kinds", "none", "--trials", "1", "--bound", "1"]);
    assert_eq!(report["kinds"]["none"]["missed"], 1, "{report}");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

/// A device certificate issued by `ca`, written with the CA after it (the chain a device of a
/// DEFAULT-mode CA presents), and its key.
fn fleet_device(ca: &pki::CertificateAuthority, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = pki::generate_key(pki::KeyAlgorithm::EcP256).unwrap();
    let cert = ca
        .issue_client(name, &key, pki::Validity::days_from_now(30))
        .unwrap();
    let mut chain = pki::certificate_pem(&cert).unwrap();
    chain.extend(pki::certificate_pem(ca.certificate()).unwrap());
    let (cert_path, key_path) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert_path, chain).unwrap();
    std::fs::write(
        &key_path,
        pki::private_key_pem(&key, pki::KeyFormat::Pkcs8).unwrap(),
    )
    .unwrap();
    (cert_path, key_path)
}

fn publish(server: &Tether, (cert, key): &(PathBuf, PathBuf), client_id: &str) -> Output {
    Command::new("mosquitto_pub")
        .args([
            "--cafile",
            &server.demo_file("root-ca.pem").display().to_string(),
        ])
        .args(["--cert", &cert.display().to_string()])
        .args(["--key", &key.display().to_string()])
        .args([
            "-h",
            "localhost",
            "-p",
            &server.addr("mqtts").port().to_string(),
        ])
        .args(["-i", client_id, "-t", "fleet/x", "-m", "m", "-q", "1"])
        .output()
        .unwrap()
}

/// `aws iot OPERATION --certificate-id ID --new-status STATUS` (update-certificate or
/// update-ca-certificate).
fn set_status(server: &Tether, operation: &str, id: &str, status: &str) {
    aws(
        server,
        &[
            "iot",
            operation,
            "--certificate-id",
            id,
            "--new-status",
            status,
        ],
    );
}

fn certificates_of(server: &Tether, ca_id: &str) -> Vec<Value> {
    let listed = aws(
        server,
        &[
            "iot",
            "list-certificates-by-ca",
            "--ca-certificate-id",
            ca_id,
        ],
    );
    listed["certificates"].as_array().unwrap().clone()
}

#[test]
fn ca_registration_and_deactivation_take_effect_without_a_restart() {
    let (dir, server) = start(&[]);
    let validity = pki::Validity::days_from_now(30);
    let ca = pki::CertificateAuthority::generate("live CA", pki::KeyAlgorithm::EcP256, validity)
        .unwrap();
    let code = aws(&server, &["iot", "get-registration-code"]);
    let verification_key = pki::generate_key(pki::KeyAlgorithm::EcP256).unwrap();
    let verification = ca
        .issue_client(
            code["registrationCode"].as_str().unwrap(),
            &verification_key,
            validity,
        )
        .unwrap();
    let ca_file = dir.path().join("live-ca.pem");
    std::fs::write(&ca_file, pki::certificate_pem(ca.certificate()).unwrap()).unwrap();
    let verification_file = dir.path().join("live-verification.pem");
    std::fs::write(
        &verification_file,
        pki::certificate_pem(&verification).unwrap(),
    )
    .unwrap();
    let first = fleet_device(&ca, dir.path(), "live-1");
    let second = fleet_device(&ca, dir.path(), "live-2");

    // Registered while the server runs, with auto-registration: a device's first connection
    // registers its certificate PENDING_ACTIVATION (and is closed, as AWS closes it).
    let registered = aws(
        &server,
        &[
            "iot",
            "register-ca-certificate",
            "--ca-certificate",
            &format!("file://{}", ca_file.display()),
            "--verification-certificate",
            &format!("file://{}", verification_file.display()),
            "--set-as-active",
            "--allow-auto-registration",
        ],
    );
    let ca_id = registered["certificateId"].as_str().unwrap().to_owned();
    let out = publish(&server, &first, "live-1");
    assert!(!out.status.success(), "{}", text(&out));
    let certs = certificates_of(&server, &ca_id);
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_eq!(certs[0]["status"], "PENDING_ACTIVATION", "{certs:?}");
    let first_id = certs[0]["certificateId"].as_str().unwrap().to_owned();

    // Activated, with a policy: it connects.
    set_status(&server, "update-certificate", &first_id, "ACTIVE");
    let arn = certs[0]["certificateArn"].as_str().unwrap();
    aws(
        &server,
        &[
            "iot",
            "attach-policy",
            "--policy-name",
            "tether-dev-allow-all",
            "--target",
            arn,
        ],
    );
    let out = publish(&server, &first, "live-1");
    assert!(out.status.success(), "{}", text(&out));

    // The CA set INACTIVE: no new certificate of it is registered, the registered one keeps
    // working (AWS, "Deactivate a CA certificate": registered certificates continue to work).
    set_status(&server, "update-ca-certificate", &ca_id, "INACTIVE");
    let out = publish(&server, &second, "live-2");
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(certificates_of(&server, &ca_id).len(), 1);
    let out = publish(&server, &first, "live-1");
    assert!(out.status.success(), "{}", text(&out));

    // ACTIVE again: the second device's first connection registers it.
    set_status(&server, "update-ca-certificate", &ca_id, "ACTIVE");
    let out = publish(&server, &second, "live-2");
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(certificates_of(&server, &ca_id).len(), 2);
}
