//! Normative statements the codec enforces that no other test cites: the
//! CONNECT payload (presence and order of its fields, the flags that announce
//! them), UTF-8 in every string field of 3.1.1, U+FEFF kept as a character,
//! the packet identifier of a QoS 0 PUBLISH, and the reason codes allowed in
//! PUBACK, PUBREC and PUBCOMP.
//!
//! Every frame is written out by hand in hex, field by field, so that the
//! tests check the codec against the standard's layout rather than against
//! its own encoder. Each rejected frame has a well-formed twin that decodes,
//! so the refusal is due to the rule under test.
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

use mqttkit_codec::{
    Connect, DecodeError, EncodeError, Packet, PacketId, PacketType, ProtocolVersion, PubAck,
    PubAckReasonCode, PubComp, PubRec, PubRelReasonCode, Publish, PublishQoS, QoS, ReasonCode,
    VersionFeature,
};

use ProtocolVersion::{V3_1_1, V5};

/// A frame: the first byte of the fixed header, a one-byte remaining length
/// computed from `body`, then `body` (hex, spaces and line breaks ignored).
fn frame(first: u8, body: &str) -> Vec<u8> {
    let body = common::hex(body);
    assert!(body.len() < 128, "one-byte remaining length only");
    let mut bytes = vec![first, body.len() as u8];
    bytes.extend_from_slice(&body);
    bytes
}

/// The variable header of a 3.1.1 CONNECT: "MQTT", level 4, `flags`,
/// keep alive 60.
fn v3_connect(flags: &str, payload: &str) -> Vec<u8> {
    frame(0x10, &format!("0004 4d515454 04 {flags} 003c {payload}"))
}

/// The variable header of a 5.0 CONNECT: "MQTT", level 5, `flags`,
/// keep alive 60, an empty property block.
fn v5_connect(flags: &str, payload: &str) -> Vec<u8> {
    frame(0x10, &format!("0004 4d515454 05 {flags} 003c 00 {payload}"))
}

fn connect(bytes: &[u8], version: ProtocolVersion) -> Connect {
    match Packet::decode(bytes, version) {
        Ok(Packet::Connect(connect)) => *connect,
        other => panic!("expected a CONNECT, got {other:?}"),
    }
}

fn publish(bytes: &[u8], version: ProtocolVersion) -> Publish {
    match Packet::decode(bytes, version) {
        Ok(Packet::Publish(publish)) => publish,
        other => panic!("expected a PUBLISH, got {other:?}"),
    }
}

fn id(v: u16) -> PacketId {
    PacketId::new(v).unwrap()
}

/// Three-byte string contents: well-formed ("abc"), a UTF-16 surrogate
/// (U+D800 as `ED A0 80`), a lead byte followed by a non-continuation byte
/// (`C3 28`), and a byte that never occurs in UTF-8 (`FF`).
const GOOD: &str = "616263";
const ILL_FORMED: [&str; 3] = ["eda080", "c32861", "ff6162"];

/// `build` with the good content decodes; with each ill-formed content it is
/// refused as [`DecodeError::InvalidUtf8`].
fn check_utf8_field(version: ProtocolVersion, build: impl Fn(&str) -> Vec<u8>) {
    let good = build(GOOD);
    Packet::decode(&good, version).unwrap_or_else(|e| panic!("good twin {good:02x?}: {e}"));
    for bad in ILL_FORMED {
        let bytes = build(bad);
        assert_eq!(
            Packet::decode(&bytes, version),
            Err(DecodeError::InvalidUtf8),
            "{version} {bytes:02x?}"
        );
    }
}

// --- CONNECT payload ------------------------------------------------------

