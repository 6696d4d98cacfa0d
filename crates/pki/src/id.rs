//! `CertificateId`: the AWS IoT certificate id, the lowercase hex SHA-256 of a certificate's DER.
//! Built only by hashing a certificate or by parsing exactly 64 lowercase hex characters. It
//! does not look certificates up anywhere.

use std::fmt;
use std::str::FromStr;

use openssl::x509::X509Ref;

use crate::error::{PkiError, Result, crypto};

/// AWS IoT certificate id: 64 lowercase hex characters, the SHA-256 of the certificate DER.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateId(String);

impl CertificateId {
    /// The id of the certificate whose DER encoding is `der`.
    pub fn from_der(der: &[u8]) -> Self {
        let digest = openssl::sha::sha256(der);
        Self(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The id of a parsed certificate.
    pub fn of(cert: &X509Ref) -> Result<Self> {
        let der = cert
            .to_der()
            .map_err(crypto("encoding a certificate as DER"))?;
        Ok(Self::from_der(&der))
    }

    /// The 64-character lowercase hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CertificateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CertificateId {
    type Err = PkiError;

    fn from_str(input: &str) -> Result<Self> {
        let invalid = |reason| PkiError::InvalidCertificateId {
            input: input.to_owned(),
            reason,
        };
        if input.len() != 64 {
            return Err(invalid("it must be exactly 64 hex characters"));
        }
        if input.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid("it must be lowercase hex, as AWS prints it"));
        }
        if !input
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(invalid("it may contain only the characters 0-9 and a-f"));
        }
        Ok(Self(input.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            CertificateId::from_der(b"").as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_accepts_only_64_lowercase_hex() {
        let good = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(good.parse::<CertificateId>().unwrap().as_str(), good);
        let upper = good.to_ascii_uppercase();
        let err = upper.parse::<CertificateId>().unwrap_err().to_string();
        assert!(err.contains("lowercase"), "{err}");
        assert!("abc".parse::<CertificateId>().is_err());
        let bad_char = format!("{}g", &good[..63]);
        let err = bad_char.parse::<CertificateId>().unwrap_err().to_string();
        assert!(err.contains("0-9 and a-f"), "{err}");
        let multibyte = format!("{}é", &good[..62]);
        assert!(multibyte.parse::<CertificateId>().is_err());
    }
}
