//! The send half of the QoS 1 and 2 flows, shared by both roles: the
//! outbound messages that were sent and are not completely acknowledged.
//!
//! A peer that announces no Receive Maximum (every 3.1.1 peer, and a v5 peer
//! that leaves it at its default) may have up to 65,535 of them in flight, so
//! every operation here costs the same at any depth: flows are kept in send
//! order and indexed by packet identifier, and the next flow to resend is
//! found from a cursor instead of a scan from the front.

use mqttkit_codec::{Packet, PacketId, PubRel, PubRelReasonCode, Publish, QoS};

use crate::error::ProtocolViolation;
use crate::event::OpId;
use crate::violation::PeerMisbehaved;

// An acknowledgement of the wrong kind for a message in flight: the peer
// broke the flow it was answering, and guessing what it meant could lose or
// duplicate the message, so the connection ends (v3.1.1 [MQTT-4.8.0-1]
// closes on any protocol violation; v5 §1.2 calls a packet "inconsistent
// with the state" a Protocol Error). An identifier not in flight at all is
// a different matter: it is left over from an earlier exchange (v5 0x92,
// "not an error during recovery").
const PUBACK_FOR_QOS2: ProtocolViolation = ProtocolViolation::rule(PeerMisbehaved::PubAckForQoS2);
const PUBREC_FOR_QOS1: ProtocolViolation = ProtocolViolation::rule(PeerMisbehaved::PubRecForQoS1);
const PUBCOMP_FOR_QOS1: ProtocolViolation = ProtocolViolation::rule(PeerMisbehaved::PubCompForQoS1);
const PUBCOMP_BEFORE_PUBREL: ProtocolViolation =
    ProtocolViolation::rule(PeerMisbehaved::PubCompBeforePubRel);

/// The acknowledgements a peer sends for our QoS 1 and 2 PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckKind {
    /// PUBACK, the end of a QoS 1 flow.
    Acknowledged,
    /// PUBREC, the first half of a QoS 2 flow.
    Received,
    /// PUBCOMP, the end of a QoS 2 flow after our PUBREL.
    Completed,
}

/// The PUBREL that answers a PUBREC for an identifier not in flight: reason
/// 0x92 in 5.0 (v5 §3.6.2.1, "not an error during recovery"), as v5
/// [MQTT-4.3.3-4] asks for a PUBREL after a PUBREC below 0x80; without it the
/// peer would keep the identifier waiting forever (v5 [MQTT-4.3.3-10]).
/// 3.1.1 has no reason code: a plain PUBREL.
pub(crate) fn pubrel_not_found(id: PacketId, v5: bool) -> Packet {
    let code = if v5 {
        PubRelReasonCode::PacketIdentifierNotFound
    } else {
        PubRelReasonCode::Success
    };
    Packet::PubRel(PubRel::new(id).with_reason(code))
}

/// An outbound QoS 1 or 2 PUBLISH that was sent and is not completely
/// acknowledged.
#[derive(Debug, Clone)]
pub(crate) struct OutFlow {
    pub(crate) op: OpId,
    /// Send order; kept across restore so that resends keep the original order.
    pub(crate) seq: u64,
    /// With its packet identifier, DUP clear, full topic and no alias.
    pub(crate) publish: Publish,
    /// PUBREC arrived: only PUBREL/PUBCOMP remain (v5 [MQTT-4.3.3-6]).
    pub(crate) released: bool,
    /// Sent on the current connection; cleared on every new connection.
    pub(crate) on_wire: bool,
}

impl OutFlow {
    pub(crate) fn packet_id(&self) -> Option<PacketId> {
        self.publish.qos.packet_id()
    }

    /// The QoS the flow was sent with.
    pub(crate) fn qos(&self) -> QoS {
        self.publish.qos.qos()
    }

