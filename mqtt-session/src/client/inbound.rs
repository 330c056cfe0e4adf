//! What the server sends: one handler per packet type.

use mqttkit_codec::{
    Auth, AuthReasonCode, ConnAck, ConnectReasonCode, Packet, PubAck, PubComp, PubRec, PubRel,
    Publish, PublishQoS, QoS, ReasonCode, SubAck, UnsubAck,
};

use super::conn::Negotiated;
use super::{Client, outbound};
use crate::error::ProtocolViolation;
use crate::event::{AckToken, CloseCause, Event};
use crate::link::State;
use crate::persist::{InboundRecord, OutboundRecord, PersistOp};
use crate::receive_flows::Admission;
use crate::send_flows::{AckKind, pubrel_not_found};
use crate::time::Instant;
use crate::timers::Timer;
use crate::violation::PeerMisbehaved;

type Handled = Result<(), ProtocolViolation>;

impl Client {
    pub(super) fn dispatch(&mut self, now: Instant, packet: Packet) -> Handled {
        let result = self.dispatch_inner(now, packet);
        match result {
            Err(v) => Err(self.violate(now, v)),
            Ok(()) => Ok(()),
        }
    }

    fn dispatch_inner(&mut self, now: Instant, packet: Packet) -> Handled {
        let connected = self
            .conn
            .as_ref()
            .is_some_and(|c| c.link.state == State::Connected);
        match packet {
            Packet::ConnAck(ack) => return self.on_connack(now, *ack),
            Packet::Auth(auth) => return self.on_auth(*auth),
            Packet::Disconnect(d) => {
                self.close(now, CloseCause::ByServer(d));
                return Ok(());
            }
            _ if !connected => {
                return Err(ProtocolViolation::rule(PeerMisbehaved::PacketBeforeConnAck));
            }
            _ => {}
        }
        match packet {
            Packet::Publish(p) => self.on_publish(now, p),
            Packet::PubAck(p) => self.on_puback(now, p),
            Packet::PubRec(p) => self.on_pubrec(now, p),
            Packet::PubRel(p) => self.on_pubrel(now, p),
            Packet::PubComp(p) => self.on_pubcomp(now, p),
            Packet::SubAck(p) => self.on_suback(now, p),
            Packet::UnsubAck(p) => self.on_unsuback(now, p),
            Packet::PingResp => {
                if let Some(conn) = self.conn.as_mut() {
                    conn.timers.set(Timer::PingResp, None);
                }
                Ok(())
            }
            _ => Err(ProtocolViolation::rule(PeerMisbehaved::ClientOnlyPacket)),
        }
    }

    fn on_connack(&mut self, now: Instant, ack: ConnAck) -> Handled {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        if conn.link.state != State::Connecting {
            return Err(ProtocolViolation::rule(PeerMisbehaved::SecondConnAck));
        }
        if ack.reason_code != ConnectReasonCode::Success {
            // v5 [MQTT-3.2.2-7]: the server closes; the session is kept.
            self.close(now, CloseCause::Refused(ack));
            return Ok(());
        }
        if ack.session_present && conn.clean_start {
            return Err(ProtocolViolation::rule(
                PeerMisbehaved::SessionPresentOnCleanStart,
            ));
        }
        if ack.session_present && !self.session.established {
            // 3.1.1 has no statement here; §3.2.2.2 lets the client choose
            // to disconnect when Session Present is not as expected.
            return Err(ProtocolViolation::rule(
                PeerMisbehaved::SessionPresentWithoutState,
            ));
        }
        if let Some(ours) = &conn.auth_method
            && ack.properties.authentication_method.as_ref() != Some(ours)
        {
            return Err(ProtocolViolation::rule(
                PeerMisbehaved::ConnAckWithoutAuthenticationMethod,
            ));
        }
        if conn.auth_method.is_none() && ack.properties.authentication_method.is_some() {
            return Err(ProtocolViolation::rule(
                PeerMisbehaved::UnrequestedAuthenticationMethod,
            ));
        }
        let negotiated = Negotiated::from_connack(
            conn.link.version,
            ack.session_present,
            &ack.properties,
            conn.keep_alive,
            conn.session_expiry_interval,
        );
        conn.timers.set(Timer::ConnAck, None);
        if let Some(max) = negotiated.maximum_packet_size {
            conn.link.encoder = conn.link.encoder.with_max_packet_size(max);
        }
        conn.link.send_quota = negotiated.receive_maximum;
        conn.link.reset_out_aliases(
            negotiated
                .topic_alias_maximum
                .min(self.config.max_outbound_aliases),
        );
        // v5 [MQTT-3.1.2-21], [MQTT-3.2.2-21]: the Server Keep Alive wins.
        conn.keep_alive = negotiated.keep_alive;
        conn.link.state = State::Connected;
        let last_sent = conn.last_sent;
        conn.note_sent(last_sent);
        if let Some(id) = &negotiated.assigned_client_identifier {
            self.session.client_id = id.clone();
        }
        conn.negotiated = Some(negotiated);
        // v5 [MQTT-3.2.2-5]: no session on the server, so ours goes.
        if !ack.session_present && self.session.has_state() {
            self.lose_session();
        }
        // The session is in use: it has Session State and does not expire
        // while the connection is open (v5 [MQTT-4.1.0-1]).
        self.session.established = true;
        self.session.set_expiry(None);
        self.events.push_back(Event::Connected {
            session_present: ack.session_present,
        });
        self.pump(now);
        Ok(())
    }

