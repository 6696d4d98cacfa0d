//! mbedTLS error codes (the 2.x numbering used by ESP8266 NONOS espconn, ESP8266 RTOS SDK and
//! ESP-IDF 4) with names, meanings and the usual device-side fix, and the split of combined
//! codes (high-level + low-level, e.g. X509 + ASN.1). It does not cover every module; codes it
//! does not know are reported as unknown rather than guessed. mbedTLS 3.x renumbered some SSL
//! codes; where a 3.x meaning differs it is said in the entry.

/// One mbedTLS error code (stored positive: `0x7200` means `-0x7200`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MbedtlsCode {
    /// The positive magnitude of the code.
    pub code: u16,
    /// The constant name without the `MBEDTLS_ERR_` prefix.
    pub name: &'static str,
    /// What it means on a device.
    pub meaning: &'static str,
}

const fn c(code: u16, name: &'static str, meaning: &'static str) -> MbedtlsCode {
    MbedtlsCode {
        code,
        name,
        meaning,
    }
}

/// High-level codes (SSL, X509, PK, PEM, RSA), bits 7–14.
const HIGH: &[MbedtlsCode] = &[
    c(
        0x7080,
        "SSL_FEATURE_UNAVAILABLE",
        "the peer asked for a feature compiled out of this mbedTLS build",
    ),
    c(
        0x7100,
        "SSL_BAD_INPUT_DATA",
        "bad configuration passed to the TLS layer (e.g. missing certificate or key)",
    ),
    c(
        0x7180,
        "SSL_INVALID_MAC",
        "a record failed its MAC check: corrupted traffic or wrong keys",
    ),
    c(
        0x7200,
        "SSL_INVALID_RECORD",
        "an invalid record arrived — on devices almost always a receive buffer smaller than the server's record (the server's Certificate flight is several KB and AWS sends full 16 KB records)",
    ),
    c(
        0x7280,
        "SSL_CONN_EOF",
        "the server closed the connection without an alert during the handshake",
    ),
    c(
        0x7300,
        "SSL_UNKNOWN_CIPHER",
        "the server chose a cipher suite this build does not know (mbedTLS 3.x: DECODE_ERROR)",
    ),
    c(
        0x7380,
        "SSL_NO_CIPHER_CHOSEN",
        "no cipher suite in common with the server",
    ),
    c(
        0x7400,
        "SSL_NO_RNG",
        "no random number generator configured",
    ),
    c(
        0x7480,
        "SSL_NO_CLIENT_CERTIFICATE",
        "the server asked for a client certificate and none is configured",
    ),
    c(
        0x7500,
        "SSL_CERTIFICATE_TOO_LARGE",
        "our certificate does not fit the output buffer",
    ),
    c(
        0x7580,
        "SSL_CERTIFICATE_REQUIRED",
        "a certificate is required but was not provided (mbedTLS 3.x: NO_APPLICATION_PROTOCOL)",
    ),
    c(
        0x7600,
        "SSL_PRIVATE_KEY_REQUIRED",
        "a client certificate is configured without its private key",
    ),
    c(
        0x7680,
        "SSL_CA_CHAIN_REQUIRED",
        "peer verification is on but no CA certificate is loaded",
    ),
    c(
        0x7700,
        "SSL_UNEXPECTED_MESSAGE",
        "the server sent a message the handshake did not expect",
    ),
    c(
        0x7780,
        "SSL_FATAL_ALERT_MESSAGE",
        "the server sent a fatal alert (the number is in the debug line `got an alert message, type: [2:N]`)",
    ),
    c(
        0x7800,
        "SSL_PEER_VERIFY_FAILED",
        "verification of the server failed (mbedTLS 3.x: UNRECOGNIZED_NAME)",
    ),
    c(
        0x7880,
        "SSL_PEER_CLOSE_NOTIFY",
        "the server closed the connection cleanly (close_notify)",
    ),
    c(
        0x7900,
        "SSL_BAD_HS_CLIENT_HELLO",
        "processing of the ClientHello failed",
    ),
    c(
        0x7980,
        "SSL_BAD_HS_SERVER_HELLO",
        "the ServerHello could not be processed (often: the server picked a version or suite we did not offer)",
    ),
    c(
        0x7A00,
        "SSL_BAD_HS_CERTIFICATE",
        "the server's Certificate message could not be processed (mbedTLS 3.x: BAD_CERTIFICATE)",
    ),
    c(
        0x7A80,
        "SSL_BAD_HS_CERTIFICATE_REQUEST",
        "the server's CertificateRequest could not be processed",
    ),
    c(
        0x7B00,
        "SSL_BAD_HS_SERVER_KEY_EXCHANGE",
        "the ServerKeyExchange could not be processed (e.g. ECDHE on a build without ECC)",
    ),
    c(
        0x7B80,
        "SSL_BAD_HS_SERVER_HELLO_DONE",
        "the ServerHelloDone could not be processed",
    ),
    c(
        0x7C00,
        "SSL_BAD_HS_CLIENT_KEY_EXCHANGE",
        "the ClientKeyExchange could not be produced",
    ),
    c(
        0x7D80,
        "SSL_BAD_HS_CERTIFICATE_VERIFY",
        "the CertificateVerify could not be produced (private key problem)",
    ),
    c(
        0x7E00,
        "SSL_BAD_HS_CHANGE_CIPHER_SPEC",
        "the ChangeCipherSpec could not be processed",
    ),
    c(
        0x7E80,
        "SSL_BAD_HS_FINISHED",
        "the Finished message did not verify",
    ),
    c(
        0x7F00,
        "SSL_ALLOC_FAILED",
        "memory allocation failed: not enough free heap for the TLS buffers and handshake",
    ),
    c(
        0x7F80,
        "SSL_HW_ACCEL_FAILED",
        "hardware crypto acceleration failed",
    ),
    c(
        0x6E80,
        "SSL_BAD_HS_PROTOCOL_VERSION",
        "the server's protocol version is not acceptable (mbedTLS 3.x: BAD_PROTOCOL_VERSION)",
    ),
    c(
        0x6D00,
        "SSL_PK_TYPE_MISMATCH",
        "the key type does not match the negotiated suite",
    ),
    c(0x6C00, "SSL_INTERNAL_ERROR", "internal error in mbedTLS"),
    c(
        0x6A00,
        "SSL_BUFFER_TOO_SMALL",
        "a buffer is too small for the data (TLS buffer size configuration)",
    ),
    c(
        0x6980,
        "SSL_NO_USABLE_CIPHERSUITE",
        "none of the configured cipher suites is usable with the configured keys/certificates",
    ),
    c(
        0x6900,
        "SSL_WANT_READ",
        "not an error: the socket has no data yet (non-blocking I/O)",
    ),
    c(
        0x6880,
        "SSL_WANT_WRITE",
        "not an error: the socket cannot take data yet (non-blocking I/O)",
    ),
    c(0x6800, "SSL_TIMEOUT", "the operation timed out"),
    c(
        0x2080,
        "X509_FEATURE_UNAVAILABLE",
        "the certificate uses a feature compiled out (e.g. an ECDSA certificate on a build without ECC)",
    ),
    c(
        0x2100,
        "X509_UNKNOWN_OID",
        "an unknown OID in a certificate",
    ),
    c(
        0x2180,
        "X509_INVALID_FORMAT",
        "the certificate is not valid DER/PEM (wrong bytes in the flash record, truncated, or PEM without the NUL terminator)",
    ),
    c(
        0x2200,
        "X509_INVALID_VERSION",
        "the certificate version field is invalid",
    ),
    c(
        0x2280,
        "X509_INVALID_SERIAL",
        "the certificate serial is invalid",
    ),
    c(
        0x2300,
        "X509_INVALID_ALG",
        "the certificate's algorithm identifier is invalid",
    ),
    c(
        0x2380,
        "X509_INVALID_NAME",
        "the certificate's name is invalid",
    ),
    c(
        0x2400,
        "X509_INVALID_DATE",
        "the certificate's dates are invalid",
    ),
    c(
        0x2480,
        "X509_INVALID_SIGNATURE",
        "the certificate's signature field is invalid",
    ),
    c(
        0x2500,
        "X509_INVALID_EXTENSIONS",
        "the certificate's extensions are invalid",
    ),
    c(
        0x2580,
        "X509_UNKNOWN_VERSION",
        "unsupported certificate version",
    ),
    c(
        0x2600,
        "X509_UNKNOWN_SIG_ALG",
        "unsupported signature algorithm (e.g. ECDSA chain on an RSA-only build)",
    ),
    c(
        0x2680,
        "X509_SIG_MISMATCH",
        "signature algorithms do not match",
    ),
    c(
        0x2700,
        "X509_CERT_VERIFY_FAILED",
        "the server's certificate chain did not verify against the CA on the device (wrong root, expired or not-yet-valid with the clock unset, or name mismatch)",
    ),
    c(
        0x2780,
        "X509_CERT_UNKNOWN_FORMAT",
        "certificate format not recognised",
    ),
    c(
        0x2800,
        "X509_BAD_INPUT_DATA",
        "bad input to the X.509 parser (empty or wrong length)",
    ),
    c(
        0x2880,
        "X509_ALLOC_FAILED",
        "memory allocation failed while parsing a certificate",
    ),
    c(
        0x2980,
        "X509_BUFFER_TOO_SMALL",
        "destination buffer too small",
    ),
    c(0x3000, "X509_FATAL_ERROR", "fatal X.509 error"),
    c(
        0x3F80,
        "PK_ALLOC_FAILED",
        "memory allocation failed while parsing the key",
    ),
    c(
        0x3F00,
        "PK_TYPE_MISMATCH",
        "key type mismatch (e.g. EC key with an RSA certificate)",
    ),
    c(0x3E80, "PK_BAD_INPUT_DATA", "bad input to the key parser"),
    c(0x3D80, "PK_KEY_INVALID_VERSION", "unsupported key version"),
    c(
        0x3D00,
        "PK_KEY_INVALID_FORMAT",
        "the private key is not valid DER/PEM (wrong record, PKCS#8 where PKCS#1 is expected, or missing NUL after PEM)",
    ),
    c(
        0x3C80,
        "PK_UNKNOWN_PK_ALG",
        "unknown key algorithm (e.g. EC key on an RSA-only build)",
    ),
    c(
        0x3C00,
        "PK_PASSWORD_REQUIRED",
        "the private key is encrypted and no password was given",
    ),
    c(
        0x3B80,
        "PK_PASSWORD_MISMATCH",
        "wrong password for the private key",
    ),
    c(0x3B00, "PK_INVALID_PUBKEY", "invalid public key"),
    c(0x3A80, "PK_INVALID_ALG", "invalid key algorithm identifier"),
    c(
        0x3A00,
        "PK_UNKNOWN_NAMED_CURVE",
        "the key's curve is not supported",
    ),
    c(0x3980, "PK_FEATURE_UNAVAILABLE", "key feature compiled out"),
    c(
        0x1080,
        "PEM_NO_HEADER_FOOTER_PRESENT",
        "no PEM header/footer found (DER given to a PEM parser, or wrong record)",
    ),
    c(0x1100, "PEM_INVALID_DATA", "PEM base64 data is invalid"),
    c(
        0x1180,
        "PEM_ALLOC_FAILED",
        "memory allocation failed while reading PEM",
    ),
    c(0x1300, "PEM_PASSWORD_REQUIRED", "the PEM key is encrypted"),
    c(0x1480, "PEM_BAD_INPUT_DATA", "bad input to the PEM parser"),
    c(0x4080, "RSA_BAD_INPUT_DATA", "bad input to RSA"),
    c(
        0x4300,
        "RSA_PRIVATE_FAILED",
        "RSA private-key operation failed (key does not match the certificate?)",
    ),
    c(
        0x4380,
        "RSA_VERIFY_FAILED",
        "an RSA signature did not verify",
    ),
    c(0x4480, "RSA_RNG_FAILED", "the random generator failed"),
];

