//! The policy document model ([`Policy`], [`Statement`], [`Effect`]) and its parser, which
//! turns IAM-style JSON into it with errors that point at the field. Also AWS's optional size
//! rule. It does not evaluate requests (that is `evaluate.rs`).

use std::str::FromStr;

use crate::action::ActionPattern;
use crate::condition::{Condition, parse_block};
use crate::error::{PolicyError, invalid};
use crate::json::{Json, first_duplicate_key};
use crate::template::Template;
use crate::variable::Variable;

/// AWS's documented limit: 2048 characters per policy document, whitespace not counted. The
/// control-plane API model allows far larger documents, so this is checked only when a caller
/// asks for it with [`check_aws_size_limit`].
pub const AWS_MAX_POLICY_CHARACTERS: usize = 2048;

/// Checks AWS IoT's policy size rule (at most [`AWS_MAX_POLICY_CHARACTERS`] non-whitespace
/// characters). Separate from parsing because the API model, and tether, accept larger ones.
pub fn check_aws_size_limit(document: &str) -> Result<(), PolicyError> {
    let characters = document.chars().filter(|c| !c.is_whitespace()).count();
    if characters > AWS_MAX_POLICY_CHARACTERS {
        return Err(PolicyError::TooLarge {
            characters,
            limit: AWS_MAX_POLICY_CHARACTERS,
        });
    }
    Ok(())
}

/// The policy language version (`"Version"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVersion {
    /// `2012-10-17`: policy variables are substituted.
    Version2012,
    /// `2008-10-17`, also assumed when `Version` is missing (IAM's rule): `${...}` is plain
    /// text, so policy variables never apply.
    Version2008,
}

impl PolicyVersion {
    /// The version string as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyVersion::Version2012 => "2012-10-17",
            PolicyVersion::Version2008 => "2008-10-17",
        }
    }
}

/// Whether a statement grants or forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `"Allow"`.
    Allow,
    /// `"Deny"`: wins over every Allow.
    Deny,
}

/// A parsed AWS IoT policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    version: PolicyVersion,
    id: Option<String>,
    statements: Vec<Statement>,
}

/// One statement of a policy. Its index in [`Policy::statements`] is the number reported in
/// decisions (`Statement[1]`), counting from 0 like the document's array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) actions: Vec<ActionPattern>,
    /// `NotAction` instead of `Action`.
    pub(crate) not_action: bool,
    pub(crate) resources: Vec<Template>,
    /// `NotResource` instead of `Resource`.
    pub(crate) not_resource: bool,
    pub(crate) conditions: Vec<Condition>,
}

impl Policy {
    /// Parses a policy document.
    pub fn parse(document: &str) -> Result<Policy, PolicyError> {
        Policy::from_slice(document.as_bytes())
    }

    /// Parses a policy document from bytes, which must be UTF-8 JSON.
    pub fn from_slice(document: &[u8]) -> Result<Policy, PolicyError> {
        let json = Json::parse(document).map_err(|e| PolicyError::Json(e.to_string()))?;
        parse_document(&json)
    }

