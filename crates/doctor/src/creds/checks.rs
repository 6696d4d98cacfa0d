//! The individual credential checks of `doctor creds`, each returning findings with the
//! device-side reason (device-side research §1.2, §3, §4, §5.2; contract §2.2–2.3). It does not
//! read files or look at the registry; `mod.rs` orders the checks and `registry.rs` reads the
//! store.

use pki::{
    CertificateSummary, Encoding, KeyDescription, KeyFormat, LoadedKey, ObjectKind, PKey, Private,
    X509,
};
use tls::DeviceProfile;

use super::roots::{self, EndpointKind, Recognised, RootRole};
use super::{CredentialFile, CredsInput};
use crate::finding::{Finding, Severity};

/// Days before expiry from which an expiring certificate is a warning.
const EXPIRY_WARNING_DAYS: i64 = 30;
/// A notBefore this recent is after the build date of most device SDKs.
const RECENT_NOT_BEFORE_DAYS: i64 = 730;

/// The device certificate with its summary and any intermediates that followed it.
pub(crate) struct Leaf {
    pub certificate: X509,
    pub intermediates: Vec<X509>,
    pub summary: CertificateSummary,
}

/// The CA file's certificates and their summaries.
pub(crate) struct CaFile {
    pub name: String,
    pub roots: Vec<(X509, CertificateSummary)>,
}

const CERT_EXPECTATIONS: &str = "ESP8266 NONOS libssl (tools v2.x) and MicroPython on ESP8266 (axTLS) want DER; NONOS mbedTLS, BearSSL and ESP-IDF accept PEM or DER (ESP-IDF: PEM with its trailing NUL counted in the length, DER with its exact length); AWS IoT hands out PEM";

/// Identifies and loads the device certificate; adds a format finding.
pub(crate) fn certificate(file: &CredentialFile, out: &mut Vec<Finding>) -> Option<Leaf> {
    let chain = match pki::load_certificate_chain(&file.bytes, &file.name) {
        Ok(chain) => chain,
        Err(err) => {
            out.push(unreadable(file, "a certificate", &err.to_string()));
            return None;
        }
    };
    let (mut certs, encoding) = chain;
    if certs.is_empty() {
        return None;
    }
    let certificate = certs.remove(0);
    let summary = match pki::summarize(&certificate) {
        Ok(s) => s,
        Err(err) => {
            out.push(unreadable(file, "a certificate", &err.to_string()));
            return None;
        }
    };
    let extra = if certs.is_empty() {
        String::new()
    } else {
        format!(", followed by {} more certificate(s)", certs.len())
    };
    out.push(Finding::new(
        Severity::Info,
        format!(
            "{}: {encoding} certificate for {} ({} bytes as DER{extra})",
            file.name, summary.subject, summary.der_len
        ),
        CERT_EXPECTATIONS,
        der_pem_fix(encoding, "x509", &file.name),
    ));
    Some(Leaf {
        certificate,
        intermediates: certs,
        summary,
    })
}

/// Identifies and loads the private key; adds a format finding.
pub(crate) fn key(
    file: &CredentialFile,
    profile: Option<&DeviceProfile>,
    out: &mut Vec<Finding>,
) -> Option<LoadedKey> {
    let key = match pki::load_private_key(&file.bytes, &file.name) {
        Ok(key) => key,
        Err(err) => {
            out.push(unreadable(file, "a private key", &err.to_string()));
            return None;
        }
    };
    let desc = pki::describe_key(&key.key);
    let nonos_libssl = profile.is_some_and(|p| p.name == "esp8266-nonos-axtls");
    let (severity, why, fix) = match key.format {
        KeyFormat::Pkcs1 => (
            Severity::Info,
            "PKCS#1 (BEGIN RSA PRIVATE KEY) is what AWS IoT hands out and what every device stack reads, including ESP8266 NONOS libssl and the NONOS certificate-image tools".to_owned(),
            String::new(),
        ),
        KeyFormat::Pkcs8 => (
            if nonos_libssl {
                Severity::Warning
            } else {
                Severity::Info
            },
            "PKCS#8 (BEGIN PRIVATE KEY) is OpenSSL 3's default; mbedTLS, BearSSL and ESP-IDF read it, but ESP8266 NONOS libssl's PKCS#8 support is unverified and its image tools expect PKCS#1".to_owned(),
            if desc.is_rsa() {
                format!(
                    "for ESP8266 NONOS convert it: openssl pkey -in {} -traditional -out device.pkcs1.key",
                    file.name
                )
            } else {
                String::new()
            },
        ),
        KeyFormat::Sec1 => (
            Severity::Info,
            "SEC1 (BEGIN EC PRIVATE KEY) is the traditional EC key format; BearSSL, ESP-IDF and OpenSSL read it; no ESP8266 NONOS stack can use an EC key at all".to_owned(),
            String::new(),
        ),
    };
    out.push(Finding::new(
        severity,
        format!(
            "{}: {} {} {desc} private key",
            file.name, key.encoding, key.format
        ),
        why,
        if fix.is_empty() {
            der_pem_fix(key.encoding, "pkey", &file.name)
        } else {
            fix
        },
    ));
    Some(key)
}

