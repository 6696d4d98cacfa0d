//! AWS error shapes of the control plane and the data plane: an HTTP status, the short exception
//! name in `x-amzn-ErrorType` (what botocore reads) and a JSON body `{"message": …}`, plus
//! `resourceId`/`resourceArn` for ResourceAlreadyExists. Maps the store's typed registry errors
//! and the `sigv4` verifier's refusals onto them. It does not decide which rule was broken; the
//! store, the verifier and the handlers do.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sigv4::SigV4Error;
use store::{ResourceKind, StoreError};

use super::Arns;

/// One AWS error: status, exception name and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status, as in the service model.
    pub status: StatusCode,
    /// Exception short name, e.g. `ResourceNotFoundException`.
    pub kind: &'static str,
    /// The human-readable message.
    pub message: String,
    /// `resourceId` of ResourceAlreadyExists.
    pub resource_id: Option<String>,
    /// `resourceArn` of ResourceAlreadyExists.
    pub resource_arn: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            resource_id: None,
            resource_arn: None,
        }
    }

    /// An error of any status and exception name (for services whose errors carry their own
    /// HTTP status, such as Device Shadow).
    pub fn with_status(
        status: StatusCode,
        kind: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError::new(status, kind, message)
    }

    /// 400 InvalidRequestException: a parameter is missing or malformed.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "InvalidRequestException", message)
    }

    /// 400 MalformedPolicyException: the policy document does not parse.
    pub fn malformed_policy(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "MalformedPolicyException", message)
    }

    /// 400 CertificateValidationException: the certificate (or CSR) is not acceptable.
    pub fn certificate_validation(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "CertificateValidationException",
            message,
        )
    }

    /// 404 ResourceNotFoundException.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
    }

    /// 409 ResourceAlreadyExistsException with the resource's id and ARN.
    pub fn already_exists(message: impl Into<String>, id: String, arn: Option<String>) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::CONFLICT,
            "ResourceAlreadyExistsException",
            message,
        );
        e.resource_id = Some(id);
        e.resource_arn = arn;
        e
    }

    /// 413 RequestEntityTooLargeException (data plane).
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            message,
        )
    }

    /// 404 for a method and path no operation answers.
    pub fn unknown_operation(method: &str, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!(
                "tether has no AWS IoT operation at {method} {path}; see README for the supported \
                 operations"
            ),
        )
    }

    /// 500 InternalFailureException; the cause is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!("API request failed inside tether: {cause}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailureException",
            format!("internal failure: {cause}"),
        )
    }

    /// Maps a store error onto its AWS exception; ARNs of existing resources come from `arns`.
    pub fn from_store(e: StoreError, arns: &Arns) -> ApiError {
        let message = e.to_string();
        if e.is_disk_full() {
            // Nothing was stored. AWS answers a request it cannot serve for now with 503
            // ServiceUnavailableException, which the AWS SDKs and CLI retry.
            tracing::error!("API request refused: {message}");
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
                message,
            );
        }
        match e {
            StoreError::AlreadyExists { kind, id } => {
                let arn = match kind {
                    ResourceKind::Thing => Some(arns.thing(&id)),
                    ResourceKind::Certificate => Some(arns.cert(&id)),
                    ResourceKind::CaCertificate => Some(arns.cacert(&id)),
                    ResourceKind::Policy => Some(arns.policy(&id)),
                    ResourceKind::ThingGroup => Some(arns.thing_group(&id)),
                    ResourceKind::ThingType => Some(arns.thing_type(&id)),
                    ResourceKind::Authorizer => Some(arns.arn(&format!("authorizer/{id}"))),
                    _ => None,
                };
                ApiError::already_exists(message, id, arn)
            }
            StoreError::NotFound { .. } => ApiError::not_found(message),
            StoreError::VersionConflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, "VersionConflictException", message)
            }
            StoreError::CertificateState { .. } => ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "CertificateStateException",
                message,
            ),
            StoreError::DeleteConflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, "DeleteConflictException", message)
            }
            StoreError::VersionsLimitExceeded { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "VersionsLimitExceededException",
                message,
            ),
            StoreError::LimitExceeded(text) => {
                ApiError::new(StatusCode::GONE, "LimitExceededException", text)
            }
            StoreError::InvalidRequest(text) => ApiError::invalid_request(text),
            StoreError::InvalidToken { .. } => ApiError::invalid_request(message),
            StoreError::Open { .. }
            | StoreError::Damaged { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::Migration { .. }
            | StoreError::Sqlite { .. }
            | StoreError::Corrupt { .. }
            | StoreError::WriterStart { .. }
            | StoreError::NoSpace { .. }
            | StoreError::WriterClosed { .. } => ApiError::internal(message),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("message".to_owned(), Value::String(self.message.clone()));
        if let Some(id) = &self.resource_id {
            body.insert("resourceId".to_owned(), Value::String(id.clone()));
        }
        if let Some(arn) = &self.resource_arn {
            body.insert("resourceArn".to_owned(), Value::String(arn.clone()));
        }
        Value::Object(body)
    }
}

