//! `tether provision`: the steps of a factory flow against a running `tether serve`, each
//! printed as it happens — `template` (CreateProvisioningTemplate from a file), `claim`
//! (CreateProvisioningClaim: a temporary claim certificate and key on disk), and `device`
//! (fleet provisioning by claim over MQTT, as a device does it: connect with the claim,
//! CreateCertificateFromCsr or CreateKeysAndCertificate, RegisterThing, then connect with the
//! new certificate). `tether device create --via claim|jitp|jitr` runs these flows too
//! ([`by_claim`], [`just_in_time`]). API calls go through `api_client`, MQTT through the
//! `client` crate; nothing touches the database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use client::{
    Bytes, Client as Mqtt, ClientConfig, ConnectOptions, Identity, Message, MqttStr, QoS,
    SubscriptionOptions, TlsOptions, TopicFilter, TopicName, Trust,
};
use serde_json::{Value, json};

use crate::api_client::{ApiArgs, Call, Client};

/// How long one MQTT answer may take.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Drive fleet provisioning through a running tether serve: templates, claims, devices.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    #[command(subcommand)]
    command: ProvisionCommand,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Subcommand)]
enum ProvisionCommand {
    /// Create a fleet provisioning template (CreateProvisioningTemplate) from a JSON file.
    Template {
        /// Template name.
        name: String,
        /// The template body (JSON).
        #[arg(long, value_name = "FILE")]
        body: PathBuf,
        /// Create it enabled (AWS creates templates disabled).
        #[arg(long)]
        enabled: bool,
        /// The provisioning role (AWS needs one; tether only records it).
        #[arg(
            long,
            value_name = "ARN",
            default_value = "arn:aws:iam::123456789012:role/tether-provisioning"
        )]
        role_arn: String,
        /// A pre-provisioning hook's Lambda ARN (configure its local stand-in with
        /// [[provisioning-hook]] in tether serve's config file).
        #[arg(long, value_name = "ARN")]
        hook_arn: Option<String>,
    },
    /// Get a temporary claim certificate (CreateProvisioningClaim) and write it and its key.
    Claim {
        /// Template name.
        template: String,
        /// Directory for claim.pem.crt and claim.pem.key.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Provision one device by claim over MQTT and write its files.
    Device {
        /// Template name.
        template: String,
        /// The claim certificate (PEM).
        #[arg(long, value_name = "FILE")]
        claim_cert: PathBuf,
        /// The claim certificate's private key (PEM).
        #[arg(long, value_name = "FILE")]
        claim_key: PathBuf,
        /// A RegisterThing parameter (repeatable).
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// MQTT client id of the device.
        #[arg(long, default_value = "tether-provisioning-device")]
        client_id: String,
        /// Generate the key here and send a CSR (EC P-256), instead of CreateKeysAndCertificate.
        #[arg(long)]
        csr: bool,
        /// Directory for the device's files.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

pub fn run(args: ProvisionArgs) -> Result<ExitCode> {
    let api = args.api.client()?;
    match args.command {
        ProvisionCommand::Template {
            name,
            body,
            enabled,
            role_arn,
            hook_arn,
        } => {
            let text = std::fs::read_to_string(&body)
                .with_context(|| format!("cannot read the template body {}", body.display()))?;
            let mut request = json!({
                "templateName": name,
                "templateBody": text,
                "provisioningRoleArn": role_arn,
                "enabled": enabled,
            });
            if let (Some(arn), Some(map)) = (hook_arn, request.as_object_mut()) {
                map.insert(
                    "preProvisioningHook".to_owned(),
                    json!({"targetArn": arn, "payloadVersion": "2020-04-01"}),
                );
            }
            let created = api.call(Call::iot("POST", &["provisioning-templates"]).json(request))?;
            step(&format!(
                "created template {name} ({}), {}",
                at(&created, "templateArn"),
                if enabled { "enabled" } else { "disabled" }
            ));
        }
        ProvisionCommand::Claim { template, out } => {
            let files = claim(&api, &template, &out)?;
            step(&format!(
                "claim certificate {} and key {}",
                files.0.display(),
                files.1.display()
            ));
        }
        ProvisionCommand::Device {
            template,
            claim_cert,
            claim_key,
            params,
            client_id,
            csr,
            out,
        } => {
            let params = parse_params(&params)?;
            by_claim(
                &api,
                &template,
                (&claim_cert, &claim_key),
                &params,
                &client_id,
                csr,
                &out,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn step(text: &str) {
    println!("• {text}");
}

fn at<'v>(value: &'v Value, member: &str) -> &'v Value {
    value.get(member).unwrap_or(&Value::Null)
}

fn text(value: &Value, member: &str) -> Result<String> {
    at(value, member)
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the answer lacks {member}: {value}"))
}

/// `KEY=VALUE` parameters as a JSON object.
pub fn parse_params(params: &[String]) -> Result<serde_json::Map<String, Value>> {
    params
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), Value::String(v.to_owned()))),
            _ => bail!("--param {p:?}: write it as KEY=VALUE"),
        })
        .collect()
}