/// Loads the CA file; adds one finding per certificate in it.
pub(crate) fn ca_file(file: &CredentialFile, out: &mut Vec<Finding>) -> Option<CaFile> {
    let (certs, encoding) = match pki::load_certificate_chain(&file.bytes, &file.name) {
        Ok(chain) => chain,
        Err(err) => {
            out.push(unreadable(file, "CA certificates", &err.to_string()));
            return None;
        }
    };
    let mut roots = Vec::new();
    for cert in certs {
        match pki::summarize(&cert) {
            Ok(summary) => roots.push((cert, summary)),
            Err(err) => out.push(unreadable(file, "CA certificates", &err.to_string())),
        }
    }
    let names: Vec<String> = roots.iter().map(|(_, s)| describe_root(s)).collect();
    out.push(Finding::new(
        Severity::Info,
        format!(
            "{}: {encoding}, {} CA certificate(s): {}",
            file.name,
            roots.len(),
            names.join("; ")
        ),
        "this is the trust anchor the device uses to verify the server's certificate chain",
        "",
    ));
    Some(CaFile {
        name: file.name.clone(),
        roots,
    })
}

fn describe_root(summary: &CertificateSummary) -> String {
    match roots::recognise(&summary.subject, summary.id.as_str()) {
        Some(Recognised::Exact(root)) => format!("{} ({})", root.name, root.key),
        Some(Recognised::SameName(root)) => format!(
            "a certificate named like {} but with another fingerprint ({})",
            root.name, summary.id
        ),
        None => format!("{} ({})", summary.subject, summary.key),
    }
}

/// Does the key belong to the certificate?
pub(crate) fn key_match(key: &PKey<Private>, leaf: &Leaf, input: &CredsInput) -> Finding {
    let key_name = input.key.as_ref().map_or("the key", |k| k.name.as_str());
    if pki::key_matches_certificate(key, &leaf.certificate) {
        Finding::new(
            Severity::Info,
            format!(
                "{key_name} is the private key of {}",
                input.certificate.name
            ),
            "the TLS CertificateVerify signature will prove possession of the certificate",
            "",
        )
    } else {
        Finding::new(
            Severity::Error,
            format!(
                "{key_name} does not belong to {} (the public keys differ)",
                input.certificate.name
            ),
            "the server verifies the device's CertificateVerify signature with the certificate's public key; with another key the handshake fails with alert 51 decrypt_error or 42 bad_certificate",
            "use the private key that was generated with this certificate (AWS shows it only once, at creation); if it is lost, create a new certificate and key",
        )
    }
}

