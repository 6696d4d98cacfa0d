//! OpenSSL server and client contexts built from an AWS IoT security policy: versions, TLS 1.2
//! cipher list, TLS 1.3 suites, client-certificate request, ALPN, RSA + ECDSA server identities,
//! no session tickets, client leaves outside their validity period refused (`client_validity`);
//! and client contexts for probes and the MQTT client. It does not accept sockets or decide
//! whether a client certificate is authorised — the server looks the leaf up by fingerprint
//! after the handshake.

use std::path::PathBuf;

use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    AlpnError, Ssl, SslAcceptor, SslConnector, SslMethod, SslMode, SslOptions, SslVerifyMode,
    SslVersion,
};
use openssl::x509::X509;
use thiserror::Error;

use crate::policy::SecurityPolicy;
use crate::version::ProtocolVersion;

/// Why a context could not be built. These are local configuration faults, never a peer's.
#[derive(Debug, Error)]
pub enum ContextError {
    /// An OpenSSL call failed; `what` names the setting.
    #[error("OpenSSL refused {what}: {source}")]
    OpenSsl {
        /// The setting being applied.
        what: String,
        /// OpenSSL's error queue.
        source: ErrorStack,
    },
    /// A server context needs at least one certificate and key.
    #[error("no server certificate configured; give at least one RSA or ECDSA certificate and key")]
    NoIdentity,
    /// A PEM input could not be read.
    #[error("cannot parse {what} as PEM: {source}")]
    Pem {
        /// Which input ("server certificate chain", "client key", …).
        what: &'static str,
        /// OpenSSL's error queue.
        source: ErrorStack,
    },
    /// A PEM chain input contained no certificate.
    #[error("{what} contains no certificate")]
    EmptyChain {
        /// Which input.
        what: &'static str,
    },
    /// An ALPN protocol name is empty or longer than 255 bytes.
    #[error("ALPN protocol {0:?} must be 1 to 255 bytes")]
    BadAlpn(String),
    /// The version is not one OpenSSL can be restricted to.
    #[error("cannot restrict OpenSSL to {0}; use TLS 1.0 to TLS 1.3")]
    UnsupportedVersion(ProtocolVersion),
    /// A key-exchange group list contains a NUL character.
    #[error(
        "the key-exchange group list {0:?} contains a NUL character; give names such as X25519:P-256"
    )]
    BadGroups(String),
}

fn ossl<T>(what: impl Into<String>, r: Result<T, ErrorStack>) -> Result<T, ContextError> {
    r.map_err(|source| ContextError::OpenSsl {
        what: what.into(),
        source,
    })
}

/// A certificate (with the chain to send after it) and its private key.
#[derive(Clone)]
pub struct Identity {
    /// The leaf certificate.
    pub certificate: X509,
    /// Intermediates to send after the leaf, in order.
    pub chain: Vec<X509>,
    /// The leaf's private key.
    pub key: PKey<Private>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.certificate.subject_name())
            .field("chain_len", &self.chain.len())
            .field("key", &self.key.id())
            .finish()
    }
}

impl Identity {
    /// Reads a PEM chain (leaf first) and a PEM private key (PKCS#1, PKCS#8 or SEC1).
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Identity, ContextError> {
        let mut certs = X509::stack_from_pem(chain_pem).map_err(|source| ContextError::Pem {
            what: "certificate chain",
            source,
        })?;
        if certs.is_empty() {
            return Err(ContextError::EmptyChain {
                what: "certificate chain",
            });
        }
        let certificate = certs.remove(0);
        let key = PKey::private_key_from_pem(key_pem).map_err(|source| ContextError::Pem {
            what: "private key",
            source,
        })?;
        Ok(Identity {
            certificate,
            chain: certs,
            key,
        })
    }
}

/// Whether the server asks for a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Ask, and fail the handshake without one (AWS mutual-TLS ports).
    #[default]
    Require,
    /// Ask, but continue without one (e.g. custom authentication on 443).
    Request,
    /// Do not ask.
    None,
}

/// Everything a server context needs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The security policy to enforce.
    pub policy: SecurityPolicy,
    /// The listening port, when known: one policy drops a suite on 8443/8883.
    pub port: Option<u16>,
    /// Server identities; give an RSA and an ECDSA one to serve both kinds of suites.
    pub identities: Vec<Identity>,
    /// Client-certificate request mode.
    pub client_auth: ClientAuth,
    /// ALPN protocols the server selects from, in preference order (empty: no ALPN).
    pub alpn: Vec<String>,
    /// When true, a client offering ALPN without any match is refused with
    /// no_application_protocol; when false the handshake continues without ALPN.
    pub alpn_required: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            policy: SecurityPolicy::default(),
            port: None,
            identities: Vec::new(),
            client_auth: ClientAuth::Require,
            alpn: Vec::new(),
            alpn_required: false,
        }
    }
}

