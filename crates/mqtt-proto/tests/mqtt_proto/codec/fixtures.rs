//! Annotated hex fixtures: every packet type in MQTT 3.1.1 (and 3.1) and 5.0, decoded and
//! re-encoded byte for byte through `check`. Property bytes are written in ascending identifier
//! order, the order the encoder uses.

use bytes::Bytes;
use mqtt_proto::properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PublishProperties, SubscribeProperties, UnsubscribeProperties, WillProperties,
};
use mqtt_proto::{
    Auth, ConnAck, Connect, Delivery, Disconnect, MqttStr, Packet, Protocol, PubAck, Publish, QoS,
    ReasonCode, RetainHandling, SubAck, Subscribe, SubscriptionOptions, TopicFilter, TopicName,
    UnsubAck, Unsubscribe, Will,
};

use super::{check, check_decodes, hex, pid};

use Protocol::{V5, V31, V311};

pub fn s(x: &str) -> MqttStr {
    MqttStr::new(x).unwrap()
}

pub fn topic(x: &str) -> TopicName {
    TopicName::new(x).unwrap()
}

pub fn filter(x: &str) -> TopicFilter {
    TopicFilter::new(x).unwrap()
}

pub fn b(x: &[u8]) -> Bytes {
    Bytes::copy_from_slice(x)
}

fn user(k: &str, v: &str) -> Vec<(MqttStr, MqttStr)> {
    vec![(s(k), s(v))]
}

fn connect(protocol: Protocol, client_id: &str) -> Connect {
    Connect {
        protocol,
        clean_start: true,
        keep_alive: 60,
        client_id: s(client_id),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    }
}

fn publish(topic_name: &str, delivery: Delivery, payload: &[u8]) -> Publish {
    Publish {
        dup: false,
        delivery,
        retain: false,
        topic: topic(topic_name),
        properties: PublishProperties::default(),
        payload: b(payload),
    }
}

#[test]
fn connect_v311_minimal() {
    check(
        "10 0e           # CONNECT, remaining length 14
         0004 4d515454   # protocol name 'MQTT'
         04              # protocol level 4 (3.1.1)
         02              # flags: clean session
         003c            # keep alive 60 s
         0002 6331       # client id 'c1'",
        &Packet::Connect(Box::new(connect(V311, "c1"))),
        V311,
    );
}

