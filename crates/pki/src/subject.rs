//! The subject fields of a certificate that AWS IoT reads by name (the JITP and fleet
//! provisioning pseudo-parameters `AWS::IoT::Certificate::CommonName`, `Country`, ...), and
//! random bytes for tokens and ids. It does not parse whole distinguished names (summary.rs
//! prints them).

use openssl::nid::Nid;
use openssl::x509::{X509NameRef, X509Ref};

use crate::error::{Result, crypto};

/// The subject fields AWS IoT names, each the first entry of its attribute type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectFields {
    pub common_name: Option<String>,
    pub country: Option<String>,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub distinguished_name_qualifier: Option<String>,
    pub state_name: Option<String>,
    /// The certificate's serial number in decimal.
    pub serial_number: Option<String>,
}

/// The subject fields of `cert`.
pub fn subject_fields(cert: &X509Ref) -> SubjectFields {
    let name = cert.subject_name();
    SubjectFields {
        common_name: entry(name, Nid::COMMONNAME),
        country: entry(name, Nid::COUNTRYNAME),
        organization: entry(name, Nid::ORGANIZATIONNAME),
        organizational_unit: entry(name, Nid::ORGANIZATIONALUNITNAME),
        distinguished_name_qualifier: entry(name, Nid::DNQUALIFIER),
        state_name: entry(name, Nid::STATEORPROVINCENAME),
        serial_number: cert
            .serial_number()
            .to_bn()
            .ok()
            .and_then(|bn| bn.to_dec_str().ok())
            .map(|s| s.to_string()),
    }
}

fn entry(name: &X509NameRef, nid: Nid) -> Option<String> {
    name.entries_by_nid(nid)
        .next()
        .and_then(|e| e.data().to_string().ok())
}

/// `N` bytes from OpenSSL's random generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    openssl::rand::rand_bytes(&mut bytes).map_err(crypto("drawing random bytes"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CertificateAuthority, KeyAlgorithm, Validity, generate_key};

    #[test]
    fn fields_are_read_by_attribute_type() {
        let validity = Validity::days_from(1_700_000_000, 1);
        let ca = CertificateAuthority::generate("ca", KeyAlgorithm::EcP256, validity).unwrap();
        let key = generate_key(KeyAlgorithm::EcP256).unwrap();
        let cert = ca.issue_client("dev-1", &key, validity).unwrap();
        let fields = subject_fields(&cert);
        assert_eq!(fields.common_name.as_deref(), Some("dev-1"));
        assert_eq!(fields.country, None);
        let serial = fields.serial_number.unwrap();
        assert!(serial.bytes().all(|b| b.is_ascii_digit()), "{serial}");
        assert_ne!(random_bytes::<16>().unwrap(), random_bytes::<16>().unwrap());
    }
}
