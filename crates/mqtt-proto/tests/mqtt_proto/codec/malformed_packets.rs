//! The malformed-input corpus, second half: CONNECT, CONNACK, acknowledgements, SUBSCRIBE and
//! UNSUBSCRIBE rules (framing, PUBLISH and properties are in `malformed.rs`). Each input is
//! annotated and each test asserts the exact `DecodeError` variant and reason code.

use mqtt_proto::codec;
use mqtt_proto::properties::PropertyId;
use mqtt_proto::topic::TopicError;
use mqtt_proto::{DecodeError, PacketType, Protocol, ReasonCode};

use super::{hex, reject};

use Protocol::{V5, V311};

const MALFORMED: ReasonCode = ReasonCode::MalformedPacket;
const PROTOCOL: ReasonCode = ReasonCode::ProtocolError;

#[test]
fn connect_protocol_name_and_level() {
    let e = rejects!(
        V311,
        "10 0d 0004 4d515458 04 02 003c 0001 61 # name 'MQTX'",
        DecodeError::InvalidProtocolName { .. }
    );
    assert_eq!(e.reason_code(), ReasonCode::UnsupportedProtocolVersion);
    rejects!(
        V311,
        "10 0c 0003 4d5154 04 02 003c 0001 61 # name 'MQT'",
        DecodeError::InvalidProtocolName { .. }
    );
    let e = rejects!(
        V311,
        "10 0d 0004 4d515454 06 02 003c 0001 61 # level 6",
        DecodeError::UnsupportedProtocolLevel { level: 6 }
    );
    assert_eq!(e.reason_code(), ReasonCode::UnsupportedProtocolVersion);
    rejects!(
        V311,
        "10 0f 0006 4d5149736470 04 02 003c 0001 61 # 'MQIsdp' with level 4",
        DecodeError::UnsupportedProtocolLevel { level: 4 }
    );
}

#[test]
fn connect_reserved_flag_is_malformed() {
    let e = rejects!(
        V311,
        "10 0d 0004 4d515454 04 03 003c 0001 61 # flags bit 0 set",
        DecodeError::ReservedConnectFlag
    );
    assert_eq!(e.reason_code(), MALFORMED);
}

#[test]
fn connect_will_flags_must_be_consistent() {
    rejects!(
        V311,
        "10 0d 0004 4d515454 04 0a 003c 0001 61 # Will QoS 1 without Will Flag",
        DecodeError::WillFlagsWithoutWill { flags: 0x0a }
    );
    rejects!(
        V311,
        "10 0d 0004 4d515454 04 22 003c 0001 61 # Will Retain without Will Flag",
        DecodeError::WillFlagsWithoutWill { .. }
    );
    rejects!(
        V311,
        "10 12 0004 4d515454 04 1e 003c 0001 61 0001 74 0000 # Will QoS 3",
        DecodeError::WillQos3
    );
    rejects!(
        V311,
        "10 12 0004 4d515454 04 06 003c 0001 61 0001 23 0000 # will topic '#'",
        DecodeError::InvalidTopicName {
            field: "will topic",
            ..
        }
    );
}

#[test]
fn connect_v311_password_needs_user_name() {
    let e = rejects!(
        V311,
        "10 11 0004 4d515454 04 42 003c 0001 61 0002 7077 # password only",
        DecodeError::PasswordWithoutUsername
    );
    assert_eq!(e.reason_code(), MALFORMED);
}

#[test]
fn connect_fields_missing_or_invalid() {
    rejects!(
        V311,
        "10 0d 0004 4d515454 04 82 003c 0001 61 # user name flag, no user name",
        DecodeError::Truncated {
            field: "user name",
            ..
        }
    );
    rejects!(
        V311,
        "10 0d 0004 4d515454 04 02 003c 0001 ff # client id 0xFF",
        DecodeError::InvalidString {
            field: "client identifier",
            ..
        }
    );
}

