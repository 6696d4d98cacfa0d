//! ESP8266 NONOS SDK certificate sector images (`esp_ca_cert.bin`, `esp_cert_private_key.bin`)
//! exactly as the SDK's `make_cacert.py` / `make_cert.py` write them: records of a 32-byte
//! NUL-padded name, a little-endian u16 length and the payload, back to back with no header,
//! alignment or checksum; the image is then filled with 0xFF (erased flash) to a whole 4 KiB
//! sector. SDK 2.x payloads are DER, SDK 3.x payloads PEM; keys are always PKCS#1 RSA.
//! Reading images back lives in `nonos_inspect`; flash maps in `flash_map`.

use std::fmt::Write as _;
use std::str::FromStr;

use pki::{KeyFormat, PKeyRef, Private, X509Ref};

use crate::credentials::{Bundle, Credentials, OutputFile};
use crate::error::{DeviceImageError, Result};
use crate::flash_map::{FlashLayout, FlashSize, Placement, SECTOR_SIZE, hex};

/// Bytes in a record's name field.
pub const NAME_FIELD_LEN: usize = 32;
/// Bytes in a record header (name + length).
pub const HEADER_LEN: usize = 34;
/// Record name of the CA image (file name with extension, as `make_cacert.py` keeps it).
pub const CA_RECORD_NAME: &str = "TLS.ca_x509.cer";
/// Record name of the client certificate (`make_cert.py` strips the extension).
pub const CERT_RECORD_NAME: &str = "certificate";
/// Record name of the client private key.
pub const KEY_RECORD_NAME: &str = "private_key";
/// Output file name of the CA image.
pub const CA_IMAGE_FILE: &str = "esp_ca_cert.bin";
/// Output file name of the client certificate + key image.
pub const CLIENT_IMAGE_FILE: &str = "esp_cert_private_key.bin";

/// Which NONOS SDK generation the image is for; it decides the payload encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdkVersion {
    /// v2.0.0 … v2.2.1: DER certificate, DER PKCS#1 key (smallest; what libssl reads best).
    V2,
    /// v3.0 … v3.0.x: PEM text as OpenSSL writes it.
    V3,
}

impl FromStr for SdkVersion {
    type Err = DeviceImageError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "2" | "2.x" | "v2" => Ok(Self::V2),
            "3" | "3.x" | "v3" => Ok(Self::V3),
            other => Err(DeviceImageError::Layout(format!(
                "unknown NONOS SDK version '{other}'; use 2 (DER payloads) or 3 (PEM payloads)"
            ))),
        }
    }
}

