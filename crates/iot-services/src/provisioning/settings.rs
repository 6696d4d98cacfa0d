//! Fleet provisioning's settings — the account and region its ARNs name, the CA that issues
//! device and claim certificates, and the lifetimes of ownership tokens and temporary claims —
//! and the certificates it issues with them. Plain data the server fills from its
//! configuration; the CA is the data directory's, as for CreateKeysAndCertificate.

use pki::{CertificateAuthority, KeyAlgorithm, LeafProfile, Validity, X509, X509Ref};
use store::{CertificateMode, CertificateStatus, NewCertificate};

use super::error::ProvisioningError;

/// AWS-issued device certificates expire at 2049-12-31T23:59:59Z.
const AWS_ISSUED_NOT_AFTER: i64 = 2_524_607_999;

/// Subject of certificates made by CreateKeysAndCertificate and CreateProvisioningClaim.
const GENERATED_SUBJECT: &str = "AWS IoT Certificate";

/// Settings of fleet provisioning.
#[derive(Debug, Clone)]
pub struct ProvisioningSettings {
    /// The account id in ARNs and as certificate owner.
    pub account: String,
    /// The region in ARNs.
    pub region: String,
    /// The CA that issues certificates; without it the operations that issue one are refused.
    pub issuer: Option<CertificateAuthority>,
    /// How long a certificate ownership token is valid (AWS: one hour).
    pub token_lifetime_ms: i64,
    /// How long a CreateProvisioningClaim certificate is valid (AWS: five minutes).
    pub claim_lifetime_ms: i64,
}

impl Default for ProvisioningSettings {
    fn default() -> ProvisioningSettings {
        ProvisioningSettings {
            account: "123456789012".to_owned(),
            region: "us-east-1".to_owned(),
            issuer: None,
            token_lifetime_ms: 3_600_000,
            claim_lifetime_ms: 300_000,
        }
    }
}

/// A certificate just issued, with its private key when tether generated it.
#[derive(Debug, Clone)]
pub struct Issued {
    pub certificate: X509,
    pub id: String,
    pub pem: String,
    /// PEM, when tether generated the key pair.
    pub private_key: Option<String>,
    pub public_key: Option<String>,
}

impl ProvisioningSettings {
    fn arn(&self, resource: &str) -> String {
        format!("arn:aws:iot:{}:{}:{resource}", self.region, self.account)
    }

    /// `…:cert/ID`.
    pub fn cert_arn(&self, id: &str) -> String {
        self.arn(&format!("cert/{id}"))
    }

    /// `…:thing/NAME`.
    pub fn thing_arn(&self, name: &str) -> String {
        self.arn(&format!("thing/{name}"))
    }

    /// `…:policy/NAME`.
    pub fn policy_arn(&self, name: &str) -> String {
        self.arn(&format!("policy/{name}"))
    }

    /// `…:provisioningtemplate/NAME`.
    pub fn template_arn(&self, name: &str) -> String {
        self.arn(&format!("provisioningtemplate/{name}"))
    }

    /// `…:topic/TOPIC` and `…:topicfilter/FILTER` prefixes, for the claim policy.
    pub fn topic_arn(&self, kind: &str, topic: &str) -> String {
        self.arn(&format!("{kind}/{topic}"))
    }

    fn issuer(&self) -> Result<&CertificateAuthority, ProvisioningError> {
        self.issuer.as_ref().ok_or_else(|| {
            ProvisioningError::internal(
                "no certificate authority is configured to issue certificates",
            )
        })
    }

    /// A new RSA-2048 key pair and a certificate for it (what AWS issues), valid from an hour
    /// before `now_ms` until `not_after_s` (or AWS's 2049 end of validity).
    pub fn issue_with_key(
        &self,
        now_ms: i64,
        not_after_s: Option<i64>,
    ) -> Result<Issued, ProvisioningError> {
        let key = pki::generate_key(KeyAlgorithm::Rsa2048).map_err(internal)?;
        let certificate = self
            .issuer()?
            .issue_client(GENERATED_SUBJECT, &key, validity(now_ms, not_after_s))
            .map_err(internal)?;
        let private =
            pki::private_key_pem(&key, pki::traditional_format(&key)).map_err(internal)?;
        let public = pki::public_key_pem(&key).map_err(internal)?;
        let mut issued = described(certificate)?;
        issued.private_key = Some(String::from_utf8_lossy(&private).into_owned());
        issued.public_key = Some(String::from_utf8_lossy(&public).into_owned());
        Ok(issued)
    }

