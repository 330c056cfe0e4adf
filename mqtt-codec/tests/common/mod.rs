//! Proptest strategies for arbitrary *valid* packets of every type, in every
//! protocol version, shared by the integration tests.
//!
//! "Valid" means what a conforming sender may put on the wire: topic names
//! without wildcards, filters with `+` and `#` only as whole levels (and `#`
//! last), `$share/{ShareName}/{filter}` only in 5.0 and never with No Local
//! (v5 [MQTT-3.8.3-4]), properties only in 5.0, reason codes that the packet
//! and the version can carry, non-zero packet identifiers
//! (v5 [MQTT-2.2.1-3], v3.1.1 [MQTT-2.3.1-1]).
#![allow(dead_code)] // Each test binary uses a part of this module.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use mqttkit_codec::mqttkit_topic::{TopicFilter, TopicName};
use mqttkit_codec::{
    AckProperties, Auth, AuthProperties, AuthReasonCode, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, ConnectReasonCode, Disconnect, DisconnectProperties, DisconnectReasonCode,
    LastWill, Login, MAX_VARIABLE_BYTE_INTEGER, MqttString, Packet, PacketId, PayloadFormat,
    ProtocolVersion, PubAck, PubAckReasonCode, PubComp, PubRec, PubRel, PubRelReasonCode, Publish,
    PublishProperties, PublishQoS, QoS, RetainHandling, SubAck, SubAckReasonCode, Subscribe,
    SubscribeProperties, SubscriptionOptions, UnsubAck, UnsubAckReasonCode, Unsubscribe,
    UnsubscribeProperties, UserProperties, WillProperties,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

/// Characters of topic levels and strings: ASCII and two-, three- and
/// four-byte UTF-8 (v5 §1.5.4), but none of `/ + # $` and no U+0000.
const CHARS: &[&str] = &["a", "b", "Z", "0", " ", "-", "é", "ß", "€", "ह", "😀", "𝄞"];

/// Bytes from hex digits; spaces and line breaks are ignored.
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_digit(16).expect("hex digit") as u8)
        .collect();
    assert!(
        digits.len().is_multiple_of(2),
        "odd number of hex digits in {text:?}"
    );
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// Encodes `packet` for `version`, checking that `encoded_len` is exact.
pub fn encode(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut wire = Vec::new();
    let written = packet
        .encode(version, &mut wire)
        .unwrap_or_else(|e| panic!("valid packet failed to encode in {version}: {e}\n{packet:?}"));
    assert_eq!(written, wire.len(), "returned length of {packet:?}");
    assert_eq!(
        packet.encoded_len(version),
        Ok(wire.len()),
        "encoded_len of {packet:?}"
    );
    wire
}

/// Length of a fixed header: the type byte and the remaining length's
/// variable byte integer (bytes with the continuation bit, then one without).
pub fn fixed_header_len(frame: &[u8]) -> usize {
    let continued = frame[1..].iter().take_while(|b| **b & 0x80 != 0).count();
    2 + continued
}

fn text(max_chars: usize) -> impl Strategy<Value = String> {
    vec(select(CHARS), 0..=max_chars).prop_map(|parts| parts.concat())
}

/// A UTF-8 Encoded String (v5 §1.5.4), possibly empty.
pub fn mqtt_string() -> impl Strategy<Value = MqttString> {
    text(6).prop_map(|s| MqttString::try_from(s).expect("valid string"))
}

