//! Encodes a ClientHello from a plain description, so a probe can send exactly what a device
//! stack sends when OpenSSL cannot make that offer, and so tests can produce hellos field by
//! field. It writes only what is described (no defaults are added) and it does no cryptography:
//! key shares are supplied by the caller.

use crate::hello_types::{ExtensionType, MaxFragmentLength};
use crate::version::ProtocolVersion;

/// Everything that goes into one ClientHello. Empty lists mean "extension not sent".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloSpec {
    /// Version in the record header (most stacks write TLS 1.0 = 0x0301 here).
    pub record_version: ProtocolVersion,
    /// `legacy_version` (0x0303 for TLS 1.3 clients).
    pub legacy_version: ProtocolVersion,
    /// Client random.
    pub random: [u8; 32],
    /// Legacy session id.
    pub session_id: Vec<u8>,
    /// Suites, in order, as wire values.
    pub cipher_suites: Vec<u16>,
    /// SNI host name.
    pub server_name: Option<String>,
    /// max_fragment_length request.
    pub max_fragment_length: Option<MaxFragmentLength>,
    /// supported_groups.
    pub supported_groups: Vec<u16>,
    /// Send ec_point_formats = [uncompressed].
    pub ec_point_formats: bool,
    /// signature_algorithms.
    pub signature_algorithms: Vec<u16>,
    /// ALPN protocol names.
    pub alpn: Vec<String>,
    /// Send extended_master_secret.
    pub extended_master_secret: bool,
    /// Send an empty session_ticket extension.
    pub session_ticket: bool,
    /// supported_versions.
    pub supported_versions: Vec<ProtocolVersion>,
    /// Send psk_key_exchange_modes = [psk_dhe_ke] (TLS 1.3 clients do).
    pub psk_dhe_ke: bool,
    /// key_share: `Some((group, key_exchange))`; an empty key_exchange sends an empty
    /// client_shares list, which makes a TLS 1.3 server answer with HelloRetryRequest.
    pub key_share: Option<(u16, Vec<u8>)>,
    /// Send renegotiation_info with an empty renegotiated_connection.
    pub renegotiation_info: bool,
    /// Further extensions appended verbatim after the ones above: (type, data).
    pub extra_extensions: Vec<(u16, Vec<u8>)>,
    /// Largest record body to emit; the hello is split across records above this (1..=16384).
    pub max_record_len: usize,
}

impl Default for HelloSpec {
    fn default() -> Self {
        HelloSpec {
            record_version: ProtocolVersion::TLS10,
            legacy_version: ProtocolVersion::TLS12,
            random: [0x5A; 32],
            session_id: Vec::new(),
            cipher_suites: Vec::new(),
            server_name: None,
            max_fragment_length: None,
            supported_groups: Vec::new(),
            ec_point_formats: false,
            signature_algorithms: Vec::new(),
            alpn: Vec::new(),
            extended_master_secret: false,
            session_ticket: false,
            supported_versions: Vec::new(),
            psk_dhe_ke: false,
            key_share: None,
            renegotiation_info: false,
            extra_extensions: Vec::new(),
            max_record_len: crate::client_hello::MAX_RECORD_LEN,
        }
    }
}

impl HelloSpec {
    /// The hello as TLS records, ready to write to a socket. Lengths that would overflow their
    /// wire fields are truncated to what fits (a spec is local data, not peer input).
    pub fn encode(&self) -> Vec<u8> {
        let body = self.body();
        let mut handshake = Vec::with_capacity(body.len() + 4);
        handshake.push(1);
        let len = u32::try_from(body.len())
            .unwrap_or(u32::MAX)
            .min(0x00FF_FFFF);
        handshake.extend_from_slice(len.to_be_bytes().get(1..).unwrap_or_default());
        handshake.extend_from_slice(&body);
        let chunk = self
            .max_record_len
            .clamp(1, crate::client_hello::MAX_RECORD_LEN);
        let mut out = Vec::with_capacity(handshake.len() + 5 * (handshake.len() / chunk + 1));
        for fragment in handshake.chunks(chunk) {
            out.push(22);
            out.extend_from_slice(&self.record_version.0.to_be_bytes());
            put_u16(&mut out, fragment.len());
            out.extend_from_slice(fragment);
        }
        out
    }

