//! Real OpenSSL handshakes on 127.0.0.1:0 between a client making a specific offer and a server
//! under each AWS IoT security policy: accepted vs refused as the policy table says, the alert
//! the client sees, and the `explain` prediction from the parsed ClientHello agreeing with
//! what OpenSSL actually did.

// A test binary: helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::OnceLock;
use std::thread;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::Ssl;
use openssl::x509::extension::BasicConstraints;
use openssl::x509::{X509, X509NameBuilder};
use tls::client_validity::{self, OutOfDate};
use tls::context::{
    ClientAuth, ClientContext, ClientOptions, Identity, ServerOptions, Trust, server_acceptor,
};
use tls::{
    ClientCertificate, DeviceProfile, HelloOptions, Listener, PROFILES, Progress, ProtocolVersion,
    SecurityPolicy, explain,
};

struct Pki {
    ca: X509,
    server_rsa: Identity,
    server_ec: Identity,
    client: Identity,
}

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn cert(cn: &str, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    match issuer {
        Some((ca, ca_key)) => {
            b.set_issuer_name(ca.subject_name()).unwrap();
            b.sign(ca_key, MessageDigest::sha256()).unwrap();
        }
        None => {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.set_issuer_name(&name).unwrap();
            b.sign(key, MessageDigest::sha256()).unwrap();
        }
    }
    b.build()
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca_key = ec_key();
        let ca = cert("tether test CA", &ca_key, None);
        let identity = |cn: &str, key: PKey<Private>| Identity {
            certificate: cert(cn, &key, Some((&ca, &ca_key))),
            chain: Vec::new(),
            key,
        };
        let server_rsa = identity("localhost", rsa_key());
        let server_ec = identity("localhost", ec_key());
        let client = identity("device-1", ec_key());
        Pki {
            ca,
            server_rsa,
            server_ec,
            client,
        }
    })
}

/// What the client offers.
#[derive(Clone, Default)]
struct Offer {
    min: Option<ProtocolVersion>,
    max: Option<ProtocolVersion>,
    tls12: Option<&'static str>,
    tls13: Option<&'static str>,
    alpn: Vec<String>,
    no_client_cert: bool,
}

fn v12(ciphers: &'static str) -> Offer {
    Offer {
        min: Some(ProtocolVersion::TLS12),
        max: Some(ProtocolVersion::TLS12),
        tls12: Some(ciphers),
        ..Offer::default()
    }
}

fn v13(suites: &'static str) -> Offer {
    Offer {
        min: Some(ProtocolVersion::TLS13),
        max: Some(ProtocolVersion::TLS13),
        tls13: Some(suites),
        ..Offer::default()
    }
}

struct Outcome {
    server: Result<(String, String, Option<String>), String>,
    client: Result<(), String>,
    predicted: tls::Verdict,
}

/// Runs one handshake; the server peeks the ClientHello first and asks `explain` for a
/// prediction, marks a hello that shares nothing with the policy as `tether serve` does, then
/// lets OpenSSL decide.
fn handshake(options: ServerOptions, offer: &Offer) -> Outcome {
    handshake_marking(options, offer, true)
}