/// Binary Data (v5 §1.5.6).
pub fn binary(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

/// One topic level, possibly empty (v5 §4.7.1.1: "adjacent Topic Level
/// Separators indicate a zero-length topic level").
fn level() -> impl Strategy<Value = String> {
    text(3)
}

/// A topic name: 1..=4 levels, at least one character, no wildcard
/// (v5 [MQTT-4.7.3-1], [MQTT-3.3.2-2]).
pub fn topic_name() -> impl Strategy<Value = TopicName> {
    vec(level(), 1..=4).prop_map(|levels| {
        let name = levels.join("/");
        let name = if name.is_empty() {
            "t".to_owned()
        } else {
            name
        };
        TopicName::try_from(name).expect("valid topic name")
    })
}

/// A topic filter: levels that are text or `+`, optionally a last `#`
/// (v5 [MQTT-4.7.1-1], [MQTT-4.7.1-2]).
pub fn plain_filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![3 => level(), 1 => Just("+".to_owned())];
    (vec(level, 0..=4), any::<bool>()).prop_map(|(mut levels, hash)| {
        if hash {
            levels.push("#".to_owned());
        }
        let filter = levels.join("/");
        if filter.is_empty() {
            "f".to_owned()
        } else {
            filter
        }
    })
}

fn to_filter(filter: String) -> TopicFilter {
    TopicFilter::try_from(filter).expect("valid topic filter")
}

/// A filter valid in `version`: in 5.0 also `$share/{ShareName}/{filter}`
/// with a non-empty ShareName without `/ + #` (v5 [MQTT-4.8.2-1], [MQTT-4.8.2-2]).
pub fn topic_filter(version: ProtocolVersion) -> BoxedStrategy<TopicFilter> {
    if version.is_v5() {
        prop_oneof![
            4 => plain_filter().prop_map(to_filter),
            1 => (text(3).prop_filter("ShareName is not empty", |s| !s.is_empty()), plain_filter())
                .prop_map(|(share, filter)| to_filter(format!("$share/{share}/{filter}"))),
        ]
        .boxed()
    } else {
        plain_filter().prop_map(to_filter).boxed()
    }
}

pub fn is_shared(filter: &TopicFilter) -> bool {
    filter.as_str().starts_with("$share/")
}

pub fn packet_id() -> impl Strategy<Value = PacketId> {
    (1u16..).prop_map(|id| PacketId::new(id).expect("non-zero"))
}

pub fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

/// 0 to 3 User Property pairs (v5 §3.1.2.11.8 and siblings).
pub fn user_properties() -> impl Strategy<Value = UserProperties> {
    vec((mqtt_string(), mqtt_string()), 0..=3).prop_map(|pairs| pairs.into_iter().collect())
}

/// A Subscription Identifier: 1 to 268,435,455 (v5 §3.8.2.1.2).
pub fn subscription_identifier() -> impl Strategy<Value = NonZeroU32> {
    (1..=MAX_VARIABLE_BYTE_INTEGER).prop_map(|id| NonZeroU32::new(id).expect("non-zero"))
}

fn non_zero_u16() -> impl Strategy<Value = NonZeroU16> {
    (1u16..).prop_map(|v| NonZeroU16::new(v).expect("non-zero"))
}

fn non_zero_u32() -> impl Strategy<Value = NonZeroU32> {
    (1u32..).prop_map(|v| NonZeroU32::new(v).expect("non-zero"))
}

fn payload_format() -> impl Strategy<Value = PayloadFormat> {
    prop_oneof![Just(PayloadFormat::Unspecified), Just(PayloadFormat::Utf8)]
}

/// Authentication Method and Data: Data only with a Method (v5 §3.1.2.11.10).
fn authentication() -> impl Strategy<Value = (Option<MqttString>, Option<Bytes>)> {
    (option::of(mqtt_string()), option::of(binary(8)))
        .prop_map(|(method, data)| (method.clone(), method.and(data)))
}

