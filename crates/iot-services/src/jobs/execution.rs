//! One job execution's state machine, exactly as AWS IoT Jobs runs it (developer guide, "Jobs
//! and job execution states", "Job execution timeout and retry configurations", and the
//! `iot-jobs-data` model's UpdateJobExecution): QUEUED → IN_PROGRESS → SUCCEEDED | FAILED |
//! REJECTED | TIMED_OUT | CANCELED | REMOVED, a version that grows by one on every change, the
//! device's updates with `expectedVersion`, cancellation with and without `force`, and the two
//! timers (in-progress and step) that time an execution out. Pure: the caller passes `now` and
//! the job's timer settings, and stores the result.
//!
//! Where AWS is silent, the choices are:
//! - A device may report SUCCEEDED, FAILED or REJECTED straight from QUEUED, not only from
//!   IN_PROGRESS: the notification walkthrough in jobs-comm-notifications.md has a device reject
//!   a QUEUED execution, and nothing documents the other two as refused.
//! - `statusDetails` in an update replaces the execution's details; absent, they are unchanged
//!   (the model: "If not specified, the statusDetails are unchanged").
//! - StartNextPendingJobExecution on an execution already IN_PROGRESS changes nothing, its step
//!   timer included (the model: "its status details are not changed").

use std::collections::BTreeMap;

use super::error::{ErrorCode, JobsError};
use super::status::ExecutionStatus;

/// A job execution's status details: name/value pairs the device reports.
pub type StatusDetails = BTreeMap<String, String>;

/// The longest timer AWS accepts, in minutes (7 days: "Valid values for this parameter range
/// from 1 to 10080").
pub const MAX_TIMEOUT_MINUTES: i64 = 10_080;

/// One execution of a job on a thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// The job.
    pub job_id: String,
    /// The thing.
    pub thing: String,
    /// Which execution of the job on the thing (1 for the first).
    pub execution_number: i64,
    /// Its status.
    pub status: ExecutionStatus,
    /// Its status details.
    pub status_details: StatusDetails,
    /// Its version: 1 when queued, one more on every change.
    pub version: i64,
    /// When it was queued (epoch milliseconds).
    pub queued_ms: i64,
    /// When it went IN_PROGRESS.
    pub started_ms: Option<i64>,
    /// When it last changed.
    pub updated_ms: i64,
    /// When the step timer runs out.
    pub step_deadline_ms: Option<i64>,
    /// When the in-progress timer runs out.
    pub progress_deadline_ms: Option<i64>,
    /// Whether it was canceled with `force` while IN_PROGRESS.
    pub force_canceled: bool,
}

/// What an error or an update answer reports of an execution (`JobExecutionState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionState {
    /// Its status.
    pub status: ExecutionStatus,
    /// Its status details.
    pub status_details: StatusDetails,
    /// Its version.
    pub version: i64,
}

/// The timer settings an execution runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// How long a minute lasts, in milliseconds (60 000; shorter only as a local test setting).
    pub minute_ms: i64,
    /// The job's in-progress timeout (`timeoutConfig.inProgressTimeoutInMinutes`), if any.
    pub in_progress_minutes: Option<i64>,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            minute_ms: 60_000,
            in_progress_minutes: None,
        }
    }
}

/// What a request says about the step timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepTimeout {
    /// No `stepTimeoutInMinutes`: the current step timer, if any, keeps running.
    #[default]
    Keep,
    /// A new step timer of this many minutes replaces the current one.
    Set(i64),
    /// `-1`: the current step timer stops (UpdateJobExecution only).
    Cancel,
}

impl StepTimeout {
    /// Checks `stepTimeoutInMinutes`: 1 to 10080, or -1 where `cancel_allowed` (the model
    /// allows -1 for UpdateJobExecution, not for StartNextPendingJobExecution).
    pub fn from_minutes(minutes: i64, cancel_allowed: bool) -> Result<StepTimeout, JobsError> {
        match minutes {
            -1 if cancel_allowed => Ok(StepTimeout::Cancel),
            1..=MAX_TIMEOUT_MINUTES => Ok(StepTimeout::Set(minutes)),
            _ => Err(JobsError::invalid_request(format!(
                "stepTimeoutInMinutes {minutes} is out of range: give 1 to {MAX_TIMEOUT_MINUTES}{}",
                if cancel_allowed {
                    ", or -1 to stop the current step timer"
                } else {
                    ""
                }
            ))),
        }
    }
}

