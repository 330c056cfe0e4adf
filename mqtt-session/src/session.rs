//! The durable session: the state that outlives a network connection
//! (v5 §4.1, "Session State" of the client).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use mqttkit_codec::{
    MqttString, PacketId, PubAckReasonCode, SubscribeProperties, SubscriptionOptions,
    UnsubscribeProperties,
};
use mqttkit_topic::TopicFilter;

use crate::event::{Message, OpId};
use crate::ids::PacketIds;
use crate::queue::Queue;
use crate::send_flows::OutFlows;
use crate::time::Instant;

/// A SUBSCRIBE or UNSUBSCRIBE that has no packet identifier yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Control {
    Subscribe {
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        properties: SubscribeProperties,
    },
    Unsubscribe {
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    },
}

/// An inbound QoS 2 message whose PUBREL has not arrived (v5 §4.3.3,
/// Method B: the packet identifier is kept, the message is delivered once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InQos2 {
    /// The application's answer, once given; the PUBREC carries it.
    pub(crate) acked: Option<PubAckReasonCode>,
    /// The connection on which it last counted against our Receive Maximum.
    pub(crate) counted_on: Option<u32>,
}

/// One unacknowledged outbound message, as listed by [`Session::inflight`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct InflightInfo {
    /// The operation.
    pub op: OpId,
    /// Its packet identifier.
    pub packet_id: PacketId,
    /// PUBREC arrived; only the release is outstanding.
    pub released: bool,
}

/// The client's session state, which outlives each network connection and
/// can be snapshotted and restored: the ordered list of unacknowledged
/// outbound messages, the queue of operations not sent yet, the inbound
/// QoS 2 messages awaiting PUBREL, and the packet identifier allocator.
///
/// Negotiated limits, send quota, topic aliases and keep-alive belong to a
/// connection and are rebuilt on every connect.
///
/// # Session State and its expiry
///
/// The client *has Session State* ([`Session::is_established`]) from the
/// moment a CONNACK accepts a connection on this session until the state
/// is discarded: by a Clean Start, or when the Session Expiry Interval in
/// use on the last accepted connection has passed since that connection
/// closed (0: at close; `0xFFFFFFFF`: never; 3.1.1: at close with Clean
/// Session, never without). A new session never connected has none, even
/// if messages wait in its queue. An empty session that was established
/// does have Session State: the server may hold its subscriptions. A
/// server that answers Session Present 1 to a client without Session
/// State breaks v5 [MQTT-3.2.2-4], and the client closes the connection.
///
/// The expiry is a deadline in the session's timer table: the client
/// reports it through [`crate::Client::poll_timeout`] while no connection
/// is open, and [`crate::Client::handle_timeout`] discards the state then,
/// handing every message back ([`crate::Event::SessionLost`],
/// [`crate::Event::Returned`]). A connection accepted before the deadline
/// cancels it.
#[derive(Debug, Clone)]
pub struct Session {
    pub(crate) client_id: MqttString,
    /// The queues and flows; `None` while all of them are empty, so that an
    /// idle session does not carry their empty containers (see [`Flows`]).
    flows: Option<Box<Flows>>,
    pub(crate) next_op: u64,
    pub(crate) next_seq: u64,
    /// When the session state expires: only while no connection is open
    /// (v5 [MQTT-4.1.0-1]) and a Session Expiry Interval is running.
    pub(crate) expiry: Option<Instant>,
    /// Counts connections, so that ack tokens of an old one are recognised.
    pub(crate) connection: u32,
    pub(crate) max_packet_id: u16,
    /// A CONNACK accepted a connection on this session and its state was
    /// neither discarded nor expired since.
    pub(crate) established: bool,
}

/// The part of a session that holds messages: packet identifiers in use,
/// outbound flows, the queue, SUBSCRIBE/UNSUBSCRIBE not sent yet, inbound
/// QoS 2. A session keeps it out of line and only while any of it is in
/// use: most sessions of a server are idle most of the time.
#[derive(Debug, Clone)]
pub(crate) struct Flows {
    pub(crate) ids: PacketIds,
    pub(crate) inflight: OutFlows,
    pub(crate) pending: Queue,
    pub(crate) pending_control: VecDeque<(OpId, Control)>,
    pub(crate) inbound_qos2: BTreeMap<PacketId, InQos2>,
}