/// Low-level codes (bits 0–6) that combine with a high-level code, plus the net layer.
const LOW: &[MbedtlsCode] = &[
    c(
        0x0010,
        "MPI_ALLOC_FAILED",
        "memory allocation failed in the big-number arithmetic (key exchange or signature)",
    ),
    c(0x0042, "NET_SOCKET_FAILED", "could not open a socket"),
    c(0x0044, "NET_CONNECT_FAILED", "the TCP connection failed"),
    c(
        0x004C,
        "NET_RECV_FAILED",
        "reading from the socket failed (connection reset)",
    ),
    c(0x004E, "NET_SEND_FAILED", "writing to the socket failed"),
    c(
        0x0050,
        "NET_CONN_RESET",
        "the connection was reset by the peer",
    ),
    c(0x0052, "NET_UNKNOWN_HOST", "DNS lookup failed"),
    c(
        0x0060,
        "ASN1_OUT_OF_DATA",
        "ASN.1 data ended early (truncated DER)",
    ),
    c(
        0x0062,
        "ASN1_UNEXPECTED_TAG",
        "unexpected ASN.1 tag (not DER, or the wrong object)",
    ),
    c(0x0064, "ASN1_INVALID_LENGTH", "invalid ASN.1 length"),
    c(
        0x0066,
        "ASN1_LENGTH_MISMATCH",
        "ASN.1 length does not match the data (truncated or padded record)",
    ),
    c(0x0068, "ASN1_INVALID_DATA", "invalid ASN.1 data"),
    c(
        0x006A,
        "ASN1_ALLOC_FAILED",
        "memory allocation failed in the ASN.1 parser",
    ),
    c(0x006C, "ASN1_BUF_TOO_SMALL", "ASN.1 buffer too small"),
];

