//! Device Shadow topics (developer guide, "Device Shadow MQTT topics"): the request topics a
//! device publishes to — `$aws/things/{thing}/shadow/{get|update|delete}` for the classic
//! shadow and `$aws/things/{thing}/shadow/name/{shadow}/{get|update|delete}` for a named one —
//! and the response topics built from the same prefix. It only reads and writes topic strings;
//! names are checked by the service.

/// A shadow operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `get`: the whole document.
    Get,
    /// `update`: merge a request state document.
    Update,
    /// `delete`: delete the shadow.
    Delete,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// Which shadow a topic or an HTTP route addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowId {
    /// The thing name (no registered thing is needed).
    pub thing: String,
    /// The shadow name; `None` for the classic shadow.
    pub name: Option<String>,
}

impl ShadowId {
    /// The topic prefix: `$aws/things/{thing}/shadow` or `…/shadow/name/{name}`.
    pub fn prefix(&self) -> String {
        match &self.name {
            None => format!("$aws/things/{}/shadow", self.thing),
            Some(name) => format!("$aws/things/{}/shadow/name/{name}", self.thing),
        }
    }

    /// A response topic: `{prefix}/{operation}/{suffix}` (`accepted`, `rejected`, `delta`,
    /// `documents`).
    pub fn topic(&self, operation: Operation, suffix: &str) -> String {
        format!("{}/{}/{suffix}", self.prefix(), operation.as_str())
    }

    /// The name AWS puts in "No shadow exists with name" messages: the shadow's name, or the
    /// thing's for the classic shadow.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.thing)
    }

    /// The store's key for the shadow name: empty for the classic shadow.
    pub fn stored_name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

/// The shadow and operation of a request topic, or `None` for any other topic (response
/// topics included, so a service never answers its own messages).
pub fn parse(topic: &str) -> Option<(ShadowId, Operation)> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("shadow/")?;
    let (name, operation) = match rest.split('/').collect::<Vec<_>>().as_slice() {
        [operation] => (None, *operation),
        ["name", name, operation] => (Some((*name).to_owned()), *operation),
        _ => return None,
    };
    let operation = match operation {
        "get" => Operation::Get,
        "update" => Operation::Update,
        "delete" => Operation::Delete,
        _ => return None,
    };
    if thing.is_empty() || name.as_deref() == Some("") {
        return None;
    }
    Some((
        ShadowId {
            thing: thing.to_owned(),
            name,
        },
        operation,
    ))
}

/// The request topic filters of every shadow, for the broker's service routes.
pub const REQUEST_FILTERS: [&str; 6] = [
    "$aws/things/+/shadow/get",
    "$aws/things/+/shadow/update",
    "$aws/things/+/shadow/delete",
    "$aws/things/+/shadow/name/+/get",
    "$aws/things/+/shadow/name/+/update",
    "$aws/things/+/shadow/name/+/delete",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_topics_parse_and_responses_do_not() {
        let (id, op) = parse("$aws/things/lamp/shadow/update").unwrap();
        assert_eq!(
            (id.thing.as_str(), id.name.as_deref(), op),
            ("lamp", None, Operation::Update)
        );
        assert_eq!(
            id.topic(op, "accepted"),
            "$aws/things/lamp/shadow/update/accepted"
        );
        let (id, op) = parse("$aws/things/lamp/shadow/name/config/get").unwrap();
        assert_eq!(id.name.as_deref(), Some("config"));
        assert_eq!(op, Operation::Get);
        assert_eq!(
            id.topic(Operation::Update, "delta"),
            "$aws/things/lamp/shadow/name/config/update/delta"
        );
        assert_eq!(id.display_name(), "config");
        for other in [
            "$aws/things/lamp/shadow/update/accepted",
            "$aws/things/lamp/shadow/name/config/update/delta",
            "$aws/things/lamp/shadow/name/update",
            "$aws/things//shadow/get",
            "$aws/things/lamp/shadow/name//get",
            "$aws/things/lamp/jobs/get",
            "things/lamp/shadow/get",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }

    #[test]
    fn every_request_filter_matches_what_parse_accepts() {
        for (filter, topic) in REQUEST_FILTERS.iter().zip([
            "$aws/things/t/shadow/get",
            "$aws/things/t/shadow/update",
            "$aws/things/t/shadow/delete",
            "$aws/things/t/shadow/name/n/get",
            "$aws/things/t/shadow/name/n/update",
            "$aws/things/t/shadow/name/n/delete",
        ]) {
            assert!(parse(topic).is_some(), "{topic}");
            let levels: Vec<_> = filter.split('/').collect();
            let topic_levels: Vec<_> = topic.split('/').collect();
            assert_eq!(levels.len(), topic_levels.len(), "{filter}");
        }
    }
}
