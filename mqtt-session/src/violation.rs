//! The rules a peer can break that end a connection, one variant each, in
//! the manner of rustls's `PeerMisbehaved`: a caller can match on them, and
//! each names the statement it enforces and the reason code it is answered
//! with.

use core::fmt;

use mqttkit_codec::ReasonCode;

/// A rule of the standard a well-formed packet from the peer broke. Which
/// role reports which is said on each variant; both roles report the ack and
/// alias rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// The server sent a packet other than CONNACK or AUTH before its CONNACK.
    /// Statement: `v5 [MQTT-3.2.0-1]`.
    PacketBeforeConnAck,
    /// The server sent a packet only a client sends.
    /// Statement: `v5 §2.1.2 / v3.1.1 §2.2.1`.
    ClientOnlyPacket,
    /// The server sent a second CONNACK.
    /// Statement: `v5 [MQTT-3.2.0-2]`.
    SecondConnAck,
    /// CONNACK set Session Present in reply to Clean Start.
    /// Statement: `v5 [MQTT-3.2.2-2] / v3.1.1 [MQTT-3.2.2-1]`.
    SessionPresentOnCleanStart,
    /// CONNACK set Session Present although the client has no Session State.
    /// Statement: `v5 [MQTT-3.2.2-4] / v3.1.1 §3.2.2.2`.
    SessionPresentWithoutState,
    /// CONNACK left out the Authentication Method that CONNECT carried.
    /// Statement: `v5 [MQTT-4.12.0-5]`.
    ConnAckWithoutAuthenticationMethod,
    /// CONNACK carried an Authentication Method that CONNECT did not ask for.
    /// Statement: `v5 [MQTT-4.12.0-6]`.
    UnrequestedAuthenticationMethod,
    /// The server sent AUTH although CONNECT had no Authentication Method.
    /// Statement: `v5 [MQTT-4.12.0-6]`.
    AuthWithoutAuthenticationMethod,
    /// AUTH named another Authentication Method than CONNECT.
    /// Statement: `v5 [MQTT-4.12.0-5]`.
    AuthenticationMethodChanged,
    /// The server sent AUTH Success before CONNACK, or asked to re-authenticate.
    /// Statement: `v5 §4.12`.
    UnexpectedAuthFromServer,
    /// The server sent more unacknowledged QoS 1/2 PUBLISH than the client's Receive Maximum.
    /// Statement: `v5 [MQTT-3.3.4-9]`.
    ServerExceededReceiveMaximum,
    /// A SUBACK did not have one reason code per topic filter.
    /// Statement: `v5 [MQTT-3.8.4-6] / v3.1.1 [MQTT-3.8.4-5]`.
    SubAckWithWrongCodeCount,
    /// A v5 UNSUBACK did not have one reason code per topic filter.
    /// Statement: `v5 §3.11.3`.
    UnsubAckWithWrongCodeCount,
    /// The client sent more unacknowledged QoS 1/2 PUBLISH than the server's Receive Maximum.
    /// Statement: `v5 [MQTT-3.3.4-7] / §3.3.4`.
    ClientExceededReceiveMaximum,
    /// The client sent a second CONNECT.
    /// Statement: `v5 [MQTT-3.1.0-2] / v3.1.1 [MQTT-3.1.0-2]`.
    SecondConnect,
    /// The client sent AUTH once connected: its CONNECT named no
    /// Authentication Method, or it asked to re-authenticate, which this
    /// server does not offer.
    /// Statement: `v5 [MQTT-4.12.0-7]`.
    UnexpectedAuthFromClient,
    /// The client sent a packet only a server sends.
    /// Statement: `v5 §2.1.2 / v3.1.1 §2.2.1`.
    ServerOnlyPacket,
    /// The client sent a PUBLISH above the server's Maximum QoS.
    /// Statement: `v5 [MQTT-3.2.2-11]`.
    QoSAboveMaximum,
    /// The client set RETAIN although the server announced Retain Available 0.
    /// Statement: `v5 [MQTT-3.2.2-14]`.
    RetainNotAvailable,
    /// The client put a Subscription Identifier in a PUBLISH.
    /// Statement: `v5 [MQTT-3.3.4-6]`.
    SubscriptionIdentifierFromClient,
    /// DISCONNECT set a non-zero Session Expiry Interval after CONNECT set 0.
    /// Statement: `v5 [MQTT-3.14.2-2]`.
    SessionExpiryAfterZero,
    /// The client's Maximum Packet Size is smaller than the server's CONNACK, so the connection cannot start.
    /// Statement: `v5 [MQTT-3.1.2-24]`.
    ConnAckTooLarge,
    /// The peer sent PUBREL for a QoS 2 message before it got the PUBREC.
    /// Statement: `v5 §4.3.3`.
    PubRelBeforePubRec,
    /// The peer answered a QoS 2 PUBLISH with PUBACK.
    /// Statement: `v5 [MQTT-4.3.3-8], [MQTT-4.3.3-11] / v3.1.1 [MQTT-4.3.3-2], [MQTT-4.8.0-1]`.
    PubAckForQoS2,
    /// The peer answered a QoS 1 PUBLISH with PUBREC.
    /// Statement: `v5 [MQTT-4.3.2-4] / v3.1.1 [MQTT-4.3.2-2], [MQTT-4.8.0-1]`.
    PubRecForQoS1,
    /// The peer answered a QoS 1 PUBLISH with PUBCOMP.
    /// Statement: `v5 [MQTT-4.3.2-4] / v3.1.1 [MQTT-4.3.2-2], [MQTT-4.8.0-1]`.
    PubCompForQoS1,
    /// The peer sent PUBCOMP for a QoS 2 PUBLISH before the PUBREL.
    /// Statement: `v5 [MQTT-4.3.3-8], [MQTT-4.3.3-11] / v3.1.1 [MQTT-4.3.3-2], [MQTT-4.8.0-1]`.
    PubCompBeforePubRel,
    /// The client used a Topic Alias above the server's Topic Alias Maximum.
    /// Statement: `v5 [MQTT-3.3.2-9]`.
    TopicAliasAboveMaximumFromClient,
    /// The server used a Topic Alias above the client's Topic Alias Maximum.
    /// Statement: `v5 [MQTT-3.3.2-11]`.
    TopicAliasAboveMaximumFromServer,
    /// A PUBLISH without topic used a Topic Alias with no mapping on this connection.
    /// Statement: `v5 §3.3.2.3.4`.
    UnknownTopicAlias,
}

