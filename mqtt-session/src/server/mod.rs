//! The server role: the per-client half of a broker (EMQX's channel and
//! session). A [`Server`] is one client's session plus the connection open
//! on it, if any; routing, storage and networking stay the application's.
//!
//! Same discipline as [`crate::Client`]: inputs `handle_*`, commands
//! ([`Server::deliver`], [`Server::ack`], [`Server::suback`], ...), outputs
//! drained with `poll_transmit`, `poll_event`, `poll_timeout`.

mod config;
mod event;
mod handshake;
mod inbound;
mod outbound;
mod subscriptions;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::num::NonZeroU32;
use core::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    Connect, Decoder, Disconnect, DisconnectReasonCode, Encoder, LastWill, MqttString, Packet,
    PacketId, ProtocolVersion, QoS, Subscribe,
};

pub use config::ServerConfig;
pub use event::{
    DeliverError, Delivery, ServerCloseCause, ServerEvent, SubscribeRequest, Subscription,
    Undelivered,
};
pub use handshake::{Incoming, IncomingError, IncomingErrorKind, Refused};

use crate::error::ProtocolViolation;
use crate::event::Message;
use crate::link::{Link, State};
use crate::session::Session;
use crate::time::Instant;
use crate::transmit::Transmit;
use crate::violation::PeerMisbehaved;
use subscriptions::Subscriptions;

/// The client identifier in storage of its own: the decoded one is a slice
/// of the received CONNECT, and a session that lives on would otherwise keep
/// that whole receive buffer alive.
fn owned_client_id(id: &MqttString) -> MqttString {
    MqttString::from_bytes(Bytes::copy_from_slice(id.as_bytes())).unwrap_or_else(|_| id.clone())
}

/// The settings of a [`ServerConfig`] that apply after CONNACK; the
/// others are announced in it or shape the connection's codec and quotas.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_queued: usize,
    max_queued_bytes: usize,
    maximum_qos: QoS,
    retain_available: bool,
    manual_ack: bool,
}

impl Limits {
    fn of(config: &ServerConfig) -> Self {
        Self {
            max_queued: config.max_queued,
            max_queued_bytes: config.max_queued_bytes,
            maximum_qos: config.maximum_qos,
            retain_available: config.retain_available,
            manual_ack: config.manual_ack,
        }
    }
}

/// When the keep-alive `window` that starts at `now` ends.
fn deadline(now: Instant, window: Option<NonZeroU32>) -> Option<Instant> {
    window.map(|w| now.saturating_add(Duration::from_millis(u64::from(w.get()))))
}

/// One network connection of a [`Server`].
#[derive(Debug)]
struct ServerConn {
    /// What every connection has, in both roles.
    link: Link,
    /// 1.5 times the keep-alive in use, in milliseconds (at most
    /// 65,535 s × 1.5, which fits); `None`: no keep-alive.
    keep_alive_window: Option<NonZeroU32>,
    /// Nothing arrived from the client by then: the connection is closed
    /// (v5 [MQTT-3.1.2-22]).
    silence: Option<Instant>,
    /// Request Problem Information (v5 §3.1.2.11.7).
    problem_information: bool,
    session_expiry_was_zero: bool,
}

/// One client's session on the server, and its open connection.
///
/// Keep it while the session exists, also offline: it queues deliveries,
/// holds the subscriptions, and its [`Server::poll_timeout`] covers will
/// delay and session expiry. Drive it like [`crate::Client`]: after every
/// input or command drain [`Server::poll_transmit`] (to the socket),
/// [`Server::poll_event`], and call [`Server::handle_timeout`] at
/// [`Server::poll_timeout`].
#[derive(Debug)]
pub struct Server {
    /// What the session needs of its [`ServerConfig`] after CONNACK.
    limits: Limits,
    session: Session,
    subscriptions: Subscriptions,
    conn: Option<ServerConn>,
    /// The will of the open connection; boxed, as most connections have
    /// none and it is larger than the rest of an idle session.
    will: Option<Box<LastWill>>,
    /// A will waiting for its delay after the connection closed.
    will_due: Option<Box<(LastWill, Instant)>>,
    /// Session Expiry Interval in seconds; `u32::MAX` never expires.
    session_expiry: u32,
    expired: bool,
    /// What traffic fills; `None` while all of it is empty.
    io: Option<Box<ServerIo>>,
}

