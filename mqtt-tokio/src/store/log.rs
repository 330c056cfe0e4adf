//! The file format of [`crate::FileStore`]: a header naming the format and
//! the client, then framed records. Encoding and decoding only; the file
//! handling is in `file.rs`.
//!
//! ```text
//! header:  "MQTKSTOR" | version u8 | client id length u16 | client id | CRC-32 u32
//! frame:   body length u32 | CRC-32 u32 of the length | CRC-32 u32 of the body | body
//! body:    kind u8 | fields
//! ```
//!
//! Integers are big-endian. The first frame after the header is always a
//! checkpoint: it gives the number of in-flight, inbound and queued
//! records of the live state that follow it, written together and synced
//! before the file took its name, so none of them can be torn. Every
//! frame after them is one appended [`Record`].
//!
//! The length has a checksum of its own, so that a damaged length is never
//! taken for a record running past the end of the file (which would look
//! like a torn append and hide the records after it), and so that a run of
//! zeros, what some file systems show after a crash in the middle of an
//! append, never reads as a valid empty record. It also makes looking for
//! a valid record after a damaged one cost one small checksum per byte.

use mqttkit_session::bytes::{Buf, BufMut, Bytes, BytesMut};
use mqttkit_session::mqttkit_codec::{Packet, PacketId, ProtocolVersion, Publish, PublishQoS};
use mqttkit_session::{InboundRecord, Message, OutboundRecord, PersistOp};

use super::{Record, StoreError, Stored, message_in};

/// The first bytes of every store file.
pub(crate) const MAGIC: [u8; 8] = *b"MQTKSTOR";
/// The format version this build writes and reads.
pub(crate) const VERSION: u8 = 1;
/// Length and checksums in front of every body.
pub(crate) const FRAME_HEADER: usize = 12;

const ACCEPTED: u8 = 1;
const PUT_OUTBOUND: u8 = 2;
const REMOVE_OUTBOUND: u8 = 3;
const PUT_INBOUND: u8 = 4;
const REMOVE_INBOUND: u8 = 5;
const RENUMBERED: u8 = 6;
const DROPPED: u8 = 7;
const ESTABLISHED: u8 = 8;
const CHECKPOINT: u8 = 9;

/// A queued message is stored as an MQTT 5.0 PUBLISH, so that every
/// property survives; it has no packet identifier yet, so this one stands
/// in (and is not read back).
const PLACEHOLDER: PacketId = match PacketId::new(1) {
    Some(id) => id,
    None => PacketId::from_non_zero(core::num::NonZeroU16::MIN),
};

const CRC_TABLE: [u32; 256] = crc_table();

// Evaluated at compile time, where an index out of range or an overflow
// fails the build instead of panicking.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut n = 0u32;
    while n < 256 {
        let mut crc = n;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[n as usize] = crc;
        n += 1;
    }
    table
}

/// CRC-32 (IEEE 802.3, the one of zip and PNG) of the concatenated parts.
pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = !0u32;
    for part in parts {
        for &byte in *part {
            let index = usize::try_from((crc ^ u32::from(byte)) & 0xFF).unwrap_or(0);
            crc = (crc >> 8) ^ CRC_TABLE.get(index).copied().unwrap_or(0);
        }
    }
    !crc
}

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

pub(crate) fn invalid_input(what: impl Into<String>) -> StoreError {
    StoreError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        what.into(),
    ))
}

/// Writes the header for `client_id`.
pub(crate) fn put_header(buf: &mut BytesMut, client_id: &str) -> Result<(), StoreError> {
    let id = client_id.as_bytes();
    let len = u16::try_from(id.len())
        .map_err(|_| invalid_input("a client identifier is at most 65535 bytes"))?;
    let start = buf.len();
    buf.put_slice(&MAGIC);
    buf.put_u8(VERSION);
    buf.put_u16(len);
    buf.put_slice(id);
    let crc = crc32(&[buf.get(start..).unwrap_or_default()]);
    buf.put_u32(crc);
    Ok(())
}

/// Appends one frame holding the body `encode` writes, refusing a body
/// longer than `max_body`. On error `buf` is as it was.
fn put_frame(
    buf: &mut BytesMut,
    max_body: u32,
    encode: impl FnOnce(&mut BytesMut) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let start = buf.len();
    buf.put_bytes(0, FRAME_HEADER);
    let written = encode(buf).and_then(|()| {
        let body = buf.get(start.saturating_add(FRAME_HEADER)..).unwrap_or_default();
        let len = u32::try_from(body.len())
            .ok()
            .filter(|len| *len <= max_body)
            .ok_or_else(|| {
                invalid_input(format!(
                    "a record of {} bytes is longer than the maximum record size of {max_body} bytes",
                    body.len()
                ))
            })?;
        let len_bytes = len.to_be_bytes();
        let mut header = [0u8; FRAME_HEADER];
        for (to, from) in header.iter_mut().zip(
            len_bytes
                .into_iter()
                .chain(crc32(&[&len_bytes]).to_be_bytes())
                .chain(crc32(&[body]).to_be_bytes()),
        ) {
            *to = from;
        }
        if let Some(at) = buf.get_mut(start..start.saturating_add(FRAME_HEADER)) {
            at.copy_from_slice(&header);
        }
        Ok(())
    });
    if written.is_err() {
        buf.truncate(start);
    }
    written
}

