//! Decoding a PUBLISH from a receive buffer, iterating its User Properties
//! and encoding a PUBLISH into a buffer with room allocate nothing on the heap.
//!
//! The global allocator counts every allocation of the process (the
//! workspace forbids the `unsafe` a hand-written `GlobalAlloc` needs, so
//! `stats_alloc` wraps `std::alloc::System` for us). Counts are global, so
//! this binary has a single `#[test]`, which measures its scenarios one
//! after the other, each over its own closure only. Run with `--nocapture`
//! to see the counts.
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
use std::hint::black_box;
use std::num::NonZeroU16;

use bytes::{Bytes, BytesMut};
use mqttkit_codec::mqttkit_topic::TopicName;
use mqttkit_codec::{
    Decoded, Decoder, Encoder, MqttString, Packet, PacketId, ProtocolVersion, Publish,
    PublishProperties, PublishQoS, QoS,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Packets decoded in each measured run.
const PACKETS: usize = 100;

/// Runs `f` and returns its result with the number of allocation calls
/// (new blocks and reallocations) it made.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let out = f();
    let change = region.change();
    (out, change.allocations + change.reallocations)
}

fn s(text: &str) -> MqttString {
    MqttString::try_from(text).unwrap()
}

fn qos1_publish(payload_len: usize) -> Publish {
    Publish::new(
        TopicName::from_static("sensors/kitchen/temperature").unwrap(),
        Bytes::from(vec![0xA5; payload_len]),
    )
    .with_qos(PublishQoS::new(
        QoS::AtLeastOnce,
        PacketId::new(42).unwrap(),
    ))
}

fn publish_with_properties() -> Publish {
    let mut properties = PublishProperties::default();
    properties.message_expiry_interval = Some(3600);
    properties.set_content_type(Some(s("application/json")));
    properties.set_correlation_data(Some(Bytes::from_static(b"\x01\x02\x03\x04")));
    properties.set_response_topic(Some(TopicName::from_static("replies/42").unwrap()));
    properties.topic_alias = NonZeroU16::new(7);
    properties.set_user_properties(
        [("a", "1"), ("b", "2"), ("c", "3")]
            .into_iter()
            .map(|(k, v)| (s(k), s(v)))
            .collect(),
    );
    qos1_publish(64).with_properties(properties)
}

/// Decodes `PACKETS` copies of `publish` from one buffer after a warm-up
/// packet, and returns the allocations of the warm-up decode and of the
/// measured ones.
///
/// The first `split_to` of a fresh `BytesMut` turns its vector into shared
/// storage, one allocation per buffer; the warm-up packet pays for it. Every
/// later packet is a reference-counted slice of that storage.
fn decode_allocations(publish: &Publish, version: ProtocolVersion) -> (usize, usize) {
    let packet = Packet::from(publish.clone());
    let mut wire = Vec::new();
    packet.encode(version, &mut wire).unwrap();
    let mut buf = BytesMut::with_capacity(wire.len() * (PACKETS + 1));
    for _ in 0..=PACKETS {
        buf.extend_from_slice(&wire);
    }
    let mut decoder = Decoder::new(version);
    let (first, warm_up) = allocations(|| decoder.decode(&mut buf));
    assert_eq!(first, Ok(Decoded::Packet(packet.clone())));
    // At most the promotion of the buffer to shared storage.
    assert!(warm_up <= 1, "warm-up decode made {warm_up} allocations");

    let mut decoded = Vec::with_capacity(PACKETS);
    let ((), count) = allocations(|| {
        for _ in 0..PACKETS {
            decoded.push(decoder.decode(&mut buf));
        }
    });
    assert!(buf.is_empty());
    assert!(
        decoded
            .iter()
            .all(|d| *d == Ok(Decoded::Packet(packet.clone())))
    );
    (warm_up, count)
}