/// CreateProvisioningClaim; writes claim.pem.crt and claim.pem.key (0600) into `out`.
pub fn claim(api: &Client, template: &str, out: &Path) -> Result<(PathBuf, PathBuf)> {
    let claim = api
        .call(Call::iot(
            "POST",
            &["provisioning-templates", template, "provisioning-claim"],
        ))
        .with_context(|| format!("CreateProvisioningClaim for template {template}"))?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let cert = out.join("claim.pem.crt");
    let key = out.join("claim.pem.key");
    pki::write_public_file(&cert, text(&claim, "certificatePem")?.as_bytes())?;
    pki::write_private_key(&key, text(at(&claim, "keyPair"), "PrivateKey")?.as_bytes())?;
    step(&format!(
        "CreateProvisioningClaim: claim certificate {} valid until {}",
        text(&claim, "certificateId")?,
        at(&claim, "expiration")
    ));
    Ok((cert, key))
}

/// Where the broker is and the root CA devices trust, from the API.
fn broker(api: &Client) -> Result<(String, u16, Vec<u8>)> {
    let root_ca = api.raw_get("/_tether/root-ca.pem")?;
    let (host, port) = api.endpoint()?;
    Ok((host, port, root_ca))
}

fn options(
    host: &str,
    port: u16,
    root_ca: &[u8],
    cert: &[u8],
    key: &[u8],
    client_id: &str,
) -> Result<ConnectOptions> {
    let identity = Identity::from_pem(cert, key).map_err(|e| anyhow!("{e}"))?;
    Ok(ConnectOptions {
        host: host.to_owned(),
        port,
        tls: Some(TlsOptions {
            trust: Trust::CaPem(root_ca.to_vec()),
            identity: Some(identity),
            ..TlsOptions::default()
        }),
        mqtt: ClientConfig {
            client_id: MqttStr::new(client_id)
                .map_err(|e| anyhow!("client id {client_id:?} is not valid: {e}"))?,
            ..ClientConfig::default()
        },
        connect_timeout: Duration::from_secs(10),
        bind_address: None,
        reconnect: None,
        websocket: None,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
}

/// Publishes a request and waits for its answer; a `/rejected` answer is an error with AWS's
/// statusCode, errorCode and errorMessage.
async fn request(mqtt: &mut Mqtt, topic: &str, body: &Value) -> Result<Value> {
    let name = TopicName::new(topic).map_err(|e| anyhow!("topic {topic}: {e}"))?;
    mqtt.publish(Message::new(
        name,
        QoS::AtLeastOnce,
        Bytes::from(body.to_string()),
    ))
    .await?;
    let (accepted, rejected) = (format!("{topic}/accepted"), format!("{topic}/rejected"));
    loop {
        let got = tokio::time::timeout(ANSWER_WAIT, mqtt.recv())
            .await
            .map_err(|_| anyhow!("no answer to {topic} within {} s", ANSWER_WAIT.as_secs()))??;
        let answer: Value = serde_json::from_slice(&got.payload).unwrap_or(Value::Null);
        if got.topic.as_str() == accepted {
            return Ok(answer);
        }
        if got.topic.as_str() == rejected {
            bail!(
                "{topic} was rejected: {} {}: {}",
                at(&answer, "statusCode"),
                at(&answer, "errorCode").as_str().unwrap_or(""),
                at(&answer, "errorMessage").as_str().unwrap_or("")
            );
        }
    }
}

/// Provisions a device by claim over MQTT and writes certificate.pem.crt, private.pem.key and
/// root-ca.pem into `out`; returns the thing name.
pub fn by_claim(
    api: &Client,
    template: &str,
    (claim_cert, claim_key): (&Path, &Path),
    params: &serde_json::Map<String, Value>,
    client_id: &str,
    csr: bool,
    out: &Path,
) -> Result<String> {
    let (host, port, root_ca) = broker(api)?;
    let claim = options(
        &host,
        port,
        &root_ca,
        &pki::read_file(claim_cert)?,
        &pki::read_file(claim_key)?,
        client_id,
    )?;
    runtime()?.block_on(async {
        let mut mqtt = Mqtt::connect(claim)
            .await
            .context("connecting with the claim")?;
        step(&format!(
            "connected to {host}:{port} with the claim certificate as {client_id}"
        ));
        let filters = [
            "$aws/certificates/create/json/+".to_owned(),
            "$aws/certificates/create-from-csr/json/+".to_owned(),
            format!("$aws/provisioning-templates/{template}/provision/json/+"),
        ];
        let filters = filters
            .iter()
            .map(|f| {
                TopicFilter::new(f)
                    .map(|f| (f, SubscriptionOptions::with_qos(QoS::AtLeastOnce)))
                    .map_err(|e| anyhow!("filter {f}: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        mqtt.subscribe(filters).await?;
        step("subscribed to the accepted and rejected topics");
        let (created, private_key) = if csr {
            let key = pki::generate_key(pki::KeyAlgorithm::EcP256)?;
            let request_csr = pki::create_csr(&key, client_id)?;
            let pem = String::from_utf8(request_csr.to_pem().context("encoding the CSR")?)?;
            let created = request(
                &mut mqtt,
                "$aws/certificates/create-from-csr/json",
                &json!({ "certificateSigningRequest": pem }),
            )
            .await?;
            step("CreateCertificateFromCsr: certificate signed for an EC P-256 key made here");
            (
                created,
                pki::private_key_pem(&key, pki::traditional_format(&key))?,
            )
        } else {
            let created = request(&mut mqtt, "$aws/certificates/create/json", &json!({})).await?;
            step("CreateKeysAndCertificate: certificate and RSA-2048 key issued");
            let key = text(&created, "privateKey")?.into_bytes();
            (created, key)
        };
        let certificate_id = text(&created, "certificateId")?;
        step(&format!(
            "certificate {certificate_id} is PENDING_ACTIVATION, with an ownership token"
        ));
        let registered = request(
            &mut mqtt,
            &format!("$aws/provisioning-templates/{template}/provision/json"),
            &json!({
                "certificateOwnershipToken": text(&created, "certificateOwnershipToken")?,
                "parameters": params,
            }),
        )
        .await?;
        let thing = text(&registered, "thingName").unwrap_or_default();
        step(&format!(
            "RegisterThing with template {template}: thing {thing}, device configuration {}",
            at(&registered, "deviceConfiguration")
        ));
        let _ = mqtt.disconnect().await;
        step("disconnected the claim");
        let certificate = text(&created, "certificatePem")?;
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let files = server::DeviceFiles::in_dir(out);
        pki::write_public_file(&files.certificate, certificate.as_bytes())?;
        pki::write_private_key(&files.private_key, &private_key)?;
        pki::write_public_file(&files.root_ca, &root_ca)?;
        step(&format!(
            "wrote {} and {}",
            files.certificate.display(),
            files.private_key.display()
        ));
        let own = options(
            &host,
            port,
            &root_ca,
            certificate.as_bytes(),
            &private_key,
            &thing,
        )?;
        let mqtt = Mqtt::connect(own)
            .await
            .context("connecting with the new certificate")?;
        step(&format!("connected with the new certificate as {thing}"));
        let _ = mqtt.disconnect().await;
        Ok(thing)
    })
}

/// JITP or JITR: signs a device certificate with the CA (its files on disk), connects (the
/// first connection is closed as AWS closes it), activates the certificate for JITR (and
/// attaches `policy`), and connects again. Writes the device's files into `out`.
pub fn just_in_time(
    api: &Client,
    name: &str,
    (ca_cert, ca_key): (&Path, &Path),
    provision: bool,
    policy: Option<&str>,
    out: &Path,
) -> Result<()> {
    let ca_pem = pki::read_file(ca_cert)?;
    let ca = pki::CertificateAuthority::from_parts(
        pki::load_certificate(&ca_pem, &ca_cert.display().to_string())?.certificate,
        pki::load_private_key(&pki::read_file(ca_key)?, &ca_key.display().to_string())?.key,
    )?;
    let key = pki::generate_key(pki::KeyAlgorithm::EcP256)?;
    let certificate = ca.issue_client(name, &key, pki::Validity::days_from_now(365))?;
    let id = pki::CertificateId::of(&certificate)?.as_str().to_owned();
    let cert_pem = pki::certificate_pem(&certificate)?;
    let key_pem = pki::private_key_pem(&key, pki::traditional_format(&key))?;
    let (host, port, root_ca) = broker(api)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let files = server::DeviceFiles::in_dir(out);
    pki::write_public_file(&files.certificate, &cert_pem)?;
    pki::write_private_key(&files.private_key, &key_pem)?;
    pki::write_public_file(&files.root_ca, &root_ca)?;
    step(&format!(
        "signed certificate {id} (CN={name}) with CA {}",
        ca_cert.display()
    ));
    let opts = options(&host, port, &root_ca, &cert_pem, &key_pem, name)?;
    let rt = runtime()?;
    match rt.block_on(Mqtt::connect(opts.clone())) {
        Ok(mqtt) => {
            let _ = rt.block_on(mqtt.disconnect());
            bail!("the first connection was accepted: certificate {id} was already registered");
        }
        Err(e) => step(&format!(
            "first connection (SNI {host}) closed, as AWS closes it: {e}"
        )),
    }
    let described = api
        .call(Call::iot("GET", &["certificates", &id]))
        .with_context(|| format!("certificate {id} was not registered: is the CA registered with --allow-auto-registration and ACTIVE?"))?;
    let status = text(at(&described, "certificateDescription"), "status")?;
    step(&format!("certificate {id} is registered, {status}"));
    if !provision {
        api.call(Call::iot("PUT", &["certificates", &id]).query("newStatus", "ACTIVE"))?;
        step("activated it (UpdateCertificate ACTIVE), as a JITR rule would");
        if let Some(policy) = policy {
            let arn = text(at(&described, "certificateDescription"), "certificateArn")?;
            api.call(
                Call::iot("PUT", &["target-policies", policy]).json(json!({ "target": arn })),
            )?;
            step(&format!("attached policy {policy}"));
        }
    }
    let mqtt = rt
        .block_on(Mqtt::connect(opts))
        .context("connecting again")?;
    step(&format!("connected again as {name}"));
    let _ = rt.block_on(mqtt.disconnect());
    step(&format!(
        "wrote {} and {}",
        files.certificate.display(),
        files.private_key.display()
    ));
    Ok(())
}
