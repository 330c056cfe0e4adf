//! Decode and encode errors.
//!
//! Every decode error names the statement of the standards it enforces and
//! the reason code a v5 receiver answers with (in CONNACK when the error is
//! in a CONNECT, in DISCONNECT otherwise). No error allocates.

use core::fmt;

use mqttkit_topic::TopicError;

use crate::header::PacketType;
use crate::property::PropertyId;
use crate::reason::ReasonCode;

/// Why a received frame was refused.
///
/// `Display` names the broken rule with its statement ids, qualified by
/// version because the two standards reuse ids for different rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A variable byte integer longer than four bytes or not in its shortest
    /// form: v5 [MQTT-1.5.5-1], v3.1.1 §2.2.3.
    #[error("malformed variable byte integer (over 4 bytes or not minimal), v5 [MQTT-1.5.5-1]")]
    MalformedVariableByteInteger,
    /// Packet type 0, or 15 (AUTH) outside MQTT 5.0: v5 §2.1.2, v3.1.1 §2.2.1.
    #[error("reserved or unknown packet type {0}, v5 §2.1.2 / v3.1.1 §2.2.1")]
    InvalidPacketType(u8),
    /// Fixed header flags other than those the packet type requires.
    #[error(
        "reserved fixed header flags {flags:#06b} in {packet_type}, v5 [MQTT-2.1.3-1] / v3.1.1 [MQTT-2.2.2-1]"
    )]
    ReservedFlags {
        /// The packet type.
        packet_type: PacketType,
        /// The four flag bits received.
        flags: u8,
    },
    /// The packet is larger than the configured Maximum Packet Size.
    #[error("packet of {size} bytes exceeds the maximum packet size {max}, v5 §3.1.2.11.4")]
    PacketTooLarge {
        /// Total size of the packet, fixed header included (saturated at `u32::MAX`).
        size: u32,
        /// The configured maximum.
        max: u32,
    },
    /// A field runs past the end given by the remaining length (or by its
    /// enclosing property length).
    #[error("{0} content overruns its remaining length")]
    UnexpectedEnd(PacketType),
    /// A frame of another type given to a reader of one packet type
    /// ([`crate::PublishView`]); not a protocol violation by itself.
    #[error("a {0} frame where a PUBLISH was expected")]
    UnexpectedPacketType(PacketType),
    /// Bytes are left over after the last field of the packet.
    #[error("{0} content is shorter than its remaining length")]
    TrailingBytes(PacketType),
    /// Ill-formed UTF-8: v5 [MQTT-1.5.4-1], v3.1.1 [MQTT-1.5.3-1].
    #[error("ill-formed UTF-8 string, v5 [MQTT-1.5.4-1] / v3.1.1 [MQTT-1.5.3-1]")]
    InvalidUtf8,
    /// U+0000 in a UTF-8 string: v5 [MQTT-1.5.4-2], v3.1.1 [MQTT-1.5.3-2].
    #[error("U+0000 in a UTF-8 string, v5 [MQTT-1.5.4-2] / v3.1.1 [MQTT-1.5.3-2]")]
    NullCharacter,
    /// A string longer than 65,535 bytes (only reachable from constructors).
    #[error("string longer than 65,535 bytes, v5 §1.5.4")]
    StringTooLong,
    /// A topic name breaks a rule of §4.7 (wildcards, empty, ...).
    #[error("invalid topic name: {0}")]
    TopicName(TopicError),
    /// A topic filter or shared subscription breaks a rule of §4.7 or §4.8.2.
    #[error("invalid topic filter: {0}")]
    TopicFilter(TopicError),
    /// QoS 3: v5 [MQTT-3.3.1-4], v3.1.1 [MQTT-3.3.1-4].
    #[error("QoS 3 is reserved, v5 [MQTT-3.3.1-4] / v3.1.1 [MQTT-3.3.1-4]")]
    InvalidQoS,
    /// DUP set on a QoS 0 PUBLISH: v5 [MQTT-3.3.1-2], v3.1.1 [MQTT-3.3.1-2].
    #[error("DUP set on a QoS 0 PUBLISH, v5 [MQTT-3.3.1-2] / v3.1.1 [MQTT-3.3.1-2]")]
    DupOnQoS0,
    /// Packet identifier 0: v5 [MQTT-2.2.1-3], v3.1.1 [MQTT-2.3.1-1].
    #[error("packet identifier 0, v5 [MQTT-2.2.1-3] / v3.1.1 [MQTT-2.3.1-1]")]
    ZeroPacketId,
    /// A v5 PUBLISH with an empty topic and no Topic Alias (v5 §3.3.2.3.4),
    /// or an empty topic in 3.1.1 (v3.1.1 [MQTT-4.7.3-1]).
    #[error("empty topic name without a Topic Alias, v5 §3.3.2.3.4 / v3.1.1 [MQTT-4.7.3-1]")]
    EmptyTopicWithoutAlias,
    /// A property identifier that MQTT 5.0 does not define (v5 §2.2.2.2).
    #[error("unknown property identifier {0:#04x}, v5 §2.2.2.2")]
    UnknownProperty(u32),
    /// A property that this packet must not carry (v5 §2.2.2.2).
    #[error("property {property:?} is not allowed in {packet}, v5 §2.2.2.2")]
    PropertyNotAllowed {
        /// The property.
        property: PropertyId,
        /// Where it was found.
        packet: PacketType,
    },
    /// A property that may appear at most once appeared again.
    #[error(
        "property {0:?} included more than once, v5 §3 (\"It is a Protocol Error to include ... more than once\")"
    )]
    DuplicateProperty(PropertyId),
    /// A property value outside its range (Receive Maximum 0, Maximum Packet
    /// Size 0, Topic Alias 0, Subscription Identifier 0, a boolean above 1, ...).
    #[error("property {0:?} has a value outside its range, v5 §3")]
    InvalidPropertyValue(PropertyId),
    /// Authentication Data without an Authentication Method (v5 §3.1.2.11.10).
    #[error("Authentication Data without Authentication Method, v5 §3.1.2.11.10")]
    AuthenticationDataWithoutMethod,
    /// A reason code not defined for this packet: v5 [MQTT-3.2.2-8],
    /// [MQTT-3.6.2-1], [MQTT-3.14.2-1], [MQTT-3.15.2-1], ...
    #[error("reason code {code:#04x} is not valid in {packet}")]
    InvalidReasonCode {
        /// Where it was found.
        packet: PacketType,
        /// The byte received.
        code: u8,
    },
    /// The CONNECT protocol name is not `MQTT` (or `MQIsdp` for level 3):
    /// v5 [MQTT-3.1.2-1], v3.1.1 [MQTT-3.1.2-1].
    #[error(
        "protocol name is not \"MQTT\" (or \"MQIsdp\" at level 3), v5 [MQTT-3.1.2-1] / v3.1.1 [MQTT-3.1.2-1]"
    )]
    InvalidProtocolName,
    /// The CONNECT protocol level is not 3, 4 or 5: v5 [MQTT-3.1.2-2],
    /// v3.1.1 [MQTT-3.1.2-2] (return code 0x01).
    #[error("unsupported protocol level {0}, v5 [MQTT-3.1.2-2] / v3.1.1 [MQTT-3.1.2-2]")]
    UnsupportedProtocolLevel(u8),
    /// The CONNECT reserved flag is set: v5 [MQTT-3.1.2-3], v3.1.1 [MQTT-3.1.2-3].
    #[error("CONNECT reserved flag is set, v5 [MQTT-3.1.2-3] / v3.1.1 [MQTT-3.1.2-3]")]
    ConnectReservedFlag,
    /// Will QoS or Will Retain set without the Will Flag, or Will QoS 3:
    /// v5 [MQTT-3.1.2-11], [MQTT-3.1.2-12], [MQTT-3.1.2-13];
    /// v3.1.1 [MQTT-3.1.2-13], [MQTT-3.1.2-14], [MQTT-3.1.2-15].
    #[error("inconsistent will flags, v5 [MQTT-3.1.2-11..13] / v3.1.1 [MQTT-3.1.2-13..15]")]
    InconsistentWillFlags,
    /// Password flag without the user name flag in 3.1 or 3.1.1:
    /// v3.1.1 [MQTT-3.1.2-22].
    #[error("password without user name, v3.1.1 [MQTT-3.1.2-22]")]
    PasswordWithoutUsername,
    /// CONNACK acknowledge flags bits 7-1 set: v5 [MQTT-3.2.2-1], v3.1.1 §3.2.2.1.
    #[error("CONNACK reserved flags set, v5 [MQTT-3.2.2-1] / v3.1.1 §3.2.2.1")]
    ConnAckReservedFlags,
    /// Session Present with a refusal: v5 [MQTT-3.2.2-6], v3.1.1 [MQTT-3.2.2-4].
    #[error(
        "session present set with a non-zero reason code, v5 [MQTT-3.2.2-6] / v3.1.1 [MQTT-3.2.2-4]"
    )]
    SessionPresentWithRefusal,
    /// A SUBSCRIBE without any filter: v5 [MQTT-3.8.3-2], v3.1.1 [MQTT-3.8.3-3].
    #[error("SUBSCRIBE without topic filters, v5 [MQTT-3.8.3-2] / v3.1.1 [MQTT-3.8.3-3]")]
    EmptySubscribe,
    /// An UNSUBSCRIBE without any filter: v5 [MQTT-3.10.3-2], v3.1.1 [MQTT-3.10.3-2].
    #[error("UNSUBSCRIBE without topic filters, v5 [MQTT-3.10.3-2] / v3.1.1 [MQTT-3.10.3-2]")]
    EmptyUnsubscribe,
    /// A SUBACK or UNSUBACK without any reason code (v5 §3.9.3, §3.11.3).
    #[error("acknowledgement without reason codes, v5 §3.9.3 / v3.1.1 §3.9.3")]
    EmptyAckPayload,
    /// Reserved subscription option bits set: v5 [MQTT-3.8.3-5], v3.1.1 [MQTT-3.8.3-4].
    #[error("reserved subscription option bits set, v5 [MQTT-3.8.3-5] / v3.1.1 [MQTT-3.8.3-4]")]
    SubscriptionOptionsReserved,
    /// Retain Handling 3 (v5 §3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3").
    #[error("Retain Handling 3, v5 §3.8.3.1")]
    InvalidRetainHandling,
    /// No Local on a shared subscription: v5 [MQTT-3.8.3-4].
    #[error("No Local set on a shared subscription, v5 [MQTT-3.8.3-4]")]
    NoLocalOnSharedSubscription,
}