/// OpenSSL security level used by both sides unless a caller overrides it.
///
/// OpenSSL 3.2+ defaults to level 2 and 3.0/3.1 to level 1; we pin 2 so behaviour does not
/// drift with the vendored version. Level 2 still permits the static-RSA and SHA-1-MAC CBC
/// suites (AES128-SHA, AES256-SHA, …) that the AWS policies allow and ESP8266 stacks need —
/// the `static_rsa_cbc_suites_survive_the_security_level` test proves it. Level 3 would
/// silently drop every non-forward-secret suite, and levels ≥ 1 already forbid TLS 1.0/1.1,
/// which no AWS policy allows anyway.
pub const SECURITY_LEVEL: u32 = 2;

/// The security level of a server context: [`SECURITY_LEVEL`], except for a policy that
/// allows TLS 1.0 or 1.1 (a legacy device gateway listener, never an AWS policy), which needs
/// level 0 because OpenSSL 3 refuses those versions at every higher level.
pub fn security_level(policy: &SecurityPolicy) -> u32 {
    if policy.min_version < ProtocolVersion::TLS12 {
        0
    } else {
        SECURITY_LEVEL
    }
}

fn ssl_version(v: ProtocolVersion) -> Result<SslVersion, ContextError> {
    Ok(match v {
        ProtocolVersion::SSL3 => SslVersion::SSL3,
        ProtocolVersion::TLS10 => SslVersion::TLS1,
        ProtocolVersion::TLS11 => SslVersion::TLS1_1,
        ProtocolVersion::TLS12 => SslVersion::TLS1_2,
        ProtocolVersion::TLS13 => SslVersion::TLS1_3,
        other => return Err(ContextError::UnsupportedVersion(other)),
    })
}

/// ALPN protocols in wire format (length-prefixed).
fn alpn_wire(protocols: &[String]) -> Result<Vec<u8>, ContextError> {
    let mut out = Vec::new();
    for p in protocols {
        let len = u8::try_from(p.len())
            .ok()
            .filter(|l| *l > 0)
            .ok_or_else(|| ContextError::BadAlpn(p.clone()))?;
        out.push(len);
        out.extend_from_slice(p.as_bytes());
    }
    Ok(out)
}

/// Picks the first server protocol (server preference) that the client's wire-format list
/// offers, returning the slice of the client's list. Malformed client lists match nothing.
fn select_alpn<'c>(server: &[String], client: &'c [u8]) -> Option<&'c [u8]> {
    let mut offered = Vec::new();
    let mut rest = client;
    while let Some((&len, tail)) = rest.split_first() {
        let name = tail.get(..usize::from(len))?;
        offered.push(name);
        rest = tail.get(usize::from(len)..)?;
    }
    server
        .iter()
        .find_map(|p| offered.iter().find(|o| **o == p.as_bytes()).copied())
}