/// What [`Session::flows`] shows while the session holds none.
static NO_FLOWS: Flows = Flows::new(1);

impl Flows {
    const fn new(max_packet_id: u16) -> Self {
        Self {
            ids: PacketIds::new(max_packet_id),
            inflight: OutFlows::EMPTY,
            pending: Queue::EMPTY,
            pending_control: VecDeque::new(),
            inbound_qos2: BTreeMap::new(),
        }
    }

    /// Whether nothing is in flight, queued or holding an identifier: the
    /// state of a fresh session, so it can be given back.
    fn is_empty(&self) -> bool {
        self.inflight.is_empty()
            && self.pending.len() == 0
            && self.pending_control.is_empty()
            && self.inbound_qos2.is_empty()
            && self.ids.in_use_count() == 0
    }

    fn shrink_to_fit(&mut self) {
        self.inflight.shrink_to_fit();
        self.pending.shrink_to_fit();
        self.pending_control.shrink_to_fit();
        self.ids.shrink_to_fit();
    }
}

impl Session {
    /// An empty session for `client_id` (empty: the server assigns one,
    /// which the session then keeps for later connects).
    ///
    /// ```
    /// # use mqttkit_session::{MqttString, Session};
    /// let session = Session::new(MqttString::try_from("sensor-7")?);
    /// assert!(!session.is_established() && !session.has_state());
    /// // An empty identifier: the server assigns one.
    /// let anonymous = Session::new(MqttString::new());
    /// assert!(anonymous.client_id().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(client_id: MqttString) -> Self {
        Self::with_packet_id_limit(client_id, u16::MAX)
    }

    /// An empty session that hands out packet identifiers `1..=max` only
    /// (for tests of identifier exhaustion, or to bound memory).
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, Message, MqttString, ProtocolVersion, QoS, Session, TopicName};
    /// let session = Session::with_packet_id_limit(MqttString::try_from("sensor-7")?, 2);
    /// # let mut client = Client::new(session, ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?))?;
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// // On a client, connected; three QoS 1 messages:
    /// for reading in ["21.5", "21.6", "21.7"] {
    ///     let topic = TopicName::from_static("t/temp")?;
    ///     client.publish(now, Message::new(topic, reading, QoS::AtLeastOnce))?;
    /// }
    /// assert_eq!(client.session().packet_ids_in_use(), 2);
    /// assert_eq!(client.session().pending_len(), 1); // waits for a free identifier
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_packet_id_limit(client_id: MqttString, max: u16) -> Self {
        Self {
            client_id,
            flows: None,
            max_packet_id: max.max(1),
            next_op: 0,
            next_seq: 0,
            connection: 0,
            established: false,
            expiry: None,
        }
    }

    /// The client identifier, the assigned one once a server assigned it.
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, MqttString, ProtocolVersion, Session};
    /// # let now = Instant::ZERO;
    /// let mut client = Client::new(Session::new(MqttString::new()), ClientConfig::default());
    /// client.connect(now, Connect::new(ProtocolVersion::V5, MqttString::new()))?;
    /// // The server assigns an identifier in CONNACK.
    /// let mut connack = ConnAck::new(false, ConnectReasonCode::Success);
    /// connack.properties.assigned_client_identifier = Some(MqttString::try_from("auto-4f2a")?);
    /// client.handle_packet(now, connack.into());
    /// assert_eq!(client.session().client_id().as_str(), "auto-4f2a"); // used on the next connect
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client_id(&self) -> &MqttString {
        &self.client_id
    }

    /// Whether the session holds messages a server must resume:
    /// unacknowledged outbound messages or inbound QoS 2 messages awaiting
    /// PUBREL. An empty session may still be established, see
    /// [`Session::is_established`].
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, Message, MqttString, ProtocolVersion, QoS, Session, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// assert!(!client.session().has_state());
    /// let message = Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce);
    /// client.publish(now, message)?;
    /// assert!(client.session().has_state()); // the PUBLISH awaits its PUBACK
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_state(&self) -> bool {
        !self.flows().inflight.is_empty() || !self.flows().inbound_qos2.is_empty()
    }

    /// Whether the client has Session State in the sense of v5
    /// [MQTT-3.2.2-4]: a CONNACK accepted a connection on this session, and
    /// the state was neither discarded (Clean Start) nor expired since. A
    /// session from [`Session::new`] has none; one rebuilt with
    /// [`Session::from_records`] has.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// assert!(!client.session().is_established()); // CONNECT sent, no CONNACK yet
    /// client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// assert!(client.session().is_established());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// When the session state expires, while no connection is open and a
    /// Session Expiry Interval is running; `None` otherwise.
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// let mut connect = Connect::new(ProtocolVersion::V5, id);
    /// connect.properties.session_expiry_interval = Some(3600); // an hour
    /// client.connect(now, connect)?;
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// assert_eq!(client.session().expires_at(), None); // connected: not running
    /// client.handle_transport_closed(now);
    /// assert!(client.session().expires_at().is_some()); // an hour after the close
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expires_at(&self) -> Option<Instant> {
        self.expiry
    }

    /// The unacknowledged outbound messages, in original send order.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, Message, MqttString, PacketId, ProtocolVersion, PubRec, QoS, Session, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// let message = Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::ExactlyOnce);
    /// let op = client.publish(now, message)?;
    /// client.handle_packet(now, PubRec::new(PacketId::new(1).unwrap()).into()); // the server has it
    /// let info = client.session().inflight().next().expect("awaiting PUBCOMP");
    /// assert_eq!((info.op, info.packet_id.get(), info.released), (op, 1, true));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn inflight(&self) -> impl Iterator<Item = InflightInfo> + '_ {
        self.flows().inflight.iter().filter_map(|f| {
            Some(InflightInfo {
                op: f.op,
                packet_id: f.packet_id()?,
                released: f.released,
            })
        })
    }

    /// Publishes, subscribes and unsubscribes not sent yet.
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, Instant, Message, MqttString, QoS, Session, SubscribeProperties, SubscriptionOptions, TopicFilter, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// let message = Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce);
    /// client.publish(now, message)?;
    /// let filter = TopicFilter::try_from("cmd/sensor-7/#")?;
    /// let options = SubscriptionOptions::new(QoS::AtLeastOnce);
    /// client.subscribe(now, vec![(filter, options)], SubscribeProperties::default())?;
    /// assert_eq!(client.session().pending_len(), 2); // no connection yet
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pending_len(&self) -> usize {
        let flows = self.flows();
        flows
            .pending
            .len()
            .saturating_add(flows.pending_control.len())
    }

    /// Topic and payload bytes of the publishes not sent yet: what
    /// [`crate::ServerConfig::max_queued_bytes`] bounds.
    ///
    /// ```
    /// use mqttkit_session::{MqttString, Session};
    /// let session = Session::new(MqttString::try_from("sensor-7")?);
    /// assert_eq!(session.queued_bytes(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queued_bytes(&self) -> usize {
        self.flows().pending.bytes()
    }

    /// Inbound QoS 2 messages whose PUBREL has not arrived.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, MqttString, PacketId, ProtocolVersion, PubRel, Publish, PublishQoS, QoS, Session, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// let packet_id = PacketId::new(3).unwrap();
    /// let publish = Publish::new(TopicName::from_static("cmd/led")?, &b"on"[..])
    ///     .with_qos(PublishQoS::new(QoS::ExactlyOnce, packet_id));
    /// client.handle_packet(now, publish.into()); // delivered, PUBREC sent
    /// assert_eq!(client.session().inbound_qos2_len(), 1); // until PUBREL
    /// client.handle_packet(now, PubRel::new(packet_id).into());
    /// assert_eq!(client.session().inbound_qos2_len(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn inbound_qos2_len(&self) -> usize {
        self.flows().inbound_qos2.len()
    }

    /// Packet identifiers in use.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, Message, MqttString, PacketId, ProtocolVersion, PubAck, QoS, Session, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// let message = Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce);
    /// client.publish(now, message)?;
    /// assert_eq!(client.session().packet_ids_in_use(), 1);
    /// client.handle_packet(now, PubAck::new(PacketId::new(1).unwrap()).into());
    /// assert_eq!(client.session().packet_ids_in_use(), 0); // free again
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn packet_ids_in_use(&self) -> u32 {
        self.flows().ids.in_use_count()
    }

    /// The queues and flows, empty ones while the session holds none.
    pub(crate) fn flows(&self) -> &Flows {
        self.flows.as_deref().unwrap_or(&NO_FLOWS)
    }

    /// The queues and flows, to change: taken on first use.
    pub(crate) fn flows_mut(&mut self) -> &mut Flows {
        let max = self.max_packet_id;
        self.flows.get_or_insert_with(|| Box::new(Flows::new(max)))
    }

    /// The queues and flows, to change, if the session holds any: for what
    /// has nothing to do on empty ones.
    pub(crate) fn flows_in_use(&mut self) -> Option<&mut Flows> {
        self.flows.as_deref_mut()
    }

    /// Gives back storage that empty queues keep, and the queues
    /// themselves once nothing is in flight or queued. A fresh identifier
    /// allocator then takes over, which is as good as the old one: no
    /// identifier is in use.
    pub(crate) fn shrink_to_fit(&mut self) {
        match self.flows.as_deref_mut() {
            Some(flows) if flows.is_empty() => self.flows = None,
            Some(flows) => flows.shrink_to_fit(),
            None => {}
        }
    }

    pub(crate) fn set_expiry(&mut self, at: Option<Instant>) {
        self.expiry = at;
    }

    pub(crate) fn next_op(&mut self) -> OpId {
        let op = OpId(self.next_op);
        self.next_op = self.next_op.wrapping_add(1);
        op
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        seq
    }

    /// Discards the session state (v5 [MQTT-3.1.2-4], [MQTT-3.2.2-5], or its
    /// expiry) and
    /// returns every unacknowledged and queued message in original order,
    /// with whether the server had received it (PUBREC).
    pub(crate) fn discard(&mut self) -> Vec<(OpId, Message, bool)> {
        let mut returned = Vec::new();
        // No identifier is in use any more, except by SUBSCRIBE/UNSUBSCRIBE
        // of the current connection, which has none at this point; what
        // stays is the control packets not sent yet.
        if let Some(mut flows) = self.flows.take() {
            for flow in flows.inflight.drain() {
                if let Some(message) = Message::from_publish(&flow.publish) {
                    returned.push((flow.op, message, flow.released));
                }
            }
            for q in flows.pending.drain() {
                returned.push((q.op, q.message, false));
            }
            if !flows.pending_control.is_empty() {
                let mut kept = Flows::new(self.max_packet_id);
                kept.pending_control = core::mem::take(&mut flows.pending_control);
                self.flows = Some(Box::new(kept));
            }
        }
        self.established = false;
        self.expiry = None;
        returned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Queued;
    use crate::{Message, OpId};
    use mqttkit_codec::QoS;
    use mqttkit_topic::TopicName;

    fn queue(session: &mut Session, topic: &'static str, payload: &'static [u8]) {
        let message = Message::new(
            TopicName::from_static(topic).unwrap(),
            payload,
            QoS::AtLeastOnce,
        );
        session.flows_mut().pending.push_back(Queued {
            op: OpId(0),
            message,
            expires_at: None,
        });
    }

    /// What the server's byte bound counts: topic and payload of each
    /// message not sent yet.
    #[test]
    fn queued_bytes_counts_topic_and_payload() {
        let mut session = Session::new(MqttString::from_static("c").unwrap());
        assert_eq!(session.queued_bytes(), 0);
        queue(&mut session, "a/b", b"hello");
        queue(&mut session, "c", b"");
        assert_eq!(session.queued_bytes(), 3 + 5 + 1);
    }

    /// `shrink_to_fit` gives the queues back only when they hold nothing:
    /// a queued message stays.
    #[test]
    fn shrink_to_fit_keeps_queued_messages_and_frees_empty_flows() {
        let mut session = Session::new(MqttString::from_static("c").unwrap());
        session.flows_mut();
        session.shrink_to_fit();
        assert!(session.flows.is_none(), "nothing held: given back");
        queue(&mut session, "a", b"x");
        session.shrink_to_fit();
        assert_eq!(session.pending_len(), 1, "a queued message stays");
    }
}
