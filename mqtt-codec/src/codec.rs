//! Streaming: split whole frames off a receive buffer and decode them, and
//! encode under a peer's Maximum Packet Size.

use bytes::{Buf, BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::header::{FixedHeader, HeaderStatus, PacketType, read_fixed_header};
use crate::packet::{Packet, PubAck, PubComp, PubRec, PubRel, Publish};
use crate::types::PacketId;
use crate::version::ProtocolVersion;

/// The outcome of [`Decoder::decode`].
// The packet is returned by value: boxing it would cost an allocation per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A whole packet, removed from the buffer.
    Packet(Packet),
    /// The buffer does not hold a whole packet yet; nothing was consumed.
    Incomplete {
        /// Bytes still missing, once the fixed header has been received;
        /// `None` while the buffer ends inside the fixed header.
        missing: Option<usize>,
    },
}

/// Decodes a stream of packets from a growing buffer, one direction of one
/// connection.
///
/// Framing comes first: the fixed header is read and checked (type, reserved
/// flags, remaining length, Maximum Packet Size) before the body is waited
/// for, so a partial frame is never parsed further than its fixed header and
/// an oversized one is refused before it is buffered. The body is then parsed
/// exactly once, and every string and payload of the packet is a slice of the
/// received bytes.
///
/// Errors are sticky: after one, the stream cannot be resynchronised and
/// every later call returns the same error.
#[derive(Debug, Clone)]
pub struct Decoder {
    version: ProtocolVersion,
    max_packet_size: u32,
    error: Option<DecodeError>,
}

impl Decoder {
    /// A decoder for `version` without a size limit beyond the protocol's
    /// (268,435,460 bytes).
    pub fn new(version: ProtocolVersion) -> Self {
        Self {
            version,
            max_packet_size: u32::MAX,
            error: None,
        }
    }

    /// Refuses any packet larger than `max` bytes in total, fixed header
    /// included, as v5 §3.1.2.11.4 measures it.
    pub fn with_max_packet_size(mut self, max: u32) -> Self {
        self.max_packet_size = max;
        self
    }

    /// The version packets other than CONNECT are read with.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Changes the version, for example once a CONNACK confirms it.
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    /// Decodes the next packet from the front of `buf`.
    ///
    /// A decoded CONNECT sets the decoder's version to the one it carries,
    /// since every later packet on the connection uses it.
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, DecodeError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let decoded = self.decode_frame(buf);
        if let Err(err) = &decoded {
            self.error = Some(*err);
        }
        decoded
    }

    #[inline]
    fn decode_frame(&mut self, buf: &mut BytesMut) -> Result<Decoded, DecodeError> {
        let header = match read_fixed_header(buf, self.version)? {
            HeaderStatus::Complete(header) => header,
            HeaderStatus::Incomplete => return Ok(Decoded::Incomplete { missing: None }),
        };
        let frame_len = header.frame_len();
        if frame_len > self.max_packet_size as usize {
            return Err(DecodeError::PacketTooLarge {
                size: u32::try_from(frame_len).unwrap_or(u32::MAX),
                max: self.max_packet_size,
            });
        }
        if buf.len() < frame_len {
            return Ok(Decoded::Incomplete {
                missing: Some(frame_len.saturating_sub(buf.len())),
            });
        }
        if let Some(packet) = Self::small_packet(&header, buf) {
            buf.advance(frame_len);
            return Ok(Decoded::Packet(packet));
        }
        let mut frame = buf.split_to(frame_len).freeze();
        if header.packet_type == PacketType::Publish {
            // The hot path, filled in where it is returned from: going
            // through `decode_body` would move the large packet twice more,
            // and even `Publish::decode_owned`, which this repeats with the
            // body starting after the fixed header, is slower for its one
            // move of the packet out of a `Result`.
            let mut publish = Publish::around(frame);
            if publish.read_fast(header.flags, header.header_len, self.version) {
                return Ok(Decoded::Packet(Packet::Publish(publish)));
            }
            let mut frame = publish.payload;
            frame.advance(header.header_len);
            return Publish::decode_general(header.flags, frame, self.version)
                .map(|publish| Decoded::Packet(Packet::Publish(publish)));
        }
        frame.advance(header.header_len);
        let packet = Packet::decode_body(&header, frame, self.version)?;
        if let Packet::Connect(connect) = &packet {
            self.version = connect.protocol_version;
        }
        Ok(Decoded::Packet(packet))
    }

    /// The packets that hold nothing of their frame, read straight from the
    /// buffer: PINGREQ and PINGRESP, and the acknowledgements of remaining
    /// length 2 (a packet identifier, Success, no properties), which are
    /// most of the packets that are not PUBLISH. Splitting their frame off
    /// as `Bytes` would cost two reference-count updates for nothing.
    /// `None` for every other frame, and for a packet identifier of 0, so
    /// that `Packet::decode_body` reads and refuses those as always. The
    /// fixed header's flags were checked already.
    #[inline]
    fn small_packet(header: &FixedHeader, buf: &[u8]) -> Option<Packet> {
        let body = buf.get(header.header_len..header.frame_len())?;
        let packet_id = || {
            let id = body.first_chunk::<2>()?;
            PacketId::new(u16::from_be_bytes(*id))
        };
        match (header.packet_type, body.len()) {
            (PacketType::PingReq, 0) => Some(Packet::PingReq),
            (PacketType::PingResp, 0) => Some(Packet::PingResp),
            (PacketType::PubAck, 2) => Some(Packet::PubAck(PubAck::new(packet_id()?))),
            (PacketType::PubRec, 2) => Some(Packet::PubRec(PubRec::new(packet_id()?))),
            (PacketType::PubRel, 2) => Some(Packet::PubRel(PubRel::new(packet_id()?))),
            (PacketType::PubComp, 2) => Some(Packet::PubComp(PubComp::new(packet_id()?))),
            _ => None,
        }
    }
}

