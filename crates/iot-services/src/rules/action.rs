//! A topic rule's actions as tether runs them, parsed from the `Action` objects of a
//! TopicRulePayload (botocore's `iot` model): `republish`, `http` and `lambda` run locally; every
//! other action type AWS has is accepted (so infrastructure-as-code that creates it works) and
//! kept as [`ActionKind::NotExecuted`], which reports every firing as not executed. Substitution
//! templates are parsed here, once, so a rule whose template does not parse is refused at
//! creation. It does not run anything.

use iot_sql::{SqlVersion, Template};
use serde_json::{Map, Value};

use super::RuleError;

/// AWS's quota: "Maximum number of actions per rule: 10" (AWS IoT Core endpoints and quotas).
pub const MAX_ACTIONS: usize = 10;

/// One action of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// What runs.
    pub kind: ActionKind,
    /// The action object as given (`{"republish": {...}}`), for GetTopicRule.
    pub json: Value,
}

/// What an action does.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    /// Publish the SELECT output through the broker.
    Republish(Republish),
    /// POST the SELECT output to a confirmed destination.
    Http(Http),
    /// Invoke a function: tether maps it to a local URL or command (`[rules.lambda]`).
    Lambda {
        /// The function ARN as given.
        function_arn: String,
    },
    /// An action type tether does not execute locally (DynamoDB, Kinesis, S3, SQS, ...).
    NotExecuted {
        /// The member name, e.g. `dynamoDBv2`.
        member: String,
        /// AWS's action name in error messages, e.g. `DynamoDBv2Action`.
        action: String,
        /// The resource it names (table, queue, stream...), for `failedResource`.
        resource: String,
    },
}

/// A `republish` action.
#[derive(Debug, Clone, PartialEq)]
pub struct Republish {
    /// The topic (`$$` for a `$` topic).
    pub topic: Template,
    /// 0 or 1 (AWS's default: 0).
    pub qos: u8,
    /// MQTT 5 headers, each a substitution template.
    pub headers: Option<Box<Headers>>,
}

/// The MQTT 5 `headers` of a republish action (botocore's `MqttHeaders`); every field
/// supports substitution templates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Headers {
    /// `UNSPECIFIED_BYTES` or `UTF8_DATA`.
    pub payload_format_indicator: Option<Template>,
    /// Content type.
    pub content_type: Option<Template>,
    /// Response topic.
    pub response_topic: Option<Template>,
    /// Correlation data, base64-encoded (AWS: "This binary data must be based64-encoded").
    pub correlation_data: Option<Template>,
    /// Message expiry in seconds, as text.
    pub message_expiry: Option<Template>,
    /// User properties, in order.
    pub user_properties: Vec<(Template, Template)>,
}

/// An `http` action.
#[derive(Debug, Clone, PartialEq)]
pub struct Http {
    /// The endpoint URL.
    pub url: Template,
    /// The confirmation URL (when absent, the literal `url` is its own confirmation URL).
    pub confirmation_url: Option<Template>,
    /// Headers: literal keys, template values.
    pub headers: Vec<(String, Template)>,
}

impl Http {
    /// The confirmation URL a destination must exist for, when it has no substitution
    /// template: `confirmationUrl`, or the literal `url` (https-rule-action.md: "If url is
    /// hardcoded and confirmationUrl is not provided, we implicitly treat the url field as the
    /// confirmationUrl").
    pub fn literal_confirmation_url(&self) -> Option<String> {
        let template = self.confirmation_url.as_ref().unwrap_or(&self.url);
        template
            .is_literal()
            .then(|| template.to_string().replace("$$", "$"))
    }
}

