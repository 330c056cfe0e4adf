//! The codec workloads and one adapter per peer crate, shared by the timing
//! bench, the allocation bench and the tests that prove every crate decodes
//! the same packet from the same bytes before anything is timed.

use bytes::{BufMut, Bytes, BytesMut};
use mqttkit_codec::mqttkit_topic::TopicName;
use mqttkit_codec::{
    Decoded, Decoder, HeaderStatus, MqttString, Packet, PacketId, ProtocolVersion, Publish,
    PublishProperties, PublishQoS, PublishView, QoS, read_fixed_header,
};

/// One PUBLISH shape, its wire bytes, and the version they are read in.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Name used in the report.
    pub name: String,
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Frames per decode batch.
    pub frames: usize,
    /// The packet, encoded by `mqttkit-codec`.
    pub packet: Packet,
    /// Its wire bytes, given unchanged to every crate.
    pub frame: Vec<u8>,
}

fn publish(qos: QoS, payload_len: usize, with_properties: bool) -> Publish {
    let topic = TopicName::from_static("sensor/abc/temperature").unwrap();
    let qos = match qos {
        QoS::AtMostOnce => PublishQoS::AtMostOnce,
        qos => PublishQoS::new(qos, PacketId::new(7).unwrap()),
    };
    let mut publish = Publish::new(topic, Bytes::from(vec![0xA5u8; payload_len])).with_qos(qos);
    if with_properties {
        let string = |s: &str| MqttString::try_from(s).unwrap_or_default();
        let mut props = PublishProperties::default();
        props.message_expiry_interval = Some(3600);
        props.set_content_type(Some(string("application/json")));
        props.set_correlation_data(Some(Bytes::from_static(&[7u8; 16])));
        props.push_user_property(string("site"), string("plant-7"));
        props.push_user_property(string("line"), string("3"));
        publish.properties = props;
    }
    publish
}

/// The PUBLISH workloads of the codec benchmarks: QoS 0 and 1 with 0 B,
/// 64 B, 1 KiB and 16 KiB payloads in 3.1.1 and 5.0, and a v5 PUBLISH with
/// Message Expiry, Content Type, Correlation Data and two User Properties.
pub fn workloads() -> Vec<Workload> {
    let mut shapes = Vec::new();
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let v = if version.is_v5() { "v5" } else { "v3.1.1" };
        for (qos, q) in [(QoS::AtMostOnce, "QoS0"), (QoS::AtLeastOnce, "QoS1")] {
            for (len, size) in [
                (0, "0 B"),
                (64, "64 B"),
                (1024, "1 KiB"),
                (16 * 1024, "16 KiB"),
            ] {
                shapes.push((format!("{v} {q} {size}"), version, qos, len, false));
            }
        }
    }
    shapes.push((
        String::from("v5 QoS1 64 B + 5 properties"),
        ProtocolVersion::V5,
        QoS::AtLeastOnce,
        64,
        true,
    ));
    shapes
        .into_iter()
        .map(|(name, version, qos, len, props)| {
            let packet = Packet::Publish(publish(qos, len, props));
            let mut frame = Vec::new();
            let _ = packet.encode(version, &mut frame);
            // About 1 MiB of frames per decode batch, at most 1,000 of them.
            let frames = (1 << 20) / frame.len().max(1);
            Workload {
                name,
                version,
                packet,
                frames: frames.clamp(50, 1_000),
                frame,
            }
        })
        .collect()
}

/// `count` copies of `frame` in one buffer with spare capacity, as a socket
/// read would leave them (for fairness: rmqtt
/// reserves after each frame and must not pay a copy of the whole buffer).
pub fn stream(frame: &[u8], count: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(frame.len().saturating_mul(count).saturating_add(4096));
    for _ in 0..count {
        buf.put_slice(frame);
    }
    buf
}

/// The crates compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crate {
    /// This workspace.
    MqttCodec,
    /// This workspace's in-place `PublishView` (PUBLISH decode only).
    MqttCodecView,
    /// rumqttc 0.25.1 `mqttbytes` (v4 and v5).
    Rumqttc,
    /// rmqtt-codec 0.3.1 (the ntex-mqtt design on `bytes`).
    RmqttCodec,
    /// mqtt-proto 0.4.0.
    MqttProto,
    /// mqttrs 0.4.1 (borrowed, 3.1.1 only).
    Mqttrs,
    /// mqtt5-protocol 0.16.2.
    Mqtt5Protocol,
}

