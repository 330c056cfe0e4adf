//! The client role: a [`Session`] plus the connection currently open, driven
//! by inputs (`handle_*`), commands and drained outputs (`poll_*`).

mod conn;
mod inbound;
mod outbound;

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    AckProperties, Auth, AuthReasonCode, Connect, Decoded, Decoder, Disconnect,
    DisconnectReasonCode, Encoder, Packet, PubAckReasonCode, SubscribeProperties,
    SubscriptionOptions, UnsubscribeProperties,
};
use mqtt_topic::TopicFilter;

pub use conn::Negotiated;
use conn::{Connection, InAliases, OutAliases, State, Timer, Timers};

use crate::config::ClientConfig;
use crate::error::{OpError, ProtocolViolation};
use crate::event::{AckToken, CloseCause, Event, Message, OpId};
use crate::persist::PersistOp;
use crate::session::{Control, Session};
use crate::time::Instant;

/// A sans-IO MQTT client: no socket, no clock, no runtime.
///
/// Drive it like quinn-proto's `Connection`:
/// 1. open a transport, call [`Client::connect`];
/// 2. feed received bytes to [`Client::handle_bytes`], expired deadlines to
///    [`Client::handle_timeout`], a closed transport to
///    [`Client::handle_transport_closed`], each with the current time;
/// 3. after every input or command drain, in this order,
///    [`Client::poll_persist`] (store each operation), [`Client::poll_transmit`]
///    (write the bytes), [`Client::poll_event`], and wait until
///    [`Client::poll_timeout`].
///
/// `poll_transmit` releases nothing while a persistence operation is
/// waiting, so records are always stored before the packets they cover.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    session: Session,
    conn: Option<Connection>,
    tx: BytesMut,
    events: VecDeque<Event>,
    persist: VecDeque<PersistOp>,
}

impl Client {
    /// A client working on `session` (a new or a restored one).
    pub fn new(session: Session, config: ClientConfig) -> Self {
        Self {
            config,
            session,
            conn: None,
            tx: BytesMut::new(),
            events: VecDeque::new(),
            persist: VecDeque::new(),
        }
    }

    /// The durable session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Gives the session back, to snapshot it or to build a new client.
    pub fn into_session(self) -> Session {
        self.session
    }