/// Encodes packets for one direction of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Encoder {
    version: ProtocolVersion,
    max_packet_size: u32,
}

impl Encoder {
    /// An encoder for `version` without a limit beyond the protocol's.
    pub fn new(version: ProtocolVersion) -> Self {
        Self {
            version,
            max_packet_size: u32::MAX,
        }
    }

    /// Refuses packets larger than the peer's Maximum Packet Size
    /// (v5 [MQTT-3.1.2-24], [MQTT-3.2.2-15]).
    pub fn with_max_packet_size(mut self, max: u32) -> Self {
        self.max_packet_size = max;
        self
    }

    /// The version packets are written in.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Changes the version.
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    /// Encodes `packet` into `buf`; on error nothing is written.
    pub fn encode(&self, packet: &Packet, buf: &mut impl BufMut) -> Result<usize, EncodeError> {
        let len = packet.encoded_len(self.version)?;
        let max = self.max_len();
        if len > max {
            return Err(EncodeError::PacketTooLarge { size: len, max });
        }
        packet.encode(self.version, buf)
    }

    /// Encodes a PUBLISH into `buf` as [`Encoder::encode`] does, from a
    /// reference: a server sending a stored message needs no [`Packet`]
    /// around it, and the packet is measured once for the size check and
    /// the write.
    ///
    /// ```
    /// use mqttkit_codec::bytes::BytesMut;
    /// use mqttkit_codec::{Encoder, ProtocolVersion, Publish, TopicName};
    /// let publish = Publish::new(TopicName::from_static("a/b")?, &b"hi"[..]);
    /// let mut out = BytesMut::new();
    /// let n = Encoder::new(ProtocolVersion::V5).encode_publish(&publish, &mut out)?;
    /// assert_eq!(n, out.len());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode_publish(
        &self,
        publish: &Publish,
        buf: &mut impl BufMut,
    ) -> Result<usize, EncodeError> {
        publish.encode_within(self.version, self.max_len(), buf)
    }

    /// Encodes the head of a PUBLISH, everything before its payload, into
    /// `buf`, after checking the whole packet against the peer's Maximum
    /// Packet Size as [`Encoder::encode_publish`] does. Returns the head's
    /// length; nothing is written on error.
    ///
    /// This is the fan-out path: a server forwarding one message to many
    /// subscribers writes each one's head (packet identifier, flags, topic
    /// or alias, properties) and sends [`Publish::payload`] after it
    /// untouched, in a vectored write, instead of copying the payload once
    /// per subscriber. The head's cost does not depend on the payload's
    /// size.
    ///
    /// ```
    /// use mqttkit_codec::bytes::{Buf, Bytes, BytesMut};
    /// use mqttkit_codec::{Encoder, PacketId, ProtocolVersion, Publish, PublishQoS, QoS, TopicName};
    /// let publish = Publish::new(TopicName::from_static("a/b")?, Bytes::from(vec![7; 16 * 1024]));
    /// let encoder = Encoder::new(ProtocolVersion::V5);
    /// let mut head = BytesMut::new();
    /// for id in 1..=3 {
    ///     head.clear();
    ///     let packet_id = PacketId::new(id).expect("not zero");
    ///     let mine = publish.clone().with_qos(PublishQoS::new(QoS::AtLeastOnce, packet_id));
    ///     encoder.encode_publish_head(&mine, &mut head)?;
    ///     let wire = (&head[..]).chain(&mine.payload[..]); // for `write_vectored`
    ///     assert_eq!(wire.remaining(), head.len() + 16 * 1024);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode_publish_head(
        &self,
        publish: &Publish,
        buf: &mut impl BufMut,
    ) -> Result<usize, EncodeError> {
        publish.encode_head_within(self.version, self.max_len(), 0, buf)
    }

    /// The largest packet this encoder writes, in bytes.
    fn max_len(&self) -> usize {
        usize::try_from(self.max_packet_size).unwrap_or(usize::MAX)
    }
}

