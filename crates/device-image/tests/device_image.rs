//! Integration tests for `device-image`: the §1.3a worked byte example, client images for both
//! SDK generations, refusals, the inspector's warnings, NONOS packing with placement checks,
//! snapshot tests of every target's exact output for fixed inputs, and the fuzz corpus replay.
//!
//! Snapshots live in `tests/snapshots/`; run with `UPDATE_SNAPSHOTS=1` to rewrite them after an
//! intended change, then review the diff.

// Helper functions outside #[test] bodies unwrap too; a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

use device_image::esp8266_nonos::{
    self, CA_RECORD_NAME, NonosPlan, SdkVersion, ca_image, client_image, encode_record,
    pad_to_sector,
};
use device_image::{
    Credentials, DeviceImageError, FlashLayout, FlashSize, ImageWarning, Input, RecordContent,
    Target, inspect, render,
};
use pki::{Encoding, KeyFormat};

const G5_ROOT: &[u8] = include_bytes!("data/verisign_g5_root.pem");
const ROOT_CA: &[u8] = include_bytes!("data/root_ca.pem");
const DEVICE_CERT: &[u8] = include_bytes!("data/device_rsa.crt");
const DEVICE_KEY: &[u8] = include_bytes!("data/device_rsa.key");
const DEVICE_KEY_PKCS8: &[u8] = include_bytes!("data/device_rsa_pkcs8.key");
const OTHER_KEY: &[u8] = include_bytes!("data/other_rsa.key");
const EC_CERT: &[u8] = include_bytes!("data/device_ec.crt");
const EC_KEY: &[u8] = include_bytes!("data/device_ec.key");

fn credentials(cert: &[u8], key: &[u8]) -> Result<Credentials, DeviceImageError> {
    Credentials::load(
        Input {
            name: "AmazonRootCA1.pem",
            bytes: ROOT_CA,
        },
        Input {
            name: "certificate.pem.crt",
            bytes: cert,
        },
        Input {
            name: "private.pem.key",
            bytes: key,
        },
    )
}

fn rsa_credentials() -> Credentials {
    credentials(DEVICE_CERT, DEVICE_KEY).unwrap()
}

#[test]
fn worked_byte_example_of_section_1_3a() {
    let g5 = pki::load_certificate(G5_ROOT, "g5.pem")
        .unwrap()
        .certificate;
    let image = ca_image(&g5, SdkVersion::V2).unwrap();
    let mut expected_head = b"TLS.ca_x509.cer".to_vec();
    expected_head.resize(32, 0);
    expected_head.extend_from_slice(&[0xd7, 0x04]);
    expected_head.extend_from_slice(&[
        0x30, 0x82, 0x04, 0xd3, 0x30, 0x82, 0x03, 0xbb, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02,
    ]);
    assert_eq!(&image[..expected_head.len()], expected_head.as_slice());
    // The payload runs to 0x4F8; the record is 34 + 1239 = 1273 bytes; then erased flash.
    assert_eq!(&image[34..1273], g5.to_der().unwrap().as_slice());
    assert!(image[1273..].iter().all(|b| *b == 0xFF));
    assert_eq!(image.len(), 4096);

    let report = inspect(&image);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.end, 1273);
    assert_eq!(report.records.len(), 1);
    let record = &report.records[0];
    assert_eq!(
        (record.name.as_str(), record.length),
        (CA_RECORD_NAME, 0x4d7)
    );
    let RecordContent::Certificate { encoding, summary } = &record.content else {
        panic!("expected a certificate, got {:?}", record.content);
    };
    assert_eq!(*encoding, Encoding::Der);
    assert!(
        summary
            .subject
            .ends_with("CN=VeriSign Class 3 Public Primary Certification Authority - G5")
    );
    assert!(summary.is_ca);
}

