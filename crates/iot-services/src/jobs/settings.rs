//! The Jobs service's settings: the account and region its ARNs name, how long a minute of its
//! timers lasts, and tether's bound on active jobs. Plain data the server fills from its
//! configuration; ARNs are built and read here so the service and its HTTP forms agree.

use super::error::JobsError;
use super::job::Target;

/// Settings of the Jobs service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsSettings {
    /// The account id in ARNs.
    pub account: String,
    /// The region in ARNs.
    pub region: String,
    /// How long a minute of Jobs timers and rollout rates lasts, in milliseconds: 60 000 as on
    /// AWS; shorter only as an explicit local setting (`tether serve --jobs-minute`), so that
    /// tests see a step timeout of "1 minute" fire in a second.
    pub minute_ms: i64,
    /// Most jobs IN_PROGRESS at once; CreateJob beyond it is `LimitExceededException`. AWS's
    /// active-jobs quota is per account and adjustable, and the developer guide gives no
    /// number; this bound is tether's own.
    pub max_active_jobs: usize,
}

impl Default for JobsSettings {
    fn default() -> JobsSettings {
        JobsSettings {
            account: "123456789012".to_owned(),
            region: "us-east-1".to_owned(),
            minute_ms: 60_000,
            max_active_jobs: 10_000,
        }
    }
}

impl JobsSettings {
    fn arn(&self, resource: &str) -> String {
        format!("arn:aws:iot:{}:{}:{resource}", self.region, self.account)
    }

    /// `arn:aws:iot:REGION:ACCOUNT:job/ID`.
    pub fn job_arn(&self, job_id: &str) -> String {
        self.arn(&format!("job/{job_id}"))
    }

    /// `arn:aws:iot:REGION:ACCOUNT:thing/NAME`.
    pub fn thing_arn(&self, thing: &str) -> String {
        self.arn(&format!("thing/{thing}"))
    }

    /// `arn:aws:iot:REGION:ACCOUNT:jobtemplate/ID`.
    pub fn template_arn(&self, template_id: &str) -> String {
        self.arn(&format!("jobtemplate/{template_id}"))
    }

    /// The id a job template ARN (or, with `kind` `job`, a job ARN) of this account names.
    pub fn resource_id(&self, arn: &str, kind: &str) -> Result<String, JobsError> {
        let id = arn
            .strip_prefix(&self.arn(""))
            .and_then(|rest| rest.strip_prefix(kind))
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|id| {
                (1..=64).contains(&id.len())
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
            });
        id.map(str::to_owned).ok_or_else(|| {
            JobsError::invalid_request(format!(
                "{arn:?} is not the ARN of a {kind} of this account and region: give {}",
                self.arn(&format!("{kind}/ID"))
            ))
        })
    }

    /// The id of a job template ARN of this account.
    pub fn template_id(&self, arn: &str) -> Result<String, JobsError> {
        self.resource_id(arn, "jobtemplate")
    }

    /// The thing or thing group a target ARN names. An ARN of another account or region, or of
    /// another kind of resource, is `InvalidRequest`.
    pub fn target(&self, arn: &str) -> Result<Target, JobsError> {
        let refused = |why: &str| {
            JobsError::invalid_request(format!(
                "target {arn:?} {why}: give thing ARNs such as {}",
                self.thing_arn("THING_NAME")
            ))
        };
        let rest = arn.strip_prefix(&self.arn("")).ok_or_else(|| {
            if arn.starts_with("arn:aws:iot:") {
                refused(&format!(
                    "is not in this account and region ({} {})",
                    self.account, self.region
                ))
            } else {
                refused("is not an AWS IoT ARN")
            }
        })?;
        let (kind, name) = rest
            .split_once('/')
            .ok_or_else(|| refused("names no resource"))?;
        let name_ok = (1..=128).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'));
        if !name_ok {
            return Err(refused("holds a name outside [a-zA-Z0-9:_-]{1,128}"));
        }
        match kind {
            "thing" => Ok(Target::Thing(name.to_owned())),
            "thinggroup" => Ok(Target::ThingGroup(name.to_owned())),
            _ => Err(refused("is neither a thing nor a thing group")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_arns_of_this_account_name_things_and_groups() {
        let s = JobsSettings::default();
        assert_eq!(
            s.thing_arn("lamp"),
            "arn:aws:iot:us-east-1:123456789012:thing/lamp"
        );
        assert_eq!(s.job_arn("j"), "arn:aws:iot:us-east-1:123456789012:job/j");
        assert_eq!(
            s.target(&s.thing_arn("lamp")),
            Ok(Target::Thing("lamp".into()))
        );
        assert_eq!(
            s.target("arn:aws:iot:us-east-1:123456789012:thinggroup/fleet"),
            Ok(Target::ThingGroup("fleet".into()))
        );
        assert_eq!(s.template_id(&s.template_arn("t-1")).as_deref(), Ok("t-1"));
        assert_eq!(s.resource_id(&s.job_arn("j"), "job").as_deref(), Ok("j"));
        assert!(s.template_id(&s.job_arn("j")).is_err());
        assert!(
            s.template_id("arn:aws:iot:eu-west-1:123456789012:jobtemplate/t")
                .is_err()
        );
        for bad in [
            "arn:aws:iot:eu-west-1:123456789012:thing/lamp",
            "arn:aws:s3:::bucket",
            "arn:aws:iot:us-east-1:123456789012:policy/p",
            "arn:aws:iot:us-east-1:123456789012:thing/",
            "arn:aws:iot:us-east-1:123456789012:thing/a b",
            "lamp",
        ] {
            let e = s.target(bad).unwrap_err();
            assert!(e.message.contains(bad), "{}", e.message);
        }
    }
}
