//! A job and the rules that move it: its targets (things now; thing groups have a place in
//! [`Target`] for when they exist), its document and configurations, its status (IN_PROGRESS →
//! COMPLETED | CANCELED), the staged rollout of its executions (`jobExecutionsRolloutConfig`),
//! its abort criteria (`abortConfig`) and its completion. Pure: the service stores the job and
//! its executions and passes in the counts these rules read.
//!
//! Where AWS is silent, the choices are:
//! - Rollout runs in one-minute windows from the first execution: each window creates at most
//!   the rate's number of executions (developer guide: "how many devices receive the job
//!   document every minute"). An exponential rate is `baseRatePerMinute × incrementFactorᵏ`
//!   (capped at `maximumPerMinute`), `k` being how many times the criterion's threshold was
//!   reached, as the guide's table of 50, 100, 200, 400 at 1000, 2000, 3000, 4000 shows; it is
//!   re-read at each window.
//! - An abort criterion fires once at least `minNumberOfExecutedThings` things were notified
//!   (executions created) and the executions of its failure type make up at least
//!   `thresholdPercentage` of them. It cancels the job without force: "only QUEUED job
//!   executions are canceled" (jobs-configurations-details.md).
//! - CancelJob sets `completedAt`; canceling a CANCELED job again changes nothing unless it adds
//!   `force`; canceling a COMPLETED job is refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::JobsError;
use super::status::{ExecutionStatus, JobStatus, TargetSelection};

/// The default and largest rollout rate (botocore: `MaxJobExecutionsPerMin`, and the guide:
/// "If you don't set the value, it uses 1000 as the default value").
pub const MAX_PER_MINUTE: u32 = 1000;

/// What a job targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// One thing, by name.
    Thing(String),
    /// Every thing of a thing group and of its descendant groups, by name.
    ThingGroup(String),
}

/// `jobExecutionsRolloutConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RolloutConfig {
    /// The most executions created per minute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_per_minute: Option<u32>,
    /// A rate that grows as things are notified or succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exponential_rate: Option<ExponentialRate>,
}

/// `exponentialRate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExponentialRate {
    /// The first window's rate.
    pub base_rate_per_minute: u32,
    /// The factor the rate grows by at each threshold.
    pub increment_factor: f64,
    /// When the rate grows.
    pub rate_increase_criteria: RateIncreaseCriteria,
}

/// `rateIncreaseCriteria`: exactly one of the two is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateIncreaseCriteria {
    /// Grow after every this many notified things.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_notified_things: Option<u32>,
    /// Grow after every this many succeeded things.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_succeeded_things: Option<u32>,
}

/// One `abortConfig.criteriaList` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortCriteria {
    /// `FAILED`, `REJECTED`, `TIMED_OUT` or `ALL`.
    pub failure_type: String,
    /// Always `CANCEL`.
    pub action: String,
    /// The share of failures, in percent, that aborts.
    pub threshold_percentage: f64,
    /// How many things must have been notified first.
    pub min_number_of_executed_things: u32,
}

impl AbortCriteria {
    /// The execution statuses its failure type counts.
    fn counts(&self, status: ExecutionStatus) -> bool {
        match self.failure_type.as_str() {
            "FAILED" => status == ExecutionStatus::Failed,
            "REJECTED" => status == ExecutionStatus::Rejected,
            "TIMED_OUT" => status == ExecutionStatus::TimedOut,
            _ => matches!(
                status,
                ExecutionStatus::Failed | ExecutionStatus::Rejected | ExecutionStatus::TimedOut
            ),
        }
    }
}

/// How many executions of a job have each status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(pub BTreeMap<ExecutionStatus, u64>);

impl Counts {
    /// The count of one status.
    pub fn of(&self, status: ExecutionStatus) -> u64 {
        self.0.get(&status).copied().unwrap_or(0)
    }

    /// Executions still pending (QUEUED or IN_PROGRESS).
    pub fn pending(&self) -> u64 {
        self.of(ExecutionStatus::Queued) + self.of(ExecutionStatus::InProgress)
    }
}

