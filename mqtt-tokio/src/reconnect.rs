//! Staying connected: automatic reconnection with capped, jittered
//! backoff, the retry of temporary refusals, and the options that turn
//! them and persistence on.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mqttkit_session::{ConnectProperties, ConnectReasonCode, DisconnectReasonCode, ReasonCode};

use crate::{ConnectOptions, Error, Store};

/// A store shared between clones of the options; one connection uses it
/// at a time.
pub(crate) type SharedStore = Arc<Mutex<dyn Store>>;

/// Capped exponential backoff with jitter: the first wait is about
/// `initial`, each next one doubles, never beyond `max`; each wait is drawn
/// between half and all of its step, so that clients that lost the same
/// broker do not come back in step.
///
/// Used both between connection attempts and between resends of a
/// publish the server refused for now (5.0 Quota exceeded).
///
/// ```
/// use std::time::Duration;
/// use mqttkit_tokio::Reconnect;
///
/// let backoff = Reconnect::new(Duration::from_millis(100), Duration::from_secs(30));
/// assert_eq!(backoff.max(), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    initial: Duration,
    max: Duration,
}

impl Default for Reconnect {
    /// 500 ms doubling up to 30 s.
    fn default() -> Self {
        Self::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}

impl Reconnect {
    /// Backoff from `initial` doubling up to `max` (at least `initial`).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let backoff = mqttkit_tokio::Reconnect::new(Duration::from_secs(1), Duration::from_secs(60));
    /// assert_eq!(backoff.initial(), Duration::from_secs(1));
    /// ```
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
        }
    }

    /// The first step.
    ///
    /// ```
    /// assert!(mqttkit_tokio::Reconnect::default().initial() > std::time::Duration::ZERO);
    /// ```
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The cap.
    ///
    /// ```
    /// assert_eq!(mqttkit_tokio::Reconnect::default().max().as_secs(), 30);
    /// ```
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The step before the `attempt`-th retry (0 for the first), without
    /// jitter.
    pub(crate) fn step(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The wait before the `attempt`-th retry: between half and all of
    /// its step.
    pub(crate) fn delay(&self, attempt: u32, jitter: &mut Jitter) -> Duration {
        let step = self.step(attempt);
        let half = step.checked_div(2).unwrap_or(step);
        half.saturating_add(half.mul_f64(jitter.unit()))
    }
}

/// A small random source for the jitter, seeded from the standard
/// library's per-process random hash keys (no dependency needed for
/// spreading waits; nothing here is security relevant).
#[derive(Debug)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new() -> Self {
        let seed = RandomState::new().build_hasher().finish();
        Self(seed | 1)
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        // xorshift64
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        // The top 53 bits fit an f64 exactly.
        #[allow(clippy::cast_precision_loss)]
        let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }
}

/// A refusal that may succeed later: the server is busy, over a quota or
/// going away, not refusing this client or this message for good.
pub(crate) fn is_temporary(reason: ReasonCode) -> bool {
    matches!(
        reason,
        // v5 §3.4.2.1 / §3.5.2.1: an administrative or implementation
        // limit was exceeded, or the identifier is still in use by the
        // server; both may clear.
        ReasonCode::QuotaExceeded | ReasonCode::PacketIdentifierInUse
    )
}

/// A CONNACK refusal worth trying again later (v5 §3.2.2.2).
pub(crate) fn connack_is_temporary(reason: ConnectReasonCode) -> bool {
    matches!(
        reason,
        ConnectReasonCode::ServerUnavailable
            | ConnectReasonCode::ServerBusy
            | ConnectReasonCode::QuotaExceeded
            | ConnectReasonCode::ConnectionRateExceeded
            | ConnectReasonCode::UnspecifiedError
            | ConnectReasonCode::ImplementationSpecificError
    )
}

/// A server DISCONNECT after which connecting again makes sense (v5
/// §3.14.2.1): not one that refuses this client for good, and not Session
/// taken over, which means another connection uses this Client Identifier
/// and reconnecting would only take it back and forth.
pub(crate) fn disconnect_is_temporary(reason: DisconnectReasonCode) -> bool {
    !matches!(
        reason,
        DisconnectReasonCode::NotAuthorized
            | DisconnectReasonCode::SessionTakenOver
            | DisconnectReasonCode::TopicFilterInvalid
            | DisconnectReasonCode::TopicNameInvalid
            | DisconnectReasonCode::PayloadFormatInvalid
            | DisconnectReasonCode::RetainNotSupported
            | DisconnectReasonCode::QoSNotSupported
            | DisconnectReasonCode::UseAnotherServer
            | DisconnectReasonCode::ServerMoved
            | DisconnectReasonCode::SharedSubscriptionsNotSupported
            | DisconnectReasonCode::SubscriptionIdentifiersNotSupported
            | DisconnectReasonCode::WildcardSubscriptionsNotSupported
    )
}