#[test]
fn connect_property_rules() {
    rejects!(
        V5,
        "10 11 0004 4d515454 05 02 003c 03 21 0000 0001 61 # Receive Maximum 0",
        DecodeError::InvalidPropertyValue {
            property: PropertyId::ReceiveMaximum,
            ..
        }
    );
    rejects!(
        V5,
        "10 13 0004 4d515454 05 02 003c 05 27 00000000 0001 61 # Maximum Packet Size 0",
        DecodeError::InvalidPropertyValue {
            property: PropertyId::MaximumPacketSize,
            ..
        }
    );
    rejects!(
        V5,
        "10 10 0004 4d515454 05 02 003c 02 17 02 0001 61 # Request Problem Information 2",
        DecodeError::InvalidPropertyValue { .. }
    );
    let e = rejects!(
        V5,
        "10 12 0004 4d515454 05 02 003c 04 16 0001 ff 0001 61 # Authentication Data, no Method",
        DecodeError::AuthDataWithoutMethod {
            packet: PacketType::Connect
        }
    );
    assert_eq!(e.reason_code(), PROTOCOL);
}

#[test]
fn connack_flags_and_codes() {
    rejects!(
        V311,
        "20 02 02 00 # acknowledge flags bit 1",
        DecodeError::ConnAckReservedFlags { flags: 2 }
    );
    rejects!(
        V5,
        "20 03 80 00 00 # acknowledge flags bit 7",
        DecodeError::ConnAckReservedFlags { .. }
    );
    rejects!(
        V311,
        "20 02 00 06 # return code 6",
        DecodeError::InvalidReasonCode { code: 6, .. }
    );
    let e = rejects!(
        V5,
        "20 03 00 04 00 # reason 0x04 is not a CONNACK code",
        DecodeError::InvalidReasonCode {
            packet: PacketType::ConnAck,
            code: 4
        }
    );
    assert_eq!(e.reason_code(), PROTOCOL);
    rejects!(
        V5,
        "20 03 00 ff 00 # reason 0xFF",
        DecodeError::InvalidReasonCode { .. }
    );
    rejects!(
        V311,
        "20 02 01 05 # session present with refusal",
        DecodeError::SessionPresentOnFailure { code: 5 }
    );
}

#[test]
fn ack_reason_codes_are_checked_per_packet() {
    use PacketType::*;
    rejects!(
        V5,
        "40 03 0001 92 # PUBACK 0x92 (PUBREL/PUBCOMP only)",
        DecodeError::InvalidReasonCode {
            packet: PubAck,
            code: 0x92
        }
    );
    rejects!(
        V5,
        "50 03 0001 ff # PUBREC 0xFF",
        DecodeError::InvalidReasonCode { packet: PubRec, .. }
    );
    rejects!(
        V5,
        "62 03 0001 10 # PUBREL 0x10",
        DecodeError::InvalidReasonCode { packet: PubRel, .. }
    );
    rejects!(
        V5,
        "70 03 0001 80 # PUBCOMP 0x80",
        DecodeError::InvalidReasonCode {
            packet: PubComp,
            ..
        }
    );
    rejects!(
        V5,
        "e0 01 05 # DISCONNECT 0x05",
        DecodeError::InvalidReasonCode {
            packet: Disconnect,
            ..
        }
    );
    rejects!(
        V5,
        "e0 01 01 # DISCONNECT 0x01",
        DecodeError::InvalidReasonCode { .. }
    );
    rejects!(
        V5,
        "f0 01 87 # AUTH 0x87",
        DecodeError::InvalidReasonCode { packet: Auth, .. }
    );
    rejects!(
        V5,
        "90 04 0001 00 11 # SUBACK 0x11 (UNSUBACK only)",
        DecodeError::InvalidReasonCode { packet: SubAck, .. }
    );
    rejects!(
        V311,
        "90 03 0001 03 # 3.1.1 SUBACK return code 3",
        DecodeError::InvalidReasonCode { .. }
    );
    rejects!(
        V5,
        "b0 04 0001 00 01 # UNSUBACK 0x01",
        DecodeError::InvalidReasonCode {
            packet: UnsubAck,
            ..
        }
    );
}

#[test]
fn subscribe_needs_at_least_one_filter() {
    let e = rejects!(
        V311,
        "82 02 0001 # no payload",
        DecodeError::NoTopicFilters {
            packet: PacketType::Subscribe
        }
    );
    assert_eq!(e.reason_code(), PROTOCOL);
    rejects!(
        V5,
        "82 03 0001 00 # properties only",
        DecodeError::NoTopicFilters { .. }
    );
    rejects!(
        V311,
        "a2 02 0001 # UNSUBSCRIBE, no payload",
        DecodeError::NoTopicFilters {
            packet: PacketType::Unsubscribe
        }
    );
    rejects!(
        V311,
        "82 05 0001 0001 61 # filter without options byte",
        DecodeError::Truncated {
            field: "subscription options",
            ..
        }
    );
}

