//! The Jobs service's errors: one type for its three faces. Over MQTT an error is the
//! `ErrorResponse` document on the request's `/rejected` topic, whose `code` is one of the nine
//! codes AWS documents (jobs-api.md, "ErrorResponse"); over HTTP it is the exception botocore's
//! `iot-jobs-data` or `iot` model lists for the operation, with the status that model gives it.
//! AWS documents the codes but not the messages: the messages here are tether's, and each names
//! the job, thing or field and what to do.

use super::execution::ExecutionState;

/// What went wrong, in the vocabulary of the MQTT error codes plus the control plane's own
/// exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A topic in the Jobs namespace that maps to no API.
    InvalidTopic,
    /// The payload is not UTF-8 JSON.
    InvalidJson,
    /// The request's contents are invalid.
    InvalidRequest,
    /// The execution's current status does not allow the change.
    InvalidStateTransition,
    /// The job or execution does not exist.
    ResourceNotFound,
    /// `expectedVersion` is not the execution's version (device plane).
    VersionMismatch,
    /// tether failed (a store error); the cause is in the server's log.
    InternalError,
    /// Too many requests in flight on one connection.
    RequestThrottled,
    /// The device asked to describe an execution that is over.
    TerminalStateReached,
    /// CreateJob of an id that exists (control plane).
    ResourceAlreadyExists,
    /// A conflicting request (control plane, `ConflictException`).
    Conflict,
    /// A limit of the account was reached (control plane).
    LimitExceeded,
    /// `expectedVersion` is not the execution's version (control plane).
    VersionConflict,
}

impl ErrorCode {
    /// The MQTT `code`. Control-plane-only codes never reach a device; they map to the nearest
    /// device code.
    pub fn mqtt_code(self) -> &'static str {
        match self {
            ErrorCode::InvalidTopic => "InvalidTopic",
            ErrorCode::InvalidJson => "InvalidJson",
            ErrorCode::InvalidRequest
            | ErrorCode::ResourceAlreadyExists
            | ErrorCode::Conflict
            | ErrorCode::LimitExceeded => "InvalidRequest",
            ErrorCode::InvalidStateTransition => "InvalidStateTransition",
            ErrorCode::ResourceNotFound => "ResourceNotFound",
            ErrorCode::VersionMismatch | ErrorCode::VersionConflict => "VersionMismatch",
            ErrorCode::InternalError => "InternalError",
            ErrorCode::RequestThrottled => "RequestThrottled",
            ErrorCode::TerminalStateReached => "TerminalStateReached",
        }
    }
}

/// Which HTTP API answers: the device's `iot-jobs-data` or the control plane's `iot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// `iot-jobs-data` (DescribeJobExecution, GetPendingJobExecutions, StartNext..., Update...).
    Device,
    /// `iot` (CreateJob and the other management operations).
    Control,
}

/// An error of the Jobs service.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} {message}", code.mqtt_code())]
pub struct JobsError {
    /// What went wrong.
    pub code: ErrorCode,
    /// Words for a person.
    pub message: String,
    /// The execution's state, for `InvalidStateTransition` and `VersionMismatch` (jobs-api.md:
    /// "This field is included only when the code field has the value InvalidStateTransition
    /// or VersionMismatch").
    pub execution_state: Option<ExecutionState>,
}

