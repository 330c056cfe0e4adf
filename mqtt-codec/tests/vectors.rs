//! Hand-checked byte vectors, written from the layouts of the standards:
//! each vector decodes to the expected fields and the expected packet
//! encodes to exactly the vector.
//!
//! The first part covers every packet type in 3.1.1 and 5.0 (and 3.1
//! CONNECT) in forms the unit tests in `src` do not; the second has one
//! vector for each of the 27 properties of v5 §2.2.2.2 (Table 2-4).
//!
//! Lengths in the comments: "rl" is the remaining length (v5 §2.1.4), "pl"
//! the property length (v5 §2.2.2.1); both were counted by hand.
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

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use mqttkit_codec::mqttkit_topic::{TopicFilter, TopicName};
use mqttkit_codec::{
    Auth, AuthReasonCode, ConnAck, Connect, ConnectReasonCode, Disconnect, DisconnectReasonCode,
    LastWill, Login, MqttString, Packet, PacketId, PayloadFormat, PropertyId, ProtocolVersion,
    PubAck, PubAckReasonCode, PubComp, PubRec, PubRel, PubRelReasonCode, Publish, PublishQoS, QoS,
    RetainHandling, SubAck, SubAckReasonCode, Subscribe, SubscriptionOptions, UnsubAck,
    UnsubAckReasonCode, Unsubscribe, UserProperties,
};

use ProtocolVersion::{V3_1, V3_1_1, V5};

/// Checks a vector: its remaining length matches its size (a check of the
/// hand count), it decodes to `expected`, and `expected` encodes to it.
fn vector(version: ProtocolVersion, hex: &str, expected: &Packet) -> Packet {
    check_bytes(version, &common::hex(hex), expected)
}

fn check_bytes(version: ProtocolVersion, bytes: &[u8], expected: &Packet) -> Packet {
    let header_len = common::fixed_header_len(bytes);
    let remaining = bytes[1..header_len]
        .iter()
        .enumerate()
        .fold(0usize, |rl, (i, b)| rl | (usize::from(b & 0x7F) << (7 * i)));
    assert_eq!(
        remaining,
        bytes.len() - header_len,
        "hand-counted remaining length"
    );
    let decoded = Packet::decode(bytes, version).unwrap();
    assert_eq!(&decoded, expected, "decoding");
    assert_eq!(common::encode(expected, version), bytes, "encoding");
    decoded
}

fn s(text: &str) -> MqttString {
    MqttString::try_from(text).unwrap()
}

fn id(value: u16) -> PacketId {
    PacketId::new(value).unwrap()
}

fn topic(text: &'static str) -> TopicName {
    TopicName::from_static(text).unwrap()
}

fn filter(text: &'static str) -> TopicFilter {
    TopicFilter::from_static(text).unwrap()
}

fn user_properties(pairs: &[(&str, &str)]) -> UserProperties {
    pairs.iter().map(|(k, v)| (s(k), s(v))).collect()
}

// ---------------------------------------------------------------------------
// Every packet type.
// ---------------------------------------------------------------------------

/// v3.1.1 §3.1: Will (QoS 1), User Name and Password, Clean Session.
/// Connect flags 1100_1110: user name, password, will QoS 01, will, clean.
#[test]
fn v3_1_1_connect_with_will_and_credentials() {
    let connect = Connect {
        protocol_version: V3_1_1,
        clean_start: true,
        keep_alive: 30,
        client_id: s("cl"),
        will: Some(LastWill {
            qos: QoS::AtLeastOnce,
            ..LastWill::new(topic("w/t"), &b"bye"[..])
        }),
        login: Login {
            username: Some(s("u")),
            password: Some(Bytes::from_static(b"\x01\x02")),
        },
        properties: Default::default(),
    };
    // rl 31 = variable header 10 + client id 4 + will topic 5 + will payload 5
    //         + user name 3 + password 4.
    vector(
        V3_1_1,
        "10 1f 0004 4d515454 04 ce 001e  0002 636c  0003 772f74  0003 627965  0001 75  0002 0102",
        &connect.into(),
    );
}

