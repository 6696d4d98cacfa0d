//! AWS IoT SQL's operators over values, one function per table of the "Operators" page
//! (`iot-sql-operators.md`): logical operators accept Booleans and the strings "true"/"false";
//! comparisons convert both sides to Decimal; `=` and `<>` compare like types and call
//! mismatched types unequal; `+` concatenates when either side is a String; arithmetic keeps
//! `Int` when both sides are `Int`. Any Undefined operand gives Undefined. It does not parse or
//! walk expressions.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::ast::{BinaryOp, UnaryOp};
use crate::value::{Num, Value, json_eq};
use crate::version::SqlVersion;

/// Applies a prefix operator.
pub(crate) fn unary(op: UnaryOp, operand: Value<'_>, version: SqlVersion) -> Value<'static> {
    match op {
        // NOT: a Boolean or "true"/"false" string is negated; anything else is Undefined.
        UnaryOp::Not => operand
            .to_bool()
            .map_or(Value::Undefined, |b| Value::Bool(!b)),
        // Unary minus is `0 - x`: the `-` operator's conversions apply.
        UnaryOp::Neg => arithmetic(BinaryOp::Sub, &Value::Int(0), &operand, version),
    }
}

/// Applies an infix operator.
pub(crate) fn binary<'a>(
    op: BinaryOp,
    left: Value<'a>,
    right: Value<'a>,
    version: SqlVersion,
) -> Value<'a> {
    if left.is_undefined() || right.is_undefined() {
        return Value::Undefined;
    }
    match op {
        BinaryOp::And | BinaryOp::Or => match (left.to_bool(), right.to_bool()) {
            (Some(l), Some(r)) => Value::Bool(if op == BinaryOp::And { l && r } else { l || r }),
            _ => Value::Undefined,
        },
        BinaryOp::Eq => equals(&left, &right).map_or(Value::Undefined, Value::Bool),
        BinaryOp::NotEq => equals(&left, &right).map_or(Value::Undefined, |eq| Value::Bool(!eq)),
        BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq => {
            match compare(&left, &right) {
                Some(ordering) => Value::Bool(match op {
                    BinaryOp::Lt => ordering == Ordering::Less,
                    BinaryOp::LtEq => ordering != Ordering::Greater,
                    BinaryOp::Gt => ordering == Ordering::Greater,
                    _ => ordering != Ordering::Less,
                }),
                None => Value::Undefined,
            }
        }
        BinaryOp::Add if matches!(left, Value::String(_)) || matches!(right, Value::String(_)) => {
            concat(&left, &right)
        }
        BinaryOp::Add => match (&left, &right) {
            (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
                arithmetic(op, &left, &right, version)
            }
            _ => Value::Undefined,
        },
        BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
            arithmetic(op, &left, &right, version)
        }
    }
}

/// `+` with a String on either side: both sides as text, concatenated. A side with no text
/// (Null) makes the result Undefined.
fn concat<'a>(left: &Value<'a>, right: &Value<'a>) -> Value<'a> {
    match (left.to_text(), right.to_text()) {
        (Some(l), Some(r)) => {
            let mut out = String::with_capacity(l.len() + r.len());
            out.push_str(&l);
            out.push_str(&r);
            Value::String(Cow::Owned(out))
        }
        _ => Value::Undefined,
    }
}