/// Every CONNECT property (v5 §3.1.2.11).
pub fn connect_properties() -> impl Strategy<Value = ConnectProperties> {
    (
        option::of(any::<u32>()),
        option::of(non_zero_u16()),
        option::of(non_zero_u32()),
        option::of(any::<u16>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        authentication(),
        user_properties(),
    )
        .prop_map(
            |(session, receive, size, alias, rri, rpi, (method, data), users)| {
                let mut p = ConnectProperties::default();
                p.session_expiry_interval = session;
                p.receive_maximum = receive;
                p.maximum_packet_size = size;
                p.topic_alias_maximum = alias;
                p.request_response_information = rri;
                p.request_problem_information = rpi;
                p.authentication_method = method;
                p.authentication_data = data;
                p.user_properties = users;
                p
            },
        )
}

/// Every Will property (v5 §3.1.3.2).
pub fn will_properties() -> impl Strategy<Value = WillProperties> {
    (
        option::of(any::<u32>()),
        option::of(payload_format()),
        option::of(any::<u32>()),
        option::of(mqtt_string()),
        option::of(topic_name()),
        option::of(binary(8)),
        user_properties(),
    )
        .prop_map(
            |(delay, format, expiry, content, response, correlation, users)| {
                let mut p = WillProperties::default();
                p.will_delay_interval = delay;
                p.payload_format_indicator = format;
                p.message_expiry_interval = expiry;
                p.content_type = content;
                p.response_topic = response;
                p.correlation_data = correlation;
                p.user_properties = users;
                p
            },
        )
}

/// A CONNECT asking for `version` (v5 §3.1, v3.1.1 §3.1, and 3.1's `MQIsdp`).
pub fn connect(version: ProtocolVersion) -> BoxedStrategy<Connect> {
    let v5 = version.is_v5();
    let will = (
        topic_name(),
        binary(40),
        qos(),
        any::<bool>(),
        will_properties(),
    )
        .prop_map(move |(topic, payload, qos, retain, properties)| LastWill {
            topic,
            payload,
            qos,
            retain,
            properties: if v5 { properties } else { Default::default() },
        });
    (
        any::<bool>(),
        any::<u16>(),
        mqtt_string(),
        option::of(will),
        option::of(mqtt_string()),
        option::of(binary(12)),
        connect_properties(),
    )
        .prop_map(
            move |(clean_start, keep_alive, client_id, will, username, password, properties)| {
                // v3.1.1 [MQTT-3.1.2-22]: no password without a user name.
                let password = if v5 || username.is_some() {
                    password
                } else {
                    None
                };
                Connect {
                    protocol_version: version,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    login: Login { username, password },
                    properties: if v5 { properties } else { Default::default() },
                }
            },
        )
        .boxed()
}

/// Every CONNACK property (v5 §3.2.2.3).
pub fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    let limits = (
        option::of(any::<u32>()),
        option::of(non_zero_u16()),
        // v5 §3.2.2.3.4: Maximum QoS is 0 or 1.
        option::of(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
        option::of(any::<bool>()),
        option::of(non_zero_u32()),
        option::of(any::<u16>()),
        option::of(any::<u16>()),
    );
    let features = (
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
    );
    let texts = (
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        authentication(),
        user_properties(),
    );
    (limits, features, texts).prop_map(
        |(
            (session, receive, max_qos, retain, size, alias, keep_alive),
            (wildcard, sub_ids, shared),
            (assigned, reason, response, reference, (method, data), users),
        )| {
            let mut p = ConnAckProperties::default();
            p.session_expiry_interval = session;
            p.receive_maximum = receive;
            p.maximum_qos = max_qos;
            p.retain_available = retain;
            p.maximum_packet_size = size;
            p.topic_alias_maximum = alias;
            p.server_keep_alive = keep_alive;
            p.wildcard_subscription_available = wildcard;
            p.subscription_identifier_available = sub_ids;
            p.shared_subscription_available = shared;
            p.assigned_client_identifier = assigned;
            p.reason_string = reason;
            p.response_information = response;
            p.server_reference = reference;
            p.authentication_method = method;
            p.authentication_data = data;
            p.user_properties = users;
            p
        },
    )
}

/// A CONNACK; in 3.1.1 only the six codes with a return code (v3.1.1 §3.2.2.3),
/// and Session Present only with Success (v5 [MQTT-3.2.2-6], v3.1.1 [MQTT-3.2.2-4]).
pub fn connack(version: ProtocolVersion) -> BoxedStrategy<ConnAck> {
    let code = if version.is_v5() {
        code(ConnectReasonCode::from_u8).boxed()
    } else {
        (0u8..=5)
            .prop_filter_map("return code", ConnectReasonCode::from_v3_return_code)
            .boxed()
    };
    let v5 = version.is_v5();
    (any::<bool>(), code, connack_properties())
        .prop_map(move |(session_present, reason_code, properties)| ConnAck {
            session_present: session_present && reason_code == ConnectReasonCode::Success,
            reason_code,
            properties: if v5 { properties } else { Default::default() },
        })
        .boxed()
}

/// Every PUBLISH property (v5 §3.3.2.3), Subscription Identifiers included.
pub fn publish_properties() -> impl Strategy<Value = PublishProperties> {
    (
        option::of(payload_format()),
        option::of(any::<u32>()),
        option::of(non_zero_u16()),
        option::of(topic_name()),
        option::of(binary(16)),
        option::of(mqtt_string()),
        vec(subscription_identifier(), 0..=3),
        user_properties(),
    )
        .prop_map(
            |(format, expiry, alias, response, correlation, content, sub_ids, users)| {
                let mut p = PublishProperties::default();
                p.payload_format_indicator = format;
                p.message_expiry_interval = expiry;
                p.topic_alias = alias;
                p.set_response_topic(response);
                p.set_correlation_data(correlation);
                p.set_content_type(content);
                p.set_subscription_identifiers(sub_ids.into_iter().collect());
                p.set_user_properties(users);
                p
            },
        )
}

pub fn publish_qos() -> impl Strategy<Value = PublishQoS> {
    (qos(), packet_id(), any::<bool>()).prop_map(|(qos, packet_id, dup)| match qos {
        // v5 [MQTT-3.3.1-2]: DUP is 0 on every QoS 0 message.
        QoS::AtMostOnce => PublishQoS::AtMostOnce,
        QoS::AtLeastOnce => PublishQoS::AtLeastOnce { packet_id, dup },
        QoS::ExactlyOnce => PublishQoS::ExactlyOnce { packet_id, dup },
    })
}

/// A PUBLISH with a 0..300 byte payload. In 5.0 the topic may be left out
/// when a Topic Alias stands for it (v5 §3.3.2.3.4).
pub fn publish(version: ProtocolVersion) -> BoxedStrategy<Publish> {
    let v5 = version.is_v5();
    (
        publish_qos(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        binary(300),
        publish_properties(),
        non_zero_u16(),
    )
        .prop_map(
            move |(qos, retain, topic, alias_only, payload, mut properties, alias)| {
                if !v5 {
                    return Publish {
                        qos,
                        retain,
                        topic: Some(topic),
                        payload,
                        properties: PublishProperties::default(),
                    };
                }
                let topic = if alias_only {
                    properties.topic_alias = Some(alias);
                    None
                } else {
                    Some(topic)
                };
                Publish {
                    qos,
                    retain,
                    topic,
                    payload,
                    properties,
                }
            },
        )
        .boxed()
}

/// A Reason String and User Properties (v5 §3.4.2.2 and siblings).
pub fn ack_properties(version: ProtocolVersion) -> BoxedStrategy<AckProperties> {
    if !version.is_v5() {
        return Just(AckProperties::default()).boxed();
    }
    (option::of(mqtt_string()), user_properties())
        .prop_map(|(reason, users)| {
            let mut p = AckProperties::default();
            p.reason_string = reason;
            p.user_properties = users;
            p
        })
        .boxed()
}

/// Any of the codes a packet type defines (every byte `from_u8` accepts).
pub fn code<R: Clone + std::fmt::Debug + 'static>(
    from_u8: fn(u8) -> Option<R>,
) -> impl Strategy<Value = R> {
    select((0..=u8::MAX).filter_map(from_u8).collect::<Vec<R>>())
}

/// A reason code of one packet type: any the packet allows in 5.0, Success in 3.1.1.
fn reason<R: Clone + std::fmt::Debug + 'static>(
    version: ProtocolVersion,
    from_u8: fn(u8) -> Option<R>,
    success: R,
) -> BoxedStrategy<R> {
    if version.is_v5() {
        code(from_u8).boxed()
    } else {
        Just(success).boxed()
    }
}

