//! Decoded strings, binary data, user properties and payloads are slices of
//! the received frame, not copies; a decoded property view can be extended
//! and re-encoded; a PUBLISH header written apart from its payload is the
//! start of the whole encoding (for a vectored write).
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

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{EncodeError, Encoder, MqttString, Packet, ProtocolVersion, Publish};
use proptest::prelude::*;

fn span(bytes: &[u8]) -> Range<usize> {
    let start = bytes.as_ptr() as usize;
    start..start + bytes.len()
}

/// Whether `part` lies inside `frame` (an empty slice anywhere is fine).
fn inside(frame: &Range<usize>, part: &[u8]) -> bool {
    let part = span(part);
    part.is_empty() || (frame.start <= part.start && part.end <= frame.end)
}

fn decode_publish(publish: &Publish, version: ProtocolVersion) -> (Bytes, Publish) {
    let frame = Bytes::from(common::encode(&publish.clone().into(), version));
    let Packet::Publish(decoded) = Packet::decode_bytes(frame.clone(), version).unwrap() else {
        panic!("not a PUBLISH")
    };
    (frame, decoded)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every variable-length field of a decoded v5 PUBLISH points into the frame.
    #[test]
    fn v5_publish_fields_are_slices_of_the_frame(publish in common::publish(ProtocolVersion::V5)) {
        let (frame, p) = decode_publish(&publish, ProtocolVersion::V5);
        let frame = span(&frame);
        prop_assert!(inside(&frame, &p.payload));
        if let Some(topic) = &p.topic {
            prop_assert!(inside(&frame, topic.as_bytes()));
        }
        let props = &p.properties;
        if let Some(t) = &props.response_topic() {
            prop_assert!(inside(&frame, t.as_bytes()));
        }
        if let Some(c) = &props.content_type() {
            prop_assert!(inside(&frame, c.as_bytes()));
        }
        if let Some(d) = &props.correlation_data() {
            prop_assert!(inside(&frame, d));
        }
        for (name, value) in props.user_properties().iter() {
            prop_assert!(inside(&frame, name.as_bytes()) && inside(&frame, value.as_bytes()));
        }
        for (name, value) in props.user_properties().iter_owned() {
            prop_assert!(inside(&frame, name.as_bytes()) && inside(&frame, value.as_bytes()));
        }
    }

    /// v5 [MQTT-3.3.2-18]: pairs keep their order when a pair is added to a
    /// decoded (borrowed) list, and Subscription Identifiers likewise.
    #[test]
    fn v5_decoded_repeatable_properties_can_be_extended(
        publish in common::publish(ProtocolVersion::V5),
        name in common::mqtt_string(),
        value in common::mqtt_string(),
        sub_id in common::subscription_identifier(),
    ) {
        let (_, mut decoded) = decode_publish(&publish, ProtocolVersion::V5);
        let mut expected: Vec<(MqttString, MqttString)> =
            publish.properties.user_properties().iter_owned().collect();
        expected.push((name.clone(), value.clone()));
        decoded.properties.push_user_property(name, value);
        let mut expected_ids: Vec<_> = publish.properties.subscription_identifiers().iter().collect();
        expected_ids.push(sub_id);
        decoded.properties.push_subscription_identifier(sub_id);

        let (_, again) = decode_publish(&decoded, ProtocolVersion::V5);
        prop_assert_eq!(again.properties.user_properties().iter_owned().collect::<Vec<_>>(), expected);
        prop_assert_eq!(
            again.properties.subscription_identifiers().iter().collect::<Vec<_>>(),
            expected_ids
        );
    }

    /// `Publish::encode_header` followed by the payload is the whole packet.
    #[test]
    fn publish_header_then_payload_is_the_whole_packet(
        (version, publish) in prop_oneof![
            Just(ProtocolVersion::V3_1_1),
            Just(ProtocolVersion::V5)
        ].prop_flat_map(|v| (Just(v), common::publish(v)))
    ) {
        let whole = common::encode(&publish.clone().into(), version);
        let mut header = Vec::new();
        let written = publish.encode_header(version, &mut header).unwrap();
        prop_assert_eq!(written, header.len());
        prop_assert_eq!(written + publish.payload.len(), whole.len());
        header.extend_from_slice(&publish.payload);
        prop_assert_eq!(header, whole);
    }

    /// v5 [MQTT-3.1.2-24]: the fan-out head is refused exactly when the
    /// whole packet would be, by `encode_publish` and `encode` alike, for
    /// being larger than the peer's Maximum Packet Size (a packet of
    /// exactly that size goes), and with the payload after it is the whole
    /// packet.
    #[test]
    fn v5_mqtt_3_1_2_24_publish_head_checks_the_whole_packet(
        (version, publish) in prop_oneof![
            Just(ProtocolVersion::V3_1_1),
            Just(ProtocolVersion::V5)
        ].prop_flat_map(|v| (Just(v), common::publish(v))),
        slack in -3i64..3,
    ) {
        let whole = common::encode(&publish.clone().into(), version);
        let max = u32::try_from((whole.len() as i64 + slack).max(0)).unwrap();
        let encoder = Encoder::new(version).with_max_packet_size(max);
        let mut head = BytesMut::new();
        let mut all = BytesMut::new();
        let head_result = encoder.encode_publish_head(&publish, &mut head);
        let all_result = encoder.encode_publish(&publish, &mut all);
        let mut generic = BytesMut::new();
        let generic_result = encoder.encode(&publish.clone().into(), &mut generic);
        if whole.len() > max as usize {
            let too_large = matches!(head_result, Err(EncodeError::PacketTooLarge { .. }));
            prop_assert!(too_large);
            prop_assert!(all_result.is_err());
            prop_assert!(generic_result.is_err());
            prop_assert!(head.is_empty());
        } else {
            prop_assert_eq!(generic_result.unwrap(), whole.len());
            prop_assert_eq!(head_result.unwrap(), head.len());
            prop_assert_eq!(all_result.unwrap(), whole.len());
            head.extend_from_slice(&publish.payload);
            prop_assert_eq!(&head[..], &whole[..]);
            prop_assert_eq!(&all[..], &whole[..]);
        }
    }
}
