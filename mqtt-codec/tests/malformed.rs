//! The malformed-input table: for each rule of the standards that the decoder
//! enforces, the smallest frame that breaks it (the frames of the cross-crate
//! malformed corpus in `mqtt-codec/BENCHMARKS.md` among them), with the exact
//! error it must get. Test names carry the statement id and version.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use mqttkit_codec::mqttkit_topic::TopicError;
use mqttkit_codec::{
    DecodeError, Packet, PacketType, PropertyId, ProtocolVersion, PublishView, ReasonCode,
};

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|c| u8::try_from((c as char).to_digit(16).unwrap()).unwrap())
        .collect();
    assert!(digits.len().is_multiple_of(2), "odd hex in {s}");
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

fn decode(version: ProtocolVersion, frame: &str) -> Result<Packet, DecodeError> {
    Packet::decode(&hex(frame), version)
}

macro_rules! rejected {
    ($($(#[$doc:meta])* $name:ident: $version:ident, $frame:literal => $error:expr;)+) => {
        $(
            $(#[$doc])*
            #[test]
            fn $name() {
                assert_eq!(decode(ProtocolVersion::$version, $frame), Err($error));
                // The borrowed PUBLISH reader keeps the same rules.
                let bytes = hex($frame);
                if bytes.first().is_some_and(|b| b >> 4 == 3) {
                    assert_eq!(
                        PublishView::parse(&bytes, ProtocolVersion::$version).map(drop),
                        Err($error),
                        "PublishView"
                    );
                }
            }
        )+
    };
}

macro_rules! accepted {
    ($($(#[$doc:meta])* $name:ident: $version:ident, $frame:literal;)+) => {
        $(
            $(#[$doc])*
            #[test]
            fn $name() {
                let bytes = hex($frame);
                let packet = Packet::decode(&bytes, ProtocolVersion::$version).unwrap();
                // A valid frame also re-encodes to a frame that decodes the same.
                let mut out = Vec::new();
                packet.encode(ProtocolVersion::$version, &mut out).unwrap();
                assert_eq!(Packet::decode(&out, ProtocolVersion::$version).unwrap(), packet);
            }
        )+
    };
}

use DecodeError as E;
use PacketType as T;

rejected! {
    /// v5 [MQTT-1.5.5-1]: a remaining length of five bytes.
    v5_mqtt_1_5_5_1_remaining_length_of_5_bytes: V5, "30 ff ff ff ff 01" => E::MalformedVariableByteInteger;
    /// v5 [MQTT-1.5.5-1]: a non-minimal remaining length.
    v5_mqtt_1_5_5_1_non_minimal_remaining_length: V5, "30 80 00" => E::MalformedVariableByteInteger;
    /// v5 [MQTT-1.5.5-1]: a non-minimal property length.
    v5_mqtt_1_5_5_1_non_minimal_property_length: V5, "30 05 0001 74 80 00" => E::MalformedVariableByteInteger;
    /// v3.1.1 §2.2.1: packet type 0 is reserved.
    v3_1_1_packet_type_0_is_reserved: V3_1_1, "00 00" => E::InvalidPacketType(0);
    /// v3.1.1 §2.2.1: packet type 15 is reserved before 5.0.
    v3_1_1_packet_type_15_is_reserved: V3_1_1, "f0 00" => E::InvalidPacketType(15);
    /// v3.1.1 [MQTT-3.8.1-1]: SUBSCRIBE flags 0000.
    v3_1_1_mqtt_3_8_1_1_subscribe_flags_0000: V3_1_1, "80 06 0001 0001 61 00" => E::ReservedFlags { packet_type: T::Subscribe, flags: 0 };
    /// v3.1.1 [MQTT-3.6.1-1]: PUBREL flags 0000.
    v3_1_1_mqtt_3_6_1_1_pubrel_flags_0000: V3_1_1, "60 02 0001" => E::ReservedFlags { packet_type: T::PubRel, flags: 0 };
    /// v5 [MQTT-3.15.1-1]: AUTH flags must be 0.
    v5_mqtt_3_15_1_1_auth_flags: V5, "f1 00" => E::ReservedFlags { packet_type: T::Auth, flags: 1 };
    /// v5 [MQTT-3.14.1-1]: DISCONNECT flags must be 0.
    v5_mqtt_3_14_1_1_disconnect_flags: V5, "e2 00" => E::ReservedFlags { packet_type: T::Disconnect, flags: 2 };
    /// v3.1.1 [MQTT-3.3.1-4]: QoS 3.
    v3_1_1_mqtt_3_3_1_4_qos_3: V3_1_1, "36 05 0001 74 0001" => E::InvalidQoS;
    /// v5 [MQTT-3.3.1-4]: QoS 3.
    v5_mqtt_3_3_1_4_qos_3: V5, "36 06 0001 74 0001 00" => E::InvalidQoS;
    /// v3.1.1 [MQTT-3.3.1-2]: DUP on QoS 0.
    v3_1_1_mqtt_3_3_1_2_dup_on_qos_0: V3_1_1, "38 03 0001 74" => E::DupOnQoS0;
    /// v5 [MQTT-3.3.1-2]: DUP on QoS 0.
    v5_mqtt_3_3_1_2_dup_on_qos_0: V5, "38 04 0001 74 00" => E::DupOnQoS0;
    /// v3.1.1 [MQTT-2.3.1-1]: QoS 1 PUBLISH with packet identifier 0.
    v3_1_1_mqtt_2_3_1_1_publish_packet_id_0: V3_1_1, "32 05 0001 74 0000" => E::ZeroPacketId;
    /// v5 [MQTT-2.2.1-3]: SUBSCRIBE with packet identifier 0.
    v5_mqtt_2_2_1_3_subscribe_packet_id_0: V5, "82 07 0000 00 0001 61 00" => E::ZeroPacketId;
    /// v3.1.1 [MQTT-2.3.1-1]: PUBACK with packet identifier 0.
    v3_1_1_mqtt_2_3_1_1_puback_packet_id_0: V3_1_1, "40 02 0000" => E::ZeroPacketId;
    /// v3.1.1 [MQTT-1.5.3-1]: ill-formed UTF-8 topic.
    v3_1_1_mqtt_1_5_3_1_invalid_utf8_topic: V3_1_1, "30 04 0002 c328" => E::InvalidUtf8;
    /// v5 [MQTT-1.5.4-1]: ill-formed UTF-8 topic.
    v5_mqtt_1_5_4_1_invalid_utf8_topic: V5, "30 05 0002 c328 00" => E::InvalidUtf8;
    /// v5 [MQTT-1.5.4-1]: an encoded surrogate (U+D800) is not UTF-8.
    v5_mqtt_1_5_4_1_surrogate_in_client_id: V5, "10 10 0004 4d515454 05 02 003c 00 0003 eda080" => E::InvalidUtf8;
    /// v3.1.1 [MQTT-1.5.3-2]: U+0000 in a topic.
    v3_1_1_mqtt_1_5_3_2_null_in_topic: V3_1_1, "30 05 0003 610062" => E::NullCharacter;
    /// v5 [MQTT-1.5.4-2]: U+0000 in a topic.
    v5_mqtt_1_5_4_2_null_in_topic: V5, "30 06 0003 610062 00" => E::NullCharacter;
    /// v5 [MQTT-1.5.7-1]: a User Property name that is not UTF-8.
    v5_mqtt_1_5_7_1_user_property_invalid_utf8: V5, "30 0b 0001 74 07 26 0001 ff 0001 61" => E::InvalidUtf8;
    /// v3.1.1 [MQTT-3.3.2-2]: `+` in a PUBLISH topic.
    v3_1_1_mqtt_3_3_2_2_plus_in_topic: V3_1_1, "30 05 0003 612f2b" => E::TopicName(TopicError::WildcardInTopicName);
    /// v5 [MQTT-3.3.2-2]: `#` in a PUBLISH topic.
    v5_mqtt_3_3_2_2_hash_in_topic: V5, "30 06 0003 612f23 00" => E::TopicName(TopicError::WildcardInTopicName);
    /// v5 [MQTT-3.3.2-14]: a Response Topic with a wildcard.
    v5_mqtt_3_3_2_14_response_topic_wildcard: V5, "30 08 0001 74 04 08 0001 23" => E::TopicName(TopicError::WildcardInTopicName);
    /// v3.1.1 [MQTT-4.7.3-1]: an empty topic.
    v3_1_1_mqtt_4_7_3_1_empty_topic: V3_1_1, "30 02 0000" => E::EmptyTopicWithoutAlias;
    /// v5 §3.3.2.3.4: an empty topic without a Topic Alias.
    v5_empty_topic_without_alias: V5, "30 03 0000 00" => E::EmptyTopicWithoutAlias;
    /// v3.1.1 [MQTT-3.1.2-11]: a will topic with a wildcard.
    v3_1_1_will_topic_with_wildcard: V3_1_1, "10 13 0004 4d515454 04 06 003c 0001 63 0001 23 0001 78" => E::TopicName(TopicError::WildcardInTopicName);
    /// v3.1.1 [MQTT-3.8.3-3]: SUBSCRIBE without filters.
    v3_1_1_mqtt_3_8_3_3_empty_subscribe: V3_1_1, "82 02 0001" => E::EmptySubscribe;
    /// v5 [MQTT-3.8.3-2]: SUBSCRIBE without filters.
    v5_mqtt_3_8_3_2_empty_subscribe: V5, "82 03 0001 00" => E::EmptySubscribe;
    /// v3.1.1 [MQTT-3.10.3-2]: UNSUBSCRIBE without filters.
    v3_1_1_mqtt_3_10_3_2_empty_unsubscribe: V3_1_1, "a2 02 0001" => E::EmptyUnsubscribe;
    /// v5 [MQTT-3.10.3-2]: UNSUBSCRIBE without filters.
    v5_mqtt_3_10_3_2_empty_unsubscribe: V5, "a2 03 0001 00" => E::EmptyUnsubscribe;
    /// v3.1.1 [MQTT-3.8.3-4]: SUBSCRIBE option bits 7-2 set.
    v3_1_1_mqtt_3_8_3_4_subscribe_reserved_bits: V3_1_1, "82 06 0001 0001 61 c0" => E::SubscriptionOptionsReserved;
    /// v5 [MQTT-3.8.3-5]: SUBSCRIBE option bits 7-6 set.
    v5_mqtt_3_8_3_5_subscribe_reserved_bits: V5, "82 07 0001 00 0001 61 c0" => E::SubscriptionOptionsReserved;
    /// v3.1.1 [MQTT-3.8.3-4]: requested QoS 3.
    v3_1_1_mqtt_3_8_3_4_subscribe_qos_3: V3_1_1, "82 06 0001 0001 61 03" => E::InvalidQoS;
    /// v5 §3.8.3.1: Retain Handling 3.
    v5_retain_handling_3: V5, "82 07 0001 00 0001 61 30" => E::InvalidRetainHandling;
    /// v3.1.1 [MQTT-4.7.1-2]: filter `a/#/b`.
    v3_1_1_mqtt_4_7_1_2_filter_hash_not_last: V3_1_1, "82 0a 0001 0005 612f232f62 00" => E::TopicFilter(TopicError::HashNotWholeLastLevel);
    /// v5 [MQTT-4.7.1-2]: filter `a#` in UNSUBSCRIBE.
    v5_mqtt_4_7_1_2_unsubscribe_filter_a_hash: V5, "a2 07 0001 00 0002 6123" => E::TopicFilter(TopicError::HashNotWholeLastLevel);
    /// v5 [MQTT-4.7.1-3]... `+` sharing a level: filter `a+`.
    v5_filter_plus_not_whole_level: V5, "82 08 0001 00 0002 612b 00" => E::TopicFilter(TopicError::PlusNotWholeLevel);
    /// v5 [MQTT-4.7.3-1]: an empty filter.
    v5_mqtt_4_7_3_1_empty_filter: V5, "82 06 0001 00 0000 00" => E::TopicFilter(TopicError::Empty);
    /// v5 [MQTT-4.8.2-1]: `$share//a` has an empty ShareName.
    v5_mqtt_4_8_2_1_empty_share_name: V5, "82 0f 0001 00 0009 2473686172652f2f61 00" => E::TopicFilter(TopicError::EmptyShareName);
    /// v5 [MQTT-4.8.2-2]: `$share/+/a`: the ShareName contains `+`.
    v5_mqtt_4_8_2_2_share_name_with_plus: V5, "82 10 0001 00 000a 2473686172652f2b2f61 00" => E::TopicFilter(TopicError::InvalidShareName);
    /// v5 [MQTT-3.8.3-4]: No Local on a shared subscription.
    v5_mqtt_3_8_3_4_no_local_on_shared: V5, "82 10 0001 00 000a 2473686172652f672f61 04" => E::NoLocalOnSharedSubscription;
    /// v3.1.1 [MQTT-3.1.2-3]: CONNECT reserved flag.
    v3_1_1_mqtt_3_1_2_3_connect_reserved_flag: V3_1_1, "10 0d 0004 4d515454 04 03 003c 0001 63" => E::ConnectReservedFlag;
    /// v5 [MQTT-3.1.2-3]: CONNECT reserved flag.
    v5_mqtt_3_1_2_3_connect_reserved_flag: V5, "10 0e 0004 4d515454 05 03 003c 00 0001 63" => E::ConnectReservedFlag;
    /// v3.1.1 [MQTT-3.1.2-1]: protocol name `MQTX`.
    v3_1_1_mqtt_3_1_2_1_bad_protocol_name: V3_1_1, "10 0d 0004 4d515458 04 02 003c 0001 63" => E::InvalidProtocolName;
    /// v5 [MQTT-3.1.2-2]: protocol level 7.
    v5_mqtt_3_1_2_2_bad_protocol_level: V5, "10 0d 0004 4d515454 07 02 003c 0001 63" => E::UnsupportedProtocolLevel(7);
    /// v3.1.1 [MQTT-3.1.2-2]: `MQIsdp` is level 3 only.
    v3_1_1_mqtt_3_1_2_2_mqisdp_with_level_4: V3_1_1, "10 0f 0006 4d5149736470 04 02 003c 0001 63" => E::UnsupportedProtocolLevel(4);
    /// v3.1.1 [MQTT-3.1.2-13]: Will QoS without the Will Flag.
    v3_1_1_mqtt_3_1_2_13_will_qos_without_will: V3_1_1, "10 0d 0004 4d515454 04 0a 003c 0001 63" => E::InconsistentWillFlags;
    /// v5 [MQTT-3.1.2-11]: Will QoS 1 without the Will Flag.
    v5_mqtt_3_1_2_11_will_qos_1_without_will: V5, "10 0e 0004 4d515454 05 0a 003c 00 0001 63" => E::InconsistentWillFlags;
    /// v5 [MQTT-3.1.2-11]: Will QoS 2 without the Will Flag.
    v5_mqtt_3_1_2_11_will_qos_2_without_will: V5, "10 0e 0004 4d515454 05 12 003c 00 0001 63" => E::InconsistentWillFlags;
    /// v5 [MQTT-3.1.2-13]: Will Retain without the Will Flag.
    v5_mqtt_3_1_2_13_will_retain_without_will: V5, "10 0e 0004 4d515454 05 22 003c 00 0001 63" => E::InconsistentWillFlags;
    /// v5 [MQTT-3.1.2-12]: Will QoS 3.
    v5_mqtt_3_1_2_12_will_qos_3: V5, "10 0e 0004 4d515454 05 1e 003c 00 0001 63" => E::InconsistentWillFlags;
    /// v3.1.1 [MQTT-3.1.2-22]: password without user name.
    v3_1_1_mqtt_3_1_2_22_password_without_username: V3_1_1, "10 10 0004 4d515454 04 42 003c 0001 63 0001 70" => E::PasswordWithoutUsername;
    /// v3.1.1 [MQTT-3.1.2-19]: the password flag with no password in the payload.
    v3_1_1_mqtt_3_1_2_19_missing_password: V3_1_1, "10 10 0004 4d515454 04 c2 003c 0001 63 0001 75" => E::UnexpectedEnd(T::Connect);
    /// v3.1.1 §3.2.2.1: CONNACK reserved flags.
    v3_1_1_connack_reserved_flags: V3_1_1, "20 02 02 00" => E::ConnAckReservedFlags;
    /// v3.1.1 [MQTT-3.2.2-4]: Session Present with a refusal.
    v3_1_1_mqtt_3_2_2_4_session_present_with_refusal: V3_1_1, "20 02 01 05" => E::SessionPresentWithRefusal;
    /// v3.1.1 §3.2.2.3: return code 6 is reserved.
    v3_1_1_connack_reserved_return_code: V3_1_1, "20 02 00 06" => E::InvalidReasonCode { packet: T::ConnAck, code: 6 };
    /// v5 [MQTT-3.2.2-8]: 0x01 is not a CONNACK reason code.
    v5_mqtt_3_2_2_8_connack_invalid_reason: V5, "20 03 00 01 00" => E::InvalidReasonCode { packet: T::ConnAck, code: 1 };
    /// v3.1.1 §3.9.3: SUBACK return code 3 is reserved.
    v3_1_1_suback_reserved_return_code: V3_1_1, "90 03 0001 03" => E::InvalidReasonCode { packet: T::SubAck, code: 3 };
    /// v5 §3.9.3: SUBACK reason code 0x03 does not exist.
    v5_suback_invalid_reason_code: V5, "90 04 0001 00 03" => E::InvalidReasonCode { packet: T::SubAck, code: 3 };
    /// v5 §3.11.3: UNSUBACK without reason codes.
    v5_unsuback_without_reason_codes: V5, "b0 03 0001 00" => E::EmptyAckPayload;
    /// v5 [MQTT-3.14.2-1]: 0x18 is not a DISCONNECT reason code.
    v5_mqtt_3_14_2_1_disconnect_invalid_reason: V5, "e0 01 18" => E::InvalidReasonCode { packet: T::Disconnect, code: 0x18 };
    /// v5 [MQTT-3.15.2-1]: 0x01 is not an AUTH reason code.
    v5_mqtt_3_15_2_1_auth_invalid_reason: V5, "f0 01 01" => E::InvalidReasonCode { packet: T::Auth, code: 1 };
    /// v5 [MQTT-3.6.2-1]: 0x10 is not a PUBREL reason code.
    v5_mqtt_3_6_2_1_pubrel_invalid_reason: V5, "62 03 0001 10" => E::InvalidReasonCode { packet: T::PubRel, code: 0x10 };
    /// v5 §3.3.2.3: Message Expiry Interval twice.
    v5_duplicate_message_expiry: V5, "30 0e 0001 74 0a 02 00000001 02 00000002" => E::DuplicateProperty(PropertyId::MessageExpiryInterval);
    /// v5 §3.8.2.1.2: two Subscription Identifiers in SUBSCRIBE.
    v5_duplicate_subscription_identifier_in_subscribe: V5, "82 0b 0001 04 0b01 0b02 0001 61 00" => E::DuplicateProperty(PropertyId::SubscriptionIdentifier);
    /// v5 §2.2.2.2: Session Expiry Interval in PUBLISH.
    v5_session_expiry_in_publish: V5, "30 09 0001 74 05 11 00000001" => E::PropertyNotAllowed { property: PropertyId::SessionExpiryInterval, packet: T::Publish };
    /// v5 §2.2.2.2: Topic Alias in CONNECT.
    v5_topic_alias_in_connect: V5, "10 11 0004 4d515454 05 02 003c 03 230001 0001 63" => E::PropertyNotAllowed { property: PropertyId::TopicAlias, packet: T::Connect };
    /// v5 §2.2.2.2: property identifier 0x05 does not exist.
    v5_unknown_property: V5, "30 06 0001 74 02 05 00" => E::UnknownProperty(5);
    /// v5 [MQTT-3.3.2-8]: Topic Alias 0.
    v5_mqtt_3_3_2_8_topic_alias_0: V5, "30 07 0001 74 03 23 0000" => E::InvalidPropertyValue(PropertyId::TopicAlias);
    /// v5 §3.3.2.3.2: Payload Format Indicator 2.
    v5_payload_format_indicator_2: V5, "30 06 0001 74 02 01 02" => E::InvalidPropertyValue(PropertyId::PayloadFormatIndicator);
    /// v5 §3.3.2.3.8: Subscription Identifier 0 in PUBLISH.
    v5_subscription_identifier_0_in_publish: V5, "30 06 0001 74 02 0b 00" => E::InvalidPropertyValue(PropertyId::SubscriptionIdentifier);
    /// v5 §3.8.2.1.2: Subscription Identifier 0 in SUBSCRIBE.
    v5_subscription_identifier_0_in_subscribe: V5, "82 09 0001 02 0b 00 0001 61 00" => E::InvalidPropertyValue(PropertyId::SubscriptionIdentifier);
    /// v5 §3.1.2.11.3: Receive Maximum 0.
    v5_receive_maximum_0: V5, "10 11 0004 4d515454 05 02 003c 03 21 0000 0001 63" => E::InvalidPropertyValue(PropertyId::ReceiveMaximum);
    /// v5 §3.1.2.11.4: Maximum Packet Size 0.
    v5_maximum_packet_size_0: V5, "10 13 0004 4d515454 05 02 003c 05 27 00000000 0001 63" => E::InvalidPropertyValue(PropertyId::MaximumPacketSize);
    /// v5 §3.1.2.11.6: Request Response Information 2.
    v5_request_response_information_2: V5, "10 10 0004 4d515454 05 02 003c 02 19 02 0001 63" => E::InvalidPropertyValue(PropertyId::RequestResponseInformation);
    /// v5 §3.2.2.3.4: Maximum QoS 2.
    v5_maximum_qos_2: V5, "20 05 00 00 02 24 02" => E::InvalidPropertyValue(PropertyId::MaximumQoS);
    /// v5 §3.2.2.3.5: Retain Available 2.
    v5_retain_available_2: V5, "20 05 00 00 02 25 02" => E::InvalidPropertyValue(PropertyId::RetainAvailable);
    /// v5 §3.1.2.11.10: Authentication Data without Authentication Method.
    v5_authentication_data_without_method: V5, "10 12 0004 4d515454 05 02 003c 04 16 0001 ff 0001 63" => E::AuthenticationDataWithoutMethod;
    /// v3.1.1: a topic length beyond the remaining length (mqttrs panics here).
    v3_1_1_topic_length_overruns_remaining_length: V3_1_1, "30 04 0010 6162" => E::UnexpectedEnd(T::Publish);
    /// v5: a property length beyond the remaining length.
    v5_property_length_overruns_remaining_length: V5, "30 05 0001 74 05 01" => E::UnexpectedEnd(T::Publish);
    /// v5: a property value beyond its property length.
    v5_property_value_overruns_property_length: V5, "30 09 0001 74 02 02 0000 0000" => E::UnexpectedEnd(T::Publish);
    /// v3.1.1 §3.12: PINGREQ with remaining length 1.
    v3_1_1_pingreq_with_remaining_length_1: V3_1_1, "c0 01 00" => E::TrailingBytes(T::PingReq);
    /// v3.1.1 §3.4: PUBACK longer than 2.
    v3_1_1_puback_longer_than_2: V3_1_1, "40 03 0001 00" => E::TrailingBytes(T::PubAck);
    /// v3.1.1 §3.14: DISCONNECT with a body.
    v3_1_1_disconnect_with_body: V3_1_1, "e0 01 00" => E::TrailingBytes(T::Disconnect);
    /// v5 §3.2: CONNACK with bytes after its properties.
    v5_connack_trailing_bytes: V5, "20 04 00 00 00 00" => E::TrailingBytes(T::ConnAck);
}

accepted! {
    /// v5 §3.14.2.1: `E0 00` is a normal disconnection.
    v5_disconnect_e0_00: V5, "e0 00";
    /// v5 §3.15.2.1: `F0 00` is a Success AUTH.
    v5_auth_f0_00: V5, "f0 00";
    /// v5 §3.4.2.1: PUBACK with remaining length 2.
    v5_puback_remaining_length_2: V5, "40 02 0001";
    /// v5 §3.4.2.2.1: PUBACK with remaining length 3.
    v5_puback_remaining_length_3: V5, "40 03 0001 10";
    /// v5 §3.4.2.2: PUBACK with remaining length 4 (empty properties).
    v5_puback_remaining_length_4: V5, "40 04 0001 10 00";
    /// v5 §3.7.2: PUBCOMP with Packet Identifier not found.
    v5_pubcomp_identifier_not_found: V5, "70 03 0001 92";
    /// v5 §3.3.2.3.4: an empty topic with a Topic Alias.
    v5_empty_topic_with_alias: V5, "30 07 0000 03 23 0007 ff";
    /// v5 [MQTT-3.3.2-18]: repeated User Properties keep their order.
    v5_repeated_user_properties: V5, "30 12 0001 74 0e 26 0001 61 0001 62 26 0001 61 0001 63";
    /// v5 §3.3.4: several Subscription Identifiers in a PUBLISH from the server.
    v5_several_subscription_identifiers: V5, "30 08 0001 74 04 0b 01 0b 02";
    /// v5 [MQTT-1.5.4-3]: U+FEFF is kept in a topic.
    v5_mqtt_1_5_4_3_bom_in_topic: V5, "30 07 0004 efbbbf61 00";
    /// v3.1.1 §4.8: `$share/g/a` is an ordinary filter before 5.0.
    v3_1_1_share_prefix_is_an_ordinary_filter: V3_1_1, "82 0f 0001 000a 2473686172652f672f61 01";
    /// v5 §4.7.1.2: `+` matches an empty level; `a//b` and `/` are valid topics.
    v5_empty_levels_are_valid: V5, "30 07 0003 612f2f 00 78";
    /// v5 §3.1.2.5: the twin of the Will QoS and Will Retain rows, Will Flag
    /// and both fields 0.
    v5_connect_without_will: V5, "10 0e 0004 4d515454 05 02 003c 00 0001 63";
    /// v3.1 CONNECT (`MQIsdp`, level 3).
    v3_1_connect: V3_1_1, "10 0f 0006 4d5149736470 03 02 003c 0001 63";
}

/// The reason codes a v5 receiver answers with, for a sample of errors.
#[test]
fn v5_errors_carry_the_reason_code_to_answer_with() {
    let code = |version, frame| decode(version, frame).unwrap_err().reason_code();
    assert_eq!(
        code(ProtocolVersion::V5, "30 80 00"),
        ReasonCode::MalformedPacket
    );
    assert_eq!(
        code(
            ProtocolVersion::V5,
            "30 0e 0001 74 0a 02 00000001 02 00000002"
        ),
        ReasonCode::ProtocolError
    );
    assert_eq!(
        code(ProtocolVersion::V5, "30 07 0001 74 03 23 0000"),
        ReasonCode::TopicAliasInvalid
    );
    assert_eq!(
        code(
            ProtocolVersion::V5,
            "10 0d 0004 4d515454 07 02 003c 0001 63"
        ),
        ReasonCode::UnsupportedProtocolVersion
    );
    assert_eq!(
        code(ProtocolVersion::V5, "30 06 0003 612f23 00"),
        ReasonCode::MalformedPacket
    );
    // A malformed filter such as `a/#/b` makes the SUBSCRIBE a Malformed Packet.
    assert_eq!(
        code(ProtocolVersion::V5, "82 0b 0001 00 0005 612f232f62 00"),
        ReasonCode::MalformedPacket
    );
    assert_eq!(
        code(ProtocolVersion::V5, "82 03 0001 00"),
        ReasonCode::ProtocolError
    );
}

/// Every error's message names a statement or a section of the standard.
#[test]
fn error_messages_name_their_rule() {
    for frame in ["30 80 00", "82 02 0001", "30 05 0003 612f2b", "c0 01 00"] {
        let err = decode(ProtocolVersion::V3_1_1, frame).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("[MQTT-") || text.contains('§') || text.contains("remaining length"),
            "{text}"
        );
    }
}