/// Validity now, and the unset device clock.
pub(crate) fn validity(summary: &CertificateSummary, now: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    let days_left = summary.not_after.saturating_sub(now) / 86_400;
    if now < summary.not_before {
        out.push(Finding::new(
            Severity::Error,
            format!(
                "the certificate is not valid yet: it starts at {}",
                summary.not_before_rfc3339
            ),
            "every stack that checks dates refuses it until then (BearSSL, axTLS, ESP-IDF with MBEDTLS_HAVE_TIME_DATE)",
            "wait until then, or check the clock of the machine that issued it",
        ));
    } else if now > summary.not_after {
        out.push(Finding::new(
            Severity::Error,
            format!("the certificate expired at {}", summary.not_after_rfc3339),
            "AWS IoT refuses expired certificates at registration; device stacks that check dates refuse the expired chain",
            "issue a new certificate for the device and register it",
        ));
    } else if days_left < EXPIRY_WARNING_DAYS {
        out.push(Finding::new(
            Severity::Warning,
            format!(
                "the certificate expires in {days_left} day(s), at {}",
                summary.not_after_rfc3339
            ),
            "after that the device can no longer connect",
            "issue and register a replacement now and roll it out before the expiry",
        ));
    } else {
        out.push(Finding::new(
            Severity::Info,
            format!(
                "the certificate is valid now: {} to {}",
                summary.not_before_rfc3339, summary.not_after_rfc3339
            ),
            "",
            "",
        ));
    }
    let age_days = now.saturating_sub(summary.not_before) / 86_400;
    if (0..RECENT_NOT_BEFORE_DAYS).contains(&age_days) {
        // The device's own certificate is judged by the server, against the server's clock; no
        // device stack checks the dates of its own certificate. Its age matters to nobody else.
        out.push(Finding::new(
            Severity::Info,
            format!(
                "the certificate's notBefore ({}) is recent, which is fine",
                summary.not_before_rfc3339
            ),
            "the server checks the device certificate's dates against its own clock (tether serve and AWS IoT refuse it only before notBefore); device stacks do not check their own certificate's dates. An unset device clock matters for the server's chain, which the device checks: see the CA file's findings",
            "",
        ));
    }
    out
}

/// The CA file's start dates against a device whose clock is not set yet. A device that
/// checks the server chain's dates before SNTP has run believes it is 1970 (or its SDK's build
/// date) and refuses a chain that starts later; every real chain does, so this matters exactly
/// for stacks that check dates and connect before setting the clock. With a profile whose
/// stack checks dates this is a warning, otherwise information saying when it matters.
pub(crate) fn ca_clock(ca: &CaFile, profile: Option<&DeviceProfile>, now: i64) -> Vec<Finding> {
    let Some((_, newest)) = ca.roots.iter().max_by_key(|(_, s)| s.not_before) else {
        return Vec::new();
    };
    let when = "a device that checks the server's certificate dates and connects before its clock is set (no SNTP yet) believes it is 1970, or its SDK's build date, and refuses this chain as not yet valid";
    let recent = now.saturating_sub(newest.not_before) / 86_400 < RECENT_NOT_BEFORE_DAYS;
    let what = format!(
        "{}: the newest CA certificate starts at {}{}",
        ca.name,
        newest.not_before_rfc3339,
        if recent { " (recently)" } else { "" }
    );
    let finding = match profile {
        Some(p) if !p.checks_dates => Finding::new(
            Severity::Info,
            what,
            format!(
                "{} does not check certificate dates in its usual build, so an unset clock does not matter to it",
                p.name
            ),
            "",
        ),
        Some(p) => Finding::new(
            Severity::Warning,
            what,
            format!("{} checks certificate dates: {when}", p.name),
            "set the clock before connecting (SNTP, e.g. configTime() on ESP8266 Arduino, esp_sntp on ESP-IDF), or on BearSSL call setX509Time() with a real time",
        ),
        None => Finding::new(
            Severity::Info,
            what,
            format!("this matters only on one kind of device: {when}"),
            "if the device checks dates (BearSSL, axTLS, ESP-IDF with MBEDTLS_HAVE_TIME_DATE), set its clock with SNTP before connecting",
        ),
    };
    vec![finding]
}

