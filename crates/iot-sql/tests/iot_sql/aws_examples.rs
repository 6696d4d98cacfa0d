//! AWS's documented examples, statement by statement: the SQL, the incoming payload and the
//! outgoing payload exactly as the developer guide's pages give them (page named in each row).
//! Where a page's example contradicts itself, the row says how and follows the page's table.

use iot_sql::{EvalError, Output, Payload, Statement, Template, basic_ingest_topic};
use serde_json::{Value as Json, json};

use super::{NOW, V1, V2, ctx, output, parse, run};

/// (page, version, sql, payload, expected output or None when the rule does not fire).
type Example = (
    &'static str,
    iot_sql::SqlVersion,
    &'static str,
    &'static str,
    Option<Json>,
);

fn examples() -> Vec<Example> {
    let e_payload = r#"{"e": [
        {"n": "temperature", "u": "Cel", "t": 1234, "v": 22.5},
        {"n": "light", "u": "lm", "t": 1235, "v": 135},
        {"n": "acidity", "u": "pH", "t": 1235, "v": 7}]}"#;
    let transform_payload = r#"{"attributes": {"data1": 1, "data2": 2},
        "values": [{"a": 3}, {"b": 4}, {"c": 5}]}"#;
    let transform3_payload = r#"{"data1": "example", "data2": {"a": "first attribute",
        "b": "second attribute", "c": [{"x": {"someInt": 5, "someString": "hello"}, "y": true},
        {"x": {"someInt": 10, "someString": "world"}, "y": false}]}}"#;
    let device = r#"{"deviceid": "iot123", "temp": 54.98, "humidity": 32.43,
        "coords": {"latitude": 47.615694, "longitude": -122.3359976}}"#;
    let color50 = r#"{"color":"red", "temperature":50}"#;
    vec![
        (
            "iot-sql-reference",
            V1,
            "SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50",
            r#"{"color":"red","temperature":100}"#,
            Some(json!({"rgb": "red"})),
        ),
        (
            "iot-sql-select",
            V1,
            "SELECT * FROM 'a/b'",
            color50,
            Some(json!({"color": "red", "temperature": 50})),
        ),
        (
            "iot-sql-select",
            V1,
            "SELECT color FROM 'a/b'",
            color50,
            Some(json!({"color": "red"})),
        ),
        (
            "iot-sql-select",
            V1,
            "SELECT color AS my_color FROM 'a/b'",
            color50,
            Some(json!({"my_color": "red"})),
        ),
        (
            "iot-sql-select",
            V1,
            "SELECT color as my_color, temperature as fahrenheit FROM 'a/b'",
            color50,
            Some(json!({"my_color": "red", "fahrenheit": 50})),
        ),
        (
            "iot-sql-select",
            V1,
            "SELECT *, 15 as speed FROM 'a/b'",
            color50,
            Some(json!({"color": "red", "temperature": 50, "speed": 15})),
        ),
        (
            "iot-sql-select",
            V1,
            "SELECT VALUE color FROM 'a/b'",
            color50,
            Some(json!("red")),
        ),
        (
            "iot-sql-select",
            V1,
            "SELECT color.red as red_value FROM 'a/b'",
            r#"{"color":{"red":255,"green":0,"blue":0}, "temperature":50}"#,
            Some(json!({"red_value": 255})),
        ),
        // The page writes an en dash in `temperature – 32`; a minus is meant.
        (
            "iot-sql-select",
            V1,
            "SELECT (temperature - 32) * 5 / 9 AS celsius, upper(color) as my_color FROM 'a/b'",
            color50,
            Some(json!({"celsius": 10, "my_color": "RED"})),
        ),
        (
            "iot-sql-where",
            V1,
            "SELECT color AS my_color FROM 'a/b' WHERE temperature > 50 AND color <> 'red'",
            r#"{"color":"red", "temperature":40}"#,
            None,
        ),
        (
            "iot-sql-from",
            V1,
            "SELECT temperature AS t FROM 'a/b'",
            r#"{"temperature": 50}"#,
            Some(json!({"t": 50})),
        ),
        // The page writes `FROM topic/#` unquoted; the FROM page requires quotes.
        (
            "iot-sql-json",
            V1,
            "SELECT temp, md5(deviceid) AS hashed_id FROM 'topic/#'",
            device,
            Some(json!({"temp": 54.98, "hashed_id": "e37f81fb397e595c4aeb5645b8cbbbd1"})),
        ),
        (
            "iot-sql-json",
            V1,
            "SELECT foo.bar AS bar.baz FROM 'a/b'",
            r#"{"foo": {"bar": 7}}"#,
            Some(json!({"bar": {"baz": 7}})),
        ),
        (
            "iot-sql-nested-queries",
            V2,
            "SELECT (SELECT VALUE n FROM e) as sensors FROM 'my/topic'",
            e_payload,
            Some(json!({"sensors": ["temperature", "light", "acidity"]})),
        ),
        (
            "iot-sql-nested-queries",
            V2,
            "SELECT (SELECT v FROM e WHERE n = 'temperature') as temperature FROM 'my/topic'",
            e_payload,
            Some(json!({"temperature": [{"v": 22.5}]})),
        ),
        (
            "iot-sql-nested-queries",
            V2,
            "SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v as temperature FROM 'topic'",
            e_payload,
            Some(json!({"temperature": 22.5})),
        ),
        (
            "iot-sql-case",
            V1,
            "SELECT CASE color WHEN 'green' THEN 'go' WHEN 'yellow' THEN 'caution' WHEN 'red' \
             THEN 'stop' ELSE 'you are not at a stop light' END as instructions FROM 'a/b'",
            r#"{"color":"yellow"}"#,
            Some(json!({"instructions": "caution"})),
        ),
        (
            "iot-sql-literals",
            V2,
            "SELECT {'latitude': get(lat_long, 0),'longitude':get(lat_long, 1)} as lat_long \
             FROM 'topic/subtopic'",
            r#"{"lat_long": [47.606,-122.332]}"#,
            Some(json!({"lat_long": {"latitude": 47.606, "longitude": -122.332}})),
        ),
        // The page's payload says 47.696 and its output 47.606; the output copies the input.
        (
            "iot-sql-literals",
            V2,
            "SELECT [lat,long] as lat_long FROM 'topic/subtopic'",
            r#"{"lat": 47.606, "long": -122.332}"#,
            Some(json!({"lat_long": [47.606, -122.332]})),
        ),
        (
            "iot-rule-sql-version",
            V2,
            "SELECT VALUE arr FROM 'topic'",
            r#"{"a": {"b":"c"}, "arr":[1,2,3,4]}"#,
            Some(json!([1, 2, 3, 4])),
        ),
        (
            "iot-sql-data-types",
            V1,
            "SELECT NULL AS n FROM 'a/b'",
            "{}",
            Some(json!({"n": null})),
        ),
        (
            "iot-sql-data-types",
            V1,
            "SELECT foo, bar FROM 'a/b'",
            r#"{"foo": null}"#,
            Some(json!({"foo": null})),
        ),
        (
            "iot-sql-functions (decode)",
            V2,
            "SELECT decode(encoded_temp,\"base64\").temperature AS temp from 'topic/subtopic'",
            r#"{"encoded_temp": "eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg=="}"#,
            Some(json!({"temp": 33})),
        ),
        (
            "iot-sql-functions (transform 1)",
            V2,
            "select value transform(\"enrichArray\", attributes, values) from 'A/B'",
            transform_payload,
            Some(json!([
                {"a": 3, "data1": 1, "data2": 2},
                {"b": 4, "data1": 1, "data2": 2},
                {"c": 5, "data1": 1, "data2": 2}
            ])),
        ),
        (
            "iot-sql-functions (transform 2)",
            V2,
            "select value transform(\"enrichArray\", {\"key\": attributes.data1}, values) from 'A/B'",
            transform_payload,
            Some(json!([{"a": 3, "key": 1}, {"b": 4, "key": 1}, {"c": 5, "key": 1}])),
        ),
        (
            "iot-sql-functions (transform 3)",
            V2,
            "select value transform('enrichArray', (select a, b from data2), (select value c from data2)) from 'A/B'",
            transform3_payload,
            Some(json!([
                {"x": {"someInt": 5, "someString": "hello"}, "y": true,
                 "a": "first attribute", "b": "second attribute"},
                {"x": {"someInt": 10, "someString": "world"}, "y": false,
                 "a": "first attribute", "b": "second attribute"}
            ])),
        ),
        (
            "iot-sql-functions (get_thing_shadow)",
            V2,
            "SELECT * from 'topic/subtopic' WHERE get_thing_shadow(\"t\",\"MyThingShadow\",\
             \"arn:aws:iam::123456789012:role/AllowsThingShadowAccess\").state.reported.alarm = 'ON'",
            r#"{"x": 1}"#,
            Some(json!({"x": 1})),
        ),
        (
            "iot-sql-functions (get_thing_shadow)",
            V2,
            "SELECT * from 'topic/subtopic' WHERE get_thing_shadow(\"MyThing\",\
             \"arn:aws:iam::123456789012:role/AllowsThingShadowAccess\").state.reported.alarm = 'ON'",
            r#"{"x": 1}"#,
            None,
        ),
        (
            "iot-substitution-templates",
            V1,
            "SELECT *, timestamp() AS timestamp FROM 'my/iot/topic'",
            device,
            Some(
                json!({"deviceid": "iot123", "temp": 54.98, "humidity": 32.43,
                "coords": {"latitude": 47.615694, "longitude": -122.3359976}, "timestamp": NOW}),
            ),
        ),
    ]
}

