//! Credential fixtures for every finding of `doctor creds`, generated here with OpenSSL (keys,
//! self-signed roots named like the AWS roots, leaves with chosen validity, digest and key),
//! plus the registry check against a real `store` database. No network.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use doctor::{CredentialFile, CredsInput, Finding, Report, Severity, check_credentials};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::BasicConstraints;
use openssl::x509::{X509, X509Name};
use pki::KeyFormat;

const DAY: i64 = 86_400;
/// A fixed "now" (2030-01-01) so validity findings do not drift.
const NOW: i64 = 1_893_456_000;

fn rsa(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
}

fn ec(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

fn name(entries: &[(Nid, &str)]) -> X509Name {
    let mut b = X509Name::builder().unwrap();
    for (nid, value) in entries {
        b.append_entry_by_nid(*nid, value).unwrap();
    }
    b.build()
}

struct Spec<'a> {
    subject: X509Name,
    issuer: Option<(&'a X509, &'a PKey<Private>)>,
    key: &'a PKey<Private>,
    not_before: i64,
    not_after: i64,
    digest: MessageDigest,
    ca: bool,
}

fn issue(spec: Spec<'_>) -> X509 {
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&spec.subject).unwrap();
    match spec.issuer {
        Some((cert, _)) => b.set_issuer_name(cert.subject_name()).unwrap(),
        None => b.set_issuer_name(&spec.subject).unwrap(),
    }
    b.set_pubkey(spec.key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(spec.not_before).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(spec.not_after).unwrap())
        .unwrap();
    if spec.ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
    }
    let signer = spec.issuer.map_or(spec.key, |(_, k)| k);
    b.sign(signer, spec.digest).unwrap();
    b.build()
}

fn root(subject: X509Name, key: &PKey<Private>) -> X509 {
    issue(Spec {
        subject,
        issuer: None,
        key,
        not_before: NOW - 3000 * DAY,
        not_after: NOW + 3000 * DAY,
        digest: MessageDigest::sha256(),
        ca: true,
    })
}

/// A local CA, and a device certificate issued by it 1000 days before NOW.
struct Fixture {
    ca: X509,
    ca_key: PKey<Private>,
    key: PKey<Private>,
    cert: X509,
}

fn fixture() -> Fixture {
    let ca_key = rsa(2048);
    let ca = root(name(&[(Nid::COMMONNAME, "test local CA")]), &ca_key);
    let key = rsa(2048);
    let cert = leaf(&ca, &ca_key, &key, NOW - 1000 * DAY, NOW + 1000 * DAY);
    Fixture {
        ca,
        ca_key,
        key,
        cert,
    }
}

fn leaf(
    ca: &X509,
    ca_key: &PKey<Private>,
    key: &PKey<Private>,
    not_before: i64,
    not_after: i64,
) -> X509 {
    issue(Spec {
        subject: name(&[(Nid::COMMONNAME, "device-1")]),
        issuer: Some((ca, ca_key)),
        key,
        not_before,
        not_after,
        digest: MessageDigest::sha256(),
        ca: false,
    })
}

fn file(name: &str, bytes: Vec<u8>) -> CredentialFile {
    CredentialFile::new(name, bytes)
}

fn pem(cert: &X509) -> Vec<u8> {
    cert.to_pem().unwrap()
}

fn key_pem(key: &PKey<Private>) -> Vec<u8> {
    pki::private_key_pem(key, pki::traditional_format(key)).unwrap()
}

fn input(f: &Fixture) -> CredsInput {
    CredsInput {
        ca: Some(file("root-ca.pem", pem(&f.ca))),
        certificate: file("cert.pem", pem(&f.cert)),
        key: Some(file("key.pem", key_pem(&f.key))),
        endpoint: None,
        profile: None,
        data_dir: None,
        now: NOW,
    }
}

/// The one finding whose `what` contains `needle`.
fn find<'r>(report: &'r Report, needle: &str) -> &'r Finding {
    let hits: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.what.contains(needle))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one finding containing {needle:?} in:\n{:#?}",
        report.findings
    );
    hits[0]
}

fn nothing_contains(report: &Report, needle: &str) {
    assert!(
        report.findings.iter().all(|f| !f.what.contains(needle)),
        "unexpected {needle:?} in {:#?}",
        report.findings
    );
}