fn put_message(buf: &mut BytesMut, message: &Message) -> Result<(), StoreError> {
    let publish = Publish::new(message.topic.clone(), message.payload.clone())
        .with_qos(PublishQoS::new(message.qos, PLACEHOLDER))
        .with_retain(message.retain)
        .with_properties(message.properties.clone());
    Packet::Publish(publish)
        .encode(ProtocolVersion::V5, buf)
        .map_err(|e| invalid_input(format!("a message cannot be stored: {e}")))?;
    Ok(())
}

/// Appends `record` as one frame. Returns `false`, writing nothing, for a
/// session operation this crate does not know: [`Stored::apply`] keeps
/// nothing of it either.
pub(crate) fn put_record(
    buf: &mut BytesMut,
    record: &Record,
    max_body: u32,
) -> Result<bool, StoreError> {
    if let Record::Session(op) = record
        && !matches!(
            op,
            PersistOp::PutOutbound(_)
                | PersistOp::RemoveOutbound(_)
                | PersistOp::PutInbound(_)
                | PersistOp::RemoveInbound(_)
        )
    {
        return Ok(false);
    }
    put_frame(buf, max_body, |buf| {
        match record {
            Record::Accepted { op, message } => {
                buf.put_u8(ACCEPTED);
                buf.put_u64(*op);
                put_message(buf, message)?;
            }
            Record::Session(PersistOp::PutOutbound(put)) => {
                if put.publish.qos.packet_id().is_none() || put.publish.topic.is_none() {
                    return Err(invalid_input(
                        "an in-flight record needs QoS 1 or 2 and a topic name",
                    ));
                }
                buf.put_u8(PUT_OUTBOUND);
                put.encode(buf)
                    .map_err(|e| invalid_input(format!("a message cannot be stored: {e}")))?;
            }
            Record::Session(PersistOp::RemoveOutbound(id)) => {
                buf.put_u8(REMOVE_OUTBOUND);
                buf.put_u16(id.get());
            }
            Record::Session(PersistOp::PutInbound(put)) => {
                buf.put_u8(PUT_INBOUND);
                put.encode(buf);
            }
            Record::Session(PersistOp::RemoveInbound(id)) => {
                buf.put_u8(REMOVE_INBOUND);
                buf.put_u16(id.get());
            }
            // Filtered out above.
            Record::Session(_) => {}
            Record::Renumbered { old, new } => {
                buf.put_u8(RENUMBERED);
                buf.put_u64(*old);
                buf.put_u64(*new);
            }
            Record::Dropped { op } => {
                buf.put_u8(DROPPED);
                buf.put_u64(*op);
            }
            Record::Established => buf.put_u8(ESTABLISHED),
        }
        Ok(())
    })?;
    Ok(true)
}

/// Why a state cannot be written as a checkpoint: it is not one that
/// [`Stored::apply`] produces, and reading it back would give another.
pub(crate) fn check_state(state: &Stored) -> Result<(), String> {
    let mut ids = std::collections::BTreeSet::new();
    for record in &state.outbound {
        let id = record
            .publish
            .qos
            .packet_id()
            .ok_or("an in-flight message has QoS 0")?;
        if !ids.insert(id) {
            return Err(format!(
                "two in-flight messages hold packet identifier {}",
                id.get()
            ));
        }
    }
    let mut ids = std::collections::BTreeSet::new();
    for record in &state.inbound {
        if !ids.insert(record.packet_id) {
            return Err(format!(
                "two inbound messages hold packet identifier {}",
                record.packet_id.get()
            ));
        }
    }
    if state.queued.windows(2).any(|w| match w {
        [(a, _), (b, _)] => a >= b,
        _ => false,
    }) {
        return Err("the queued operations are not in strictly ascending order".into());
    }
    Ok(())
}

/// Appends the header and a checkpoint of `state`: the content of a
/// freshly compacted file.
pub(crate) fn put_checkpoint(
    buf: &mut BytesMut,
    client_id: &str,
    state: &Stored,
    max_body: u32,
) -> Result<(), StoreError> {
    check_state(state).map_err(invalid_input)?;
    let count = |n: usize| {
        u32::try_from(n).map_err(|_| invalid_input("more than 2^32 records in one state"))
    };
    put_header(buf, client_id)?;
    let (outbound, inbound, queued) = (
        count(state.outbound.len())?,
        count(state.inbound.len())?,
        count(state.queued.len())?,
    );
    put_frame(buf, max_body, |buf| {
        buf.put_u8(CHECKPOINT);
        buf.put_u8(u8::from(state.established));
        buf.put_u32(outbound);
        buf.put_u32(inbound);
        buf.put_u32(queued);
        Ok(())
    })?;
    for put in &state.outbound {
        put_record(
            buf,
            &Record::Session(PersistOp::PutOutbound(put.clone())),
            max_body,
        )?;
    }
    for put in &state.inbound {
        put_record(buf, &Record::Session(PersistOp::PutInbound(*put)), max_body)?;
    }
    for (op, message) in &state.queued {
        let record = Record::Accepted {
            op: *op,
            message: message.clone(),
        };
        put_record(buf, &record, max_body)?;
    }
    Ok(())
}