#[test]
fn every_documented_statement_gives_the_documented_output() {
    for (page, version, sql, payload, expected) in examples() {
        assert_eq!(output(sql, version, payload), expected, "{page}: {sql}");
    }
}

#[test]
fn from_filters_match_as_the_from_page_says() {
    let hash = parse("SELECT temperature AS t FROM 'a/#'", V1);
    let plus = parse("SELECT temperature AS t FROM 'a/+'", V1);
    for (topic, by_hash, by_plus) in [
        ("a/b", true, true),
        ("a/c", true, true),
        ("a/e/f", true, false),
        ("b/x", false, false),
    ] {
        assert_eq!(hash.matches_topic(topic), by_hash, "a/# on {topic}");
        assert_eq!(plus.matches_topic(topic), by_plus, "a/+ on {topic}");
    }
}

#[test]
fn binary_payloads_follow_the_binary_payload_page() {
    let binary: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x01";
    // SELECT * passes the bytes through.
    assert_eq!(
        run("SELECT * FROM 'a/b'", V1, "a/b", binary),
        Ok(Some(Output::Bytes(binary.to_vec())))
    );
    // Only functions: allowed.
    let out = run(
        "SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'a/b'",
        V2,
        "a/b",
        binary,
    );
    assert_eq!(
        out,
        Ok(Some(Output::Json(
            json!({"data": "iVBORw0KGgoAAQ==", "ts": NOW})
        )))
    );
    // A JSON name in WHERE: not allowed.
    let err = run(
        "SELECT * FROM 'a/b' WHERE device_type = 'thermostat'",
        V1,
        "a/b",
        binary,
    );
    assert_eq!(
        err,
        Err(EvalError::NotJson {
            field: "device_type".into()
        })
    );
    // `*` with another item: not allowed.
    let err = run(
        "SELECT *, timestamp() AS timestamp FROM 'a/b'",
        V1,
        "a/b",
        binary,
    );
    assert_eq!(err, Err(EvalError::BinaryWildcard));
    // Functions in WHERE: allowed (NOW is a multiple of 12).
    assert_eq!(
        run(
            "SELECT * FROM 'a/b' WHERE timestamp() % 12 = 0",
            V1,
            "a/b",
            binary
        ),
        Ok(Some(Output::Bytes(binary.to_vec())))
    );
    // A template naming a JSON field: not allowed.
    let template = Template::parse("device/${device_id}", V1).unwrap();
    assert_eq!(
        template.render(&ctx("a/b"), &Payload::new(binary)),
        Err(EvalError::NotJson {
            field: "device_id".into()
        })
    );
    // The WHERE page's non-JSON example: the payload `80` decodes to a number.
    let sql = "SELECT decode(encode(*, 'base64'), 'base64') AS value FROM 'topic/subtopic' \
               WHERE decode(encode(*, 'base64'), 'base64') > 50";
    assert_eq!(
        run(sql, V2, "topic/subtopic", b"80"),
        Ok(Some(Output::Json(json!({"value": 80}))))
    );
}

