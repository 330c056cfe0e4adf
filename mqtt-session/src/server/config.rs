//! Configuration of the server role.

use core::time::Duration;

use mqttkit_codec::QoS;

/// What the server allows a client and announces in CONNACK (v5 §3.2.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Our Receive Maximum: QoS 1/2 PUBLISH the client may have
    /// unacknowledged; one more is answered with DISCONNECT 0x93.
    pub receive_maximum: u16,
    /// Our Maximum Packet Size; a larger packet is answered with
    /// DISCONNECT 0x95. `None`: the protocol's limit.
    pub maximum_packet_size: Option<u32>,
    /// Our Topic Alias Maximum: aliases the client may set (0x94 above it).
    pub topic_alias_maximum: u16,
    /// The most aliases we assign on messages to the client, below the
    /// client's Topic Alias Maximum. 0 sends none.
    pub max_outbound_aliases: u16,
    /// A Server Keep Alive imposed on every client (v5 [MQTT-3.2.2-21]);
    /// `None` uses the client's.
    pub server_keep_alive: Option<u16>,
    /// The highest QoS accepted from clients (v5 [MQTT-3.2.2-9]), in
    /// PUBLISH and, in 5.0, as Will QoS (v5 [MQTT-3.2.2-12]).
    pub maximum_qos: QoS,
    /// Whether retained messages are supported; without, a 5.0 RETAIN
    /// PUBLISH or Will Retain is refused (v5 [MQTT-3.2.2-13], [MQTT-3.2.2-14]).
    pub retain_available: bool,
    /// Whether shared subscriptions are supported.
    pub shared_subscription_available: bool,
    /// The most deliveries in flight to a client that announces no Receive
    /// Maximum: every 3.1.1 client, and a 5.0 client that leaves it out. A
    /// client that announces one gets exactly that. The protocol allows up
    /// to 65,535, each holding its message until acknowledged; a modest
    /// window bounds that memory (mosquitto's `max_inflight_messages` is 20).
    pub inflight_window: u16,
    /// The most messages queued for one client, in flight excluded.
    pub max_queued: usize,
    /// The most topic and payload bytes queued for one client, in flight
    /// excluded.
    ///
    /// When a delivery would go over either bound, the oldest queued QoS 0
    /// messages are dropped first to make room for a QoS 1 or 2 one, each
    /// reported as [`crate::ServerEvent::Dropped`] with
    /// [`crate::OpError::QueueFull`]; if that is not enough, or the new
    /// message is QoS 0, [`crate::Server::deliver`] refuses it with
    /// [`crate::DeliverError::QueueFull`]. Messages in flight are never
    /// dropped, so a QoS 2 message once sent completes or stays with the
    /// session.
    pub max_queued_bytes: usize,
    /// Whether received QoS 1 and 2 messages wait for [`crate::Server::ack`].
    /// Off by default: each is acknowledged with Success as it arrives, and
    /// [`crate::ServerEvent::Publish`] carries no token. Turn it on to
    /// acknowledge after authorizing, routing or storing the message, or to
    /// refuse it with a reason code (0x87 Not authorized, 0x97 Quota
    /// exceeded, ...).
    pub manual_ack: bool,
    /// MQTT 3.1.1 sessions with CleanSession 0 have no expiry in the
    /// protocol; this one is applied to them (`None`: never).
    pub v3_session_expiry: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            receive_maximum: 64,
            maximum_packet_size: None,
            topic_alias_maximum: 16,
            max_outbound_aliases: 16,
            server_keep_alive: None,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            shared_subscription_available: true,
            inflight_window: 20,
            max_queued: 1000,
            max_queued_bytes: 1024 * 1024,
            manual_ack: false,
            v3_session_expiry: None,
        }
    }
}