#[test]
fn a_good_set_has_only_information_and_names_formats() {
    let f = fixture();
    let report = check_credentials(&input(&f));
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert!(report.root_cause.is_none());
    assert!(
        find(&report, "cert.pem: PEM certificate for CN=device-1")
            .why
            .contains("want DER")
    );
    assert_eq!(
        find(&report, "PEM PKCS#1 RSA-2048 private key").severity,
        Severity::Info
    );
    assert!(
        find(&report, "root-ca.pem: PEM, 1 CA certificate")
            .what
            .contains("CN=test local CA")
    );
    find(&report, "key.pem is the private key of cert.pem");
    find(&report, "the certificate chains to root-ca.pem");
    find(&report, "the certificate is valid now");
    // The device certificate's own old notBefore earns no remark; the CA's start says when an
    // unset device clock matters.
    assert!(
        find(&report, "the newest CA certificate starts at")
            .why
            .contains("1970")
    );
    find(&report, "the certificate's key is RSA-2048");
    find(&report, "signed with sha256WithRSAEncryption");
}

#[test]
fn der_certificate_and_pkcs8_sec1_keys_are_named_with_what_sdks_expect() {
    let f = fixture();
    let mut i = input(&f);
    i.certificate = file("cert.der", f.cert.to_der().unwrap());
    i.key = Some(file(
        "key.p8",
        pki::private_key_pem(&f.key, KeyFormat::Pkcs8).unwrap(),
    ));
    let report = check_credentials(&i);
    assert!(
        find(&report, "cert.der: DER certificate")
            .fix
            .contains("-inform DER")
    );
    let p8 = find(&report, "PEM PKCS#8 RSA-2048 private key");
    assert_eq!(p8.severity, Severity::Info);
    assert!(p8.fix.contains("-traditional"), "{p8:?}");
    // The same PKCS#8 key for an ESP8266 NONOS libssl device is a warning.
    i.profile = tls::DeviceProfile::by_name("esp8266-nonos-axtls").ok();
    let report = check_credentials(&i);
    assert_eq!(find(&report, "PKCS#8").severity, Severity::Warning);

    let ec_key = ec(Nid::X9_62_PRIME256V1);
    let mut i = input(&f);
    i.key = Some(file(
        "ec.der",
        pki::private_key_der(&ec_key, KeyFormat::Sec1).unwrap(),
    ));
    let report = check_credentials(&i);
    assert!(
        find(&report, "ec.der: DER SEC1 EC P-256 private key")
            .why
            .contains("NONOS")
    );
    assert_eq!(
        find(&report, "does not belong to cert.pem").severity,
        Severity::Error
    );
}

#[test]
fn wrong_and_unreadable_files_are_errors_that_name_the_file() {
    let f = fixture();
    let mut i = input(&f);
    i.certificate = file("swapped.pem", key_pem(&f.key));
    i.key = Some(file("garbage.key", b"hello, not a key".to_vec()));
    let report = check_credentials(&i);
    let swapped = find(
        &report,
        "swapped.pem: expected a certificate, found a private key",
    );
    assert_eq!(swapped.severity, Severity::Error);
    assert!(
        find(&report, "garbage.key: not a PEM or DER file")
            .why
            .contains("not a PEM file")
    );
    assert_eq!(report.root_cause.as_ref().unwrap().what, swapped.what);
    assert!(!report.is_clean());
}

#[test]
fn key_mismatch_is_an_error() {
    let f = fixture();
    let mut i = input(&f);
    i.key = Some(file("other.key", key_pem(&rsa(2048))));
    let report = check_credentials(&i);
    let m = find(&report, "other.key does not belong to cert.pem");
    assert_eq!(m.severity, Severity::Error);
    assert!(m.why.contains("decrypt_error"));
}

#[test]
fn a_certificate_from_another_ca_names_its_issuer() {
    let f = fixture();
    let other_key = rsa(2048);
    let other = root(name(&[(Nid::COMMONNAME, "someone else's CA")]), &other_key);
    let mut i = input(&f);
    i.ca = Some(file("other-ca.pem", pem(&other)));
    let report = check_credentials(&i);
    let c = find(&report, "does not chain to other-ca.pem");
    assert_eq!(c.severity, Severity::Warning);
    assert!(c.what.contains("issued by CN=test local CA"), "{c:?}");
    // Without a CA file the issuer is still named.
    i.ca = None;
    let report = check_credentials(&i);
    find(&report, "cert.pem was issued by CN=test local CA");
}

