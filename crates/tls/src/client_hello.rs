//! Our own parser for the first bytes a TLS client sends: record header(s), handshake header and
//! the ClientHello body, fed incrementally. It extracts what a diagnosis needs (versions, suites,
//! SNI, ALPN, groups, signature algorithms, MFL, tickets) and recognises non-TLS openings such as
//! plain MQTT or SSLv2. It does not validate cryptographic content (key shares, PSK binders) and
//! it never decides whether an offer is acceptable (that is `explain`).

use serde::Serialize;
use thiserror::Error;

use crate::hello_types::{ExtensionType, MaxFragmentLength, NamedGroup, SignatureScheme};
use crate::suite::CipherSuite;
use crate::version::ProtocolVersion;

/// Largest plaintext record body (RFC 8446 §5.1, RFC 5246 §6.2.1).
pub const MAX_RECORD_LEN: usize = 16_384;
/// Largest ClientHello body this parser accepts. Real hellos with post-quantum key shares are
/// under 2 KiB; anything near this limit is hostile.
pub const MAX_HELLO_LEN: usize = 65_536;

/// The result of feeding the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The whole ClientHello arrived; `consumed` bytes of input (whole records) were used.
    Complete {
        /// The parsed hello.
        hello: Box<ClientHello>,
        /// Input bytes the records carrying the hello occupied.
        consumed: usize,
    },
    /// More bytes are needed; at least `needed` more before anything new can be decided.
    Incomplete {
        /// Minimum number of additional bytes to read.
        needed: usize,
    },
}

/// What the first bytes look like when they are not a TLS handshake record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotTls {
    /// First byte 0x10: an MQTT CONNECT packet sent in clear text to the TLS port.
    PlainMqtt,
    /// ASCII text starting like an HTTP request.
    Http,
    /// An SSL 2.0-format ClientHello (high bit set, message type 1).
    Sslv2Hello {
        /// Highest version announced inside the SSLv2 hello, when it arrived.
        version: Option<ProtocolVersion>,
    },
    /// Anything else.
    Other {
        /// The first byte received.
        first_byte: u8,
    },
}

impl std::fmt::Display for NotTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotTls::PlainMqtt => f.write_str(
                "first byte 0x10 is an MQTT CONNECT: the client speaks plain MQTT to the TLS port; \
                 enable TLS on the client or connect to the plain-TCP port",
            ),
            NotTls::Http => f.write_str(
                "the client sent an HTTP request in clear text; use https:// or the plain port",
            ),
            NotTls::Sslv2Hello { version: Some(v) } => write!(
                f,
                "an SSLv2-format ClientHello (announcing {v}); SSLv2 hellos are not accepted, \
                 configure the client to send a TLS 1.2 ClientHello"
            ),
            NotTls::Sslv2Hello { version: None } => f.write_str(
                "an SSLv2-format ClientHello; SSLv2 hellos are not accepted, configure the \
                 client to send a TLS 1.2 ClientHello",
            ),
            NotTls::Other { first_byte } => write!(
                f,
                "first byte 0x{first_byte:02x} is not a TLS record type (a ClientHello starts \
                 with 0x16); the client is not speaking TLS"
            ),
        }
    }
}

/// Why the bytes are not a well-formed ClientHello. Every variant is the peer's fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientHelloError {
    /// The connection does not start with TLS at all.
    #[error("not TLS: {0}")]
    NotTls(NotTls),
    /// A TLS record of another content type where a handshake record was expected.
    #[error(
        "record {index}: content type {content_type} ({}) where a handshake record (22) carrying the ClientHello was expected",
        content_type_name(*content_type)
    )]
    UnexpectedRecordType {
        /// Zero-based record number.
        index: usize,
        /// The record's content type byte.
        content_type: u8,
    },
    /// The record header's version major byte is not 3.
    #[error(
        "record {index}: record version 0x{version:04x} is not SSL 3.0/TLS (major byte must be 3)"
    )]
    BadRecordVersion {
        /// Zero-based record number.
        index: usize,
        /// The two version bytes.
        version: u16,
    },
    /// A record longer than TLS allows.
    #[error(
        "record {index}: length {length} exceeds the {MAX_RECORD_LEN}-byte TLS plaintext limit"
    )]
    RecordTooLong {
        /// Zero-based record number.
        index: usize,
        /// The declared length.
        length: usize,
    },
    /// A zero-length handshake record (forbidden by RFC 8446 §5.1).
    #[error(
        "record {index}: zero-length handshake record (RFC 8446 §5.1 forbids empty handshake fragments)"
    )]
    EmptyRecord {
        /// Zero-based record number.
        index: usize,
    },
    /// The first handshake message is not a ClientHello.
    #[error("handshake message type {0} is not client_hello (1)")]
    NotClientHello(u8),
    /// The ClientHello declares an absurd length.
    #[error("client_hello declares {0} bytes, more than the {MAX_HELLO_LEN} this parser accepts")]
    HelloTooLong(usize),
    /// Bytes follow the ClientHello inside the same handshake records.
    #[error("{0} bytes follow the client_hello inside its handshake records")]
    TrailingHandshakeBytes(usize),
    /// A field is malformed; names the field and what is wrong.
    #[error("client_hello {field}: {problem}")]
    Malformed {
        /// The field, e.g. "cipher_suites" or "extension server_name".
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// An extension type appears twice (RFC 8446 §4.2).
    #[error("client_hello extension {0} appears more than once (RFC 8446 §4.2)")]
    DuplicateExtension(ExtensionType),
}

