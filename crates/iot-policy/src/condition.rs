//! Statement `Condition` blocks: parsing the operators AWS IoT policies use (String*, Numeric*,
//! Bool, Null, IpAddress/NotIpAddress, Arn*; `ForAnyValue:`/`ForAllValues:`; `...IfExists`) and
//! evaluating them against a request context, with IAM's rules for absent keys. Date and
//! Binary operators are not supported and are rejected at parse time, not silently ignored.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::context::RequestContext;
use crate::error::{PolicyError, invalid};
use crate::json::{Json, first_duplicate_key};
use crate::template::{Glob, Template, glob_match};
use crate::variable::Variable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BaseOp {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    Bool,
    IpAddress,
    /// `ArnEquals` and `ArnLike` behave alike in IAM: each of the six colon-separated parts
    /// is matched separately, with wildcards.
    Arn,
    Null,
}

/// Operator name, what it tests, and whether it is the negated form.
const OPERATORS: &[(&str, BaseOp, bool)] = &[
    ("StringEquals", BaseOp::StringEquals, false),
    ("StringNotEquals", BaseOp::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        BaseOp::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        BaseOp::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", BaseOp::StringLike, false),
    ("StringNotLike", BaseOp::StringLike, true),
    ("NumericEquals", BaseOp::NumericEquals, false),
    ("NumericNotEquals", BaseOp::NumericEquals, true),
    ("NumericLessThan", BaseOp::NumericLessThan, false),
    (
        "NumericLessThanEquals",
        BaseOp::NumericLessThanEquals,
        false,
    ),
    ("NumericGreaterThan", BaseOp::NumericGreaterThan, false),
    (
        "NumericGreaterThanEquals",
        BaseOp::NumericGreaterThanEquals,
        false,
    ),
    ("Bool", BaseOp::Bool, false),
    ("IpAddress", BaseOp::IpAddress, false),
    ("NotIpAddress", BaseOp::IpAddress, true),
    ("ArnEquals", BaseOp::Arn, false),
    ("ArnNotEquals", BaseOp::Arn, true),
    ("ArnLike", BaseOp::Arn, false),
    ("ArnNotLike", BaseOp::Arn, true),
    ("Null", BaseOp::Null, false),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    ForAnyValue,
    ForAllValues,
}

/// One operator/key pair of a condition block, e.g. `StringEquals` / `iot:ClientId` with its
/// allowed values. A statement's conditions all have to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    base: BaseOp,
    negated: bool,
    qualifier: Option<Qualifier>,
    if_exists: bool,
    key: Variable,
    values: Vec<Template>,
}

/// Parses a statement's `Condition` object. `field` is the path of the `Condition` member.
pub(crate) fn parse_block(
    json: &Json,
    field: &str,
    variables: bool,
) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(operators) = json else {
        return Err(invalid(
            field,
            format!(
                "expected an object mapping condition operators to keys, found {}",
                json.kind()
            ),
        ));
    };
    if let Some(key) = first_duplicate_key(operators) {
        return Err(invalid(field, format!("duplicate operator {key:?}")));
    }
    let mut conditions = Vec::new();
    for (name, body) in operators {
        let op_field = format!("{field}.{name}");
        let (base, negated, qualifier, if_exists) = parse_operator(name, &op_field)?;
        let Json::Object(keys) = body else {
            return Err(invalid(
                op_field,
                format!(
                    "expected an object mapping condition keys to values, found {}",
                    body.kind()
                ),
            ));
        };
        if let Some(key) = first_duplicate_key(keys) {
            return Err(invalid(
                op_field,
                format!("duplicate condition key {key:?}"),
            ));
        }
        for (key, values) in keys {
            let key_field = format!("{op_field}.{key}");
            if key.is_empty() {
                return Err(invalid(key_field, "condition key name is empty"));
            }
            let values = parse_values(values, &key_field, base, variables)?;
            conditions.push(Condition {
                base,
                negated,
                qualifier,
                if_exists,
                key: Variable::parse(key),
                values,
            });
        }
    }
    Ok(conditions)
}

