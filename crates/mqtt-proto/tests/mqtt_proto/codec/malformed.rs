//! The malformed-input corpus: one test per rule, each input annotated, each asserting the
//! exact `DecodeError` variant, that its message cites a spec rule, and the reason code the
//! server would answer with. Several inputs are taken from the Mosquitto broker conformance
//! transcripts (shared/conformance/mqtt-sequences).

use bytes::Bytes;
use mqtt_proto::codec;
use mqtt_proto::properties::PropertyId;
use mqtt_proto::string::StringError;
use mqtt_proto::topic::TopicError;
use mqtt_proto::{DecodeError, PacketType, Protocol, ReasonCode};

use super::hex;

use Protocol::{V5, V311};

const MALFORMED: ReasonCode = ReasonCode::MalformedPacket;
const PROTOCOL: ReasonCode = ReasonCode::ProtocolError;

#[test]
fn packet_type_zero_is_refused() {
    let e = rejects!(
        V5,
        "00 00 # type 0",
        DecodeError::ReservedPacketType { byte: 0 }
    );
    assert_eq!(e.reason_code(), PROTOCOL);
}

#[test]
fn auth_does_not_exist_before_v5() {
    rejects!(
        V311,
        "f0 00 # AUTH",
        DecodeError::PacketNotInVersion {
            packet: PacketType::Auth,
            ..
        }
    );
}

#[test]
fn fixed_header_flags_are_checked_per_type() {
    use PacketType::*;
    let e = rejects!(
        V311,
        "60 02 0001 # PUBREL with flags 0",
        DecodeError::InvalidFlags {
            packet: PubRel,
            flags: 0,
            expected: 2
        }
    );
    assert_eq!(e.reason_code(), MALFORMED);
    rejects!(
        V5,
        "80 07 0001 00 0001 61 00 # SUBSCRIBE flags 0",
        DecodeError::InvalidFlags {
            packet: Subscribe,
            ..
        }
    );
    rejects!(
        V311,
        "83 06 0001 0001 61 00 # SUBSCRIBE flags 3",
        DecodeError::InvalidFlags { .. }
    );
    rejects!(
        V311,
        "a0 05 0001 0001 61 # UNSUBSCRIBE flags 0",
        DecodeError::InvalidFlags {
            packet: Unsubscribe,
            ..
        }
    );
    rejects!(
        V311,
        "21 02 00 00 # CONNACK flags 1",
        DecodeError::InvalidFlags {
            packet: ConnAck,
            ..
        }
    );
    rejects!(
        V311,
        "41 02 0001 # PUBACK flags 1",
        DecodeError::InvalidFlags { packet: PubAck, .. }
    );
    rejects!(
        V311,
        "c8 00 # PINGREQ flags 8",
        DecodeError::InvalidFlags {
            packet: PingReq,
            ..
        }
    );
    rejects!(
        V5,
        "e1 00 # DISCONNECT flags 1",
        DecodeError::InvalidFlags {
            packet: Disconnect,
            ..
        }
    );
    rejects!(
        V5,
        "f2 00 # AUTH flags 2",
        DecodeError::InvalidFlags { packet: Auth, .. }
    );
    rejects!(
        V311,
        "12 0d 0004 4d515454 04 02 003c 0001 61 # 3.1.1 CONNECT with fixed-header flags 2",
        DecodeError::InvalidFlags {
            packet: Connect,
            ..
        }
    );
}

#[test]
fn remaining_length_over_four_bytes_is_refused() {
    let e = rejects!(
        V311,
        "30 ffffffff7f # 5-byte remaining length",
        DecodeError::RemainingLengthTooLong
    );
    assert_eq!(e.reason_code(), MALFORMED);
    // Refused as soon as the fourth byte shows a continuation bit.
    assert_eq!(
        codec::check_frame(&hex("c0 80808080"), u32::MAX),
        Err(DecodeError::RemainingLengthTooLong)
    );
}

#[test]
fn non_minimal_remaining_length_is_refused() {
    rejects!(
        V311,
        "c0 8000 # PINGREQ, remaining length 0 in two bytes",
        DecodeError::InvalidVarint {
            field: "remaining length",
            ..
        }
    );
}