/// A decoded frame body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Checkpoint {
        established: bool,
        outbound: u32,
        inbound: u32,
        queued: u32,
    },
    Record(Record),
}

fn need(body: &Bytes, n: usize, kind: &str) -> Result<(), StoreError> {
    if body.remaining() < n {
        return Err(corrupt(format!("a {kind} record is cut short")));
    }
    Ok(())
}

fn packet_id(body: &mut Bytes, kind: &str) -> Result<PacketId, StoreError> {
    need(body, 2, kind)?;
    PacketId::new(body.get_u16())
        .ok_or_else(|| corrupt(format!("a {kind} record has packet identifier 0")))
}

fn finished(body: &Bytes, kind: &str) -> Result<(), StoreError> {
    if body.has_remaining() {
        return Err(corrupt(format!("a {kind} record has trailing bytes")));
    }
    Ok(())
}

/// Reads one frame body; `body` passed its checksum.
pub(crate) fn decode_body(mut body: Bytes) -> Result<Entry, StoreError> {
    need(&body, 1, "empty")?;
    let kind = body.get_u8();
    let entry = match kind {
        ACCEPTED => {
            need(&body, 8, "queued")?;
            let op = body.get_u64();
            let publish = match Packet::decode_bytes(body, ProtocolVersion::V5) {
                Ok(Packet::Publish(publish)) => publish,
                _ => return Err(corrupt("a queued record holds no valid PUBLISH")),
            };
            let message = message_in(publish)
                .ok_or_else(|| corrupt("a queued record holds a PUBLISH without topic"))?;
            return Ok(Entry::Record(Record::Accepted { op, message }));
        }
        PUT_OUTBOUND => {
            // seq, op, released, then a length-prefixed PUBLISH, which
            // must end the body.
            need(&body, 21, "in-flight")?;
            let frame_len = body
                .get(17..21)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
                .and_then(|len| usize::try_from(len).ok());
            if frame_len.and_then(|len| len.checked_add(21)) != Some(body.len()) {
                return Err(corrupt("an in-flight record's length does not match"));
            }
            let record = OutboundRecord::decode(body)
                .map_err(|e| corrupt(format!("an in-flight record cannot be read: {e}")))?;
            return Ok(Entry::Record(Record::Session(PersistOp::PutOutbound(
                record,
            ))));
        }
        REMOVE_OUTBOUND => Record::Session(PersistOp::RemoveOutbound(packet_id(
            &mut body,
            "in-flight removal",
        )?)),
        PUT_INBOUND => {
            need(&body, 3, "inbound")?;
            let record = InboundRecord::decode(body.split_to(3))
                .map_err(|e| corrupt(format!("an inbound record cannot be read: {e}")))?;
            Record::Session(PersistOp::PutInbound(record))
        }
        REMOVE_INBOUND => Record::Session(PersistOp::RemoveInbound(packet_id(
            &mut body,
            "inbound removal",
        )?)),
        RENUMBERED => {
            need(&body, 16, "renumbering")?;
            Record::Renumbered {
                old: body.get_u64(),
                new: body.get_u64(),
            }
        }
        DROPPED => {
            need(&body, 8, "drop")?;
            Record::Dropped { op: body.get_u64() }
        }
        ESTABLISHED => Record::Established,
        CHECKPOINT => {
            need(&body, 13, "checkpoint")?;
            let established = match body.get_u8() {
                0 => false,
                1 => true,
                other => {
                    return Err(corrupt(format!(
                        "a checkpoint has established flag {other}"
                    )));
                }
            };
            let entry = Entry::Checkpoint {
                established,
                outbound: body.get_u32(),
                inbound: body.get_u32(),
                queued: body.get_u32(),
            };
            finished(&body, "checkpoint")?;
            return Ok(entry);
        }
        other => return Err(corrupt(format!("unknown record kind {other}"))),
    };
    finished(&body, "fixed-size")?;
    Ok(Entry::Record(entry))
}

/// What a frame at some offset is.
enum Frame<'a> {
    /// Complete, and both checksums match.
    Valid { body: &'a [u8], end: usize },
    /// Its header is cut short, or its (intact) length runs past the end
    /// of the file: what an append interrupted by a crash leaves.
    Incomplete,
    /// The length fails its checksum: where the next frame starts is
    /// unknown.
    BadHeader,
    /// The body fails its checksum; `to_end` when it is exactly the rest
    /// of the file.
    BadBody { to_end: bool },
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(<[u8; 4]>::try_from(bytes).ok()?))
}

