//! [`Device`]: a thing registered through the test server's API with its own certificate and
//! policy, its four files written as AWS IoT names its downloads, and an MQTT 5 client
//! connected with them. Registration uses only the public API (what a provisioning script
//! does); the files are written here because the API hands out PEM text, not files.

use std::path::Path;
use std::time::Duration;

use client::{Client, ConnectOptions, Identity, MqttStr, Protocol, TlsOptions, Trust};
use serde_json::json;
use server::DeviceFiles;

use crate::api::{self, Call, text};
use crate::{Error, TestServer};

/// A device registered on a [`TestServer`] and connected to it.
///
/// `client` is connected as `thing_name` over MQTT 5 with mutual TLS; use it, or make more
/// connections with [`Device::connect`].
#[derive(Debug)]
pub struct Device {
    /// The thing's name, also the MQTT client id.
    pub thing_name: String,
    /// The thing's ARN.
    pub thing_arn: String,
    /// The certificate's id (the SHA-256 of its DER, as AWS IoT names certificates).
    pub certificate_id: String,
    /// The certificate's ARN: the principal policies and things are attached to.
    pub certificate_arn: String,
    /// The policy attached to the certificate.
    pub policy_name: String,
    /// `certificate.pem.crt`, `private.pem.key` (PKCS#1 RSA, mode 0600), `public.pem.key`
    /// and `root-ca.pem`, in a directory of their own under the server's data directory.
    pub files: DeviceFiles,
    /// An MQTT 5 client connected as this device.
    pub client: Client,
    options: ConnectOptions,
}

impl Device {
    /// The options `client` was connected with (MQTT 5, mutual TLS, client id = thing name).
    pub fn connect_options(&self) -> &ConnectOptions {
        &self.options
    }

    /// Another connection with this device's credentials and client id. AWS IoT allows one
    /// connection per client id, so the server disconnects `client` (MQTT 5 reason 0x8E,
    /// session taken over) when this one connects.
    pub async fn connect(&self) -> Result<Client, Error> {
        Ok(Client::connect(self.options.clone()).await?)
    }
}

