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
use mqttkit_codec::{Connect, Decoded, Decoder, Disconnect, DisconnectReasonCode, Encoder, Packet};

use crate::aliases::{InAliases, OutAliases};
pub(crate) use crate::timers::{Timer, Timers};
pub use conn::Negotiated;
use conn::{Connection, State};

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
    /// one; in 3.1.1, with none in the session either, Clean Session is
    /// required ([`OpError::EmptyClientIdNeedsCleanSession`],
    /// v3.1.1 [MQTT-3.1.3-7]). Clean Start discards the session state first
    /// (v5 [MQTT-3.1.2-4]): [`Event::SessionLost`] and [`Event::Returned`]
    /// hand every unacknowledged and queued message back; so does a
    /// session whose expiry deadline has passed. Our Receive
    /// Maximum, Maximum Packet Size and Topic Alias Maximum are taken from
    /// the CONNECT properties and enforced on what the server sends.
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
            session_expiry_interval: match (v5, connect.clean_start) {
                (true, _) => props.session_expiry_interval.unwrap_or(0),
                // 3.1.1 §3.1.2.4: a Clean Session lasts as long as the
                // connection, any other session until a Clean Session.
                (false, true) => 0,
                (false, false) => u32::MAX,
            },
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
        let _ = self.receive(now, bytes);
    }

    /// The protocol violation that closed the current connection, if the
    /// server committed one.
    pub fn violation(&self) -> Option<ProtocolViolation> {
        self.conn.as_ref().and_then(|c| c.violation)
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) -> Result<(), ProtocolViolation> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        if let Some(v) = conn.violation {
            return Err(v);
        }
        if !conn.is_open() {
            return Ok(());
        }
        crate::rx::append(&mut conn.rx, bytes);
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
    /// packets, or tests); a violation is reported as by
    /// [`Client::handle_bytes`].
    pub fn handle_packet(&mut self, now: Instant, packet: Packet) {
        if self
            .conn
            .as_ref()
            .is_some_and(|c| c.violation.is_none() && c.is_open())
        {
            // A violation was reported through the events by `violate`.
            let _ = self.dispatch(now, packet);
        }
    }

    /// Fires whatever is due at `now`: PINGREQ after a keep-alive interval
    /// without sending, the PINGRESP and CONNACK deadlines, and, while no
    /// connection is open, the Session Expiry. Early or extra calls do
    /// nothing.
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
    pub fn handle_transport_closed(&mut self, now: Instant) {
        if self.conn.as_ref().is_some_and(Connection::is_open) {
            self.close(now, CloseCause::TransportClosed);
        }
        self.end_connection();
    }

    // ---- outputs ------------------------------------------------------

    /// The next persistence operation; store it before transmitting.
    #[must_use = "an output that is not taken is lost"]
    pub fn poll_persist(&mut self) -> Option<PersistOp> {
        self.persist.ops.pop_front()
    }

    /// Appends the bytes to send to `out` and returns how many, or `None`
    /// when there is nothing to send or persistence operations are waiting.
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
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.conn.as_ref().filter(|c| c.is_open()) {
            Some(c) => c.timers.next(),
            None => self.session.expiry,
        }
    }

    /// The next event for the application.
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
            self.session.ids.release(c.packet_id);
            self.events.push_back(Event::OpFailed {
                op: c.op,
                error: OpError::ConnectionClosed,
            });
        }
        self.session.inflight.mark_all_unsent();
        self.tx.clear();
    }

    /// Declares the connection closed (the caller flushes and closes the
    /// transport) and starts the Session Expiry.
    fn close(&mut self, now: Instant, cause: CloseCause) {
        let mut accepted = None;
        if let Some(conn) = self.conn.as_mut() {
            conn.state = State::Closed;
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
            conn.violation = Some(violation);
            if conn.version.is_v5() && conn.is_open() {
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
        for flow in self.session.inflight.iter() {
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