#[test]
fn empty_and_overlong_frames_are_refused_by_one_shot_decode() {
    assert_eq!(
        codec::decode(Bytes::new(), V311),
        Err(DecodeError::EmptyFrame)
    );
    assert_eq!(
        codec::decode(
            Bytes::from(hex("c0 00 00 # PINGREQ and a stray byte")),
            V311
        ),
        Err(DecodeError::TrailingBytes {
            packet: PacketType::PingReq,
            extra: 1
        })
    );
    assert!(matches!(
        codec::decode(Bytes::from(hex("30 05 0003")), V311),
        Err(DecodeError::Truncated {
            packet: PacketType::Publish,
            field: "packet body"
        })
    ));
}

#[test]
fn bytes_after_the_last_field_are_refused() {
    use PacketType::*;
    rejects!(
        V311,
        "c0 01 00 # PINGREQ with a body",
        DecodeError::TrailingBytes {
            packet: PingReq,
            extra: 1
        }
    );
    rejects!(
        V311,
        "e0 01 00 # 3.1.1 DISCONNECT with a body",
        DecodeError::TrailingBytes { .. }
    );
    rejects!(
        V311,
        "40 03 0001 00 # 3.1.1 PUBACK with a reason",
        DecodeError::TrailingBytes { .. }
    );
    rejects!(
        V311,
        "b0 03 0001 00 # 3.1.1 UNSUBACK with a code",
        DecodeError::TrailingBytes { .. }
    );
    let e = rejects!(
        V5,
        "20 04 00 00 00 00 # CONNACK, extra byte after properties",
        DecodeError::TrailingBytes {
            packet: ConnAck,
            extra: 1
        }
    );
    assert_eq!(e.reason_code(), MALFORMED);
}

#[test]
fn truncated_fields_are_named() {
    use PacketType::*;
    rejects!(
        V311,
        "40 01 00 # PUBACK, half a packet id",
        DecodeError::Truncated {
            packet: PubAck,
            field: "packet identifier"
        }
    );
    rejects!(
        V311,
        "32 05 0003 612f62 # QoS 1 PUBLISH without packet id",
        DecodeError::Truncated {
            field: "packet identifier",
            ..
        }
    );
    rejects!(
        V311,
        "30 03 0005 61 # topic length 5, one byte present",
        DecodeError::Truncated {
            field: "topic name",
            ..
        }
    );
    rejects!(
        V311,
        "10 00 # CONNECT with no body",
        DecodeError::Truncated {
            field: "protocol name",
            ..
        }
    );
}

#[test]
fn publish_qos_3_is_malformed() {
    let e = rejects!(
        V5,
        "36 0a 0003 612f62 0001 00 7879 # QoS bits 11",
        DecodeError::PublishQos3
    );
    assert_eq!(e.reason_code(), MALFORMED);
}

#[test]
fn publish_dup_with_qos_0_is_malformed() {
    let e = rejects!(
        V311,
        "38 07 0003 612f62 7879 # DUP, QoS 0",
        DecodeError::DupWithQos0
    );
    assert_eq!(e.reason_code(), MALFORMED);
}

#[test]
fn packet_id_zero_is_refused_everywhere() {
    use PacketType::*;
    let e = rejects!(
        V5,
        "32 08 0003 612f62 0000 00 # PUBLISH QoS 1 id 0",
        DecodeError::ZeroPacketId { packet: Publish }
    );
    assert_eq!(e.reason_code(), PROTOCOL);
    rejects!(
        V311,
        "40 02 0000 # PUBACK id 0",
        DecodeError::ZeroPacketId { packet: PubAck }
    );
    rejects!(
        V311,
        "62 02 0000 # PUBREL id 0",
        DecodeError::ZeroPacketId { packet: PubRel }
    );
    rejects!(
        V311,
        "82 06 0000 0001 61 00 # SUBSCRIBE id 0",
        DecodeError::ZeroPacketId { packet: Subscribe }
    );
    rejects!(
        V311,
        "a2 05 0000 0001 61 # UNSUBSCRIBE id 0",
        DecodeError::ZeroPacketId { .. }
    );
    rejects!(
        V311,
        "90 03 0000 00 # SUBACK id 0",
        DecodeError::ZeroPacketId { packet: SubAck }
    );
}

