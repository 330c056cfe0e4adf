//! The packet model: one enum of the 15 packet types for every protocol
//! version, one module per packet type with its decode, encode and tests.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod publish_view;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

pub use ack::{PubAck, PubComp, PubRec, PubRel};
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, LastWill, Login};
pub use disconnect::Disconnect;
pub use publish::{Publish, PublishQoS};
pub use publish_view::PublishView;
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use alloc::boxed::Box;

use bytes::{Buf, BufMut, Bytes};
use mqttkit_topic::{TopicError, TopicFilter, TopicName};

use crate::coding::{MAX_VARIABLE_BYTE_INTEGER, PResult, be_u16, byte, put_var_int, var_int_len};
use crate::error::{DecodeError, EncodeError, VersionFeature};
use crate::header::{FixedHeader, HeaderStatus, PacketType, read_fixed_header};
use crate::property::{EncodedProperties, PropertySet, decode_properties};
use crate::types::PacketId;
use crate::version::ProtocolVersion;

/// An MQTT control packet of any version.
///
/// v5-only parts (properties, most reason codes) are fields that a 3.1.1
/// encoding leaves out, or refuses when leaving them out would change the
/// meaning (see [`EncodeError::NotInVersion`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Packet {
    /// CONNECT, boxed because it is the largest and the rarest packet.
    Connect(Box<Connect>),
    /// CONNACK, boxed like CONNECT: it is large and comes once per connection.
    ConnAck(Box<ConnAck>),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK.
    PubAck(PubAck),
    /// PUBREC.
    PubRec(PubRec),
    /// PUBREL.
    PubRel(PubRel),
    /// PUBCOMP.
    PubComp(PubComp),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect),
    /// AUTH (MQTT 5.0 only), boxed: it is large and rare.
    Auth(Box<Auth>),
}

/// What every packet type knows about itself.
pub(crate) trait Body: Sized {
    const TYPE: PacketType;

    /// The fixed header flags to send.
    fn flags(&self) -> u8 {
        Self::TYPE.required_flags().unwrap_or(0)
    }

    /// Parses the bytes after the fixed header; `flags` were checked against
    /// the reserved values already.
    fn decode(flags: u8, body: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError>;

    /// Validates the packet for `version` and returns its remaining length.
    fn remaining_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError>;

    /// Writes everything after the fixed header. Only called after
    /// `remaining_len` succeeded, so it cannot fail.
    fn put_body(&self, version: ProtocolVersion, buf: &mut impl BufMut);
}

impl Packet {
    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }

    /// Decodes `frame`, which must hold exactly one packet, without copying:
    /// strings, topics and payloads of the result are slices of `frame`.
    ///
    /// A CONNECT is read by the level it carries; other packets by `version`.
    pub fn decode_bytes(frame: Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let header = match read_fixed_header(&frame, version)? {
            HeaderStatus::Complete(header) => header,
            HeaderStatus::Incomplete => {
                let packet_type = frame
                    .first()
                    .and_then(|b| PacketType::from_nibble(b >> 4, version).ok())
                    .unwrap_or(PacketType::Connect);
                return Err(DecodeError::UnexpectedEnd(packet_type));
            }
        };
        let frame_len = header.frame_len();
        if frame.len() < frame_len {
            return Err(DecodeError::UnexpectedEnd(header.packet_type));
        }
        if frame.len() > frame_len {
            return Err(DecodeError::TrailingBytes(header.packet_type));
        }
        let mut body = frame;
        body.advance(header.header_len);
        Self::decode_body(&header, body, version)
    }

    /// Decodes one packet from a slice, copying it once into a new buffer.
    /// Use [`Packet::decode_bytes`] or [`crate::Decoder`] to avoid the copy.
    pub fn decode(frame: &[u8], version: ProtocolVersion) -> Result<Self, DecodeError> {
        Self::decode_bytes(Bytes::copy_from_slice(frame), version)
    }

