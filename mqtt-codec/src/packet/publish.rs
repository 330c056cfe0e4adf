//! PUBLISH (v5 §3.3, v3.1.1 §3.3).

use bytes::{Buf, BufMut, Bytes};
use mqtt_topic::TopicName;

use super::{Body, PacketDecoder, decode_topic_name};
use crate::coding::sum;
use crate::error::{DecodeError, EncodeError};
use crate::header::PacketType;
use crate::property::{EncodedProperties, PublishProperties};
use crate::types::{PacketId, QoS};
use crate::version::ProtocolVersion;

/// The QoS of a PUBLISH together with what it implies: QoS 0 carries no
/// packet identifier ([MQTT-2.2.1-2]) and never DUP ([MQTT-3.3.1-2]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PublishQoS {
    /// QoS 0.
    #[default]
    AtMostOnce,
    /// QoS 1, acknowledged by PUBACK.
    AtLeastOnce {
        /// The packet identifier.
        packet_id: PacketId,
        /// Set on a re-delivery ([MQTT-3.3.1-1]).
        dup: bool,
    },
    /// QoS 2, acknowledged by PUBREC / PUBREL / PUBCOMP.
    ExactlyOnce {
        /// The packet identifier.
        packet_id: PacketId,
        /// Set on a re-delivery ([MQTT-3.3.1-1]).
        dup: bool,
    },
}

impl PublishQoS {
    /// The QoS level.
    pub const fn qos(self) -> QoS {
        match self {
            Self::AtMostOnce => QoS::AtMostOnce,
            Self::AtLeastOnce { .. } => QoS::AtLeastOnce,
            Self::ExactlyOnce { .. } => QoS::ExactlyOnce,
        }
    }

    /// The packet identifier, for QoS 1 and 2.
    pub const fn packet_id(self) -> Option<PacketId> {
        match self {
            Self::AtMostOnce => None,
            Self::AtLeastOnce { packet_id, .. } | Self::ExactlyOnce { packet_id, .. } => {
                Some(packet_id)
            }
        }
    }

    /// The DUP flag.
    pub const fn dup(self) -> bool {
        match self {
            Self::AtMostOnce => false,
            Self::AtLeastOnce { dup, .. } | Self::ExactlyOnce { dup, .. } => dup,
        }
    }

    /// `qos` with `packet_id` (ignored for QoS 0) and DUP cleared.
    pub const fn new(qos: QoS, packet_id: PacketId) -> Self {
        match qos {
            QoS::AtMostOnce => Self::AtMostOnce,
            QoS::AtLeastOnce => Self::AtLeastOnce {
                packet_id,
                dup: false,
            },
            QoS::ExactlyOnce => Self::ExactlyOnce {
                packet_id,
                dup: false,
            },
        }
    }

    /// The same delivery with DUP set, as for a re-delivery; QoS 0 stays as it is.
    pub const fn redelivery(self) -> Self {
        match self {
            Self::AtMostOnce => Self::AtMostOnce,
            Self::AtLeastOnce { packet_id, .. } => Self::AtLeastOnce {
                packet_id,
                dup: true,
            },
            Self::ExactlyOnce { packet_id, .. } => Self::ExactlyOnce {
                packet_id,
                dup: true,
            },
        }
    }
}

/// A PUBLISH packet. The topic and payload are zero-copy slices of the
/// received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// QoS, packet identifier and DUP.
    pub qos: PublishQoS,
    /// The RETAIN flag.
    pub retain: bool,
    /// The topic name; `None` only in 5.0 when `properties.topic_alias`
    /// stands for it (v5 §3.3.2.3.4).
    pub topic: Option<TopicName>,
    /// The application message.
    pub payload: Bytes,
    /// MQTT 5.0 properties; left out when encoding 3.1.1.
    pub properties: PublishProperties,
}

