//! Signing requests as a client (for `tether device` and tests), and the one call into
//! `aws-sigv4` that both signing and verification go through. It signs in the `Authorization`
//! header only; a presigned-URL signer would take the same [`SigningKey`] and use the
//! query-string signature location. It sends nothing: callers own their HTTP client.

use std::borrow::Cow;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::error::SigningError;

/// What a client needs to sign a request: the credential and the scope it signs for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SigningKey<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Session token of temporary credentials, signed as `x-amz-security-token`.
    pub session_token: Option<&'a str>,
    /// Region of the credential scope.
    pub region: &'a str,
    /// Signing name of the credential scope (`iot`, `iotdata`, `iotdevicegateway`, …).
    pub service: &'a str,
}

impl<'a> SigningKey<'a> {
    /// A long-term credential (no session token) scoped to `region` and `service`.
    pub fn new(
        access_key_id: &'a str,
        secret_access_key: &'a str,
        region: &'a str,
        service: &'a str,
    ) -> SigningKey<'a> {
        SigningKey {
            access_key_id,
            secret_access_key,
            session_token: None,
            region,
            service,
        }
    }

    /// The same key with the session token of temporary credentials.
    pub fn with_session_token(mut self, session_token: &'a str) -> SigningKey<'a> {
        self.session_token = Some(session_token);
        self
    }
}

/// Signs a request the way the AWS SDKs do (every given header signed, `x-amz-date` added) and
/// returns the headers to add: `authorization` and `x-amz-date`, plus `x-amz-security-token`
/// when the key has a session token. `headers` must include `host`.
pub fn sign_request(
    key: &SigningKey<'_>,
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(String, String)>, SigningError> {
    let identity: Identity = Credentials::new(
        key.access_key_id,
        key.secret_access_key,
        key.session_token.map(str::to_owned),
        None,
        "tether-client",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(key.region)
        .name(key.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(failed)?
        .into();
    let request = SignableRequest::new(
        method,
        path_and_query,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(failed)?;
    let (instructions, _) = sign(request, &params).map_err(failed)?.into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// The signature `aws-sigv4` computes for a request, with the caller's settings (the verifier
/// signs exactly the headers its client signed).
#[allow(clippy::too_many_arguments)]
pub(crate) fn signature<'a>(
    identity: &'a Identity,
    region: &'a str,
    service: &'a str,
    time: SystemTime,
    settings: SigningSettings,
    method: &'a str,
    path_and_query: &'a str,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    body: SignableBody<'a>,
) -> Result<String, SigningError> {
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(failed)?
        .into();
    let request = SignableRequest::new(method, Cow::Borrowed(path_and_query), headers, body)
        .map_err(failed)?;
    let output = sign(request, &params).map_err(failed)?;
    Ok(output.signature().to_owned())
}

fn failed(e: impl std::fmt::Display) -> SigningError {
    SigningError(e.to_string())
}
