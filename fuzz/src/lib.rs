//! Checks shared by the fuzz targets.
//!
//! The targets in `fuzz_targets/` are thin wrappers around the functions here,
//! so that every protocol version runs exactly the same oracle.

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    DecodeError, Decoded, Decoder, HeaderStatus, Packet, ProtocolVersion, read_fixed_header,
};

/// How a decode target reads its input: a small control header, then the
/// byte stream.
///
/// `data[0]`: bits 0-2 give the number `n` of chunk-size bytes that follow;
/// bit 3 asks for a Maximum Packet Size, taken from the two bytes after the
/// chunk sizes (big-endian). Everything after that is the stream. With `n = 0`
/// the stream is fed one byte at a time; otherwise chunk `i` is
/// `sizes[i % n] + 1` bytes long.
///
/// The committed seeds start with `00`, so their stream is a plain sequence of
/// frames.
#[derive(Debug)]
pub struct StreamInput<'a> {
    /// Chunk sizes minus one, cycled.
    pub chunk_sizes: &'a [u8],
    /// Maximum Packet Size for both decoders, if any.
    pub max_packet_size: Option<u32>,
    /// The bytes to decode.
    pub stream: &'a [u8],
}

impl<'a> StreamInput<'a> {
    /// Splits `data` into control header and stream; `None` if it is too short.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&control, rest) = data.split_first()?;
        let n = usize::from(control & 0b111);
        let (chunk_sizes, rest) = rest.split_at_checked(n)?;
        let (max_packet_size, stream) = if control & 0b1000 != 0 {
            let (max, stream) = rest.split_first_chunk::<2>()?;
            (Some(u32::from(u16::from_be_bytes(*max))), stream)
        } else {
            (None, rest)
        };
        Some(Self {
            chunk_sizes,
            max_packet_size,
            stream,
        })
    }

    fn decoder(&self, version: ProtocolVersion) -> Decoder {
        let decoder = Decoder::new(version);
        match self.max_packet_size {
            Some(max) => decoder.with_max_packet_size(max),
            None => decoder,
        }
    }

    fn chunks(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let sizes = self.chunk_sizes;
        let mut rest = self.stream;
        let mut i = 0usize;
        core::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let size = match sizes.get(i % sizes.len().max(1)) {
                Some(&s) => usize::from(s) + 1,
                None => 1,
            };
            i += 1;
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            rest = tail;
            Some(chunk)
        })
    }
}

/// One packet the decoder returned, with what it was read from.
#[derive(Debug)]
struct Frame {
    packet: Packet,
    /// The decoder's version when the packet was decoded.
    version: ProtocolVersion,
    /// The bytes the decoder consumed for it.
    bytes: Bytes,
}

/// How a decode run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Error(DecodeError),
    /// Input ran out; `missing` as the decoder reported it and the bytes left
    /// in the buffer.
    Incomplete {
        missing: Option<usize>,
        left: Vec<u8>,
    },
}

/// The whole stream in one buffer through one decoder.
fn decode_whole(input: &StreamInput<'_>, version: ProtocolVersion) -> (Vec<Frame>, End) {
    let mut decoder = input.decoder(version);
    let stream = Bytes::copy_from_slice(input.stream);
    let mut buf = BytesMut::from(input.stream);
    let mut frames = Vec::new();
    loop {
        let offset = stream.len() - buf.len();
        let version = decoder.version();
        match decoder.decode(&mut buf) {
            Ok(Decoded::Packet(packet)) => {
                let end = stream.len() - buf.len();
                assert!(end - offset >= 2, "a packet is at least two bytes");
                if let Some(max) = input.max_packet_size {
                    assert!(end - offset <= max as usize, "packet over the maximum");
                }
                frames.push(Frame {
                    packet,
                    version,
                    bytes: stream.slice(offset..end),
                });
            }
            Ok(Decoded::Incomplete { missing }) => {
                assert_eq!(
                    stream.len() - buf.len(),
                    offset,
                    "Incomplete consumed bytes"
                );
                // `missing` is what the fixed header announces beyond the buffer.
                let header = read_fixed_header(&buf, version);
                match (missing, header) {
                    (None, Ok(HeaderStatus::Incomplete)) => {}
                    (Some(missing), Ok(HeaderStatus::Complete(header))) => {
                        assert!(missing > 0, "Incomplete with nothing missing");
                        assert_eq!(missing, header.frame_len() - buf.len());
                    }
                    other => panic!("Incomplete {{ missing: {missing:?} }} but header {other:?}"),
                }
                let left = buf.to_vec();
                return (frames, End::Incomplete { missing, left });
            }
            Err(err) => {
                // Errors are sticky.
                assert_eq!(decoder.decode(&mut buf), Err(err));
                assert_eq!(decoder.decode(&mut BytesMut::new()), Err(err));
                return (frames, End::Error(err));
            }
        }
    }
}