/// The part of a [`Server`] that traffic fills: bytes to send, events not
/// taken yet, SUBSCRIBE and UNSUBSCRIBE awaiting the application's answer.
/// Taken on first use and given back by [`Server::shrink_to_fit`] once
/// empty, since most connections of a server are idle most of the time.
#[derive(Debug, Default)]
struct ServerIo {
    tx: Transmit,
    events: VecDeque<ServerEvent>,
    /// Of the open connection only.
    subscribes: Vec<(PacketId, Subscribe)>,
    /// Of the open connection only.
    unsubscribes: Vec<(PacketId, Vec<mqttkit_topic::TopicFilter>)>,
}

/// The traffic state in `slot`, taken on first use.
fn io(slot: &mut Option<Box<ServerIo>>) -> &mut ServerIo {
    slot.get_or_insert_with(Box::default)
}

impl Server {
    fn accepted(
        now: Instant,
        connect: Connect,
        decoder: Decoder,
        assigned: bool,
        auth_data: Option<Bytes>,
        existing: Option<Server>,
        config: ServerConfig,
    ) -> Self {
        let version = connect.protocol_version;
        let v5 = version.is_v5();
        // v5 [MQTT-3.1.2-4], v3.1.1 [MQTT-3.1.2-6]: Clean Start discards.
        let mut carried = VecDeque::new();
        let resumed = match existing {
            Some(s) if !connect.clean_start && !s.expired => Some(s),
            Some(mut old) => {
                // The old session ends here: its connection is taken over
                // and a will still waiting for its delay goes now
                // (v5 §3.1.3.2.2); those events stay visible.
                old.take_over(now);
                if !old.expired {
                    old.expire();
                }
                carried = old.io.take().map(|io| io.events).unwrap_or_default();
                None
            }
            None => None,
        };
        let session_present = resumed.is_some();
        let mut this = match resumed {
            Some(mut old) => {
                if old.conn.as_ref().is_some_and(|c| c.link.is_open()) {
                    old.take_over(now);
                }
                // What the old connection left: nothing of it is sent,
                // and its SUBSCRIBE and UNSUBSCRIBE are not answered.
                if let Some(io) = old.io.as_deref_mut() {
                    io.tx.clear();
                    io.subscribes.clear();
                    io.unsubscribes.clear();
                }
                // v5 [MQTT-3.1.3-9]: a new connection before the will
                // delay ends cancels the will.
                old.will_due = None;
                old.limits = Limits::of(&config);
                old
            }
            None => Self {
                limits: Limits::of(&config),
                session: Session::new(owned_client_id(&connect.client_id)),
                subscriptions: Subscriptions::default(),
                conn: None,
                will: None,
                will_due: None,
                session_expiry: 0,
                expired: false,
                io: None,
            },
        };
        if !carried.is_empty() {
            io(&mut this.io).events.extend(carried);
        }
        this.session.client_id = owned_client_id(&connect.client_id);
        this.session.connection = this.session.connection.wrapping_add(1);
        // The session is established from this CONNECT on, and its expiry
        // waits for the connection to end.
        this.session.established = true;
        this.session.set_expiry(None);
        let props = &connect.properties;
        this.session_expiry = if v5 {
            props.session_expiry_interval.unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            config
                .v3_session_expiry
                .map_or(u32::MAX, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        };
        this.will = connect.will.clone().map(Box::new);
        let keep_alive = config
            .server_keep_alive
            .filter(|_| v5)
            .unwrap_or(connect.keep_alive);
        // v5 [MQTT-3.1.2-22], v3.1.1 [MQTT-3.1.2-24]: one and a half times.
        let keep_alive_window = NonZeroU32::new(u32::from(keep_alive).saturating_mul(1500));
        let mut encoder = Encoder::new(version);
        if v5 && let Some(max) = props.maximum_packet_size {
            encoder = encoder.with_max_packet_size(max.get());
        }
        let mut decoder = decoder;
        if let Some(max) = config.maximum_packet_size {
            decoder = decoder.with_max_packet_size(max);
        }
        let receive_maximum = if v5 {
            config.receive_maximum.max(1)
        } else {
            u16::MAX
        };
        let mut link = Link::new(this.session.connection, version);
        link.state = State::Connected;
        link.decoder = decoder;
        link.encoder = encoder;
        link.send_quota = props
            .receive_maximum
            .filter(|_| v5)
            .map_or(config.inflight_window.max(1), core::num::NonZeroU16::get);
        link.receive_maximum = receive_maximum;
        if v5 {
            link.reset_out_aliases(
                props
                    .topic_alias_maximum
                    .unwrap_or(0)
                    .min(config.max_outbound_aliases),
            );
            link.set_in_alias_max(config.topic_alias_maximum);
        }
        this.conn = Some(ServerConn {
            link,
            keep_alive_window,
            silence: deadline(now, keep_alive_window),
            problem_information: !v5 || props.request_problem_information.unwrap_or(true),
            session_expiry_was_zero: this.session_expiry == 0,
        });
        // Inbound QoS 2 state survives; our PUBRECs go again on PUBLISH DUP.
        if let Some(flows) = this.session.flows_in_use() {
            flows.inflight.mark_all_unsent();
        }
        if !this.send_connack(&config, session_present, assigned, auth_data, &connect) {
            // v5 [MQTT-3.1.2-24]: the CONNACK does not fit the client's
            // Maximum Packet Size, and nothing may go before it (v5
            // [MQTT-3.2.0-1]): the connection cannot start, so it is
            // closed without a word, like a refusal (no will).
            let violation = ProtocolViolation::rule(PeerMisbehaved::ConnAckTooLarge);
            io(&mut this.io).events.push_back(ServerEvent::Closed(
                ServerCloseCause::ProtocolViolation(violation),
            ));
            this.end_connection(now, false);
            if let Some(conn) = this.conn.as_mut() {
                conn.link.violation = Some(Box::new(violation));
            }
            return this;
        }
        this.pump(now);
        this
    }

    // ---- getters ------------------------------------------------------

    /// The client identifier (the assigned one, if it was assigned).
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// assert_eq!(server.client_id().as_str(), "sensor-7");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client_id(&self) -> &MqttString {
        &self.session.client_id
    }

