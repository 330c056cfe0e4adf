//! Every valid packet of every version survives encode → decode unchanged,
//! `encoded_len` is the exact number of bytes written, and re-encoding the
//! decoded packet gives the same bytes.
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

use bytes::Bytes;
use mqttkit_codec::{Packet, ProtocolVersion};
use proptest::prelude::*;

fn check_roundtrip(packet: &Packet, version: ProtocolVersion) -> Result<(), TestCaseError> {
    let wire = common::encode(packet, version);
    // The remaining length covers exactly the bytes after the fixed header
    // (v5 §2.1.4, v3.1.1 §2.2.3).
    let header_len = common::fixed_header_len(&wire);
    let mut remaining = 0usize;
    for (i, b) in wire[1..header_len].iter().enumerate() {
        remaining |= usize::from(b & 0x7F) << (7 * i);
    }
    prop_assert_eq!(remaining, wire.len() - header_len);

    let decoded = Packet::decode(&wire, version)
        .map_err(|e| TestCaseError::fail(format!("{e} decoding {packet:?}")))?;
    prop_assert_eq!(&decoded, packet);
    // Zero-copy decoding gives the same packet.
    prop_assert_eq!(
        &Packet::decode_bytes(Bytes::from(wire.clone()), version).unwrap(),
        packet
    );
    prop_assert_eq!(common::encode(&decoded, version), wire);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// All 15 packet types of v5 (v5 §2.1.2).
    #[test]
    fn v5_every_packet_type_round_trips(packet in common::packet(ProtocolVersion::V5)) {
        check_roundtrip(&packet, ProtocolVersion::V5)?;
    }

    /// The 14 packet types of v3.1.1 (v3.1.1 §2.2.1).
    #[test]
    fn v3_1_1_every_packet_type_round_trips(packet in common::packet(ProtocolVersion::V3_1_1)) {
        check_roundtrip(&packet, ProtocolVersion::V3_1_1)?;
    }

    /// 3.1 uses the 3.1.1 layouts for every packet but CONNECT.
    #[test]
    fn v3_1_every_packet_type_round_trips(packet in common::packet(ProtocolVersion::V3_1)) {
        check_roundtrip(&packet, ProtocolVersion::V3_1)?;
    }

    /// 3.1 differs from 3.1.1 only in CONNECT (`MQIsdp`, level 3); it is
    /// read by its own level whatever version the reader is set to.
    #[test]
    fn v3_1_connect_round_trips(connect in common::connect(ProtocolVersion::V3_1)) {
        let packet = Packet::from(connect);
        check_roundtrip(&packet, ProtocolVersion::V3_1)?;
        let wire = common::encode(&packet, ProtocolVersion::V3_1);
        prop_assert_eq!(&wire[2..10], b"\x00\x06MQIsdp");
        prop_assert_eq!(Packet::decode(&wire, ProtocolVersion::V5).unwrap(), packet);
    }

    /// A CONNECT is encoded with its own version whatever the codec's version is.
    #[test]
    fn connect_ignores_the_codec_version(
        connect in prop_oneof![
            common::connect(ProtocolVersion::V3_1),
            common::connect(ProtocolVersion::V3_1_1),
            common::connect(ProtocolVersion::V5),
        ]
    ) {
        let packet = Packet::from(connect);
        let wire = common::encode(&packet, ProtocolVersion::V5);
        prop_assert_eq!(common::encode(&packet, ProtocolVersion::V3_1_1), wire.clone());
        prop_assert_eq!(Packet::decode(&wire, ProtocolVersion::V3_1_1).unwrap(), packet);
    }
}
