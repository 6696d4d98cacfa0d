//! The numeric functions of AWS IoT SQL: `abs`, rounding (`ceil`, `floor`, `round`, `trunc`,
//! `sign`), `mod`/`remainder`, the double-precision functions (`sqrt`, `power`, `exp`, `ln`,
//! `log`, trigonometry) and the bitwise functions. Numeric strings convert to Decimal; other
//! types, and results that are not real numbers ("Imaginary results are returned as
//! Undefined"), give Undefined.

use crate::ast::BinaryOp;
use crate::catalog::Function;
use crate::operators::arithmetic;
use crate::value::{Num, Value, whole};
use crate::version::SqlVersion;

use super::double;
use super::strings::int_saturating;

/// Evaluates the numeric function `function`; anything else is Undefined.
pub(super) fn call(function: Function, args: &[Value<'_>], version: SqlVersion) -> Value<'static> {
    let first = args.first();
    let unary = |f: fn(f64) -> f64| {
        double(first).map_or(Value::Undefined, |x| Value::decimal(f(x), version))
    };
    match function {
        Function::Abs => match first.and_then(Value::to_num) {
            Some(Num::Int(i)) => i
                .checked_abs()
                .map_or_else(|| Value::decimal((i as f64).abs(), version), Value::Int),
            Some(Num::Dec(d)) => Value::decimal(d.abs(), version),
            None => Value::Undefined,
        },
        Function::Ceil => rounded(first, f64::ceil),
        Function::Floor => rounded(first, f64::floor),
        // AWS's examples: round(1.5) = 2, round(-1.5) = -2: halves away from zero.
        Function::Round => rounded(first, f64::round),
        Function::Sign => match first.and_then(Value::to_num) {
            Some(Num::Int(i)) => Value::Int(i.signum()),
            Some(Num::Dec(d)) if d > 0.0 => Value::Int(1),
            Some(Num::Dec(d)) if d < 0.0 => Value::Int(-1),
            Some(Num::Dec(_)) => Value::Int(0),
            None => Value::Undefined,
        },
        Function::Mod | Function::Remainder => match (first, args.get(1)) {
            (Some(a), Some(b)) => arithmetic(BinaryOp::Mod, a, b, version),
            _ => Value::Undefined,
        },
        Function::Trunc => trunc(args, version),
        Function::Sqrt => unary(f64::sqrt),
        Function::Exp => unary(f64::exp),
        Function::Ln => unary(f64::ln),
        Function::Log => unary(f64::log10),
        Function::Sin => unary(f64::sin),
        Function::Cos => unary(f64::cos),
        Function::Tan => unary(f64::tan),
        Function::Asin => unary(f64::asin),
        Function::Acos => unary(f64::acos),
        Function::Atan => unary(f64::atan),
        Function::Sinh => unary(f64::sinh),
        Function::Cosh => unary(f64::cosh),
        Function::Tanh => unary(f64::tanh),
        Function::Power => match (double(first), double(args.get(1))) {
            (Some(a), Some(b)) => Value::decimal(a.powf(b), version),
            _ => Value::Undefined,
        },
        Function::Atan2 => match (double(first), double(args.get(1))) {
            (Some(y), Some(x)) => Value::decimal(y.atan2(x), version),
            _ => Value::Undefined,
        },
        Function::BitAnd | Function::BitOr | Function::BitXor => {
            match (
                first.and_then(Value::to_int_floor),
                args.get(1).and_then(Value::to_int_floor),
            ) {
                (Some(a), Some(b)) => Value::Int(match function {
                    Function::BitAnd => a & b,
                    Function::BitOr => a | b,
                    _ => a ^ b,
                }),
                _ => Value::Undefined,
            }
        }
        Function::BitNot => first
            .and_then(Value::to_int_floor)
            .map_or(Value::Undefined, |i| Value::Int(bitnot(i))),
        _ => Value::Undefined,
    }
}

/// ceil/floor/round: an Int stays; a Decimal or numeric String is rounded to an Int (a
/// Decimal too large for 64 bits stays a whole Decimal).
fn rounded(value: Option<&Value<'_>>, round: fn(f64) -> f64) -> Value<'static> {
    match value.and_then(Value::to_num) {
        Some(Num::Int(i)) => Value::Int(i),
        Some(Num::Dec(d)) => {
            let r = round(d);
            whole(r).map_or(Value::Decimal(r), Value::Int)
        }
        None => Value::Undefined,
    }
}

/// `trunc(x, places)`: x cut (toward zero) to `places` decimal places, clamped to 0..=34,
/// with trailing zeros stripped (`trunc(2.00, 5)` = 2, an Int).
fn trunc(args: &[Value<'_>], version: SqlVersion) -> Value<'static> {
    let Some(x) = args.first().and_then(Value::to_num) else {
        return Value::Undefined;
    };
    // The second argument is Int or Decimal only (no string conversion in AWS's table).
    let places = match args.get(1) {
        Some(v @ (Value::Int(_) | Value::Decimal(_))) => int_saturating(Some(v)),
        _ => None,
    };
    let Some(places) = places else {
        return Value::Undefined;
    };
    let d = match x {
        Num::Int(i) => return Value::Int(i),
        Num::Dec(d) => d,
    };
    let places = places.clamp(0, 34);
    // Beyond 15 places a double has nothing left to cut.
    let cut = if places > 15 {
        d
    } else {
        let scale = 10f64.powi(i32::try_from(places).unwrap_or(0));
        let scaled = (d * scale).trunc() / scale;
        if scaled.is_finite() { scaled } else { d }
    };
    match whole(cut) {
        Some(i) => Value::Int(i),
        None => Value::decimal(cut, version),
    }
}

/// bitnot: AWS's example is `bitnot(13)` = 2, which flips the bits of 13's own binary length
/// (1101 → 0010) rather than all 64; tether follows the example for non-negative numbers and
/// flips all bits of negative ones.
fn bitnot(i: i64) -> i64 {
    if i < 0 {
        return !i;
    }
    let width = 64 - i.leading_zeros();
    let mask = if width >= 63 {
        i64::MAX
    } else {
        (1i64 << width) - 1
    };
    !i & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitnot_matches_the_example() {
        assert_eq!(bitnot(13), 2);
        assert_eq!(bitnot(0), 0);
        assert_eq!(bitnot(-1), 0);
    }
}