/// Whether a connection that ended with `error` is tried again.
pub(crate) fn worth_reconnecting(error: &Error) -> bool {
    match error {
        Error::Refused(connack) => connack_is_temporary(connack.reason_code),
        Error::ByServer(disconnect) => disconnect_is_temporary(disconnect.reason_code),
        Error::Io(_)
        | Error::ConnAckTimeout
        | Error::KeepAliveTimeout
        | Error::ConnectionClosed
        | Error::ProtocolViolation(_) => true,
        _ => false,
    }
}

impl ConnectOptions {
    /// Reconnect automatically, with this backoff, when the connection is
    /// lost or refused for now; off by default.
    ///
    /// The session is kept: unacknowledged messages are sent again with
    /// DUP in their original order, awaited publishes complete on the new
    /// connection, and [`crate::Event::ConnectionLost`] and
    /// [`crate::Event::Connected`] tell the application what happened.
    /// Later connections ask to resume the session (Clean Start 0 in 5.0;
    /// in 3.1.1 the Clean Session flag stays as set, since 0 would keep the
    /// session on the server forever). When the server has lost the
    /// session, the messages it held are submitted again, and the
    /// subscriptions made through this client are made again, before
    /// anything else is sent.
    ///
    /// Not retried: a refusal for good (bad credentials, not authorized,
    /// banned, unsupported version, session taken over, ...), which ends
    /// the client with [`crate::Event::Disconnected`].
    ///
    /// ```
    /// use mqttkit_tokio::{ConnectOptions, Reconnect};
    ///
    /// let options = ConnectOptions::new("localhost", 1883).reconnect(Reconnect::default());
    /// ```
    pub fn reconnect(mut self, backoff: Reconnect) -> Self {
        self.reconnect = Some(backoff);
        self
    }

    /// Keep the session in `store`, so that it survives a restart of the
    /// process. Needs a client identifier.
    ///
    /// The driver hands the store every publish it accepts and every
    /// write-ahead operation of the session, and writes no byte they cover
    /// before the store has them. When the client starts, the store's
    /// state is loaded: messages in flight are resent with DUP in their
    /// original order, accepted ones are submitted again, and the session
    /// is resumed (Clean Start 0) if a server had accepted it before.
    /// Give the session a Session Expiry long enough for the broker to
    /// keep it meanwhile.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mqttkit_tokio::{ConnectOptions, Store};
    ///
    /// fn durable(store: impl Store) -> ConnectOptions {
    ///     ConnectOptions::new("localhost", 1883)
    ///         .client_id("sensor-7")
    ///         .session_expiry(Duration::from_secs(24 * 3600))
    ///         .store(store)
    /// }
    /// ```
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(Mutex::new(store)));
        self
    }

    /// The other CONNECT properties (5.0): Receive Maximum, Maximum Packet
    /// Size, Topic Alias Maximum, User Properties, authentication, ...
    /// [`ConnectOptions::session_expiry`] wins over the interval here.
    /// Ignored in 3.1.1.
    ///
    /// ```
    /// use mqttkit_tokio::{ConnectOptions, ConnectProperties};
    ///
    /// let mut properties = ConnectProperties::default();
    /// properties.topic_alias_maximum = Some(16);
    /// let options = ConnectOptions::new("localhost", 1883).properties(properties);
    /// ```
    pub fn properties(mut self, properties: ConnectProperties) -> Self {
        self.properties = properties;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let backoff = Reconnect::new(Duration::from_millis(100), Duration::from_secs(1));
        let steps: Vec<_> = (0..6).map(|a| backoff.step(a).as_millis()).collect();
        assert_eq!(steps, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.step(u32::MAX), Duration::from_secs(1));
        let mut jitter = Jitter::new();
        let delays: Vec<_> = (0..200).map(|_| backoff.delay(3, &mut jitter)).collect();
        assert!(delays.iter().all(|d| (400..=800).contains(&d.as_millis())));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "jitter spreads the waits");
    }

    #[test]
    fn v5_quota_exceeded_is_retried_not_authorized_is_not() {
        assert!(is_temporary(ReasonCode::QuotaExceeded));
        assert!(!is_temporary(ReasonCode::NotAuthorized));
        assert!(!is_temporary(ReasonCode::TopicNameInvalid));
        assert!(connack_is_temporary(ConnectReasonCode::ServerBusy));
        assert!(!connack_is_temporary(
            ConnectReasonCode::BadUserNameOrPassword
        ));
        assert!(disconnect_is_temporary(
            DisconnectReasonCode::ServerShuttingDown
        ));
        assert!(!disconnect_is_temporary(
            DisconnectReasonCode::SessionTakenOver
        ));
    }
}
