//! `tether device create|list|show|attach-policy|revoke|delete`: provisioning through the
//! AWS-compatible HTTP API of a running `tether serve`, with the same SigV4-signed calls a
//! user's AWS CLI or boto3 script makes (CreateThing, CreateKeysAndCertificate or
//! CreateCertificateFromCsr, AttachThingPrincipal, AttachPolicy, …). `create` writes the
//! device's four files and prints commands that connect with them, and says when the thing
//! already existed. It never touches the database directly; its calls go through `api_client`
//! (plain HTTP to a local tether, not a general AWS client).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::api_client::{ApiArgs, Call, Client, Endpoint, is_aws_error};

/// Provision and manage devices through the AWS-compatible API of a running `tether serve`.
#[derive(Debug, Args)]
pub struct DeviceArgs {
    #[command(subcommand)]
    command: DeviceCommand,
    #[command(flatten)]
    api: ApiArgs,
    /// Data directory of tether serve (for the default --out). Default: as tether serve.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Create a thing with an ACTIVE certificate and write the files the device needs.
    Create {
        /// Thing name (also the client id to connect with).
        name: String,
        /// Key of the device: RSA-2048 (issued by CreateKeysAndCertificate, works on every
        /// device stack) or EC P-256 (generated here, certificate from a CSR).
        #[arg(long, value_enum, default_value = "rsa2048")]
        key_type: KeyType,
        /// Attach this policy to the certificate (e.g. tether-dev-allow-all).
        #[arg(long, value_name = "NAME")]
        policy: Option<String>,
        /// Give the thing this thing type (it must exist and not be deprecated).
        #[arg(long = "type", value_name = "TYPE")]
        thing_type: Option<String>,
        /// Add the thing to this static thing group (repeatable); the group's policies then
        /// apply when the device connects with the thing's name as client id.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// Directory for the files [default: DATA_DIR/devices/NAME].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// How the device gets its certificate: through the API (CreateThing and friends), by
        /// claim (a CreateProvisioningClaim certificate, then fleet provisioning over MQTT with
        /// --template), or just in time on its first connection with a certificate signed by
        /// a registered CA (--ca-cert, --ca-key): jitp (the CA's template provisions it) or
        /// jitr (registered PENDING_ACTIVATION, then activated here, as a rule would).
        #[arg(long, value_enum, default_value = "api")]
        via: Via,
        /// The fleet provisioning template (--via claim).
        #[arg(long, value_name = "NAME", required_if_eq("via", "claim"))]
        template: Option<String>,
        /// A RegisterThing parameter (--via claim; repeatable); ThingName=NAME is added unless
        /// given.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// The registered CA's certificate (--via jitp|jitr).
        #[arg(long, value_name = "FILE", required_if_eq_any([("via", "jitp"), ("via", "jitr")]))]
        ca_cert: Option<PathBuf>,
        /// The registered CA's private key (--via jitp|jitr).
        #[arg(long, value_name = "FILE", required_if_eq_any([("via", "jitp"), ("via", "jitr")]))]
        ca_key: Option<PathBuf>,
    },
    /// List things with their certificates.
    List,
    /// Show a thing, its certificates and their policies.
    Show {
        /// Thing name.
        name: String,
    },
    /// Attach a policy to every certificate of a thing (AttachPolicy).
    AttachPolicy {
        /// Thing name.
        name: String,
        /// The policy (e.g. tether-dev-allow-all).
        #[arg(long, value_name = "NAME")]
        policy: String,
    },
    /// Set every certificate of a thing to REVOKED (live connections are closed).
    Revoke {
        /// Thing name.
        name: String,
    },
    /// Detach and delete a thing's certificates, then the thing (files on disk stay).
    Delete {
        /// Thing name.
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Via {
    Api,
    Claim,
    Jitp,
    Jitr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KeyType {
    Rsa2048,
    EcP256,
}

pub fn run(args: DeviceArgs) -> Result<ExitCode> {
    let endpoint = args.api.endpoint();
    let client = args.api.client()?;
    match args.command {
        DeviceCommand::Create {
            ref name,
            key_type,
            ref policy,
            ref thing_type,
            ref groups,
            ref out,
            via,
            ref template,
            ref params,
            ref ca_cert,
            ref ca_key,
        } => {
            let out = match out {
                Some(dir) => dir.clone(),
                None => data_dir(args.data_dir.as_deref())?
                    .join("devices")
                    .join(name),
            };
            match (via, template, ca_cert, ca_key) {
                (Via::Api, ..) => {}
                (Via::Claim, Some(template), ..) => {
                    let mut params = crate::provision::parse_params(params)?;
                    params
                        .entry("ThingName")
                        .or_insert_with(|| Value::String(name.clone()));
                    let claim = crate::provision::claim(&client, template, &out.join("claim"))?;
                    let csr = key_type == KeyType::EcP256;
                    let thing = crate::provision::by_claim(
                        &client,
                        template,
                        (&claim.0, &claim.1),
                        &params,
                        name,
                        csr,
                        &out,
                    )?;
                    println!(
                        "Provisioned thing {thing} by claim; its files are in {}",
                        out.display()
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                (Via::Jitp | Via::Jitr, _, Some(cert), Some(key)) => {
                    crate::provision::just_in_time(
                        &client,
                        name,
                        (cert, key),
                        via == Via::Jitp,
                        policy.as_deref(),
                        &out,
                    )?;
                    println!("Device {name} connects; its files are in {}", out.display());
                    return Ok(ExitCode::SUCCESS);
                }
                _ => bail!(
                    "--via claim needs --template; --via jitp|jitr need --ca-cert and --ca-key"
                ),
            }
            let request = CreateRequest {
                name,
                key_type,
                registry: Registry {
                    policy: policy.as_deref(),
                    thing_type: thing_type.as_deref(),
                    groups,
                },
                out: &out,
                endpoint: &endpoint,
            };
            create(&client, &request, args.json)
        }
        DeviceCommand::AttachPolicy {
            ref name,
            ref policy,
        } => attach_policy(&client, name, policy, args.json),
        DeviceCommand::List => list(&client, args.json),
        DeviceCommand::Show { ref name } => show(&client, name, args.json),
        DeviceCommand::Revoke { ref name } => revoke(&client, name, args.json),
        DeviceCommand::Delete { ref name } => delete(&client, name, args.json),
    }
}

/// What `create` puts the new device in: a policy on its certificate, a thing type, groups.
struct Registry<'a> {
    policy: Option<&'a str>,
    thing_type: Option<&'a str>,
    groups: &'a [String],
}

struct CreateRequest<'a> {
    name: &'a str,
    key_type: KeyType,
    registry: Registry<'a>,
    out: &'a Path,
    endpoint: &'a Endpoint,
}

fn create(client: &Client, request: &CreateRequest<'_>, json_out: bool) -> Result<ExitCode> {
    let files = server::DeviceFiles::in_dir(request.out);
    let existed = check_create(client, request, &files)?;
    let body = match request.registry.thing_type {
        Some(thing_type) => json!({ "thingTypeName": thing_type }),
        None => json!({}),
    };
    let name = request.name;
    let thing = client
        .call(Call::iot("POST", &["things", name]).json(body))
        .with_context(|| format!("cannot create thing {name}"))?;
    let issued = issue_certificate(client, name, request.key_type)?;
    let certificate_arn = text(&issued.certificate, "certificateArn")?;
    register(client, request, &certificate_arn)?;
    let root_ca = client.raw_get("/_tether/root-ca.pem")?;
    let (host, port) = client.endpoint()?;

    let out = request.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    pki::write_public_file(
        &files.certificate,
        text(&issued.certificate, "certificatePem")?.as_bytes(),
    )?;
    pki::write_private_key(&files.private_key, &issued.private_pem)?;
    pki::write_public_file(&files.public_key, &issued.public_pem)?;
    pki::write_public_file(&files.root_ca, &root_ca)?;

    let created = Created {
        existed,
        thing_arn: at(&thing, "thingArn").clone(),
        certificate_id: text(&issued.certificate, "certificateId")?,
        certificate_arn,
        files,
        host,
        port,
    };
    if json_out {
        print_created_json(request, &created)?;
    } else {
        print_created(request, &created);
    }
    Ok(ExitCode::SUCCESS)
}

/// What `create` made, for its report.
struct Created {
    existed: bool,
    thing_arn: Value,
    certificate_id: String,
    certificate_arn: String,
    files: server::DeviceFiles,
    host: String,
    port: u16,
}

/// A new certificate as CreateKeysAndCertificate or CreateCertificateFromCsr answered it, with
/// the key pair in PEM.
struct Issued {
    certificate: Value,
    private_pem: Vec<u8>,
    public_pem: Vec<u8>,
}

/// Refuses before anything is created: files already in `--out`, a missing policy or group (a
/// missing or deprecated type refuses CreateThing itself). Answers whether the thing exists,
/// since AWS's CreateThing answers an existing thing like a new one.
fn check_create(
    client: &Client,
    request: &CreateRequest<'_>,
    files: &server::DeviceFiles,
) -> Result<bool> {
    let CreateRequest {
        name,
        ref registry,
        out,
        endpoint,
        ..
    } = *request;
    let existed = match client.call(Call::iot("GET", &["things", name])) {
        Ok(_) => true,
        Err(e) if is_aws_error(&e, "ResourceNotFoundException") => false,
        Err(e) => return Err(e),
    };
    if files.certificate.exists() || files.private_key.exists() {
        let attach = format!(
            "tether device {}attach-policy {name} --policy tether-dev-allow-all",
            endpoint.flag()
        );
        if existed {
            bail!(
                "thing {name} already exists and {} already holds its certificate and key, so \
                 nothing was created. To let it connect, attach a policy to its certificate: \
                 `{attach}` (tether device show {name} lists its certificates and policies). \
                 To give it new credentials instead, delete those files or choose another \
                 --out DIR",
                out.display()
            );
        }
        bail!(
            "{} already holds a device's certificate or key; delete those files or choose \
             another --out DIR",
            out.display()
        );
    }
    if let Some(policy) = registry.policy {
        client
            .call(Call::iot("GET", &["policies", policy]))
            .with_context(|| {
                format!(
                    "policy {policy} is not usable; create it first (aws iot create-policy) or \
                     use tether-dev-allow-all for development"
                )
            })?;
    }
    for group in registry.groups {
        client
            .call(Call::iot("GET", &["thing-groups", group]))
            .with_context(|| {
                format!("thing group {group} is not usable; create it first (aws iot create-thing-group)")
            })?;
    }
    Ok(existed)
}

/// An RSA-2048 key made by the server (CreateKeysAndCertificate, as the AWS console does) or a
/// P-256 key made here with its certificate from a CSR (the key never leaves this machine).
fn issue_certificate(client: &Client, name: &str, key_type: KeyType) -> Result<Issued> {
    match key_type {
        KeyType::Rsa2048 => {
            let certificate = client
                .call(Call::iot("POST", &["keys-and-certificate"]).query("setAsActive", "true"))?;
            let pair = &at(&certificate, "keyPair");
            let private_pem = text(pair, "PrivateKey")?.into_bytes();
            let public_pem = text(pair, "PublicKey")?.into_bytes();
            Ok(Issued {
                certificate,
                private_pem,
                public_pem,
            })
        }
        KeyType::EcP256 => {
            let key = pki::generate_key(pki::KeyAlgorithm::EcP256)?;
            let csr = pki::create_csr(&key, name)?;
            let csr_pem = String::from_utf8(csr.to_pem().context("encoding the CSR")?)?;
            let certificate = client.call(
                Call::iot("POST", &["certificates"])
                    .query("setAsActive", "true")
                    .json(json!({ "certificateSigningRequest": csr_pem })),
            )?;
            Ok(Issued {
                certificate,
                private_pem: pki::private_key_pem(&key, pki::traditional_format(&key))?,
                public_pem: pki::public_key_pem(&key)?,
            })
        }
    }
}

/// Attaches the certificate to the thing, the policy to the certificate, the thing to its groups.
fn register(client: &Client, request: &CreateRequest<'_>, certificate_arn: &str) -> Result<()> {
    let name = request.name;
    client.call(
        Call::iot("PUT", &["things", name, "principals"])
            .header("x-amzn-principal", certificate_arn),
    )?;
    if let Some(policy) = request.registry.policy {
        client.call(
            Call::iot("PUT", &["target-policies", policy])
                .json(json!({ "target": certificate_arn })),
        )?;
    }
    for group in request.registry.groups {
        client.call(
            Call::iot("PUT", &["thing-groups", "addThingToThingGroup"])
                .json(json!({ "thingGroupName": group, "thingName": name })),
        )?;
    }
    Ok(())
}

/// The commands that connect as the new device: mosquitto_pub's and tether pub's.
fn connect_commands(name: &str, created: &Created) -> (String, String) {
    let Created {
        files, host, port, ..
    } = created;
    let topic = format!("devices/{name}/hello");
    let connection = format!(
        "--cafile {} --cert {} --key {} -h {host} -p {port}",
        quote(&files.root_ca),
        quote(&files.certificate),
        quote(&files.private_key)
    );
    (
        format!("mosquitto_pub {connection} -q 1 -d -t {topic} -i {name} -m \"hello world\""),
        format!("tether pub {connection} -q 1 -t {topic} -i {name} -m \"hello world\""),
    )
}

fn print_created_json(request: &CreateRequest<'_>, created: &Created) -> Result<()> {
    let name = request.name;
    let (mosquitto, tether_pub) = connect_commands(name, created);
    let files = &created.files;
    let out = json!({
        "thingName": name,
        "thingExisted": created.existed,
        "thingArn": created.thing_arn,
        "certificateId": created.certificate_id,
        "certificateArn": created.certificate_arn,
        "policy": request.registry.policy,
        "thingTypeName": request.registry.thing_type,
        "thingGroups": request.registry.groups,
        "files": {
            "certificate": files.certificate,
            "privateKey": files.private_key,
            "publicKey": files.public_key,
            "rootCa": files.root_ca,
        },
        "endpoint": { "host": created.host, "port": created.port },
        "commands": { "mosquitto_pub": mosquitto, "tether_pub": tether_pub },
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn print_created(request: &CreateRequest<'_>, created: &Created) {
    let CreateRequest {
        name,
        ref registry,
        endpoint,
        ..
    } = *request;
    let Created {
        existed,
        ref certificate_id,
        ref certificate_arn,
        ref files,
        ..
    } = *created;
    if existed {
        println!(
            "Thing {name} already existed; created a new ACTIVE certificate {certificate_id} for it"
        );
    } else {
        println!("Created thing {name} with ACTIVE certificate {certificate_id}");
    }
    println!("  certificate  {}", files.certificate.display());
    println!("  private key  {} (mode 0600)", files.private_key.display());
    println!("  public key   {}", files.public_key.display());
    println!("  root CA      {}", files.root_ca.display());
    if let Some(thing_type) = registry.thing_type {
        println!("Thing type: {thing_type}.");
    }
    if !registry.groups.is_empty() {
        println!(
            "Thing groups: {} (their policies apply to client id {name}).",
            registry.groups.join(", ")
        );
    }
    match registry.policy {
        Some(policy) => println!("Policy {policy} is attached to the certificate."),
        None if !registry.groups.is_empty() => println!(
            "No policy is attached to the certificate: the device may do what its thing groups' \
             policies allow."
        ),
        None => println!(
            "No policy is attached: the broker refuses the device until one allows it. Attach \
             one to this certificate, e.g. the development policy:\n  \
             tether device {}attach-policy {name} --policy tether-dev-allow-all\n\
             or with the AWS CLI (any policy you created):\n  \
             aws --endpoint-url {} --region {} iot attach-policy --policy-name \
             tether-dev-allow-all --target {certificate_arn}",
            endpoint.flag(),
            endpoint.url,
            endpoint.region
        ),
    }
    let (mosquitto, tether_pub) = connect_commands(name, created);
    println!();
    println!("Connect and publish with client id {name}:");
    println!("  {mosquitto}");
    println!("  {tether_pub}");
}

fn list(client: &Client, json_out: bool) -> Result<ExitCode> {
    let mut rows = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut call = Call::iot("GET", &["things"]);
        if let Some(t) = &token {
            call = call.query("nextToken", t);
        }
        let page = client.call(call)?;
        for thing in at(&page, "things").as_array().into_iter().flatten() {
            let name = text(thing, "thingName")?;
            let certificates = certificates_of(client, &name)?;
            rows.push(json!({ "thingName": name, "certificates": certificates }));
        }
        token = at(&page, "nextToken").as_str().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!(
            "No things. Create one with: tether device create NAME --policy tether-dev-allow-all"
        );
    }
    for row in &rows {
        let certs: Vec<String> = at(row, "certificates")
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{} {}",
                    short(at(c, "certificateId").as_str().unwrap_or_default()),
                    at(c, "status").as_str().unwrap_or("?")
                )
            })
            .collect();
        let certs = if certs.is_empty() {
            "(no certificate)".to_owned()
        } else {
            certs.join(", ")
        };
        println!(
            "{:<32} {certs}",
            at(row, "thingName").as_str().unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(client: &Client, name: &str, json_out: bool) -> Result<ExitCode> {
    let thing = client.call(Call::iot("GET", &["things", name]))?;
    let certificates = certificates_of(client, name)?;
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "thing": thing, "certificates": certificates }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("thing        {name}");
    println!(
        "arn          {}",
        at(&thing, "thingArn").as_str().unwrap_or_default()
    );
    println!("version      {}", at(&thing, "version"));
    if let Some(attributes) = at(&thing, "attributes").as_object()
        && !attributes.is_empty()
    {
        for (k, v) in attributes {
            println!("attribute    {k}={}", v.as_str().unwrap_or_default());
        }
    }
    if certificates.is_empty() {
        println!("certificate  (none attached)");
    }
    for c in &certificates {
        println!(
            "certificate  {} {}",
            at(c, "certificateId").as_str().unwrap_or_default(),
            at(c, "status").as_str().unwrap_or("?")
        );
        let policies: Vec<&str> = at(c, "policies")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let policies = if policies.is_empty() {
            "(none: the broker refuses this certificate)".to_owned()
        } else {
            policies.join(", ")
        };
        println!("  policies   {policies}");
    }
    Ok(ExitCode::SUCCESS)
}

fn attach_policy(client: &Client, name: &str, policy: &str, json_out: bool) -> Result<ExitCode> {
    client
        .call(Call::iot("GET", &["policies", policy]))
        .with_context(|| {
            format!(
                "policy {policy} is not usable; create it first (aws iot create-policy) or use \
                 tether-dev-allow-all for development"
            )
        })?;
    let certificates = certificates_of(client, name)?;
    if certificates.is_empty() {
        bail!(
            "thing {name} has no certificate to attach {policy} to; create one with tether \
             device create {name} --policy {policy}"
        );
    }
    let mut attached = Vec::new();
    for c in &certificates {
        let arn = text(c, "certificateArn")?;
        client
            .call(Call::iot("PUT", &["target-policies", policy]).json(json!({ "target": arn })))?;
        attached.push(text(c, "certificateId")?);
    }
    if json_out {
        println!(
            "{}",
            json!({ "thingName": name, "policy": policy, "certificates": attached })
        );
    } else {
        for id in &attached {
            println!("Attached policy {policy} to certificate {id} of thing {name}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke(client: &Client, name: &str, json_out: bool) -> Result<ExitCode> {
    let mut revoked = Vec::new();
    for c in certificates_of(client, name)? {
        let id = text(&c, "certificateId")?;
        client.call(Call::iot("PUT", &["certificates", &id]).query("newStatus", "REVOKED"))?;
        revoked.push(id);
    }
    if json_out {
        println!("{}", json!({ "thingName": name, "revoked": revoked }));
    } else if revoked.is_empty() {
        println!("Thing {name} has no certificate to revoke.");
    } else {
        for id in &revoked {
            println!("Revoked certificate {id}; its live connections are closed.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn delete(client: &Client, name: &str, json_out: bool) -> Result<ExitCode> {
    let principals = principals_of(client, name)?;
    let mut deleted = Vec::new();
    for arn in &principals {
        client.call(
            Call::iot("DELETE", &["things", name, "principals"]).header("x-amzn-principal", arn),
        )?;
        let Some(id) = arn.rsplit_once(":cert/").map(|(_, id)| id) else {
            continue;
        };
        let description = client.call(Call::iot("GET", &["certificates", id]))?;
        if at(at(&description, "certificateDescription"), "status") == "ACTIVE" {
            client.call(Call::iot("PUT", &["certificates", id]).query("newStatus", "INACTIVE"))?;
        }
        match client.call(Call::iot("DELETE", &["certificates", id]).query("forceDelete", "true")) {
            Ok(_) => deleted.push(id.to_owned()),
            Err(e) if is_aws_error(&e, "DeleteConflictException") => {
                eprintln!("note: certificate {id} is kept: {e:#}");
            }
            Err(e) => return Err(e),
        }
    }
    client.call(Call::iot("DELETE", &["things", name]))?;
    if json_out {
        println!(
            "{}",
            json!({ "thingName": name, "deletedCertificates": deleted })
        );
    } else {
        println!(
            "Deleted thing {name} and {} certificate(s); files on disk are left as they are.",
            deleted.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn principals_of(client: &Client, name: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut call = Call::iot("GET", &["things", name, "principals"]);
        if let Some(t) = &token {
            call = call.query("nextToken", t);
        }
        let page = client.call(call)?;
        out.extend(
            at(&page, "principals")
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned)),
        );
        token = at(&page, "nextToken").as_str().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The certificates attached to a thing: id, status, validity end and attached policies.
fn certificates_of(client: &Client, name: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for arn in principals_of(client, name)? {
        let Some(id) = arn.rsplit_once(":cert/").map(|(_, id)| id.to_owned()) else {
            continue;
        };
        let description = client.call(Call::iot("GET", &["certificates", &id]))?;
        let description = at(&description, "certificateDescription");
        let policies = client.call(Call::iot("POST", &["attached-policies", &arn]))?;
        let names: Vec<Value> = at(&policies, "policies")
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| at(p, "policyName").clone())
            .collect();
        out.push(json!({
            "certificateId": id,
            "certificateArn": arn,
            "status": at(description, "status"),
            "notAfter": at(at(description, "validity"), "notAfter"),
            "policies": names,
        }));
    }
    Ok(out)
}

/// A member of a JSON object, `Null` when absent (never panics).
fn at<'v>(value: &'v Value, member: &str) -> &'v Value {
    value.get(member).unwrap_or(&Value::Null)
}

fn text(value: &Value, member: &str) -> Result<String> {
    at(value, member)
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the API's answer lacks {member}: {value}"))
}

fn short(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}

/// Quotes a path for a POSIX shell when it needs it.
fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The data directory, found as `tether serve` finds it.
fn data_dir(given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(dir) => Ok(dir.to_owned()),
        None => crate::serve::default_data_dir().map_err(|_| {
            anyhow::anyhow!(
                "no data directory for the device files: pass --out DIR or --data-dir DIR"
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_the_shell_when_needed() {
        assert_eq!(
            quote(Path::new("/data/devices/x/a.pem")),
            "/data/devices/x/a.pem"
        );
        assert_eq!(quote(Path::new("/my dir/a.pem")), "'/my dir/a.pem'");
    }
}
