//! `tether registry` end to end between three `tether serve`s: boto3 fills A with one of
//! everything (`tests/python/registry_populate.py`); a dry-run push to B changes nothing on B; a
//! push makes B hold A's registry, and a second push has nothing to do; a device with A's
//! CreateKeysAndCertificate pair connects to B with `mosquitto_pub`, under A's policy; a pull of
//! B into a fresh C gives an export equal to A's once what each server makes for itself (its
//! demo device's certificate) and what changes in transit (a CA's mode) are set aside.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use test_support::process::Tether;

use crate::support::{api_url, mosquitto_pub, python, run, start, text};

/// Runs `tether registry ARGS…`, asserting success; its standard output.
fn registry(args: &[&str]) -> String {
    let out = run(&[&["registry"], args].concat());
    assert!(
        out.status.success(),
        "tether registry {} failed:\n{}",
        args.join(" "),
        text(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn export(server: &Tether) -> String {
    registry(&["export", "--endpoint-url", &api_url(server)])
}

/// The only certificate of a fresh tether's export: its demo device's.
fn demo_certificate(server: &Tether) -> String {
    let bundle: Value = serde_json::from_str(&export(server)).unwrap();
    let certs = bundle["certificates"].as_object().unwrap();
    assert_eq!(certs.len(), 1, "{bundle}");
    certs.keys().next().unwrap().clone()
}

/// `bundle` without the certificates `ids` (wherever they are named) and without CA modes.
fn set_aside(bundle: &str, ids: &[&str]) -> Value {
    let mut bundle: Value = serde_json::from_str(bundle).unwrap();
    let drop_ids = |v: &mut Value| {
        if let Some(list) = v.as_array_mut() {
            list.retain(|id| !ids.contains(&id.as_str().unwrap()));
            if list.is_empty() {
                *v = Value::Null;
            }
        }
    };
    let certs = bundle["certificates"].as_object_mut().unwrap();
    certs.retain(|id, _| !ids.contains(&id.as_str()));
    for thing in bundle["things"].as_object_mut().unwrap().values_mut() {
        drop_ids(&mut thing["principals"]);
        thing.as_object_mut().unwrap().retain(|_, v| !v.is_null());
    }
    for policy in bundle["policies"].as_object_mut().unwrap().values_mut() {
        drop_ids(&mut policy["certificates"]);
        policy.as_object_mut().unwrap().retain(|_, v| !v.is_null());
    }
    for ca in bundle["caCertificates"]
        .as_object_mut()
        .unwrap()
        .values_mut()
    {
        ca.as_object_mut().unwrap().remove("mode");
    }
    bundle
}

fn populate(server: &Tether, work: &Path) -> Value {
    let out = python(
        server,
        "registry_populate.py",
        &[api_url(server), work.display().to_string()],
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// mosquitto_pub with A's sensor-1 pair to `server` as client `id` on `topic`, QoS 1.
fn publish_with_sensor_1(server: &Tether, work: &Path, id: &str, topic: &str) -> Output {
    let file = |name: &str| work.join(name).display().to_string();
    let args: Vec<String> = [
        "--cafile",
        &server.demo_file("root-ca.pem").display().to_string(),
        "--cert",
        &file("sensor-1.pem"),
        "--key",
        &file("sensor-1.key"),
        "-h",
        "localhost",
        "-p",
        &server.addr("mqtts").port().to_string(),
        "-q",
        "1",
        "-d",
        "-i",
        id,
        "-t",
        topic,
        "-m",
        "moved",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    mosquitto_pub(&args, &[])
}

#[test]
fn a_registry_pushed_to_another_tether_and_pulled_back_is_the_same_registry() {
    let work = tempfile::tempdir().unwrap();
    let (_a_dir, a) = start(&[]);
    let (_b_dir, b) = start(&[]);
    let (_c_dir, c) = start(&[]);
    let ids = populate(&a, work.path());
    let (a_url, b_url, c_url) = (api_url(&a), api_url(&b), api_url(&c));
    let b_demo = demo_certificate(&b);
    let c_demo = demo_certificate(&c);

    let exported = export(&a);
    assert_eq!(export(&a), exported, "two exports of one registry differ");
    let bundle: Value = serde_json::from_str(&exported).unwrap();
    let versions = bundle["policies"]["sensor-policy"]["versions"]
        .as_array()
        .unwrap();
    assert_eq!(versions.len(), 3, "{exported}");
    assert_eq!(versions[1]["default"], true, "{exported}");
    assert_eq!(bundle["thingGroups"]["floor-1"]["parent"], "site");
    assert_eq!(bundle["thingTypes"]["legacy"]["deprecated"], true);
    let stray = ids["stray"].as_str().unwrap();
    assert_eq!(bundle["certificates"][stray]["status"], "REVOKED");
    let fleet = ids["fleet"].as_str().unwrap();
    assert_eq!(bundle["certificates"][fleet]["caCertificateId"], ids["ca"]);
    assert_eq!(
        bundle["caCertificates"][ids["ca"].as_str().unwrap()]["mode"],
        "DEFAULT"
    );
    assert_eq!(bundle["policies"]["group-policy"]["thingGroups"][0], "site");
    assert!(bundle["provisioningTemplates"]["fleet"]["enabled"] == true);
    assert!(
        !exported.contains("PRIVATE KEY"),
        "a private key in the bundle"
    );

    // A dry run prints the plan and leaves B as it was.
    let b_before = export(&b);
    let plan = registry(&[
        "push",
        "--local-url",
        &a_url,
        "--endpoint-url",
        &b_url,
        "--dry-run",
    ]);
    assert!(plan.contains("create      thing sensor-1"), "{plan}");
    assert!(plan.contains("unchanged   thing demo-device"), "{plan}");
    assert!(plan.contains("nothing was changed"), "{plan}");
    assert_eq!(export(&b), b_before, "the dry run changed B:\n{plan}");

    let pushed = registry(&["push", "--local-url", &a_url, "--endpoint-url", &b_url]);
    assert!(
        pushed.contains("create      policy sensor-policy"),
        "{pushed}"
    );
    assert!(
        pushed.contains(&format!("target-only certificate {b_demo}")),
        "{pushed}"
    );
    let again = registry(&["push", "--local-url", &a_url, "--endpoint-url", &b_url]);
    assert!(again.contains("nothing to do"), "{again}");
    assert!(again.contains(" 0 to create, 0 to update,"), "{again}");

    // A's device connects to B as sensor-1 and publishes where A's policy lets it...
    let out = publish_with_sensor_1(&b, work.path(), "sensor-1", "sensors/1");
    assert!(text(&out).contains("received PUBACK"), "{}", text(&out));
    // ...and B enforces that policy: any other client id is refused.
    let out = publish_with_sensor_1(&b, work.path(), "intruder", "sensors/1");
    assert!(!text(&out).contains("received PUBACK"), "{}", text(&out));

    // B pulled into a fresh C is A again.
    let pulled = registry(&["pull", "--local-url", &c_url, "--endpoint-url", &b_url]);
    assert!(pulled.contains("done at"), "{pulled}");
    let set_aside_ids = [b_demo.as_str(), c_demo.as_str()];
    assert_eq!(
        set_aside(&export(&c), &set_aside_ids),
        set_aside(&exported, &set_aside_ids),
        "C's export differs from A's"
    );
    let c_bundle: Value = serde_json::from_str(&export(&c)).unwrap();
    assert_eq!(
        c_bundle["caCertificates"][ids["ca"].as_str().unwrap()]["mode"],
        "SNI_ONLY"
    );

    // A bundle file imports like a push: into C, which already holds it, nothing to do.
    let file = work.path().join("a.json");
    std::fs::write(&file, &exported).unwrap();
    let imported = registry(&["import", file.to_str().unwrap(), "--endpoint-url", &c_url]);
    assert!(imported.contains("nothing to do"), "{imported}");
}

#[test]
fn a_bundle_with_a_dangling_name_is_refused_with_the_field_named() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("bad.json");
    std::fs::write(
        &file,
        r#"{"format": "tether-registry/1", "things": {"t": {"groups": ["nowhere"]}}}"#,
    )
    .unwrap();
    let out = run(&[
        "registry",
        "import",
        file.to_str().unwrap(),
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("things.t.groups"), "{}", text(&out));
    let out = run(&["registry", "push", "--dry-run"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--endpoint-url"), "{}", text(&out));
}

#[test]
fn export_reaches_an_https_endpoint_verifying_it_with_openssl() {
    // tether's port 443 answers the control plane over TLS as AWS's iot.REGION.amazonaws.com
    // does; the client verifies the server against SSL_CERT_FILE and signs with SigV4.
    let (_dir, server) = start(&["--https-443", "127.0.0.1:0"]);
    let https = format!("https://localhost:{}", server.addr("https-443").port());
    let root_ca = server.data_dir().join("ca/root-ca.pem");
    let over_tls = Command::new(crate::support::tether())
        .args(["registry", "export", "--endpoint-url", &https])
        .env("SSL_CERT_FILE", &root_ca)
        .output()
        .unwrap();
    assert!(over_tls.status.success(), "{}", text(&over_tls));
    assert_eq!(String::from_utf8(over_tls.stdout).unwrap(), export(&server));
    let untrusted = Command::new(crate::support::tether())
        .args(["registry", "export", "--endpoint-url", &https])
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    assert!(!untrusted.status.success());
    assert!(
        text(&untrusted).contains("does not verify"),
        "{}",
        text(&untrusted)
    );
}