/// v5 [MQTT-3.1.3-1]; v3.1.1 [MQTT-3.1.3-1]: the payload fields appear in the
/// order Client Identifier, Will Topic, Will Message, User Name, Password.
/// A sender that swaps User Name and Password puts binary data where a UTF-8
/// string is read, and the frame is refused.
#[test]
fn v5_mqtt_3_1_3_1_connect_payload_field_order() {
    // Flags 0xee: user name, password, will retain, will QoS 1, will, clean.
    let v3_payload = "0001 63       \
                      0001 77       \
                      0002 6d73     \
                      0001 75       \
                      0002 ff70";
    //                client "c", will topic "w", will message "ms",
    //                user name "u", password FF 'p' (binary, not UTF-8).
    let v5_payload = "0001 63       \
                      02 0101       \
                      0001 77       \
                      0002 6d73     \
                      0001 75       \
                      0002 ff70";
    //                as above, with will properties: Payload Format Indicator 1.
    for (version, bytes) in [
        (V3_1_1, v3_connect("ee", v3_payload)),
        (V5, v5_connect("ee", v5_payload)),
    ] {
        let c = connect(&bytes, version);
        assert_eq!(c.client_id.as_str(), "c");
        let will = c.will.expect("will");
        assert_eq!(will.topic.as_str(), "w");
        assert_eq!(&will.payload[..], b"ms");
        assert_eq!(will.qos, QoS::AtLeastOnce);
        assert!(will.retain);
        assert_eq!(c.login.username.unwrap().as_str(), "u");
        assert_eq!(&c.login.password.unwrap()[..], b"\xffp");
    }
    // Password before User Name: the password bytes are read as the user name.
    let swapped = "0001 63 0001 77 0002 6d73 0002 ff70 0001 75";
    assert_eq!(
        Packet::decode(&v3_connect("ee", swapped), V3_1_1),
        Err(DecodeError::InvalidUtf8)
    );
    let swapped = "0001 63 02 0101 0001 77 0002 6d73 0002 ff70 0001 75";
    assert_eq!(
        Packet::decode(&v5_connect("ee", swapped), V5),
        Err(DecodeError::InvalidUtf8)
    );
    // Will Message before Will Topic: "a/#" is read as the will topic, and a
    // topic name cannot hold a wildcard.
    let swapped = "0001 63 0003 612f23 0001 77";
    assert!(matches!(
        Packet::decode(&v3_connect("06", swapped), V3_1_1),
        Err(DecodeError::TopicName(_))
    ));
}

/// v5 [MQTT-3.1.3-3]; v3.1.1 [MQTT-3.1.3-3]: the ClientID is present and is
/// the first field of the payload. A CONNECT without it, or with a truncated
/// one, is refused; a zero-length ClientID is present.
#[test]
fn v5_mqtt_3_1_3_3_client_id_present_and_first() {
    for (version, build) in [
        (V3_1_1, v3_connect as fn(&str, &str) -> Vec<u8>),
        (V5, v5_connect),
    ] {
        // No payload at all.
        assert_eq!(
            Packet::decode(&build("02", ""), version),
            Err(DecodeError::UnexpectedEnd(PacketType::Connect)),
            "{version}"
        );
        // A length of 5 with two bytes after it.
        assert_eq!(
            Packet::decode(&build("02", "0005 6162"), version),
            Err(DecodeError::UnexpectedEnd(PacketType::Connect)),
            "{version}"
        );
        // A zero-length ClientID.
        assert_eq!(
            connect(&build("02", "0000"), version).client_id.as_str(),
            ""
        );
    }
    // With a will, the first field is still the ClientID: "c" then topic "w".
    let c = connect(&v3_connect("06", "0001 63 0001 77 0000"), V3_1_1);
    assert_eq!(c.client_id.as_str(), "c");
    assert_eq!(c.will.unwrap().topic.as_str(), "w");
    let c = connect(&v5_connect("06", "0001 63 00 0001 77 0000"), V5);
    assert_eq!(c.client_id.as_str(), "c");
    assert_eq!(c.will.unwrap().topic.as_str(), "w");
}

