//! A local certificate authority: key generation (RSA-2048, EC P-256), a self-signed root,
//! server certificates (DNS/IP SANs, serverAuth), device certificates (clientAuth), CSR
//! creation and signing. Serials are random, signatures SHA-256. It keeps no state on disk and
//! does not revoke; storing the CA is the caller's job.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Name, X509NameRef, X509Ref, X509Req, X509ReqRef};

use crate::error::{PkiError, Result, crypto};
use crate::summary::{key_matches_certificate, summarize};

/// Key algorithms the local CA generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA with a 2048-bit modulus: what AWS IoT issues and every device stack accepts.
    Rsa2048,
    /// ECDSA on NIST P-256: smaller and faster, but not usable by ESP8266 NONOS or axTLS.
    EcP256,
}

/// Generates a fresh private key.
pub fn generate_key(algorithm: KeyAlgorithm) -> Result<PKey<Private>> {
    match algorithm {
        KeyAlgorithm::Rsa2048 => Rsa::generate(2048)
            .and_then(PKey::from_rsa)
            .map_err(crypto("generating an RSA-2048 key")),
        KeyAlgorithm::EcP256 => EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)
            .and_then(|group| EcKey::generate(&group))
            .and_then(PKey::from_ec_key)
            .map_err(crypto("generating an EC P-256 key")),
    }
}

/// A certificate validity window in seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: i64,
    pub not_after: i64,
}

impl Validity {
    /// Valid from one hour before `now` (to tolerate device clock skew) for `days` days.
    pub fn days_from(now: i64, days: u32) -> Self {
        Self {
            not_before: now.saturating_sub(3600),
            not_after: now.saturating_add(i64::from(days).saturating_mul(86_400)),
        }
    }

    /// Valid from an hour ago for `days` days, reading the system clock.
    pub fn days_from_now(days: u32) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self::days_from(now, days)
    }
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafProfile {
    /// A TLS server (the broker): serverAuth, with these names as SANs.
    Server {
        dns_names: Vec<String>,
        ip_addresses: Vec<IpAddr>,
    },
    /// A device or other TLS client: clientAuth.
    Client,
}

/// A CA certificate with its private key, able to issue certificates.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    certificate: X509,
    key: PKey<Private>,
}

impl CertificateAuthority {
    /// Generates a self-signed root CA named `CN=common_name`.
    pub fn generate(
        common_name: &str,
        algorithm: KeyAlgorithm,
        validity: Validity,
    ) -> Result<Self> {
        let key = generate_key(algorithm)?;
        let name = common_name_only(common_name)?;
        let mut builder = base_builder(&name, &name, &key, validity)?;
        let ext = || crypto("adding extensions to the CA certificate");
        builder
            .append_extension(
                BasicConstraints::new()
                    .critical()
                    .ca()
                    .build()
                    .map_err(ext())?,
            )
            .map_err(ext())?;
        builder
            .append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .digital_signature()
                    .build()
                    .map_err(ext())?,
            )
            .map_err(ext())?;
        let ski = SubjectKeyIdentifier::new()
            .build(&builder.x509v3_context(None, None))
            .map_err(ext())?;
        builder.append_extension(ski).map_err(ext())?;
        builder
            .sign(&key, MessageDigest::sha256())
            .map_err(crypto("self-signing the CA certificate"))?;
        Ok(Self {
            certificate: builder.build(),
            key,
        })
    }

    /// Wraps an existing CA certificate and key, checking that they belong together and that
    /// the certificate is marked as a CA.
    pub fn from_parts(certificate: X509, key: PKey<Private>) -> Result<Self> {
        if !key_matches_certificate(&key, &certificate) {
            return Err(PkiError::Unsupported(
                "the CA private key does not match the CA certificate; pass the key that was generated with it".to_owned(),
            ));
        }
        if !summarize(&certificate)?.is_ca {
            return Err(PkiError::Unsupported(
                "the CA certificate is not marked as a CA (basicConstraints CA:TRUE); it cannot issue certificates".to_owned(),
            ));
        }
        Ok(Self { certificate, key })
    }

    /// The CA's own certificate.
    pub fn certificate(&self) -> &X509Ref {
        &self.certificate
    }

    /// The CA's private key.
    pub fn key(&self) -> &PKeyRef<Private> {
        &self.key
    }

    /// Issues a certificate for a TLS server known by these DNS names and IP addresses. The
    /// first DNS name (or IP) becomes the subject CN.
    pub fn issue_server<T: HasPublic>(
        &self,
        public_key: &PKeyRef<T>,
        dns_names: &[String],
        ip_addresses: &[IpAddr],
        validity: Validity,
    ) -> Result<X509> {
        let cn = dns_names
            .first()
            .cloned()
            .or_else(|| ip_addresses.first().map(IpAddr::to_string))
            .ok_or_else(|| {
                PkiError::Unsupported(
                    "a server certificate needs at least one DNS name or IP address".to_owned(),
                )
            })?;
        let subject = common_name_only(&cn)?;
        let profile = LeafProfile::Server {
            dns_names: dns_names.to_vec(),
            ip_addresses: ip_addresses.to_vec(),
        };
        self.issue(&subject, public_key, &profile, validity)
    }

    /// Issues a device (TLS client) certificate with subject `CN=common_name`.
    pub fn issue_client<T: HasPublic>(
        &self,
        common_name: &str,
        public_key: &PKeyRef<T>,
        validity: Validity,
    ) -> Result<X509> {
        let subject = common_name_only(common_name)?;
        self.issue(&subject, public_key, &LeafProfile::Client, validity)
    }

    /// Signs a CSR after checking its self-signature, keeping its subject and public key.
    pub fn sign_csr(
        &self,
        csr: &X509ReqRef,
        profile: &LeafProfile,
        validity: Validity,
    ) -> Result<X509> {
        let public_key = csr.public_key().map_err(crypto(
            "reading the public key of the certificate signing request",
        ))?;
        let signed_by_holder = csr.verify(&public_key).map_err(crypto(
            "checking the signature of the certificate signing request",
        ))?;
        if !signed_by_holder {
            return Err(PkiError::Unsupported(
                "the certificate signing request's signature does not verify with its own public key; create the CSR again".to_owned(),
            ));
        }
        self.issue(csr.subject_name(), &public_key, profile, validity)
    }

    fn issue<T: HasPublic>(
        &self,
        subject: &X509NameRef,
        public_key: &PKeyRef<T>,
        profile: &LeafProfile,
        validity: Validity,
    ) -> Result<X509> {
        let mut builder = base_builder(
            subject,
            self.certificate.subject_name(),
            public_key,
            validity,
        )?;
        let ext = || crypto("adding extensions to an issued certificate");
        builder
            .append_extension(BasicConstraints::new().critical().build().map_err(ext())?)
            .map_err(ext())?;
        let mut usage = KeyUsage::new();
        usage.critical().digital_signature();
        if public_key.id() == Id::RSA {
            // Static-RSA suites (AES128-SHA etc., used by ESP8266 stacks) encrypt the
            // pre-master secret to the server's key, which needs keyEncipherment.
            usage.key_encipherment();
        }
        builder
            .append_extension(usage.build().map_err(ext())?)
            .map_err(ext())?;
        let mut eku = ExtendedKeyUsage::new();
        match profile {
            LeafProfile::Server { .. } => eku.server_auth(),
            LeafProfile::Client => eku.client_auth(),
        };
        builder
            .append_extension(eku.build().map_err(ext())?)
            .map_err(ext())?;
        if let LeafProfile::Server {
            dns_names,
            ip_addresses,
        } = profile
        {
            let mut san = SubjectAlternativeName::new();
            for dns in dns_names {
                san.dns(dns);
            }
            for ip in ip_addresses {
                san.ip(&ip.to_string());
            }
            let san = san
                .build(&builder.x509v3_context(Some(&self.certificate), None))
                .map_err(crypto(
                    "adding subject alternative names (check the DNS names and IP addresses)",
                ))?;
            builder.append_extension(san).map_err(ext())?;
        }
        let ski = SubjectKeyIdentifier::new()
            .build(&builder.x509v3_context(Some(&self.certificate), None))
            .map_err(ext())?;
        builder.append_extension(ski).map_err(ext())?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .build(&builder.x509v3_context(Some(&self.certificate), None))
            .map_err(ext())?;
        builder.append_extension(aki).map_err(ext())?;
        builder
            .sign(&self.key, MessageDigest::sha256())
            .map_err(crypto("signing an issued certificate with the CA key"))?;
        Ok(builder.build())
    }
}

