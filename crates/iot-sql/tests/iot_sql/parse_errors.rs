//! Every kind of statement and template that does not parse, with its message and the line and
//! column of the fault (what CreateTopicRule returns to the user).

use iot_sql::{ParseErrorKind, SqlVersion, Statement, Template};

use super::{V1, V2};

use ParseErrorKind::{Syntax, TooDeep, UnknownFunction, UnsupportedFunction, Version};

/// (sql, version, kind, line, column, message).
type Case = (
    &'static str,
    SqlVersion,
    ParseErrorKind,
    usize,
    usize,
    &'static str,
);

const CASES: &[Case] = &[
    (
        "",
        V1,
        Syntax,
        1,
        1,
        "expected SELECT, found the end of the text",
    ),
    (
        "SELEC * FROM 'a'",
        V1,
        Syntax,
        1,
        1,
        "expected SELECT, found `SELEC`",
    ),
    (
        "SELECT FROM 'a'",
        V1,
        Syntax,
        1,
        8,
        "expected an expression, found `FROM`",
    ),
    (
        "SELECT * FROM a/b",
        V1,
        Syntax,
        1,
        15,
        "expected a topic filter in single quotes after FROM (FROM 'sensors/+/data'), found `a`",
    ),
    (
        "SELECT * FROM 'a/#/b'",
        V1,
        Syntax,
        1,
        15,
        "FROM 'a/#/b' is not a valid topic filter: `#` must be a whole level and the last one",
    ),
    (
        "SELECT * FROM 'a/b+'",
        V1,
        Syntax,
        1,
        15,
        "FROM 'a/b+' is not a valid topic filter: `+` must be a whole level",
    ),
    (
        "SELECT * FROM ''",
        V1,
        Syntax,
        1,
        15,
        "FROM '' is not a valid topic filter: it is empty",
    ),
    (
        "SELECT * FROM 'a/b",
        V1,
        Syntax,
        1,
        15,
        "string starting here is never closed with '",
    ),
    (
        "SELECT isString(x) FROM 'a'",
        V1,
        UnknownFunction,
        1,
        8,
        "isString() is not an AWS IoT SQL function (see AWS IoT SQL's function reference)",
    ),
    (
        "SELECT timestmap() FROM 'a'",
        V1,
        UnknownFunction,
        1,
        8,
        "timestmap() is not an AWS IoT SQL function; did you mean timestamp()?",
    ),
    (
        "SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:f', *) FROM 'a'",
        V2,
        UnsupportedFunction,
        1,
        8,
        "aws_lambda() is an AWS IoT SQL function that tether does not support: it invokes an \
         AWS Lambda function during evaluation, which tether does not do",
    ),
    (
        "SELECT decode(x, 'proto') FROM 'a'",
        V2,
        UnsupportedFunction,
        1,
        8,
        "decode(value, 'proto'): tether supports only the 'base64' scheme",
    ),
    (
        "SELECT encode(*, 'base64') FROM 'a'",
        V1,
        Version,
        1,
        8,
        "the function encode() needs awsIotSqlVersion 2016-03-23; this rule uses 2015-10-08 \
         (the default when awsIotSqlVersion is omitted)",
    ),
    (
        "SELECT [1, 2] AS a FROM 'x'",
        V1,
        Version,
        1,
        8,
        "an array literal needs awsIotSqlVersion 2016-03-23; this rule uses 2015-10-08 (the \
         default when awsIotSqlVersion is omitted)",
    ),
    (
        "SELECT (SELECT VALUE n FROM e) AS s FROM 'x'",
        V1,
        Version,
        1,
        9,
        "a nested object query (SELECT inside SELECT) needs awsIotSqlVersion 2016-03-23; this \
         rule uses 2015-10-08 (the default when awsIotSqlVersion is omitted)",
    ),
    (
        "SELECT cast(x AS Bool) FROM 'x'",
        V1,
        Version,
        1,
        18,
        "cast(... AS Bool) needs awsIotSqlVersion 2016-03-23; this rule uses 2015-10-08 (the \
         default when awsIotSqlVersion is omitted)",
    ),
    (
        "SELECT cast(x AS Float) FROM 'x'",
        V2,
        Syntax,
        1,
        18,
        "expected a cast type: String, Nvarchar, Text, Ntext, varchar, Int, Integer, Double, \
         Decimal, Bool or Boolean, found `Float`",
    ),
    (
        "SELECT a b FROM 'x'",
        V1,
        Syntax,
        1,
        10,
        "expected `,`, FROM, WHERE or the end of the statement, found `b`",
    ),
    (
        "SELECT * FROM 'x' WHERE a IS NULL",
        V1,
        Syntax,
        1,
        27,
        "expected an operator or the end of the statement, found `IS`: AWS IoT SQL has no IS \
         operator; use isNull(x) or isUndefined(x)",
    ),
    (
        "SELECT * FROM 'x' WHERE a IN (1, 2)",
        V1,
        Syntax,
        1,
        27,
        "expected an operator or the end of the statement, found `IN`: tether does not support \
         the IN operator yet; use x = a OR x = b",
    ),
    (
        "SELECT * FROM 'x' WHERE",
        V1,
        Syntax,
        1,
        24,
        "expected an expression, found the end of the text",
    ),
    (
        "SELECT CASE a WHEN 1 THEN 2 FROM 'x'",
        V1,
        Syntax,
        1,
        29,
        "expected WHEN, ELSE or END, found `FROM`",
    ),
    (
        "SELECT CASE WHEN a THEN 1 END FROM 'x'",
        V1,
        Syntax,
        1,
        13,
        "expected an expression, found `WHEN`",
    ),
    (
        "SELECT *, * FROM 'x'",
        V1,
        Syntax,
        1,
        11,
        "`*` appears twice in the SELECT list",
    ),
    (
        "SELECT VALUE a, b FROM 'x'",
        V1,
        Syntax,
        1,
        15,
        "SELECT VALUE takes exactly one expression",
    ),
    (
        "SELECT VALUE a AS b FROM 'x'",
        V1,
        Syntax,
        1,
        16,
        "SELECT VALUE takes one expression without an alias",
    ),
    (
        "SELECT a,\n  b c\nFROM 'x'",
        V1,
        Syntax,
        2,
        5,
        "expected `,`, FROM, WHERE or the end of the statement, found `c`",
    ),
    (
        "SELECT (SELECT v) AS x FROM 'y'",
        V2,
        Syntax,
        1,
        17,
        "expected FROM and the array to query (a nested SELECT needs FROM), found `)`",
    ),
    (
        "SELECT temperature \u{2013} 32 FROM 'x'",
        V1,
        Syntax,
        1,
        20,
        "unexpected character '\u{2013}' (U+2013) (a dash copied from a document? use `-`)",
    ),
    (
        "SELECT * FROM 'x';",
        V1,
        Syntax,
        1,
        18,
        "unexpected character ';' (U+003B) (a statement has no terminator)",
    ),
    (
        "SELECT 1e999 FROM 'x'",
        V1,
        Syntax,
        1,
        8,
        "number 1e999 is out of range: tether evaluates decimals as 64-bit floating point \
         (magnitude below 1.8E308)",
    ),
    (
        "SELECT a.from FROM 'x'",
        V1,
        Syntax,
        1,
        10,
        "expected a field name after `.`, found `from`",
    ),
    (
        "SELECT {a: 1} AS o FROM 'x'",
        V2,
        Syntax,
        1,
        9,
        "expected a quoted key ('name') in the object literal, found `a`",
    ),
    (
        "SELECT a[0 FROM 'x'",
        V1,
        Syntax,
        1,
        12,
        "expected `]` after the index, found `FROM`",
    ),
    (
        "SELECT upper(a FROM 'x'",
        V1,
        Syntax,
        1,
        16,
        "expected `,` or `)` in the argument list, found `FROM`",
    ),
    (
        "SELECT (a FROM 'x'",
        V1,
        Syntax,
        1,
        11,
        "expected `)`, found `FROM`",
    ),
    (
        "SELECT a AS 1 FROM 'x'",
        V1,
        Syntax,
        1,
        13,
        "expected a name after AS, found number 1",
    ),
    (
        "SELECT a FROM 'x' WHERE b LIKE 'c%'",
        V1,
        Syntax,
        1,
        27,
        "expected an operator or the end of the statement, found `LIKE`: AWS IoT SQL has no LIKE operator; use regexp_matches(x, 'pattern')",
    ),
];