/// Appends one record to `out`, refusing names that do not fit and payloads over 65535 bytes.
pub fn encode_record(name: &str, payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
    if name.len() >= NAME_FIELD_LEN {
        return Err(DeviceImageError::NameTooLong {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(DeviceImageError::BadName {
            name: name.to_owned(),
        });
    }
    let len = u16::try_from(payload.len()).map_err(|_| DeviceImageError::PayloadTooLarge {
        name: name.to_owned(),
        len: payload.len(),
    })?;
    let mut field = [0u8; NAME_FIELD_LEN];
    for (slot, byte) in field.iter_mut().zip(name.bytes()) {
        *slot = byte;
    }
    out.extend_from_slice(&field);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Fills `image` with 0xFF up to the next 4 KiB boundary, as erased flash reads.
pub fn pad_to_sector(mut image: Vec<u8>) -> Vec<u8> {
    let padded = image.len().div_ceil(SECTOR_SIZE).max(1) * SECTOR_SIZE;
    image.resize(padded, 0xFF);
    image
}

/// Builds `esp_ca_cert.bin`: one `TLS.ca_x509.cer` record, padded to a sector.
pub fn ca_image(ca: &X509Ref, sdk: SdkVersion) -> Result<Vec<u8>> {
    refuse_ec_certificate(ca, "the CA certificate")?;
    let payload = match sdk {
        SdkVersion::V2 => pki::certificate_der(ca)?,
        SdkVersion::V3 => pki::certificate_pem(ca)?,
    };
    let mut image = Vec::with_capacity(SECTOR_SIZE);
    encode_record(CA_RECORD_NAME, &payload, &mut image)?;
    Ok(pad_to_sector(image))
}

/// Builds `esp_cert_private_key.bin`: `certificate` then `private_key` (PKCS#1), padded.
pub fn client_image(
    certificate: &X509Ref,
    key: &PKeyRef<Private>,
    sdk: SdkVersion,
) -> Result<Vec<u8>> {
    refuse_ec_certificate(certificate, "the device certificate")?;
    let description = pki::describe_key(key);
    if !description.is_rsa() {
        return Err(DeviceImageError::EcUnsupported {
            what: "the device private key".to_owned(),
            key: description.to_string(),
            target: "ESP8266 NONOS",
        });
    }
    if !pki::key_matches_certificate(key, certificate) {
        return Err(DeviceImageError::KeyMismatch {
            certificate: "(device certificate)".to_owned(),
            key: "(device key)".to_owned(),
        });
    }
    let (cert_payload, key_payload) = match sdk {
        SdkVersion::V2 => (
            pki::certificate_der(certificate)?,
            pki::private_key_der(key, KeyFormat::Pkcs1)?,
        ),
        SdkVersion::V3 => (
            pki::certificate_pem(certificate)?,
            pki::private_key_pem(key, KeyFormat::Pkcs1)?,
        ),
    };
    let mut image = Vec::with_capacity(SECTOR_SIZE);
    encode_record(CERT_RECORD_NAME, &cert_payload, &mut image)?;
    encode_record(KEY_RECORD_NAME, &key_payload, &mut image)?;
    Ok(pad_to_sector(image))
}

fn refuse_ec_certificate(cert: &X509Ref, what: &str) -> Result<()> {
    let summary = pki::summarize(cert)?;
    if summary.key.is_rsa() {
        return Ok(());
    }
    Err(DeviceImageError::EcUnsupported {
        what: format!("{what} ({})", summary.subject),
        key: summary.key.to_string(),
        target: "ESP8266 NONOS",
    })
}

/// Where to put the two images and which flash layout to check them against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonosPlan {
    pub sdk: SdkVersion,
    pub ca_address: u32,
    pub cert_address: u32,
    pub layout: FlashLayout,
}

/// Builds both images, checks their placement (refusing overlaps with code or SDK data) and
/// writes the esptool command and the espconn calls into the instructions.
pub fn pack(credentials: &Credentials, plan: &NonosPlan) -> Result<Bundle> {
    let ca = ca_image(&credentials.ca, plan.sdk).map_err(|e| name_inputs(e, credentials))?;
    let client = client_image(&credentials.certificate, &credentials.key, plan.sdk)
        .map_err(|e| name_inputs(e, credentials))?;
    let placements = [
        Placement::new(CA_IMAGE_FILE, plan.ca_address, ca.len()),
        Placement::new(CLIENT_IMAGE_FILE, plan.cert_address, client.len()),
    ];
    let report = plan.layout.check(&placements);
    if !report.problems.is_empty() {
        return Err(DeviceImageError::Placement {
            problems: report.problems,
        });
    }
    let instructions = instructions(plan, &ca, &client, &report.warnings);
    Ok(Bundle {
        files: vec![
            OutputFile {
                name: CA_IMAGE_FILE.to_owned(),
                bytes: ca,
                secret: false,
            },
            OutputFile {
                name: CLIENT_IMAGE_FILE.to_owned(),
                bytes: client,
                secret: true,
            },
        ],
        instructions,
    })
}

/// Replaces the placeholder names in errors with the user's file names.
fn name_inputs(err: DeviceImageError, credentials: &Credentials) -> DeviceImageError {
    match err {
        DeviceImageError::KeyMismatch { .. } => DeviceImageError::KeyMismatch {
            certificate: credentials.certificate_name.clone(),
            key: credentials.key_name.clone(),
        },
        DeviceImageError::EcUnsupported { what, key, target } => {
            let file = if what.starts_with("the CA") {
                &credentials.ca_name
            } else if what.contains("private key") {
                &credentials.key_name
            } else {
                &credentials.certificate_name
            };
            DeviceImageError::EcUnsupported {
                what: format!("{file}: {what}"),
                key,
                target,
            }
        }
        other => other,
    }
}

fn instructions(plan: &NonosPlan, ca: &[u8], client: &[u8], warnings: &[String]) -> String {
    let (sdk_text, payload_text) = match plan.sdk {
        SdkVersion::V2 => ("2.x", "DER payloads"),
        SdkVersion::V3 => ("3.x", "PEM payloads"),
    };
    let ca_sector = plan.ca_address / SECTOR_SIZE_U32;
    let cert_sector = plan.cert_address / SECTOR_SIZE_U32;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "ESP8266 NONOS SDK {sdk_text} certificate images ({payload_text}, PKCS#1 RSA key):"
    );
    let _ = writeln!(
        text,
        "  {CA_IMAGE_FILE:<26}{:>6} bytes  -> {} (sector {})",
        ca.len(),
        hex(plan.ca_address),
        hex(ca_sector)
    );
    let _ = writeln!(
        text,
        "  {CLIENT_IMAGE_FILE:<26}{:>6} bytes  -> {} (sector {})",
        client.len(),
        hex(plan.cert_address),
        hex(cert_sector)
    );
    let _ = writeln!(text);
    let _ = writeln!(text, "Flash them (module in download mode):");
    let _ = writeln!(
        text,
        "  esptool.py --port /dev/ttyUSB0 write_flash {} {CA_IMAGE_FILE} {} {CLIENT_IMAGE_FILE}",
        hex(plan.ca_address),
        hex(plan.cert_address)
    );
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "In the firmware, before espconn_secure_connect() (sector = address / 0x1000):"
    );
    let _ = writeln!(
        text,
        "  espconn_secure_ca_enable(ESPCONN_CLIENT, {});",
        hex(ca_sector)
    );
    let _ = writeln!(
        text,
        "  espconn_secure_cert_req_enable(ESPCONN_CLIENT, {});",
        hex(cert_sector)
    );
    let _ = writeln!(text, "  espconn_secure_set_size(ESPCONN_CLIENT, 8192);");
    if plan.sdk == SdkVersion::V3 {
        if plan.layout.size == FlashSize::Kb512 {
            let _ = writeln!(
                text,
                "\nwarning: SDK 3.x refuses 512 KB flash maps (its examples #error on maps 0 and 1); 512 KB modules stay on SDK 2.2.x."
            );
        }
        let _ = writeln!(text);
        let _ = writeln!(
            text,
            "SDK 3.x also needs the sectors in the partition table registered in user_pre_init():"
        );
        let _ = writeln!(
            text,
            "  {{ SYSTEM_PARTITION_SSL_CLIENT_CA, {}, {} }},",
            hex(plan.ca_address),
            hex(len_u32(ca))
        );
        let _ = writeln!(
            text,
            "  {{ SYSTEM_PARTITION_SSL_CLIENT_CERT_PRIVKEY, {}, {} }},",
            hex(plan.cert_address),
            hex(len_u32(client))
        );
    }
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "Placement checked against {}: no overlap with code or SDK data.",
        plan.layout.describe_short()
    );
    for warning in warnings {
        let _ = writeln!(text, "warning: {warning}");
    }
    let _ = writeln!(text);
    let _ = writeln!(text, "Notes:");
    let _ = writeln!(
        text,
        "  - Link -lmbedtls (SDK >= 2.2.0) instead of -lssl: the libssl (axTLS) stack stops at TLS 1.1 and AWS IoT needs TLS 1.2."
    );
    let _ = writeln!(
        text,
        "  - A 8192-byte TLS buffer needs roughly 30 KB of free heap when connecting; the default 2048 is too small for a server certificate chain (-0x7200)."
    );
    let _ = writeln!(
        text,
        "  - NONOS sends no SNI and has no ECC: use RSA certificates and an endpoint that does not need SNI."
    );
    text
}