fn frame_at(data: &[u8], at: usize) -> Frame<'_> {
    let (Some(len), Some(len_crc), Some(crc)) = (
        u32_at(data, at),
        u32_at(data, at.saturating_add(4)),
        u32_at(data, at.saturating_add(8)),
    ) else {
        return Frame::Incomplete;
    };
    if crc32(&[&len.to_be_bytes()]) != len_crc {
        return Frame::BadHeader;
    }
    let start = at.saturating_add(FRAME_HEADER);
    let body = usize::try_from(len)
        .ok()
        .and_then(|len| start.checked_add(len))
        .and_then(|end| data.get(start..end));
    let Some(body) = body else {
        return Frame::Incomplete;
    };
    let end = start.saturating_add(body.len());
    if crc32(&[body]) != crc {
        return Frame::BadBody {
            to_end: end == data.len(),
        };
    }
    Frame::Valid { body, end }
}

/// The first offset after `from` at which a valid frame starts. Linear:
/// a body is summed only where a length passed its checksum.
fn valid_frame_after(data: &[u8], from: usize) -> Option<usize> {
    (from.saturating_add(1)..data.len())
        .find(|&at| matches!(frame_at(data, at), Frame::Valid { .. }))
}

/// A store file, read.
#[derive(Debug)]
pub(crate) struct Replay {
    /// The state the records describe.
    pub(crate) state: Stored,
    /// How many bytes at the end were a torn append and are not part of
    /// the log.
    pub(crate) torn: u64,
}

/// Reads the header's client identifier and checks it.
fn read_header(data: &[u8], client_id: &str) -> Result<usize, StoreError> {
    if data.len() < MAGIC.len() {
        return Err(StoreError::Foreign(format!(
            "{} bytes, shorter than the header",
            data.len()
        )));
    }
    if data.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(StoreError::Foreign(
            "the file does not start with MQTKSTOR".into(),
        ));
    }
    let short = || corrupt("the header is cut short");
    let version = *data.get(8).ok_or_else(short)?;
    if version != VERSION {
        return Err(StoreError::Foreign(format!(
            "format version {version}; this build reads version {VERSION}"
        )));
    }
    let id_len = data
        .get(9..11)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(u16::from_be_bytes)
        .ok_or_else(short)?;
    let id_end = 11usize.saturating_add(usize::from(id_len));
    let id = data.get(11..id_end).ok_or_else(short)?;
    let crc = u32_at(data, id_end).ok_or_else(short)?;
    if crc32(&[data.get(..id_end).unwrap_or_default()]) != crc {
        return Err(corrupt("the header fails its checksum"));
    }
    let id = std::str::from_utf8(id).map_err(|_| corrupt("the client identifier is not UTF-8"))?;
    if id != client_id {
        return Err(StoreError::OtherClient {
            stored: id.to_owned(),
            expected: client_id.to_owned(),
        });
    }
    Ok(id_end.saturating_add(4))
}

/// Where the reader is in the file.
enum Section {
    /// Before the checkpoint.
    Start,
    /// Inside the checkpoint: this many records of each kind still to come.
    Checkpoint {
        outbound: u32,
        inbound: u32,
        queued: u32,
    },
    /// Appended records.
    Log,
}

/// Adds one record of the checkpoint to `state`, checking that it is the
/// kind due and does not contradict the ones before it.
fn checkpoint_record(
    state: &mut Stored,
    section: &mut Section,
    record: Record,
) -> Result<(), StoreError> {
    let Section::Checkpoint {
        outbound,
        inbound,
        queued,
    } = section
    else {
        return Ok(());
    };
    match record {
        Record::Session(PersistOp::PutOutbound(put)) if *outbound > 0 => {
            let id = put.publish.qos.packet_id();
            if state
                .outbound
                .iter()
                .any(|r| r.publish.qos.packet_id() == id)
            {
                return Err(corrupt(
                    "the checkpoint holds two in-flight messages with one packet identifier",
                ));
            }
            state.outbound.push(put);
            *outbound = outbound.saturating_sub(1);
        }
        Record::Session(PersistOp::PutInbound(put)) if *outbound == 0 && *inbound > 0 => {
            if state.inbound.iter().any(|r| r.packet_id == put.packet_id) {
                return Err(corrupt(
                    "the checkpoint holds two inbound messages with one packet identifier",
                ));
            }
            state.inbound.push(put);
            *inbound = inbound.saturating_sub(1);
        }
        Record::Accepted { op, message } if *outbound == 0 && *inbound == 0 && *queued > 0 => {
            if state.queued.last().is_some_and(|(last, _)| *last >= op) {
                return Err(corrupt(
                    "the checkpoint's queued operations are out of order",
                ));
            }
            state.queued.push((op, message));
            *queued = queued.saturating_sub(1);
        }
        _ => return Err(corrupt("the checkpoint holds a record it did not announce")),
    }
    if (*outbound, *inbound, *queued) == (0, 0, 0) {
        *section = Section::Log;
    }
    Ok(())
}