/// 3.1 (`MQIsdp`, level 3) with User Name and Password, Clean Session 0.
#[test]
fn v3_1_connect_with_credentials() {
    let connect = Connect {
        protocol_version: V3_1,
        clean_start: false,
        keep_alive: 10,
        client_id: s("x"),
        will: None,
        login: Login {
            username: Some(s("u")),
            password: Some(Bytes::from_static(b"p")),
        },
        properties: Default::default(),
    };
    // rl 21 = "MQIsdp" 8 + level, flags, keep alive 4 + three 3-byte fields.
    vector(
        V3_1,
        "10 15 0006 4d5149736470 03 c0 000a  0001 78  0001 75  0001 70",
        &connect.into(),
    );
}

/// v5 §3.1.2.9: a Password without a User Name is allowed in 5.0; an empty
/// Client Identifier (v5 [MQTT-3.1.3-6]); Receive Maximum 20.
#[test]
fn v5_connect_password_without_user_name_and_empty_client_id() {
    let mut connect = Connect::new(V5, MqttString::new());
    connect.clean_start = false;
    connect.keep_alive = 0;
    connect.login.password = Some(Bytes::from_static(b"pw"));
    connect.properties.receive_maximum = NonZeroU16::new(20);
    // rl 20 = 10 + pl 1 + 3 + client id 2 + password 4.
    vector(
        V5,
        "10 14 0004 4d515454 05 40 0000 03 210014  0000  0002 7077",
        &connect.into(),
    );
}

/// v3.1.1 §3.2.2.3: connect return codes 1 to 4 (0 and 5 are in `src`).
#[test]
fn v3_1_1_connack_return_codes() {
    for (code, reason) in [
        (1, ConnectReasonCode::UnsupportedProtocolVersion),
        (2, ConnectReasonCode::ClientIdentifierNotValid),
        (3, ConnectReasonCode::ServerUnavailable),
        (4, ConnectReasonCode::BadUserNameOrPassword),
    ] {
        vector(
            V3_1_1,
            &format!("20 02 00 {code:02x}"),
            &ConnAck::new(false, reason).into(),
        );
    }
}

/// v5 §3.2: Session Present with Success, and a refusal (0x87), both with
/// a Property Length of 0 (v5 [MQTT-2.2.2-1]).
#[test]
fn v5_connack_without_properties() {
    vector(
        V5,
        "20 03 01 00 00",
        &ConnAck::new(true, ConnectReasonCode::Success).into(),
    );
    vector(
        V5,
        "20 03 00 87 00",
        &ConnAck::new(false, ConnectReasonCode::NotAuthorized).into(),
    );
}

/// v3.1.1 §3.3: QoS 2 with DUP and RETAIN (first byte 0011_1101), a topic
/// with a three-byte character; and QoS 0 with an empty payload.
#[test]
fn v3_1_1_publish_qos2_dup_retain_and_empty_payload() {
    let publish = Publish::new(topic("a/€"), &b"\x00\xff"[..])
        .with_qos(PublishQoS::new(QoS::ExactlyOnce, id(0x1234)).redelivery())
        .with_retain(true);
    // rl 11 = topic 2 + 5, packet id 2, payload 2.
    vector(V3_1_1, "3d 0b 0005 612fe282ac 1234 00ff", &publish.into());
    vector(
        V3_1_1,
        "30 05 0003 612f62",
        &Publish::new(topic("a/b"), Bytes::new()).into(),
    );
}

/// v5 §3.3.2.3.8: a PUBLISH from the server may carry several Subscription
/// Identifiers (5 and 128, the latter in two bytes); QoS 2 with DUP.
#[test]
fn v5_publish_with_two_subscription_identifiers() {
    let mut publish = Publish::new(topic("t"), &b"p"[..])
        .with_qos(PublishQoS::new(QoS::ExactlyOnce, id(1)).redelivery());
    publish.properties.set_subscription_identifiers(
        [5, 128]
            .into_iter()
            .map(|v| NonZeroU32::new(v).unwrap())
            .collect(),
    );
    // rl 12 = topic 3 + id 2 + pl 1 + 5 + payload 1.
    let decoded = vector(V5, "3c 0c 0001 74 0001 05 0b05 0b8001 70", &publish.into());
    let Packet::Publish(p) = decoded else {
        panic!()
    };
    let ids: Vec<u32> = p
        .properties
        .subscription_identifiers()
        .iter()
        .map(NonZeroU32::get)
        .collect();
    assert_eq!(ids, [5, 128]);
}