    /// The language version in force.
    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// The optional top-level `Id`.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements in document order (a single statement object counts as index 0).
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// `${...}` variables tether does not recognise, as written. They never resolve, so the
    /// resource or condition holding them never matches; a caller can warn about them.
    pub fn unrecognized_variables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .statements
            .iter()
            .flat_map(|s| {
                let conditions = s.conditions.iter().flat_map(Condition::templates);
                s.resources.iter().chain(conditions)
            })
            .flat_map(Template::variables)
            .filter_map(|v| match v {
                Variable::Unknown(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

impl FromStr for Policy {
    type Err = PolicyError;

    fn from_str(document: &str) -> Result<Self, Self::Err> {
        Policy::parse(document)
    }
}

impl Statement {
    /// The optional `Sid`.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// `Allow` or `Deny`.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The `Action` (or, when [`Statement::is_not_action`], `NotAction`) entries as written.
    pub fn actions(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().map(ActionPattern::as_str)
    }

    /// Whether the statement lists `NotAction`.
    pub fn is_not_action(&self) -> bool {
        self.not_action
    }

    /// The `Resource` (or, when [`Statement::is_not_resource`], `NotResource`) entries as
    /// written.
    pub fn resources(&self) -> impl Iterator<Item = &str> {
        self.resources.iter().map(Template::as_str)
    }

    /// Whether the statement lists `NotResource`.
    pub fn is_not_resource(&self) -> bool {
        self.not_resource
    }

    /// Whether the statement has a `Condition` block.
    pub fn has_conditions(&self) -> bool {
        !self.conditions.is_empty()
    }
}

const DOCUMENT_KEYS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Path used for errors about the top-level object.
const DOCUMENT: &str = "policy document";

fn parse_document(json: &Json) -> Result<Policy, PolicyError> {
    let fields = object_fields(json, DOCUMENT, "a JSON object")?;
    check_keys(fields, DOCUMENT, DOCUMENT_KEYS, "Version, Id and Statement")?;
    let version = match member(fields, "Version") {
        None => PolicyVersion::Version2008,
        Some(Json::String(v)) if v == "2012-10-17" => PolicyVersion::Version2012,
        Some(Json::String(v)) if v == "2008-10-17" => PolicyVersion::Version2008,
        Some(Json::String(v)) => {
            return Err(invalid(
                "Version",
                format!("expected \"2012-10-17\" or \"2008-10-17\", found {v:?}"),
            ));
        }
        Some(other) => {
            return Err(invalid(
                "Version",
                format!("expected the string \"2012-10-17\", found {}", other.kind()),
            ));
        }
    };
    let id = optional_string(fields, "Id", "Id")?;
    let variables = version == PolicyVersion::Version2012;
    let statements = match member(fields, "Statement") {
        None => return Err(invalid(DOCUMENT, "missing \"Statement\"")),
        Some(Json::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_statement(item, &format!("Statement[{i}]"), variables))
            .collect::<Result<Vec<_>, _>>()?,
        Some(object @ Json::Object(_)) => vec![parse_statement(object, "Statement", variables)?],
        Some(other) => {
            return Err(invalid(
                "Statement",
                format!(
                    "expected an object or an array of objects, found {}",
                    other.kind()
                ),
            ));
        }
    };
    Ok(Policy {
        version,
        id,
        statements,
    })
}

fn parse_statement(json: &Json, field: &str, variables: bool) -> Result<Statement, PolicyError> {
    let fields = object_fields(json, field, "a statement object")?;
    check_keys(
        fields,
        field,
        STATEMENT_KEYS,
        "Sid, Effect, Action or NotAction, Resource or NotResource, and Condition",
    )?;
    let sid = optional_string(fields, "Sid", &format!("{field}.Sid"))?;
    let effect = match member(fields, "Effect") {
        None => return Err(invalid(field, "missing \"Effect\" (\"Allow\" or \"Deny\")")),
        Some(Json::String(e)) if e == "Allow" => Effect::Allow,
        Some(Json::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            let found = match other {
                Json::String(e) => format!("{e:?}"),
                other => other.kind().to_owned(),
            };
            return Err(invalid(
                format!("{field}.Effect"),
                format!("expected \"Allow\" or \"Deny\", found {found}"),
            ));
        }
    };

    let (action_key, not_action, action_json) = exactly_one(fields, field, "Action", "NotAction")?;
    let actions = string_list(action_json, &format!("{field}.{action_key}"))?
        .into_iter()
        .map(|(path, text)| ActionPattern::parse(text).map_err(|problem| invalid(path, problem)))
        .collect::<Result<Vec<_>, _>>()?;

    let (resource_key, not_resource, resource_json) =
        exactly_one(fields, field, "Resource", "NotResource")?;
    let resources = string_list(resource_json, &format!("{field}.{resource_key}"))?
        .into_iter()
        .map(|(path, text)| parse_resource(text, &path, variables))
        .collect::<Result<Vec<_>, _>>()?;

    let conditions = match member(fields, "Condition") {
        None => Vec::new(),
        Some(block) => parse_block(block, &format!("{field}.Condition"), variables)?,
    };
    Ok(Statement {
        sid,
        effect,
        actions,
        not_action,
        resources,
        not_resource,
        conditions,
    })
}

fn parse_resource(text: &str, path: &str, variables: bool) -> Result<Template, PolicyError> {
    if text != "*" && !text.starts_with("arn:") {
        return Err(invalid(
            path,
            format!(
                "expected \"*\" or an ARN such as \
                 \"arn:aws:iot:us-east-1:123456789012:topic/sensors/*\", found {text:?}"
            ),
        ));
    }
    Template::parse(text, variables).map_err(|e| invalid(path, e.describe()))
}

fn object_fields<'j>(
    json: &'j Json,
    field: &str,
    expected: &str,
) -> Result<&'j [(String, Json)], PolicyError> {
    let Json::Object(fields) = json else {
        return Err(invalid(
            field,
            format!("expected {expected}, found {}", json.kind()),
        ));
    };
    if let Some(key) = first_duplicate_key(fields) {
        return Err(invalid(field, format!("duplicate key {key:?}")));
    }
    Ok(fields)
}

/// Rejects keys outside `allowed`, suggesting the right spelling when only case differs.
fn check_keys(
    fields: &[(String, Json)],
    field: &str,
    allowed: &[&str],
    listing: &str,
) -> Result<(), PolicyError> {
    for (key, _) in fields {
        if allowed.contains(&key.as_str()) {
            continue;
        }
        let path = if field == DOCUMENT {
            key.clone()
        } else {
            format!("{field}.{key}")
        };
        let problem = if key == "Principal" || key == "NotPrincipal" {
            "AWS IoT policies take no principal; attach the policy to a certificate or thing \
             group instead"
                .to_owned()
        } else if let Some(right) = allowed.iter().find(|k| k.eq_ignore_ascii_case(key)) {
            format!("unknown key; keys are case-sensitive: write {right:?}")
        } else {
            format!("unknown key; expected {listing}")
        };
        return Err(invalid(path, problem));
    }
    Ok(())
}

fn member<'j>(fields: &'j [(String, Json)], name: &str) -> Option<&'j Json> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn optional_string(
    fields: &[(String, Json)],
    name: &str,
    path: &str,
) -> Result<Option<String>, PolicyError> {
    match member(fields, name) {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(
            path,
            format!("expected a string, found {}", other.kind()),
        )),
    }
}