/// The stream fed in chunks through a second decoder.
fn decode_streamed(input: &StreamInput<'_>, version: ProtocolVersion) -> (Vec<Packet>, End) {
    let mut decoder = input.decoder(version);
    let mut buf = BytesMut::new();
    let mut packets = Vec::new();
    let mut last = End::Incomplete {
        missing: None,
        left: Vec::new(),
    };
    for chunk in input.chunks() {
        // Bytes that must complete the frame the decoder is waiting for.
        let promised = match &last {
            End::Incomplete {
                missing: Some(m), ..
            } => Some(*m),
            _ => None,
        };
        buf.extend_from_slice(chunk);
        let mut first = true;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Decoded::Packet(packet)) => packets.push(packet),
                Ok(Decoded::Incomplete { missing }) => {
                    if first && let Some(promised) = promised {
                        assert!(
                            chunk.len() < promised,
                            "{promised} bytes were missing, {} arrived, still incomplete",
                            chunk.len()
                        );
                        assert_eq!(
                            missing,
                            Some(promised - chunk.len()),
                            "missing byte count is not consistent"
                        );
                    }
                    last = End::Incomplete {
                        missing,
                        left: buf.to_vec(),
                    };
                    break;
                }
                Err(err) => return (packets, End::Error(err)),
            }
            first = false;
        }
    }
    (packets, last)
}

/// Encodes `packet` for `version`, checking that `encoded_len` is exact.
///
/// Returns `None` when the packet cannot be encoded, after checking that
/// `encode` refuses it too and writes nothing.
pub fn encode_checked(packet: &Packet, version: ProtocolVersion) -> Option<Vec<u8>> {
    let len = packet.encoded_len(version);
    let mut out = Vec::new();
    let written = packet.encode(version, &mut out);
    match (len, written) {
        (Ok(len), Ok(written)) => {
            assert_eq!(written, len, "encode and encoded_len disagree: {packet:?}");
            assert_eq!(
                out.len(),
                len,
                "encode wrote other than it said: {packet:?}"
            );
            Some(out)
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "encode and encoded_len fail differently: {packet:?}");
            assert!(out.is_empty(), "a failed encode wrote bytes: {packet:?}");
            None
        }
        (len, written) => {
            panic!("encoded_len {len:?} but encode {written:?} for {packet:?}")
        }
    }
}

/// Encodes and decodes `packet` and checks the result is the same packet, and
/// that encoding the result again gives the same bytes (the encoding is
/// canonical).
pub fn check_reencode(packet: &Packet, version: ProtocolVersion) -> Option<Vec<u8>> {
    let wire = encode_checked(packet, version)?;
    let decoded = Packet::decode_bytes(Bytes::from(wire.clone()), version)
        .unwrap_or_else(|e| panic!("encoding of {packet:?} does not decode: {e:?}\n{wire:02x?}"));
    assert_eq!(&decoded, packet, "encode/decode changed the packet");
    let again = encode_checked(&decoded, version).expect("a decoded packet encodes");
    assert_eq!(again, wire, "encoding is not canonical");
    // The same bytes through the streaming decoder, split at every byte.
    let mut decoder = Decoder::new(version);
    let mut buf = BytesMut::new();
    for (i, &b) in wire.iter().enumerate() {
        buf.extend_from_slice(&[b]);
        match decoder.decode(&mut buf) {
            Ok(Decoded::Incomplete { .. }) if i + 1 < wire.len() => {}
            Ok(Decoded::Packet(p)) if i + 1 == wire.len() => assert_eq!(&p, packet),
            other => panic!("streamed re-encoding: byte {i}: {other:?}"),
        }
    }
    Some(wire)
}

/// The decode oracle: whole-buffer and streamed decoding agree, every frame
/// decodes alone to the same packet, and every packet re-encodes exactly.
pub fn check_decode(data: &[u8], version: ProtocolVersion) {
    let Some(input) = StreamInput::parse(data) else {
        return;
    };
    let (frames, end) = decode_whole(&input, version);
    let (streamed, streamed_end) = decode_streamed(&input, version);
    let whole: Vec<&Packet> = frames.iter().map(|f| &f.packet).collect();
    let streamed: Vec<&Packet> = streamed.iter().collect();
    assert_eq!(whole, streamed, "whole and streamed decoding disagree");
    assert_eq!(end, streamed_end, "whole and streamed decoding end apart");

    for frame in &frames {
        // A frame decodes the same on its own; only a CONNECT changes the
        // version, and it is read by its own level anyway.
        let alone = Packet::decode_bytes(frame.bytes.clone(), frame.version);
        assert_eq!(alone.as_ref(), Ok(&frame.packet), "frame decoded alone");
        // Not byte-equal to the frame: properties are written in a fixed
        // order, and optional Success codes and empty properties are left out.
        if check_reencode(&frame.packet, frame.version).is_none() {
            panic!("decoded packet does not re-encode: {:?}", frame.packet);
        }
    }
}
