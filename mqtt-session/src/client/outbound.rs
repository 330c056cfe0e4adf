//! What the client sends: encoding under the server's limits, the pump that
//! moves queued operations onto the wire, and acknowledgements.

use bytes::BytesMut;
use mqttkit_codec::{
    AckProperties, EncodeError, Packet, PubAckReasonCode, PubRel, Publish, PublishQoS, QoS,
    ReasonCode,
};

use super::Client;
use super::conn::{Connection, ControlInflight};
use crate::error::OpError;
use crate::event::{AckToken, Event};
use crate::link::State;
use crate::persist::{InboundRecord, OutboundRecord, PersistOp, control_packet};
use crate::send_flows::OutFlow;
use crate::time::Instant;
use crate::timers::Timer;

/// Encodes `packet` under the server's Maximum Packet Size into `tx`.
pub(super) fn encode(
    conn: &mut Connection,
    tx: &mut BytesMut,
    now: Instant,
    packet: &Packet,
) -> Result<usize, EncodeError> {
    let n = conn.link.encoder.encode(packet, tx)?;
    conn.note_sent(now);
    Ok(n)
}

/// Encodes an acknowledgement, DISCONNECT or AUTH; when it is too large the
/// Reason String and User Properties are left out first (v5 [MQTT-3.4.2-2],
/// [MQTT-3.4.2-3], [MQTT-3.14.2-3], [MQTT-3.14.2-4], [MQTT-3.15.2-2],
/// [MQTT-3.15.2-3] and the siblings for PUBREC). The client sends PUBREL
/// and PUBCOMP without properties, so they have nothing to leave out.
pub(super) fn encode_trimmed(
    conn: &mut Connection,
    tx: &mut BytesMut,
    now: Instant,
    mut packet: Packet,
) -> Result<(), EncodeError> {
    match encode(conn, tx, now, &packet) {
        Err(EncodeError::PacketTooLarge { .. }) => {
            match &mut packet {
                Packet::PubAck(p) => p.properties = Default::default(),
                Packet::PubRec(p) => p.properties = Default::default(),
                Packet::Disconnect(p) => {
                    p.properties.reason_string = None;
                    p.properties.user_properties = Default::default();
                }
                Packet::Auth(p) => {
                    p.properties.reason_string = None;
                    p.properties.user_properties = Default::default();
                }
                _ => {}
            }
            encode(conn, tx, now, &packet).map(drop)
        }
        other => other.map(drop),
    }
}

impl Client {
    /// Moves work onto the wire while the connection, the send quota and
    /// the packet identifiers allow: first in-flight messages not yet sent
    /// on this connection (resume, original order, DUP set, PUBREL for
    /// released flows), then SUBSCRIBE/UNSUBSCRIBE, then new publishes.
    pub(super) fn pump(&mut self, now: Instant) {
        self.pump_inner(now);
        self.arm_retransmit(now);
    }

    fn pump_inner(&mut self, now: Instant) {
        while self
            .conn
            .as_ref()
            .is_some_and(|c| c.link.state == State::Connected)
            && self.pump_control(now)
        {}
        loop {
            let Some(conn) = self
                .conn
                .as_mut()
                .filter(|c| c.link.state == State::Connected)
            else {
                return;
            };
            // v5 [MQTT-4.4.0-1], [MQTT-4.6.0-1]: resend in original order,
            // counted against the new Receive Maximum.
            if let Some(flow) = self.session.flows_mut().inflight.next_unsent() {
                if conn.link.send_quota == 0 {
                    return;
                }
                let packet = flow.resend_packet();
                flow.on_wire = true;
                let id = flow.packet_id();
                if let Err(err) = encode(conn, &mut self.tx, now, &packet) {
                    // The stored message no longer fits the new Maximum
                    // Packet Size: that operation fails, the rest goes on.
                    if let Some(id) = id
                        && let Some(flow) = self.session.flows_mut().inflight.remove(id)
                    {
                        self.session.flows_mut().ids.release(id);
                        self.persist.push_back(PersistOp::RemoveOutbound(id));
                        self.events.push_back(Event::OpFailed {
                            op: flow.op,
                            error: op_error(err),
                        });
                    }
                    continue;
                }
                conn.link.send_quota = conn.link.send_quota.saturating_sub(1);
                continue;
            }
            if !self.pump_publish(now) {
                break;
            }
        }
    }

