//! A peer announcing the largest remaining length (268,435,455, v5 §1.5.5)
//! and sending a few bytes cannot make the decoder reserve memory for it:
//! without a limit the decoder answers `Incomplete` with the exact number
//! of bytes missing, with a Maximum Packet Size it answers `PacketTooLarge`
//! from the fixed header alone (v5 §3.1.2.11.4), and in both cases it
//! leaves the buffer as it was.
//!
//! Allocation counts are global to the process, so this binary has a single
//! `#[test]` that measures its scenarios one after the other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    missing_docs
)]

use std::alloc::System;

use bytes::BytesMut;
use mqttkit_codec::{DecodeError, Decoded, Decoder, MAX_VARIABLE_BYTE_INTEGER, ProtocolVersion};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// What the decode calls may allocate in all: far less than one frame.
const BOUND: usize = 1024;

/// Runs `f` and returns its result with the bytes it asked the allocator
/// for (new blocks plus growth of reallocated ones).
fn bytes_requested<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let out = f();
    let change = region.change();
    let grown = usize::try_from(change.bytes_reallocated.max(0)).unwrap();
    (out, change.bytes_allocated + grown)
}

/// The first byte of every packet type with its required flags; AUTH only in v5.
fn first_bytes(version: ProtocolVersion) -> Vec<u8> {
    let mut bytes = vec![
        0x10, 0x20, 0x30, 0x40, 0x50, 0x62, 0x70, 0x82, 0x90, 0xA2, 0xB0, 0xC0, 0xD0, 0xE0,
    ];
    if version.is_v5() {
        bytes.push(0xF0);
    }
    bytes
}

/// A fixed header announcing 268,435,455 bytes (`FF FF FF 7F`), then `tail`.
fn huge_frame_start(first: u8, tail: &[u8]) -> BytesMut {
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(&[first, 0xFF, 0xFF, 0xFF, 0x7F]);
    buf.extend_from_slice(tail);
    buf
}

/// The whole frame: 5 header bytes and the largest remaining length.
const FRAME_LEN: usize = 5 + MAX_VARIABLE_BYTE_INTEGER as usize;

#[test]
fn v5_largest_remaining_length_is_never_buffered_or_reserved() {
    // The counter is live, so the small numbers below are measurements.
    let (_, control) = bytes_requested(|| std::hint::black_box(Vec::<u8>::with_capacity(BOUND)));
    assert!(control >= BOUND);

    let mut total = 0;
    let mut worst = 0;
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        for first in first_bytes(version) {
            // No limit: Incomplete, exact missing count, buffer untouched,
            // however many times it is asked and as bytes trickle in.
            let mut decoder = Decoder::new(version);
            let mut buf = huge_frame_start(first, b"abc");
            let capacity = buf.capacity();
            for extra in [&b""[..], b"d", b"efgh"] {
                buf.extend_from_slice(extra);
                let before = buf.clone();
                let (result, bytes) = bytes_requested(|| decoder.decode(&mut buf));
                assert_eq!(
                    result,
                    Ok(Decoded::Incomplete {
                        missing: Some(FRAME_LEN - before.len())
                    }),
                    "{version} first byte {first:#04x}"
                );
                assert_eq!(buf, before, "nothing consumed");
                assert_eq!(buf.capacity(), capacity, "nothing reserved");
                assert!(bytes < BOUND, "{bytes} bytes allocated");
                total += bytes;
                worst = worst.max(bytes);
            }

            // A Maximum Packet Size: refused from the fixed header, sticky.
            let max = 1024;
            let mut decoder = Decoder::new(version).with_max_packet_size(max);
            let mut buf = huge_frame_start(first, b"abc");
            let before = buf.clone();
            let (result, bytes) =
                bytes_requested(|| (decoder.decode(&mut buf), decoder.decode(&mut buf)));
            let refused = DecodeError::PacketTooLarge {
                size: FRAME_LEN as u32,
                max,
            };
            assert_eq!(
                result,
                (Err(refused), Err(refused)),
                "{version} {first:#04x}"
            );
            assert_eq!(buf, before, "nothing consumed");
            assert_eq!(buf.capacity(), capacity, "nothing reserved");
            assert!(bytes < BOUND, "{bytes} bytes allocated");
            total += bytes;
            worst = worst.max(bytes);
        }
    }
    #[cfg(feature = "tokio-util")]
    {
        // The tokio-util adapter does not `reserve` the announced length either.
        let mut codec = mqttkit_codec::MqttCodec::new(ProtocolVersion::V5);
        let mut buf = huge_frame_start(0x30, b"abc");
        let capacity = buf.capacity();
        let (result, bytes) =
            bytes_requested(|| tokio_util::codec::Decoder::decode(&mut codec, &mut buf));
        assert!(matches!(result, Ok(None)));
        assert_eq!(buf.capacity(), capacity);
        assert!(bytes < BOUND, "{bytes} bytes allocated");
    }
    println!(
        "decode calls on a 268,435,455-byte announcement: {total} bytes allocated in all, {worst} at most per call"
    );
}
