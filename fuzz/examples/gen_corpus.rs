//! Writes the seed corpora under `fuzz/corpus/` from hand-made frames.
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus
//! ```
//!
//! Every packet type is built with the codec's public constructors and
//! encoded, so the seeds stay valid when the codec changes; a few malformed
//! frames from published CVEs and mosquitto's compliance data are added as
//! raw bytes. Decode seeds start with the control byte `00` of `mqttkit_fuzz::StreamInput`.
//! The roundtrip target takes structured (`arbitrary`) input, so it has no
//! seeds from here.

use std::fs;
use std::num::{NonZeroU16, NonZeroU32};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use mqttkit_codec::mqttkit_topic::{TopicFilter, TopicName};
use mqttkit_codec::{
    Auth, AuthReasonCode, ConnAck, Connect, ConnectReasonCode, Disconnect, DisconnectReasonCode,
    LastWill, Login, MqttString, Packet, PacketId, PayloadFormat, ProtocolVersion, PubAck,
    PubAckReasonCode, PubComp, PubRec, PubRel, PubRelReasonCode, Publish, PublishQoS, QoS,
    RetainHandling, SubAck, SubAckReasonCode, Subscribe, SubscriptionOptions, UnsubAck,
    UnsubAckReasonCode, Unsubscribe,
};

fn s(v: &'static str) -> MqttString {
    MqttString::from_static(v).expect("valid string")
}

fn name(v: &'static str) -> TopicName {
    TopicName::from_static(v).expect("valid topic name")
}

fn filter(v: &'static str) -> TopicFilter {
    TopicFilter::from_static(v).expect("valid topic filter")
}

fn id(v: u16) -> PacketId {
    PacketId::new(v).expect("non-zero packet id")
}

fn connect(version: ProtocolVersion, full: bool) -> Packet {
    let mut c = Connect::new(version, s("client-1"));
    if full {
        c.clean_start = false;
        c.keep_alive = 30;
        let mut will = LastWill::new(name("clients/1/status"), &b"offline"[..]);
        will.qos = QoS::AtLeastOnce;
        will.retain = true;
        c.login = Login {
            username: Some(s("user")),
            password: Some(Bytes::from_static(b"secret")),
        };
        if version.is_v5() {
            c.properties.session_expiry_interval = Some(3600);
            c.properties.receive_maximum = NonZeroU16::new(20);
            c.properties.maximum_packet_size = NonZeroU32::new(1 << 20);
            c.properties.topic_alias_maximum = Some(10);
            c.properties.request_response_information = Some(true);
            c.properties.request_problem_information = Some(false);
            c.properties.authentication_method = Some(s("SCRAM-SHA-1"));
            c.properties.authentication_data = Some(Bytes::from_static(b"n,,n=user"));
            c.properties.user_properties.push(s("k"), s("v"));
            will.properties.will_delay_interval = Some(5);
            will.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
            will.properties.message_expiry_interval = Some(60);
            will.properties.content_type = Some(s("text/plain"));
            will.properties.response_topic = Some(name("clients/1/reply"));
            will.properties.correlation_data = Some(Bytes::from_static(b"\x01\x02"));
        }
        c.will = Some(will);
    }
    c.into()
}