    /// Arms the 3.1.1 retransmission timer while messages are on the wire.
    pub(super) fn arm_retransmit(&mut self, now: Instant) {
        let Some(interval) = self.config.retransmit_v3 else {
            return;
        };
        let Some(conn) = self
            .conn
            .as_mut()
            .filter(|c| c.link.state == State::Connected)
        else {
            return;
        };
        let outstanding = self.session.flows().inflight.any_on_wire();
        if conn.link.version.is_v5() || !outstanding {
            conn.timers.set(Timer::Retransmit, None);
        } else if conn.timers.get(Timer::Retransmit).is_none() {
            let interval = interval.max(core::time::Duration::from_millis(1));
            conn.timers
                .set(Timer::Retransmit, Some(now.saturating_add(interval)));
        }
    }

    /// 3.1.1 in-session retransmission: everything on the wire again, in
    /// order, PUBLISH with DUP (v3.1.1 [MQTT-3.3.1-1]) or PUBREL.
    pub(super) fn retransmit(&mut self, now: Instant) {
        let Some(conn) = self
            .conn
            .as_mut()
            .filter(|c| c.link.state == State::Connected)
        else {
            return;
        };
        for flow in self.session.flows().inflight.iter().filter(|f| f.on_wire) {
            let packet = match (flow.released, flow.packet_id()) {
                (true, Some(id)) => Packet::PubRel(PubRel::new(id)),
                _ => {
                    let mut publish = flow.publish.clone();
                    publish.qos = publish.qos.redelivery();
                    Packet::Publish(publish)
                }
            };
            let _ = encode(conn, &mut self.tx, now, &packet);
        }
        self.arm_retransmit(now);
    }

    /// Sends the first queued SUBSCRIBE/UNSUBSCRIBE; `false` when none can go.
    fn pump_control(&mut self, now: Instant) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        if self.session.flows().pending_control.is_empty() {
            return false;
        }
        let flows = self.session.flows_mut();
        let Some((op, control)) = flows.pending_control.front() else {
            return false;
        };
        let op = *op;
        let Some(packet_id) = flows.ids.allocate() else {
            return false;
        };
        let subscribe = matches!(control, crate::session::Control::Subscribe { .. });
        let filters = match control {
            crate::session::Control::Subscribe { filters, .. } => filters.len(),
            crate::session::Control::Unsubscribe { filters, .. } => filters.len(),
        };
        let packet = control_packet(control, packet_id);
        self.session.flows_mut().pending_control.pop_front();
        let result = match packet {
            Some(packet) => encode(conn, &mut self.tx, now, &packet),
            None => Err(EncodeError::InvalidPacket(if subscribe {
                mqttkit_codec::InvalidPacket::EmptySubscribe
            } else {
                mqttkit_codec::InvalidPacket::EmptyUnsubscribe
            })),
        };
        match result {
            Ok(_) => conn.control.push(ControlInflight {
                packet_id,
                op,
                filters,
                subscribe,
            }),
            Err(err) => {
                self.session.flows_mut().ids.release(packet_id);
                self.events.push_back(Event::OpFailed {
                    op,
                    error: op_error(err),
                });
            }
        }
        true
    }

    /// Sends the first queued publish; `false` when it has to wait.
    fn pump_publish(&mut self, now: Instant) -> bool {
        // A message that expired while it waited is not sent; one that goes
        // out carries the time it has left, as a server does when forwarding.
        let queued = match self.session.flows_mut().pending.front_at(now) {
            None => return false,
            Some(Err(expired)) => {
                self.events.push_back(Event::OpFailed {
                    op: expired.op,
                    error: OpError::MessageExpired,
                });
                return true;
            }
            Some(Ok(queued)) => queued,
        };
        let op = queued.op;
        let message = &queued.message;
        let refused = self
            .conn
            .as_ref()
            .and_then(|c| c.negotiated.as_ref())
            .and_then(|n| super::commands::check_publish(n, message).err());
        if let Some(error) = refused {
            self.session.flows_mut().pending.pop_front();
            self.events.push_back(Event::OpFailed { op, error });
            return true;
        }
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let qos = message.qos;
        if qos == QoS::AtMostOnce {
            let mut publish = Publish::new(message.topic.clone(), message.payload.clone())
                .with_retain(message.retain)
                .with_properties(message.properties.clone());
            self.session.flows_mut().pending.pop_front();
            conn.link.apply_out_alias(&mut publish);
            let event = match encode(conn, &mut self.tx, now, &Packet::Publish(publish)) {
                Ok(_) => Event::Published {
                    op,
                    reason: ReasonCode::Success,
                },
                Err(err) => Event::OpFailed {
                    op,
                    error: op_error(err),
                },
            };
            self.events.push_back(event);
            return true;
        }
        // v5 [MQTT-4.9.0-2]: no QoS > 0 PUBLISH while the quota is zero.
        if conn.link.send_quota == 0 {
            return false;
        }
        let Some(packet_id) = self.session.flows_mut().ids.allocate() else {
            return false;
        };
        let Some(crate::queue::Queued { message, .. }) =
            self.session.flows_mut().pending.pop_front()
        else {
            return false;
        };
        let stored = Publish::new(message.topic, message.payload)
            .with_qos(PublishQoS::new(qos, packet_id))
            .with_retain(message.retain)
            .with_properties(message.properties);
        let mut wire = stored.clone();
        conn.link.apply_out_alias(&mut wire);
        let wire = Packet::Publish(wire);
        // The size is checked before the record is written, so that a
        // message too large fails alone and leaves no record behind.
        let fits = wire
            .encoded_len(conn.link.version)
            .map_err(op_error)
            .and_then(|len| {
                let max = conn.negotiated.as_ref().and_then(|n| n.maximum_packet_size);
                match max {
                    Some(max) if len > usize::try_from(max).unwrap_or(usize::MAX) => {
                        Err(OpError::PacketTooLarge)
                    }
                    _ => Ok(()),
                }
            });
        if let Err(error) = fits {
            self.session.flows_mut().ids.release(packet_id);
            self.events.push_back(Event::OpFailed { op, error });
            return true;
        }
        let flow = OutFlow {
            op,
            seq: self.session.next_seq(),
            publish: stored,
            released: false,
            on_wire: true,
        };
        self.persist
            .push_back(PersistOp::PutOutbound(OutboundRecord::of(&flow)));
        self.session.flows_mut().inflight.push(flow);
        conn.link.send_quota = conn.link.send_quota.saturating_sub(1);
        let _ = encode(conn, &mut self.tx, now, &wire);
        true
    }

    /// Sends PUBACK/PUBREC for the acknowledged prefix of the arrival queue.
    pub(super) fn drain_acks(&mut self, now: Instant) {
        let Some(conn) = self.conn.as_mut().filter(|c| c.is_open()) else {
            return;
        };
        let v5 = conn.link.version.is_v5();
        loop {
            let next = conn
                .link
                .inbound(&mut self.session.flows_mut().inbound_qos2)
                .next_ack(v5);
            let Some((packet, ended)) = next else { break };
            if let Some(packet_id) = ended {
                self.persist.push_back(PersistOp::RemoveInbound(packet_id));
            }
            let _ = encode_trimmed(conn, &mut self.tx, now, packet);
        }
    }
}

