//! AWS IoT Jobs: remote operations a back end queues for things and devices carry out. The
//! pure rules come first — execution statuses and their state machine with its timers
//! (`status.rs`, `execution.rs`), a job with its rollout, abort and completion rules
//! (`job.rs`), when a thing is notified (`notify.rs`), topics, request payloads and answer
//! documents (`topic.rs`, `request.rs`, `response.rs`), the control plane's bodies,
//! configurations and shapes (`control.rs`, `configs.rs`, `shapes.rs`) — then the service over
//! the store: the device side over MQTT and `iot-jobs-data` HTTP (`device.rs`), the control
//! plane and the timers (`manage.rs`), job templates (`template.rs`), and the bookkeeping they
//! share (`records.rs`), and what a job targets (`targets.rs`).
//!
//! Targets are things and thing groups (`targets.rs`: a group reaches the things of its
//! descendant groups too, and a continuous job follows its groups' membership). Retries, scheduling, presigned URLs and job events
//! (`$aws/events/job...`) are not served (docs/aws-differences.md).

mod configs;
mod control;
mod device;
mod error;
mod execution;
pub mod fuzz;
mod job;
mod manage;
mod notify;
mod records;
mod request;
mod response;
mod settings;
mod shapes;
mod status;
mod targets;
mod template;
mod topic;

#[cfg(test)]
mod tests;

pub use control::{
    CancelExecution, CancelJob, CreateJob, DocumentInput, JobUpdate, MAX_DOCUMENT_BYTES,
    SourceLocation, cancel_execution as parse_cancel_execution, cancel_job as parse_cancel_job,
    check_document, check_job_id, check_thing_name, create_job as parse_create_job,
    document_source, update_job as parse_update_job,
};
pub use device::{NEXT, describe, failed, get_pending, handle_publish, start_next, update};
pub use error::{ErrorCode, JobsError, Plane};
pub use execution::{
    DeviceUpdate, Execution, ExecutionState, MAX_TIMEOUT_MINUTES, StatusDetails, StepTimeout,
    Timers,
};
pub use job::{
    AbortCriteria, Counts, ExponentialRate, Job, RateIncreaseCriteria, RolloutConfig, Target,
};
pub use manage::{
    cancel_execution, cancel_job, create_job, delete_execution, delete_job, describe_execution,
    describe_job, job_document, list_executions_for_job, list_executions_for_thing, list_jobs,
    next_deadline, tick, update_job,
};
pub use request::{Describe, StartNext, Update, object as request_object};
pub use request::{start_next as parse_start_next, update as parse_update};
pub use response::DocumentForm;
pub use settings::JobsSettings;
pub use status::{ExecutionStatus, JobStatus, TargetSelection};
pub use targets::{MAX_TARGETS, associate_targets, membership_changed};
pub use template::{
    CreateTemplate, JobTemplate, create as create_template, delete as delete_template,
    describe as describe_template, list as list_templates, parse_create as parse_create_template,
};
pub use topic::ROUTES;