/// [`handshake`], with the marking of hellos that share nothing optional.
fn handshake_marking(options: ServerOptions, offer: &Offer, mark: bool) -> Outcome {
    let acceptor = server_acceptor(&options).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let policy_listener = Listener {
        policy: options.policy,
        port: options.port,
        required_alpn: if options.alpn_required {
            options.alpn.clone()
        } else {
            Vec::new()
        },
        ..Listener::default()
    };
    let client_cert = if offer.no_client_cert && options.client_auth == ClientAuth::Require {
        ClientCertificate::NotSent
    } else {
        ClientCertificate::Accepted
    };
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        let hello = loop {
            let n = stream.peek(&mut buf).unwrap();
            match tls::parse_client_hello(&buf[..n]).unwrap() {
                Progress::Complete { hello, .. } => break hello,
                Progress::Incomplete { .. } => continue,
            }
        };
        let predicted = explain(&hello, &policy_listener, Some(&client_cert));
        let mut ssl = Ssl::new(acceptor.context()).unwrap();
        if let Some(refusal) = predicted.refusals.first().filter(|r| r.shares_nothing())
            && mark
        {
            assert!(tls::hello_refusal::refuse(&mut ssl, refusal.alert()));
        }
        let result = ssl
            .accept(stream)
            .map(|s| {
                let ssl = s.ssl();
                (
                    ssl.version_str().to_owned(),
                    ssl.current_cipher()
                        .map(|c| c.name().to_owned())
                        .unwrap_or_default(),
                    ssl.selected_alpn_protocol()
                        .map(|p| String::from_utf8_lossy(p).into_owned()),
                )
            })
            .map_err(|e| e.to_string());
        (result, predicted)
    });
    let ctx = ClientContext::new(&ClientOptions {
        trust: Trust::CaPem(pki().ca.to_pem().unwrap()),
        identity: (!offer.no_client_cert).then(|| pki().client.clone()),
        server_name: Some("localhost".into()),
        alpn: offer.alpn.clone(),
        min_version: offer.min,
        max_version: offer.max,
        tls12_ciphers: offer.tls12.map(str::to_owned),
        tls13_suites: offer.tls13.map(str::to_owned),
        groups: None,
        security_level: None,
    })
    .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    let client = ctx.ssl().unwrap().connect(tcp);
    let (server, predicted) = server.join().unwrap();
    let client = match client {
        Ok(_stream) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    Outcome {
        server,
        client,
        predicted,
    }
}

fn server(policy: &str) -> ServerOptions {
    ServerOptions {
        policy: SecurityPolicy::by_name(policy).unwrap(),
        identities: vec![pki().server_rsa.clone(), pki().server_ec.clone()],
        ..ServerOptions::default()
    }
}

fn ports(policy: &str, port: u16) -> ServerOptions {
    ServerOptions {
        port: Some(port),
        ..server(policy)
    }
}

