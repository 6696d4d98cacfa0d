//! Reason codes: every MQTT 5.0 reason code (§2.4) with its name, and the MQTT 3.1.1 CONNACK
//! return codes and SUBACK return codes mapped onto them. Which codes a given packet may carry is
//! checked by the codec, not here.

use core::fmt;

macro_rules! reason_codes {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        /// An MQTT 5.0 reason code. MQTT 3.1.1 return codes are mapped onto these by the codec.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum ReasonCode {
            $(
                #[doc = $text]
                $name = $value,
            )*
        }

        impl ReasonCode {
            /// Parses a wire value; unknown values are `None`.
            pub fn from_u8(value: u8) -> Option<ReasonCode> {
                match value {
                    $($value => Some(ReasonCode::$name),)*
                    _ => None,
                }
            }

            /// The specification's name for this code, in words.
            pub fn description(self) -> &'static str {
                match self {
                    $(ReasonCode::$name => $text,)*
                }
            }
        }
    };
}

reason_codes! {
    Success = 0x00, "Success (also Normal disconnection, Granted QoS 0)";
    GrantedQos1 = 0x01, "Granted QoS 1";
    GrantedQos2 = 0x02, "Granted QoS 2";
    DisconnectWithWill = 0x04, "Disconnect with Will Message";
    NoMatchingSubscribers = 0x10, "No matching subscribers";
    NoSubscriptionExisted = 0x11, "No subscription existed";
    ContinueAuthentication = 0x18, "Continue authentication";
    ReAuthenticate = 0x19, "Re-authenticate";
    UnspecifiedError = 0x80, "Unspecified error";
    MalformedPacket = 0x81, "Malformed Packet";
    ProtocolError = 0x82, "Protocol Error";
    ImplementationSpecificError = 0x83, "Implementation specific error";
    UnsupportedProtocolVersion = 0x84, "Unsupported Protocol Version";
    ClientIdentifierNotValid = 0x85, "Client Identifier not valid";
    BadUserNameOrPassword = 0x86, "Bad User Name or Password";
    NotAuthorized = 0x87, "Not authorized";
    ServerUnavailable = 0x88, "Server unavailable";
    ServerBusy = 0x89, "Server busy";
    Banned = 0x8A, "Banned";
    ServerShuttingDown = 0x8B, "Server shutting down";
    BadAuthenticationMethod = 0x8C, "Bad authentication method";
    KeepAliveTimeout = 0x8D, "Keep Alive timeout";
    SessionTakenOver = 0x8E, "Session taken over";
    TopicFilterInvalid = 0x8F, "Topic Filter invalid";
    TopicNameInvalid = 0x90, "Topic Name invalid";
    PacketIdentifierInUse = 0x91, "Packet Identifier in use";
    PacketIdentifierNotFound = 0x92, "Packet Identifier not found";
    ReceiveMaximumExceeded = 0x93, "Receive Maximum exceeded";
    TopicAliasInvalid = 0x94, "Topic Alias invalid";
    PacketTooLarge = 0x95, "Packet too large";
    MessageRateTooHigh = 0x96, "Message rate too high";
    QuotaExceeded = 0x97, "Quota exceeded";
    AdministrativeAction = 0x98, "Administrative action";
    PayloadFormatInvalid = 0x99, "Payload format invalid";
    RetainNotSupported = 0x9A, "Retain not supported";
    QosNotSupported = 0x9B, "QoS not supported";
    UseAnotherServer = 0x9C, "Use another server";
    ServerMoved = 0x9D, "Server moved";
    SharedSubscriptionsNotSupported = 0x9E, "Shared Subscriptions not supported";
    ConnectionRateExceeded = 0x9F, "Connection rate exceeded";
    MaximumConnectTime = 0xA0, "Maximum connect time";
    SubscriptionIdentifiersNotSupported = 0xA1, "Subscription Identifiers not supported";
    WildcardSubscriptionsNotSupported = 0xA2, "Wildcard Subscriptions not supported";
}

impl ReasonCode {
    /// The wire value.
    pub fn value(self) -> u8 {
        self as u8
    }

    /// True for codes 0x80 and above, which report failure.
    pub fn is_error(self) -> bool {
        self.value() >= 0x80
    }

    /// The MQTT 3.1.1 CONNACK return code that best carries this reason (§3.2.2.3 of 3.1.1):
    /// 1 unacceptable protocol version, 2 identifier rejected, 3 server unavailable,
    /// 4 bad user name or password, 5 not authorized.
    pub fn to_v3_connack(self) -> u8 {
        match self {
            ReasonCode::Success => 0,
            ReasonCode::UnsupportedProtocolVersion => 1,
            ReasonCode::ClientIdentifierNotValid => 2,
            ReasonCode::BadUserNameOrPassword | ReasonCode::BadAuthenticationMethod => 4,
            ReasonCode::NotAuthorized | ReasonCode::Banned => 5,
            _ => 3,
        }
    }

    /// Maps an MQTT 3.1.1 CONNACK return code (0–5) to a reason code.
    pub fn from_v3_connack(code: u8) -> Option<ReasonCode> {
        match code {
            0 => Some(ReasonCode::Success),
            1 => Some(ReasonCode::UnsupportedProtocolVersion),
            2 => Some(ReasonCode::ClientIdentifierNotValid),
            3 => Some(ReasonCode::ServerUnavailable),
            4 => Some(ReasonCode::BadUserNameOrPassword),
            5 => Some(ReasonCode::NotAuthorized),
            _ => None,
        }
    }

    /// The MQTT 3.1.1 SUBACK return code for this reason: the granted QoS, or 0x80 failure.
    pub fn to_v3_suback(self) -> u8 {
        match self {
            ReasonCode::Success => 0x00,
            ReasonCode::GrantedQos1 => 0x01,
            ReasonCode::GrantedQos2 => 0x02,
            _ => 0x80,
        }
    }

    /// Maps an MQTT 3.1.1 SUBACK return code (0, 1, 2 or 0x80) to a reason code.
    pub fn from_v3_suback(code: u8) -> Option<ReasonCode> {
        match code {
            0x00 => Some(ReasonCode::Success),
            0x01 => Some(ReasonCode::GrantedQos1),
            0x02 => Some(ReasonCode::GrantedQos2),
            0x80 => Some(ReasonCode::UnspecifiedError),
            _ => None,
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02X} {}", self.value(), self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_wire_value() {
        let mut known = 0;
        for value in 0..=u8::MAX {
            if let Some(code) = ReasonCode::from_u8(value) {
                assert_eq!(code.value(), value);
                known += 1;
            }
        }
        assert_eq!(known, 43);
    }

    #[test]
    fn v3_connack_codes_map_both_ways() {
        for code in 0..=5 {
            let reason = ReasonCode::from_v3_connack(code).unwrap();
            assert_eq!(reason.to_v3_connack(), code);
        }
        assert_eq!(ReasonCode::from_v3_connack(6), None);
        assert_eq!(ReasonCode::QuotaExceeded.to_v3_connack(), 3);
    }

    #[test]
    fn display_names_the_code() {
        assert_eq!(
            alloc::format!("{}", ReasonCode::NotAuthorized),
            "0x87 Not authorized"
        );
    }
}
