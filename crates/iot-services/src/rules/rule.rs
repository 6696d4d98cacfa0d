//! A topic rule: its name (AWS's pattern), and its TopicRulePayload (`sql`, `description`,
//! `actions`, `ruleDisabled`, `awsIotSqlVersion`, `errorAction`) parsed and checked once, at
//! CreateTopicRule or ReplaceTopicRule, into a statement ready to evaluate and actions ready to
//! run. A statement that does not parse is AWS's SqlParseException with iot-sql's position and
//! words. It does not store or evaluate anything.

use iot_sql::{ParseErrorKind, SqlVersion, Statement};
use serde_json::{Map, Value};

use super::RuleError;
use super::action::{Action, MAX_ACTIONS};

/// A rule, parsed.
#[derive(Debug, Clone)]
pub struct TopicRule {
    /// Its name.
    pub name: String,
    /// The statement.
    pub statement: Statement,
    /// The SQL as given.
    pub sql: String,
    /// `description`.
    pub description: Option<String>,
    /// `awsIotSqlVersion` (the default when omitted).
    pub version: SqlVersion,
    /// `ruleDisabled`.
    pub disabled: bool,
    /// `actions`, in order.
    pub actions: Vec<Action>,
    /// `errorAction`.
    pub error_action: Option<Action>,
    /// When it was created, milliseconds since the epoch.
    pub created_ms: i64,
}

/// AWS's rule name rule (botocore `RuleName`: `^[a-zA-Z0-9_]+$`, 1 to 128 characters).
pub fn check_rule_name(name: &str) -> Result<(), RuleError> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(RuleError::invalid(format!(
            "rule name {name:?} is not valid: use 1 to 128 letters, digits and underscores \
             (AWS's pattern ^[a-zA-Z0-9_]+$)"
        )))
    }
}

impl TopicRule {
    /// Parses the TopicRulePayload JSON of rule `name`.
    pub fn parse(name: &str, payload: &Value, created_ms: i64) -> Result<TopicRule, RuleError> {
        check_rule_name(name)?;
        let Value::Object(body) = payload else {
            return Err(RuleError::invalid(
                "the topic rule payload must be a JSON object with sql and actions",
            ));
        };
        let sql = text(body, "sql")?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| RuleError::invalid("topicRulePayload.sql is required"))?;
        let version = SqlVersion::from_field(text(body, "awsIotSqlVersion")?).map_err(|e| {
            RuleError::invalid(format!(
                "topicRulePayload.awsIotSqlVersion: {e} (use 2015-10-08, 2016-03-23 or beta)"
            ))
        })?;
        let statement = Statement::parse(sql, version).map_err(|e| {
            let hint = match e.kind() {
                ParseErrorKind::UnsupportedFunction => {
                    " (AWS accepts this function; tether refuses it rather than evaluate it \
                     wrongly, see docs/aws-differences.md)"
                }
                _ => "",
            };
            RuleError::sql_parse(format!("Syntax error in rule {name}: {e}{hint}"))
        })?;
        if let Some(filter) = statement.from_filter() {
            check_filter(filter).map_err(|why| {
                RuleError::sql_parse(format!(
                    "Syntax error in rule {name}: FROM '{filter}' is not a topic filter: {why}"
                ))
            })?;
        }
        let actions = match body.get("actions") {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => {
                return Err(RuleError::invalid("topicRulePayload.actions is required"));
            }
            Some(_) => {
                return Err(RuleError::invalid(
                    "topicRulePayload.actions must be a list of actions",
                ));
            }
        };
        if actions.len() > MAX_ACTIONS {
            return Err(RuleError::invalid(format!(
                "rule {name} has {} actions; AWS allows at most {MAX_ACTIONS} per rule",
                actions.len()
            )));
        }
        let actions = actions
            .iter()
            .enumerate()
            .map(|(i, a)| Action::parse(a, &format!("actions[{i}]"), version))
            .collect::<Result<Vec<_>, _>>()?;
        let error_action = match body.get("errorAction") {
            None | Some(Value::Null) => None,
            Some(a) => Some(Action::parse(a, "errorAction", version)?),
        };
        let disabled = match body.get("ruleDisabled") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(RuleError::invalid(
                    "topicRulePayload.ruleDisabled must be true or false",
                ));
            }
        };
        Ok(TopicRule {
            name: name.to_owned(),
            statement,
            sql: sql.to_owned(),
            description: text(body, "description")?.map(str::to_owned),
            version,
            disabled,
            actions,
            error_action,
            created_ms,
        })
    }

    /// The FROM filter (`topicPattern` in ListTopicRules), `None` for Basic Ingest only rules.
    pub fn topic_pattern(&self) -> Option<&str> {
        self.statement.from_filter()
    }

    /// The payload as GetTopicRule's `rule` shows it (`TopicRule` in the `iot` model), without
    /// `ruleName` and `createdAt`, which the caller adds.
    pub fn payload_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("sql".into(), Value::String(self.sql.clone()));
        if let Some(d) = &self.description {
            out.insert("description".into(), Value::String(d.clone()));
        }
        out.insert(
            "actions".into(),
            Value::Array(self.actions.iter().map(|a| a.json.clone()).collect()),
        );
        out.insert("ruleDisabled".into(), Value::Bool(self.disabled));
        out.insert(
            "awsIotSqlVersion".into(),
            Value::String(self.version.as_str().to_owned()),
        );
        if let Some(e) = &self.error_action {
            out.insert("errorAction".into(), e.json.clone());
        }
        Value::Object(out)
    }
}

