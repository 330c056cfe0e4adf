//! Statement-by-statement rejections the unit tests in `src` leave out:
//! reserved fixed-header flags of every packet type, the UTF-8 rules in
//! every kind of string field, and property-block rules. Each bad vector has
//! a good twin of the same length that decodes, so a refusal is the rule's.
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
use mqttkit_codec::mqttkit_topic::TopicError;
use mqttkit_codec::{DecodeError, Decoder, Packet, PacketType, PropertyId, ProtocolVersion};

use ProtocolVersion::{V3_1_1, V5};

/// v5 [MQTT-2.1.3-1], [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1],
/// [MQTT-3.14.1-1], [MQTT-3.15.1-1]; v3.1.1 [MQTT-2.2.2-1]: every flag value
/// other than the listed one is refused, from the fixed header, for every
/// packet type but PUBLISH.
#[test]
fn v5_mqtt_2_1_3_1_reserved_flags_of_every_packet_type() {
    for (version, last_type) in [(V5, 15u8), (V3_1_1, 14)] {
        for nibble in (1..=last_type).filter(|t| *t != 3) {
            let packet_type = PacketType::from_nibble(nibble, version).unwrap();
            // PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0010, the rest 0000.
            let required = if matches!(nibble, 6 | 8 | 10) {
                0b0010
            } else {
                0
            };
            for flags in (0..16u8).filter(|f| *f != required) {
                let first = (nibble << 4) | flags;
                let expected = Err(DecodeError::ReservedFlags { packet_type, flags });
                assert_eq!(
                    Packet::decode(&[first, 0x00], version).map(|_| ()),
                    expected,
                    "{version} {first:#04x}"
                );
                // A decoder refuses it before the rest of the frame arrives.
                let mut buf = BytesMut::from(&[first, 0x80][..]);
                assert_eq!(Decoder::new(version).decode(&mut buf).map(|_| ()), expected);
            }
        }
    }
}

/// Three-byte contents: valid, a UTF-16 surrogate (U+D800 as `ED A0 80`),
/// and "a", U+0000, "b".
const GOOD: &str = "616263";
const SURROGATE: &str = "eda080";
const NULL: &str = "610062";

/// Decodes `template` with `{}` replaced by each content: the good one
/// decodes; the others fail with [MQTT-1.5.4-1] and [MQTT-1.5.4-2].
fn check_string_field(version: ProtocolVersion, template: &str) {
    let with = |content: &str| common::hex(&template.replace("{}", content));
    Packet::decode(&with(GOOD), version).unwrap_or_else(|e| panic!("good twin: {e}"));
    assert_eq!(
        Packet::decode(&with(SURROGATE), version),
        Err(DecodeError::InvalidUtf8),
        "{template}"
    );
    assert_eq!(
        Packet::decode(&with(NULL), version),
        Err(DecodeError::NullCharacter),
        "{template}"
    );
}

/// v5 [MQTT-3.1.3-4]: the ClientID is a UTF-8 Encoded String.
#[test]
fn v5_mqtt_3_1_3_4_client_id_is_utf8() {
    check_string_field(V5, "10 10 0004 4d515454 05 02 003c 00 0003 {}");
}

/// v3.1.1 [MQTT-1.5.3-1], [MQTT-1.5.3-2] in the Client Identifier.
#[test]
fn v3_1_1_mqtt_1_5_3_1_client_id_is_utf8() {
    check_string_field(V3_1_1, "10 0f 0004 4d515454 04 02 003c 0003 {}");
}

/// v5 [MQTT-3.1.3-11]: the Will Topic is a UTF-8 Encoded String.
#[test]
fn v5_mqtt_3_1_3_11_will_topic_is_utf8() {
    check_string_field(
        V5,
        "10 16 0004 4d515454 05 06 003c 00 0001 63 00 0003 {} 0000",
    );
}

/// v5 [MQTT-3.1.3-12]: the User Name is a UTF-8 Encoded String.
#[test]
fn v5_mqtt_3_1_3_12_user_name_is_utf8() {
    check_string_field(V5, "10 13 0004 4d515454 05 82 003c 00 0001 63 0003 {}");
}

/// v5 [MQTT-3.3.2-1]: the Topic Name is a UTF-8 Encoded String.
#[test]
fn v5_mqtt_3_3_2_1_topic_name_is_utf8() {
    check_string_field(V5, "30 06 0003 {} 00");
}