/// Key type and size against AWS IoT and device stacks.
pub(crate) fn key_type(summary: &CertificateSummary, profile: Option<&DeviceProfile>) -> Finding {
    let key = &summary.key;
    match key {
        KeyDescription::Rsa { bits } if *bits < 2048 => Finding::new(
            Severity::Error,
            format!("the certificate's key is {key}: too small for AWS IoT"),
            "AWS IoT requires RSA keys of at least 2048 bits; registering a 1024-bit certificate fails with \"The key in the certificate is not valid\"",
            "create a new RSA-2048 key and certificate (or EC P-256 where the device stack has ECC)",
        ),
        KeyDescription::Rsa { bits } if *bits > 4096 => Finding::new(
            Severity::Warning,
            format!("the certificate's key is {key}"),
            "ESP8266 NONOS libssl handles RSA keys up to 4096 bits (MAX_KEY_BYTE_SIZE 512); larger keys are beyond most device stacks and make every handshake slow",
            "use RSA-2048",
        ),
        KeyDescription::Rsa { .. } => Finding::new(
            Severity::Info,
            format!("the certificate's key is {key}"),
            "AWS IoT accepts RSA keys of 2048 bits or more, and every device stack can use RSA; on ESP8266 an RSA-2048 client signature takes seconds (≈25 s for MicroPython/axTLS at 160 MHz)",
            "",
        ),
        KeyDescription::Ec { curve } if curve == "P-256" || curve == "P-384" => {
            match profile.filter(|p| !p.ecc) {
                Some(p) => Finding::new(
                    Severity::Error,
                    format!("the certificate's key is {key}, and {} has no ECC", p.name),
                    format!(
                        "{} cannot sign with an EC key (ESP8266 NONOS libssl and mbedTLS are built without ECC)",
                        p.description
                    ),
                    "give this device an RSA-2048 key and certificate, or move it to a stack with ECC (BearSSL, ESP-IDF)",
                ),
                None => Finding::new(
                    Severity::Info,
                    format!("the certificate's key is {key}"),
                    "AWS IoT accepts NIST P-256 and P-384 keys; but no ESP8266 NONOS stack (libssl or mbedTLS) and no axTLS build can use an EC key — only BearSSL, ESP-IDF, wolfSSL and embedded-tls can",
                    "for an ESP8266 NONOS device use RSA-2048 instead",
                ),
            }
        }
        KeyDescription::Ec { curve } if curve == "P-521" => Finding::new(
            Severity::Warning,
            format!("the certificate's key is {key}"),
            "AWS IoT documents P-256 and P-384 for device certificates; P-521 is accepted for CSRs only and few device stacks offer it",
            "use EC P-256 (or RSA-2048 for stacks without ECC)",
        ),
        other => Finding::new(
            Severity::Error,
            format!("the certificate's key is {other}, which AWS IoT does not accept"),
            "AWS IoT device certificates use RSA (2048 bits or more) or ECC on NIST P-256/P-384",
            "create a new key and certificate: RSA-2048, or EC P-256 for stacks with ECC",
        ),
    }
}

/// The certificate's signature algorithm.
pub(crate) fn signature(summary: &CertificateSummary) -> Finding {
    let alg = summary.signature_algorithm.as_str();
    let lower = alg.to_ascii_lowercase();
    let weak = ["sha1", "sha-1", "md5", "md2", "md4"]
        .iter()
        .any(|w| lower.contains(w))
        || lower == "shawithrsaencryption";
    if weak {
        Finding::new(
            Severity::Error,
            format!("the certificate is signed with {alg}"),
            "AWS IoT accepts SHA-256/384/512 signatures (RSA, RSASSA-PSS, ECDSA) and refuses SHA-1 and MD5",
            "have the CA issue the certificate again with SHA-256 (openssl x509 -req ... -sha256)",
        )
    } else {
        Finding::new(
            Severity::Info,
            format!("the certificate is signed with {alg}"),
            "",
            "",
        )
    }
}

