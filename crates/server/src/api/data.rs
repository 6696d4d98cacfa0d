//! The `iot-data` data plane: Publish (`POST /topics/{topic}?qos=&retain=` with the MQTT 5
//! properties AWS maps to query parameters and `x-amz-mqtt5-*` headers), GetRetainedMessage and
//! ListRetainedMessages. A publish becomes a server-originated message handed to the router
//! (the control plane is another client of the router); it answers once the router has routed
//! it and, for a retained message, once the store has committed it. Retained messages are read
//! from the API's store connection. Shadows are `shadows.rs`; DeleteConnection is `connections.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use broker_core::Message;
use bytes::Bytes;
use mqtt_proto::{MqttStr, QoS, TopicName};
use serde_json::{Map, Value, json};
use store::Order;
use tokio::sync::oneshot;

use super::{Api, ApiError, Request, put_opt};
use crate::mqtt::router::Command;
use crate::persist;

/// Publish: `POST /topics/{topic}`.
pub(super) async fn publish(api: &Api, req: &Request, topic: &str) -> Result<Value, ApiError> {
    let message = message(api, req, topic)?;
    let (reply, done) = oneshot::channel();
    api.router
        .send(Command::ServerPublish { message, reply })
        .await
        .map_err(|_| ApiError::internal("the broker is shutting down"))?;
    done.await
        .map_err(|_| ApiError::internal("the broker stopped before the publish completed"))?;
    Ok(json!({}))
}

/// Builds the message a Publish request describes, under the broker's limits.
fn message(api: &Api, req: &Request, topic: &str) -> Result<Message, ApiError> {
    let limits = &api.config.limits;
    let name = TopicName::new(topic).map_err(|e| {
        ApiError::invalid_request(format!("topic {topic:?} is not a valid topic name: {e}"))
    })?;
    let counted = topic
        .strip_prefix("$aws/rules/")
        .and_then(|rest| rest.split_once('/').map(|(_, tail)| tail))
        .unwrap_or(topic);
    if limits
        .max_topic_bytes
        .is_some_and(|max| counted.len() > max)
        || limits
            .max_topic_slashes
            .is_some_and(|max| counted.bytes().filter(|&b| b == b'/').count() > max)
    {
        return Err(ApiError::invalid_request(format!(
            "topic {topic:?} is too long: AWS IoT allows {} bytes and {} slashes",
            limits.max_topic_bytes.unwrap_or(usize::MAX),
            limits.max_topic_slashes.unwrap_or(usize::MAX)
        )));
    }
    if let Some(max) = limits.max_payload
        && req.body.len() > max
    {
        return Err(ApiError::too_large(format!(
            "The payload exceeds the maximum size allowed: {} bytes, the limit is {max}",
            req.body.len()
        )));
    }
    let qos = match req.query_int("qos", 0, 1)? {
        None | Some(0) => QoS::AtMostOnce,
        Some(_) => QoS::AtLeastOnce,
    };
    let retain = req.query_bool("retain")?.unwrap_or(false);
    let mut message = Message::new(name, Bytes::copy_from_slice(&req.body), qos, retain);
    let properties = &mut message.properties;
    if let Some(text) = req.query("contentType") {
        properties.content_type = Some(mqtt_str(text, "contentType")?);
    }
    if let Some(text) = req.query("responseTopic") {
        properties.response_topic = Some(TopicName::new(text).map_err(|e| {
            ApiError::invalid_request(format!("responseTopic {text:?} is not a topic name: {e}"))
        })?);
    }
    if let Some(secs) = req.query_int("messageExpiry", 0, i64::from(u32::MAX))? {
        properties.message_expiry_interval = u32::try_from(secs).ok();
    }
    match req.header("x-amz-mqtt5-payload-format-indicator") {
        None | Some("UNSPECIFIED_BYTES") => {}
        Some("UTF8_DATA") => properties.payload_format_indicator = Some(1),
        Some(other) => {
            return Err(ApiError::invalid_request(format!(
                "x-amz-mqtt5-payload-format-indicator {other:?} is not UNSPECIFIED_BYTES or \
                 UTF8_DATA"
            )));
        }
    }
    if let Some(text) = req.header("x-amz-mqtt5-correlation-data") {
        let data = BASE64.decode(text).map_err(|_| {
            ApiError::invalid_request("x-amz-mqtt5-correlation-data must be base64")
        })?;
        properties.correlation_data = Some(Bytes::from(data));
    }
    if let Some(text) = req.header("x-amz-mqtt5-user-properties") {
        properties.user_properties = user_properties(text)?;
    }
    Ok(message)
}