/// Reads a whole store file. Allocates no more than `data` holds: every
/// record is copied out of it once, and no count read from it sizes a
/// buffer.
pub(crate) fn read(data: &[u8], client_id: &str, max_body: u32) -> Result<Replay, StoreError> {
    let mut at = read_header(data, client_id)?;
    let mut state = Stored::default();
    let mut section = Section::Start;
    let torn = loop {
        if at == data.len() {
            break 0;
        }
        let (body, end) = match frame_at(data, at) {
            Frame::Valid { body, end } => (body, end),
            Frame::Incomplete | Frame::BadBody { to_end: true } => {
                break data.len().saturating_sub(at);
            }
            Frame::BadHeader | Frame::BadBody { to_end: false } => {
                match valid_frame_after(data, at) {
                    Some(next) => {
                        return Err(corrupt(format!(
                            "the record at byte {at} fails its checksum, and a valid one follows at byte {next}"
                        )));
                    }
                    // Nothing readable follows: an append torn in a way
                    // that damaged more than its end (a power loss can
                    // leave zeros or stale bytes there).
                    None => break data.len().saturating_sub(at),
                }
            }
        };
        let len = body.len();
        if u32::try_from(len).map_or(true, |len| len > max_body) {
            return Err(corrupt(format!(
                "a record of {len} bytes at byte {at} is longer than the maximum record size of {max_body} bytes"
            )));
        }
        let entry = decode_body(Bytes::copy_from_slice(body))?;
        match (&section, entry) {
            (
                Section::Start,
                Entry::Checkpoint {
                    established,
                    outbound,
                    inbound,
                    queued,
                },
            ) => {
                state.established = established;
                section = if (outbound, inbound, queued) == (0, 0, 0) {
                    Section::Log
                } else {
                    Section::Checkpoint {
                        outbound,
                        inbound,
                        queued,
                    }
                };
            }
            (Section::Start, Entry::Record(_)) => {
                return Err(corrupt("the file does not begin with a checkpoint"));
            }
            (Section::Checkpoint { .. }, Entry::Record(record)) => {
                checkpoint_record(&mut state, &mut section, record)?;
            }
            (Section::Log, Entry::Record(record)) => state.apply(&record),
            (_, Entry::Checkpoint { .. }) => {
                return Err(corrupt(format!("a second checkpoint at byte {at}")));
            }
        }
        at = end;
    };
    match section {
        Section::Log => {}
        // The checkpoint was synced before the file took its name: a
        // missing part is damage, not a torn append.
        Section::Start => return Err(corrupt("the file has no checkpoint")),
        Section::Checkpoint { .. } => {
            return Err(corrupt("the file ends inside its checkpoint"));
        }
    }
    Ok(Replay {
        state,
        torn: u64::try_from(torn).unwrap_or(u64::MAX),
    })
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, clippy::field_reassign_with_default)]
pub(crate) mod tests {
    use mqttkit_session::bytes::{BufMut, BytesMut};
    use mqttkit_session::mqttkit_codec::{
        MqttString, Packet, PacketId, ProtocolVersion, Publish, PublishQoS,
    };
    use mqttkit_session::{
        InboundRecord, Message, OutboundRecord, PersistOp, PubAckReasonCode, QoS, TopicName,
    };

    use super::*;

    const MAX: u32 = 1 << 20;

    /// An in-flight record as the session writes it (its operation number
    /// can only be made by the session crate's decoder).
    pub(crate) fn outbound(seq: u64, op: u64, id: u16, qos: QoS, payload: &[u8]) -> OutboundRecord {
        let publish = Publish::new(
            TopicName::try_from("plant/line-1").unwrap(),
            payload.to_vec(),
        )
        .with_qos(PublishQoS::new(qos, PacketId::new(id).unwrap()));
        let packet = Packet::Publish(publish);
        let mut buf = BytesMut::new();
        buf.put_u64(seq);
        buf.put_u64(op);
        buf.put_u8(u8::from(seq.is_multiple_of(2)));
        buf.put_u32(packet.encoded_len(ProtocolVersion::V5).unwrap() as u32);
        packet.encode(ProtocolVersion::V5, &mut buf).unwrap();
        OutboundRecord::decode(buf.freeze()).unwrap()
    }

    pub(crate) fn message(qos: QoS, payload: &[u8]) -> Message {
        let mut message = Message::new(
            TopicName::try_from("plant/line-1/temp").unwrap(),
            payload.to_vec(),
            qos,
        );
        message.retain = true;
        message.properties.message_expiry_interval = Some(3600);
        message
            .properties
            .set_content_type(Some(MqttString::try_from("text/plain").unwrap()));
        message
            .properties
            .set_correlation_data(Some(b"corr"[..].into()));
        message.properties.push_user_property(
            MqttString::try_from("site").unwrap(),
            MqttString::try_from("north").unwrap(),
        );
        message
    }

