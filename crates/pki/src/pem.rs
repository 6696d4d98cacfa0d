//! PEM framing (RFC 7468): finds `-----BEGIN LABEL-----` … `-----END LABEL-----` blocks in
//! text and base64-decodes their bodies. It knows nothing about what the labels mean; the
//! loaders decide that. It never panics on arbitrary bytes.

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub label: String,
    /// True when RFC 1421 headers mark the block as encrypted (`Proc-Type: 4,ENCRYPTED`).
    pub encrypted_headers: bool,
    /// The decoded body, or `None` if the base64 was damaged.
    pub der: Option<Vec<u8>>,
}

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

/// True when the bytes contain a PEM begin marker anywhere.
pub(crate) fn looks_like_pem(input: &[u8]) -> bool {
    find(input, BEGIN).is_some()
}

/// All complete PEM blocks in order. Text between blocks is ignored, as OpenSSL does.
pub(crate) fn blocks(input: &[u8]) -> Vec<Block> {
    let mut out = Vec::new();
    let mut rest = input;
    while let Some(start) = find(rest, BEGIN) {
        let Some(after_begin) = rest.get(start + BEGIN.len()..) else {
            break;
        };
        let Some(label_end) = find(after_begin, DASHES) else {
            break;
        };
        let label_bytes = after_begin.get(..label_end).unwrap_or_default();
        let label = String::from_utf8_lossy(label_bytes).into_owned();
        let Some(body_and_rest) = after_begin.get(label_end + DASHES.len()..) else {
            break;
        };
        let mut end_marker = END.to_vec();
        end_marker.extend_from_slice(label_bytes);
        end_marker.extend_from_slice(DASHES);
        let Some(body_end) = find(body_and_rest, &end_marker) else {
            break;
        };
        let body = body_and_rest.get(..body_end).unwrap_or_default();
        out.push(decode_body(label, body));
        rest = body_and_rest
            .get(body_end + end_marker.len()..)
            .unwrap_or_default();
    }
    out
}

fn decode_body(label: String, body: &[u8]) -> Block {
    let mut encrypted_headers = false;
    let mut b64 = Vec::with_capacity(body.len());
    for line in body.split(|b| *b == b'\n') {
        if line.contains(&b':') {
            // RFC 1421 header such as `Proc-Type: 4,ENCRYPTED` or `DEK-Info: ...`.
            if find(line, b"ENCRYPTED").is_some() {
                encrypted_headers = true;
            }
            continue;
        }
        b64.extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
    }
    Block {
        label,
        encrypted_headers,
        der: base64_decode(&b64),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Strict standard-alphabet base64 with optional `=` padding.
pub(crate) fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let trimmed: &[u8] = {
        let pad = input.iter().rev().take_while(|b| **b == b'=').count();
        if pad > 2 {
            return None;
        }
        input.get(..input.len() - pad)?
    };
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in trimmed {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xFF) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    // A single dangling base64 digit cannot encode a byte.
    if bits >= 6 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_all_lengths() {
        for len in 0..70usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let pem = format!(
                "-----BEGIN X-----\n{}\n-----END X-----\n",
                openssl::base64::encode_block(&data)
            );
            let parsed = blocks(pem.as_bytes());
            assert_eq!(parsed.len(), 1);
            assert_eq!(parsed[0].label, "X");
            assert_eq!(parsed[0].der.as_deref(), Some(data.as_slice()), "len {len}");
        }
    }

    #[test]
    fn base64_rejects_garbage() {
        assert_eq!(base64_decode(b"QQ=="), Some(b"A".to_vec()));
        assert_eq!(base64_decode(b"Q"), None);
        assert_eq!(base64_decode(b"QQ==="), None);
        assert_eq!(base64_decode(b"Q*=="), None);
    }

    #[test]
    fn blocks_skip_text_and_see_encryption_headers() {
        let text = b"Bag Attributes\n-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nQUJD\n-----END RSA PRIVATE KEY-----\ntrailer\n-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n";
        let parsed = blocks(text);
        assert_eq!(parsed.len(), 2);
        assert!(parsed[0].encrypted_headers);
        assert_eq!(parsed[0].der.as_deref(), Some(b"ABC".as_slice()));
        assert_eq!(parsed[1].label, "CERTIFICATE");
        assert!(!parsed[1].encrypted_headers);
    }

    #[test]
    fn unterminated_block_is_ignored() {
        assert!(blocks(b"-----BEGIN CERTIFICATE-----\nQUJD\n").is_empty());
        assert!(looks_like_pem(b"-----BEGIN CERTIFICATE-----\nQUJD\n"));
    }
}