fn content_type_name(ct: u8) -> &'static str {
    match ct {
        20 => "change_cipher_spec",
        21 => "alert",
        22 => "handshake",
        23 => "application_data",
        _ => "unknown",
    }
}

/// A parsed ClientHello: what the client offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientHello {
    /// Version in the first record header.
    pub record_version: ProtocolVersion,
    /// `legacy_version` (for TLS ≤ 1.2 clients, the highest version offered).
    pub legacy_version: ProtocolVersion,
    /// The 32-byte client random.
    #[serde(skip)]
    pub random: [u8; 32],
    /// Legacy session id (0–32 bytes).
    pub session_id: Vec<u8>,
    /// Offered suites in the client's order, GREASE and SCSVs included.
    pub cipher_suites: Vec<CipherSuite>,
    /// Offered compression methods (0 = null).
    pub compression_methods: Vec<u8>,
    /// Extension types in the client's order.
    pub extensions: Vec<ExtensionType>,
    /// SNI host_name, when sent.
    pub server_name: Option<String>,
    /// ALPN protocol names, in order (lossy UTF-8), empty when ALPN was not offered.
    pub alpn: Vec<String>,
    /// supported_versions contents, empty when the extension is absent.
    pub supported_versions: Vec<ProtocolVersion>,
    /// supported_groups contents.
    pub supported_groups: Vec<NamedGroup>,
    /// signature_algorithms contents.
    pub signature_algorithms: Vec<SignatureScheme>,
    /// max_fragment_length request (RFC 6066), when sent.
    pub max_fragment_length: Option<MaxFragmentLength>,
    /// Length of the session_ticket extension payload when the extension is present.
    pub session_ticket: Option<usize>,
    /// Number of TLS records the hello spanned.
    pub records: usize,
}

impl ClientHello {
    /// True when the client offers `version` (via supported_versions if present, else every
    /// version up to legacy_version except TLS 1.3, which needs supported_versions).
    pub fn offers(&self, version: ProtocolVersion) -> bool {
        if self.has_extension(ExtensionType::SUPPORTED_VERSIONS) {
            self.supported_versions.contains(&version)
        } else {
            version <= self.legacy_version && version < ProtocolVersion::TLS13
        }
    }

    /// The highest real version offered.
    pub fn max_version(&self) -> ProtocolVersion {
        if self.has_extension(ExtensionType::SUPPORTED_VERSIONS) {
            self.supported_versions
                .iter()
                .copied()
                .filter(|v| !v.is_grease())
                .max()
                .unwrap_or(self.legacy_version)
        } else {
            self.legacy_version
        }
    }

    /// True when the extension of this type was sent.
    pub fn has_extension(&self, ext: ExtensionType) -> bool {
        self.extensions.contains(&ext)
    }

    /// Offered suites without GREASE and signalling values.
    pub fn real_suites(&self) -> impl Iterator<Item = CipherSuite> + '_ {
        self.cipher_suites
            .iter()
            .copied()
            .filter(|s| !s.is_signal())
    }
}

