//! Reason codes (v5 §2.4), as one enum of every code and one subset enum
//! per packet, so that a packet can only carry a code the standard allows
//! in it (v5 [MQTT-3.2.2-8], [MQTT-3.6.2-1], [MQTT-3.14.2-1], [MQTT-3.15.2-1]).

use core::fmt;

macro_rules! reason_codes {
    ($($variant:ident = $code:literal, $text:literal;)+) => {
        /// Every MQTT 5.0 reason code (v5 §2.4, Table 2-6). The standard also
        /// calls 0x00 "Normal disconnection" and "Granted QoS 0".
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        #[repr(u8)]
        pub enum ReasonCode {
            $(#[doc = $text] $variant = $code,)+
        }

        impl ReasonCode {
            /// The code for a byte, if MQTT 5.0 defines one.
            pub const fn from_u8(code: u8) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// The standard's name for the code.
            pub const fn description(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }
    };
}

reason_codes! {
    Success = 0x00, "Success";
    GrantedQoS1 = 0x01, "Granted QoS 1";
    GrantedQoS2 = 0x02, "Granted QoS 2";
    DisconnectWithWillMessage = 0x04, "Disconnect with Will Message";
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
    QoSNotSupported = 0x9B, "QoS not supported";
    UseAnotherServer = 0x9C, "Use another server";
    ServerMoved = 0x9D, "Server moved";
    SharedSubscriptionsNotSupported = 0x9E, "Shared Subscriptions not supported";
    ConnectionRateExceeded = 0x9F, "Connection rate exceeded";
    MaximumConnectTime = 0xA0, "Maximum connect time";
    SubscriptionIdentifiersNotSupported = 0xA1, "Subscription Identifiers not supported";
    WildcardSubscriptionsNotSupported = 0xA2, "Wildcard Subscriptions not supported";
}

impl ReasonCode {
    /// The byte on the wire.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Codes of 0x80 and above report a failure (v5 §2.4).
    pub const fn is_error(self) -> bool {
        self.code() >= 0x80
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x} {}", self.code(), self.description())
    }
}

macro_rules! reason_subset {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        #[repr(u8)]
        pub enum $name {
            $(
                #[doc = concat!("The code [`ReasonCode::", stringify!($variant), "`].")]
                $variant = ReasonCode::$variant as u8,
            )+
        }

        impl $name {
            /// The code for a byte, if this packet allows it.
            pub const fn from_u8(code: u8) -> Option<Self> {
                $(if code == Self::$variant as u8 { return Some(Self::$variant); })+
                None
            }

            /// The byte on the wire.
            pub const fn code(self) -> u8 {
                self as u8
            }

            /// Codes of 0x80 and above report a failure.
            pub const fn is_error(self) -> bool {
                self.code() >= 0x80
            }
        }

        impl From<$name> for ReasonCode {
            fn from(code: $name) -> Self {
                match code {
                    $($name::$variant => ReasonCode::$variant,)+
                }
            }
        }

        impl TryFrom<ReasonCode> for $name {
            type Error = ReasonCode;

            fn try_from(code: ReasonCode) -> Result<Self, ReasonCode> {
                Self::from_u8(code.code()).ok_or(code)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&ReasonCode::from(*self), f)
            }
        }
    };
}

reason_subset! {
    /// CONNACK reason codes (v5 §3.2.2.2). In 3.1 and 3.1.1 the first six
    /// map to the connect return codes 0 to 5.
    ConnectReasonCode {
        Success, UnspecifiedError, MalformedPacket, ProtocolError,
        ImplementationSpecificError, UnsupportedProtocolVersion,
        ClientIdentifierNotValid, BadUserNameOrPassword, NotAuthorized,
        ServerUnavailable, ServerBusy, Banned, BadAuthenticationMethod,
        TopicNameInvalid, PacketTooLarge, QuotaExceeded, PayloadFormatInvalid,
        RetainNotSupported, QoSNotSupported, UseAnotherServer, ServerMoved,
        ConnectionRateExceeded,
    }
}

reason_subset! {
    /// PUBACK and PUBREC reason codes (v5 §3.4.2.1, §3.5.2.1).
    PubAckReasonCode {
        Success, NoMatchingSubscribers, UnspecifiedError,
        ImplementationSpecificError, NotAuthorized, TopicNameInvalid,
        PacketIdentifierInUse, QuotaExceeded, PayloadFormatInvalid,
    }
}

reason_subset! {
    /// PUBREL and PUBCOMP reason codes (v5 §3.6.2.1, §3.7.2.1).
    PubRelReasonCode { Success, PacketIdentifierNotFound }
}

reason_subset! {
    /// SUBACK reason codes (v5 §3.9.3); in 3.1.1 only the granted QoS
    /// values and 0x80 exist.
    SubAckReasonCode {
        Success, GrantedQoS1, GrantedQoS2, UnspecifiedError,
        ImplementationSpecificError, NotAuthorized, TopicFilterInvalid,
        PacketIdentifierInUse, QuotaExceeded, SharedSubscriptionsNotSupported,
        SubscriptionIdentifiersNotSupported, WildcardSubscriptionsNotSupported,
    }
}

