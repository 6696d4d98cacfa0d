//! Measures evaluation cost: parses a few typical rules once, then evaluates each against a
//! typical telemetry payload many times and prints the time per message (payload parsing
//! included, as the rules engine pays it once per publish). Not a test; run with
//! `cargo run --release -p iot-sql --example throughput`.

use std::time::Instant;

use iot_sql::fuzz::FixedEnvironment;
use iot_sql::{Context, Payload, SqlVersion, Statement, Template};

const RULES: &[&str] = &[
    "SELECT * FROM 'sensors/+/data'",
    "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30",
    "SELECT *, timestamp() AS ts, clientid() AS c FROM 'sensors/+/data' WHERE startswith(topic(2), 'dev') AND humidity < 80",
    "SELECT (SELECT VALUE v FROM readings WHERE n = 'temp') AS temps, upper(status) AS s FROM 'sensors/+/data'",
    "SELECT regexp_replace(status, '[aeiou]', '_') AS r FROM 'sensors/+/data' WHERE regexp_matches(status, '^ok')",
];

fn main() {
    let payload_bytes = br#"{"temp": 35.5, "humidity": 41, "status": "ok-nominal", "readings": [{"n": "temp", "v": 35.5}, {"n": "rh", "v": 41}], "fw": "1.4.2"}"#;
    let ctx = Context {
        topic: "sensors/dev-42/data",
        client_id: Some("dev-42"),
        principal: None,
        source_ip: None,
        trace_id: None,
        account_id: "123456789012",
        timestamp_ms: 1_700_000_000_000,
        environment: &FixedEnvironment,
    };
    let iterations = 200_000;
    for sql in RULES {
        let statement = match Statement::parse(sql, SqlVersion::V2016_03_23) {
            Ok(statement) => statement,
            Err(err) => {
                eprintln!("{sql}: {err}");
                return;
            }
        };
        let start = Instant::now();
        let mut fired = 0;
        for _ in 0..iterations {
            let payload = Payload::new(payload_bytes);
            if let Ok(Some(_)) = statement.evaluate(&ctx, &payload) {
                fired += 1;
            }
        }
        let per = start.elapsed().as_nanos() / iterations;
        println!("{per:>6} ns/message  fired {fired}/{iterations}  {sql}");
    }
    let template = match Template::parse(
        "$$aws/things/${topic(2)}/shadow/update",
        SqlVersion::V2016_03_23,
    ) {
        Ok(template) => template,
        Err(err) => {
            eprintln!("{err}");
            return;
        }
    };
    let payload = Payload::new(payload_bytes);
    let start = Instant::now();
    for _ in 0..iterations {
        let _ = template.render(&ctx, &payload);
    }
    let per = start.elapsed().as_nanos() / iterations;
    println!("{per:>6} ns/render   (payload parsed once)  {template}");
    let start = Instant::now();
    for _ in 0..iterations {
        let _ = Payload::new(payload_bytes);
    }
    let per = start.elapsed().as_nanos() / iterations;
    println!("{per:>6} ns/payload  parse alone");
}
