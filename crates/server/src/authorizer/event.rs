//! The event AWS IoT sends a custom authorizer's function ("Defining your Lambda function" in
//! the developer guide): the token, whether its signature was verified, the protocols of the
//! connection and what each carried (TLS server name; HTTP headers and query string; MQTT user
//! name, base64 password and client id), and a connection id. Fields that do not apply are left
//! out, as AWS leaves them out. It does not call anything.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value, json};

/// What a connection offered to a custom authorizer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The token (under the authorizer's `tokenKeyName`), when one was sent.
    pub token: Option<String>,
    /// Its signature (`x-amz-customauthorizer-signature`, base64), when one was sent.
    pub signature: Option<String>,
    /// The TLS server name (SNI).
    pub server_name: Option<String>,
    /// HTTP headers and query string (WebSocket upgrade or HTTPS request).
    pub http: Option<HttpData>,
    /// The MQTT CONNECT's user name, password and client id (ALPN `mqtt`).
    pub mqtt: Option<MqttData>,
}

/// The HTTP part of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpData {
    /// Headers by name (lower case); repeated headers joined with `,`.
    pub headers: BTreeMap<String, String>,
    /// The query string with its `?`, or empty.
    pub query_string: String,
}

/// The MQTT part of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MqttData {
    /// The user name as sent (with its `?…` parameters).
    pub username: Option<String>,
    /// The password bytes.
    pub password: Option<Vec<u8>>,
    /// The client id.
    pub client_id: Option<String>,
}

/// The event for `credentials`; `signature_verified` says whether tether checked the token's
/// signature (false for authorizers with signing disabled).
pub fn event(credentials: &Credentials, signature_verified: bool, connection_id: &str) -> Value {
    let mut protocols = vec![json!("tls")];
    let mut data = Map::new();
    let mut tls = Map::new();
    if let Some(name) = &credentials.server_name {
        tls.insert("serverName".into(), json!(name));
    }
    data.insert("tls".into(), Value::Object(tls));
    if let Some(http) = &credentials.http {
        protocols.push(json!("http"));
        let mut part = Map::new();
        part.insert("headers".into(), json!(http.headers));
        if !http.query_string.is_empty() {
            part.insert("queryString".into(), json!(http.query_string));
        }
        data.insert("http".into(), Value::Object(part));
    }
    if let Some(mqtt) = &credentials.mqtt {
        protocols.push(json!("mqtt"));
        let mut part = Map::new();
        if let Some(username) = &mqtt.username {
            part.insert("username".into(), json!(username));
        }
        if let Some(password) = &mqtt.password {
            part.insert(
                "password".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(password)),
            );
        }
        if let Some(client_id) = &mqtt.client_id {
            part.insert("clientId".into(), json!(client_id));
        }
        data.insert("mqtt".into(), Value::Object(part));
    }
    let mut event = Map::new();
    if let Some(token) = &credentials.token {
        event.insert("token".into(), json!(token));
    }
    event.insert("signatureVerified".into(), json!(signature_verified));
    event.insert("protocols".into(), Value::Array(protocols));
    event.insert("protocolData".into(), Value::Object(data));
    event.insert("connectionMetadata".into(), json!({ "id": connection_id }));
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_has_awss_fields_and_leaves_out_what_does_not_apply() {
        let credentials = Credentials {
            token: Some("tok".into()),
            signature: Some("sig".into()),
            server_name: Some("localhost".into()),
            http: None,
            mqtt: Some(MqttData {
                username: Some("u?x-amz-customauthorizer-name=a".into()),
                password: Some(b"secret".to_vec()),
                client_id: Some("c1".into()),
            }),
        };
        let event = event(&credentials, true, "id-1");
        assert_eq!(
            event,
            json!({
                "token": "tok",
                "signatureVerified": true,
                "protocols": ["tls", "mqtt"],
                "protocolData": {
                    "tls": {"serverName": "localhost"},
                    "mqtt": {
                        "username": "u?x-amz-customauthorizer-name=a",
                        "password": "c2VjcmV0",
                        "clientId": "c1"
                    }
                },
                "connectionMetadata": {"id": "id-1"}
            })
        );
        let http = Credentials {
            http: Some(HttpData {
                headers: BTreeMap::from([("host".into(), "h".into())]),
                query_string: "?a=b".into(),
            }),
            ..Credentials::default()
        };
        let event = super::event(&http, false, "id-2");
        assert_eq!(event["protocols"], json!(["tls", "http"]));
        assert_eq!(event["protocolData"]["http"]["queryString"], "?a=b");
        assert!(event.get("token").is_none());
    }
}
