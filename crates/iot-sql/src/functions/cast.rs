//! `cast(value AS type)`, by the "Casting rules" tables of AWS's `cast()` section: the
//! standard conversions plus numbers to and from Booleans. Null and Undefined cast to
//! Undefined. Under 2016-03-23 a whole Decimal result is an Int ("numeric values that are
//! whole numbers, such as 10.0, return an Int value (10)").

use std::borrow::Cow;

use crate::ast::CastType;
use crate::value::{Num, Value, f64_to_i64};
use crate::version::SqlVersion;

/// Casts `value` to `cast_type`.
pub(crate) fn cast(value: &Value<'_>, cast_type: CastType, version: SqlVersion) -> Value<'static> {
    match cast_type {
        CastType::String => value.to_text().map_or(Value::Undefined, |s| {
            Value::String(Cow::Owned(s.into_owned()))
        }),
        CastType::Int => match value {
            Value::Bool(b) => Value::Int(i64::from(*b)),
            // "rounded down to the nearest Int"
            other => match other.to_num() {
                Some(Num::Int(i)) => Value::Int(i),
                Some(Num::Dec(d)) => f64_to_i64(d.floor()).map_or(Value::Undefined, Value::Int),
                None => Value::Undefined,
            },
        },
        CastType::Double | CastType::Decimal => match value {
            Value::Bool(b) => Value::decimal(if *b { 1.0 } else { 0.0 }, version),
            other => other
                .to_f64()
                .map_or(Value::Undefined, |d| Value::decimal(d, version)),
        },
        CastType::Boolean => match value {
            Value::Int(i) => Value::Bool(*i != 0),
            Value::Decimal(d) => Value::Bool(*d != 0.0),
            other => other.to_bool().map_or(Value::Undefined, Value::Bool),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: SqlVersion = SqlVersion::V2015_10_08;
    const V2: SqlVersion = SqlVersion::V2016_03_23;

    #[test]
    fn casting_rules() {
        assert_eq!(cast(&Value::Bool(true), CastType::Int, V1), Value::Int(1));
        assert_eq!(cast(&Value::Decimal(2.7), CastType::Int, V1), Value::Int(2));
        assert_eq!(
            cast(&Value::string("-1.2"), CastType::Int, V1),
            Value::Int(-2)
        );
        assert_eq!(
            cast(&Value::Int(10), CastType::Decimal, V1),
            Value::Decimal(10.0)
        );
        assert_eq!(cast(&Value::Int(10), CastType::Decimal, V2), Value::Int(10));
        assert_eq!(
            cast(&Value::Bool(false), CastType::Double, V1),
            Value::Decimal(0.0)
        );
        assert_eq!(
            cast(&Value::Decimal(0.0), CastType::Boolean, V2),
            Value::Bool(false)
        );
        assert_eq!(
            cast(&Value::string("TRUE"), CastType::Boolean, V2),
            Value::Bool(true)
        );
        assert_eq!(
            cast(&Value::string("yes"), CastType::Boolean, V2),
            Value::Undefined
        );
        assert_eq!(cast(&Value::Null, CastType::String, V1), Value::Undefined);
        assert_eq!(
            cast(&Value::Decimal(1.5), CastType::String, V1),
            Value::string("1.5")
        );
    }
}