impl DecodeError {
    /// The reason code a v5 receiver sends for this error: in CONNACK when
    /// it was found in a CONNECT, in DISCONNECT otherwise. A 3.1.1 receiver
    /// closes the connection, or answers an unsupported level with CONNACK
    /// return code 0x01.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            Self::InvalidProtocolName | Self::UnsupportedProtocolLevel(_) => {
                ReasonCode::UnsupportedProtocolVersion
            }
            Self::InvalidPropertyValue(PropertyId::TopicAlias) => ReasonCode::TopicAliasInvalid,
            Self::DuplicateProperty(_)
            | Self::InvalidPropertyValue(_)
            | Self::AuthenticationDataWithoutMethod
            | Self::InvalidRetainHandling
            | Self::NoLocalOnSharedSubscription
            | Self::EmptyTopicWithoutAlias
            | Self::EmptySubscribe
            | Self::EmptyUnsubscribe => ReasonCode::ProtocolError,
            _ => ReasonCode::MalformedPacket,
        }
    }
}

/// Why a packet could not be encoded. Nothing is written when encoding fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The packet would be larger than 268,435,455 bytes of remaining length,
    /// or than the maximum packet size given to the encoder.
    #[error("packet too large to encode ({size} bytes, maximum {max})")]
    PacketTooLarge {
        /// The size the packet would have (saturated at `usize::MAX`).
        size: usize,
        /// The limit it exceeds.
        max: usize,
    },
    /// The destination buffer cannot grow to hold the packet.
    #[error("buffer has room for {available} bytes, the packet needs {needed}")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer can still take.
        available: usize,
    },
    /// A string is not a valid MQTT UTF-8 string (too long, U+0000, ...).
    #[error("invalid UTF-8 string field")]
    InvalidString,
    /// Binary data longer than 65,535 bytes.
    #[error("binary data longer than 65,535 bytes")]
    BinaryTooLong,
    /// A value outside the range of its field (a Subscription Identifier
    /// above 268,435,455, ...).
    #[error("{0:?} value out of range")]
    ValueOutOfRange(PropertyId),
    /// The packet or one of its values cannot be expressed in this protocol
    /// version (AUTH before 5.0, a v5-only reason code in 3.1.1, ...).
    #[error("{0} cannot be expressed in this protocol version")]
    NotInVersion(VersionFeature),
    /// A packet that breaks a rule of the standard (an empty SUBSCRIBE, a
    /// PUBLISH with neither topic nor alias, ...).
    #[error("invalid packet: {0}")]
    InvalidPacket(InvalidPacket),
}

