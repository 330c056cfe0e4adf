//! Per-connection state, rebuilt on every connect: negotiated limits, send
//! quota, topic alias tables, keep-alive timers, the receive buffer.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::num::NonZeroU16;

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    AckProperties, ConnAckProperties, Decoder, Encoder, MqttString, PacketId, ProtocolVersion,
    PubAckReasonCode, Publish, QoS, ReasonCode,
};
use mqttkit_topic::TopicName;

use crate::error::ProtocolViolation;
use crate::event::OpId;
use crate::time::Instant;

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

/// The timers of one connection, as one table (quinn-proto `timer.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// CONNACK must arrive by then.
    ConnAck = 0,
    /// Send PINGREQ if nothing else was sent by then (v5 [MQTT-3.1.2-20]).
    KeepAlive = 1,
    /// PINGRESP must arrive by then.
    PingResp = 2,
    /// 3.1.1 in-session retransmission, when configured.
    Retransmit = 3,
    /// The session state expires then (v5 §3.1.2.11.2). Only in the
    /// session's table, and only fired while no connection is open
    /// (v5 [MQTT-4.1.0-1]).
    SessionExpiry = 4,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Timers([Option<Instant>; 5]);

impl Timers {
    pub(crate) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        if let Some(slot) = self.0.get_mut(timer as usize) {
            *slot = at;
        }
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.0.get(timer as usize).copied().flatten()
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    pub(crate) fn is_due(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|at| at <= now)
    }

    pub(crate) fn clear(&mut self) {
        self.0 = [None; 5];
    }
}

/// Our outbound Topic Alias table: the first `max` topics used on this
/// connection get an alias; it is never carried to another connection
/// (v5 [MQTT-3.3.2-7]).
#[derive(Debug, Clone, Default)]
pub(crate) struct OutAliases {
    max: u16,
    map: BTreeMap<Bytes, NonZeroU16>,
}

impl OutAliases {
    pub(crate) fn new(max: u16) -> Self {
        Self {
            max,
            map: BTreeMap::new(),
        }
    }

    /// Replaces the topic by an alias when one is mapped, or maps one.
    pub(crate) fn apply(&mut self, publish: &mut Publish) {
        let Some(topic) = &publish.topic else { return };
        if let Some(alias) = self.map.get(topic.as_bytes()) {
            publish.properties.topic_alias = Some(*alias);
            publish.topic = None;
            return;
        }
        let next = u16::try_from(self.map.len().saturating_add(1)).unwrap_or(u16::MAX);
        if next <= self.max
            && let Some(alias) = NonZeroU16::new(next)
        {
            self.map.insert(topic.clone().into_bytes(), alias);
            publish.properties.topic_alias = Some(alias);
        }
    }
}

/// The server's aliases for this connection, bounded by the Topic Alias
/// Maximum we sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct InAliases {
    pub(crate) max: u16,
    pub(crate) map: BTreeMap<u16, TopicName>,
}

impl InAliases {
    /// Resolves the Topic Alias of a received PUBLISH (v5 §3.3.2.3.4): a
    /// topic with an alias sets the mapping, an empty topic takes it. The
    /// alias is taken out of the properties. `above_maximum` names the rule
    /// the peer breaks with an alias above our maximum (the two roles cite
    /// different statements).
    pub(crate) fn resolve(
        &mut self,
        publish: &mut Publish,
        above_maximum: &'static str,
    ) -> Result<(), ProtocolViolation> {
        let Some(alias) = publish.properties.topic_alias.take() else {
            return Ok(());
        };
        if alias.get() > self.max {
            return Err(ProtocolViolation::rule(
                ReasonCode::TopicAliasInvalid,
                above_maximum,
                "a Topic Alias above our Topic Alias Maximum",
            ));
        }
        match publish.topic.as_ref().filter(|t| !t.is_empty()) {
            Some(topic) => {
                self.map.insert(alias.get(), topic.clone());
            }
            None => match self.map.get(&alias.get()) {
                Some(topic) => publish.topic = Some(topic.clone()),
                None => {
                    return Err(ProtocolViolation::rule(
                        ReasonCode::ProtocolError,
                        "v5 §3.3.2.3.4",
                        "a Topic Alias that has no mapping on this connection",
                    ));
                }
            },
        }
        Ok(())
    }
}

/// A received QoS 1 or 2 PUBLISH waiting for its PUBACK or PUBREC to go out
/// in arrival order.
#[derive(Debug, Clone)]
pub(crate) struct PendingAck {
    pub(crate) packet_id: PacketId,
    pub(crate) qos: QoS,
    pub(crate) acked: Option<PubAckReasonCode>,
    /// Reason String and User Properties the application gave with its ack.
    pub(crate) properties: AckProperties,
}

/// A SUBSCRIBE or UNSUBSCRIBE awaiting its acknowledgement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ControlInflight {
    pub(crate) packet_id: PacketId,
    pub(crate) op: OpId,
    pub(crate) filters: usize,
    pub(crate) subscribe: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    AwaitConnAck,
    Connected,
    Closed,
}

/// One network connection.
#[derive(Debug)]
pub(crate) struct Connection {
    /// The session's connection number at connect.
    pub(crate) number: u32,
    pub(crate) version: ProtocolVersion,
    pub(crate) state: State,
    pub(crate) decoder: Decoder,
    pub(crate) encoder: Encoder,
    pub(crate) rx: BytesMut,
    pub(crate) clean_start: bool,
    pub(crate) keep_alive: u16,
    /// The Session Expiry Interval of CONNECT (3.1.1: 0 with Clean
    /// Session, "never" without); CONNACK and our DISCONNECT may replace
    /// it in [`Negotiated::session_expiry_interval`].
    pub(crate) session_expiry_interval: u32,
    pub(crate) auth_method: Option<MqttString>,
    pub(crate) negotiated: Option<Negotiated>,
    /// PUBLISH QoS > 0 we may still send (v5 §4.9).
    pub(crate) send_quota: u16,
    /// Our Receive Maximum.
    pub(crate) receive_maximum: u16,
    /// Received QoS 1/2 PUBLISH without PUBACK or PUBCOMP sent yet.
    pub(crate) inbound_unacked: u16,
    pub(crate) out_aliases: OutAliases,
    pub(crate) in_aliases: InAliases,
    pub(crate) timers: Timers,
    pub(crate) last_sent: Instant,
    pub(crate) acks: VecDeque<PendingAck>,
    pub(crate) control: Vec<ControlInflight>,
    pub(crate) violation: Option<ProtocolViolation>,
}

impl Connection {
    pub(crate) fn is_open(&self) -> bool {
        self.state != State::Closed
    }

    /// Restarts the keep-alive interval after a packet was sent. Before
    /// CONNACK the CONNACK deadline stands in for it: no PINGREQ may precede
    /// CONNACK when enhanced authentication runs (v5 [MQTT-3.1.2-30]).
    pub(crate) fn note_sent(&mut self, now: Instant) {
        self.last_sent = now;
        let at = (self.keep_alive > 0 && self.state == State::Connected).then(|| {
            now.saturating_add(core::time::Duration::from_secs(u64::from(self.keep_alive)))
        });
        self.timers.set(Timer::KeepAlive, at);
    }
}
