//! DescribeEndpoint (`GET /endpoint?endpointType=`) and tether's two extensions: the mqtts port
//! as a response header of DescribeEndpoint (AWS's answer is a bare host; devices add 8883
//! themselves, a local broker may listen elsewhere) and the root CA at `/_tether/root-ca.pem`.
//! It does not mint per-account host names: every endpoint type answers the same host, which
//! the server certificates cover, so it resolves and verifies everywhere.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use super::{Api, ApiError, Reply, Request};

/// The endpoint types AWS knows; anything else is InvalidRequest.
const ENDPOINT_TYPES: [&str; 4] = [
    "iot:Data",
    "iot:Data-ATS",
    "iot:CredentialProvider",
    "iot:Jobs",
];

/// Response header carrying the port of the mutual-TLS MQTT listener.
pub const MQTTS_PORT_HEADER: &str = "x-tether-mqtts-port";

/// DescribeEndpoint: `{"endpointAddress": HOST}`, stable for every type.
pub(super) fn describe(api: &Api, req: &Request) -> Result<Reply, ApiError> {
    if let Some(kind) = req.query("endpointType")
        && !ENDPOINT_TYPES.contains(&kind)
    {
        return Err(ApiError::invalid_request(format!(
            "endpointType {kind:?} is not one of {}",
            ENDPOINT_TYPES.join(", ")
        )));
    }
    let body = json!({ "endpointAddress": api.config.endpoint_host });
    let mut response = super::json_response(&body);
    if let Some(port) = api.config.mqtts_port {
        response
            .headers_mut()
            .insert(MQTTS_PORT_HEADER, HeaderValue::from(port));
    }
    Ok(Reply::Raw(response))
}

/// The local root CA in PEM: public, unsigned (devices and scripts fetch it with curl).
pub(super) fn root_ca(api: &Api) -> Result<Reply, ApiError> {
    let pem = pki::certificate_pem(api.ca.certificate()).map_err(ApiError::internal)?;
    let mut response = (StatusCode::OK, pem).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    Ok(Reply::Raw(response))
}