#[test]
fn an_aws_issued_certificate_not_chaining_to_amazon_root_is_normal() {
    let aws_key = rsa(2048);
    let aws_ca = root(
        name(&[
            (Nid::ORGANIZATIONALUNITNAME, "Amazon Web Services"),
            (Nid::ORGANIZATIONNAME, "Amazon.com Inc."),
            (Nid::LOCALITYNAME, "Seattle"),
            (Nid::STATEORPROVINCENAME, "Washington"),
            (Nid::COUNTRYNAME, "US"),
        ]),
        &aws_key,
    );
    let key = rsa(2048);
    let cert = leaf(&aws_ca, &aws_key, &key, NOW - 10 * DAY, NOW + 5000 * DAY);
    let amazon_key = rsa(2048);
    let amazon1 = root(
        name(&[
            (Nid::COUNTRYNAME, "US"),
            (Nid::ORGANIZATIONNAME, "Amazon"),
            (Nid::COMMONNAME, "Amazon Root CA 1"),
        ]),
        &amazon_key,
    );
    let mut i = CredsInput {
        ca: Some(file("AmazonRootCA1.pem", pem(&amazon1))),
        certificate: file("xxx-certificate.pem.crt", pem(&cert)),
        key: Some(file("xxx-private.pem.key", key_pem(&key))),
        endpoint: Some("a1b2c3-ats.iot.eu-west-1.amazonaws.com:8883".into()),
        profile: None,
        data_dir: None,
        now: NOW,
    };
    let report = check_credentials(&i);
    let issued = find(&report, "was issued by AWS IoT");
    assert_eq!(issued.severity, Severity::Info);
    assert!(issued.why.contains("registry"));
    // The generated root only imitates Amazon Root CA 1's name.
    let same = find(&report, "named Amazon Root CA 1 whose fingerprint");
    assert!(
        same.why
            .contains("8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e")
    );
    assert_eq!(
        find(&report, "holds Amazon Root CA 1, which signs").severity,
        Severity::Info
    );
    // A recent notBefore is fine for the device's own certificate; the CA's start date says
    // when an unset device clock matters, and is a warning only for a stack that checks dates.
    assert_eq!(
        find(&report, "is recent, which is fine").severity,
        Severity::Info
    );
    let clock = find(&report, "the newest CA certificate starts at");
    assert_eq!(clock.severity, Severity::Info);
    assert!(
        clock.why.contains("before its clock is set"),
        "{}",
        clock.why
    );
    for (profile, severity) in [
        ("esp8266-arduino-bearssl", Severity::Warning),
        ("esp8266-nonos-mbedtls", Severity::Info),
    ] {
        i.profile = Some(tls::DeviceProfile::by_name(profile).unwrap());
        let report = check_credentials(&i);
        let clock = find(&report, "the newest CA certificate starts at");
        assert_eq!(clock.severity, severity, "{profile}: {}", clock.why);
        assert!(clock.why.contains(profile), "{}", clock.why);
    }
}

#[test]
fn validity_findings() {
    let f = fixture();
    let cases: [(i64, i64, &str, Severity); 4] = [
        (NOW + DAY, NOW + 100 * DAY, "not valid yet", Severity::Error),
        (
            NOW - 100 * DAY,
            NOW - DAY,
            "the certificate expired at",
            Severity::Error,
        ),
        (
            NOW - 100 * DAY,
            NOW + 10 * DAY,
            "expires in 10 day(s)",
            Severity::Warning,
        ),
        (
            NOW - 100 * DAY,
            NOW + 100 * DAY,
            "the certificate is valid now",
            Severity::Info,
        ),
    ];
    for (nb, na, needle, severity) in cases {
        let mut i = input(&f);
        let cert = leaf(&f.ca, &f.ca_key, &f.key, nb, na);
        i.certificate = file("cert.pem", pem(&cert));
        let report = check_credentials(&i);
        assert_eq!(find(&report, needle).severity, severity, "{needle}");
    }
}

