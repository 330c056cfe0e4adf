//! Persistence: an incremental write-ahead stream of operations, and a
//! versioned snapshot of the whole session.
//!
//! The stream keeps what the standard calls the client's Session State (v5
//! §4.1): sent but unacknowledged QoS 1/2 messages and received QoS 2
//! messages awaiting PUBREL. [`crate::Client::poll_transmit`] releases no
//! byte while a [`PersistOp`] is waiting, so a record is always stored
//! before the packet it covers is sent. Operations that were never sent are
//! not in the stream; [`Session::snapshot`] includes them.
//!
//! Neither form stores an absolute time. The deadlines of the session are
//! the Message Expiry of queued messages and the Session Expiry; the
//! snapshot stores the time each has left, and [`Session::restore`] rebases
//! it on the new clock, minus the time spent offline. Keep-alive and
//! CONNACK timers belong to a connection and are not stored.
//!
//! The record stream carries neither the Session Expiry deadline nor
//! whether the session was established: [`Session::from_records`] counts
//! the session as established, without a deadline.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use mqttkit_codec::{
    MqttString, Packet, PacketId, ProtocolVersion, PubAckReasonCode, Publish, PublishQoS,
    Subscribe, Unsubscribe,
};

use crate::event::{Message, OpId};
use crate::ids::PacketIds;
use crate::queue::Queued;
use crate::send_flows::{OutFlow, OutFlows};
use crate::session::{Control, InQos2, Session};
use crate::time::Instant;

/// A write-ahead operation: store it (replacing by key) before sending
/// what [`crate::Client::poll_transmit`] returns next.
// Boxing the record would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PersistOp {
    /// Store or replace the outbound record keyed by its packet identifier.
    PutOutbound(OutboundRecord),
    /// Delete the outbound record with this packet identifier.
    RemoveOutbound(PacketId),
    /// Store or replace the inbound QoS 2 record keyed by its packet identifier.
    PutInbound(InboundRecord),
    /// Delete the inbound QoS 2 record with this packet identifier.
    RemoveInbound(PacketId),
}

/// An unacknowledged outbound QoS 1 or 2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRecord {
    /// Send order, to resend in the original order ([MQTT-4.6.0-1]).
    pub seq: u64,
    /// The operation.
    pub op: OpId,
    /// The PUBLISH with its packet identifier and full topic.
    pub publish: Publish,
    /// PUBREC arrived: PUBREL is resent instead of the PUBLISH.
    pub released: bool,
}

/// An inbound QoS 2 message delivered to the application, PUBREL pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundRecord {
    /// Its packet identifier.
    pub packet_id: PacketId,
    /// The application's acknowledgement, once given.
    pub acked: Option<PubAckReasonCode>,
}

/// Why a snapshot or record could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// Not a session snapshot (wrong magic).
    #[error("not a session snapshot")]
    NotASnapshot,
    /// A format version this build cannot read.
    #[error("unsupported snapshot version {0}")]
    UnsupportedVersion(u8),
    /// Truncated or inconsistent data.
    #[error("corrupt session data")]
    Corrupt,
    /// Two records share a packet identifier, or one is out of range.
    #[error("duplicate or out-of-range packet identifier")]
    PacketId,
}

const MAGIC: &[u8; 4] = b"MQSS";
/// The snapshot format written by this build. Version 2 added whether the
/// session is established and its Session Expiry; version 1 snapshots are
/// still read (as established, without expiry).
pub const SNAPSHOT_VERSION: u8 = 2;
const NO_ACK: u8 = 0xFF;
const NO_EXPIRY: u64 = u64::MAX;
// Queued operations have no identifier yet; they are stored as v5 packets
// with this placeholder.
const PLACEHOLDER: PacketId = match PacketId::new(1) {
    Some(id) => id,
    None => PacketId::from_non_zero(core::num::NonZeroU16::MIN),
};

