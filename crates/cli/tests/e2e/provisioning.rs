//! Fleet provisioning end to end with the clients users run: the AWS IoT Device SDK v2 identity
//! client (awsiotsdk's IotIdentityClientV2 over MQTT 5 with a claim from
//! `create-provisioning-claim`), paho-mqtt with cbor2 on the CBOR topics through every
//! rejection (hooks run as local commands from the config file), the AWS CLI's template
//! operations, and just-in-time registration and provisioning with `mosquitto_pub` and device
//! certificates signed by a CA made with the openssl CLI and registered with the AWS CLI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use test_support::process::Tether;

use crate::support::{
    aws, aws_raw, mosquitto_pub, python, read_until, start, subscriber, text, venv_bin,
};

fn root_ca(server: &Tether) -> String {
    server.demo_file("root-ca.pem").display().to_string()
}

#[test]
fn the_identity_client_provisions_by_claim_end_to_end() {
    let (_dir, server) = start(&[]);
    let work = tempfile::tempdir().unwrap();
    let args = vec![
        crate::support::api_url(&server),
        format!("localhost:{}", server.addr("mqtts").port()),
        root_ca(&server),
        work.path().display().to_string(),
    ];
    let out = python(&server, "provisioning_sdk.py", &args);
    assert!(text(&out).contains("23 checks passed"), "{}", text(&out));
}

#[test]
fn cbor_topics_answer_and_every_rejection_creates_nothing() {
    let config = tempfile::tempdir().unwrap();
    let python_bin = venv_bin().join("python").display().to_string();
    let hook = |answer: Value| {
        json!([
            python_bin,
            "-c",
            format!(
                "import json,sys; json.load(sys.stdin); print({})",
                serde_json::to_string(&answer.to_string()).unwrap()
            ),
        ])
    };
    let allow = "arn:aws:lambda:us-east-1:123456789012:function:allow";
    let refuse = "arn:aws:lambda:us-east-1:123456789012:function:refuse";
    let toml = format!(
        "[[provisioning-hook]]\ntarget-arn = \"{allow}\"\ncommand = {}\n\n\
         [[provisioning-hook]]\ntarget-arn = \"{refuse}\"\ncommand = {}\n",
        hook(
            json!({"allowProvisioning": true, "parameterOverrides": {"SerialNumber": "from-hook"}})
        ),
        hook(json!({"allowProvisioning": false})),
    );
    let file = config.path().join("tether.toml");
    std::fs::write(&file, toml).unwrap();
    let file = file.display().to_string();
    let (_dir, server) = start(&["--config", &file, "--provisioning-claim-lifetime", "3"]);
    let work = tempfile::tempdir().unwrap();
    let args = vec![
        crate::support::api_url(&server),
        format!("localhost:{}", server.addr("mqtts").port()),
        root_ca(&server),
        work.path().display().to_string(),
        allow.to_owned(),
        refuse.to_owned(),
    ];
    let out = python(&server, "provisioning_cbor.py", &args);
    assert!(text(&out).contains("checks passed"), "{}", text(&out));
}