/// Every packet type but CONNECT, as `version` writes them.
fn packets(version: ProtocolVersion) -> Vec<(&'static str, Packet)> {
    let v5 = version.is_v5();
    let mut out: Vec<(&'static str, Packet)> = Vec::new();

    let mut connack = ConnAck::new(true, ConnectReasonCode::Success);
    if v5 {
        let p = &mut connack.properties;
        p.session_expiry_interval = Some(0);
        p.receive_maximum = NonZeroU16::new(20);
        p.maximum_qos = Some(QoS::AtLeastOnce);
        p.retain_available = Some(true);
        p.maximum_packet_size = NonZeroU32::new(65_536);
        p.assigned_client_identifier = Some(s("auto-1"));
        p.topic_alias_maximum = Some(10);
        p.reason_string = Some(s("ok"));
        p.wildcard_subscription_available = Some(true);
        p.subscription_identifier_available = Some(true);
        p.shared_subscription_available = Some(false);
        p.server_keep_alive = Some(60);
        p.response_information = Some(s("resp/"));
        p.server_reference = Some(s("other:1883"));
    }
    out.push(("connack", connack.into()));
    out.push((
        "connack-refused",
        ConnAck::new(false, ConnectReasonCode::NotAuthorized).into(),
    ));

    out.push((
        "publish-qos0",
        Publish::new(name("sensors/42/temp"), &b"21.5"[..]).into(),
    ));
    let mut publish = Publish::new(name("a/b"), &b"payload"[..])
        .with_qos(PublishQoS::new(QoS::ExactlyOnce, id(7)).redelivery())
        .with_retain(true);
    if v5 {
        let p = &mut publish.properties;
        p.payload_format_indicator = Some(PayloadFormat::Utf8);
        p.message_expiry_interval = Some(120);
        p.topic_alias = NonZeroU16::new(3);
        p.set_response_topic(Some(name("a/reply")));
        p.set_correlation_data(Some(Bytes::from_static(b"corr")));
        p.set_content_type(Some(s("json")));
        p.push_subscription_identifier(NonZeroU32::MIN);
        p.push_subscription_identifier(NonZeroU32::new(268_435_455).expect("non-zero"));
        p.push_user_property(s("name"), s("value"));
    }
    out.push(("publish-qos2", publish.into()));
    if v5 {
        let mut aliased = Publish::new(name("x"), &b"by alias"[..])
            .with_qos(PublishQoS::new(QoS::AtLeastOnce, id(1)));
        aliased.topic = None;
        aliased.properties.topic_alias = NonZeroU16::new(3);
        out.push(("publish-alias", aliased.into()));
    }

    let (ack_code, rel_code) = if v5 {
        (
            PubAckReasonCode::NoMatchingSubscribers,
            PubRelReasonCode::PacketIdentifierNotFound,
        )
    } else {
        (PubAckReasonCode::Success, PubRelReasonCode::Success)
    };
    let mut puback = PubAck::new(id(1)).with_reason(ack_code);
    if v5 {
        puback.properties.reason_string = Some(s("none"));
        puback.properties.user_properties.push(s("k"), s("v"));
    }
    out.push(("puback", puback.into()));
    out.push(("pubrec", PubRec::new(id(2)).with_reason(ack_code).into()));
    out.push(("pubrel", PubRel::new(id(3)).with_reason(rel_code).into()));
    out.push(("pubcomp", PubComp::new(id(4)).into()));

    let mut options = SubscriptionOptions::new(QoS::AtLeastOnce);
    if v5 {
        options.no_local = true;
        options.retain_as_published = true;
        options.retain_handling = RetainHandling::SendAtSubscribeIfNew;
    }
    let mut subscribe = Subscribe::new(id(10), filter("sensors/+/temp"), options);
    subscribe
        .filters
        .push((filter("#"), SubscriptionOptions::new(QoS::ExactlyOnce)));
    if v5 {
        subscribe.filters.push((
            filter("$share/group/jobs/#"),
            SubscriptionOptions::new(QoS::AtMostOnce),
        ));
        subscribe.properties.subscription_identifier = NonZeroU32::new(42);
    }
    out.push(("subscribe", subscribe.into()));

    let mut codes = vec![
        SubAckReasonCode::GrantedQoS1,
        SubAckReasonCode::GrantedQoS2,
        SubAckReasonCode::UnspecifiedError,
    ];
    if v5 {
        codes.push(SubAckReasonCode::SharedSubscriptionsNotSupported);
    }
    out.push(("suback", SubAck::new(id(10), codes).into()));

    let mut unsubscribe = Unsubscribe::new(id(11), filter("sensors/+/temp"));
    unsubscribe.filters.push(filter("$SYS/#"));
    out.push(("unsubscribe", unsubscribe.into()));
    let codes = if v5 {
        vec![
            UnsubAckReasonCode::Success,
            UnsubAckReasonCode::NoSubscriptionExisted,
        ]
    } else {
        Vec::new()
    };
    out.push(("unsuback", UnsubAck::new(id(11), codes).into()));

    out.push(("pingreq", Packet::PingReq));
    out.push(("pingresp", Packet::PingResp));

    if v5 {
        let mut disconnect = Disconnect::new(DisconnectReasonCode::ServerMoved);
        disconnect.properties.session_expiry_interval = Some(0);
        disconnect.properties.reason_string = Some(s("bye"));
        disconnect.properties.server_reference = Some(s("other:1883"));
        out.push(("disconnect", disconnect.into()));
        let mut auth = Auth::new(AuthReasonCode::ContinueAuthentication);
        auth.properties.authentication_method = Some(s("SCRAM-SHA-1"));
        auth.properties.authentication_data = Some(Bytes::from_static(b"r=abc"));
        auth.properties.reason_string = Some(s("more"));
        out.push(("auth", auth.into()));
    } else {
        out.push(("disconnect", Disconnect::default().into()));
    }
    out
}

fn encode(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut out = Vec::new();
    packet.encode(version, &mut out).expect("seed encodes");
    out
}

fn hex(h: &str) -> Vec<u8> {
    let digits: Vec<u8> = h
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|c| char::from(c).to_digit(16).expect("hex digit") as u8)
        .collect();
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// Malformed or hostile frames from published CVEs and mosquitto's
/// compliance data, raw.
const HOSTILE: &[(&str, &str)] = &[
    ("cve-2017-7651-huge-rl", "30 ff ff ff 7f 00 01 61"),
    ("cve-2023-0809-huge-rl", "30 80 80 80 74 00 01 61"),
    ("five-byte-rl", "10 ff ff ff ff 7f 00 04 4d 51 54 54"),
    ("nonminimal-rl", "c0 80 00"),
    (
        "nanomq-203-short-rl",
        "10 07 0004 4d515454 04 c2 003c 000b 746573742d707974686f6e 0005 61646d696e",
    ),
    ("connect-bad-name", "10 0d 0004 4d515455 04 02 000a 0001 70"),
    ("connect-level-6", "10 0d 0004 4d515454 06 00 000a 0001 70"),
    (
        "connect-will-qos3",
        "10 13 0004 4d515454 04 1e 000a 0001 70 0001 70 0001 70",
    ),
    (
        "connect-surrogate-id",
        "10 11 0004 4d515454 04 02 000a 0005 746f eda080",
    ),
    ("publish-qos3", "36 10 0005 746f706963 1234 7061796c6f6164"),
    (
        "publish-v5-dup-pfi",
        "32 15 0005 746f706963 1234 04 0101 0101 7061796c6f6164",
    ),
    (
        "publish-v5-prop-truncated",
        "32 12 0005 746f706963 1234 01 02 7061796c6f6164",
    ),
    (
        "publish-v5-unknown-prop",
        "32 13 0005 746f706963 1234 02 0401 7061796c6f6164",
    ),
    ("publish-empty-topic", "30 0a 0000 00 7061796c6f6164"),
    ("publish-no-packet-id", "32 05 0003 612f62"),
    ("subscribe-no-options", "82 08 0001 00 0003 612f62"),
    (
        "subscribe-5byte-subid",
        "82 0d 0001 06 0b 8080808001 0001 70 00",
    ),
    (
        "subscribe-nolocal-shared",
        "82 10 1234 00 000a 2473686172652f702f70 04",
    ),
    ("suback-empty-cve-2024-10525", "90 03 0001 00"),
    (
        "connack-bad-prop-len-paho-985",
        "20 0b 00 00 80 ff ff 0a 27 00 98 96 80",
    ),
    (
        "connack-userprop-overrun-paho-986",
        "20 0b 00 00 08 22 00 0a 26 00 98 96 80",
    ),
    (
        "cve-2021-28166-connect-then-connack",
        "101000044d5154540502003c03210014000029020001e000",
    ),
    ("lone-publish-byte", "30"),
    ("type-0", "00 00"),
    ("disconnect-flags", "e1 00"),
];

fn write(dir: &Path, file: &str, bytes: &[u8]) {
    fs::write(dir.join(file), bytes).expect("write seed");
}

/// Writes one decode corpus. `connects[0]` is the target's decoder version:
/// its packets are written for it, and its CONNECT starts the stream.
fn decode_corpus(root: &Path, target: &str, connects: &[ProtocolVersion]) {
    let dir = root.join(target);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create corpus dir");
    let mut stream = vec![0x00];
    for &cv in connects {
        for full in [false, true] {
            let frame = encode(&connect(cv, full), cv);
            let file = format!("connect-{cv}{}", if full { "-full" } else { "" });
            write(&dir, &file, &[&[0x00][..], &frame].concat());
            if cv == connects[0] && !full {
                stream.extend_from_slice(&frame);
            }
        }
    }
    // After the CONNECT the decoder reads by its level.
    let version = connects[0];
    for (label, packet) in packets(version) {
        let frame = encode(&packet, version);
        write(&dir, label, &[&[0x00][..], &frame].concat());
        stream.extend_from_slice(&frame);
    }
    write(&dir, "stream-bytewise", &stream);
    // The same stream in chunks of 3, 1, 7 and 17 bytes, and with a
    // Maximum Packet Size of 64 bytes.
    let mut chunked = vec![0x04, 2, 0, 6, 16];
    chunked.extend_from_slice(&stream[1..]);
    write(&dir, "stream-chunked", &chunked);
    let mut limited = vec![0x09, 4, 0x00, 0x40];
    limited.extend_from_slice(&stream[1..]);
    write(&dir, "stream-max-64", &limited);
    for (label, h) in HOSTILE {
        write(&dir, label, &[&[0x00][..], &hex(h)].concat());
    }
}

const TOPICS: &[&[u8]] = &[
    b"sport/tennis/player1",
    b"sport/tennis/+",
    b"sport/#",
    b"#",
    b"+",
    b"+/+",
    b"/",
    b"//",
    b"a//b",
    b"/finance",
    b"foo/+/+/baz",
    b"+foo",
    b"fo+o",
    b"foo+",
    b"foo#",
    b"foo/#/bar",
    b"$SYS/#",
    b"$SYS/uptime",
    b"$share/group/a/+",
    b"$share/group/#",
    b"$share//a",
    b"$share/g",
    b"$share/g/",
    b"$share/g+/a",
    b"$share",
    b"$sharex/a",
    b"a\0b",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbfbom",
    b"\xf0\xaa\x9b\x94/x",
    b"\xc0\xaf",
];

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    use ProtocolVersion::{V3_1, V3_1_1, V5};
    decode_corpus(&root, "decode_v31", &[V3_1, V3_1_1, V5]);
    decode_corpus(&root, "decode_v311", &[V3_1_1, V3_1, V5]);
    decode_corpus(&root, "decode_v5", &[V5, V3_1_1, V3_1]);

    let dir = root.join("topic_validate");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create corpus dir");
    for (i, topic) in TOPICS.iter().enumerate() {
        write(&dir, &format!("topic-{i:02}"), topic);
    }
    println!("seed corpora written under {}", root.display());
}
