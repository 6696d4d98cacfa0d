//! End-to-end test of `tether bench`: the real binary runs a tiny fan-in and a tiny connection
//! storm against `tether serve` (demo device, mutual TLS, port 0) and its JSON must account for
//! every message and report sane numbers.

use std::process::Command;

use serde_json::Value;
use test_support::process::Tether;

use crate::support::tether;

fn bench(server: &Tether, args: &[&str]) -> Value {
    let port = server.addr("mqtts").port().to_string();
    let output = Command::new(tether())
        .arg("bench")
        .args(args)
        .args(["--host", "localhost", "-p", &port, "--json", "--quiet"])
        .arg("--data-dir")
        .arg(server.data_dir())
        .args(["--broker-pid", &server.pid().to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tether bench {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn fan_in_delivers_everything_and_connect_counts_handshakes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Tether::serve(tether(), &dir.path().join("data"), &["--no-api"]).unwrap();

    // Enough messages that the generator's CPU time shows in /proc's 10 ms ticks: 200 took
    // 21 ms of wall time on a quiet machine and read as 0 s of CPU.
    let fan_in = bench(
        &server,
        &["fan-in", "--publishers", "2", "-n", "5000", "-q", "1"],
    );
    assert_eq!(fan_in["scenario"], "fan-in");
    assert_eq!(fan_in["sent"], 5000);
    assert_eq!(fan_in["expected"], 5000);
    assert_eq!(fan_in["received"], 5000);
    assert_eq!(fan_in["lost"], 0);
    assert_eq!(fan_in["duplicates"], 0);
    assert!(fan_in["errors"].as_array().unwrap().is_empty(), "{fan_in}");
    assert!(fan_in["delivery_rate"].as_f64().unwrap() > 0.0);
    let latency = &fan_in["latency"];
    assert_eq!(latency["count"], 5000);
    let (p50, p99, max) = (
        latency["p50_us"].as_u64().unwrap(),
        latency["p99_us"].as_u64().unwrap(),
        latency["max_us"].as_u64().unwrap(),
    );
    assert!(p50 > 0 && p50 <= p99 && p99 <= max, "{latency}");
    assert!(
        max < 30_000_000,
        "a latency above 30 s on loopback: {latency}"
    );
    let generator = &fan_in["generator"];
    assert!(
        generator["cpu_seconds"].as_f64().unwrap() > 0.0,
        "{generator}"
    );
    assert!(fan_in["broker"]["rss_kib"].as_u64().unwrap() > 1_000);

    let connect = bench(&server, &["connect", "-c", "10", "--concurrency", "4"]);
    let figures = &connect["connect"];
    assert_eq!(figures["succeeded"], 10);
    assert_eq!(figures["failed"], 0);
    assert!(figures["handshakes_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(figures["connack"]["count"], 10);
    assert!(figures["connack"]["p50_us"].as_u64().unwrap() > 0);
}

#[test]
fn shadow_updates_are_measured_against_plain_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Tether::serve(tether(), &dir.path().join("data"), &["--no-api"]).unwrap();
    let report = bench(&server, &["shadow", "-c", "4", "-d", "1"]);
    let shadow = &report["shadow"];
    assert_eq!(shadow["things"], 4, "{report}");
    assert!(shadow["updates"].as_u64().unwrap() > 0, "{report}");
    assert!(
        shadow["publish_round_trips"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert_eq!(
        shadow["update_to_delta"]["count"].as_u64(),
        shadow["updates"].as_u64()
    );
    let ratio = shadow["ratio_to_publish"].as_f64().unwrap();
    assert!(ratio > 0.0 && ratio.is_finite(), "{report}");
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
}
