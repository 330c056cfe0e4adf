//! Damaged frames: valid packets with a few bytes overwritten, and random
//! bytes. The decoder never panics, and whatever it accepts is a packet the
//! encoder can write back, which decodes to the same packet: the decoder
//! enforces no less than the encoder and the encoder no more than the decoder.
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

use mqttkit_codec::{Packet, ProtocolVersion};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

fn accepted_packets_reencode(bytes: &[u8], version: ProtocolVersion) -> Result<(), TestCaseError> {
    let Ok(packet) = Packet::decode(bytes, version) else {
        return Ok(());
    };
    let version = match &packet {
        Packet::Connect(connect) => connect.protocol_version,
        _ => version,
    };
    let mut wire = Vec::new();
    if let Err(e) = packet.encode(version, &mut wire) {
        return Err(TestCaseError::fail(format!(
            "decoded {packet:?} from {bytes:02x?} but cannot encode it: {e}"
        )));
    }
    prop_assert_eq!(Packet::decode(&wire, version), Ok(packet));
    Ok(())
}

/// Overwrites bytes after the fixed header, so the frame keeps its length.
fn damaged(packet: &Packet, version: ProtocolVersion, edits: &[(Index, u8)]) -> Vec<u8> {
    let version = match packet {
        Packet::Connect(connect) => connect.protocol_version,
        _ => version,
    };
    let mut wire = common::encode(packet, version);
    let header_len = common::fixed_header_len(&wire);
    if wire.len() > header_len {
        for (at, byte) in edits {
            let i = header_len + at.index(wire.len() - header_len);
            wire[i] = *byte;
        }
    }
    wire
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V3_1_1), Just(ProtocolVersion::V5)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn v5_damaged_frames_are_refused_or_reencode(
        packet in common::packet(ProtocolVersion::V5),
        edits in vec((any::<Index>(), any::<u8>()), 1..=3),
    ) {
        let bytes = damaged(&packet, ProtocolVersion::V5, &edits);
        accepted_packets_reencode(&bytes, ProtocolVersion::V5)?;
    }

    #[test]
    fn v3_1_1_damaged_frames_are_refused_or_reencode(
        packet in common::packet(ProtocolVersion::V3_1_1),
        edits in vec((any::<Index>(), any::<u8>()), 1..=3),
    ) {
        let bytes = damaged(&packet, ProtocolVersion::V3_1_1, &edits);
        accepted_packets_reencode(&bytes, ProtocolVersion::V3_1_1)?;
    }

    /// Any first byte, a matching one-byte remaining length and random content.
    #[test]
    fn random_frames_are_refused_or_reencode(
        version in version(),
        first in any::<u8>(),
        body in vec(any::<u8>(), 0..=60),
    ) {
        let mut bytes = vec![first, body.len() as u8];
        bytes.extend(body);
        accepted_packets_reencode(&bytes, version)?;
    }
}
