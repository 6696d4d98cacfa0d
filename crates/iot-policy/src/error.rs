//! The crate's error type. Every problem is the policy author's: messages name the field by
//! its path in the document (`Statement[2].Effect`) and say what was expected. Evaluation has
//! no errors: a request a policy cannot speak to is denied, not failed.

/// A policy document that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The bytes are not JSON (or not UTF-8). The text comes from serde_json and carries the
    /// line and column.
    #[error("policy document is not valid JSON: {0}")]
    Json(String),
    /// The JSON is well formed but a field is wrong. `field` is a path such as
    /// `Statement[0].Condition.StringEquals.iot:ClientId`.
    #[error("{field}: {problem}")]
    Invalid {
        /// Where in the document.
        field: String,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// The document breaks AWS's size rule; only returned by
    /// [`check_aws_size_limit`](crate::check_aws_size_limit).
    #[error(
        "policy document has {characters} non-whitespace characters; AWS IoT accepts at most \
         {limit} per policy: split it into several policies (up to 10 can be attached to one \
         certificate)"
    )]
    TooLarge {
        /// Non-whitespace characters in the document.
        characters: usize,
        /// The limit, [`AWS_MAX_POLICY_CHARACTERS`](crate::AWS_MAX_POLICY_CHARACTERS).
        limit: usize,
    },
}

pub(crate) fn invalid(field: impl Into<String>, problem: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}
