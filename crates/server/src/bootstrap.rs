//! First-start and every-start preparation of the data directory: the local root CA, the
//! broker's RSA and ECDSA server certificates (reissued when the requested host names are not
//! all covered or the certificate is near expiry), and the demo device's files ([`prepare`]);
//! then the demo device's registration in the registry ([`register_demo_device`]).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use pki::{
    CertificateAuthority, CertificateId, KeyAlgorithm, KeyFormat, PKey, Private, SubjectAltName,
    Validity, X509,
};

/// Name of the device provisioned on first start.
pub const DEMO_DEVICE: &str = "demo-device";

/// Days the local root CA is valid.
const CA_DAYS: u32 = 3650;
/// Days server and demo-device certificates are valid.
const LEAF_DAYS: u32 = 825;
/// Server certificates this close to expiry are reissued at start-up.
const RENEW_WITHIN_SECS: i64 = 30 * 86_400;

/// Why the data directory could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// Creating a directory failed.
    #[error(
        "cannot create directory {path}: {source}; check permissions or choose another --data-dir"
    )]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A key or certificate operation failed; the message names the file.
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
}

/// Paths of the files a device needs, named as AWS IoT names its downloads.
#[derive(Debug, Clone)]
pub struct DeviceFiles {
    /// Directory holding the files.
    pub dir: PathBuf,
    /// `certificate.pem.crt`.
    pub certificate: PathBuf,
    /// `private.pem.key` (mode 0600).
    pub private_key: PathBuf,
    /// `public.pem.key`.
    pub public_key: PathBuf,
    /// `root-ca.pem`, the CA that signed the broker's server certificates.
    pub root_ca: PathBuf,
}

impl DeviceFiles {
    /// The standard file names inside `dir`.
    pub fn in_dir(dir: &Path) -> DeviceFiles {
        DeviceFiles {
            dir: dir.to_owned(),
            certificate: dir.join("certificate.pem.crt"),
            private_key: dir.join("private.pem.key"),
            public_key: dir.join("public.pem.key"),
            root_ca: dir.join("root-ca.pem"),
        }
    }
}

/// A certificate with its private key.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The certificate.
    pub certificate: X509,
    /// Its private key.
    pub key: PKey<Private>,
}

/// What start-up prepared.
#[derive(Debug)]
pub struct DataDir {
    /// The data directory.
    pub root: PathBuf,
    /// The local root CA.
    pub ca: CertificateAuthority,
    /// `ca/root-ca.pem`.
    pub ca_path: PathBuf,
    /// The RSA-2048 server identity (for RSA-only device stacks).
    pub server_rsa: Identity,
    /// The ECDSA P-256 server identity.
    pub server_ec: Identity,
    /// The demo device's files.
    pub demo_device: DeviceFiles,
    /// The demo device's certificate id.
    pub demo_device_id: CertificateId,
    /// The demo device's certificate PEM, for registration.
    pub demo_device_pem: String,
    /// True when this start created the demo device (first start).
    pub demo_device_created: bool,
}

impl DataDir {
    /// Path of the SQLite database.
    pub fn database_path(&self) -> PathBuf {
        self.root.join("tether.db")
    }
}

/// The policy the demo device gets: everything, for local development only.
const DEV_POLICY: &str = "tether-dev-allow-all";
const DEV_POLICY_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

/// Registers the demo device: its certificate ACTIVE with the development policy attached (on
/// the first start), and the thing `demo-device` with that certificate attached — also in data
/// directories made before things were registered, as long as the certificate is ACTIVE and
/// attached to no thing. `account` owns it; ARNs are in `region`.
pub(crate) fn register_demo_device(
    store: &mut store::Store,
    data: &DataDir,
    region: &str,
    account: &str,
    now_ms: i64,
) -> Result<(), crate::ServerError> {
    let id = data.demo_device_id.as_str();
    let arn = format!("arn:aws:iot:{region}:{account}:cert/{id}");
    let certificate = match store.certificate(id)? {
        Some(certificate) => certificate,
        None => {
            let registered = register_demo_certificate(store, data, account, now_ms)?;
            if store.policy(DEV_POLICY)?.is_none() {
                store.create_policy(DEV_POLICY, DEV_POLICY_DOCUMENT, now_ms)?;
            }
            store.attach_policy(DEV_POLICY, &arn)?;
            registered
        }
    };
    let attached = store.list_principal_things(&arn, &store::PageRequest::first(1))?;
    if certificate.status == store::CertificateStatus::Active
        && attached.items.is_empty()
        && store.thing(DEMO_DEVICE)?.is_none()
    {
        let thing = store::NewThing {
            name: DEMO_DEVICE.to_owned(),
            thing_type: None,
            attributes: Default::default(),
        };
        store.create_thing(&thing, thing_id_seed(id), now_ms)?;
        store.attach_thing_principal(DEMO_DEVICE, &arn, false)?;
    }
    Ok(())
}