#[test]
fn connect_v311_with_will_and_credentials() {
    let mut c = connect(V311, "dev");
    c.clean_start = false;
    c.keep_alive = 10;
    c.will = Some(Will {
        topic: topic("l/dev"),
        payload: b(b"bye!"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: WillProperties::default(),
    });
    c.username = Some(s("user"));
    c.password = Some(b(b"pw!"));
    check(
        "10 27           # CONNECT, remaining length 39
         0004 4d515454   # 'MQTT'
         04              # level 4
         ec              # flags: user name, password, will retain, will QoS 1, will
         000a            # keep alive 10
         0003 646576     # client id 'dev'
         0005 6c2f646576 # will topic 'l/dev'
         0004 62796521   # will payload 'bye!'
         0004 75736572   # user name 'user'
         0003 707721     # password 'pw!'",
        &Packet::Connect(Box::new(c)),
        V311,
    );
}

#[test]
fn connect_v31_mqisdp_decodes_like_v311() {
    let mut c = connect(V31, "v31");
    c.keep_alive = 30;
    check(
        "10 11             # CONNECT, remaining length 17
         0006 4d5149736470 # protocol name 'MQIsdp'
         03                # level 3 (MQTT 3.1)
         02                # clean session
         001e              # keep alive 30
         0003 763331       # client id 'v31'",
        &Packet::Connect(Box::new(c)),
        // CONNECT carries its own version, whatever the decoder was told.
        V5,
    );
}

#[test]
fn connect_v31_ignores_flags_that_31_left_undefined() {
    // MQTT 3.1 did not require CONNECT's fixed-header flags or the reserved connect flag to be 0,
    // and the Mosquitto conformance suite accepts both; 3.1.1 and 5 refuse them.
    let mut c = connect(V31, "p");
    c.keep_alive = 10;
    let expected = Packet::Connect(Box::new(c));
    check_decodes(
        &hex(
            "14 0f 0006 4d5149736470 03 # CONNECT with fixed-header flags 0b0100, 'MQIsdp' 3
              02 000a 0001 70              # clean session, keep alive 10, client id 'p'",
        ),
        &expected,
        V311,
    );
    check_decodes(
        &hex("10 0f 0006 4d5149736470 03 # CONNECT 'MQIsdp' 3
              03 000a 0001 70              # reserved connect flag set"),
        &expected,
        V311,
    );
}

#[test]
fn connect_v5_with_every_connect_and_will_property() {
    let mut c = connect(V5, "");
    c.keep_alive = 0;
    c.properties = ConnectProperties {
        session_expiry_interval: Some(300),
        receive_maximum: Some(20),
        maximum_packet_size: Some(65_536),
        topic_alias_maximum: Some(10),
        request_response_information: Some(true),
        request_problem_information: Some(false),
        user_properties: user("k", "v"),
        authentication_method: Some(s("test")),
        authentication_data: Some(b(&[0xab, 0xcd])),
    };
    c.will = Some(Will {
        topic: topic("will"),
        payload: b(b"gone"),
        qos: QoS::ExactlyOnce,
        retain: false,
        properties: WillProperties {
            will_delay_interval: Some(5),
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(60),
            content_type: Some(s("text/plain")),
            response_topic: Some(topic("resp")),
            correlation_data: Some(b(&[1, 2])),
            user_properties: user("a", "b"),
        },
    });
    c.username = Some(s("u"));
    check(
        "10 70                 # CONNECT, remaining length 112
         0004 4d515454 05      # 'MQTT' level 5
         96                    # flags: user name, will QoS 2, will, clean start
         0000                  # keep alive 0
         27                    # property length 39
           11 0000012c         #   Session Expiry Interval 300
           15 0004 74657374    #   Authentication Method 'test'
           16 0002 abcd        #   Authentication Data
           17 00               #   Request Problem Information 0
           19 01               #   Request Response Information 1
           21 0014             #   Receive Maximum 20
           22 000a             #   Topic Alias Maximum 10
           26 0001 6b 0001 76  #   User Property k=v
           27 00010000         #   Maximum Packet Size 65536
         0000                  # client id '' (server assigns one)
         2c                    # will property length 44
           01 01               #   Payload Format Indicator 1 (UTF-8)
           02 0000003c         #   Message Expiry Interval 60
           03 000a 746578742f706c61696e # Content Type 'text/plain'
           08 0004 72657370    #   Response Topic 'resp'
           09 0002 0102        #   Correlation Data
           18 00000005         #   Will Delay Interval 5
           26 0001 61 0001 62  #   User Property a=b
         0004 77696c6c         # will topic 'will'
         0004 676f6e65         # will payload 'gone'
         0001 75               # user name 'u'",
        &Packet::Connect(Box::new(c)),
        V5,
    );
}

#[test]
fn connect_v5_allows_password_without_user_name() {
    let mut c = connect(V5, "x");
    c.keep_alive = 0;
    c.password = Some(b(b"pw"));
    check(
        "10 12 0004 4d515454 05 # CONNECT 'MQTT' level 5
         42                     # flags: password, clean start
         0000                   # keep alive 0
         00                     # no properties
         0001 78                # client id 'x'
         0002 7077              # password 'pw'",
        &Packet::Connect(Box::new(c)),
        V5,
    );
}

#[test]
fn connack_v311_session_present() {
    let ack = ConnAck {
        session_present: true,
        reason: ReasonCode::Success,
        properties: ConnAckProperties::default(),
    };
    check(
        "20 02 01 00 # CONNACK, session present, accepted",
        &Packet::ConnAck(ack),
        V311,
    );
}

#[test]
fn connack_v31_has_no_session_present_flag() {
    // MQTT 3.1's first CONNACK byte is reserved: a resumed session is never announced, and a
    // set bit from an old server is ignored.
    let resumed = Packet::ConnAck(ConnAck {
        session_present: true,
        reason: ReasonCode::Success,
        properties: ConnAckProperties::default(),
    });
    assert_eq!(resumed.to_bytes(V31).unwrap(), hex("20 02 00 00"));
    let Packet::ConnAck(decoded) =
        mqtt_proto::codec::decode(Bytes::from(hex("20 02 01 00")), V31).unwrap()
    else {
        panic!("not a CONNACK")
    };
    assert!(!decoded.session_present);
}

#[test]
fn connack_v311_return_codes_map_to_reason_codes() {
    let ack = |reason| {
        Packet::ConnAck(ConnAck {
            session_present: false,
            reason,
            properties: ConnAckProperties::default(),
        })
    };
    check(
        "20 02 00 01 # unacceptable protocol version",
        &ack(ReasonCode::UnsupportedProtocolVersion),
        V311,
    );
    check(
        "20 02 00 02 # identifier rejected",
        &ack(ReasonCode::ClientIdentifierNotValid),
        V311,
    );
    check(
        "20 02 00 03 # server unavailable",
        &ack(ReasonCode::ServerUnavailable),
        V311,
    );
    check(
        "20 02 00 04 # bad user name or password",
        &ack(ReasonCode::BadUserNameOrPassword),
        V311,
    );
    check(
        "20 02 00 05 # not authorized",
        &ack(ReasonCode::NotAuthorized),
        V311,
    );
}

#[test]
fn connack_v5_with_server_limits() {
    let ack = ConnAck {
        session_present: false,
        reason: ReasonCode::Success,
        properties: ConnAckProperties {
            session_expiry_interval: Some(120),
            receive_maximum: Some(10),
            maximum_qos: Some(1),
            retain_available: Some(false),
            maximum_packet_size: Some(4096),
            assigned_client_identifier: Some(s("abcd")),
            topic_alias_maximum: Some(5),
            reason_string: Some(s("ok")),
            user_properties: user("k", "v"),
            wildcard_subscription_available: Some(false),
            subscription_identifiers_available: Some(true),
            shared_subscription_available: Some(false),
            ..ConnAckProperties::default()
        },
    };
    check(
        "20 30                 # CONNACK, remaining length 48
         00                    # no session present
         00                    # reason Success
         2d                    # property length 45
           11 00000078         #   Session Expiry Interval 120
           12 0004 61626364    #   Assigned Client Identifier 'abcd'
           1f 0002 6f6b        #   Reason String 'ok'
           21 000a             #   Receive Maximum 10
           22 0005             #   Topic Alias Maximum 5
           24 01               #   Maximum QoS 1
           25 00               #   Retain Available 0
           26 0001 6b 0001 76  #   User Property k=v
           27 00001000         #   Maximum Packet Size 4096
           28 00               #   Wildcard Subscription Available 0
           29 01               #   Subscription Identifier Available 1
           2a 00               #   Shared Subscription Available 0",
        &Packet::ConnAck(ack),
        V5,
    );
}

#[test]
fn connack_v5_with_server_keep_alive_and_authentication() {
    let ack = ConnAck {
        session_present: false,
        reason: ReasonCode::Success,
        properties: ConnAckProperties {
            server_keep_alive: Some(30),
            authentication_method: Some(s("test")),
            authentication_data: Some(b(&[0xff])),
            response_information: Some(s("r/1")),
            server_reference: Some(s("h:1")),
            ..ConnAckProperties::default()
        },
    };
    check(
        "20 1d                 # CONNACK, remaining length 29
         00 00                 # flags, Success
         1a                    # property length 26
           13 001e             #   Server Keep Alive 30
           15 0004 74657374    #   Authentication Method 'test'
           16 0001 ff          #   Authentication Data
           1a 0003 722f31      #   Response Information 'r/1'
           1c 0003 683a31      #   Server Reference 'h:1'",
        &Packet::ConnAck(ack),
        V5,
    );
}

#[test]
fn connack_v5_refusal_with_reason_string() {
    let ack = ConnAck {
        session_present: false,
        reason: ReasonCode::NotAuthorized,
        properties: ConnAckProperties {
            reason_string: Some(s("denied")),
            ..ConnAckProperties::default()
        },
    };
    check(
        "20 0c 00 87           # CONNACK, 0x87 Not authorized
         09 1f 0006 64656e696564 # Reason String 'denied'",
        &Packet::ConnAck(ack),
        V5,
    );
}

#[test]
fn publish_v311_qos0() {
    check(
        "30 0a           # PUBLISH QoS 0, remaining length 10
         0003 612f62     # topic 'a/b'
         68656c6c6f      # payload 'hello'",
        &Packet::Publish(publish("a/b", Delivery::AtMostOnce, b"hello")),
        V311,
    );
}

#[test]
fn publish_v311_qos1_dup_retain() {
    let mut p = publish("a/b", Delivery::AtLeastOnce(pid(0x1234)), b"xy");
    p.dup = true;
    p.retain = true;
    check(
        "3b 09           # PUBLISH DUP, QoS 1, RETAIN
         0003 612f62     # topic 'a/b'
         1234            # packet id 0x1234
         7879            # payload 'xy'",
        &Packet::Publish(p),
        V311,
    );
}

#[test]
fn publish_v311_qos2_empty_payload_max_id() {
    check(
        "34 05 0001 78 ffff  # PUBLISH QoS 2, topic 'x', id 65535, empty payload",
        &Packet::Publish(publish("x", Delivery::ExactlyOnce(pid(65535)), b"")),
        V311,
    );
}

#[test]
fn publish_v5_without_properties() {
    check(
        "30 08 0003 612f62  # PUBLISH QoS 0, topic 'a/b'
         00                 # no properties
         6869               # payload 'hi'",
        &Packet::Publish(publish("a/b", Delivery::AtMostOnce, b"hi")),
        V5,
    );
}

#[test]
fn publish_v5_with_every_publish_property() {
    let mut p = publish("a/b", Delivery::AtLeastOnce(pid(7)), b"{}");
    p.properties = PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(3600),
        topic_alias: Some(3),
        response_topic: Some(topic("reply")),
        correlation_data: Some(b(&[1, 2, 3])),
        user_properties: user("k", "v"),
        subscription_identifiers: vec![5, 128],
        content_type: Some(s("json")),
    };
    check(
        "32 35                 # PUBLISH QoS 1, remaining length 53
         0003 612f62           # topic 'a/b'
         0007                  # packet id 7
         2b                    # property length 43
           01 01               #   Payload Format Indicator 1
           02 00000e10         #   Message Expiry Interval 3600
           03 0004 6a736f6e    #   Content Type 'json'
           08 0005 7265706c79  #   Response Topic 'reply'
           09 0003 010203      #   Correlation Data
           0b 05               #   Subscription Identifier 5
           0b 8001             #   Subscription Identifier 128 (two-byte varint)
           23 0003             #   Topic Alias 3
           26 0001 6b 0001 76  #   User Property k=v
         7b7d                  # payload '{}'",
        &Packet::Publish(p),
        V5,
    );
}

#[test]
fn publish_v5_topic_alias_with_empty_topic() {
    let mut p = publish("x", Delivery::AtMostOnce, b"pa");
    p.topic = TopicName::alias_placeholder();
    p.properties.topic_alias = Some(3);
    check(
        "30 08 0000       # PUBLISH QoS 0, empty topic
         03 23 0003       # properties: Topic Alias 3
         7061             # payload 'pa'",
        &Packet::Publish(p),
        V5,
    );
}

#[test]
fn puback_family_v311() {
    check(
        "40 02 0001 # PUBACK id 1",
        &Packet::PubAck(PubAck::new(pid(1))),
        V311,
    );
    check(
        "50 02 0002 # PUBREC id 2",
        &Packet::PubRec(PubAck::new(pid(2))),
        V311,
    );
    check(
        "62 02 0003 # PUBREL id 3 (flags 0b0010)",
        &Packet::PubRel(PubAck::new(pid(3))),
        V311,
    );
    check(
        "70 02 0004 # PUBCOMP id 4",
        &Packet::PubComp(PubAck::new(pid(4))),
        V311,
    );
}

#[test]
fn puback_family_v5_short_form_means_success() {
    check(
        "40 02 0001 # PUBACK id 1, Success implied",
        &Packet::PubAck(PubAck::new(pid(1))),
        V5,
    );
    check(
        "70 02 0004 # PUBCOMP id 4",
        &Packet::PubComp(PubAck::new(pid(4))),
        V5,
    );
}

#[test]
fn puback_v5_reason_only() {
    let mut ack = PubAck::new(pid(1));
    ack.reason = ReasonCode::NoMatchingSubscribers;
    check(
        "40 03 0001 10 # PUBACK id 1, 0x10 No matching subscribers",
        &Packet::PubAck(ack),
        V5,
    );
}

#[test]
fn pubrec_v5_reason_and_properties() {
    let mut ack = PubAck::new(pid(2));
    ack.reason = ReasonCode::UnspecifiedError;
    ack.properties = AckProperties {
        reason_string: Some(s("nope")),
        user_properties: user("a", "b"),
    };
    check(
        "50 12 0002 80         # PUBREC id 2, 0x80 Unspecified error
         0e                    # property length 14
           1f 0004 6e6f7065    #   Reason String 'nope'
           26 0001 61 0001 62  #   User Property a=b",
        &Packet::PubRec(ack),
        V5,
    );
}

#[test]
fn pubrel_v5_packet_id_not_found() {
    let mut ack = PubAck::new(pid(3));
    ack.reason = ReasonCode::PacketIdentifierNotFound;
    check(
        "62 03 0003 92 # PUBREL id 3, 0x92",
        &Packet::PubRel(ack),
        V5,
    );
}

#[test]
fn ack_v5_non_canonical_forms_decode_to_the_same_packet() {
    let expected = Packet::PubAck(PubAck::new(pid(1)));
    check_decodes(&hex("40 03 0001 00    # explicit Success"), &expected, V5);
    check_decodes(
        &hex("40 04 0001 00 00 # explicit Success, empty properties"),
        &expected,
        V5,
    );
    let d = Packet::Disconnect(Disconnect::default());
    check_decodes(
        &hex("e0 02 00 00 # DISCONNECT Success, empty properties"),
        &d,
        V5,
    );
}

#[test]
fn subscribe_v311_two_filters() {
    let sub = Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![
            (
                filter("a/+"),
                SubscriptionOptions::with_qos(QoS::AtLeastOnce),
            ),
            (filter("#"), SubscriptionOptions::with_qos(QoS::ExactlyOnce)),
        ],
    };
    check(
        "82 0c           # SUBSCRIBE (flags 0b0010), remaining length 12
         0001            # packet id 1
         0003 612f2b 01  # 'a/+' QoS 1
         0001 23     02  # '#' QoS 2",
        &Packet::Subscribe(sub),
        V311,
    );
}

