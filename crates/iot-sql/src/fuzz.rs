//! The body of the `iot_sql` fuzz target, kept in the crate so the corpus replay test and the
//! fuzzer run the same code. It checks invariants and reports a broken one as `Err`; it is not
//! a general-purpose API.

use serde_json::{Value as Json, json};

use crate::context::{Context, Environment, Payload, ShadowRequest};
use crate::statement::Statement;
use crate::template::Template;
use crate::version::SqlVersion;

/// A deterministic environment for fuzzing and tests: a fixed UUID, `rand()` = 0.5, a shadow
/// for thing `"t"`, a failing lookup for `"fail"`, no shadow otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedEnvironment;

impl Environment for FixedEnvironment {
    fn new_uuid(&self) -> String {
        "123e4567-e89b-42d3-a456-426614174000".to_owned()
    }

    fn random(&self) -> f64 {
        0.5
    }

    fn thing_shadow(&self, request: &ShadowRequest<'_>) -> Result<Option<Json>, String> {
        match request.thing {
            "t" => Ok(Some(
                json!({"state": {"reported": {"alarm": "ON"}}, "version": 3}),
            )),
            "fail" => Err("lookup failed".to_owned()),
            _ => Ok(None),
        }
    }
}

/// Interprets `data` as a version byte and text; parses the text as a statement and as a
/// template. Whatever parses must print to text that parses back to the same tree, and must
/// evaluate against a few payloads without panicking. Returns the first broken invariant.
pub fn iot_sql(data: &[u8]) -> Result<(), String> {
    let Some((&selector, rest)) = data.split_first() else {
        return Ok(());
    };
    let version = match selector % 3 {
        0 => SqlVersion::V2015_10_08,
        1 => SqlVersion::V2016_03_23,
        _ => SqlVersion::Beta,
    };
    let text = String::from_utf8_lossy(rest);
    let ctx = Context {
        topic: "sensors/dev-1/data",
        client_id: Some("dev-1"),
        principal: Some("ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373"),
        source_ip: Some("203.0.113.7"),
        trace_id: None,
        account_id: "123456789012",
        timestamp_ms: 1_481_825_251_155,
        environment: &FixedEnvironment,
    };
    let payloads = [
        br#"{"temp": 54.98, "n": 10, "s": "abc", "a": [1, {"v": 2}, "x"], "o": {"b": {"c": null}}, "e": [{"n": "t", "v": 22.5}, {"n": "l", "v": 135}]}"#.as_slice(),
        b"\x00\xff binary".as_slice(),
        b"80".as_slice(),
    ];
    match Statement::parse(&text, version) {
        Ok(statement) => {
            let printed = statement.to_string();
            match Statement::parse(&printed, version) {
                Ok(again) if again == statement => {}
                Ok(_) => {
                    return Err(format!(
                        "{text:?} prints as {printed:?}, which parses differently"
                    ));
                }
                Err(err) => {
                    return Err(format!(
                        "{text:?} prints as {printed:?}, which fails: {err}"
                    ));
                }
            }
            for bytes in payloads {
                let _ = statement.evaluate(&ctx, &Payload::new(bytes));
            }
        }
        Err(err) => check_error(&text, &err)?,
    }
    match Template::parse(&text, version) {
        Ok(template) => {
            let printed = template.to_string();
            match Template::parse(&printed, version) {
                Ok(again) if again == template => {}
                _ => {
                    return Err(format!(
                        "template {text:?} prints as {printed:?}, which differs"
                    ));
                }
            }
            for bytes in payloads {
                let _ = template.render(&ctx, &Payload::new(bytes));
            }
        }
        Err(err) => check_error(&text, &err)?,
    }
    Ok(())
}

fn check_error(text: &str, err: &crate::error::ParseError) -> Result<(), String> {
    if err.message().is_empty() {
        return Err(format!("{text:?}: an error without a message"));
    }
    if err.position().offset > text.len() || err.position().line == 0 {
        return Err(format!(
            "{text:?}: error position {:?} is outside the text",
            err.position()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_garbage_and_statements() {
        assert_eq!(iot_sql(b""), Ok(()));
        assert_eq!(iot_sql(b"\x01\xff\xfe"), Ok(()));
        assert_eq!(
            iot_sql(b"\x01SELECT *, topic(2) AS d FROM 'a/+' WHERE temp > 50"),
            Ok(())
        );
        assert_eq!(iot_sql(b"\x00${topic()}/x/$$y"), Ok(()));
    }
}
