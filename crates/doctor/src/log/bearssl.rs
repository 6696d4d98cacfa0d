//! BearSSL error numbers (as returned by `getLastSSLError()` on ESP8266 Arduino): its own SSL
//! errors 1–31, X.509 errors 32–63, and alerts encoded as 256 + N (received) / 512 + N (sent).
//! Beware: BearSSL "error 40" is an X.509 error, not alert 40 — this table keeps them apart.
//! It does not parse log lines (that is `log`).

use tls::Alert;

/// What one BearSSL error number means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearSslError {
    /// One of BearSSL's own codes.
    Own {
        /// The number.
        code: u16,
        /// The `BR_ERR_*` constant name.
        name: &'static str,
        /// What it means.
        meaning: &'static str,
    },
    /// The server sent fatal alert N (code 256 + N).
    AlertReceived(Alert),
    /// We sent fatal alert N to the server (code 512 + N).
    AlertSent(Alert),
    /// A number BearSSL does not define.
    Unknown(u16),
}

const OWN: &[(u16, &str, &str)] = &[
    (0, "BR_ERR_OK", "no error"),
    (
        1,
        "BR_ERR_BAD_PARAM",
        "a parameter passed to BearSSL was invalid",
    ),
    (
        2,
        "BR_ERR_BAD_STATE",
        "the engine was used in the wrong state",
    ),
    (
        3,
        "BR_ERR_UNSUPPORTED_VERSION",
        "the server chose a protocol version we do not support",
    ),
    (4, "BR_ERR_BAD_VERSION", "the record version is wrong"),
    (5, "BR_ERR_BAD_LENGTH", "a record length is wrong"),
    (
        6,
        "BR_ERR_TOO_LARGE",
        "a record is larger than our receive buffer: the server ignored or was not asked for max_fragment_length; enlarge the buffer (setBufferSizes) towards 16384",
    ),
    (7, "BR_ERR_BAD_MAC", "a record failed its MAC check"),
    (8, "BR_ERR_NO_RANDOM", "no entropy source"),
    (9, "BR_ERR_UNKNOWN_TYPE", "unknown record type"),
    (10, "BR_ERR_UNEXPECTED", "an unexpected message arrived"),
    (12, "BR_ERR_BAD_CCS", "bad ChangeCipherSpec"),
    (13, "BR_ERR_BAD_ALERT", "bad alert message"),
    (14, "BR_ERR_BAD_HANDSHAKE", "bad handshake message"),
    (15, "BR_ERR_OVERSIZED_ID", "session id too long"),
    (
        16,
        "BR_ERR_BAD_CIPHER_SUITE",
        "the server chose a cipher suite we did not offer",
    ),
    (17, "BR_ERR_BAD_COMPRESSION", "the server chose compression"),
    (
        18,
        "BR_ERR_BAD_FRAGLEN",
        "the server answered max_fragment_length with another value",
    ),
    (19, "BR_ERR_BAD_SECRENEG", "secure renegotiation failure"),
    (
        20,
        "BR_ERR_EXTRA_EXTENSION",
        "the server sent an extension we did not ask for",
    ),
    (21, "BR_ERR_BAD_SNI", "bad SNI"),
    (22, "BR_ERR_BAD_HELLO_DONE", "bad ServerHelloDone"),
    (
        23,
        "BR_ERR_LIMIT_EXCEEDED",
        "an internal limit was exceeded (e.g. certificate chain too long)",
    ),
    (24, "BR_ERR_BAD_FINISHED", "Finished message did not verify"),
    (25, "BR_ERR_RESUME_MISMATCH", "session resumption mismatch"),
    (26, "BR_ERR_INVALID_ALGORITHM", "unsupported algorithm"),
    (
        27,
        "BR_ERR_BAD_SIGNATURE",
        "a handshake signature did not verify",
    ),
    (
        28,
        "BR_ERR_WRONG_KEY_USAGE",
        "a key was used against its key usage",
    ),
    (
        29,
        "BR_ERR_NO_CLIENT_AUTH",
        "the server asked for client authentication and no client certificate is set",
    ),
    (
        31,
        "BR_ERR_IO",
        "I/O error: the connection dropped (often the server closed it after refusing us)",
    ),
    (32, "BR_ERR_X509_OK", "certificate validation succeeded"),
    (
        33,
        "BR_ERR_X509_INVALID_VALUE",
        "invalid value in a certificate",
    ),
    (34, "BR_ERR_X509_TRUNCATED", "truncated certificate"),
    (35, "BR_ERR_X509_EMPTY_CHAIN", "empty certificate chain"),
    (
        36,
        "BR_ERR_X509_INNER_TRUNC",
        "truncated element inside a certificate",
    ),
    (
        37,
        "BR_ERR_X509_BAD_TAG_CLASS",
        "unsupported ASN.1 tag class",
    ),
    (
        38,
        "BR_ERR_X509_BAD_TAG_VALUE",
        "unsupported ASN.1 tag value",
    ),
    (
        39,
        "BR_ERR_X509_INDEFINITE_LENGTH",
        "indefinite length in DER",
    ),
    (
        40,
        "BR_ERR_X509_EXTRA_ELEMENT",
        "extra element in a certificate (not alert 40)",
    ),
    (
        41,
        "BR_ERR_X509_UNEXPECTED",
        "unexpected element in a certificate",
    ),
    (
        42,
        "BR_ERR_X509_NOT_CONSTRUCTED",
        "expected a constructed element (not alert 42)",
    ),
    (
        43,
        "BR_ERR_X509_NOT_PRIMITIVE",
        "expected a primitive element",
    ),
    (
        44,
        "BR_ERR_X509_PARTIAL_BYTE",
        "BIT STRING with partial byte",
    ),
    (45, "BR_ERR_X509_BAD_BOOLEAN", "bad BOOLEAN"),
    (46, "BR_ERR_X509_OVERFLOW", "value overflow"),
    (47, "BR_ERR_X509_BAD_DN", "bad distinguished name"),
    (
        48,
        "BR_ERR_X509_BAD_TIME",
        "bad time encoding (not alert 48)",
    ),
    (
        49,
        "BR_ERR_X509_UNSUPPORTED",
        "unsupported certificate feature",
    ),
    (
        50,
        "BR_ERR_X509_LIMIT_EXCEEDED",
        "certificate limit exceeded",
    ),
    (51, "BR_ERR_X509_WRONG_KEY_TYPE", "wrong key type"),
    (
        52,
        "BR_ERR_X509_BAD_SIGNATURE",
        "a certificate signature did not verify",
    ),
    (
        53,
        "BR_ERR_X509_TIME_UNKNOWN",
        "the current time is unknown: call setX509Time or sync SNTP before connecting",
    ),
    (
        54,
        "BR_ERR_X509_EXPIRED",
        "a certificate is expired or not yet valid — usually the device clock is not set",
    ),
    (
        55,
        "BR_ERR_X509_DN_MISMATCH",
        "issuer/subject name mismatch in the chain",
    ),
    (
        56,
        "BR_ERR_X509_BAD_SERVER_NAME",
        "the server certificate does not match the host name connected to",
    ),
    (
        57,
        "BR_ERR_X509_CRITICAL_EXTENSION",
        "unsupported critical extension",
    ),
    (58, "BR_ERR_X509_NOT_CA", "an intermediate is not a CA"),
    (
        59,
        "BR_ERR_X509_FORBIDDEN_KEY_USAGE",
        "key usage forbids this use",
    ),
    (60, "BR_ERR_X509_WEAK_PUBLIC_KEY", "public key too weak"),
    (
        62,
        "BR_ERR_X509_NOT_TRUSTED",
        "the chain does not lead to a configured trust anchor: wrong or missing root (e.g. legacy VeriSign root for an ATS endpoint)",
    ),
];

/// Classifies a `getLastSSLError()` number.
pub fn decode(code: u16) -> BearSslError {
    match code {
        256..=511 => BearSslError::AlertReceived(Alert(u8::try_from(code - 256).unwrap_or(0))),
        512..=767 => BearSslError::AlertSent(Alert(u8::try_from(code - 512).unwrap_or(0))),
        _ => OWN.iter().find(|(c, _, _)| *c == code).map_or(
            BearSslError::Unknown(code),
            |(code, name, meaning)| BearSslError::Own {
                code: *code,
                name,
                meaning,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_offset() {
        assert_eq!(decode(296), BearSslError::AlertReceived(Alert(40)));
        assert_eq!(decode(552), BearSslError::AlertSent(Alert(40)));
        assert!(matches!(
            decode(40),
            BearSslError::Own {
                name: "BR_ERR_X509_EXTRA_ELEMENT",
                ..
            }
        ));
        assert!(matches!(
            decode(62),
            BearSslError::Own {
                name: "BR_ERR_X509_NOT_TRUSTED",
                ..
            }
        ));
        assert_eq!(decode(11), BearSslError::Unknown(11));
        assert_eq!(decode(900), BearSslError::Unknown(900));
    }
}
