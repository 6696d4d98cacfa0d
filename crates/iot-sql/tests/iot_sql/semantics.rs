//! The evaluation rules beyond single functions: Undefined drops keys, WHERE fires only on
//! `true`, precedence, SELECT list naming and nesting, the two SQL versions' number handling,
//! JSON extensions, CASE and nested queries at their edges.

use iot_sql::Output;
use serde_json::json;

use super::{V1, V2, output, run, value};

#[test]
fn undefined_drops_keys_and_where_fires_only_on_true() {
    let payload = r#"{"a": 1, "s": "true", "b": true}"#;
    assert_eq!(
        output("SELECT a, missing, missing.deeper FROM 'x'", V1, payload),
        Some(json!({"a": 1}))
    );
    assert_eq!(
        output("SELECT a FROM 'x' WHERE missing > 1", V1, payload),
        None
    );
    assert_eq!(output("SELECT a FROM 'x' WHERE s", V1, payload), None);
    assert_eq!(
        output("SELECT a FROM 'x' WHERE b", V1, payload),
        Some(json!({"a": 1}))
    );
    assert_eq!(output("SELECT a FROM 'x' WHERE a", V1, payload), None);
    assert_eq!(
        output("SELECT a FROM 'x' WHERE s = 'true' AND b", V1, payload),
        Some(json!({"a": 1}))
    );
    // AND with an Undefined side is Undefined, so the rule does not fire.
    assert_eq!(
        output("SELECT a FROM 'x' WHERE b OR missing", V1, payload),
        None
    );
}

#[test]
fn precedence_is_ansi() {
    for (expr, expected) in [
        ("1 + 2 * 3", json!(7)),
        ("(1 + 2) * 3", json!(9)),
        ("10 - 2 - 3", json!(5)),
        ("8 / 2 / 2", json!(2)),
        ("-2 * 3", json!(-6)),
        ("2 - -3", json!(5)),
        ("1 + 1 = 2", json!(true)),
        ("NOT 1 = 2", json!(true)),
        ("true OR false AND false", json!(true)),
        ("(true OR false) AND false", json!(false)),
        ("NOT false AND false", json!(false)),
        ("1 < 2 = true", json!(true)),
        ("'a' + 1 + 2", json!("a12")),
        ("1 + 2 + 'a'", json!("3a")),
        ("7 % 4 * 2", json!(6)),
        ("1 != 2", json!(true)),
        ("1 <> 1.0", json!(false)),
    ] {
        assert_eq!(value(expr, V1, "{}"), Some(expected), "{expr}");
    }
}

