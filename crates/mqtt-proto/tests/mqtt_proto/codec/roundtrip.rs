//! Proptest strategies for the packet model, restricted to what each version can carry, and the
//! encode → decode round trip over them; plus the encoder's refusals of local misuse.

use bytes::{Bytes, BytesMut};
use mqtt_proto::codec::{self, Decoder, MAX_PACKET_SIZE};
use mqtt_proto::properties::*;
use mqtt_proto::{
    Auth, ConnAck, Connect, Delivery, Disconnect, EncodeError, MqttStr, Packet, PacketType,
    Protocol, PubAck, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Unsubscribe, Will,
};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

use super::fixtures::{filter, s, topic};
use super::pid;

fn mqtt_str() -> impl Strategy<Value = MqttStr> {
    "[a-zA-Z0-9 /_é€-]{0,12}".prop_map(|x| MqttStr::new(&x).unwrap())
}

fn topic_name() -> impl Strategy<Value = TopicName> {
    "[a-z0-9$]{1,4}(/[a-z0-9é]{0,4}){0,3}".prop_map(|x| TopicName::new(&x).unwrap())
}

fn topic_filter() -> impl Strategy<Value = TopicFilter> {
    let level = prop_oneof!["[a-z0-9]{0,4}", Just("+".to_string())];
    (vec(level, 1..4), any::<bool>(), of("[a-z]{1,3}")).prop_map(|(levels, hash, share)| {
        let mut text = levels.join("/");
        if text.is_empty() {
            text.push('x');
        }
        if hash {
            text.push_str("/#");
        }
        if let Some(group) = share {
            text = format!("$share/{group}/{text}");
        }
        TopicFilter::new(&text).unwrap()
    })
}

fn data() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn users() -> impl Strategy<Value = UserProperties> {
    vec((mqtt_str(), mqtt_str()), 0..3)
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn id() -> impl Strategy<Value = mqtt_proto::PacketId> {
    (1u16..).prop_map(pid)
}

fn sub_id() -> impl Strategy<Value = u32> {
    1u32..=268_435_455
}

fn nonzero16() -> impl Strategy<Value = u16> {
    1u16..
}

fn reason(codes: &'static [u8]) -> impl Strategy<Value = ReasonCode> {
    proptest::sample::select(codes).prop_map(|c| ReasonCode::from_u8(c).unwrap())
}

const ACK_CODES: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const REL_CODES: &[u8] = &[0x00, 0x92];
const CONNACK_CODES: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
const SUBACK_CODES: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
const UNSUBACK_CODES: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
const DISCONNECT_CODES: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];

fn connect_props() -> impl Strategy<Value = ConnectProperties> {
    (
        (
            of(any::<u32>()),
            of(nonzero16()),
            of(1u32..),
            of(any::<u16>()),
        ),
        (
            of(any::<bool>()),
            of(any::<bool>()),
            users(),
            of((mqtt_str(), of(data()))),
        ),
    )
        .prop_map(|((sei, rm, mps, tam), (rri, rpi, user_properties, auth))| {
            ConnectProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_packet_size: mps,
                topic_alias_maximum: tam,
                request_response_information: rri,
                request_problem_information: rpi,
                user_properties,
                authentication_method: auth.as_ref().map(|(m, _)| m.clone()),
                authentication_data: auth.and_then(|(_, d)| d),
            }
        })
}

fn will_props() -> impl Strategy<Value = WillProperties> {
    (
        of(any::<u32>()),
        of(0u8..=1),
        of(any::<u32>()),
        of(mqtt_str()),
        of(topic_name()),
        of(data()),
        users(),
    )
        .prop_map(
            |(wdi, pfi, mei, ct, rt, cd, user_properties)| WillProperties {
                will_delay_interval: wdi,
                payload_format_indicator: pfi,
                message_expiry_interval: mei,
                content_type: ct,
                response_topic: rt,
                correlation_data: cd,
                user_properties,
            },
        )
}