    /// The durable part: in-flight and queued deliveries, inbound QoS 2.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// assert!(server.session().is_established());
    /// assert_eq!(server.session().pending_len(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The protocol version of the open connection.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// assert_eq!(server.version(), Some(ProtocolVersion::V5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.conn
            .as_ref()
            .filter(|c| c.link.is_open())
            .map(|c| c.link.version)
    }

    /// Whether a connection is open on this session.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// assert!(server.is_connected());
    /// server.handle_transport_closed(Instant::from_millis(5));
    /// assert!(!server.is_connected());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.link.is_open())
    }

    /// Whether the session expired: drop it.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// server.handle_transport_closed(Instant::ZERO);
    /// assert!(!server.is_expired()); // Session Expiry Interval 60 s
    /// server.handle_timeout(Instant::from_millis(60_000));
    /// assert!(server.is_expired());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_expired(&self) -> bool {
        self.expired
    }

    /// The session's subscriptions, by filter.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// assert_eq!(server.subscriptions().count(), 0); // none granted yet
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscriptions(
        &self,
    ) -> impl Iterator<Item = (&mqttkit_topic::TopicFilter, &Subscription)> + '_ {
        self.subscriptions.iter()
    }

    /// QoS 1/2 deliveries the client's Receive Maximum still admits.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// assert_eq!(server.send_quota(), Some(20)); // no Receive Maximum: the inflight window
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_quota(&self) -> Option<u16> {
        self.conn
            .as_ref()
            .filter(|c| c.link.is_open())
            .map(|c| c.link.send_quota)
    }

    /// Takes the messages still in flight or queued out of a session that
    /// ended, in original order, so that a broker can give the messages of
    /// a shared subscription to another member of the group (v5 §4.8.2).
    /// QoS 2 messages already sent to this client come back apart and must
    /// not be redistributed (v5 [MQTT-4.8.2-5]). A connected session is left
    /// alone (nothing is taken).
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("c")?);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// server.handle_transport_closed(Instant::from_millis(10));
    /// let undelivered = server.take_undelivered();
    /// for (op, message) in undelivered.redistributable {
    ///     // route `message` to another member of its shared group
    /// #   let _ = (op, message);
    /// }
    /// assert!(undelivered.sent_exactly_once.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_undelivered(&mut self) -> Undelivered {
        let mut undelivered = Undelivered::default();
        if self.is_connected() {
            return undelivered;
        }
        for flow in self.session.flows_mut().inflight.drain() {
            let Some(message) = Message::from_publish(&flow.publish) else {
                continue;
            };
            if flow.qos() == QoS::ExactlyOnce {
                undelivered.sent_exactly_once.push((flow.op, message));
            } else {
                undelivered.redistributable.push((flow.op, message));
            }
        }
        undelivered.redistributable.extend(
            self.session
                .discard()
                .into_iter()
                .map(|(op, message, _)| (op, message)),
        );
        undelivered
    }

    // ---- inputs -------------------------------------------------------

    /// Feeds bytes received on the connection; partial packets are kept
    /// until the rest arrives.
    ///
    /// A protocol violation by the client closes the connection and is
    /// reported once, as [`ServerEvent::Closed`] with
    /// [`ServerCloseCause::ProtocolViolation`]; its DISCONNECT (5.0) waits in
    /// [`Server::poll_transmit`], so the usual drain after every input
    /// flushes it. Later input on that connection is ignored, and
    /// [`Server::violation`] tells what happened.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerCloseCause, ServerConfig, ServerEvent};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("c")?);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// let mut out = BytesMut::new();
    /// while server.poll_transmit(&mut out).is_some() {} // CONNACK
    /// out.clear();
    ///
    /// server.handle_bytes(Instant::ZERO, &[0xFF, 0x00]); // not a packet
    /// while server.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(&out[..], [0xE0, 0x01, 0x81]); // DISCONNECT 0x81 Malformed Packet
    /// assert!(matches!(
    ///     server.poll_event(),
    ///     Some(ServerEvent::Closed(ServerCloseCause::ProtocolViolation(_)))
    /// ));
    /// assert!(server.violation().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        // A violation was reported through the events by `violate`.
        let _ = crate::receive_buffer::receive(self, now, bytes);
    }

    /// The protocol violation that closed the current connection, if the
    /// client committed one.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// assert_eq!(server.violation(), None);
    /// server.handle_bytes(Instant::ZERO, &[0x10, 0x00]); // a second CONNECT, malformed
    /// assert!(server.violation().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn violation(&self) -> Option<ProtocolViolation> {
        self.conn
            .as_ref()
            .and_then(|c| c.link.violation.as_deref().copied())
    }

    /// Fires what is due: the keep-alive deadline, the will delay, the
    /// session expiry. Early or extra calls do nothing.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// let mut out = BytesMut::new();
    /// while server.poll_transmit(&mut out).is_some() {}
    /// if let Some(at) = server.poll_timeout() {
    ///     server.handle_timeout(at); // the keep-alive: nothing arrived in 1.5 intervals
    /// }
    /// assert!(!server.is_connected());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(conn) = self.conn.as_ref().filter(|c| c.link.is_open())
            && conn.silence.is_some_and(|at| at <= now)
        {
            self.close_with(
                now,
                DisconnectReasonCode::KeepAliveTimeout,
                ServerCloseCause::KeepAliveTimeout,
                true,
            );
        }
        if self.will_due.as_ref().is_some_and(|due| due.1 <= now)
            && let Some(due) = self.will_due.take()
        {
            io(&mut self.io)
                .events
                .push_back(ServerEvent::Will(Box::new(due.0)));
        }
        if !self.expired && self.session.expiry.is_some_and(|at| at <= now) {
            self.expire();
        }
    }

    /// The transport closed without DISCONNECT: the will is due (after its
    /// delay) and the session expiry starts.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// server.handle_transport_closed(Instant::from_millis(5));
    /// assert!(!server.is_connected());
    /// assert_eq!(server.session().expires_at(), Some(Instant::from_millis(60_005)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_transport_closed(&mut self, now: Instant) {
        if self.conn.as_ref().is_some_and(|c| c.link.is_open()) {
            io(&mut self.io)
                .events
                .push_back(ServerEvent::Closed(ServerCloseCause::TransportClosed));
            self.end_connection(now, true);
        }
        if let Some(io) = self.io.as_deref_mut() {
            io.tx.clear();
        }
    }

    // ---- commands -----------------------------------------------------

    /// Another connection takes this session: the open one is closed with
    /// DISCONNECT 0x8E in 5.0 (v5 [MQTT-3.1.4-3]); flush
    /// [`Server::poll_transmit`] to the old transport, then pass this
    /// server to [`Incoming::accept`]. Its will is due as on a close.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// server.take_over(Instant::ZERO);
    /// let mut old = BytesMut::new();
    /// while server.poll_transmit(&mut old).is_some() {}
    /// assert!(old.ends_with(&[0xE0, 0x01, 0x8E])); // DISCONNECT 0x8E to the old transport
    /// assert!(!server.is_connected());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_over(&mut self, now: Instant) {
        if self.is_connected() {
            self.close_with(
                now,
                DisconnectReasonCode::SessionTakenOver,
                ServerCloseCause::TakenOver,
                true,
            );
        }
    }

    /// Closes the connection with DISCONNECT `reason` (5.0; 3.1.1 just
    /// closes). The will is published, as for every close that is not the
    /// client's normal DISCONNECT (v5 [MQTT-3.1.2-8]).
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// # use mqttkit_session::DisconnectReasonCode;
    /// server.disconnect(Instant::ZERO, DisconnectReasonCode::ServerShuttingDown);
    /// let mut out = BytesMut::new();
    /// while server.poll_transmit(&mut out).is_some() {}
    /// assert!(out.ends_with(&[0xE0, 0x01, 0x8B]));
    /// assert!(!server.is_connected());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn disconnect(&mut self, now: Instant, reason: DisconnectReasonCode) {
        if self.is_connected() {
            self.close_with(now, reason, ServerCloseCause::ByServer(reason), true);
        }
    }

    // ---- outputs ------------------------------------------------------

    /// Appends the bytes to send to `out`; `None` when there are none.
    ///
    /// When `out` is empty the two buffers are swapped rather than copied:
    /// `out` takes the session's bytes, and the session keeps `out`'s
    /// storage for its next ones.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// let mut out = BytesMut::new();
    /// while server.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(out[0], 0x20); // the CONNACK, to write to the socket
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "the bytes appended to `out` are to be written to the transport"]
    pub fn poll_transmit(&mut self, out: &mut BytesMut) -> Option<usize> {
        let tx = self.queued_tx()?;
        let n = tx.len();
        tx.copy_into(out);
        Some(n)
    }

    /// Appends the bytes to send to `out` as [`Server::poll_transmit`]
    /// does, but with the payload of each large PUBLISH as a chunk of its
    /// own that shares the delivered message's storage: forwarding one
    /// message to many subscribers then copies only their packet heads.
    /// Write `out` with a vectored write ([`Transmit::chunks`]). Returns
    /// the bytes appended, or `None` if there were none.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::{Buf, BytesMut};
    /// # let mut bytes = BytesMut::new();
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("c")?);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// use mqttkit_session::Transmit;
    /// let mut out = Transmit::new();
    /// while server.poll_transmit_chunks(&mut out).is_some() {}
    /// assert_eq!(out.chunk()[0], 0x20); // the CONNACK
    /// let slices: Vec<&[u8]> = out.chunks().collect(); // to `write_vectored`
    /// # assert_eq!(slices.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "the bytes appended to `out` are to be written to the transport"]
    pub fn poll_transmit_chunks(&mut self, out: &mut Transmit) -> Option<usize> {
        let tx = self.queued_tx()?;
        let n = tx.len();
        tx.move_into(out);
        Some(n)
    }

    /// The bytes waiting to be sent; `None` when there are none.
    fn queued_tx(&mut self) -> Option<&mut Transmit> {
        Some(&mut self.io.as_deref_mut()?.tx).filter(|tx| !tx.is_empty())
    }

    /// Gives back the storage that empty buffers and queues keep for the
    /// next burst: the receive and send buffers, the event queue, the
    /// acknowledgement queues, spare capacity of the subscriptions.
    ///
    /// Nothing is lost, and the next input or delivery takes fresh storage.
    /// A server holds many connections that are idle most of the time; a
    /// driver calls this when a connection goes quiet (for example once a
    /// read was handled and its output written), so that an idle session
    /// with one subscription stays under 1 KiB instead of keeping a whole
    /// receive chunk.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("c")?);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// let mut out = BytesMut::new();
    /// while server.poll_transmit(&mut out).is_some() {}
    /// while server.poll_event().is_some() {}
    /// // `out` written to the socket; nothing more to read for now.
    /// server.shrink_to_fit();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shrink_to_fit(&mut self) {
        if let Some(io) = self.io.as_deref_mut() {
            if io.tx.is_empty()
                && io.events.is_empty()
                && io.subscribes.is_empty()
                && io.unsubscribes.is_empty()
            {
                self.io = None;
            } else {
                io.tx.release_if_empty();
                if io.events.is_empty() {
                    io.events = VecDeque::new();
                }
                io.subscribes.shrink_to_fit();
                io.unsubscribes.shrink_to_fit();
            }
        }
        self.subscriptions.shrink_to_fit();
        self.session.shrink_to_fit();
        if let Some(conn) = self.conn.as_mut() {
            conn.link.release_if_idle();
        }
    }

    /// The next event.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// # use mqttkit_session::ServerEvent;
    /// server.handle_transport_closed(Instant::ZERO);
    /// assert!(matches!(server.poll_event(), Some(ServerEvent::Closed(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "an output that is not taken is lost"]
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.io.as_deref_mut()?.events.pop_front()
    }

    /// The next deadline at which [`Server::handle_timeout`] must run.
    ///
    /// ```
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # use mqttkit_session::bytes::BytesMut;
    /// # let mut bytes = BytesMut::new();
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.session_expiry_interval = Some(60);
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// # let incoming = Incoming::read(&mut bytes, None)?.expect("a whole CONNECT");
    /// # let mut server = incoming.accept(Instant::ZERO, None, ServerConfig::default()).expect("accepted");
    /// assert!(server.poll_timeout().is_some()); // the keep-alive deadline of the CONNECT
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let keep_alive = self
            .conn
            .as_ref()
            .filter(|c| c.link.is_open())
            .and_then(|c| c.silence);
        [
            keep_alive,
            self.will_due.as_ref().map(|w| w.1),
            self.session.expiry.filter(|_| !self.expired),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- internals ----------------------------------------------------

    /// Queues DISCONNECT `reason` (5.0) and ends the connection.
    fn close_with(
        &mut self,
        now: Instant,
        reason: DisconnectReasonCode,
        cause: ServerCloseCause,
        publish_will: bool,
    ) {
        if let Some(conn) = self.conn.as_mut().filter(|c| c.link.is_open())
            && conn.link.version.is_v5()
        {
            let _ = outbound::encode_trimmed(
                conn,
                io(&mut self.io).tx.buffer(),
                Packet::Disconnect(Disconnect::new(reason)),
            );
        }
        io(&mut self.io)
            .events
            .push_back(ServerEvent::Closed(cause));
        self.end_connection(now, publish_will);
    }

    /// Records a violation, queues its DISCONNECT (5.0) and closes.
    fn violate(&mut self, now: Instant, violation: ProtocolViolation) -> ProtocolViolation {
        let code = DisconnectReasonCode::try_from(violation.reason)
            .unwrap_or(DisconnectReasonCode::ProtocolError);
        self.close_with(
            now,
            code,
            ServerCloseCause::ProtocolViolation(violation),
            true,
        );
        if let Some(conn) = self.conn.as_mut() {
            conn.link.violation = Some(Box::new(violation));
        }
        violation
    }

    /// The connection is over: the will becomes due (v5 §3.1.2.5: after
    /// the Will Delay Interval or when the session ends, whichever is
    /// first) and the Session Expiry Interval starts (v5 §3.1.2.11.2).
    fn end_connection(&mut self, now: Instant, publish_will: bool) {
        let Some(conn) = self.conn.as_mut().filter(|c| c.link.is_open()) else {
            return;
        };
        conn.link.state = State::Closed;
        conn.silence = None;
        if let Some(flows) = self.session.flows_in_use() {
            flows.inflight.mark_all_unsent();
        }
        let will = self.will.take().filter(|_| publish_will);
        let expires_at = match self.session_expiry {
            u32::MAX => None,
            secs => Some(now.saturating_add(Duration::from_secs(u64::from(secs)))),
        };
        self.session.set_expiry(expires_at);
        if let Some(will) = will {
            let delay = will.properties.will_delay_interval.unwrap_or(0);
            let at = now.saturating_add(Duration::from_secs(u64::from(delay)));
            if delay == 0 {
                io(&mut self.io).events.push_back(ServerEvent::Will(will));
            } else {
                self.will_due = Some(Box::new((*will, at)));
            }
        }
        if self.session_expiry == 0 {
            self.expire();
        }
    }

    /// The session ends: a pending will goes first (v5 §3.1.3.2.2).
    fn expire(&mut self) {
        if let Some(due) = self.will_due.take() {
            io(&mut self.io)
                .events
                .push_back(ServerEvent::Will(Box::new(due.0)));
        }
        self.expired = true;
        self.session.established = false;
        self.session.set_expiry(None);
        io(&mut self.io)
            .events
            .push_back(ServerEvent::SessionExpired);
    }
}

impl crate::receive_buffer::Receiver for Server {
    fn receive_state(&mut self) -> Option<(&mut BytesMut, &mut Decoder)> {
        let conn = self.conn.as_mut().filter(|c| c.link.is_open())?;
        Some(conn.link.receive_state())
    }

    fn violation(&self) -> Option<ProtocolViolation> {
        Server::violation(self)
    }

    fn dispatch(&mut self, now: Instant, packet: Packet) -> Result<(), ProtocolViolation> {
        Server::dispatch(self, now, packet)
    }

    fn violate(&mut self, now: Instant, violation: ProtocolViolation) -> ProtocolViolation {
        Server::violate(self, now, violation)
    }
}