/// Creates a CSR for `CN=common_name`, signed with `key` (SHA-256).
pub fn create_csr(key: &PKeyRef<Private>, common_name: &str) -> Result<X509Req> {
    let name = common_name_only(common_name)?;
    let mut builder =
        X509Req::builder().map_err(crypto("starting a certificate signing request"))?;
    builder
        .set_subject_name(&name)
        .and_then(|()| builder.set_pubkey(key))
        .and_then(|()| builder.sign(key, MessageDigest::sha256()))
        .map_err(crypto("building the certificate signing request"))?;
    Ok(builder.build())
}

fn common_name_only(common_name: &str) -> Result<X509Name> {
    if common_name.is_empty() || common_name.len() > 64 {
        return Err(PkiError::Unsupported(format!(
            "common name '{common_name}' must be 1 to 64 characters long (X.509 ub-common-name)"
        )));
    }
    let mut name = X509Name::builder().map_err(crypto("starting a certificate name"))?;
    name.append_entry_by_nid(Nid::COMMONNAME, common_name)
        .map_err(crypto(format!("setting common name '{common_name}'")))?;
    Ok(name.build())
}

fn base_builder<T: HasPublic>(
    subject: &X509NameRef,
    issuer: &X509NameRef,
    public_key: &PKeyRef<T>,
    validity: Validity,
) -> Result<X509Builder> {
    if validity.not_after <= validity.not_before {
        return Err(PkiError::Unsupported(
            "certificate validity must end after it starts".to_owned(),
        ));
    }
    let fail = || crypto("building a certificate");
    let mut builder = X509::builder().map_err(fail())?;
    builder.set_version(2).map_err(fail())?;
    // 159 random bits keep the serial positive and within RFC 5280's 20-octet limit.
    let mut serial = BigNum::new().map_err(fail())?;
    serial
        .rand(159, MsbOption::MAYBE_ZERO, false)
        .map_err(crypto("generating a random serial number"))?;
    let serial = serial.to_asn1_integer().map_err(fail())?;
    builder.set_serial_number(&serial).map_err(fail())?;
    builder.set_subject_name(subject).map_err(fail())?;
    builder.set_issuer_name(issuer).map_err(fail())?;
    builder.set_pubkey(public_key).map_err(fail())?;
    let not_before =
        Asn1Time::from_unix(validity.not_before).map_err(crypto("setting the validity start"))?;
    let not_after =
        Asn1Time::from_unix(validity.not_after).map_err(crypto("setting the validity end"))?;
    builder.set_not_before(&not_before).map_err(fail())?;
    builder.set_not_after(&not_after).map_err(fail())?;
    Ok(builder)
}