/// Does the certificate chain to the CA file?
pub(crate) fn chain(leaf: &Leaf, ca: &CaFile) -> Finding {
    let roots: Vec<X509> = ca.roots.iter().map(|(c, _)| c.clone()).collect();
    match verify_path(&leaf.certificate, &leaf.intermediates, &roots) {
        Ok(()) => Finding::new(
            Severity::Info,
            format!("the certificate chains to {}", ca.name),
            "the same CA issued the device certificate and the server's; that is how tether serve's local CA works",
            "",
        ),
        Err(err) => {
            let issuer = &leaf.summary.issuer;
            let aws_issued = issuer.contains("OU=Amazon Web Services");
            let ca_is_aws = ca.roots.iter().any(|(_, s)| {
                roots::recognise(&s.subject, s.id.as_str())
                    .is_some_and(|r| matches!(r.root().role, RootRole::Ats | RootRole::Legacy))
            });
            if aws_issued {
                Finding::new(
                    Severity::Info,
                    format!(
                        "the certificate was issued by AWS IoT ({issuer}), not by {}",
                        ca.name
                    ),
                    "that is normal: the CA file is the root the device uses to verify the server; AWS IoT authenticates the device by looking its certificate up in the registry, not by a chain",
                    "",
                )
            } else {
                Finding::new(
                    Severity::Warning,
                    format!(
                        "the certificate does not chain to {}: it was issued by {issuer}",
                        ca.name
                    ),
                    format!(
                        "{err}. The CA file verifies the server, so this matters only if you expected the same CA to issue both; AWS IoT and tether serve accept a certificate by registry lookup — it must be registered (with its CA registered, or in SNI_ONLY mode without CA){}",
                        if ca_is_aws {
                            ""
                        } else {
                            ". For tether serve, the data dir's ca/root-ca.pem issues both"
                        }
                    ),
                    "check that this certificate is registered and ACTIVE (tether doctor creds --data-dir DIR), or issue it from the CA you meant",
                )
            }
        }
    }
}

/// Verifies the signature path from `leaf` to one of `roots`, ignoring validity dates (the
/// validity check reports those against the caller's `now`); the error is OpenSSL's reason.
fn verify_path(leaf: &X509, intermediates: &[X509], roots: &[X509]) -> Result<(), String> {
    use openssl::stack::Stack;
    use openssl::x509::X509StoreContext;
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::verify::X509VerifyFlags;
    let setup = |e: openssl::error::ErrorStack| format!("cannot set up verification: {e}");
    let mut store = X509StoreBuilder::new().map_err(setup)?;
    for root in roots {
        store.add_cert(root.clone()).map_err(setup)?;
    }
    store
        .set_flags(X509VerifyFlags::NO_CHECK_TIME)
        .map_err(setup)?;
    let store = store.build();
    let mut chain = Stack::new().map_err(setup)?;
    for cert in intermediates {
        chain.push(cert.clone()).map_err(setup)?;
    }
    let mut context = X509StoreContext::new().map_err(setup)?;
    let (ok, reason) = context
        .init(&store, leaf, &chain, |ctx| {
            let ok = ctx.verify_cert()?;
            Ok((ok, ctx.error().error_string()))
        })
        .map_err(setup)?;
    if ok {
        Ok(())
    } else {
        Err(format!("OpenSSL: {reason}"))
    }
}