    /// A certificate for a CSR (PEM), keeping its subject, as CreateCertificateFromCsr does.
    /// Keys AWS refuses (RSA below 2048 bits, curves other than P-256/384/521) are refused.
    pub fn issue_from_csr(&self, csr_pem: &str, now_ms: i64) -> Result<Issued, ProvisioningError> {
        let csr = pki::load_csr(csr_pem.as_bytes(), "certificateSigningRequest")
            .map_err(|e| ProvisioningError::invalid_request(e.to_string()))?;
        let public_key = csr.request.public_key().map_err(|e| {
            ProvisioningError::invalid_request(format!("the CSR's public key cannot be read: {e}"))
        })?;
        match pki::describe_key(&public_key) {
            pki::KeyDescription::Rsa { bits } if bits >= 2048 => {}
            pki::KeyDescription::Ec { curve }
                if ["P-256", "P-384", "P-521"].contains(&curve.as_str()) => {}
            other => {
                return Err(ProvisioningError::invalid_request(format!(
                    "the CSR's key is not valid: {other} is not accepted; use RSA with at \
                     least 2048 bits or EC P-256, P-384 or P-521"
                )));
            }
        }
        let certificate = self
            .issuer()?
            .sign_csr(&csr.request, &LeafProfile::Client, validity(now_ms, None))
            .map_err(|e| ProvisioningError::invalid_request(e.to_string()))?;
        described(certificate)
    }

    /// What the registry stores for a certificate tether issued.
    pub fn new_certificate(&self, issued: &Issued, status: CertificateStatus) -> NewCertificate {
        let (not_before, not_after) = pki::summarize(&issued.certificate)
            .map(|s| (s.not_before, s.not_after))
            .unwrap_or((0, AWS_ISSUED_NOT_AFTER));
        NewCertificate {
            id: issued.id.clone(),
            pem: issued.pem.clone(),
            status,
            ca_certificate_id: None,
            mode: CertificateMode::Default,
            owned_by: self.account.clone(),
            not_before_ms: not_before.saturating_mul(1000),
            not_after_ms: not_after.saturating_mul(1000),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ProvisioningError {
    tracing::error!("provisioning: issuing a certificate failed: {e}");
    ProvisioningError::internal(format!("issuing a certificate failed: {e}"))
}

fn validity(now_ms: i64, not_after_s: Option<i64>) -> Validity {
    let now = now_ms / 1000;
    Validity {
        not_before: now.saturating_sub(3600),
        not_after: not_after_s
            .unwrap_or_else(|| AWS_ISSUED_NOT_AFTER.max(now.saturating_add(86_400))),
    }
}

fn described(certificate: X509) -> Result<Issued, ProvisioningError> {
    let id = pki::CertificateId::of(&certificate)
        .map_err(internal)?
        .as_str()
        .to_owned();
    let pem = pki::certificate_pem(&certificate).map_err(internal)?;
    Ok(Issued {
        id,
        pem: String::from_utf8_lossy(&pem).into_owned(),
        certificate,
        private_key: None,
        public_key: None,
    })
}

/// The certificate's pseudo-parameter fields.
pub fn certificate_fields(id: &str, certificate: &X509Ref) -> super::CertificateFields {
    let subject = pki::subject_fields(certificate);
    super::CertificateFields {
        id: id.to_owned(),
        common_name: subject.common_name,
        country: subject.country,
        organization: subject.organization,
        organizational_unit: subject.organizational_unit,
        distinguished_name_qualifier: subject.distinguished_name_qualifier,
        state_name: subject.state_name,
        serial_number: subject.serial_number,
    }
}