/// v5 [MQTT-3.1.2-9]; v3.1.1 [MQTT-3.1.2-9]: with the Will Flag set, Will QoS
/// and Will Retain are used, and the Will Properties (5.0), Will Topic and
/// Will Message are present in the payload.
#[test]
fn v5_mqtt_3_1_2_9_will_fields_present_when_will_flag_set() {
    // Flags 0x34: will retain, will QoS 2, will flag.
    let c = connect(&v3_connect("34", "0001 63 0001 77 0002 6d73"), V3_1_1);
    let will = c.will.unwrap();
    assert_eq!((will.qos, will.retain), (QoS::ExactlyOnce, true));
    assert_eq!((will.topic.as_str(), &will.payload[..]), ("w", &b"ms"[..]));
    let c = connect(&v5_connect("34", "0001 63 00 0001 77 0002 6d73"), V5);
    let will = c.will.unwrap();
    assert_eq!((will.qos, will.retain), (QoS::ExactlyOnce, true));
    assert_eq!((will.topic.as_str(), &will.payload[..]), ("w", &b"ms"[..]));

    let missing = DecodeError::UnexpectedEnd(PacketType::Connect);
    // 3.1.1: no will fields; a Will Topic without a Will Message.
    for payload in ["0001 63", "0001 63 0001 77"] {
        assert_eq!(
            Packet::decode(&v3_connect("34", payload), V3_1_1),
            Err(missing),
            "{payload}"
        );
    }
    // 5.0: no will fields; Will Properties only; Will Properties and Topic
    // only; Will Topic and Will Message without the Will Properties (the
    // topic length 00 01 is read as property length 0 then a 0x0177-byte
    // topic that overruns).
    for payload in [
        "0001 63",
        "0001 63 00",
        "0001 63 00 0001 77",
        "0001 63 0001 77 0000",
    ] {
        assert_eq!(
            Packet::decode(&v5_connect("34", payload), V5),
            Err(missing),
            "{payload}"
        );
    }
}

/// v3.1.1 [MQTT-3.1.2-14]; v5 [MQTT-3.1.2-12]: with the Will Flag set, Will
/// QoS is 0, 1 or 2, never 3.
#[test]
fn v3_1_1_mqtt_3_1_2_14_will_qos_3_is_refused() {
    let v3_payload = "0001 63 0001 77 0000";
    let v5_payload = "0001 63 00 0001 77 0000";
    // Flags: will QoS in bits 4-3, will flag 0x04, clean 0x02.
    for (flags, qos) in [
        ("06", QoS::AtMostOnce),
        ("0e", QoS::AtLeastOnce),
        ("16", QoS::ExactlyOnce),
    ] {
        let c = connect(&v3_connect(flags, v3_payload), V3_1_1);
        assert_eq!(c.will.unwrap().qos, qos);
        let c = connect(&v5_connect(flags, v5_payload), V5);
        assert_eq!(c.will.unwrap().qos, qos);
    }
    // 0x1e: will QoS 3 with the will flag, the will fields all present.
    assert_eq!(
        Packet::decode(&v3_connect("1e", v3_payload), V3_1_1),
        Err(DecodeError::InconsistentWillFlags)
    );
    assert_eq!(
        Packet::decode(&v5_connect("1e", v5_payload), V5),
        Err(DecodeError::InconsistentWillFlags)
    );
}

/// v5 [MQTT-3.1.2-16], [MQTT-3.1.2-17]; v3.1.1 [MQTT-3.1.2-18],
/// [MQTT-3.1.2-19]: a User Name is in the payload exactly when the User Name
/// Flag is set. Flag 0 with a user name leaves trailing bytes; flag 1
/// without one runs past the end.
#[test]
fn v5_mqtt_3_1_2_16_user_name_present_exactly_when_flagged() {
    for (version, build) in [
        (V3_1_1, v3_connect as fn(&str, &str) -> Vec<u8>),
        (V5, v5_connect),
    ] {
        // 0x82: user name + clean; client "c", user name "u".
        let c = connect(&build("82", "0001 63 0001 75"), version);
        assert_eq!(c.login.username.unwrap().as_str(), "u");
        // 0x02: no user name, and none in the payload.
        let c = connect(&build("02", "0001 63"), version);
        assert_eq!(c.login.username, None);
        // Flag 0, user name present.
        assert_eq!(
            Packet::decode(&build("02", "0001 63 0001 75"), version),
            Err(DecodeError::TrailingBytes(PacketType::Connect)),
            "{version}"
        );
        // Flag 1, user name missing.
        assert_eq!(
            Packet::decode(&build("82", "0001 63"), version),
            Err(DecodeError::UnexpectedEnd(PacketType::Connect)),
            "{version}"
        );
    }
}