#[test]
fn the_aws_cli_manages_templates_and_refuses_what_aws_refuses() {
    let (_dir, server) = start(&[]);
    let body = json!({
        "Parameters": {"Name": {"Type": "String"}},
        "Resources": {"thing": {"Type": "AWS::IoT::Thing",
                                "Properties": {"ThingName": {"Ref": "Name"}}}}
    })
    .to_string();
    let role = "arn:aws:iam::123456789012:role/provisioning";
    let created = aws(
        &server,
        &[
            "iot",
            "create-provisioning-template",
            "--template-name",
            "cli",
            "--template-body",
            &body,
            "--provisioning-role-arn",
            role,
        ],
    );
    assert_eq!(created["defaultVersionId"], 1);
    let described = aws(
        &server,
        &[
            "iot",
            "describe-provisioning-template",
            "--template-name",
            "cli",
        ],
    );
    assert_eq!(described["enabled"], false, "created disabled unless asked");
    assert_eq!(described["type"], "FLEET_PROVISIONING");
    assert_eq!(described["templateBody"], body);
    let v2 = aws(
        &server,
        &[
            "iot",
            "create-provisioning-template-version",
            "--template-name",
            "cli",
            "--template-body",
            &body,
            "--set-as-default",
        ],
    );
    assert_eq!(
        (v2["versionId"].clone(), v2["isDefaultVersion"].clone()),
        (json!(2), json!(true))
    );
    let version = aws(
        &server,
        &[
            "iot",
            "describe-provisioning-template-version",
            "--template-name",
            "cli",
            "--version-id",
            "1",
        ],
    );
    assert_eq!(
        (
            version["templateBody"].clone(),
            version["isDefaultVersion"].clone()
        ),
        (json!(body), json!(false))
    );
    let refused = aws_raw(
        &server,
        "test",
        &[
            "iot",
            "delete-provisioning-template-version",
            "--template-name",
            "cli",
            "--version-id",
            "2",
        ],
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("DeleteConflictException"));
    aws(
        &server,
        &[
            "iot",
            "update-provisioning-template",
            "--template-name",
            "cli",
            "--default-version-id",
            "1",
            "--enabled",
        ],
    );
    aws(
        &server,
        &[
            "iot",
            "delete-provisioning-template-version",
            "--template-name",
            "cli",
            "--version-id",
            "2",
        ],
    );
    let versions = aws(
        &server,
        &[
            "iot",
            "list-provisioning-template-versions",
            "--template-name",
            "cli",
        ],
    );
    assert_eq!(
        versions["versions"],
        json!([{"versionId": 1, "creationDate": versions["versions"][0]["creationDate"], "isDefaultVersion": true}])
    );
    // A function AWS does not offer in provisioning templates is refused at creation.
    let bad = json!({"Resources": {"thing": {"Type": "AWS::IoT::Thing",
        "Properties": {"ThingName": {"Fn::GetAtt": ["x", "y"]}}}}})
    .to_string();
    let out = aws_raw(
        &server,
        "test",
        &[
            "iot",
            "create-provisioning-template",
            "--template-name",
            "bad",
            "--template-body",
            &bad,
            "--provisioning-role-arn",
            role,
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("InvalidRequestException") && err.contains("Fn::GetAtt"),
        "{err}"
    );
    // RegisterThing (bulk registration) with the control plane.
    let registered = aws(
        &server,
        &[
            "iot",
            "register-thing",
            "--template-body",
            &body,
            "--parameters",
            "Name=bulk-1",
        ],
    );
    assert_eq!(
        registered["resourceArns"]["thing"],
        "arn:aws:iot:us-east-1:123456789012:thing/bulk-1"
    );
    aws(
        &server,
        &["iot", "describe-thing", "--thing-name", "bulk-1"],
    );
    aws(
        &server,
        &[
            "iot",
            "delete-provisioning-template",
            "--template-name",
            "cli",
        ],
    );
    let listed = aws(&server, &["iot", "list-provisioning-templates"]);
    assert_eq!(listed["templates"], json!([]));
}

/// A CA made with the openssl CLI, and device certificates it signs.
struct MakerCa {
    dir: PathBuf,
    name: String,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        text(&out)
    );
}

impl MakerCa {
    fn new(dir: &Path, name: &str) -> MakerCa {
        let ca = MakerCa {
            dir: dir.to_owned(),
            name: name.to_owned(),
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &ca.path("key"),
            "-out",
            &ca.path("crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        ca
    }

    fn path(&self, ext: &str) -> String {
        self.dir
            .join(format!("{}.{ext}", self.name))
            .display()
            .to_string()
    }

    /// Signs a certificate for `subject`; returns the key and certificate paths.
    fn sign(&self, name: &str, subject: &str) -> (String, String) {
        let key = self.dir.join(format!("{name}.key")).display().to_string();
        let csr = self.dir.join(format!("{name}.csr")).display().to_string();
        let crt = self.dir.join(format!("{name}.crt")).display().to_string();
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            subject,
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &self.path("crt"),
            "-CAkey",
            &self.path("key"),
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "1",
        ]);
        (key, crt)
    }
}

