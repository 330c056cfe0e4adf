//! Bytes queued for the transport, with large payloads shared, not copied.

use alloc::boxed::Box;
use alloc::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

/// Payloads shorter than this are copied after their head: one more
/// chunk for a vectored write costs more than copying a few hundred bytes.
const SHARED_FROM: usize = 512;

/// Bytes to write to the transport, in order: encoded packets, and the
/// payloads of large PUBLISH packets as chunks of their own. A payload
/// chunk shares the message's storage, so a server forwarding one message
/// to many subscribers writes each one's head and never copies the
/// payload.
///
/// Filled by [`Server::poll_transmit_chunks`](crate::Server::poll_transmit_chunks);
/// a driver writes [`Transmit::chunks`] with a vectored write and calls
/// [`Buf::advance`] with what was written. It implements [`Buf`], so it
/// can also be written chunk by chunk, or copied out with
/// [`Buf::copy_to_bytes`].
///
/// ```
/// use mqttkit_session::Transmit;
/// use mqttkit_session::bytes::Buf;
/// let mut queued = Transmit::new();
/// assert!(queued.is_empty());
/// // A driver: write what it holds, then drop what was written.
/// let lens: Vec<usize> = queued.chunks().map(<[u8]>::len).collect();
/// queued.advance(lens.iter().sum());
/// assert_eq!(queued.len(), 0);
/// ```
#[derive(Debug, Default)]
pub struct Transmit {
    /// The chunks before `tail`; boxed and taken only when a payload is
    /// shared, since every connection of a server holds queues like this
    /// one and most never forward a large message.
    chunks: Option<Box<Chunks>>,
    /// Packets encoded after the last chunk.
    tail: BytesMut,
}

/// Chunks queued in order, and their length in bytes.
#[derive(Debug, Default)]
struct Chunks {
    /// Never an empty one.
    queue: VecDeque<Bytes>,
    len: usize,
}

impl Chunks {
    fn push(&mut self, chunk: Bytes) {
        self.len = self.len.saturating_add(chunk.len());
        self.queue.push_back(chunk);
    }
}

impl Transmit {
    /// An empty queue; it takes no storage until bytes are queued.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes queued.
    pub fn len(&self) -> usize {
        self.chunked().saturating_add(self.tail.len())
    }

    fn chunked(&self) -> usize {
        self.chunks.as_ref().map_or(0, |c| c.len)
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queued bytes as slices, in order, for a vectored write.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks
            .iter()
            .flat_map(|c| c.queue.iter().map(|c| &c[..]))
            .chain((!self.tail.is_empty()).then_some(&self.tail[..]))
    }

    /// Drops everything queued and gives back its storage.
    pub fn release(&mut self) {
        *self = Self::new();
    }

    /// Drops everything queued, keeping the buffer for more.
    pub(crate) fn clear(&mut self) {
        self.chunks = None;
        self.tail.clear();
    }

