//! Byte streams for the example client beside plain TCP: TLS (rustls)
//! and WebSocket (tokio-tungstenite, MQTT 5.0 §6 / 3.1.1 §6). Each ends as
//! an [`Io`], a tokio byte stream, so the MQTT code above it is the same
//! for every transport; the library crates know nothing of any of them.

pub mod tls;
pub mod ws;

use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream: TCP, TLS over TCP, or a WebSocket bridged
/// to bytes.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Any transport, for code that picks one at run time.
pub type BoxedIo = Box<dyn Io>;
