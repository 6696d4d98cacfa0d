//! Integration tests for `pki`: a generated CA issues server and device certificates that verify
//! against it; loaders detect PEM/DER and key formats and name wrong inputs; writers produce
//! 0600 key files; the fuzz seed corpus replays without panics.

use std::net::IpAddr;
use std::path::Path;

use pki::{
    CertificateAuthority, CertificateId, Encoding, KeyAlgorithm, KeyDescription, KeyFormat,
    LeafProfile, PkiError, SubjectAltName, Validity, certificate_der, certificate_pem, create_csr,
    generate_key, key_matches_certificate, load_certificate, load_certificate_chain, load_csr,
    load_private_key, private_key_pem, public_key_der, public_key_pem, summarize, verify_chain,
    write_private_key, write_public_file,
};

fn validity() -> Validity {
    Validity::days_from_now(30)
}

#[test]
fn ca_issues_server_and_client_certificates_that_verify() {
    for algorithm in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcP256] {
        let ca = CertificateAuthority::generate("tether test CA", algorithm, validity()).unwrap();
        let ca_summary = summarize(ca.certificate()).unwrap();
        assert!(ca_summary.is_ca);
        assert!(ca_summary.is_self_issued());
        assert_eq!(ca_summary.subject, "CN=tether test CA");
        let expected_sig = match algorithm {
            KeyAlgorithm::Rsa2048 => "sha256WithRSAEncryption",
            KeyAlgorithm::EcP256 => "ecdsa-with-SHA256",
        };
        assert_eq!(ca_summary.signature_algorithm, expected_sig);

        let server_key = generate_key(KeyAlgorithm::EcP256).unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let server = ca
            .issue_server(&server_key, &["localhost".to_owned()], &[ip], validity())
            .unwrap();
        let s = summarize(&server).unwrap();
        assert_eq!(s.subject, "CN=localhost");
        assert_eq!(s.issuer, "CN=tether test CA");
        assert!(!s.is_ca);
        assert_eq!(
            s.subject_alt_names,
            vec![
                SubjectAltName::Dns("localhost".to_owned()),
                SubjectAltName::Ip(ip)
            ]
        );
        assert_eq!(s.extended_key_usage, vec!["serverAuth".to_owned()]);
        assert_eq!(
            s.key,
            KeyDescription::Ec {
                curve: "P-256".to_owned()
            }
        );
        verify_chain(&server, &[], &[ca.certificate().to_owned()]).unwrap();

        let device_key = generate_key(KeyAlgorithm::Rsa2048).unwrap();
        let device = ca.issue_client("thing-1", &device_key, validity()).unwrap();
        let d = summarize(&device).unwrap();
        assert_eq!(d.subject, "CN=thing-1");
        assert_eq!(d.extended_key_usage, vec!["clientAuth".to_owned()]);
        assert_eq!(d.key, KeyDescription::Rsa { bits: 2048 });
        assert!(d.subject_alt_names.is_empty());
        assert!(key_matches_certificate(&device_key, &device));
        assert!(!key_matches_certificate(&server_key, &device));
        verify_chain(&device, &[], &[ca.certificate().to_owned()]).unwrap();
        assert_ne!(s.serial, d.serial, "serials are random");
    }
}

#[test]
fn certificate_from_another_ca_does_not_verify() {
    let ca = CertificateAuthority::generate("A", KeyAlgorithm::EcP256, validity()).unwrap();
    let other = CertificateAuthority::generate("B", KeyAlgorithm::EcP256, validity()).unwrap();
    let key = generate_key(KeyAlgorithm::EcP256).unwrap();
    let cert = other.issue_client("d", &key, validity()).unwrap();
    let err = verify_chain(&cert, &[], &[ca.certificate().to_owned()]).unwrap_err();
    assert!(err.to_string().contains("issuer"), "{err}");
}

