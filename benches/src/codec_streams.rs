//! Workloads beyond a lone PUBLISH: small packets, a CONNECT, a SUBSCRIBE, and
//! a stream of 1,000 mixed packets fed to each crate in chunks, as a socket
//! delivers them. One adapter per peer decodes any packet of a stream.
//!
//! The crates without a streaming API (mqtt-proto and mqttrs read one packet
//! from a slice, mqtt5-protocol consumes its fixed header even when the body
//! is missing) are told where a frame ends by `mqttkit-codec`'s fixed-header
//! reader, which is what their users must write; that costs them a few
//! nanoseconds per packet and is said in the report.

use core::fmt::Debug;

use bytes::{Bytes, BytesMut};
use mqttkit_codec::mqttkit_topic::{TopicFilter, TopicName};
use mqttkit_codec::{
    Connect, Decoded, Decoder, HeaderStatus, LastWill, MqttString, Packet, PacketId,
    ProtocolVersion, PubAck, Publish, PublishQoS, QoS, Subscribe, SubscriptionOptions,
    read_fixed_header,
};

use crate::codec_peers::Crate;

/// A named byte stream of whole packets, and the version it is read in.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Name used in the report.
    pub name: String,
    /// Protocol version.
    pub version: ProtocolVersion,
    /// The packets, encoded by `mqttkit-codec`, back to back.
    pub bytes: Vec<u8>,
    /// How many packets `bytes` holds.
    pub packets: usize,
    /// Bytes handed to the decoder at a time (`None`: all at once).
    pub chunk: Option<usize>,
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn string(s: &str) -> MqttString {
    MqttString::try_from(s).unwrap()
}

/// A v5 CONNECT with a will, credentials and properties (or their 3.1.1
/// subset).
pub fn connect(version: ProtocolVersion) -> Packet {
    let mut connect = Connect::new(version, string("plant-7-line-3-gateway"));
    connect.keep_alive = 30;
    connect.login.username = Some(string("gateway"));
    connect.login.password = Some(Bytes::from_static(b"secret-password"));
    let mut will = LastWill::new(
        TopicName::from_static("plant/7/line/3/gateway/status").unwrap(),
        Bytes::from_static(b"offline"),
    );
    will.qos = QoS::AtLeastOnce;
    will.retain = true;
    if version.is_v5() {
        will.properties.will_delay_interval = Some(5);
        will.properties.content_type = Some(string("text/plain"));
        connect.properties.session_expiry_interval = Some(3600);
        connect.properties.receive_maximum = core::num::NonZeroU16::new(100);
        connect.properties.maximum_packet_size = core::num::NonZeroU32::new(1 << 20);
        connect.properties.topic_alias_maximum = Some(16);
        connect
            .properties
            .user_properties
            .push(string("site"), string("plant-7"));
    }
    connect.will = Some(will);
    Packet::Connect(Box::new(connect))
}

/// A SUBSCRIBE with five filters.
pub fn subscribe() -> Packet {
    let filters = [
        "plant/7/line/+/temperature",
        "plant/7/line/3/#",
        "alerts/#",
        "commands/gateway-3",
        "$SYS/broker/uptime",
    ];
    let mut subscribe = Subscribe::new(
        pid(11),
        TopicFilter::from_static(filters[0]).unwrap(),
        SubscriptionOptions::new(QoS::AtLeastOnce),
    );
    for filter in &filters[1..] {
        subscribe.filters.push((
            TopicFilter::from_static(filter).unwrap(),
            SubscriptionOptions::new(QoS::ExactlyOnce),
        ));
    }
    Packet::Subscribe(subscribe)
}

/// A v5 PUBACK with a reason code, a Reason String and a User Property.
pub fn puback_with_reason() -> Packet {
    let mut ack = PubAck::new(pid(9));
    ack.reason_code = mqttkit_codec::PubAckReasonCode::NoMatchingSubscribers;
    ack.properties.reason_string = Some(string("nobody listens"));
    ack.properties
        .user_properties
        .push(string("trace"), string("a1b2"));
    Packet::PubAck(ack)
}