/// A refused signature answers with the verifier's exception name and words (all 403).
impl From<SigV4Error> for ApiError {
    fn from(e: SigV4Error) -> ApiError {
        ApiError::new(e.status(), e.exception(), e.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind,
            self.status.as_u16(),
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static(self.kind));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arns() -> Arns {
        Arns {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        }
    }

    fn map(e: StoreError) -> ApiError {
        ApiError::from_store(e, &arns())
    }

    #[test]
    fn registry_rules_map_to_aws_exceptions_and_statuses() {
        let cases = [
            (
                StoreError::NotFound {
                    kind: ResourceKind::Thing,
                    id: "t".into(),
                },
                404,
                "ResourceNotFoundException",
            ),
            (
                StoreError::VersionConflict {
                    kind: ResourceKind::Thing,
                    id: "t".into(),
                    expected: 1,
                    actual: 2,
                },
                409,
                "VersionConflictException",
            ),
            (
                StoreError::CertificateState {
                    kind: ResourceKind::Certificate,
                    id: "c".into(),
                    status: "ACTIVE".into(),
                    rule: "deactivate first",
                },
                406,
                "CertificateStateException",
            ),
            (
                StoreError::DeleteConflict {
                    kind: ResourceKind::Policy,
                    id: "p".into(),
                    reason: "attached".into(),
                },
                409,
                "DeleteConflictException",
            ),
            (
                StoreError::VersionsLimitExceeded {
                    policy: "p".into(),
                    limit: 5,
                },
                409,
                "VersionsLimitExceededException",
            ),
            (
                StoreError::InvalidRequest("Cannot delete. Thing t is still attached".into()),
                400,
                "InvalidRequestException",
            ),
            (
                StoreError::InvalidToken { token: "x".into() },
                400,
                "InvalidRequestException",
            ),
            (
                StoreError::LimitExceeded("two policies".into()),
                410,
                "LimitExceededException",
            ),
        ];
        for (error, status, kind) in cases {
            let mapped = map(error);
            assert_eq!(mapped.status.as_u16(), status, "{mapped}");
            assert_eq!(mapped.kind, kind);
        }
    }

    #[test]
    fn already_exists_carries_the_resource_id_and_arn() {
        let e = map(StoreError::AlreadyExists {
            kind: ResourceKind::Policy,
            id: "p1".into(),
        });
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(
            e.body(),
            serde_json::json!({
                "message": "policy p1 already exists",
                "resourceId": "p1",
                "resourceArn": "arn:aws:iot:us-east-1:123456789012:policy/p1",
            })
        );
    }

    #[test]
    fn the_response_has_the_error_type_header_and_json_body() {
        let response = ApiError::not_found("thing t does not exist").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers().get("x-amzn-ErrorType").unwrap(),
            "ResourceNotFoundException"
        );
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
    }

    #[test]
    fn signature_refusals_keep_their_exception_status_and_words() {
        let e = ApiError::from(SigV4Error::MissingAuthentication);
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert_eq!(e.kind, "MissingAuthenticationTokenException");
        assert!(e.message.starts_with("Missing Authentication Token"));
        let e = ApiError::from(SigV4Error::SignatureMismatch);
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert_eq!(e.kind, "InvalidSignatureException");
        assert!(e.message.starts_with("The request signature we calculated"));
        let e = ApiError::from(SigV4Error::DevCredentialOffLoopback);
        assert_eq!(e.kind, "UnrecognizedClientException");
        let e = ApiError::from(SigV4Error::MissingHost);
        assert_eq!(e.kind, "IncompleteSignatureException");
        assert_eq!(e.message, "the request has no Host header; SigV4 signs it");
    }

    #[test]
    fn database_failures_are_internal_failures() {
        let e = map(StoreError::WriterClosed {
            path: "x.db".into(),
        });
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.kind, "InternalFailureException");
    }
}