    fn id(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    /// One record of every kind the format knows.
    pub(crate) fn every_kind() -> Vec<Record> {
        vec![
            Record::Accepted {
                op: 0,
                message: Message::new(TopicName::try_from("a").unwrap(), &b""[..], QoS::AtMostOnce),
            },
            Record::Accepted {
                op: 7,
                message: message(QoS::ExactlyOnce, b"21.5"),
            },
            Record::Session(PersistOp::PutOutbound(outbound(
                3,
                7,
                12,
                QoS::AtLeastOnce,
                b"x",
            ))),
            Record::Session(PersistOp::PutOutbound(outbound(
                4,
                8,
                65535,
                QoS::ExactlyOnce,
                &[0xFF; 300],
            ))),
            Record::Session(PersistOp::RemoveOutbound(id(12))),
            Record::Session(PersistOp::PutInbound(InboundRecord {
                packet_id: id(5),
                acked: None,
            })),
            Record::Session(PersistOp::PutInbound(InboundRecord {
                packet_id: id(6),
                acked: Some(PubAckReasonCode::QuotaExceeded),
            })),
            Record::Session(PersistOp::RemoveInbound(id(6))),
            Record::Renumbered {
                old: 8,
                new: u64::MAX,
            },
            Record::Dropped { op: 9 },
            Record::Established,
        ]
    }

    /// The frames of `buf`, decoded.
    fn frames(data: &[u8]) -> Vec<Entry> {
        let mut at = 0;
        let mut entries = Vec::new();
        while at < data.len() {
            let Frame::Valid { body, end } = frame_at(data, at) else {
                panic!("bad frame at {at}")
            };
            entries.push(decode_body(Bytes::copy_from_slice(body)).unwrap());
            at = end;
        }
        entries
    }

    /// A store file: a checkpoint of `state`, then `records`.
    pub(crate) fn file(state: &Stored, records: &[Record]) -> Vec<u8> {
        let mut buf = BytesMut::new();
        put_checkpoint(&mut buf, "sensor-7", state, MAX).unwrap();
        for record in records {
            assert!(put_record(&mut buf, record, MAX).unwrap());
        }
        buf.to_vec()
    }

    fn model(records: &[Record]) -> Stored {
        let mut state = Stored::default();
        for record in records {
            state.apply(record);
        }
        state
    }

    fn header_len() -> usize {
        let mut buf = BytesMut::new();
        put_header(&mut buf, "sensor-7").unwrap();
        buf.len()
    }

    /// Appends a frame with `body` and a correct checksum.
    fn raw_frame(data: &mut Vec<u8>, body: &[u8]) {
        let len = (body.len() as u32).to_be_bytes();
        data.extend_from_slice(&len);
        data.extend_from_slice(&crc32(&[&len]).to_be_bytes());
        data.extend_from_slice(&crc32(&[body]).to_be_bytes());
        data.extend_from_slice(body);
    }

    fn corrupt_message(result: Result<Replay, StoreError>) -> String {
        match result {
            Err(StoreError::Corrupt(message)) => message,
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn crc32_matches_the_ieee_check_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[]), 0);
    }