#[test]
fn substitution_template_example_renders_the_documented_topic() {
    let template = Template::parse("${topic()}/republish", V1).unwrap();
    let payload = Payload::new(br#"{"deviceid": "iot123", "temp": 54.98}"#);
    assert_eq!(
        template.render(&ctx("my/iot/topic"), &payload).unwrap(),
        "my/iot/topic/republish"
    );
}

#[test]
fn basic_ingest_topics_lose_their_prefix_for_topic() {
    let full = "$aws/rules/BuildingManager/Buildings/Building5/Floor2/Room201/Lights";
    let (rule, topic) = basic_ingest_topic(full).unwrap();
    assert_eq!(rule, "BuildingManager");
    let statement = Statement::parse("SELECT topic() AS t, topic(3) AS f", V1).unwrap();
    assert_eq!(statement.from_filter(), None);
    let out = statement
        .evaluate(&ctx(topic), &Payload::new(b"{}"))
        .unwrap();
    assert_eq!(
        out,
        Some(Output::Json(json!({
            "t": "Buildings/Building5/Floor2/Room201/Lights",
            "f": "Floor2"
        })))
    );
}

#[test]
fn arrays_are_top_level_output_only_from_2016() {
    let payload = r#"{"arr":[1,2,3,4]}"#;
    assert_eq!(
        run(
            "SELECT VALUE arr FROM 'topic'",
            V1,
            "topic",
            payload.as_bytes()
        ),
        Err(EvalError::ArrayOutput)
    );
}