fn connect(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let v5 = protocol == Protocol::V5;
    (
        (
            any::<bool>(),
            any::<u16>(),
            mqtt_str(),
            of(mqtt_str()),
            of(data()),
        ),
        of((topic_name(), data(), qos(), any::<bool>(), will_props())),
        connect_props(),
    )
        .prop_map(
            move |((clean_start, keep_alive, client_id, username, password), will, props)| {
                // MQTT 3.1.1 needs a user name whenever there is a password ([MQTT-3.1.2-22]).
                let password = if v5 || username.is_some() {
                    password
                } else {
                    None
                };
                Packet::Connect(Box::new(Connect {
                    protocol,
                    clean_start,
                    keep_alive,
                    client_id,
                    will: will.map(|(topic, payload, qos, retain, properties)| Will {
                        topic,
                        payload,
                        qos,
                        retain,
                        properties: if v5 {
                            properties
                        } else {
                            WillProperties::default()
                        },
                    }),
                    username,
                    password,
                    properties: if v5 {
                        props
                    } else {
                        ConnectProperties::default()
                    },
                }))
            },
        )
}

fn connack(protocol: Protocol) -> BoxedStrategy<Packet> {
    if protocol != Protocol::V5 {
        return ((0u8..=5), any::<bool>())
            .prop_map(|(code, present)| {
                Packet::ConnAck(ConnAck {
                    session_present: present && code == 0,
                    reason: ReasonCode::from_v3_connack(code).unwrap(),
                    properties: ConnAckProperties::default(),
                })
            })
            .boxed();
    }
    let props = (
        (
            of(any::<u32>()),
            of(nonzero16()),
            of(0u8..=1),
            of(any::<bool>()),
            of(1u32..),
            of(mqtt_str()),
        ),
        (
            of(any::<u16>()),
            of(mqtt_str()),
            users(),
            of(any::<bool>()),
            of(any::<bool>()),
            of(any::<bool>()),
        ),
        (
            of(any::<u16>()),
            of(mqtt_str()),
            of(mqtt_str()),
            of((mqtt_str(), of(data()))),
        ),
    )
        .prop_map(
            |((sei, rm, mq, ra, mps, aci), (tam, rs, up, wsa, sia, ssa), (ska, ri, sr, auth))| {
                ConnAckProperties {
                    session_expiry_interval: sei,
                    receive_maximum: rm,
                    maximum_qos: mq,
                    retain_available: ra,
                    maximum_packet_size: mps,
                    assigned_client_identifier: aci,
                    topic_alias_maximum: tam,
                    reason_string: rs,
                    user_properties: up,
                    wildcard_subscription_available: wsa,
                    subscription_identifiers_available: sia,
                    shared_subscription_available: ssa,
                    server_keep_alive: ska,
                    response_information: ri,
                    server_reference: sr,
                    authentication_method: auth.as_ref().map(|(m, _)| m.clone()),
                    authentication_data: auth.and_then(|(_, d)| d),
                }
            },
        );
    (any::<bool>(), reason(CONNACK_CODES), props)
        .prop_map(|(present, reason, properties)| {
            Packet::ConnAck(ConnAck {
                session_present: present && reason == ReasonCode::Success,
                reason,
                properties,
            })
        })
        .boxed()
}

