//! The configurations a job carries, as the `iot` model spells them:
//! `jobExecutionsRolloutConfig` (a constant `maximumPerMinute` of 1 to 1000, or an
//! `exponentialRate` with its `baseRatePerMinute`, `incrementFactor` of 1.1 to 5 and exactly one
//! `rateIncreaseCriteria`), `abortConfig` (criteria of a failure type, `CANCEL`, a percentage and
//! a minimum of notified things), `timeoutConfig` (1 to 10080 minutes) and `tags`, with the
//! member helpers CreateJob and UpdateJob share. Refusals name the member's path.

use serde_json::{Map, Value};

use super::error::JobsError;
use super::execution::MAX_TIMEOUT_MINUTES;
use super::job::{
    AbortCriteria, ExponentialRate, MAX_PER_MINUTE, RateIncreaseCriteria, RolloutConfig,
};

/// The longest description or comment (the model: 2028).
const MAX_DESCRIPTION: usize = 2028;

pub(super) fn string<'a>(
    body: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, JobsError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JobsError::invalid_request(format!(
            "{name} must be a string"
        ))),
    }
}

/// A description or comment: at most 2028 characters, no control characters.
pub(super) fn text(body: &Map<String, Value>, name: &str) -> Result<Option<String>, JobsError> {
    let Some(value) = string(body, name)? else {
        return Ok(None);
    };
    if value.is_empty()
        || value.chars().count() > MAX_DESCRIPTION
        || value.chars().any(char::is_control)
    {
        return Err(JobsError::invalid_request(format!(
            "{name} must be 1 to {MAX_DESCRIPTION} characters without control characters"
        )));
    }
    Ok(Some(value.to_owned()))
}

fn object<'a>(value: &'a Value, name: &str) -> Result<Option<&'a Map<String, Value>>, JobsError> {
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        _ => Err(JobsError::invalid_request(format!(
            "{name} must be an object"
        ))),
    }
}

fn int_in(
    map: &Map<String, Value>,
    path: &str,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, JobsError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(JobsError::invalid_request(format!(
                "{path}.{name} must be an integer from {min} to {max}"
            ))),
        },
    }
}

fn to_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `jobExecutionsRolloutConfig`.
pub(super) fn rollout(value: &Value) -> Result<Option<RolloutConfig>, JobsError> {
    let path = "jobExecutionsRolloutConfig";
    let Some(map) = object(value, path)? else {
        return Ok(None);
    };
    let max = int_in(map, path, "maximumPerMinute", 1, i64::from(MAX_PER_MINUTE))?.map(to_u32);
    let exponential = match map.get("exponentialRate") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let path = "jobExecutionsRolloutConfig.exponentialRate";
            let exp = object(v, path)?
                .ok_or_else(|| JobsError::invalid_request(format!("{path} must be an object")))?;
            let base = int_in(exp, path, "baseRatePerMinute", 1, 1000)?.ok_or_else(|| {
                JobsError::invalid_request(format!("{path}.baseRatePerMinute is required"))
            })?;
            let factor = exp
                .get("incrementFactor")
                .and_then(Value::as_f64)
                .ok_or_else(|| {
                    JobsError::invalid_request(format!(
                        "{path}.incrementFactor is required: a number from 1.1 to 5"
                    ))
                })?;
            if !(1.1..=5.0).contains(&factor) {
                return Err(JobsError::invalid_request(format!(
                    "{path}.incrementFactor {factor} must be from 1.1 to 5"
                )));
            }
            let criteria_path = format!("{path}.rateIncreaseCriteria");
            let criteria = exp
                .get("rateIncreaseCriteria")
                .map(|v| object(v, &criteria_path))
                .transpose()?
                .flatten()
                .ok_or_else(|| {
                    JobsError::invalid_request(format!("{criteria_path} is required"))
                })?;
            let notified = int_in(
                criteria,
                &criteria_path,
                "numberOfNotifiedThings",
                1,
                i64::from(i32::MAX),
            )?;
            let succeeded = int_in(
                criteria,
                &criteria_path,
                "numberOfSucceededThings",
                1,
                i64::from(i32::MAX),
            )?;
            if notified.is_some() == succeeded.is_some() {
                return Err(JobsError::invalid_request(format!(
                    "{criteria_path} needs exactly one of numberOfNotifiedThings and \
                     numberOfSucceededThings"
                )));
            }
            if max.is_none() {
                return Err(JobsError::invalid_request(
                    "jobExecutionsRolloutConfig.maximumPerMinute is required with an \
                     exponentialRate (it caps the rate)",
                ));
            }
            Some(ExponentialRate {
                base_rate_per_minute: to_u32(base),
                increment_factor: factor,
                rate_increase_criteria: RateIncreaseCriteria {
                    number_of_notified_things: notified.map(to_u32),
                    number_of_succeeded_things: succeeded.map(to_u32),
                },
            })
        }
    };
    Ok(Some(RolloutConfig {
        maximum_per_minute: max,
        exponential_rate: exponential,
    }))
}