/// (label, server, offer, expected cipher when accepted or None when refused)
#[test]
fn policy_matrix() {
    let tls11 = Offer {
        min: Some(ProtocolVersion::TLS11),
        max: Some(ProtocolVersion::TLS11),
        tls12: Some("AES128-SHA"),
        ..Offer::default()
    };
    let cases: Vec<(&str, ServerOptions, Offer, Option<&str>)> = vec![
        (
            "tls1.1 vs default",
            server("TLS13_1_2_2022_10"),
            tls11.clone(),
            None,
        ),
        (
            "tls1.1 vs 1_3",
            server("TLS13_1_3_2022_10"),
            tls11.clone(),
            None,
        ),
        (
            "tls1.1 vs 12_2022",
            server("TLS12_1_2_2022_10"),
            tls11.clone(),
            None,
        ),
        (
            "tls1.1 vs 2016",
            server("TLS12_1_0_2016_01"),
            tls11.clone(),
            None,
        ),
        (
            "tls1.1 vs 2015",
            server("TLS12_1_0_2015_01"),
            tls11.clone(),
            None,
        ),
        ("tls1.1 vs gov", server("TLS13_1_2_2022_01"), tls11, None),
        (
            "AES128-SHA vs default",
            server("TLS13_1_2_2022_10"),
            v12("AES128-SHA"),
            Some("AES128-SHA"),
        ),
        (
            "AES128-SHA vs 1_3",
            server("TLS13_1_3_2022_10"),
            v12("AES128-SHA"),
            None,
        ),
        (
            "AES256-SHA256 vs 12_2022",
            server("TLS12_1_2_2022_10"),
            v12("AES256-SHA256"),
            Some("AES256-SHA256"),
        ),
        (
            "AES128-SHA256 on 443",
            ports("TLS12_1_0_2016_01", 443),
            v12("AES128-SHA256"),
            Some("AES128-SHA256"),
        ),
        (
            "AES128-SHA256 on 8883",
            ports("TLS12_1_0_2016_01", 8883),
            v12("AES128-SHA256"),
            None,
        ),
        (
            "static GCM vs gov",
            server("TLS13_1_2_2022_01"),
            v12("AES128-GCM-SHA256"),
            None,
        ),
        (
            "AES256-SHA vs gov",
            server("TLS13_1_2_2022_01"),
            v12("AES256-SHA"),
            Some("AES256-SHA"),
        ),
        (
            "DHE vs 2015",
            server("TLS12_1_0_2015_01"),
            v12("DHE-RSA-AES256-SHA"),
            Some("DHE-RSA-AES256-SHA"),
        ),
        (
            "DHE vs 12_2022",
            server("TLS12_1_2_2022_10"),
            v12("DHE-RSA-AES256-SHA"),
            None,
        ),
        (
            "ECDSA GCM vs default",
            server("TLS13_1_2_2022_10"),
            v12("ECDHE-ECDSA-AES128-GCM-SHA256"),
            Some("ECDHE-ECDSA-AES128-GCM-SHA256"),
        ),
        (
            "ECDHE-RSA CBC vs 12_2022",
            server("TLS12_1_2_2022_10"),
            v12("ECDHE-RSA-AES256-SHA"),
            Some("ECDHE-RSA-AES256-SHA"),
        ),
        (
            "chacha 1.3 vs gov",
            server("TLS13_1_2_2022_01"),
            v13("TLS_CHACHA20_POLY1305_SHA256"),
            None,
        ),
        (
            "chacha 1.3 vs 1_3",
            server("TLS13_1_3_2022_10"),
            v13("TLS_CHACHA20_POLY1305_SHA256"),
            Some("TLS_CHACHA20_POLY1305_SHA256"),
        ),
        (
            "1.3 vs 12_2022",
            server("TLS12_1_2_2022_10"),
            v13("TLS_AES_128_GCM_SHA256"),
            None,
        ),
        (
            "1.3 vs default",
            server("TLS13_1_2_2022_10"),
            v13("TLS_AES_256_GCM_SHA384"),
            Some("TLS_AES_256_GCM_SHA384"),
        ),
        (
            "no client cert 1.2",
            server("TLS13_1_2_2022_10"),
            Offer {
                no_client_cert: true,
                ..v12("ECDHE-RSA-AES128-GCM-SHA256")
            },
            None,
        ),
        (
            "no client cert 1.3",
            server("TLS13_1_3_2022_10"),
            Offer {
                no_client_cert: true,
                ..v13("TLS_AES_128_GCM_SHA256")
            },
            None,
        ),
        (
            "no client cert, request only",
            ServerOptions {
                client_auth: ClientAuth::Request,
                ..server("TLS13_1_2_2022_10")
            },
            Offer {
                no_client_cert: true,
                ..v12("ECDHE-RSA-AES128-GCM-SHA256")
            },
            Some("ECDHE-RSA-AES128-GCM-SHA256"),
        ),
    ];
    for (label, options, offer, expected) in cases {
        let out = handshake(options, &offer);
        match (expected, &out.server) {
            (Some(cipher), Ok((_, got, _))) => assert_eq!(got, cipher, "{label}"),
            (None, Err(_)) => {}
            (want, got) => panic!("{label}: expected {want:?}, server got {got:?}"),
        }
        assert_eq!(
            out.predicted.accepted(),
            expected.is_some(),
            "{label}: explain predicted {} but OpenSSL {:?}",
            out.predicted,
            out.server
        );
        if expected.is_some() {
            assert!(out.client.is_ok(), "{label}: {:?}", out.client);
        }
    }
}

#[test]
fn static_rsa_cbc_suites_survive_the_security_level() {
    for suite in [
        "AES128-SHA",
        "AES256-SHA",
        "AES128-SHA256",
        "AES256-SHA256",
        "AES128-GCM-SHA256",
    ] {
        let out = handshake(server("TLS12_1_0_2015_01"), &v12(suite));
        let (version, cipher, _) = out.server.unwrap_or_else(|e| panic!("{suite}: {e}"));
        assert_eq!((version.as_str(), cipher.as_str()), ("TLSv1.2", suite));
    }
}