/// Member name → (AWS's action shape name, the field that names its resource), for every
/// action type tether accepts without executing. The shape names are botocore's.
const NOT_EXECUTED: &[(&str, &str, &str)] = &[
    ("dynamoDB", "DynamoDBAction", "tableName"),
    ("dynamoDBv2", "DynamoDBv2Action", "putItem.tableName"),
    ("sns", "SnsAction", "targetArn"),
    ("sqs", "SqsAction", "queueUrl"),
    ("kinesis", "KinesisAction", "streamName"),
    ("s3", "S3Action", "bucketName"),
    ("firehose", "FirehoseAction", "deliveryStreamName"),
    ("cloudwatchMetric", "CloudwatchMetricAction", "metricName"),
    ("cloudwatchAlarm", "CloudwatchAlarmAction", "alarmName"),
    ("cloudwatchLogs", "CloudwatchLogsAction", "logGroupName"),
    ("elasticsearch", "ElasticsearchAction", "endpoint"),
    ("salesforce", "SalesforceAction", "url"),
    ("iotAnalytics", "IotAnalyticsAction", "channelName"),
    ("iotEvents", "IotEventsAction", "inputName"),
    ("iotSiteWise", "IotSiteWiseAction", "roleArn"),
    ("stepFunctions", "StepFunctionsAction", "stateMachineName"),
    ("timestream", "TimestreamAction", "tableName"),
    ("kafka", "KafkaAction", "destinationArn"),
    ("openSearch", "OpenSearchAction", "endpoint"),
    ("location", "LocationAction", "trackerName"),
    ("influxDB", "InfluxDBAction", "databaseName"),
];

impl Action {
    /// Parses one `Action` object; `at` names it in errors (`actions[2]`, `errorAction`).
    pub fn parse(value: &Value, at: &str, version: SqlVersion) -> Result<Action, RuleError> {
        let Value::Object(object) = value else {
            return Err(RuleError::invalid(format!(
                "{at} must be an object with one action member such as republish or http"
            )));
        };
        let mut members = object.iter().filter(|(_, v)| !v.is_null());
        let (Some((member, body)), None) = (members.next(), members.next()) else {
            return Err(RuleError::invalid(format!(
                "{at} must have exactly one action member (republish, http, lambda, sqs, ...)"
            )));
        };
        let at = format!("{at}.{member}");
        let Value::Object(body) = body else {
            return Err(RuleError::invalid(format!("{at} must be an object")));
        };
        let kind = match member.as_str() {
            "republish" => ActionKind::Republish(republish(body, &at, version)?),
            "http" => ActionKind::Http(http(body, &at, version)?),
            "lambda" => ActionKind::Lambda {
                function_arn: required(body, "functionArn", &at)?.to_owned(),
            },
            other => match NOT_EXECUTED.iter().find(|(name, ..)| *name == other) {
                Some((_, action, field)) => ActionKind::NotExecuted {
                    member: other.to_owned(),
                    action: (*action).to_owned(),
                    resource: resource(body, field),
                },
                None => {
                    return Err(RuleError::invalid(format!(
                        "{at}: AWS IoT has no rule action named {other:?}; the action types are \
                         republish, http, lambda and {}",
                        NOT_EXECUTED
                            .iter()
                            .map(|(n, ..)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            },
        };
        Ok(Action {
            kind,
            json: value.clone(),
        })
    }

    /// AWS's name of the action in error messages, e.g. `RepublishAction`.
    pub fn aws_name(&self) -> &str {
        match &self.kind {
            ActionKind::Republish(_) => "RepublishAction",
            ActionKind::Http(_) => "HttpAction",
            ActionKind::Lambda { .. } => "LambdaAction",
            ActionKind::NotExecuted { action, .. } => action,
        }
    }
}

fn required<'a>(body: &'a Map<String, Value>, field: &str, at: &str) -> Result<&'a str, RuleError> {
    match body.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(RuleError::invalid(format!("{at}.{field} is required")))
        }
        Some(_) => Err(RuleError::invalid(format!("{at}.{field} must be a string"))),
    }
}

fn optional<'a>(
    body: &'a Map<String, Value>,
    field: &str,
    at: &str,
) -> Result<Option<&'a str>, RuleError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(RuleError::invalid(format!("{at}.{field} must be a string"))),
    }
}

