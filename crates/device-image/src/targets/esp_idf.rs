//! `esp-idf`: PEM files to embed with `EMBED_TXTFILES` (NUL-terminated, so esp-mqtt's length
//! fields stay 0) and the `esp_mqtt_client_config_t` fields that point at them (IDF 5 layout,
//! with the IDF 4 names noted). It does not write NVS or partition images.

use std::fmt::Write as _;

use super::{cert_pem_text, describe_inputs, key_pem_text};
use crate::credentials::{Bundle, Credentials, OutputFile};
use crate::error::Result;

const CA_FILE: &str = "ca_cert.pem";
const CERT_FILE: &str = "client_cert.pem";
const KEY_FILE: &str = "client_key.pem";

pub(super) fn render(credentials: &Credentials) -> Result<Bundle> {
    let files = vec![
        OutputFile {
            name: CA_FILE.to_owned(),
            bytes: cert_pem_text(&credentials.ca)?.into_bytes(),
            secret: false,
        },
        OutputFile {
            name: CERT_FILE.to_owned(),
            bytes: cert_pem_text(&credentials.certificate)?.into_bytes(),
            secret: false,
        },
        OutputFile {
            name: KEY_FILE.to_owned(),
            bytes: key_pem_text(&credentials.key)?.into_bytes(),
            secret: true,
        },
    ];
    let mut text = String::new();
    let _ = writeln!(text, "ESP-IDF (esp-mqtt):");
    for line in describe_inputs(credentials)? {
        let _ = writeln!(text, "  {line}");
    }
    let _ = writeln!(
        text,
        "\nCopy {CA_FILE}, {CERT_FILE} and {KEY_FILE} into your component (e.g. main/) and embed them:\n"
    );
    let _ = writeln!(text, "  idf_component_register(SRCS \"main.c\"");
    let _ = writeln!(text, "                         INCLUDE_DIRS \".\"");
    let _ = writeln!(
        text,
        "                         EMBED_TXTFILES {CA_FILE} {CERT_FILE} {KEY_FILE})\n"
    );
    let _ = writeln!(text, "In the source:\n");
    for (file, symbol) in [
        (CA_FILE, "ca_cert_pem"),
        (CERT_FILE, "client_cert_pem"),
        (KEY_FILE, "client_key_pem"),
    ] {
        let _ = writeln!(
            text,
            "  extern const char {symbol}_start[] asm(\"_binary_{}_start\");",
            file.replace('.', "_")
        );
    }
    let _ = writeln!(text);
    let _ = writeln!(text, "  const esp_mqtt_client_config_t mqtt_cfg = {{");
    let _ = writeln!(
        text,
        "      .broker.address.uri = \"mqtts://YOUR-ENDPOINT:8883\","
    );
    let _ = writeln!(
        text,
        "      .broker.verification.certificate = ca_cert_pem_start,"
    );
    let _ = writeln!(
        text,
        "      .credentials.authentication.certificate = client_cert_pem_start,"
    );
    let _ = writeln!(
        text,
        "      .credentials.authentication.key = client_key_pem_start,"
    );
    let _ = writeln!(text, "  }};\n");
    let _ = writeln!(
        text,
        "Leave the *_len fields 0: EMBED_TXTFILES appends a NUL, so the PEM length is measured at run time."
    );
    let _ = writeln!(
        text,
        "ESP-IDF 4.x names these fields .cert_pem, .client_cert_pem and .client_key_pem."
    );
    let _ = writeln!(
        text,
        "Keep CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN at 16384: smaller buffers fail on the server's certificate flight (-0x7200)."
    );
    Ok(Bundle {
        files,
        instructions: text,
    })
}
