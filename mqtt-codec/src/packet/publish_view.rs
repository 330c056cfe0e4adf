//! A PUBLISH read in place, for routing without taking ownership.

use core::num::NonZeroU16;

use mqttkit_topic::TopicNameRef;

use super::{run_on, topic_error_to_string_error};
use crate::coding::{be_u16, length_prefixed};
use crate::error::DecodeError;
use crate::header::{HeaderStatus, PacketType, read_fixed_header};
use crate::packet::PublishQoS;
use crate::property::{
    PropertyId, PropertyValue, PublishProperties, RawValue, check_properties, for_each_in_block,
};
use crate::types::{PacketId, QoS};
use crate::version::ProtocolVersion;

/// A PUBLISH read in place from the bytes of its frame: the topic, the
/// payload and the properties borrow those bytes, so reading one allocates
/// nothing and touches no reference count. It is the routing fast path, in
/// the manner of `httparse`: look at the topic, match it, and decode an owned
/// [`crate::Publish`] only for the messages that must be kept.
///
/// Every rule that [`crate::Packet::decode`] checks on a PUBLISH is checked
/// here too, with the same [`DecodeError`]s.
///
/// ```
/// use mqttkit_codec::{ProtocolVersion, PublishView};
///
/// // PUBLISH QoS 1, topic "a/b", packet id 7, payload "hi" (3.1.1).
/// let frame = [0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x07, b'h', b'i'];
/// let view = PublishView::parse(&frame, ProtocolVersion::V3_1_1)?;
/// assert_eq!(view.topic(), "a/b");
/// assert_eq!(view.payload(), b"hi");
/// assert_eq!(view.packet_id().map(|id| id.get()), Some(7));
/// # Ok::<(), mqttkit_codec::DecodeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishView<'a> {
    qos: PublishQoS,
    retain: bool,
    topic: &'a str,
    topic_alias: Option<NonZeroU16>,
    properties: &'a [u8],
    payload: &'a [u8],
}

impl<'a> PublishView<'a> {
    /// Reads the PUBLISH that is exactly `frame`, fixed header included.
    ///
    /// # Errors
    /// The [`DecodeError`] naming the first rule the frame breaks; a frame
    /// that is not a PUBLISH is refused with
    /// [`DecodeError::UnexpectedPacketType`].
    pub fn parse(frame: &'a [u8], version: ProtocolVersion) -> Result<Self, DecodeError> {
        let header = match read_fixed_header(frame, version)? {
            HeaderStatus::Complete(header) => header,
            HeaderStatus::Incomplete => {
                return Err(DecodeError::UnexpectedEnd(PacketType::Publish));
            }
        };
        if header.packet_type != PacketType::Publish {
            return Err(DecodeError::UnexpectedPacketType(header.packet_type));
        }
        let body = frame
            .get(header.header_len..)
            .ok_or(DecodeError::UnexpectedEnd(PacketType::Publish))?;
        match body.len().cmp(&(header.remaining_length as usize)) {
            core::cmp::Ordering::Less => Err(DecodeError::UnexpectedEnd(PacketType::Publish)),
            core::cmp::Ordering::Greater => Err(DecodeError::TrailingBytes(PacketType::Publish)),
            core::cmp::Ordering::Equal => Self::parse_body(header.flags, body, version),
        }
    }

    /// Reads the body of a PUBLISH (everything after the fixed header) whose
    /// fixed header carried `flags`.
    ///
    /// # Errors
    /// The [`DecodeError`] naming the first rule the body breaks.
    pub fn parse_body(
        flags: u8,
        body: &'a [u8],
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        const TYPE: PacketType = PacketType::Publish;
        let retain = flags & 0b0001 != 0;
        let dup = flags & 0b1000 != 0;
        // v5 [MQTT-3.3.1-4], v3.1.1 [MQTT-3.3.1-4]: QoS 3 is malformed.
        let qos = QoS::from_bits((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?;
        // v5 [MQTT-3.3.1-2], v3.1.1 [MQTT-3.3.1-2].
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupOnQoS0);
        }
        let mut input = body;
        // v5 [MQTT-3.3.2-1], [MQTT-3.3.2-2]: a UTF-8 topic name without wildcards.
        let topic = run_on(TYPE, &mut input, length_prefixed)?;
        let topic = if topic.is_empty() {
            ""
        } else {
            TopicNameRef::from_slice(topic)
                .map_err(|e| topic_error_to_string_error(e).unwrap_or(DecodeError::TopicName(e)))?
                .as_str()
        };
        let qos = match qos {
            QoS::AtMostOnce => PublishQoS::AtMostOnce,
            qos => {
                let id = run_on(TYPE, &mut input, be_u16)?;
                PublishQoS::new(qos, PacketId::new(id).ok_or(DecodeError::ZeroPacketId)?)
            }
        };
        let qos = if dup { qos.redelivery() } else { qos };
        let mut topic_alias = None;
        let properties = if version.is_v5() {
            run_on(TYPE, &mut input, |i| {
                check_properties::<PublishProperties>(i, |id, raw| {
                    if let (PropertyId::TopicAlias, RawValue::Two(alias)) = (id, raw) {
                        topic_alias = NonZeroU16::new(alias);
                    }
                })
            })?
        } else {
            &[]
        };
        // v5 §3.3.2.3.4: an empty topic stands only with a Topic Alias;
        // 3.1.1 has no aliases ([MQTT-4.7.3-1]).
        if topic.is_empty() && topic_alias.is_none() {
            return Err(DecodeError::EmptyTopicWithoutAlias);
        }
        Ok(Self {
            qos,
            retain,
            topic,
            topic_alias,
            properties,
            payload: input,
        })
    }

