//! The byte streams the drivers run over, chosen by the URL scheme, and
//! the server side's helpers to accept them.
//!
//! | Scheme     | [`Transport`]                  | Cargo feature        | Default port |
//! |------------|--------------------------------|----------------------|--------------|
//! | `mqtt://`  | [`Transport::Tcp`]             | always               | 1883         |
//! | `mqtts://` | [`Transport::Tls`]             | `tls`                | 8883         |
//! | `ws://`    | [`Transport::WebSocket`]       | `websocket`          | 80           |
//! | `wss://`   | [`Transport::SecureWebSocket`] | `tls` and `websocket`| 443          |
//!
//! The client opens them itself ([`crate::Client::connect`] with
//! [`ConnectOptions`]). A server accepts TCP and hands each connection,
//! as is or after [`accept_tls`] and/or [`accept_websocket`], to its
//! driver: every one of them is an [`Io`].

#[cfg(feature = "tls")]
pub(crate) mod tls;
#[cfg(feature = "websocket")]
pub(crate) mod ws;

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::{ConnectOptions, Error};

#[cfg(feature = "tls")]
pub use tls::{
    ClientTlsStream, ServerTlsStream, TlsAcceptor, TlsError, accept_tls, rustls,
    tls_acceptor_from_pem,
};
/// The tungstenite this crate is built with, whose error
/// [`WebSocketError::Protocol`] carries.
#[cfg(feature = "websocket")]
pub use tokio_tungstenite::tungstenite;
#[cfg(feature = "websocket")]
pub use ws::{
    DEFAULT_MAX_WEBSOCKET_MESSAGE, SUBPROTOCOL, WebSocketError, WsStream, accept_websocket,
    accept_websocket_with_limit,
};

/// How long the TLS and WebSocket handshakes may take in
/// [`crate::Client::connect`], together: as long as CONNACK may.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A byte stream the drivers can run over: any `AsyncRead + AsyncWrite`
/// that can move between tasks, such as a `TcpStream`, a TLS stream or a
/// WebSocket adapted to bytes.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A connected stream of any transport.
pub(crate) type BoxedIo = Box<dyn Io>;

/// How the client reaches the broker: the scheme of the URL, with the
/// HTTP path for WebSocket. See the [module](self) for the features each
/// needs.
///
/// ```
/// use mqttkit_tokio::ConnectOptions;
/// use mqttkit_tokio::transport::Transport;
///
/// # #[cfg(feature = "websocket")] {
/// let options = ConnectOptions::from_url("ws://broker.example/mqtt/v1")?;
/// assert_eq!(
///     options.transport(),
///     &Transport::WebSocket { path: "/mqtt/v1".into() }
/// );
/// # }
/// # Ok::<(), mqttkit_tokio::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// `mqtt://`: plain TCP.
    Tcp,
    /// `mqtts://`: TLS over TCP (feature `tls`).
    Tls,
    /// `ws://`: WebSocket over TCP (feature `websocket`).
    WebSocket {
        /// The HTTP request path, `/mqtt` unless the URL names one.
        path: String,
    },
    /// `wss://`: WebSocket over TLS (features `tls` and `websocket`).
    SecureWebSocket {
        /// The HTTP request path, `/mqtt` unless the URL names one.
        path: String,
    },
}

impl Transport {
    /// The URL scheme: `mqtt`, `mqtts`, `ws` or `wss`.
    ///
    /// ```
    /// assert_eq!(mqttkit_tokio::transport::Transport::Tls.scheme(), "mqtts");
    /// ```
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Tcp => "mqtt",
            Self::Tls => "mqtts",
            Self::WebSocket { .. } => "ws",
            Self::SecureWebSocket { .. } => "wss",
        }
    }

    /// The port when the URL names none: 1883 (`mqtt`), 8883 (`mqtts`),
    /// both registered with IANA for MQTT, and the HTTP ports 80 (`ws`)
    /// and 443 (`wss`).
    ///
    /// ```
    /// assert_eq!(mqttkit_tokio::transport::Transport::Tls.default_port(), 8883);
    /// ```
    pub fn default_port(&self) -> u16 {
        match self {
            Self::Tcp => 1883,
            Self::Tls => 8883,
            Self::WebSocket { .. } => 80,
            Self::SecureWebSocket { .. } => 443,
        }
    }

    /// Whether TLS runs below MQTT (or below the WebSocket).
    fn is_tls(&self) -> bool {
        matches!(self, Self::Tls | Self::SecureWebSocket { .. })
    }

    /// The Cargo features this build lacks for the transport, as they are
    /// written in `Cargo.toml`; `None` when it has them all.
    pub(crate) fn missing_features(&self) -> Option<&'static str> {
        let tls = !cfg!(feature = "tls") && self.is_tls();
        let websocket = !cfg!(feature = "websocket")
            && matches!(self, Self::WebSocket { .. } | Self::SecureWebSocket { .. });
        match (tls, websocket) {
            (false, false) => None,
            (true, false) => Some(r#""tls""#),
            (false, true) => Some(r#""websocket""#),
            (true, true) => Some(r#""tls", "websocket""#),
        }
    }
}

/// The options of the transports beside TCP, kept in [`ConnectOptions`].
#[derive(Debug, Clone)]
pub(crate) struct TransportOptions {
    #[cfg(feature = "tls")]
    pub(crate) tls: tls::TlsOptions,
    #[cfg(feature = "websocket")]
    pub(crate) websocket_max_message: usize,
}

// Derivable only when the `websocket` feature is off.
#[allow(clippy::derivable_impls)]
impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            #[cfg(feature = "tls")]
            tls: tls::TlsOptions::default(),
            #[cfg(feature = "websocket")]
            websocket_max_message: DEFAULT_MAX_WEBSOCKET_MESSAGE,
        }
    }
}

/// Opens the transport `options` name: TCP, then TLS and/or the
/// WebSocket handshake when the scheme asks for them.
pub(crate) async fn connect(options: &ConnectOptions) -> Result<BoxedIo, Error> {
    let transport = options.transport();
    if let Some(feature) = transport.missing_features() {
        // Only reachable if the options were made for another build.
        return Err(Error::UnsupportedScheme {
            scheme: transport.scheme().to_owned(),
            feature: Some(feature),
        });
    }
    let stream = TcpStream::connect((options.host(), options.port())).await?;
    // MQTT packets are small and often answered: do not let Nagle's
    // algorithm hold them back.
    stream.set_nodelay(true)?;
    let handshakes = handshake(options, transport, stream);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshakes).await {
        Ok(stream) => stream,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the TLS or WebSocket handshake did not complete in time",
        )
        .into()),
    }
}

/// The TLS and WebSocket handshakes the transport needs over `stream`.
async fn handshake(
    options: &ConnectOptions,
    transport: &Transport,
    stream: TcpStream,
) -> Result<BoxedIo, Error> {
    // Without the features, `options` is only read by the refusal above.
    let _ = options;
    match transport {
        #[cfg(feature = "tls")]
        Transport::Tls => Ok(Box::new(tls::connect(options, stream).await?)),
        #[cfg(feature = "websocket")]
        Transport::WebSocket { path } => Ok(Box::new(ws::connect(options, path, stream).await?)),
        #[cfg(all(feature = "tls", feature = "websocket"))]
        Transport::SecureWebSocket { path } => {
            let stream = tls::connect(options, stream).await?;
            Ok(Box::new(ws::connect(options, path, stream).await?))
        }
        // TCP, and the transports refused before connecting.
        _ => Ok(Box::new(stream)),
    }
}
