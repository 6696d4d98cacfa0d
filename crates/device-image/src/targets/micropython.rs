//! `micropython`: DER files to copy onto the board and the `ssl.wrap_socket(key=, cert=)` call
//! that uses them (the ESP8266 port's axTLS takes DER bytes, not PEM or file names). It does not
//! generate an MQTT client script.

use std::fmt::Write as _;

use super::describe_inputs;
use super::raw_der::der_files;
use crate::credentials::{Bundle, Credentials};
use crate::error::Result;

pub(super) fn render(credentials: &Credentials) -> Result<Bundle> {
    let (files, _) = der_files(credentials)?;
    let mut text = String::new();
    let _ = writeln!(text, "MicroPython:");
    for line in describe_inputs(credentials)? {
        let _ = writeln!(text, "  {line}");
    }
    let _ = writeln!(text, "\nCopy the files to the board:");
    for file in &files {
        let _ = writeln!(text, "  mpremote cp {0} :{0}", file.name);
    }
    let _ = writeln!(text, "\nThen:\n");
    let _ = writeln!(text, "  import socket, ssl");
    let _ = writeln!(text, "  with open(\"cert.der\", \"rb\") as f:");
    let _ = writeln!(text, "      cert = f.read()");
    let _ = writeln!(text, "  with open(\"key.der\", \"rb\") as f:");
    let _ = writeln!(text, "      key = f.read()");
    let _ = writeln!(
        text,
        "  addr = socket.getaddrinfo(\"YOUR-ENDPOINT\", 8883)[0][-1]"
    );
    let _ = writeln!(text, "  sock = socket.socket()");
    let _ = writeln!(text, "  sock.connect(addr)");
    let _ = writeln!(text, "  sock = ssl.wrap_socket(sock, key=key, cert=cert)\n");
    let _ = writeln!(
        text,
        "The ESP8266 port (axTLS) wants DER bytes, not PEM or file names, has no ECC and cannot verify the server (ca_certs is unsupported there); ports built on mbedTLS (ESP32) also accept ca.der for verification."
    );
    if !pki::describe_key(&credentials.key).is_rsa() {
        let _ = writeln!(
            text,
            "warning: this is an EC key; it works only on mbedTLS ports (ESP32), not on the ESP8266 port."
        );
    }
    let _ = writeln!(
        text,
        "An RSA-2048 handshake takes about 25 s on an ESP8266: run at 160 MHz (machine.freq(160000000))."
    );
    Ok(Bundle {
        files,
        instructions: text,
    })
}