fn put_frame(buf: &mut BytesMut, packet: &Packet) -> Result<(), RestoreError> {
    let len = packet
        .encoded_len(ProtocolVersion::V5)
        .map_err(|_| RestoreError::Corrupt)?;
    buf.put_u32(u32::try_from(len).map_err(|_| RestoreError::Corrupt)?);
    packet
        .encode(ProtocolVersion::V5, buf)
        .map_err(|_| RestoreError::Corrupt)?;
    Ok(())
}

struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize) -> Result<(), RestoreError> {
        if self.0.remaining() < n {
            Err(RestoreError::Corrupt)
        } else {
            Ok(())
        }
    }
    fn u8(&mut self) -> Result<u8, RestoreError> {
        self.need(1)?;
        Ok(self.0.get_u8())
    }
    fn u16(&mut self) -> Result<u16, RestoreError> {
        self.need(2)?;
        Ok(self.0.get_u16())
    }
    fn u32(&mut self) -> Result<u32, RestoreError> {
        self.need(4)?;
        Ok(self.0.get_u32())
    }
    fn u64(&mut self) -> Result<u64, RestoreError> {
        self.need(8)?;
        Ok(self.0.get_u64())
    }
    fn bytes(&mut self, n: usize) -> Result<Bytes, RestoreError> {
        self.need(n)?;
        Ok(self.0.split_to(n))
    }
    fn frame(&mut self) -> Result<Packet, RestoreError> {
        let len = self.u32()?;
        let frame = self.bytes(usize::try_from(len).map_err(|_| RestoreError::Corrupt)?)?;
        Packet::decode_bytes(frame, ProtocolVersion::V5).map_err(|_| RestoreError::Corrupt)
    }
    fn publish(&mut self) -> Result<Publish, RestoreError> {
        match self.frame()? {
            Packet::Publish(p) if p.topic.is_some() => Ok(p),
            _ => Err(RestoreError::Corrupt),
        }
    }
}

fn ack_byte(acked: Option<PubAckReasonCode>) -> u8 {
    acked.map_or(NO_ACK, PubAckReasonCode::code)
}

fn ack_from(byte: u8) -> Result<Option<PubAckReasonCode>, RestoreError> {
    if byte == NO_ACK {
        return Ok(None);
    }
    PubAckReasonCode::from_u8(byte)
        .map(Some)
        .ok_or(RestoreError::Corrupt)
}

impl OutboundRecord {
    /// Writes the record as bytes for a key-value store.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), RestoreError> {
        buf.put_u64(self.seq);
        buf.put_u64(self.op.0);
        buf.put_u8(u8::from(self.released));
        put_frame(buf, &Packet::Publish(self.publish.clone()))
    }

    /// Reads a record written by [`OutboundRecord::encode`].
    pub fn decode(bytes: Bytes) -> Result<Self, RestoreError> {
        let mut r = Reader(bytes);
        Self::read(&mut r)
    }

    fn read(r: &mut Reader) -> Result<Self, RestoreError> {
        let seq = r.u64()?;
        let op = OpId(r.u64()?);
        let released = r.u8()? != 0;
        let mut publish = r.publish()?;
        publish.qos = match publish.qos {
            PublishQoS::AtMostOnce => return Err(RestoreError::Corrupt),
            PublishQoS::AtLeastOnce { packet_id, .. } => PublishQoS::AtLeastOnce {
                packet_id,
                dup: false,
            },
            PublishQoS::ExactlyOnce { packet_id, .. } => PublishQoS::ExactlyOnce {
                packet_id,
                dup: false,
            },
        };
        Ok(Self {
            seq,
            op,
            publish,
            released,
        })
    }

    pub(crate) fn of(flow: &OutFlow) -> Self {
        Self {
            seq: flow.seq,
            op: flow.op,
            publish: flow.publish.clone(),
            released: flow.released,
        }
    }
}

impl InboundRecord {
    /// Writes the record as three bytes.
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        buf.put_u8(ack_byte(self.acked));
    }

    /// Reads a record written by [`InboundRecord::encode`].
    pub fn decode(bytes: Bytes) -> Result<Self, RestoreError> {
        Self::read(&mut Reader(bytes))
    }

    fn read(r: &mut Reader) -> Result<Self, RestoreError> {
        let packet_id = PacketId::new(r.u16()?).ok_or(RestoreError::Corrupt)?;
        let acked = ack_from(r.u8()?)?;
        Ok(Self { packet_id, acked })
    }
}