pub fn puback(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let code = reason(
        version,
        PubAckReasonCode::from_u8,
        PubAckReasonCode::Success,
    );
    (packet_id(), code, ack_properties(version))
        .prop_map(|(id, code, properties)| {
            let mut ack = PubAck::new(id).with_reason(code);
            ack.properties = properties;
            ack.into()
        })
        .boxed()
}

pub fn pubrec(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let code = reason(
        version,
        PubAckReasonCode::from_u8,
        PubAckReasonCode::Success,
    );
    (packet_id(), code, ack_properties(version))
        .prop_map(|(id, code, properties)| {
            let mut ack = PubRec::new(id).with_reason(code);
            ack.properties = properties;
            ack.into()
        })
        .boxed()
}

pub fn pubrel(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let code = reason(
        version,
        PubRelReasonCode::from_u8,
        PubRelReasonCode::Success,
    );
    (packet_id(), code, ack_properties(version))
        .prop_map(|(id, code, properties)| {
            let mut ack = PubRel::new(id).with_reason(code);
            ack.properties = properties;
            ack.into()
        })
        .boxed()
}

pub fn pubcomp(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let code = reason(
        version,
        PubRelReasonCode::from_u8,
        PubRelReasonCode::Success,
    );
    (packet_id(), code, ack_properties(version))
        .prop_map(|(id, code, properties)| {
            let mut ack = PubComp::new(id).with_reason(code);
            ack.properties = properties;
            ack.into()
        })
        .boxed()
}

