//! The fleet provisioning MQTT API's topics (fleet-provision-api.md, reserved-topics.md): the
//! request topics the service claims, what each names, and the two payload formats, JSON and
//! CBOR, in which requests are read and answers written. Answers go to
//! `{request topic}/accepted` and `/rejected`, to the requesting connection alone.

use serde_json::{Map, Value};

use super::error::ProvisioningError;

/// The request topics the service claims (none goes to subscribers too).
pub const ROUTES: [&str; 3] = [
    "$aws/certificates/create/+",
    "$aws/certificates/create-from-csr/+",
    "$aws/provisioning-templates/+/provision/+",
];

/// A payload format, the last level of every request topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Cbor,
}

impl Format {
    fn parse(text: &str) -> Option<Format> {
        match text {
            "json" => Some(Format::Json),
            "cbor" => Some(Format::Cbor),
            _ => None,
        }
    }

    /// Reads a request payload as an object; an empty payload is `{}`.
    pub fn decode(self, payload: &[u8]) -> Result<Map<String, Value>, ProvisioningError> {
        if payload.is_empty() {
            return Ok(Map::new());
        }
        let value: Result<Value, String> = match self {
            Format::Json => serde_json::from_slice(payload).map_err(|e| e.to_string()),
            Format::Cbor => ciborium::de::from_reader(payload).map_err(|e| e.to_string()),
        };
        match value {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(ProvisioningError::invalid_payload(
                "the request payload must be an object",
            )),
            Err(e) => Err(ProvisioningError::invalid_payload(format!(
                "the request payload is not valid {}: {e}",
                self.name()
            ))),
        }
    }

    /// Writes an answer.
    pub fn encode(self, value: &Value) -> Vec<u8> {
        match self {
            Format::Json => value.to_string().into_bytes(),
            Format::Cbor => {
                let mut out = Vec::new();
                // Writing a JSON value to a Vec cannot fail.
                if ciborium::ser::into_writer(value, &mut out).is_err() {
                    out.clear();
                }
                out
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Cbor => "CBOR",
        }
    }
}

/// What a request topic asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    CreateKeysAndCertificate,
    CreateCertificateFromCsr,
    RegisterThing { template: String },
}

/// The operation and format of a request topic, or `None` for any other topic.
pub fn parse(topic: &str) -> Option<(Operation, Format)> {
    let levels: Vec<&str> = topic.split('/').collect();
    match levels.as_slice() {
        ["$aws", "certificates", "create", format] => {
            Some((Operation::CreateKeysAndCertificate, Format::parse(format)?))
        }
        ["$aws", "certificates", "create-from-csr", format] => {
            Some((Operation::CreateCertificateFromCsr, Format::parse(format)?))
        }
        [
            "$aws",
            "provisioning-templates",
            template,
            "provision",
            format,
        ] => Some((
            Operation::RegisterThing {
                template: (*template).to_owned(),
            },
            Format::parse(format)?,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn request_topics_name_their_operation_and_format() {
        assert_eq!(
            parse("$aws/certificates/create/json"),
            Some((Operation::CreateKeysAndCertificate, Format::Json))
        );
        assert_eq!(
            parse("$aws/certificates/create-from-csr/cbor"),
            Some((Operation::CreateCertificateFromCsr, Format::Cbor))
        );
        assert_eq!(
            parse("$aws/provisioning-templates/t1/provision/json"),
            Some((
                Operation::RegisterThing {
                    template: "t1".into()
                },
                Format::Json
            ))
        );
        assert_eq!(parse("$aws/certificates/create/xml"), None);
        assert_eq!(parse("$aws/certificates/create/json/accepted"), None);
    }

    #[test]
    fn both_formats_round_trip_and_refuse_non_objects() {
        let value = json!({"statusCode": 400, "errorCode": "X", "errorMessage": "m"});
        for format in [Format::Json, Format::Cbor] {
            let bytes = format.encode(&value);
            assert_eq!(Value::Object(format.decode(&bytes).unwrap()), value);
            assert!(format.decode(&format.encode(&json!([1]))).is_err());
            assert!(format.decode(b"\xff\x00garbage").is_err());
            assert!(format.decode(b"").unwrap().is_empty());
        }
    }
}