impl Publish {
    /// A QoS 0 PUBLISH of `payload` to `topic`.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>) -> Self {
        Self {
            qos: PublishQoS::AtMostOnce,
            retain: false,
            topic: Some(topic),
            payload: payload.into(),
            properties: PublishProperties::default(),
        }
    }

    /// The same message with `qos`.
    pub fn with_qos(mut self, qos: PublishQoS) -> Self {
        self.qos = qos;
        self
    }

    /// The same message with RETAIN set to `retain`.
    pub fn with_retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// The same message with `properties`.
    pub fn with_properties(mut self, properties: PublishProperties) -> Self {
        self.properties = properties;
        self
    }

    /// The topic as a string, empty when only a Topic Alias is sent.
    pub fn topic_str(&self) -> &str {
        self.topic.as_ref().map_or("", TopicName::as_str)
    }

    /// Checks the packet for `version` and works out its sizes, once per
    /// encode: the property block is measured here and only written later.
    fn layout(&self, version: ProtocolVersion) -> Result<Layout<'_>, EncodeError> {
        let aliased = version.is_v5() && self.properties.topic_alias.is_some();
        if self.topic.is_none() && !aliased {
            return Err(EncodeError::InvalidPacket(
                "PUBLISH needs a topic name or, in 5.0, a Topic Alias",
            ));
        }
        let properties = if version.is_v5() {
            Some(EncodedProperties::new(&self.properties)?)
        } else {
            None
        };
        let variable_header = sum([
            2,
            self.topic.as_ref().map_or(0, TopicName::len),
            if self.qos.packet_id().is_some() { 2 } else { 0 },
            properties.as_ref().map_or(0, EncodedProperties::len),
        ]);
        Ok(Layout {
            properties,
            remaining: sum([variable_header, self.payload.len()]),
        })
    }

    /// The fixed header, then the variable header.
    fn put_headers(&self, layout: &Layout<'_>, buf: &mut impl BufMut) {
        super::put_fixed_header(buf, PacketType::Publish, self.flags(), layout.remaining);
        self.put_variable_header(layout, buf);
    }

    fn put_variable_header(&self, layout: &Layout<'_>, buf: &mut impl BufMut) {
        crate::coding::put_length_prefixed(
            buf,
            self.topic.as_ref().map_or(&[][..], TopicName::as_bytes),
        );
        if let Some(id) = self.qos.packet_id() {
            buf.put_u16(id.get());
        }
        if let Some(properties) = &layout.properties {
            properties.put(buf);
        }
    }

    /// Encodes the packet for `version` into `buf`, as [`Packet::encode`]
    /// does, and returns the number of bytes written; nothing is written on
    /// error.
    ///
    /// [`Packet::encode`]: crate::Packet::encode
    pub fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<usize, EncodeError> {
        let layout = self.layout(version)?;
        let total = super::frame_header_len(layout.remaining)?;
        super::ensure_room(buf, total)?;
        let before = buf.remaining_mut();
        self.put_headers(&layout, buf);
        buf.put_slice(&self.payload);
        debug_assert_eq!(before.saturating_sub(buf.remaining_mut()), total);
        Ok(total)
    }

    /// Writes the fixed and variable headers only, for a vectored write in
    /// which [`Publish::payload`] follows untouched. Returns the bytes
    /// written; nothing is written on error.
    pub fn encode_header(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<usize, EncodeError> {
        let layout = self.layout(version)?;
        let frame_len = super::frame_header_len(layout.remaining)?;
        let len = frame_len.saturating_sub(self.payload.len());
        super::ensure_room(buf, len)?;
        self.put_headers(&layout, buf);
        Ok(len)
    }
}

/// The sizes of one PUBLISH encoding.
struct Layout<'a> {
    /// The measured property block; `None` before 5.0.
    properties: Option<EncodedProperties<'a, PublishProperties>>,
    /// The remaining length of the fixed header.
    remaining: usize,
}