/// v5 [MQTT-3.1.2-18], [MQTT-3.1.2-19]; v3.1.1 [MQTT-3.1.2-20],
/// [MQTT-3.1.2-21]: a Password is in the payload exactly when the Password
/// Flag is set. (3.1.1 allows it only with a user name, [MQTT-3.1.2-22], so
/// its frames carry one; 5.0 allows a password alone.)
#[test]
fn v5_mqtt_3_1_2_18_password_present_exactly_when_flagged() {
    let cases = [
        // version, flags with password, flags without, payload prefix
        (V3_1_1, "c2", "82", "0001 63 0001 75"),
        (V5, "42", "02", "0001 63"),
    ];
    for (version, with, without, prefix) in cases {
        let build = |flags: &str, payload: &str| match version {
            V5 => v5_connect(flags, payload),
            _ => v3_connect(flags, payload),
        };
        // Password "pw" after the other fields.
        let full = format!("{prefix} 0002 7077");
        let c = connect(&build(with, &full), version);
        assert_eq!(&c.login.password.unwrap()[..], b"pw");
        let c = connect(&build(without, prefix), version);
        assert_eq!(c.login.password, None);
        // Flag 0, password present.
        assert_eq!(
            Packet::decode(&build(without, &full), version),
            Err(DecodeError::TrailingBytes(PacketType::Connect)),
            "{version}"
        );
        // Flag 1, password missing.
        assert_eq!(
            Packet::decode(&build(with, prefix), version),
            Err(DecodeError::UnexpectedEnd(PacketType::Connect)),
            "{version}"
        );
    }
}

// --- UTF-8 string fields in 3.1.1 -----------------------------------------

/// v3.1.1 [MQTT-3.1.3-4]: the ClientId is a UTF-8 encoded string.
#[test]
fn v3_1_1_mqtt_3_1_3_4_client_id_is_utf8() {
    check_utf8_field(V3_1_1, |s| v3_connect("02", &format!("0003 {s}")));
    let c = connect(&v3_connect("02", "0003 616263"), V3_1_1);
    assert_eq!(c.client_id.as_str(), "abc");
}

/// v3.1.1 [MQTT-3.1.3-10]: the Will Topic is a UTF-8 encoded string.
#[test]
fn v3_1_1_mqtt_3_1_3_10_will_topic_is_utf8() {
    // Flags 0x06: will + clean; client "c", will topic, empty will message.
    check_utf8_field(V3_1_1, |s| {
        v3_connect("06", &format!("0001 63 0003 {s} 0000"))
    });
    let c = connect(&v3_connect("06", "0001 63 0003 616263 0000"), V3_1_1);
    assert_eq!(c.will.unwrap().topic.as_str(), "abc");
}

/// v3.1.1 [MQTT-3.1.3-11]: the User Name is a UTF-8 encoded string.
#[test]
fn v3_1_1_mqtt_3_1_3_11_user_name_is_utf8() {
    // Flags 0x82: user name + clean; client "c", user name.
    check_utf8_field(V3_1_1, |s| v3_connect("82", &format!("0001 63 0003 {s}")));
    let c = connect(&v3_connect("82", "0001 63 0003 616263"), V3_1_1);
    assert_eq!(c.login.username.unwrap().as_str(), "abc");
}

/// v3.1.1 [MQTT-3.3.2-1]: the Topic Name is the first field of the PUBLISH
/// variable header and is a UTF-8 encoded string.
#[test]
fn v3_1_1_mqtt_3_3_2_1_publish_topic_first_and_utf8() {
    // QoS 1: topic "a/b", packet id 10, payload "hi".
    let p = publish(&frame(0x32, "0003 612f62 000a 6869"), V3_1_1);
    assert_eq!(p.topic_str(), "a/b");
    assert_eq!(p.qos, PublishQoS::new(QoS::AtLeastOnce, id(10)));
    assert_eq!(&p.payload[..], b"hi");
    check_utf8_field(V3_1_1, |s| frame(0x32, &format!("0003 {s} 000a 6869")));
    check_utf8_field(V3_1_1, |s| frame(0x30, &format!("0003 {s} 6869")));
}

