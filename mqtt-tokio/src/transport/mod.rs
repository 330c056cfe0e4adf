//! The byte streams the driver runs over, chosen by the URL scheme.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::{ConnectOptions, Error};

/// A byte stream the drivers can run over: any `AsyncRead + AsyncWrite`
/// that can move between tasks, such as a `TcpStream`, a TLS stream or a
/// WebSocket adapted to bytes.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A connected stream of any transport.
pub(crate) type BoxedIo = Box<dyn Io>;

/// Opens the transport `options` name.
pub(crate) async fn connect(options: &ConnectOptions) -> Result<BoxedIo, Error> {
    let stream = TcpStream::connect((options.host(), options.port())).await?;
    // MQTT packets are small and often answered: do not let Nagle's
    // algorithm hold them back.
    stream.set_nodelay(true)?;
    Ok(Box::new(stream))
}