#[test]
fn subscribe_v5_with_options_and_identifier() {
    let sub = Subscribe {
        packet_id: pid(10),
        properties: SubscribeProperties {
            subscription_identifier: Some(7),
            user_properties: user("a", "b"),
        },
        filters: vec![
            (
                filter("a/b"),
                SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::DoNotSend,
                },
            ),
            (
                filter("$share/g/x"),
                SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    retain_handling: RetainHandling::SendIfNew,
                    ..SubscriptionOptions::default()
                },
            ),
        ],
    };
    check(
        "82 1f                 # SUBSCRIBE, remaining length 31
         000a                  # packet id 10
         09                    # property length 9
           0b 07               #   Subscription Identifier 7
           26 0001 61 0001 62  #   User Property a=b
         0003 612f62 2d        # 'a/b': QoS 1, No Local, Retain As Published, Retain Handling 2
         000a 2473686172652f672f78 12 # '$share/g/x': QoS 2, Retain Handling 1",
        &Packet::Subscribe(sub),
        V5,
    );
}

#[test]
fn suback_v311_granted_and_failure() {
    let ack = SubAck {
        packet_id: pid(1),
        properties: AckProperties::default(),
        reasons: vec![
            ReasonCode::Success,
            ReasonCode::GrantedQos1,
            ReasonCode::GrantedQos2,
            ReasonCode::UnspecifiedError,
        ],
    };
    check(
        "90 06 0001 00 01 02 80 # SUBACK id 1: QoS 0, 1, 2, failure",
        &Packet::SubAck(ack),
        V311,
    );
}