/// mosquitto_pub as the device, to `localhost` (so it sends SNI).
fn publish_as(server: &Tether, key: &str, cert: &str, client_id: &str) -> Output {
    let args: Vec<String> = [
        "-h",
        "localhost",
        "-p",
        &server.addr("mqtts").port().to_string(),
        "--cafile",
        &root_ca(server),
        "--cert",
        cert,
        "--key",
        key,
        "-i",
        client_id,
        "-t",
        "hello",
        "-m",
        "hi",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    mosquitto_pub(&args, &[])
}

#[test]
fn jitr_registers_pending_and_activation_lets_the_device_in() {
    let (_dir, server) = start(&[]);
    let work = tempfile::tempdir().unwrap();
    let ca = MakerCa::new(work.path(), "jitr-ca");
    let ca_file = format!("file://{}", ca.path("crt"));
    let registered = aws(
        &server,
        &[
            "iot",
            "register-ca-certificate",
            "--ca-certificate",
            &ca_file,
            "--certificate-mode",
            "SNI_ONLY",
            "--set-as-active",
            "--allow-auto-registration",
        ],
    );
    let ca_id = registered["certificateId"].as_str().unwrap().to_owned();
    let mut watch = server.demo_tls_args();
    watch.extend(["-i".to_owned(), "jitr-watcher".to_owned()]);
    let (_watcher, mut events) = subscriber(
        &watch,
        &["-v", "-t", "$aws/events/certificates/registered/#"],
    );
    let (key, cert) = ca.sign("sensor-1", "/CN=sensor-1/C=DE");
    for attempt in 1..=2 {
        let out = publish_as(&server, &key, &cert, "sensor-1");
        assert!(
            !out.status.success(),
            "attempt {attempt}: a PENDING_ACTIVATION certificate connected"
        );
        let seen = read_until(&mut events, "PENDING_ACTIVATION");
        let line = seen
            .lines()
            .find(|l| l.contains("PENDING_ACTIVATION"))
            .unwrap();
        let (topic, payload) = line.trim().split_once(' ').unwrap();
        assert_eq!(
            topic,
            format!("$aws/events/certificates/registered/{ca_id}")
        );
        let event: Value = serde_json::from_str(payload).unwrap();
        assert_eq!(event["caCertificateId"], ca_id);
        assert_eq!(event["certificateStatus"], "PENDING_ACTIVATION");
        assert_eq!(event["awsAccountId"], "123456789012");
    }
    let listed = aws(
        &server,
        &[
            "iot",
            "list-certificates-by-ca",
            "--ca-certificate-id",
            &ca_id,
        ],
    );
    let id = listed["certificates"][0]["certificateId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(listed["certificates"][0]["status"], "PENDING_ACTIVATION");
    aws(
        &server,
        &[
            "iot",
            "update-certificate",
            "--certificate-id",
            &id,
            "--new-status",
            "ACTIVE",
        ],
    );
    aws(
        &server,
        &[
            "iot",
            "create-policy",
            "--policy-name",
            "all",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#,
        ],
    );
    let arn = format!("arn:aws:iot:us-east-1:123456789012:cert/{id}");
    aws(
        &server,
        &[
            "iot",
            "attach-policy",
            "--policy-name",
            "all",
            "--target",
            &arn,
        ],
    );
    let out = publish_as(&server, &key, &cert, "sensor-1");
    assert!(
        out.status.success(),
        "the activated device connects: {}",
        text(&out)
    );
}

#[test]
fn jitp_provisions_on_the_first_connection_and_the_retry_connects() {
    let (_dir, server) = start(&[]);
    let work = tempfile::tempdir().unwrap();
    let ca = MakerCa::new(work.path(), "jitp-ca");
    // DEFAULT mode: a verification certificate with the registration code as its CN.
    let code = aws(&server, &["iot", "get-registration-code"])["registrationCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, verification) = ca.sign("verification", &format!("/CN={code}"));
    aws(
        &server,
        &["iot", "create-thing-group", "--thing-group-name", "DE"],
    );
    let template = json!({
        "Parameters": {
            "AWS::IoT::Certificate::CommonName": {"Type": "String"},
            "AWS::IoT::Certificate::Country": {"Type": "String"},
            "AWS::IoT::Certificate::Id": {"Type": "String"}
        },
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
                "ThingGroups": [{"Ref": "AWS::IoT::Certificate::Country"}]}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {
                "PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\"}]}"}}
        }
    });
    let config = json!({"templateBody": template.to_string(),
                        "roleArn": "arn:aws:iam::123456789012:role/jitp"});
    let config_file = work.path().join("registration.json");
    std::fs::write(&config_file, config.to_string()).unwrap();
    let registered = aws(
        &server,
        &[
            "iot",
            "register-ca-certificate",
            "--ca-certificate",
            &format!("file://{}", ca.path("crt")),
            "--verification-cert",
            &format!("file://{verification}"),
            "--set-as-active",
            "--allow-auto-registration",
            "--registration-config",
            &format!("file://{}", config_file.display()),
        ],
    );
    let ca_id = registered["certificateId"].as_str().unwrap().to_owned();
    let described = aws(
        &server,
        &["iot", "describe-ca-certificate", "--certificate-id", &ca_id],
    );
    assert_eq!(
        described["registrationConfig"]["roleArn"],
        "arn:aws:iam::123456789012:role/jitp"
    );
    // The device sends its certificate and the CA's, as the guide's first connection does.
    let (key, cert) = ca.sign("lamp-42", "/CN=lamp-42/C=DE");
    let chain = work.path().join("lamp-42.chain.crt");
    let mut pem = std::fs::read(&cert).unwrap();
    pem.extend(std::fs::read(ca.path("crt")).unwrap());
    std::fs::write(&chain, pem).unwrap();
    let chain = chain.display().to_string();
    let first = publish_as(&server, &key, &chain, "lamp-42");
    assert!(
        !first.status.success(),
        "the first connection is closed, as AWS closes it"
    );
    let thing = aws(
        &server,
        &["iot", "describe-thing", "--thing-name", "lamp-42"],
    );
    assert_eq!(thing["thingName"], "lamp-42");
    let groups = aws(
        &server,
        &[
            "iot",
            "list-thing-groups-for-thing",
            "--thing-name",
            "lamp-42",
        ],
    );
    assert_eq!(groups["thingGroups"][0]["groupName"], "DE");
    let certs = aws(
        &server,
        &[
            "iot",
            "list-certificates-by-ca",
            "--ca-certificate-id",
            &ca_id,
        ],
    );
    assert_eq!(certs["certificates"][0]["status"], "ACTIVE");
    let retry = publish_as(&server, &key, &chain, "lamp-42");
    assert!(
        retry.status.success(),
        "the retry connects: {}\n{}",
        text(&retry),
        server.logs().join("\n")
    );
    // Its certificate alone (no CA in the chain) is enough, because mosquitto_pub sends SNI.
    let (key2, cert2) = ca.sign("lamp-43", "/CN=lamp-43/C=DE");
    assert!(
        !publish_as(&server, &key2, &cert2, "lamp-43")
            .status
            .success()
    );
    assert!(
        publish_as(&server, &key2, &cert2, "lamp-43")
            .status
            .success()
    );
    // A certificate without the Country the template declares is refused, and nothing is kept.
    let (key3, cert3) = ca.sign("lamp-44", "/CN=lamp-44");
    assert!(
        !publish_as(&server, &key3, &cert3, "lamp-44")
            .status
            .success()
    );
    let certs = aws(
        &server,
        &[
            "iot",
            "list-certificates-by-ca",
            "--ca-certificate-id",
            &ca_id,
        ],
    );
    assert_eq!(certs["certificates"].as_array().unwrap().len(), 2);
    let refusal = server.logs().join("\n");
    assert!(
        refusal.contains("AWS::IoT::Certificate::Country"),
        "{refusal}"
    );
}