#[test]
fn key_types_and_sizes_against_aws_and_device_stacks() {
    let f = fixture();
    let nonos = tls::DeviceProfile::by_name("esp8266-nonos-mbedtls").ok();
    let cases: [(
        PKey<Private>,
        Option<&'static tls::DeviceProfile>,
        &str,
        Severity,
    ); 5] = [
        (
            rsa(1024),
            None,
            "RSA-1024: too small for AWS IoT",
            Severity::Error,
        ),
        (
            ec(Nid::X9_62_PRIME256V1),
            None,
            "key is EC P-256",
            Severity::Info,
        ),
        (
            ec(Nid::SECP384R1),
            nonos,
            "EC P-384, and esp8266-nonos-mbedtls has no ECC",
            Severity::Error,
        ),
        (
            ec(Nid::SECP521R1),
            None,
            "key is EC P-521",
            Severity::Warning,
        ),
        (
            ec(Nid::SECP256K1),
            None,
            "which AWS IoT does not accept",
            Severity::Error,
        ),
    ];
    for (key, profile, needle, severity) in cases {
        let mut i = input(&f);
        let cert = leaf(&f.ca, &f.ca_key, &key, NOW - 1000 * DAY, NOW + 1000 * DAY);
        i.certificate = file("cert.pem", pem(&cert));
        i.key = Some(file("key.pem", key_pem(&key)));
        i.profile = profile;
        let report = check_credentials(&i);
        let finding = find(&report, needle);
        assert_eq!(finding.severity, severity, "{needle}: {finding:?}");
    }
    // Without a profile, the EC finding still warns that NONOS cannot use it.
    let key = ec(Nid::X9_62_PRIME256V1);
    let mut i = input(&f);
    i.certificate = file(
        "cert.pem",
        pem(&leaf(
            &f.ca,
            &f.ca_key,
            &key,
            NOW - 1000 * DAY,
            NOW + DAY * 1000,
        )),
    );
    assert!(
        find(&check_credentials(&i), "key is EC P-256")
            .why
            .contains("ESP8266 NONOS")
    );
}

#[test]
fn sha1_signatures_are_refused() {
    let f = fixture();
    let cert = issue(Spec {
        subject: name(&[(Nid::COMMONNAME, "old-device")]),
        issuer: Some((&f.ca, &f.ca_key)),
        key: &f.key,
        not_before: NOW - 1000 * DAY,
        not_after: NOW + 1000 * DAY,
        digest: MessageDigest::sha1(),
        ca: false,
    });
    let mut i = input(&f);
    i.certificate = file("sha1.pem", pem(&cert));
    let report = check_credentials(&i);
    let s = find(&report, "signed with sha1WithRSAEncryption");
    assert_eq!(s.severity, Severity::Error);
    assert!(s.fix.contains("SHA-256"));
}

fn named_root(cn: &str) -> X509 {
    let key = rsa(2048);
    let subject = match cn {
        "G5" => name(&[
            (Nid::COUNTRYNAME, "US"),
            (Nid::ORGANIZATIONNAME, "VeriSign, Inc."),
            (Nid::ORGANIZATIONALUNITNAME, "VeriSign Trust Network"),
            (
                Nid::ORGANIZATIONALUNITNAME,
                "(c) 2006 VeriSign, Inc. - For authorized use only",
            ),
            (
                Nid::COMMONNAME,
                "VeriSign Class 3 Public Primary Certification Authority - G5",
            ),
        ]),
        cn => name(&[
            (Nid::COUNTRYNAME, "US"),
            (Nid::ORGANIZATIONNAME, "Amazon"),
            (Nid::COMMONNAME, cn),
        ]),
    };
    root(subject, &key)
}

#[test]
fn the_ca_must_fit_the_endpoint() {
    let f = fixture();
    let cases = [
        (
            "G5",
            "abc-ats.iot.us-east-1.amazonaws.com",
            "holds the VeriSign Class 3 G5 root, but",
            Severity::Error,
        ),
        (
            "Amazon Root CA 1",
            "abc.iot.us-east-1.amazonaws.com",
            "does not hold the VeriSign Class 3 G5 root",
            Severity::Error,
        ),
        (
            "G5",
            "abc.iot.us-east-1.amazonaws.com:8883",
            "which fits the legacy endpoint",
            Severity::Warning,
        ),
        (
            "Amazon Root CA 3",
            "abc-ats.iot.us-east-1.amazonaws.com",
            "holds Amazon Root CA 3 but not",
            Severity::Warning,
        ),
        (
            "Amazon Root CA 1",
            "localhost:8883",
            "is not an AWS IoT endpoint",
            Severity::Warning,
        ),
        (
            "Amazon Root CA 2",
            "abc-ats.iot.us-east-1.amazonaws.com",
            "holds no Amazon Trust Services root",
            Severity::Error,
        ),
    ];
    for (root_name, endpoint, needle, severity) in cases {
        let mut i = input(&f);
        i.ca = Some(file("ca.pem", pem(&named_root(root_name))));
        i.endpoint = Some(endpoint.into());
        let report = check_credentials(&i);
        assert_eq!(
            find(&report, needle).severity,
            severity,
            "{root_name} vs {endpoint}"
        );
    }
    // Only Amazon Root CA 3 (ECC) for a device without ECC cannot work.
    let mut i = input(&f);
    i.ca = Some(file("ca.pem", pem(&named_root("Amazon Root CA 3"))));
    i.endpoint = Some("abc-ats.iot.us-east-1.amazonaws.com".into());
    i.profile = tls::DeviceProfile::by_name("esp8266-nonos-mbedtls").ok();
    let report = check_credentials(&i);
    assert_eq!(find(&report, "has no ECC").severity, Severity::Error);
    // Port 443 without ALPN on such a device.
    i.endpoint = Some("abc-ats.iot.us-east-1.amazonaws.com:443".into());
    let report = check_credentials(&i);
    assert_eq!(
        find(&report, "needs ALPN x-amzn-mqtt-ca").severity,
        Severity::Error
    );
    // A local CA for a local broker is fine.
    let mut i = input(&f);
    i.endpoint = Some("localhost".into());
    let report = check_credentials(&i);
    assert!(report.is_clean(), "{:#?}", report.findings);
    nothing_contains(&report, "VeriSign");
}