    /// Decodes the body of a frame whose fixed header was read already.
    ///
    /// Takes the body by value so that a PUBLISH payload becomes this very
    /// buffer, advanced past the variable header, instead of a new slice:
    /// one reference-count update less per message.
    #[inline]
    pub fn decode_body(
        header: &FixedHeader,
        body: Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let flags = header.flags;
        if header.packet_type == PacketType::Publish {
            return Publish::decode_owned(flags, body, version).map(Self::Publish);
        }
        let body = &body;
        let packet = match header.packet_type {
            PacketType::Connect => Self::Connect(Box::new(Connect::decode(flags, body, version)?)),
            PacketType::ConnAck => Self::ConnAck(Box::new(ConnAck::decode(flags, body, version)?)),
            PacketType::Publish => Self::Publish(Publish::decode(flags, body, version)?),
            PacketType::PubAck => Self::PubAck(PubAck::decode(flags, body, version)?),
            PacketType::PubRec => Self::PubRec(PubRec::decode(flags, body, version)?),
            PacketType::PubRel => Self::PubRel(PubRel::decode(flags, body, version)?),
            PacketType::PubComp => Self::PubComp(PubComp::decode(flags, body, version)?),
            PacketType::Subscribe => Self::Subscribe(Subscribe::decode(flags, body, version)?),
            PacketType::SubAck => Self::SubAck(SubAck::decode(flags, body, version)?),
            PacketType::Unsubscribe => {
                Self::Unsubscribe(Unsubscribe::decode(flags, body, version)?)
            }
            PacketType::UnsubAck => Self::UnsubAck(UnsubAck::decode(flags, body, version)?),
            PacketType::PingReq => empty_body(body, PacketType::PingReq, Self::PingReq)?,
            PacketType::PingResp => empty_body(body, PacketType::PingResp, Self::PingResp)?,
            PacketType::Disconnect => Self::Disconnect(Disconnect::decode(flags, body, version)?),
            PacketType::Auth => Self::Auth(Box::new(Auth::decode(flags, body, version)?)),
        };
        Ok(packet)
    }

    /// The exact number of bytes [`Packet::encode`] writes for `version`, or
    /// why the packet cannot be encoded.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let (_, remaining) = self.remaining_len(version)?;
        frame_header_len(remaining)
    }

    fn remaining_len(&self, version: ProtocolVersion) -> Result<(u8, usize), EncodeError> {
        fn of<B: Body>(p: &B, v: ProtocolVersion) -> Result<(u8, usize), EncodeError> {
            Ok((p.flags(), p.remaining_len(v)?))
        }
        match self {
            Self::Connect(p) => of(&**p, version),
            Self::ConnAck(p) => of(&**p, version),
            Self::Publish(p) => of(p, version),
            Self::PubAck(p) => of(p, version),
            Self::PubRec(p) => of(p, version),
            Self::PubRel(p) => of(p, version),
            Self::PubComp(p) => of(p, version),
            Self::Subscribe(p) => of(p, version),
            Self::SubAck(p) => of(p, version),
            Self::Unsubscribe(p) => of(p, version),
            Self::UnsubAck(p) => of(p, version),
            Self::PingReq | Self::PingResp => Ok((0, 0)),
            Self::Disconnect(p) => of(p, version),
            Self::Auth(_) if !version.is_v5() => {
                Err(EncodeError::NotInVersion(VersionFeature::AuthPacket))
            }
            Self::Auth(p) => of(&**p, version),
        }
    }

    /// Encodes the packet for `version` into `buf` and returns the number of
    /// bytes written. The packet is validated and measured first: on error
    /// nothing is written. No intermediate buffer, no allocation.
    pub fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<usize, EncodeError> {
        if let Self::Publish(publish) = self {
            // The hot path: measured once rather than once per step.
            return publish.encode(version, buf);
        }
        let (flags, remaining) = self.remaining_len(version)?;
        let total = frame_header_len(remaining)?;
        ensure_room(buf, total)?;
        let before = buf.remaining_mut();
        put_fixed_header(buf, self.packet_type(), flags, remaining);
        match self {
            Self::Connect(p) => p.put_body(version, buf),
            Self::ConnAck(p) => p.put_body(version, buf),
            Self::Publish(p) => p.put_body(version, buf),
            Self::PubAck(p) => p.put_body(version, buf),
            Self::PubRec(p) => p.put_body(version, buf),
            Self::PubRel(p) => p.put_body(version, buf),
            Self::PubComp(p) => p.put_body(version, buf),
            Self::Subscribe(p) => p.put_body(version, buf),
            Self::SubAck(p) => p.put_body(version, buf),
            Self::Unsubscribe(p) => p.put_body(version, buf),
            Self::UnsubAck(p) => p.put_body(version, buf),
            Self::PingReq | Self::PingResp => {}
            Self::Disconnect(p) => p.put_body(version, buf),
            Self::Auth(p) => p.put_body(version, buf),
        }
        // `encoded_len` must be exact: checked on every encode in debug builds.
        debug_assert_eq!(before.saturating_sub(buf.remaining_mut()), total);
        Ok(total)
    }
}

macro_rules! packet_from {
    ($($variant:ident),+) => {
        $(impl From<$variant> for Packet {
            fn from(p: $variant) -> Self {
                Self::$variant(p)
            }
        })+
    };
}

