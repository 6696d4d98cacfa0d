//! Jobs topics (developer guide, "Reserved topics" and "Jobs device MQTT API"): the four request
//! topics a device publishes to under `$aws/things/{thing}/jobs/` — `get`, `start-next`,
//! `{jobId}/get` (`$next` allowed) and `{jobId}/update` — their `/accepted` and `/rejected`
//! answers, the notification topics `notify` and `notify-next`, and the broker routes that send
//! requests to the service. Any other topic of the namespace a client publishes to is
//! [`Parsed::Invalid`], answered with `InvalidTopic`. Only topic strings here; names are
//! checked by the service.

/// A Jobs API a device calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `jobs/get`: GetPendingJobExecutions.
    GetPending,
    /// `jobs/start-next`: StartNextPendingJobExecution.
    StartNext,
    /// `jobs/{jobId}/get`: DescribeJobExecution (`$next` for the next pending one).
    Describe(String),
    /// `jobs/{jobId}/update`: UpdateJobExecution.
    Update(String),
}

/// What a topic under `$aws/things/{thing}/jobs` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A request to the service.
    Request {
        /// The thing.
        thing: String,
        /// The API.
        operation: Operation,
    },
    /// One of the service's own topics (notifications and answers): nothing to answer.
    Service,
    /// A topic of the namespace that maps to no API: answered with `InvalidTopic` on
    /// `{topic}/rejected`.
    Invalid,
}

/// The broker routes of the Jobs service: the four request topics reach the service only (AWS
/// delivers them to no subscriber), and the rest of the namespace reaches the service (to answer
/// `InvalidTopic`) and subscribers, which is how `notify` and `notify-next` get through.
pub const ROUTES: [(&str, bool); 5] = [
    ("$aws/things/+/jobs/get", false),
    ("$aws/things/+/jobs/start-next", false),
    ("$aws/things/+/jobs/+/get", false),
    ("$aws/things/+/jobs/+/update", false),
    ("$aws/things/+/jobs/#", true),
];

/// The prefix of a thing's Jobs topics.
pub fn prefix(thing: &str) -> String {
    format!("$aws/things/{thing}/jobs")
}

/// `$aws/things/{thing}/jobs/notify`.
pub fn notify(thing: &str) -> String {
    format!("{}/notify", prefix(thing))
}

/// `$aws/things/{thing}/jobs/notify-next`.
pub fn notify_next(thing: &str) -> String {
    format!("{}/notify-next", prefix(thing))
}

/// What `topic` is, or `None` outside `$aws/things/+/jobs`.
pub fn parse(topic: &str) -> Option<Parsed> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once('/')?;
    let rest = match rest.strip_prefix("jobs") {
        Some("") => return Some(Parsed::Invalid),
        Some(rest) => rest.strip_prefix('/')?,
        None => return None,
    };
    if thing.is_empty() {
        return Some(Parsed::Invalid);
    }
    let levels: Vec<&str> = rest.split('/').collect();
    let request = |operation| {
        Some(Parsed::Request {
            thing: thing.to_owned(),
            operation,
        })
    };
    match levels.as_slice() {
        ["get"] => request(Operation::GetPending),
        ["start-next"] => request(Operation::StartNext),
        ["notify" | "notify-next"] => Some(Parsed::Service),
        ["get" | "start-next", "accepted" | "rejected"] => Some(Parsed::Service),
        [job, "get"] if !job.is_empty() => request(Operation::Describe((*job).to_owned())),
        [job, "update"] if !job.is_empty() => request(Operation::Update((*job).to_owned())),
        [job, "get" | "update", "accepted" | "rejected"] if !job.is_empty() => {
            Some(Parsed::Service)
        }
        _ => Some(Parsed::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(thing: &str, operation: Operation) -> Option<Parsed> {
        Some(Parsed::Request {
            thing: thing.to_owned(),
            operation,
        })
    }

    #[test]
    fn the_four_apis_parse_and_answers_and_notifications_are_the_services() {
        assert_eq!(
            parse("$aws/things/t/jobs/get"),
            request("t", Operation::GetPending)
        );
        assert_eq!(
            parse("$aws/things/t/jobs/start-next"),
            request("t", Operation::StartNext)
        );
        assert_eq!(
            parse("$aws/things/t/jobs/$next/get"),
            request("t", Operation::Describe("$next".into()))
        );
        assert_eq!(
            parse("$aws/things/t/jobs/j-1/update"),
            request("t", Operation::Update("j-1".into()))
        );
        // A job may be named like an API: `get/get` describes job "get".
        assert_eq!(
            parse("$aws/things/t/jobs/get/get"),
            request("t", Operation::Describe("get".into()))
        );
        for service in [
            "$aws/things/t/jobs/notify",
            "$aws/things/t/jobs/notify-next",
            "$aws/things/t/jobs/get/accepted",
            "$aws/things/t/jobs/start-next/rejected",
            "$aws/things/t/jobs/j/get/accepted",
            "$aws/things/t/jobs/j/update/rejected",
        ] {
            assert_eq!(parse(service), Some(Parsed::Service), "{service}");
        }
        for invalid in [
            "$aws/things/t/jobs",
            "$aws/things/t/jobs/",
            "$aws/things/t/jobs/cancel",
            "$aws/things/t/jobs/j/delete",
            "$aws/things/t/jobs/j/get/x",
            "$aws/things/t/jobs//get",
            "$aws/things//jobs/get",
            "$aws/things/t/jobs/a/b/c/d",
        ] {
            assert_eq!(parse(invalid), Some(Parsed::Invalid), "{invalid}");
        }
        for other in [
            "$aws/things/t/shadow/get",
            "$aws/things/t/jobsx/get",
            "things/t/jobs/get",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }

    #[test]
    fn every_route_is_a_valid_filter_shape_and_only_the_catch_all_reaches_subscribers() {
        for (filter, to_subscribers) in ROUTES {
            assert!(filter.starts_with("$aws/things/+/jobs/"), "{filter}");
            assert_eq!(to_subscribers, filter.ends_with('#'), "{filter}");
        }
    }
}
