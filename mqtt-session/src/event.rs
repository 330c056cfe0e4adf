//! What the application learns: events, operation handles, ack tokens.

use alloc::vec::Vec;

use bytes::Bytes;
use mqttkit_codec::{
    ConnAck, Disconnect, LastWill, MqttString, PacketId, Publish, PublishProperties, QoS,
    ReasonCode, SubAckReasonCode, UnsubAckReasonCode,
};
use mqttkit_topic::TopicName;

use crate::error::{OpError, ProtocolViolation};

/// Names one publish, subscribe or unsubscribe for its whole life, also
/// across reconnects and [`crate::Session::restore`]. A session rebuilt with
/// [`crate::Session::from_records`] keeps the ids of the messages in flight
/// and numbers new operations after the highest of them, so ids of
/// operations that completed before the restart may be used again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub(crate) u64);

impl OpId {
    /// The number, unique within one session.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// An application message to publish. The session assigns the packet
/// identifier and the topic alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic.
    pub topic: TopicName,
    /// The payload.
    pub payload: Bytes,
    /// The QoS.
    pub qos: QoS,
    /// The RETAIN flag.
    pub retain: bool,
    /// MQTT 5.0 properties; a Topic Alias set here is ignored (the session
    /// manages aliases).
    pub properties: PublishProperties,
}

impl Message {
    /// A message with QoS `qos`, no RETAIN and no properties.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>, qos: QoS) -> Self {
        Self {
            topic,
            payload: payload.into(),
            qos,
            retain: false,
            properties: PublishProperties::default(),
        }
    }

    /// The message carried by a PUBLISH without its packet identifier and
    /// alias; `None` for an alias-only PUBLISH.
    pub(crate) fn from_publish(publish: &Publish) -> Option<Self> {
        let mut properties = publish.properties.clone();
        properties.topic_alias = None;
        Some(Self {
            topic: publish.topic.clone()?,
            payload: publish.payload.clone(),
            qos: publish.qos.qos(),
            retain: publish.retain,
            properties,
        })
    }
}

/// The message a will publishes ([`crate::ServerEvent::Will`]): its topic,
/// payload, QoS and RETAIN, with the will's properties carried over
/// (v5 §3.1.3.2); the Will Delay Interval is not a PUBLISH property.
///
/// ```
/// use mqttkit_session::{LastWill, Message, QoS, TopicName};
///
/// let mut will = LastWill::new(TopicName::try_from("devices/7/status")?, "offline");
/// will.qos = QoS::AtLeastOnce;
/// will.retain = true;
/// will.properties.message_expiry_interval = Some(3600);
/// let message = Message::from(will);
/// assert_eq!(message.qos, QoS::AtLeastOnce);
/// assert!(message.retain);
/// assert_eq!(message.properties.message_expiry_interval, Some(3600));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl From<LastWill> for Message {
    fn from(will: LastWill) -> Self {
        let w = will.properties;
        let mut properties = PublishProperties::default();
        properties.payload_format_indicator = w.payload_format_indicator;
        properties.message_expiry_interval = w.message_expiry_interval;
        properties.set_content_type(w.content_type);
        properties.set_response_topic(w.response_topic);
        properties.set_correlation_data(w.correlation_data);
        properties.set_user_properties(w.user_properties);
        Self {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            properties,
        }
    }
}

/// Lets the application acknowledge a received QoS 1 or 2 message when it
/// has taken ownership of it, in any order; the session puts PUBACK and
/// PUBREC on the wire in the order the messages arrived (v5 [MQTT-4.6.0-2],
/// [MQTT-4.6.0-3]).
///
/// Tokens belong to the running process: after a rebuild with
/// [`crate::Session::from_records`], use only QoS 2 tokens of messages the
/// application stored (they are matched by packet identifier); QoS 1
/// messages are sent again by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckToken {
    pub(crate) packet_id: PacketId,
    pub(crate) qos: QoS,
    pub(crate) connection: u32,
}

impl AckToken {
    /// The packet identifier of the received PUBLISH.
    pub const fn packet_id(&self) -> PacketId {
        self.packet_id
    }

    /// The QoS of the received PUBLISH.
    pub const fn qos(&self) -> QoS {
        self.qos
    }
}

/// Why a connection ended; after [`Event::Closed`] the caller flushes
/// [`crate::Client::poll_transmit`] and closes the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCause {
    /// The server sent DISCONNECT.
    ByServer(Disconnect),
    /// The application called [`crate::Client::disconnect`].
    ByClient,
    /// The server broke a rule; a DISCONNECT with its reason code is queued (5.0).
    ProtocolViolation(ProtocolViolation),
    /// The server refused the connection in CONNACK.
    Refused(ConnAck),
    /// No PINGRESP arrived in time.
    KeepAliveTimeout,
    /// No CONNACK arrived in time.
    ConnAckTimeout,
    /// The transport closed ([`crate::Client::handle_transport_closed`]).
    TransportClosed,
}

/// Something the application must know about, drained with
/// [`crate::Client::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// CONNACK accepted the connection; limits are in
    /// [`crate::Client::negotiated`].
    Connected {
        /// The server resumed the session.
        session_present: bool,
    },
    /// The session state was discarded (Clean Start, CONNACK without
    /// Session Present, v5 [MQTT-3.2.2-5], or the Session Expiry Interval
    /// passed after the connection closed). [`Event::Returned`] follows for
    /// every unacknowledged and queued message, in original order.
    SessionLost,
    /// A message handed back after [`Event::SessionLost`]; submit it again
    /// to send it on the new session.
    Returned {
        /// The publish operation it belonged to.
        op: OpId,
        /// The message.
        message: Message,
        /// The server had answered PUBREC (QoS 2): it received the message,
        /// only the release was lost, so sending it again may duplicate it.
        received_by_server: bool,
    },
    /// A received application message. The topic is always filled in, also
    /// when the server used a Topic Alias. QoS 2 messages are delivered
    /// exactly once, also across reconnects and restore.
    Message {
        /// The PUBLISH.
        publish: Publish,
        /// With [`crate::ClientConfig::manual_ack`], for QoS 1 and 2: pass it
        /// to [`crate::Client::ack`] once the message is processed. `None`
        /// for QoS 0, and by default, when the client acknowledged it with
        /// Success as it arrived.
        ack: Option<AckToken>,
    },
    /// A publish completed: QoS 0 when written, QoS 1 on PUBACK, QoS 2 on
    /// PUBCOMP or on a PUBREC with an error code.
    Published {
        /// The operation.
        op: OpId,
        /// The reason code of the acknowledgement (Success for QoS 0).
        reason: ReasonCode,
    },
    /// SUBACK arrived.
    Subscribed {
        /// The operation.
        op: OpId,
        /// One code per filter, in order.
        reason_codes: Vec<SubAckReasonCode>,
    },
    /// UNSUBACK arrived.
    Unsubscribed {
        /// The operation.
        op: OpId,
        /// One code per filter (empty in 3.1.1).
        reason_codes: Vec<UnsubAckReasonCode>,
    },
    /// A queued operation could not be sent.
    OpFailed {
        /// The operation.
        op: OpId,
        /// Why.
        error: OpError,
    },
    /// The server continues enhanced authentication (AUTH 0x18); answer with
    /// [`crate::Client::auth`].
    AuthChallenge {
        /// The Authentication Method.
        method: Option<MqttString>,
        /// The Authentication Data.
        data: Option<Bytes>,
    },
    /// Re-authentication succeeded (AUTH 0x00).
    Reauthenticated,
    /// The connection ended.
    Closed(CloseCause),
}