#[test]
fn select_list_naming_aliases_and_wildcards() {
    let payload = r#"{"a": {"b": {"c": 5}}, "arr": [10, 20], "color": "red"}"#;
    assert_eq!(
        output(
            "SELECT a.b.c, arr[1], upper(color), 1 + 1, cast(1 AS String) FROM 'x'",
            V1,
            payload
        ),
        Some(json!({"c": 5, "arr": 20, "upper": "RED", "_4": 2, "cast": "1"}))
    );
    assert_eq!(
        output(
            "SELECT * AS message, topic() AS t FROM 'x'",
            V1,
            r#"{"k": 1}"#
        ),
        Some(json!({"message": {"k": 1}, "t": "a/b"}))
    );
    assert_eq!(
        output("SELECT *, 'blue' AS color FROM 'x'", V1, payload)
            .and_then(|o| o.get("color").cloned()),
        Some(json!("blue"))
    );
    assert_eq!(
        output("SELECT 1 AS a.b, 2 AS a.c, 3 AS d FROM 'x'", V1, "{}"),
        Some(json!({"a": {"b": 1, "c": 2}, "d": 3}))
    );
    assert_eq!(
        output("SELECT FROM_X FROM 'x'", V1, r#"{"FROM_X": 1}"#),
        Some(json!({"FROM_X": 1}))
    );
    // `value` stays usable as a field name.
    assert_eq!(
        output("SELECT value FROM 'x'", V1, r#"{"value": 3}"#),
        Some(json!({"value": 3}))
    );
    assert_eq!(
        output("SELECT value * 2 AS v FROM 'x'", V1, r#"{"value": 3}"#),
        Some(json!({"v": 6}))
    );
    assert_eq!(
        output("SELECT VALUE value FROM 'x'", V1, r#"{"value": 3}"#),
        Some(json!(3))
    );
}

#[test]
fn select_value_of_undefined_is_empty() {
    assert_eq!(
        run("SELECT VALUE missing FROM 'x'", V1, "x", b"{}"),
        Ok(Some(Output::Bytes(Vec::new())))
    );
    assert_eq!(
        run("SELECT VALUE * FROM 'x'", V1, "x", b"raw"),
        Ok(Some(Output::Bytes(b"raw".to_vec())))
    );
    assert_eq!(
        run("SELECT VALUE {'a': 1} FROM 'x'", V2, "x", b"{}"),
        Ok(Some(Output::Json(json!({"a": 1}))))
    );
}

#[test]
fn whole_decimals_are_ints_under_2016_only() {
    let payload = r#"{"t": 10.0, "u": 2.5}"#;
    assert_eq!(
        output("SELECT t, u, 3.0 AS l, t / 4 AS q FROM 'x'", V1, payload),
        Some(json!({"t": 10.0, "u": 2.5, "l": 3.0, "q": 2.5}))
    );
    assert_eq!(
        output("SELECT t, u, 3.0 AS l, t / 4 AS q FROM 'x'", V2, payload),
        Some(json!({"t": 10, "u": 2.5, "l": 3, "q": 2}))
    );
    // SELECT * passes the payload through untouched in both versions.
    assert_eq!(
        output("SELECT * FROM 'x'", V2, payload),
        Some(json!({"t": 10.0, "u": 2.5}))
    );
}

#[test]
fn json_extensions_index_and_member_any_value() {
    let payload = r#"{"a": [{"v": 1}, {"v": 2}], "m": {"k": [5, 6]}, "s": "str"}"#;
    for (expr, expected) in [
        ("a[0].v", Some(json!(1))),
        ("a[1].v", Some(json!(2))),
        ("a[2].v", None),
        ("a['1'].v", Some(json!(2))),
        ("m.k[1]", Some(json!(6))),
        ("m['k']", None),
        ("s.x", None),
        ("s[0]", None),
        ("get(a, 1).v", Some(json!(2))),
        ("[10, 20, 30][1]", Some(json!(20))),
        ("{'x': {'y': 7}}.x.y", Some(json!(7))),
        ("(a)[0].v", Some(json!(1))),
    ] {
        assert_eq!(value(expr, V2, payload), expected, "{expr}");
    }
}

#[test]
fn case_matches_by_equality() {
    let payload = r#"{"n": 2, "s": "x"}"#;
    for (expr, expected) in [
        (
            "CASE n WHEN 1 THEN 'one' WHEN 2.0 THEN 'two' END",
            Some(json!("two")),
        ),
        ("CASE n WHEN 1 THEN 'one' END", None),
        (
            "CASE n WHEN 1 THEN 'one' ELSE 'other' END",
            Some(json!("other")),
        ),
        ("CASE missing WHEN 1 THEN 'one' ELSE 'other' END", None),
        ("CASE s WHEN 'x' THEN n * 10 END", Some(json!(20))),
        (
            "CASE '2' WHEN 2 THEN 'number' ELSE 'string' END",
            Some(json!("string")),
        ),
    ] {
        assert_eq!(value(expr, V1, payload), expected, "{expr}");
    }
}

#[test]
fn nested_queries_over_arrays_objects_and_other_values() {
    let payload = r#"{"e": [{"n": "a", "v": 1}, {"n": "b", "v": 2}, {"n": "c"}], "o": {"x": 1, "y": 2}, "s": "str", "nums": [1, 2, 3]}"#;
    for (expr, expected) in [
        ("(SELECT VALUE v FROM e)", Some(json!([1, 2]))),
        (
            "(SELECT n, v FROM e WHERE v > 1)",
            Some(json!([{"n": "b", "v": 2}])),
        ),
        ("(SELECT * FROM e WHERE n = 'c')", Some(json!([{"n": "c"}]))),
        ("(SELECT x FROM o)", Some(json!({"x": 1}))),
        ("(SELECT x FROM o WHERE y = 3)", None),
        ("(SELECT VALUE x FROM s)", None),
        (
            "(SELECT VALUE * FROM nums WHERE * > 1)",
            Some(json!([2, 3])),
        ),
        (
            "(SELECT VALUE n FROM (SELECT * FROM e WHERE isUndefined(v)))",
            Some(json!(["c"])),
        ),
        (
            "(SELECT VALUE topic(1) FROM e)",
            Some(json!(["a", "a", "a"])),
        ),
    ] {
        assert_eq!(value(expr, V2, payload), expected, "{expr}");
    }
}

#[test]
fn literals_and_keywords_are_case_insensitive() {
    assert_eq!(
        output(
            "select true as t, NULL as n, False as f from 'x' where TRUE",
            V1,
            "{}"
        ),
        Some(json!({"t": true, "n": null, "f": false}))
    );
    assert_eq!(value("1.5e1", V1, "{}"), Some(json!(15.0)));
    assert_eq!(value("99999999999999999999", V1, "{}"), Some(json!(1e20)));
    assert_eq!(value("'it\\'s'", V1, "{}"), Some(json!("it's")));
    assert_eq!(
        value("\"say \\\"hi\\\"\"", V1, "{}"),
        Some(json!("say \"hi\""))
    );
    assert_eq!(value("'tab\\there'", V1, "{}"), Some(json!("tab\there")));
}

#[test]
fn statements_print_canonically() {
    let statement = super::parse(
        "select *, (temp - 32) * 5 / 9 as c, a.b[0] from 'x/+' where not (x = 1 or y <> 'q')",
        V2,
    );
    assert_eq!(
        statement.to_string(),
        "SELECT *, (temp - 32) * 5 / 9 AS c, a.b[0] FROM 'x/+' WHERE NOT (x = 1 OR y <> 'q')"
    );
}

#[test]
fn the_deepest_accepted_statements_evaluate_and_print() {
    // Just under MAX_DEPTH, each in a form that recurses differently.
    let n = iot_sql::MAX_DEPTH / 2 - 2;
    let calls = format!("{}1{}", "abs(".repeat(n), ")".repeat(n));
    let sums = format!("{}1{}", "(1 + ".repeat(n), ")".repeat(n));
    let members = format!("o{}", ".o".repeat(n));
    let negations = format!("{}1", "-".repeat(n));
    let arrays = format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let queries = format!(
        "{}e{}",
        "(SELECT VALUE * FROM ".repeat(n / 4),
        ")".repeat(n / 4)
    );
    for expr in [calls, sums, members, negations, arrays, queries] {
        let sql = format!("SELECT {expr} AS v FROM 'x' WHERE {expr} <> 'z'");
        let statement = super::parse(&sql, V2);
        let again = super::parse(&statement.to_string(), V2);
        assert_eq!(again, statement);
        let payload = iot_sql::Payload::new(br#"{"o": {"o": 1}, "e": [1, 2]}"#);
        let _ = statement.evaluate(&super::ctx("x"), &payload).unwrap();
    }
}