impl PeerMisbehaved {
    /// The normative statements or sections the rule comes from, e.g.
    /// `"v5 [MQTT-3.3.4-9]"`.
    #[must_use]
    pub const fn rule(self) -> &'static str {
        match self {
            Self::PacketBeforeConnAck => "v5 [MQTT-3.2.0-1]",
            Self::ClientOnlyPacket => "v5 §2.1.2 / v3.1.1 §2.2.1",
            Self::SecondConnAck => "v5 [MQTT-3.2.0-2]",
            Self::SessionPresentOnCleanStart => "v5 [MQTT-3.2.2-2] / v3.1.1 [MQTT-3.2.2-1]",
            Self::SessionPresentWithoutState => "v5 [MQTT-3.2.2-4] / v3.1.1 §3.2.2.2",
            Self::ConnAckWithoutAuthenticationMethod => "v5 [MQTT-4.12.0-5]",
            Self::UnrequestedAuthenticationMethod => "v5 [MQTT-4.12.0-6]",
            Self::AuthWithoutAuthenticationMethod => "v5 [MQTT-4.12.0-6]",
            Self::AuthenticationMethodChanged => "v5 [MQTT-4.12.0-5]",
            Self::UnexpectedAuthFromServer => "v5 §4.12",
            Self::ServerExceededReceiveMaximum => "v5 [MQTT-3.3.4-9]",
            Self::SubAckWithWrongCodeCount => "v5 [MQTT-3.8.4-6] / v3.1.1 [MQTT-3.8.4-5]",
            Self::UnsubAckWithWrongCodeCount => "v5 §3.11.3",
            Self::ClientExceededReceiveMaximum => "v5 [MQTT-3.3.4-7] / §3.3.4",
            Self::SecondConnect => "v5 [MQTT-3.1.0-2] / v3.1.1 [MQTT-3.1.0-2]",
            Self::UnexpectedAuthFromClient => "v5 [MQTT-4.12.0-7]",
            Self::ServerOnlyPacket => "v5 §2.1.2 / v3.1.1 §2.2.1",
            Self::QoSAboveMaximum => "v5 [MQTT-3.2.2-11]",
            Self::RetainNotAvailable => "v5 [MQTT-3.2.2-14]",
            Self::SubscriptionIdentifierFromClient => "v5 [MQTT-3.3.4-6]",
            Self::SessionExpiryAfterZero => "v5 [MQTT-3.14.2-2]",
            Self::ConnAckTooLarge => "v5 [MQTT-3.1.2-24]",
            Self::PubRelBeforePubRec => "v5 §4.3.3",
            Self::PubAckForQoS2 => {
                "v5 [MQTT-4.3.3-8], [MQTT-4.3.3-11] / v3.1.1 [MQTT-4.3.3-2], [MQTT-4.8.0-1]"
            }
            Self::PubRecForQoS1 => "v5 [MQTT-4.3.2-4] / v3.1.1 [MQTT-4.3.2-2], [MQTT-4.8.0-1]",
            Self::PubCompForQoS1 => "v5 [MQTT-4.3.2-4] / v3.1.1 [MQTT-4.3.2-2], [MQTT-4.8.0-1]",
            Self::PubCompBeforePubRel => {
                "v5 [MQTT-4.3.3-8], [MQTT-4.3.3-11] / v3.1.1 [MQTT-4.3.3-2], [MQTT-4.8.0-1]"
            }
            Self::TopicAliasAboveMaximumFromClient => "v5 [MQTT-3.3.2-9]",
            Self::TopicAliasAboveMaximumFromServer => "v5 [MQTT-3.3.2-11]",
            Self::UnknownTopicAlias => "v5 §3.3.2.3.4",
        }
    }

    /// The reason code of the DISCONNECT that answers it (5.0).
    #[must_use]
    pub const fn reason(self) -> ReasonCode {
        match self {
            Self::PacketBeforeConnAck
            | Self::ClientOnlyPacket
            | Self::SecondConnAck
            | Self::SessionPresentOnCleanStart
            | Self::SessionPresentWithoutState
            | Self::ConnAckWithoutAuthenticationMethod
            | Self::UnrequestedAuthenticationMethod
            | Self::AuthWithoutAuthenticationMethod
            | Self::AuthenticationMethodChanged
            | Self::UnexpectedAuthFromServer
            | Self::SubAckWithWrongCodeCount
            | Self::UnsubAckWithWrongCodeCount
            | Self::SecondConnect
            | Self::UnexpectedAuthFromClient
            | Self::ServerOnlyPacket
            | Self::SubscriptionIdentifierFromClient
            | Self::SessionExpiryAfterZero
            | Self::PubRelBeforePubRec
            | Self::PubAckForQoS2
            | Self::PubRecForQoS1
            | Self::PubCompForQoS1
            | Self::PubCompBeforePubRel
            | Self::UnknownTopicAlias => ReasonCode::ProtocolError,
            Self::ServerExceededReceiveMaximum | Self::ClientExceededReceiveMaximum => {
                ReasonCode::ReceiveMaximumExceeded
            }
            Self::QoSAboveMaximum => ReasonCode::QoSNotSupported,
            Self::RetainNotAvailable => ReasonCode::RetainNotSupported,
            Self::ConnAckTooLarge => ReasonCode::PacketTooLarge,
            Self::TopicAliasAboveMaximumFromClient | Self::TopicAliasAboveMaximumFromServer => {
                ReasonCode::TopicAliasInvalid
            }
        }
    }
}