/// The `=` table: like types compare (Int and Decimal as numbers), Null equals Null,
/// mismatched types are unequal, Undefined gives no answer.
pub(crate) fn equals(left: &Value<'_>, right: &Value<'_>) -> Option<bool> {
    Some(match (left, right) {
        (Value::Undefined, _) | (_, Value::Undefined) => return None,
        (Value::Int(l), Value::Int(r)) => l == r,
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            left.to_f64() == right.to_f64()
        }
        (Value::String(l), Value::String(r)) => l == r,
        (Value::Bool(l), Value::Bool(r)) => l == r,
        (Value::Null, Value::Null) => true,
        (Value::Array(l), Value::Array(r)) => {
            l.len() == r.len() && l.iter().zip(r.iter()).all(|(l, r)| json_eq(l, r))
        }
        (Value::Object(l), Value::Object(r)) => {
            l.len() == r.len()
                && l.iter()
                    .all(|(k, v)| r.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => false,
    })
}

/// The `<`, `<=`, `>`, `>=` tables: both sides converted to Decimal (numeric strings too).
fn compare(left: &Value<'_>, right: &Value<'_>) -> Option<Ordering> {
    match (left.to_num()?, right.to_num()?) {
        (Num::Int(l), Num::Int(r)) => Some(l.cmp(&r)),
        (l, r) => l.as_f64().partial_cmp(&r.as_f64()),
    }
}

/// `+ - * / %` over numbers: Int with Int stays Int (falling back to Decimal on overflow),
/// anything with a Decimal or a numeric String is Decimal. Division or remainder by zero is
/// Undefined (AWS does not document it).
pub(crate) fn arithmetic(
    op: BinaryOp,
    left: &Value<'_>,
    right: &Value<'_>,
    version: SqlVersion,
) -> Value<'static> {
    let (Some(l), Some(r)) = (left.to_num(), right.to_num()) else {
        return Value::Undefined;
    };
    // A String operand converts to Decimal, so the result is Decimal even for "6" - 2.
    let both_int = matches!((left, right), (Value::Int(_), Value::Int(_)));
    if let (true, Num::Int(a), Num::Int(b)) = (both_int, l, r) {
        let exact = match op {
            BinaryOp::Add => a.checked_add(b),
            BinaryOp::Sub => a.checked_sub(b),
            BinaryOp::Mul => a.checked_mul(b),
            BinaryOp::Div if b == 0 => return Value::Undefined,
            BinaryOp::Div => a.checked_div(b),
            BinaryOp::Mod if b == 0 => return Value::Undefined,
            BinaryOp::Mod => a.checked_rem(b),
            _ => return Value::Undefined,
        };
        if let Some(i) = exact {
            return Value::Int(i);
        }
    }
    let (a, b) = (l.as_f64(), r.as_f64());
    let d = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div | BinaryOp::Mod if b == 0.0 => return Value::Undefined,
        BinaryOp::Div => a / b,
        BinaryOp::Mod => a % b,
        _ => return Value::Undefined,
    };
    Value::decimal(d, version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const V1: SqlVersion = SqlVersion::V2015_10_08;
    const V2: SqlVersion = SqlVersion::V2016_03_23;

    fn s(text: &str) -> Value<'static> {
        Value::String(Cow::Owned(text.to_owned()))
    }

    fn bin(op: BinaryOp, l: Value<'static>, r: Value<'static>) -> Value<'static> {
        binary(op, l, r, V1)
    }

    #[test]
    fn logic_takes_booleans_and_boolean_strings() {
        use BinaryOp::{And, Or};
        assert_eq!(bin(And, Value::Bool(true), s("TRUE")), Value::Bool(true));
        assert_eq!(bin(Or, s("false"), Value::Bool(false)), Value::Bool(false));
        assert_eq!(bin(And, Value::Int(1), Value::Bool(true)), Value::Undefined);
        assert_eq!(
            bin(Or, Value::Bool(true), Value::Undefined),
            Value::Undefined
        );
        assert_eq!(unary(UnaryOp::Not, s("False"), V1), Value::Bool(true));
        assert_eq!(unary(UnaryOp::Not, Value::Null, V1), Value::Undefined);
    }

    #[test]
    fn equality_follows_the_table() {
        use BinaryOp::{Eq, NotEq};
        assert_eq!(
            bin(Eq, Value::Int(1), Value::Decimal(1.0)),
            Value::Bool(true)
        );
        assert_eq!(bin(Eq, s("1"), Value::Int(1)), Value::Bool(false));
        assert_eq!(bin(NotEq, s("1"), Value::Int(1)), Value::Bool(true));
        assert_eq!(bin(Eq, Value::Null, Value::Null), Value::Bool(true));
        assert_eq!(bin(NotEq, Value::Null, Value::Null), Value::Bool(false));
        assert_eq!(bin(Eq, Value::Null, Value::Undefined), Value::Undefined);
        let a = json!([1, 2]);
        let b = json!([1.0, 2]);
        let c = json!([2, 1]);
        assert_eq!(
            bin(
                Eq,
                Value::from_owned_json(a.clone(), V1),
                Value::from_owned_json(b, V1)
            ),
            Value::Bool(true)
        );
        assert_eq!(
            bin(
                Eq,
                Value::from_owned_json(a, V1),
                Value::from_owned_json(c, V1)
            ),
            Value::Bool(false)
        );
    }

    #[test]
    fn comparisons_convert_strings_to_decimals() {
        use BinaryOp::{Gt, Lt};
        assert_eq!(bin(Gt, s("10"), Value::Int(9)), Value::Bool(true));
        assert_eq!(bin(Lt, s("abc"), Value::Int(9)), Value::Undefined);
        assert_eq!(bin(Gt, Value::Bool(true), Value::Int(0)), Value::Undefined);
    }

    #[test]
    fn plus_concatenates_strings_and_adds_numbers() {
        use BinaryOp::Add;
        assert_eq!(bin(Add, s("a"), Value::Int(1)), s("a1"));
        assert_eq!(bin(Add, Value::Int(1), s("2")), s("12"));
        assert_eq!(bin(Add, s("a"), Value::Null), Value::Undefined);
        assert_eq!(bin(Add, Value::Int(1), Value::Int(2)), Value::Int(3));
        assert_eq!(
            bin(Add, Value::Int(1), Value::Decimal(0.5)),
            Value::Decimal(1.5)
        );
        assert_eq!(bin(Add, Value::Bool(true), Value::Int(1)), Value::Undefined);
        assert_eq!(
            bin(Add, Value::Int(i64::MAX), Value::Int(1)),
            Value::Decimal(9.223372036854776e18)
        );
    }

    #[test]
    fn arithmetic_keeps_ints_and_converts_strings() {
        use BinaryOp::{Div, Mod, Mul, Sub};
        assert_eq!(bin(Div, Value::Int(7), Value::Int(2)), Value::Int(3));
        assert_eq!(bin(Mod, Value::Int(-7), Value::Int(2)), Value::Int(-1));
        assert_eq!(bin(Sub, s("6"), Value::Int(2)), Value::Decimal(4.0));
        assert_eq!(binary(Sub, s("6"), Value::Int(2), V2), Value::Int(4));
        assert_eq!(bin(Mul, s("x"), Value::Int(2)), Value::Undefined);
        assert_eq!(bin(Div, Value::Int(1), Value::Int(0)), Value::Undefined);
        assert_eq!(
            bin(Div, Value::Decimal(1.0), Value::Int(0)),
            Value::Undefined
        );
        assert_eq!(unary(UnaryOp::Neg, Value::Int(5), V1), Value::Int(-5));
        assert_eq!(unary(UnaryOp::Neg, s("5"), V1), Value::Decimal(-5.0));
    }
}