#[test]
fn client_images_for_both_sdk_generations_round_trip() {
    let creds = rsa_credentials();
    let der_cert = creds.certificate.to_der().unwrap();
    let der_key = pki::private_key_der(&creds.key, KeyFormat::Pkcs1).unwrap();
    for (sdk, encoding) in [
        (SdkVersion::V2, Encoding::Der),
        (SdkVersion::V3, Encoding::Pem),
    ] {
        let image = client_image(&creds.certificate, &creds.key, sdk).unwrap();
        assert_eq!(image.len(), 4096);
        let report = inspect(&image);
        assert!(report.warnings.is_empty(), "{sdk:?}: {:?}", report.warnings);
        assert_eq!(report.key_matches_certificate, Some(true));
        let names: Vec<&str> = report.records.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["certificate", "private_key"]);
        assert!(matches!(
            &report.records[1].content,
            RecordContent::PrivateKey { encoding: e, format: KeyFormat::Pkcs1, .. } if *e == encoding
        ));
        if sdk == SdkVersion::V2 {
            assert_eq!(report.records[0].length, der_cert.len());
            assert_eq!(report.records[1].length, der_key.len());
            assert_eq!(report.end, 34 + der_cert.len() + 34 + der_key.len());
        } else {
            let key_text = &image[report.records[1].offset + 34..report.end];
            assert!(key_text.starts_with(b"-----BEGIN RSA PRIVATE KEY-----\n"));
        }
    }
}

#[test]
fn pkcs8_input_key_is_written_as_pkcs1() {
    let creds = credentials(DEVICE_CERT, DEVICE_KEY_PKCS8).unwrap();
    assert_eq!(creds.key_input, (Encoding::Pem, KeyFormat::Pkcs8));
    let image = client_image(&creds.certificate, &creds.key, SdkVersion::V3).unwrap();
    let report = inspect(&image);
    assert!(matches!(
        report.records[1].content,
        RecordContent::PrivateKey {
            format: KeyFormat::Pkcs1,
            ..
        }
    ));
}

#[test]
fn refusals_name_the_problem() {
    let err = credentials(DEVICE_CERT, OTHER_KEY).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the private key private.pem.key does not match the certificate certificate.pem.crt (their public keys differ); use the key that was created together with this certificate"
    );

    let ec = credentials(EC_CERT, EC_KEY).unwrap();
    let plan = NonosPlan {
        sdk: SdkVersion::V2,
        ca_address: 0x79000,
        cert_address: 0x7A000,
        layout: FlashLayout::non_fota(FlashSize::Kb512),
    };
    let err = render(&Target::Esp8266Nonos(plan), &ec)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "certificate.pem.crt: the device certificate (CN=ec-thing) uses an EC P-256 key, but ESP8266 NONOS has no elliptic-curve support; issue an RSA-2048 key and certificate for this device"
    );
    let err = client_image(&ec.certificate, &ec.key, SdkVersion::V2).unwrap_err();
    assert!(
        matches!(err, DeviceImageError::EcUnsupported { .. }),
        "{err}"
    );

    let err = credentials(DEVICE_KEY, DEVICE_KEY).unwrap_err().to_string();
    assert_eq!(
        err,
        "certificate.pem.crt: expected a certificate, found a private key (PKCS#1 RSA)"
    );
}

#[test]
fn nonos_pack_refuses_the_system_parameter_area() {
    let plan = NonosPlan {
        sdk: SdkVersion::V2,
        ca_address: 0x79000,
        cert_address: 0x7E000,
        layout: FlashLayout::non_fota(FlashSize::Kb512),
    };
    let err = render(&Target::Esp8266Nonos(plan), &rsa_credentials())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("esp_cert_private_key.bin: 0x7E000 is inside the SDK system parameter area (0x7D000–0x7FFFF) on a 512 KB module"),
        "{err}"
    );
}

