//! Subscription options (v5 §3.8.3.1; v3.1.1 has the QoS only).
//!
//! `QoS` and `RetainHandling` are defined here, at the bottom of the workspace, and
//! `mqttkit-codec` re-exports them, so that the codec, the indexes and a broker name the
//! same types. `SubscriptionOptions` is what the index stores with a subscription: the
//! codec's option byte plus the Subscription Identifier.

use core::num::NonZeroU32;

/// The quality of service of a message, or the maximum granted to a subscription
/// (§4.3 of both versions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum QoS {
    /// QoS 0.
    #[default]
    AtMostOnce = 0,
    /// QoS 1.
    AtLeastOnce = 1,
    /// QoS 2.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for the two-bit wire value, `None` for the reserved value 3.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }

    /// The two-bit wire value.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for QoS {
    type Error = u8;
    /// Fails, returning the byte, for values other than 0, 1 and 2.
    fn try_from(value: u8) -> Result<Self, u8> {
        Self::from_bits(value).ok_or(value)
    }
}

impl From<QoS> for u8 {
    fn from(qos: QoS) -> u8 {
        qos as u8
    }
}

/// When the server sends retained messages for a new subscription (v5 §3.8.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription did not exist before.
    SendAtSubscribeIfNew = 1,
    /// 2: do not send retained messages.
    DoNotSend = 2,
}

impl TryFrom<u8> for RetainHandling {
    type Error = u8;
    /// Fails, returning the byte, for values other than 0, 1 and 2.
    fn try_from(value: u8) -> Result<Self, u8> {
        match value {
            0 => Ok(Self::SendAtSubscribe),
            1 => Ok(Self::SendAtSubscribeIfNew),
            2 => Ok(Self::DoNotSend),
            other => Err(other),
        }
    }
}

/// What a client asked for with one topic filter (v5 §3.8.3.1, §3.8.2.1.2).
///
/// Eight bytes, stored with each subscription in the index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SubscriptionOptions {
    /// Maximum QoS the server may use towards the client for this subscription.
    pub qos: QoS,
    /// v5: do not forward messages the client itself published.
    pub no_local: bool,
    /// v5: keep the RETAIN flag as published instead of clearing it.
    pub retain_as_published: bool,
    /// v5: when retained messages are sent for the subscription.
    pub retain_handling: RetainHandling,
    /// v5: the Subscription Identifier (1 to 268,435,455) sent with matching messages.
    pub subscription_identifier: Option<NonZeroU32>,
}

impl SubscriptionOptions {
    /// Options with the given QoS and everything else at its default (the v3.1.1 case).
    #[must_use]
    pub const fn new(qos: QoS) -> Self {
        Self {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
            subscription_identifier: None,
        }
    }

    /// These options with a Subscription Identifier.
    #[must_use]
    pub const fn with_subscription_identifier(mut self, id: NonZeroU32) -> Self {
        self.subscription_identifier = Some(id);
        self
    }

    /// These options with No Local set as given.
    #[must_use]
    pub const fn with_no_local(mut self, no_local: bool) -> Self {
        self.no_local = no_local;
        self
    }
}
