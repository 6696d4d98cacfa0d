//! The web console (`/console` on the API listener): headless Chromium drives it as a person
//! would (tests/python/console_page.py: the demo device connecting, a shadow edit reaching the
//! device as a delta, the MQTT test client both ways, a revoked certificate dropping the device
//! and its refusal explained, a screenshot of each page under the target directory), and the
//! door beyond loopback — login, session cookie, CSRF token, origin — is checked over plain
//! HTTP, and what the console's routes and event streams show is checked against what the AWS
//! CLI, the devices and the refusal record say the server holds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use std::io::{BufRead, BufReader};

use serde_json::Value;

use crate::support::{
    LOG_WAIT, aws, demo_tls, mosquitto_pub, read_packet, read_until, start, subscriber, venv_bin,
};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the screenshots of each page are kept (not committed; docs/console.png is one of
/// them, copied by hand).
fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_console_in_chromium_shows_devices_shadows_traffic_and_refusals() {
    let (_dir, server) = start(&["--wss", "127.0.0.1:0"]);
    let api = server.ready_value("api").unwrap().to_owned();
    let shots = screenshot_dir();
    let output = Command::new(venv_bin().join("python"))
        .arg(root().join("tests/python/console_page.py"))
        .arg(format!("{api}/console/"))
        .arg(server.data_dir())
        .arg(server.addr("mqtts").port().to_string())
        .arg(&shots)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "console_page.py failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.logs().join("\n")
    );
    for expected in [
        "the sessions page shows the demo device connected",
        "the device received the delta on update/delta",
        "mosquitto_sub received what the page published over WebSockets",
        "the page shows it from the event stream",
        "the refusal is listed with the doctor's explanation",
        "checks passed",
    ] {
        assert!(stdout.contains(expected), "{expected}:\n{stdout}");
    }
    for page in [
        "overview",
        "things",
        "thing",
        "certificates",
        "policies",
        "sessions",
        "refusals",
        "mqtt",
    ] {
        let png = std::fs::read(shots.join(format!("{page}.png"))).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{page}.png"
        );
    }
}

/// One HTTP/1.1 request with `Connection: close`: status, head, body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

#[test]
fn beyond_loopback_the_console_needs_a_login_a_cookie_and_the_csrf_token() {
    let (_dir, server) = start(&["--api", "0.0.0.0:0", "--api-credential", "AKCONSOLE:s3cret"]);
    let port: u16 = server
        .ready_value("api")
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();

    let (status, _, page) = http(addr, "GET", "/console/", &[], "");
    assert_eq!(status, 200);
    assert!(page.contains("assets/app.js"), "{page}");
    let (status, _, who) = http(addr, "GET", "/console/api/whoami", &[], "");
    assert_eq!(status, 200);
    assert!(who.contains("\"authenticated\":false"), "{who}");
    let (status, _, _) = http(addr, "GET", "/console/api/sessions", &[], "");
    assert_eq!(status, 401);
    let (status, _, _) = http(addr, "GET", "/console/aws/iot/things", &[], "");
    assert_eq!(status, 401);

    let json = [("Content-Type", "application/json")];
    let wrong = r#"{"accessKeyId":"AKCONSOLE","secretAccessKey":"nope"}"#;
    let (status, _, body) = http(addr, "POST", "/console/api/login", &json, wrong);
    assert_eq!(status, 401, "{body}");
    let right = r#"{"accessKeyId":"AKCONSOLE","secretAccessKey":"s3cret"}"#;
    let (status, head, body) = http(addr, "POST", "/console/api/login", &json, right);
    assert_eq!(status, 200, "{body}");
    let set_cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let cookie = set_cookie
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf: serde_json::Value = serde_json::from_str(&body).unwrap();
    let csrf = csrf["csrf"].as_str().unwrap().to_owned();

    let with_cookie = [("Cookie", cookie.as_str())];
    let (status, _, who) = http(addr, "GET", "/console/api/whoami", &with_cookie, "");
    assert_eq!(status, 200);
    assert!(who.contains("\"accessKeyId\":\"AKCONSOLE\""), "{who}");
    // AWS operations want the token, reads too (some GETs change things).
    let (status, _, body) = http(addr, "GET", "/console/aws/iot/things", &with_cookie, "");
    assert_eq!(status, 403, "{body}");
    let reading = [
        ("Cookie", cookie.as_str()),
        ("X-Tether-Csrf", csrf.as_str()),
    ];
    let (status, _, things) = http(addr, "GET", "/console/aws/iot/things", &reading, "");
    assert_eq!(status, 200, "{things}");
    assert!(things.contains("demo-device"), "{things}");
    let (status, _, found) = http(addr, "GET", "/console/api/things?q=DEMO", &with_cookie, "");
    assert_eq!(status, 200, "{found}");
    assert!(found.contains("\"total\":1"), "{found}");

    // A write without the token, or from another origin, is refused; with it, it is done.
    let kick = "/console/api/sessions/nobody/kick";
    let (status, _, body) = http(addr, "POST", kick, &with_cookie, "");
    assert_eq!(status, 403, "{body}");
    let with_token = [
        ("Cookie", cookie.as_str()),
        ("X-Tether-Csrf", csrf.as_str()),
    ];
    let (status, _, body) = http(addr, "POST", kick, &with_token, "");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not connected"), "{body}");
    let foreign = [
        ("Cookie", cookie.as_str()),
        ("X-Tether-Csrf", csrf.as_str()),
        ("Origin", "http://elsewhere.example"),
    ];
    let (status, _, _) = http(addr, "POST", kick, &foreign, "");
    assert_eq!(status, 403);

    // The console's session is not an API credential: the signed API still wants SigV4.
    let (status, _, _) = http(addr, "GET", "/things", &with_cookie, "");
    assert_eq!(status, 403);

    let (status, _, _) = http(addr, "POST", "/console/api/logout", &with_token, "");
    assert_eq!(status, 204);
    let (status, _, _) = http(addr, "GET", "/console/api/sessions", &with_cookie, "");
    assert_eq!(status, 401);
}