#[test]
fn publish_decode_encode_and_user_properties_allocate_nothing() {
    // The counter is live: a closure that allocates is seen, so the zeros
    // below are measurements.
    let (_, control) = allocations(|| black_box(Vec::<u8>::with_capacity(16)));
    println!("control (one Vec::with_capacity): {control} allocations");
    assert_eq!(control, 1);

    // v3.1.1 QoS 1 with a 64-byte payload.
    let (warm_up, v3) = decode_allocations(&qos1_publish(64), ProtocolVersion::V3_1_1);
    println!(
        "decode {PACKETS} v3.1.1 QoS 1 PUBLISH (64 B payload): {v3} allocations (warm-up packet: {warm_up})"
    );
    assert_eq!(v3, 0);

    // v5 with an empty property block.
    let (warm_up, v5_plain) = decode_allocations(&qos1_publish(64), ProtocolVersion::V5);
    println!(
        "decode {PACKETS} v5 PUBLISH without properties: {v5_plain} allocations (warm-up packet: {warm_up})"
    );
    assert_eq!(v5_plain, 0);

    // v5 with Message Expiry, Content Type, Correlation Data, Response
    // Topic, Topic Alias and 3 User Properties.
    let publish = publish_with_properties();
    let (warm_up, v5_props) = decode_allocations(&publish, ProtocolVersion::V5);
    println!(
        "decode {PACKETS} v5 PUBLISH with 5 properties + 3 user properties: {v5_props} allocations (warm-up packet: {warm_up})"
    );
    assert_eq!(v5_props, 0);

    // The in-place view of that PUBLISH, properties walked.
    let mut frame = Vec::new();
    Packet::from(publish.clone())
        .encode(ProtocolVersion::V5, &mut frame)
        .unwrap();
    let (_, view) = allocations(|| {
        let view = mqttkit_codec::PublishView::parse(&frame, ProtocolVersion::V5).unwrap();
        let mut properties = 0;
        view.for_each_property(|id, value| {
            black_box((id, value));
            properties += 1;
        });
        black_box((view.topic(), view.payload(), properties))
    });
    println!("PublishView of a v5 PUBLISH with properties: {view} allocations");
    assert_eq!(view, 0);

    // Iterating decoded User Properties reads the received property block.
    let mut wire = Vec::new();
    Packet::from(publish.clone())
        .encode(ProtocolVersion::V5, &mut wire)
        .unwrap();
    let Packet::Publish(decoded) = Packet::decode(&wire, ProtocolVersion::V5).unwrap() else {
        panic!("not a PUBLISH")
    };
    let users = &decoded.properties.user_properties();
    let (pairs, iterate) = allocations(|| {
        let mut pairs = 0;
        for (name, value) in users.iter() {
            black_box((name, value));
            pairs += 1;
        }
        pairs + black_box(users.len())
    });
    println!("iterate 3 decoded user properties: {iterate} allocations");
    assert_eq!(pairs, 6);
    assert_eq!(iterate, 0);

    // Encoding into a BytesMut with room, through `Packet::encode` and `Encoder`.
    let packet = Packet::from(publish);
    let len = packet.encoded_len(ProtocolVersion::V5).unwrap();
    let mut bytes_mut = BytesMut::with_capacity(2 * len);
    let encoder = Encoder::new(ProtocolVersion::V5);
    let (written, into_bytes_mut) = allocations(|| {
        packet.encode(ProtocolVersion::V5, &mut bytes_mut).unwrap()
            + encoder.encode(&packet, &mut bytes_mut).unwrap()
    });
    println!("encode 2 v5 PUBLISH into a reserved BytesMut: {into_bytes_mut} allocations");
    assert_eq!(written, 2 * len);
    assert_eq!(&bytes_mut[..len], &wire[..]);
    assert_eq!(into_bytes_mut, 0);

    // ... and into a Vec with capacity.
    let mut vec = Vec::with_capacity(len);
    let (written, into_vec) = allocations(|| packet.encode(ProtocolVersion::V5, &mut vec).unwrap());
    println!("encode v5 PUBLISH into a Vec with capacity: {into_vec} allocations");
    assert_eq!(written, len);
    assert_eq!(vec, wire);
    assert_eq!(into_vec, 0);
}