/// v5 §2.1.4: a remaining length of 204 takes two bytes (`CC 01`).
#[test]
fn v5_publish_with_a_two_byte_remaining_length() {
    let publish = Publish::new(topic("t"), vec![0x55; 200]);
    let mut bytes = common::hex("30 cc01 0001 74 00");
    bytes.extend_from_slice(&[0x55; 200]);
    check_bytes(V5, &bytes, &publish.into());
}

/// v3.1.1 §3.4 to §3.7: the four acknowledgements are two bytes of packet
/// identifier; PUBREL's flags are 0010 (v3.1.1 [MQTT-3.6.1-1]).
#[test]
fn v3_1_1_publish_acknowledgements() {
    vector(V3_1_1, "40 02 0007", &PubAck::new(id(7)).into());
    vector(V3_1_1, "50 02 0007", &PubRec::new(id(7)).into());
    vector(V3_1_1, "62 02 0007", &PubRel::new(id(7)).into());
    vector(V3_1_1, "70 02 0007", &PubComp::new(id(7)).into());
}

/// v5 §3.4 to §3.7: a reason code without properties (rl 3), with
/// properties (the reason code is then always written, even Success).
#[test]
fn v5_publish_acknowledgements_with_reason_codes_and_properties() {
    let pubrec = PubRec::new(id(7)).with_reason(PubAckReasonCode::NoMatchingSubscribers);
    vector(V5, "50 03 0007 10", &pubrec.into());

    let pubrel = PubRel::new(id(7)).with_reason(PubRelReasonCode::PacketIdentifierNotFound);
    vector(V5, "62 03 0007 92", &pubrel.into());

    let mut pubcomp = PubComp::new(id(7)).with_reason(PubRelReasonCode::PacketIdentifierNotFound);
    pubcomp.properties.reason_string = Some(s("x"));
    // rl 8 = id 2 + code 1 + pl 1 + 4.
    vector(V5, "70 08 0007 92 04 1f000178", &pubcomp.into());

    let mut puback = PubAck::new(id(7));
    puback.properties.user_properties = user_properties(&[("k", "v")]);
    // rl 11 = id 2 + code 1 + pl 1 + 7.
    vector(V5, "40 0b 0007 00 07 26 00016b 000176", &puback.into());
}

/// v3.1.1 §3.8: a filter with a three-byte character and `#`.
#[test]
fn v3_1_1_subscribe_multi_byte_filter() {
    let subscribe = Subscribe::new(
        id(1),
        filter("€/#"),
        SubscriptionOptions::new(QoS::AtMostOnce),
    );
    // rl 10 = id 2 + filter 2 + 5 + options 1.
    vector(V3_1_1, "82 0a 0001 0005 e282ac2f23 00", &subscribe.into());
}

/// v5 §3.8: a shared subscription (v5 §4.8.2) with Retain As Published and
/// Retain Handling 1 (options 0001_1001), and a User Property.
#[test]
fn v5_subscribe_shared_with_user_property() {
    let mut subscribe = Subscribe::new(
        id(2),
        filter("$share/g/a/+"),
        SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            no_local: false,
            retain_as_published: true,
            retain_handling: RetainHandling::SendAtSubscribeIfNew,
        },
    );
    subscribe.properties.user_properties = user_properties(&[("k", "v")]);
    // rl 25 = id 2 + pl 1 + 7 + filter 2 + 12 + options 1.
    vector(
        V5,
        "82 19 0002 07 2600016b000176 000c 247368617265 2f672f612f2b 19",
        &subscribe.into(),
    );
}

/// v3.1.1 §3.9.3: the three granted QoS values.
#[test]
fn v3_1_1_suback_granted_qos_values() {
    let suback = SubAck::new(
        id(4),
        vec![
            SubAckReasonCode::Success,
            SubAckReasonCode::GrantedQoS1,
            SubAckReasonCode::GrantedQoS2,
        ],
    );
    vector(V3_1_1, "90 05 0004 00 01 02", &suback.into());
}

/// v5 §3.9.3: codes that exist only in 5.0, and a Reason String.
#[test]
fn v5_suback_v5_only_codes_with_reason_string() {
    let mut suback = SubAck::new(
        id(4),
        vec![
            SubAckReasonCode::NotAuthorized,
            SubAckReasonCode::SharedSubscriptionsNotSupported,
            SubAckReasonCode::WildcardSubscriptionsNotSupported,
        ],
    );
    suback.properties.reason_string = Some(s("x"));
    // rl 10 = id 2 + pl 1 + 4 + 3 codes.
    vector(V5, "90 0a 0004 04 1f000178 87 9e a2", &suback.into());
}

