//! AWS IoT SQL's function list as data: every function AWS documents, which of them tether
//! evaluates (the [`Function`] enum), the SQL version each needs, and why the others are
//! refused. The parser resolves names here; evaluation lives in `functions/`.
//!
//! Source: AWS IoT developer guide, "Functions" (`iot-sql-functions.md` and the current
//! page's table of contents). Function names are matched case-insensitively, as AWS's own
//! examples write `Round(1.5)`, `Ltrim(" h i ")`, `Nanvl(8, 3)`.

use crate::version::SqlVersion;

macro_rules! functions {
    ($( $variant:ident = $name:literal since $since:ident, args $min:literal ..= $max:literal; )*) => {
        /// A function tether evaluates. `cast(x AS type)` is not here: it has its own syntax
        /// ([`Expr::Cast`](crate::Expr::Cast)).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Function {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Function {
            /// Every function tether evaluates.
            pub const ALL: &'static [Function] = &[$(Function::$variant,)*];

            /// The name as AWS documents it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Function::$variant => $name,)*
                }
            }

            /// The first `awsIotSqlVersion` that has the function.
            pub fn since(self) -> SqlVersion {
                match self {
                    $(Function::$variant => SqlVersion::$since,)*
                }
            }

            /// The fewest and most arguments AWS documents. A call with another count
            /// parses, and evaluates to Undefined as AWS's "Data types" page says of "wrong
            /// number of arguments".
            pub fn arity(self) -> (usize, usize) {
                match self {
                    $(Function::$variant => ($min, $max),)*
                }
            }
        }
    };
}

functions! {
    Abs = "abs" since V2015_10_08, args 1..=1;
    AccountId = "accountid" since V2015_10_08, args 0..=0;
    Acos = "acos" since V2015_10_08, args 1..=1;
    Asin = "asin" since V2015_10_08, args 1..=1;
    Atan = "atan" since V2015_10_08, args 1..=1;
    Atan2 = "atan2" since V2015_10_08, args 2..=2;
    BitAnd = "bitand" since V2015_10_08, args 2..=2;
    BitOr = "bitor" since V2015_10_08, args 2..=2;
    BitXor = "bitxor" since V2015_10_08, args 2..=2;
    BitNot = "bitnot" since V2015_10_08, args 1..=1;
    Ceil = "ceil" since V2015_10_08, args 1..=1;
    Chr = "chr" since V2015_10_08, args 1..=1;
    ClientId = "clientid" since V2015_10_08, args 0..=0;
    Concat = "concat" since V2015_10_08, args 0..=255;
    Cos = "cos" since V2015_10_08, args 1..=1;
    Cosh = "cosh" since V2015_10_08, args 1..=1;
    Decode = "decode" since V2016_03_23, args 2..=2;
    Encode = "encode" since V2016_03_23, args 2..=2;
    EndsWith = "endswith" since V2015_10_08, args 2..=2;
    Exp = "exp" since V2015_10_08, args 1..=1;
    Floor = "floor" since V2015_10_08, args 1..=1;
    Get = "get" since V2015_10_08, args 2..=2;
    GetThingShadow = "get_thing_shadow" since V2016_03_23, args 2..=3;
    Md5 = "md5" since V2015_10_08, args 1..=1;
    Sha1 = "sha1" since V2015_10_08, args 1..=1;
    Sha224 = "sha224" since V2015_10_08, args 1..=1;
    Sha256 = "sha256" since V2015_10_08, args 1..=1;
    Sha384 = "sha384" since V2015_10_08, args 1..=1;
    Sha512 = "sha512" since V2015_10_08, args 1..=1;
    IndexOf = "indexof" since V2016_03_23, args 2..=2;
    IsNull = "isNull" since V2015_10_08, args 1..=1;
    IsUndefined = "isUndefined" since V2016_03_23, args 1..=1;
    Length = "length" since V2016_03_23, args 1..=1;
    Ln = "ln" since V2015_10_08, args 1..=1;
    Log = "log" since V2015_10_08, args 1..=1;
    Lower = "lower" since V2015_10_08, args 1..=1;
    Lpad = "lpad" since V2015_10_08, args 2..=2;
    Ltrim = "ltrim" since V2015_10_08, args 1..=1;
    Mod = "mod" since V2015_10_08, args 2..=2;
    Nanvl = "nanvl" since V2015_10_08, args 2..=2;
    NewUuid = "newuuid" since V2015_10_08, args 0..=0;
    NumBytes = "numbytes" since V2016_03_23, args 1..=1;
    ParseTime = "parse_time" since V2016_03_23, args 2..=3;
    Power = "power" since V2015_10_08, args 2..=2;
    Principal = "principal" since V2015_10_08, args 0..=0;
    Rand = "rand" since V2015_10_08, args 0..=0;
    RegexpMatches = "regexp_matches" since V2015_10_08, args 2..=2;
    RegexpReplace = "regexp_replace" since V2015_10_08, args 3..=3;
    RegexpSubstr = "regexp_substr" since V2015_10_08, args 2..=2;
    Remainder = "remainder" since V2015_10_08, args 2..=2;
    Replace = "replace" since V2015_10_08, args 3..=3;
    Rpad = "rpad" since V2015_10_08, args 2..=2;
    Round = "round" since V2015_10_08, args 1..=1;
    Rtrim = "rtrim" since V2015_10_08, args 1..=1;
    Sign = "sign" since V2015_10_08, args 1..=1;
    Sin = "sin" since V2015_10_08, args 1..=1;
    Sinh = "sinh" since V2015_10_08, args 1..=1;
    SourceIp = "sourceip" since V2015_10_08, args 0..=0;
    Substring = "substring" since V2015_10_08, args 2..=3;
    SqlVersionName = "sql_version" since V2015_10_08, args 0..=0;
    Sqrt = "sqrt" since V2015_10_08, args 1..=1;
    StartsWith = "startswith" since V2015_10_08, args 2..=2;
    Tan = "tan" since V2015_10_08, args 1..=1;
    Tanh = "tanh" since V2015_10_08, args 1..=1;
    Timestamp = "timestamp" since V2015_10_08, args 0..=0;
    Topic = "topic" since V2015_10_08, args 0..=1;
    TraceId = "traceid" since V2015_10_08, args 0..=0;
    Transform = "transform" since V2016_03_23, args 3..=3;
    Trim = "trim" since V2015_10_08, args 1..=1;
    Trunc = "trunc" since V2015_10_08, args 2..=2;
    Upper = "upper" since V2015_10_08, args 1..=1;
}