fn register_demo_certificate(
    store: &mut store::Store,
    data: &DataDir,
    account: &str,
    now_ms: i64,
) -> Result<store::Certificate, crate::ServerError> {
    let cert = pki::load_certificate(data.demo_device_pem.as_bytes(), "demo device certificate")
        .map_err(BootstrapError::from)?;
    let summary = pki::summarize(&cert.certificate).map_err(BootstrapError::from)?;
    Ok(store.register_certificate(
        &store::NewCertificate {
            id: data.demo_device_id.as_str().to_owned(),
            pem: data.demo_device_pem.clone(),
            status: store::CertificateStatus::Active,
            ca_certificate_id: None,
            mode: store::CertificateMode::Default,
            owned_by: account.to_owned(),
            not_before_ms: summary.not_before.saturating_mul(1000),
            not_after_ms: summary.not_after.saturating_mul(1000),
        },
        now_ms,
    )?)
}

/// Id material for the demo thing: derived from its certificate id, so it is stable.
fn thing_id_seed(certificate_id: &str) -> [u8; 16] {
    let digest = openssl::sha::sha256(format!("demo thing/{certificate_id}").as_bytes());
    let mut seed = [0u8; 16];
    seed.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    seed
}

/// Prepares `root` for serving: creates what is missing, keeps what exists, and reissues server
/// certificates that do not cover `hostnames` (plus localhost, 127.0.0.1 and ::1).
pub fn prepare(root: &Path, hostnames: &[String], now: i64) -> Result<DataDir, BootstrapError> {
    for dir in ["ca", "server", "devices"] {
        create_dir(&root.join(dir))?;
    }
    let ca_path = root.join("ca/root-ca.pem");
    let ca_key_path = root.join("ca/root-ca.key");
    let ca = if ca_path.exists() && ca_key_path.exists() {
        let cert = pki::load_certificate(&pki::read_file(&ca_path)?, &display(&ca_path))?;
        let key = pki::load_private_key(&pki::read_file(&ca_key_path)?, &display(&ca_key_path))?;
        CertificateAuthority::from_parts(cert.certificate, key.key)?
    } else {
        let ca = CertificateAuthority::generate(
            "tether local root CA",
            KeyAlgorithm::Rsa2048,
            Validity::days_from(now, CA_DAYS),
        )?;
        pki::write_private_key(
            &ca_key_path,
            &pki::private_key_pem(ca.key(), KeyFormat::Pkcs8)?,
        )?;
        pki::write_public_file(&ca_path, &pki::certificate_pem(ca.certificate())?)?;
        ca
    };

    let (dns, ips) = server_names(hostnames);
    let server_rsa = server_identity(root, "rsa", KeyAlgorithm::Rsa2048, &ca, &dns, &ips, now)?;
    let server_ec = server_identity(root, "ec", KeyAlgorithm::EcP256, &ca, &dns, &ips, now)?;

    let demo_dir = root.join("devices").join(DEMO_DEVICE);
    let demo_device = DeviceFiles::in_dir(&demo_dir);
    let demo_device_created = !demo_device.certificate.exists();
    if demo_device_created {
        create_dir(&demo_dir)?;
        let key = pki::generate_key(KeyAlgorithm::Rsa2048)?;
        let cert = ca.issue_client(DEMO_DEVICE, &key, Validity::days_from(now, LEAF_DAYS))?;
        write_device_files(&demo_device, &cert, &key, ca.certificate())?;
    } else if !demo_device.root_ca.exists() {
        pki::write_public_file(
            &demo_device.root_ca,
            &pki::certificate_pem(ca.certificate())?,
        )?;
    }
    let demo_pem_bytes = pki::read_file(&demo_device.certificate)?;
    let demo_cert = pki::load_certificate(&demo_pem_bytes, &display(&demo_device.certificate))?;
    let demo_device_id = CertificateId::of(&demo_cert.certificate)?;
    let demo_device_pem =
        String::from_utf8_lossy(&pki::certificate_pem(&demo_cert.certificate)?).into_owned();

    Ok(DataDir {
        root: root.to_owned(),
        ca,
        ca_path,
        server_rsa,
        server_ec,
        demo_device,
        demo_device_id,
        demo_device_pem,
        demo_device_created,
    })
}

/// Writes a device's four files: certificate, private key (0600, PKCS#1 for RSA as AWS hands
/// out), public key and the root CA.
pub fn write_device_files(
    files: &DeviceFiles,
    certificate: &X509,
    key: &PKey<Private>,
    root_ca: &pki::X509Ref,
) -> Result<(), BootstrapError> {
    create_dir(&files.dir)?;
    pki::write_public_file(&files.certificate, &pki::certificate_pem(certificate)?)?;
    let format = pki::traditional_format(key);
    pki::write_private_key(&files.private_key, &pki::private_key_pem(key, format)?)?;
    pki::write_public_file(&files.public_key, &pki::public_key_pem(key)?)?;
    pki::write_public_file(&files.root_ca, &pki::certificate_pem(root_ca)?)?;
    Ok(())
}

