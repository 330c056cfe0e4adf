//! `Decoder` frames a byte stream into the same packets however the bytes
//! arrive, and every "missing" count it reports is exact.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    missing_docs
)]

mod common;

use bytes::BytesMut;
use mqttkit_codec::{Decoded, Decoder, Packet, ProtocolVersion};
use proptest::collection::vec;
use proptest::prelude::*;

/// Packets concatenated on the wire, with where each frame ends.
struct Stream {
    wire: Vec<u8>,
    /// Offset of the end of each frame.
    ends: Vec<usize>,
    /// Length of each frame's fixed header.
    header_lens: Vec<usize>,
}

fn stream(packets: &[Packet], version: ProtocolVersion) -> Stream {
    let mut s = Stream {
        wire: Vec::new(),
        ends: Vec::new(),
        header_lens: Vec::new(),
    };
    for packet in packets {
        // A CONNECT is written with its own version (the one the decoder adopts).
        let version = match packet {
            Packet::Connect(c) => c.protocol_version,
            _ => version,
        };
        let frame = common::encode(packet, version);
        s.header_lens.push(common::fixed_header_len(&frame));
        s.wire.extend_from_slice(&frame);
        s.ends.push(s.wire.len());
    }
    s
}

/// Feeds `s.wire` to a decoder in chunks of the given sizes (cycled) and
/// decodes after each chunk until the decoder asks for more. Checks on the
/// way that each `Incomplete` is exact:
/// - `missing: Some(n)`: the frame being received ends exactly `n` bytes
///   after what is buffered;
/// - `missing: None`: the buffer really ends inside the fixed header;
/// - a packet is returned exactly when its last byte has arrived, and only
///   its own bytes were taken from the buffer.
fn decode_in_chunks(
    s: &Stream,
    initial_version: ProtocolVersion,
    chunk_sizes: &[usize],
) -> Vec<Packet> {
    let mut decoder = Decoder::new(initial_version);
    let mut buf = BytesMut::new();
    let mut packets = Vec::new();
    let mut fed = 0;
    for &size in chunk_sizes.iter().cycle() {
        if fed == s.wire.len() {
            break;
        }
        let next = (fed + size.max(1)).min(s.wire.len());
        buf.extend_from_slice(&s.wire[fed..next]);
        fed = next;
        loop {
            let consumed = fed - buf.len();
            let i = packets.len();
            match decoder.decode(&mut buf).expect("a valid stream decodes") {
                Decoded::Packet(packet) => {
                    assert!(i < s.ends.len(), "more packets than were sent");
                    assert_eq!(fed - buf.len(), s.ends[i], "packet {i} took its own bytes");
                    packets.push(packet);
                }
                Decoded::Incomplete { missing: Some(n) } => {
                    assert!(
                        i < s.ends.len() && n > 0,
                        "missing {n} after the last packet"
                    );
                    assert_eq!(consumed + buf.len() + n, s.ends[i], "exact missing for {i}");
                    break;
                }
                Decoded::Incomplete { missing: None } if i == s.ends.len() => {
                    assert!(buf.is_empty(), "nothing after the last packet");
                    break;
                }
                Decoded::Incomplete { missing: None } => {
                    assert!(buf.len() < s.header_lens[i], "inside fixed header {i}");
                    break;
                }
            }
        }
    }
    assert!(buf.is_empty(), "bytes left over");
    packets
}

fn whole(s: &Stream, version: ProtocolVersion) -> Vec<Packet> {
    decode_in_chunks(s, version, &[s.wire.len()])
}

fn byte_by_byte(s: &Stream, version: ProtocolVersion) -> Vec<Packet> {
    decode_in_chunks(s, version, &[1])
}

