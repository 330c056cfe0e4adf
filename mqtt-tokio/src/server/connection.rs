//! The broker's side of a running connection: the handle and the events.
//!
//! The session sits behind one mutex shared by the driver and every
//! handle, as quinn's `Connection` shares its state with its driver: a
//! delivery is taken or refused by the session itself, at once, with the
//! session's own bounds, and the driver is woken to write it. The lock is
//! never held across an await.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mqttkit_session::{
    AckProperties, AckToken, Delivery, DisconnectReasonCode, Instant, MqttString, OpError, OpId,
    PacketId, ProtocolVersion, PubAckReasonCode, QoS, Server, SubAckReasonCode, Transmit,
    UnsubAckReasonCode,
};
use std::future::poll_fn;
use std::task::{Poll, Waker};

use tokio::sync::oneshot;

use super::{ConnectionEvent, DeliverError, DeliverFailed};
use crate::clock::{Clock, ShortTime};

/// What the driver and the handles share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clock: Clock,
    /// 32-bit, as every connection keeps them: bounds beyond 4 Gi are
    /// taken as 4 Gi.
    pub(crate) event_capacity: u32,
    pub(crate) max_unwritten: u32,
    /// [`Connection::pause_reading`]: no reading before this time, the
    /// bits of a [`ShortTime`]. Outside the lock, as the driver checks it
    /// before every read.
    pub(crate) paused_until: AtomicU32,
    pub(crate) state: Mutex<State>,
}

impl Shared {
    pub(crate) fn event_capacity(&self) -> usize {
        usize::try_from(self.event_capacity).unwrap_or(usize::MAX)
    }

    pub(crate) fn max_unwritten(&self) -> usize {
        usize::try_from(self.max_unwritten).unwrap_or(usize::MAX)
    }

    /// When reading may resume, if it is paused now; the clock is read
    /// only when a pause was ever asked for.
    pub(crate) fn paused(&self) -> Option<ShortTime> {
        let until = ShortTime::from_bits(self.paused_until.load(Ordering::Relaxed));
        (until.is_set() && !until.reached(self.now())).then_some(until)
    }
}

#[derive(Debug)]
pub(crate) struct State {
    /// `None` once the driver handed it over.
    pub(crate) server: Option<Server>,
    /// Bytes taken from the session, not yet taken by the driver.
    pub(crate) tx: Transmit,
    /// Bytes the driver took and has not written yet.
    pub(crate) writing: usize,
    pub(crate) events: VecDeque<ConnectionEvent>,
    /// The receiver was dropped.
    pub(crate) events_gone: bool,
    /// [`Connection::take_over`] waits for the session.
    pub(crate) take_over: Option<oneshot::Sender<Server>>,
    /// The driver has something to do: bytes to write, an event taken, a
    /// close asked for. A flag and a waker rather than a `Notify`: an
    /// idle connection holds no wait-list entry.
    pub(crate) driver_woken: bool,
    pub(crate) driver_waker: Option<Waker>,
    /// [`ConnectionEvents::recv`] waits.
    pub(crate) events_waker: Option<Waker>,
}

impl State {
    /// Wakes the driver task (it runs later, never under this lock).
    pub(crate) fn wake_driver(&mut self) {
        self.driver_woken = true;
        if let Some(waker) = self.driver_waker.take() {
            waker.wake();
        }
    }

    /// Wakes the task waiting in [`ConnectionEvents::recv`].
    pub(crate) fn wake_events(&mut self) {
        if let Some(waker) = self.events_waker.take() {
            waker.wake();
        }
    }

    /// Moves what the session has to send into `tx`.
    pub(crate) fn take_transmit(&mut self) {
        if let Some(server) = self.server.as_mut() {
            while server.poll_transmit_chunks(&mut self.tx).is_some() {}
        }
    }
}

impl Shared {
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The state; a handle or driver that panicked while holding the lock
    /// cannot have left the session half-changed in a way that matters
    /// more than stopping every connection, so the poison is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `op` on the connected session, then wakes the driver to write
    /// what it queued.
    fn with_server<T>(
        &self,
        op: impl FnOnce(&mut Server, Instant) -> Result<T, OpError>,
    ) -> Result<T, OpError> {
        let now = self.now();
        let mut state = self.lock();
        let server = state.server.as_mut().ok_or(OpError::NotConnected)?;
        let result = op(server, now);
        state.take_transmit();
        state.wake_driver();
        result
    }
}

/// A handle on one client connection run by the driver task that
/// [`super::Connecting::accept`] spawned. Cheap to clone and `Send`: a
/// broker hands clones to the tasks that route messages to this client.
///
/// No method waits for the client: each hands its input to the session
/// at once and the driver writes the outcome.
#[derive(Debug, Clone)]
pub struct Connection {
    pub(crate) shared: Arc<Shared>,
    pub(crate) client_id: MqttString,
    pub(crate) version: ProtocolVersion,
}

