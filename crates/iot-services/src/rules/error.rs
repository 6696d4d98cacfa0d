//! The rules control plane's errors: AWS's exception name, its HTTP status (from botocore's `iot`
//! model) and a message that names the rule, field or destination and says what to do. It does
//! not build HTTP responses; the server's API maps these onto its error shape.

/// An error a topic rule or destination operation answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{exception} ({status}): {message}")]
pub struct RuleError {
    /// AWS's exception short name, e.g. `SqlParseException`.
    pub exception: &'static str,
    /// The HTTP status the `iot` model gives it.
    pub status: u16,
    /// The message.
    pub message: String,
}

impl RuleError {
    fn new(exception: &'static str, status: u16, message: impl Into<String>) -> RuleError {
        RuleError {
            exception,
            status,
            message: message.into(),
        }
    }

    /// 400 SqlParseException: the rule's SQL (or a substitution template of an action) does not
    /// parse. The message carries iot-sql's position and words.
    pub fn sql_parse(message: impl Into<String>) -> RuleError {
        RuleError::new("SqlParseException", 400, message)
    }

    /// 400 InvalidRequestException: a field is missing or malformed.
    pub fn invalid(message: impl Into<String>) -> RuleError {
        RuleError::new("InvalidRequestException", 400, message)
    }

    /// 409 ResourceAlreadyExistsException.
    pub fn already_exists(message: impl Into<String>) -> RuleError {
        RuleError::new("ResourceAlreadyExistsException", 409, message)
    }

    /// 401 UnauthorizedException `Access to topic rule 'NAME' was denied`: what AWS answers
    /// for a rule that does not exist (the `iot` model lists no ResourceNotFoundException for
    /// the rule operations; Terraform's AWS provider quotes this text for GetTopicRule). tether
    /// answers it for every operation on a missing rule.
    pub fn no_such_rule(name: &str) -> RuleError {
        RuleError::new(
            "UnauthorizedException",
            401,
            format!("Access to topic rule '{name}' was denied"),
        )
    }

    /// 400 InvalidRequestException for a destination that does not exist.
    pub fn no_such_destination(arn: &str) -> RuleError {
        RuleError::invalid(format!(
            "no topic rule destination has the ARN {arn}; list them with \
             ListTopicRuleDestinations"
        ))
    }

    /// 409 ConflictingResourceUpdateException: the state change is not allowed now.
    pub fn conflict(message: impl Into<String>) -> RuleError {
        RuleError::new("ConflictingResourceUpdateException", 409, message)
    }

    /// 500 InternalException: the store failed.
    pub fn internal(message: impl Into<String>) -> RuleError {
        RuleError::new("InternalException", 500, message)
    }
}

impl From<store::StoreError> for RuleError {
    fn from(e: store::StoreError) -> RuleError {
        RuleError::internal(e.to_string())
    }
}
