//! The server side: one task per client connection runs one
//! [`mqttkit_session::Server`] over any [`crate::transport::Io`], and the
//! broker talks to it through a cloneable [`Connection`] handle and the
//! connection's [`ConnectionEvents`].
//!
//! 1. [`Connecting::read`] reads the CONNECT, within
//!    [`ConnectionOptions::connect_timeout`].
//! 2. The broker inspects it ([`Connecting::connect`]) and either
//!    [`Connecting::refuse`]s it with a CONNACK reason code, or
//!    [`Connecting::accept`]s it with a [`ServerConfig`] and, to resume or
//!    take over a session, the client's existing [`Server`]. Accepting
//!    spawns the driver task.
//! 3. The broker reads [`ConnectionEvent`]s (PUBLISH to route, SUBSCRIBE to
//!    grant, ...) and answers through the [`Connection`]; any task holding
//!    a clone of the handle can [`Connection::deliver`] messages.
//! 4. The last event is [`ConnectionEvent::Closed`], with why and the
//!    [`Server`] to keep for the next connection while it has not expired.
//!
//! Every protocol rule stays in the session: the driver only moves bytes,
//! time and the broker's answers in, and drains the session.
//!
//! # Bounds and backpressure
//!
//! - **Events** ([`ConnectionOptions::event_capacity`]): when the queue is
//!   full the driver stops reading the socket, so a slow broker slows the
//!   client down through TCP. The queue holds at most the capacity plus the
//!   events of one socket read, plus the final `Closed`.
//! - **Unwritten bytes** ([`ConnectionOptions::max_unwritten`]): above it
//!   the driver stops reading too (a client that sends but does not read
//!   cannot make the server buffer its acknowledgements without bound), and
//!   QoS 0 deliveries are refused.
//! - **Deliveries** wait in the session's queue, bounded by
//!   [`ServerConfig::max_queued`] and [`ServerConfig::max_queued_bytes`];
//!   in flight at most the client's Receive Maximum or
//!   [`ServerConfig::inflight_window`]. [`Connection::deliver`] never
//!   waits: a delivery that does not fit is refused at once with
//!   [`DeliverError::QueueFull`] (after the session dropped the oldest
//!   queued QoS 0 messages to make room for a QoS 1 or 2 one, each reported
//!   as a `Dropped` event). It is refused the same way while this
//!   connection's event queue is full, as the outcome of every delivery is
//!   an event.

mod connecting;
mod connection;
mod driver;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mqttkit_session::{Delivery, Instant, Server, ServerCloseCause, ServerEvent};

use crate::clock::Clock;

pub use connecting::{ConnectError, Connecting, Refusal};
pub use connection::{Connection, ConnectionEvents};
pub use mqttkit_session::{DeliverError, ServerConfig};