/// v3.1.1 §3.10: two filters.
#[test]
fn v3_1_1_unsubscribe_two_filters() {
    let mut unsubscribe = Unsubscribe::new(id(3), filter("a"));
    unsubscribe.filters.push(filter("b/#"));
    // rl 10 = id 2 + 3 + 5.
    vector(
        V3_1_1,
        "a2 0a 0003 0001 61 0003 622f23",
        &unsubscribe.into(),
    );
}

/// v5 §3.10: a shared subscription and a User Property.
#[test]
fn v5_unsubscribe_shared_with_user_property() {
    let mut unsubscribe = Unsubscribe::new(id(3), filter("$share/g/a"));
    unsubscribe.properties.user_properties = user_properties(&[("k", "v")]);
    // rl 22 = id 2 + pl 1 + 7 + filter 2 + 10.
    vector(
        V5,
        "a2 16 0003 07 2600016b000176 000a 2473686172652f672f61",
        &unsubscribe.into(),
    );
}

/// v3.1.1 §3.11: UNSUBACK is the packet identifier alone, whatever the
/// number of filters (v3.1.1 has no UNSUBACK payload).
#[test]
fn v3_1_1_unsuback_is_a_packet_identifier() {
    vector(
        V3_1_1,
        "b0 02 0005",
        &UnsubAck::new(id(5), Vec::new()).into(),
    );
}

/// v5 §3.11.3: one code per filter, with a Reason String.
#[test]
fn v5_unsuback_codes_with_reason_string() {
    let mut unsuback = UnsubAck::new(
        id(9),
        vec![
            UnsubAckReasonCode::Success,
            UnsubAckReasonCode::NoSubscriptionExisted,
            UnsubAckReasonCode::NotAuthorized,
            UnsubAckReasonCode::TopicFilterInvalid,
        ],
    );
    unsuback.properties.reason_string = Some(s("x"));
    // rl 11 = id 2 + pl 1 + 4 + 4 codes.
    vector(V5, "b0 0b 0009 04 1f000178 00 11 87 8f", &unsuback.into());
}

/// v3.1.1 §3.12, §3.13, §3.14 and v5 §3.12, §3.13: two bytes each.
#[test]
fn pings_and_v3_1_1_disconnect_are_two_bytes() {
    for version in [V3_1_1, V5] {
        vector(version, "c0 00", &Packet::PingReq);
        vector(version, "d0 00", &Packet::PingResp);
    }
    vector(V3_1_1, "e0 00", &Disconnect::default().into());
}

/// v5 §3.14: Disconnect with Will Message (0x04) and Session Expiry 0.
#[test]
fn v5_disconnect_with_will_message_and_session_expiry() {
    let mut disconnect = Disconnect::new(DisconnectReasonCode::DisconnectWithWillMessage);
    disconnect.properties.session_expiry_interval = Some(0);
    // rl 7 = code 1 + pl 1 + 5.
    vector(V5, "e0 07 04 05 1100000000", &disconnect.into());
}

/// v5 §3.15: Re-authenticate (0x19) with method, data and reason string,
/// written in that order.
#[test]
fn v5_auth_reauthenticate_with_properties() {
    let mut auth = Auth::new(AuthReasonCode::ReAuthenticate);
    auth.properties.authentication_method = Some(s("m"));
    auth.properties.authentication_data = Some(Bytes::from_static(b"d"));
    auth.properties.reason_string = Some(s("r"));
    // rl 14 = code 1 + pl 1 + 3 * 4.
    vector(
        V5,
        "f0 0e 19 0c 1500016d 16000164 1f000172",
        &auth.clone().into(),
    );

    // v5 §2.2.2.2 gives no order: the same properties in reverse order are
    // the same packet, which is then written in the encoder's order.
    let reversed = common::hex("f0 0e 19 0c 1f000172 16000164 1500016d");
    assert_eq!(Packet::decode(&reversed, V5), Ok(auth.into()));
}

// ---------------------------------------------------------------------------
// One vector per property (v5 §2.2.2.2), each in a packet that allows it.
// ---------------------------------------------------------------------------

/// PUBLISH QoS 0 to "t" without payload: rl = 4 + property block.
fn publish_t() -> Publish {
    Publish::new(topic("t"), Bytes::new())
}

