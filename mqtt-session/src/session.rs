//! The durable session: the state that outlives a network connection
//! (v5 §4.1, "Session State" of the client).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use mqttkit_codec::{
    MqttString, PacketId, PubAckReasonCode, SubscribeProperties, SubscriptionOptions,
    UnsubscribeProperties,
};
use mqttkit_topic::TopicFilter;

use crate::event::{Message, OpId};
use crate::flows::OutFlows;
use crate::ids::PacketIds;
use crate::queue::Queue;
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
    pub(crate) ids: PacketIds,
    pub(crate) max_packet_id: u16,
    pub(crate) inflight: OutFlows,
    pub(crate) pending: Queue,
    pub(crate) pending_control: VecDeque<(OpId, Control)>,
    pub(crate) inbound_qos2: BTreeMap<PacketId, InQos2>,
    pub(crate) next_op: u64,
    pub(crate) next_seq: u64,
    /// Counts connections, so that ack tokens of an old one are recognised.
    pub(crate) connection: u32,
    /// A CONNACK accepted a connection on this session and its state was
    /// neither discarded nor expired since.
    pub(crate) established: bool,
    /// When the session state expires: only while no connection is open
    /// (v5 [MQTT-4.1.0-1]) and a Session Expiry Interval is running.
    pub(crate) expiry: Option<Instant>,
}

impl Session {
    /// An empty session for `client_id` (empty: the server assigns one,
    /// which the session then keeps for later connects).
    pub fn new(client_id: MqttString) -> Self {
        Self::with_packet_id_limit(client_id, u16::MAX)
    }

    /// An empty session that hands out packet identifiers `1..=max` only
    /// (for tests of identifier exhaustion, or to bound memory).
    pub fn with_packet_id_limit(client_id: MqttString, max: u16) -> Self {
        Self {
            client_id,
            ids: PacketIds::new(max),
            max_packet_id: max.max(1),
            inflight: OutFlows::default(),
            pending: Queue::default(),
            pending_control: VecDeque::new(),
            inbound_qos2: BTreeMap::new(),
            next_op: 0,
            next_seq: 0,
            connection: 0,
            established: false,
            expiry: None,
        }
    }

    /// The client identifier, the assigned one once a server assigned it.
    pub fn client_id(&self) -> &MqttString {
        &self.client_id
    }

    /// Whether the session holds messages a server must resume:
    /// unacknowledged outbound messages or inbound QoS 2 messages awaiting
    /// PUBREL. An empty session may still be established, see
    /// [`Session::is_established`].
    pub fn has_state(&self) -> bool {
        !self.inflight.is_empty() || !self.inbound_qos2.is_empty()
    }

    /// Whether the client has Session State in the sense of v5
    /// [MQTT-3.2.2-4]: a CONNACK accepted a connection on this session, and
    /// the state was neither discarded (Clean Start) nor expired since. A
    /// session from [`Session::new`] has none; one rebuilt with
    /// [`Session::from_records`] has.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// When the session state expires, while no connection is open and a
    /// Session Expiry Interval is running; `None` otherwise.
    pub fn expires_at(&self) -> Option<Instant> {
        self.expiry
    }

    /// The unacknowledged outbound messages, in original send order.
    pub fn inflight(&self) -> impl Iterator<Item = InflightInfo> + '_ {
        self.inflight.iter().filter_map(|f| {
            Some(InflightInfo {
                op: f.op,
                packet_id: f.packet_id()?,
                released: f.released,
            })
        })
    }

    /// Publishes, subscribes and unsubscribes not sent yet.
    pub fn pending_len(&self) -> usize {
        self.pending
            .len()
            .saturating_add(self.pending_control.len())
    }

    /// Inbound QoS 2 messages whose PUBREL has not arrived.
    pub fn inbound_qos2_len(&self) -> usize {
        self.inbound_qos2.len()
    }

    /// Packet identifiers in use.
    pub fn packet_ids_in_use(&self) -> u32 {
        self.ids.in_use_count()
    }

    /// Gives back storage that empty queues keep.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.inflight.shrink_to_fit();
        self.pending.shrink_to_fit();
        self.pending_control.shrink_to_fit();
        self.ids.shrink_to_fit();
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
        for flow in self.inflight.drain() {
            if let Some(message) = Message::from_publish(&flow.publish) {
                returned.push((flow.op, message, flow.released));
            }
        }
        for q in self.pending.drain() {
            returned.push((q.op, q.message, false));
        }
        self.inbound_qos2.clear();
        // No identifier is in use any more, except by SUBSCRIBE/UNSUBSCRIBE
        // of the current connection, which has none at this point.
        self.ids = PacketIds::new(self.max_packet_id);
        self.established = false;
        self.expiry = None;
        returned
    }
}
