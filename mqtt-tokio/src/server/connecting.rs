//! A new connection until its CONNECT is answered: read within a
//! deadline, then accepted (the driver starts) or refused.

use std::io;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};

use mqttkit_session::bytes::{Bytes, BytesMut};
use mqttkit_session::{
    ConnAck, Connect, ConnectReasonCode, Encoder, Incoming, IncomingError, MqttString, Packet,
    ProtocolVersion, Server, ServerConfig, Transmit,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connection::{Shared, State};
use super::driver::{Driver, Handler};
use super::{Connection, ConnectionEvent, ConnectionEvents, ConnectionOptions};
use crate::transport::{BoxedIo, Io};

/// The first read while waiting for CONNECT, and the least the buffer
/// grows by: a typical CONNECT fits, and a slow or silent peer holds
/// little.
const FIRST_READ: usize = 64;

/// Why no CONNECT could be taken from a new connection; the connection
/// is closed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// No whole CONNECT within [`ConnectionOptions::connect_timeout`].
    #[error("no CONNECT in time")]
    Timeout,
    /// The peer closed the connection before its CONNECT was whole.
    #[error("the peer closed the connection before CONNECT")]
    Closed,
    /// Reading or writing the socket failed.
    #[error("I/O error: {0}")]
    Io(Arc<io::Error>),
    /// The first packet is not a valid CONNECT (v5 [MQTT-3.1.0-1],
    /// [MQTT-3.1.4-1]); the CONNACK the version allows, if any, was written
    /// before closing.
    #[error("{0}")]
    Invalid(IncomingError),
}

impl From<io::Error> for ConnectError {
    fn from(err: io::Error) -> Self {
        Self::Io(Arc::new(err))
    }
}

/// A CONNECT refused: its CONNACK was written and the connection closed.
#[derive(Debug, thiserror::Error)]
#[error("connection refused: {code}")]
#[non_exhaustive]
pub struct Refusal {
    /// The code of the CONNACK.
    pub code: ConnectReasonCode,
    /// The session passed to [`Connecting::accept`], given back.
    pub session: Option<Box<Server>>,
}

/// A connection whose CONNECT arrived, neither accepted nor refused yet.
pub struct Connecting {
    io: BoxedIo,
    incoming: Incoming,
    /// Bytes that came after the CONNECT.
    rest: Bytes,
    options: ConnectionOptions,
}

impl std::fmt::Debug for Connecting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connecting")
            .field("incoming", &self.incoming)
            .finish_non_exhaustive()
    }
}

impl Connecting {
    /// Reads the CONNECT from a new connection, within
    /// [`ConnectionOptions::connect_timeout`] for the whole of it: a client
    /// that sends it byte by byte is closed like one that sends nothing.
    /// A first packet that is not a valid CONNECT closes the connection
    /// (v5 [MQTT-3.1.0-1], [MQTT-3.1.4-1]), after the CONNACK the version
    /// allows (an unsupported protocol level gets 0x01 / 0x84).
    ///
    /// ```no_run
    /// use mqttkit_tokio::server::{Connecting, ConnectionOptions};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:1883").await?;
    /// let options = ConnectionOptions::new();
    /// loop {
    ///     let (stream, _) = listener.accept().await?;
    ///     let options = options.clone();
    ///     tokio::spawn(async move {
    ///         match Connecting::read(stream, &options).await {
    ///             Ok(connecting) => println!("CONNECT from {}", connecting.client_id()),
    ///             Err(e) => println!("no CONNECT: {e}"),
    ///         }
    ///     });
    /// }
    /// # }
    /// ```
    pub async fn read(io: impl Io, options: &ConnectionOptions) -> Result<Self, ConnectError> {
        let mut io: BoxedIo = Box::new(io);
        let mut buf = BytesMut::new();
        let max = options.max_connect_size;
        let read = async {
            loop {
                if buf.capacity() == buf.len() {
                    buf.reserve(buf.len().max(FIRST_READ));
                }
                if io.read_buf(&mut buf).await? == 0 {
                    return Err(ConnectError::Closed);
                }
                match Incoming::read(&mut buf, Some(max)) {
                    Ok(Some(incoming)) => return Ok(incoming),
                    Ok(None) => {}
                    Err(err) => return Err(ConnectError::Invalid(err)),
                }
            }
        };
        let incoming = match tokio::time::timeout(options.connect_timeout, read).await {
            Ok(Ok(incoming)) => incoming,
            Ok(Err(ConnectError::Invalid(err))) => {
                if let Some(reply) = &err.reply {
                    close_with(&mut io, reply, options).await;
                }
                return Err(ConnectError::Invalid(err));
            }
            Ok(Err(err)) => return Err(err),
            Err(_) => return Err(ConnectError::Timeout),
        };
        Ok(Self {
            io,
            incoming,
            rest: buf.split().freeze(),
            options: options.clone(),
        })
    }