#[test]
fn a_legacy_gateway_policy_accepts_tls_1_1_with_the_cbc_suites_and_the_aws_one_does_not() {
    let tls11 = |suite: &'static str| Offer {
        min: Some(ProtocolVersion::TLS11),
        max: Some(ProtocolVersion::TLS11),
        tls12: Some(suite),
        ..Offer::default()
    };
    let legacy = ServerOptions {
        policy: SecurityPolicy::default()
            .allowing_legacy_versions()
            .unwrap(),
        ..server("TLS13_1_2_2022_10")
    };
    for suite in ["AES128-SHA", "AES256-SHA", "ECDHE-RSA-AES128-SHA"] {
        let out = handshake(legacy.clone(), &tls11(suite));
        let (version, cipher, _) = out.server.unwrap_or_else(|e| panic!("{suite}: {e}"));
        assert_eq!((version.as_str(), cipher.as_str()), ("TLSv1.1", suite));
        assert!(out.predicted.accepted(), "{suite}: {}", out.predicted);
    }
    let out = handshake(server("TLS13_1_2_2022_10"), &tls11("AES128-SHA"));
    assert!(out.server.is_err(), "the AWS policy accepted TLS 1.1");
    // TLS 1.2 and 1.3 clients are served as before on the legacy listener.
    let out = handshake(legacy, &v12("ECDHE-RSA-AES128-GCM-SHA256"));
    assert_eq!(out.server.unwrap().0, "TLSv1.2");
}

#[test]
fn client_sees_the_alert_the_table_names() {
    let tls11 = Offer {
        min: Some(ProtocolVersion::TLS11),
        max: Some(ProtocolVersion::TLS11),
        tls12: Some("AES128-SHA"),
        ..Offer::default()
    };
    // A hello that shares no version with the policy gets 40, as AWS answers a TLS 1.1 device.
    let out = handshake(server("TLS13_1_2_2022_10"), &tls11);
    let err = out.client.unwrap_err();
    assert!(err.contains("alert handshake failure"), "{err}");
    assert_eq!(out.predicted.alert().map(|a| a.0), Some(40));

    let out = handshake(server("TLS13_1_3_2022_10"), &v12("AES128-SHA"));
    assert!(out.client.unwrap_err().contains("alert handshake failure"));
    let out = handshake(server("TLS12_1_2_2022_10"), &v13("TLS_AES_128_GCM_SHA256"));
    assert!(out.client.unwrap_err().contains("alert handshake failure"));

    // Left to itself, OpenSSL answers a version it does not allow with 70: the reason the
    // server marks such hellos (`tls::hello_refusal`).
    let out = handshake_marking(server("TLS13_1_2_2022_10"), &tls11, false);
    assert!(out.client.unwrap_err().contains("alert protocol version"));

    let out = handshake(ports("TLS12_1_0_2016_01", 8883), &v12("AES128-SHA256"));
    assert!(out.client.unwrap_err().contains("alert handshake failure"));
    assert_eq!(out.predicted.alert().map(|a| a.0), Some(40));
}

/// A client certificate valid from `not_before` to `not_after` (Unix seconds), issued by
/// `issuer`.
fn dated_client(issuer: (&X509, &PKey<Private>), not_before: i64, not_after: i64) -> Identity {
    let key = ec_key();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, "dated").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.0.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(not_before).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(not_after).unwrap())
        .unwrap();
    b.sign(issuer.1, MessageDigest::sha256()).unwrap();
    Identity {
        certificate: b.build(),
        chain: Vec::new(),
        key,
    }
}

