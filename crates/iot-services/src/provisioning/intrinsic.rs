//! The intrinsic functions of provisioning templates, exactly those AWS documents for them
//! (developer guide, "Provisioning templates", "Intrinsic functions"): `Ref`, `Fn::Join`,
//! `Fn::Select`, `Fn::Split`, `Fn::FindInMap` and `Fn::Sub`, with CloudFormation's argument
//! forms, which the guide refers to. [`check`] refuses any other function, and malformed
//! arguments, when a template is created; [`eval`] evaluates an expression against parameter
//! values and the `Mappings` section when a device is provisioned. Pure: no store, no clock.
//!
//! Where AWS is silent: an intrinsic call is an object whose only member is `Ref` or starts
//! with `Fn::`, as in CloudFormation (an object mixing such a member with others is refused);
//! a `Ref` names a parameter or a pseudo-parameter (CloudFormation's references to resources
//! have no meaning here); `Fn::Select` takes its index as a number or a numeric string; `Fn::Sub`
//! treats `${!Name}` as the literal `${Name}` and refuses `${Resource.Attribute}`; numbers and
//! booleans in `Fn::Join` lists are joined as their JSON text.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::TemplateError;

/// The functions a provisioning template may call.
pub const FUNCTIONS: [&str; 6] = [
    "Ref",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::FindInMap",
    "Fn::Sub",
];

/// What evaluation reads: the parameter values (pseudo-parameters included) and `Mappings`.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Parameter name to value.
    pub parameters: &'a BTreeMap<String, String>,
    /// The template's `Mappings` section.
    pub mappings: &'a Map<String, Value>,
}

/// The function name and argument when `value` is an intrinsic call.
pub fn call(value: &Value) -> Option<(&str, &Value)> {
    let Value::Object(map) = value else {
        return None;
    };
    if map.len() != 1 {
        return None;
    }
    let (name, argument) = map.iter().next()?;
    is_function_key(name).then_some((name.as_str(), argument))
}

fn is_function_key(key: &str) -> bool {
    key == "Ref" || key.starts_with("Fn::")
}

