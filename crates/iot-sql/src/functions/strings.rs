//! The string functions of AWS IoT SQL: case, trimming, length, substring, replace, search,
//! padding, `chr` and the regular expression functions. Non-string arguments go through the
//! standard "To String" conversion; Null and Undefined give Undefined.
//!
//! Choices where AWS is silent (docs/aws-differences.md, "IoT SQL"): lengths and indices count
//! Unicode characters (AWS's engine may count UTF-16 units); trimming removes Unicode white
//! space; regular expressions use the `regex` crate's syntax (no look-around or
//! back-references), and a replacement's `$1` is group 1 followed by what comes after, as in
//! Java; `regexp_substr` with no match is Undefined.

use std::borrow::Cow;
use std::collections::HashMap;

use regex::{Regex, RegexBuilder};

use crate::ast::{Expr, Literal};
use crate::catalog::Function;
use crate::value::{Num, Value};

/// The regular expressions a statement or template spells as string literals, compiled once
/// when it is parsed rather than at every message. Patterns computed at evaluation time are
/// compiled when used.
#[derive(Debug, Clone, Default)]
pub(crate) struct Regexes(HashMap<String, Regex>);

impl PartialEq for Regexes {
    fn eq(&self, other: &Regexes) -> bool {
        self.0.len() == other.0.len() && self.0.keys().all(|k| other.0.contains_key(k))
    }
}

impl Regexes {
    /// Compiles the literal patterns of the regexp_* calls in `visit_all`'s expressions.
    pub fn collect(visit_all: impl FnOnce(&mut dyn FnMut(&Expr))) -> Regexes {
        let mut patterns = HashMap::new();
        visit_all(&mut |expr| {
            if let Expr::Call(
                Function::RegexpMatches | Function::RegexpReplace | Function::RegexpSubstr,
                args,
            ) = expr
                && let Some(Expr::Literal(Literal::String(pattern))) = args.get(1)
                && let Some(re) = compile(pattern)
            {
                patterns.insert(pattern.clone(), re);
            }
        });
        Regexes(patterns)
    }

    fn get(&self, pattern: &str) -> Option<Cow<'_, Regex>> {
        match self.0.get(pattern) {
            Some(re) => Some(Cow::Borrowed(re)),
            None => compile(pattern).map(Cow::Owned),
        }
    }
}

/// Evaluates the string function `function`, or `None` if it is not one.
pub(super) fn call(
    function: Function,
    args: &[Value<'_>],
    regexes: &Regexes,
) -> Option<Value<'static>> {
    let text = |i: usize| args.get(i).and_then(Value::to_text);
    let owned = |s: String| Value::String(Cow::Owned(s));
    Some(match function {
        Function::Lower => text(0).map_or(Value::Undefined, |s| owned(s.to_lowercase())),
        Function::Upper => text(0).map_or(Value::Undefined, |s| owned(s.to_uppercase())),
        Function::Trim => text(0).map_or(Value::Undefined, |s| owned(s.trim().to_owned())),
        Function::Ltrim => text(0).map_or(Value::Undefined, |s| owned(s.trim_start().to_owned())),
        Function::Rtrim => text(0).map_or(Value::Undefined, |s| owned(s.trim_end().to_owned())),
        Function::Length => text(0).map_or(Value::Undefined, |s| count(s.chars().count())),
        Function::NumBytes => text(0).map_or(Value::Undefined, |s| count(s.len())),
        Function::Substring => substring(args),
        Function::Replace => match (text(0), text(1), text(2)) {
            (Some(s), Some(from), Some(to)) => owned(s.replace(&*from, &to)),
            _ => Value::Undefined,
        },
        Function::IndexOf => match (text(0), text(1)) {
            (Some(s), Some(needle)) => match s.find(&*needle) {
                Some(byte) => count(s.get(..byte).map_or(0, |p| p.chars().count())),
                None => Value::Int(-1),
            },
            _ => Value::Undefined,
        },
        Function::StartsWith => match (text(0), text(1)) {
            (Some(s), Some(prefix)) => Value::Bool(s.starts_with(&*prefix)),
            _ => Value::Undefined,
        },
        Function::EndsWith => match (text(0), text(1)) {
            (Some(s), Some(suffix)) => Value::Bool(s.ends_with(&*suffix)),
            _ => Value::Undefined,
        },
        Function::Lpad | Function::Rpad => pad(function, args),
        Function::Chr => match args.first().and_then(Value::to_int_floor) {
            Some(code @ 0..=127) => {
                let c = u8::try_from(code).map_or('\0', char::from);
                owned(c.to_string())
            }
            _ => Value::Undefined,
        },
        Function::RegexpMatches => match (text(0), text(1).and_then(|p| regexes.get(&p))) {
            (Some(s), Some(re)) => Value::Bool(re.is_match(&s)),
            _ => Value::Undefined,
        },
        Function::RegexpSubstr => match (text(0), text(1).and_then(|p| regexes.get(&p))) {
            (Some(s), Some(re)) => re
                .find(&s)
                .map_or(Value::Undefined, |m| owned(m.as_str().to_owned())),
            _ => Value::Undefined,
        },
        Function::RegexpReplace => {
            let replacement = text(2).and_then(|r| java_replacement(&r));
            match (text(0), text(1).and_then(|p| regexes.get(&p)), replacement) {
                (Some(s), Some(re), Some(rep)) => {
                    owned(re.replace_all(&s, rep.as_str()).into_owned())
                }
                _ => Value::Undefined,
            }
        }
        _ => return None,
    })
}

