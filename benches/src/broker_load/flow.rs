//! The two loops every scenario is made of: a publisher that keeps a window
//! of unacknowledged QoS 1 messages, and a subscriber that acknowledges,
//! checks for duplicates and measures latency.

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Semaphore;

use super::conn::Reader;
use super::wire::{self, Packet};

/// Every payload: message id, send time, padding.
pub const PAYLOAD_LEN: usize = 64;

/// How long a publisher waits for end-to-end credit before it assumes the
/// broker dropped the messages holding it.
const CREDIT_WAIT: Duration = Duration::from_secs(2);

/// The most PUBLISH packets encoded into one write.
const BATCH: u32 = 64;

fn closed(_: tokio::sync::AcquireError) -> io::Error {
    io::Error::other("window closed")
}

/// Nanoseconds since `epoch`, the time base of the payload timestamps.
pub fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn payload(id: u64, sent: u64) -> [u8; PAYLOAD_LEN] {
    let mut p = [0x5A; PAYLOAD_LEN];
    let (head, _) = p.split_at_mut(16);
    let (a, b) = head.split_at_mut(8);
    a.copy_from_slice(&id.to_be_bytes());
    b.copy_from_slice(&sent.to_be_bytes());
    p
}

fn parse_payload(p: &[u8]) -> Option<(u64, u64)> {
    let id = u64::from_be_bytes(p.get(..8)?.try_into().ok()?);
    let sent = u64::from_be_bytes(p.get(8..16)?.try_into().ok()?);
    Some((id, sent))
}

/// What one publisher sends.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// The topic of every message.
    pub topic: String,
    /// 0 or 1.
    pub qos: u8,
    /// The message ids, one message each.
    pub ids: Range<u64>,
    /// Unacknowledged QoS 1 messages allowed on the connection.
    pub window: u32,
    /// End-to-end bounds: one permit per message from each, returned by
    /// the subscriber that receives it.
    pub credits: Vec<Arc<Semaphore>>,
    /// One message per tick instead of as fast as the window allows.
    pub interval: Option<Duration>,
    /// The time base of the payload timestamps.
    pub epoch: Instant,
}

impl Publisher {
    /// Publishes every message and, for QoS 1, waits for every PUBACK.
    /// Returns when the last one was acknowledged (or written, for QoS 0).
    pub async fn run(self, reader: Reader, mut writer: OwnedWriteHalf) -> io::Result<Instant> {
        let total = self.ids.end.saturating_sub(self.ids.start);
        let window = Arc::new(Semaphore::new(usize::try_from(self.window).unwrap_or(1)));
        let acks = (self.qos > 0).then(|| tokio::spawn(read_acks(reader, total, window.clone())));
        let mut ticker = self.interval.map(|i| {
            let mut t = tokio::time::interval(i);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        let mut out = BytesMut::with_capacity(8192);
        let mut next = self.ids.start;
        let mut packet_id: u16 = 0;
        while next < self.ids.end {
            let left = self.ids.end.saturating_sub(next);
            let mut n: u32 = 1;
            if let Some(t) = ticker.as_mut() {
                t.tick().await;
            }
            if self.qos > 0 {
                window.acquire().await.map_err(closed)?.forget();
                while u64::from(n) < left && n < BATCH && self.interval.is_none() {
                    match window.try_acquire() {
                        Ok(p) => p.forget(),
                        Err(_) => break,
                    }
                    n = n.saturating_add(1);
                }
            } else if self.interval.is_none() {
                n = u32::try_from(left.min(u64::from(BATCH))).unwrap_or(1);
            }
            for credit in &self.credits {
                // A message the broker dropped never returns its permit:
                // past a wait this long, go on and let the count show it.
                let wait = tokio::time::timeout(CREDIT_WAIT, credit.acquire_many(n));
                if let Ok(permit) = wait.await {
                    permit.map_err(closed)?.forget();
                }
            }
            let sent = nanos_since(self.epoch);
            for _ in 0..n {
                packet_id = packet_id.checked_add(1).unwrap_or(1);
                wire::publish(
                    &mut out,
                    &self.topic,
                    self.qos,
                    packet_id,
                    &payload(next, sent),
                );
                next = next.saturating_add(1);
            }
            writer.write_all(&out).await?;
            out.clear();
        }
        if let Some(acks) = acks {
            acks.await.map_err(io::Error::other)??;
        }
        let end = Instant::now();
        let mut bye = BytesMut::new();
        wire::disconnect(&mut bye);
        // The messages are counted already; a broker that closed first
        // does not make the run fail.
        let _ = writer.write_all(&bye).await;
        Ok(end)
    }
}

async fn read_acks(mut reader: Reader, total: u64, window: Arc<Semaphore>) -> io::Result<()> {
    let mut acked = 0u64;
    while acked < total {
        if let Packet::PubAck(_) = reader.next().await? {
            acked = acked.saturating_add(1);
            window.add_permits(1);
        }
    }
    Ok(())
}

/// What one subscriber received.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// PUBLISH packets received.
    pub count: u64,
    /// Messages received more than once.
    pub duplicates: u64,
    /// Messages whose id was outside the ids sent.
    pub unknown: u64,
    /// When the first and the last message arrived.
    pub first: Option<Instant>,
    /// When the last message arrived.
    pub last: Option<Instant>,
    /// End-to-end latency of each message in microseconds, when asked for.
    pub latencies_us: Vec<u32>,
}

/// How a subscriber runs.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// Stop once this many messages arrived.
    pub expected: u64,
    /// Ids are below this; each is expected once.
    pub id_limit: u64,
    /// Returned one permit per message received.
    pub credit: Option<Arc<Semaphore>>,
    /// Set once the publishers are done: from then on, `idle` without a
    /// message ends the subscriber (for messages the broker dropped).
    pub done: Arc<AtomicBool>,
    /// See `done`.
    pub idle: Duration,
    /// Record the latency of each message.
    pub latency: bool,
    /// The time base of the payload timestamps.
    pub epoch: Instant,
}