#[test]
fn subscription_options_reserved_bits_and_values() {
    let e = rejects!(
        V311,
        "82 06 0001 0001 61 04 # 3.1.1 options bit 2",
        DecodeError::ReservedSubscriptionOptions { options: 0x04 }
    );
    assert_eq!(e.reason_code(), MALFORMED);
    rejects!(
        V5,
        "82 07 0001 00 0001 70 40 # options bit 6",
        DecodeError::ReservedSubscriptionOptions { .. }
    );
    rejects!(
        V5,
        "82 07 0001 00 0001 70 80 # options bit 7",
        DecodeError::ReservedSubscriptionOptions { .. }
    );
    rejects!(
        V311,
        "82 06 0001 0001 61 03 # QoS 3",
        DecodeError::SubscriptionQos3
    );
    rejects!(
        V5,
        "82 07 0001 00 0001 70 03 # QoS 3",
        DecodeError::SubscriptionQos3
    );
    let e = rejects!(
        V5,
        "82 07 0001 00 0001 70 30 # Retain Handling 3",
        DecodeError::RetainHandling3
    );
    assert_eq!(e.reason_code(), PROTOCOL);
}

#[test]
fn no_local_on_a_shared_subscription_is_a_protocol_error() {
    let e = rejects!(
        V5,
        "82 10 0001 00 000a 2473686172652f702f70 04 # '$share/p/p' No Local",
        DecodeError::NoLocalOnShared { .. }
    );
    assert_eq!(e.reason_code(), PROTOCOL);
}

#[test]
fn invalid_topic_filters_are_malformed() {
    rejects!(
        V311,
        "82 09 0001 0004 612f622b 00 # 'a/b+'",
        DecodeError::InvalidTopicFilter {
            source: TopicError::MisplacedSingleLevelWildcard,
            ..
        }
    );
    rejects!(
        V311,
        "82 09 0001 0004 23 2f 6162 00 # '#/ab'",
        DecodeError::InvalidTopicFilter {
            source: TopicError::MisplacedMultiLevelWildcard,
            ..
        }
    );
    rejects!(
        V5,
        "82 06 0001 00 0000 00 # empty filter",
        DecodeError::InvalidTopicFilter {
            source: TopicError::Empty,
            ..
        }
    );
    rejects!(
        V311,
        "a2 09 0001 0005 61622f2b65 # UNSUBSCRIBE 'ab/+e'",
        DecodeError::InvalidTopicFilter {
            packet: PacketType::Unsubscribe,
            ..
        }
    );
    rejects!(
        V311,
        "82 0c 0001 0007 2473686172652f 00 # '$share/'",
        DecodeError::InvalidTopicFilter {
            source: TopicError::InvalidShare,
            ..
        }
    );
}

#[test]
fn acknowledgement_lists_must_not_be_empty() {
    rejects!(
        V311,
        "90 02 0001 # SUBACK without codes",
        DecodeError::NoReasonCodes {
            packet: PacketType::SubAck
        }
    );
    rejects!(
        V5,
        "90 03 0001 00 # SUBACK without codes",
        DecodeError::NoReasonCodes { .. }
    );
    rejects!(
        V5,
        "b0 03 0001 00 # UNSUBACK without codes",
        DecodeError::NoReasonCodes {
            packet: PacketType::UnsubAck
        }
    );
}

#[test]
fn auth_data_needs_a_method() {
    rejects!(
        V5,
        "f0 06 18 04 16 0001 ff # AUTH data without method",
        DecodeError::AuthDataWithoutMethod {
            packet: PacketType::Auth
        }
    );
}

#[test]
fn every_error_maps_to_a_reason_code_a_disconnect_can_carry() {
    // Whatever the decoder refuses, the server can report it in a DISCONNECT (or CONNACK).
    let inputs = [
        (V5, "00 00"),
        (V5, "36 0a 0003 612f62 0001 00 7879"),
        (V5, "30 07 0001 61 03 23 0000"),
        (V5, "82 07 0001 00 0001 70 30"),
        (V311, "10 0d 0004 4d515454 06 02 003c 0001 61"),
    ];
    for (protocol, input) in inputs {
        let code = reject(input, protocol).reason_code();
        assert!(code.is_error(), "{input}: {code}");
    }
    let too_large = codec::check_frame(&hex("30 7f"), 10).unwrap_err();
    assert_eq!(too_large.reason_code(), ReasonCode::PacketTooLarge);
}