#[test]
fn inspector_warnings() {
    let creds = rsa_credentials();
    let der_cert = creds.certificate.to_der().unwrap();
    let pkcs8 = pki::private_key_pem(&creds.key, KeyFormat::Pkcs8).unwrap();

    // A PKCS#8 key record, and a record that starts late enough to spill into the next sector.
    let mut image = Vec::new();
    encode_record("filler", &vec![0x41; 3500], &mut image).unwrap();
    encode_record("certificate", &der_cert, &mut image).unwrap();
    encode_record("private_key", &pkcs8, &mut image).unwrap();
    let image = pad_to_sector(image);
    let report = inspect(&image);
    assert!(report.warnings.contains(&ImageWarning::Pkcs8Key {
        record: "private_key".to_owned()
    }));
    assert!(report.warnings.iter().any(|w| matches!(
        w,
        ImageWarning::SpillsPastSector { record, .. } if record == "certificate"
    )));
    assert_eq!(report.key_matches_certificate, Some(true));

    // DER length disagreeing with the record, a missing key record, and a mismatched key.
    let mut padded = der_cert.clone();
    padded.extend_from_slice(&[0, 0]);
    let mut image = Vec::new();
    encode_record("certificate", &padded, &mut image).unwrap();
    let report = inspect(&image);
    assert!(report.warnings.contains(&ImageWarning::LengthMismatch {
        record: "certificate".to_owned(),
        der_len: der_cert.len(),
        record_len: der_cert.len() + 2,
    }));
    assert!(report.warnings.contains(&ImageWarning::MissingRecord {
        name: "private_key"
    }));

    let other = pki::load_private_key(OTHER_KEY, "other").unwrap().key;
    let other_der = pki::private_key_der(&other, KeyFormat::Pkcs1).unwrap();
    let mut image = Vec::new();
    encode_record("certificate", &der_cert, &mut image).unwrap();
    encode_record("private_key", &other_der, &mut image).unwrap();
    let report = inspect(&image);
    assert_eq!(report.key_matches_certificate, Some(false));
    assert!(report.warnings.contains(&ImageWarning::KeyMismatch));
    let text = report.to_string();
    assert!(
        text.contains("private_key matches certificate: NO"),
        "{text}"
    );

    // EC material is flagged for NONOS.
    let ec_key = pki::load_private_key(EC_KEY, "ec").unwrap().key;
    let mut image = Vec::new();
    encode_record(
        "private_key",
        &pki::private_key_der(&ec_key, KeyFormat::Sec1).unwrap(),
        &mut image,
    )
    .unwrap();
    let report = inspect(&image);
    assert!(report.warnings.contains(&ImageWarning::EcKey {
        record: "private_key".to_owned(),
        key: "EC P-256".to_owned()
    }));
}

/// Renders a bundle as stable text: text files in full, binary files as length + SHA-256.
fn snapshot_text(bundle: &device_image::Bundle) -> String {
    let mut out = String::new();
    for file in &bundle.files {
        let secret = if file.secret { ", secret" } else { "" };
        match std::str::from_utf8(&file.bytes) {
            Ok(text) if !text.contains('\0') => {
                out.push_str(&format!(
                    "== file {} ({} bytes{secret}) ==\n{text}",
                    file.name,
                    file.bytes.len()
                ));
            }
            _ => out.push_str(&format!(
                "== file {} ({} bytes{secret}, binary, sha256 {}) ==\n",
                file.name,
                file.bytes.len(),
                pki::CertificateId::from_der(&file.bytes)
            )),
        }
    }
    out.push_str("== instructions ==\n");
    out.push_str(&bundle.instructions);
    out
}

fn check_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(
        actual, expected,
        "snapshot {name} differs; run with UPDATE_SNAPSHOTS=1 and review"
    );
}