/// v5 [MQTT-3.3.2-13]: the Response Topic is a UTF-8 Encoded String.
#[test]
fn v5_mqtt_3_3_2_13_response_topic_is_utf8() {
    check_string_field(V5, "30 0a 0001 74 06 08 0003 {}");
}

/// v5 [MQTT-3.3.2-14]: the Response Topic contains no wildcard.
#[test]
fn v5_mqtt_3_3_2_14_response_topic_without_wildcards() {
    assert!(Packet::decode(&common::hex("30 0a 0001 74 06 08 0003 612f62"), V5).is_ok());
    for wildcard in ["612f23", "2b2f62"] {
        let bytes = common::hex(&format!("30 0a 0001 74 06 08 0003 {wildcard}"));
        assert_eq!(
            Packet::decode(&bytes, V5),
            Err(DecodeError::TopicName(TopicError::WildcardInTopicName))
        );
    }
}

/// v5 [MQTT-3.3.2-19]: the Content Type is a UTF-8 Encoded String.
#[test]
fn v5_mqtt_3_3_2_19_content_type_is_utf8() {
    check_string_field(V5, "30 0a 0001 74 06 03 0003 {}");
}

/// v5 [MQTT-3.8.3-1]: Topic Filters are UTF-8 Encoded Strings.
#[test]
fn v5_mqtt_3_8_3_1_topic_filter_is_utf8() {
    check_string_field(V5, "82 09 0001 00 0003 {} 00");
}

/// v5 [MQTT-1.5.7-1]: both strings of a User Property are UTF-8 Encoded Strings.
#[test]
fn v5_mqtt_1_5_7_1_user_property_name_and_value_are_utf8() {
    check_string_field(V5, "30 0d 0001 74 09 26 0003 {} 0001 76");
    check_string_field(V5, "30 0d 0001 74 09 26 0001 6b 0003 {}");
}

/// v5 §3.4.2.2.2: the Reason String is a UTF-8 Encoded String.
#[test]
fn v5_reason_string_is_utf8() {
    check_string_field(V5, "40 0a 0001 80 06 1f 0003 {}");
}

/// v5 §3.3.2.3.8: "It is a Protocol Error if the Subscription Identifier
/// has a value of 0."
#[test]
fn v5_publish_subscription_identifier_0_is_refused() {
    assert!(Packet::decode(&common::hex("30 06 0001 74 02 0b01"), V5).is_ok());
    let err = Packet::decode(&common::hex("30 06 0001 74 02 0b00"), V5).unwrap_err();
    assert_eq!(
        err,
        DecodeError::InvalidPropertyValue(PropertyId::SubscriptionIdentifier)
    );
    assert_eq!(err.reason_code(), mqttkit_codec::ReasonCode::ProtocolError);
}

/// v5 §3.3.2.3.3: "It is a Protocol Error to include the Message Expiry
/// Interval more than once"; User Property may repeat.
#[test]
fn v5_single_valued_property_twice_is_refused() {
    let twice = "30 0e 0001 74 0a 0200000001 0200000002";
    assert_eq!(
        Packet::decode(&common::hex(twice), V5),
        Err(DecodeError::DuplicateProperty(
            PropertyId::MessageExpiryInterval
        ))
    );
}

/// v5 §2.2.2.2: a property outside its packet (Topic Alias in CONNACK) and
/// an identifier Table 2-4 does not define (0x05).
#[test]
fn v5_property_not_allowed_or_unknown_is_refused() {
    assert!(Packet::decode(&common::hex("20 06 00 00 03 220001"), V5).is_ok());
    assert_eq!(
        Packet::decode(&common::hex("20 06 00 00 03 230001"), V5),
        Err(DecodeError::PropertyNotAllowed {
            property: PropertyId::TopicAlias,
            packet: PacketType::ConnAck
        })
    );
    assert_eq!(
        Packet::decode(&common::hex("20 05 00 00 02 0500"), V5),
        Err(DecodeError::UnknownProperty(0x05))
    );
}

/// v5 §2.2.2.1: a Property Length that runs past the packet.
#[test]
fn v5_property_length_past_the_packet_is_refused() {
    assert_eq!(
        Packet::decode(&common::hex("30 07 0001 74 04 230001"), V5),
        Err(DecodeError::UnexpectedEnd(PacketType::Publish))
    );
}