/// What a packet holds that the protocol version it is encoded for cannot
/// express, carried by [`EncodeError::NotInVersion`].
///
/// MQTT 3.1 and 3.1.1 have no AUTH packet, no subscription options beyond
/// the QoS and only a few reason codes; the encoder refuses a packet that
/// would lose its meaning if those were left out. v5-only properties are
/// not in this list: a 3.1.1 encoding leaves them out.
///
/// `Display` names the refused part, as in "AUTH" or "subscription options
/// other than QoS".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionFeature {
    /// An AUTH packet, which exists only in MQTT 5.0 (v5 §3.15).
    AuthPacket,
    /// A CONNECT with a password and no user name, which 3.1 and 3.1.1
    /// forbid (v3.1.1 [MQTT-3.1.2-22]) and 5.0 allows.
    PasswordWithoutUsername,
    /// A CONNACK reason code that has no 3.1.1 return code (v3.1.1 §3.2.2.3
    /// defines only 0x00 to 0x05).
    ConnAckReasonCode,
    /// A SUBACK reason code other than the 3.1.1 return codes 0x00, 0x01,
    /// 0x02 and 0x80 (v3.1.1 §3.9.3).
    SubAckReasonCode,
    /// Subscription options other than the maximum QoS (No Local, Retain As
    /// Published, Retain Handling), which 3.1.1 has no bits for
    /// (v3.1.1 §3.8.3).
    SubscriptionOptions,
    /// A reason code other than Success in a PUBACK, PUBREC, PUBREL,
    /// PUBCOMP or DISCONNECT: these 3.1.1 packets carry no reason code.
    NonSuccessReasonCode,
}