fn server_names(hostnames: &[String]) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = vec!["localhost".to_owned()];
    let mut ips: Vec<IpAddr> = vec![[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
    for name in hostnames {
        match name.parse::<IpAddr>() {
            Ok(ip) if !ips.contains(&ip) => ips.push(ip),
            Ok(_) => {}
            Err(_) if !dns.contains(name) => dns.push(name.clone()),
            Err(_) => {}
        }
    }
    (dns, ips)
}

fn server_identity(
    root: &Path,
    label: &str,
    algorithm: KeyAlgorithm,
    ca: &CertificateAuthority,
    dns: &[String],
    ips: &[IpAddr],
    now: i64,
) -> Result<Identity, BootstrapError> {
    let cert_path = root.join(format!("server/server-{label}.pem"));
    let key_path = root.join(format!("server/server-{label}.key"));
    if cert_path.exists() && key_path.exists() {
        let cert = pki::load_certificate(&pki::read_file(&cert_path)?, &display(&cert_path))?;
        let key = pki::load_private_key(&pki::read_file(&key_path)?, &display(&key_path))?;
        let summary = pki::summarize(&cert.certificate)?;
        let covers = dns.iter().all(|d| {
            summary
                .subject_alt_names
                .contains(&SubjectAltName::Dns(d.clone()))
        }) && ips
            .iter()
            .all(|ip| summary.subject_alt_names.contains(&SubjectAltName::Ip(*ip)));
        let fresh = summary.not_after - now > RENEW_WITHIN_SECS;
        let signed_by_ca =
            pki::verify_chain(&cert.certificate, &[], &[ca.certificate().to_owned()]).is_ok();
        if covers
            && fresh
            && signed_by_ca
            && pki::key_matches_certificate(&key.key, &cert.certificate)
        {
            return Ok(Identity {
                certificate: cert.certificate,
                key: key.key,
            });
        }
    }
    let key = pki::generate_key(algorithm)?;
    let certificate = ca.issue_server(&key, dns, ips, Validity::days_from(now, LEAF_DAYS))?;
    pki::write_private_key(&key_path, &pki::private_key_pem(&key, KeyFormat::Pkcs8)?)?;
    pki::write_public_file(&cert_path, &pki::certificate_pem(&certificate)?)?;
    Ok(Identity { certificate, key })
}

fn create_dir(path: &Path) -> Result<(), BootstrapError> {
    std::fs::create_dir_all(path).map_err(|source| BootstrapError::CreateDir {
        path: path.to_owned(),
        source,
    })
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Chain verification reads the system clock, so the tests issue certificates valid now.
    fn now() -> i64 {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        i64::try_from(since_epoch.unwrap().as_secs()).unwrap()
    }

    #[test]
    fn first_start_creates_everything_and_second_start_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = prepare(dir.path(), &[], now()).unwrap();
        assert!(first.demo_device_created);
        for path in [
            &first.ca_path,
            &first.demo_device.certificate,
            &first.demo_device.private_key,
            &first.demo_device.public_key,
            &first.demo_device.root_ca,
        ] {
            assert!(path.exists(), "{} missing", path.display());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for key in [
                dir.path().join("ca/root-ca.key"),
                first.demo_device.private_key.clone(),
            ] {
                let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", key.display());
            }
        }
        let second = prepare(dir.path(), &[], now()).unwrap();
        assert!(!second.demo_device_created);
        assert_eq!(first.demo_device_id, second.demo_device_id);
        assert_eq!(
            first.server_rsa.certificate.to_der().unwrap(),
            second.server_rsa.certificate.to_der().unwrap()
        );
    }

    #[test]
    fn a_new_hostname_reissues_the_server_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let first = prepare(dir.path(), &[], now()).unwrap();
        let second = prepare(
            dir.path(),
            &["broker.lan".to_owned(), "10.0.0.7".to_owned()],
            now(),
        )
        .unwrap();
        assert_ne!(
            first.server_ec.certificate.to_der().unwrap(),
            second.server_ec.certificate.to_der().unwrap()
        );
        let sans = pki::summarize(&second.server_ec.certificate)
            .unwrap()
            .subject_alt_names;
        assert!(sans.contains(&SubjectAltName::Dns("broker.lan".into())));
        assert!(sans.contains(&SubjectAltName::Ip("10.0.0.7".parse().unwrap())));
        assert!(sans.contains(&SubjectAltName::Dns("localhost".into())));
    }

    #[test]
    fn device_certificates_chain_to_the_local_ca() {
        let dir = tempfile::tempdir().unwrap();
        let data = prepare(dir.path(), &[], now()).unwrap();
        let cert = pki::load_certificate(
            &std::fs::read(&data.demo_device.certificate).unwrap(),
            "demo",
        )
        .unwrap();
        pki::verify_chain(&cert.certificate, &[], &[data.ca.certificate().to_owned()]).unwrap();
    }
}