packet_from!(
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect
);

macro_rules! packet_from_boxed {
    ($($variant:ident),+) => {
        $(impl From<$variant> for Packet {
            fn from(p: $variant) -> Self {
                Self::$variant(Box::new(p))
            }
        })+
    };
}

packet_from_boxed!(Connect, ConnAck, Auth);

fn empty_body(
    body: &Bytes,
    packet_type: PacketType,
    packet: Packet,
) -> Result<Packet, DecodeError> {
    // PINGREQ and PINGRESP have a remaining length of 0 (v5 §3.12, §3.13).
    if body.is_empty() {
        Ok(packet)
    } else {
        Err(DecodeError::TrailingBytes(packet_type))
    }
}

/// Fixed header plus `remaining`, or an error past the largest remaining length.
#[inline]
pub(crate) fn frame_header_len(remaining: usize) -> Result<usize, EncodeError> {
    let Ok(rl) = u32::try_from(remaining) else {
        return Err(too_large(remaining));
    };
    if rl > MAX_VARIABLE_BYTE_INTEGER {
        return Err(too_large(remaining));
    }
    Ok(crate::coding::sum([1, var_int_len(rl), remaining]))
}

fn too_large(remaining: usize) -> EncodeError {
    EncodeError::PacketTooLarge {
        size: crate::coding::sum([remaining, 5]),
        max: crate::coding::sum([MAX_VARIABLE_BYTE_INTEGER as usize, 5]),
    }
}

#[inline]
pub(crate) fn ensure_room(buf: &impl BufMut, needed: usize) -> Result<(), EncodeError> {
    let available = buf.remaining_mut();
    if available < needed {
        Err(EncodeError::BufferTooSmall { needed, available })
    } else {
        Ok(())
    }
}

#[inline]
pub(crate) fn put_fixed_header(
    buf: &mut impl BufMut,
    packet_type: PacketType,
    flags: u8,
    remaining: usize,
) {
    let first = ((packet_type as u8) << 4) | (flags & 0x0F);
    match u8::try_from(remaining) {
        // Most packets are under 128 bytes: the two bytes in one write.
        Ok(len) if len < 0x80 => buf.put_u16(u16::from_be_bytes([first, len])),
        _ => {
            buf.put_u8(first);
            put_var_int(
                buf,
                u32::try_from(remaining).unwrap_or(MAX_VARIABLE_BYTE_INTEGER),
            );
        }
    }
}

/// Runs `parser` on `input`, advances `input` past what it consumed, and
/// names `packet_type` when the input ends too soon.
#[inline]
pub(crate) fn run_on<'a, T>(
    packet_type: PacketType,
    input: &mut &'a [u8],
    parser: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> Result<T, DecodeError> {
    match parser(input) {
        Ok((rest, value)) => {
            *input = rest;
            Ok(value)
        }
        Err(err) => Err(match DecodeError::from(err) {
            DecodeError::UnexpectedEnd(_) => DecodeError::UnexpectedEnd(packet_type),
            other => other,
        }),
    }
}

/// Runs `nom` parsers over one packet body and names the packet in errors.
pub(crate) struct PacketDecoder<'a> {
    packet_type: PacketType,
    frame: &'a Bytes,
    input: &'a [u8],
}

impl<'a> PacketDecoder<'a> {
    pub(crate) fn new(packet_type: PacketType, frame: &'a Bytes) -> Self {
        Self {
            packet_type,
            frame,
            input: frame,
        }
    }

    /// Runs `parser` on what is left and advances past what it consumed.
    pub(crate) fn run<T>(
        &mut self,
        parser: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
    ) -> Result<T, DecodeError> {
        run_on(self.packet_type, &mut self.input, parser)
    }

    /// A packet identifier, never zero (v5 [MQTT-2.2.1-3], v3.1.1 [MQTT-2.3.1-1]).
    pub(crate) fn packet_id(&mut self) -> Result<PacketId, DecodeError> {
        PacketId::new(self.run(be_u16)?).ok_or(DecodeError::ZeroPacketId)
    }

    /// A v5 property block; 3.1 and 3.1.1 packets have none.
    #[inline]
    pub(crate) fn properties<P: PropertySet>(
        &mut self,
        version: ProtocolVersion,
    ) -> Result<P, DecodeError> {
        if version.is_v5() {
            let frame = self.frame;
            self.run(|i| decode_properties(frame, i))
        } else {
            Ok(P::default())
        }
    }