/// `GET PATH` on the loopback console: its JSON.
fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, _, body) = http(addr, "GET", path, &[], "");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// An open event stream: `GET PATH`, read line by line.
fn event_stream(addr: SocketAddr, path: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LOG_WAIT)).unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "{path}: no answer; got {head}"
        );
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    reader
}

/// The data of the next event `name` on an event stream.
fn next_event(stream: &mut BufReader<TcpStream>, name: &str) -> Value {
    read_until(stream, &format!("event: {name}"));
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stream.read_line(&mut line).unwrap() > 0,
            "the {name} event has no data"
        );
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            return serde_json::from_str(data).unwrap();
        }
    }
}

/// The console's session of `client_id`, if the broker holds one.
fn session_of(addr: SocketAddr, client_id: &str) -> Option<Value> {
    get_json(addr, "/console/api/sessions")["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["clientId"] == client_id)
        .cloned()
}

#[test]
fn what_the_console_shows_is_what_the_server_holds() {
    let (_dir, server) = start(&[]);
    let addr = server.addr("api");
    for (name, room) in [
        ("boiler-1", "Boiler_room"),
        ("fan-1", "Attic"),
        ("pump-7", "Boiler_room"),
    ] {
        let attributes = format!(r#"{{"attributes":{{"room":"{room}"}}}}"#);
        aws(
            &server,
            &[
                "iot",
                "create-thing",
                "--thing-name",
                name,
                "--attribute-payload",
                &attributes,
            ],
        );
    }

    // Things: the console's search pages agree with ListThings, and find by attribute value.
    let listed = aws(&server, &["iot", "list-things"]);
    let mut names: Vec<&str> = listed["things"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["thingName"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    let mut shown = Vec::new();
    let mut next = String::new();
    loop {
        let page = get_json(addr, &format!("/console/api/things?size=2&next={next}"));
        assert_eq!(
            page["total"].as_u64().unwrap() as usize,
            names.len(),
            "{page}"
        );
        for thing in page["things"].as_array().unwrap() {
            shown.push(thing["thingName"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(token) => next = token.to_owned(),
            None => break,
        }
    }
    assert_eq!(shown, names);
    let boiler = get_json(addr, "/console/api/things?q=boiler_ROOM");
    let found: Vec<&str> = boiler["things"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["thingName"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["boiler-1", "pump-7"], "{boiler}");

    // Sessions: the demo device, as mosquitto_sub connected it, with its certificate and TLS.
    let mut events = event_stream(addr, "/console/api/events");
    let tls = server.demo_tls_args();
    let (mut device, mut device_out) = subscriber(
        &tls,
        &[
            "-i",
            "demo-device",
            "-q",
            "1",
            "-V",
            "mqttv5",
            "-v",
            "-t",
            "sensors/#",
        ],
    );
    let session = session_of(addr, "demo-device").expect("the demo device's session is listed");
    let certificates = aws(&server, &["iot", "list-certificates"]);
    let certificate_id = certificates["certificates"][0]["certificateId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(session["connected"], true, "{session}");
    assert_eq!(session["protocol"], "5", "{session}");
    assert_eq!(session["principal"]["kind"], "certificate", "{session}");
    assert_eq!(
        session["principal"]["id"],
        certificate_id.as_str(),
        "{session}"
    );
    assert!(
        session["principal"]["tlsVersion"]
            .as_str()
            .unwrap()
            .starts_with("TLSv1."),
        "{session}"
    );
    assert!(
        !session["principal"]["cipher"].as_str().unwrap().is_empty(),
        "{session}"
    );
    assert_eq!(
        session["subscriptions"],
        serde_json::json!([{ "filter": "sensors/#", "qos": 1 }])
    );
    let things = get_json(addr, "/console/api/things?q=demo-device");
    assert_eq!(things["things"][0]["connected"], true, "{things}");

    // The event stream says connections changed and counts the device.
    next_event(&mut events, "sessions");
    let stats = next_event(&mut events, "stats");
    assert_eq!(stats["connections"], 1, "{stats}");

    // The live message view: an event stream from the console's in-process client.
    let who = get_json(addr, "/console/api/whoami");
    let csrf = who["csrf"].as_str().unwrap().to_owned();
    // On loopback too, AWS operations need the page's token: another site's page may send
    // GETs to 127.0.0.1.
    let (status, _, _) = http(addr, "GET", "/console/aws/iot/things", &[], "");
    assert_eq!(status, 403);
    let (status, _, listed) = http(
        addr,
        "GET",
        "/console/aws/iot/things",
        &[("X-Tether-Csrf", csrf.as_str())],
        "",
    );
    assert_eq!(status, 200, "{listed}");
    assert!(listed.contains("boiler-1"), "{listed}");
    let mut messages = event_stream(
        addr,
        &format!("/console/api/mqtt/subscribe?filter=sensors%2F%23&qos=1&csrf={csrf}"),
    );
    let subscribed = next_event(&mut messages, "subscribed");
    assert_eq!(subscribed["granted"], true, "{subscribed}");
    let tap = subscribed["clientId"].as_str().unwrap().to_owned();
    let tap_session = session_of(addr, &tap).expect("the console's client is a session too");
    assert_eq!(tap_session["principal"]["kind"], "sigv4", "{tap_session}");
    let published = mosquitto_pub(
        &tls,
        &[
            "-i",
            "publisher",
            "-q",
            "1",
            "-t",
            "sensors/t",
            "-m",
            "21.5",
        ],
    );
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    let message = next_event(&mut messages, "message");
    assert_eq!(message["topic"], "sensors/t", "{message}");
    assert_eq!(message["payload"], "21.5", "{message}");
    assert_eq!(message["qos"], 1, "{message}");
    read_until(&mut device_out, "sensors/t 21.5");
    // Without the page's CSRF token no connection is opened.
    let (status, _, _) = http(
        addr,
        "GET",
        "/console/api/mqtt/subscribe?filter=x&csrf=wrong",
        &[],
        "",
    );
    assert_eq!(status, 403);

    // Kick: a client is sent DISCONNECT 0x98 (Administrative action); the list shows it gone.
    let mut kicked = demo_tls(&server);
    let client_id = b"kick-me";
    let mut connect = vec![
        0x10,
        13 + client_id.len() as u8,
        0,
        4,
        b'M',
        b'Q',
        b'T',
        b'T',
        5,
        0x02,
        0,
        60,
        0,
    ];
    connect.extend_from_slice(&[0, client_id.len() as u8]);
    connect.extend_from_slice(client_id);
    kicked.write_all(&connect).unwrap();
    let connack = read_packet(&mut kicked).unwrap();
    assert_eq!(connack[0], 0x20, "{connack:?}");
    assert_eq!(session_of(addr, "kick-me").unwrap()["connected"], true);
    let token = [("X-Tether-Csrf", csrf.as_str())];
    let (status, _, body) = http(
        addr,
        "POST",
        "/console/api/sessions/kick-me/kick",
        &token,
        "",
    );
    assert_eq!(status, 200, "{body}");
    let disconnect = read_packet(&mut kicked).unwrap();
    assert_eq!(
        &disconnect[..3],
        &[0xE0, disconnect[1], 0x98],
        "{disconnect:?}"
    );
    assert!(
        read_packet(&mut kicked).is_none(),
        "the connection is closed"
    );
    let gone = session_of(addr, "kick-me");
    assert!(
        gone.as_ref().is_none_or(|s| s["connected"] == false),
        "{gone:?}"
    );
    let (status, _, body) = http(
        addr,
        "POST",
        "/console/api/sessions/kick-me/kick",
        &token,
        "",
    );
    assert_eq!(status, 404, "{body}");

    // A refusal: revoked through the API, the certificate's next connection is refused; the
    // console lists it with the doctor's advice, as the record holds it, and pushes it live.
    aws(
        &server,
        &[
            "iot",
            "update-certificate",
            "--certificate-id",
            &certificate_id,
            "--new-status",
            "REVOKED",
        ],
    );
    let refused = mosquitto_pub(&tls, &["-i", "demo-refused", "-t", "sensors/t", "-m", "x"]);
    assert!(!refused.status.success());
    let pushed = next_event(&mut events, "refusal");
    assert_eq!(pushed["kind"], "not_active", "{pushed}");
    assert!(
        pushed["why"].as_str().unwrap().contains("ACTIVE"),
        "{pushed}"
    );
    let listed = get_json(addr, "/console/api/refusals?kind=not_active");
    let first = &listed["refusals"][0];
    assert_eq!(first["principal"], pushed["principal"], "{listed}");
    assert!(
        first["fix"].as_str().is_some_and(|f| !f.is_empty()),
        "{listed}"
    );
    let record = std::fs::read_to_string(server.data_dir().join("refusals.jsonl")).unwrap();
    let recorded = record
        .lines()
        .filter(|l| l.contains("\"not_active\""))
        .count();
    assert_eq!(
        listed["refusals"].as_array().unwrap().len(),
        recorded,
        "{record}"
    );
    let _ = device.kill();
    let _ = device.wait();
    let overview = get_json(addr, "/console/api/overview");
    assert!(
        overview["refusalsLastHour"].as_u64().unwrap() >= 1,
        "{overview}"
    );
}