fn op_error(err: EncodeError) -> OpError {
    match err {
        EncodeError::PacketTooLarge { .. } => OpError::PacketTooLarge,
        other => OpError::Encode(other),
    }
}

pub(super) fn ack(
    client: &mut Client,
    now: Instant,
    token: AckToken,
    reason: PubAckReasonCode,
    properties: AckProperties,
) -> Result<(), OpError> {
    let current = client
        .conn
        .as_ref()
        .filter(|c| c.is_open())
        .map(|c| c.link.number);
    if token.qos == QoS::ExactlyOnce {
        let entry = client
            .session
            .flows_mut()
            .inbound_qos2
            .get_mut(&token.packet_id)
            .filter(|e| e.acked.is_none())
            .ok_or(OpError::UnknownAck)?;
        entry.acked = Some(reason);
        client
            .persist
            .push_back(PersistOp::PutInbound(InboundRecord {
                packet_id: token.packet_id,
                acked: Some(reason),
            }));
    } else if current != Some(token.connection) {
        // Never on another connection: the server resends the message.
        return Ok(());
    }
    if let Some(conn) = client.conn.as_mut().filter(|c| c.is_open()) {
        let v5 = conn.link.version.is_v5();
        let waiting = conn.link.unanswered_ack(token.packet_id, token.qos);
        match waiting {
            Some(a) => {
                a.acked = Some(reason);
                if v5 {
                    a.properties = properties;
                }
            }
            None if token.qos == QoS::AtLeastOnce => return Err(OpError::UnknownAck),
            None => {}
        }
    }
    client.drain_acks(now);
    Ok(())
}