impl fmt::Display for VersionFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AuthPacket => "AUTH",
            Self::PasswordWithoutUsername => "a password without a user name",
            Self::ConnAckReasonCode => "this CONNACK reason code",
            Self::SubAckReasonCode => "a SUBACK code other than 0, 1, 2, 0x80",
            Self::SubscriptionOptions => "subscription options other than QoS",
            Self::NonSuccessReasonCode => "a reason code other than Success",
        })
    }
}

/// The rule of the standard a packet given to the encoder breaks, carried
/// by [`EncodeError::InvalidPacket`].
///
/// Each is a rule the decoder enforces on received packets, so that nothing
/// is encoded that its receiver must refuse; [`InvalidPacket::rule`] names
/// the statement, and `Display` describes the packet, as in "SUBSCRIBE
/// without topic filters".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidPacket {
    /// Authentication Data without an Authentication Method in a CONNECT,
    /// CONNACK or AUTH (v5 §3.1.2.11.10, §3.2.2.3.18, §3.15.2.2.3).
    AuthenticationDataWithoutMethod,
    /// The properties break another rule that spans several of them
    /// (v5 §3).
    PropertyRule,
    /// A PUBLISH with neither a topic name nor, in 5.0, a Topic Alias
    /// (v5 §3.3.2.3.4, v3.1.1 [MQTT-4.7.3-1]).
    PublishWithoutTopic,
    /// A CONNACK with Session Present and a refusal (v5 [MQTT-3.2.2-6],
    /// v3.1.1 [MQTT-3.2.2-4]).
    SessionPresentWithRefusal,
    /// A SUBSCRIBE without any topic filter (v5 [MQTT-3.8.3-2],
    /// v3.1.1 [MQTT-3.8.3-3]).
    EmptySubscribe,
    /// A SUBACK without any reason code (v5 §3.9.3, v3.1.1 §3.9.3).
    EmptySubAck,
    /// An UNSUBSCRIBE without any topic filter (v5 [MQTT-3.10.3-2],
    /// v3.1.1 [MQTT-3.10.3-2]).
    EmptyUnsubscribe,
    /// A v5 UNSUBACK without any reason code (v5 §3.11.3).
    EmptyUnsubAck,
    /// A v5 SUBSCRIBE or UNSUBSCRIBE filter that starts with `$share/` but
    /// is not a valid shared subscription; the [`TopicError`] says which
    /// rule of v5 §4.8.2 it breaks.
    SharedSubscription(TopicError),
    /// No Local set on a shared subscription (v5 [MQTT-3.8.3-4]).
    NoLocalOnSharedSubscription,
}