/// Checks every intrinsic call in `value` (at `path`): only the six functions, each with its
/// argument form; `Fn::FindInMap` with a literal map name must name a map of `mappings`.
pub fn check(
    value: &Value,
    path: &str,
    mappings: &Map<String, Value>,
) -> Result<(), TemplateError> {
    match value {
        Value::Object(map) => {
            if map.len() > 1
                && let Some(key) = map.keys().find(|k| is_function_key(k))
            {
                return Err(TemplateError::invalid(
                    path,
                    format!("{key} must be the only member of its object"),
                ));
            }
            if let Some((name, argument)) = call(value) {
                return check_call(name, argument, &format!("{path}.{name}"), mappings);
            }
            for (key, member) in map {
                check(member, &format!("{path}.{key}"), mappings)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check(item, &format!("{path}[{i}]"), mappings)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_call(
    name: &str,
    argument: &Value,
    path: &str,
    mappings: &Map<String, Value>,
) -> Result<(), TemplateError> {
    let args = |n: usize| -> Result<&Vec<Value>, TemplateError> {
        match argument {
            Value::Array(items) if items.len() == n => Ok(items),
            _ => Err(TemplateError::invalid(
                path,
                format!("{name} takes a list of {n} arguments"),
            )),
        }
    };
    let string_or_call = |value: &Value, what: &str| -> Result<(), TemplateError> {
        if value.is_string() || call(value).is_some() {
            check(value, path, mappings)
        } else {
            Err(TemplateError::invalid(
                path,
                format!("the {what} of {name} must be a string or a function"),
            ))
        }
    };
    let list_or_call = |value: &Value, what: &str| -> Result<(), TemplateError> {
        if value.is_array() || call(value).is_some() {
            check(value, path, mappings)
        } else {
            Err(TemplateError::invalid(
                path,
                format!("the {what} of {name} must be a list or a function"),
            ))
        }
    };
    match name {
        "Ref" => match argument {
            Value::String(target) if !target.is_empty() => Ok(()),
            _ => Err(TemplateError::invalid(
                path,
                "Ref takes the name of a parameter",
            )),
        },
        "Fn::Join" => {
            let items = args(2)?;
            let (Some(delimiter), Some(list)) = (items.first(), items.get(1)) else {
                return Ok(());
            };
            if !delimiter.is_string() {
                return Err(TemplateError::invalid(
                    path,
                    "the delimiter of Fn::Join must be a string",
                ));
            }
            list_or_call(list, "list")
        }
        "Fn::Select" => {
            let items = args(2)?;
            let (Some(index), Some(list)) = (items.first(), items.get(1)) else {
                return Ok(());
            };
            if !(index.is_u64() || index.is_string() || call(index).is_some()) {
                return Err(TemplateError::invalid(
                    path,
                    "the index of Fn::Select must be a number, a numeric string or a function",
                ));
            }
            check(index, path, mappings)?;
            list_or_call(list, "list")
        }
        "Fn::Split" => {
            let items = args(2)?;
            let (Some(delimiter), Some(source)) = (items.first(), items.get(1)) else {
                return Ok(());
            };
            if delimiter.as_str().is_none_or(str::is_empty) {
                return Err(TemplateError::invalid(
                    path,
                    "the delimiter of Fn::Split must be a non-empty string",
                ));
            }
            string_or_call(source, "source string")
        }
        "Fn::FindInMap" => {
            let items = args(3)?;
            for item in items {
                string_or_call(item, "map name and keys")?;
            }
            if let Some(Value::String(map)) = items.first()
                && !mappings.contains_key(map)
            {
                return Err(TemplateError::invalid(
                    path,
                    format!("Fn::FindInMap names map {map}, which Mappings does not declare"),
                ));
            }
            Ok(())
        }
        "Fn::Sub" => match argument {
            Value::String(text) => check_sub_text(text, path),
            Value::Array(items) if items.len() == 2 => {
                let (Some(Value::String(text)), Some(Value::Object(vars))) =
                    (items.first(), items.get(1))
                else {
                    return Err(TemplateError::invalid(
                        path,
                        "Fn::Sub takes a string, or a list of a string and an object of variables",
                    ));
                };
                check_sub_text(text, path)?;
                for (key, value) in vars {
                    check(value, &format!("{path}.{key}"), mappings)?;
                }
                Ok(())
            }
            _ => Err(TemplateError::invalid(
                path,
                "Fn::Sub takes a string, or a list of a string and an object of variables",
            )),
        },
        other => Err(TemplateError::invalid(
            path,
            format!(
                "{other} is not an intrinsic function of provisioning templates; use Ref, \
                 Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap or Fn::Sub"
            ),
        )),
    }
}

/// One piece of an `Fn::Sub` string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Variable(&'a str),
}

/// Splits an `Fn::Sub` string into text and `${...}` variables (`${!x}` is the text `${x}`).
fn sub_pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let (before, after) = rest.split_at(start);
        let Some(end) = after.find('}') else {
            break;
        };
        if !before.is_empty() {
            out.push(Piece::Text(before));
        }
        let inner = after.get(2..end).unwrap_or("");
        if let Some(literal) = inner.strip_prefix('!') {
            out.push(Piece::Text("${"));
            out.push(Piece::Text(literal));
            out.push(Piece::Text("}"));
        } else {
            out.push(Piece::Variable(inner));
        }
        rest = after.get(end + 1..).unwrap_or("");
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

fn check_sub_text(text: &str, path: &str) -> Result<(), TemplateError> {
    for piece in sub_pieces(text) {
        if let Piece::Variable(name) = piece {
            if name.is_empty() {
                return Err(TemplateError::invalid(path, "Fn::Sub has an empty ${}"));
            }
            if name.contains('.') {
                return Err(TemplateError::invalid(
                    path,
                    format!(
                        "Fn::Sub variable ${{{name}}} names a resource attribute; provisioning \
                         templates substitute parameters only"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Evaluates `value`: every intrinsic call is replaced by its result; objects and lists are
/// evaluated member by member.
pub fn eval(value: &Value, path: &str, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    if let Some((name, argument)) = call(value) {
        return eval_call(name, argument, &format!("{path}.{name}"), scope);
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, member) in map {
                out.insert(key.clone(), eval(member, &format!("{path}.{key}"), scope)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| eval(item, &format!("{path}[{i}]"), scope))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// Evaluates `value` to a string.
pub fn eval_string(value: &Value, path: &str, scope: &Scope<'_>) -> Result<String, TemplateError> {
    match eval(value, path, scope)? {
        Value::String(s) => Ok(s),
        other => Err(TemplateError::evaluation(
            path,
            format!("expected a string, found {}", kind(&other)),
        )),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn parameter(name: &str, path: &str, scope: &Scope<'_>) -> Result<String, TemplateError> {
    scope
        .parameters
        .get(name)
        .cloned()
        .ok_or_else(|| TemplateError::missing(path, name))
}

fn eval_call(
    name: &str,
    argument: &Value,
    path: &str,
    scope: &Scope<'_>,
) -> Result<Value, TemplateError> {
    let arg = |i: usize| -> Result<&Value, TemplateError> {
        match argument {
            Value::Array(items) => items.get(i).ok_or_else(|| {
                TemplateError::evaluation(path, format!("{name} lacks argument {i}"))
            }),
            _ => Err(TemplateError::evaluation(
                path,
                format!("{name} takes a list of arguments"),
            )),
        }
    };
    match name {
        "Ref" => match argument {
            Value::String(target) => parameter(target, path, scope).map(Value::String),
            _ => Err(TemplateError::evaluation(
                path,
                "Ref takes a parameter name",
            )),
        },
        "Fn::Join" => {
            let delimiter = eval_string(arg(0)?, path, scope)?;
            let list = eval_list(arg(1)?, path, scope)?;
            let parts = list
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    Value::Bool(b) => Ok(b.to_string()),
                    other => Err(TemplateError::evaluation(
                        path,
                        format!("Fn::Join can join strings only, not {}", kind(other)),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::String(parts.join(&delimiter)))
        }
        "Fn::Select" => {
            let index = match eval(arg(0)?, path, scope)? {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            }
            .ok_or_else(|| {
                TemplateError::evaluation(path, "the index of Fn::Select is not a whole number")
            })?;
            let list = eval_list(arg(1)?, path, scope)?;
            let chosen = usize::try_from(index)
                .ok()
                .and_then(|i| list.get(i))
                .ok_or_else(|| {
                    TemplateError::evaluation(
                        path,
                        format!(
                            "Fn::Select index {index} is out of bounds of a list of {}",
                            list.len()
                        ),
                    )
                })?;
            if chosen.is_null() {
                return Err(TemplateError::evaluation(
                    path,
                    format!("Fn::Select chose element {index}, which is null"),
                ));
            }
            Ok(chosen.clone())
        }
        "Fn::Split" => {
            let delimiter = eval_string(arg(0)?, path, scope)?;
            let source = eval_string(arg(1)?, path, scope)?;
            if delimiter.is_empty() {
                return Err(TemplateError::evaluation(
                    path,
                    "the delimiter of Fn::Split is empty",
                ));
            }
            Ok(Value::Array(
                source
                    .split(delimiter.as_str())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            ))
        }
        "Fn::FindInMap" => {
            let map = eval_string(arg(0)?, path, scope)?;
            let top = eval_string(arg(1)?, path, scope)?;
            let second = eval_string(arg(2)?, path, scope)?;
            scope
                .mappings
                .get(&map)
                .and_then(|m| m.get(&top))
                .and_then(|m| m.get(&second))
                .cloned()
                .ok_or_else(|| {
                    TemplateError::evaluation(
                        path,
                        format!("Fn::FindInMap: Mappings has no {map} / {top} / {second}"),
                    )
                })
        }
        "Fn::Sub" => {
            let (text, vars) = match argument {
                Value::String(text) => (text.as_str(), None),
                Value::Array(items) => match (items.first(), items.get(1)) {
                    (Some(Value::String(text)), Some(Value::Object(vars))) => {
                        (text.as_str(), Some(vars))
                    }
                    _ => {
                        return Err(TemplateError::evaluation(
                            path,
                            "Fn::Sub takes a string and an object of variables",
                        ));
                    }
                },
                _ => {
                    return Err(TemplateError::evaluation(path, "Fn::Sub takes a string"));
                }
            };
            let mut out = String::new();
            for piece in sub_pieces(text) {
                match piece {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Variable(var) => match vars.and_then(|v| v.get(var)) {
                        Some(value) => out.push_str(&eval_string(value, path, scope)?),
                        None => out.push_str(&parameter(var, path, scope)?),
                    },
                }
            }
            Ok(Value::String(out))
        }
        other => Err(TemplateError::evaluation(
            path,
            format!("{other} is not an intrinsic function of provisioning templates"),
        )),
    }
}

fn eval_list(value: &Value, path: &str, scope: &Scope<'_>) -> Result<Vec<Value>, TemplateError> {
    match eval(value, path, scope)? {
        Value::Array(items) => Ok(items),
        other => Err(TemplateError::evaluation(
            path,
            format!("expected a list, found {}", kind(&other)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(expr: Value) -> Result<Value, TemplateError> {
        let parameters: BTreeMap<String, String> = [
            ("Serial", "abc-123"),
            ("Csv", "a,b,c"),
            ("Where", "Seattle"),
            ("Index", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mappings = json!({
            "LocationTable": {"Seattle": {"LocationUrl": "https://example.aws", "Zones": ["a", "b"]}}
        });
        let mappings = mappings.as_object().cloned().unwrap_or_default();
        check(&expr, "x", &mappings)?;
        eval(
            &expr,
            "x",
            &Scope {
                parameters: &parameters,
                mappings: &mappings,
            },
        )
    }

    #[test]
    fn each_function_evaluates_as_cloudformation_defines_it() {
        let cases = [
            (json!({"Ref": "Serial"}), json!("abc-123")),
            (
                json!({"Fn::Join": ["", ["ThingPrefix_", {"Ref": "Serial"}]]}),
                json!("ThingPrefix_abc-123"),
            ),
            (
                json!({"Fn::Join": ["-", ["a", 1, true]]}),
                json!("a-1-true"),
            ),
            (
                json!({"Fn::Split": [",", {"Ref": "Csv"}]}),
                json!(["a", "b", "c"]),
            ),
            (
                json!({"Fn::Select": [{"Ref": "Index"}, {"Fn::Split": [",", {"Ref": "Csv"}]}]}),
                json!("b"),
            ),
            (json!({"Fn::Select": ["0", ["x", "y"]]}), json!("x")),
            (
                json!({"Fn::FindInMap": ["LocationTable", {"Ref": "Where"}, "LocationUrl"]}),
                json!("https://example.aws"),
            ),
            (
                json!({"Fn::FindInMap": ["LocationTable", "Seattle", "Zones"]}),
                json!(["a", "b"]),
            ),
            (json!({"Fn::Sub": "dev-${Serial}"}), json!("dev-abc-123")),
            (
                json!({"Fn::Sub": "${!Literal}-${Serial}"}),
                json!("${Literal}-abc-123"),
            ),
            (
                json!({"Fn::Sub": ["${A}/${Serial}", {"A": {"Ref": "Where"}}]}),
                json!("Seattle/abc-123"),
            ),
            (
                json!({"a": [{"Ref": "Where"}], "b": "plain"}),
                json!({"a": ["Seattle"], "b": "plain"}),
            ),
        ];
        for (expr, expected) in cases {
            assert_eq!(run(expr.clone()).unwrap(), expected, "{expr}");
        }
    }

    #[test]
    fn other_functions_and_bad_arguments_are_refused_when_checked() {
        let refused = [
            (json!({"Fn::GetAtt": ["thing", "Arn"]}), "Fn::GetAtt is not"),
            (json!({"Fn::If": ["c", "a", "b"]}), "Fn::If is not"),
            (json!({"Fn::Base64": "x"}), "Fn::Base64 is not"),
            (json!({"Ref": "A", "extra": 1}), "only member"),
            (json!({"Fn::Join": ["", "notalist"]}), "must be a list"),
            (json!({"Fn::Join": [""]}), "list of 2"),
            (json!({"Fn::Select": [true, ["a"]]}), "index of Fn::Select"),
            (json!({"Fn::Split": ["", "a"]}), "non-empty"),
            (
                json!({"Fn::FindInMap": ["Nope", "a", "b"]}),
                "does not declare",
            ),
            (json!({"Fn::Sub": "${thing.Arn}"}), "resource attribute"),
            (json!({"Fn::Sub": 3}), "Fn::Sub takes"),
            (json!({"Ref": ""}), "Ref takes"),
            (json!([{"a": {"Fn::ImportValue": "x"}}]), "Fn::ImportValue"),
        ];
        for (expr, needle) in refused {
            let e = run(expr.clone()).unwrap_err();
            assert!(e.to_string().contains(needle), "{expr}: {e}");
        }
    }

    #[test]
    fn evaluation_failures_name_what_is_missing() {
        let failing = [
            (json!({"Ref": "Nobody"}), "Nobody"),
            (json!({"Fn::Select": ["5", ["a"]]}), "out of bounds"),
            (json!({"Fn::Select": ["0", [null]]}), "null"),
            (
                json!({"Fn::FindInMap": ["LocationTable", "Paris", "LocationUrl"]}),
                "Paris",
            ),
            (json!({"Fn::Join": ["", [["nested"]]]}), "strings only"),
            (json!({"Fn::Sub": "${Nobody}"}), "Nobody"),
        ];
        for (expr, needle) in failing {
            let e = run(expr.clone()).unwrap_err();
            assert!(e.to_string().contains(needle), "{expr}: {e}");
        }
    }
}