fn packets(version: ProtocolVersion) -> impl Strategy<Value = Vec<Packet>> {
    vec(common::packet(version), 1..=24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn v5_stream_decodes_identically_whole_bytewise_and_in_chunks(
        sent in packets(ProtocolVersion::V5),
        chunks in vec(1usize..=64, 1..=32),
    ) {
        let s = stream(&sent, ProtocolVersion::V5);
        prop_assert_eq!(&whole(&s, ProtocolVersion::V5), &sent);
        prop_assert_eq!(&byte_by_byte(&s, ProtocolVersion::V5), &sent);
        prop_assert_eq!(&decode_in_chunks(&s, ProtocolVersion::V5, &chunks), &sent);
    }

    #[test]
    fn v3_1_1_stream_decodes_identically_whole_bytewise_and_in_chunks(
        sent in packets(ProtocolVersion::V3_1_1),
        chunks in vec(1usize..=64, 1..=32),
    ) {
        let s = stream(&sent, ProtocolVersion::V3_1_1);
        prop_assert_eq!(&whole(&s, ProtocolVersion::V3_1_1), &sent);
        prop_assert_eq!(&byte_by_byte(&s, ProtocolVersion::V3_1_1), &sent);
        prop_assert_eq!(&decode_in_chunks(&s, ProtocolVersion::V3_1_1, &chunks), &sent);
    }

    /// A server does not know the client's version until its CONNECT: the
    /// decoder starts at 3.1.1 and reads everything after a v5 CONNECT as v5
    /// (v5 §3.1.2.2: the Protocol Version of the connection), AUTH included.
    #[test]
    fn v5_server_side_stream_adopts_the_connect_version(
        connect in common::connect(ProtocolVersion::V5),
        rest in packets(ProtocolVersion::V5),
        chunks in vec(1usize..=64, 1..=32),
    ) {
        let mut sent = vec![Packet::from(connect)];
        sent.extend(rest);
        let s = stream(&sent, ProtocolVersion::V5);
        for sizes in [&[s.wire.len()][..], &[1], &chunks] {
            prop_assert_eq!(&decode_in_chunks(&s, ProtocolVersion::V3_1_1, sizes), &sent);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// v5 §3.1.2.11.4: the Maximum Packet Size counts the whole packet,
    /// fixed header included. A limit equal to the largest frame passes the
    /// stream; one byte less refuses that frame, from its fixed header.
    #[test]
    fn v5_maximum_packet_size_is_the_whole_frame(sent in packets(ProtocolVersion::V5)) {
        let s = stream(&sent, ProtocolVersion::V5);
        let lens: Vec<usize> = s
            .ends
            .iter()
            .scan(0, |start, &end| Some(end - std::mem::replace(start, end)))
            .collect();
        let largest = *lens.iter().max().unwrap();

        let mut decoder =
            Decoder::new(ProtocolVersion::V5).with_max_packet_size(largest as u32);
        let mut buf = BytesMut::from(&s.wire[..]);
        for packet in &sent {
            prop_assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Packet(packet.clone())));
        }

        let max = largest as u32 - 1;
        let mut decoder = Decoder::new(ProtocolVersion::V5).with_max_packet_size(max);
        let first_too_large = lens.iter().position(|&len| len == largest).unwrap();
        let start = s.ends[first_too_large] - largest;
        let header_len = s.header_lens[first_too_large];
        let mut buf = BytesMut::from(&s.wire[..start + header_len]);
        for packet in &sent[..first_too_large] {
            prop_assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Packet(packet.clone())));
        }
        prop_assert_eq!(
            decoder.decode(&mut buf),
            Err(mqttkit_codec::DecodeError::PacketTooLarge { size: largest as u32, max })
        );
    }
}

/// The adopted version is visible, and a 3.1.1-only reader refuses AUTH:
/// the v5 packet type 15 is reserved in 3.1.1 (v3.1.1 §2.2.1).
#[test]
fn v5_decoder_version_follows_connect_and_auth_needs_it() {
    let connect = mqttkit_codec::Connect::new(ProtocolVersion::V5, "c".try_into().unwrap());
    let auth = Packet::from(mqttkit_codec::Auth::new(
        mqttkit_codec::AuthReasonCode::ContinueAuthentication,
    ));
    let s = stream(&[connect.into(), auth.clone()], ProtocolVersion::V5);
    let connect_len = s.ends[0];

    let mut decoder = Decoder::new(ProtocolVersion::V3_1_1);
    let mut buf = BytesMut::from(&s.wire[..]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Ok(Decoded::Packet(Packet::Connect(_)))
    ));
    assert_eq!(decoder.version(), ProtocolVersion::V5);
    assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Packet(auth)));

    let mut v3 = Decoder::new(ProtocolVersion::V3_1_1);
    let mut buf = BytesMut::from(&s.wire[connect_len..]);
    assert_eq!(
        v3.decode(&mut buf),
        Err(mqttkit_codec::DecodeError::InvalidPacketType(15))
    );
}
