//! Application commands: publish, subscribe, unsubscribe, ack, auth,
//! disconnect. Each checks what CONNACK allowed, queues, and pumps.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;
use mqttkit_codec::{
    AckProperties, Auth, AuthProperties, AuthReasonCode, Disconnect, DisconnectReasonCode, Packet,
    PubAckReasonCode, SubscribeProperties, SubscriptionOptions, UnsubscribeProperties,
};
use mqttkit_topic::TopicFilter;

use super::conn::Negotiated;
use super::{Client, outbound};
use crate::error::OpError;
use crate::event::{AckToken, CloseCause, Message, OpId};
use crate::link::State;
use crate::queue::Queued;
use crate::session::Control;
use crate::time::Instant;

impl Client {
    /// Queues a message; it is sent when a connection, send quota and a
    /// packet identifier allow, in submission order.
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
    /// let message = Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce);
    /// let op = client.publish(now, message)?;
    /// // Sent at once; it stays in the session until its PUBACK.
    /// assert_eq!(client.session().inflight().next().map(|m| m.op), Some(op));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn publish(&mut self, now: Instant, mut message: Message) -> Result<OpId, OpError> {
        if !message.properties.subscription_identifiers().is_empty() {
            return Err(OpError::SubscriptionIdentifierInPublish);
        }
        if let Some(n) = self.negotiated() {
            check_publish(n, &message)?;
        }
        self.check_room()?;
        message.properties.topic_alias = None;
        let op = self.session.next_op();
        let expires_at = message
            .properties
            .message_expiry_interval
            .map(|secs| now.saturating_add(Duration::from_secs(u64::from(secs))));
        self.session.flows_mut().pending.push_back(Queued {
            op,
            message,
            expires_at,
        });
        self.pump(now);
        Ok(op)
    }

    /// Queues a SUBSCRIBE. SUBSCRIBE is never held back by the send quota
    /// (v5 [MQTT-3.3.4-8]).
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Event, Instant, MqttString, PacketId, ProtocolVersion, QoS, Session, SubAck, SubAckReasonCode, SubscribeProperties, SubscriptionOptions, TopicFilter};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// let filter = TopicFilter::try_from("cmd/sensor-7/#")?;
    /// let options = SubscriptionOptions::new(QoS::AtLeastOnce);
    /// let op = client.subscribe(now, vec![(filter, options)], SubscribeProperties::default())?;
    /// // The server grants it: SUBACK with the SUBSCRIBE's packet identifier.
    /// let granted = vec![SubAckReasonCode::GrantedQoS1];
    /// client.handle_packet(now, SubAck::new(PacketId::new(1).unwrap(), granted.clone()).into());
    /// assert_eq!(client.poll_event(), Some(Event::Subscribed { op, reason_codes: granted }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe(
        &mut self,
        now: Instant,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        properties: SubscribeProperties,
    ) -> Result<OpId, OpError> {
        if filters.is_empty() {
            return Err(OpError::NoTopicFilter);
        }
        if let Some(n) = self.negotiated() {
            for (filter, _) in &filters {
                check_filter(n, filter)?;
            }
            if properties.subscription_identifier.is_some() && !n.subscription_identifier_available
            {
                return Err(OpError::SubscriptionIdentifiersNotAvailable);
            }
        }
        self.queue_control(
            now,
            Control::Subscribe {
                filters,
                properties,
            },
        )
    }

    /// Queues an UNSUBSCRIBE.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Event, Instant, MqttString, PacketId, ProtocolVersion, Session, TopicFilter, UnsubAck, UnsubAckReasonCode, UnsubscribeProperties};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// let filter = TopicFilter::try_from("cmd/sensor-7/#")?;
    /// let op = client.unsubscribe(now, vec![filter], UnsubscribeProperties::default())?;
    /// // UNSUBACK with the UNSUBSCRIBE's packet identifier.
    /// let codes = vec![UnsubAckReasonCode::Success];
    /// client.handle_packet(now, UnsubAck::new(PacketId::new(1).unwrap(), codes.clone()).into());
    /// assert_eq!(client.poll_event(), Some(Event::Unsubscribed { op, reason_codes: codes }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<OpId, OpError> {
        if filters.is_empty() {
            return Err(OpError::NoTopicFilter);
        }
        self.queue_control(
            now,
            Control::Unsubscribe {
                filters,
                properties,
            },
        )
    }

    fn queue_control(&mut self, now: Instant, control: Control) -> Result<OpId, OpError> {
        self.check_room()?;
        let op = self.session.next_op();
        self.session
            .flows_mut()
            .pending_control
            .push_back((op, control));
        self.pump(now);
        Ok(op)
    }

    fn check_room(&self) -> Result<(), OpError> {
        if self.session.pending_len() >= self.config.max_pending {
            Err(OpError::QueueFull)
        } else {
            Ok(())
        }
    }

    /// Acknowledges a received QoS 1 or 2 message with `reason` (Success,
    /// or an error code that refuses it). Tokens may be given in any order;
    /// PUBACK and PUBREC go out in arrival order (v5 [MQTT-4.6.0-2],
    /// [MQTT-4.6.0-3]).
    ///
    /// A QoS 1 token from an earlier connection is accepted and dropped:
    /// acks are never sent on another connection, the server resends the
    /// message instead. A QoS 2 token stays valid across connections.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Event, Instant, MqttString, PacketId, ProtocolVersion, PubAckReasonCode, Publish, PublishQoS, QoS, Session, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// let mut config = ClientConfig::default();
    /// config.manual_ack = true; // QoS 1 and 2 messages wait for `ack`
    /// # let mut client = Client::new(Session::new(id.clone()), config);
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// # let publish = Publish::new(TopicName::from_static("cmd/led")?, &b"on"[..])
    /// #     .with_qos(PublishQoS::new(QoS::AtLeastOnce, PacketId::new(7).unwrap()));
    /// # client.handle_packet(now, publish.into());
    /// // The server sent a QoS 1 PUBLISH with packet identifier 7.
    /// let Some(Event::Message { ack: Some(token), .. }) = client.poll_event() else {
    ///     unreachable!()
    /// };
    /// // ... the application has taken the message ...
    /// client.ack(now, token, PubAckReasonCode::Success)?;
    /// while client.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(&out[..], [0x40, 0x02, 0x00, 0x07]); // PUBACK 7
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ack(
        &mut self,
        now: Instant,
        token: AckToken,
        reason: PubAckReasonCode,
    ) -> Result<(), OpError> {
        outbound::ack(self, now, token, reason, AckProperties::default())
    }

    /// [`Client::ack`] with a Reason String and User Properties (5.0). They
    /// are left out when the PUBACK or PUBREC would exceed the server's
    /// Maximum Packet Size (v5 [MQTT-3.4.2-2], [MQTT-3.4.2-3],
    /// [MQTT-3.5.2-2], [MQTT-3.5.2-3]), and when a QoS 2 PUBREC is only
    /// sent on a later connection.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{AckProperties, Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Event, Instant, MqttString, PacketId, ProtocolVersion, PubAckReasonCode, Publish, PublishQoS, QoS, Session, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut config = ClientConfig::default();
    /// # config.manual_ack = true; // QoS 1 and 2 messages wait for `ack`
    /// # let mut client = Client::new(Session::new(id.clone()), config);
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// # let publish = Publish::new(TopicName::from_static("cmd/led")?, &b"on"[..])
    /// #     .with_qos(PublishQoS::new(QoS::AtLeastOnce, PacketId::new(7).unwrap()));
    /// # client.handle_packet(now, publish.into());
    /// // With `manual_ack` on, the server sent a QoS 1 PUBLISH with packet identifier 7.
    /// let Some(Event::Message { ack: Some(token), .. }) = client.poll_event() else {
    ///     unreachable!()
    /// };
    /// let mut properties = AckProperties::default();
    /// properties.reason_string = Some(MqttString::try_from("disk full")?);
    /// client.ack_with_properties(now, token, PubAckReasonCode::QuotaExceeded, properties)?;
    /// while client.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(out[4], 0x97); // PUBACK 7, Quota exceeded, with the Reason String
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ack_with_properties(
        &mut self,
        now: Instant,
        token: AckToken,
        reason: PubAckReasonCode,
        properties: AckProperties,
    ) -> Result<(), OpError> {
        outbound::ack(self, now, token, reason, properties)
    }

    /// Answers [`crate::Event::AuthChallenge`] with AUTH 0x18 (v5 [MQTT-4.12.0-3]).
    ///
    /// ```
    /// # use mqttkit_session::bytes::{Bytes, BytesMut};
    /// # use mqttkit_session::{Auth, AuthReasonCode, Client, ClientConfig, Connect, Event, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # let method = MqttString::try_from("SCRAM-SHA-256")?;
    /// # let mut connect = Connect::new(ProtocolVersion::V5, id);
    /// # connect.properties.authentication_method = Some(method.clone());
    /// # client.connect(now, connect)?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # let mut challenge = Auth::new(AuthReasonCode::ContinueAuthentication);
    /// # challenge.properties.authentication_method = Some(method);
    /// # challenge.properties.authentication_data = Some(Bytes::from_static(b"server-first"));
    /// # client.handle_packet(now, challenge.into());
    /// // CONNECT named an Authentication Method; the server answered AUTH 0x18.
    /// let Some(Event::AuthChallenge { data, .. }) = client.poll_event() else {
    ///     unreachable!()
    /// };
    /// assert_eq!(data.as_deref(), Some(&b"server-first"[..]));
    /// client.auth(now, Some(Bytes::from_static(b"client-final")))?;
    /// while client.poll_transmit(&mut out).is_some() {}
    /// assert_eq!((out[0], out[2]), (0xF0, 0x18)); // AUTH Continue authentication
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn auth(&mut self, now: Instant, data: Option<Bytes>) -> Result<(), OpError> {
        let properties = auth_data(data);
        self.send_auth(
            now,
            AuthReasonCode::ContinueAuthentication,
            properties,
            false,
        )
    }

    /// Starts re-authentication with AUTH 0x19 (v5 [MQTT-4.12.1-1]).
    ///
    /// ```
    /// # use mqttkit_session::bytes::{Bytes, BytesMut};
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # let method = MqttString::try_from("SCRAM-SHA-256")?;
    /// # let mut connect = Connect::new(ProtocolVersion::V5, id);
    /// # connect.properties.authentication_method = Some(method.clone());
    /// # client.connect(now, connect)?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # let mut connack = ConnAck::new(false, ConnectReasonCode::Success);
    /// # connack.properties.authentication_method = Some(method);
    /// # client.handle_packet(now, connack.into());
    /// # while client.poll_event().is_some() {}
    /// // Connected with an Authentication Method.
    /// client.reauthenticate(now, Some(Bytes::from_static(b"client-first")))?;
    /// while client.poll_transmit(&mut out).is_some() {}
    /// assert_eq!((out[0], out[2]), (0xF0, 0x19)); // AUTH Re-authenticate
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reauthenticate(&mut self, now: Instant, data: Option<Bytes>) -> Result<(), OpError> {
        let properties = auth_data(data);
        self.send_auth(now, AuthReasonCode::ReAuthenticate, properties, true)
    }

    /// [`Client::auth`] with all AUTH properties: Authentication Data,
    /// Reason String and User Properties. The Authentication Method is
    /// always the one of CONNECT (v5 [MQTT-4.12.0-5]), whatever
    /// `properties` holds. The Reason String and User Properties are left
    /// out when the AUTH would exceed the server's Maximum Packet Size
    /// (v5 [MQTT-3.15.2-2], [MQTT-3.15.2-3]); method and data never are.
    ///
    /// ```
    /// # use mqttkit_session::bytes::{Bytes, BytesMut};
    /// # use mqttkit_session::{Auth, AuthProperties, AuthReasonCode, Client, ClientConfig, Connect, Event, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # let method = MqttString::try_from("SCRAM-SHA-256")?;
    /// # let mut connect = Connect::new(ProtocolVersion::V5, id);
    /// # connect.properties.authentication_method = Some(method.clone());
    /// # client.connect(now, connect)?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # let mut challenge = Auth::new(AuthReasonCode::ContinueAuthentication);
    /// # challenge.properties.authentication_method = Some(method);
    /// # challenge.properties.authentication_data = Some(Bytes::from_static(b"server-first"));
    /// # client.handle_packet(now, challenge.into());
    /// // CONNECT named an Authentication Method; the server answered AUTH 0x18.
    /// let Some(Event::AuthChallenge { data, .. }) = client.poll_event() else {
    ///     unreachable!()
    /// };
    /// assert_eq!(data.as_deref(), Some(&b"server-first"[..]));
    /// let mut properties = AuthProperties::default();
    /// properties.authentication_data = Some(Bytes::from_static(b"client-final"));
    /// properties.reason_string = Some(MqttString::try_from("second step")?);
    /// client.auth_with_properties(now, properties)?;
    /// while client.poll_transmit(&mut out).is_some() {}
    /// assert_eq!((out[0], out[2]), (0xF0, 0x18)); // AUTH Continue authentication
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn auth_with_properties(
        &mut self,
        now: Instant,
        properties: AuthProperties,
    ) -> Result<(), OpError> {
        self.send_auth(
            now,
            AuthReasonCode::ContinueAuthentication,
            properties,
            false,
        )
    }

    /// [`Client::reauthenticate`] with all AUTH properties, as
    /// [`Client::auth_with_properties`].
    ///
    /// ```
    /// # use mqttkit_session::bytes::{Bytes, BytesMut};
    /// # use mqttkit_session::{AuthProperties, Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # let method = MqttString::try_from("SCRAM-SHA-256")?;
    /// # let mut connect = Connect::new(ProtocolVersion::V5, id);
    /// # connect.properties.authentication_method = Some(method.clone());
    /// # client.connect(now, connect)?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # let mut connack = ConnAck::new(false, ConnectReasonCode::Success);
    /// # connack.properties.authentication_method = Some(method);
    /// # client.handle_packet(now, connack.into());
    /// # while client.poll_event().is_some() {}
    /// // Connected with an Authentication Method.
    /// let mut properties = AuthProperties::default();
    /// properties.authentication_data = Some(Bytes::from_static(b"client-first"));
    /// properties.reason_string = Some(MqttString::try_from("token renewed")?);
    /// client.reauthenticate_with_properties(now, properties)?;
    /// while client.poll_transmit(&mut out).is_some() {}
    /// assert_eq!((out[0], out[2]), (0xF0, 0x19)); // AUTH Re-authenticate
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reauthenticate_with_properties(
        &mut self,
        now: Instant,
        properties: AuthProperties,
    ) -> Result<(), OpError> {
        self.send_auth(now, AuthReasonCode::ReAuthenticate, properties, true)
    }

    fn send_auth(
        &mut self,
        now: Instant,
        code: AuthReasonCode,
        properties: AuthProperties,
        needs_connack: bool,
    ) -> Result<(), OpError> {
        let conn = self
            .conn
            .as_mut()
            .filter(|c| c.is_open() && (!needs_connack || c.link.state == State::Connected))
            .ok_or(OpError::NotConnected)?;
        let method = conn
            .auth_method
            .clone()
            .ok_or(OpError::NoAuthenticationMethod)?;
        let mut auth = Auth::new(code);
        auth.properties = properties;
        auth.properties.authentication_method = Some(method);
        outbound::encode_trimmed(conn, &mut self.tx, now, Packet::from(auth))
            .map_err(OpError::Encode)
    }

    /// Sends DISCONNECT and ends the connection: flush
    /// [`Client::poll_transmit`], then close the transport. In 3.1.1 the
    /// reason and properties are left out. Properties that would exceed the
    /// server's Maximum Packet Size are dropped (v5 [MQTT-3.14.2-3]).
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, CloseCause, ConnAck, Connect, ConnectReasonCode, Disconnect, DisconnectReasonCode, Event, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// client.disconnect(now, Disconnect::new(DisconnectReasonCode::Success))?;
    /// while client.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(&out[..], [0xE0, 0x00]); // DISCONNECT: write it, then close the transport
    /// assert_eq!(client.poll_event(), Some(Event::Closed(CloseCause::ByClient)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn disconnect(&mut self, now: Instant, disconnect: Disconnect) -> Result<(), OpError> {
        let conn = self
            .conn
            .as_mut()
            .filter(|c| c.is_open())
            .ok_or(OpError::NotConnected)?;
        let v5 = conn.link.version.is_v5();
        // v5 §3.14.2.2.2: a non-zero Session Expiry Interval on DISCONNECT
        // after a zero one on CONNECT is a Protocol Error.
        let new_expiry = disconnect.properties.session_expiry_interval.filter(|_| v5);
        if conn.session_expiry_interval == 0 && new_expiry.is_some_and(|s| s != 0) {
            return Err(OpError::SessionExpiryWasZero);
        }
        // The interval sent on DISCONNECT is the one the session expires by.
        if let (Some(secs), Some(n)) = (new_expiry, conn.negotiated.as_mut()) {
            n.session_expiry_interval = secs;
        }
        let packet = if v5 {
            disconnect
        } else {
            Disconnect::new(DisconnectReasonCode::Success)
        };
        let result = outbound::encode_trimmed(conn, &mut self.tx, now, Packet::Disconnect(packet));
        self.close(now, CloseCause::ByClient);
        result.map_err(OpError::Encode)
    }
}

fn auth_data(data: Option<Bytes>) -> AuthProperties {
    let mut properties = AuthProperties::default();
    properties.authentication_data = data;
    properties
}

pub(super) fn check_publish(n: &Negotiated, message: &Message) -> Result<(), OpError> {
    if message.qos > n.maximum_qos {
        return Err(OpError::QoSNotSupported);
    }
    if message.retain && !n.retain_available {
        return Err(OpError::RetainNotAvailable);
    }
    Ok(())
}

fn check_filter(n: &Negotiated, filter: &TopicFilter) -> Result<(), OpError> {
    let s = filter.as_str();
    if !n.shared_subscription_available && s.starts_with("$share/") {
        return Err(OpError::SharedSubscriptionsNotAvailable);
    }
    if !n.wildcard_subscription_available && (s.contains('+') || s.contains('#')) {
        return Err(OpError::WildcardSubscriptionsNotAvailable);
    }
    Ok(())
}