#[test]
fn registry_status_from_a_tether_data_dir() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let mut i = input(&f);
    i.data_dir = Some(dir.path().to_owned());
    // No database: an error, and none is created.
    let report = check_credentials(&i);
    assert!(
        find(&report, "tether.db does not exist")
            .fix
            .contains("--data-dir")
    );
    assert!(!dir.path().join("tether.db").exists());

    let mut store = store::Store::open(dir.path().join("tether.db")).unwrap();
    let report = check_credentials(&i);
    let id = pki::CertificateId::of(&f.cert).unwrap();
    assert_eq!(
        find(&report, "is not registered in").severity,
        Severity::Error
    );

    store
        .register_certificate(
            &store::NewCertificate {
                id: id.to_string(),
                pem: String::from_utf8(pem(&f.cert)).unwrap(),
                status: store::CertificateStatus::Inactive,
                ca_certificate_id: None,
                mode: store::CertificateMode::SniOnly,
                owned_by: "123456789012".into(),
                not_before_ms: (NOW - 1000 * DAY) * 1000,
                not_after_ms: (NOW + 1000 * DAY) * 1000,
            },
            NOW * 1000,
        )
        .unwrap();
    let report = check_credentials(&i);
    let inactive = find(&report, "is registered but INACTIVE");
    assert!(inactive.fix.contains("update-certificate"));
    assert_eq!(
        find(&report, "no policy is attached").severity,
        Severity::Warning
    );

    // A policy of the thing's group counts, for the client id that is the thing's name.
    let arn = format!("arn:aws:iot:us-east-1:123456789012:cert/{id}");
    store
        .create_thing(
            &store::NewThing {
                name: "sensor".into(),
                ..Default::default()
            },
            [1; 16],
            NOW * 1000,
        )
        .unwrap();
    store.attach_thing_principal("sensor", &arn, false).unwrap();
    let group = store::NewThingGroup {
        name: "plant".into(),
        ..Default::default()
    };
    store
        .create_thing_group(&group, [2; 16], NOW * 1000)
        .unwrap();
    store
        .add_thing_to_thing_group("plant", "sensor", [3; 16], NOW * 1000)
        .unwrap();
    store
        .create_policy(
            "plant-policy",
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            NOW * 1000,
        )
        .unwrap();
    store
        .attach_policy(
            "plant-policy",
            "arn:aws:iot:us-east-1:123456789012:thinggroup/plant",
        )
        .unwrap();
    let report = check_credentials(&i);
    find(
        &report,
        "policies from thing groups: plant-policy (thing group plant, for client id sensor)",
    );
    nothing_contains(&report, "no policy is attached");

    store
        .set_certificate_status(
            &id.to_string(),
            store::CertificateStatus::Active,
            NOW * 1000,
        )
        .unwrap();
    store
        .create_policy(
            "allow-all",
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            NOW * 1000,
        )
        .unwrap();
    store
        .attach_policy(
            "allow-all",
            &format!("arn:aws:iot:us-east-1:123456789012:cert/{id}"),
        )
        .unwrap();
    let report = check_credentials(&i);
    find(&report, "is registered and ACTIVE");
    find(&report, "attached policies: allow-all");
    assert!(report.is_clean(), "{:#?}", report.findings);
}