/// Is the CA the one the endpoint's chain leads to?
pub(crate) fn ca_fit(
    ca: &CaFile,
    endpoint: Option<&str>,
    profile: Option<&DeviceProfile>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let known: Vec<Recognised> = ca
        .roots
        .iter()
        .filter_map(|(_, s)| roots::recognise(&s.subject, s.id.as_str()))
        .collect();
    for r in &known {
        if let Recognised::SameName(root) = r {
            out.push(Finding::new(
                Severity::Warning,
                format!(
                    "{} holds a certificate named {} whose fingerprint is not the published root's",
                    ca.name, root.name
                ),
                format!(
                    "the real {} has SHA-256 fingerprint {}; a cross-signed copy has the same name, but so does an imitation",
                    root.name, root.sha256
                ),
                "use the root as Amazon Trust Services publishes it (AmazonRootCA1.pem) or as your OS ships it",
            ));
        }
    }
    let Some(endpoint) = endpoint else {
        return out;
    };
    let host = split_host_port(endpoint).0;
    let kind = roots::endpoint_kind(&host);
    let has = |role: RootRole| known.iter().any(|r| r.root().role == role);
    let has_named = |name: &str| known.iter().any(|r| r.root().name == name);
    let ecc_missing = profile.filter(|p| !p.ecc);
    match &kind {
        EndpointKind::Ats { .. } => {
            if has_named("Amazon Root CA 1") {
                out.push(Finding::new(
                    Severity::Info,
                    format!("{} holds Amazon Root CA 1, which signs {host}'s RSA chain", ca.name),
                    format!("{host} is {kind}; ATS endpoints chain to Amazon Root CA 1 (RSA) or Amazon Root CA 3 (ECC), depending on the suite negotiated"),
                    "",
                ));
            } else if has_named("Amazon Root CA 3") {
                match ecc_missing {
                    Some(p) => out.push(Finding::new(
                        Severity::Error,
                        format!("{} holds only Amazon Root CA 3 (EC P-256), and {} has no ECC", ca.name, p.name),
                        "the device cannot verify an ECDSA-signed chain, and with its RSA suites the endpoint presents the Amazon Root CA 1 chain anyway; the device will send alert 48 unknown_ca",
                        "flash Amazon Root CA 1 (RSA-2048) instead",
                    )),
                    None => out.push(Finding::new(
                        Severity::Warning,
                        format!("{} holds Amazon Root CA 3 but not Amazon Root CA 1", ca.name),
                        format!("{host} is {kind}; it presents the Amazon Root CA 3 chain only when an ECDSA suite is negotiated, otherwise the Amazon Root CA 1 chain"),
                        "trust both Amazon Root CA 1 and Amazon Root CA 3 (concatenate the PEM files)",
                    )),
                }
            } else if has(RootRole::Legacy) {
                out.push(Finding::new(
                    Severity::Error,
                    format!("{} holds the VeriSign Class 3 G5 root, but {host} is an ATS endpoint", ca.name),
                    "ATS endpoints present a chain to Amazon Trust Services (Amazon Root CA 1/3); the G5 root only verifies legacy iot:Data endpoints, so the device refuses the server with alert 48 unknown_ca",
                    "flash Amazon Root CA 1 (https://www.amazontrust.com/repository/AmazonRootCA1.pem)",
                ));
            } else {
                out.push(Finding::new(
                    Severity::Error,
                    format!("{} holds no Amazon Trust Services root, but {host} is an ATS endpoint", ca.name),
                    "the server's chain ends at Amazon Root CA 1 or 3 (cross-signed by Starfield Services Root G2); a device trusting only other roots sends alert 48 unknown_ca",
                    "flash Amazon Root CA 1 (and Amazon Root CA 3 for stacks with ECC)",
                ));
            }
        }
        EndpointKind::Legacy { .. } => {
            if has(RootRole::Legacy) {
                out.push(Finding::new(
                    Severity::Warning,
                    format!("{} holds the VeriSign Class 3 G5 root, which fits the legacy endpoint {host}", ca.name),
                    "legacy iot:Data endpoints chain to VeriSign Class 3 Public Primary G5 (Symantec); AWS recommends the ATS endpoint, and regions launched since May 2018 serve ATS only",
                    "move to the ATS endpoint (aws iot describe-endpoint --endpoint-type iot:Data-ATS) with Amazon Root CA 1",
                ));
            } else {
                out.push(Finding::new(
                    Severity::Error,
                    format!("{} does not hold the VeriSign Class 3 G5 root that the legacy endpoint {host} chains to", ca.name),
                    "legacy iot:Data endpoints present a Symantec chain to VeriSign G5; a device trusting Amazon Root CA 1 there sends alert 48 unknown_ca",
                    "connect to the ATS endpoint instead (aws iot describe-endpoint --endpoint-type iot:Data-ATS), which Amazon Root CA 1 verifies",
                ));
            }
        }
        EndpointKind::Other => {
            if !known.is_empty() {
                out.push(Finding::new(
                    Severity::Warning,
                    format!("{} holds public AWS roots, but {host} is not an AWS IoT endpoint", ca.name),
                    "a local broker such as tether serve signs its server certificate with its own CA; the Amazon and VeriSign roots do not verify it",
                    "for tether serve use the data dir's ca/root-ca.pem (also in devices/<name>/root-ca.pem); for a custom domain use the CA that issued its certificate",
                ));
            } else {
                out.push(Finding::new(
                    Severity::Info,
                    format!("{host} is not an AWS IoT endpoint name; {} must hold the CA that issued its server certificate", ca.name),
                    "custom domains and local brokers present their own chains",
                    "",
                ));
            }
        }
    }
    out
}