/// CONNECT v5, clean start, keep alive 60, client "c": rl = 14 + block.
fn connect_c() -> Connect {
    Connect::new(V5, s("c"))
}

/// CONNACK v5, Success: rl = 3 + block.
fn connack() -> ConnAck {
    ConnAck::new(false, ConnectReasonCode::Success)
}

/// Checks that the property identifier byte is the one of Table 2-4.
fn table_2_4(id: PropertyId, byte: u8) {
    assert_eq!(PropertyId::from_u8(byte), Some(id));
}

fn as_publish(packet: Packet) -> Publish {
    let Packet::Publish(p) = packet else {
        panic!("not a PUBLISH")
    };
    p
}

fn as_connect(packet: Packet) -> Connect {
    let Packet::Connect(c) = packet else {
        panic!("not a CONNECT")
    };
    *c
}

fn as_connack(packet: Packet) -> ConnAck {
    let Packet::ConnAck(c) = packet else {
        panic!("not a CONNACK")
    };
    *c
}

/// v5 §3.3.2.3.2 Payload Format Indicator (0x01, Byte) = 1 in PUBLISH.
#[test]
fn v5_property_0x01_payload_format_indicator() {
    table_2_4(PropertyId::PayloadFormatIndicator, 0x01);
    let mut p = publish_t();
    p.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    let p = as_publish(vector(V5, "30 06 0001 74 02 0101", &p.into()));
    assert_eq!(
        p.properties.payload_format_indicator,
        Some(PayloadFormat::Utf8)
    );
}

/// v5 §3.3.2.3.3 Message Expiry Interval (0x02, Four Byte Integer) = 3600.
#[test]
fn v5_property_0x02_message_expiry_interval() {
    table_2_4(PropertyId::MessageExpiryInterval, 0x02);
    let mut p = publish_t();
    p.properties.message_expiry_interval = Some(3600);
    let p = as_publish(vector(V5, "30 09 0001 74 05 0200000e10", &p.into()));
    assert_eq!(p.properties.message_expiry_interval, Some(3600));
}

/// v5 §3.3.2.3.9 Content Type (0x03, UTF-8 String) = "json".
#[test]
fn v5_property_0x03_content_type() {
    table_2_4(PropertyId::ContentType, 0x03);
    let mut p = publish_t();
    p.properties.set_content_type(Some(s("json")));
    let p = as_publish(vector(V5, "30 0b 0001 74 07 03 0004 6a736f6e", &p.into()));
    assert_eq!(p.properties.content_type().unwrap(), "json");
}

/// v5 §3.3.2.3.5 Response Topic (0x08, UTF-8 String) = "r/1".
#[test]
fn v5_property_0x08_response_topic() {
    table_2_4(PropertyId::ResponseTopic, 0x08);
    let mut p = publish_t();
    p.properties.set_response_topic(Some(topic("r/1")));
    let p = as_publish(vector(V5, "30 0a 0001 74 06 08 0003 722f31", &p.into()));
    assert_eq!(p.properties.response_topic().unwrap().as_str(), "r/1");
}

/// v5 §3.3.2.3.6 Correlation Data (0x09, Binary Data) = 00 FF 10.
#[test]
fn v5_property_0x09_correlation_data() {
    table_2_4(PropertyId::CorrelationData, 0x09);
    let mut p = publish_t();
    p.properties
        .set_correlation_data(Some(Bytes::from_static(b"\x00\xff\x10")));
    let p = as_publish(vector(V5, "30 0a 0001 74 06 09 0003 00ff10", &p.into()));
    assert_eq!(
        &p.properties.correlation_data().unwrap()[..],
        b"\x00\xff\x10"
    );
}

/// v5 §3.8.2.1.2 Subscription Identifier (0x0B, Variable Byte Integer) =
/// 268,435,455, the largest, in four bytes, in SUBSCRIBE: rl = 7 + block.
#[test]
fn v5_property_0x0b_subscription_identifier() {
    table_2_4(PropertyId::SubscriptionIdentifier, 0x0B);
    let mut sub = Subscribe::new(id(1), filter("a"), SubscriptionOptions::default());
    sub.properties.subscription_identifier = NonZeroU32::new(268_435_455);
    let decoded = vector(V5, "82 0c 0001 05 0bffffff7f 0001 61 00", &sub.into());
    let Packet::Subscribe(sub) = decoded else {
        panic!()
    };
    assert_eq!(
        sub.properties.subscription_identifier.map(NonZeroU32::get),
        Some(268_435_455)
    );
}