#[test]
fn suback_v5_with_reason_string() {
    let ack = SubAck {
        packet_id: pid(1),
        properties: AckProperties {
            reason_string: Some(s("ok")),
            ..AckProperties::default()
        },
        reasons: vec![
            ReasonCode::Success,
            ReasonCode::GrantedQos1,
            ReasonCode::GrantedQos2,
            ReasonCode::NotAuthorized,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::SharedSubscriptionsNotSupported,
            ReasonCode::WildcardSubscriptionsNotSupported,
        ],
    };
    check(
        "90 0f 0001            # SUBACK id 1
         05 1f 0002 6f6b       # Reason String 'ok'
         00 01 02 87 8f 9e a2  # one code per filter",
        &Packet::SubAck(ack),
        V5,
    );
}

#[test]
fn unsubscribe_v311() {
    let unsub = Unsubscribe {
        packet_id: pid(5),
        properties: UnsubscribeProperties::default(),
        filters: vec![filter("a/b"), filter("#")],
    };
    check(
        "a2 0a 0005      # UNSUBSCRIBE (flags 0b0010) id 5
         0003 612f62     # 'a/b'
         0001 23         # '#'",
        &Packet::Unsubscribe(unsub),
        V311,
    );
}

#[test]
fn unsubscribe_v5_with_user_property() {
    let unsub = Unsubscribe {
        packet_id: pid(5),
        properties: UnsubscribeProperties {
            user_properties: user("a", "b"),
        },
        filters: vec![filter("a/b")],
    };
    check(
        "a2 0f 0005 07 26 0001 61 0001 62 # UNSUBSCRIBE id 5, User Property a=b
         0003 612f62                      # 'a/b'",
        &Packet::Unsubscribe(unsub),
        V5,
    );
}