impl Connection {
    /// The client identifier (an assigned one, if it was assigned).
    ///
    /// ```no_run
    /// # async fn run(stream: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    /// use mqttkit_tokio::server::{Connecting, ConnectionOptions, ServerConfig};
    ///
    /// let connecting = Connecting::read(stream, &ConnectionOptions::new()).await?;
    /// let (connection, _events) = connecting.accept(None, ServerConfig::default()).await?;
    /// println!("{} connected", connection.client_id());
    /// # Ok(())
    /// # }
    /// ```
    pub fn client_id(&self) -> &MqttString {
        &self.client_id
    }

    /// The protocol version the client speaks.
    ///
    /// ```no_run
    /// # async fn run(connection: mqttkit_tokio::server::Connection) {
    /// use mqttkit_tokio::ProtocolVersion;
    /// if connection.protocol_version() == ProtocolVersion::V5 {
    ///     // 5.0 reason codes reach the client
    /// }
    /// # }
    /// ```
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }

    /// Whether `other` is a handle on the same connection (not merely the
    /// same client identifier): a broker that keeps one handle per client
    /// removes it only if a newer connection has not replaced it.
    ///
    /// ```no_run
    /// # fn run(mine: mqttkit_tokio::server::Connection, registered: mqttkit_tokio::server::Connection) {
    /// if registered.same_connection(&mine) {
    ///     // forget it: this connection has ended
    /// }
    /// # }
    /// ```
    pub fn same_connection(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Whether the connection is still open: `false` once the session
    /// closed it, even before the socket is.
    ///
    /// ```no_run
    /// # fn run(connection: mqttkit_tokio::server::Connection) {
    /// if !connection.is_connected() {
    ///     // deliver to the session from the `Closed` event instead
    /// }
    /// # }
    /// ```
    pub fn is_connected(&self) -> bool {
        self.shared
            .lock()
            .server
            .as_ref()
            .is_some_and(Server::is_connected)
    }

    /// Hands a routed message to the client's session ([`Server::deliver`]):
    /// it is written when the client's Receive Maximum admits it, and its
    /// outcome comes as a `Delivered` or `Dropped` event with the returned
    /// [`OpId`]. Never waits: when a bound is reached it fails at once with
    /// [`DeliverFailed::Refused`]`(`[`DeliverError::QueueFull`]`)` (the
    /// session's queue, the unwritten bytes for QoS 0, or this
    /// connection's event queue); when the driver has ended, with
    /// [`DeliverFailed::Closed`] and the delivery given back.
    ///
    /// ```no_run
    /// # fn run(connection: mqttkit_tokio::server::Connection) -> Result<(), Box<dyn std::error::Error>> {
    /// use mqttkit_tokio::mqttkit_session::Delivery;
    /// use mqttkit_tokio::{Message, QoS, SubscriptionOptions, TopicName};
    /// use mqttkit_tokio::server::{DeliverError, DeliverFailed};
    ///
    /// let message = Message::new(TopicName::try_from("cmd/led")?, "on", QoS::AtLeastOnce);
    /// match connection.deliver(Delivery::new(message, SubscriptionOptions::new(QoS::AtLeastOnce))) {
    ///     Ok(op) => println!("queued as {op:?}"),
    ///     Err(DeliverFailed::Refused(DeliverError::QueueFull)) => println!("slow client: dropped"),
    ///     Err(other) => println!("not delivered: {other}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn deliver(&self, delivery: Delivery) -> Result<OpId, DeliverFailed> {
        let now = self.shared.now();
        let result = {
            let mut state = self.shared.lock();
            let unwritten = state.tx.len().saturating_add(state.writing);
            let events_full = state.events.len() >= self.shared.event_capacity();
            let qos0 = delivery.message.qos.min(delivery.options.qos) == QoS::AtMostOnce;
            if events_full && !state.events_gone || qos0 && unwritten >= self.shared.max_unwritten()
            {
                return Err(DeliverFailed::Refused(DeliverError::QueueFull));
            }
            let Some(server) = state.server.as_mut() else {
                return Err(DeliverFailed::Closed(Box::new(delivery)));
            };
            let result = server.deliver(now, delivery);
            state.take_transmit();
            state.wake_driver();
            result
        };
        result.map_err(DeliverFailed::Refused)
    }

    /// Acknowledges a received QoS 1 or 2 PUBLISH under
    /// [`mqttkit_session::ServerConfig::manual_ack`], once it was routed or
    /// refused ([`Server::ack`]); a refusal closes a 3.1.1 connection, which
    /// cannot carry it.
    ///
    /// ```no_run
    /// # fn run(connection: mqttkit_tokio::server::Connection, token: mqttkit_tokio::AckToken) -> Result<(), mqttkit_tokio::OpError> {
    /// use mqttkit_tokio::PubAckReasonCode;
    /// // ... the message was routed ...
    /// connection.ack(token, PubAckReasonCode::Success)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn ack(&self, token: AckToken, reason: PubAckReasonCode) -> Result<(), OpError> {
        self.shared
            .with_server(|server, now| server.ack(now, token, reason))
    }

    /// [`Connection::ack`] with a Reason String and User Properties (5.0).
    ///
    /// ```no_run
    /// # fn run(connection: mqttkit_tokio::server::Connection, token: mqttkit_tokio::AckToken) -> Result<(), Box<dyn std::error::Error>> {
    /// use mqttkit_tokio::PubAckReasonCode;
    /// use mqttkit_tokio::mqttkit_session::{AckProperties, MqttString};
    ///
    /// let mut properties = AckProperties::default();
    /// properties.reason_string = Some(MqttString::try_from("read-only topic")?);
    /// connection.ack_with_properties(token, PubAckReasonCode::NotAuthorized, properties)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn ack_with_properties(
        &self,
        token: AckToken,
        reason: PubAckReasonCode,
        properties: AckProperties,
    ) -> Result<(), OpError> {
        self.shared
            .with_server(|server, now| server.ack_with_properties(now, token, reason, properties))
    }

    /// Answers a SUBSCRIBE with one code per filter ([`Server::suback`]):
    /// the granted QoS or a refusal. Deliver the retained messages the
    /// requests ask for afterwards.
    ///
    /// ```no_run
    /// # async fn run(connection: mqttkit_tokio::server::Connection, mut events: mqttkit_tokio::server::ConnectionEvents) -> Result<(), mqttkit_tokio::OpError> {
    /// use mqttkit_tokio::mqttkit_session::ServerEvent;
    /// use mqttkit_tokio::server::ConnectionEvent;
    /// use mqttkit_tokio::SubAckReasonCode;
    ///
    /// if let Some(ConnectionEvent::Session(ServerEvent::Subscribe { packet_id, requests, .. })) =
    ///     events.recv().await
    /// {
    ///     let codes = requests.iter().map(|r| SubAckReasonCode::granted(r.options.qos)).collect();
    ///     connection.suback(packet_id, codes)?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn suback(&self, packet_id: PacketId, codes: Vec<SubAckReasonCode>) -> Result<(), OpError> {
        self.shared
            .with_server(|server, _| server.suback(packet_id, codes))
    }

    /// Answers an UNSUBSCRIBE with one code per filter
    /// ([`Server::unsuback`]).
    ///
    /// ```no_run
    /// # async fn run(connection: mqttkit_tokio::server::Connection, mut events: mqttkit_tokio::server::ConnectionEvents) -> Result<(), mqttkit_tokio::OpError> {
    /// use mqttkit_tokio::mqttkit_session::ServerEvent;
    /// use mqttkit_tokio::server::ConnectionEvent;
    /// use mqttkit_tokio::UnsubAckReasonCode;
    ///
    /// if let Some(ConnectionEvent::Session(ServerEvent::Unsubscribe { packet_id, filters, .. })) =
    ///     events.recv().await
    /// {
    ///     let codes = filters.iter().map(|_| UnsubAckReasonCode::Success).collect();
    ///     connection.unsuback(packet_id, codes)?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn unsuback(
        &self,
        packet_id: PacketId,
        codes: Vec<UnsubAckReasonCode>,
    ) -> Result<(), OpError> {
        self.shared
            .with_server(|server, _| server.unsuback(packet_id, codes))
    }

    /// Closes the connection with DISCONNECT `reason` (5.0; a 3.1.1 client
    /// is just disconnected). The will is published, as for every close
    /// but the client's normal DISCONNECT. The events end with
    /// [`super::ConnectionEvent::Closed`].
    ///
    /// ```no_run
    /// # fn run(connection: mqttkit_tokio::server::Connection) {
    /// use mqttkit_tokio::DisconnectReasonCode;
    /// connection.disconnect(DisconnectReasonCode::ServerShuttingDown);
    /// # }
    /// ```
    pub fn disconnect(&self, reason: DisconnectReasonCode) {
        let _ = self.shared.with_server(|server, now| {
            server.disconnect(now, reason);
            Ok(())
        });
    }

    /// What waits to go to the client: messages queued in its session
    /// (not yet in flight) and bytes not yet written to its socket. A
    /// broker compares them with its bounds to slow down the publishers
    /// feeding a client that falls behind, before its queue overflows.
    ///
    /// ```no_run
    /// # fn run(connection: mqttkit_tokio::server::Connection) {
    /// let (queued, unwritten) = connection.backlog();
    /// println!("{queued} messages queued, {unwritten} bytes unwritten");
    /// # }
    /// ```
    pub fn backlog(&self) -> (usize, usize) {
        let state = self.shared.lock();
        let queued = state
            .server
            .as_ref()
            .map_or(0, |s| s.session().pending_len());
        (queued, state.tx.len().saturating_add(state.writing))
    }

    /// Stops reading from this client for `duration` (at most about 24
    /// days): its socket fills and TCP slows it down. A broker pauses a
    /// publisher this way while a subscriber it feeds catches up; the
    /// session's timers (keep alive) run on meanwhile. A later call with an
    /// earlier end does not shorten a pause.
    ///
    /// ```no_run
    /// # fn run(publisher: mqttkit_tokio::server::Connection) {
    /// use std::time::Duration;
    /// publisher.pause_reading(Duration::from_millis(2));
    /// # }
    /// ```
    pub fn pause_reading(&self, duration: std::time::Duration) {
        let now = self.shared.now();
        let until = ShortTime::after(now, duration);
        let later = |bits: u32| {
            let current = ShortTime::from_bits(bits);
            // A pause running to a later end is kept.
            let kept = current.is_set()
                && !current.reached(now)
                && current.instant(now) >= until.instant(now);
            (!kept).then_some(until.bits())
        };
        let extended = self
            .shared
            .paused_until
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, later)
            .is_ok();
        if extended {
            // To take the pause's end into its timer.
            self.shared.lock().wake_driver();
        }
    }

    /// Takes the session over for a new connection of the same client: the
    /// client is disconnected with 0x8E Session taken over (5.0, v5
    /// [MQTT-3.1.4-3]), and once the socket is closed the session is handed
    /// here, to pass to [`super::Connecting::accept`]. `None` when the
    /// driver had already ended: the session is in the
    /// [`super::ConnectionEvent::Closed`] event.
    ///
    /// ```no_run
    /// # async fn run(old: mqttkit_tokio::server::Connection, connecting: mqttkit_tokio::server::Connecting) -> Result<(), Box<dyn std::error::Error>> {
    /// use mqttkit_tokio::server::ServerConfig;
    ///
    /// let session = old.take_over().await;
    /// let (connection, events) = connecting.accept(session, ServerConfig::default()).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn take_over(&self) -> Option<Server> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            let now = self.shared.now();
            let server = state.server.as_mut()?;
            server.take_over(now);
            state.take_transmit();
            state.take_over = Some(tx);
            state.wake_driver();
        }
        rx.await.ok()
    }
}