/// A [`Decoder`] and an [`Encoder`] for one connection; with the
/// `tokio-util` feature it implements `tokio_util::codec::{Decoder, Encoder}`.
#[derive(Debug, Clone)]
pub struct MqttCodec {
    /// The receiving half.
    pub decoder: Decoder,
    /// The sending half.
    pub encoder: Encoder,
}

impl MqttCodec {
    /// A codec for `version` in both directions.
    pub fn new(version: ProtocolVersion) -> Self {
        Self {
            decoder: Decoder::new(version),
            encoder: Encoder::new(version),
        }
    }
}

/// Errors of the `tokio-util` codec: I/O or protocol.
#[cfg(feature = "tokio-util")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The transport failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A received packet was refused.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A packet could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

#[cfg(feature = "tokio-util")]
impl tokio_util::codec::Decoder for MqttCodec {
    type Item = Packet;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, CodecError> {
        // No `reserve(missing)`: the announced length is not trusted to size
        // memory; the buffer grows only with bytes actually received.
        match self.decoder.decode(src)? {
            Decoded::Packet(packet) => Ok(Some(packet)),
            Decoded::Incomplete { .. } => Ok(None),
        }
    }
}

#[cfg(feature = "tokio-util")]
impl tokio_util::codec::Encoder<&Packet> for MqttCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Packet, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encoder.encode(item, dst)?;
        Ok(())
    }
}