    /// What goes on the wire when the flow is sent again: PUBREL once the
    /// PUBREC arrived, otherwise the PUBLISH with DUP set (v5
    /// [MQTT-3.3.1-1], [MQTT-4.4.0-1]). The stored PUBLISH has the full
    /// topic and no alias, so it is valid on any connection.
    pub(crate) fn resend_packet(&self) -> Packet {
        match (self.released, self.packet_id()) {
            (true, Some(id)) => Packet::PubRel(PubRel::new(id)),
            _ => {
                let mut publish = self.publish.clone();
                publish.qos = publish.qos.redelivery();
                Packet::Publish(publish)
            }
        }
    }
}

/// The outbound flows in send order, indexed by packet identifier.
///
/// Each flow sits in the slot of its packet identifier, and the slots are
/// linked in send order. The allocator hands out released identifiers
/// before fresh ones, so the slots in use stay within the highest number of
/// flows ever in flight at once, and every operation is O(1).
#[derive(Debug, Clone, Default)]
pub(crate) struct OutFlows {
    /// Indexed by packet identifier; slot 0 is never used.
    slots: alloc::vec::Vec<Option<Node>>,
    /// Identifier of the oldest flow; 0 when there is none.
    head: u16,
    /// Identifier of the newest flow; 0 when there is none.
    tail: u16,
    /// The first flow that may not be on the wire of the current
    /// connection: every flow before it in send order is. 0: none.
    unsent: u16,
    len: usize,
}

#[derive(Debug, Clone)]
struct Node {
    flow: OutFlow,
    /// Identifiers of the neighbours in send order; 0 at either end.
    prev: u16,
    next: u16,
}

impl OutFlows {
    /// No flows.
    pub(crate) const EMPTY: Self = Self {
        slots: alloc::vec::Vec::new(),
        head: 0,
        tail: 0,
        unsent: 0,
        len: 0,
    };

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn node(&self, id: u16) -> Option<&Node> {
        self.slots.get(usize::from(id))?.as_ref()
    }

    fn node_mut(&mut self, id: u16) -> Option<&mut Node> {
        self.slots.get_mut(usize::from(id))?.as_mut()
    }