#[test]
fn unsuback_both_versions() {
    let v3 = UnsubAck {
        packet_id: pid(5),
        properties: AckProperties::default(),
        reasons: vec![],
    };
    check(
        "b0 02 0005 # UNSUBACK id 5 (no codes in 3.1.1)",
        &Packet::UnsubAck(v3),
        V311,
    );
    let v5 = UnsubAck {
        packet_id: pid(5),
        properties: AckProperties::default(),
        reasons: vec![
            ReasonCode::Success,
            ReasonCode::NoSubscriptionExisted,
            ReasonCode::NotAuthorized,
        ],
    };
    check(
        "b0 06 0005 00 00 11 87 # UNSUBACK id 5, no properties, three codes",
        &Packet::UnsubAck(v5),
        V5,
    );
}

#[test]
fn pings_both_versions() {
    for protocol in [V311, V5] {
        check("c0 00 # PINGREQ", &Packet::PingReq, protocol);
        check("d0 00 # PINGRESP", &Packet::PingResp, protocol);
    }
}

#[test]
fn disconnect_both_versions() {
    check(
        "e0 00 # DISCONNECT",
        &Packet::Disconnect(Disconnect::default()),
        V311,
    );
    check(
        "e0 00 # DISCONNECT, Success implied",
        &Packet::Disconnect(Disconnect::default()),
        V5,
    );
    check(
        "e0 01 04 # DISCONNECT with Will Message",
        &Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWill)),
        V5,
    );
}