impl Crate {
    /// Every crate, ours first.
    pub const ALL: [Crate; 7] = [
        Crate::MqttCodec,
        Crate::MqttCodecView,
        Crate::Rumqttc,
        Crate::RmqttCodec,
        Crate::MqttProto,
        Crate::Mqttrs,
        Crate::Mqtt5Protocol,
    ];

    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Crate::MqttCodec => "mqttkit-codec",
            Crate::MqttCodecView => "mqttkit-codec view",
            Crate::Rumqttc => "rumqttc",
            Crate::RmqttCodec => "rmqtt-codec",
            Crate::MqttProto => "mqtt-proto",
            Crate::Mqttrs => "mqttrs",
            Crate::Mqtt5Protocol => "mqtt5-protocol",
        }
    }

    /// Whether the crate speaks `version`.
    pub fn supports(self, version: ProtocolVersion) -> bool {
        !(self == Crate::Mqttrs && version.is_v5())
    }

    /// Whether the crate can encode the packets it decodes (mqttrs encodes
    /// only what it borrowed, and a view is read-only).
    pub fn encodes(self) -> bool {
        !matches!(self, Crate::Mqttrs | Crate::MqttCodecView)
    }
}

/// What the checks compare: topic, payload and packet identifier, borrowed
/// so that looking at a packet allocates nothing.
pub type Seen<'a> = (&'a str, &'a [u8], Option<u16>);

/// Decodes every frame of `buf` (all `frame_len` long) with `krate` and
/// returns how many PUBLISH packets came out, or why decoding failed.
pub fn decode_all(
    krate: Crate,
    version: ProtocolVersion,
    buf: &mut BytesMut,
    frame_len: usize,
    mut seen: impl FnMut(Seen<'_>),
) -> Result<usize, String> {
    let mut count = 0usize;
    let v5 = version.is_v5();
    match krate {
        Crate::MqttCodec => {
            let mut decoder = Decoder::new(version);
            while let Decoded::Packet(packet) = decoder.decode(buf).map_err(|e| e.to_string())? {
                if let Packet::Publish(p) = packet {
                    seen((
                        p.topic_str(),
                        &p.payload,
                        p.qos.packet_id().map(PacketId::get),
                    ));
                    count += 1;
                }
            }
        }
        Crate::MqttCodecView => {
            let mut input: &[u8] = buf;
            while let HeaderStatus::Complete(header) =
                read_fixed_header(input, version).map_err(|e| e.to_string())?
            {
                let (frame, rest) = input
                    .split_at_checked(header.frame_len())
                    .ok_or("short frame")?;
                let body = frame.get(header.header_len..).unwrap_or_default();
                let view = PublishView::parse_body(header.flags, body, version)
                    .map_err(|e| e.to_string())?;
                seen((
                    view.topic(),
                    view.payload(),
                    view.packet_id().map(PacketId::get),
                ));
                count += 1;
                input = rest;
            }
            buf.clear();
        }
        Crate::Rumqttc if v5 => {
            use rumqttc::v5::mqttbytes::v5::Packet as P;
            while !buf.is_empty() {
                if let P::Publish(p) = P::read(buf, None).map_err(|e| format!("{e:?}"))? {
                    let topic = core::str::from_utf8(&p.topic).unwrap_or_default();
                    seen((topic, &p.payload, Some(p.pkid).filter(|&id| id != 0)));
                    count += 1;
                }
            }
        }
        Crate::Rumqttc => {
            use rumqttc::mqttbytes::v4::Packet as P;
            while !buf.is_empty() {
                if let P::Publish(p) = P::read(buf, usize::MAX).map_err(|e| format!("{e:?}"))? {
                    seen((&p.topic, &p.payload, Some(p.pkid).filter(|&id| id != 0)));
                    count += 1;
                }
            }
        }
        Crate::RmqttCodec => {
            use tokio_util::codec::Decoder as _;
            if v5 {
                let mut codec = rmqtt_codec::v5::Codec::new(0, 0);
                while let Some((packet, _)) = codec.decode(buf).map_err(|e| format!("{e:?}"))? {
                    if let rmqtt_codec::v5::Packet::Publish(p) = packet {
                        seen(rmqtt_seen(&p));
                        count += 1;
                    }
                }
            } else {
                let mut codec = rmqtt_codec::v3::Codec::new(0);
                while let Some((packet, _)) = codec.decode(buf).map_err(|e| format!("{e:?}"))? {
                    if let rmqtt_codec::v3::Packet::Publish(p) = packet {
                        seen(rmqtt_seen(&p));
                        count += 1;
                    }
                }
            }
        }
        Crate::MqttProto => {
            for frame in buf.chunks(frame_len) {
                if v5 {
                    if let Some(mqtt_proto::v5::Packet::Publish(p)) =
                        mqtt_proto::v5::Packet::decode(frame).map_err(|e| format!("{e:?}"))?
                    {
                        seen((&p.topic_name, &p.payload, proto_pid(p.qos_pid)));
                        count += 1;
                    }
                } else if let Some(mqtt_proto::v3::Packet::Publish(p)) =
                    mqtt_proto::v3::Packet::decode(frame).map_err(|e| format!("{e:?}"))?
                {
                    seen((&p.topic_name, &p.payload, proto_pid(p.qos_pid)));
                    count += 1;
                }
            }
            buf.clear();
        }
        Crate::Mqttrs => {
            for frame in buf.chunks(frame_len) {
                if let Some(mqttrs::Packet::Publish(p)) =
                    mqttrs::decode_slice(frame).map_err(|e| format!("{e:?}"))?
                {
                    let pid = match p.qospid {
                        mqttrs::QosPid::AtMostOnce => None,
                        mqttrs::QosPid::AtLeastOnce(pid) | mqttrs::QosPid::ExactlyOnce(pid) => {
                            Some(pid.get())
                        }
                    };
                    seen((p.topic_name, p.payload, pid));
                    count += 1;
                }
            }
            buf.clear();
        }
        Crate::Mqtt5Protocol => {
            use bytes::Buf as _;
            use mqtt5_protocol::packet::{FixedHeader, Packet as P};
            while !buf.is_empty() {
                let header = FixedHeader::decode(buf).map_err(|e| format!("{e:?}"))?;
                let len = header.remaining_length as usize;
                if buf.remaining() < len {
                    return Err(String::from("short frame"));
                }
                let mut body = buf.split_to(len);
                let level = if v5 { 5 } else { 4 };
                let packet =
                    P::decode_from_body_with_version(header.packet_type, &header, &mut body, level)
                        .map_err(|e| format!("{e:?}"))?;
                if let P::Publish(p) = packet {
                    seen((&p.topic_name, &p.payload, p.packet_id));
                    count += 1;
                }
            }
        }
    }
    Ok(count)
}

/// Each crate's own packet, obtained by decoding the shared frame with it.
#[allow(
    missing_docs,
    clippy::large_enum_variant,
    missing_debug_implementations
)]
pub enum Native {
    Ours(mqttkit_codec::Packet),
    RumqttcV4(rumqttc::mqttbytes::v4::Publish),
    RumqttcV5(rumqttc::v5::mqttbytes::v5::Publish),
    RmqttV3(rmqtt_codec::v3::Codec, rmqtt_codec::types::Publish),
    RmqttV5(rmqtt_codec::v5::Codec, rmqtt_codec::types::Publish),
    ProtoV3(mqtt_proto::v3::Packet),
    ProtoV5(mqtt_proto::v5::Packet),
    Mqttrs(Vec<u8>),
    Mqtt5(mqtt5_protocol::packet::publish::PublishPacket),
}