fn publish(qos: QoS, len: usize, id: u16) -> Packet {
    let topic = TopicName::from_static("plant/7/line/3/temperature").unwrap();
    let qos = match qos {
        QoS::AtMostOnce => PublishQoS::AtMostOnce,
        qos => PublishQoS::new(qos, pid(id)),
    };
    Packet::Publish(Publish::new(topic, vec![0x5Au8; len]).with_qos(qos))
}

/// The packets of the mixed stream, as a client sends them to a server after
/// its CONNECT: publishes of every QoS and several sizes, acks, a subscribe,
/// an unsubscribe and pings.
fn mixed(version: ProtocolVersion, count: usize) -> Vec<Packet> {
    let mut packets = vec![connect(version)];
    let mut id: u16 = 1;
    while packets.len() < count {
        id = id % 60_000 + 1;
        let next = match packets.len() % 10 {
            0 => publish(QoS::AtMostOnce, 16, id),
            1 | 5 => publish(QoS::AtLeastOnce, 64, id),
            2 => Packet::PubAck(PubAck::new(pid(id))),
            3 => publish(QoS::ExactlyOnce, 256, id),
            4 => Packet::PubRec(mqttkit_codec::PubRec::new(pid(id))),
            6 => Packet::PubRel(mqttkit_codec::PubRel::new(pid(id))),
            7 => Packet::PubComp(mqttkit_codec::PubComp::new(pid(id))),
            8 => subscribe(),
            _ => Packet::PingReq,
        };
        packets.push(next);
    }
    packets
}

fn encode_all(version: ProtocolVersion, packets: &[Packet]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for packet in packets {
        packet.encode(version, &mut bytes).unwrap();
    }
    bytes
}

/// Every stream workload: single small packets (repeated 1,000 times) and
/// the mixed stream whole and in chunks of 1, 7 and 1,460 bytes.
pub fn streams() -> Vec<Stream> {
    let mut out = Vec::new();
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let v = if version.is_v5() { "v5" } else { "v3.1.1" };
        let mut singles = vec![
            ("PUBACK", Packet::PubAck(PubAck::new(pid(9)))),
            ("PINGREQ", Packet::PingReq),
            ("CONNECT with will and credentials", connect(version)),
            ("SUBSCRIBE 5 filters", subscribe()),
        ];
        if version.is_v5() {
            singles.push(("PUBACK with reason and properties", puback_with_reason()));
        }
        for (name, packet) in singles {
            let packets = vec![packet; 1_000];
            out.push(Stream {
                name: format!("{v} {name}"),
                version,
                bytes: encode_all(version, &packets),
                packets: packets.len(),
                chunk: None,
            });
        }
        let packets = mixed(version, 1_000);
        let bytes = encode_all(version, &packets);
        for chunk in [None, Some(1), Some(7), Some(1_460)] {
            let how = chunk.map_or(String::from("whole"), |c| format!("in {c} B chunks"));
            out.push(Stream {
                name: format!("{v} mixed 1,000 packets {how}"),
                version,
                bytes: bytes.clone(),
                packets: packets.len(),
                chunk,
            });
        }
    }
    out
}

/// Whether `crate` can read every packet of `stream`: mqttrs is 3.1.1 only
/// and `mqttkit-codec`'s `PublishView` reads PUBLISH only.
pub fn supports(krate: Crate, stream: &Stream) -> bool {
    // The view reads PUBLISH only; the streams hold every kind of packet.
    krate.supports(stream.version) && krate != Crate::MqttCodecView
}