/// Builds the server context for a listener.
pub fn server_acceptor(options: &ServerOptions) -> Result<SslAcceptor, ContextError> {
    if options.identities.is_empty() {
        return Err(ContextError::NoIdentity);
    }
    let policy = &options.policy;
    // The Mozilla intermediate preset brings ffdhe2048 parameters (needed by
    // DHE-RSA-AES256-SHA in TLS12_1_0_2015_01) and sane curves; everything else is overridden.
    let mut b = ossl(
        "creating the server context",
        SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()),
    )?;
    b.set_security_level(security_level(policy));
    // The preset switches TLS 1.0 and 1.1 off with options, which the minimum version below
    // does not override: a legacy gateway policy turns them back on.
    if policy.min_version < ProtocolVersion::TLS12 {
        b.clear_options(SslOptions::NO_TLSV1 | SslOptions::NO_TLSV1_1);
    }
    // A broker holds thousands of mostly idle device connections: give each connection's
    // 16 KiB+ record buffers back to the allocator while nothing is being read or written.
    b.set_mode(SslMode::RELEASE_BUFFERS);
    // Read what the socket has, not one record header and then its body: a device that
    // pipelines publishes sends many small records, and without read-ahead each costs two
    // receive system calls.
    b.set_read_ahead(true);
    ossl(
        "the minimum protocol version",
        b.set_min_proto_version(Some(ssl_version(policy.min_version)?)),
    )?;
    ossl(
        "the maximum protocol version",
        b.set_max_proto_version(Some(ssl_version(policy.max_version)?)),
    )?;
    let tls12 = match options.port {
        Some(port) => policy.tls12_suites_on(port),
        None => policy.tls12_suites.to_vec(),
    };
    // TLS13_1_3_2022_10 has no TLS 1.2 suites; its minimum version already excludes TLS 1.2,
    // and OpenSSL rejects an empty cipher list, so the preset list is left in place there.
    if !tls12.is_empty() {
        let list = tls12.join(":");
        ossl(
            format!("the TLS 1.2 cipher list {list}"),
            b.set_cipher_list(&list),
        )?;
    }
    ossl(
        "the TLS 1.3 cipher suites",
        b.set_ciphersuites(&policy.tls13_suites.join(":")),
    )?;
    // AWS IoT does not support RFC 5077 session tickets (contract §2.1); in TLS 1.3 OpenSSL
    // would still issue stateful tickets unless their number is zero.
    b.set_options(SslOptions::NO_TICKET);
    ossl("zero TLS 1.3 tickets", b.set_num_tickets(0))?;
    ossl(
        "the session id context",
        b.set_session_id_context(b"tether"),
    )?;
    for (i, identity) in options.identities.iter().enumerate() {
        // OpenSSL keeps one certificate slot per key type, so RSA and ECDSA identities coexist
        // and the suite negotiated picks between them.
        ossl(
            format!("server certificate {i}"),
            b.set_certificate(&identity.certificate),
        )?;
        ossl(
            format!("server private key {i} (does it match certificate {i}?)"),
            b.set_private_key(&identity.key),
        )?;
        ossl(format!("server key check {i}"), b.check_private_key())?;
        // Chain certificates go into the store; OpenSSL builds each leaf's chain from it.
        for (j, c) in identity.chain.iter().enumerate() {
            ossl(
                format!("chain certificate {j} of identity {i}"),
                b.cert_store_mut().add_cert(c.clone()),
            )?;
        }
    }
    // A connection the server marked (`hello_refusal::refuse`) is refused at its ClientHello
    // with the alert AWS sends; every other connection continues untouched.
    b.set_client_hello_callback(crate::hello_refusal::callback);
    match options.client_auth {
        ClientAuth::None => b.set_verify(SslVerifyMode::NONE),
        mode => {
            let mut verify = SslVerifyMode::PEER;
            if mode == ClientAuth::Require {
                verify |= SslVerifyMode::FAIL_IF_NO_PEER_CERT;
            }
            // Authorisation is by registry lookup of the leaf's SHA-256 fingerprint (contract
            // §2.3), so chain validity is not the decision: accept any certificate OpenSSL
            // could parse, unless the handshake falls outside the leaf's validity period
            // (`client_validity`). Proof of possession is still enforced, because OpenSSL
            // verifies the client's CertificateVerify signature regardless of this callback.
            b.set_verify_callback(verify, crate::client_validity::verify);
        }
    }
    if !options.alpn.is_empty() {
        // Validates the names (1..=255 bytes) before they are used.
        alpn_wire(&options.alpn)?;
        let protocols = options.alpn.clone();
        let required = options.alpn_required;
        b.set_alpn_select_callback(move |_, client| {
            select_alpn(&protocols, client).ok_or(if required {
                AlpnError::ALERT_FATAL
            } else {
                AlpnError::NOACK
            })
        });
    }
    Ok(b.build())
}

/// Which server certificates a client trusts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trust {
    /// OpenSSL's default verify paths.
    #[default]
    SystemDefault,
    /// A PEM file of trusted roots (like `--cafile`).
    CaFile(PathBuf),
    /// PEM bytes of trusted roots.
    CaPem(Vec<u8>),
    /// No verification at all: for probes that only want to see how far a handshake gets.
    DangerAcceptAny,
}

/// Everything a client context needs.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Which roots to trust.
    pub trust: Trust,
    /// Client certificate and key, for mutual TLS.
    pub identity: Option<Identity>,
    /// SNI to send and host name to verify; None sends no SNI and skips name checks.
    pub server_name: Option<String>,
    /// ALPN protocols to offer.
    pub alpn: Vec<String>,
    /// Lowest version to offer (None: OpenSSL default).
    pub min_version: Option<ProtocolVersion>,
    /// Highest version to offer (None: OpenSSL default).
    pub max_version: Option<ProtocolVersion>,
    /// TLS 1.2-and-below cipher list in OpenSSL syntax (None: OpenSSL default).
    pub tls12_ciphers: Option<String>,
    /// TLS 1.3 suites (None: OpenSSL default; "" offers none).
    pub tls13_suites: Option<String>,
    /// Key-exchange groups to offer, in OpenSSL syntax such as `X25519:P-256` (None: OpenSSL
    /// default, which includes the post-quantum hybrid X25519MLKEM768).
    pub groups: Option<String>,
    /// OpenSSL security level; None picks [`SECURITY_LEVEL`], or 0 when a version below
    /// TLS 1.2 is requested (OpenSSL 3 refuses to offer TLS 1.0/1.1 at level 1 or above).
    pub security_level: Option<u32>,
}