fn publish(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let v5 = protocol == Protocol::V5;
    let props = (
        of(0u8..=1),
        of(any::<u32>()),
        of(nonzero16()),
        of(topic_name()),
        of(data()),
        users(),
        vec(sub_id(), 0..3),
        of(mqtt_str()),
    )
        .prop_map(|(pfi, mei, ta, rt, cd, up, ids, ct)| PublishProperties {
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            topic_alias: ta,
            response_topic: rt,
            correlation_data: cd,
            user_properties: up,
            subscription_identifiers: ids,
            content_type: ct,
        });
    (
        any::<bool>(),
        qos(),
        id(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        props,
        data(),
    )
        .prop_map(
            move |(dup, qos, id, retain, topic, alias_only, properties, payload)| {
                let properties = if v5 {
                    properties
                } else {
                    PublishProperties::default()
                };
                let topic = if alias_only && properties.topic_alias.is_some() {
                    TopicName::alias_placeholder()
                } else {
                    topic
                };
                Packet::Publish(Publish {
                    dup: dup && qos != QoS::AtMostOnce,
                    delivery: Delivery::new(qos, id),
                    retain,
                    topic,
                    properties,
                    payload,
                })
            },
        )
}

fn ack_props() -> impl Strategy<Value = AckProperties> {
    (of(mqtt_str()), users()).prop_map(|(reason_string, user_properties)| AckProperties {
        reason_string,
        user_properties,
    })
}

fn pub_ack(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let v5 = protocol == Protocol::V5;
    (
        0..4usize,
        id(),
        reason(ACK_CODES),
        reason(REL_CODES),
        ack_props(),
    )
        .prop_map(move |(kind, id, ack_reason, rel_reason, properties)| {
            let mut ack = PubAck::new(id);
            if v5 {
                ack.reason = if kind < 2 { ack_reason } else { rel_reason };
                ack.properties = properties;
            }
            match kind {
                0 => Packet::PubAck(ack),
                1 => Packet::PubRec(ack),
                2 => Packet::PubRel(ack),
                _ => Packet::PubComp(ack),
            }
        })
}

fn subscribe(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let v5 = protocol == Protocol::V5;
    let options = (qos(), any::<bool>(), any::<bool>(), 0u8..3).prop_map(|(qos, nl, rap, rh)| {
        let retain_handling = match rh {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            _ => RetainHandling::DoNotSend,
        };
        SubscriptionOptions {
            qos,
            no_local: nl,
            retain_as_published: rap,
            retain_handling,
        }
    });
    (
        id(),
        of(sub_id()),
        users(),
        vec((topic_filter(), options), 1..4),
    )
        .prop_map(move |(packet_id, sid, up, filters)| {
            let filters = filters
                .into_iter()
                .map(|(f, mut o)| {
                    if !v5 {
                        o = SubscriptionOptions::with_qos(o.qos);
                    } else if f.is_shared() {
                        o.no_local = false;
                    }
                    (f, o)
                })
                .collect();
            let properties = if v5 {
                SubscribeProperties {
                    subscription_identifier: sid,
                    user_properties: up,
                }
            } else {
                SubscribeProperties::default()
            };
            Packet::Subscribe(Subscribe {
                packet_id,
                properties,
                filters,
            })
        })
}

fn acks_and_unsubscribe(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let v5 = protocol == Protocol::V5;
    let v3_suback: &'static [u8] = &[0x00, 0x01, 0x02, 0x80];
    (
        0..3usize,
        id(),
        ack_props(),
        vec(reason(SUBACK_CODES), 1..4),
        vec(reason(v3_suback), 1..4),
        vec(reason(UNSUBACK_CODES), 1..4),
        (users(), vec(topic_filter(), 1..4)),
    )
        .prop_map(
            move |(kind, packet_id, props, sub5, sub3, unsub, (up, filters))| {
                let properties = if v5 { props } else { AckProperties::default() };
                match kind {
                    0 => Packet::SubAck(SubAck {
                        packet_id,
                        properties,
                        reasons: if v5 { sub5 } else { sub3 },
                    }),
                    1 => Packet::UnsubAck(UnsubAck {
                        packet_id,
                        properties,
                        reasons: if v5 { unsub } else { Vec::new() },
                    }),
                    _ => Packet::Unsubscribe(Unsubscribe {
                        packet_id,
                        properties: UnsubscribeProperties {
                            user_properties: if v5 { up } else { Vec::new() },
                        },
                        filters,
                    }),
                }
            },
        )
}

fn disconnect_auth_ping(protocol: Protocol) -> BoxedStrategy<Packet> {
    if protocol != Protocol::V5 {
        return prop_oneof![
            Just(Packet::PingReq),
            Just(Packet::PingResp),
            Just(Packet::Disconnect(Disconnect::default()))
        ]
        .boxed();
    }
    let disconnect = (
        reason(DISCONNECT_CODES),
        of(any::<u32>()),
        of(mqtt_str()),
        users(),
        of(mqtt_str()),
    )
        .prop_map(|(reason, sei, rs, up, sr)| {
            Packet::Disconnect(Disconnect {
                reason,
                properties: DisconnectProperties {
                    session_expiry_interval: sei,
                    reason_string: rs,
                    user_properties: up,
                    server_reference: sr,
                },
            })
        });
    let auth = (
        reason(&[0x00, 0x18, 0x19]),
        of((mqtt_str(), of(data()))),
        of(mqtt_str()),
        users(),
    )
        .prop_map(|(reason, method, rs, up)| {
            Packet::Auth(Auth {
                reason,
                properties: AuthProperties {
                    authentication_method: method.as_ref().map(|(m, _)| m.clone()),
                    authentication_data: method.and_then(|(_, d)| d),
                    reason_string: rs,
                    user_properties: up,
                },
            })
        });
    prop_oneof![
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        disconnect,
        auth
    ]
    .boxed()
}

/// Any packet the given version can carry.
fn packet(protocol: Protocol) -> impl Strategy<Value = Packet> {
    prop_oneof![
        connect(protocol),
        connack(protocol),
        publish(protocol),
        pub_ack(protocol),
        subscribe(protocol),
        acks_and_unsubscribe(protocol),
        disconnect_auth_ping(protocol),
    ]
}

fn round_trip(p: &Packet, protocol: Protocol) -> Result<(), TestCaseError> {
    let bytes = p
        .to_bytes(protocol)
        .map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
    prop_assert_eq!(p.encoded_len(protocol).unwrap(), bytes.len());
    prop_assert_eq!(&codec::decode(bytes.clone(), protocol).unwrap(), p);
    // The fuzz round trip must accept whatever the encoder produces.
    prop_assert!(codec::fuzz::roundtrip(&bytes).is_ok());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn v311_packets_round_trip(p in packet(Protocol::V311)) {
        round_trip(&p, Protocol::V311)?;
    }

    #[test]
    fn v5_packets_round_trip(p in packet(Protocol::V5)) {
        round_trip(&p, Protocol::V5)?;
    }

    #[test]
    fn v31_connect_round_trips(p in connect(Protocol::V31)) {
        round_trip(&p, Protocol::V311)?;
    }

    #[test]
    fn streams_split_anywhere_decode_the_same(
        packets in vec(packet(Protocol::V5), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = BytesMut::new();
        for p in &packets {
            p.encode(Protocol::V5, &mut wire).unwrap();
        }
        let cut = cut.index(wire.len() + 1);
        let mut decoder = Decoder::new(Protocol::V5, MAX_PACKET_SIZE);
        let mut buf = BytesMut::from(&wire[..cut]);
        let mut out = Vec::new();
        while let Some(p) = decoder.decode(&mut buf).unwrap() {
            out.push(p);
        }
        buf.extend_from_slice(&wire[cut..]);
        while let Some(p) = decoder.decode(&mut buf).unwrap() {
            out.push(p);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out, packets);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..64)) {
        codec::fuzz::decode_stream(&data);
        prop_assert!(codec::fuzz::roundtrip(&data).is_ok());
    }
}

fn ack_with(reason: ReasonCode) -> Packet {
    let mut ack = PubAck::new(pid(1));
    ack.reason = reason;
    Packet::PubAck(ack)
}

#[test]
fn encoder_refuses_what_a_version_cannot_carry() {
    let auth = Packet::Auth(Auth {
        reason: ReasonCode::Success,
        properties: AuthProperties::default(),
    });
    assert!(matches!(
        auth.to_bytes(Protocol::V311),
        Err(EncodeError::NotInVersion {
            packet: PacketType::Auth,
            ..
        })
    ));
    assert!(matches!(
        ack_with(ReasonCode::NoMatchingSubscribers).encoded_len(Protocol::V311),
        Err(EncodeError::NotInVersion { .. })
    ));
    assert!(matches!(
        Packet::Disconnect(Disconnect::new(ReasonCode::KeepAliveTimeout)).to_bytes(Protocol::V311),
        Err(EncodeError::NotInVersion { .. })
    ));
    let mut p = Publish {
        dup: false,
        delivery: Delivery::AtMostOnce,
        retain: false,
        topic: TopicName::alias_placeholder(),
        properties: PublishProperties {
            topic_alias: Some(1),
            ..PublishProperties::default()
        },
        payload: Bytes::new(),
    };
    assert!(matches!(
        Packet::Publish(p.clone()).to_bytes(Protocol::V311),
        Err(EncodeError::NotInVersion { .. })
    ));
    p.properties.topic_alias = None;
    assert!(matches!(
        Packet::Publish(p).to_bytes(Protocol::V5),
        Err(EncodeError::InvalidValue { .. })
    ));
}

#[test]
fn encoder_refuses_reason_codes_the_packet_cannot_carry() {
    assert_eq!(
        ack_with(ReasonCode::PacketIdentifierNotFound).to_bytes(Protocol::V5),
        Err(EncodeError::ReasonNotAllowed {
            packet: PacketType::PubAck,
            reason: ReasonCode::PacketIdentifierNotFound
        })
    );
    let auth = Packet::Auth(Auth {
        reason: ReasonCode::NotAuthorized,
        properties: AuthProperties::default(),
    });
    assert!(matches!(
        auth.to_bytes(Protocol::V5),
        Err(EncodeError::ReasonNotAllowed { .. })
    ));
    let connack = Packet::ConnAck(ConnAck {
        session_present: true,
        reason: ReasonCode::NotAuthorized,
        properties: ConnAckProperties::default(),
    });
    assert!(matches!(
        connack.to_bytes(Protocol::V5),
        Err(EncodeError::InvalidValue { .. })
    ));
}

#[test]
fn encoder_refuses_invalid_values() {
    let sub = |sid| {
        Packet::Subscribe(Subscribe {
            packet_id: pid(1),
            properties: SubscribeProperties {
                subscription_identifier: Some(sid),
                ..Default::default()
            },
            filters: vec![(filter("a"), SubscriptionOptions::default())],
        })
    };
    assert!(matches!(
        sub(0).to_bytes(Protocol::V5),
        Err(EncodeError::VarintOutOfRange { value: 0, .. })
    ));
    assert!(matches!(
        sub(268_435_456).to_bytes(Protocol::V5),
        Err(EncodeError::VarintOutOfRange { .. })
    ));
    let empty = Packet::Subscribe(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![],
    });
    assert!(matches!(
        empty.to_bytes(Protocol::V311),
        Err(EncodeError::InvalidValue { .. })
    ));
    let shared_no_local = Packet::Subscribe(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![(
            filter("$share/g/a"),
            SubscriptionOptions {
                no_local: true,
                ..SubscriptionOptions::default()
            },
        )],
    });
    assert!(matches!(
        shared_no_local.to_bytes(Protocol::V5),
        Err(EncodeError::InvalidValue { .. })
    ));
    let mut c = Connect {
        protocol: Protocol::V311,
        clean_start: true,
        keep_alive: 0,
        client_id: s("c"),
        will: None,
        username: None,
        password: Some(Bytes::from_static(b"pw")),
        properties: ConnectProperties {
            receive_maximum: Some(0),
            ..Default::default()
        },
    };
    assert!(matches!(
        Packet::Connect(Box::new(c.clone())).to_bytes(Protocol::V311),
        Err(EncodeError::NotInVersion { .. })
    ));
    c.protocol = Protocol::V5;
    assert!(matches!(
        Packet::Connect(Box::new(c)).to_bytes(Protocol::V5),
        Err(EncodeError::InvalidValue { .. })
    ));
}