/// The length of the whole frame at the start of `buf`, if it is all there.
fn whole_frame(buf: &[u8], version: ProtocolVersion) -> Result<Option<usize>, String> {
    match read_fixed_header(buf, version).map_err(|e| e.to_string())? {
        HeaderStatus::Complete(header) if buf.len() >= header.frame_len() => {
            Ok(Some(header.frame_len()))
        }
        _ => Ok(None),
    }
}

/// Feeds `stream` to `krate` (whole or chunk by chunk) and hands every
/// decoded packet, in that crate's own type, to `each`. Returns how many
/// packets came out.
pub fn decode_stream(
    krate: Crate,
    stream: &Stream,
    input: &mut BytesMut,
    mut each: impl FnMut(&dyn Debug),
) -> Result<usize, String> {
    let chunk = stream.chunk.unwrap_or(usize::MAX);
    let version = stream.version;
    let mut reader = Reader::new(krate, version);
    let mut buf = BytesMut::with_capacity(input.len().min(chunk).max(4096));
    let mut count = 0usize;
    while !input.is_empty() {
        let take = chunk.min(input.len());
        if stream.chunk.is_some() {
            buf.extend_from_slice(&input.split_to(take));
        } else {
            buf = input.split();
        }
        count += reader.drain(&mut buf, &mut each)?;
    }
    if !buf.is_empty() {
        return Err(format!("{} bytes left undecoded", buf.len()));
    }
    Ok(count)
}

enum Reader {
    Ours(Decoder),
    RumqttcV4,
    RumqttcV5,
    RmqttV3(rmqtt_codec::v3::Codec),
    RmqttV5(rmqtt_codec::v5::Codec),
    Sliced(Crate, ProtocolVersion),
}

impl Reader {
    fn new(krate: Crate, version: ProtocolVersion) -> Self {
        let v5 = version.is_v5();
        match krate {
            Crate::MqttCodec => Self::Ours(Decoder::new(version)),
            Crate::Rumqttc if v5 => Self::RumqttcV5,
            Crate::Rumqttc => Self::RumqttcV4,
            Crate::RmqttCodec if v5 => Self::RmqttV5(rmqtt_codec::v5::Codec::new(0, 0)),
            Crate::RmqttCodec => Self::RmqttV3(rmqtt_codec::v3::Codec::new(0)),
            other => Self::Sliced(other, version),
        }
    }

    /// Decodes every whole packet in `buf`, leaving a partial one.
    fn drain(
        &mut self,
        buf: &mut BytesMut,
        each: &mut dyn FnMut(&dyn Debug),
    ) -> Result<usize, String> {
        use tokio_util::codec::Decoder as _;
        let mut count = 0;
        match self {
            Self::Ours(decoder) => {
                while let Decoded::Packet(packet) =
                    decoder.decode(buf).map_err(|e| e.to_string())?
                {
                    each(&packet);
                    count += 1;
                }
            }
            Self::RumqttcV4 => loop {
                match rumqttc::mqttbytes::v4::Packet::read(buf, usize::MAX) {
                    Ok(packet) => each(&packet),
                    Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => break,
                    Err(e) => return Err(format!("{e:?}")),
                }
                count += 1;
            },
            Self::RumqttcV5 => loop {
                match rumqttc::v5::mqttbytes::v5::Packet::read(buf, None) {
                    Ok(packet) => each(&packet),
                    Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => break,
                    Err(e) => return Err(format!("{e:?}")),
                }
                count += 1;
            },
            Self::RmqttV3(codec) => {
                while let Some((packet, _)) = codec.decode(buf).map_err(|e| format!("{e:?}"))? {
                    each(&packet);
                    count += 1;
                }
            }
            Self::RmqttV5(codec) => {
                while let Some((packet, _)) = codec.decode(buf).map_err(|e| format!("{e:?}"))? {
                    each(&packet);
                    count += 1;
                }
            }
            Self::Sliced(krate, version) => {
                while let Some(len) = whole_frame(buf, *version)? {
                    decode_frame(*krate, *version, buf.split_to(len), each)?;
                    count += 1;
                }
            }
        }
        Ok(count)
    }
}