/// `x-amz-mqtt5-user-properties`: base64 of a JSON array of one-pair objects (SDKs encode it;
/// plain JSON is accepted too).
fn user_properties(text: &str) -> Result<Vec<(MqttStr, MqttStr)>, ApiError> {
    let json = BASE64
        .decode(text)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| text.to_owned());
    let bad = || {
        ApiError::invalid_request(
            "x-amz-mqtt5-user-properties must be a JSON array of objects with string values, \
             e.g. [{\"a\":\"1\"}]",
        )
    };
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&json) else {
        return Err(bad());
    };
    let mut out = Vec::new();
    for item in items {
        let Value::Object(pairs) = item else {
            return Err(bad());
        };
        for (k, v) in pairs {
            let Value::String(v) = v else {
                return Err(bad());
            };
            out.push((
                mqtt_str(&k, "user property")?,
                mqtt_str(&v, "user property")?,
            ));
        }
    }
    Ok(out)
}

fn mqtt_str(text: &str, what: &str) -> Result<MqttStr, ApiError> {
    MqttStr::new(text)
        .map_err(|e| ApiError::invalid_request(format!("{what} {text:?} is not valid: {e}")))
}

/// GetRetainedMessage: `GET /retainedMessage/{topic}`.
pub(super) fn get_retained(api: &Api, topic: &str) -> Result<Value, ApiError> {
    let now = super::now_ms();
    let stored = api
        .registry(|s| s.retained(topic))?
        .filter(|r| r.expires_ms.is_none_or(|at| at > now))
        .ok_or_else(|| {
            ApiError::not_found(format!("No retained message exists for topic {topic}"))
        })?;
    let delivery = persist::decode_delivery(&stored.message, topic, None)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let message = &delivery.message;
    let mut out = Map::new();
    out.insert("topic".into(), json!(stored.topic));
    out.insert("payload".into(), json!(BASE64.encode(&message.payload)));
    out.insert("qos".into(), json!(qos_number(message.qos)));
    out.insert("lastModifiedTime".into(), json!(stored.updated_ms));
    let properties = &message.properties.user_properties;
    if !properties.is_empty() {
        let pairs: Vec<Value> = properties
            .iter()
            .map(|(k, v)| json!({ k.as_str(): v.as_str() }))
            .collect();
        let text = Value::Array(pairs).to_string();
        put_opt(&mut out, "userProperties", Some(json!(BASE64.encode(text))));
    }
    Ok(Value::Object(out))
}

/// ListRetainedMessages: `GET /retainedMessage?nextToken=&maxResults=`.
pub(super) fn list_retained(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let page = req.page("nextToken", "maxResults", 200, Order::Ascending)?;
    let now = super::now_ms();
    let result = api.registry(|s| s.list_retained(&page))?;
    let topics: Vec<Value> = result
        .items
        .iter()
        .filter(|r| r.expires_ms.is_none_or(|at| at > now))
        .filter_map(|r| {
            let delivery = persist::decode_delivery(&r.message, &r.topic, None).ok()?;
            Some(json!({
                "topic": r.topic,
                "payloadSize": delivery.message.payload.len(),
                "qos": qos_number(delivery.message.qos),
                "lastModifiedTime": r.updated_ms,
            }))
        })
        .collect();
    let mut out = Map::new();
    out.insert("retainedTopics".into(), Value::Array(topics));
    put_opt(&mut out, "nextToken", result.next_token.map(Value::String));
    Ok(Value::Object(out))
}

fn qos_number(qos: QoS) -> u8 {
    match qos {
        QoS::AtMostOnce => 0,
        QoS::AtLeastOnce => 1,
        QoS::ExactlyOnce => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_properties_accept_base64_and_plain_json() {
        let plain = r#"[{"a":"1"},{"b":"2"}]"#;
        let encoded = BASE64.encode(plain);
        for text in [plain, encoded.as_str()] {
            let props = user_properties(text).unwrap();
            assert_eq!(props.len(), 2);
            assert_eq!(props[0].0.as_str(), "a");
            assert_eq!(props[1].1.as_str(), "2");
        }
        assert!(user_properties(r#"{"a":"1"}"#).is_err());
        assert!(user_properties(r#"[{"a":1}]"#).is_err());
    }
}