/// v5 §3.1.2.11.2 Session Expiry Interval (0x11, Four Byte Integer) =
/// 0xFFFFFFFF ("the Session does not expire") in CONNECT.
#[test]
fn v5_property_0x11_session_expiry_interval() {
    table_2_4(PropertyId::SessionExpiryInterval, 0x11);
    let mut c = connect_c();
    c.properties.session_expiry_interval = Some(u32::MAX);
    let c = as_connect(vector(
        V5,
        "10 13 0004 4d515454 05 02 003c 05 11ffffffff 0001 63",
        &c.into(),
    ));
    assert_eq!(c.properties.session_expiry_interval, Some(u32::MAX));
}

/// v5 §3.2.2.3.7 Assigned Client Identifier (0x12, UTF-8 String) in CONNACK.
#[test]
fn v5_property_0x12_assigned_client_identifier() {
    table_2_4(PropertyId::AssignedClientIdentifier, 0x12);
    let mut c = connack();
    c.properties.assigned_client_identifier = Some(s("id-1"));
    let c = as_connack(vector(V5, "20 0a 00 00 07 12 0004 69642d31", &c.into()));
    assert_eq!(c.properties.assigned_client_identifier.unwrap(), "id-1");
}

/// v5 §3.2.2.3.14 Server Keep Alive (0x13, Two Byte Integer) = 120.
#[test]
fn v5_property_0x13_server_keep_alive() {
    table_2_4(PropertyId::ServerKeepAlive, 0x13);
    let mut c = connack();
    c.properties.server_keep_alive = Some(120);
    let c = as_connack(vector(V5, "20 06 00 00 03 130078", &c.into()));
    assert_eq!(c.properties.server_keep_alive, Some(120));
}

/// v5 §3.1.2.11.9 Authentication Method (0x15, UTF-8 String) = "PLAIN" in CONNECT.
#[test]
fn v5_property_0x15_authentication_method() {
    table_2_4(PropertyId::AuthenticationMethod, 0x15);
    let mut c = connect_c();
    c.properties.authentication_method = Some(s("PLAIN"));
    let c = as_connect(vector(
        V5,
        "10 16 0004 4d515454 05 02 003c 08 15 0005 504c41494e 0001 63",
        &c.into(),
    ));
    assert_eq!(c.properties.authentication_method.unwrap(), "PLAIN");
}

/// v5 §3.15.2.2.3 Authentication Data (0x16, Binary Data) in AUTH, after
/// its Authentication Method (v5 §3.1.2.11.10): rl = 2 + block.
#[test]
fn v5_property_0x16_authentication_data() {
    table_2_4(PropertyId::AuthenticationData, 0x16);
    let mut auth = Auth::new(AuthReasonCode::ContinueAuthentication);
    auth.properties.authentication_method = Some(s("PLAIN"));
    auth.properties.authentication_data = Some(Bytes::from_static(b"\x01\x02\x03"));
    let decoded = vector(
        V5,
        "f0 10 18 0e 15 0005 504c41494e 16 0003 010203",
        &auth.into(),
    );
    let Packet::Auth(auth) = decoded else {
        panic!()
    };
    assert_eq!(
        &auth.properties.authentication_data.unwrap()[..],
        b"\x01\x02\x03"
    );
}

/// v5 §3.1.2.11.7 Request Problem Information (0x17, Byte) = 0 in CONNECT.
#[test]
fn v5_property_0x17_request_problem_information() {
    table_2_4(PropertyId::RequestProblemInformation, 0x17);
    let mut c = connect_c();
    c.properties.request_problem_information = Some(false);
    let c = as_connect(vector(
        V5,
        "10 10 0004 4d515454 05 02 003c 02 1700 0001 63",
        &c.into(),
    ));
    assert_eq!(c.properties.request_problem_information, Some(false));
}