impl Publish {
    /// Decodes the body of a PUBLISH whose fixed header carried `flags`.
    /// The payload is `frame` itself, advanced past the variable header.
    #[inline]
    pub(crate) fn decode_owned(
        flags: u8,
        mut frame: Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let retain = flags & 0b0001 != 0;
        let dup = flags & 0b1000 != 0;
        // v5 [MQTT-3.3.1-4], v3.1.1 [MQTT-3.3.1-4]: QoS 3 is malformed.
        let qos = QoS::from_bits((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?;
        // v5 [MQTT-3.3.1-2], v3.1.1 [MQTT-3.3.1-2].
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupOnQoS0);
        }
        let mut p = PacketDecoder::new(PacketType::Publish, &frame);
        // v5 [MQTT-3.3.2-1], [MQTT-3.3.2-2]: a UTF-8 topic name without wildcards.
        let topic = p.run(crate::coding::length_prefixed)?;
        let topic = if topic.is_empty() {
            None
        } else {
            Some(decode_topic_name(&frame, topic)?)
        };
        let qos = match qos {
            QoS::AtMostOnce => PublishQoS::AtMostOnce,
            qos => {
                let packet_id = p.packet_id()?;
                PublishQoS::new(qos, packet_id)
            }
        };
        let qos = if dup { qos.redelivery() } else { qos };
        let properties: PublishProperties = p.properties(version)?;
        // v5 §3.3.2.3.4: an empty topic stands only with a Topic Alias;
        // 3.1.1 has no aliases ([MQTT-4.7.3-1]).
        if topic.is_none() && properties.topic_alias.is_none() {
            return Err(DecodeError::EmptyTopicWithoutAlias);
        }
        let header_len = p.consumed();
        frame.advance(header_len);
        let payload = frame;
        Ok(Self {
            qos,
            retain,
            topic,
            payload,
            properties,
        })
    }
}

impl Body for Publish {
    const TYPE: PacketType = PacketType::Publish;

    fn flags(&self) -> u8 {
        (u8::from(self.qos.dup()) << 3) | (self.qos.qos().bits() << 1) | u8::from(self.retain)
    }

    fn decode(flags: u8, frame: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        Self::decode_owned(flags, frame.clone(), version)
    }

