//! Fleet provisioning's errors: [`TemplateError`] (a template refused at creation, or failing
//! while a device is provisioned, naming the path in the template) and [`ProvisioningError`],
//! an operation's refusal as both forms answer it — the MQTT API's `statusCode`, `errorCode` and
//! `errorMessage` (fleet-provision-api.md) and the control plane's HTTP status and exception
//! name (botocore's `iot` model).
//!
//! Where AWS is silent: the developer guide gives the error payload's shape but no list of
//! error codes. One real answer is known (`400 InvalidCertificateOwnershipToken "Certificate
//! ownership token cannot be empty."`, aws-iot-device-sdk-js-v2#69) and a failing
//! pre-provisioning hook is `ACCESS_DENIED` (pre-provisioning-hook.md); the other codes are
//! tether's choice, one per cause, named like AWS's exceptions without the suffix.

use std::fmt;

use store::StoreError;

/// Why a template was refused or could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// What went wrong.
    pub kind: TemplateErrorKind,
    /// Where in the template, e.g. `Resources.thing.Properties.ThingName`.
    pub path: String,
    /// The sentence.
    pub message: String,
}

/// The kinds of [`TemplateError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateErrorKind {
    /// The template is malformed: refused at creation.
    Invalid,
    /// A parameter has no value (neither given, nor from the certificate, nor a default).
    MissingParameter(String),
    /// Evaluation failed (a bad index, a missing map entry, a value of the wrong type).
    Evaluation,
}

impl TemplateError {
    /// A malformed template.
    pub fn invalid(path: &str, message: impl Into<String>) -> TemplateError {
        TemplateError {
            kind: TemplateErrorKind::Invalid,
            path: path.to_owned(),
            message: message.into(),
        }
    }

    /// A parameter without a value.
    pub fn missing(path: &str, parameter: &str) -> TemplateError {
        TemplateError {
            kind: TemplateErrorKind::MissingParameter(parameter.to_owned()),
            path: path.to_owned(),
            message: format!(
                "parameter {parameter} has no value: pass it in the request's parameters or \
                 give it a Default"
            ),
        }
    }

    /// A failed evaluation.
    pub fn evaluation(path: &str, message: impl Into<String>) -> TemplateError {
        TemplateError {
            kind: TemplateErrorKind::Evaluation,
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for TemplateError {}

/// An operation's refusal, in both of AWS's forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningError {
    /// The HTTP status, also the MQTT `statusCode`.
    pub status: u16,
    /// The MQTT `errorCode`.
    pub code: &'static str,
    /// The control plane's exception name.
    pub exception: &'static str,
    /// The message, for both.
    pub message: String,
}

impl fmt::Display for ProvisioningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ProvisioningError {}

impl ProvisioningError {
    fn new(
        status: u16,
        code: &'static str,
        exception: &'static str,
        message: impl Into<String>,
    ) -> ProvisioningError {
        ProvisioningError {
            status,
            code,
            exception,
            message: message.into(),
        }
    }

    /// A malformed request (400).
    pub fn invalid_request(message: impl Into<String>) -> ProvisioningError {
        Self::new(400, "InvalidRequest", "InvalidRequestException", message)
    }

    /// A payload that is not a JSON or CBOR object (400).
    pub fn invalid_payload(message: impl Into<String>) -> ProvisioningError {
        Self::new(400, "InvalidPayload", "InvalidRequestException", message)
    }

    /// A missing, unknown or expired certificate ownership token (400).
    pub fn invalid_token(message: impl Into<String>) -> ProvisioningError {
        Self::new(
            400,
            "InvalidCertificateOwnershipToken",
            "InvalidRequestException",
            message,
        )
    }

    /// A parameter without a value (400).
    pub fn invalid_parameters(message: impl Into<String>) -> ProvisioningError {
        Self::new(400, "InvalidParameters", "InvalidRequestException", message)
    }

    /// A resource that does not exist (404).
    pub fn not_found(message: impl Into<String>) -> ProvisioningError {
        Self::new(
            404,
            "ResourceNotFound",
            "ResourceNotFoundException",
            message,
        )
    }

    /// Refused by the pre-provisioning hook, or not allowed (403, AWS's ACCESS_DENIED).
    pub fn access_denied(message: impl Into<String>) -> ProvisioningError {
        Self::new(403, "AccessDenied", "UnauthorizedException", message)
    }

    /// An `OverrideSettings` of `FAIL` met an existing resource (409).
    pub fn conflict(message: impl Into<String>) -> ProvisioningError {
        Self::new(
            409,
            "ResourceConflict",
            "ConflictingResourceUpdateException",
            message,
        )
    }

    /// A resource the template names could not be created or changed (400).
    pub fn registration_failure(message: impl Into<String>) -> ProvisioningError {
        Self::new(
            400,
            "ResourceRegistrationFailure",
            "ResourceRegistrationFailureException",
            message,
        )
    }

    /// A name already taken (409).
    pub fn already_exists(message: impl Into<String>) -> ProvisioningError {
        Self::new(
            409,
            "ResourceAlreadyExists",
            "ResourceAlreadyExistsException",
            message,
        )
    }

    /// Five versions exist (409).
    pub fn versions_limit(message: impl Into<String>) -> ProvisioningError {
        Self::new(
            409,
            "VersionsLimitExceeded",
            "VersionsLimitExceededException",
            message,
        )
    }

    /// The default version cannot be deleted (409).
    pub fn delete_conflict(message: impl Into<String>) -> ProvisioningError {
        Self::new(409, "DeleteConflict", "DeleteConflictException", message)
    }

    /// A failure of tether's own (500).
    pub fn internal(message: impl Into<String>) -> ProvisioningError {
        Self::new(500, "InternalFailure", "InternalFailureException", message)
    }

    /// A store error met while provisioning: registry rules become a registration failure,
    /// database failures an internal error.
    pub fn from_store(e: &StoreError) -> ProvisioningError {
        match e {
            StoreError::NotFound { .. }
            | StoreError::AlreadyExists { .. }
            | StoreError::InvalidRequest(_)
            | StoreError::LimitExceeded(_)
            | StoreError::DeleteConflict { .. }
            | StoreError::CertificateState { .. }
            | StoreError::VersionConflict { .. }
            | StoreError::VersionsLimitExceeded { .. }
            | StoreError::InvalidToken { .. } => Self::registration_failure(e.to_string()),
            _ => {
                tracing::error!("provisioning: {e}");
                Self::internal("An internal error occurred; the server log says why")
            }
        }
    }

    /// A template that failed while a device was provisioned.
    pub fn from_template(e: &TemplateError) -> ProvisioningError {
        match &e.kind {
            TemplateErrorKind::MissingParameter(_) => Self::invalid_parameters(e.to_string()),
            TemplateErrorKind::Invalid => Self::invalid_request(e.to_string()),
            TemplateErrorKind::Evaluation => Self::registration_failure(e.to_string()),
        }
    }
}

impl From<StoreError> for ProvisioningError {
    fn from(e: StoreError) -> ProvisioningError {
        ProvisioningError::from_store(&e)
    }
}