/// v5 §3.1.3.2.2 Will Delay Interval (0x18, Four Byte Integer) = 10 in the
/// Will Properties of a CONNECT (flags 0000_0110: will, clean start).
#[test]
fn v5_property_0x18_will_delay_interval() {
    table_2_4(PropertyId::WillDelayInterval, 0x18);
    let mut will = LastWill::new(topic("w"), Bytes::new());
    will.properties.will_delay_interval = Some(10);
    let mut c = connect_c();
    c.will = Some(will);
    // rl 25 = variable header 11 + client id 3 + will pl 1 + 5
    //         + will topic 3 + empty will payload 2.
    let c = as_connect(vector(
        V5,
        "10 19 0004 4d515454 05 06 003c 00  0001 63  05 180000000a  0001 77  0000",
        &c.into(),
    ));
    assert_eq!(c.will.unwrap().properties.will_delay_interval, Some(10));
}

/// v5 §3.1.2.11.6 Request Response Information (0x19, Byte) = 1 in CONNECT.
#[test]
fn v5_property_0x19_request_response_information() {
    table_2_4(PropertyId::RequestResponseInformation, 0x19);
    let mut c = connect_c();
    c.properties.request_response_information = Some(true);
    let c = as_connect(vector(
        V5,
        "10 10 0004 4d515454 05 02 003c 02 1901 0001 63",
        &c.into(),
    ));
    assert_eq!(c.properties.request_response_information, Some(true));
}

/// v5 §3.2.2.3.15 Response Information (0x1A, UTF-8 String) in CONNACK.
#[test]
fn v5_property_0x1a_response_information() {
    table_2_4(PropertyId::ResponseInformation, 0x1A);
    let mut c = connack();
    c.properties.response_information = Some(s("resp/"));
    let c = as_connack(vector(V5, "20 0b 00 00 08 1a 0005 726573702f", &c.into()));
    assert_eq!(c.properties.response_information.unwrap(), "resp/");
}

/// v5 §3.14.2.2.5 Server Reference (0x1C, UTF-8 String) in a DISCONNECT
/// with Use another server (0x9C): rl = 2 + block.
#[test]
fn v5_property_0x1c_server_reference() {
    table_2_4(PropertyId::ServerReference, 0x1C);
    let mut d = Disconnect::new(DisconnectReasonCode::UseAnotherServer);
    d.properties.server_reference = Some(s("srv2"));
    let decoded = vector(V5, "e0 09 9c 07 1c 0004 73727632", &d.into());
    let Packet::Disconnect(d) = decoded else {
        panic!()
    };
    assert_eq!(d.reason_code, DisconnectReasonCode::UseAnotherServer);
    assert_eq!(d.properties.server_reference.unwrap(), "srv2");
}

/// v5 §3.4.2.2.2 Reason String (0x1F, UTF-8 String) in a PUBACK with
/// Unspecified error (0x80): rl = 4 + block.
#[test]
fn v5_property_0x1f_reason_string() {
    table_2_4(PropertyId::ReasonString, 0x1F);
    let mut ack = PubAck::new(id(1)).with_reason(PubAckReasonCode::UnspecifiedError);
    ack.properties.reason_string = Some(s("no"));
    let decoded = vector(V5, "40 09 0001 80 05 1f 0002 6e6f", &ack.into());
    let Packet::PubAck(ack) = decoded else {
        panic!()
    };
    assert_eq!(ack.properties.reason_string.unwrap(), "no");
}

/// v5 §3.2.2.3.3 Receive Maximum (0x21, Two Byte Integer) = 10 in CONNACK.
#[test]
fn v5_property_0x21_receive_maximum() {
    table_2_4(PropertyId::ReceiveMaximum, 0x21);
    let mut c = connack();
    c.properties.receive_maximum = NonZeroU16::new(10);
    let c = as_connack(vector(V5, "20 06 00 00 03 21000a", &c.into()));
    assert_eq!(c.properties.receive_maximum.map(NonZeroU16::get), Some(10));
}

/// v5 §3.2.2.3.8 Topic Alias Maximum (0x22, Two Byte Integer) = 5 in CONNACK.
#[test]
fn v5_property_0x22_topic_alias_maximum() {
    table_2_4(PropertyId::TopicAliasMaximum, 0x22);
    let mut c = connack();
    c.properties.topic_alias_maximum = Some(5);
    let c = as_connack(vector(V5, "20 06 00 00 03 220005", &c.into()));
    assert_eq!(c.properties.topic_alias_maximum, Some(5));
}

