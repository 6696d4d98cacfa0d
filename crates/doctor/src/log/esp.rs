//! Espressif error numbers that appear in device logs: ESP8266 NONOS `espconn` return codes and
//! ESP-IDF esp-tls `ESP_ERR_*` codes (0x8001…0x801D). Names and plain meanings only; the
//! mbedTLS codes esp-tls wraps are in `mbedtls`.

/// Names an `espconn` return code (NONOS `espconn.h`).
pub fn espconn(code: i32) -> Option<(&'static str, &'static str)> {
    Some(match code {
        0 => ("ESPCONN_OK", "no error"),
        -1 => (
            "ESPCONN_MEM",
            "out of memory: for TLS the SDK wants free heap above the TLS buffer size plus 0x3800 bytes",
        ),
        -3 => ("ESPCONN_TIMEOUT", "timeout"),
        -4 => ("ESPCONN_RTE", "routing problem (no Wi-Fi / no IP)"),
        -5 => ("ESPCONN_INPROGRESS", "operation still in progress"),
        -7 => ("ESPCONN_MAXNUM", "too many connections"),
        -8 => ("ESPCONN_ABRT", "connection aborted"),
        -9 => ("ESPCONN_RST", "connection reset by the server"),
        -10 => ("ESPCONN_CLSD", "connection closed"),
        -11 => ("ESPCONN_CONN", "not connected"),
        -12 => ("ESPCONN_ARG", "illegal argument"),
        -14 => ("ESPCONN_IF", "UDP send failed"),
        -15 => ("ESPCONN_ISCONN", "already connected"),
        -28 => ("ESPCONN_HANDSHAKE", "the TLS handshake failed"),
        -61 => (
            "ESPCONN_SSL_INVALID_DATA",
            "invalid TLS data (record the TLS library could not process)",
        ),
        _ => return None,
    })
}

/// Names an ESP-IDF esp-tls error (`esp_tls_errors.h`).
pub fn esp_tls(code: u32) -> Option<(&'static str, &'static str)> {
    Some(match code {
        0x8001 => (
            "ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME",
            "DNS lookup of the endpoint failed",
        ),
        0x8002 => (
            "ESP_ERR_ESP_TLS_CANNOT_CREATE_SOCKET",
            "could not create a socket",
        ),
        0x8003 => (
            "ESP_ERR_ESP_TLS_UNSUPPORTED_PROTOCOL_FAMILY",
            "unsupported address family",
        ),
        0x8004 => (
            "ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST",
            "TCP connection to the endpoint failed (wrong host/port, firewall)",
        ),
        0x8005 => (
            "ESP_ERR_ESP_TLS_SOCKET_SETOPT_FAILED",
            "setting a socket option failed",
        ),
        0x8006 => (
            "ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT",
            "TCP or TLS connection timed out",
        ),
        0x8007 => ("ESP_ERR_ESP_TLS_SE_FAILED", "secure element failure"),
        0x8008 => (
            "ESP_ERR_ESP_TLS_TCP_CLOSED_FIN",
            "the server closed the TCP connection",
        ),
        0x8010 => (
            "ESP_ERR_MBEDTLS_CERT_PARTLY_OK",
            "the certificate verified only partly",
        ),
        0x8011 => (
            "ESP_ERR_MBEDTLS_CTR_DRBG_SEED_FAILED",
            "random generator seeding failed",
        ),
        0x8012 => (
            "ESP_ERR_MBEDTLS_SSL_SET_HOSTNAME_FAILED",
            "setting the host name (SNI) failed",
        ),
        0x8013 => (
            "ESP_ERR_MBEDTLS_SSL_CONFIG_DEFAULTS_FAILED",
            "mbedTLS default configuration failed",
        ),
        0x8014 => (
            "ESP_ERR_MBEDTLS_SSL_CONF_ALPN_PROTOCOLS_FAILED",
            "configuring ALPN failed",
        ),
        0x8015 => (
            "ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED",
            "a certificate (CA or client) could not be parsed: PEM without trailing NUL / wrong length, or wrong bytes",
        ),
        0x8016 => (
            "ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED",
            "the client certificate and key could not be installed (key does not match?)",
        ),
        0x8017 => (
            "ESP_ERR_MBEDTLS_SSL_SETUP_FAILED",
            "TLS setup failed (often out of memory for the buffers)",
        ),
        0x8018 => (
            "ESP_ERR_MBEDTLS_SSL_WRITE_FAILED",
            "writing to the TLS connection failed",
        ),
        0x8019 => (
            "ESP_ERR_MBEDTLS_PK_PARSE_KEY_FAILED",
            "the private key could not be parsed",
        ),
        0x801A => (
            "ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED",
            "the TLS handshake failed; the mbedTLS code on the same or previous line says why",
        ),
        0x801B => (
            "ESP_ERR_MBEDTLS_SSL_CONF_PSK_FAILED",
            "configuring PSK failed",
        ),
        0x801C => (
            "ESP_ERR_MBEDTLS_SSL_TICKET_SETUP_FAILED",
            "session ticket setup failed",
        ),
        0x801D => (
            "ESP_ERR_MBEDTLS_SSL_READ_FAILED",
            "reading from the TLS connection failed",
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(espconn(-28).map(|e| e.0), Some("ESPCONN_HANDSHAKE"));
        assert_eq!(espconn(-2), None);
        assert_eq!(
            esp_tls(0x801A).map(|e| e.0),
            Some("ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED")
        );
        assert_eq!(esp_tls(0x9000), None);
    }
}