impl Function {
    /// The function named `name`, matched case-insensitively.
    pub fn lookup(name: &str) -> Option<Function> {
        Function::ALL
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

/// Every function AWS IoT SQL documents, in AWS's order (`cast` included; it has its own
/// syntax). Names tether does not evaluate are in [`UNSUPPORTED`].
pub const AWS_FUNCTIONS: &[&str] = &[
    "abs",
    "accountid",
    "acos",
    "asin",
    "atan",
    "atan2",
    "aws_lambda",
    "bitand",
    "bitor",
    "bitxor",
    "bitnot",
    "cast",
    "ceil",
    "chr",
    "clientid",
    "concat",
    "cos",
    "cosh",
    "decode",
    "encode",
    "endswith",
    "exp",
    "floor",
    "get",
    "get_dynamodb",
    "get_mqtt_property",
    "get_or_default",
    "get_registry_data",
    "get_secret",
    "get_thing_shadow",
    "get_user_properties",
    "md2",
    "md5",
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "indexof",
    "isNull",
    "isUndefined",
    "length",
    "ln",
    "log",
    "lower",
    "lpad",
    "ltrim",
    "machinelearning_predict",
    "mod",
    "nanvl",
    "newuuid",
    "numbytes",
    "parse_time",
    "power",
    "principal",
    "rand",
    "regexp_matches",
    "regexp_replace",
    "regexp_substr",
    "remainder",
    "replace",
    "rpad",
    "round",
    "rtrim",
    "sign",
    "sin",
    "sinh",
    "sourceip",
    "substring",
    "sql_version",
    "sqrt",
    "startswith",
    "tan",
    "tanh",
    "time_to_epoch",
    "timestamp",
    "topic",
    "traceid",
    "transform",
    "trim",
    "trunc",
    "upper",
];

/// AWS IoT SQL functions tether refuses at parse time, each with the reason given in the
/// error.
pub const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "aws_lambda",
        "it invokes an AWS Lambda function during evaluation, which tether does not do",
    ),
    (
        "get_dynamodb",
        "it reads an Amazon DynamoDB table during evaluation, which tether does not do",
    ),
    (
        "get_registry_data",
        "it reads the thing registry through an IAM role during evaluation, which tether \
         does not do yet",
    ),
    (
        "get_secret",
        "it reads AWS Secrets Manager during evaluation, which tether does not do",
    ),
    (
        "machinelearning_predict",
        "it calls Amazon Machine Learning, which tether does not do",
    ),
    (
        "get_mqtt_property",
        "tether does not pass MQTT 5 properties to rule evaluation yet",
    ),
    (
        "get_user_properties",
        "tether does not pass MQTT 5 user properties to rule evaluation yet",
    ),
    ("get_or_default", "tether does not implement it yet"),
    ("md2", "tether does not implement the MD2 hash"),
    (
        "time_to_epoch",
        "tether does not implement parsing of time strings yet (parse_time formats them)",
    ),
];

/// Why tether refuses the AWS function `name` (case-insensitive), if it does.
pub fn unsupported_reason(name: &str) -> Option<(&'static str, &'static str)> {
    UNSUPPORTED
        .iter()
        .copied()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// The AWS function whose name is closest to `name` (a typo), if any is close.
pub fn suggestion(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    AWS_FUNCTIONS
        .iter()
        .copied()
        .map(|candidate| {
            (
                edit_distance(&lower, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let delete = previous.get(j + 1).copied().unwrap_or(0) + 1;
            let insert = current.get(j).copied().unwrap_or(0) + 1;
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aws_function_is_implemented_or_refused_with_a_reason() {
        for name in AWS_FUNCTIONS {
            let implemented = Function::lookup(name).is_some() || *name == "cast";
            let refused = unsupported_reason(name).is_some();
            assert!(implemented != refused, "{name}: implemented={implemented}");
        }
        for f in Function::ALL {
            assert!(
                AWS_FUNCTIONS.contains(&f.name()),
                "{} is not AWS's",
                f.name()
            );
        }
        for (name, _) in UNSUPPORTED {
            assert!(AWS_FUNCTIONS.contains(name), "{name} is not AWS's");
        }
    }

    #[test]
    fn names_match_case_insensitively_and_typos_get_suggestions() {
        assert_eq!(Function::lookup("ROUND"), Some(Function::Round));
        assert_eq!(Function::lookup("isnull"), Some(Function::IsNull));
        assert_eq!(suggestion("isnul"), Some("isNull"));
        assert_eq!(suggestion("timestmap"), Some("timestamp"));
        assert_eq!(suggestion("frobnicate"), None);
    }
}
