//! Every function: the examples of AWS's "Functions" page (first table, verbatim where the page
//! is consistent), then the Undefined and type rows of each function's table.

use serde_json::{Value as Json, json};

use super::{V1, V2, value};

const NONE: Option<Json> = None;

fn check(rows: &[(&str, iot_sql::SqlVersion, Option<Json>)]) {
    for (expr, version, expected) in rows {
        assert_eq!(
            &value(expr, *version, "{}"),
            expected,
            "{expr} under {version}"
        );
    }
}

#[test]
fn documented_examples() {
    check(&[
        ("abs(-5)", V1, Some(json!(5))),
        ("accountid()", V1, Some(json!("123456789012"))),
        // AWS writes 1.5707963267948966, which is π/2 as a double.
        ("acos(0)", V1, Some(json!(std::f64::consts::FRAC_PI_2))),
        ("asin(0)", V1, Some(json!(0.0))),
        ("atan(0)", V1, Some(json!(0.0))),
        ("atan2(1, 0)", V1, Some(json!(std::f64::consts::FRAC_PI_2))),
        ("bitand(13, 5)", V1, Some(json!(5))),
        ("bitor(8, 5)", V1, Some(json!(13))),
        // The page's bitxor example is labelled `bitor(13, 5)` = 8; XOR is meant.
        ("bitxor(13, 5)", V1, Some(json!(8))),
        ("bitnot(13)", V1, Some(json!(2))),
        ("cast(true as Int)", V1, Some(json!(1))),
        ("ceil(1.2)", V1, Some(json!(2))),
        ("ceil(-1.2)", V1, Some(json!(-1))),
        ("chr(65)", V1, Some(json!("A"))),
        ("chr(49)", V1, Some(json!("1"))),
        ("clientid()", V1, Some(json!("dev-1"))),
        ("concat()", V1, NONE),
        ("concat(1)", V1, Some(json!("1"))),
        ("concat([1, 2, 3], 4)", V2, Some(json!([1, 2, 3, 4]))),
        (
            "concat([1, 2, 3], \"hello\")",
            V2,
            Some(json!([1, 2, 3, "hello"])),
        ),
        ("concat(\"con\", \"cat\")", V1, Some(json!("concat"))),
        ("concat(1, \"hello\")", V1, Some(json!("1hello"))),
        ("concat(\"he\",\"is\",\"man\")", V1, Some(json!("heisman"))),
        (
            "concat([1, 2, 3], \"hello\", [4, 5, 6])",
            V2,
            Some(json!([1, 2, 3, "hello", 4, 5, 6])),
        ),
        ("cos(0)", V2, Some(json!(1))),
        ("cosh(2.3)", V1, Some(json!(5.037220649268761))),
        ("endswith(\"cat\",\"at\")", V1, Some(json!(true))),
        ("exp(1)", V1, Some(json!(std::f64::consts::E))),
        ("floor(1.2)", V1, Some(json!(1))),
        ("floor(-1.2)", V1, Some(json!(-2))),
        ("get([\"a\", \"b\", \"c\"], 1)", V2, Some(json!("b"))),
        ("get({\"a\":\"b\"}, \"a\")", V2, Some(json!("b"))),
        // The page says get("abc", 1) = "a" but its table says the index is 0-based.
        ("get(\"abc\", 1)", V1, Some(json!("b"))),
        (
            "md5(\"hello\")",
            V1,
            Some(json!("5d41402abc4b2a76b9719d911017c592")),
        ),
        ("indexof(\"abcd\", \"bc\")", V2, Some(json!(1))),
        ("isNull(5)", V1, Some(json!(false))),
        ("isNull(Null)", V1, Some(json!(true))),
        ("isUndefined(5)", V2, Some(json!(false))),
        ("isUndefined(floor([1,2,3]))", V2, Some(json!(true))),
        ("length(\"hi\")", V2, Some(json!(2))),
        ("length(false)", V2, Some(json!(5))),
        ("ln(exp(1))", V1, Some(json!(1.0))),
        ("log(100)", V1, Some(json!(2.0))),
        ("lower(\"HELLO\")", V1, Some(json!("hello"))),
        ("lower([\"HELLO\"])", V2, Some(json!("[\"hello\"]"))),
        ("lpad(\"hello\", 2)", V1, Some(json!("  hello"))),
        ("lpad(1, 3)", V1, Some(json!("   1"))),
        // The page says Ltrim(" h i ") = "hi "; leading white space only is removed.
        ("Ltrim(\" h i \")", V1, Some(json!("h i "))),
        ("mod(8, 3)", V1, Some(json!(2))),
        ("Nanvl(8, 3)", V1, Some(json!(8))),
        (
            "newuuid()",
            V1,
            Some(json!("123e4567-e89b-42d3-a456-426614174000")),
        ),
        ("numbytes(\"hi\")", V2, Some(json!(2))),
        ("numbytes(\"€\")", V2, Some(json!(3))),
        ("power(2, 5)", V1, Some(json!(32.0))),
        (
            "principal()",
            V1,
            Some(json!(
                "ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373"
            )),
        ),
        ("rand()", V1, Some(json!(0.5))),
        ("regexp_matches(\"aaaa\", \"a{2,}\")", V1, Some(json!(true))),
        ("regexp_matches(\"aaaa\", \"b\")", V1, Some(json!(false))),
        (
            "regexp_replace(\"abcd\", \"bc\", \"x\")",
            V1,
            Some(json!("axd")),
        ),
        (
            "regexp_replace(\"abcd\", \"b(.*)d\", \"$1\")",
            V1,
            Some(json!("ac")),
        ),
        (
            "regexp_substr(\"hihihello\", \"hi\")",
            V1,
            Some(json!("hi")),
        ),
        (
            "regexp_substr(\"hihihello\", \"(hi)*\")",
            V1,
            Some(json!("hihi")),
        ),
        ("remainder(8, 3)", V1, Some(json!(2))),
        ("replace(\"abcd\", \"bc\", \"x\")", V1, Some(json!("axd"))),
        (
            "replace(\"abcdabcd\", \"b\", \"x\")",
            V1,
            Some(json!("axcdaxcd")),
        ),
        ("rpad(\"hello\", 2)", V1, Some(json!("hello  "))),
        ("rpad(1, 3)", V1, Some(json!("1   "))),
        ("Round(1.2)", V1, Some(json!(1))),
        ("Round(1.5)", V1, Some(json!(2))),
        ("Round(1.7)", V1, Some(json!(2))),
        ("Round(-1.1)", V1, Some(json!(-1))),
        ("Round(-1.5)", V1, Some(json!(-2))),
        ("rtrim(\" h i \")", V1, Some(json!(" h i"))),
        ("sign(-7)", V1, Some(json!(-1))),
        ("sign(0)", V1, Some(json!(0))),
        ("sign(13)", V1, Some(json!(1))),
        ("sin(0)", V1, Some(json!(0.0))),
        ("sinh(2.3)", V1, Some(json!(4.936961805545957))),
        ("substring(\"012345\", 0)", V1, Some(json!("012345"))),
        ("substring(\"012345\", 2)", V1, Some(json!("2345"))),
        ("substring(\"012345\", 2.745)", V1, Some(json!("2345"))),
        ("substring(123, 2)", V1, Some(json!("3"))),
        ("substring(\"012345\", -1)", V1, Some(json!("012345"))),
        ("substring(true, 1.2)", V1, Some(json!("rue"))),
        ("substring(false, -2.411E247)", V1, Some(json!("false"))),
        ("substring(\"012345\", 1, 3)", V1, Some(json!("12"))),
        ("substring(\"012345\", -50, 50)", V1, Some(json!("012345"))),
        ("substring(\"012345\", 3, 1)", V1, Some(json!(""))),
        ("sql_version()", V2, Some(json!("2016-03-23"))),
        (
            "sql_version()",
            iot_sql::SqlVersion::Beta,
            Some(json!("beta")),
        ),
        ("sqrt(9)", V1, Some(json!(3.0))),
        ("startswith(\"ranger\",\"ran\")", V1, Some(json!(true))),
        ("tan(3)", V1, Some(json!(-0.1425465430742778))),
        ("tanh(2.3)", V1, Some(json!(0.9800963962661914))),
        ("timestamp()", V1, Some(json!(super::NOW))),
        (
            "traceid()",
            V1,
            Some(json!("12345678-1234-1234-1234-123456789012")),
        ),
        ("Trim(\" hi \")", V1, Some(json!("hi"))),
        ("trunc(2.3, 0)", V1, Some(json!(2))),
        ("trunc(2.3123, 2)", V1, Some(json!(2.31))),
        ("trunc(2.888, 2)", V1, Some(json!(2.88))),
        ("trunc(2.00, 5)", V1, Some(json!(2))),
        ("upper(\"hello\")", V1, Some(json!("HELLO"))),
        ("upper([\"hello\"])", V2, Some(json!("[\"HELLO\"]"))),
        ("sourceip()", V1, Some(json!("203.0.113.7"))),
        // parse_time: the "yyyy" substitution-template example, in UTC.
        (
            "parse_time(\"yyyy\", timestamp(), \"UTC\")",
            V2,
            Some(json!("2016")),
        ),
    ]);
}