/// Decodes the workload's frame with `krate` into its own packet type.
#[allow(clippy::panic)]
pub fn native(krate: Crate, workload: &Workload) -> Native {
    use tokio_util::codec::Decoder as _;
    let v5 = workload.version.is_v5();
    let mut buf = BytesMut::from(&workload.frame[..]);
    match krate {
        // Decoded like every peer's, not the packet the workload was built
        // from: a decoded PUBLISH keeps its property block, and re-encoding
        // it is what a broker forwarding the message does.
        Crate::MqttCodec | Crate::MqttCodecView => {
            let packet = mqttkit_codec::Packet::decode(&workload.frame, workload.version).unwrap();
            assert_eq!(packet, workload.packet);
            Native::Ours(packet)
        }
        Crate::Rumqttc if v5 => match rumqttc::v5::mqttbytes::v5::Packet::read(&mut buf, None) {
            Ok(rumqttc::v5::mqttbytes::v5::Packet::Publish(p)) => Native::RumqttcV5(p),
            other => panic!("{other:?}"),
        },
        Crate::Rumqttc => match rumqttc::mqttbytes::v4::Packet::read(&mut buf, usize::MAX) {
            Ok(rumqttc::mqttbytes::v4::Packet::Publish(p)) => Native::RumqttcV4(p),
            other => panic!("{other:?}"),
        },
        Crate::RmqttCodec if v5 => {
            let mut codec = rmqtt_codec::v5::Codec::new(0, 0);
            match codec.decode(&mut buf) {
                Ok(Some((rmqtt_codec::v5::Packet::Publish(p), _))) => Native::RmqttV5(codec, *p),
                other => panic!("{other:?}"),
            }
        }
        Crate::RmqttCodec => {
            let mut codec = rmqtt_codec::v3::Codec::new(0);
            match codec.decode(&mut buf) {
                Ok(Some((rmqtt_codec::v3::Packet::Publish(p), _))) => Native::RmqttV3(codec, *p),
                other => panic!("{other:?}"),
            }
        }
        Crate::MqttProto if v5 => Native::ProtoV5(
            mqtt_proto::v5::Packet::decode(&workload.frame)
                .unwrap()
                .unwrap(),
        ),
        Crate::MqttProto => Native::ProtoV3(
            mqtt_proto::v3::Packet::decode(&workload.frame)
                .unwrap()
                .unwrap(),
        ),
        Crate::Mqttrs => Native::Mqttrs(workload.frame.clone()),
        Crate::Mqtt5Protocol => {
            use mqtt5_protocol::packet::{FixedHeader, Packet as P};
            let header = FixedHeader::decode(&mut buf).unwrap();
            let level = if v5 { 5 } else { 4 };
            match P::decode_from_body_with_version(header.packet_type, &header, &mut buf, level) {
                Ok(P::Publish(p)) => Native::Mqtt5(p),
                other => panic!("{other:?}"),
            }
        }
    }
}