fn retain_handling() -> impl Strategy<Value = RetainHandling> {
    prop_oneof![
        Just(RetainHandling::SendAtSubscribe),
        Just(RetainHandling::SendAtSubscribeIfNew),
        Just(RetainHandling::DoNotSend)
    ]
}

/// Subscription options: only the QoS in 3.1.1 (v3.1.1 [MQTT-3.8.3-4]);
/// never No Local on a shared subscription (v5 [MQTT-3.8.3-4]).
fn subscription(version: ProtocolVersion) -> BoxedStrategy<(TopicFilter, SubscriptionOptions)> {
    let v5 = version.is_v5();
    (
        topic_filter(version),
        qos(),
        any::<bool>(),
        any::<bool>(),
        retain_handling(),
    )
        .prop_map(move |(filter, qos, no_local, retain_as_published, rh)| {
            let options = if v5 {
                SubscriptionOptions {
                    qos,
                    no_local: no_local && !is_shared(&filter),
                    retain_as_published,
                    retain_handling: rh,
                }
            } else {
                SubscriptionOptions::new(qos)
            };
            (filter, options)
        })
        .boxed()
}

/// A SUBSCRIBE with 1..=4 filters (v5 [MQTT-3.8.3-2]).
pub fn subscribe(version: ProtocolVersion) -> BoxedStrategy<Subscribe> {
    let v5 = version.is_v5();
    (
        packet_id(),
        vec(subscription(version), 1..=4),
        option::of(subscription_identifier()),
        user_properties(),
    )
        .prop_map(move |(packet_id, filters, sub_id, users)| {
            let mut properties = SubscribeProperties::default();
            if v5 {
                properties.subscription_identifier = sub_id;
                properties.user_properties = users;
            }
            Subscribe {
                packet_id,
                filters,
                properties,
            }
        })
        .boxed()
}

