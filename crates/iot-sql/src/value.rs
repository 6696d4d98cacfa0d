//! AWS IoT SQL's values and the conversions between them, as the "Data types" page tabulates
//! them (`iot-sql-data-types.md`, "Conversions"). A value read from the payload borrows it;
//! only computed values own their data. Operators are in `operators.rs`.
//!
//! Deliberate differences from AWS (docs/aws-differences.md, "IoT SQL"): `Int` is 64-bit
//! (AWS: 34 digits) and `Decimal` is IEEE double (AWS: 34-digit decimal); results that leave
//! those ranges, and NaN or infinite results, are Undefined.

use std::borrow::Cow;

use serde_json::{Map, Number, Value as Json};

use crate::version::SqlVersion;

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    /// Not a value: a missing field, or a function given arguments it cannot use.
    Undefined,
    Null,
    Bool(bool),
    Int(i64),
    /// Always finite.
    Decimal(f64),
    String(Cow<'a, str>),
    Array(Cow<'a, [Json]>),
    Object(Cow<'a, Map<String, Json>>),
}

/// A number after conversion: AWS keeps `Int` and `Decimal` apart in arithmetic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Dec(f64),
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Dec(d) => d,
        }
    }
}

impl<'a> Value<'a> {
    /// A decimal result. Non-finite results are Undefined; under 2016-03-23 a whole number is
    /// an Int ("numeric values that are whole numbers, such as 10.0, are processed as an Int
    /// value (10)", Data types page).
    pub fn decimal(d: f64, version: SqlVersion) -> Value<'static> {
        if !d.is_finite() {
            return Value::Undefined;
        }
        if version.is_2016()
            && let Some(i) = whole(d)
        {
            return Value::Int(i);
        }
        Value::Decimal(d)
    }

    pub fn string(s: impl Into<Cow<'a, str>>) -> Value<'a> {
        Value::String(s.into())
    }

    /// A JSON value of the payload, borrowed.
    pub fn from_json(json: &'a Json, version: SqlVersion) -> Value<'a> {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => number_from_json(n, version),
            Json::String(s) => Value::String(Cow::Borrowed(s)),
            Json::Array(items) => Value::Array(Cow::Borrowed(items)),
            Json::Object(map) => Value::Object(Cow::Borrowed(map)),
        }
    }

    /// An owned JSON value, consumed.
    pub fn from_owned_json(json: Json, version: SqlVersion) -> Value<'static> {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Number(n) => number_from_json(&n, version),
            Json::String(s) => Value::String(Cow::Owned(s)),
            Json::Array(items) => Value::Array(Cow::Owned(items)),
            Json::Object(map) => Value::Object(Cow::Owned(map)),
        }
    }

    /// The value as JSON; Undefined has none.
    pub fn into_json(self) -> Option<Json> {
        Some(match self {
            Value::Undefined => return None,
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Int(i) => Json::Number(i.into()),
            Value::Decimal(d) => Json::Number(Number::from_f64(d)?),
            Value::String(s) => Json::String(s.into_owned()),
            Value::Array(items) => Json::Array(items.into_owned()),
            Value::Object(map) => Json::Object(map.into_owned()),
        })
    }

    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    /// "To Decimal"/"To Int" source: Int and Decimal as they are, a String that matches
    /// `^-?\d+(\.\d+)?((?i)E-?\d+)?$` as a Decimal, everything else none.
    pub fn to_num(&self) -> Option<Num> {
        match self {
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Decimal(d) => Some(Num::Dec(*d)),
            Value::String(s) => parse_decimal(s).map(Num::Dec),
            _ => None,
        }
    }

    /// "To Decimal": as a double.
    pub fn to_f64(&self) -> Option<f64> {
        self.to_num().map(Num::as_f64)
    }

    /// "To Int" for arguments AWS documents as "rounded down to the nearest Int" (substring,
    /// lpad, bitand, chr, trunc, ...): decimals and numeric strings are floored.
    pub fn to_int_floor(&self) -> Option<i64> {
        match self.to_num()? {
            Num::Int(i) => Some(i),
            Num::Dec(d) => f64_to_i64(d.floor()),
        }
    }

    /// "To Int" of the Conversions table: a Decimal is "rounded to the nearest Int", a String
    /// is converted to a Decimal whose decimal places are truncated.
    pub fn to_int_nearest(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Decimal(d) => f64_to_i64(d.round()),
            Value::String(s) => f64_to_i64(parse_decimal(s)?.trunc()),
            _ => None,
        }
    }

    /// "To Boolean": Booleans, and the strings "true"/"false" in any case.
    pub fn to_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// "To String": numbers in standard notation, Booleans in lower case, arrays and objects
    /// serialized to JSON; Null and Undefined have none.
    pub fn to_text(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            Value::Undefined | Value::Null => return None,
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Int(i) => Cow::Owned(i.to_string()),
            Value::Decimal(d) => Cow::Owned(decimal_text(*d)),
            Value::String(s) => Cow::Borrowed(s),
            Value::Array(items) => Cow::Owned(serde_json::to_string(&**items).ok()?),
            Value::Object(map) => Cow::Owned(serde_json::to_string(&**map).ok()?),
        })
    }
}

