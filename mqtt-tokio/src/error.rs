//! What can go wrong: bad options, the transport, the server's answer, or a
//! connection that ended.

use std::io;
use std::sync::Arc;

use crate::StoreError;
use mqttkit_session::{ConnAck, Disconnect, EncodeError, OpError, ProtocolViolation, TopicError};

/// Why a connection could not be opened, an operation failed, or the
/// connection ended ([`crate::Event::Disconnected`]).
///
/// It is `Clone` because one cause is handed to every operation that was
/// still waiting when the connection ended; the I/O error is shared.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker URL could not be parsed.
    #[error("invalid broker URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The URL names a transport this build does not offer: an unknown
    /// scheme, or one whose Cargo feature is off.
    #[error("unsupported scheme {scheme}:// ({})", scheme_hint(*.feature))]
    UnsupportedScheme {
        /// The scheme, without `://`.
        scheme: String,
        /// The Cargo features of this crate that are missing for it, as
        /// they would be written in `Cargo.toml`: `"tls"` for `mqtts`,
        /// `"websocket"` for `ws`, one or both of them for `wss`
        /// (`"tls", "websocket"`); `None` for a scheme this crate does not
        /// know.
        feature: Option<&'static str>,
    },
    /// A string option is not a valid MQTT UTF-8 string (v5 §1.5.4).
    #[error("invalid {option}: {source}")]
    InvalidOption {
        /// The option: `client_id` or `username`.
        option: &'static str,
        /// Why the codec refused it.
        source: EncodeError,
    },
    /// A topic name or filter given as a string is not valid.
    #[error("invalid topic: {0}")]
    InvalidTopic(#[from] TopicError),
    /// The session refused the operation (queue full, QoS above the
    /// server's maximum, packet too large, ...); the connection is unaffected.
    #[error("operation refused: {0}")]
    Op(#[from] OpError),
    /// Opening, reading or writing the socket failed.
    #[error("I/O error: {0}")]
    Io(Arc<io::Error>),
    /// TLS could not be set up (CA, server name) or its handshake failed
    /// (for example, the server's certificate is not trusted).
    #[cfg(feature = "tls")]
    #[error("TLS: {0}")]
    Tls(crate::transport::TlsError),
    /// The WebSocket handshake failed or the server did not select the
    /// `mqtt` subprotocol.
    #[cfg(feature = "websocket")]
    #[error("WebSocket: {0}")]
    WebSocket(crate::transport::WebSocketError),
    /// The server refused the connection in CONNACK.
    #[error("connection refused by the server: {}", .0.reason_code)]
    Refused(Box<ConnAck>),
    /// No CONNACK arrived in time.
    #[error("no CONNACK from the server in time")]
    ConnAckTimeout,
    /// The server broke a protocol rule. In 5.0 the DISCONNECT naming the
    /// reason was written before the socket was closed.
    #[error("{0}")]
    ProtocolViolation(ProtocolViolation),
    /// The server sent DISCONNECT.
    #[error("disconnected by the server: {}", .0.reason_code)]
    ByServer(Box<Disconnect>),
    /// No PINGRESP arrived in time after PINGREQ: the connection was
    /// declared dead.
    #[error("keep-alive timeout: no PINGRESP from the server")]
    KeepAliveTimeout,
    /// The server closed the connection without DISCONNECT.
    #[error("the server closed the connection")]
    ConnectionClosed,
    /// The client is closed: [`crate::Client::disconnect`] was called, or
    /// the connection had already ended.
    #[error("the client is closed")]
    Closed,
    /// The session store could not load or keep the state: the client
    /// ends rather than send what it could not store.
    #[error("session store: {0}")]
    Store(Arc<StoreError>),
    /// A [`crate::ConnectOptions::store`] keeps one client's session: it
    /// needs a client identifier.
    #[error("a session store needs a client identifier")]
    StoreNeedsClientId,
}

/// What to do about an unsupported scheme.
fn scheme_hint(feature: Option<&'static str>) -> String {
    match feature {
        Some(feature) => format!("needs mqttkit-tokio built with features = [{feature}]"),
        None => "expected mqtt, mqtts, ws or wss".to_owned(),
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Self::Io(Arc::new(err))
    }
}
