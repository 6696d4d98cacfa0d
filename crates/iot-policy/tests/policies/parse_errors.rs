//! Parse errors: each names the field by its path and says what was expected. One
//! `check_error(document, message)` per case so a failure shows exactly which message changed.

use iot_policy::{Policy, PolicyError};

#[track_caller]
fn check_error(document: &str, message: &str) {
    match Policy::parse(document) {
        Ok(_) => panic!("parsed, but expected the error: {message}"),
        Err(err) => assert_eq!(err.to_string(), message),
    }
}

/// Wraps statement text in a 2012-10-17 document with a `Statement` array.
fn statements(text: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":{text}}}"#)
}

const OK: &str = r#"{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}"#;

#[test]
fn effect_is_case_sensitive() {
    check_error(
        &statements(&format!(
            r#"[{OK},{OK},{{"Effect":"allow","Action":"iot:Connect","Resource":"*"}}]"#
        )),
        r#"Statement[2].Effect: expected "Allow" or "Deny", found "allow""#,
    );
}

#[test]
fn effect_missing_or_wrong_type() {
    check_error(
        &statements(r#"[{"Action":"iot:Connect","Resource":"*"}]"#),
        r#"Statement[0]: missing "Effect" ("Allow" or "Deny")"#,
    );
    check_error(
        &statements(r#"[{"Effect":true,"Action":"iot:Connect","Resource":"*"}]"#),
        r#"Statement[0].Effect: expected "Allow" or "Deny", found a boolean"#,
    );
}

#[test]
fn action_and_not_action_are_exclusive() {
    check_error(
        &statements(
            r#"[{"Effect":"Allow","Action":"iot:Connect","NotAction":"iot:Publish","Resource":"*"}]"#,
        ),
        r#"Statement[0]: has both "Action" and "NotAction"; a statement takes one of them"#,
    );
    check_error(
        &statements(r#"[{"Effect":"Allow","Resource":"*"}]"#),
        r#"Statement[0]: missing "Action" (or "NotAction")"#,
    );
}

#[test]
fn resource_missing_or_doubled() {
    check_error(
        &statements(r#"[{"Effect":"Allow","Action":"iot:Connect"}]"#),
        r#"Statement[0]: missing "Resource" (or "NotResource")"#,
    );
    check_error(
        &statements(
            r#"[{"Effect":"Allow","Action":"iot:Connect","Resource":"*","NotResource":"*"}]"#,
        ),
        r#"Statement[0]: has both "Resource" and "NotResource"; a statement takes one of them"#,
    );
}

#[test]
fn action_entries_must_name_a_service() {
    check_error(
        &statements(r#"[{"Effect":"Allow","Action":["iot:Connect","Publish"],"Resource":"*"}]"#),
        r#"Statement[0].Action[1]: expected "*" or "service:action" such as "iot:Publish" or "iot:*", found "Publish""#,
    );
}

#[test]
fn resources_must_be_arns() {
    check_error(
        &statements(r#"[{"Effect":"Allow","Action":"iot:Publish","Resource":"topic/a"}]"#),
        r#"Statement[0].Resource: expected "*" or an ARN such as "arn:aws:iot:us-east-1:123456789012:topic/sensors/*", found "topic/a""#,
    );
}

#[test]
fn list_members_must_be_strings_and_lists_non_empty() {
    check_error(
        &statements(r#"[{"Effect":"Allow","Action":"iot:Publish","Resource":["*",7]}]"#),
        r#"Statement[0].Resource[1]: expected a string, found a number"#,
    );
    check_error(
        &statements(r#"[{"Effect":"Allow","Action":[],"Resource":"*"}]"#),
        r#"Statement[0].Action: is an empty array; list at least one entry"#,
    );
    check_error(
        &statements(r#"[{"Effect":"Allow","Action":{"a":1},"Resource":"*"}]"#),
        r#"Statement[0].Action: expected a string or an array of strings, found an object"#,
    );
}

#[test]
fn unclosed_variable_points_at_the_dollar() {
    check_error(
        &statements(
            r#"[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/${iot:ClientId"}]"#,
        ),
        r#"Statement[0].Resource: "${" at character 23 is not closed by "}"; write "${$}" for a literal "$""#,
    );
    check_error(
        &statements(
            r#"[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/${}"}]"#,
        ),
        r#"Statement[0].Resource: empty policy variable "${}" at character 23; name a variable such as "${iot:ClientId}""#,
    );
}

#[test]
fn unknown_and_miscased_statement_keys() {
    check_error(
        &statements(r#"[{"Effect":"Allow","action":"iot:Connect","Resource":"*"}]"#),
        r#"Statement[0].action: unknown key; keys are case-sensitive: write "Action""#,
    );
    check_error(
        &statements(r#"[{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Comment":"x"}]"#),
        r#"Statement[0].Comment: unknown key; expected Sid, Effect, Action or NotAction, Resource or NotResource, and Condition"#,
    );
}

#[test]
fn principal_is_rejected_with_advice() {
    check_error(
        &statements(
            r#"[{"Effect":"Allow","Principal":"*","Action":"iot:Connect","Resource":"*"}]"#,
        ),
        r#"Statement[0].Principal: AWS IoT policies take no principal; attach the policy to a certificate or thing group instead"#,
    );
}

#[test]
fn duplicate_keys_are_rejected() {
    check_error(
        &statements(
            r#"[{"Effect":"Deny","Effect":"Allow","Action":"iot:Connect","Resource":"*"}]"#,
        ),
        r#"Statement[0]: duplicate key "Effect""#,
    );
}

#[test]
fn document_level_errors() {
    check_error(
        "[]",
        "policy document: expected a JSON object, found an array",
    );
    check_error(
        r#"{"Version":"2012-10-17"}"#,
        r#"policy document: missing "Statement""#,
    );
    check_error(
        r#"{"Version":"2012-10-18","Statement":[]}"#,
        r#"Version: expected "2012-10-17" or "2008-10-17", found "2012-10-18""#,
    );
    check_error(
        r#"{"Version":"2012-10-17","Statement":"x"}"#,
        "Statement: expected an object or an array of objects, found a string",
    );
    check_error(
        r#"{"version":"2012-10-17","Statement":[]}"#,
        r#"version: unknown key; keys are case-sensitive: write "Version""#,
    );
    check_error(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny"}}"#,
        r#"Statement: missing "Action" (or "NotAction")"#,
    );
}

#[test]
fn statement_must_be_an_object() {
    check_error(
        &statements(r#"["x"]"#),
        "Statement[0]: expected a statement object, found a string",
    );
}

#[test]
fn sid_must_be_a_string() {
    check_error(
        &statements(r#"[{"Sid":1,"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]"#),
        "Statement[0].Sid: expected a string, found a number",
    );
}

#[test]
fn condition_errors_carry_the_full_path() {
    check_error(
        &statements(
            r#"[{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"yes"}}}]"#,
        ),
        r#"Statement[0].Condition.Bool.iot:Connection.Thing.IsAttached: expected "true" or "false", found "yes""#,
    );
}

#[test]
fn json_syntax_errors_keep_line_and_column() {
    let err = Policy::parse("{\"Version\": \"2012-10-17\",\n  \"Statement\": [}").unwrap_err();
    assert!(matches!(err, PolicyError::Json(_)));
    let message = err.to_string();
    assert!(
        message.starts_with("policy document is not valid JSON: "),
        "{message}"
    );
    assert!(message.contains("line 2"), "{message}");
    assert!(Policy::from_slice(b"\xff\xfe").is_err());
}

#[test]
fn empty_statement_array_parses_and_allows_nothing() {
    let p = Policy::parse(&statements("[]")).unwrap();
    assert!(p.statements().is_empty());
}