/// The sizes, timeouts and clock of server connections. Clone one value
/// for every connection of a broker: sessions that move between
/// connections keep their deadlines on its clock.
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    pub(crate) clock: Clock,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_connect_size: u32,
    pub(crate) event_capacity: usize,
    pub(crate) max_unwritten: usize,
    pub(crate) close_timeout: Duration,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectionOptions {
    /// The defaults: a CONNECT within 10 s and of at most 256 KiB, 64
    /// events, 64 KiB unwritten, 5 s to write the last bytes on close. The
    /// clock starts now.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mqttkit_tokio::server::ConnectionOptions;
    ///
    /// let options = ConnectionOptions::new()
    ///     .connect_timeout(Duration::from_secs(5))
    ///     .event_capacity(16);
    /// # let _ = options;
    /// ```
    pub fn new() -> Self {
        Self {
            clock: Clock::start(),
            connect_timeout: Duration::from_secs(10),
            max_connect_size: 256 * 1024,
            event_capacity: 64,
            max_unwritten: 64 * 1024,
            close_timeout: Duration::from_secs(5),
        }
    }

    /// How long a new connection has to deliver its whole CONNECT; a
    /// client that sends it slowly, or not at all, is closed after it
    /// (v5 §3.1.4: a server that receives no CONNECT within a reasonable
    /// time should close the connection).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use mqttkit_tokio::server::ConnectionOptions;
    /// let options = ConnectionOptions::new().connect_timeout(Duration::from_secs(3));
    /// # let _ = options;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest CONNECT read (with its will and credentials); a larger
    /// one closes the connection, in 5.0 after CONNACK 0x95.
    ///
    /// ```
    /// # use mqttkit_tokio::server::ConnectionOptions;
    /// let options = ConnectionOptions::new().max_connect_size(16 * 1024);
    /// # let _ = options;
    /// ```
    pub fn max_connect_size(mut self, size: u32) -> Self {
        self.max_connect_size = size.max(2);
        self
    }

    /// How many events may wait for [`ConnectionEvents::recv`] before the
    /// driver stops reading the socket (at least 1).
    ///
    /// ```
    /// # use mqttkit_tokio::server::ConnectionOptions;
    /// let options = ConnectionOptions::new().event_capacity(128);
    /// # let _ = options;
    /// ```
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// How many bytes may wait to be written to a client before the driver
    /// stops reading from it and QoS 0 deliveries are refused.
    ///
    /// ```
    /// # use mqttkit_tokio::server::ConnectionOptions;
    /// let options = ConnectionOptions::new().max_unwritten(256 * 1024);
    /// # let _ = options;
    /// ```
    pub fn max_unwritten(mut self, bytes: usize) -> Self {
        self.max_unwritten = bytes.max(1);
        self
    }

    /// Once the connection is over, how long its last bytes (a DISCONNECT,
    /// a refusing CONNACK) may take to be written before the socket is
    /// dropped anyway: a client that stops reading cannot hold the task.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use mqttkit_tokio::server::ConnectionOptions;
    /// let options = ConnectionOptions::new().close_timeout(Duration::from_secs(1));
    /// # let _ = options;
    /// ```
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// The sessions' clock now: pass it to the methods of a [`Server`]
    /// kept offline (`deliver`, `handle_timeout`).
    ///
    /// ```
    /// # use mqttkit_tokio::server::ConnectionOptions;
    /// let options = ConnectionOptions::new();
    /// let now = options.now();
    /// # let _ = now;
    /// ```
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// A session deadline ([`Server::poll_timeout`]) on the tokio clock,
    /// for `tokio::time::sleep_until`; `None` beyond what it represents.
    ///
    /// ```
    /// # use mqttkit_tokio::server::ConnectionOptions;
    /// # use mqttkit_tokio::mqttkit_session::Instant;
    /// let options = ConnectionOptions::new();
    /// let at = options.deadline(Instant::from_millis(1_000));
    /// assert!(at.is_some());
    /// ```
    pub fn deadline(&self, at: Instant) -> Option<tokio::time::Instant> {
        self.clock.deadline(at)
    }
}

/// What the driver tells the broker, from [`ConnectionEvents::recv`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// What the session reports: PUBLISH to route (and acknowledge with
    /// [`Connection::ack`] under [`ServerConfig::manual_ack`]), SUBSCRIBE
    /// to answer with [`Connection::suback`], UNSUBSCRIBE to answer with
    /// [`Connection::unsuback`], deliveries completed or dropped, a will
    /// to publish now, the session's expiry. Its `Closed` comes as
    /// [`ConnectionEvent::Closed`] instead, once the socket is closed.
    Session(ServerEvent),
    /// The connection is over and the socket closed; always the last
    /// event.
    Closed(Closed),
}

/// How a connection ended, and its session.
#[derive(Debug)]
#[non_exhaustive]
pub struct Closed {
    /// Why. [`ServerCloseCause::TransportClosed`] also for a read or write
    /// error, which is in `io_error`.
    pub cause: ServerCloseCause,
    /// The session, to keep for the client's next connection unless
    /// [`Server::is_expired`] (Session Expiry Interval 0 or over), and to
    /// drive while offline (will delay, expiry: [`Server::poll_timeout`]).
    /// `None` when [`Connection::take_over`] took it.
    pub session: Option<Box<Server>>,
    /// The I/O error that ended the connection, if one did.
    pub io_error: Option<Arc<io::Error>>,
}

/// Why [`Connection::deliver`] did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliverFailed {
    /// Refused by the bounds or the session's rules: the queue is full
    /// ([`DeliverError::QueueFull`], see the module's overflow policy),
    /// No Local, QoS 0 while not connected.
    #[error("delivery refused: {0}")]
    Refused(DeliverError),
    /// The driver ended and handed the session over
    /// ([`ConnectionEvent::Closed`] or [`Connection::take_over`]): deliver
    /// there. The delivery is given back.
    #[error("the connection has ended")]
    Closed(Box<Delivery>),
}