/// A job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub job_id: String,
    /// The target ARNs as given.
    pub target_arns: Vec<String>,
    /// The targets they name.
    pub targets: Vec<Target>,
    /// The job document (JSON text).
    pub document: String,
    /// Where the document was read from, when given as `documentSource`.
    pub document_source: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// SNAPSHOT or CONTINUOUS (as AWS spells it).
    pub target_selection: String,
    /// Its status (as AWS spells it).
    pub status: String,
    /// Whether it was canceled with force.
    pub force_canceled: bool,
    /// CancelJob's reason code.
    pub reason_code: Option<String>,
    /// CancelJob's comment.
    pub comment: Option<String>,
    /// The rollout configuration.
    pub rollout: Option<RolloutConfig>,
    /// The abort criteria.
    pub abort: Vec<AbortCriteria>,
    /// `timeoutConfig.inProgressTimeoutInMinutes`.
    pub in_progress_timeout_minutes: Option<i64>,
    /// The job template it was created from.
    #[serde(default)]
    pub job_template_arn: Option<String>,
    /// Tags given at creation (kept; tether serves no tagging API yet).
    pub tags: Vec<(String, Option<String>)>,
    /// When it was created (epoch milliseconds).
    pub created_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
    /// When it completed or was canceled.
    pub completed_ms: Option<i64>,
    /// The things to roll out to, in order.
    pub things: Vec<String>,
    /// How many of them have an execution.
    pub rolled_out: usize,
    /// Start of the current rollout window.
    pub window_start_ms: i64,
    /// Executions created in the current window.
    pub window_count: u32,
    /// When the next rollout window opens, while things remain.
    pub next_rollout_ms: Option<i64>,
}

impl Job {
    /// Its status.
    pub fn status(&self) -> JobStatus {
        JobStatus::parse(&self.status).unwrap_or(JobStatus::InProgress)
    }

    /// Its target selection.
    pub fn selection(&self) -> TargetSelection {
        TargetSelection::parse(&self.target_selection).unwrap_or_default()
    }

    /// Whether executions are still being rolled out.
    pub fn rolling_out(&self) -> bool {
        self.status() == JobStatus::InProgress && self.rolled_out < self.things.len()
    }

    /// The rollout rate per minute now, given how many things succeeded.
    pub fn rate(&self, succeeded: u64) -> u32 {
        let Some(config) = &self.rollout else {
            return MAX_PER_MINUTE;
        };
        let max = config.maximum_per_minute.unwrap_or(MAX_PER_MINUTE);
        let Some(exp) = &config.exponential_rate else {
            return max;
        };
        let criteria = &exp.rate_increase_criteria;
        let (count, threshold) = match (
            criteria.number_of_notified_things,
            criteria.number_of_succeeded_things,
        ) {
            (Some(n), _) => (self.rolled_out as u64, n),
            (None, Some(n)) => (succeeded, n),
            (None, None) => (0, 1),
        };
        let steps = count / u64::from(threshold.max(1));
        let mut rate = f64::from(exp.base_rate_per_minute);
        for _ in 0..steps.min(64) {
            rate *= exp.increment_factor;
            if rate >= f64::from(max) {
                return max;
            }
        }
        // The rate is at least 1 and below `max` here, so it fits a u32.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rate = rate.floor() as u32;
        rate.clamp(1, max)
    }

    /// How many executions may be created at `now_ms` (opening a new window when the current
    /// one is over), given how many things succeeded so far. The caller creates them and
    /// reports with [`Job::rolled`].
    pub fn rollout_allowance(&mut self, succeeded: u64, minute_ms: i64, now_ms: i64) -> usize {
        if !self.rolling_out() {
            return 0;
        }
        if self.window_count == 0 || now_ms >= self.window_start_ms.saturating_add(minute_ms) {
            self.window_start_ms = now_ms;
            self.window_count = 0;
        }
        let left_in_window = self.rate(succeeded).saturating_sub(self.window_count);
        let remaining = self.things.len().saturating_sub(self.rolled_out);
        remaining.min(usize::try_from(left_in_window).unwrap_or(usize::MAX))
    }

    /// Records `created` new executions and sets when the next window opens.
    pub fn rolled(&mut self, created: usize, minute_ms: i64) {
        self.rolled_out = self.rolled_out.saturating_add(created);
        self.window_count = self
            .window_count
            .saturating_add(u32::try_from(created).unwrap_or(u32::MAX));
        self.next_rollout_ms = self
            .rolling_out()
            .then(|| self.window_start_ms.saturating_add(minute_ms));
    }

    /// The abort criterion the counts meet, if any.
    pub fn abort_triggered(&self, counts: &Counts) -> Option<&AbortCriteria> {
        if self.status() != JobStatus::InProgress {
            return None;
        }
        let notified = counts.0.values().sum::<u64>();
        self.abort.iter().find(|criteria| {
            let failures: u64 = counts
                .0
                .iter()
                .filter(|(status, _)| criteria.counts(**status))
                .map(|(_, n)| n)
                .sum();
            #[allow(clippy::cast_precision_loss)]
            let reached =
                failures as f64 * 100.0 >= criteria.threshold_percentage * notified as f64;
            notified > 0
                && notified >= u64::from(criteria.min_number_of_executed_things)
                && failures > 0
                && reached
        })
    }