/// `abortConfig`.
pub(super) fn abort(value: &Value) -> Result<Option<Vec<AbortCriteria>>, JobsError> {
    let Some(map) = object(value, "abortConfig")? else {
        return Ok(None);
    };
    let list = match map.get("criteriaList") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => {
            return Err(JobsError::invalid_request(
                "abortConfig.criteriaList is required: a list of at least one criterion",
            ));
        }
    };
    let mut criteria = Vec::new();
    for item in list {
        let path = "abortConfig.criteriaList[]";
        let c = object(item, path)?
            .ok_or_else(|| JobsError::invalid_request(format!("{path} must be an object")))?;
        let failure_type = string(c, "failureType")?.unwrap_or_default();
        if !["FAILED", "REJECTED", "TIMED_OUT", "ALL"].contains(&failure_type) {
            return Err(JobsError::invalid_request(format!(
                "{path}.failureType {failure_type:?} must be FAILED, REJECTED, TIMED_OUT or ALL"
            )));
        }
        if string(c, "action")? != Some("CANCEL") {
            return Err(JobsError::invalid_request(format!(
                "{path}.action must be CANCEL"
            )));
        }
        let threshold = c
            .get("thresholdPercentage")
            .and_then(Value::as_f64)
            .filter(|t| (0.0..=100.0).contains(t));
        let Some(threshold) = threshold else {
            return Err(JobsError::invalid_request(format!(
                "{path}.thresholdPercentage is required: a number from 0 to 100"
            )));
        };
        let min = int_in(c, path, "minNumberOfExecutedThings", 1, i64::from(i32::MAX))?
            .ok_or_else(|| {
                JobsError::invalid_request(format!("{path}.minNumberOfExecutedThings is required"))
            })?;
        criteria.push(AbortCriteria {
            failure_type: failure_type.to_owned(),
            action: "CANCEL".to_owned(),
            threshold_percentage: threshold,
            min_number_of_executed_things: to_u32(min),
        });
    }
    Ok(Some(criteria))
}

/// `timeoutConfig`.
pub(super) fn timeout(value: &Value) -> Result<Option<i64>, JobsError> {
    let Some(map) = object(value, "timeoutConfig")? else {
        return Ok(None);
    };
    int_in(
        map,
        "timeoutConfig",
        "inProgressTimeoutInMinutes",
        1,
        MAX_TIMEOUT_MINUTES,
    )
}

pub(super) fn tags(value: Option<&Value>) -> Result<Vec<(String, Option<String>)>, JobsError> {
    let list = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(JobsError::invalid_request(
                "tags must be a list of {Key, Value}",
            ));
        }
    };
    list.iter()
        .map(|tag| {
            let map = object(tag, "tags[]")?
                .ok_or_else(|| JobsError::invalid_request("tags[] must be an object"))?;
            let key = string(map, "Key")?
                .filter(|k| !k.is_empty())
                .ok_or_else(|| JobsError::invalid_request("tags[].Key is required"))?;
            Ok((key.to_owned(), string(map, "Value")?.map(str::to_owned)))
        })
        .collect()
}