/// A decoded code: the high-level part and, for combined codes, the low-level part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// The magnitude as written in the log.
    pub code: u16,
    /// High-level part, when known.
    pub high: Option<MbedtlsCode>,
    /// Low-level part, when known.
    pub low: Option<MbedtlsCode>,
}

impl Decoded {
    /// "-0x7200 SSL_INVALID_RECORD" or "-0x2180+-0x0062 X509_INVALID_FORMAT + ASN1_UNEXPECTED_TAG".
    pub fn label(&self) -> String {
        let names: Vec<&str> = self.high.iter().chain(&self.low).map(|c| c.name).collect();
        if names.is_empty() {
            format!("-0x{:04X} (not in our mbedTLS table)", self.code)
        } else {
            format!("-0x{:04X} {}", self.code, names.join(" + "))
        }
    }

    /// The meaning, combining both parts.
    pub fn meaning(&self) -> String {
        let parts: Vec<&str> = self
            .high
            .iter()
            .chain(&self.low)
            .map(|c| c.meaning)
            .collect();
        if parts.is_empty() {
            "an mbedTLS error code this table does not list; look it up with mbedtls_strerror on the same mbedTLS version".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// Splits and names a code given as its positive magnitude (0x7200 for -0x7200).
pub fn decode(code: u16) -> Decoded {
    let find = |table: &[MbedtlsCode], v: u16| table.iter().find(|e| e.code == v).copied();
    if let Some(whole) = find(HIGH, code).or_else(|| find(LOW, code)) {
        let (high, low) = if whole.code < 0x80 {
            (None, Some(whole))
        } else {
            (Some(whole), None)
        };
        return Decoded { code, high, low };
    }
    Decoded {
        code,
        high: find(HIGH, code & 0xFF80),
        low: find(LOW, code & 0x007F),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_single_codes() {
        assert_eq!(decode(0x7200).label(), "-0x7200 SSL_INVALID_RECORD");
        assert!(decode(0x7200).meaning().contains("receive buffer"));
        assert_eq!(
            decode(0x2700).high.map(|c| c.name),
            Some("X509_CERT_VERIFY_FAILED")
        );
        assert_eq!(decode(0x0050).low.map(|c| c.name), Some("NET_CONN_RESET"));
    }

    #[test]
    fn combined_and_unknown_codes() {
        let d = decode(0x2180 + 0x0062);
        assert_eq!(
            d.label(),
            "-0x21E2 X509_INVALID_FORMAT + ASN1_UNEXPECTED_TAG"
        );
        let u = decode(0x0001);
        assert!(u.label().contains("not in our mbedTLS table"));
        assert!(u.meaning().contains("mbedtls_strerror"));
    }

    #[test]
    fn table_is_unique() {
        for (i, a) in HIGH.iter().chain(LOW).enumerate() {
            for b in HIGH.iter().chain(LOW).skip(i + 1) {
                assert_ne!(a.code, b.code, "{}", a.name);
            }
        }
        assert!(HIGH.iter().all(|c| c.code & 0x7F == 0));
        assert!(LOW.iter().all(|c| c.code < 0x80));
    }
}