/// A substitution template of field `at`; a template that does not parse is AWS's
/// SqlParseException (its expressions are IoT SQL).
fn template(text: &str, at: &str, version: SqlVersion) -> Result<Template, RuleError> {
    Template::parse(text, version).map_err(|e| {
        RuleError::sql_parse(format!(
            "{at}: the substitution template {text:?} does not parse: {e}"
        ))
    })
}

fn republish(
    body: &Map<String, Value>,
    at: &str,
    version: SqlVersion,
) -> Result<Republish, RuleError> {
    let topic_text = required(body, "topic", at)?;
    let topic = template(topic_text, &format!("{at}.topic"), version)?;
    let qos = match body.get("qos") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) if n.as_u64() == Some(0) => 0,
        Some(Value::Number(n)) if n.as_u64() == Some(1) => 1,
        Some(other) => {
            return Err(RuleError::invalid(format!(
                "{at}.qos must be 0 or 1, not {other}"
            )));
        }
    };
    let headers = match body.get("headers") {
        None | Some(Value::Null) => None,
        Some(Value::Object(h)) => Some(Box::new(headers(h, &format!("{at}.headers"), version)?)),
        Some(_) => {
            return Err(RuleError::invalid(format!(
                "{at}.headers must be an object"
            )));
        }
    };
    Ok(Republish {
        topic,
        qos,
        headers,
    })
}

fn headers(h: &Map<String, Value>, at: &str, version: SqlVersion) -> Result<Headers, RuleError> {
    let field = |name: &str| -> Result<Option<Template>, RuleError> {
        optional(h, name, at)?
            .map(|text| template(text, &format!("{at}.{name}"), version))
            .transpose()
    };
    let mut user_properties = Vec::new();
    match h.get("userProperties") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}.userProperties[{i}]");
                let Value::Object(pair) = item else {
                    return Err(RuleError::invalid(format!(
                        "{here} must be an object with key and value"
                    )));
                };
                let key = optional(pair, "key", &here)?.unwrap_or_default();
                let value = optional(pair, "value", &here)?.unwrap_or_default();
                user_properties.push((
                    template(key, &format!("{here}.key"), version)?,
                    template(value, &format!("{here}.value"), version)?,
                ));
            }
        }
        Some(_) => {
            return Err(RuleError::invalid(format!(
                "{at}.userProperties must be a list of {{key, value}} objects"
            )));
        }
    }
    Ok(Headers {
        payload_format_indicator: field("payloadFormatIndicator")?,
        content_type: field("contentType")?,
        response_topic: field("responseTopic")?,
        correlation_data: field("correlationData")?,
        message_expiry: field("messageExpiry")?,
        user_properties,
    })
}

fn http(body: &Map<String, Value>, at: &str, version: SqlVersion) -> Result<Http, RuleError> {
    let url_text = required(body, "url", at)?;
    let url = template(url_text, &format!("{at}.url"), version)?;
    let confirmation_url = optional(body, "confirmationUrl", at)?
        .map(|text| template(text, &format!("{at}.confirmationUrl"), version))
        .transpose()?;
    check_url(url_text, &format!("{at}.url"))?;
    match &confirmation_url {
        None if !url.is_literal() => {
            return Err(RuleError::invalid(format!(
                "{at}: url {url_text:?} has a substitution template, so confirmationUrl is \
                 required and url must begin with it (https-rule-action)"
            )));
        }
        Some(confirmation) => {
            let prefix = confirmation.to_string();
            check_url(&prefix, &format!("{at}.confirmationUrl"))?;
            if confirmation.is_literal() && !url_text.starts_with(&prefix) {
                return Err(RuleError::invalid(format!(
                    "{at}: url {url_text:?} must begin with confirmationUrl {prefix:?}"
                )));
            }
        }
        None => {}
    }
    let mut headers = Vec::new();
    match body.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}.headers[{i}]");
                let Value::Object(pair) = item else {
                    return Err(RuleError::invalid(format!(
                        "{here} must be an object with key and value"
                    )));
                };
                let key = required(pair, "key", &here)?;
                let value = optional(pair, "value", &here)?.unwrap_or_default();
                headers.push((
                    key.to_owned(),
                    template(value, &format!("{here}.value"), version)?,
                ));
            }
        }
        Some(_) => {
            return Err(RuleError::invalid(format!(
                "{at}.headers must be a list of {{key, value}} objects"
            )));
        }
    }
    Ok(Http {
        url,
        confirmation_url,
        headers,
    })
}