    /// Where the next packet is encoded: after everything queued.
    pub(crate) fn buffer(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Queues `payload` after the head just encoded into
    /// [`Transmit::buffer`]: shared if it is large, copied otherwise.
    pub(crate) fn push_payload(&mut self, payload: &Bytes) {
        if payload.len() < SHARED_FROM {
            self.tail.extend_from_slice(payload);
            return;
        }
        let chunks = self.chunks.get_or_insert_with(Box::default);
        if !self.tail.is_empty() {
            chunks.push(self.tail.split().freeze());
        }
        chunks.push(payload.clone());
    }

    /// Moves everything queued to the end of `out`, leaving this queue
    /// empty.
    pub(crate) fn move_into(&mut self, out: &mut Transmit) {
        if out.is_empty() {
            core::mem::swap(self, out);
            return;
        }
        if let Some(mine) = self.chunks.take() {
            let theirs = out.chunks.get_or_insert_with(Box::default);
            if !out.tail.is_empty() {
                theirs.push(out.tail.split().freeze());
            }
            for chunk in mine.queue {
                theirs.push(chunk);
            }
        }
        out.tail.extend_from_slice(&self.tail);
        self.tail.clear();
    }

    /// Copies everything queued to the end of `out`, leaving this queue
    /// empty.
    pub(crate) fn copy_into(&mut self, out: &mut BytesMut) {
        let Some(chunks) = self.chunks.take() else {
            if out.is_empty() {
                // The common case: one buffer of packets, handed over whole.
                core::mem::swap(out, &mut self.tail);
            } else {
                out.extend_from_slice(&self.tail);
                self.tail.clear();
            }
            return;
        };
        out.reserve(chunks.len.saturating_add(self.tail.len()));
        for chunk in &chunks.queue {
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(&self.tail);
        self.tail.clear();
    }

    /// Gives back the storage of an empty queue.
    pub(crate) fn release_if_empty(&mut self) {
        if self.is_empty() {
            self.release();
        }
    }
}

impl Buf for Transmit {
    fn remaining(&self) -> usize {
        self.len()
    }

    fn chunk(&self) -> &[u8] {
        self.chunks
            .as_ref()
            .and_then(|c| c.queue.front())
            .map_or(&self.tail[..], |c| &c[..])
    }

    fn advance(&mut self, mut cnt: usize) {
        while cnt > 0 {
            let Some(chunks) = self.chunks.as_mut() else {
                self.tail.advance(cnt.min(self.tail.len()));
                return;
            };
            let Some(front) = chunks.queue.front_mut() else {
                self.chunks = None;
                continue;
            };
            if cnt < front.len() {
                front.advance(cnt);
                chunks.len = chunks.len.saturating_sub(cnt);
                return;
            }
            cnt = cnt.saturating_sub(front.len());
            chunks.len = chunks.len.saturating_sub(front.len());
            chunks.queue.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn queue(parts: &[(&[u8], &[u8])]) -> Transmit {
        let mut tx = Transmit::new();
        for (head, payload) in parts {
            tx.buffer().extend_from_slice(head);
            tx.push_payload(&Bytes::copy_from_slice(payload));
        }
        tx
    }

    fn flat(tx: &Transmit) -> Vec<u8> {
        tx.chunks().flatten().copied().collect()
    }

    #[test]
    fn large_payloads_are_shared_and_small_ones_copied() {
        let big = Bytes::from(vec![9u8; SHARED_FROM]);
        let mut tx = Transmit::new();
        tx.buffer().extend_from_slice(b"h1");
        tx.push_payload(&big);
        tx.buffer().extend_from_slice(b"h2");
        tx.push_payload(&Bytes::from_static(b"small"));
        let chunks: Vec<&[u8]> = tx.chunks().collect();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0], b"h1");
        // The same storage as the message, not a copy.
        assert_eq!(chunks[1].as_ptr(), big.as_ptr());
        assert_eq!(chunks[2], b"h2small");
        assert_eq!(tx.len(), 2 + SHARED_FROM + 7);
    }

    #[test]
    fn advance_walks_the_chunks_in_order() {
        let big = vec![7u8; SHARED_FROM + 3];
        let mut tx = queue(&[(b"ab", &big), (b"cd", b"ef")]);
        let all = flat(&tx);
        for step in [1, 2, SHARED_FROM, 3, 3] {
            let before = tx.len();
            let expected = all[all.len() - before + step..].to_vec();
            tx.advance(step);
            assert_eq!(flat(&tx), expected);
            assert_eq!(tx.remaining(), before - step);
            assert_eq!(tx.chunk(), tx.chunks().next().unwrap_or_default());
        }
        assert!(tx.is_empty());
    }

    #[test]
    fn moving_and_copying_keep_the_order() {
        let big = vec![5u8; SHARED_FROM];
        let mut first = queue(&[(b"1", &big)]);
        first.buffer().extend_from_slice(b"2");
        let mut second = queue(&[(b"3", &big), (b"4", b"5")]);
        let expected = [flat(&first), flat(&second)].concat();
        let mut copy = queue(&[(b"1", &big)]);
        copy.buffer().extend_from_slice(b"2");
        let mut second_copy = queue(&[(b"3", &big), (b"4", b"5")]);

        second.move_into(&mut first);
        assert!(second.is_empty());
        assert_eq!(flat(&first), expected);
        assert_eq!(first.len(), expected.len());

        let mut out = BytesMut::new();
        copy.copy_into(&mut out);
        second_copy.copy_into(&mut out);
        assert_eq!(&out[..], &expected[..]);
        assert!(copy.is_empty() && second_copy.is_empty());
    }

    #[test]
    fn moving_into_an_empty_queue_hands_it_over() {
        let mut from = queue(&[(b"x", b"y")]);
        let mut to = Transmit::new();
        from.move_into(&mut to);
        assert_eq!(flat(&to), b"xy");
        assert!(from.is_empty());
    }
}
