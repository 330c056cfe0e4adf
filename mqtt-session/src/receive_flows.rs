//! The receiving side of QoS 1 and 2 in both roles: admitting a PUBLISH
//! and sending the acknowledgements it is owed, in arrival order.

use alloc::collections::{BTreeMap, VecDeque};

use mqttkit_codec::{
    AckProperties, Packet, PacketId, PubAck, PubAckReasonCode, PubComp, PubRec, PubRelReasonCode,
    QoS,
};

use crate::error::ProtocolViolation;
use crate::violation::PeerMisbehaved;

use crate::session::InQos2;

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

/// What an admitted PUBLISH is to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Deliver it; its acknowledgement waits for the application.
    New,
    /// A QoS 2 message delivered before and not yet released: it is not
    /// delivered again, and its PUBREC is queued again (v5 [MQTT-4.3.3-10]).
    Duplicate,
}

/// The receiving half of one connection's QoS 1/2 flow.
pub(crate) struct Inbound<'a> {
    /// The session's QoS 2 messages awaiting PUBREL.
    pub(crate) qos2: &'a mut BTreeMap<PacketId, InQos2>,
    /// Acknowledgements owed to the peer, in the order they must go out.
    pub(crate) acks: &'a mut VecDeque<PendingAck>,
    /// Unacknowledged QoS 1/2 PUBLISH counted against `receive_maximum`.
    pub(crate) unacked: &'a mut u16,
    /// Our Receive Maximum on this connection.
    pub(crate) receive_maximum: u16,
    /// The connection number, so that a resent QoS 2 message counts once per
    /// connection.
    pub(crate) connection: u32,
}

/// More unacknowledged QoS 1/2 PUBLISH than our Receive Maximum
/// (v5 [MQTT-3.3.4-9]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverReceiveMaximum;

impl Inbound<'_> {
    /// Counts a QoS 1 or 2 PUBLISH against our Receive Maximum and queues
    /// the acknowledgement it is owed.
    pub(crate) fn admit(
        self,
        packet_id: PacketId,
        qos: QoS,
    ) -> Result<Admission, OverReceiveMaximum> {
        let over = *self.unacked >= self.receive_maximum;
        let fresh = |acked| PendingAck {
            packet_id,
            qos,
            acked,
            properties: Default::default(),
        };
        if qos != QoS::ExactlyOnce {
            if over {
                return Err(OverReceiveMaximum);
            }
            *self.unacked = self.unacked.saturating_add(1);
            self.acks.push_back(fresh(None));
            return Ok(Admission::New);
        }
        match self.qos2.get_mut(&packet_id) {
            None => {
                if over {
                    return Err(OverReceiveMaximum);
                }
                *self.unacked = self.unacked.saturating_add(1);
                self.qos2.insert(
                    packet_id,
                    InQos2 {
                        acked: None,
                        counted_on: Some(self.connection),
                    },
                );
                self.acks.push_back(fresh(None));
                Ok(Admission::New)
            }
            Some(entry) => {
                if entry.counted_on != Some(self.connection) {
                    if over {
                        return Err(OverReceiveMaximum);
                    }
                    *self.unacked = self.unacked.saturating_add(1);
                    entry.counted_on = Some(self.connection);
                }
                let queued = self
                    .acks
                    .iter()
                    .any(|a| a.packet_id == packet_id && a.qos == qos);
                if !queued {
                    self.acks.push_back(fresh(entry.acked));
                }
                Ok(Admission::Duplicate)
            }
        }
    }

    /// Answers a PUBREL the same way in both roles: the PUBCOMP to send, and
    /// whether a QoS 2 message was released by it (its identifier is then a
    /// new message, v5 [MQTT-4.3.3-12]). An unknown identifier is answered
    /// with 0x92 in 5.0 (v5 §3.7.2.1), never an error; a PUBREL before our
    /// PUBREC is.
    pub(crate) fn release(
        &mut self,
        id: PacketId,
        v5: bool,
    ) -> Result<(Packet, bool), ProtocolViolation> {
        let (reason, released) = match self.qos2.get(&id) {
            None => (PubRelReasonCode::PacketIdentifierNotFound, false),
            Some(entry) if entry.acked.is_none() => {
                return Err(ProtocolViolation::rule(PeerMisbehaved::PubRelBeforePubRec));
            }
            Some(_) => {
                if let Some(entry) = self.qos2.remove(&id)
                    && entry.counted_on == Some(self.connection)
                {
                    *self.unacked = self.unacked.saturating_sub(1);
                }
                (PubRelReasonCode::Success, true)
            }
        };
        let reason = if v5 {
            reason
        } else {
            PubRelReasonCode::Success
        };
        // v5 [MQTT-4.3.3-11]
        Ok((
            Packet::PubComp(PubComp::new(id).with_reason(reason)),
            released,
        ))
    }

    /// The next acknowledgement to send: the oldest pending one, once the
    /// application gave its answer (acks go out in the order the PUBLISH
    /// arrived, v5 [MQTT-4.6.0-2], [MQTT-4.6.0-3]). 3.1.1 has no reason
    /// codes, so its acks are plain. A PUBACK ends the flow; a PUBREC with
    /// an error ends a QoS 2 flow too (v5 [MQTT-4.3.3-9]), and its packet
    /// identifier is returned so that the caller can forget it durably.
    pub(crate) fn next_ack(&mut self, v5: bool) -> Option<(Packet, Option<PacketId>)> {
        if self.acks.front().is_none_or(|a| a.acked.is_none()) {
            return None;
        }
        let PendingAck {
            packet_id,
            qos,
            acked,
            properties,
        } = self.acks.pop_front()?;
        let reason = match acked {
            Some(reason) if v5 => reason,
            _ => PubAckReasonCode::Success,
        };
        if qos == QoS::AtLeastOnce {
            *self.unacked = self.unacked.saturating_sub(1);
            let mut ack = PubAck::new(packet_id).with_reason(reason);
            ack.properties = properties;
            return Some((Packet::PubAck(ack), None));
        }
        let mut ended = None;
        if reason.is_error() {
            if let Some(entry) = self.qos2.remove(&packet_id)
                && entry.counted_on == Some(self.connection)
            {
                *self.unacked = self.unacked.saturating_sub(1);
            }
            ended = Some(packet_id);
        }
        let mut rec = PubRec::new(packet_id).with_reason(reason);
        rec.properties = properties;
        Some((Packet::PubRec(rec), ended))
    }
}