/// Feeds the bytes received so far; see [`Progress`]. Never panics.
pub fn parse(input: &[u8]) -> Result<Progress, ClientHelloError> {
    let Some(&first) = input.first() else {
        return Ok(Progress::Incomplete { needed: 5 });
    };
    if first != 22 {
        return Err(classify_other(input));
    }
    let mut handshake: Vec<u8> = Vec::new();
    let mut pos = 0usize;
    let mut index = 0usize;
    let mut record_version = None;
    loop {
        let Some(&[content_type, major, minor, len_hi, len_lo]) = input.get(pos..pos + 5) else {
            return Ok(Progress::Incomplete {
                needed: pos + 5 - input.len(),
            });
        };
        if content_type != 22 {
            return Err(ClientHelloError::UnexpectedRecordType {
                index,
                content_type,
            });
        }
        let version = u16::from_be_bytes([major, minor]);
        if major != 3 {
            return Err(ClientHelloError::BadRecordVersion { index, version });
        }
        record_version.get_or_insert(ProtocolVersion(version));
        let length = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        if length > MAX_RECORD_LEN {
            return Err(ClientHelloError::RecordTooLong { index, length });
        }
        if length == 0 {
            return Err(ClientHelloError::EmptyRecord { index });
        }
        let body_end = pos + 5 + length;
        let Some(body) = input.get(pos + 5..body_end) else {
            return Ok(Progress::Incomplete {
                needed: body_end - input.len(),
            });
        };
        handshake.extend_from_slice(body);
        pos = body_end;
        index += 1;
        if let Some(&msg_type) = handshake.first()
            && msg_type != 1
        {
            return Err(ClientHelloError::NotClientHello(msg_type));
        }
        if let Some(&[_, a, b, c]) = handshake.get(..4) {
            let hello_len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            if hello_len > MAX_HELLO_LEN {
                return Err(ClientHelloError::HelloTooLong(hello_len));
            }
            let total = 4 + hello_len;
            if handshake.len() > total {
                return Err(ClientHelloError::TrailingHandshakeBytes(
                    handshake.len() - total,
                ));
            }
            if let Some(body) = handshake.get(4..total) {
                let mut hello = parse_body(body)?;
                hello.record_version = record_version.unwrap_or(ProtocolVersion(version));
                hello.records = index;
                return Ok(Progress::Complete {
                    hello: Box::new(hello),
                    consumed: pos,
                });
            }
        }
    }
}

/// Says what a connection that does not start with 0x16 is speaking.
fn classify_other(input: &[u8]) -> ClientHelloError {
    const HTTP_METHODS: [&[u8]; 8] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
    ];
    match input {
        [ct @ (20 | 21 | 23), ..] => ClientHelloError::UnexpectedRecordType {
            index: 0,
            content_type: *ct,
        },
        [0x10, ..] => ClientHelloError::NotTls(NotTls::PlainMqtt),
        [b0, _, 1, rest @ ..] if b0 & 0x80 != 0 => {
            let version = match rest {
                [hi, lo, ..] => Some(ProtocolVersion(u16::from_be_bytes([*hi, *lo]))),
                _ => None,
            };
            ClientHelloError::NotTls(NotTls::Sslv2Hello { version })
        }
        _ if HTTP_METHODS.iter().any(|m| {
            let n = m.len().min(input.len());
            n >= 3 && input.get(..n) == m.get(..n)
        }) =>
        {
            ClientHelloError::NotTls(NotTls::Http)
        }
        [first_byte, ..] => ClientHelloError::NotTls(NotTls::Other {
            first_byte: *first_byte,
        }),
        [] => ClientHelloError::NotTls(NotTls::Other { first_byte: 0 }),
    }
}

/// A bounds-checked cursor; every read names the field it serves.
struct Reader<'a> {
    buf: &'a [u8],
    field: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], field: &'static str) -> Self {
        Reader { buf, field }
    }

    fn bad(&self, problem: String) -> ClientHelloError {
        ClientHelloError::Malformed {
            field: self.field,
            problem,
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ClientHelloError> {
        if n > self.buf.len() {
            return Err(self.bad(format!(
                "{what} needs {n} bytes but only {} remain",
                self.buf.len()
            )));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &str) -> Result<u8, ClientHelloError> {
        match self.take(1, what)? {
            [b] => Ok(*b),
            _ => Err(self.bad(format!("{what} is missing"))),
        }
    }

    fn u16(&mut self, what: &str) -> Result<u16, ClientHelloError> {
        match self.take(2, what)? {
            [a, b] => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(self.bad(format!("{what} is missing"))),
        }
    }

    fn vec8(&mut self, what: &str) -> Result<&'a [u8], ClientHelloError> {
        let n = self.u8(what)?;
        self.take(usize::from(n), what)
    }

    fn vec16(&mut self, what: &str) -> Result<&'a [u8], ClientHelloError> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn finish(&self) -> Result<(), ClientHelloError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.bad(format!("{} unexpected trailing bytes", self.buf.len())))
        }
    }
}

/// Splits a list of big-endian u16 values, rejecting odd lengths.
fn u16_list(reader: &Reader<'_>, bytes: &[u8], what: &str) -> Result<Vec<u16>, ClientHelloError> {
    if bytes.len() & 1 == 1 {
        return Err(reader.bad(format!("{what} has odd length {}", bytes.len())));
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|c| match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        })
        .collect())
}

