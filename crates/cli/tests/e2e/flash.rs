//! End-to-end tests of `tether flash`, running the built binary: pack → inspect round trip,
//! layout refusing 0x7E000 on a 512 KB module, and refusals of EC keys and mismatched keys.

use std::path::{Path, PathBuf};

use crate::support::{lossy, run};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../device-image/tests/data")
        .join(name)
}

fn pack_args<'a>(target: &'a str, cert: &'a Path, key: &'a Path, out: &'a Path) -> Vec<String> {
    vec![
        "flash".into(),
        "pack".into(),
        "--target".into(),
        target.into(),
        "--ca".into(),
        data("root_ca.pem").display().to_string(),
        "--cert".into(),
        cert.display().to_string(),
        "--key".into(),
        key.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ]
}

#[test]
fn pack_then_inspect_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("images");
    let mut args = pack_args(
        "esp8266-nonos",
        &data("device_rsa.crt"),
        &data("device_rsa_pkcs8.key"),
        &out,
    );
    args.extend([
        "--flash-size".into(),
        "512KB".into(),
        "--sdk".into(),
        "2".into(),
    ]);
    let output = run(&args);
    let stdout = lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        lossy(&output.stderr)
    );
    assert!(
        stdout.contains(
            "esptool.py --port /dev/ttyUSB0 write_flash 0x79000 esp_ca_cert.bin 0x7A000 esp_cert_private_key.bin"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("espconn_secure_ca_enable(ESPCONN_CLIENT, 0x79);"),
        "{stdout}"
    );
    assert!(
        stdout.contains("espconn_secure_cert_req_enable(ESPCONN_CLIENT, 0x7A);"),
        "{stdout}"
    );
    assert!(
        stdout.contains("espconn_secure_set_size(ESPCONN_CLIENT, 8192);"),
        "{stdout}"
    );

    let client = out.join("esp_cert_private_key.bin");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&client).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let output = run(&["flash", "inspect", client.to_str().unwrap()]);
    let stdout = lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        lossy(&output.stderr)
    );
    assert!(stdout.contains("DER certificate"), "{stdout}");
    assert!(
        stdout.contains("DER PKCS#1 private key (RSA-2048)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("private_key matches certificate: yes"),
        "{stdout}"
    );
    assert!(!stdout.contains("warning:"), "{stdout}");

    let ca = out.join("esp_ca_cert.bin");
    let output = run(&["flash", "inspect", ca.to_str().unwrap()]);
    let stdout = lossy(&output.stdout);
    assert!(output.status.success());
    assert!(stdout.contains("TLS.ca_x509.cer"), "{stdout}");
    assert!(stdout.contains("CN=Tether Test Root CA"), "{stdout}");
}

#[test]
fn inspect_refuses_what_is_not_an_image_saying_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    // 4 KiB of pseudo-random bytes (xorshift, fixed seed), erased flash, and an empty file.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    for (name, bytes, found) in [
        (
            "random.bin",
            random.clone(),
            format!("starts with {:02x}", random[0]),
        ),
        ("erased.bin", vec![0xFF; 4096], "erased flash".to_owned()),
        ("empty.bin", Vec::new(), "it is empty".to_owned()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let output = run(&["flash", "inspect", path.to_str().unwrap()]);
        let (stdout, stderr) = (lossy(&output.stdout), lossy(&output.stderr));
        assert_eq!(output.status.code(), Some(1), "{name}: {stdout}{stderr}");
        assert!(!stdout.contains("certificate image,"), "{name}: {stdout}");
        assert!(
            stderr.contains("is not an ESP8266 NONOS certificate image"),
            "{name}: {stderr}"
        );
        assert!(stderr.contains(&found), "{name}: {stderr}");
        assert!(
            stderr.contains("32-byte NUL-padded name"),
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains("esp_cert_private_key.bin"),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn pack_esp_idf_writes_pem_files_key_private() {
    let dir = tempfile::tempdir().unwrap();
    let args = pack_args(
        "esp-idf",
        &data("device_rsa.crt"),
        &data("device_rsa.key"),
        dir.path(),
    );
    let output = run(&args);
    assert!(output.status.success(), "{}", lossy(&output.stderr));
    let key = std::fs::read_to_string(dir.path().join("client_key.pem")).unwrap();
    assert!(key.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |name: &str| {
            std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("client_key.pem"), 0o600);
        assert_ne!(mode("client_cert.pem"), 0o600);
    }
    assert!(
        lossy(&output.stdout).contains("EMBED_TXTFILES ca_cert.pem client_cert.pem client_key.pem")
    );
}

#[test]
fn layout_refuses_0x7e000_on_512kb() {
    let output = run(&[
        "flash",
        "layout",
        "--chip",
        "esp8266",
        "--flash-size",
        "512KB",
        "--place",
        "client=0x7E000",
    ]);
    assert!(!output.status.success());
    let stderr = lossy(&output.stderr);
    assert!(
        stderr.contains(
            "client: 0x7E000 is inside the SDK system parameter area (0x7D000–0x7FFFF) on a 512 KB module"
        ),
        "{stderr}"
    );

    let output = run(&[
        "flash",
        "layout",
        "--flash-size",
        "512KB",
        "--firmware-end",
        "0x40000",
        "--place",
        "ca=0x3A000",
    ]);
    let stderr = lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("irom0 code region"), "{stderr}");

    let output = run(&[
        "flash",
        "layout",
        "--flash-size",
        "1MB",
        "--place",
        "ca=0xF9000",
    ]);
    let stdout = lossy(&output.stdout);
    assert!(output.status.success(), "{}", lossy(&output.stderr));
    assert!(stdout.contains("Free sectors:"), "{stdout}");
    assert!(stdout.contains("placement ok"), "{stdout}");
}

#[test]
fn pack_refuses_ec_keys_mismatches_and_bad_placement() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = pack_args(
        "esp8266-nonos",
        &data("device_ec.crt"),
        &data("device_ec.key"),
        dir.path(),
    );
    args.extend(["--flash-size".into(), "1MB".into()]);
    let output = run(&args);
    assert!(!output.status.success());
    let stderr = lossy(&output.stderr);
    assert!(stderr.contains("has no elliptic-curve support"), "{stderr}");
    assert!(!dir.path().join("esp_cert_private_key.bin").exists());

    let args = pack_args(
        "der",
        &data("device_rsa.crt"),
        &data("other_rsa.key"),
        dir.path(),
    );
    let output = run(&args);
    assert!(!output.status.success());
    assert!(lossy(&output.stderr).contains("does not match the certificate"));

    let mut args = pack_args(
        "esp8266-nonos",
        &data("device_rsa.crt"),
        &data("device_rsa.key"),
        dir.path(),
    );
    args.extend([
        "--flash-size".into(),
        "512KB".into(),
        "--ca-addr".into(),
        "0x79000".into(),
        "--cert-addr".into(),
        "0x7E000".into(),
    ]);
    let output = run(&args);
    assert!(!output.status.success());
    let stderr = lossy(&output.stderr);
    assert!(stderr.contains("SDK system parameter area"), "{stderr}");

    let output = run(&pack_args(
        "der",
        &data("device_rsa.key"),
        &data("device_rsa.key"),
        dir.path(),
    ));
    assert!(!output.status.success());
    let stderr = lossy(&output.stderr);
    assert!(
        stderr.contains("device_rsa.key: expected a certificate, found a private key"),
        "{stderr}"
    );
}
