//! What the client sends: one handler per packet type.

use super::io;
use alloc::vec::Vec;

use mqttkit_codec::{
    Disconnect, DisconnectReasonCode, Packet, Publish, PublishQoS, QoS, ReasonCode, Subscribe,
    Unsubscribe,
};

use super::event::{ServerCloseCause, ServerEvent, SubscribeRequest};
use super::{Server, outbound};
use crate::error::ProtocolViolation;
use crate::event::AckToken;
use crate::receive_flows::Admission;
use crate::send_flows::{AckKind, pubrel_not_found};
use crate::time::Instant;
use crate::violation::PeerMisbehaved;

type Handled = Result<(), ProtocolViolation>;

const OVER_RECEIVE_MAXIMUM: ProtocolViolation =
    ProtocolViolation::rule(PeerMisbehaved::ClientExceededReceiveMaximum);

impl Server {
    pub(super) fn dispatch(&mut self, now: Instant, packet: Packet) -> Handled {
        // v5 [MQTT-3.1.2-22]: any packet restarts the keep-alive window.
        if let Some(conn) = self.conn.as_mut() {
            conn.silence = super::deadline(now, conn.keep_alive_window);
        }
        match self.dispatch_inner(now, packet) {
            Err(v) => Err(self.violate(now, v)),
            Ok(()) => Ok(()),
        }
    }

    fn dispatch_inner(&mut self, now: Instant, packet: Packet) -> Handled {
        match packet {
            Packet::Publish(p) => self.on_publish(now, p),
            Packet::PubAck(p) => {
                self.session
                    .flows()
                    .inflight
                    .check_ack(p.packet_id, AckKind::Acknowledged)?;
                self.complete(p.packet_id, false, QoS::AtLeastOnce, p.reason_code.into());
                self.pump(now);
                Ok(())
            }
            Packet::PubRec(p) => self.on_pubrec(now, p.packet_id, p.reason_code.into()),
            Packet::PubRel(p) => self.on_pubrel(p.packet_id),
            Packet::PubComp(p) => {
                self.session
                    .flows()
                    .inflight
                    .check_ack(p.packet_id, AckKind::Completed)?;
                self.complete(p.packet_id, true, QoS::ExactlyOnce, p.reason_code.into());
                self.pump(now);
                Ok(())
            }
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => self.on_unsubscribe(u),
            Packet::PingReq => {
                if let Some(conn) = self.conn.as_mut() {
                    // v5 [MQTT-3.12.4-1]
                    let _ = outbound::encode(conn, io(&mut self.io).tx.buffer(), &Packet::PingResp);
                }
                Ok(())
            }
            Packet::Disconnect(d) => self.on_disconnect(now, d),
            Packet::Connect(_) => Err(ProtocolViolation::rule(PeerMisbehaved::SecondConnect)),
            Packet::Auth(_) => Err(ProtocolViolation::rule(
                PeerMisbehaved::UnexpectedAuthFromClient,
            )),
            _ => Err(ProtocolViolation::rule(PeerMisbehaved::ServerOnlyPacket)),
        }
    }