    #[test]
    fn every_record_kind_round_trips() {
        let records = every_kind();
        let mut buf = BytesMut::new();
        for record in &records {
            assert!(put_record(&mut buf, record, MAX).unwrap());
        }
        let decoded: Vec<Entry> = frames(&buf);
        let expected: Vec<Entry> = records.into_iter().map(Entry::Record).collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn a_checkpoint_round_trips_the_state() {
        let state = model(&every_kind()[..4]);
        assert_eq!((state.queued.len(), state.outbound.len()), (1, 2));
        let mut state = state;
        state.inbound.push(InboundRecord {
            packet_id: id(9),
            acked: Some(PubAckReasonCode::Success),
        });
        state.established = true;
        let replay = read(&file(&state, &[]), "sensor-7", MAX).unwrap();
        assert_eq!(replay.state, state);
        assert_eq!(replay.torn, 0);
    }

    #[test]
    fn the_log_replays_like_the_model() {
        let records = every_kind();
        let replay = read(&file(&Stored::default(), &records), "sensor-7", MAX).unwrap();
        assert_eq!(replay.state, model(&records));
        assert!(replay.state.established);
    }

    #[test]
    fn unknown_session_operations_are_not_written() {
        // Only the four operations exist today; the filter is checked
        // through a record that is written, and the empty append.
        let mut buf = BytesMut::new();
        assert!(put_record(&mut buf, &Record::Established, MAX).unwrap());
        assert_eq!(buf.len(), FRAME_HEADER + 1);
    }

    #[test]
    fn a_record_over_the_maximum_is_refused_and_nothing_written() {
        let mut buf = BytesMut::new();
        put_record(&mut buf, &Record::Established, 64).unwrap();
        let before = buf.clone();
        let big = Record::Accepted {
            op: 1,
            message: message(QoS::AtLeastOnce, &[0; 100]),
        };
        match put_record(&mut buf, &big, 64) {
            Err(StoreError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput),
            other => panic!("{other:?}"),
        }
        assert_eq!(buf, before);
    }

    #[test]
    fn refuses_what_is_not_a_store() {
        for junk in [
            &b""[..],
            b"MQTK",
            b"not a store at all",
            b"MQGWLOG1\0\0\0\0",
        ] {
            assert!(
                matches!(read(junk, "sensor-7", MAX), Err(StoreError::Foreign(_))),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn refuses_a_newer_format_version() {
        let mut data = file(&Stored::default(), &[]);
        data[8] = VERSION + 1;
        match read(&data, "sensor-7", MAX) {
            Err(StoreError::Foreign(message)) => {
                assert!(message.contains("version 2"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_another_clients_file() {
        let data = file(&Stored::default(), &[Record::Established]);
        match read(&data, "sensor-8", MAX) {
            Err(StoreError::OtherClient { stored, expected }) => {
                assert_eq!(
                    (stored.as_str(), expected.as_str()),
                    ("sensor-7", "sensor-8")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_a_damaged_header() {
        let mut data = file(&Stored::default(), &[]);
        data[12] ^= 1; // inside the client identifier
        assert!(corrupt_message(read(&data, "sensor-7", MAX)).contains("header"));
        let data = file(&Stored::default(), &[]);
        assert!(corrupt_message(read(&data[..14], "sensor-7", MAX)).contains("header"));
    }

    #[test]
    fn refuses_an_unknown_record_kind() {
        let mut data = file(&Stored::default(), &[]);
        raw_frame(&mut data, &[200, 1, 2, 3]);
        assert!(corrupt_message(read(&data, "sensor-7", MAX)).contains("unknown record kind 200"));
    }

    #[test]
    fn refuses_a_record_that_passed_its_checksum_but_does_not_read() {
        let cases: [&[u8]; 6] = [
            &[],                                          // no kind
            &[DROPPED, 0, 0],                             // cut short
            &[ESTABLISHED, 0],                            // trailing byte
            &[REMOVE_OUTBOUND, 0, 0],                     // packet identifier 0
            &[ACCEPTED, 0, 0, 0, 0, 0, 0, 0, 1, 0x30, 0], // PUBLISH without topic
            &[PUT_INBOUND, 0, 1, 0x42],                   // not a PUBREC reason code
        ];
        for body in cases {
            let mut data = file(&Stored::default(), &[]);
            raw_frame(&mut data, body);
            corrupt_message(read(&data, "sensor-7", MAX));
        }
    }

    #[test]
    fn refuses_a_damaged_record_followed_by_a_valid_one() {
        let records = every_kind();
        let data = file(&Stored::default(), &records);
        let clean = read(&data, "sensor-7", MAX).unwrap();
        assert_eq!(clean.state, model(&records));
        // Every byte of every record but the last: a flipped bit there
        // leaves valid records behind it.
        let mut last_start = 0;
        let mut at = header_len();
        while let Frame::Valid { end, .. } = frame_at(&data, at) {
            last_start = at;
            at = end;
        }
        for byte in header_len()..last_start {
            let mut damaged = data.clone();
            damaged[byte] ^= 0x10;
            let message = corrupt_message(read(&damaged, "sensor-7", MAX));
            assert!(
                message.contains("checksum") || message.contains("checkpoint"),
                "byte {byte}: {message}"
            );
        }
    }

    #[test]
    fn refuses_contradicting_records() {
        let header = || {
            let mut buf = BytesMut::new();
            put_header(&mut buf, "sensor-7").unwrap();
            buf.to_vec()
        };
        let checkpoint = |outbound: u32, inbound: u32, queued: u32| {
            let mut body = vec![CHECKPOINT, 1];
            for n in [outbound, inbound, queued] {
                body.extend_from_slice(&n.to_be_bytes());
            }
            body
        };
        let body = |record: &Record| {
            let mut buf = BytesMut::new();
            put_record(&mut buf, record, MAX).unwrap();
            buf[FRAME_HEADER..].to_vec()
        };
        let put = |id: u16| {
            body(&Record::Session(PersistOp::PutOutbound(outbound(
                1,
                1,
                id,
                QoS::AtLeastOnce,
                b"p",
            ))))
        };
        let put_in = |id: u16| {
            body(&Record::Session(PersistOp::PutInbound(InboundRecord {
                packet_id: PacketId::new(id).unwrap(),
                acked: None,
            })))
        };
        let accepted = |op: u64| {
            body(&Record::Accepted {
                op,
                message: message(QoS::AtLeastOnce, b"m"),
            })
        };
        let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
            ("begin with a checkpoint", vec![body(&Record::Established)]),
            ("no checkpoint", vec![]),
            (
                "second checkpoint",
                vec![checkpoint(0, 0, 0), checkpoint(0, 0, 0)],
            ),
            (
                "ends inside its checkpoint",
                vec![checkpoint(2, 0, 0), put(1)],
            ),
            ("did not announce", vec![checkpoint(1, 0, 0), put_in(1)]),
            (
                "did not announce",
                vec![checkpoint(0, 1, 1), accepted(1), put_in(1)],
            ),
            (
                "one packet identifier",
                vec![checkpoint(2, 0, 0), put(1), put(1)],
            ),
            (
                "one packet identifier",
                vec![checkpoint(0, 2, 0), put_in(3), put_in(3)],
            ),
            (
                "out of order",
                vec![checkpoint(0, 0, 2), accepted(5), accepted(5)],
            ),
            (
                "out of order",
                vec![checkpoint(0, 0, 2), accepted(5), accepted(4)],
            ),
        ];
        for (expected, bodies) in cases {
            let mut data = header();
            for body in &bodies {
                raw_frame(&mut data, body);
            }
            let message = corrupt_message(read(&data, "sensor-7", MAX));
            assert!(message.contains(expected), "{expected}: {message}");
        }
    }

    #[test]
    fn refuses_a_valid_record_longer_than_the_maximum() {
        let records = [
            Record::Accepted {
                op: 1,
                message: message(QoS::AtLeastOnce, &[7; 500]),
            },
            Record::Established,
        ];
        let data = file(&Stored::default(), &records);
        assert_eq!(read(&data, "sensor-7", MAX).unwrap().state, model(&records));
        assert!(corrupt_message(read(&data, "sensor-7", 256)).contains("maximum record size"));
    }

    /// Cuts the file at every byte of its last record, and damages every
    /// byte of it: each time, the record is a torn tail, cut off, and the
    /// records before it are all there.
    fn torn_at_every_byte(state: &Stored, records: &[Record]) {
        let (last, before) = records.split_last().unwrap();
        let intact = file(state, before);
        let data = file(state, records);
        let mut expected = state.clone();
        for record in before {
            expected.apply(record);
        }
        for cut in intact.len()..data.len() {
            let replay = read(&data[..cut], "sensor-7", MAX).unwrap();
            assert_eq!(replay.state, expected, "cut at {cut}");
            assert_eq!(replay.torn, (cut - intact.len()) as u64);
            let mut damaged = data.clone();
            damaged[cut] ^= 0x01;
            let replay = read(&damaged, "sensor-7", MAX).unwrap();
            assert_eq!(replay.state, expected, "damaged at {cut}");
            assert_eq!(replay.torn, (data.len() - intact.len()) as u64);
        }
        let mut full = expected;
        full.apply(last);
        assert_eq!(read(&data, "sensor-7", MAX).unwrap().state, full);
    }

    #[test]
    fn a_torn_last_record_is_cut_off_at_every_byte() {
        let records = every_kind();
        for n in 1..=records.len() {
            torn_at_every_byte(&Stored::default(), &records[..n]);
        }
        // After a checkpoint with content.
        let state = model(&records[..4]);
        torn_at_every_byte(&state, &[Record::Established, Record::Dropped { op: 7 }]);
    }

    #[test]
    fn a_torn_checkpoint_is_corrupt_not_torn() {
        let state = model(&every_kind()[..4]);
        let data = file(&state, &[]);
        let header = header_len();
        for cut in header + 1..data.len() {
            corrupt_message(read(&data[..cut], "sensor-7", MAX));
        }
    }

    #[test]
    fn a_tail_of_zeros_is_torn_not_an_empty_record() {
        let records = every_kind();
        let mut data = file(&Stored::default(), &records);
        let len = data.len();
        for zeros in [1, 8, 9, 64, 4096] {
            data.truncate(len);
            data.resize(len + zeros, 0);
            let replay = read(&data, "sensor-7", MAX).unwrap();
            assert_eq!(replay.state, model(&records));
            assert_eq!(replay.torn, zeros as u64);
        }
    }

    #[test]
    fn a_damaged_length_field_at_the_end_is_torn() {
        let records = every_kind();
        let mut data = file(&Stored::default(), &records);
        let len = data.len();
        // A frame header whose length fails its checksum, and a few bytes.
        data.extend_from_slice(&u32::MAX.to_be_bytes());
        data.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let replay = read(&data, "sensor-7", MAX).unwrap();
        assert_eq!(replay.state, model(&records));
        assert_eq!(replay.torn, (data.len() - len) as u64);
    }

    #[test]
    fn states_apply_cannot_produce_are_refused() {
        let mut state = Stored::default();
        state
            .outbound
            .push(outbound(1, 1, 4, QoS::AtLeastOnce, b""));
        state
            .outbound
            .push(outbound(2, 2, 4, QoS::ExactlyOnce, b""));
        assert!(
            check_state(&state)
                .unwrap_err()
                .contains("packet identifier 4")
        );
        let mut state = Stored::default();
        state.queued.push((2, message(QoS::AtMostOnce, b"")));
        state.queued.push((1, message(QoS::AtMostOnce, b"")));
        assert!(check_state(&state).unwrap_err().contains("ascending"));
        let mut buf = BytesMut::new();
        assert!(put_checkpoint(&mut buf, "sensor-7", &state, MAX).is_err());
    }
}
