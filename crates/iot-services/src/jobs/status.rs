//! The statuses of AWS IoT Jobs as AWS spells them (developer guide, "Jobs and job execution
//! states"; botocore's `iot` model, `JobExecutionStatus`, `JobStatus`, `TargetSelection`): a
//! job execution's eight statuses with which are terminal and which are pending, a job's
//! statuses, and a job's target selection. Text in and out only; the transitions are
//! `execution.rs`'s and `job.rs`'s.

use std::fmt;

/// The status of one job execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExecutionStatus {
    /// Rolled out to the thing, not started.
    Queued,
    /// Started by the device.
    InProgress,
    /// The device reported success (terminal).
    Succeeded,
    /// The device reported failure (terminal).
    Failed,
    /// A timer ran out while in progress (terminal).
    TimedOut,
    /// The device refused the job (terminal).
    Rejected,
    /// The thing stopped being a target (terminal).
    Removed,
    /// Canceled by CancelJob, CancelJobExecution or an abort (terminal).
    Canceled,
}

impl ExecutionStatus {
    /// Every status, in AWS's model order.
    pub const ALL: [ExecutionStatus; 8] = [
        ExecutionStatus::Queued,
        ExecutionStatus::InProgress,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Rejected,
        ExecutionStatus::Removed,
        ExecutionStatus::Canceled,
    ];

    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Queued => "QUEUED",
            ExecutionStatus::InProgress => "IN_PROGRESS",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Rejected => "REJECTED",
            ExecutionStatus::Removed => "REMOVED",
            ExecutionStatus::Canceled => "CANCELED",
        }
    }

    /// The status AWS spells `text`, if any.
    pub fn parse(text: &str) -> Option<ExecutionStatus> {
        ExecutionStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// Whether nothing can change it any more.
    pub fn is_terminal(self) -> bool {
        !self.is_pending()
    }

    /// Whether it is on the thing's list of pending job executions (`QUEUED` or `IN_PROGRESS`).
    pub fn is_pending(self) -> bool {
        matches!(self, ExecutionStatus::Queued | ExecutionStatus::InProgress)
    }

    /// The statuses a device may report with UpdateJobExecution (jobs-mqtt-api.md: "The new
    /// status for the job execution (IN_PROGRESS, FAILED, SUCCEEDED, or REJECTED)").
    pub fn device_may_report(self) -> bool {
        matches!(
            self,
            ExecutionStatus::InProgress
                | ExecutionStatus::Succeeded
                | ExecutionStatus::Failed
                | ExecutionStatus::Rejected
        )
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Rolling out or waiting for its executions.
    InProgress,
    /// Canceled by CancelJob or its abort configuration.
    Canceled,
    /// Every execution of a snapshot job reached a terminal status.
    Completed,
    /// Being deleted (tether deletes at once, so no job is seen in this status).
    DeletionInProgress,
    /// Waiting for its scheduled start (tether refuses scheduling, so no job is).
    Scheduled,
}

impl JobStatus {
    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::InProgress => "IN_PROGRESS",
            JobStatus::Canceled => "CANCELED",
            JobStatus::Completed => "COMPLETED",
            JobStatus::DeletionInProgress => "DELETION_IN_PROGRESS",
            JobStatus::Scheduled => "SCHEDULED",
        }
    }

    /// The status AWS spells `text`, if any.
    pub fn parse(text: &str) -> Option<JobStatus> {
        [
            JobStatus::InProgress,
            JobStatus::Canceled,
            JobStatus::Completed,
            JobStatus::DeletionInProgress,
            JobStatus::Scheduled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the job is over (DeleteJob without `force` accepts only these: "COMPLETED or
    /// CANCELED", botocore's `DeleteJob` documentation).
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Canceled | JobStatus::Completed)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a job ends once its targets are done (`SNAPSHOT`) or keeps running for things that
/// become targets later (`CONTINUOUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TargetSelection {
    /// Complete after the things targeted at creation are done (AWS's default).
    #[default]
    Snapshot,
    /// Keep running for things added to a target group later.
    Continuous,
}

impl TargetSelection {
    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSelection::Snapshot => "SNAPSHOT",
            TargetSelection::Continuous => "CONTINUOUS",
        }
    }

    /// The selection AWS spells `text`, if any.
    pub fn parse(text: &str) -> Option<TargetSelection> {
        match text {
            "SNAPSHOT" => Some(TargetSelection::Snapshot),
            "CONTINUOUS" => Some(TargetSelection::Continuous),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_only_queued_and_in_progress_are_pending() {
        for status in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(status.as_str()), Some(status));
            assert_eq!(status.is_pending(), !status.is_terminal());
        }
        let pending: Vec<_> = ExecutionStatus::ALL
            .into_iter()
            .filter(|s| s.is_pending())
            .collect();
        assert_eq!(
            pending,
            [ExecutionStatus::Queued, ExecutionStatus::InProgress]
        );
        let reportable: Vec<_> = ExecutionStatus::ALL
            .into_iter()
            .filter(|s| s.device_may_report())
            .map(ExecutionStatus::as_str)
            .collect();
        assert_eq!(
            reportable,
            ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"]
        );
        assert_eq!(ExecutionStatus::parse("SUCCESS"), None);
        for text in [
            "IN_PROGRESS",
            "CANCELED",
            "COMPLETED",
            "DELETION_IN_PROGRESS",
            "SCHEDULED",
        ] {
            assert_eq!(JobStatus::parse(text).map(JobStatus::as_str), Some(text));
        }
        assert_eq!(
            TargetSelection::parse("CONTINUOUS"),
            Some(TargetSelection::Continuous)
        );
        assert_eq!(TargetSelection::parse("snapshot"), None);
    }
}