/// A SUBACK; 3.1.1 has only 0x00, 0x01, 0x02 and 0x80 (v3.1.1 §3.9.3).
pub fn suback(version: ProtocolVersion) -> BoxedStrategy<SubAck> {
    let v5 = version.is_v5();
    let codes = (0..=u8::MAX)
        .filter_map(SubAckReasonCode::from_u8)
        .filter(|c| v5 || c.in_v3())
        .collect::<Vec<_>>();
    (
        packet_id(),
        vec(select(codes), 1..=5),
        ack_properties(version),
    )
        .prop_map(|(packet_id, reason_codes, properties)| SubAck {
            packet_id,
            reason_codes,
            properties,
        })
        .boxed()
}

/// An UNSUBSCRIBE with 1..=4 filters (v5 [MQTT-3.10.3-2]).
pub fn unsubscribe(version: ProtocolVersion) -> BoxedStrategy<Unsubscribe> {
    let v5 = version.is_v5();
    (
        packet_id(),
        vec(topic_filter(version), 1..=4),
        user_properties(),
    )
        .prop_map(move |(packet_id, filters, users)| {
            let mut properties = UnsubscribeProperties::default();
            if v5 {
                properties.user_properties = users;
            }
            Unsubscribe {
                packet_id,
                filters,
                properties,
            }
        })
        .boxed()
}

/// An UNSUBACK: 1..=5 reason codes in 5.0, none in 3.1.1 (v3.1.1 §3.11.3).
pub fn unsuback(version: ProtocolVersion) -> BoxedStrategy<UnsubAck> {
    let count = if version.is_v5() { 1..=5 } else { 0..=0 };
    (
        packet_id(),
        vec(code(UnsubAckReasonCode::from_u8), count),
        ack_properties(version),
    )
        .prop_map(|(packet_id, reason_codes, properties)| UnsubAck {
            packet_id,
            reason_codes,
            properties,
        })
        .boxed()
}

/// A DISCONNECT; in 3.1.1 always the normal one.
pub fn disconnect(version: ProtocolVersion) -> BoxedStrategy<Disconnect> {
    if !version.is_v5() {
        return Just(Disconnect::default()).boxed();
    }
    (
        code(DisconnectReasonCode::from_u8),
        option::of(any::<u32>()),
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        user_properties(),
    )
        .prop_map(|(code, session, reason, reference, users)| {
            let mut properties = DisconnectProperties::default();
            properties.session_expiry_interval = session;
            properties.reason_string = reason;
            properties.server_reference = reference;
            properties.user_properties = users;
            Disconnect {
                reason_code: code,
                properties,
            }
        })
        .boxed()
}

/// An AUTH (5.0 only).
pub fn auth() -> BoxedStrategy<Auth> {
    (
        code(AuthReasonCode::from_u8),
        authentication(),
        option::of(mqtt_string()),
        user_properties(),
    )
        .prop_map(|(code, (method, data), reason, users)| {
            let mut properties = AuthProperties::default();
            properties.authentication_method = method;
            properties.authentication_data = data;
            properties.reason_string = reason;
            properties.user_properties = users;
            Auth {
                reason_code: code,
                properties,
            }
        })
        .boxed()
}

/// Any packet valid in `version`: the 15 types in 5.0, the 14 of 3.1.1
/// (AUTH is packet type 15, reserved before 5.0). A CONNECT asks for
/// `version` itself, so a decoder that adopts its version keeps it.
pub fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let mut kinds: Vec<BoxedStrategy<Packet>> = vec![
        connect(version).prop_map(Packet::from).boxed(),
        connack(version).prop_map(Packet::from).boxed(),
        publish(version).prop_map(Packet::from).boxed(),
        puback(version),
        pubrec(version),
        pubrel(version),
        pubcomp(version),
        subscribe(version).prop_map(Packet::from).boxed(),
        suback(version).prop_map(Packet::from).boxed(),
        unsubscribe(version).prop_map(Packet::from).boxed(),
        unsuback(version).prop_map(Packet::from).boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        disconnect(version).prop_map(Packet::from).boxed(),
    ];
    if version.is_v5() {
        kinds.push(auth().prop_map(Packet::from).boxed());
    }
    proptest::strategy::Union::new(kinds).boxed()
}