#[test]
fn topic_levels() {
    let payload = "{}";
    let topic = |expr: &str| {
        let sql = format!("SELECT {expr} AS v FROM '#'");
        super::run(&sql, V1, "things/myThings/thingOne", payload.as_bytes())
            .unwrap()
            .and_then(|out| match out {
                iot_sql::Output::Json(json) => json.get("v").cloned(),
                iot_sql::Output::Bytes(_) => None,
            })
    };
    assert_eq!(topic("topic()"), Some(json!("things/myThings/thingOne")));
    assert_eq!(topic("topic(1)"), Some(json!("things")));
    assert_eq!(topic("topic(3)"), Some(json!("thingOne")));
    assert_eq!(topic("topic(4)"), None);
    assert_eq!(topic("topic(0)"), None);
    assert_eq!(topic("topic('2')"), Some(json!("myThings")));
}

#[test]
fn undefined_and_type_rows() {
    check(&[
        // abs: Boolean, Null, Array are Undefined; a numeric String is a Decimal.
        ("abs(true)", V1, NONE),
        ("abs(null)", V1, NONE),
        ("abs(\"-5.123\")", V1, Some(json!(5.123))),
        ("abs(\"x\")", V1, NONE),
        ("abs(-2.5)", V1, Some(json!(2.5))),
        // Trigonometry: imaginary results are Undefined.
        ("acos(2)", V1, NONE),
        ("asin(\"0\")", V1, Some(json!(0.0))),
        ("sqrt(-1)", V1, NONE),
        ("ln(0)", V1, NONE),
        ("atan2('a', 1)", V1, NONE),
        // Bitwise: decimals and numeric strings are floored.
        ("bitand(13.9, \"5\")", V1, Some(json!(5))),
        ("bitor(true, 1)", V1, NONE),
        // Rounding: Int stays, strings convert, other types are Undefined.
        ("ceil(7)", V1, Some(json!(7))),
        ("floor(\"2.5\")", V1, Some(json!(2))),
        ("round(\"x\")", V1, NONE),
        ("ceil(true)", V1, NONE),
        ("sign(\"-0.5\")", V1, Some(json!(-1))),
        // chr: not ASCII is Undefined.
        ("chr(300)", V1, NONE),
        ("chr(65.9)", V1, Some(json!("A"))),
        ("chr(true)", V1, NONE),
        // concat: Null has no text.
        ("concat('a', null)", V1, NONE),
        ("concat(1, 2)", V1, Some(json!("12"))),
        // endswith/startswith: Null or Undefined is Undefined; others convert.
        ("endswith(null, 'a')", V1, NONE),
        ("startswith(missing, 'a')", V1, NONE),
        ("startswith(123, 12)", V1, Some(json!(true))),
        // get: out of range and wrong types are Undefined; object keys are not converted.
        ("get([1], 5)", V2, NONE),
        ("get([1], -1)", V2, NONE),
        ("get({'1': 'x'}, 1)", V2, NONE),
        ("get(5, 0)", V1, NONE),
        // isNull/isUndefined.
        ("isNull(missing)", V1, Some(json!(false))),
        ("isUndefined(null)", V2, Some(json!(false))),
        ("isUndefined(missing)", V2, Some(json!(true))),
        // String functions: Null and Undefined are Undefined, others convert.
        ("lower(null)", V1, NONE),
        ("upper(1.5)", V1, Some(json!("1.5"))),
        ("ltrim(true)", V1, Some(json!("true"))),
        ("trim({'a': ' b '})", V2, Some(json!("{\"a\":\" b \"}"))),
        ("length(null)", V2, NONE),
        ("length('héllo')", V2, Some(json!(5))),
        ("numbytes('héllo')", V2, Some(json!(6))),
        ("replace('a.b', '.', null)", V1, NONE),
        ("indexof('abc', 'z')", V2, Some(json!(-1))),
        ("indexof('héllo', 'l')", V2, Some(json!(2))),
        // lpad/rpad: the count is clamped to 0..1000 and must be numeric.
        ("lpad('a', -5)", V1, Some(json!("a"))),
        ("lpad('a', '2.9')", V1, Some(json!("  a"))),
        ("rpad('a', true)", V1, NONE),
        ("rpad(null, 2)", V1, NONE),
        // mod/remainder: Int with Int is Int, decimals are Decimal, by zero Undefined.
        ("mod(8.5, 3)", V1, Some(json!(2.5))),
        ("mod('8', 3)", V1, Some(json!(2.0))),
        ("mod(8, 0)", V1, NONE),
        ("remainder(-8, 3)", V1, Some(json!(-2))),
        // nanvl: Undefined and Null give the second argument.
        ("nanvl(missing, 3)", V1, Some(json!(3))),
        ("nanvl(null, 'x')", V1, Some(json!("x"))),
        ("nanvl('a', 3)", V1, Some(json!("a"))),
        // power: double precision, strings convert.
        ("power('2', 0.5)", V1, Some(json!(std::f64::consts::SQRT_2))),
        ("power(true, 2)", V1, NONE),
        // regexp: invalid patterns and Null are Undefined, no match is Undefined (tether).
        ("regexp_matches('a', '(')", V1, NONE),
        ("regexp_matches(null, 'a')", V1, NONE),
        ("regexp_matches(123, '^\\\\d+$')", V1, Some(json!(true))),
        ("regexp_substr('abc', 'z')", V1, NONE),
        ("regexp_replace('abc', 'b', '$')", V1, NONE),
        // substring: non-numeric indices are Undefined.
        ("substring('abc', 'x')", V1, NONE),
        ("substring(null, 1)", V1, NONE),
        // trunc: an Int is itself; the places must be a number.
        ("trunc(5, 2)", V1, Some(json!(5))),
        ("trunc('2.345', 1)", V1, Some(json!(2.3))),
        ("trunc(2.345, '1')", V1, NONE),
        ("trunc(-2.345, 1)", V1, Some(json!(-2.3))),
        // Wrong numbers of arguments are Undefined.
        ("abs(1, 2)", V1, NONE),
        ("upper()", V1, NONE),
        ("timestamp(1)", V1, NONE),
        // Hashes: standard string conversion.
        (
            "sha256('hello')",
            V1,
            Some(json!(
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
            )),
        ),
        (
            "sha1(1)",
            V1,
            Some(json!("356a192b7913b04c54574d18c28d46e6395428ab")),
        ),
        ("md5(null)", V1, NONE),
        // encode/decode.
        ("encode('hello', 'base64')", V2, Some(json!("aGVsbG8="))),
        ("encode(12, 'base64')", V2, Some(json!("MTI="))),
        ("decode('aGVsbG8=', 'base64')", V2, Some(json!("hello"))),
        ("decode('!!!', 'base64')", V2, Some(json!(null))),
        (
            "decode('eyJhIjpbMSwyXX0=', 'base64').a[1]",
            V2,
            Some(json!(2)),
        ),
        // transform: only enrichArray.
        ("transform('other', {}, [{}])", V2, NONE),
        ("transform('enrichArray', {'k': 1}, [1])", V2, NONE),
        // get_thing_shadow: absent shadows are Undefined.
        (
            "get_thing_shadow('nobody', 'arn:aws:iam::1:role/r')",
            V2,
            NONE,
        ),
        (
            "get_thing_shadow('t', 'arn:aws:iam::1:role/r').version",
            V2,
            Some(json!(3)),
        ),
        ("get_thing_shadow(1, 'arn:aws:iam::1:role/r')", V2, NONE),
        // parse_time: fixed offsets and Joda letters; named zones are not supported.
        (
            "parse_time(\"yyyy.MM.dd G 'at' HH:mm:ss z\", 100000000, \"-06:00\")",
            V2,
            Some(json!("1970.01.01 AD at 21:46:40 -06:00")),
        ),
        (
            "parse_time(\"yyyy-MM-dd'T'HH:mm:ss.SSSZZ\", 1497028786123)",
            V2,
            Some(json!("2017-06-09T17:19:46.123+00:00")),
        ),
        ("parse_time('yyyy', 'x')", V2, NONE),
        ("parse_time(\"yyyy\", 0, \"America/Belize\")", V2, NONE),
    ]);
}

