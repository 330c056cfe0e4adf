//! What the server sends: CONNACK, deliveries under the client's limits,
//! acknowledgements, SUBACK/UNSUBACK with the application's codes.

use super::io;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    AckProperties, ConnAck, Connect, ConnectReasonCode, EncodeError, Packet, PacketId,
    PubAckReasonCode, Publish, PublishQoS, QoS, ReasonCode, RetainHandling, SubAck,
    SubAckReasonCode, SubscriptionIdentifiers, UnsubAck, UnsubAckReasonCode,
};

use super::event::{DeliverError, Delivery, ServerEvent, Subscription};
use super::{Server, ServerConn};
use crate::error::OpError;
use crate::event::{AckToken, OpId};
use crate::queue::Queued;
use crate::send_flows::OutFlow;
use crate::time::Instant;

/// Encodes `packet` under the client's Maximum Packet Size.
pub(super) fn encode(
    conn: &mut ServerConn,
    tx: &mut BytesMut,
    packet: &Packet,
) -> Result<usize, EncodeError> {
    conn.link.encoder.encode(packet, tx)
}

/// Encodes a packet other than PUBLISH: without Reason String and User
/// Properties when the client asked for no problem information (v5
/// [MQTT-3.1.2-29]), and without them when the packet would exceed the
/// client's Maximum Packet Size (v5 [MQTT-3.4.2-2], [MQTT-3.5.2-2]).
pub(super) fn encode_trimmed(
    conn: &mut ServerConn,
    tx: &mut BytesMut,
    mut packet: Packet,
) -> Result<(), EncodeError> {
    if !conn.problem_information {
        strip(&mut packet);
    }
    match encode(conn, tx, &packet) {
        Err(EncodeError::PacketTooLarge { .. }) => {
            strip(&mut packet);
            encode(conn, tx, &packet).map(drop)
        }
        other => other.map(drop),
    }
}

/// Drops the Reason String and User Properties of `packet`. Only PUBACK
/// and PUBREC can carry them here ([`Server::ack_with_properties`]); the
/// server builds its PUBREL, PUBCOMP, SUBACK, UNSUBACK and DISCONNECT from
/// reason codes alone.
fn strip(packet: &mut Packet) {
    match packet {
        Packet::PubAck(p) => p.properties = AckProperties::default(),
        Packet::PubRec(p) => p.properties = AckProperties::default(),
        _ => {}
    }
}

