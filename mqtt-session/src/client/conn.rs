//! Per-connection state, rebuilt on every connect: negotiated limits, send
//! quota, topic alias tables, keep-alive timers, the receive buffer.

use alloc::vec::Vec;
use core::num::NonZeroU16;

use mqttkit_codec::{ConnAckProperties, MqttString, PacketId, ProtocolVersion, QoS};

use crate::event::OpId;
use crate::link::Link;
use crate::link::State;
use crate::time::Instant;
use crate::timers::{Timer, Timers};

/// What the server allowed in CONNACK, with the defaults the standard gives
/// absent properties (and the 3.1.1 equivalents).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Negotiated {
    /// The protocol version.
    pub version: ProtocolVersion,
    /// Session Present.
    pub session_present: bool,
    /// The server's Receive Maximum: our initial send quota (v5 [MQTT-4.9.0-1]).
    pub receive_maximum: u16,
    /// The server's Maximum Packet Size, `None` for no limit.
    pub maximum_packet_size: Option<u32>,
    /// The server's Topic Alias Maximum (0: no aliases, v5 [MQTT-3.2.2-18]).
    pub topic_alias_maximum: u16,
    /// The server's Maximum QoS.
    pub maximum_qos: QoS,
    /// Whether RETAIN may be set.
    pub retain_available: bool,
    /// Whether wildcard subscriptions are available.
    pub wildcard_subscription_available: bool,
    /// Whether subscription identifiers are available.
    pub subscription_identifier_available: bool,
    /// Whether shared subscriptions are available.
    pub shared_subscription_available: bool,
    /// The keep-alive in use: the Server Keep Alive if sent (v5 [MQTT-3.2.2-21]).
    pub keep_alive: u16,
    /// The Session Expiry Interval in use: CONNACK's if sent, else
    /// CONNECT's, replaced by the one our DISCONNECT carries (3.1.1: 0 with
    /// Clean Session, `0xFFFFFFFF` without).
    pub session_expiry_interval: u32,
    /// The client identifier the server assigned, if any.
    pub assigned_client_identifier: Option<MqttString>,
}

impl Negotiated {
    pub(crate) fn from_connack(
        version: ProtocolVersion,
        session_present: bool,
        p: &ConnAckProperties,
        keep_alive: u16,
        session_expiry_interval: u32,
    ) -> Self {
        Self {
            version,
            session_present,
            receive_maximum: p.receive_maximum.map_or(u16::MAX, NonZeroU16::get),
            maximum_packet_size: p.maximum_packet_size.map(core::num::NonZeroU32::get),
            topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
            maximum_qos: p.maximum_qos.unwrap_or(QoS::ExactlyOnce),
            retain_available: p.retain_available.unwrap_or(true),
            wildcard_subscription_available: p.wildcard_subscription_available.unwrap_or(true),
            subscription_identifier_available: p.subscription_identifier_available.unwrap_or(true),
            shared_subscription_available: p.shared_subscription_available.unwrap_or(true),
            keep_alive: p.server_keep_alive.unwrap_or(keep_alive),
            session_expiry_interval: p.session_expiry_interval.unwrap_or(session_expiry_interval),
            assigned_client_identifier: p.assigned_client_identifier.clone(),
        }
    }
}

/// A SUBSCRIBE or UNSUBSCRIBE awaiting its acknowledgement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ControlInflight {
    pub(crate) packet_id: PacketId,
    pub(crate) op: OpId,
    pub(crate) filters: usize,
    pub(crate) subscribe: bool,
}

/// One network connection.
#[derive(Debug)]
pub(crate) struct Connection {
    /// What every connection has, in both roles.
    pub(crate) link: Link,
    pub(crate) clean_start: bool,
    pub(crate) keep_alive: u16,
    /// The Session Expiry Interval of CONNECT (3.1.1: 0 with Clean
    /// Session, "never" without); CONNACK and our DISCONNECT may replace
    /// it in [`Negotiated::session_expiry_interval`].
    pub(crate) session_expiry_interval: u32,
    pub(crate) auth_method: Option<MqttString>,
    pub(crate) negotiated: Option<Negotiated>,
    pub(crate) last_sent: Instant,
    pub(crate) control: Vec<ControlInflight>,
    /// Its deadlines.
    pub(crate) timers: Timers,
}

impl Connection {
    pub(crate) fn is_open(&self) -> bool {
        self.link.is_open()
    }

    /// Restarts the keep-alive interval after a packet was sent. Before
    /// CONNACK the CONNACK deadline stands in for it: no PINGREQ may precede
    /// CONNACK when enhanced authentication runs (v5 [MQTT-3.1.2-30]).
    pub(crate) fn note_sent(&mut self, now: Instant) {
        self.last_sent = now;
        let at = (self.keep_alive > 0 && self.link.state == State::Connected).then(|| {
            now.saturating_add(core::time::Duration::from_secs(u64::from(self.keep_alive)))
        });
        self.timers.set(Timer::KeepAlive, at);
    }
}
