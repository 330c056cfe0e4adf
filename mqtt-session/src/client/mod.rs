//! The client role: a [`Session`] plus the connection currently open, driven
//! by inputs (`handle_*`), commands and drained outputs (`poll_*`).

mod commands;
pub(crate) mod conn;
mod inbound;
mod outbound;

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::BytesMut;
use mqttkit_codec::{Connect, Decoder, Disconnect, DisconnectReasonCode, Packet};

use crate::link::Link;
use crate::link::State;
pub(crate) use crate::timers::Timer;
use conn::Connection;
pub use conn::Negotiated;

use crate::config::ClientConfig;
use crate::error::{OpError, ProtocolViolation};
use crate::event::{CloseCause, Event};
use crate::persist::PersistOp;
use crate::session::Session;
use crate::time::Instant;

/// A sans-IO MQTT client: no socket, no clock, no runtime.
///
/// Drive it like quinn-proto's `Connection`:
/// 1. open a transport, call [`Client::connect`];
/// 2. feed received bytes to [`Client::handle_bytes`], expired deadlines to
///    [`Client::handle_timeout`], a closed transport to
///    [`Client::handle_transport_closed`], each with the current time;
/// 3. after every input or command drain [`Client::poll_transmit`] (write
///    the bytes) and [`Client::poll_event`], and wait until
///    [`Client::poll_timeout`].
///
/// With [`ClientConfig::persistence`] on, drain [`Client::poll_persist`]
/// first and store each operation: `poll_transmit` releases nothing while a
/// persistence operation is waiting, so records are always stored before
/// the packets they cover. Off (the default), there is nothing to drain.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    session: Session,
    conn: Option<Connection>,
    tx: BytesMut,
    events: VecDeque<Event>,
    persist: PersistQueue,
}

/// Write-ahead operations waiting for [`Client::poll_persist`]; none are
/// kept unless [`ClientConfig::persistence`] is on.
#[derive(Debug)]
struct PersistQueue {
    enabled: bool,
    ops: VecDeque<PersistOp>,
}

impl PersistQueue {
    fn push_back(&mut self, op: PersistOp) {
        if self.enabled {
            self.ops.push_back(op);
        }
    }
}