impl fmt::Display for PeerMisbehaved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PacketBeforeConnAck => "a packet other than CONNACK or AUTH before CONNACK",
            Self::ClientOnlyPacket => {
                "a packet only a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ)"
            }
            Self::SecondConnAck => "a second CONNACK",
            Self::SessionPresentOnCleanStart => "Session Present set in reply to Clean Start",
            Self::SessionPresentWithoutState => {
                "Session Present although the client has no Session State"
            }
            Self::ConnAckWithoutAuthenticationMethod => {
                "CONNACK without the Authentication Method of CONNECT"
            }
            Self::UnrequestedAuthenticationMethod => {
                "an Authentication Method in CONNACK that CONNECT did not ask for"
            }
            Self::AuthWithoutAuthenticationMethod => {
                "AUTH although CONNECT had no Authentication Method"
            }
            Self::AuthenticationMethodChanged => "AUTH with another Authentication Method",
            Self::UnexpectedAuthFromServer => {
                "AUTH Success before CONNACK, or Re-authenticate from the server"
            }
            Self::ServerExceededReceiveMaximum => {
                "more unacknowledged QoS 1/2 PUBLISH than our Receive Maximum"
            }
            Self::SubAckWithWrongCodeCount => "SUBACK without one reason code per topic filter",
            Self::UnsubAckWithWrongCodeCount => "UNSUBACK without one reason code per topic filter",
            Self::ClientExceededReceiveMaximum => {
                "more unacknowledged QoS 1/2 PUBLISH than our Receive Maximum"
            }
            Self::SecondConnect => "a second CONNECT",
            Self::UnexpectedAuthFromClient => {
                "AUTH outside an authentication exchange this server started"
            }
            Self::ServerOnlyPacket => "a packet only a server sends",
            Self::QoSAboveMaximum => "a PUBLISH above our Maximum QoS",
            Self::RetainNotAvailable => "RETAIN although Retain Available is 0",
            Self::SubscriptionIdentifierFromClient => {
                "a Subscription Identifier in a PUBLISH from the client"
            }
            Self::SessionExpiryAfterZero => {
                "a non-zero Session Expiry Interval on DISCONNECT after 0 on CONNECT"
            }
            Self::ConnAckTooLarge => "the client's Maximum Packet Size is smaller than our CONNACK",
            Self::PubRelBeforePubRec => "PUBREL before our PUBREC",
            Self::PubAckForQoS2 => "PUBACK for a QoS 2 PUBLISH (PUBREC or PUBCOMP was due)",
            Self::PubRecForQoS1 => "PUBREC for a QoS 1 PUBLISH (PUBACK was due)",
            Self::PubCompForQoS1 => "PUBCOMP for a QoS 1 PUBLISH (PUBACK was due)",
            Self::PubCompBeforePubRel => {
                "PUBCOMP for a QoS 2 PUBLISH with no PUBREL sent (PUBREC was due)"
            }
            Self::TopicAliasAboveMaximumFromClient => "a Topic Alias above our Topic Alias Maximum",
            Self::TopicAliasAboveMaximumFromServer => "a Topic Alias above our Topic Alias Maximum",
            Self::UnknownTopicAlias => "a Topic Alias that has no mapping on this connection",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn every_rule_names_a_statement_and_an_error_code() {
        let all = [
            PeerMisbehaved::PacketBeforeConnAck,
            PeerMisbehaved::ClientOnlyPacket,
            PeerMisbehaved::SecondConnAck,
            PeerMisbehaved::SessionPresentOnCleanStart,
            PeerMisbehaved::SessionPresentWithoutState,
            PeerMisbehaved::ConnAckWithoutAuthenticationMethod,
            PeerMisbehaved::UnrequestedAuthenticationMethod,
            PeerMisbehaved::AuthWithoutAuthenticationMethod,
            PeerMisbehaved::AuthenticationMethodChanged,
            PeerMisbehaved::UnexpectedAuthFromServer,
            PeerMisbehaved::ServerExceededReceiveMaximum,
            PeerMisbehaved::SubAckWithWrongCodeCount,
            PeerMisbehaved::UnsubAckWithWrongCodeCount,
            PeerMisbehaved::ClientExceededReceiveMaximum,
            PeerMisbehaved::SecondConnect,
            PeerMisbehaved::UnexpectedAuthFromClient,
            PeerMisbehaved::ServerOnlyPacket,
            PeerMisbehaved::QoSAboveMaximum,
            PeerMisbehaved::RetainNotAvailable,
            PeerMisbehaved::SubscriptionIdentifierFromClient,
            PeerMisbehaved::SessionExpiryAfterZero,
            PeerMisbehaved::ConnAckTooLarge,
            PeerMisbehaved::PubRelBeforePubRec,
            PeerMisbehaved::PubAckForQoS2,
            PeerMisbehaved::PubRecForQoS1,
            PeerMisbehaved::PubCompForQoS1,
            PeerMisbehaved::PubCompBeforePubRel,
            PeerMisbehaved::TopicAliasAboveMaximumFromClient,
            PeerMisbehaved::TopicAliasAboveMaximumFromServer,
            PeerMisbehaved::UnknownTopicAlias,
        ];
        for m in all {
            assert!(m.rule().starts_with("v5 "), "{m:?}");
            assert!(m.reason().is_error(), "{m:?}");
            assert!(!format!("{m}").is_empty());
        }
        assert_eq!(
            PeerMisbehaved::ServerExceededReceiveMaximum.reason(),
            ReasonCode::ReceiveMaximumExceeded
        );
    }
}