#[test]
fn encoder_refuses_oversized_fields_and_packets() {
    let big = Bytes::from(vec![0u8; 70_000]);
    let c = Connect {
        protocol: Protocol::V5,
        clean_start: true,
        keep_alive: 0,
        client_id: s("c"),
        will: None,
        username: Some(s("u")),
        password: Some(big),
        properties: ConnectProperties::default(),
    };
    assert!(matches!(
        Packet::Connect(Box::new(c)).to_bytes(Protocol::V5),
        Err(EncodeError::FieldTooLong {
            field: "password",
            len: 70_000,
            ..
        })
    ));
    let huge = Packet::Publish(Publish {
        dup: false,
        delivery: Delivery::AtMostOnce,
        retain: false,
        topic: topic("t"),
        properties: PublishProperties::default(),
        payload: Bytes::from(vec![0u8; 268_435_455]),
    });
    assert!(matches!(
        huge.encoded_len(Protocol::V311),
        Err(EncodeError::PacketTooLarge { .. })
    ));
}

#[test]
fn encode_to_a_short_slice_fails_cleanly() {
    let p = Packet::PubAck(PubAck::new(pid(1)));
    let mut small = [0u8; 3];
    assert_eq!(
        p.encode_to_slice(Protocol::V311, &mut small),
        Err(EncodeError::BufferTooSmall {
            needed: 4,
            available: 3
        })
    );
    assert_eq!(small, [0, 0, 0], "nothing was written");
    let mut exact = [0u8; 4];
    assert_eq!(p.encode_to_slice(Protocol::V311, &mut exact), Ok(4));
    assert_eq!(exact, [0x40, 0x02, 0x00, 0x01]);
}

#[test]
fn v3_encoding_leaves_properties_out() {
    let p = Packet::Publish(Publish {
        dup: false,
        delivery: Delivery::AtMostOnce,
        retain: false,
        topic: topic("t"),
        properties: PublishProperties {
            message_expiry_interval: Some(5),
            ..Default::default()
        },
        payload: Bytes::from_static(b"x"),
    });
    assert_eq!(
        &p.to_bytes(Protocol::V311).unwrap()[..],
        &[0x30, 0x04, 0x00, 0x01, b't', b'x']
    );
}