#[test]
fn publish_topic_must_not_hold_wildcards() {
    let e = rejects!(
        V5,
        "30 06 0003 612f2b 00 # topic 'a/+'",
        DecodeError::InvalidTopicName {
            source: TopicError::WildcardInName,
            ..
        }
    );
    assert_eq!(e.reason_code(), MALFORMED);
    rejects!(
        V311,
        "30 03 0001 23 # topic '#'",
        DecodeError::InvalidTopicName { .. }
    );
}

#[test]
fn publish_topic_utf8_rules() {
    rejects!(
        V311,
        "30 05 0003 eda080 # U+D800 surrogate",
        DecodeError::InvalidString {
            source: StringError::InvalidUtf8,
            field: "topic name",
            ..
        }
    );
    rejects!(
        V5,
        "30 06 0003 610062 00 # U+0000",
        DecodeError::InvalidString {
            source: StringError::NullCharacter,
            ..
        }
    );
    rejects!(
        V311,
        "30 04 0002 c328 # bad continuation byte",
        DecodeError::InvalidString { .. }
    );
}

#[test]
fn empty_topic_needs_a_topic_alias() {
    let e = rejects!(
        V5,
        "30 05 0000 00 7879 # empty topic, no alias",
        DecodeError::EmptyTopicWithoutAlias
    );
    assert_eq!(e.reason_code(), PROTOCOL);
    rejects!(
        V311,
        "30 04 0000 7879 # empty topic in 3.1.1",
        DecodeError::EmptyTopicWithoutAlias
    );
}

#[test]
fn topic_alias_zero_is_topic_alias_invalid() {
    let e = rejects!(
        V5,
        "30 07 0001 61 03 23 0000 # Topic Alias 0",
        DecodeError::TopicAliasZero
    );
    assert_eq!(e.reason_code(), ReasonCode::TopicAliasInvalid);
}

#[test]
fn duplicate_properties_are_protocol_errors() {
    let e = rejects!(
        V5,
        "32 0e 0005 746f706963 04d2 04 0101 0101 # 2 x Payload Format Indicator",
        DecodeError::DuplicateProperty {
            property: PropertyId::PayloadFormatIndicator,
            ..
        }
    );
    assert_eq!(e.reason_code(), PROTOCOL);
    rejects!(
        V5,
        "32 10 0005 746f706963 04d2 06 230001 230002 # 2 x Topic Alias",
        DecodeError::DuplicateProperty { .. }
    );
    rejects!(
        V5,
        "82 0b 0001 04 0b01 0b02 0001 61 00 # SUBSCRIBE with 2 Subscription Identifiers",
        DecodeError::DuplicateProperty {
            packet: PacketType::Subscribe,
            property: PropertyId::SubscriptionIdentifier,
            ..
        }
    );
    rejects!(
        V5,
        "e0 0c 00 0a 1100000001 1100000001 # DISCONNECT 2 x Session Expiry",
        DecodeError::DuplicateProperty { .. }
    );
}

#[test]
fn property_values_out_of_range_are_protocol_errors() {
    let e = rejects!(
        V5,
        "32 0c 0005 746f706963 04d2 02 0102 # Payload Format Indicator 2",
        DecodeError::InvalidPropertyValue {
            property: PropertyId::PayloadFormatIndicator,
            value: 2,
            ..
        }
    );
    assert_eq!(e.reason_code(), PROTOCOL);
    rejects!(
        V5,
        "32 0c 0005 746f706963 04d2 02 0b00 # Subscription Identifier 0",
        DecodeError::InvalidPropertyValue {
            property: PropertyId::SubscriptionIdentifier,
            ..
        }
    );
    rejects!(
        V5,
        "20 06 00 00 03 21 0000 # CONNACK Receive Maximum 0",
        DecodeError::InvalidPropertyValue {
            property: PropertyId::ReceiveMaximum,
            ..
        }
    );
    rejects!(
        V5,
        "20 05 00 00 02 24 02 # CONNACK Maximum QoS 2",
        DecodeError::InvalidPropertyValue {
            property: PropertyId::MaximumQos,
            ..
        }
    );
    rejects!(
        V5,
        "20 05 00 00 02 25 02 # CONNACK Retain Available 2",
        DecodeError::InvalidPropertyValue { .. }
    );
}