fn parse_body(body: &[u8]) -> Result<ClientHello, ClientHelloError> {
    let mut r = Reader::new(body, "body");
    let legacy_version = ProtocolVersion(r.u16("legacy_version")?);
    let mut random = [0u8; 32];
    random.copy_from_slice(r.take(32, "random")?);
    r.field = "session_id";
    let session_id = r.vec8("session_id")?.to_vec();
    if session_id.len() > 32 {
        return Err(r.bad(format!("is {} bytes, at most 32 allowed", session_id.len())));
    }
    r.field = "cipher_suites";
    let suites = r.vec16("cipher_suites")?;
    let cipher_suites: Vec<CipherSuite> = u16_list(&r, suites, "cipher_suites")?
        .into_iter()
        .map(CipherSuite)
        .collect();
    if cipher_suites.is_empty() {
        return Err(r.bad("is empty; a client must offer at least one suite".into()));
    }
    r.field = "compression_methods";
    let compression_methods = r.vec8("compression_methods")?.to_vec();
    if compression_methods.is_empty() {
        return Err(r.bad("is empty; at least the null method (0) is required".into()));
    }
    let mut hello = ClientHello {
        record_version: ProtocolVersion(0),
        legacy_version,
        random,
        session_id,
        cipher_suites,
        compression_methods,
        extensions: Vec::new(),
        server_name: None,
        alpn: Vec::new(),
        supported_versions: Vec::new(),
        supported_groups: Vec::new(),
        signature_algorithms: Vec::new(),
        max_fragment_length: None,
        session_ticket: None,
        records: 0,
    };
    // TLS 1.0–1.2 hellos may end here without an extensions block.
    if r.is_empty() {
        return Ok(hello);
    }
    r.field = "extensions";
    let block = r.vec16("extensions length")?;
    r.finish()?;
    let mut exts = Reader::new(block, "extensions");
    while !exts.is_empty() {
        let ext = ExtensionType(exts.u16("extension type")?);
        let data = exts.vec16("extension data")?;
        if hello.extensions.contains(&ext) {
            return Err(ClientHelloError::DuplicateExtension(ext));
        }
        hello.extensions.push(ext);
        parse_extension(&mut hello, ext, data)?;
    }
    Ok(hello)
}

fn parse_extension(
    hello: &mut ClientHello,
    ext: ExtensionType,
    data: &[u8],
) -> Result<(), ClientHelloError> {
    match ext {
        ExtensionType::SERVER_NAME => {
            let mut outer = Reader::new(data, "extension server_name");
            let list = outer.vec16("server_name_list")?;
            outer.finish()?;
            let mut r = Reader::new(list, "extension server_name");
            while !r.is_empty() {
                let name_type = r.u8("name_type")?;
                let name = r.vec16("host_name")?;
                if name_type != 0 {
                    continue;
                }
                if hello.server_name.is_some() {
                    return Err(r.bad("carries two host_name entries (RFC 6066 §3)".into()));
                }
                if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
                    return Err(r.bad("host_name is empty or not printable ASCII".into()));
                }
                hello.server_name = Some(String::from_utf8_lossy(name).into_owned());
            }
        }
        ExtensionType::MAX_FRAGMENT_LENGTH => {
            let mut r = Reader::new(data, "extension max_fragment_length");
            hello.max_fragment_length = Some(MaxFragmentLength(r.u8("code")?));
            r.finish()?;
        }
        ExtensionType::SUPPORTED_GROUPS => {
            let mut r = Reader::new(data, "extension supported_groups");
            let list = r.vec16("named_group_list")?;
            r.finish()?;
            hello.supported_groups = u16_list(&r, list, "named_group_list")?
                .into_iter()
                .map(NamedGroup)
                .collect();
        }
        ExtensionType::SIGNATURE_ALGORITHMS => {
            let mut r = Reader::new(data, "extension signature_algorithms");
            let list = r.vec16("supported_signature_algorithms")?;
            r.finish()?;
            hello.signature_algorithms = u16_list(&r, list, "supported_signature_algorithms")?
                .into_iter()
                .map(SignatureScheme)
                .collect();
        }
        ExtensionType::ALPN => {
            let mut outer = Reader::new(data, "extension application_layer_protocol_negotiation");
            let list = outer.vec16("protocol_name_list")?;
            outer.finish()?;
            let mut r = Reader::new(list, "extension application_layer_protocol_negotiation");
            if r.is_empty() {
                return Err(r.bad("protocol_name_list is empty".into()));
            }
            while !r.is_empty() {
                let name = r.vec8("protocol name")?;
                if name.is_empty() {
                    return Err(r.bad("contains an empty protocol name".into()));
                }
                hello.alpn.push(String::from_utf8_lossy(name).into_owned());
            }
        }
        ExtensionType::SESSION_TICKET => hello.session_ticket = Some(data.len()),
        ExtensionType::SUPPORTED_VERSIONS => {
            let mut r = Reader::new(data, "extension supported_versions");
            let list = r.vec8("versions")?;
            r.finish()?;
            if list.is_empty() {
                return Err(r.bad("versions list is empty".into()));
            }
            hello.supported_versions = u16_list(&r, list, "versions")?
                .into_iter()
                .map(ProtocolVersion)
                .collect();
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