/// v5 §3.3.2.3.4 Topic Alias (0x23, Two Byte Integer) = 1 with its topic
/// name, which sets the mapping.
#[test]
fn v5_property_0x23_topic_alias() {
    table_2_4(PropertyId::TopicAlias, 0x23);
    let mut p = publish_t();
    p.properties.topic_alias = NonZeroU16::new(1);
    let p = as_publish(vector(V5, "30 07 0001 74 03 230001", &p.into()));
    assert_eq!(p.properties.topic_alias.map(NonZeroU16::get), Some(1));
    assert_eq!(p.topic_str(), "t");
}

/// v5 §3.2.2.3.4 Maximum QoS (0x24, Byte) = 0 in CONNACK.
#[test]
fn v5_property_0x24_maximum_qos() {
    table_2_4(PropertyId::MaximumQoS, 0x24);
    let mut c = connack();
    c.properties.maximum_qos = Some(QoS::AtMostOnce);
    let c = as_connack(vector(V5, "20 05 00 00 02 2400", &c.into()));
    assert_eq!(c.properties.maximum_qos, Some(QoS::AtMostOnce));
}

/// v5 §3.2.2.3.5 Retain Available (0x25, Byte) = 0 in CONNACK.
#[test]
fn v5_property_0x25_retain_available() {
    table_2_4(PropertyId::RetainAvailable, 0x25);
    let mut c = connack();
    c.properties.retain_available = Some(false);
    let c = as_connack(vector(V5, "20 05 00 00 02 2500", &c.into()));
    assert_eq!(c.properties.retain_available, Some(false));
}

/// v5 §3.3.2.3.7 User Property (0x26, UTF-8 String Pair), twice with the
/// same name: both kept, in order (v5 [MQTT-3.3.2-18]).
#[test]
fn v5_property_0x26_user_property_repeated_in_order() {
    table_2_4(PropertyId::UserProperty, 0x26);
    let mut p = publish_t();
    p.properties
        .set_user_properties(user_properties(&[("k", "€"), ("k", "2")]));
    // block 16 = (1 + 3 + 5) + (1 + 3 + 3); rl 20.
    let p = as_publish(vector(
        V5,
        "30 14 0001 74 10 26 00016b 0003e282ac 26 00016b 000132",
        &p.into(),
    ));
    let users = p.properties.user_properties();
    let pairs: Vec<(&str, &str)> = users.iter().collect();
    assert_eq!(pairs, [("k", "€"), ("k", "2")]);
}

/// v5 §3.1.2.11.4 Maximum Packet Size (0x27, Four Byte Integer) = 1024 in CONNECT.
#[test]
fn v5_property_0x27_maximum_packet_size() {
    table_2_4(PropertyId::MaximumPacketSize, 0x27);
    let mut c = connect_c();
    c.properties.maximum_packet_size = NonZeroU32::new(1024);
    let c = as_connect(vector(
        V5,
        "10 13 0004 4d515454 05 02 003c 05 2700000400 0001 63",
        &c.into(),
    ));
    assert_eq!(
        c.properties.maximum_packet_size.map(NonZeroU32::get),
        Some(1024)
    );
}

/// v5 §3.2.2.3.11 Wildcard Subscription Available (0x28, Byte) = 0.
#[test]
fn v5_property_0x28_wildcard_subscription_available() {
    table_2_4(PropertyId::WildcardSubscriptionAvailable, 0x28);
    let mut c = connack();
    c.properties.wildcard_subscription_available = Some(false);
    let c = as_connack(vector(V5, "20 05 00 00 02 2800", &c.into()));
    assert_eq!(c.properties.wildcard_subscription_available, Some(false));
}

/// v5 §3.2.2.3.12 Subscription Identifiers Available (0x29, Byte) = 0.
#[test]
fn v5_property_0x29_subscription_identifier_available() {
    table_2_4(PropertyId::SubscriptionIdentifierAvailable, 0x29);
    let mut c = connack();
    c.properties.subscription_identifier_available = Some(false);
    let c = as_connack(vector(V5, "20 05 00 00 02 2900", &c.into()));
    assert_eq!(c.properties.subscription_identifier_available, Some(false));
}

/// v5 §3.2.2.3.13 Shared Subscription Available (0x2A, Byte) = 1.
#[test]
fn v5_property_0x2a_shared_subscription_available() {
    table_2_4(PropertyId::SharedSubscriptionAvailable, 0x2A);
    let mut c = connack();
    c.properties.shared_subscription_available = Some(true);
    let c = as_connack(vector(V5, "20 05 00 00 02 2a01", &c.into()));
    assert_eq!(c.properties.shared_subscription_available, Some(true));
}