    /// The CONNECT: client identifier, Clean Start, credentials, will,
    /// limits, 5.0 properties.
    ///
    /// ```no_run
    /// # fn run(connecting: mqttkit_tokio::server::Connecting) {
    /// let login = &connecting.connect().login;
    /// let user = login.username.as_ref().map(|u| u.as_str());
    /// # let _ = user;
    /// # }
    /// ```
    pub fn connect(&self) -> &Connect {
        self.incoming.connect()
    }

    /// The client identifier (an assigned one after
    /// [`Connecting::assign_client_id`]).
    ///
    /// ```no_run
    /// # fn run(connecting: mqttkit_tokio::server::Connecting) {
    /// println!("CONNECT from {}", connecting.client_id());
    /// # }
    /// ```
    pub fn client_id(&self) -> &MqttString {
        self.incoming.client_id()
    }

    /// The protocol version the client speaks.
    ///
    /// ```no_run
    /// # fn run(connecting: mqttkit_tokio::server::Connecting) {
    /// use mqttkit_tokio::ProtocolVersion;
    /// let v5 = connecting.version() == ProtocolVersion::V5;
    /// # let _ = v5;
    /// # }
    /// ```
    pub fn version(&self) -> ProtocolVersion {
        self.incoming.version()
    }

    /// Gives a client that sent an empty identifier one of ours
    /// ([`Incoming::assign_client_id`]); the error is the code to refuse
    /// with where the version forbids it.
    ///
    /// ```no_run
    /// # async fn run(mut connecting: mqttkit_tokio::server::Connecting) -> Result<(), Box<dyn std::error::Error>> {
    /// use mqttkit_tokio::mqttkit_session::MqttString;
    ///
    /// if connecting.client_id().is_empty() {
    ///     if let Err(code) = connecting.assign_client_id(MqttString::try_from("auto-1")?) {
    ///         connecting.refuse(code).await;
    ///         return Ok(());
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn assign_client_id(&mut self, id: MqttString) -> Result<(), ConnectReasonCode> {
        self.incoming.assign_client_id(id)
    }

    /// Refuses the connection: writes CONNACK `code` (in 3.1.1 its return
    /// code, see [`Incoming::refuse`]) and closes (v5 [MQTT-3.2.2-7]). A
    /// code below 0x80 is no refusal and becomes 0x80 Unspecified error.
    ///
    /// ```no_run
    /// # async fn run(connecting: mqttkit_tokio::server::Connecting) {
    /// use mqttkit_tokio::ConnectReasonCode;
    /// connecting.refuse(ConnectReasonCode::BadUserNameOrPassword).await;
    /// # }
    /// ```
    pub async fn refuse(self, code: ConnectReasonCode) {
        self.refuse_with(ConnAck::new(false, code)).await;
    }