/// v3.1.1 [MQTT-3.8.3-1]: the Topic Filters of a SUBSCRIBE are UTF-8 encoded
/// strings, the second as much as the first.
#[test]
fn v3_1_1_mqtt_3_8_3_1_subscribe_filters_are_utf8() {
    // Packet id 10, filter + options QoS 1.
    check_utf8_field(V3_1_1, |s| frame(0x82, &format!("000a 0003 {s} 01")));
    check_utf8_field(V3_1_1, |s| {
        frame(0x82, &format!("000a 0001 61 00 0003 {s} 01"))
    });
    let Packet::Subscribe(sub) =
        Packet::decode(&frame(0x82, "000a 0003 612f2b 01"), V3_1_1).unwrap()
    else {
        panic!()
    };
    assert_eq!(sub.filters[0].0.as_str(), "a/+");
}

/// v5 [MQTT-3.10.3-1]; v3.1.1 [MQTT-3.10.3-1]: the Topic Filters of an
/// UNSUBSCRIBE are UTF-8 encoded strings, the second as much as the first.
#[test]
fn v5_mqtt_3_10_3_1_unsubscribe_filters_are_utf8() {
    // Packet id 10, then (5.0) an empty property block, then the filters.
    check_utf8_field(V3_1_1, |s| frame(0xa2, &format!("000a 0003 {s}")));
    check_utf8_field(V3_1_1, |s| frame(0xa2, &format!("000a 0001 61 0003 {s}")));
    check_utf8_field(V5, |s| frame(0xa2, &format!("000a 00 0003 {s}")));
    check_utf8_field(V5, |s| frame(0xa2, &format!("000a 00 0001 61 0003 {s}")));
    for (version, body) in [(V3_1_1, "000a 0003 612f23"), (V5, "000a 00 0003 612f23")] {
        let Packet::Unsubscribe(unsub) = Packet::decode(&frame(0xa2, body), version).unwrap()
        else {
            panic!()
        };
        assert_eq!(unsub.filters[0].as_str(), "a/#");
    }
}

/// v3.1.1 [MQTT-1.5.3-3]; v5 [MQTT-1.5.4-3]: `EF BB BF` is U+FEFF wherever it
/// is in a string, and the receiver keeps it: it is neither skipped as a
/// byte order mark nor stripped.
#[test]
fn v3_1_1_mqtt_1_5_3_3_bom_is_kept() {
    for version in [V3_1_1, V5] {
        let props = if version == V5 { "00" } else { "" };
        // PUBLISH QoS 0, topic U+FEFF "a" U+FEFF, payload "x".
        let p = publish(
            &frame(0x30, &format!("0007 efbbbf 61 efbbbf {props} 78")),
            version,
        );
        assert_eq!(p.topic_str(), "\u{feff}a\u{feff}");
        assert_eq!(p.topic.unwrap().len(), 7);
        assert_eq!(&p.payload[..], b"x");
        // CONNECT with ClientID U+FEFF alone and user name "u" U+FEFF.
        let payload = "0003 efbbbf 0004 75 efbbbf";
        let bytes = match version {
            V5 => v5_connect("82", payload),
            _ => v3_connect("82", payload),
        };
        let c = connect(&bytes, version);
        assert_eq!(c.client_id.as_str(), "\u{feff}");
        assert_eq!(c.login.username.unwrap().as_str(), "u\u{feff}");
        // UNSUBSCRIBE of the filter U+FEFF "/#".
        let bytes = frame(0xa2, &format!("000a {props} 0005 efbbbf 2f23"));
        let Packet::Unsubscribe(unsub) = Packet::decode(&bytes, version).unwrap() else {
            panic!()
        };
        assert_eq!(unsub.filters[0].as_str(), "\u{feff}/#");
    }
}

// --- PUBLISH packet identifier ----------------------------------------------