#[test]
fn summary_validity_is_exact() {
    let window = Validity {
        not_before: 1_700_000_000,
        not_after: 1_700_000_000 + 86_400,
    };
    let ca = CertificateAuthority::generate("V", KeyAlgorithm::EcP256, window).unwrap();
    let s = summarize(ca.certificate()).unwrap();
    assert_eq!(s.not_before, 1_700_000_000);
    assert_eq!(s.not_after, 1_700_086_400);
    assert_eq!(s.not_before_rfc3339, "2023-11-14T22:13:20Z");
    assert_eq!(s.not_after_rfc3339, "2023-11-15T22:13:20Z");
    assert!(s.serial.len() <= 40);
    assert!(
        s.serial
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
}

#[test]
fn csr_is_signed_with_its_subject() {
    let ca = CertificateAuthority::generate("CA", KeyAlgorithm::Rsa2048, validity()).unwrap();
    let key = generate_key(KeyAlgorithm::Rsa2048).unwrap();
    let csr = create_csr(&key, "from-csr").unwrap();
    let pem_text = csr.to_pem().unwrap();
    let loaded = load_csr(&pem_text, "req.pem").unwrap();
    assert_eq!(loaded.encoding, Encoding::Pem);
    let loaded_der = load_csr(&csr.to_der().unwrap(), "req.der").unwrap();
    assert_eq!(loaded_der.encoding, Encoding::Der);
    let cert = ca
        .sign_csr(&loaded.request, &LeafProfile::Client, validity())
        .unwrap();
    assert_eq!(summarize(&cert).unwrap().subject, "CN=from-csr");
    assert!(key_matches_certificate(&key, &cert));
    verify_chain(&cert, &[], &[ca.certificate().to_owned()]).unwrap();
}

#[test]
fn certificate_detection_pem_and_der_both_ways() {
    let ca = CertificateAuthority::generate("CA", KeyAlgorithm::EcP256, validity()).unwrap();
    let pem_bytes = certificate_pem(ca.certificate()).unwrap();
    let der_bytes = certificate_der(ca.certificate()).unwrap();
    let from_pem = load_certificate(&pem_bytes, "ca.pem").unwrap();
    let from_der = load_certificate(&der_bytes, "ca.der").unwrap();
    assert_eq!(from_pem.encoding, Encoding::Pem);
    assert_eq!(from_der.encoding, Encoding::Der);
    assert_eq!(
        from_pem.certificate.to_der().unwrap(),
        from_der.certificate.to_der().unwrap()
    );

    let mut bundle = pem_bytes.clone();
    bundle.extend_from_slice(b"# comment between blocks\n");
    bundle.extend_from_slice(&pem_bytes);
    let (chain, encoding) = load_certificate_chain(&bundle, "bundle.pem").unwrap();
    assert_eq!((chain.len(), encoding), (2, Encoding::Pem));
    let mut two_der = der_bytes.clone();
    two_der.extend_from_slice(&der_bytes);
    let (chain, encoding) = load_certificate_chain(&two_der, "two.der").unwrap();
    assert_eq!((chain.len(), encoding), (2, Encoding::Der));
}

#[test]
fn wrong_kind_errors_name_the_file_and_what_was_found() {
    let ca = CertificateAuthority::generate("CA", KeyAlgorithm::Rsa2048, validity()).unwrap();
    let cert_pem = certificate_pem(ca.certificate()).unwrap();
    let err = load_private_key(&cert_pem, "devices/x/private.pem.key").unwrap_err();
    assert_eq!(
        err.to_string(),
        "devices/x/private.pem.key: expected a private key, found a certificate"
    );
    let key_pem = private_key_pem(ca.key(), KeyFormat::Pkcs1).unwrap();
    let err = load_certificate(&key_pem, "devices/x/certificate.pem.crt").unwrap_err();
    assert_eq!(
        err.to_string(),
        "devices/x/certificate.pem.crt: expected a certificate, found a private key (PKCS#1 RSA)"
    );
    let pub_der = public_key_der(ca.key()).unwrap();
    let err = load_certificate(&pub_der, "pub.der").unwrap_err();
    assert_eq!(
        err.to_string(),
        "pub.der: expected a certificate, found a public key"
    );
    let pub_pem = public_key_pem(ca.key()).unwrap();
    let err = load_private_key(&pub_pem, "public.pem.key").unwrap_err();
    assert_eq!(
        err.to_string(),
        "public.pem.key: expected a private key, found a public key"
    );
    let csr = create_csr(ca.key(), "x").unwrap().to_der().unwrap();
    let err = load_certificate(&csr, "x.csr").unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.csr: expected a certificate, found a certificate signing request"
    );
    let err = load_csr(&cert_pem, "ca.pem").unwrap_err();
    assert!(matches!(err, PkiError::WrongKind { .. }));
}