    fn on_publish(&mut self, now: Instant, mut publish: Publish) -> Handled {
        let max_qos = self.limits.maximum_qos;
        let retain_available = self.limits.retain_available;
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let v5 = conn.link.version.is_v5();
        if v5 && publish.qos.qos() > max_qos {
            return Err(ProtocolViolation::rule(PeerMisbehaved::QoSAboveMaximum));
        }
        if v5 && publish.retain && !retain_available {
            return Err(ProtocolViolation::rule(PeerMisbehaved::RetainNotAvailable));
        }
        // Subscription Identifiers are the server's to add, per subscriber,
        // on delivery (v5 §3.3.4); one from the client is a Protocol Error.
        if !publish.properties.subscription_identifiers().is_empty() {
            return Err(ProtocolViolation::rule(
                PeerMisbehaved::SubscriptionIdentifierFromClient,
            ));
        }
        // Topic Alias (v5 §3.3.2.3.4), a table of this connection only.
        conn.link.resolve_in_alias(
            &mut publish,
            PeerMisbehaved::TopicAliasAboveMaximumFromClient,
        )?;
        let (packet_id, qos) = match publish.qos {
            PublishQoS::AtMostOnce => {
                io(&mut self.io)
                    .events
                    .push_back(ServerEvent::Publish { publish, ack: None });
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
        let admission = conn
            .link
            .inbound(&mut self.session.flows_mut().inbound_qos2)
            .admit(packet_id, qos)
            .map_err(|_| OVER_RECEIVE_MAXIMUM)?;
        match admission {
            Admission::New if self.limits.manual_ack => {
                io(&mut self.io).events.push_back(ServerEvent::Publish {
                    publish,
                    ack: Some(token),
                })
            }
            Admission::New => {
                io(&mut self.io)
                    .events
                    .push_back(ServerEvent::Publish { publish, ack: None });
                // The token is fresh and of this connection: it is accepted.
                let _ = self.ack(now, token, mqttkit_codec::PubAckReasonCode::Success);
            }
            Admission::Duplicate => self.drain_acks(),
        }
        Ok(())
    }

    fn on_pubrel(&mut self, id: mqttkit_codec::PacketId) -> Handled {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let v5 = conn.link.version.is_v5();
        let (pubcomp, _) = conn
            .link
            .inbound(&mut self.session.flows_mut().inbound_qos2)
            .release(id, v5)?;
        outbound::encode_trimmed(conn, io(&mut self.io).tx.buffer(), pubcomp).ok();
        Ok(())
    }

    fn on_pubrec(
        &mut self,
        now: Instant,
        id: mqttkit_codec::PacketId,
        reason: ReasonCode,
    ) -> Handled {
        if !self
            .session
            .flows()
            .inflight
            .check_ack(id, AckKind::Received)?
        {
            if !reason.is_error()
                && let Some(conn) = self.conn.as_mut()
            {
                let packet = pubrel_not_found(id, conn.link.version.is_v5());
                outbound::encode_trimmed(conn, io(&mut self.io).tx.buffer(), packet).ok();
            }
            return Ok(());
        }
        if reason.is_error() {
            // v5 [MQTT-4.4.0-2]: acknowledged, never retransmitted.
            self.complete(id, false, QoS::ExactlyOnce, reason);
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
        flow.released = true;
        // v5 [MQTT-4.3.3-4]
        if let Some(conn) = self.conn.as_mut() {
            let packet = Packet::PubRel(mqttkit_codec::PubRel::new(id));
            outbound::encode_trimmed(conn, io(&mut self.io).tx.buffer(), packet).ok();
        }
        Ok(())
    }

    /// Removes the in-flight delivery `id` and frees its id and quota.
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
        io(&mut self.io).events.push_back(ServerEvent::Delivered {
            op: flow.op,
            reason,
        });
    }

    fn on_subscribe(&mut self, subscribe: Subscribe) -> Handled {
        if self.conn.is_none() {
            return Ok(());
        }
        // The codec already refused No Local on a shared subscription
        // (v5 [MQTT-3.8.3-4]) and malformed filters.
        // A SUBSCRIBE with several filters is handled as a sequence of
        // SUBSCRIBEs (v5 [MQTT-3.8.4-5], v3.1.1 [MQTT-3.8.4-4]), so a filter
        // repeated within the packet exists by the time its second copy is
        // handled: Retain Handling 1 must not send the retained messages twice.
        let filters = &subscribe.filters;
        let requests: Vec<SubscribeRequest> = filters
            .iter()
            .enumerate()
            .map(|(i, (filter, options))| SubscribeRequest {
                filter: filter.clone(),
                options: *options,
                exists: self.subscriptions.contains(filter.as_bytes())
                    || filters.iter().take(i).any(|(f, _)| f == filter),
            })
            .collect();
        io(&mut self.io).events.push_back(ServerEvent::Subscribe {
            packet_id: subscribe.packet_id,
            requests,
            subscription_identifier: subscribe.properties.subscription_identifier,
            user_properties: subscribe.properties.user_properties.clone(),
        });
        io(&mut self.io)
            .subscribes
            .push((subscribe.packet_id, subscribe));
        Ok(())
    }

    fn on_unsubscribe(&mut self, unsubscribe: Unsubscribe) -> Handled {
        if self.conn.is_none() {
            return Ok(());
        }
        // As for SUBSCRIBE, the filters are handled in order: a repeated
        // filter no longer exists once its first copy removed it.
        let all = &unsubscribe.filters;
        let filters = all
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let repeated = all.iter().take(i).any(|earlier| earlier == f);
                (
                    f.clone(),
                    !repeated && self.subscriptions.contains(f.as_bytes()),
                )
            })
            .collect();
        io(&mut self.io).events.push_back(ServerEvent::Unsubscribe {
            packet_id: unsubscribe.packet_id,
            filters,
        });
        io(&mut self.io)
            .unsubscribes
            .push((unsubscribe.packet_id, unsubscribe.filters));
        Ok(())
    }

    fn on_disconnect(&mut self, now: Instant, d: Disconnect) -> Handled {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        if let Some(secs) = d.properties.session_expiry_interval {
            // v5 [MQTT-3.14.2-2]
            if conn.session_expiry_was_zero && secs != 0 {
                return Err(ProtocolViolation::rule(
                    PeerMisbehaved::SessionExpiryAfterZero,
                ));
            }
            self.session_expiry = secs;
        }
        // v5 [MQTT-3.1.2-10]: a normal DISCONNECT discards the will; 0x04
        // (Disconnect with Will Message) publishes it.
        let publish_will = d.reason_code == DisconnectReasonCode::DisconnectWithWillMessage;
        io(&mut self.io)
            .events
            .push_back(ServerEvent::Closed(ServerCloseCause::ByClient(d)));
        self.end_connection(now, publish_will);
        Ok(())
    }
}