/// v5 [MQTT-2.2.1-2]: a QoS 0 PUBLISH has no Packet Identifier. The two
/// bytes after the topic are read as an identifier only at QoS 1 and 2; at
/// QoS 0 they are the property length (5.0) and the payload. Here a decoder
/// that read an identifier at QoS 0 would find 0 and refuse the frame.
#[test]
fn v5_mqtt_2_2_1_2_no_packet_id_in_qos0_publish() {
    // QoS 0: topic "a", property length 0, payload 00 07.
    let p = publish(&frame(0x30, "0001 61 00 0007"), V5);
    assert_eq!(p.qos, PublishQoS::AtMostOnce);
    assert_eq!(&p.payload[..], [0x00, 0x07]);
    // 3.1.1, QoS 0: topic "a", payload 00 00 07.
    let p = publish(&frame(0x30, "0001 61 0000 07"), V3_1_1);
    assert_eq!(p.qos, PublishQoS::AtMostOnce);
    assert_eq!(&p.payload[..], [0x00, 0x00, 0x07]);
    // The same bytes at QoS 1 carry packet identifier 0, which is refused
    // (v5 [MQTT-2.2.1-3]); at QoS 1 with identifier 7 they decode.
    assert_eq!(
        Packet::decode(&frame(0x32, "0001 61 00 0007"), V5),
        Err(DecodeError::ZeroPacketId)
    );
    let p = publish(&frame(0x32, "0001 61 0007 00"), V5);
    assert_eq!(p.qos, PublishQoS::new(QoS::AtLeastOnce, id(7)));
    assert!(p.payload.is_empty());

    // Encoding: a QoS 0 PUBLISH has no place for an identifier
    // (`PublishQoS::AtMostOnce` carries none; `new` drops it), and none is
    // written.
    let publish = Publish::new(
        mqttkit_codec::mqttkit_topic::TopicName::from_static("a").unwrap(),
        &b"\x07"[..],
    )
    .with_qos(PublishQoS::new(QoS::AtMostOnce, id(9)));
    assert_eq!(publish.qos, PublishQoS::AtMostOnce);
    let packet = Packet::from(publish);
    assert_eq!(
        common::encode(&packet, V5),
        frame(0x30, "0001 61 00 07"),
        "v5 QoS 0 PUBLISH"
    );
    assert_eq!(
        common::encode(&packet, V3_1_1),
        frame(0x30, "0001 61 07"),
        "v3.1.1 QoS 0 PUBLISH"
    );
}

// --- Reason codes of PUBACK, PUBREC, PUBCOMP --------------------------------

/// The PUBACK and PUBREC reason codes of v5 §3.4.2.1 and §3.5.2.1.
const PUBACK_CODES: [u8; 9] = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
/// The PUBCOMP reason codes of v5 §3.7.2.1.
const PUBCOMP_CODES: [u8; 2] = [0x00, 0x92];

/// Decodes `first, 03, 00 01, code` for every byte: it decodes exactly when
/// `allowed` lists the code, and is refused with `InvalidReasonCode`
/// otherwise. Returns the decoded packets.
fn check_decoded_codes(first: u8, packet_type: PacketType, allowed: &[u8]) -> Vec<Packet> {
    let mut decoded = Vec::new();
    for code in 0..=u8::MAX {
        let bytes = [first, 0x03, 0x00, 0x01, code];
        let result = Packet::decode(&bytes, V5);
        if allowed.contains(&code) {
            decoded.push(result.unwrap_or_else(|e| panic!("{packet_type} {code:#04x}: {e}")));
        } else {
            assert_eq!(
                result,
                Err(DecodeError::InvalidReasonCode {
                    packet: packet_type,
                    code
                }),
                "{packet_type} {code:#04x}"
            );
        }
    }
    assert_eq!(decoded.len(), allowed.len());
    decoded
}