#[test]
fn target_outputs_match_snapshots() {
    let rsa = rsa_credentials();
    let ec = credentials(EC_CERT, EC_KEY).unwrap();
    let nonos = |sdk| {
        Target::Esp8266Nonos(NonosPlan {
            sdk,
            ca_address: 0x79000,
            cert_address: 0x7A000,
            layout: FlashLayout::non_fota(FlashSize::Kb512),
        })
    };
    let cases = [
        ("esp8266-nonos-sdk2", nonos(SdkVersion::V2), &rsa),
        ("esp8266-nonos-sdk3", nonos(SdkVersion::V3), &rsa),
        ("esp8266-arduino", Target::Esp8266Arduino, &rsa),
        ("esp8266-arduino-ec", Target::Esp8266Arduino, &ec),
        ("esp-idf", Target::EspIdf, &rsa),
        ("c-header", Target::CHeader, &rsa),
        ("der", Target::Der, &rsa),
        ("micropython", Target::MicroPython, &rsa),
    ];
    for (name, target, creds) in cases {
        let bundle = render(&target, creds).unwrap();
        assert!(
            bundle.files.iter().any(|f| f.secret),
            "{name}: the key file is secret"
        );
        check_snapshot(name, &snapshot_text(&bundle));
    }
}

#[test]
fn nonos_pack_files_are_the_images() {
    let creds = rsa_credentials();
    let plan = NonosPlan {
        sdk: SdkVersion::V2,
        ca_address: 0x79000,
        cert_address: 0x7A000,
        layout: FlashLayout::non_fota(FlashSize::Kb512),
    };
    let bundle = esp8266_nonos::pack(&creds, &plan).unwrap();
    assert_eq!(
        bundle.files[0].bytes,
        ca_image(&creds.ca, SdkVersion::V2).unwrap()
    );
    assert_eq!(
        bundle.files[1].bytes,
        client_image(&creds.certificate, &creds.key, SdkVersion::V2).unwrap()
    );
    assert!(bundle.instructions.contains(
        "esptool.py --port /dev/ttyUSB0 write_flash 0x79000 esp_ca_cert.bin 0x7A000 esp_cert_private_key.bin"
    ));
    assert!(
        bundle
            .instructions
            .contains("espconn_secure_ca_enable(ESPCONN_CLIENT, 0x79);")
    );
    assert!(
        bundle
            .instructions
            .contains("espconn_secure_cert_req_enable(ESPCONN_CLIENT, 0x7A);")
    );
    assert!(
        bundle
            .instructions
            .contains("espconn_secure_set_size(ESPCONN_CLIENT, 8192);")
    );
}

/// The seed images in the fuzz corpus were built independently (Python `struct` + the
/// openssl CLI, following make_cert.py); ours must be byte-identical.
#[test]
fn images_match_an_independent_builder() {
    let corpus = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/esp8266_image"
    ));
    let creds = rsa_credentials();
    let g5 = pki::load_certificate(G5_ROOT, "g5.pem")
        .unwrap()
        .certificate;
    assert_eq!(
        ca_image(&g5, SdkVersion::V2).unwrap(),
        std::fs::read(corpus.join("ca_g5_sdk2.bin")).unwrap()
    );
    assert_eq!(
        client_image(&creds.certificate, &creds.key, SdkVersion::V2).unwrap(),
        std::fs::read(corpus.join("client_sdk2.bin")).unwrap()
    );
    let sdk3 = std::fs::read(corpus.join("client_sdk3_pem.bin")).unwrap();
    let ours = client_image(&creds.certificate, &creds.key, SdkVersion::V3).unwrap();
    assert_eq!(&ours[..sdk3.len()], sdk3.as_slice());
    assert!(ours[sdk3.len()..].iter().all(|b| *b == 0xFF));
}

/// Replays the `esp8266_image` fuzz corpus through the inspector the fuzz target calls.
#[test]
fn fuzz_corpus_replays_without_panics() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/esp8266_image"
    ));
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let report = inspect(&bytes);
        let _ = report.to_string();
        count += 1;
    }
    assert!(count >= 4, "expected a seed corpus, found {count} files");
}