#[cfg(feature = "tokio-util")]
impl tokio_util::codec::Encoder<Packet> for MqttCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Packet, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encoder.encode(&item, dst)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// Changing the version changes how packets are read and written:
    /// after CONNECT names the level, a connection's codec follows it.
    #[test]
    fn set_version_changes_what_is_read_and_written() {
        let mut encoder = Encoder::new(ProtocolVersion::V3_1_1);
        encoder.set_version(ProtocolVersion::V5);
        assert_eq!(encoder.version(), ProtocolVersion::V5);
        let mut ack = crate::PubAck::new(crate::PacketId::new(1).unwrap());
        ack.reason_code = crate::PubAckReasonCode::NoMatchingSubscribers;
        let mut out = BytesMut::new();
        encoder.encode(&ack.clone().into(), &mut out).unwrap();
        assert_eq!(&out[..], [0x40, 0x03, 0x00, 0x01, 0x10]);
        encoder.set_version(ProtocolVersion::V3_1_1);
        assert_eq!(encoder.version(), ProtocolVersion::V3_1_1);
        // 3.1.1 has no reason codes to carry it.
        assert!(encoder.encode(&ack.into(), &mut out).is_err());

        // A QoS 0 PUBLISH to "t" whose body ends with 0x00, "x": in 5.0 an
        // empty property block and the payload "x", in 3.1.1 all payload.
        let frame = [0x30u8, 0x05, 0x00, 0x01, b't', 0x00, b'x'];
        let mut decoder = Decoder::new(ProtocolVersion::V3_1_1);
        decoder.set_version(ProtocolVersion::V5);
        assert_eq!(decoder.version(), ProtocolVersion::V5);
        let Decoded::Packet(Packet::Publish(p)) =
            decoder.decode(&mut BytesMut::from(&frame[..])).unwrap()
        else {
            panic!("a PUBLISH");
        };
        assert_eq!(&p.payload[..], b"x");
        decoder.set_version(ProtocolVersion::V3_1_1);
        let Decoded::Packet(Packet::Publish(p)) =
            decoder.decode(&mut BytesMut::from(&frame[..])).unwrap()
        else {
            panic!("a PUBLISH");
        };
        assert_eq!(&p.payload[..], b"\0x");
    }

    /// The `tokio-util` codec writes packets, by reference or by value,
    /// and reads them back one at a time, then waits for more.
    #[cfg(feature = "tokio-util")]
    #[test]
    fn tokio_util_codec_writes_and_reads_packets() {
        use tokio_util::codec::{Decoder as _, Encoder as _};
        let mut codec = MqttCodec::new(ProtocolVersion::V5);
        let ack = Packet::PubAck(crate::PubAck::new(crate::PacketId::new(1).unwrap()));
        let mut buf = BytesMut::new();
        codec.encode(&ack, &mut buf).unwrap();
        codec.encode(ack.clone(), &mut buf).unwrap();
        assert_eq!(&buf[..], [0x40, 0x02, 0x00, 0x01, 0x40, 0x02, 0x00, 0x01]);
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(ack.clone()));
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(ack));
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
    }

    /// A partial frame reports exactly how much is missing.
    #[test]
    fn incomplete_frame_reports_missing_bytes() {
        let mut decoder = Decoder::new(ProtocolVersion::V3_1_1);
        let mut buf = BytesMut::from(&[0x30u8][..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(Decoded::Incomplete { missing: None })
        );
        buf.extend_from_slice(&[0x05, 0x00, 0x01]);
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(Decoded::Incomplete { missing: Some(3) })
        );
        buf.extend_from_slice(b"tab");
        let Decoded::Packet(Packet::Publish(p)) = decoder.decode(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(&p.payload[..], b"ab");
        assert!(buf.is_empty());
    }

    /// The packets read without splitting their frame off come out as
    /// `Packet::decode` reads them, and a packet identifier 0 is refused.
    #[test]
    fn small_packets_decode_as_the_general_path_reads_them() {
        let frames: [&[u8]; 8] = [
            &[0xC0, 0x00],
            &[0xD0, 0x00],
            &[0x40, 0x02, 0x12, 0x34],
            &[0x50, 0x02, 0x00, 0x01],
            &[0x62, 0x02, 0xFF, 0xFF],
            &[0x70, 0x02, 0x00, 0x07],
            &[0x40, 0x02, 0x00, 0x00],
            &[0x62, 0x02, 0x00, 0x00],
        ];
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            let mut buf = BytesMut::new();
            for frame in frames {
                buf.extend_from_slice(frame);
                let expected = Packet::decode(frame, version).map(Decoded::Packet);
                assert_eq!(
                    Decoder::new(version).decode(&mut buf),
                    expected,
                    "{frame:02x?}"
                );
                buf.clear();
            }
        }
    }

    /// v5 §3.1.2.11.4: refused as soon as the fixed header is read.
    #[test]
    fn oversized_frame_is_refused_from_its_fixed_header() {
        let mut decoder = Decoder::new(ProtocolVersion::V5).with_max_packet_size(100);
        let mut buf = BytesMut::from(&[0x30u8, 0xFF, 0x7F][..]);
        let err = decoder.decode(&mut buf).unwrap_err();
        assert_eq!(
            err,
            DecodeError::PacketTooLarge {
                size: 16_386,
                max: 100
            }
        );
        assert_eq!(err.reason_code(), crate::ReasonCode::PacketTooLarge);
        // Sticky.
        assert_eq!(decoder.decode(&mut BytesMut::new()), Err(err));
    }

    #[test]
    fn connect_sets_the_version() {
        let mut decoder = Decoder::new(ProtocolVersion::V3_1_1);
        let mut buf = BytesMut::new();
        let connect = crate::Connect::new(
            ProtocolVersion::V5,
            crate::MqttString::try_from("c").unwrap(),
        );
        Packet::from(connect)
            .encode(ProtocolVersion::V5, &mut buf)
            .unwrap();
        buf.extend_from_slice(&[0xF0, 0x00]);
        assert!(matches!(
            decoder.decode(&mut buf),
            Ok(Decoded::Packet(Packet::Connect(_)))
        ));
        assert_eq!(decoder.version(), ProtocolVersion::V5);
        assert!(matches!(
            decoder.decode(&mut buf),
            Ok(Decoded::Packet(Packet::Auth(_)))
        ));
    }

    #[test]
    fn encoder_refuses_packets_over_the_peer_maximum_and_writes_nothing() {
        let encoder = Encoder::new(ProtocolVersion::V5).with_max_packet_size(3);
        let mut buf = BytesMut::new();
        let packet: Packet = crate::PubAck::new(crate::PacketId::new(1).unwrap())
            .with_reason(crate::PubAckReasonCode::QuotaExceeded)
            .into();
        assert!(encoder.encode(&packet, &mut buf).is_err());
        assert!(buf.is_empty());
    }

    /// The `tokio-util` traits frame a stream the same way.
    #[cfg(feature = "tokio-util")]
    #[test]
    fn tokio_util_codec_round_trip() {
        use tokio_util::codec::{Decoder as _, Encoder as _};
        let mut codec = MqttCodec::new(ProtocolVersion::V3_1_1);
        let mut buf = BytesMut::new();
        codec.encode(Packet::PingReq, &mut buf).unwrap();
        let ack: Packet = crate::PubAck::new(crate::PacketId::new(4).unwrap()).into();
        codec.encode(&ack, &mut buf).unwrap();
        let mut partial = buf.split_to(3);
        assert_eq!(codec.decode(&mut partial).unwrap(), Some(Packet::PingReq));
        assert_eq!(codec.decode(&mut partial).unwrap(), None);
        partial.unsplit(buf);
        assert_eq!(codec.decode(&mut partial).unwrap(), Some(ack));
        assert!(matches!(
            codec.decode(&mut BytesMut::from(&[0x00u8, 0x00][..])),
            Err(CodecError::Decode(DecodeError::InvalidPacketType(0)))
        ));
    }
}