    fn body(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&self.legacy_version.0.to_be_bytes());
        b.extend_from_slice(&self.random);
        put_vec8(&mut b, &self.session_id);
        let suites: Vec<u8> = self
            .cipher_suites
            .iter()
            .flat_map(|s| s.to_be_bytes())
            .collect();
        put_vec16(&mut b, &suites);
        put_vec8(&mut b, &[0]);
        let ext = self.extensions();
        if !ext.is_empty() {
            put_vec16(&mut b, &ext);
        }
        b
    }

    fn extensions(&self) -> Vec<u8> {
        let mut e = Vec::new();
        if let Some(name) = &self.server_name {
            let mut entry = vec![0u8];
            put_vec16(&mut entry, name.as_bytes());
            let mut list = Vec::new();
            put_vec16(&mut list, &entry);
            put_ext(&mut e, ExtensionType::SERVER_NAME, &list);
        }
        if let Some(mfl) = self.max_fragment_length {
            put_ext(&mut e, ExtensionType::MAX_FRAGMENT_LENGTH, &[mfl.0]);
        }
        if !self.supported_groups.is_empty() {
            put_ext(
                &mut e,
                ExtensionType::SUPPORTED_GROUPS,
                &u16_vec16(&self.supported_groups),
            );
        }
        if self.ec_point_formats {
            put_ext(&mut e, ExtensionType::EC_POINT_FORMATS, &[1, 0]);
        }
        if !self.signature_algorithms.is_empty() {
            put_ext(
                &mut e,
                ExtensionType::SIGNATURE_ALGORITHMS,
                &u16_vec16(&self.signature_algorithms),
            );
        }
        if !self.alpn.is_empty() {
            let mut names = Vec::new();
            for p in &self.alpn {
                put_vec8(&mut names, p.as_bytes());
            }
            let mut list = Vec::new();
            put_vec16(&mut list, &names);
            put_ext(&mut e, ExtensionType::ALPN, &list);
        }
        if self.extended_master_secret {
            put_ext(&mut e, ExtensionType::EXTENDED_MASTER_SECRET, &[]);
        }
        if self.session_ticket {
            put_ext(&mut e, ExtensionType::SESSION_TICKET, &[]);
        }
        if !self.supported_versions.is_empty() {
            let v: Vec<u8> = self
                .supported_versions
                .iter()
                .flat_map(|v| v.0.to_be_bytes())
                .collect();
            let mut list = Vec::new();
            put_vec8(&mut list, &v);
            put_ext(&mut e, ExtensionType::SUPPORTED_VERSIONS, &list);
        }
        if self.psk_dhe_ke {
            put_ext(&mut e, ExtensionType::PSK_KEY_EXCHANGE_MODES, &[1, 1]);
        }
        if let Some((group, key)) = &self.key_share {
            let mut shares = Vec::new();
            if !key.is_empty() {
                shares.extend_from_slice(&group.to_be_bytes());
                put_vec16(&mut shares, key);
            }
            let mut list = Vec::new();
            put_vec16(&mut list, &shares);
            put_ext(&mut e, ExtensionType::KEY_SHARE, &list);
        }
        if self.renegotiation_info {
            put_ext(&mut e, ExtensionType::RENEGOTIATION_INFO, &[0]);
        }
        for (ext, data) in &self.extra_extensions {
            put_ext(&mut e, ExtensionType(*ext), data);
        }
        e
    }
}

fn put_u16(out: &mut Vec<u8>, len: usize) {
    let v = u16::try_from(len).unwrap_or(u16::MAX);
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_vec8(out: &mut Vec<u8>, data: &[u8]) {
    let data = data.get(..data.len().min(255)).unwrap_or_default();
    out.push(u8::try_from(data.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(data);
}

fn put_vec16(out: &mut Vec<u8>, data: &[u8]) {
    let data = data.get(..data.len().min(65_535)).unwrap_or_default();
    put_u16(out, data.len());
    out.extend_from_slice(data);
}

fn u16_vec16(values: &[u16]) -> Vec<u8> {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    let mut out = Vec::new();
    put_vec16(&mut out, &raw);
    out
}

fn put_ext(out: &mut Vec<u8>, ext: ExtensionType, data: &[u8]) {
    out.extend_from_slice(&ext.0.to_be_bytes());
    put_vec16(out, data);
}