impl Server {
    /// Queues the CONNACK; `false` when it cannot be sent because even it
    /// exceeds the client's Maximum Packet Size (v5 [MQTT-3.1.2-24]).
    pub(super) fn send_connack(
        &mut self,
        config: &crate::ServerConfig,
        session_present: bool,
        assigned: bool,
        auth_data: Option<Bytes>,
        connect: &Connect,
    ) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let mut ack = ConnAck::new(session_present, ConnectReasonCode::Success);
        if conn.link.version.is_v5() {
            let p = &mut ack.properties;
            let c = config;
            p.receive_maximum = core::num::NonZeroU16::new(conn.link.receive_maximum)
                .filter(|r| r.get() != u16::MAX);
            p.maximum_packet_size = c.maximum_packet_size.and_then(core::num::NonZeroU32::new);
            p.topic_alias_maximum = Some(c.topic_alias_maximum).filter(|m| *m > 0);
            p.maximum_qos = Some(c.maximum_qos).filter(|q| *q != QoS::ExactlyOnce);
            p.retain_available = Some(false).filter(|_| !c.retain_available);
            p.shared_subscription_available =
                Some(false).filter(|_| !c.shared_subscription_available);
            p.server_keep_alive = c.server_keep_alive;
            if assigned {
                p.assigned_client_identifier = Some(connect.client_id.clone());
            }
            if connect.properties.authentication_method.is_some() {
                p.authentication_method = connect.properties.authentication_method.clone();
                p.authentication_data = auth_data;
            }
        }
        encode(conn, io(&mut self.io).tx.buffer(), &Packet::from(ack)).is_ok()
    }

    /// Hands a routed message to this client (v5 §3.3.4): No Local,
    /// Retain As Published, the granted QoS and the Subscription
    /// Identifiers are applied; the message waits in the session until the
    /// client's Receive Maximum admits it (v5 [MQTT-3.3.4-9]) and is
    /// dropped if its Message Expiry Interval passes first (v5
    /// [MQTT-3.3.2-5]). A retained message for a subscription with Retain
    /// Handling 2 is refused (v5 [MQTT-3.3.1-11]). The other properties
    /// go out as published; Topic Alias is never forwarded.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Connect, Delivery, Encoder, Incoming, Instant, Message, MqttString, ProtocolVersion, QoS, ServerConfig, SubscriptionOptions, TopicName};
    /// # let client = Encoder::new(ProtocolVersion::V5);
    /// # let mut received = BytesMut::new();
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # client.encode(&connect.into(), &mut received)?;
    /// # let incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// # let now = Instant::ZERO;
    /// # let mut server = incoming.accept(now, None, ServerConfig::default()).expect("accepted");
    /// # let mut out = BytesMut::new();
    /// # while server.poll_transmit(&mut out).is_some() {} // CONNACK
    /// # out.clear();
    /// // The router matched a subscription of this client.
    /// let topic = TopicName::from_static("cmd/sensor-7/led")?;
    /// let message = Message::new(topic, &b"on"[..], QoS::AtLeastOnce);
    /// let options = SubscriptionOptions::new(QoS::AtLeastOnce);
    /// let op = server.deliver(now, Delivery::new(message, options))?;
    /// while server.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(out[0], 0x32); // PUBLISH QoS 1
    /// assert_eq!(server.session().inflight().next().map(|m| m.op), Some(op)); // until PUBACK
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deliver(&mut self, now: Instant, delivery: Delivery) -> Result<OpId, DeliverError> {
        let Delivery {
            mut message,
            options,
            subscription_identifiers,
            origin,
            from_retained,
        } = delivery;
        // v5 [MQTT-3.8.3-3]
        if options.no_local && origin.as_ref() == Some(&self.session.client_id) {
            return Err(DeliverError::NoLocal);
        }
        // v5 [MQTT-3.3.1-11]: no retained message for Retain Handling 2
        // (3.1.1 SUBSCRIBE options always have Retain Handling 0).
        if from_retained && options.retain_handling == RetainHandling::DoNotSend {
            return Err(DeliverError::RetainHandling);
        }
        // v5 [MQTT-3.8.4-8]: the lower of the published and granted QoS.
        message.qos = message.qos.min(options.qos);
        if message.qos == QoS::AtMostOnce && !self.is_connected() {
            return Err(DeliverError::NotConnected);
        }
        self.make_room(
            message.qos,
            message.payload.len().saturating_add(message.topic.len()),
        )?;
        let v5 = self.version().is_none_or(|v| v.is_v5());
        // v5 [MQTT-3.3.1-12], [MQTT-3.3.1-13]; v3.1.1 [MQTT-3.3.1-9]: RETAIN
        // on a forwarded message only as published with Retain As
        // Published; a retained message sent on subscribe keeps it.
        message.retain = from_retained || (v5 && options.retain_as_published && message.retain);
        message.properties.topic_alias = None;
        // Only the matching subscriptions' identifiers go to the subscriber
        // (v5 [MQTT-3.3.4-3]); a message that carries none and gets none is
        // left alone, which spares every plain delivery an allocation.
        if !subscription_identifiers.is_empty()
            || !message.properties.subscription_identifiers().is_empty()
        {
            let mut ids = SubscriptionIdentifiers::new();
            for id in subscription_identifiers {
                ids.push(id);
            }
            message.properties.set_subscription_identifiers(ids);
        }
        let expires_at = message
            .properties
            .message_expiry_interval
            .map(|secs| now.saturating_add(Duration::from_secs(u64::from(secs))));
        let op = self.session.next_op();
        self.session.flows_mut().pending.push_back(Queued {
            op,
            message,
            expires_at,
        });
        self.pump(now);
        Ok(op)
    }

    /// Makes room in the queue for a message of `qos` and `size` bytes under
    /// [`crate::ServerConfig::max_queued`] and
    /// [`crate::ServerConfig::max_queued_bytes`]: the oldest QoS 0 messages
    /// go first, and only for a QoS 1 or 2 message.
    fn make_room(&mut self, qos: QoS, size: usize) -> Result<(), DeliverError> {
        let fits = |queue: &crate::queue::Queue, limits: &super::Limits| {
            queue.len() < limits.max_queued
                && queue.bytes().saturating_add(size) <= limits.max_queued_bytes
        };
        while !fits(&self.session.flows().pending, &self.limits) {
            if qos == QoS::AtMostOnce {
                return Err(DeliverError::QueueFull);
            }
            let Some(dropped) = self.session.flows_mut().pending.remove_oldest_qos0() else {
                return Err(DeliverError::QueueFull);
            };
            io(&mut self.io).events.push_back(ServerEvent::Dropped {
                op: dropped.op,
                error: OpError::QueueFull,
            });
        }
        Ok(())
    }

    /// Acknowledges a received QoS 1/2 PUBLISH with the application's
    /// decision: Success, or a refusal such as 0x87 Not authorized, 0x97
    /// Quota exceeded, 0x99 Payload format invalid (v5 §3.4.2.1). In 3.1.1
    /// a refusal cannot be expressed: the connection is closed instead
    /// (v3.1.1 [MQTT-3.3.5-2]). PUBACK/PUBREC go in arrival order.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, PacketId, ProtocolVersion, PubAckReasonCode, Publish, PublishQoS, QoS, ServerConfig, ServerEvent, TopicName};
    /// # let client = Encoder::new(ProtocolVersion::V5);
    /// # let mut received = BytesMut::new();
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # client.encode(&connect.into(), &mut received)?;
    /// # let incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// # let now = Instant::ZERO;
    /// let mut config = ServerConfig::default();
    /// config.manual_ack = true; // QoS 1 and 2 messages wait for `ack`
    /// # let mut server = incoming.accept(now, None, config).expect("accepted");
    /// # let mut out = BytesMut::new();
    /// # while server.poll_transmit(&mut out).is_some() {} // CONNACK
    /// # out.clear();
    /// # let mut wire = BytesMut::new();
    /// # let publish = Publish::new(TopicName::from_static("t/temp")?, &b"21.5"[..])
    /// #     .with_qos(PublishQoS::new(QoS::AtLeastOnce, PacketId::new(7).unwrap()));
    /// # client.encode(&publish.into(), &mut wire)?;
    /// # server.handle_bytes(now, &wire);
    /// // The client sent a QoS 1 PUBLISH with packet identifier 7.
    /// let Some(ServerEvent::Publish { ack: Some(token), .. }) = server.poll_event() else {
    ///     unreachable!()
    /// };
    /// // ... authorized and routed ...
    /// server.ack(now, token, PubAckReasonCode::Success)?;
    /// while server.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(&out[..], [0x40, 0x02, 0x00, 0x07]); // PUBACK 7
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ack(
        &mut self,
        now: Instant,
        token: AckToken,
        reason: PubAckReasonCode,
    ) -> Result<(), OpError> {
        self.ack_with_properties(now, token, reason, AckProperties::default())
    }

    /// [`Server::ack`] with a Reason String and User Properties (5.0). They
    /// are left out when the client set Request Problem Information 0
    /// (v5 [MQTT-3.1.2-29]) or when they would make the packet too large.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{AckProperties, Connect, Encoder, Incoming, Instant, MqttString, PacketId, ProtocolVersion, PubAckReasonCode, Publish, PublishQoS, QoS, ServerConfig, ServerEvent, TopicName};
    /// # let client = Encoder::new(ProtocolVersion::V5);
    /// # let mut received = BytesMut::new();
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # client.encode(&connect.into(), &mut received)?;
    /// # let incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// # let now = Instant::ZERO;
    /// # let mut config = ServerConfig::default();
    /// # config.manual_ack = true; // QoS 1 and 2 messages wait for `ack`
    /// # let mut server = incoming.accept(now, None, config).expect("accepted");
    /// # let mut out = BytesMut::new();
    /// # while server.poll_transmit(&mut out).is_some() {} // CONNACK
    /// # out.clear();
    /// # let mut wire = BytesMut::new();
    /// # let publish = Publish::new(TopicName::from_static("t/temp")?, &b"21.5"[..])
    /// #     .with_qos(PublishQoS::new(QoS::AtLeastOnce, PacketId::new(7).unwrap()));
    /// # client.encode(&publish.into(), &mut wire)?;
    /// # server.handle_bytes(now, &wire);
    /// // With `manual_ack` on, the client sent a QoS 1 PUBLISH with packet identifier 7.
    /// let Some(ServerEvent::Publish { ack: Some(token), .. }) = server.poll_event() else {
    ///     unreachable!()
    /// };
    /// let mut properties = AckProperties::default();
    /// properties.reason_string = Some(MqttString::try_from("no publishing to t/temp")?);
    /// server.ack_with_properties(now, token, PubAckReasonCode::NotAuthorized, properties)?;
    /// while server.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(out[4], 0x87); // PUBACK 7, Not authorized, with the Reason String
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ack_with_properties(
        &mut self,
        now: Instant,
        token: AckToken,
        reason: PubAckReasonCode,
        properties: AckProperties,
    ) -> Result<(), OpError> {
        let Some(conn) = self.conn.as_mut().filter(|c| c.link.is_open()) else {
            return Err(OpError::NotConnected);
        };
        if !conn.link.version.is_v5() && reason.is_error() {
            self.disconnect(now, mqttkit_codec::DisconnectReasonCode::NotAuthorized);
            return Ok(());
        }
        if token.connection != conn.link.number {
            return Err(OpError::UnknownAck);
        }
        if token.qos == QoS::ExactlyOnce {
            let entry = self
                .session
                .flows_in_use()
                .and_then(|flows| flows.inbound_qos2.get_mut(&token.packet_id))
                .filter(|e| e.acked.is_none())
                .ok_or(OpError::UnknownAck)?;
            entry.acked = Some(reason);
        }
        let v5 = conn.link.version.is_v5();
        let waiting = conn
            .link
            .unanswered_ack(token.packet_id, token.qos)
            .ok_or(OpError::UnknownAck)?;
        waiting.acked = Some(reason);
        if v5 {
            waiting.properties = properties;
        }
        self.drain_acks();
        Ok(())
    }

    /// Answers the SUBSCRIBE `packet_id` with one code per filter: the
    /// granted QoS, or 0x80/0x87/0x8F/0x97/0x9E/0xA1/0xA2 in 5.0 (0x80 in
    /// 3.1.1, which any refusal becomes). A grant above the requested QoS
    /// is lowered to it, in the SUBACK as in the session (v5
    /// [MQTT-3.8.4-7]). Granted filters are stored in the session,
    /// replacing one with the same filter (v5 [MQTT-3.8.4-3]).
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, PacketId, ProtocolVersion, QoS, ServerConfig, ServerEvent, SubAckReasonCode, Subscribe, SubscriptionOptions, TopicFilter};
    /// # let client = Encoder::new(ProtocolVersion::V5);
    /// # let mut received = BytesMut::new();
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # client.encode(&connect.into(), &mut received)?;
    /// # let incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// # let now = Instant::ZERO;
    /// # let mut server = incoming.accept(now, None, ServerConfig::default()).expect("accepted");
    /// # let mut out = BytesMut::new();
    /// # while server.poll_transmit(&mut out).is_some() {} // CONNACK
    /// # out.clear();
    /// # let mut wire = BytesMut::new();
    /// # let filter = TopicFilter::try_from("cmd/sensor-7/#")?;
    /// # let mut subscribe = Subscribe::new(PacketId::new(1).unwrap(), filter, SubscriptionOptions::new(QoS::AtLeastOnce));
    /// # subscribe.filters.push((TopicFilter::try_from("$SYS/#")?, SubscriptionOptions::new(QoS::AtMostOnce)));
    /// # client.encode(&subscribe.into(), &mut wire)?;
    /// # server.handle_bytes(now, &wire);
    /// // The client subscribed to `cmd/sensor-7/#` and `$SYS/#`.
    /// let Some(ServerEvent::Subscribe { packet_id, requests, .. }) = server.poll_event() else {
    ///     unreachable!()
    /// };
    /// let codes = requests.iter().map(|r| {
    ///     if r.filter.as_str().starts_with("$SYS/") {
    ///         SubAckReasonCode::NotAuthorized
    ///     } else {
    ///         SubAckReasonCode::granted(r.options.qos)
    ///     }
    /// });
    /// server.suback(packet_id, codes.collect())?;
    /// assert_eq!(server.subscriptions().count(), 1); // the granted one
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn suback(
        &mut self,
        packet_id: PacketId,
        codes: Vec<SubAckReasonCode>,
    ) -> Result<(), OpError> {
        let Some(conn) = self.conn.as_mut().filter(|c| c.link.is_open()) else {
            return Err(OpError::NotConnected);
        };
        let pos = io(&mut self.io)
            .subscribes
            .iter()
            .position(|(id, _)| *id == packet_id)
            .ok_or(OpError::UnknownAck)?;
        let filters = io(&mut self.io)
            .subscribes
            .get(pos)
            .map_or(0, |(_, s)| s.filters.len());
        // v5 [MQTT-3.8.4-6], v3.1.1 [MQTT-3.8.4-5]: one code per filter.
        if codes.len() != filters {
            return Err(OpError::NoTopicFilter);
        }
        let (_, subscribe) = io(&mut self.io).subscribes.swap_remove(pos);
        let v5 = conn.link.version.is_v5();
        let mut sent = Vec::with_capacity(codes.len());
        for ((filter, options), code) in subscribe.filters.into_iter().zip(codes) {
            let mut code = if v5 || code.in_v3() {
                code
            } else {
                SubAckReasonCode::UnspecifiedError
            };
            let granted = match code {
                SubAckReasonCode::Success => Some(QoS::AtMostOnce),
                SubAckReasonCode::GrantedQoS1 => Some(QoS::AtLeastOnce),
                SubAckReasonCode::GrantedQoS2 => Some(QoS::ExactlyOnce),
                _ => None,
            };
            if let Some(qos) = granted {
                let mut options = options;
                options.qos = qos.min(options.qos);
                // v5 [MQTT-3.8.4-7]: the code shows the QoS granted, which
                // is never above the requested one.
                code = SubAckReasonCode::granted(options.qos);
                let sub = Subscription {
                    options,
                    identifier: subscribe.properties.subscription_identifier,
                };
                // Stored in storage of its own: the decoded filter is a slice
                // of the received SUBSCRIBE, which it would keep alive.
                let owned = Bytes::copy_from_slice(filter.as_bytes());
                let filter = mqttkit_topic::TopicFilter::try_from(owned).unwrap_or(filter);
                self.subscriptions.insert(filter, sub);
            }
            sent.push(code);
        }
        // v5 [MQTT-3.8.4-1]: SUBACK with the same packet identifier.
        let packet = Packet::SubAck(SubAck::new(packet_id, sent));
        let _ = encode_trimmed(conn, io(&mut self.io).tx.buffer(), packet);
        Ok(())
    }

    /// Answers the UNSUBSCRIBE `packet_id` with one code per filter (5.0;
    /// 3.1.1 UNSUBACK has none). Filters answered Success are removed from
    /// the session (v5 [MQTT-3.10.4-1]).
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, PacketId, ProtocolVersion, QoS, ServerConfig, ServerEvent, SubAckReasonCode, Subscribe, SubscriptionOptions, TopicFilter, UnsubAckReasonCode, Unsubscribe};
    /// # let client = Encoder::new(ProtocolVersion::V5);
    /// # let mut received = BytesMut::new();
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # client.encode(&connect.into(), &mut received)?;
    /// # let incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// # let now = Instant::ZERO;
    /// # let mut server = incoming.accept(now, None, ServerConfig::default()).expect("accepted");
    /// # let mut out = BytesMut::new();
    /// # while server.poll_transmit(&mut out).is_some() {} // CONNACK
    /// # out.clear();
    /// # let mut wire = BytesMut::new();
    /// # let filter = TopicFilter::try_from("cmd/sensor-7/#")?;
    /// # let mut subscribe = Subscribe::new(PacketId::new(1).unwrap(), filter, SubscriptionOptions::new(QoS::AtLeastOnce));
    /// # client.encode(&subscribe.into(), &mut wire)?;
    /// # server.handle_bytes(now, &wire);
    /// # let _ = server.poll_event();
    /// # server.suback(PacketId::new(1).unwrap(), vec![SubAckReasonCode::GrantedQoS1])?;
    /// # while server.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # wire.clear();
    /// # let filter = TopicFilter::try_from("cmd/sensor-7/#")?;
    /// # client.encode(&Unsubscribe::new(PacketId::new(2).unwrap(), filter).into(), &mut wire)?;
    /// # server.handle_bytes(now, &wire);
    /// // The client unsubscribes from `cmd/sensor-7/#`, which it has.
    /// let Some(ServerEvent::Unsubscribe { packet_id, filters, .. }) = server.poll_event() else {
    ///     unreachable!()
    /// };
    /// let codes = filters.iter().map(|(_, exists)| {
    ///     if *exists {
    ///         UnsubAckReasonCode::Success
    ///     } else {
    ///         UnsubAckReasonCode::NoSubscriptionExisted
    ///     }
    /// });
    /// server.unsuback(packet_id, codes.collect())?;
    /// assert_eq!(server.subscriptions().count(), 0);
    /// while server.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(&out[..], [0xB0, 0x04, 0x00, 0x02, 0x00, 0x00]); // UNSUBACK 2: Success
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unsuback(
        &mut self,
        packet_id: PacketId,
        codes: Vec<UnsubAckReasonCode>,
    ) -> Result<(), OpError> {
        let Some(conn) = self.conn.as_mut().filter(|c| c.link.is_open()) else {
            return Err(OpError::NotConnected);
        };
        let pos = io(&mut self.io)
            .unsubscribes
            .iter()
            .position(|(id, _)| *id == packet_id)
            .ok_or(OpError::UnknownAck)?;
        let filters = io(&mut self.io)
            .unsubscribes
            .get(pos)
            .map_or(0, |(_, f)| f.len());
        if codes.len() != filters {
            return Err(OpError::NoTopicFilter);
        }
        let (_, filters) = io(&mut self.io).unsubscribes.swap_remove(pos);
        for (filter, code) in filters.iter().zip(&codes) {
            if !code.is_error() {
                self.subscriptions.remove(filter.as_bytes());
            }
        }
        let codes = if conn.link.version.is_v5() {
            codes
        } else {
            Vec::new()
        };
        // v5 [MQTT-3.10.4-4], [MQTT-3.10.4-5]: UNSUBACK with the same id.
        let _ = encode_trimmed(
            conn,
            io(&mut self.io).tx.buffer(),
            Packet::UnsubAck(UnsubAck::new(packet_id, codes)),
        );
        Ok(())
    }

    /// Sends PUBACK/PUBREC for the acknowledged prefix of the arrival queue.
    pub(super) fn drain_acks(&mut self) {
        let Some(conn) = self.conn.as_mut().filter(|c| c.link.is_open()) else {
            return;
        };
        let v5 = conn.link.version.is_v5();
        while conn.link.owes_acks() {
            let next = conn
                .link
                .inbound(&mut self.session.flows_mut().inbound_qos2)
                .next_ack(v5);
            let Some((packet, _)) = next else { break };
            let _ = encode_trimmed(conn, io(&mut self.io).tx.buffer(), packet);
        }
    }

    /// Moves deliveries onto the wire while the client's Receive Maximum
    /// and the packet identifiers allow: first those in flight but not
    /// sent on this connection (resume: DUP, PUBREL, original order,
    /// v5 [MQTT-4.4.0-1]), then queued ones in order (v5 [MQTT-4.6.0-6]).
    pub(super) fn pump(&mut self, now: Instant) {
        loop {
            let Some(conn) = self.conn.as_mut().filter(|c| c.link.is_open()) else {
                return;
            };
            // Nothing in flight or queued: nothing to send, and nothing to
            // take storage for.
            let Some(flows) = self.session.flows_in_use() else {
                return;
            };
            if let Some(flow) = flows.inflight.next_unsent() {
                if conn.link.send_quota == 0 {
                    return;
                }
                let packet = flow.resend_packet();
                flow.on_wire = true;
                conn.link.send_quota = conn.link.send_quota.saturating_sub(1);
                let _ = encode(conn, io(&mut self.io).tx.buffer(), &packet);
                continue;
            }
            if !self.pump_one(now) {
                return;
            }
        }
    }

    /// Sends the first queued delivery; `false` when it has to wait.
    fn pump_one(&mut self, now: Instant) -> bool {
        let Some(conn) = self.conn.as_mut().filter(|c| c.link.is_open()) else {
            return false;
        };
        let front = match self.session.flows_mut().pending.front_at(now) {
            None => return false,
            Some(Err(expired)) => {
                io(&mut self.io).events.push_back(ServerEvent::Dropped {
                    op: expired.op,
                    error: OpError::MessageExpired,
                });
                return true;
            }
            Some(Ok(front)) => front,
        };
        let op = front.op;
        let qos = front.message.qos;
        let packet_id = if qos == QoS::AtMostOnce {
            None
        } else {
            if conn.link.send_quota == 0 {
                return false;
            }
            match self.session.flows_mut().ids.allocate() {
                Some(id) => Some(id),
                None => return false,
            }
        };
        let Some(Queued { message, .. }) = self.session.flows_mut().pending.pop_front() else {
            return false;
        };
        let mut stored = Publish::new(message.topic, message.payload)
            .with_retain(message.retain)
            .with_properties(message.properties);
        if let Some(id) = packet_id {
            stored = stored.with_qos(PublishQoS::new(qos, id));
        }
        let tx = &mut io(&mut self.io).tx;
        // The head only: the payload follows as it is, shared with every
        // other subscriber of the message if it is large.
        let encoded = if conn.link.uses_out_aliases() {
            // The stored copy keeps the full topic, valid on any connection.
            let mut wire = stored.clone();
            conn.link.apply_out_alias(&mut wire);
            conn.link.encoder.encode_publish_head(&wire, tx.buffer())
        } else {
            // Written from the stored copy: no second set of reference
            // counts on the topic, which every subscriber of a message
            // would contend on.
            conn.link.encoder.encode_publish_head(&stored, tx.buffer())
        };
        if encoded.is_ok() {
            tx.push_payload(&stored.payload);
        }
        match encoded {
            Err(err) => {
                // v5 [MQTT-3.1.2-25]: too large for this client: discarded
                // for this client, as if sent; the connection stays.
                if let Some(id) = packet_id {
                    self.session.flows_mut().ids.release(id);
                }
                let error = match err {
                    EncodeError::PacketTooLarge { .. } => OpError::PacketTooLarge,
                    other => OpError::Encode(other),
                };
                io(&mut self.io)
                    .events
                    .push_back(ServerEvent::Dropped { op, error });
            }
            Ok(_) if packet_id.is_none() => {
                io(&mut self.io).events.push_back(ServerEvent::Delivered {
                    op,
                    reason: ReasonCode::Success,
                });
            }
            Ok(_) => {
                conn.link.send_quota = conn.link.send_quota.saturating_sub(1);
                let seq = self.session.next_seq();
                self.session.flows_mut().inflight.push(OutFlow {
                    op,
                    seq,
                    publish: stored,
                    released: false,
                    on_wire: true,
                });
            }
        }
        true
    }
}