#[test]
fn unknown_property_identifiers_are_malformed() {
    let e = rejects!(
        V5,
        "32 0c 0005 746f706963 04d2 02 0401 # identifier 0x04",
        DecodeError::UnknownProperty { id: 4, .. }
    );
    assert_eq!(e.reason_code(), MALFORMED);
    rejects!(
        V5,
        "e0 04 00 02 0001 # DISCONNECT property identifier 0",
        DecodeError::UnknownProperty { id: 0, .. }
    );
    rejects!(
        V5,
        "40 07 0001 00 03 8000 01 # identifier as non-minimal varint",
        DecodeError::InvalidVarint {
            field: "property identifier",
            ..
        }
    );
}

#[test]
fn properties_must_belong_to_their_packet() {
    let e = rejects!(
        V5,
        "32 0e 0005 746f706963 04d2 04 1f 0001 70 # PUBLISH with Reason String",
        DecodeError::PropertyNotAllowed {
            packet: PacketType::Publish,
            property: PropertyId::ReasonString,
            ..
        }
    );
    assert_eq!(e.reason_code(), PROTOCOL);
    // A disallowed property whose value is cut short is malformed, like any other overrun.
    let e = rejects!(
        V5,
        "32 0b 0005 746f706963 04d2 01 1f # Reason String identifier, no value",
        DecodeError::PropertyOverrun {
            property: PropertyId::ReasonString,
            ..
        }
    );
    assert_eq!(e.reason_code(), MALFORMED);
    rejects!(
        V5,
        "40 07 0001 00 03 23 0005 # PUBACK with Topic Alias",
        DecodeError::PropertyNotAllowed { .. }
    );
    rejects!(
        V5,
        "82 09 0001 02 0100 0001 70 00 # SUBSCRIBE with Payload Format Indicator",
        DecodeError::PropertyNotAllowed { .. }
    );
    rejects!(
        V5,
        "a2 08 0001 02 0b01 0001 70 # UNSUBSCRIBE with Subscription Identifier",
        DecodeError::PropertyNotAllowed { .. }
    );
    rejects!(
        V5,
        "e0 04 00 02 0100 # DISCONNECT with Payload Format Indicator",
        DecodeError::PropertyNotAllowed { .. }
    );
    rejects!(
        V5,
        "f0 04 00 02 2401 # AUTH with Maximum QoS",
        DecodeError::PropertyNotAllowed { .. }
    );
    rejects!(
        V5,
        "10 11 0004 4d515454 05 02 003c 03 23 0001 0001 70 # CONNECT with Topic Alias",
        DecodeError::PropertyNotAllowed {
            block: "properties",
            ..
        }
    );
}

#[test]
fn will_properties_have_their_own_allowed_set() {
    rejects!(
        V5,
        "10 19 0004 4d515454 05 06 003c  # CONNECT with will
                  00 0001 61                      # no properties, client id 'a'
                  05 11 00000001                  # will properties: Session Expiry (not allowed)
                  0001 74 0000                    # will topic 't', empty payload",
        DecodeError::PropertyNotAllowed {
            block: "will properties",
            property: PropertyId::SessionExpiryInterval,
            ..
        }
    );
}

#[test]
fn property_lengths_must_match_exactly() {
    let e = rejects!(
        V5,
        "32 0c 0005 746f706963 04d2 02 0200 # Message Expiry needs 4 bytes, block has 1",
        DecodeError::PropertyOverrun {
            property: PropertyId::MessageExpiryInterval,
            ..
        }
    );
    assert_eq!(e.reason_code(), MALFORMED);
    rejects!(
        V5,
        "32 0b 0005 746f706963 04d2 0a 01 # property length 10, 1 byte left",
        DecodeError::Truncated {
            field: "properties",
            ..
        }
    );
    rejects!(
        V5,
        "32 0e 0005 746f706963 04d2 04 26 0001 70 # User Property without value",
        DecodeError::PropertyOverrun {
            property: PropertyId::UserProperty,
            ..
        }
    );
    rejects!(
        V5,
        "32 0d 0005 746f706963 04d2 03 0b 8000 # Subscription Identifier 0x8000",
        DecodeError::InvalidVarint { .. }
    );
}