/// A device's UpdateJobExecution request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceUpdate {
    /// The new status.
    pub status: ExecutionStatus,
    /// New status details; `None` keeps the current ones.
    pub status_details: Option<StatusDetails>,
    /// The version the device believes current.
    pub expected_version: Option<i64>,
    /// The step timer.
    pub step_timeout: StepTimeout,
}

impl Execution {
    /// A new QUEUED execution at version 1 (jobs-comm-notifications.md: a new execution's
    /// `versionNumber` is 1, and 2 once it is IN_PROGRESS).
    pub fn queued(job_id: &str, thing: &str, execution_number: i64, now_ms: i64) -> Execution {
        Execution {
            job_id: job_id.to_owned(),
            thing: thing.to_owned(),
            execution_number,
            status: ExecutionStatus::Queued,
            status_details: StatusDetails::new(),
            version: 1,
            queued_ms: now_ms,
            started_ms: None,
            updated_ms: now_ms,
            step_deadline_ms: None,
            progress_deadline_ms: None,
            force_canceled: false,
        }
    }

    /// Its `JobExecutionState`.
    pub fn state(&self) -> ExecutionState {
        ExecutionState {
            status: self.status,
            status_details: self.status_details.clone(),
            version: self.version,
        }
    }

    /// When it times out, if a timer runs: the earlier of the step and in-progress timers
    /// (jobs-configurations-details.md: "The step timer can't exceed the in-progress timer's
    /// absolute bound").
    pub fn deadline_ms(&self) -> Option<i64> {
        match (self.step_deadline_ms, self.progress_deadline_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `approximateSecondsBeforeTimedOut`: whole seconds left, when a timer runs.
    pub fn seconds_before_timed_out(&self, now_ms: i64) -> Option<i64> {
        self.deadline_ms()
            .map(|deadline| deadline.saturating_sub(now_ms).max(0).div_euclid(1000))
    }

    /// StartNextPendingJobExecution chose this execution: a QUEUED one goes IN_PROGRESS with
    /// `status_details` (when given) and the step timer; one already IN_PROGRESS is returned
    /// unchanged. Returns whether it changed.
    pub fn start(
        &mut self,
        status_details: Option<StatusDetails>,
        step_timeout: StepTimeout,
        timers: &Timers,
        now_ms: i64,
    ) -> bool {
        if self.status != ExecutionStatus::Queued {
            return false;
        }
        if let Some(details) = status_details {
            self.status_details = details;
        }
        self.begin(timers, now_ms);
        self.apply_step(step_timeout, timers, now_ms);
        self.changed(now_ms);
        true
    }

    /// A device's UpdateJobExecution. Refused, the execution is unchanged: a status a device
    /// may not report is `InvalidRequest`, a stale `expectedVersion` is `VersionMismatch`, and
    /// any change of a terminal execution is `InvalidStateTransition`; the last two carry the
    /// execution's state.
    pub fn update(
        &mut self,
        update: &DeviceUpdate,
        timers: &Timers,
        now_ms: i64,
    ) -> Result<(), JobsError> {
        if !update.status.device_may_report() {
            return Err(JobsError::invalid_request(format!(
                "status {} cannot be reported by a device: use IN_PROGRESS, SUCCEEDED, FAILED \
                 or REJECTED",
                update.status
            )));
        }
        if let Some(expected) = update.expected_version
            && expected != self.version
        {
            return Err(JobsError::new(
                ErrorCode::VersionMismatch,
                format!(
                    "Job execution {} of job {} on thing {} is at version {}, the request \
                     expected version {expected}",
                    self.execution_number, self.job_id, self.thing, self.version
                ),
            )
            .with_state(self.state()));
        }
        if self.status.is_terminal() {
            return Err(self.terminal_refusal(update.status));
        }
        if let Some(details) = &update.status_details {
            self.status_details = details.clone();
        }
        if update.status == ExecutionStatus::InProgress {
            if self.status == ExecutionStatus::Queued {
                self.begin(timers, now_ms);
            }
            self.apply_step(update.step_timeout, timers, now_ms);
        } else {
            self.finish(update.status);
        }
        self.changed(now_ms);
        Ok(())
    }

    /// CancelJobExecution: a QUEUED execution is canceled; an IN_PROGRESS one only with
    /// `force` (it is then `forceCanceled`), otherwise `InvalidStateTransition`; a terminal one
    /// is `InvalidStateTransition`. A stale `expectedVersion` is `VersionConflict`.
    pub fn cancel(
        &mut self,
        force: bool,
        expected_version: Option<i64>,
        status_details: Option<StatusDetails>,
        now_ms: i64,
    ) -> Result<(), JobsError> {
        if let Some(expected) = expected_version
            && expected != self.version
        {
            return Err(JobsError::new(
                ErrorCode::VersionConflict,
                format!(
                    "Job execution of job {} on thing {} is at version {}, the request expected \
                     version {expected}",
                    self.job_id, self.thing, self.version
                ),
            )
            .with_state(self.state()));
        }
        match self.status {
            ExecutionStatus::Queued => {}
            ExecutionStatus::InProgress if force => self.force_canceled = true,
            ExecutionStatus::InProgress => {
                return Err(JobsError::new(
                    ErrorCode::InvalidStateTransition,
                    format!(
                        "Job execution of job {} on thing {} is IN_PROGRESS: cancel it with \
                         force to stop it (the device will no longer be able to update it)",
                        self.job_id, self.thing
                    ),
                )
                .with_state(self.state()));
            }
            terminal => {
                return Err(JobsError::new(
                    ErrorCode::InvalidStateTransition,
                    format!(
                        "Job execution of job {} on thing {} is {terminal}, a terminal status; \
                         it cannot be canceled",
                        self.job_id, self.thing
                    ),
                )
                .with_state(self.state()));
            }
        }
        if let Some(details) = status_details {
            self.status_details = details;
        }
        self.finish(ExecutionStatus::Canceled);
        self.changed(now_ms);
        Ok(())
    }

    /// CancelJob (or an abort) reached this execution: QUEUED ones are canceled, IN_PROGRESS
    /// ones only with `force`. Returns whether it changed.
    pub fn cancel_with_job(&mut self, force: bool, now_ms: i64) -> bool {
        match self.status {
            ExecutionStatus::Queued => {}
            ExecutionStatus::InProgress if force => self.force_canceled = true,
            _ => return false,
        }
        self.finish(ExecutionStatus::Canceled);
        self.changed(now_ms);
        true
    }

    /// The thing is no longer a target (a continuous job's group lost it): a pending execution
    /// becomes REMOVED. Returns whether it changed.
    pub fn remove(&mut self, now_ms: i64) -> bool {
        if self.status.is_terminal() {
            return false;
        }
        self.finish(ExecutionStatus::Removed);
        self.changed(now_ms);
        true
    }

    /// The broker's clock reached `now_ms`: an IN_PROGRESS execution whose timer ran out
    /// becomes TIMED_OUT. Returns whether it changed.
    pub fn time_out(&mut self, now_ms: i64) -> bool {
        let due = self
            .deadline_ms()
            .is_some_and(|deadline| deadline <= now_ms);
        if self.status != ExecutionStatus::InProgress || !due {
            return false;
        }
        self.finish(ExecutionStatus::TimedOut);
        self.changed(now_ms);
        true
    }

    /// QUEUED → IN_PROGRESS: the start time and the in-progress timer.
    fn begin(&mut self, timers: &Timers, now_ms: i64) {
        self.status = ExecutionStatus::InProgress;
        self.started_ms = Some(now_ms);
        self.progress_deadline_ms = timers
            .in_progress_minutes
            .map(|minutes| now_ms.saturating_add(minutes.saturating_mul(timers.minute_ms)));
    }

    fn apply_step(&mut self, step: StepTimeout, timers: &Timers, now_ms: i64) {
        match step {
            StepTimeout::Keep => {}
            StepTimeout::Set(minutes) => {
                self.step_deadline_ms =
                    Some(now_ms.saturating_add(minutes.saturating_mul(timers.minute_ms)));
            }
            StepTimeout::Cancel => self.step_deadline_ms = None,
        }
    }

    /// Into a terminal status: no timer runs any more.
    fn finish(&mut self, status: ExecutionStatus) {
        self.status = status;
        self.step_deadline_ms = None;
        self.progress_deadline_ms = None;
    }

    fn changed(&mut self, now_ms: i64) {
        self.version = self.version.saturating_add(1);
        self.updated_ms = now_ms;
    }

    fn terminal_refusal(&self, wanted: ExecutionStatus) -> JobsError {
        JobsError::new(
            ErrorCode::InvalidStateTransition,
            format!(
                "Job execution {} of job {} on thing {} is {}, a terminal status; it cannot \
                 change to {wanted}",
                self.execution_number, self.job_id, self.thing, self.status
            ),
        )
        .with_state(self.state())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExecutionStatus::*;

    const MINUTE: i64 = 60_000;

    fn timers(in_progress_minutes: Option<i64>) -> Timers {
        Timers {
            minute_ms: MINUTE,
            in_progress_minutes,
        }
    }

    fn update(status: ExecutionStatus) -> DeviceUpdate {
        DeviceUpdate {
            status,
            status_details: None,
            expected_version: None,
            step_timeout: StepTimeout::Keep,
        }
    }

    fn details(pairs: &[(&str, &str)]) -> StatusDetails {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn queued() -> Execution {
        Execution::queued("job", "thing", 1, 1_000)
    }

    #[test]
    fn a_new_execution_is_queued_at_version_1_and_starting_it_makes_version_2() {
        let mut e = queued();
        assert_eq!((e.status, e.version, e.started_ms), (Queued, 1, None));
        assert!(e.start(
            Some(details(&[("step", "1")])),
            StepTimeout::Keep,
            &timers(None),
            2_000
        ));
        assert_eq!((e.status, e.version), (InProgress, 2));
        assert_eq!((e.started_ms, e.updated_ms), (Some(2_000), 2_000));
        assert_eq!(e.status_details, details(&[("step", "1")]));
        assert_eq!(e.deadline_ms(), None, "no timer without a timeout");
        // Starting it again changes nothing, its details included.
        let before = e.clone();
        assert!(!e.start(
            Some(details(&[("other", "x")])),
            StepTimeout::Set(5),
            &timers(None),
            3_000
        ));
        assert_eq!(e, before);
    }

    #[test]
    fn every_device_reportable_status_is_reachable_from_queued_and_in_progress() {
        for from_in_progress in [false, true] {
            for to in [InProgress, Succeeded, Failed, Rejected] {
                let mut e = queued();
                if from_in_progress {
                    e.update(&update(InProgress), &timers(None), 1_500).unwrap();
                }
                let version = e.version;
                e.update(&update(to), &timers(None), 2_000).unwrap();
                assert_eq!(e.status, to);
                assert_eq!(e.version, version + 1, "{to} from {from_in_progress}");
                assert_eq!(e.updated_ms, 2_000);
            }
        }
    }

    #[test]
    fn a_device_cannot_report_the_services_own_statuses() {
        for status in [Queued, TimedOut, Removed, Canceled] {
            let mut e = queued();
            let err = e.update(&update(status), &timers(None), 2_000).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{status}");
            assert!(err.message.contains(status.as_str()), "{}", err.message);
            assert_eq!(e, queued(), "a refused update changes nothing");
        }
    }

    #[test]
    fn terminal_executions_refuse_every_update_with_their_state() {
        for terminal in [Succeeded, Failed, Rejected] {
            for to in [InProgress, Succeeded, Failed, Rejected] {
                let mut e = queued();
                e.update(&update(terminal), &timers(None), 2_000).unwrap();
                let before = e.clone();
                let err = e.update(&update(to), &timers(None), 3_000).unwrap_err();
                assert_eq!(err.code, ErrorCode::InvalidStateTransition);
                assert_eq!(err.execution_state, Some(before.state()));
                assert_eq!(e, before);
            }
        }
        let mut e = queued();
        assert!(e.cancel_with_job(false, 2_000));
        let err = e
            .update(&update(InProgress), &timers(None), 3_000)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidStateTransition);
        assert_eq!(err.execution_state.unwrap().status, Canceled);
    }

    #[test]
    fn a_stale_expected_version_is_a_version_mismatch_with_the_state() {
        let mut e = queued();
        let mut stale = update(InProgress);
        stale.expected_version = Some(7);
        let err = e.update(&stale, &timers(None), 2_000).unwrap_err();
        assert_eq!(err.code, ErrorCode::VersionMismatch);
        assert_eq!(err.execution_state.unwrap().version, 1);
        stale.expected_version = Some(1);
        e.update(&stale, &timers(None), 2_000).unwrap();
        assert_eq!(e.version, 2);
        // The version check comes before the terminal check.
        e.update(&update(Succeeded), &timers(None), 3_000).unwrap();
        let mut late = update(Failed);
        late.expected_version = Some(1);
        assert_eq!(
            e.update(&late, &timers(None), 4_000).unwrap_err().code,
            ErrorCode::VersionMismatch
        );
    }

    #[test]
    fn details_are_replaced_when_given_and_kept_when_not() {
        let mut e = queued();
        let mut u = update(InProgress);
        u.status_details = Some(details(&[("a", "1"), ("b", "2")]));
        e.update(&u, &timers(None), 2_000).unwrap();
        e.update(&update(InProgress), &timers(None), 3_000).unwrap();
        assert_eq!(e.status_details, details(&[("a", "1"), ("b", "2")]));
        assert_eq!(e.version, 3, "an IN_PROGRESS report is a change of its own");
        u.status_details = Some(details(&[("c", "3")]));
        e.update(&u, &timers(None), 4_000).unwrap();
        assert_eq!(e.status_details, details(&[("c", "3")]));
    }

    #[test]
    fn the_in_progress_timer_starts_when_the_execution_starts_and_times_it_out() {
        let mut e = queued();
        e.update(&update(InProgress), &timers(Some(10)), 5_000)
            .unwrap();
        assert_eq!(e.deadline_ms(), Some(5_000 + 10 * MINUTE));
        assert_eq!(e.seconds_before_timed_out(5_000), Some(600));
        assert!(!e.time_out(5_000 + 10 * MINUTE - 1));
        assert!(e.time_out(5_000 + 10 * MINUTE));
        assert_eq!((e.status, e.version, e.deadline_ms()), (TimedOut, 3, None));
        assert!(!e.time_out(i64::MAX), "a timed-out execution stays so");
        let err = e.update(&update(Succeeded), &timers(None), 0).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidStateTransition);
    }

    #[test]
    fn step_timers_replace_each_other_and_never_outlast_the_in_progress_timer() {
        // The developer guide's 20-minute example: in-progress timer of 20 minutes started at
        // 12:00, step timers of 7, 5 and 9 minutes set at 12:05, 12:10 and 12:13.
        let t = timers(Some(20));
        let at = |minute: i64| minute * MINUTE;
        let mut e = queued();
        e.update(&update(InProgress), &t, at(0)).unwrap();
        let mut step = update(InProgress);
        step.step_timeout = StepTimeout::Set(7);
        e.update(&step, &t, at(5)).unwrap();
        assert_eq!(e.deadline_ms(), Some(at(12)));
        step.step_timeout = StepTimeout::Set(5);
        e.update(&step, &t, at(10)).unwrap();
        assert_eq!(e.deadline_ms(), Some(at(15)));
        step.step_timeout = StepTimeout::Set(9);
        e.update(&step, &t, at(13)).unwrap();
        assert_eq!(
            e.deadline_ms(),
            Some(at(20)),
            "bounded by the in-progress timer"
        );
        // An update without a step timeout keeps the step timer; -1 stops it.
        e.update(&update(InProgress), &timers(None), at(14))
            .unwrap();
        assert_eq!(e.step_deadline_ms, Some(at(22)));
        step.step_timeout = StepTimeout::Cancel;
        e.update(&step, &t, at(15)).unwrap();
        assert_eq!(e.step_deadline_ms, None);
        assert_eq!(e.deadline_ms(), Some(at(20)));
        assert!(e.time_out(at(20)));
    }

    #[test]
    fn start_next_sets_the_step_timer_and_a_terminal_report_clears_every_timer() {
        let mut e = queued();
        e.start(None, StepTimeout::Set(1), &timers(Some(30)), 0);
        assert_eq!(e.deadline_ms(), Some(MINUTE));
        assert_eq!(e.progress_deadline_ms, Some(30 * MINUTE));
        let mut done = update(Succeeded);
        done.step_timeout = StepTimeout::Set(5);
        e.update(&done, &timers(Some(30)), 1_000).unwrap();
        assert_eq!((e.step_deadline_ms, e.progress_deadline_ms), (None, None));
        assert!(!e.time_out(i64::MAX));
    }

    #[test]
    fn a_shorter_minute_scales_every_timer() {
        let fast = Timers {
            minute_ms: 1_000,
            in_progress_minutes: Some(3),
        };
        let mut e = queued();
        e.start(None, StepTimeout::Set(1), &fast, 10_000);
        assert_eq!(e.deadline_ms(), Some(11_000));
        assert_eq!(e.progress_deadline_ms, Some(13_000));
    }

    #[test]
    fn step_timeouts_outside_aws_range_are_refused() {
        assert_eq!(StepTimeout::from_minutes(1, false), Ok(StepTimeout::Set(1)));
        assert_eq!(
            StepTimeout::from_minutes(MAX_TIMEOUT_MINUTES, false),
            Ok(StepTimeout::Set(MAX_TIMEOUT_MINUTES))
        );
        assert_eq!(StepTimeout::from_minutes(-1, true), Ok(StepTimeout::Cancel));
        for (minutes, cancel) in [(0, true), (-1, false), (-2, true), (10_081, true)] {
            let err = StepTimeout::from_minutes(minutes, cancel).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest);
            assert!(
                err.message.contains("stepTimeoutInMinutes"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn cancel_execution_needs_force_for_in_progress_and_refuses_terminal_ones() {
        let mut e = queued();
        e.cancel(false, None, Some(details(&[("why", "test")])), 2_000)
            .unwrap();
        assert_eq!(
            (e.status, e.version, e.force_canceled),
            (Canceled, 2, false)
        );
        assert_eq!(e.status_details, details(&[("why", "test")]));
        let err = e.cancel(true, None, None, 3_000).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidStateTransition);

        let mut e = queued();
        e.update(&update(InProgress), &timers(Some(5)), 2_000)
            .unwrap();
        let err = e.cancel(false, None, None, 3_000).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidStateTransition);
        assert!(err.message.contains("force"), "{}", err.message);
        let err = e.cancel(true, Some(1), None, 3_000).unwrap_err();
        assert_eq!(err.code, ErrorCode::VersionConflict);
        e.cancel(true, Some(2), None, 3_000).unwrap();
        assert_eq!(
            (e.status, e.force_canceled, e.deadline_ms()),
            (Canceled, true, None)
        );
    }

    #[test]
    fn cancel_job_reaches_queued_executions_and_in_progress_ones_only_with_force() {
        let mut q = queued();
        assert!(q.cancel_with_job(false, 2_000));
        let mut p = queued();
        p.update(&update(InProgress), &timers(None), 2_000).unwrap();
        assert!(!p.cancel_with_job(false, 3_000));
        assert_eq!(p.status, InProgress);
        assert!(p.cancel_with_job(true, 3_000));
        assert!(p.force_canceled);
        let mut done = queued();
        done.update(&update(Succeeded), &timers(None), 2_000)
            .unwrap();
        assert!(!done.cancel_with_job(true, 3_000));
        assert!(!done.remove(3_000));
        let mut r = queued();
        assert!(r.remove(2_000));
        assert_eq!(r.status, Removed);
    }

    /// Every sequence of operations keeps the machine's invariants: the version grows by one
    /// per change and never otherwise, a terminal status never changes, a timer runs only while
    /// IN_PROGRESS, and the start time is set once.
    #[test]
    fn random_operation_sequences_keep_the_invariants() {
        let statuses = ExecutionStatus::ALL;
        let mut seed: u64 = 0x5eed;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        for _ in 0..2_000 {
            let mut e = queued();
            let mut now = 1_000;
            for _ in 0..12 {
                now += i64::try_from(next(5)).unwrap() * 30_000;
                let before = e.clone();
                let t = timers(if next(2) == 0 { Some(2) } else { None });
                let changed = match next(6) {
                    0 => e.start(None, StepTimeout::Set(1), &t, now),
                    1 => {
                        let status = statuses[usize::try_from(next(8)).unwrap()];
                        let mut u = update(status);
                        if next(3) == 0 {
                            u.expected_version = Some(i64::try_from(next(4)).unwrap());
                        }
                        e.update(&u, &t, now).is_ok()
                    }
                    2 => e.cancel(next(2) == 0, None, None, now).is_ok(),
                    3 => e.cancel_with_job(next(2) == 0, now),
                    4 => e.time_out(now),
                    _ => e.remove(now),
                };
                if changed {
                    assert_eq!(e.version, before.version + 1);
                    assert!(!before.status.is_terminal(), "{before:?} -> {e:?}");
                } else {
                    assert_eq!(e, before);
                }
                if e.deadline_ms().is_some() {
                    assert_eq!(e.status, InProgress);
                }
                if before.started_ms.is_some() {
                    assert_eq!(e.started_ms, before.started_ms);
                }
            }
        }
    }
}
