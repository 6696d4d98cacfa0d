//! A minimal, panic-free DER walker used to classify inputs (certificate, CSR, public key,
//! PKCS#1 / PKCS#8 / SEC1 private key) and to read the few certificate extensions the OpenSSL
//! binding does not expose. It does not decode values beyond what classification needs; full
//! parsing is left to OpenSSL.

/// One DER element: its tag byte, its content bytes and how many bytes the whole element
/// (header + content) occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

pub(crate) const TAG_BOOLEAN: u8 = 0x01;
pub(crate) const TAG_INTEGER: u8 = 0x02;
pub(crate) const TAG_BIT_STRING: u8 = 0x03;
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
pub(crate) const TAG_OID: u8 = 0x06;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
pub(crate) const TAG_CONTEXT_0: u8 = 0xA0;
pub(crate) const TAG_CONTEXT_3: u8 = 0xA3;

/// Reads the header of the first DER element and returns `(header_len, content_len)`.
/// Only single-byte tags and definite lengths of up to four length bytes are accepted, which
/// covers every certificate and key format this crate handles.
fn header(input: &[u8]) -> Option<(usize, usize)> {
    let tag = *input.first()?;
    if tag & 0x1F == 0x1F {
        return None;
    }
    let first = *input.get(1)?;
    if first < 0x80 {
        return Some((2, usize::from(first)));
    }
    let count = usize::from(first & 0x7F);
    if count == 0 || count > 4 {
        return None;
    }
    let bytes = input.get(2..2 + count)?;
    let len = bytes
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((2 + count, len))
}

/// Total length (header + content) the first DER element claims, even when the input is
/// shorter than that. Used to compare an ASN.1 length against a container's length field.
pub fn der_claimed_len(input: &[u8]) -> Option<usize> {
    let (header_len, content_len) = header(input)?;
    header_len.checked_add(content_len)
}

/// Splits the first complete DER element off `input`.
pub(crate) fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (header_len, content_len) = header(input)?;
    let end = header_len.checked_add(content_len)?;
    let content = input.get(header_len..end)?;
    let rest = input.get(end..)?;
    let tag = *input.first()?;
    Some((Tlv { tag, content }, rest))
}

/// All elements inside a constructed element's content, or `None` if any is malformed.
pub(crate) fn children(content: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (tlv, next) = read_tlv(rest)?;
        out.push(tlv);
        rest = next;
    }
    Some(out)
}

/// What a DER blob looks like structurally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Certificate,
    CertificateRequest,
    PublicKeyInfo,
    RsaPublicKey,
    Pkcs1PrivateKey,
    Pkcs8PrivateKey,
    EncryptedPkcs8,
    Sec1PrivateKey,
}

/// Classifies a DER blob by its ASN.1 skeleton. Trailing bytes after the first element are
/// ignored here; callers that care compare [`der_claimed_len`] with the input length.
pub(crate) fn shape(input: &[u8]) -> Option<Shape> {
    let (outer, _) = read_tlv(input)?;
    if outer.tag != TAG_SEQUENCE {
        return None;
    }
    let parts = children(outer.content)?;
    let tags: Vec<u8> = parts.iter().map(|t| t.tag).collect();
    match tags.as_slice() {
        [TAG_SEQUENCE, TAG_SEQUENCE, TAG_BIT_STRING] => {
            let inner = parts.first()?;
            let fields = children(inner.content)?;
            let first_tag = fields.first().map(|t| t.tag);
            // A TBSCertificate starts with the [0] version (v2/v3) or has at least six
            // fields; a CertificationRequestInfo has exactly four.
            if first_tag == Some(TAG_CONTEXT_0) || fields.len() >= 6 {
                Some(Shape::Certificate)
            } else {
                Some(Shape::CertificateRequest)
            }
        }
        [TAG_SEQUENCE, TAG_BIT_STRING] => Some(Shape::PublicKeyInfo),
        [TAG_SEQUENCE, TAG_OCTET_STRING] => Some(Shape::EncryptedPkcs8),
        [TAG_INTEGER, TAG_SEQUENCE, TAG_OCTET_STRING, ..] => Some(Shape::Pkcs8PrivateKey),
        [TAG_INTEGER, TAG_OCTET_STRING, ..] => Some(Shape::Sec1PrivateKey),
        [TAG_INTEGER, TAG_INTEGER] => Some(Shape::RsaPublicKey),
        [TAG_INTEGER, TAG_INTEGER, TAG_INTEGER, ..] if tags.len() >= 9 => {
            Some(Shape::Pkcs1PrivateKey)
        }
        _ => None,
    }
}

/// The extensions of a DER certificate as `(oid content bytes, value bytes)` pairs.
pub(crate) fn certificate_extensions(cert_der: &[u8]) -> Vec<(&[u8], &[u8])> {
    extensions_inner(cert_der).unwrap_or_default()
}

fn extensions_inner(cert_der: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let (cert, _) = read_tlv(cert_der)?;
    let (tbs, _) = read_tlv(cert.content)?;
    let fields = children(tbs.content)?;
    let wrapper = fields.iter().find(|t| t.tag == TAG_CONTEXT_3)?;
    let (list, _) = read_tlv(wrapper.content)?;
    let mut out = Vec::new();
    for ext in children(list.content)? {
        let parts = children(ext.content)?;
        let oid = parts.first().filter(|t| t.tag == TAG_OID)?;
        let value = parts.iter().rev().find(|t| t.tag == TAG_OCTET_STRING)?;
        out.push((oid.content, value.content));
    }
    Some(out)
}

/// Dotted-decimal text of an OID's content bytes, e.g. `1.3.6.1.5.5.7.3.1`.
pub(crate) fn oid_text(content: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for b in content {
        acc = (acc << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        assert_eq!(header(&[0x30, 0x03, 1, 2, 3]), Some((2, 3)));
        assert_eq!(header(&[0x30, 0x82, 0x04, 0xd3]), Some((4, 0x4d3)));
        assert_eq!(header(&[0x30, 0x80]), None, "indefinite length is not DER");
        assert_eq!(header(&[0x1F, 0x01]), None, "multi-byte tags are refused");
        assert_eq!(header(&[0x30]), None);
        assert_eq!(der_claimed_len(&[0x30, 0x82, 0x04, 0xd3]), Some(1239));
    }

    #[test]
    fn read_tlv_needs_the_whole_element() {
        assert!(read_tlv(&[0x04, 0x03, 1, 2]).is_none());
        let (tlv, rest) = read_tlv(&[0x04, 0x02, 1, 2, 9]).unwrap();
        assert_eq!(tlv.tag, TAG_OCTET_STRING);
        assert_eq!(tlv.content, &[1, 2]);
        assert_eq!(rest, &[9]);
    }

    #[test]
    fn oid_text_known_values() {
        assert_eq!(
            oid_text(&[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01]),
            "1.3.6.1.5.5.7.3.1"
        );
        assert_eq!(oid_text(&[0x55, 0x1D, 0x13]), "2.5.29.19");
        assert_eq!(
            oid_text(&[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]),
            "1.2.840.10045.3.1.7"
        );
    }

    #[test]
    fn shape_rejects_non_sequences() {
        assert_eq!(shape(&[0x02, 0x01, 0x00]), None);
        assert_eq!(shape(b"hello"), None);
        assert_eq!(shape(&[]), None);
    }
}