/// An HTTP action URL must be `https://` on AWS; tether also accepts `http://` so that a
/// receiver on the desk needs no certificate (docs/aws-differences.md, "Rules engine").
fn check_url(url: &str, at: &str) -> Result<(), RuleError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(RuleError::invalid(format!(
            "{at} {url:?} must be an https:// URL (tether also accepts http:// for local \
             receivers)"
        )))
    }
}

/// The value at a dotted path of `body`, as text (empty when absent).
fn resource(body: &Map<String, Value>, path: &str) -> String {
    let mut parts = path.split('.');
    let Some(first) = parts.next() else {
        return String::new();
    };
    let mut value = body.get(first);
    for part in parts {
        value = value.and_then(|v| v.get(part));
    }
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Action, RuleError> {
        Action::parse(&value, "actions[0]", SqlVersion::V2016_03_23)
    }

    #[test]
    fn republish_http_and_lambda_are_parsed_with_their_templates() {
        let a = parse(
            json!({"republish": {"topic": "$$aws/things/${topic(2)}/x", "qos": 1,
            "roleArn": "arn:aws:iam::1:role/r",
            "headers": {"contentType": "${ct}", "userProperties": [{"key": "k", "value": "v"}]}}}),
        )
        .unwrap();
        let ActionKind::Republish(r) = &a.kind else {
            panic!("{a:?}")
        };
        assert_eq!(r.qos, 1);
        assert_eq!(r.headers.as_ref().unwrap().user_properties.len(), 1);
        assert_eq!(a.aws_name(), "RepublishAction");
        let h = parse(
            json!({"http": {"url": "https://h/x/${topic()}", "confirmationUrl": "https://h/x"}}),
        )
        .unwrap();
        let ActionKind::Http(h) = &h.kind else {
            panic!()
        };
        assert_eq!(h.literal_confirmation_url().as_deref(), Some("https://h/x"));
        let l = parse(json!({"lambda": {"functionArn": "arn:aws:lambda:us-east-1:1:function:f"}}))
            .unwrap();
        assert!(matches!(l.kind, ActionKind::Lambda { .. }));
    }

    #[test]
    fn other_aws_actions_are_accepted_as_not_executed_with_their_resource() {
        let a =
            parse(json!({"dynamoDBv2": {"roleArn": "r", "putItem": {"tableName": "t1"}}})).unwrap();
        assert_eq!(
            a.kind,
            ActionKind::NotExecuted {
                member: "dynamoDBv2".into(),
                action: "DynamoDBv2Action".into(),
                resource: "t1".into()
            }
        );
    }

    #[test]
    fn malformed_actions_are_refused_naming_the_field() {
        let cases = [
            (json!({"nope": {}}), "no rule action named"),
            (json!({}), "exactly one action member"),
            (
                json!({"republish": {"topic": "a", "qos": 2}}),
                "qos must be 0 or 1",
            ),
            (json!({"republish": {}}), "topic is required"),
            (
                json!({"http": {"url": "https://h/${x}"}}),
                "confirmationUrl is required",
            ),
            (
                json!({"http": {"url": "https://a/x", "confirmationUrl": "https://b"}}),
                "must begin",
            ),
            (json!({"http": {"url": "ftp://a"}}), "https://"),
        ];
        for (value, words) in cases {
            let e = parse(value.clone()).unwrap_err();
            assert!(e.message.contains(words), "{value}: {e}");
        }
        let e = parse(json!({"republish": {"topic": "a/${topic(}"}})).unwrap_err();
        assert_eq!(e.exception, "SqlParseException", "{e}");
    }
}