/// v5 [MQTT-3.4.2-1]: a PUBACK carries one of the PUBACK reason codes. The
/// decoder refuses every other byte (0x92, a PUBREL/PUBCOMP code, included);
/// the encoder takes a `PubAckReasonCode`, which has exactly those codes and
/// cannot be made from another one, and writes it as is.
#[test]
fn v5_mqtt_3_4_2_1_puback_reason_codes() {
    let decoded = check_decoded_codes(0x40, PacketType::PubAck, &PUBACK_CODES);
    for (packet, code) in decoded.iter().zip(PUBACK_CODES) {
        let Packet::PubAck(ack) = packet else {
            panic!("{packet:?}")
        };
        assert_eq!((ack.packet_id, ack.reason_code.code()), (id(1), code));
    }
    assert_eq!(
        Packet::decode(&[0x40, 0x03, 0x00, 0x01, 0x92], V5),
        Err(DecodeError::InvalidReasonCode {
            packet: PacketType::PubAck,
            code: 0x92
        })
    );
    let codes: Vec<u8> = (0..=u8::MAX)
        .filter(|b| PubAckReasonCode::from_u8(*b).is_some())
        .collect();
    assert_eq!(codes, PUBACK_CODES);
    assert_eq!(
        PubAckReasonCode::try_from(ReasonCode::PacketIdentifierNotFound),
        Err(ReasonCode::PacketIdentifierNotFound)
    );
    for code in PUBACK_CODES.iter().filter(|c| **c != 0) {
        let ack = PubAck::new(id(1)).with_reason(PubAckReasonCode::from_u8(*code).unwrap());
        assert_eq!(
            common::encode(&ack.clone().into(), V5),
            [0x40, 3, 0, 1, *code]
        );
        // 3.1.1 has no reason codes: only Success can be sent.
        assert!(matches!(
            Packet::from(ack).encoded_len(V3_1_1),
            Err(EncodeError::NotInVersion(
                VersionFeature::NonSuccessReasonCode
            ))
        ));
    }
}

/// v5 [MQTT-3.5.2-1]: a PUBREC carries one of the PUBREC reason codes (the
/// same set as PUBACK). The decoder refuses every other byte; the encoder
/// takes a `PubAckReasonCode` and writes it as is.
#[test]
fn v5_mqtt_3_5_2_1_pubrec_reason_codes() {
    let decoded = check_decoded_codes(0x50, PacketType::PubRec, &PUBACK_CODES);
    for (packet, code) in decoded.iter().zip(PUBACK_CODES) {
        let Packet::PubRec(rec) = packet else {
            panic!("{packet:?}")
        };
        assert_eq!((rec.packet_id, rec.reason_code.code()), (id(1), code));
    }
    assert_eq!(
        Packet::decode(&[0x50, 0x03, 0x00, 0x01, 0x92], V5),
        Err(DecodeError::InvalidReasonCode {
            packet: PacketType::PubRec,
            code: 0x92
        })
    );
    for code in PUBACK_CODES.iter().filter(|c| **c != 0) {
        let rec = PubRec::new(id(1)).with_reason(PubAckReasonCode::from_u8(*code).unwrap());
        assert_eq!(common::encode(&rec.into(), V5), [0x50, 3, 0, 1, *code]);
    }
}

/// v5 [MQTT-3.7.2-1]: a PUBCOMP carries one of the PUBCOMP reason codes,
/// 0x00 and 0x92. The decoder refuses every other byte (0x10, a PUBACK code,
/// included); the encoder takes a `PubRelReasonCode`, which has exactly those
/// two codes and cannot be made from another one.
#[test]
fn v5_mqtt_3_7_2_1_pubcomp_reason_codes() {
    let decoded = check_decoded_codes(0x70, PacketType::PubComp, &PUBCOMP_CODES);
    for (packet, code) in decoded.iter().zip(PUBCOMP_CODES) {
        let Packet::PubComp(comp) = packet else {
            panic!("{packet:?}")
        };
        assert_eq!((comp.packet_id, comp.reason_code.code()), (id(1), code));
    }
    assert_eq!(
        Packet::decode(&[0x70, 0x03, 0x00, 0x01, 0x10], V5),
        Err(DecodeError::InvalidReasonCode {
            packet: PacketType::PubComp,
            code: 0x10
        })
    );
    let codes: Vec<u8> = (0..=u8::MAX)
        .filter(|b| PubRelReasonCode::from_u8(*b).is_some())
        .collect();
    assert_eq!(codes, PUBCOMP_CODES);
    assert_eq!(
        PubRelReasonCode::try_from(ReasonCode::NoMatchingSubscribers),
        Err(ReasonCode::NoMatchingSubscribers)
    );
    let comp = PubComp::new(id(1)).with_reason(PubRelReasonCode::PacketIdentifierNotFound);
    assert_eq!(common::encode(&comp.into(), V5), [0x70, 3, 0, 1, 0x92]);
}