/// Exactly one of `positive` / `negative` must be present; returns which and its value.
fn exactly_one<'j>(
    fields: &'j [(String, Json)],
    field: &str,
    positive: &'static str,
    negative: &'static str,
) -> Result<(&'static str, bool, &'j Json), PolicyError> {
    match (member(fields, positive), member(fields, negative)) {
        (Some(json), None) => Ok((positive, false, json)),
        (None, Some(json)) => Ok((negative, true, json)),
        (Some(_), Some(_)) => Err(invalid(
            field,
            format!("has both {positive:?} and {negative:?}; a statement takes one of them"),
        )),
        (None, None) => Err(invalid(
            field,
            format!("missing {positive:?} (or {negative:?})"),
        )),
    }
}

/// A string or a non-empty array of strings, each with its path for error messages.
fn string_list<'j>(json: &'j Json, field: &str) -> Result<Vec<(String, &'j str)>, PolicyError> {
    match json {
        Json::String(s) => Ok(vec![(field.to_owned(), s.as_str())]),
        Json::Array(items) if items.is_empty() => {
            Err(invalid(field, "is an empty array; list at least one entry"))
        }
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Json::String(s) => Ok((format!("{field}[{i}]"), s.as_str())),
                other => Err(invalid(
                    format!("{field}[{i}]"),
                    format!("expected a string, found {}", other.kind()),
                )),
            })
            .collect(),
        other => Err(invalid(
            field,
            format!(
                "expected a string or an array of strings, found {}",
                other.kind()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_statement_object_and_defaults() {
        let policy =
            Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}"#)
                .unwrap();
        assert_eq!(policy.version(), PolicyVersion::Version2008);
        assert_eq!(policy.id(), None);
        assert_eq!(policy.statements().len(), 1);
        let statement = &policy.statements()[0];
        assert_eq!(statement.effect(), Effect::Allow);
        assert_eq!(statement.sid(), None);
        assert_eq!(statement.actions().collect::<Vec<_>>(), ["iot:*"]);
        assert!(!statement.is_not_action());
        assert!(!statement.has_conditions());
    }

    #[test]
    fn accessors_report_what_was_written() {
        let policy = Policy::parse(
            r#"{"Version":"2012-10-17","Id":"p1","Statement":[{"Sid":"s","Effect":"Deny",
            "NotAction":["iot:Connect","iot:Receive"],"NotResource":"arn:aws:iot:*:*:topic/a",
            "Condition":{"Bool":{"iot:Connection.Thing.IsAttached":true}}}]}"#,
        )
        .unwrap();
        assert_eq!(policy.id(), Some("p1"));
        assert_eq!(policy.version().as_str(), "2012-10-17");
        let s = &policy.statements()[0];
        assert_eq!(s.sid(), Some("s"));
        assert_eq!(s.effect(), Effect::Deny);
        assert!(s.is_not_action() && s.is_not_resource() && s.has_conditions());
        assert_eq!(
            s.resources().collect::<Vec<_>>(),
            ["arn:aws:iot:*:*:topic/a"]
        );
    }

    #[test]
    fn unrecognized_variables_are_listed_once() {
        let policy = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect",
            "Resource":["arn:aws:iot:*:*:client/${iot:DomainName}","arn:aws:iot:*:*:client/${iot:ClientId}"],
            "Condition":{"StringEquals":{"iot:ClientId":"${iot:DomainName}-${foo}"}}}]}"#,
        )
        .unwrap();
        assert_eq!(policy.unrecognized_variables(), ["foo", "iot:DomainName"]);
    }

    #[test]
    fn size_rule_ignores_whitespace() {
        let fits = format!("{}{}", "a".repeat(2048), " \n\t".repeat(500));
        assert_eq!(check_aws_size_limit(&fits), Ok(()));
        let too_big = "a".repeat(2049);
        assert_eq!(
            check_aws_size_limit(&too_big),
            Err(PolicyError::TooLarge {
                characters: 2049,
                limit: 2048
            })
        );
    }
}