/// MQTT's topic filter rules ([MQTT-4.7.1-1] and [MQTT-4.7.1-2]): `#` alone and last, `+` alone
/// in its level, not empty, no NUL.
fn check_filter(filter: &str) -> Result<(), &'static str> {
    if filter.is_empty() {
        return Err("it is empty");
    }
    if filter.contains('\0') {
        return Err("it contains NUL");
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err("# must be a whole level and the last one");
        }
        if level.contains('+') && *level != "+" {
            return Err("+ must be a whole level");
        }
    }
    Ok(())
}

fn text<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, RuleError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(RuleError::invalid(format!(
            "topicRulePayload.{field} must be a string"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_payload_parses_with_aws_defaults_and_prints_back() {
        let payload = json!({
            "sql": "SELECT temp FROM 'sensors/+/data' WHERE temp > 30",
            "actions": [{"republish": {"topic": "alerts/${topic(2)}", "roleArn": "r"}}],
        });
        let rule = TopicRule::parse("hot_1", &payload, 7).unwrap();
        assert_eq!(rule.version, SqlVersion::V2015_10_08);
        assert!(!rule.disabled);
        assert_eq!(rule.topic_pattern(), Some("sensors/+/data"));
        let shown = rule.payload_json();
        assert_eq!(shown["awsIotSqlVersion"], "2015-10-08");
        assert_eq!(shown["ruleDisabled"], false);
        assert_eq!(shown["actions"], payload["actions"]);
        let again = TopicRule::parse("hot_1", &shown, 7).unwrap();
        assert_eq!(again.payload_json(), shown);
    }

    #[test]
    fn sql_that_does_not_parse_is_a_sql_parse_exception_with_its_position() {
        let payload = json!({"sql": "SELECT * FRM 'a'", "actions": []});
        let e = TopicRule::parse("r", &payload, 0).unwrap_err();
        assert_eq!(e.exception, "SqlParseException");
        assert_eq!(e.status, 400);
        assert!(e.message.contains("line 1, column"), "{e}");
    }

    #[test]
    fn a_from_filter_mqtt_cannot_use_is_refused() {
        for filter in ["a/#/b", "a+/b", "a/b#"] {
            let payload = json!({"sql": format!("SELECT * FROM '{filter}'"), "actions": []});
            let e = TopicRule::parse("r", &payload, 0).unwrap_err();
            assert_eq!(e.exception, "SqlParseException", "{filter}: {e}");
        }
        let ok = json!({"sql": "SELECT * FROM '+/a/#'", "actions": []});
        assert!(TopicRule::parse("r", &ok, 0).is_ok());
    }

    #[test]
    fn names_and_fields_are_checked() {
        assert!(check_rule_name("ok_Rule_1").is_ok());
        for bad in ["", "has-dash", "sp ace", &"x".repeat(129)] {
            assert!(check_rule_name(bad).is_err(), "{bad}");
        }
        let e = TopicRule::parse("r", &json!({"sql": "SELECT * FROM 'a'"}), 0).unwrap_err();
        assert!(e.message.contains("actions is required"), "{e}");
        let e = TopicRule::parse(
            "r",
            &json!({"sql": "SELECT * FROM 'a'", "actions": [], "awsIotSqlVersion": "2020"}),
            0,
        )
        .unwrap_err();
        assert!(e.message.contains("awsIotSqlVersion"), "{e}");
        let many: Vec<Value> = (0..11)
            .map(|_| json!({"republish": {"topic": "t"}}))
            .collect();
        let e = TopicRule::parse(
            "r",
            &json!({"sql": "SELECT * FROM 'a'", "actions": many}),
            0,
        )
        .unwrap_err();
        assert!(e.message.contains("at most 10"), "{e}");
    }
}