impl Client {
    /// A client working on `session` (a new or a restored one).
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, MqttString, Session};
    /// let session = Session::new(MqttString::try_from("sensor-7")?);
    /// let client = Client::new(session, ClientConfig::default());
    /// assert!(!client.is_connected());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(session: Session, config: ClientConfig) -> Self {
        Self {
            session,
            conn: None,
            tx: BytesMut::new(),
            events: VecDeque::new(),
            persist: PersistQueue {
                enabled: config.persistence,
                ops: VecDeque::new(),
            },
            config,
        }
    }

    /// The durable session.
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, Instant, Message, MqttString, QoS, Session, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// let message = Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce);
    /// client.publish(now, message)?; // no connection yet: it waits in the session
    /// assert_eq!(client.session().pending_len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Gives the session back, to snapshot it or to build a new client.
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, Instant, Message, MqttString, QoS, Session, TopicName};
    /// # use std::time::Duration;
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # client.publish(now, Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce))?;
    /// let session = client.into_session();
    /// let snapshot = session.snapshot(now)?; // store it to resume after a restart
    /// assert_eq!(Session::restore(snapshot, now, Duration::ZERO)?.pending_len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_session(self) -> Session {
        self.session
    }

    /// What CONNACK negotiated, while a connection is established.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, MqttString, ProtocolVersion, QoS, Session};
    /// # use std::num::NonZeroU16;
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// assert!(client.negotiated().is_none()); // no CONNACK yet
    /// let mut connack = ConnAck::new(false, ConnectReasonCode::Success);
    /// connack.properties.receive_maximum = NonZeroU16::new(10);
    /// client.handle_packet(now, connack.into());
    /// let negotiated = client.negotiated().expect("connected");
    /// assert_eq!(negotiated.receive_maximum, 10);
    /// assert_eq!(negotiated.maximum_qos, QoS::ExactlyOnce); // absent: QoS 2
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.conn.as_ref().and_then(|c| c.negotiated.as_ref())
    }

    /// Whether CONNACK accepted the current connection and it is still open.
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// assert!(!client.is_connected()); // CONNECT queued, no CONNACK yet
    /// client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// assert!(client.is_connected());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|c| c.link.state == State::Connected)
    }

    /// PUBLISH QoS > 0 that may still be sent on this connection.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, Message, MqttString, ProtocolVersion, QoS, Session, TopicName};
    /// # use std::num::NonZeroU16;
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # let mut connack = ConnAck::new(false, ConnectReasonCode::Success);
    /// # connack.properties.receive_maximum = NonZeroU16::new(2);
    /// # client.handle_packet(now, connack.into());
    /// assert_eq!(client.send_quota(), Some(2)); // the server's Receive Maximum
    /// let message = Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce);
    /// client.publish(now, message)?;
    /// assert_eq!(client.send_quota(), Some(1)); // until its PUBACK
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_quota(&self) -> Option<u16> {
        self.conn
            .as_ref()
            .filter(|c| c.is_open())
            .map(|c| c.link.send_quota)
    }

    // ---- inputs -------------------------------------------------------

    /// Starts a connection on a freshly opened transport: queues CONNECT.
    ///
    /// An empty client identifier is replaced by the session's (assigned)
    /// one; in 3.1.1, with none in the session either, Clean Session is
    /// required ([`OpError::EmptyClientIdNeedsCleanSession`],
    /// v3.1.1 [MQTT-3.1.3-7]). Clean Start discards the session state first
    /// (v5 [MQTT-3.1.2-4]): [`Event::SessionLost`] and [`Event::Returned`]
    /// hand every unacknowledged and queued message back; so does a
    /// session whose expiry deadline has passed. Our Receive
    /// Maximum, Maximum Packet Size and Topic Alias Maximum are taken from
    /// the CONNECT properties and enforced on what the server sends.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, Connect, Instant, MqttString, OpError, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// let mut connect = Connect::new(ProtocolVersion::V5, id);
    /// connect.properties.session_expiry_interval = Some(3600); // keep the session an hour
    /// client.connect(now, connect.clone())?;
    /// assert_eq!(client.connect(now, connect), Err(OpError::AlreadyConnected));
    /// while client.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(out[0], 0x10); // CONNECT: write it to the transport
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(&mut self, now: Instant, mut connect: Connect) -> Result<(), OpError> {
        if self.conn.as_ref().is_some_and(Connection::is_open) {
            return Err(OpError::AlreadyConnected);
        }
        if !connect.protocol_version.is_v5()
            && !connect.clean_start
            && connect.client_id.is_empty()
            && self.session.client_id.is_empty()
        {
            return Err(OpError::EmptyClientIdNeedsCleanSession);
        }
        self.end_connection();
        self.expire_session_if_due(now);
        if connect.clean_start {
            if self.session.has_state() {
                self.lose_session();
            }
            self.session.established = false;
            self.session.set_expiry(None);
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
        let mut link = Link::new(self.session.connection, version);
        link.decoder = decoder;
        let mut timers = crate::timers::Timers::default();
        timers.set(
            Timer::ConnAck,
            Some(now.saturating_add(self.config.connack_timeout)),
        );
        if v5 {
            link.receive_maximum = props
                .receive_maximum
                .map_or(u16::MAX, core::num::NonZeroU16::get);
            link.set_in_alias_max(props.topic_alias_maximum.unwrap_or(0));
        }
        let conn = Connection {
            link,
            clean_start: connect.clean_start,
            keep_alive: connect.keep_alive,
            session_expiry_interval: match (v5, connect.clean_start) {
                (true, _) => props.session_expiry_interval.unwrap_or(0),
                // 3.1.1 §3.1.2.4: a Clean Session lasts as long as the
                // connection, any other session until a Clean Session.
                (false, true) => 0,
                (false, false) => u32::MAX,
            },
            auth_method: props.authentication_method.clone().filter(|_| v5),
            negotiated: None,
            last_sent: now,
            control: Vec::new(),
            timers,
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
    /// until the rest arrives.
    ///
    /// A protocol violation by the server closes the connection and is
    /// reported once, as [`Event::Closed`] with
    /// [`CloseCause::ProtocolViolation`]; its DISCONNECT (5.0) waits in
    /// [`Client::poll_transmit`], so the usual drain after every input
    /// flushes it. Later input on that connection is ignored, and
    /// [`Client::violation`] tells what happened.
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, Connect, Event, Instant, MqttString, ProtocolVersion, Session};
    /// # use mqttkit_session::bytes::BytesMut;
    /// let id = MqttString::try_from("sensor-7")?;
    /// let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// let now = Instant::ZERO;
    /// client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// let mut out = BytesMut::new();
    /// while client.poll_transmit(&mut out).is_some() {} // CONNECT
    /// out.clear();
    ///
    /// client.handle_bytes(now, &[0xFF, 0x00]); // not a packet
    /// while client.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(&out[..], [0xE0, 0x01, 0x81]); // DISCONNECT 0x81 Malformed Packet
    /// assert!(matches!(client.poll_event(), Some(Event::Closed(_))));
    /// assert!(client.violation().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        // A violation was reported through the events by `violate`.
        let _ = crate::receive_buffer::receive(self, now, bytes);
    }

    /// The protocol violation that closed the current connection, if the
    /// server committed one.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, MqttString, ProtocolVersion, ReasonCode, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// assert!(client.violation().is_none());
    /// client.handle_bytes(now, &[0xFF, 0x00]); // not a packet
    /// let violation = client.violation().expect("the server broke a rule");
    /// assert_eq!(violation.reason, ReasonCode::MalformedPacket);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn violation(&self) -> Option<ProtocolViolation> {
        self.conn
            .as_ref()
            .and_then(|c| c.link.violation.as_deref().copied())
    }

    /// Feeds a packet the caller decoded itself (for transports that frame
    /// packets, or tests); a violation is reported as by
    /// [`Client::handle_bytes`].
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Event, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// // A transport that frames packets itself (or a test) hands them over whole.
    /// client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// assert_eq!(client.poll_event(), Some(Event::Connected { session_present: false }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_packet(&mut self, now: Instant, packet: Packet) {
        if self
            .conn
            .as_ref()
            .is_some_and(|c| c.link.violation.is_none() && c.is_open())
        {
            // A violation was reported through the events by `violate`.
            let _ = self.dispatch(now, packet);
        }
    }

    /// Fires whatever is due at `now`: PINGREQ after a keep-alive interval
    /// without sending, the PINGRESP and CONNACK deadlines, and, while no
    /// connection is open, the Session Expiry. Early or extra calls do
    /// nothing.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// let deadline = client.poll_timeout().expect("the keep-alive");
    /// client.handle_timeout(deadline); // nothing was sent for a keep-alive interval
    /// while client.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(&out[..], [0xC0, 0x00]); // PINGREQ
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(conn) = self.conn.as_mut().filter(|c| c.is_open()) else {
            self.expire_session_if_due(now);
            return;
        };
        if conn.timers.is_due(Timer::ConnAck, now) {
            self.close(now, CloseCause::ConnAckTimeout);
        } else if conn.timers.is_due(Timer::PingResp, now) {
            // v5 §3.1.2.10: the client closes the connection; 0x8D is a
            // server-only DISCONNECT reason, so nothing is sent.
            self.close(now, CloseCause::KeepAliveTimeout);
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
    /// messages stay in the session to be resent on the next connection,
    /// until the Session Expiry Interval in use has passed (see
    /// [`Session`]).
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, CloseCause, ConnAck, Connect, ConnectReasonCode, Event, Instant, Message, MqttString, ProtocolVersion, QoS, Session, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut connect = Connect::new(ProtocolVersion::V5, id);
    /// # connect.properties.session_expiry_interval = Some(3600);
    /// # client.connect(now, connect)?;
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// # client.publish(now, Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce))?;
    /// // Connected with a Session Expiry Interval of an hour, one PUBLISH unacknowledged.
    /// client.handle_transport_closed(now);
    /// assert_eq!(client.poll_event(), Some(Event::Closed(CloseCause::TransportClosed)));
    /// assert_eq!(client.session().inflight().count(), 1); // resent on the next connection
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_transport_closed(&mut self, now: Instant) {
        if self.conn.as_ref().is_some_and(Connection::is_open) {
            self.close(now, CloseCause::TransportClosed);
        }
        self.end_connection();
    }

    // ---- outputs ------------------------------------------------------

    /// The next persistence operation; store it before transmitting.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, Message, MqttString, PersistOp, ProtocolVersion, QoS, Session, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// let mut config = ClientConfig::default();
    /// config.persistence = true;
    /// # let mut client = Client::new(Session::new(id.clone()), config);
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// let message = Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce);
    /// client.publish(now, message)?;
    /// assert_eq!(client.poll_transmit(&mut out), None); // held back until stored
    /// while let Some(op) = client.poll_persist() {
    ///     assert!(matches!(op, PersistOp::PutOutbound(_))); // store it durably
    /// }
    /// assert!(client.poll_transmit(&mut out).is_some()); // now the PUBLISH
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "an output that is not taken is lost"]
    pub fn poll_persist(&mut self) -> Option<PersistOp> {
        self.persist.ops.pop_front()
    }

    /// Appends the bytes to send to `out` and returns how many, or `None`
    /// when there is nothing to send or persistence operations are waiting.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, Connect, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// let mut out = BytesMut::new();
    /// client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// while client.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(out[0], 0x10); // CONNECT: write `out` to the transport
    /// assert_eq!(client.poll_transmit(&mut out), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "the bytes appended to `out` are to be written to the transport"]
    pub fn poll_transmit(&mut self, out: &mut BytesMut) -> Option<usize> {
        if !self.persist.ops.is_empty() || self.tx.is_empty() {
            return None;
        }
        let n = self.tx.len();
        out.extend_from_slice(&self.tx);
        self.tx.clear();
        Some(n)
    }

    /// The next deadline at which [`Client::handle_timeout`] must be called:
    /// the connection's timers while one is open, else the Session Expiry.
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, CloseCause, Connect, Event, Instant, MqttString, ProtocolVersion, Session};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// assert_eq!(client.poll_timeout(), None); // no connection, no Session Expiry
    /// client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// let deadline = client.poll_timeout().expect("the CONNACK deadline");
    /// // No CONNACK arrived by then:
    /// client.handle_timeout(deadline);
    /// assert_eq!(client.poll_event(), Some(Event::Closed(CloseCause::ConnAckTimeout)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.conn.as_ref().filter(|c| c.is_open()) {
            Some(c) => c.timers.next(),
            None => self.session.expiry,
        }
    }

    /// The next event for the application.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Event, Instant, MqttString, ProtocolVersion, Publish, Session, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let mut out = BytesMut::new();
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # while client.poll_transmit(&mut out).is_some() {}
    /// # out.clear();
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # while client.poll_event().is_some() {}
    /// # let publish = Publish::new(TopicName::from_static("cmd/led")?, &b"on"[..]);
    /// # client.handle_packet(now, publish.into());
    /// // The server sent a QoS 0 PUBLISH.
    /// while let Some(event) = client.poll_event() {
    ///     if let Event::Message { publish, ack } = event {
    ///         assert_eq!(publish.topic_str(), "cmd/led");
    ///         assert!(ack.is_none()); // QoS 0: nothing to acknowledge
    ///     }
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "an output that is not taken is lost"]
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
            self.session.flows_mut().ids.release(c.packet_id);
            self.events.push_back(Event::OpFailed {
                op: c.op,
                error: OpError::ConnectionClosed,
            });
        }
        self.session.flows_mut().inflight.mark_all_unsent();
        self.tx.clear();
    }

    /// Declares the connection closed (the caller flushes and closes the
    /// transport) and starts the Session Expiry.
    fn close(&mut self, now: Instant, cause: CloseCause) {
        let mut accepted = None;
        if let Some(conn) = self.conn.as_mut() {
            conn.link.state = State::Closed;
            conn.timers.clear();
            accepted = conn.negotiated.as_ref().map(|n| n.session_expiry_interval);
        }
        self.events.push_back(Event::Closed(cause));
        // The interval in use on an accepted connection starts now; a
        // connection never accepted left the server's session as it was,
        // so the previous deadline stands.
        match accepted {
            Some(0) => self.expire_session(),
            Some(u32::MAX) => self.session.set_expiry(None),
            Some(secs) => self.session.set_expiry(Some(
                now.saturating_add(Duration::from_secs(u64::from(secs))),
            )),
            None => self.expire_session_if_due(now),
        }
    }

    fn expire_session_if_due(&mut self, now: Instant) {
        if self.session.expiry.is_some_and(|at| at <= now) {
            self.expire_session();
        }
    }

    /// The Session Expiry Interval passed (v5 §3.1.2.11.2) or was 0: the
    /// state goes and every message in it is handed back, as for a lost
    /// session. Messages never sent stay queued for the next connection.
    fn expire_session(&mut self) {
        if self.session.has_state() {
            self.lose_session();
        }
        self.session.established = false;
        self.session.set_expiry(None);
    }

    /// Records a violation, queues the DISCONNECT that explains it (5.0)
    /// and closes.
    fn violate(&mut self, now: Instant, violation: ProtocolViolation) -> ProtocolViolation {
        if let Some(conn) = self.conn.as_mut() {
            conn.link.violation = Some(alloc::boxed::Box::new(violation));
            if conn.link.version.is_v5() && conn.is_open() {
                let code = DisconnectReasonCode::try_from(violation.reason)
                    .unwrap_or(DisconnectReasonCode::ProtocolError);
                let packet = Packet::Disconnect(Disconnect::new(code));
                let _ = outbound::encode_trimmed(conn, &mut self.tx, now, packet);
            }
        }
        self.close(now, CloseCause::ProtocolViolation(violation));
        violation
    }

    /// Discards the session state and hands every message back.
    fn lose_session(&mut self) {
        for flow in self.session.flows().inflight.iter() {
            if let Some(id) = flow.packet_id() {
                self.persist.push_back(PersistOp::RemoveOutbound(id));
            }
        }
        for id in self.session.flows().inbound_qos2.keys() {
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

impl crate::receive_buffer::Receiver for Client {
    fn receive_state(&mut self) -> Option<(&mut BytesMut, &mut mqttkit_codec::Decoder)> {
        let conn = self.conn.as_mut().filter(|c| c.is_open())?;
        Some(conn.link.receive_state())
    }

    fn violation(&self) -> Option<ProtocolViolation> {
        Client::violation(self)
    }

    fn dispatch(&mut self, now: Instant, packet: Packet) -> Result<(), ProtocolViolation> {
        Client::dispatch(self, now, packet)
    }

    fn violate(&mut self, now: Instant, violation: ProtocolViolation) -> ProtocolViolation {
        Client::violate(self, now, violation)
    }
}
