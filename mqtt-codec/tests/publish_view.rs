//! `PublishView` against the owned decoder, differentially: on valid
//! PUBLISH frames, damaged ones and random bytes, the view accepts exactly
//! what `Packet::decode` accepts as a PUBLISH, refuses the rest with the
//! same error, and reads the same fields and properties.
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

use mqttkit_codec::{Packet, ProtocolVersion, PublishView};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

fn properties_of_view(view: &PublishView<'_>) -> Vec<String> {
    let mut out = Vec::new();
    view.for_each_property(|id, value| out.push(format!("{id:?}={value:?}")));
    out
}

fn agree(frame: &[u8], version: ProtocolVersion) -> Result<(), TestCaseError> {
    let view = PublishView::parse(frame, version);
    match Packet::decode(frame, version) {
        Ok(Packet::Publish(owned)) => {
            let view = view.map_err(|e| TestCaseError::fail(format!("view refused: {e}")))?;
            prop_assert_eq!(view.topic(), owned.topic_str());
            prop_assert_eq!(view.payload(), &owned.payload[..]);
            prop_assert_eq!(view.qos(), owned.qos);
            prop_assert_eq!(view.retain(), owned.retain);
            prop_assert_eq!(view.topic_alias(), owned.properties.topic_alias);
            let mut owned_props = Vec::new();
            owned
                .properties
                .for_each_property(|id, value| owned_props.push(format!("{id:?}={value:?}")));
            // The view reports properties in wire order, the owned packet in
            // the order of its fields; the same set either way.
            let mut view_props = properties_of_view(&view);
            view_props.sort();
            owned_props.sort();
            prop_assert_eq!(view_props, owned_props);
        }
        Ok(other) => prop_assert!(view.is_err(), "view accepted {other:?}"),
        Err(e) => prop_assert_eq!(view, Err(e)),
    }
    Ok(())
}

fn publish_frame(version: ProtocolVersion) -> impl Strategy<Value = Vec<u8>> {
    common::publish(version).prop_map(move |p| common::encode(&Packet::Publish(p), version))
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V3_1_1), Just(ProtocolVersion::V5)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Valid PUBLISH frames of both versions read the same.
    #[test]
    fn view_reads_valid_frames_as_the_decoder(
        (version, frame) in version().prop_flat_map(|v| (Just(v), publish_frame(v))),
    ) {
        agree(&frame, version)?;
    }

    /// Damaged PUBLISH frames (same length, bytes after the fixed header
    /// overwritten) are refused with the decoder's error or read the same.
    #[test]
    fn view_and_decoder_agree_on_damaged_frames(
        (version, frame) in version().prop_flat_map(|v| (Just(v), publish_frame(v))),
        edits in vec((any::<Index>(), any::<u8>()), 1..=3),
    ) {
        let mut frame = frame;
        let header_len = common::fixed_header_len(&frame);
        if frame.len() > header_len {
            for (at, byte) in &edits {
                let i = header_len + at.index(frame.len() - header_len);
                frame[i] = *byte;
            }
        }
        agree(&frame, version)?;
    }

    /// Random PUBLISH-typed frames with any flags and content.
    #[test]
    fn view_and_decoder_agree_on_random_frames(
        version in version(),
        flags in 0u8..16,
        body in vec(any::<u8>(), 0..=60),
    ) {
        let mut frame = vec![0x30 | flags, body.len() as u8];
        frame.extend(body);
        agree(&frame, version)?;
    }
}