/// The events of one connection, in order; from
/// [`super::Connecting::accept`]. Bounded by
/// [`super::ConnectionOptions::event_capacity`]: while it is full the
/// driver does not read the socket.
///
/// Dropping it closes the connection with DISCONNECT 0x8B Server shutting
/// down (5.0): nobody would answer the client's SUBSCRIBEs any more.
#[derive(Debug)]
pub struct ConnectionEvents {
    pub(crate) shared: Arc<Shared>,
}

impl ConnectionEvents {
    /// The next event; `None` after [`super::ConnectionEvent::Closed`].
    /// Cancel safe.
    ///
    /// ```no_run
    /// # async fn run(mut events: mqttkit_tokio::server::ConnectionEvents) {
    /// use mqttkit_tokio::server::ConnectionEvent;
    ///
    /// while let Some(event) = events.recv().await {
    ///     match event {
    ///         ConnectionEvent::Session(event) => println!("{event:?}"),
    ///         ConnectionEvent::Closed(closed) => println!("closed: {:?}", closed.cause),
    ///         _ => {}
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<ConnectionEvent> {
        poll_fn(|cx| {
            let mut state = self.shared.lock();
            if let Some(event) = state.events.pop_front() {
                if state.events.len().saturating_add(1) >= self.shared.event_capacity() {
                    // There is room again: the driver may read.
                    state.wake_driver();
                }
                if state.events.is_empty() {
                    // An idle connection keeps no event storage.
                    state.events = VecDeque::new();
                }
                return Poll::Ready(Some(event));
            }
            if state.server.is_none() {
                // The driver pushes `Closed` as it lets go of the session:
                // it was taken, nothing more will come.
                return Poll::Ready(None);
            }
            state.events_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

impl Drop for ConnectionEvents {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.events_gone = true;
        state.events = VecDeque::new();
        state.events_waker = None;
        state.wake_driver();
    }
}