    /// CancelJob. Returns whether executions must be canceled (and with force).
    pub fn cancel(
        &mut self,
        force: bool,
        reason_code: Option<String>,
        comment: Option<String>,
        now_ms: i64,
    ) -> Result<bool, JobsError> {
        match self.status() {
            JobStatus::InProgress | JobStatus::Scheduled => {}
            JobStatus::Canceled if force && !self.force_canceled => {}
            JobStatus::Canceled => return Ok(false),
            other => {
                return Err(JobsError::invalid_request(format!(
                    "Job {} is {other} and cannot be canceled",
                    self.job_id
                )));
            }
        }
        self.status = JobStatus::Canceled.as_str().to_owned();
        self.force_canceled |= force;
        if reason_code.is_some() {
            self.reason_code = reason_code;
        }
        if comment.is_some() {
            self.comment = comment;
        }
        self.next_rollout_ms = None;
        self.completed_ms.get_or_insert(now_ms);
        self.updated_ms = now_ms;
        Ok(true)
    }

    /// A snapshot job whose executions are all rolled out and terminal is COMPLETED. Returns
    /// whether it completed now.
    pub fn complete_if_done(&mut self, counts: &Counts, now_ms: i64) -> bool {
        if self.status() != JobStatus::InProgress
            || self.selection() != TargetSelection::Snapshot
            || self.rolled_out < self.things.len()
            || counts.pending() > 0
        {
            return false;
        }
        self.status = JobStatus::Completed.as_str().to_owned();
        self.completed_ms = Some(now_ms);
        self.next_rollout_ms = None;
        self.updated_ms = now_ms;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn job(things: usize) -> Job {
        Job {
            job_id: "j".into(),
            target_arns: Vec::new(),
            targets: Vec::new(),
            document: "{}".into(),
            document_source: None,
            description: None,
            target_selection: "SNAPSHOT".into(),
            status: "IN_PROGRESS".into(),
            force_canceled: false,
            reason_code: None,
            comment: None,
            rollout: None,
            abort: Vec::new(),
            in_progress_timeout_minutes: None,
            job_template_arn: None,
            tags: Vec::new(),
            created_ms: 0,
            updated_ms: 0,
            completed_ms: None,
            things: (0..things).map(|i| format!("t{i}")).collect(),
            rolled_out: 0,
            window_start_ms: 0,
            window_count: 0,
            next_rollout_ms: None,
        }
    }

    fn counts(pairs: &[(ExecutionStatus, u64)]) -> Counts {
        Counts(pairs.iter().copied().collect())
    }

    fn exponential(
        base: u32,
        factor: f64,
        notified: Option<u32>,
        succeeded: Option<u32>,
    ) -> RolloutConfig {
        RolloutConfig {
            maximum_per_minute: Some(1000),
            exponential_rate: Some(ExponentialRate {
                base_rate_per_minute: base,
                increment_factor: factor,
                rate_increase_criteria: RateIncreaseCriteria {
                    number_of_notified_things: notified,
                    number_of_succeeded_things: succeeded,
                },
            }),
        }
    }

    #[test]
    fn without_a_rollout_config_1000_things_a_minute_are_notified() {
        let mut j = job(2500);
        let n = j.rollout_allowance(0, MINUTE, 10);
        assert_eq!(n, 1000);
        j.rolled(n, MINUTE);
        assert_eq!(j.next_rollout_ms, Some(10 + MINUTE));
        assert_eq!(
            j.rollout_allowance(0, MINUTE, 10 + MINUTE - 1),
            0,
            "window still open"
        );
        let n = j.rollout_allowance(0, MINUTE, 10 + MINUTE);
        assert_eq!(n, 1000);
        j.rolled(n, MINUTE);
        let n = j.rollout_allowance(0, MINUTE, 10 + 2 * MINUTE);
        assert_eq!(n, 500);
        j.rolled(n, MINUTE);
        assert_eq!(j.next_rollout_ms, None);
        assert!(!j.rolling_out());
    }

    #[test]
    fn a_maximum_per_minute_staggers_the_rollout() {
        let mut j = job(5);
        j.rollout = Some(RolloutConfig {
            maximum_per_minute: Some(2),
            exponential_rate: None,
        });
        let mut created = Vec::new();
        let mut now = 0;
        while j.rolling_out() {
            let n = j.rollout_allowance(0, MINUTE, now);
            j.rolled(n, MINUTE);
            created.push(n);
            now = j.next_rollout_ms.unwrap_or(now);
        }
        assert_eq!(created, [2, 2, 1]);
    }

    #[test]
    fn the_exponential_rate_follows_the_developer_guides_table() {
        // Base 50, factor 2, threshold 1000: 50, 100, 200, 400 at 0, 1000, 2000, 3000.
        let mut j = job(10_000);
        j.rollout = Some(exponential(50, 2.0, Some(1000), None));
        for (notified, rate) in [
            (0, 50),
            (999, 50),
            (1000, 100),
            (2000, 200),
            (3000, 400),
            (9000, 1000),
        ] {
            j.rolled_out = notified;
            assert_eq!(j.rate(0), rate, "after {notified} notified");
        }
        j.rollout = Some(exponential(50, 2.0, None, Some(1000)));
        j.rolled_out = 5000;
        assert_eq!(j.rate(0), 50, "succeeded things drive this one");
        assert_eq!(j.rate(2500), 200);
        j.rollout = Some(exponential(3, 1.5, Some(2), None));
        j.rolled_out = 2;
        assert_eq!(j.rate(0), 4, "fractional rates round down");
    }

    #[test]
    fn abort_criteria_fire_once_enough_things_were_notified_and_failed() {
        let mut j = job(4);
        j.abort = vec![AbortCriteria {
            failure_type: "FAILED".into(),
            action: "CANCEL".into(),
            threshold_percentage: 50.0,
            min_number_of_executed_things: 4,
        }];
        use ExecutionStatus::*;
        assert!(
            j.abort_triggered(&counts(&[(Failed, 2), (Queued, 1)]))
                .is_none(),
            "3 notified < 4"
        );
        assert!(
            j.abort_triggered(&counts(&[(Failed, 1), (Queued, 3)]))
                .is_none(),
            "25% < 50%"
        );
        assert!(
            j.abort_triggered(&counts(&[(Rejected, 3), (Queued, 1)]))
                .is_none(),
            "not FAILED"
        );
        assert!(
            j.abort_triggered(&counts(&[(Failed, 2), (Queued, 2)]))
                .is_some()
        );
        j.abort[0].failure_type = "ALL".into();
        assert!(
            j.abort_triggered(&counts(&[(Rejected, 1), (TimedOut, 1), (Succeeded, 2)]))
                .is_some()
        );
        j.status = "CANCELED".into();
        assert!(
            j.abort_triggered(&counts(&[(Failed, 4)])).is_none(),
            "only running jobs abort"
        );
    }

    #[test]
    fn cancel_moves_a_running_job_and_escalates_only_with_force() {
        let mut j = job(1);
        assert_eq!(j.cancel(false, Some("R1".into()), None, 5), Ok(true));
        assert_eq!(
            (j.status(), j.force_canceled, j.completed_ms),
            (JobStatus::Canceled, false, Some(5))
        );
        assert_eq!(
            j.cancel(false, None, None, 6),
            Ok(false),
            "again without force: nothing"
        );
        assert_eq!(j.cancel(true, None, Some("now".into()), 7), Ok(true));
        assert!(j.force_canceled);
        assert_eq!(
            (j.reason_code.as_deref(), j.comment.as_deref()),
            (Some("R1"), Some("now"))
        );
        assert_eq!(j.completed_ms, Some(5));
        assert_eq!(j.cancel(true, None, None, 8), Ok(false));
        let mut done = job(1);
        done.status = "COMPLETED".into();
        assert!(done.cancel(true, None, None, 9).is_err());
    }

    #[test]
    fn a_snapshot_job_completes_when_everything_rolled_out_is_terminal() {
        use ExecutionStatus::*;
        let mut j = job(2);
        j.rolled_out = 1;
        assert!(
            !j.complete_if_done(&counts(&[(Succeeded, 1)]), 5),
            "one thing left to roll out"
        );
        j.rolled_out = 2;
        assert!(!j.complete_if_done(&counts(&[(Succeeded, 1), (InProgress, 1)]), 5));
        assert!(j.complete_if_done(&counts(&[(Succeeded, 1), (Failed, 1)]), 6));
        assert_eq!(
            (j.status(), j.completed_ms),
            (JobStatus::Completed, Some(6))
        );
        let mut continuous = job(1);
        continuous.target_selection = "CONTINUOUS".into();
        continuous.rolled_out = 1;
        assert!(!continuous.complete_if_done(&counts(&[(Succeeded, 1)]), 5));
    }

    #[test]
    fn a_job_round_trips_through_its_stored_json() {
        let mut j = job(3);
        j.rollout = Some(exponential(10, 1.5, Some(5), None));
        j.targets = vec![Target::Thing("t0".into())];
        let text = serde_json::to_string(&j).unwrap();
        assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), j);
    }
}