#[test]
fn response_topic_must_be_a_topic_name() {
    rejects!(
        V5,
        "30 0a 0001 61 06 08 0003 612f23 # Response Topic 'a/#'",
        DecodeError::InvalidTopicName {
            field: "Response Topic",
            ..
        }
    );
}

#[test]
fn v5_topics_refuse_control_characters() {
    let e = rejects!(
        V5,
        "30 0f 0005 746f700170 00 7061796c6f6164 # topic 'top<U+0001>p'",
        DecodeError::ControlCharacter {
            code_point: 0x01,
            field: "topic name",
            ..
        }
    );
    assert_eq!(e.reason_code(), MALFORMED);
    rejects!(
        V5,
        "30 0f 0005 746fc29f70 00 7061796c6f6164 # topic with U+009F",
        DecodeError::ControlCharacter {
            code_point: 0x9F,
            ..
        }
    );
    rejects!(
        V5,
        "82 0b 0001 00 0005 746f707f70 00 # SUBSCRIBE filter with U+007F",
        DecodeError::ControlCharacter {
            packet: PacketType::Subscribe,
            ..
        }
    );
    rejects!(
        V5,
        "a2 08 0001 00 0003 611f62 # UNSUBSCRIBE filter with U+001F",
        DecodeError::ControlCharacter {
            packet: PacketType::Unsubscribe,
            ..
        }
    );
    // MQTT 3.1.1 and 3.1 refuse them too (the rule is a MAY; tether takes it everywhere).
    rejects!(
        V311,
        "30 0e 0005 746f700170 7061796c6f6164 # 3.1.1 topic 'top<U+0001>p'",
        DecodeError::ControlCharacter {
            code_point: 0x01,
            ..
        }
    );
    rejects!(
        V311,
        "82 0a 04d2 0005 746f707f70 00 # 3.1.1 SUBSCRIBE filter with U+007F",
        DecodeError::ControlCharacter {
            packet: PacketType::Subscribe,
            ..
        }
    );
    rejects!(
        V311,
        "a2 09 04d2 0005 746fc29f70 # 3.1.1 UNSUBSCRIBE filter with U+009F",
        DecodeError::ControlCharacter {
            packet: PacketType::Unsubscribe,
            ..
        }
    );
    // U+00A0 is not a control character.
    let ok = codec::decode(Bytes::from(hex("30 09 0004 61c2a062 00 7879")), V5);
    assert!(ok.is_ok());
}

#[test]
fn connect_identifiers_refuse_control_characters() {
    let id = rejects!(
        V5,
        "10 12 0004 4d515454 05 02 000a 00 0005 746f700170 # v5 client id with U+0001",
        DecodeError::ControlCharacter {
            field: "client identifier",
            ..
        }
    );
    // A well-formed id the server does not allow: MQTT 5 answers 0x85, not 0x81.
    assert_eq!(id.reason_code(), ReasonCode::ClientIdentifierNotValid);
    rejects!(
        V311,
        "10 11 0004 4d515454 04 02 000a 0005 746f701f70 # 3.1.1 client id with U+001F",
        DecodeError::ControlCharacter {
            field: "client identifier",
            ..
        }
    );
    let user = rejects!(
        V311,
        "10 14 0004 4d515454 04 82 000a 0001 70 0005 746f707f70 # user name with U+007F",
        DecodeError::ControlCharacter {
            field: "user name",
            ..
        }
    );
    assert_eq!(user.reason_code(), MALFORMED);
    rejects!(
        V311,
        "10 17 0004 4d515454 04 06 000a 0001 70 0005 746fc29f70 0001 70 # will topic with U+009F",
        DecodeError::ControlCharacter {
            field: "will topic",
            ..
        }
    );
    // Passwords are binary data and may hold anything.
    let ok = codec::decode(
        Bytes::from(hex(
            "10 17 0004 4d515454 04 c2 000a 0001 70 0001 70 0005 746f700170",
        )),
        V311,
    );
    assert!(ok.is_ok(), "{ok:?}");
}