fn count(n: usize) -> Value<'static> {
    i64::try_from(n).map_or(Value::Undefined, Value::Int)
}

/// An integer argument "rounded down to the nearest Int", saturating instead of failing on
/// huge decimals (AWS's example `substring(false, -2.411E247)` = "false").
pub(super) fn int_saturating(value: Option<&Value<'_>>) -> Option<i64> {
    match value?.to_num()? {
        Num::Int(i) => Some(i),
        Num::Dec(d) => {
            let floor = d.floor();
            Some(if floor <= i64::MIN as f64 {
                i64::MIN
            } else if floor >= i64::MAX as f64 {
                i64::MAX
            } else {
                floor as i64
            })
        }
    }
}

/// `substring(s, start[, end])`: 0-based, end exclusive, indices clamped to the string, an
/// empty string when start >= end.
fn substring(args: &[Value<'_>]) -> Value<'static> {
    let Some(s) = args.first().and_then(Value::to_text) else {
        return Value::Undefined;
    };
    let chars: Vec<char> = s.chars().collect();
    let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    let Some(start) = int_saturating(args.get(1)) else {
        return Value::Undefined;
    };
    let end = match args.get(2) {
        Some(_) => match int_saturating(args.get(2)) {
            Some(end) => end,
            None => return Value::Undefined,
        },
        None => len,
    };
    let clamp = |i: i64| usize::try_from(i.clamp(0, len)).unwrap_or(0);
    let (start, end) = (clamp(start), clamp(end));
    if start >= end {
        return Value::String(Cow::Owned(String::new()));
    }
    Value::String(Cow::Owned(
        chars.get(start..end).unwrap_or_default().iter().collect(),
    ))
}

/// `lpad(s, n)` / `rpad(s, n)`: n spaces (clamped to 0..=1000) before or after the text.
fn pad(function: Function, args: &[Value<'_>]) -> Value<'static> {
    let Some(s) = args.first().and_then(Value::to_text) else {
        return Value::Undefined;
    };
    let Some(n) = int_saturating(args.get(1)) else {
        return Value::Undefined;
    };
    let spaces = " ".repeat(usize::try_from(n.clamp(0, 1000)).unwrap_or(0));
    Value::String(Cow::Owned(if function == Function::Lpad {
        spaces + &s
    } else {
        s.into_owned() + &spaces
    }))
}

/// A user's pattern; invalid (or huge) patterns are None, so the function is Undefined.
fn compile(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .ok()
}

/// A Java replacement string (`$1`, `\$`) in the regex crate's syntax (`${1}`, `$$`); `None`
/// when it is not valid in Java (a `$` not followed by a group).
fn java_replacement(replacement: &str) -> Option<String> {
    let mut out = String::with_capacity(replacement.len());
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                '$' => out.push_str("$$"),
                other => out.push(other),
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                if digits.is_empty() {
                    if chars.peek() != Some(&'{') {
                        return None;
                    }
                    out.push('$');
                } else {
                    out.push_str("${");
                    out.push_str(&digits);
                    out.push('}');
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_replacements_translate() {
        assert_eq!(java_replacement("$1a").as_deref(), Some("${1}a"));
        assert_eq!(java_replacement("\\$x").as_deref(), Some("$$x"));
        assert_eq!(java_replacement("${name}").as_deref(), Some("${name}"));
        assert_eq!(java_replacement("a$"), None);
    }
}