#[test]
fn every_error_has_its_message_and_position() {
    for (sql, version, kind, line, column, message) in CASES {
        let err = Statement::parse(sql, *version)
            .err()
            .unwrap_or_else(|| panic!("{sql:?} parsed"));
        assert_eq!(err.kind(), *kind, "{sql:?}: {err}");
        assert_eq!(err.message(), *message, "{sql:?}");
        assert_eq!(
            (err.position().line, err.position().column),
            (*line, *column),
            "{sql:?}: {err}"
        );
        assert_eq!(
            err.to_string(),
            format!("line {line}, column {column}: {message}")
        );
    }
}

#[test]
fn deep_statements_are_refused_not_overflowed() {
    let deep = format!("SELECT {}1{} FROM 'x'", "(".repeat(500), ")".repeat(500));
    let err = Statement::parse(&deep, V1).unwrap_err();
    assert_eq!(err.kind(), TooDeep, "{err}");
    let long = format!("SELECT 1{} FROM 'x'", " + 1".repeat(100_000));
    let err = Statement::parse(&long, V1).unwrap_err();
    assert_eq!(err.kind(), TooDeep, "{err}");
    let negations = format!("SELECT {}1 FROM 'x'", "-".repeat(10_000));
    assert_eq!(
        Statement::parse(&negations, V1).unwrap_err().kind(),
        TooDeep
    );
    let nots = format!("SELECT * FROM 'x' WHERE {}true", "NOT ".repeat(10_000));
    assert_eq!(Statement::parse(&nots, V1).unwrap_err().kind(), TooDeep);
    // Parentheses do not deepen the tree: twice MAX_DEPTH of them still parse (in a test
    // thread's 2 MiB stack, unoptimized).
    let parens = iot_sql::MAX_DEPTH * 2;
    let wrapped = format!(
        "SELECT {}1{} FROM 'x'",
        "(".repeat(parens),
        ")".repeat(parens)
    );
    assert!(Statement::parse(&wrapped, V1).is_ok());
    // A long but shallow statement is fine.
    let wide = format!(
        "SELECT {} FROM 'x'",
        (0..2000)
            .map(|i| format!("a{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(Statement::parse(&wide, V1).is_ok());
}

#[test]
fn template_errors_have_positions() {
    for (text, column, message) in [
        (
            "a/${topic()",
            3,
            "substitution template `${` is never closed with `}`",
        ),
        ("${}", 3, "expected an expression, found `}`"),
        (
            "x/${a b}",
            7,
            "expected `}` to close the substitution template, found `b`",
        ),
        (
            "${get_secret('k', 'SecretString', 'v', 'arn')}",
            3,
            "get_secret() is an AWS IoT SQL function that tether does not support: it reads AWS Secrets Manager during evaluation, which tether does not do",
        ),
        ("${'abc}", 3, "string starting here is never closed with '"),
    ] {
        let err = Template::parse(text, V2).unwrap_err();
        assert_eq!(err.message(), message, "{text:?}");
        assert_eq!(err.position().column, column, "{text:?}: {err}");
    }
}