    fn on_auth(&mut self, auth: Auth) -> Handled {
        let Some(conn) = self.conn.as_ref() else {
            return Ok(());
        };
        let Some(method) = &conn.auth_method else {
            return Err(ProtocolViolation::rule(
                PeerMisbehaved::AuthWithoutAuthenticationMethod,
            ));
        };
        if auth.properties.authentication_method.as_ref() != Some(method) {
            return Err(ProtocolViolation::rule(
                PeerMisbehaved::AuthenticationMethodChanged,
            ));
        }
        match auth.reason_code {
            AuthReasonCode::ContinueAuthentication => {
                self.events.push_back(Event::AuthChallenge {
                    method: auth.properties.authentication_method,
                    data: auth.properties.authentication_data,
                });
                Ok(())
            }
            AuthReasonCode::Success if conn.link.state == State::Connected => {
                self.events.push_back(Event::Reauthenticated);
                Ok(())
            }
            _ => Err(ProtocolViolation::rule(
                PeerMisbehaved::UnexpectedAuthFromServer,
            )),
        }
    }

    fn on_publish(&mut self, now: Instant, mut publish: Publish) -> Handled {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        // Topic Alias (v5 §3.3.2.3.4), a table of this connection only.
        conn.link.resolve_in_alias(
            &mut publish,
            PeerMisbehaved::TopicAliasAboveMaximumFromServer,
        )?;
        let (packet_id, qos) = match publish.qos {
            PublishQoS::AtMostOnce => {
                self.events.push_back(Event::Message { publish, ack: None });
                return Ok(());
            }
            PublishQoS::AtLeastOnce { packet_id, .. } => (packet_id, QoS::AtLeastOnce),
            PublishQoS::ExactlyOnce { packet_id, .. } => (packet_id, QoS::ExactlyOnce),
        };
        let token = AckToken {
            packet_id,
            qos,
            connection: conn.link.number,
        };
        const OVER: ProtocolViolation =
            ProtocolViolation::rule(PeerMisbehaved::ServerExceededReceiveMaximum);
        let admission = conn
            .link
            .inbound(&mut self.session.flows_mut().inbound_qos2)
            .admit(packet_id, qos)
            .map_err(|_| OVER)?;
        match admission {
            Admission::New => {
                if qos == QoS::ExactlyOnce {
                    self.persist.push_back(PersistOp::PutInbound(InboundRecord {
                        packet_id,
                        acked: None,
                    }));
                }
                if self.config.manual_ack {
                    self.events.push_back(Event::Message {
                        publish,
                        ack: Some(token),
                    });
                } else {
                    self.events.push_back(Event::Message { publish, ack: None });
                    // The token is fresh and of this connection: it is accepted.
                    let _ = self.ack(now, token, mqttkit_codec::PubAckReasonCode::Success);
                }
            }
            Admission::Duplicate => self.drain_acks(now),
        }
        Ok(())
    }

    fn on_pubrel(&mut self, now: Instant, rel: PubRel) -> Handled {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let v5 = conn.link.version.is_v5();
        let (pubcomp, released) = conn
            .link
            .inbound(&mut self.session.flows_mut().inbound_qos2)
            .release(rel.packet_id, v5)?;
        if released {
            self.persist
                .push_back(PersistOp::RemoveInbound(rel.packet_id));
        }
        outbound::encode_trimmed(conn, &mut self.tx, now, pubcomp).ok();
        Ok(())
    }

