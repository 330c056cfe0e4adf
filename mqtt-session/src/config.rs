//! Configuration of the client role.

use core::time::Duration;

/// Settings of a [`crate::Client`] that are not part of CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The most operations (publishes, subscribes, unsubscribes) waiting for
    /// a connection, send quota or packet identifier; beyond it commands
    /// fail with [`crate::OpError::QueueFull`].
    pub max_pending: usize,
    /// The most topic aliases we assign per connection, below the server's
    /// Topic Alias Maximum. 0 sends no aliases.
    pub max_outbound_aliases: u16,
    /// How long to wait for PINGRESP after PINGREQ before the connection is
    /// declared dead; `None` waits one keep-alive interval.
    pub pingresp_timeout: Option<Duration>,
    /// How long to wait for CONNACK after CONNECT.
    pub connack_timeout: Duration,
    /// MQTT 3.1.1 only: resend unacknowledged PUBLISH (DUP) and PUBREL on
    /// the same connection after this long without completion. `None` (the
    /// default) resends only on reconnect; MQTT 5.0 never resends within a
    /// connection (v5 §4.4).
    pub retransmit_v3: Option<Duration>,
    /// Whether the client hands out write-ahead operations through
    /// [`crate::Client::poll_persist`] and holds back the bytes they cover
    /// until they were taken. Off by default: a client that keeps its session
    /// in memory has nothing to drain. Turn it on to keep the session across
    /// restarts ([`crate::Session::from_records`]).
    pub persistence: bool,
    /// Whether received QoS 1 and 2 messages wait for [`crate::Client::ack`].
    /// Off by default: each is acknowledged with Success as it arrives, and
    /// [`crate::Event::Message`] carries no token. Turn it on to acknowledge
    /// only after processing (at-least-once into your own storage) or to
    /// refuse a message with a reason code; a message never acked is never
    /// acknowledged, and holds a slot of the Receive Maximum.
    pub manual_ack: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            max_pending: 1024,
            max_outbound_aliases: 16,
            pingresp_timeout: None,
            connack_timeout: Duration::from_secs(30),
            retransmit_v3: None,
            persistence: false,
            manual_ack: false,
        }
    }
}