    /// QoS, packet identifier and DUP.
    pub fn qos(&self) -> PublishQoS {
        self.qos
    }

    /// The packet identifier (QoS 1 and 2).
    pub fn packet_id(&self) -> Option<PacketId> {
        self.qos.packet_id()
    }

    /// The RETAIN flag.
    pub fn retain(&self) -> bool {
        self.retain
    }

    /// The topic name; empty only in 5.0 when [`PublishView::topic_alias`]
    /// stands for it.
    pub fn topic(&self) -> &'a str {
        self.topic
    }

    /// The Topic Alias property (5.0).
    pub fn topic_alias(&self) -> Option<NonZeroU16> {
        self.topic_alias
    }

    /// The application message.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Calls `f` with every property, in wire order (5.0; none before).
    pub fn for_each_property(&self, f: impl FnMut(PropertyId, PropertyValue<'a>)) {
        for_each_in_block(self.properties, f);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::packet::Packet;
    use crate::types::MqttString;
    use alloc::vec::Vec;
    use bytes::Bytes;

    fn encoded(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
        let mut out = Vec::new();
        packet.encode(version, &mut out).unwrap();
        out
    }

    /// The view reads what the owned decoder reads, properties included.
    #[test]
    fn view_agrees_with_the_owned_decode() {
        let topic = mqttkit_topic::TopicName::from_static("plant/7/temp").unwrap();
        let mut publish = crate::Publish::new(topic, Bytes::from_static(b"21.5"))
            .with_qos(PublishQoS::new(QoS::ExactlyOnce, PacketId::new(9).unwrap()).redelivery())
            .with_retain(true);
        publish.properties.message_expiry_interval = Some(60);
        publish.properties.topic_alias = NonZeroU16::new(3);
        publish.properties.push_user_property(
            MqttString::try_from("k").unwrap(),
            MqttString::try_from("v").unwrap(),
        );
        let packet = Packet::Publish(publish.clone());
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            let frame = encoded(&packet, version);
            let view = PublishView::parse(&frame, version).unwrap();
            let Ok(Packet::Publish(owned)) = Packet::decode(&frame, version) else {
                panic!("not a PUBLISH");
            };
            assert_eq!(view.topic(), owned.topic_str());
            assert_eq!(view.payload(), &owned.payload[..]);
            assert_eq!(view.qos(), owned.qos);
            assert_eq!(view.retain(), owned.retain);
            assert_eq!(view.topic_alias(), owned.properties.topic_alias);
            let mut from_view = Vec::new();
            view.for_each_property(|id, value| from_view.push(alloc::format!("{id:?}={value:?}")));
            let mut from_owned = Vec::new();
            owned
                .properties
                .for_each_property(|id, value| from_owned.push(alloc::format!("{id:?}={value:?}")));
            assert_eq!(from_view, from_owned, "{version:?}");
        }
    }

    /// A frame that is not a PUBLISH, or that is cut short or too long, is refused.
    #[test]
    fn only_a_whole_publish_frame_is_read() {
        let v = ProtocolVersion::V3_1_1;
        assert_eq!(
            PublishView::parse(&[0x40, 0x02, 0x00, 0x01], v),
            Err(DecodeError::UnexpectedPacketType(PacketType::PubAck))
        );
        let frame = [0x30, 0x05, 0x00, 0x01, b'a', b'x', b'y'];
        assert!(PublishView::parse(&frame, v).is_ok());
        assert_eq!(
            PublishView::parse(&frame[..6], v),
            Err(DecodeError::UnexpectedEnd(PacketType::Publish))
        );
        let mut long = frame.to_vec();
        long.push(0);
        assert_eq!(
            PublishView::parse(&long, v),
            Err(DecodeError::TrailingBytes(PacketType::Publish))
        );
    }
}
