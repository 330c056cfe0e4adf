//! Errors: fatal protocol violations by the peer, and refused or failed
//! application operations.

use mqttkit_codec::{DecodeError, ReasonCode};

use crate::violation::PeerMisbehaved;

/// What the peer did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViolationKind {
    /// A packet the codec refused; the error names the rule.
    Malformed(DecodeError),
    /// A well-formed packet that breaks a session rule; the variant names
    /// the statement ([`PeerMisbehaved::rule`]).
    Rule(PeerMisbehaved),
}

/// A fatal protocol violation by the peer. It closes the connection and is
/// reported once, in [`crate::CloseCause::ProtocolViolation`] or
/// [`crate::ServerCloseCause::ProtocolViolation`], while the DISCONNECT
/// carrying [`ProtocolViolation::reason`] (MQTT 5.0 only) waits in
/// `poll_transmit`; [`crate::Client::violation`] and
/// [`crate::Server::violation`] keep it for the rest of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
// Both roles report with this type, so the text must name neither role.
#[error("protocol violation by the peer ({kind}); DISCONNECT reason {reason}")]
#[non_exhaustive]
pub struct ProtocolViolation {
    /// The reason code of the DISCONNECT sent to the peer.
    pub reason: ReasonCode,
    /// The violation.
    pub kind: ViolationKind,
}

impl core::fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Malformed(err) => write!(f, "{err}"),
            Self::Rule(rule) => write!(f, "{rule}, {}", rule.rule()),
        }
    }
}

impl ProtocolViolation {
    pub(crate) const fn rule(rule: PeerMisbehaved) -> Self {
        Self {
            reason: rule.reason(),
            kind: ViolationKind::Rule(rule),
        }
    }

    pub(crate) fn malformed(err: DecodeError) -> Self {
        Self {
            reason: err.reason_code(),
            kind: ViolationKind::Malformed(err),
        }
    }
}

/// Why an operation was refused when it was submitted, or failed later
/// (reported by [`crate::Event::OpFailed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// The queue is full: it holds [`crate::ClientConfig::max_pending`]
    /// operations (client), or a queued QoS 0 message was dropped to make
    /// room for a QoS 1 or 2 one under [`crate::ServerConfig::max_queued`]
    /// and [`crate::ServerConfig::max_queued_bytes`] (server).
    #[error("the pending queue is full")]
    QueueFull,
    /// The server's Maximum QoS is lower (v5 [MQTT-3.2.2-11]).
    #[error("QoS above the server's Maximum QoS, v5 [MQTT-3.2.2-11]")]
    QoSNotSupported,
    /// The server has no retained messages (v5 [MQTT-3.2.2-14]).
    #[error("RETAIN set but the server has Retain Available 0, v5 [MQTT-3.2.2-14]")]
    RetainNotAvailable,
    /// The server has no wildcard subscriptions (v5 §3.2.2.3.11).
    #[error("wildcard subscriptions are not available on this server")]
    WildcardSubscriptionsNotAvailable,
    /// The server has no shared subscriptions (v5 §3.2.2.3.13).
    #[error("shared subscriptions are not available on this server")]
    SharedSubscriptionsNotAvailable,
    /// The server has no subscription identifiers (v5 §3.2.2.3.12).
    #[error("subscription identifiers are not available on this server")]
    SubscriptionIdentifiersNotAvailable,
    /// A client PUBLISH must not carry a Subscription Identifier (v5 [MQTT-3.3.4-6]).
    #[error("a PUBLISH from a client carries no Subscription Identifier, v5 [MQTT-3.3.4-6]")]
    SubscriptionIdentifierInPublish,
    /// The packet is larger than the server's Maximum Packet Size; user
    /// properties are never dropped to make it fit (v5 [MQTT-3.2.2-15]).
    #[error("packet larger than the server's Maximum Packet Size, v5 [MQTT-3.2.2-15]")]
    PacketTooLarge,
    /// The Message Expiry Interval passed before the message could be sent.
    #[error("the Message Expiry Interval passed while the message was queued")]
    MessageExpired,
    /// The packet cannot be encoded (a v5-only feature on 3.1.1, ...).
    #[error("the packet cannot be encoded: {0}")]
    Encode(mqttkit_codec::EncodeError),
    /// A SUBSCRIBE or UNSUBSCRIBE needs at least one topic filter.
    #[error("no topic filter given")]
    NoTopicFilter,
    /// The connection closed before the SUBSCRIBE or UNSUBSCRIBE was
    /// acknowledged; it is not resent on the next connection.
    #[error("the connection closed before the acknowledgement")]
    ConnectionClosed,
    /// The token matches no message awaiting an acknowledgement.
    #[error("no received message awaits this acknowledgement")]
    UnknownAck,
    /// A connection is already open or being opened.
    #[error("a connection is already active")]
    AlreadyConnected,
    /// The command needs an open connection.
    #[error("no open connection")]
    NotConnected,
    /// CONNECT had Session Expiry Interval 0, so DISCONNECT cannot set a
    /// non-zero one (v5 §3.14.2.2.2).
    #[error("Session Expiry Interval was 0 on CONNECT, v5 §3.14.2.2.2")]
    SessionExpiryWasZero,
    /// AUTH needs an Authentication Method in CONNECT (v5 [MQTT-4.12.0-7]).
    #[error("no Authentication Method was sent in CONNECT, v5 [MQTT-4.12.0-7]")]
    NoAuthenticationMethod,
    /// A 3.1.1 CONNECT with a zero-byte Client Identifier (and none in the
    /// session) must set Clean Session (v3.1.1 [MQTT-3.1.3-7]).
    #[error("an empty Client Identifier needs Clean Session, v3.1.1 [MQTT-3.1.3-7]")]
    EmptyClientIdNeedsCleanSession,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server role reports the client's violations with this type too,
    /// so its text must not blame the server.
    #[test]
    fn display_names_the_peer_not_a_role() {
        let v = ProtocolViolation::rule(PeerMisbehaved::SecondConnect);
        let text = alloc::format!("{v}");
        assert!(text.starts_with("protocol violation by the peer"), "{text}");
        assert!(!text.contains("server"), "{text}");
    }
}