/// Decodes one whole `frame` with a crate that has no streaming decoder
/// (mqtt-proto, mqttrs, mqtt5-protocol); "incomplete" if it wants more.
pub fn decode_frame(
    krate: Crate,
    version: ProtocolVersion,
    frame: BytesMut,
    each: &mut dyn FnMut(&dyn Debug),
) -> Result<(), String> {
    let v5 = version.is_v5();
    match krate {
        Crate::MqttProto if v5 => {
            let packet = mqtt_proto::v5::Packet::decode(&frame)
                .map_err(|e| format!("{e:?}"))?
                .ok_or("incomplete")?;
            each(&packet);
        }
        Crate::MqttProto => {
            let packet = mqtt_proto::v3::Packet::decode(&frame)
                .map_err(|e| format!("{e:?}"))?
                .ok_or("incomplete")?;
            each(&packet);
        }
        Crate::Mqttrs => {
            let packet = mqttrs::decode_slice(&frame)
                .map_err(|e| format!("{e:?}"))?
                .ok_or("incomplete")?;
            each(&packet);
        }
        _ => {
            use mqtt5_protocol::packet::{FixedHeader, Packet as P};
            let mut frame = frame;
            let header = FixedHeader::decode(&mut frame).map_err(|e| format!("{e:?}"))?;
            let level = if v5 { 5 } else { 4 };
            let packet =
                P::decode_from_body_with_version(header.packet_type, &header, &mut frame, level)
                    .map_err(|e| format!("{e:?}"))?;
            each(&packet);
        }
    }
    Ok(())
}

/// The packet kind a crate's `Debug` output names, in one vocabulary
/// (`PublishAck` in rmqtt is `PubAck` elsewhere).
pub fn kind(debug: &str) -> String {
    let name: String = debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    match name.as_str() {
        "publishack" => "puback",
        "publishreceived" => "pubrec",
        "publishrelease" => "pubrel",
        "publishcomplete" => "pubcomp",
        "connectack" => "connack",
        "subscribeack" => "suback",
        "unsubscribeack" => "unsuback",
        "pingrequest" => "pingreq",
        "pingresponse" => "pingresp",
        other => other,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before anything is timed: every crate reads every stream, whole and
    /// in chunks, into the same sequence of packet kinds as `mqttkit-codec`.
    #[test]
    fn every_crate_reads_every_stream_as_the_same_packets() {
        for stream in streams() {
            let mut expected = Vec::new();
            let mut input = BytesMut::from(&stream.bytes[..]);
            let n = decode_stream(Crate::MqttCodec, &stream, &mut input, |p| {
                expected.push(kind(&format!("{p:?}")));
            });
            assert_eq!(n, Ok(stream.packets), "{}", stream.name);
            let kinds: std::collections::BTreeSet<&str> =
                expected.iter().map(String::as_str).collect();
            assert!(!kinds.contains(""), "{}: {kinds:?}", stream.name);
            if stream.name.contains("mixed") {
                let all = [
                    "connect", "publish", "puback", "pubrec", "pubrel", "pubcomp",
                ];
                assert!(all.iter().all(|k| kinds.contains(k)), "{kinds:?}");
                assert!(kinds.contains("subscribe") && kinds.contains("pingreq"));
            }
            for krate in Crate::ALL.into_iter().filter(|k| supports(*k, &stream)) {
                let mut got = Vec::new();
                let mut input = BytesMut::from(&stream.bytes[..]);
                let n = decode_stream(krate, &stream, &mut input, |p| {
                    got.push(kind(&format!("{p:?}")));
                });
                assert_eq!(n, Ok(stream.packets), "{} on {}", krate.name(), stream.name);
                assert_eq!(got, expected, "{} on {}", krate.name(), stream.name);
            }
        }
    }
}
