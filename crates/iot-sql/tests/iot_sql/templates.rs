//! Substitution templates: `${expression}` parts evaluated against the message, `$$` for a
//! literal `$` (republish to `$aws/...` topics), values written with AWS's string conversion.

use iot_sql::{Part, Payload, Template};

use super::{V1, V2, ctx};

fn render(text: &str, payload: &str) -> String {
    let template = Template::parse(text, V2).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    template
        .render(
            &ctx("sensors/dev-1/data"),
            &Payload::new(payload.as_bytes()),
        )
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn expressions_dollars_and_conversions() {
    let payload = r#"{"id": "th-1", "n": 10, "d": 2.5, "b": true, "a": [1, "x"], "o": {"k": null}, "z": null}"#;
    for (text, expected) in [
        ("${topic()}/republish", "sensors/dev-1/data/republish"),
        (
            "$$aws/things/${id}/shadow/update",
            "$aws/things/th-1/shadow/update",
        ),
        ("$$$$", "$$"),
        ("cost: $5", "cost: $5"),
        ("trailing $", "trailing $"),
        ("${n}-${d}-${b}", "10-2.5-true"),
        ("${a}", "[1,\"x\"]"),
        ("${o}", "{\"k\":null}"),
        ("[${missing}]", "[]"),
        ("[${z}]", "[]"),
        ("${upper(id) + '/' + topic(2)}", "TH-1/dev-1"),
        ("${parse_time('yyyy', timestamp(), 'UTC')}", "2016"),
        ("${ {'k': n}.k }", "10"),
        (
            "https://example.com/${clientid()}?t=${timestamp()}",
            "https://example.com/dev-1?t=1481825251152",
        ),
        ("", ""),
        ("plain", "plain"),
    ] {
        assert_eq!(render(text, payload), expected, "{text:?}");
    }
}

#[test]
fn literal_templates_are_known_as_such() {
    let template = Template::parse("$$aws/x", V1).unwrap();
    assert!(template.is_literal());
    assert_eq!(template.parts(), &[Part::Text("$aws/x".into())]);
    assert!(!Template::parse("a/${b}", V1).unwrap().is_literal());
}

#[test]
fn templates_print_back_to_themselves() {
    for text in [
        "$$aws/things/${topic(2)}/shadow/update",
        "a${b.c[0]}b$$c",
        "${ {'k': 1} }",
    ] {
        let template = Template::parse(text, V2).unwrap();
        let printed = template.to_string();
        assert_eq!(
            Template::parse(&printed, V2).unwrap(),
            template,
            "{text:?} -> {printed:?}"
        );
    }
}

#[test]
fn template_expressions_follow_the_rule_version() {
    assert!(Template::parse("${[1]}", V1).is_err());
    assert!(Template::parse("${[1]}", V2).is_ok());
}