impl Session {
    /// Rebuilds a session from the records of the [`PersistOp`] stream
    /// (in any order: outbound records are sorted by their send order).
    /// New operation ids continue after the highest one in the records.
    ///
    /// The result counts as established ([`Session::is_established`]) and
    /// has no Session Expiry deadline, since records do not carry them: a
    /// process that was down longer than the Session Expiry Interval, or
    /// never connected, should connect with Clean Start or use
    /// [`Session::new`].
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, ConnAck, Connect, ConnectReasonCode, Instant, Message, MqttString, PersistOp, ProtocolVersion, QoS, Session, TopicName};
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let now = Instant::ZERO;
    /// # let mut config = ClientConfig::default();
    /// # config.persistence = true;
    /// # let mut client = Client::new(Session::new(id.clone()), config);
    /// # client.connect(now, Connect::new(ProtocolVersion::V5, id))?;
    /// # client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    /// # let message = Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce);
    /// # client.publish(now, message)?;
    /// // A client with `persistence` on sent a QoS 1 PUBLISH; its store keeps the records.
    /// let (mut outbound, mut inbound) = (Vec::new(), Vec::new());
    /// while let Some(op) = client.poll_persist() {
    ///     match op {
    ///         PersistOp::PutOutbound(record) => outbound.push(record),
    ///         PersistOp::PutInbound(record) => inbound.push(record),
    ///         _ => {} // removals delete by packet identifier
    ///     }
    /// }
    /// // After a restart:
    /// let session = Session::from_records(MqttString::try_from("sensor-7")?, outbound, inbound)?;
    /// assert_eq!(session.inflight().count(), 1); // resent with DUP on the next connect
    /// assert!(session.is_established());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_records(
        client_id: MqttString,
        outbound: impl IntoIterator<Item = OutboundRecord>,
        inbound: impl IntoIterator<Item = InboundRecord>,
    ) -> Result<Self, RestoreError> {
        let mut session = Session::new(client_id);
        // Records are written only by a session that connected.
        session.established = true;
        let mut out: Vec<OutboundRecord> = outbound.into_iter().collect();
        out.sort_by_key(|r| r.seq);
        let mut max_op = 0u64;
        for r in &out {
            max_op = max_op.max(r.op.0.saturating_add(1));
            session.next_seq = session.next_seq.max(r.seq.saturating_add(1));
        }
        session.next_op = max_op;
        for r in out {
            session.flows_mut().inflight.push(OutFlow {
                op: r.op,
                seq: r.seq,
                publish: r.publish,
                released: r.released,
                on_wire: false,
            });
        }
        for r in inbound {
            let entry = InQos2 {
                acked: r.acked,
                counted_on: None,
            };
            if session
                .flows_mut()
                .inbound_qos2
                .insert(r.packet_id, entry)
                .is_some()
            {
                return Err(RestoreError::PacketId);
            }
        }
        session.rebuild_ids()?;
        Ok(session)
    }

    fn rebuild_ids(&mut self) -> Result<(), RestoreError> {
        let ids = self.flows().inflight.iter().filter_map(OutFlow::packet_id);
        let ids = PacketIds::with_in_use(self.max_packet_id, ids).ok_or(RestoreError::PacketId)?;
        self.flows_mut().ids = ids;
        // A session restored without messages holds no queues.
        self.shrink_to_fit();
        Ok(())
    }

    /// The whole session at `now` as bytes (format [`SNAPSHOT_VERSION`]): client
    /// identifier, unacknowledged and queued operations in order, inbound
    /// QoS 2 state. Packets are stored as MQTT 5.0 frames, so every
    /// property survives.
    ///
    /// ```
    /// # use mqttkit_session::{Client, ClientConfig, Instant, Message, MqttString, QoS, Session, TopicName};
    /// # use std::time::Duration;
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let message = Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce);
    /// # client.publish(now, message)?;
    /// // One message waits for a connection.
    /// let bytes = client.session().snapshot(now)?; // write them to storage
    /// let restored = Session::restore(bytes, Instant::ZERO, Duration::ZERO)?;
    /// assert_eq!(restored.pending_len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self, now: Instant) -> Result<Bytes, RestoreError> {
        let mut buf = BytesMut::new();
        buf.put_slice(MAGIC);
        buf.put_u8(SNAPSHOT_VERSION);
        let id = self.client_id.as_bytes();
        buf.put_u16(u16::try_from(id.len()).map_err(|_| RestoreError::Corrupt)?);
        buf.put_slice(id);
        buf.put_u16(self.max_packet_id);
        buf.put_u64(self.next_op);
        buf.put_u64(self.next_seq);
        buf.put_u32(self.connection);
        buf.put_u8(u8::from(self.established));
        // Relative, like the Message Expiry below.
        let expiry_left = self.expires_at().map_or(NO_EXPIRY, |at| {
            at.as_millis().saturating_sub(now.as_millis())
        });
        buf.put_u64(expiry_left);
        let count = |n: usize| u32::try_from(n).map_err(|_| RestoreError::Corrupt);
        let flows = self.flows();
        buf.put_u32(count(flows.inflight.len())?);
        for flow in flows.inflight.iter() {
            OutboundRecord::of(flow).encode(&mut buf)?;
        }
        buf.put_u32(count(flows.pending.len())?);
        for q in flows.pending.iter() {
            buf.put_u64(q.op.0);
            // Relative: the time left at `now`, since instants do not
            // survive a restart.
            let left = q.expires_at.map_or(NO_EXPIRY, |at| {
                at.as_millis().saturating_sub(now.as_millis())
            });
            buf.put_u64(left);
            let m = &q.message;
            let publish = Publish::new(m.topic.clone(), m.payload.clone())
                .with_qos(PublishQoS::new(m.qos, PLACEHOLDER))
                .with_retain(m.retain)
                .with_properties(m.properties.clone());
            put_frame(&mut buf, &Packet::Publish(publish))?;
        }
        buf.put_u32(count(flows.pending_control.len())?);
        for (op, control) in &flows.pending_control {
            buf.put_u64(op.0);
            let packet = control_packet(control, PLACEHOLDER).ok_or(RestoreError::Corrupt)?;
            put_frame(&mut buf, &packet)?;
        }
        buf.put_u32(count(flows.inbound_qos2.len())?);
        for (id, entry) in &flows.inbound_qos2 {
            InboundRecord {
                packet_id: *id,
                acked: entry.acked,
            }
            .encode(&mut buf);
        }
        Ok(buf.freeze())
    }

    /// Reads a snapshot written by [`Session::snapshot`]. `now` is the
    /// current time of the restoring process and `offline_for` how long it
    /// was since the snapshot; queued messages lose that much of their
    /// Message Expiry Interval, and the session that much of its Session
    /// Expiry Interval (a deadline already passed fires at the first
    /// [`crate::Client::handle_timeout`] or [`crate::Client::connect`]).
    ///
    /// ```
    /// # use mqttkit_session::bytes::Bytes;
    /// # use mqttkit_session::{Client, ClientConfig, Instant, Message, MqttString, QoS, RestoreError, Session, TopicName};
    /// # use std::time::Duration;
    /// # let id = MqttString::try_from("sensor-7")?;
    /// # let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    /// # let now = Instant::ZERO;
    /// # let message = Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce);
    /// # client.publish(now, message)?;
    /// # let bytes = client.session().snapshot(now)?;
    /// // `bytes`: a snapshot read from storage; the process was down for a minute.
    /// let session = Session::restore(bytes, Instant::ZERO, Duration::from_secs(60))?;
    /// let client = Client::new(session, ClientConfig::default());
    /// assert_eq!(client.session().pending_len(), 1); // sent once connected
    /// let junk = Session::restore(Bytes::from_static(b"junk"), Instant::ZERO, Duration::ZERO);
    /// assert_eq!(junk.err(), Some(RestoreError::NotASnapshot));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore(
        bytes: Bytes,
        now: Instant,
        offline_for: core::time::Duration,
    ) -> Result<Self, RestoreError> {
        let mut r = Reader(bytes);
        if r.bytes(4).map_err(|_| RestoreError::NotASnapshot)?.as_ref() != MAGIC {
            return Err(RestoreError::NotASnapshot);
        }
        let version = r.u8()?;
        if !(1..=SNAPSHOT_VERSION).contains(&version) {
            return Err(RestoreError::UnsupportedVersion(version));
        }
        let id_len = r.u16()?;
        let client_id = MqttString::from_bytes(r.bytes(usize::from(id_len))?)
            .map_err(|_| RestoreError::Corrupt)?;
        let mut session = Session::with_packet_id_limit(client_id, r.u16()?);
        session.next_op = r.u64()?;
        session.next_seq = r.u64()?;
        session.connection = r.u32()?;
        session.established = true;
        if version >= 2 {
            session.established = match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(RestoreError::Corrupt),
            };
            let left = r.u64()?;
            if left != NO_EXPIRY {
                let left = core::time::Duration::from_millis(left).saturating_sub(offline_for);
                session.set_expiry(Some(now.saturating_add(left)));
            }
        }
        let mut inflight = OutFlows::default();
        for _ in 0..r.u32()? {
            let rec = OutboundRecord::read(&mut r)?;
            inflight.push(OutFlow {
                op: rec.op,
                seq: rec.seq,
                publish: rec.publish,
                released: rec.released,
                on_wire: false,
            });
        }
        session.flows_mut().inflight = inflight;
        for _ in 0..r.u32()? {
            let op = OpId(r.u64()?);
            let left = r.u64()?;
            let message = Message::from_publish(&r.publish()?).ok_or(RestoreError::Corrupt)?;
            let expires_at = (left != NO_EXPIRY).then(|| {
                let left = core::time::Duration::from_millis(left).saturating_sub(offline_for);
                now.saturating_add(left)
            });
            session.flows_mut().pending.push_back(Queued {
                op,
                message,
                expires_at,
            });
        }
        for _ in 0..r.u32()? {
            let op = OpId(r.u64()?);
            let control = match r.frame()? {
                Packet::Subscribe(s) => Control::Subscribe {
                    filters: s.filters,
                    properties: s.properties,
                },
                Packet::Unsubscribe(u) => Control::Unsubscribe {
                    filters: u.filters,
                    properties: u.properties,
                },
                _ => return Err(RestoreError::Corrupt),
            };
            session.flows_mut().pending_control.push_back((op, control));
        }
        let mut inbound = BTreeMap::new();
        for _ in 0..r.u32()? {
            let rec = InboundRecord::read(&mut r)?;
            let entry = InQos2 {
                acked: rec.acked,
                counted_on: None,
            };
            if inbound.insert(rec.packet_id, entry).is_some() {
                return Err(RestoreError::PacketId);
            }
        }
        session.flows_mut().inbound_qos2 = inbound;
        if r.0.has_remaining() {
            return Err(RestoreError::Corrupt);
        }
        session.rebuild_ids()?;
        Ok(session)
    }
}

/// The SUBSCRIBE or UNSUBSCRIBE packet for `control` with `packet_id`;
/// `None` without filters, which [`crate::Client`] never queues.
pub(crate) fn control_packet(control: &Control, packet_id: PacketId) -> Option<Packet> {
    Some(match control {
        Control::Subscribe {
            filters,
            properties,
        } => {
            let (first, options) = filters.first()?;
            let mut s = Subscribe::new(packet_id, first.clone(), *options);
            s.filters.clone_from(filters);
            s.properties = properties.clone();
            Packet::Subscribe(s)
        }
        Control::Unsubscribe {
            filters,
            properties,
        } => {
            let mut u = Unsubscribe::new(packet_id, filters.first()?.clone());
            u.filters.clone_from(filters);
            u.properties = properties.clone();
            Packet::Unsubscribe(u)
        }
    })
}
