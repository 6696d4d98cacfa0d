//! The Device Shadow service's errors: an HTTP status code and AWS's exact message, one
//! constructor per error in AWS's table (developerguide/device-shadow-error-messages.md). It
//! does not build the error response document (see `response.rs`) and does not map codes to the
//! HTTP API's exception names (the HTTP adapter's business).

/// An error the Device Shadow service answers with: the HTTP status code and AWS's message.
///
/// Over MQTT it becomes the error document on `.../rejected` ([`error_response`]); over HTTP
/// the status and the same document. Every message is AWS's own text, so code written against
/// AWS that matches on it keeps working.
///
/// [`error_response`]: crate::shadow::error_response
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {message}")]
pub struct ShadowError {
    /// The HTTP status code, also the error document's `code`.
    pub code: u16,
    /// AWS's message text, also the error document's `message`.
    pub message: String,
}

impl ShadowError {
    fn new(code: u16, message: impl Into<String>) -> ShadowError {
        ShadowError {
            code,
            message: message.into(),
        }
    }

    /// 400 `Invalid JSON`: the payload is not JSON, or not a JSON object.
    ///
    /// tether also answers this for an array that holds a `null`: device-shadow-document.md
    /// says such an array "is not valid and will be rejected" without naming the message, and
    /// of the documented 400 messages only this one describes a document that is not valid.
    pub fn invalid_json() -> ShadowError {
        ShadowError::new(400, "Invalid JSON")
    }

    /// 400 `Missing required node: state`.
    pub fn missing_state() -> ShadowError {
        ShadowError::new(400, "Missing required node: state")
    }

    /// 400 `State node must be an object`.
    pub fn state_not_object() -> ShadowError {
        ShadowError::new(400, "State node must be an object")
    }

    /// 400 `Desired node must be an object`.
    pub fn desired_not_object() -> ShadowError {
        ShadowError::new(400, "Desired node must be an object")
    }

    /// 400 `Reported node must be an object`.
    pub fn reported_not_object() -> ShadowError {
        ShadowError::new(400, "Reported node must be an object")
    }

    /// 400 `Invalid version`: `version` is not a non-negative integer.
    pub fn invalid_version() -> ShadowError {
        ShadowError::new(400, "Invalid version")
    }

    /// 400 `Invalid clientToken`: not a string, or longer than the limit (64 bytes on AWS,
    /// device-shadow-document.md "Client tokens in shadow documents").
    pub fn invalid_client_token() -> ShadowError {
        ShadowError::new(400, "Invalid clientToken")
    }

    /// 400 `JSON contains too many levels of nesting; maximum is <max>` (6 on AWS).
    pub fn too_deep(max_depth: usize) -> ShadowError {
        ShadowError::new(
            400,
            format!("JSON contains too many levels of nesting; maximum is {max_depth}"),
        )
    }

    /// 400 `State contains an invalid node: '<name>'`, for a key in `state` other than
    /// `desired` and `reported`. The documentation's table stops at "invalid node"; the real
    /// service appends the quoted name (`State contains an invalid node: 'delta'`, quoted from
    /// AWS in aws-greengrass/aws-greengrass-shadow-manager PR #178).
    pub fn invalid_state_node(name: &str) -> ShadowError {
        ShadowError::new(400, format!("State contains an invalid node: '{name}'"))
    }

    /// 400 with a message of tether's own, for a thing or shadow name outside AWS's pattern
    /// (see [`check_thing_name`](crate::shadow::check_thing_name)).
    pub fn invalid_name(message: impl Into<String>) -> ShadowError {
        ShadowError::new(400, message)
    }

    /// 401 `Unauthorized`.
    pub fn unauthorized() -> ShadowError {
        ShadowError::new(401, "Unauthorized")
    }

    /// 403 `Forbidden`.
    pub fn forbidden() -> ShadowError {
        ShadowError::new(403, "Forbidden")
    }

    /// 404 `Thing not found`.
    pub fn thing_not_found() -> ShadowError {
        ShadowError::new(404, "Thing not found")
    }

    /// 404 `No shadow exists with name: '<name>'`. The documentation writes the name bare;
    /// the real service quotes it (`No shadow exists with name: 'simShadow1'` in
    /// developerguide/using-device-shadows.md, `'Limits'` in aws-amplify/aws-sdk-ios#5388).
    /// For the classic shadow, whose name is empty, pass `""`: aws/aws-sdk-js#4372 reports
    /// nothing after the colon for a classic shadow that does not exist.
    pub fn no_shadow(shadow_name: &str) -> ShadowError {
        ShadowError::new(404, format!("No shadow exists with name: '{shadow_name}'"))
    }

    /// 409 `Version conflict`: the request's `version` is not the shadow's current version.
    pub fn version_conflict() -> ShadowError {
        ShadowError::new(409, "Version conflict")
    }

    /// 413 `The payload exceeds the maximum size allowed`.
    pub fn payload_too_large() -> ShadowError {
        ShadowError::new(413, "The payload exceeds the maximum size allowed")
    }

    /// 415 `Unsupported documented encoding; supported encoding is UTF-8` ("documented" is
    /// AWS's wording, kept as is).
    pub fn unsupported_encoding() -> ShadowError {
        ShadowError::new(
            415,
            "Unsupported documented encoding; supported encoding is UTF-8",
        )
    }

    /// 429 `Too Many Requests`. AWS's table describes when it is sent (more than 10 requests
    /// in flight on one connection) but not its message; tether uses the status's reason
    /// phrase, as the table's heading names it.
    pub fn too_many_requests() -> ShadowError {
        ShadowError::new(429, "Too Many Requests")
    }

    /// 500 `Internal service failure`.
    pub fn internal_failure() -> ShadowError {
        ShadowError::new(500, "Internal service failure")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_aws_text() {
        assert_eq!(
            ShadowError::too_deep(6).message,
            "JSON contains too many levels of nesting; maximum is 6"
        );
        assert_eq!(
            ShadowError::invalid_state_node("delta").message,
            "State contains an invalid node: 'delta'"
        );
        assert_eq!(
            ShadowError::no_shadow("simShadow1").message,
            "No shadow exists with name: 'simShadow1'"
        );
        assert_eq!(
            ShadowError::version_conflict().to_string(),
            "409 Version conflict"
        );
    }
}
