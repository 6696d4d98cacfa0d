//! axTLS (ESP8266 NONOS libssl, Arduino core <= 2.4, MicroPython) locally detected errors, as
//! printed after `Error: ` by `ssl_display_error`, and its X.509 verification texts. Received
//! alerts (`SSL error N`) are not here: they are TLS alerts and go through `tls::alert`.

/// One axTLS local error: the printed text, the constant, its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxtlsError {
    /// Text axTLS prints (lowercase match).
    pub text: &'static str,
    /// Constant name and return code.
    pub name: &'static str,
    /// What it means.
    pub meaning: &'static str,
    /// Whether it is about the certificates (vs the protocol).
    pub certificate: bool,
}

const fn e(
    text: &'static str,
    name: &'static str,
    meaning: &'static str,
    certificate: bool,
) -> AxtlsError {
    AxtlsError {
        text,
        name,
        meaning,
        certificate,
    }
}

const ERRORS: &[AxtlsError] = &[
    e(
        "connection dead",
        "SSL_ERROR_DEAD (-2)",
        "the connection was already dead",
        false,
    ),
    e(
        "invalid handshake",
        "SSL_ERROR_INVALID_HANDSHAKE (-260)",
        "the server's handshake message could not be processed",
        false,
    ),
    e(
        "invalid protocol message",
        "SSL_ERROR_INVALID_PROT_MSG (-261)",
        "malformed protocol message from the server",
        false,
    ),
    e(
        "invalid mac",
        "SSL_ERROR_INVALID_HMAC (-262)",
        "a record failed its MAC check",
        false,
    ),
    e(
        "invalid version",
        "SSL_ERROR_INVALID_VERSION (-263)",
        "the server answered with a protocol version this axTLS cannot speak (NONOS libssl stops at TLS 1.1)",
        false,
    ),
    e(
        "invalid session",
        "SSL_ERROR_INVALID_SESSION (-265)",
        "session resumption failed",
        false,
    ),
    e(
        "no cipher",
        "SSL_ERROR_NO_CIPHER (-266)",
        "the server chose a suite axTLS does not support, or no common suite exists",
        false,
    ),
    e(
        "bad certificate",
        "SSL_ERROR_BAD_CERTIFICATE (-268)",
        "a certificate could not be processed",
        true,
    ),
    e(
        "invalid key",
        "SSL_ERROR_INVALID_KEY (-269)",
        "the private key could not be used (wrong record, PKCS#8 instead of PKCS#1, or too large)",
        true,
    ),
    e(
        "finished invalid",
        "SSL_ERROR_FINISHED_INVALID (-271)",
        "the Finished message did not verify",
        false,
    ),
    e(
        "no certificate defined",
        "SSL_ERROR_NO_CERT_DEFINED (-272)",
        "the server asked for a client certificate and none is loaded",
        true,
    ),
    e(
        "no trusted cert is available",
        "X509_VFY_ERROR_NO_TRUSTED_CERT",
        "the CA on the device does not match the server's chain (wrong root flashed)",
        true,
    ),
    e(
        "certificate is not yet valid",
        "X509_VFY_ERROR_NOT_YET_VALID",
        "the device clock is before the certificate's start: start SNTP and wait for the time before connecting",
        true,
    ),
    e(
        "certificate has expired",
        "X509_VFY_ERROR_EXPIRED",
        "a certificate is expired, or the device clock is wrong",
        true,
    ),
    e(
        "certificate is self-signed",
        "X509_VFY_ERROR_SELF_SIGNED",
        "the server presented a self-signed certificate that is not trusted",
        true,
    ),
    e(
        "verification failed",
        "X509_VFY_ERROR_BAD_SIGNATURE",
        "a certificate signature did not verify against the device's CA",
        true,
    ),
    e(
        "invalid certificate",
        "X509_VFY_ERROR_INVALID_CHAIN",
        "the certificate chain is invalid",
        true,
    ),
    e(
        "unsupported digest",
        "X509_VFY_ERROR_UNSUPPORTED_DIGEST",
        "the certificate uses a digest axTLS cannot verify (e.g. SHA-384/ECDSA)",
        true,
    ),
];

/// Finds the axTLS error whose text `line` contains (case-insensitive).
pub fn find(line: &str) -> Option<&'static AxtlsError> {
    let lower = line.to_ascii_lowercase();
    ERRORS.iter().find(|e| lower.contains(e.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_text() {
        assert_eq!(
            find("Error: no cipher").map(|e| e.name),
            Some("SSL_ERROR_NO_CIPHER (-266)")
        );
        assert!(
            find("Error: Certificate is not yet valid")
                .unwrap()
                .certificate
        );
        assert!(find("all good").is_none());
    }
}
