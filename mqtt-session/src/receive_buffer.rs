//! The receive buffer both roles decode from, and the receive loop both
//! roles run over it.

use bytes::BytesMut;
use mqttkit_codec::{Decoded, Decoder, Packet};

use crate::error::ProtocolViolation;
use crate::time::Instant;

/// The role-specific part of receiving: where the open connection keeps its
/// bytes, what a packet does, and how a violation ends the connection.
pub(crate) trait Receiver {
    /// The receive buffer and decoder of the open connection; `None` when
    /// no connection is open.
    fn receive_state(&mut self) -> Option<(&mut BytesMut, &mut Decoder)>;
    /// The violation that closed the current connection.
    fn violation(&self) -> Option<ProtocolViolation>;
    /// Acts on one packet.
    fn dispatch(&mut self, now: Instant, packet: Packet) -> Result<(), ProtocolViolation>;
    /// Ends the connection for `violation`, queueing its DISCONNECT.
    fn violate(&mut self, now: Instant, violation: ProtocolViolation) -> ProtocolViolation;
}

/// Appends `bytes` and acts on every whole packet, until one is incomplete,
/// the connection closes or the peer breaks a rule.
pub(crate) fn receive(
    role: &mut impl Receiver,
    now: Instant,
    bytes: &[u8],
) -> Result<(), ProtocolViolation> {
    if let Some(violation) = role.violation() {
        return Err(violation);
    }
    let Some((rx, _)) = role.receive_state() else {
        return Ok(());
    };
    append(rx, bytes);
    loop {
        let Some((rx, decoder)) = role.receive_state() else {
            return Ok(());
        };
        match decoder.decode(rx) {
            Ok(Decoded::Packet(packet)) => role.dispatch(now, packet)?,
            Ok(Decoded::Incomplete { .. }) => return Ok(()),
            Err(err) => return Err(role.violate(now, ProtocolViolation::malformed(err))),
        }
    }
}

/// Fresh storage is taken this many bytes at a time.
///
/// Decoded packets keep slices of the buffer they came from (zero-copy), so
/// while a received payload is still queued or in flight the buffer cannot
/// be reused and new input needs new storage. Sized to the input alone, that
/// is two allocations per read (the storage, and the shared header `bytes`
/// adds on the first split); taken in 8 KiB steps it is two per 8 KiB of
/// input instead, and a buffer is freed once nothing points into it.
const RX_CHUNK: usize = 8 * 1024;

/// Appends received bytes, growing the buffer in [`RX_CHUNK`] steps.
pub(crate) fn append(rx: &mut BytesMut, bytes: &[u8]) {
    if rx.capacity().saturating_sub(rx.len()) < bytes.len() {
        rx.reserve(bytes.len().max(RX_CHUNK));
    }
    rx.extend_from_slice(bytes);
}

/// Gives the storage back once every received byte was decoded: a server
/// holds many connections that are idle most of the time, and each would
/// otherwise keep a whole chunk. Decoded packets still pointing into the
/// storage keep it alive until they are dropped; the next read takes fresh
/// storage.
pub(crate) fn release_if_empty(rx: &mut BytesMut) {
    if rx.is_empty() && rx.capacity() > 0 {
        *rx = BytesMut::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small reads after the storage was split off share one allocation.
    #[test]
    fn small_reads_reuse_the_chunk() {
        let mut rx = BytesMut::new();
        append(&mut rx, &[1; 10]);
        let kept = rx.split().freeze();
        let capacity = rx.capacity();
        assert!(capacity >= RX_CHUNK - 10);
        append(&mut rx, &[2; 10]);
        assert_eq!(rx.capacity(), capacity, "no new storage for a small read");
        assert_eq!(&rx[..], &[2; 10]);
        assert_eq!(&kept[..], &[1; 10]);
    }
}