    /// What CONNACK negotiated, while a connection is established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.conn.as_ref().and_then(|c| c.negotiated.as_ref())
    }

    /// Whether CONNACK accepted the current connection and it is still open.
    pub fn is_connected(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|c| c.state == State::Connected)
    }

    /// PUBLISH QoS > 0 that may still be sent on this connection.
    pub fn send_quota(&self) -> Option<u16> {
        self.conn
            .as_ref()
            .filter(|c| c.is_open())
            .map(|c| c.send_quota)
    }

    // ---- inputs -------------------------------------------------------

    /// Starts a connection on a freshly opened transport: queues CONNECT.
    ///
    /// An empty client identifier is replaced by the session's (assigned)
    /// one. Clean Start discards the session state first
    /// (v5 [MQTT-3.1.2-4]): [`Event::SessionLost`] and [`Event::Returned`]
    /// hand every unacknowledged and queued message back. Our Receive
    /// Maximum, Maximum Packet Size and Topic Alias Maximum are taken from
    /// the CONNECT properties and enforced on what the server sends.
    pub fn connect(&mut self, now: Instant, mut connect: Connect) -> Result<(), OpError> {
        if self.conn.as_ref().is_some_and(Connection::is_open) {
            return Err(OpError::AlreadyConnected);
        }
        self.end_connection();
        if connect.clean_start && self.session.has_state() {
            self.lose_session();
        }
        if connect.client_id.is_empty() {
            connect.client_id = self.session.client_id.clone();
        } else {
            self.session.client_id = connect.client_id.clone();
        }
        self.session.connection = self.session.connection.wrapping_add(1);
        let version = connect.protocol_version;
        let v5 = version.is_v5();
        let props = &connect.properties;
        let mut decoder = Decoder::new(version);
        if v5 && let Some(max) = props.maximum_packet_size {
            decoder = decoder.with_max_packet_size(max.get());
        }
        let mut timers = Timers::default();
        timers.set(
            Timer::ConnAck,
            Some(now.saturating_add(self.config.connack_timeout)),
        );
        let conn = Connection {
            number: self.session.connection,
            version,
            state: State::AwaitConnAck,
            decoder,
            encoder: Encoder::new(version),
            rx: BytesMut::new(),
            clean_start: connect.clean_start,
            keep_alive: connect.keep_alive,
            session_expiry_interval: props.session_expiry_interval.unwrap_or(0),
            auth_method: props.authentication_method.clone().filter(|_| v5),
            negotiated: None,
            send_quota: 0,
            receive_maximum: if v5 {
                props
                    .receive_maximum
                    .map_or(u16::MAX, core::num::NonZeroU16::get)
            } else {
                u16::MAX
            },
            inbound_unacked: 0,
            out_aliases: OutAliases::new(0),
            in_aliases: InAliases {
                max: if v5 {
                    props.topic_alias_maximum.unwrap_or(0)
                } else {
                    0
                },
                map: Default::default(),
            },
            timers,
            last_sent: now,
            acks: VecDeque::new(),
            control: Vec::new(),
            violation: None,
        };
        let conn = self.conn.insert(conn);
        let packet = Packet::Connect(alloc::boxed::Box::new(connect));
        if let Err(err) = outbound::encode(conn, &mut self.tx, now, &packet) {
            self.conn = None;
            return Err(OpError::Encode(err));
        }
        Ok(())
    }

    /// Feeds bytes received from the transport; partial packets are kept
    /// until the rest arrives. A protocol violation by the server is
    /// returned, and again on every later call on this connection.
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) -> Result<(), ProtocolViolation> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        if let Some(v) = conn.violation {
            return Err(v);
        }
        if !conn.is_open() {
            return Ok(());
        }
        conn.rx.extend_from_slice(bytes);
        loop {
            let Some(conn) = self.conn.as_mut().filter(|c| c.is_open()) else {
                return Ok(());
            };
            match conn.decoder.decode(&mut conn.rx) {
                Ok(Decoded::Packet(packet)) => self.dispatch(now, packet)?,
                Ok(Decoded::Incomplete { .. }) => return Ok(()),
                Err(err) => return Err(self.violate(now, ProtocolViolation::malformed(err))),
            }
        }
    }

    /// Feeds a packet the caller decoded itself (for transports that frame
    /// packets, or tests).
    pub fn handle_packet(&mut self, now: Instant, packet: Packet) -> Result<(), ProtocolViolation> {
        match self.conn.as_ref() {
            Some(c) if c.violation.is_some() => c.violation.map_or(Ok(()), Err),
            Some(c) if c.is_open() => self.dispatch(now, packet),
            _ => Ok(()),
        }
    }

    /// Fires whatever is due at `now`: PINGREQ after a keep-alive interval
    /// without sending, the PINGRESP and CONNACK deadlines. Early or extra
    /// calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(conn) = self.conn.as_mut().filter(|c| c.is_open()) else {
            return;
        };
        if conn.timers.is_due(Timer::ConnAck, now) {
            self.close(CloseCause::ConnAckTimeout);
        } else if conn.timers.is_due(Timer::PingResp, now) {
            // v5 §3.1.2.10: the client closes the connection; 0x8D is a
            // server-only DISCONNECT reason, so nothing is sent.
            self.close(CloseCause::KeepAliveTimeout);
        } else if conn.timers.is_due(Timer::Retransmit, now) {
            conn.timers.set(Timer::Retransmit, None);
            self.retransmit(now);
        } else if conn.timers.is_due(Timer::KeepAlive, now) {
            let wait = self
                .config
                .pingresp_timeout
                .unwrap_or(Duration::from_secs(u64::from(conn.keep_alive)))
                .max(Duration::from_millis(1));
            if conn.timers.get(Timer::PingResp).is_none() {
                conn.timers
                    .set(Timer::PingResp, Some(now.saturating_add(wait)));
            }
            // PINGREQ cannot fail to encode; `encode` restarts the interval.
            let _ = outbound::encode(conn, &mut self.tx, now, &Packet::PingReq);
        }
    }

    /// The transport closed (or failed). Bytes not yet written are dropped;
    /// SUBSCRIBE and UNSUBSCRIBE awaiting acknowledgement fail; published
    /// messages stay in the session to be resent on the next connection.
    pub fn handle_transport_closed(&mut self, _now: Instant) {
        if self.conn.as_ref().is_some_and(Connection::is_open) {
            self.events
                .push_back(Event::Closed(CloseCause::TransportClosed));
        }
        self.end_connection();
    }

    // ---- commands -----------------------------------------------------

    /// Queues a message; it is sent when a connection, send quota and a
    /// packet identifier allow, in submission order.
    pub fn publish(&mut self, now: Instant, mut message: Message) -> Result<OpId, OpError> {
        if !message.properties.subscription_identifiers.is_empty() {
            return Err(OpError::SubscriptionIdentifierInPublish);
        }
        if let Some(n) = self.negotiated() {
            check_publish(n, &message)?;
        }
        self.check_room()?;
        message.properties.topic_alias = None;
        let op = self.session.next_op();
        self.session.pending.push_back((op, message));
        self.pump(now);
        Ok(op)
    }

    /// Queues a SUBSCRIBE. SUBSCRIBE is never held back by the send quota
    /// (v5 [MQTT-3.3.4-8]).
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
        self.session.pending_control.push_back((op, control));
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
    pub fn ack_with_properties(
        &mut self,
        now: Instant,
        token: AckToken,
        reason: PubAckReasonCode,
        properties: AckProperties,
    ) -> Result<(), OpError> {
        outbound::ack(self, now, token, reason, properties)
    }

    /// Answers [`Event::AuthChallenge`] with AUTH 0x18 (v5 [MQTT-4.12.0-3]).
    pub fn auth(&mut self, now: Instant, data: Option<Bytes>) -> Result<(), OpError> {
        self.send_auth(now, AuthReasonCode::ContinueAuthentication, data, false)
    }

    /// Starts re-authentication with AUTH 0x19 (v5 [MQTT-4.12.1-1]).
    pub fn reauthenticate(&mut self, now: Instant, data: Option<Bytes>) -> Result<(), OpError> {
        self.send_auth(now, AuthReasonCode::ReAuthenticate, data, true)
    }

    fn send_auth(
        &mut self,
        now: Instant,
        code: AuthReasonCode,
        data: Option<Bytes>,
        needs_connack: bool,
    ) -> Result<(), OpError> {
        let conn = self
            .conn
            .as_mut()
            .filter(|c| c.is_open() && (!needs_connack || c.state == State::Connected))
            .ok_or(OpError::NotConnected)?;
        let method = conn
            .auth_method
            .clone()
            .ok_or(OpError::NoAuthenticationMethod)?;
        let mut auth = Auth::new(code);
        auth.properties.authentication_method = Some(method);
        auth.properties.authentication_data = data;
        outbound::encode_trimmed(conn, &mut self.tx, now, Packet::Auth(auth))
            .map_err(OpError::Encode)
    }

    /// Sends DISCONNECT and ends the connection: flush
    /// [`Client::poll_transmit`], then close the transport. In 3.1.1 the
    /// reason and properties are left out. Properties that would exceed the
    /// server's Maximum Packet Size are dropped (v5 [MQTT-3.14.2-3]).
    pub fn disconnect(&mut self, now: Instant, disconnect: Disconnect) -> Result<(), OpError> {
        let conn = self
            .conn
            .as_mut()
            .filter(|c| c.is_open())
            .ok_or(OpError::NotConnected)?;
        // v5 §3.14.2.2.2: a non-zero Session Expiry Interval on DISCONNECT
        // after a zero one on CONNECT is a Protocol Error.
        if conn.session_expiry_interval == 0
            && disconnect
                .properties
                .session_expiry_interval
                .is_some_and(|s| s != 0)
        {
            return Err(OpError::SessionExpiryWasZero);
        }
        let packet = if conn.version.is_v5() {
            disconnect
        } else {
            Disconnect::new(DisconnectReasonCode::Success)
        };
        let result = outbound::encode_trimmed(conn, &mut self.tx, now, Packet::Disconnect(packet));
        self.close(CloseCause::ByClient);
        result.map_err(OpError::Encode)
    }

    // ---- outputs ------------------------------------------------------

    /// The next persistence operation; store it before transmitting.
    pub fn poll_persist(&mut self) -> Option<PersistOp> {
        self.persist.pop_front()
    }

    /// Appends the bytes to send to `out` and returns how many, or `None`
    /// when there is nothing to send or persistence operations are waiting.
    pub fn poll_transmit(&mut self, out: &mut BytesMut) -> Option<usize> {
        if !self.persist.is_empty() || self.tx.is_empty() {
            return None;
        }
        let n = self.tx.len();
        out.extend_from_slice(&self.tx);
        self.tx.clear();
        Some(n)
    }

    /// The next deadline at which [`Client::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conn
            .as_ref()
            .filter(|c| c.is_open())
            .and_then(|c| c.timers.next())
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ---- internals ----------------------------------------------------

    /// Ends the connection state: per-connection tables go, SUBSCRIBE and
    /// UNSUBSCRIBE awaiting acks fail, in-flight messages wait for a resend.
    fn end_connection(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        for c in conn.control {
            self.session.ids.release(c.packet_id);
            self.events.push_back(Event::OpFailed {
                op: c.op,
                error: OpError::ConnectionClosed,
            });
        }
        for flow in &mut self.session.inflight {
            flow.on_wire = false;
        }
        self.tx.clear();
    }

    fn close(&mut self, cause: CloseCause) {
        if let Some(conn) = self.conn.as_mut() {
            conn.state = State::Closed;
            conn.timers.clear();
        }
        self.events.push_back(Event::Closed(cause));
    }

    /// Records a violation, queues the DISCONNECT that explains it (5.0)
    /// and closes.
    fn violate(&mut self, now: Instant, violation: ProtocolViolation) -> ProtocolViolation {
        if let Some(conn) = self.conn.as_mut() {
            conn.violation = Some(violation);
            if conn.version.is_v5() && conn.is_open() {
                let code = DisconnectReasonCode::try_from(violation.reason)
                    .unwrap_or(DisconnectReasonCode::ProtocolError);
                let packet = Packet::Disconnect(Disconnect::new(code));
                let _ = outbound::encode_trimmed(conn, &mut self.tx, now, packet);
            }
        }
        self.close(CloseCause::ProtocolViolation(violation));
        violation
    }

    /// Discards the session state and hands every message back.
    fn lose_session(&mut self) {
        for flow in &self.session.inflight {
            if let Some(id) = flow.packet_id() {
                self.persist.push_back(PersistOp::RemoveOutbound(id));
            }
        }
        for id in self.session.inbound_qos2.keys() {
            self.persist.push_back(PersistOp::RemoveInbound(*id));
        }
        self.events.push_back(Event::SessionLost);
        for (op, message, received_by_server) in self.session.discard() {
            self.events.push_back(Event::Returned {
                op,
                message,
                received_by_server,
            });
        }
    }
}

fn check_publish(n: &Negotiated, message: &Message) -> Result<(), OpError> {
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

impl Client {
    /// Whether a QoS is above what the server accepts (used by the pump).
    fn refused(&self, message: &Message) -> Option<OpError> {
        self.negotiated()
            .and_then(|n| check_publish(n, message).err())
    }
}