/// Encodes a crate's own packet with that crate into `out`.
pub fn encode_native(
    native: &mut Native,
    version: mqttkit_codec::ProtocolVersion,
    out: &mut BytesMut,
) {
    use tokio_util::codec::Encoder as _;
    match native {
        Native::Ours(p) => {
            p.encode(version, out).unwrap();
        }
        Native::RumqttcV4(p) => {
            p.write(out).unwrap();
        }
        Native::RumqttcV5(p) => {
            p.write(out).unwrap();
        }
        Native::RmqttV3(codec, p) => {
            let packet = rmqtt_codec::v3::Packet::Publish(Box::new(p.clone()));
            codec.encode(packet, out).unwrap();
        }
        Native::RmqttV5(codec, p) => {
            let packet = rmqtt_codec::v5::Packet::Publish(Box::new(p.clone()));
            codec.encode(packet, out).unwrap();
        }
        Native::ProtoV3(p) => {
            std::hint::black_box(p.encode().unwrap());
        }
        Native::ProtoV5(p) => {
            std::hint::black_box(p.encode().unwrap());
        }
        Native::Mqttrs(frame) => {
            let packet = mqttrs::decode_slice(frame).unwrap().unwrap();
            let mut slice = [0u8; 2048];
            std::hint::black_box(mqttrs::encode_slice(&packet, &mut slice).unwrap());
        }
        Native::Mqtt5(p) => {
            mqtt5_protocol::packet::MqttPacket::encode(p, out).unwrap();
        }
    }
}

fn rmqtt_seen(p: &rmqtt_codec::types::Publish) -> Seen<'_> {
    (
        &p.topic,
        &p.payload,
        p.packet_id.map(core::num::NonZeroU16::get),
    )
}

fn proto_pid(qos_pid: mqtt_proto::QosPid) -> Option<u16> {
    match qos_pid {
        mqtt_proto::QosPid::Level0 => None,
        mqtt_proto::QosPid::Level1(pid) | mqtt_proto::QosPid::Level2(pid) => Some(pid.value()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before anything is timed: every crate decodes every workload's bytes
    /// into the same topic, payload and packet identifier as `mqttkit-codec`.
    #[test]
    fn every_crate_decodes_the_same_packets() {
        for workload in workloads() {
            let mut expected = Vec::new();
            let mut buf = stream(&workload.frame, 3);
            let n = decode_all(
                Crate::MqttCodec,
                workload.version,
                &mut buf,
                workload.frame.len(),
                |(t, p, id)| expected.push((t.to_owned(), p.to_vec(), id)),
            );
            assert_eq!(n, Ok(3));
            for krate in Crate::ALL
                .into_iter()
                .filter(|k| k.supports(workload.version))
            {
                let mut got = Vec::new();
                let mut buf = stream(&workload.frame, 3);
                let n = decode_all(
                    krate,
                    workload.version,
                    &mut buf,
                    workload.frame.len(),
                    |(t, p, id)| got.push((t.to_owned(), p.to_vec(), id)),
                );
                assert_eq!(n, Ok(3), "{} on {}", krate.name(), workload.name);
                assert_eq!(got, expected, "{} on {}", krate.name(), workload.name);
                assert!(buf.is_empty(), "{} left bytes", krate.name());
            }
        }
    }
}