/// One handshake with `client` as the client identity: what the client saw, and what the
/// server remembered of a certificate refused for its validity period.
fn dated_handshake(client: Identity) -> (Result<(), String>, Option<OutOfDate>, bool) {
    let acceptor = server_acceptor(&server("TLS13_1_2_2022_10")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let expected = client.certificate.to_der().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ssl = openssl::ssl::Ssl::new(acceptor.context()).unwrap();
        client_validity::watch(&mut ssl);
        match ssl.accept(stream) {
            Ok(_) => (None, true),
            Err(openssl::ssl::HandshakeError::Failure(mid)) => {
                let refused = client_validity::refused(mid.ssl());
                let same = refused.is_some_and(|r| r.certificate.to_der().unwrap() == expected);
                (refused.map(|r| r.why), same)
            }
            Err(e) => panic!("server: {e}"),
        }
    });
    let ctx = ClientContext::new(&ClientOptions {
        trust: Trust::CaPem(pki().ca.to_pem().unwrap()),
        identity: Some(client),
        server_name: Some("localhost".into()),
        // TLS 1.2: the alert arrives during the client's own handshake.
        min_version: Some(ProtocolVersion::TLS12),
        max_version: Some(ProtocolVersion::TLS12),
        ..ClientOptions::default()
    })
    .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    let client = ctx
        .ssl()
        .unwrap()
        .connect(tcp)
        .map(|_| ())
        .map_err(|e| e.to_string());
    let (why, same) = server.join().unwrap();
    (client, why, same)
}

#[test]
fn client_certificates_outside_their_validity_are_refused_at_the_handshake() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ca_key = ec_key();
    let ca = cert("tether test CA", &ca_key, None);
    // A CA the server knows (its chain verifies) and one it has never seen: the leaf's dates
    // decide in both cases.
    let other_key = ec_key();
    let other = cert("unregistered CA", &other_key, None);
    for issuer in [(&ca, &ca_key), (&other, &other_key)] {
        let (client, why, same) = dated_handshake(dated_client(issuer, now - 7200, now - 60));
        let err = client.unwrap_err();
        assert!(err.contains("certificate expired"), "{err}");
        assert_eq!(why, Some(OutOfDate::Expired));
        assert!(same, "the refused certificate is the client's leaf");

        let (client, why, _) = dated_handshake(dated_client(issuer, now + 3600, now + 7200));
        let err = client.unwrap_err();
        assert!(err.contains("bad certificate"), "{err}");
        assert_eq!(why, Some(OutOfDate::NotYetValid));

        let (client, why, _) = dated_handshake(dated_client(issuer, now - 60, now + 3600));
        assert_eq!(client, Ok(()));
        assert_eq!(why, None);
    }
}

#[test]
fn alpn_selection_and_refusal() {
    let alpn_server = || ServerOptions {
        alpn: vec!["x-amzn-mqtt-ca".into(), "mqtt".into()],
        alpn_required: true,
        ..server("TLS13_1_2_2022_10")
    };
    let ok = handshake(
        alpn_server(),
        &Offer {
            alpn: vec!["http/1.1".into(), "x-amzn-mqtt-ca".into()],
            ..v13("TLS_AES_128_GCM_SHA256")
        },
    );
    assert_eq!(ok.server.unwrap().2.as_deref(), Some("x-amzn-mqtt-ca"));
    let refused = handshake(
        alpn_server(),
        &Offer {
            alpn: vec!["http/1.1".into()],
            ..v13("TLS_AES_128_GCM_SHA256")
        },
    );
    assert!(refused.server.is_err());
    assert!(
        refused
            .client
            .unwrap_err()
            .contains("no application protocol")
    );
    assert_eq!(refused.predicted.alert().map(|a| a.0), Some(120));
    // Without `alpn_required` a mismatch continues without ALPN (AWS on 8883).
    let lenient = handshake(
        ServerOptions {
            alpn_required: false,
            ..alpn_server()
        },
        &Offer {
            alpn: vec!["http/1.1".into()],
            ..v12("ECDHE-RSA-AES128-GCM-SHA256")
        },
    );
    assert_eq!(lenient.server.unwrap().2, None);
}