impl InvalidPacket {
    /// The spec statement id(s) this error enforces, per protocol version,
    /// or the section where the rule has no id.
    ///
    /// For example `"v5 [MQTT-3.8.3-2], v3.1.1 [MQTT-3.8.3-3]"` for
    /// [`InvalidPacket::EmptySubscribe`].
    #[must_use]
    pub const fn rule(&self) -> &'static str {
        match self {
            Self::AuthenticationDataWithoutMethod => "v5 §3.1.2.11.10, §3.2.2.3.18, §3.15.2.2.3",
            Self::PropertyRule => "v5 §3",
            Self::PublishWithoutTopic => "v5 §3.3.2.3.4, v3.1.1 [MQTT-4.7.3-1]",
            Self::SessionPresentWithRefusal => "v5 [MQTT-3.2.2-6], v3.1.1 [MQTT-3.2.2-4]",
            Self::EmptySubscribe => "v5 [MQTT-3.8.3-2], v3.1.1 [MQTT-3.8.3-3]",
            Self::EmptySubAck => "v5 §3.9.3, v3.1.1 §3.9.3",
            Self::EmptyUnsubscribe => "v5 [MQTT-3.10.3-2], v3.1.1 [MQTT-3.10.3-2]",
            Self::EmptyUnsubAck => "v5 §3.11.3",
            Self::SharedSubscription(e) => e.rule(),
            Self::NoLocalOnSharedSubscription => "v5 [MQTT-3.8.3-4]",
        }
    }
}

impl fmt::Display for InvalidPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AuthenticationDataWithoutMethod => {
                "Authentication Data without Authentication Method"
            }
            Self::PropertyRule => "properties break a rule of the standard",
            Self::PublishWithoutTopic => "PUBLISH needs a topic name or, in 5.0, a Topic Alias",
            Self::SessionPresentWithRefusal => "Session Present with a refusal",
            Self::EmptySubscribe => "SUBSCRIBE without topic filters",
            Self::EmptySubAck => "SUBACK without reason codes",
            Self::EmptyUnsubscribe => "UNSUBSCRIBE without topic filters",
            Self::EmptyUnsubAck => "UNSUBACK without reason codes",
            Self::SharedSubscription(_) => "invalid shared subscription",
            Self::NoLocalOnSharedSubscription => "No Local on a shared subscription",
        })
    }
}

impl From<nom::Err<DecodeError>> for DecodeError {
    fn from(err: nom::Err<DecodeError>) -> Self {
        match err {
            nom::Err::Error(e) | nom::Err::Failure(e) => e,
            // Packets are parsed only once the whole frame is buffered, with
            // nom's complete parsers, so "incomplete" means the content ran
            // past the remaining length; the packet decoder fills in the type.
            nom::Err::Incomplete(_) => Self::UnexpectedEnd(PacketType::Connect),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    #[test]
    fn version_feature_names_the_refused_part() {
        let err = EncodeError::NotInVersion(VersionFeature::SubscriptionOptions);
        assert!(matches!(
            err,
            EncodeError::NotInVersion(VersionFeature::SubscriptionOptions)
        ));
        assert_eq!(VersionFeature::AuthPacket.to_string(), "AUTH");
        assert_eq!(
            err.to_string(),
            "subscription options other than QoS cannot be expressed in this protocol version"
        );
    }

    #[test]
    fn invalid_packet_names_the_rule() {
        let err = EncodeError::InvalidPacket(InvalidPacket::EmptySubscribe);
        assert!(matches!(
            err,
            EncodeError::InvalidPacket(InvalidPacket::EmptySubscribe)
        ));
        assert_eq!(
            err.to_string(),
            "invalid packet: SUBSCRIBE without topic filters"
        );
        assert_eq!(
            InvalidPacket::EmptySubscribe.rule(),
            "v5 [MQTT-3.8.3-2], v3.1.1 [MQTT-3.8.3-3]"
        );
        let shared = InvalidPacket::SharedSubscription(TopicError::EmptyShareName);
        assert_eq!(shared.to_string(), "invalid shared subscription");
        assert_eq!(shared.rule(), TopicError::EmptyShareName.rule());
    }
}