impl Subscriber {
    /// Receives until `expected` messages arrived or the publishers are
    /// done and nothing came for `idle`; acknowledges QoS 1 deliveries.
    pub async fn run(self, mut reader: Reader, mut writer: OwnedWriteHalf) -> io::Result<Received> {
        let mut got = Received::default();
        let words = usize::try_from(self.id_limit.div_ceil(64)).unwrap_or(0);
        let mut seen = vec![0u64; words];
        let mut acks = BytesMut::with_capacity(4096);
        loop {
            let mut batch = 0usize;
            while let Some(packet) = reader.try_next()? {
                let Packet::Publish {
                    qos,
                    packet_id,
                    payload,
                } = packet
                else {
                    continue;
                };
                let now = Instant::now();
                got.first.get_or_insert(now);
                got.last = Some(now);
                got.count = got.count.saturating_add(1);
                batch = batch.saturating_add(1);
                if qos > 0 {
                    wire::puback(&mut acks, packet_id);
                }
                let Some((id, sent)) = parse_payload(&payload) else {
                    got.unknown = got.unknown.saturating_add(1);
                    continue;
                };
                let word = usize::try_from(id / 64).ok().and_then(|w| seen.get_mut(w));
                match word {
                    Some(w) if *w & (1 << (id % 64)) != 0 => {
                        got.duplicates = got.duplicates.saturating_add(1);
                    }
                    Some(w) => *w |= 1 << (id % 64),
                    None => got.unknown = got.unknown.saturating_add(1),
                }
                if self.latency {
                    let us = nanos_since(self.epoch).saturating_sub(sent) / 1000;
                    got.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                }
            }
            if !acks.is_empty() {
                writer.write_all(&acks).await?;
                acks.clear();
            }
            if let Some(credit) = &self.credit {
                credit.add_permits(batch);
            }
            if got.count >= self.expected {
                return Ok(got);
            }
            match tokio::time::timeout(self.idle, reader.fill()).await {
                Ok(r) => r?,
                Err(_) if self.done.load(Ordering::Acquire) => return Ok(got),
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_carries_id_and_time() {
        let p = payload(12_345, 678);
        assert_eq!(p.len(), PAYLOAD_LEN);
        assert_eq!(parse_payload(&p), Some((12_345, 678)));
        assert_eq!(parse_payload(&p[..10]), None);
    }
}