#[test]
fn get_thing_shadow_failures_fail_the_rule() {
    let result = super::run(
        "SELECT get_thing_shadow('fail', 'arn:aws:iam::1:role/r') AS s FROM 'a/b'",
        V2,
        "a/b",
        b"{}",
    );
    assert_eq!(
        result,
        Err(iot_sql::EvalError::Shadow {
            thing: "fail".into(),
            message: "lookup failed".into()
        })
    );
}

#[test]
fn casts_follow_the_casting_tables() {
    check(&[
        ("cast(1.9 AS Int)", V1, Some(json!(1))),
        ("cast(-1.5 AS Integer)", V1, Some(json!(-2))),
        ("cast('12' AS Int)", V1, Some(json!(12))),
        ("cast('x' AS Int)", V1, NONE),
        ("cast(null AS Int)", V1, NONE),
        ("cast(false AS Int)", V1, Some(json!(0))),
        ("cast(5 AS Double)", V1, Some(json!(5.0))),
        ("cast(5 AS Double)", V2, Some(json!(5))),
        ("cast(10.0 AS Decimal)", V2, Some(json!(10))),
        ("cast(2.5 AS Decimal)", V2, Some(json!(2.5))),
        ("cast(true AS Decimal)", V2, Some(json!(1))),
        ("cast(0 AS Bool)", V2, Some(json!(false))),
        ("cast(0.5 AS Boolean)", V2, Some(json!(true))),
        ("cast('FALSE' AS Boolean)", V2, Some(json!(false))),
        ("cast([1] AS Boolean)", V2, NONE),
        ("cast(1.5 AS String)", V1, Some(json!("1.5"))),
        ("cast(true AS Nvarchar)", V1, Some(json!("true"))),
        ("cast([1, 'a'] AS varchar)", V2, Some(json!("[1,\"a\"]"))),
        ("cast(null AS Text)", V1, NONE),
        ("cast(7 AS Ntext)", V1, Some(json!("7"))),
    ]);
}