    /// Removes the in-flight flow `id` in the state `released` and frees
    /// its identifier and its send quota.
    fn complete(
        &mut self,
        id: mqttkit_codec::PacketId,
        released: bool,
        qos: QoS,
        reason: ReasonCode,
    ) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let Some(flow) = conn.link.complete(&mut self.session, id, released, qos) else {
            return;
        };
        self.persist.push_back(PersistOp::RemoveOutbound(id));
        self.events.push_back(Event::Published {
            op: flow.op,
            reason,
        });
    }

    fn on_puback(&mut self, now: Instant, ack: PubAck) -> Handled {
        self.session
            .flows()
            .inflight
            .check_ack(ack.packet_id, AckKind::Acknowledged)?;
        self.complete(
            ack.packet_id,
            false,
            QoS::AtLeastOnce,
            ack.reason_code.into(),
        );
        self.pump(now);
        Ok(())
    }

    fn on_pubrec(&mut self, now: Instant, rec: PubRec) -> Handled {
        let id = rec.packet_id;
        if !self
            .session
            .flows()
            .inflight
            .check_ack(id, AckKind::Received)?
        {
            if !rec.reason_code.is_error()
                && let Some(conn) = self.conn.as_mut()
            {
                let packet = pubrel_not_found(id, conn.link.version.is_v5());
                outbound::encode_trimmed(conn, &mut self.tx, now, packet).ok();
            }
            return Ok(());
        }
        if rec.reason_code.is_error() {
            // v5 [MQTT-4.4.0-2]: acknowledged, never retransmitted.
            self.complete(id, false, QoS::ExactlyOnce, rec.reason_code.into());
            self.pump(now);
            return Ok(());
        }
        let Some(flow) = self
            .session
            .flows_mut()
            .inflight
            .get_mut(id)
            .filter(|f| f.qos() == QoS::ExactlyOnce)
        else {
            return Ok(());
        };
        if !flow.released {
            flow.released = true;
            self.persist
                .push_back(PersistOp::PutOutbound(OutboundRecord::of(flow)));
        }
        // v5 [MQTT-4.3.3-4], sent at once so PUBRELs follow PUBREC order
        // ([MQTT-4.6.0-4]).
        if let Some(conn) = self.conn.as_mut() {
            outbound::encode_trimmed(conn, &mut self.tx, now, Packet::PubRel(PubRel::new(id))).ok();
        }
        Ok(())
    }

    fn on_pubcomp(&mut self, now: Instant, comp: PubComp) -> Handled {
        self.session
            .flows()
            .inflight
            .check_ack(comp.packet_id, AckKind::Completed)?;
        self.complete(
            comp.packet_id,
            true,
            QoS::ExactlyOnce,
            comp.reason_code.into(),
        );
        self.pump(now);
        Ok(())
    }

    fn take_control(
        &mut self,
        id: mqttkit_codec::PacketId,
        subscribe: bool,
    ) -> Option<(crate::OpId, usize)> {
        let conn = self.conn.as_mut()?;
        let pos = conn
            .control
            .iter()
            .position(|c| c.packet_id == id && c.subscribe == subscribe)?;
        let c = conn.control.swap_remove(pos);
        self.session.flows_mut().ids.release(id);
        Some((c.op, c.filters))
    }

    fn on_suback(&mut self, now: Instant, ack: SubAck) -> Handled {
        let Some((op, filters)) = self.take_control(ack.packet_id, true) else {
            return Ok(());
        };
        if ack.reason_codes.len() != filters {
            return Err(ProtocolViolation::rule(
                PeerMisbehaved::SubAckWithWrongCodeCount,
            ));
        }
        self.events.push_back(Event::Subscribed {
            op,
            reason_codes: ack.reason_codes,
        });
        self.pump(now);
        Ok(())
    }

    fn on_unsuback(&mut self, now: Instant, ack: UnsubAck) -> Handled {
        let Some((op, filters)) = self.take_control(ack.packet_id, false) else {
            return Ok(());
        };
        let v5 = self.conn.as_ref().is_some_and(|c| c.link.version.is_v5());
        if v5 && ack.reason_codes.len() != filters {
            return Err(ProtocolViolation::rule(
                PeerMisbehaved::UnsubAckWithWrongCodeCount,
            ));
        }
        self.events.push_back(Event::Unsubscribed {
            op,
            reason_codes: ack.reason_codes,
        });
        self.pump(now);
        Ok(())
    }
}