fn parse_operator(
    name: &str,
    field: &str,
) -> Result<(BaseOp, bool, Option<Qualifier>, bool), PolicyError> {
    let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (Some(Qualifier::ForAnyValue), rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (Some(Qualifier::ForAllValues), rest)
    } else {
        (None, name)
    };
    let (rest, if_exists) = match rest.strip_suffix("IfExists") {
        Some(rest) => (rest, true),
        None => (rest, false),
    };
    let Some((_, base, negated)) = OPERATORS.iter().find(|(n, _, _)| *n == rest) else {
        let hint = match OPERATORS
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(rest))
        {
            Some((spelling, _, _)) => {
                format!("operator names are case-sensitive: write {spelling:?}")
            }
            None => format!(
                "supported operators are {} (each may end in \"IfExists\" and start with \
                 \"ForAnyValue:\" or \"ForAllValues:\")",
                OPERATORS
                    .iter()
                    .map(|(n, _, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Err(invalid(
            field,
            format!("unknown condition operator {name:?}; {hint}"),
        ));
    };
    if *base == BaseOp::Null && (qualifier.is_some() || if_exists) {
        return Err(invalid(
            field,
            "\"Null\" takes neither a ForAnyValue:/ForAllValues: qualifier nor \"IfExists\"",
        ));
    }
    Ok((*base, *negated, qualifier, if_exists))
}

fn parse_values(
    json: &Json,
    field: &str,
    base: BaseOp,
    variables: bool,
) -> Result<Vec<Template>, PolicyError> {
    match json {
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_value(item, &format!("{field}[{i}]"), base, variables))
            .collect(),
        other => Ok(vec![parse_value(other, field, base, variables)?]),
    }
}

fn parse_value(
    json: &Json,
    field: &str,
    base: BaseOp,
    variables: bool,
) -> Result<Template, PolicyError> {
    let text = match json {
        Json::String(s) | Json::Number(s) => s.clone(),
        Json::Bool(b) => b.to_string(),
        other => {
            return Err(invalid(
                field,
                format!(
                    "expected a string, number or boolean, found {}",
                    other.kind()
                ),
            ));
        }
    };
    let template = Template::parse(&text, variables).map_err(|e| invalid(field, e.describe()))?;
    if template.has_variables() {
        return Ok(template);
    }
    let literal = template
        .render(&RequestContext::default())
        .unwrap_or_default();
    let problem = match base {
        BaseOp::Bool | BaseOp::Null if !is_bool(&literal) => {
            Some(format!("expected \"true\" or \"false\", found {text:?}"))
        }
        BaseOp::NumericEquals
        | BaseOp::NumericLessThan
        | BaseOp::NumericLessThanEquals
        | BaseOp::NumericGreaterThan
        | BaseOp::NumericGreaterThanEquals
            if number(&literal).is_none() =>
        {
            Some(format!("expected a number, found {text:?}"))
        }
        BaseOp::IpAddress if Cidr::parse(&literal).is_none() => Some(format!(
            "expected an IP address or CIDR block such as \"203.0.113.0/24\", found {text:?}"
        )),
        _ => None,
    };
    match problem {
        Some(problem) => Err(invalid(field, problem)),
        None => Ok(template),
    }
}

fn is_bool(text: &str) -> bool {
    text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false")
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A condition value prepared for one request: literal text, or a wildcard pattern.
enum Wanted<'t> {
    Text(Cow<'t, str>),
    Globs(Cow<'t, [Glob]>),
}

impl Condition {
    /// The condition's values as parsed (for listing the variables they use).
    pub(crate) fn templates(&self) -> impl Iterator<Item = &Template> {
        self.values.iter()
    }

    /// Whether the condition holds for this request (IAM semantics):
    /// - a condition value whose variable does not resolve makes the condition false;
    /// - `Null: true` holds when the key is absent, `Null: false` when it is present;
    /// - an absent key: `...IfExists` and `ForAllValues:` hold, `ForAnyValue:` does not,
    ///   negated operators (`StringNotEquals`, `NotIpAddress`, ...) hold, others do not;
    /// - a present key: the values of one key are alternatives (any may match);
    ///   `ForAllValues:` needs every request value to pass, `ForAnyValue:` one of them.
    pub(crate) fn holds(&self, ctx: &RequestContext) -> bool {
        let present = self.key.values(ctx);
        if self.base == BaseOp::Null {
            return self.values.iter().any(|value| {
                value
                    .render(ctx)
                    .is_some_and(|v| v.eq_ignore_ascii_case("true") == present.is_none())
            });
        }
        let wanted: Option<Vec<Wanted<'_>>> = self
            .values
            .iter()
            .map(|value| match self.base {
                BaseOp::StringLike | BaseOp::Arn => value.globs(ctx).map(Wanted::Globs),
                _ => value.render(ctx).map(Wanted::Text),
            })
            .collect();
        let Some(wanted) = wanted else {
            return false;
        };
        let passes = |value: &Cow<'_, str>| self.base_matches(value, &wanted) != self.negated;
        match (present, self.qualifier) {
            (None, _) if self.if_exists => true,
            (None, Some(Qualifier::ForAllValues)) => true,
            (None, Some(Qualifier::ForAnyValue)) => false,
            (None, None) => self.negated,
            (Some(values), Some(Qualifier::ForAllValues)) => values.iter().all(passes),
            (Some(values), Some(Qualifier::ForAnyValue)) => values.iter().any(passes),
            (Some(values), None) if self.negated => values.iter().all(passes),
            (Some(values), None) => values.iter().any(passes),
        }
    }

    /// Whether one request value matches any of the wanted values, before negation.
    fn base_matches(&self, value: &str, wanted: &[Wanted<'_>]) -> bool {
        wanted.iter().any(|want| match (self.base, want) {
            (BaseOp::StringLike, Wanted::Globs(globs)) => glob_match(globs, value, false),
            (BaseOp::Arn, Wanted::Globs(globs)) => arn_match(globs, value),
            (_, Wanted::Globs(_)) => false,
            (BaseOp::StringEquals, Wanted::Text(want)) => value == want,
            (BaseOp::StringEqualsIgnoreCase, Wanted::Text(want)) => {
                value.to_lowercase() == want.to_lowercase()
            }
            (BaseOp::Bool, Wanted::Text(want)) => {
                is_bool(value) && value.eq_ignore_ascii_case(want)
            }
            (BaseOp::IpAddress, Wanted::Text(want)) => {
                match (value.parse::<IpAddr>(), Cidr::parse(want)) {
                    (Ok(ip), Some(cidr)) => cidr.contains(ip),
                    _ => false,
                }
            }
            (numeric, Wanted::Text(want)) => match (number(value), number(want)) {
                (Some(have), Some(want)) => match numeric {
                    BaseOp::NumericEquals => have == want,
                    BaseOp::NumericLessThan => have < want,
                    BaseOp::NumericLessThanEquals => have <= want,
                    BaseOp::NumericGreaterThan => have > want,
                    BaseOp::NumericGreaterThanEquals => have >= want,
                    _ => false,
                },
                _ => false,
            },
        })
    }
}

/// ARN matching as IAM's `ArnLike`: the six colon-separated parts (`arn`, partition, service,
/// region, account, resource) are matched separately, so `*` never crosses a part boundary;
/// the resource part keeps any further colons.
fn arn_match(pattern: &[Glob], value: &str) -> bool {
    let mut pattern_parts = pattern.splitn(6, |g| *g == Glob::Char(':'));
    let mut value_parts = value.splitn(6, ':');
    loop {
        match (pattern_parts.next(), value_parts.next()) {
            (None, None) => return true,
            (Some(p), Some(v)) if glob_match(p, v, false) => {}
            _ => return false,
        }
    }
}

/// An IPv4 or IPv6 network; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    prefix: u32,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is still that IPv4
        // client.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32u32.saturating_sub(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128u32.saturating_sub(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(json: &str) -> Result<Vec<Condition>, PolicyError> {
        parse_block(
            &Json::parse(json.as_bytes()).unwrap(),
            "Statement[0].Condition",
            true,
        )
    }

    fn holds(json: &str, ctx: &RequestContext) -> bool {
        block(json).unwrap().iter().all(|c| c.holds(ctx))
    }

    fn client(id: &str) -> RequestContext {
        RequestContext {
            client_id: Some(id.into()),
            ..RequestContext::default()
        }
    }

    #[test]
    fn cidr_parsing_and_containment() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains("2001:db8:1::1".parse().unwrap())
        );
        assert!(
            !Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains("10.0.0.1".parse().unwrap())
        );
        assert!(
            Cidr::parse("192.0.2.7")
                .unwrap()
                .contains("192.0.2.7".parse().unwrap())
        );
        for bad in [
            "10.0.0/8",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "::/129",
            "x",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn arn_parts_match_separately() {
        let globs = |s: &str| -> Vec<Glob> {
            s.chars()
                .map(|c| {
                    if c == '*' {
                        Glob::AnyRun
                    } else {
                        Glob::Char(c)
                    }
                })
                .collect()
        };
        assert!(arn_match(
            &globs("arn:aws:iot:*:*:thing/*"),
            "arn:aws:iot:us-east-1:1:thing/a"
        ));
        assert!(!arn_match(
            &globs("arn:aws:*"),
            "arn:aws:iot:us-east-1:1:thing/a"
        ));
        assert!(arn_match(
            &globs("arn:aws:iot:*:*:*"),
            "arn:aws:iot:r:1:thing/a:b"
        ));
        assert!(!arn_match(&globs("arn:aws:iot:*:*:x"), "arn:aws:iot:r:1"));
    }

    #[test]
    fn absent_keys_follow_iam() {
        let none = RequestContext::default();
        assert!(!holds(r#"{"StringEquals":{"iot:ClientId":"a"}}"#, &none));
        assert!(holds(r#"{"StringNotEquals":{"iot:ClientId":"a"}}"#, &none));
        assert!(holds(
            r#"{"StringEqualsIfExists":{"iot:ClientId":"a"}}"#,
            &none
        ));
        assert!(holds(
            r#"{"ForAllValues:StringEquals":{"iot:ClientId":"a"}}"#,
            &none
        ));
        assert!(!holds(
            r#"{"ForAnyValue:StringEquals":{"iot:ClientId":"a"}}"#,
            &none
        ));
        assert!(holds(r#"{"Null":{"iot:ClientId":"true"}}"#, &none));
        assert!(!holds(r#"{"Null":{"iot:ClientId":false}}"#, &none));
        assert!(holds(r#"{"Null":{"iot:ClientId":"false"}}"#, &client("a")));
    }

    #[test]
    fn string_operators() {
        let ctx = client("Sensor-7");
        assert!(holds(
            r#"{"StringEquals":{"iot:ClientId":["x","Sensor-7"]}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"StringEquals":{"iot:ClientId":"sensor-7"}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"StringEqualsIgnoreCase":{"IOT:CLIENTID":"sensor-7"}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"StringNotEqualsIgnoreCase":{"iot:ClientId":"SENSOR-7"}}"#,
            &ctx
        ));
        assert!(holds(r#"{"StringLike":{"iot:ClientId":"Sensor-?"}}"#, &ctx));
        assert!(!holds(
            r#"{"StringLike":{"iot:ClientId":"Sensor-${?}"}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"StringNotLike":{"iot:ClientId":"Gateway-*"}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"StringEquals":{"iot:ClientId":"Sensor-*"}}"#,
            &ctx
        ));
    }

    #[test]
    fn numeric_bool_and_ip() {
        let mut ctx = client("7");
        ctx.source_ip = Some("203.0.113.9".parse().unwrap());
        assert!(holds(r#"{"NumericEquals":{"iot:ClientId":7}}"#, &ctx));
        assert!(holds(r#"{"NumericLessThan":{"iot:ClientId":"7.5"}}"#, &ctx));
        assert!(holds(
            r#"{"NumericGreaterThanEquals":{"iot:ClientId":"7"}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"NumericGreaterThan":{"iot:ClientId":"7"}}"#,
            &ctx
        ));
        assert!(holds(r#"{"NumericNotEquals":{"iot:ClientId":"8"}}"#, &ctx));
        assert!(!holds(
            r#"{"NumericEquals":{"iot:ClientId":"7"}}"#,
            &client("seven")
        ));
        assert!(holds(
            r#"{"Bool":{"iot:Connection.Thing.IsAttached":"FALSE"}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"IpAddress":{"aws:SourceIp":["198.51.100.0/24","203.0.113.0/24"]}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.9"}}"#,
            &ctx
        ));
    }

    #[test]
    fn variables_in_values_and_unresolved_values() {
        let ctx = client("dev-1");
        assert!(holds(
            r#"{"StringEquals":{"iot:ClientId":"${iot:ClientId}"}}"#,
            &ctx
        ));
        // No thing: the value cannot be computed, so even the negated form does not hold.
        assert!(!holds(
            r#"{"StringNotEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}"#,
            &ctx
        ));
    }

    #[test]
    fn operator_errors() {
        let err = block(r#"{"StringEqual":{"iot:ClientId":"a"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("Statement[0].Condition.StringEqual: unknown condition operator \"StringEqual\"; supported operators are StringEquals, "), "{err}");
        let err = block(r#"{"stringequals":{"k":"a"}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("operator names are case-sensitive: write \"StringEquals\""),
            "{err}"
        );
        let err = block(r#"{"ForAnyValue:Null":{"k":"true"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"Null\" takes neither"), "{err}");
        let err = block(r#"{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown condition operator \"DateLessThan\""),
            "{err}"
        );
    }

    #[test]
    fn value_errors_name_the_value() {
        let cases = [
            (
                r#"{"Bool":{"k":"yes"}}"#,
                "Statement[0].Condition.Bool.k: expected \"true\" or \"false\", found \"yes\"",
            ),
            (
                r#"{"NumericLessThan":{"k":["1","ten"]}}"#,
                "Statement[0].Condition.NumericLessThan.k[1]: expected a number, found \"ten\"",
            ),
            (
                r#"{"IpAddress":{"aws:SourceIp":"10.0.0/8"}}"#,
                "Statement[0].Condition.IpAddress.aws:SourceIp: expected an IP address or CIDR block such as \"203.0.113.0/24\", found \"10.0.0/8\"",
            ),
            (
                r#"{"StringEquals":{"k":{"a":1}}}"#,
                "Statement[0].Condition.StringEquals.k: expected a string, number or boolean, found an object",
            ),
            (
                r#"{"StringEquals":"k"}"#,
                "Statement[0].Condition.StringEquals: expected an object mapping condition keys to values, found a string",
            ),
            (
                r#"[]"#,
                "Statement[0].Condition: expected an object mapping condition operators to keys, found an array",
            ),
            (
                r#"{"StringEquals":{"k":"a","k":"b"}}"#,
                "Statement[0].Condition.StringEquals: duplicate condition key \"k\"",
            ),
        ];
        for (json, message) in cases {
            assert_eq!(block(json).unwrap_err().to_string(), message);
        }
    }
}
