//! One MQTT connection of the generator: a read half that yields decoded
//! packets and a write half, both over loopback TCP.

use std::io;
use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::wire::{self, Packet};

/// The read half with its buffer of bytes not yet decoded.
#[derive(Debug)]
pub struct Reader {
    half: OwnedReadHalf,
    buf: BytesMut,
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl Reader {
    /// The next whole packet, reading from the socket as needed.
    pub async fn next(&mut self) -> io::Result<Packet> {
        loop {
            if let Some(p) = self.try_next()? {
                return Ok(p);
            }
            self.fill().await?;
        }
    }

    /// The next packet already buffered, without reading.
    pub fn try_next(&mut self) -> io::Result<Option<Packet>> {
        wire::next_packet(&mut self.buf).map_err(invalid)
    }

    /// Reads once from the socket into the buffer.
    pub async fn fill(&mut self) -> io::Result<()> {
        self.buf.reserve(64 * 1024);
        if self.half.read_buf(&mut self.buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the broker closed the connection",
            ));
        }
        Ok(())
    }
}

/// Connects, sends CONNECT (and SUBSCRIBE to `filter` at `qos` when given)
/// in one write, and waits for CONNACK (and SUBACK).
pub async fn open(
    addr: SocketAddr,
    client_id: &str,
    subscription: Option<(&str, u8)>,
) -> io::Result<(Reader, OwnedWriteHalf)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (half, mut writer) = stream.into_split();
    let mut reader = Reader {
        half,
        buf: BytesMut::with_capacity(4096),
    };
    let mut out = BytesMut::with_capacity(128);
    wire::connect(&mut out, client_id);
    if let Some((filter, qos)) = subscription {
        wire::subscribe(&mut out, 1, filter, qos);
    }
    writer.write_all(&out).await?;
    match reader.next().await? {
        Packet::ConnAck(0) => {}
        Packet::ConnAck(code) => {
            return Err(invalid(format!("CONNACK refused with {code:#04x}")));
        }
        other => return Err(invalid(format!("expected CONNACK, got {other:?}"))),
    }
    if subscription.is_some() {
        match reader.next().await? {
            Packet::SubAck(code) if code != 0x80 => {}
            other => return Err(invalid(format!("expected a granted SUBACK, got {other:?}"))),
        }
    }
    Ok((reader, writer))
}
