//! iot-data DeleteConnection end to end: boto3's `delete_connection` on paho-mqtt clients
//! (`tests/python/delete_connection.py`: the close, the will, the persistent session kept or
//! discarded, MQTT 5's DISCONNECT 0x98, the errors) and the AWS CLI's `delete-connection` on a
//! raw MQTT 3.1.1 connection. Its timing from the API's 200 is measured by `bench/revocation`
//! (`revocation.rs`).

use std::io::Write;

use crate::support::{aws, aws_raw, demo_tls, python, read_packet, start, text};

#[test]
fn delete_connection_closes_the_client_as_boto3_and_the_aws_cli_ask() {
    let (_dir, server) = start(&[]);
    let args = vec![
        format!("localhost:{}", server.addr("mqtts").port()),
        server
            .demo_file("certificate.pem.crt")
            .display()
            .to_string(),
        server.demo_file("private.pem.key").display().to_string(),
        server.demo_file("root-ca.pem").display().to_string(),
        crate::support::api_url(&server),
    ];
    let out = python(&server, "delete_connection.py", &args);
    assert!(text(&out).contains("checks passed"), "{}", text(&out));

    // The AWS CLI, on a raw MQTT 3.1.1 connection: the server closes it.
    let mut tls = demo_tls(&server);
    let client_id = b"dc-cli";
    let mut connect = vec![0x10, 10 + 2 + client_id.len() as u8, 0, 4];
    connect.extend_from_slice(b"MQTT");
    connect.extend_from_slice(&[4, 0x02, 0, 60, 0, client_id.len() as u8]);
    connect.extend_from_slice(client_id);
    tls.write_all(&connect).unwrap();
    let connack = read_packet(&mut tls).unwrap();
    assert_eq!(connack, vec![0x20, 2, 0, 0]);
    aws(
        &server,
        &[
            "iot-data",
            "delete-connection",
            "--client-id",
            "dc-cli",
            "--clean-session",
            "--prevent-will-message",
        ],
    );
    assert_eq!(read_packet(&mut tls), None, "the connection was closed");
    let again = aws_raw(
        &server,
        "test",
        &["iot-data", "delete-connection", "--client-id", "dc-cli"],
    );
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("(ResourceNotFoundException)"),
        "{}",
        text(&again)
    );
}
