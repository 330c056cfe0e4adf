//! Admission of an inbound QoS 1 or 2 PUBLISH: the same rules in the client
//! and the server role.

use alloc::collections::{BTreeMap, VecDeque};

use mqtt_codec::{PacketId, QoS};

use crate::client::conn::PendingAck;
use crate::session::InQos2;

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
}