impl JobsError {
    /// An error without an execution state.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> JobsError {
        JobsError {
            code,
            message: message.into(),
            execution_state: None,
        }
    }

    /// `InvalidRequest` (400 `InvalidRequestException`).
    pub fn invalid_request(message: impl Into<String>) -> JobsError {
        JobsError::new(ErrorCode::InvalidRequest, message)
    }

    /// `ResourceNotFound` (404 `ResourceNotFoundException`).
    pub fn not_found(message: impl Into<String>) -> JobsError {
        JobsError::new(ErrorCode::ResourceNotFound, message)
    }

    /// `ResourceNotFound` for a job id.
    pub fn no_job(job_id: &str) -> JobsError {
        JobsError::not_found(format!("Job {job_id} does not exist"))
    }

    /// `ResourceNotFound` for an execution.
    pub fn no_execution(job_id: &str, thing: &str, execution_number: Option<i64>) -> JobsError {
        match execution_number {
            Some(n) => JobsError::not_found(format!(
                "Job execution {n} of job {job_id} on thing {thing} does not exist"
            )),
            None => JobsError::not_found(format!(
                "No job execution of job {job_id} exists for thing {thing}"
            )),
        }
    }

    /// `InternalError`: the store failed; the cause is logged by the caller.
    pub fn internal() -> JobsError {
        JobsError::new(
            ErrorCode::InternalError,
            "Internal error: tether could not read or write its database (see its log)",
        )
    }

    /// `RequestThrottled`: too many requests in flight on the connection.
    pub fn throttled(max: usize) -> JobsError {
        JobsError::new(
            ErrorCode::RequestThrottled,
            format!(
                "Request throttled: more than {max} requests in flight on this connection; \
                 wait for the answers before sending more"
            ),
        )
    }

    /// The error with the execution's state attached.
    pub fn with_state(mut self, state: ExecutionState) -> JobsError {
        self.execution_state = Some(state);
        self
    }

    /// The HTTP status and exception name the model of `plane` gives this error.
    pub fn exception(&self, plane: Plane) -> (u16, &'static str) {
        match (self.code, plane) {
            (ErrorCode::InvalidTopic | ErrorCode::InvalidJson | ErrorCode::InvalidRequest, _) => {
                (400, "InvalidRequestException")
            }
            (ErrorCode::ResourceNotFound, _) => (404, "ResourceNotFoundException"),
            (ErrorCode::InvalidStateTransition, _) => (409, "InvalidStateTransitionException"),
            // The iot-jobs-data model lists no version exception for UpdateJobExecution; its
            // only 409 is InvalidStateTransitionException, which says the execution's state
            // (version included) does not allow the change.
            (ErrorCode::VersionMismatch | ErrorCode::VersionConflict, Plane::Device) => {
                (409, "InvalidStateTransitionException")
            }
            (ErrorCode::VersionMismatch | ErrorCode::VersionConflict, Plane::Control) => {
                (409, "VersionConflictException")
            }
            (ErrorCode::TerminalStateReached, _) => (410, "TerminalStateException"),
            (ErrorCode::RequestThrottled, _) => (429, "ThrottlingException"),
            (ErrorCode::ResourceAlreadyExists, _) => (409, "ResourceAlreadyExistsException"),
            (ErrorCode::Conflict, _) => (409, "ConflictException"),
            (ErrorCode::LimitExceeded, _) => (410, "LimitExceededException"),
            (ErrorCode::InternalError, Plane::Device) => (503, "ServiceUnavailableException"),
            (ErrorCode::InternalError, Plane::Control) => (500, "InternalFailureException"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_has_the_models_exception_on_each_plane() {
        let e = JobsError::new(ErrorCode::VersionMismatch, "v");
        assert_eq!(
            e.exception(Plane::Device),
            (409, "InvalidStateTransitionException")
        );
        assert_eq!(
            e.exception(Plane::Control),
            (409, "VersionConflictException")
        );
        assert_eq!(
            JobsError::new(ErrorCode::TerminalStateReached, "t").exception(Plane::Device),
            (410, "TerminalStateException")
        );
        assert_eq!(
            JobsError::new(ErrorCode::LimitExceeded, "l").exception(Plane::Control),
            (410, "LimitExceededException")
        );
        assert_eq!(
            JobsError::no_job("j").to_string(),
            "ResourceNotFound Job j does not exist"
        );
        assert_eq!(ErrorCode::Conflict.mqtt_code(), "InvalidRequest");
    }
}