const SECTOR_SIZE_U32: u32 = 4096;

fn len_u32(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout_is_name_len_le_payload() {
        let mut out = Vec::new();
        encode_record("abc", &[1, 2, 3], &mut out).unwrap();
        assert_eq!(out.len(), 34 + 3);
        assert_eq!(&out[..3], b"abc");
        assert!(out[3..32].iter().all(|b| *b == 0));
        assert_eq!(&out[32..34], &[3, 0]);
        assert_eq!(&out[34..], &[1, 2, 3]);
    }

    #[test]
    fn records_follow_each_other_without_padding() {
        let mut out = Vec::new();
        encode_record("a", &[9; 300], &mut out).unwrap();
        encode_record("b", &[7], &mut out).unwrap();
        assert_eq!(out.len(), 34 + 300 + 34 + 1);
        assert_eq!(&out[32..34], &[0x2c, 0x01], "300 little-endian");
        assert_eq!(out[334], b'b');
    }

    #[test]
    fn name_and_payload_limits() {
        let mut out = Vec::new();
        let name31 = "n".repeat(31);
        encode_record(&name31, &[], &mut out).unwrap();
        let err = encode_record(&"n".repeat(32), &[], &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "record name '{}' is 32 bytes; the ESP8266 NONOS record header holds at most 31 bytes plus the terminating NUL",
                "n".repeat(32)
            )
        );
        encode_record("max", &vec![0; 65535], &mut out).unwrap();
        let err = encode_record("big", &vec![0; 65536], &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "record 'big' payload is 65536 bytes; the NONOS length field is 16 bits, so at most 65535"
        );
        assert!(matches!(
            encode_record("a b", &[], &mut out),
            Err(DeviceImageError::BadName { .. })
        ));
        assert!(matches!(
            encode_record("", &[], &mut out),
            Err(DeviceImageError::BadName { .. })
        ));
    }

    #[test]
    fn padding_reaches_the_sector_boundary() {
        assert_eq!(pad_to_sector(vec![1; 1273]).len(), 4096);
        assert_eq!(pad_to_sector(vec![1; 4096]).len(), 4096);
        assert_eq!(pad_to_sector(vec![1; 4097]).len(), 8192);
        assert_eq!(pad_to_sector(Vec::new()).len(), 4096);
        assert!(pad_to_sector(vec![1; 10])[10..].iter().all(|b| *b == 0xFF));
    }

    #[test]
    fn sdk_version_parsing() {
        assert_eq!("2".parse::<SdkVersion>().unwrap(), SdkVersion::V2);
        assert_eq!("3".parse::<SdkVersion>().unwrap(), SdkVersion::V3);
        assert!("4".parse::<SdkVersion>().is_err());
    }
}