    /// The flows in send order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &OutFlow> + '_ {
        let mut at = self.head;
        core::iter::from_fn(move || {
            let node = self.node(at)?;
            at = node.next;
            Some(&node.flow)
        })
    }

    /// Adds a flow after every other one, as the newest. A flow without a
    /// packet identifier (QoS 0) has no place here and is ignored, and so is
    /// one whose identifier is taken, which the allocator never hands out
    /// twice.
    pub(crate) fn push(&mut self, flow: OutFlow) {
        let Some(id) = flow.packet_id().map(PacketId::get) else {
            return;
        };
        let index = usize::from(id);
        if self.slots.len() <= index {
            self.slots.resize_with(index.saturating_add(1), || None);
        }
        let Some(slot @ None) = self.slots.get_mut(index) else {
            return;
        };
        let on_wire = flow.on_wire;
        *slot = Some(Node {
            flow,
            prev: self.tail,
            next: 0,
        });
        let tail = self.tail;
        match self.node_mut(tail) {
            Some(node) => node.next = id,
            None => self.head = id,
        }
        self.tail = id;
        if !on_wire && self.unsent == 0 {
            self.unsent = id;
        }
        self.len = self.len.saturating_add(1);
    }

    /// Checks an acknowledgement against the flow it names, the same way in
    /// both roles: `Ok(true)` when a flow in flight expects it, `Ok(false)`
    /// when no flow has that identifier (left over from an earlier
    /// exchange), and the violation when it is the wrong kind for the flow.
    /// A repeated PUBREC for a flow already released is expected: PUBREL
    /// goes again.
    pub(crate) fn check_ack(&self, id: PacketId, kind: AckKind) -> Result<bool, ProtocolViolation> {
        let Some(flow) = self.get(id) else {
            return Ok(false);
        };
        match (kind, flow.qos(), flow.released) {
            (AckKind::Acknowledged, QoS::ExactlyOnce, _) => Err(PUBACK_FOR_QOS2),
            (AckKind::Received, QoS::AtLeastOnce, _) => Err(PUBREC_FOR_QOS1),
            (AckKind::Completed, QoS::AtLeastOnce, _) => Err(PUBCOMP_FOR_QOS1),
            (AckKind::Completed, QoS::ExactlyOnce, false) => Err(PUBCOMP_BEFORE_PUBREL),
            _ => Ok(true),
        }
    }

    /// The flow with packet identifier `id`.
    pub(crate) fn get(&self, id: PacketId) -> Option<&OutFlow> {
        self.node(id.get()).map(|node| &node.flow)
    }

    /// The flow with packet identifier `id`, to change.
    pub(crate) fn get_mut(&mut self, id: PacketId) -> Option<&mut OutFlow> {
        self.node_mut(id.get()).map(|node| &mut node.flow)
    }

    /// Ends the flow `id` if it is in the state an acknowledgement completes
    /// (`released`: PUBCOMP after our PUBREL, otherwise PUBACK or an error
    /// PUBREC) and of QoS `qos`, and gives its identifier back to `ids`.
    pub(crate) fn complete(
        &mut self,
        ids: &mut crate::ids::PacketIds,
        id: PacketId,
        released: bool,
        qos: QoS,
    ) -> Option<OutFlow> {
        let expected = |f: &OutFlow| f.released == released && f.qos() == qos;
        if !self.get(id).is_some_and(expected) {
            return None;
        }
        let flow = self.remove(id)?;
        ids.release(id);
        Some(flow)
    }

    /// Removes the flow with packet identifier `id`.
    pub(crate) fn remove(&mut self, id: PacketId) -> Option<OutFlow> {
        let id = id.get();
        let node = self.slots.get_mut(usize::from(id))?.take()?;
        match self.node_mut(node.prev) {
            Some(prev) => prev.next = node.next,
            None => self.head = node.next,
        }
        match self.node_mut(node.next) {
            Some(next) => next.prev = node.prev,
            None => self.tail = node.prev,
        }
        if self.unsent == id {
            self.unsent = node.next;
        }
        self.len = self.len.saturating_sub(1);
        if self.len == 0 {
            self.release_memory();
        }
        Some(node.flow)
    }

    /// Gives the slots back once a burst is over, so that an idle session
    /// holds little memory for flows; a small table is kept for the next one.
    fn release_memory(&mut self) {
        const KEPT_SLOTS: usize = 64;
        if self.slots.capacity() > KEPT_SLOTS {
            self.slots = alloc::vec::Vec::new();
        }
    }

    /// Gives back every slot when no flow is in flight.
    pub(crate) fn shrink_to_fit(&mut self) {
        if self.is_empty() {
            self.slots = alloc::vec::Vec::new();
        }
    }

    /// The first flow in send order that is not on the wire of the current
    /// connection: the next one to resend. Over a connection each flow is
    /// stepped over at most once.
    pub(crate) fn next_unsent(&mut self) -> Option<&mut OutFlow> {
        while let Some(node) = self.node(self.unsent) {
            if !node.flow.on_wire {
                break;
            }
            self.unsent = node.next;
        }
        let unsent = self.unsent;
        self.node_mut(unsent).map(|node| &mut node.flow)
    }

    /// A new connection: nothing is on its wire yet.
    pub(crate) fn mark_all_unsent(&mut self) {
        for node in self.slots.iter_mut().flatten() {
            node.flow.on_wire = false;
        }
        self.unsent = self.head;
    }

    /// Whether any flow is on the wire of the current connection.
    pub(crate) fn any_on_wire(&self) -> bool {
        self.iter().any(|flow| flow.on_wire)
    }

    /// Removes every flow, in send order.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = OutFlow> {
        let mut taken = core::mem::take(self);
        let mut at = taken.head;
        core::iter::from_fn(move || {
            let node = taken.slots.get_mut(usize::from(at))?.take()?;
            at = node.next;
            Some(node.flow)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqttkit_codec::{PublishQoS, TopicName};

    fn flow(seq: u64, id: u16, on_wire: bool) -> OutFlow {
        let id = PacketId::new(id).unwrap();
        OutFlow {
            op: OpId(seq),
            seq,
            publish: Publish::new(TopicName::from_static("t").unwrap(), &b"x"[..])
                .with_qos(PublishQoS::new(QoS::AtLeastOnce, id)),
            released: false,
            on_wire,
        }
    }

    fn id(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    #[test]
    fn keeps_send_order_and_finds_by_identifier() {
        let mut flows = OutFlows::default();
        for (seq, n) in [(0, 9), (1, 3), (2, 7)] {
            flows.push(flow(seq, n, true));
        }
        let order: alloc::vec::Vec<u64> = flows.iter().map(|f| f.seq).collect();
        assert_eq!(order, [0, 1, 2]);
        assert_eq!(flows.get(id(3)).map(|f| f.seq), Some(1));
        assert_eq!(flows.remove(id(3)).map(|f| f.seq), Some(1));
        assert!(flows.get(id(3)).is_none());
        assert_eq!(flows.len(), 2);
    }

    #[test]
    fn resends_in_original_order_after_a_new_connection() {
        let mut flows = OutFlows::default();
        for seq in 0..4 {
            flows.push(flow(seq, u16::try_from(seq).unwrap() + 1, true));
        }
        assert!(flows.next_unsent().is_none());
        flows.mark_all_unsent();
        flows.remove(id(2));
        let mut sent = alloc::vec::Vec::new();
        while let Some(f) = flows.next_unsent() {
            f.on_wire = true;
            sent.push(f.seq);
        }
        assert_eq!(sent, [0, 2, 3]);
        // A flow added while nothing waits is on the wire already.
        flows.push(flow(9, 20, true));
        assert!(flows.next_unsent().is_none());
        assert!(flows.any_on_wire());
    }

    #[test]
    fn an_ack_of_the_wrong_kind_is_a_violation_in_both_roles() {
        let mut flows = OutFlows::default();
        flows.push(flow(0, 1, true));
        let mut qos2 = flow(1, 2, true);
        qos2.publish.qos = PublishQoS::new(QoS::ExactlyOnce, id(2));
        flows.push(qos2);
        assert_eq!(flows.check_ack(id(1), AckKind::Acknowledged), Ok(true));
        assert_eq!(
            flows.check_ack(id(1), AckKind::Received),
            Err(PUBREC_FOR_QOS1)
        );
        assert_eq!(
            flows.check_ack(id(1), AckKind::Completed),
            Err(PUBCOMP_FOR_QOS1)
        );
        assert_eq!(
            flows.check_ack(id(2), AckKind::Acknowledged),
            Err(PUBACK_FOR_QOS2)
        );
        assert_eq!(
            flows.check_ack(id(2), AckKind::Completed),
            Err(PUBCOMP_BEFORE_PUBREL)
        );
        assert_eq!(flows.check_ack(id(2), AckKind::Received), Ok(true));
        flows.get_mut(id(2)).unwrap().released = true;
        assert_eq!(flows.check_ack(id(2), AckKind::Completed), Ok(true));
        assert_eq!(flows.check_ack(id(3), AckKind::Acknowledged), Ok(false));
    }

    #[test]
    fn resend_packet_is_dup_publish_or_pubrel() {
        let mut f = flow(0, 5, false);
        let Packet::Publish(p) = f.resend_packet() else {
            panic!("a PUBLISH")
        };
        assert!(p.qos.dup());
        f.released = true;
        assert_eq!(f.resend_packet(), Packet::PubRel(PubRel::new(id(5))));
    }
}