    /// A reason code byte that `known` maps to this packet's codes.
    pub(crate) fn reason_code<R>(&mut self, known: fn(u8) -> Option<R>) -> Result<R, DecodeError> {
        let code = self.run(byte)?;
        known(code).ok_or(DecodeError::InvalidReasonCode {
            packet: self.packet_type,
            code,
        })
    }

    /// Whether the body is consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    /// Bytes of the body read so far.
    pub(crate) fn consumed(&self) -> usize {
        self.frame.len().saturating_sub(self.input.len())
    }

    /// Fails unless every byte of the body was read.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.packet_type))
        }
    }
}

/// Bytes of a packet identifier plus, in 5.0, a property block.
pub(crate) fn id_and_properties_len(
    version: ProtocolVersion,
    properties: &impl PropertySet,
) -> Result<usize, EncodeError> {
    Ok(if version.is_v5() {
        crate::coding::sum([2, EncodedProperties::new(properties)?.len()])
    } else {
        2
    })
}

/// Writes a packet identifier plus, in 5.0, a property block.
pub(crate) fn put_id_and_properties(
    buf: &mut impl BufMut,
    packet_id: PacketId,
    version: ProtocolVersion,
    properties: &impl PropertySet,
) {
    buf.put_u16(packet_id.get());
    if version.is_v5()
        && let Ok(props) = EncodedProperties::new(properties)
    {
        props.put(buf);
    }
}

/// The UTF-8 rules are the string rules of §1.5.4, whatever field breaks them.
pub(crate) fn topic_error_to_string_error(err: TopicError) -> Option<DecodeError> {
    match err {
        TopicError::InvalidUtf8 => Some(DecodeError::InvalidUtf8),
        TopicError::NullCharacter => Some(DecodeError::NullCharacter),
        _ => None,
    }
}

/// A topic name field as a zero-copy [`TopicName`].
pub(crate) fn decode_topic_name(frame: &Bytes, raw: &[u8]) -> Result<TopicName, DecodeError> {
    TopicName::from_bytes(frame.slice_ref(raw))
        .map_err(|e| topic_error_to_string_error(e).unwrap_or(DecodeError::TopicName(e)))
}