/// A decimal as text: shortest round-trip digits, scientific notation for large and small
/// magnitudes (serde_json's number format).
pub(crate) fn decimal_text(d: f64) -> String {
    Number::from_f64(d).map_or_else(|| d.to_string(), |n| n.to_string())
}

fn number_from_json(n: &Number, version: SqlVersion) -> Value<'static> {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else {
        n.as_f64()
            .map_or(Value::Undefined, |d| Value::decimal(d, version))
    }
}

/// The whole number `d` as an Int, if it is one and fits.
pub(crate) fn whole(d: f64) -> Option<i64> {
    if d.fract() == 0.0 {
        f64_to_i64(d)
    } else {
        None
    }
}

/// `d` as an i64 if it is finite and in range (it is already whole or about to be).
pub(crate) fn f64_to_i64(d: f64) -> Option<i64> {
    // 2^63 is exactly representable; every double below it in magnitude fits.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if d.is_finite() && d > -LIMIT - 1.0 && d < LIMIT {
        Some(d as i64)
    } else {
        None
    }
}

/// AWS's string-to-Decimal rule: `^-?\d+(\.\d+)?((?i)E-?\d+)?$`.
pub(crate) fn parse_decimal(s: &str) -> Option<f64> {
    let bytes = s.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|d| d.is_finite())
}

/// Equality of two JSON values inside arrays and objects: numbers by value (`1 = 1.0`),
/// objects regardless of key order, everything else structurally.
pub(crate) fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: SqlVersion = SqlVersion::V2015_10_08;
    const V2: SqlVersion = SqlVersion::V2016_03_23;

    #[test]
    fn strings_convert_to_decimals_by_aws_pattern() {
        for (text, expected) in [
            ("0", Some(0.0)),
            ("-1.2", Some(-1.2)),
            ("5E-12", Some(5e-12)),
            ("5e3", Some(5000.0)),
            ("+1", None),
            ("1.", None),
            (".5", None),
            ("1e+3", None),
            (" 1", None),
            ("abc", None),
            ("", None),
        ] {
            assert_eq!(parse_decimal(text), expected, "{text:?}");
        }
    }

    #[test]
    fn whole_decimals_are_ints_in_2016_only() {
        assert_eq!(Value::decimal(10.0, V2), Value::Int(10));
        assert_eq!(Value::decimal(10.0, V1), Value::Decimal(10.0));
        assert_eq!(Value::decimal(10.5, V2), Value::Decimal(10.5));
        assert_eq!(Value::decimal(f64::NAN, V1), Value::Undefined);
        assert_eq!(Value::decimal(1e300, V2), Value::Decimal(1e300));
    }

    #[test]
    fn conversions_follow_the_tables() {
        assert_eq!(Value::Bool(true).to_num(), None);
        assert_eq!(Value::string("TRUE").to_bool(), Some(true));
        assert_eq!(Value::Int(1).to_bool(), None);
        assert_eq!(Value::Null.to_text(), None);
        assert_eq!(Value::Decimal(2.5).to_int_nearest(), Some(3));
        assert_eq!(Value::string("2.9").to_int_nearest(), Some(2));
        assert_eq!(Value::Decimal(-1.5).to_int_floor(), Some(-2));
        let arr = serde_json::json!(["HELLO", 1, null]);
        let v = Value::from_json(&arr, V1);
        assert_eq!(v.to_text().as_deref(), Some(r#"["HELLO",1,null]"#));
        assert_eq!(decimal_text(54.98), "54.98");
        assert_eq!(decimal_text(10.0), "10.0");
    }

    #[test]
    fn json_equality_is_numeric_and_order_free() {
        use serde_json::json;
        assert!(json_eq(&json!([1, 2.0]), &json!([1.0, 2])));
        assert!(json_eq(&json!({"a": 1, "b": 2}), &json!({"b": 2, "a": 1})));
        assert!(!json_eq(&json!([1, 2]), &json!([2, 1])));
    }
}