    /// [`Connecting::refuse`] with CONNACK properties (5.0): a Reason
    /// String, Server Reference (with 0x9C Use another server), User
    /// Properties. They are left out when the client's Maximum Packet Size
    /// cannot hold them (v5 [MQTT-3.1.2-24]), and in 3.1.1. Session Present
    /// is always 0 (v5 [MQTT-3.2.2-6]).
    ///
    /// ```no_run
    /// # async fn run(connecting: mqttkit_tokio::server::Connecting) -> Result<(), Box<dyn std::error::Error>> {
    /// use mqttkit_tokio::ConnectReasonCode;
    /// use mqttkit_tokio::mqttkit_session::{ConnAck, MqttString};
    ///
    /// let mut connack = ConnAck::new(false, ConnectReasonCode::UseAnotherServer);
    /// connack.properties.server_reference = Some(MqttString::try_from("mqtt-2.example.com")?);
    /// connecting.refuse_with(connack).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn refuse_with(self, mut connack: ConnAck) {
        if !connack.reason_code.is_error() {
            connack.reason_code = ConnectReasonCode::UnspecifiedError;
        }
        connack.session_present = false;
        let code = connack.reason_code;
        let mut reply = None;
        if self.version().is_v5() {
            let mut encoder = Encoder::new(ProtocolVersion::V5);
            if let Some(max) = self.connect().properties.maximum_packet_size {
                encoder = encoder.with_max_packet_size(max.get());
            }
            let mut out = BytesMut::new();
            if encoder.encode(&Packet::from(connack), &mut out).is_ok() {
                reply = Some(out.freeze());
            }
        }
        let Self {
            mut io,
            incoming,
            options,
            ..
        } = self;
        let reply = reply.unwrap_or_else(|| incoming.refuse(code));
        close_with(&mut io, &reply, &options).await;
    }

    /// Accepts the connection with the client's existing session (to
    /// resume it, or to take it over: see [`Connection::take_over`]) or a
    /// new one, writes CONNACK and spawns the driver task (call it within
    /// a tokio runtime). Clean Start discards `session`
    /// ([`Incoming::accept`] says what else is refused: an empty
    /// identifier not assigned, a will `config` cannot publish); then the
    /// refusing CONNACK is written, the connection closed, and `session`
    /// given back in the [`Refusal`].
    ///
    /// The CONNACK carries what `config` announces (Receive Maximum,
    /// Maximum Packet Size, Topic Alias Maximum, ...).
    ///
    /// ```no_run
    /// # async fn run(connecting: mqttkit_tokio::server::Connecting) -> Result<(), Box<dyn std::error::Error>> {
    /// use mqttkit_tokio::server::{ConnectionEvent, ServerConfig};
    ///
    /// let config = ServerConfig { manual_ack: true, ..ServerConfig::default() };
    /// let (connection, mut events) = connecting.accept(None, config).await?;
    /// while let Some(event) = events.recv().await {
    ///     if let ConnectionEvent::Closed(closed) = event {
    ///         println!("{} closed: {:?}", connection.client_id(), closed.cause);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn accept(
        self,
        session: Option<Server>,
        config: ServerConfig,
    ) -> Result<(Connection, ConnectionEvents), Refusal> {
        let connection = self.start(session, config, |_| None).await?;
        let events = ConnectionEvents {
            shared: Arc::clone(&connection.shared),
        };
        Ok((connection, events))
    }

    /// [`Connecting::accept`] without an event stream: the driver task
    /// runs the handler `make` returns on each event, in order, as the
    /// session reports it. `make` is called with the connection's handle
    /// before the driver starts, so that the broker can register it before
    /// any event. This saves a task per connection and a wake-up per event;
    /// the handler must not block (it runs on the driver task, which reads
    /// nothing meanwhile: that is the backpressure). It must answer through
    /// the handle ([`Connection::suback`], [`Connection::ack`], ...), as
    /// for the stream; the last event is [`ConnectionEvent::Closed`].
    ///
    /// ```no_run
    /// # async fn run(connecting: mqttkit_tokio::server::Connecting) -> Result<(), Box<dyn std::error::Error>> {
    /// use mqttkit_tokio::mqttkit_session::ServerEvent;
    /// use mqttkit_tokio::server::{ConnectionEvent, ServerConfig};
    /// use mqttkit_tokio::SubAckReasonCode;
    ///
    /// let connection = connecting
    ///     .accept_with_handler(None, ServerConfig::default(), |connection| {
    ///         let connection = connection.clone();
    ///         move |event| {
    ///             if let ConnectionEvent::Session(ServerEvent::Subscribe { packet_id, requests, .. }) = event {
    ///                 let codes = requests.iter().map(|r| SubAckReasonCode::granted(r.options.qos)).collect();
    ///                 let _ = connection.suback(packet_id, codes);
    ///             }
    ///         }
    ///     })
    ///     .await?;
    /// println!("{} connected", connection.client_id());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn accept_with_handler<H>(
        self,
        session: Option<Server>,
        config: ServerConfig,
        make: impl FnOnce(&Connection) -> H,
    ) -> Result<Connection, Refusal>
    where
        H: FnMut(ConnectionEvent) + Send + 'static,
    {
        self.start(session, config, |connection| {
            Some(Box::new(make(connection)) as Handler)
        })
        .await
    }

    async fn start(
        self,
        session: Option<Server>,
        config: ServerConfig,
        handler: impl FnOnce(&Connection) -> Option<Handler>,
    ) -> Result<Connection, Refusal> {
        let Self {
            mut io,
            incoming,
            rest,
            options,
        } = self;
        let version = incoming.version();
        let now = options.now();
        let mut server = match incoming.accept(now, session, config) {
            Ok(server) => server,
            Err(refused) => {
                close_with(&mut io, &refused.reply, &options).await;
                return Err(Refusal {
                    code: refused.code,
                    session: refused.session,
                });
            }
        };
        if !rest.is_empty() {
            server.handle_bytes(now, &rest);
        }
        drop(rest);
        let client_id = server.client_id().clone();
        let shared = Arc::new(Shared {
            clock: options.clock,
            event_capacity: u32::try_from(options.event_capacity).unwrap_or(u32::MAX),
            max_unwritten: u32::try_from(options.max_unwritten).unwrap_or(u32::MAX),
            paused_until: AtomicU32::new(0),
            state: Mutex::new(State {
                server: Some(server),
                tx: Transmit::new(),
                writing: 0,
                events: Default::default(),
                events_gone: false,
                take_over: None,
                driver_woken: false,
                driver_waker: None,
                events_waker: None,
            }),
        });
        let connection = Connection {
            shared: Arc::clone(&shared),
            client_id,
            version,
        };
        let handler = handler(&connection);
        let driver = Driver::new(io, Arc::clone(&shared), options.close_timeout, handler);
        tokio::spawn(driver.run());
        Ok(connection)
    }
}

/// Writes `reply`, then closes; within the close timeout, as the peer may
/// not read.
async fn close_with(io: &mut BoxedIo, reply: &[u8], options: &ConnectionOptions) {
    let write = async {
        io.write_all(reply).await?;
        io.shutdown().await
    };
    let _ = tokio::time::timeout(options.close_timeout, write).await;
}