/// Port-related advice for the endpoint.
pub(crate) fn endpoint_port(endpoint: &str, profile: Option<&DeviceProfile>) -> Vec<Finding> {
    let (host, port) = split_host_port(endpoint);
    match port {
        Some(443) => {
            let severity = if profile.is_some_and(|p| !p.alpn) {
                Severity::Error
            } else {
                Severity::Info
            };
            vec![Finding::new(
                severity,
                format!("{host}:443 needs ALPN x-amzn-mqtt-ca for MQTT with client certificates"),
                "on port 443 AWS IoT picks the protocol by ALPN; ESP8266 NONOS stacks and axTLS cannot send ALPN",
                "offer ALPN x-amzn-mqtt-ca, or use port 8883 (which needs no ALPN)",
            )]
        }
        Some(8883) | None => Vec::new(),
        Some(other) => vec![Finding::new(
            Severity::Info,
            format!("{host}:{other} is not one of AWS IoT's MQTT ports (8883, or 443 with ALPN)"),
            "fine for a local broker; AWS IoT serves MQTT over mutual TLS on 8883 and 443",
            "",
        )],
    }
}

/// Splits `HOST[:PORT]` (with `[v6]:port` support).
pub(crate) fn split_host_port(endpoint: &str) -> (String, Option<u16>) {
    let endpoint = endpoint.trim();
    if let Some(rest) = endpoint.strip_prefix('[')
        && let Some((host, tail)) = rest.split_once(']')
    {
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return (host.to_owned(), port);
    }
    match endpoint.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host.to_owned(), Some(port)),
            Err(_) => (endpoint.to_owned(), None),
        },
        _ => (endpoint.to_owned(), None),
    }
}

fn unreadable(file: &CredentialFile, expected: &str, detail: &str) -> Finding {
    let found = pki::identify(&file.bytes);
    let what = match &found {
        Some(id) if id.kind == ObjectKind::EncryptedPrivateKey => {
            format!("{}: the private key is encrypted", file.name)
        }
        Some(id) => format!(
            "{}: expected {expected}, found {} ({})",
            file.name, id.kind, id.encoding
        ),
        None => format!(
            "{}: not a PEM or DER file (the file is not a PEM file, nor DER)",
            file.name
        ),
    };
    Finding::new(
        Severity::Error,
        what,
        format!(
            "{detail}. Device stacks fail the same way (NONOS libssl: \"the file is not a PEM file\"; mbedTLS: -0x2180/-0x3D00)"
        ),
        "give the file that holds the device's material: AWS's xxx-certificate.pem.crt, xxx-private.pem.key and AmazonRootCA1.pem; decrypt encrypted keys (openssl pkey -in key.pem -out plain.key)",
    )
}

fn der_pem_fix(encoding: Encoding, tool: &str, name: &str) -> String {
    match encoding {
        Encoding::Pem => format!(
            "for DER-only targets: openssl {tool} -in {name} -outform DER -out device.der (tether flash writes device images directly)"
        ),
        Encoding::Der => {
            format!("for PEM targets: openssl {tool} -inform DER -in {name} -out device.pem")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("a-ats.iot.eu-west-1.amazonaws.com:8883"),
            ("a-ats.iot.eu-west-1.amazonaws.com".into(), Some(8883))
        );
        assert_eq!(split_host_port("localhost"), ("localhost".into(), None));
        assert_eq!(split_host_port("[::1]:443"), ("::1".into(), Some(443)));
        assert_eq!(split_host_port("::1"), ("::1".into(), None));
        assert_eq!(split_host_port("h:x"), ("h:x".into(), None));
    }

    #[test]
    fn port_443_needs_alpn_and_nonos_cannot() {
        let nonos = DeviceProfile::by_name("esp8266-nonos-mbedtls").ok();
        let f = endpoint_port("h:443", nonos);
        assert_eq!(f[0].severity, Severity::Error);
        assert!(f[0].fix.contains("8883"));
        assert!(endpoint_port("h:8883", nonos).is_empty());
        assert_eq!(endpoint_port("h:1883", None)[0].severity, Severity::Info);
    }
}