/// A client context plus the per-connection settings `SslConnector` wants at connect time.
#[derive(Debug, Clone)]
pub struct ClientContext {
    connector: SslConnector,
    server_name: Option<String>,
    verify: bool,
}

impl ClientContext {
    /// Builds the context.
    pub fn new(options: &ClientOptions) -> Result<ClientContext, ContextError> {
        let mut b = ossl(
            "creating the client context",
            SslConnector::builder(SslMethod::tls_client()),
        )?;
        // One receive system call for many small records (a subscriber's deliveries).
        b.set_read_ahead(true);
        let old_version = options
            .min_version
            .is_some_and(|v| v < ProtocolVersion::TLS12);
        b.set_security_level(options.security_level.unwrap_or(if old_version {
            0
        } else {
            SECURITY_LEVEL
        }));
        if let Some(v) = options.min_version {
            ossl(
                "the minimum protocol version",
                b.set_min_proto_version(Some(ssl_version(v)?)),
            )?;
        }
        if let Some(v) = options.max_version {
            ossl(
                "the maximum protocol version",
                b.set_max_proto_version(Some(ssl_version(v)?)),
            )?;
        }
        if let Some(list) = &options.tls12_ciphers {
            ossl(format!("the cipher list {list}"), b.set_cipher_list(list))?;
        }
        if let Some(list) = &options.tls13_suites {
            ossl(
                format!("the TLS 1.3 suites {list}"),
                b.set_ciphersuites(list),
            )?;
        }
        if let Some(list) = &options.groups {
            if list.contains('\0') {
                return Err(ContextError::BadGroups(list.clone()));
            }
            ossl(
                format!(
                    "the key-exchange groups {list} (names such as X25519, P-256, P-384, X25519MLKEM768)"
                ),
                b.set_groups_list(list),
            )?;
        }
        let verify = match &options.trust {
            Trust::SystemDefault => true,
            Trust::CaFile(path) => {
                ossl(
                    format!("the CA file {}", path.display()),
                    b.set_ca_file(path),
                )?;
                true
            }
            Trust::CaPem(pem) => {
                let roots = X509::stack_from_pem(pem).map_err(|source| ContextError::Pem {
                    what: "trusted CA certificates",
                    source,
                })?;
                if roots.is_empty() {
                    return Err(ContextError::EmptyChain {
                        what: "trusted CA certificates",
                    });
                }
                for root in roots {
                    ossl(
                        "a trusted CA certificate",
                        b.cert_store_mut().add_cert(root),
                    )?;
                }
                true
            }
            Trust::DangerAcceptAny => {
                b.set_verify(SslVerifyMode::NONE);
                false
            }
        };
        if let Some(id) = &options.identity {
            // Send the certificate and the chain given with it, as a device does: without this
            // OpenSSL completes the chain from the trusted roots and sends the root CA too,
            // which the server already has and must parse and keep for the connection.
            b.set_mode(SslMode::NO_AUTO_CHAIN);
            ossl("the client certificate", b.set_certificate(&id.certificate))?;
            for c in &id.chain {
                ossl(
                    "a client chain certificate",
                    b.add_extra_chain_cert(c.clone()),
                )?;
            }
            ossl("the client private key", b.set_private_key(&id.key))?;
            ossl(
                "the client key check (does the key match the certificate?)",
                b.check_private_key(),
            )?;
        }
        if !options.alpn.is_empty() {
            ossl(
                "the ALPN list",
                b.set_alpn_protos(&alpn_wire(&options.alpn)?),
            )?;
        }
        Ok(ClientContext {
            connector: b.build(),
            server_name: options.server_name.clone(),
            verify,
        })
    }

    /// A fresh connection object with SNI and host-name verification applied; pass it to
    /// `Ssl::connect` or `tokio_openssl::SslStream::new`.
    pub fn ssl(&self) -> Result<Ssl, ContextError> {
        let config = ossl("a new connection", self.connector.configure())?;
        let name = self.server_name.as_deref();
        let config = config
            .use_server_name_indication(name.is_some())
            .verify_hostname(self.verify && name.is_some());
        ossl("the server name", config.into_ssl(name.unwrap_or("")))
    }

    /// The underlying connector.
    pub fn connector(&self) -> &SslConnector {
        &self.connector
    }
}