    fn remaining_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        Ok(self.layout(version)?.remaining)
    }

    fn put_body(&self, version: ProtocolVersion, buf: &mut impl BufMut) {
        // `remaining_len` succeeded before, so the layout does too.
        if let Ok(layout) = self.layout(version) {
            self.put_variable_header(&layout, buf);
            buf.put_slice(&self.payload);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::packet::Packet;
    use crate::packet::tests::{decode_hex, roundtrip};

    fn id(v: u16) -> PacketId {
        PacketId::new(v).unwrap()
    }

    /// v3.1.1 §3.3 layout: QoS 1, topic "a/b", id 10, payload "hi".
    #[test]
    fn v3_1_1_publish_qos1_bytes() {
        let bytes = [
            0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, b'h', b'i',
        ];
        let packet = Packet::decode(&bytes, ProtocolVersion::V3_1_1).unwrap();
        let Packet::Publish(p) = &packet else {
            panic!()
        };
        assert_eq!(p.topic_str(), "a/b");
        assert_eq!(p.qos, PublishQoS::new(QoS::AtLeastOnce, id(10)));
        assert_eq!(&p.payload[..], b"hi");
        roundtrip(&packet, ProtocolVersion::V3_1_1, &bytes);
    }

    /// v5 §3.3 layout with an empty property block.
    #[test]
    fn v5_publish_qos0_bytes() {
        let bytes = [0x31, 0x07, 0x00, 0x01, b't', 0x00, b'x', b'y', b'z'];
        let packet = Packet::decode(&bytes, ProtocolVersion::V5).unwrap();
        let Packet::Publish(p) = &packet else {
            panic!()
        };
        assert!(p.retain);
        assert_eq!(&p.payload[..], b"xyz");
        roundtrip(&packet, ProtocolVersion::V5, &bytes);
    }

    /// v5 [MQTT-3.3.2-2]: a wildcard in the topic name is malformed.
    #[test]
    fn v5_mqtt_3_3_2_2_wildcard_topic_is_rejected() {
        for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
            let v5 = version.is_v5();
            let mut bytes = alloc::vec![0x30, 0, 0x00, 0x03, b'a', b'/', b'#'];
            if v5 {
                bytes.push(0);
            }
            bytes[1] = (bytes.len() - 2) as u8;
            assert!(matches!(
                Packet::decode(&bytes, version),
                Err(DecodeError::TopicName(_))
            ));
        }
    }

    /// v5 [MQTT-3.3.1-4], v3.1.1 [MQTT-3.3.1-4].
    #[test]
    fn v5_mqtt_3_3_1_4_qos_3_is_rejected() {
        let bytes = [0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01];
        assert_eq!(
            Packet::decode(&bytes, ProtocolVersion::V3_1_1),
            Err(DecodeError::InvalidQoS)
        );
    }

    /// v5 [MQTT-3.3.1-2], v3.1.1 [MQTT-3.3.1-2].
    #[test]
    fn v5_mqtt_3_3_1_2_dup_on_qos0_is_rejected() {
        let bytes = [0x38, 0x03, 0x00, 0x01, b't'];
        assert_eq!(
            Packet::decode(&bytes, ProtocolVersion::V3_1_1),
            Err(DecodeError::DupOnQoS0)
        );
    }

    /// v5 [MQTT-2.2.1-3], v3.1.1 [MQTT-2.3.1-1].
    #[test]
    fn v5_mqtt_2_2_1_3_packet_id_zero_is_rejected() {
        let bytes = [0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00];
        assert_eq!(
            Packet::decode(&bytes, ProtocolVersion::V3_1_1),
            Err(DecodeError::ZeroPacketId)
        );
    }

    /// v5 §3.3.2.3.4: an empty topic is valid with a Topic Alias.
    #[test]
    fn v5_empty_topic_with_alias_decodes() {
        let bytes = decode_hex("30 07 0000 03 2300 07 ff");
        let packet = Packet::decode(&bytes, ProtocolVersion::V5).unwrap();
        let Packet::Publish(p) = &packet else {
            panic!()
        };
        assert_eq!(p.topic, None);
        assert_eq!(p.properties.topic_alias.map(|a| a.get()), Some(7));
        roundtrip(&packet, ProtocolVersion::V5, &bytes);
        // ... and malformed without one, in either version.
        let bytes = decode_hex("30 03 0000 00");
        assert_eq!(
            Packet::decode(&bytes, ProtocolVersion::V5),
            Err(DecodeError::EmptyTopicWithoutAlias)
        );
        let bytes = decode_hex("30 02 0000");
        assert_eq!(
            Packet::decode(&bytes, ProtocolVersion::V3_1_1),
            Err(DecodeError::EmptyTopicWithoutAlias)
        );
    }

    /// v5 [MQTT-3.3.2-8]: Topic Alias 0 is refused with 0x94.
    #[test]
    fn v5_mqtt_3_3_2_8_topic_alias_zero_is_rejected() {
        let bytes = decode_hex("30 07 0001 74 03 230000");
        let err = Packet::decode(&bytes, ProtocolVersion::V5).unwrap_err();
        assert_eq!(err.reason_code(), crate::ReasonCode::TopicAliasInvalid);
    }

    #[test]
    fn header_encoding_leaves_the_payload_for_a_vectored_write() {
        let publish = Publish::new(TopicName::from_static("a/b").unwrap(), &b"payload"[..])
            .with_qos(PublishQoS::new(QoS::AtLeastOnce, id(3)));
        let mut header = alloc::vec::Vec::new();
        let n = publish
            .encode_header(ProtocolVersion::V5, &mut header)
            .unwrap();
        assert_eq!(n, header.len());
        let mut whole = alloc::vec::Vec::new();
        Packet::Publish(publish.clone())
            .encode(ProtocolVersion::V5, &mut whole)
            .unwrap();
        header.extend_from_slice(&publish.payload);
        assert_eq!(header, whole);
    }
}