#[test]
fn disconnect_v5_with_properties() {
    let d = Disconnect {
        reason: ReasonCode::SessionTakenOver,
        properties: DisconnectProperties {
            session_expiry_interval: Some(0),
            reason_string: Some(s("boo")),
            user_properties: user("a", "b"),
            server_reference: Some(s("s")),
        },
    };
    check(
        "e0 18 8e              # DISCONNECT 0x8E Session taken over
         16                    # property length 22
           11 00000000         #   Session Expiry Interval 0
           1c 0001 73          #   Server Reference 's'
           1f 0003 626f6f      #   Reason String 'boo'
           26 0001 61 0001 62  #   User Property a=b",
        &Packet::Disconnect(d),
        V5,
    );
}

#[test]
fn auth_v5_forms() {
    let success = Auth {
        reason: ReasonCode::Success,
        properties: AuthProperties::default(),
    };
    check("f0 00 # AUTH, Success implied", &Packet::Auth(success), V5);
    let reauth = Auth {
        reason: ReasonCode::ReAuthenticate,
        properties: AuthProperties::default(),
    };
    check("f0 01 19 # AUTH Re-authenticate", &Packet::Auth(reauth), V5);
    let cont = Auth {
        reason: ReasonCode::ContinueAuthentication,
        properties: AuthProperties {
            authentication_method: Some(s("SCRAM")),
            authentication_data: Some(b(&[1, 2, 3])),
            ..AuthProperties::default()
        },
    };
    check(
        "f0 10 18              # AUTH 0x18 Continue authentication
         0e                    # property length 14
           15 0005 534352414d #   Authentication Method 'SCRAM'
           16 0003 010203      #   Authentication Data",
        &Packet::Auth(cont),
        V5,
    );
}