reason_subset! {
    /// UNSUBACK reason codes (v5 §3.11.3).
    UnsubAckReasonCode {
        Success, NoSubscriptionExisted, UnspecifiedError,
        ImplementationSpecificError, NotAuthorized, TopicFilterInvalid,
        PacketIdentifierInUse,
    }
}

reason_subset! {
    /// DISCONNECT reason codes (v5 §3.14.2.1).
    DisconnectReasonCode {
        Success, DisconnectWithWillMessage, UnspecifiedError, MalformedPacket,
        ProtocolError, ImplementationSpecificError, NotAuthorized, ServerBusy,
        ServerShuttingDown, KeepAliveTimeout, SessionTakenOver,
        TopicFilterInvalid, TopicNameInvalid, ReceiveMaximumExceeded,
        TopicAliasInvalid, PacketTooLarge, MessageRateTooHigh, QuotaExceeded,
        AdministrativeAction, PayloadFormatInvalid, RetainNotSupported,
        QoSNotSupported, UseAnotherServer, ServerMoved,
        SharedSubscriptionsNotSupported, ConnectionRateExceeded,
        MaximumConnectTime, SubscriptionIdentifiersNotSupported,
        WildcardSubscriptionsNotSupported,
    }
}

reason_subset! {
    /// AUTH reason codes (v5 §3.15.2.1).
    AuthReasonCode { Success, ContinueAuthentication, ReAuthenticate }
}

impl ConnectReasonCode {
    /// The 3.1 / 3.1.1 connect return code (v3.1.1 §3.2.2.3), if this code has one.
    pub const fn v3_return_code(self) -> Option<u8> {
        match self {
            Self::Success => Some(0),
            Self::UnsupportedProtocolVersion => Some(1),
            Self::ClientIdentifierNotValid => Some(2),
            Self::ServerUnavailable => Some(3),
            Self::BadUserNameOrPassword => Some(4),
            Self::NotAuthorized => Some(5),
            _ => None,
        }
    }

    /// The code for a 3.1 / 3.1.1 connect return code (0 to 5).
    pub const fn from_v3_return_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Success),
            1 => Some(Self::UnsupportedProtocolVersion),
            2 => Some(Self::ClientIdentifierNotValid),
            3 => Some(Self::ServerUnavailable),
            4 => Some(Self::BadUserNameOrPassword),
            5 => Some(Self::NotAuthorized),
            _ => None,
        }
    }
}

impl SubAckReasonCode {
    /// The code granting `qos`.
    pub const fn granted(qos: crate::QoS) -> Self {
        match qos {
            crate::QoS::AtMostOnce => Self::Success,
            crate::QoS::AtLeastOnce => Self::GrantedQoS1,
            crate::QoS::ExactlyOnce => Self::GrantedQoS2,
        }
    }

    /// Whether 3.1.1 can express this code (v3.1.1 §3.9.3: 0x00, 0x01, 0x02, 0x80).
    pub const fn in_v3(self) -> bool {
        matches!(
            self,
            Self::Success | Self::GrantedQoS1 | Self::GrantedQoS2 | Self::UnspecifiedError
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_defined_byte_round_trips_and_undefined_bytes_do_not_exist() {
        let mut defined = 0;
        for byte in 0..=u8::MAX {
            if let Some(code) = ReasonCode::from_u8(byte) {
                assert_eq!(code.code(), byte);
                defined += 1;
            }
        }
        // v5 §2.4 Table 2-6 lists 43 distinct byte values.
        assert_eq!(defined, 43);
    }

    /// v5 [MQTT-3.6.2-1]: PUBREL carries only 0x00 or 0x92.
    #[test]
    fn v5_mqtt_3_6_2_1_pubrel_subset() {
        let allowed: alloc::vec::Vec<u8> = (0..=u8::MAX)
            .filter(|b| PubRelReasonCode::from_u8(*b).is_some())
            .collect();
        assert_eq!(allowed, [0x00, 0x92]);
    }

    /// v5 [MQTT-3.15.2-1]: AUTH carries 0x00, 0x18 or 0x19.
    #[test]
    fn v5_mqtt_3_15_2_1_auth_subset() {
        let allowed: alloc::vec::Vec<u8> = (0..=u8::MAX)
            .filter(|b| AuthReasonCode::from_u8(*b).is_some())
            .collect();
        assert_eq!(allowed, [0x00, 0x18, 0x19]);
    }

    #[test]
    fn subset_converts_to_and_from_the_full_code() {
        let code = ReasonCode::from(DisconnectReasonCode::TopicAliasInvalid);
        assert_eq!(code, ReasonCode::TopicAliasInvalid);
        assert_eq!(
            DisconnectReasonCode::try_from(code),
            Ok(DisconnectReasonCode::TopicAliasInvalid)
        );
        assert!(AuthReasonCode::try_from(code).is_err());
    }
}