/// The default policy of [`TestServer::device`]: connect as its own thing only; publish,
/// receive and subscribe anywhere.
pub(crate) fn default_policy(region: &str, account: &str) -> String {
    let arn = |resource: &str| format!("arn:aws:iot:{region}:{account}:{resource}");
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": arn("client/${iot:Connection.Thing.ThingName}"),
            },
            {
                "Effect": "Allow",
                "Action": ["iot:Publish", "iot:Receive", "iot:RetainPublish"],
                "Resource": arn("topic/*"),
            },
            {
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": arn("topicfilter/*"),
            },
        ],
    })
    .to_string()
}

/// AWS IoT's thing name rule: `[a-zA-Z0-9:_-]+`, at most 128 characters.
fn check_thing_name(name: &str) -> Result<(), Error> {
    let valid = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::ThingName(name.to_owned()))
    }
}

/// Registers `name` with `policy` through the API, writes its files, connects it.
pub(crate) async fn register(
    server: &TestServer,
    name: &str,
    policy: &str,
) -> Result<Device, Error> {
    check_thing_name(name)?;
    let api = server.endpoints().api;
    let signer = server.signer();
    let files = DeviceFiles::in_dir(&server.data_dir().join("test-devices").join(name));
    if files.dir.exists() {
        return Err(Error::File {
            path: files.dir.clone(),
            reason: format!(
                "already holds the files of a device named {name}; each device() call \
                 registers a new thing, so give each its own name"
            ),
        });
    }

    let thing = api::call(
        api,
        signer,
        Call::new(http::Method::POST, &["things", name]).json(&json!({})),
    )
    .await?;
    let thing_arn = text(&thing, "thingArn", "CreateThing")?;
    let keys = api::call(
        api,
        signer,
        Call::new(http::Method::POST, &["keys-and-certificate"]).query("setAsActive", "true"),
    )
    .await?;
    let operation = "CreateKeysAndCertificate";
    let certificate_arn = text(&keys, "certificateArn", operation)?;
    let certificate_id = text(&keys, "certificateId", operation)?;
    let certificate_pem = text(&keys, "certificatePem", operation)?;
    let private_key = text(&keys, "keyPair.PrivateKey", operation)?;
    let public_key = text(&keys, "keyPair.PublicKey", operation)?;

    let policy_name = format!("{name}-policy");
    api::call(
        api,
        signer,
        Call::new(http::Method::POST, &["policies", &policy_name])
            .json(&json!({ "policyDocument": policy })),
    )
    .await?;
    api::call(
        api,
        signer,
        Call::new(http::Method::PUT, &["target-policies", &policy_name])
            .json(&json!({ "target": certificate_arn })),
    )
    .await?;
    api::call(
        api,
        signer,
        Call::new(http::Method::PUT, &["things", name, "principals"])
            .header("x-amzn-principal", &certificate_arn),
    )
    .await?;

    write_files(
        &files,
        &certificate_pem,
        &private_key,
        &public_key,
        server.root_ca(),
    )?;
    let options = connect_options(server, &files, name)?;
    let client = Client::connect(options.clone()).await?;
    Ok(Device {
        thing_name: name.to_owned(),
        thing_arn,
        certificate_id,
        certificate_arn,
        policy_name,
        files,
        client,
        options,
    })
}

fn write_files(
    files: &DeviceFiles,
    certificate: &str,
    private_key: &str,
    public_key: &str,
    root_ca: &Path,
) -> Result<(), Error> {
    let fail = |path: &Path| {
        let path = path.to_owned();
        move |e: pki::PkiError| Error::File {
            path,
            reason: e.to_string(),
        }
    };
    std::fs::create_dir_all(&files.dir).map_err(|e| Error::File {
        path: files.dir.clone(),
        reason: format!("cannot create the directory: {e}"),
    })?;
    pki::write_public_file(&files.certificate, certificate.as_bytes())
        .map_err(fail(&files.certificate))?;
    pki::write_private_key(&files.private_key, private_key.as_bytes())
        .map_err(fail(&files.private_key))?;
    pki::write_public_file(&files.public_key, public_key.as_bytes())
        .map_err(fail(&files.public_key))?;
    let ca = pki::read_file(root_ca).map_err(fail(root_ca))?;
    pki::write_public_file(&files.root_ca, &ca).map_err(fail(&files.root_ca))?;
    Ok(())
}

/// MQTT 5 over mutual TLS to the server's `mqtts` listener with a device's files.
pub(crate) fn connect_options(
    server: &TestServer,
    files: &DeviceFiles,
    client_id: &str,
) -> Result<ConnectOptions, Error> {
    let load = |path: &Path| {
        pki::read_file(path).map_err(|e| Error::File {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    };
    let invalid = |path: &Path| {
        let path = path.to_owned();
        move |e: pki::PkiError| Error::File {
            path,
            reason: e.to_string(),
        }
    };
    let name = files.certificate.display().to_string();
    let certificate = pki::load_certificate(&load(&files.certificate)?, &name)
        .map_err(invalid(&files.certificate))?;
    let name = files.private_key.display().to_string();
    let key = pki::load_private_key(&load(&files.private_key)?, &name)
        .map_err(invalid(&files.private_key))?;
    let client_id = MqttStr::new(client_id).map_err(|e| Error::Http {
        operation: "connect".to_owned(),
        reason: format!("client id {client_id:?} is not an MQTT string: {e}"),
    })?;
    let mut options = ConnectOptions {
        host: server.host().to_owned(),
        port: server.endpoints().mqtts.port(),
        tls: Some(TlsOptions {
            trust: Trust::CaFile(files.root_ca.clone()),
            identity: Some(Identity {
                certificate: certificate.certificate,
                chain: Vec::new(),
                key: key.key,
            }),
            ..TlsOptions::default()
        }),
        connect_timeout: Duration::from_secs(10),
        bind_address: None,
        ..ConnectOptions::default()
    };
    options.mqtt.protocol = Protocol::V5;
    options.mqtt.client_id = client_id;
    options.mqtt.response_timeout = Duration::from_secs(10);
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thing_names_follow_awss_rule() {
        for good in ["sensor-1", "a", "ns:thing_2", &"x".repeat(128)] {
            assert!(check_thing_name(good).is_ok(), "{good}");
        }
        for bad in ["", "with space", "slash/name", "ü", &"x".repeat(129)] {
            let err = check_thing_name(bad).unwrap_err().to_string();
            assert!(err.contains("valid thing name"), "{err}");
        }
    }

    #[test]
    fn the_default_policy_is_a_valid_document_scoped_to_the_thing() {
        let document = default_policy("eu-west-1", "111122223333");
        let parsed: serde_json::Value = serde_json::from_str(&document).unwrap();
        assert_eq!(
            parsed["Statement"][0]["Resource"],
            "arn:aws:iot:eu-west-1:111122223333:client/${iot:Connection.Thing.ThingName}"
        );
    }
}