#[test]
fn ca_from_parts_refuses_mismatch_and_non_ca() {
    let ca = CertificateAuthority::generate("CA", KeyAlgorithm::EcP256, validity()).unwrap();
    let other_key = generate_key(KeyAlgorithm::EcP256).unwrap();
    let err = CertificateAuthority::from_parts(ca.certificate().to_owned(), other_key.clone())
        .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    let leaf = ca.issue_client("leaf", &other_key, validity()).unwrap();
    let err = CertificateAuthority::from_parts(leaf, other_key).unwrap_err();
    assert!(err.to_string().contains("not marked as a CA"), "{err}");
    let again =
        CertificateAuthority::from_parts(ca.certificate().to_owned(), ca.key().to_owned()).unwrap();
    assert_eq!(
        CertificateId::of(again.certificate()).unwrap(),
        CertificateId::of(ca.certificate()).unwrap()
    );
}

#[test]
fn pkcs1_refused_for_ec_keys_with_advice() {
    let ec = generate_key(KeyAlgorithm::EcP256).unwrap();
    let err = private_key_pem(&ec, KeyFormat::Pkcs1)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "a PKCS#1 private key encoding needs an RSA key, but this is an EC P-256 key; use PKCS#8 or SEC1"
    );
    let rsa = generate_key(KeyAlgorithm::Rsa2048).unwrap();
    let text = String::from_utf8(private_key_pem(&rsa, KeyFormat::Pkcs1).unwrap()).unwrap();
    assert!(text.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    let text = String::from_utf8(private_key_pem(&rsa, KeyFormat::Pkcs8).unwrap()).unwrap();
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let text = String::from_utf8(private_key_pem(&ec, KeyFormat::Sec1).unwrap()).unwrap();
    assert!(text.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
}

#[test]
fn certificate_id_is_sha256_of_der() {
    let ca = CertificateAuthority::generate("CA", KeyAlgorithm::EcP256, validity()).unwrap();
    let der_bytes = certificate_der(ca.certificate()).unwrap();
    let expected: String = ca
        .certificate()
        .digest(openssl::hash::MessageDigest::sha256())
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let id = CertificateId::from_der(&der_bytes);
    assert_eq!(id.as_str(), expected);
    assert_eq!(summarize(ca.certificate()).unwrap().id, id);
    assert_eq!(expected.parse::<CertificateId>().unwrap(), id);
}

#[cfg(unix)]
#[test]
fn private_key_files_are_0600_even_when_replacing_a_wider_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private.pem.key");
    write_private_key(&path, b"secret").unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let wide = dir.path().join("old.key");
    std::fs::write(&wide, b"old contents that are longer").unwrap();
    std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o644)).unwrap();
    write_private_key(&wide, b"new").unwrap();
    assert_eq!(
        std::fs::metadata(&wide).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read(&wide).unwrap(), b"new");

    let public = dir.path().join("cert.pem");
    write_public_file(&public, b"cert").unwrap();
    assert_eq!(std::fs::read(&public).unwrap(), b"cert");

    let err = write_private_key(&dir.path().join("missing/dir/k.pem"), b"x").unwrap_err();
    assert!(
        err.to_string().contains("missing/dir/k.pem: cannot create"),
        "{err}"
    );
}

/// Replays the `pem_der_load` fuzz corpus through the same loaders the fuzz target calls.
#[test]
fn fuzz_corpus_replays_without_panics() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/pem_der_load"
    ));
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let _ = load_certificate(&bytes, "fuzz");
        let _ = load_certificate_chain(&bytes, "fuzz");
        let _ = load_private_key(&bytes, "fuzz");
        let _ = load_csr(&bytes, "fuzz");
        let _ = pki::identify(&bytes);
        if let Ok(loaded) = load_certificate(&bytes, "fuzz") {
            summarize(&loaded.certificate).unwrap();
        }
        count += 1;
    }
    assert!(count >= 5, "expected a seed corpus, found {count} files");
}