#[test]
fn context_errors_name_the_problem() {
    let err = server_acceptor(&ServerOptions::default()).err().unwrap();
    assert!(err.to_string().contains("no server certificate"));
    let mismatched = Identity {
        key: pki().server_rsa.key.clone(),
        ..pki().server_ec.clone()
    };
    let err = server_acceptor(&ServerOptions {
        identities: vec![mismatched],
        ..ServerOptions::default()
    })
    .err()
    .unwrap();
    assert!(err.to_string().contains("server"), "{err}");
    let err = server_acceptor(&ServerOptions {
        alpn: vec![String::new()],
        ..server("TLS13_1_2_2022_10")
    })
    .err()
    .unwrap();
    assert!(err.to_string().contains("ALPN protocol \"\""));
    let pem = pki().client.certificate.to_pem().unwrap();
    let key = pki().client.key.private_key_to_pem_pkcs8().unwrap();
    let id = Identity::from_pem(&pem, &key).unwrap();
    assert_eq!(
        id.certificate.to_der().unwrap(),
        pki().client.certificate.to_der().unwrap()
    );
    assert!(Identity::from_pem(b"", &key).is_err());

    let groups = |list: &str| {
        ClientContext::new(&ClientOptions {
            groups: Some(list.to_owned()),
            ..ClientOptions::default()
        })
    };
    assert!(groups("X25519:P-256").is_ok());
    let err = groups("X25519:no-such-group").err().unwrap();
    assert!(err.to_string().contains("X25519:no-such-group"), "{err}");
    let err = groups("X25519\0").err().unwrap();
    assert!(err.to_string().contains("NUL"), "{err}");
}

/// Sends each device profile's raw ClientHello to a server under each policy and reads the
/// first record back: a ServerHello (or HelloRetryRequest) means the offer was accepted, an
/// alert means refused — and `explain` must have predicted the same, alert number included.
#[test]
fn raw_profile_hellos_get_the_predicted_answer() {
    for policy in [
        "TLS13_1_2_2022_10",
        "TLS13_1_3_2022_10",
        "TLS12_1_2_2022_10",
    ] {
        for profile in PROFILES {
            let options = HelloOptions {
                random: [7; 32],
                server_name: Some("localhost".into()),
                ..HelloOptions::default()
            };
            let hello = match tls::parse_client_hello(&profile.client_hello(&options)).unwrap() {
                Progress::Complete { hello, .. } => hello,
                Progress::Incomplete { .. } => panic!("{}: incomplete", profile.name),
            };
            let listener = Listener {
                policy: SecurityPolicy::by_name(policy).unwrap(),
                ..Listener::default()
            };
            let predicted = explain(&hello, &listener, None);
            // The server marks a hello that shares nothing with the policy, as tether serve does.
            let mark = predicted
                .refusals
                .first()
                .filter(|r| r.shares_nothing())
                .map(tls::Refusal::alert);
            let acceptor = server_acceptor(&server(policy)).unwrap();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = thread::spawn(move || {
                let (stream, _) = listener.accept().unwrap();
                let mut ssl = Ssl::new(acceptor.context()).unwrap();
                if let Some(alert) = mark {
                    tls::hello_refusal::refuse(&mut ssl, alert);
                }
                let _ = ssl.accept(stream);
            });
            let mut tcp = TcpStream::connect(addr).unwrap();
            tcp.write_all(&profile.client_hello(&options)).unwrap();
            let mut head = [0u8; 7];
            tcp.read_exact(&mut head).unwrap();
            drop(tcp);
            server.join().unwrap();

            let label = format!("{} under {policy}: {predicted}", profile.name);
            match head {
                [22, 3, _, _, _, 2, _] => assert!(predicted.accepted(), "{label}: got ServerHello"),
                [21, 3, _, _, 2, 2, alert] => {
                    assert_eq!(predicted.alert().map(|a| a.0), Some(alert), "{label}")
                }
                other => panic!("{label}: unexpected reply {other:02x?}"),
            }
        }
    }
    assert!(DeviceProfile::by_name("esp8266-nonos-axtls").is_ok());
}