/// `tether ARGS…` with the server's API, isolated from the machine's AWS settings; must succeed.
fn tether_api(server: &Tether, args: &[&str]) -> String {
    let out = Command::new(crate::support::tether())
        .args(args)
        .args(["--endpoint-url", &crate::support::api_url(server)])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tether {} failed: {}\nserver log:\n{}",
        args.join(" "),
        text(&out),
        server.logs().join("\n")
    );
    text(&out)
}

#[test]
fn tether_drives_claim_jitp_and_jitr_factory_flows_step_by_step() {
    let (_dir, server) = start(&[]);
    let work = tempfile::tempdir().unwrap();
    let body = work.path().join("template.json");
    std::fs::write(
        &body,
        json!({
            "Parameters": {"ThingName": {"Type": "String"}},
            "Resources": {
                "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "ThingName"}}},
                "certificate": {"Type": "AWS::IoT::Certificate",
                                "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}}},
                "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "tether-dev-allow-all"}}
            }
        })
        .to_string(),
    )
    .unwrap();
    let body = body.display().to_string();
    let created = tether_api(
        &server,
        &[
            "provision",
            "template",
            "line-1",
            "--body",
            &body,
            "--enabled",
        ],
    );
    assert!(created.contains("created template line-1"), "{created}");
    // By claim, with a key made here (CSR) and with one the server makes.
    let out = work.path().join("meter-1").display().to_string();
    let flow = tether_api(
        &server,
        &[
            "device",
            "create",
            "meter-1",
            "--via",
            "claim",
            "--template",
            "line-1",
            "--key-type",
            "ec-p256",
            "--out",
            &out,
        ],
    );
    for step in [
        "CreateProvisioningClaim",
        "CreateCertificateFromCsr",
        "RegisterThing",
        "connected with the new certificate as meter-1",
    ] {
        assert!(flow.contains(step), "{step} missing:\n{flow}");
    }
    let claim_dir = work.path().join("claim");
    tether_api(
        &server,
        &[
            "provision",
            "claim",
            "line-1",
            "--out",
            &claim_dir.display().to_string(),
        ],
    );
    let out2 = work.path().join("meter-2").display().to_string();
    let flow = tether_api(
        &server,
        &[
            "provision",
            "device",
            "line-1",
            "--claim-cert",
            &claim_dir.join("claim.pem.crt").display().to_string(),
            "--claim-key",
            &claim_dir.join("claim.pem.key").display().to_string(),
            "--param",
            "ThingName=meter-2",
            "--client-id",
            "meter-2",
            "--out",
            &out2,
        ],
    );
    assert!(
        flow.contains("CreateKeysAndCertificate") && flow.contains("thing meter-2"),
        "{flow}"
    );
    assert_eq!(
        aws(
            &server,
            &["iot", "describe-thing", "--thing-name", "meter-2"]
        )["thingName"],
        "meter-2"
    );
    // JITR: registered PENDING_ACTIVATION on the first connection, activated, connects.
    let ca = MakerCa::new(work.path(), "line-ca");
    aws(
        &server,
        &[
            "iot",
            "register-ca-certificate",
            "--ca-certificate",
            &format!("file://{}", ca.path("crt")),
            "--certificate-mode",
            "SNI_ONLY",
            "--set-as-active",
            "--allow-auto-registration",
        ],
    );
    let out3 = work.path().join("valve-1").display().to_string();
    let flow = tether_api(
        &server,
        &[
            "device",
            "create",
            "valve-1",
            "--via",
            "jitr",
            "--ca-cert",
            &ca.path("crt"),
            "--ca-key",
            &ca.path("key"),
            "--policy",
            "tether-dev-allow-all",
            "--out",
            &out3,
        ],
    );
    for step in [
        "first connection",
        "PENDING_ACTIVATION",
        "activated it",
        "connected again as valve-1",
    ] {
        assert!(flow.contains(step), "{step} missing:\n{flow}");
    }
    // JITP: the CA's template provisions the device on its first connection.
    let jitp_ca = MakerCa::new(work.path(), "jitp-line-ca");
    let template = json!({
        "Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"},
                       "AWS::IoT::Certificate::Id": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing",
                      "Properties": {"ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"}}},
            "certificate": {"Type": "AWS::IoT::Certificate",
                            "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "tether-dev-allow-all"}}
        }
    });
    let config = work.path().join("jitp.json");
    std::fs::write(
        &config,
        json!({"templateBody": template.to_string()}).to_string(),
    )
    .unwrap();
    aws(
        &server,
        &[
            "iot",
            "register-ca-certificate",
            "--ca-certificate",
            &format!("file://{}", jitp_ca.path("crt")),
            "--certificate-mode",
            "SNI_ONLY",
            "--set-as-active",
            "--allow-auto-registration",
            "--registration-config",
            &format!("file://{}", config.display()),
        ],
    );
    let out4 = work.path().join("pump-1").display().to_string();
    let flow = tether_api(
        &server,
        &[
            "device",
            "create",
            "pump-1",
            "--via",
            "jitp",
            "--ca-cert",
            &jitp_ca.path("crt"),
            "--ca-key",
            &jitp_ca.path("key"),
            "--out",
            &out4,
        ],
    );
    for step in [
        "first connection",
        "is registered, ACTIVE",
        "connected again as pump-1",
    ] {
        assert!(flow.contains(step), "{step} missing:\n{flow}");
    }
    assert_eq!(
        aws(
            &server,
            &["iot", "describe-thing", "--thing-name", "pump-1"]
        )["thingName"],
        "pump-1"
    );
}