/// A topic filter field as a zero-copy [`TopicFilter`].
pub(crate) fn decode_topic_filter(frame: &Bytes, raw: &[u8]) -> Result<TopicFilter, DecodeError> {
    TopicFilter::from_bytes(frame.slice_ref(raw))
        .map_err(|e| topic_error_to_string_error(e).unwrap_or(DecodeError::TopicFilter(e)))
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use alloc::vec::Vec;

    /// A frame decoded on its own must be exactly one packet: cut short,
    /// the error names the packet its first byte announced; with bytes
    /// after it, they are refused.
    #[test]
    fn decode_bytes_wants_exactly_one_frame() {
        let publish = [0x30u8, 0x04, 0x00, 0x01, b't', b'x'];
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            assert_eq!(
                Packet::decode_bytes(Bytes::copy_from_slice(&publish[..1]), version),
                Err(DecodeError::UnexpectedEnd(PacketType::Publish))
            );
            let mut longer = publish.to_vec();
            longer.push(0);
            assert_eq!(
                Packet::decode_bytes(Bytes::from(longer), version),
                Err(DecodeError::TrailingBytes(PacketType::Publish))
            );
        }
    }

    /// The limits of the encoding hold up to and including their maximum:
    /// a buffer of exactly the packet's size, binary fields of 65,535
    /// bytes (a property, a password), and a remaining length of 268,435,455 (measured by the head
    /// alone: the zeroed payload is never touched).
    #[test]
    fn encoding_limits_are_inclusive() {
        let ack = Packet::PubAck(PubAck::new(PacketId::new(1).unwrap()));
        let mut exact = [0u8; 4];
        assert_eq!(ack.encode(ProtocolVersion::V5, &mut &mut exact[..]), Ok(4));
        let mut short = [0u8; 3];
        assert!(
            ack.encode(ProtocolVersion::V5, &mut &mut short[..])
                .is_err()
        );

        let topic = crate::TopicName::from_static("t").unwrap();
        let mut publish = Publish::new(topic.clone(), Bytes::new());
        let mut properties = crate::PublishProperties::default();
        properties.set_correlation_data(Some(Bytes::from(alloc::vec![7u8; 65_535])));
        publish.properties = properties.clone();
        assert!(
            publish
                .encode_header(ProtocolVersion::V5, &mut Vec::new())
                .is_ok()
        );
        properties.set_correlation_data(Some(Bytes::from(alloc::vec![7u8; 65_536])));
        publish.properties = properties;
        assert_eq!(
            publish.encode_header(ProtocolVersion::V5, &mut Vec::new()),
            Err(EncodeError::BinaryTooLong)
        );

        let mut connect = Connect::new(
            ProtocolVersion::V5,
            crate::MqttString::try_from("c").unwrap(),
        );
        connect.login.password = Some(Bytes::from(alloc::vec![1u8; 65_535]));
        assert!(
            Packet::from(connect.clone())
                .encode(ProtocolVersion::V5, &mut Vec::new())
                .is_ok()
        );
        connect.login.password = Some(Bytes::from(alloc::vec![1u8; 65_536]));
        assert_eq!(
            Packet::from(connect).encode(ProtocolVersion::V5, &mut Vec::new()),
            Err(EncodeError::BinaryTooLong)
        );

        // 3.1.1: remaining length = 2 + topic + payload.
        let max = crate::MAX_VARIABLE_BYTE_INTEGER as usize;
        let fits = Publish::new(topic.clone(), Bytes::from(alloc::vec![0u8; max - 3]));
        assert!(
            fits.encode_header(ProtocolVersion::V3_1_1, &mut Vec::new())
                .is_ok()
        );
        drop(fits);
        let over = Publish::new(topic, Bytes::from(alloc::vec![0u8; max - 2]));
        assert!(matches!(
            over.encode_header(ProtocolVersion::V3_1_1, &mut Vec::new()),
            Err(EncodeError::PacketTooLarge { .. })
        ));
    }

    /// Bytes from hex digits, spaces ignored.
    pub(crate) fn decode_hex(hex: &str) -> Vec<u8> {
        let digits: Vec<u8> = hex
            .bytes()
            .filter(u8::is_ascii_hexdigit)
            .map(|c| u8::try_from((c as char).to_digit(16).unwrap()).unwrap())
            .collect();
        digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
    }

    /// Encodes `packet` and checks it gives `bytes`, with an exact length.
    pub(crate) fn roundtrip(packet: &Packet, version: ProtocolVersion, bytes: &[u8]) {
        let mut out = Vec::new();
        let n = packet.encode(version, &mut out).unwrap();
        assert_eq!(out, bytes, "encoding of {packet:?}");
        assert_eq!(n, bytes.len());
        assert_eq!(packet.encoded_len(version).unwrap(), bytes.len());
        assert_eq!(&Packet::decode(&out, version).unwrap(), packet);
    }

    /// A decoded packet is moved out of the decoder by value; at 128 bytes
    /// or less that move is a few register stores, above it a `memcpy`
    /// call, which slows down every decoded PUBLISH. Boxing a large, rare
    /// packet or moving a property out of line keeps it there.
    #[test]
    fn packet_and_publish_stay_within_one_inline_move() {
        assert!(
            core::mem::size_of::<Packet>() <= 128,
            "{}",
            core::mem::size_of::<Packet>()
        );
        assert!(
            core::mem::size_of::<Publish>() <= 120,
            "{}",
            core::mem::size_of::<Publish>()
        );
    }

    /// v5 §3.12 / §3.13, v3.1.1 §3.12 / §3.13: PINGREQ and PINGRESP are two bytes.
    #[test]
    fn ping_packets_are_two_bytes_and_reject_a_body() {
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            roundtrip(&Packet::PingReq, version, &[0xC0, 0x00]);
            roundtrip(&Packet::PingResp, version, &[0xD0, 0x00]);
            assert_eq!(
                Packet::decode(&[0xC0, 0x01, 0x00], version),
                Err(DecodeError::TrailingBytes(PacketType::PingReq))
            );
        }
    }

    #[test]
    fn encode_into_a_too_small_slice_writes_nothing() {
        let mut storage = [0u8; 1];
        let mut slice = &mut storage[..];
        assert_eq!(
            Packet::PingReq.encode(ProtocolVersion::V5, &mut slice),
            Err(EncodeError::BufferTooSmall {
                needed: 2,
                available: 1
            })
        );
        assert_eq!(storage, [0]);
    }

    #[test]
    fn frame_shorter_or_longer_than_its_remaining_length() {
        assert_eq!(
            Packet::decode(&[0x40, 0x02, 0x00], ProtocolVersion::V3_1_1),
            Err(DecodeError::UnexpectedEnd(PacketType::PubAck))
        );
        assert_eq!(
            Packet::decode(&[0x40, 0x02, 0x00, 0x01, 0x00], ProtocolVersion::V3_1_1),
            Err(DecodeError::TrailingBytes(PacketType::PubAck))
        );
    }
}
