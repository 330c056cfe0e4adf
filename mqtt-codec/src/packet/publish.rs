//! PUBLISH (v5 §3.3, v3.1.1 §3.3).

use bytes::{Buf, BufMut, Bytes};
use mqttkit_topic::TopicName;

use super::{Body, PacketDecoder, decode_topic_name};
use crate::coding::sum;
use crate::error::{DecodeError, EncodeError, InvalidPacket};
use crate::header::PacketType;
use crate::property::{EncodedProperties, PropertySet, PublishProperties, decode_properties_into};
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
    #[inline(always)]
    fn layout(&self, version: ProtocolVersion) -> Result<Layout<'_>, EncodeError> {
        let aliased = version.is_v5() && self.properties.topic_alias.is_some();
        if self.topic.is_none() && !aliased {
            return Err(EncodeError::InvalidPacket(
                InvalidPacket::PublishWithoutTopic,
            ));
        }
        let properties = if !version.is_v5() {
            None
        } else if self.properties.is_unset() {
            // Most messages carry no property: nothing to check or measure.
            // `EncodedProperties::new` checks this too, but deciding it here
            // spares every such v5 encode building and unpacking a `Result`.
            Some(EncodedProperties::unset(&self.properties))
        } else {
            Some(EncodedProperties::new(&self.properties)?)
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
    #[inline(always)]
    fn put_headers(&self, layout: &Layout<'_>, buf: &mut impl BufMut) {
        super::put_fixed_header(buf, PacketType::Publish, self.flags(), layout.remaining);
        self.put_variable_header(layout, buf);
    }

    #[inline(always)]
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
        self.encode_within(version, usize::MAX, buf)
    }

    /// [`Publish::encode`], refused with [`EncodeError::PacketTooLarge`]
    /// when the whole packet is longer than `max`: measured once, for both.
    pub(crate) fn encode_within(
        &self,
        version: ProtocolVersion,
        max: usize,
        buf: &mut impl BufMut,
    ) -> Result<usize, EncodeError> {
        let written = self.encode_head_within(version, max, self.payload.len(), buf)?;
        buf.put_slice(&self.payload);
        Ok(written.saturating_add(self.payload.len()))
    }

    /// Writes the fixed and variable headers only, for a vectored write in
    /// which [`Publish::payload`] follows untouched. Returns the bytes
    /// written; nothing is written on error.
    pub fn encode_header(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<usize, EncodeError> {
        self.encode_head_within(version, usize::MAX, 0, buf)
    }

    /// Checks the whole packet against `max`, makes room for the head and
    /// `then` more bytes, and writes the head: the part of the packet
    /// before the payload. Returns the head's length.
    #[inline(always)]
    pub(crate) fn encode_head_within(
        &self,
        version: ProtocolVersion,
        max: usize,
        then: usize,
        buf: &mut impl BufMut,
    ) -> Result<usize, EncodeError> {
        let layout = self.layout(version)?;
        let total = super::frame_header_len(layout.remaining)?;
        if total > max {
            return Err(EncodeError::PacketTooLarge { size: total, max });
        }
        let head = total.saturating_sub(self.payload.len());
        super::ensure_room(buf, head.saturating_add(then))?;
        let before = buf.remaining_mut();
        self.put_headers(&layout, buf);
        debug_assert_eq!(before.saturating_sub(buf.remaining_mut()), head);
        Ok(head)
    }
}

#[cfg(test)]
impl Publish {
    /// The remaining length of the encoding in `version`.
    pub(crate) fn encoded_body_len_for_test(&self, version: ProtocolVersion) -> usize {
        self.layout(version).map_or(0, |layout| layout.remaining)
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
    ///
    /// Every PUBLISH goes through [`Publish::read_fast`] first; what it
    /// does not accept is read again by [`Publish::decode_general`], which
    /// names the rule a malformed packet breaks.
    #[inline]
    pub(crate) fn decode_owned(
        flags: u8,
        frame: Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let mut publish = Self::around(frame);
        if publish.read_fast(flags, 0, version) {
            Ok(publish)
        } else {
            Self::decode_general(flags, publish.payload, version)
        }
    }

    /// A QoS 0 PUBLISH without topic or properties whose payload is the
    /// whole `frame`, for [`Publish::read_fast`] to fill in.
    #[inline(always)]
    pub(crate) fn around(frame: Bytes) -> Self {
        Self {
            qos: PublishQoS::AtMostOnce,
            retain: false,
            topic: None,
            payload: frame,
            properties: PublishProperties::default(),
        }
    }

    /// The hot path: reads the PUBLISH whose body starts at `start` in the
    /// payload of a packet made by [`Publish::around`], by hand with plain
    /// slice operations and by the same rules as
    /// [`Publish::decode_general`]; the property block goes through the
    /// same parser. It only ever accepts what `decode_general` accepts,
    /// with the same result (a property test checks this). On success the
    /// payload is advanced past the variable header; otherwise, malformed
    /// or not, it is left untouched for `decode_general` to read and
    /// explain, and the other fields are unspecified.
    ///
    /// Filling in a packet that is already in place, rather than returning
    /// one, spares moving the 120-byte packet out of a result, and taking
    /// the frame as the payload spares a reference count.
    // Always inlined so that the packet is filled in where the caller keeps it.
    #[inline(always)]
    pub(crate) fn read_fast(&mut self, flags: u8, start: usize, version: ProtocolVersion) -> bool {
        let Some((qos, topic_len, fixed_len)) =
            Self::fixed_fields(flags, self.payload.get(start..).unwrap_or_default())
        else {
            return false;
        };
        self.qos = qos;
        self.retain = flags & 0b0001 != 0;
        let mut header_len = start.saturating_add(fixed_len);
        if version.is_v5() {
            let frame = &self.payload;
            let rest = frame.get(header_len..).unwrap_or_default();
            if rest.first() == Some(&0) {
                // An empty property block, the common case, needs no parser.
                header_len = header_len.saturating_add(1);
            } else {
                match decode_properties_into(&mut self.properties, frame, rest) {
                    Ok((rest, ())) => header_len = frame.len().saturating_sub(rest.len()),
                    Err(_) => return false,
                }
            }
        }
        // v5 [MQTT-3.3.2-1], [MQTT-3.3.2-2]: a UTF-8 topic name without
        // wildcards; v5 §3.3.2.3.4: empty only with a Topic Alias.
        if topic_len > 0 {
            let from = start.saturating_add(2);
            let topic = self.payload.slice(from..from.saturating_add(topic_len));
            match TopicName::from_bytes(topic) {
                Ok(topic) => self.topic = Some(topic),
                Err(_) => return false,
            }
        } else if self.properties.topic_alias.is_none() {
            return false;
        }
        self.payload.advance(header_len);
        true
    }

    /// The fields before the properties: QoS with its packet identifier,
    /// the topic length, and the bytes they take with the topic. `None`
    /// when they break a rule or `body` ends inside them.
    #[inline(always)]
    fn fixed_fields(flags: u8, body: &[u8]) -> Option<(PublishQoS, usize, usize)> {
        let dup = flags & 0b1000 != 0;
        // v5 [MQTT-3.3.1-4], v3.1.1 [MQTT-3.3.1-4]: QoS 3 is malformed.
        let qos = QoS::from_bits((flags >> 1) & 0b11)?;
        let (topic_len, rest) = body.split_first_chunk::<2>()?;
        let topic_len = usize::from(u16::from_be_bytes(*topic_len));
        let rest = rest.get(topic_len..)?;
        let fixed_len = topic_len.saturating_add(2);
        match (qos, rest.first_chunk::<2>()) {
            // v5 [MQTT-3.3.1-2], v3.1.1 [MQTT-3.3.1-2]: no DUP on QoS 0.
            (QoS::AtMostOnce, _) if !dup => Some((PublishQoS::AtMostOnce, topic_len, fixed_len)),
            // v5 [MQTT-2.2.1-3], v3.1.1 [MQTT-2.3.1-1]: never packet id 0.
            (QoS::AtLeastOnce | QoS::ExactlyOnce, Some(id)) => {
                let qos = PublishQoS::new(qos, PacketId::new(u16::from_be_bytes(*id))?);
                let qos = if dup { qos.redelivery() } else { qos };
                Some((qos, topic_len, fixed_len.saturating_add(2)))
            }
            _ => None,
        }
    }

    /// The general PUBLISH parser, on `nom` like every other packet: the
    /// reference [`Publish::read_fast`] is tested against, and the one
    /// that names the broken rule when a PUBLISH is malformed.
    #[cold]
    pub(crate) fn decode_general(
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
        let v3: &[u8] = &[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01];
        let v5: &[u8] = &[0x36, 0x06, 0x00, 0x01, b't', 0x00, 0x01, 0x00];
        for (bytes, version) in [(v3, ProtocolVersion::V3_1_1), (v5, ProtocolVersion::V5)] {
            assert_eq!(Packet::decode(bytes, version), Err(DecodeError::InvalidQoS));
        }
    }

    /// v5 [MQTT-3.3.1-2], v3.1.1 [MQTT-3.3.1-2].
    #[test]
    fn v5_mqtt_3_3_1_2_dup_on_qos0_is_rejected() {
        let v3: &[u8] = &[0x38, 0x03, 0x00, 0x01, b't'];
        let v5: &[u8] = &[0x38, 0x04, 0x00, 0x01, b't', 0x00];
        for (bytes, version) in [(v3, ProtocolVersion::V3_1_1), (v5, ProtocolVersion::V5)] {
            assert_eq!(Packet::decode(bytes, version), Err(DecodeError::DupOnQoS0));
        }
    }

    /// v5 [MQTT-2.2.1-3], v3.1.1 [MQTT-2.3.1-1].
    #[test]
    fn v5_mqtt_2_2_1_3_packet_id_zero_is_rejected() {
        let v3: &[u8] = &[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00];
        let v5: &[u8] = &[0x32, 0x06, 0x00, 0x01, b't', 0x00, 0x00, 0x00];
        for (bytes, version) in [(v3, ProtocolVersion::V3_1_1), (v5, ProtocolVersion::V5)] {
            assert_eq!(
                Packet::decode(bytes, version),
                Err(DecodeError::ZeroPacketId)
            );
        }
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

    mod fast_path {
        #![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
        use super::*;
        use alloc::vec::Vec;
        use proptest::collection::vec;
        use proptest::prelude::*;
        use proptest::sample::Index;

        fn topic_byte() -> impl Strategy<Value = u8> {
            prop_oneof![
                8 => prop::sample::select(b"abc/$ ".to_vec()),
                1 => prop::sample::select(alloc::vec![0u8, b'+', b'#', 0xC3, 0xA9, 0xFF, 0xED]),
            ]
        }

        fn string(len: usize) -> impl Strategy<Value = Vec<u8>> {
            vec(topic_byte(), 0..len).prop_map(|bytes| {
                let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
                out.extend(bytes);
                out
            })
        }

        /// One encoded property: every PUBLISH property, some values out of
        /// range, and some that PUBLISH must not carry.
        fn property() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                (0u8..3).prop_map(|v| alloc::vec![0x01, v]),
                any::<u32>().prop_map(|v| [&[0x02][..], &v.to_be_bytes()].concat()),
                (0u16..3).prop_map(|v| [&[0x23][..], &v.to_be_bytes()].concat()),
                string(6).prop_map(|s| [&[0x08][..], &s].concat()),
                string(6).prop_map(|s| [&[0x09][..], &s].concat()),
                string(6).prop_map(|s| [&[0x03][..], &s].concat()),
                prop_oneof![
                    Just(alloc::vec![0x0B, 0x00]),
                    Just(alloc::vec![0x0B, 0x05]),
                    Just(alloc::vec![0x0B, 0x81, 0x01])
                ],
                (string(4), string(4)).prop_map(|(k, v)| [&[0x26][..], &k, &v].concat()),
                Just(alloc::vec![0x11, 0, 0, 0, 1]),
                Just(alloc::vec![0x7F]),
            ]
        }

        /// A PUBLISH body of `version` that is mostly well formed: a topic,
        /// a packet id when the flags ask for one, properties and a payload.
        fn body(v5: bool) -> impl Strategy<Value = (u8, Vec<u8>)> {
            (
                0u8..16,
                string(8),
                any::<u16>(),
                vec(property(), 0..4),
                vec(any::<u8>(), 0..8),
            )
                .prop_map(move |(flags, topic, id, props, payload)| {
                    let mut body = topic;
                    if flags & 0b0110 != 0 {
                        body.extend(id.to_be_bytes());
                    }
                    if v5 {
                        let block: Vec<u8> = props.concat();
                        let mut len = Vec::new();
                        crate::coding::put_var_int(&mut len, block.len() as u32);
                        body.extend(len);
                        body.extend(block);
                    }
                    body.extend(payload);
                    (flags, body)
                })
        }

        fn check(flags: u8, body: &[u8], v5: bool) -> Result<(), TestCaseError> {
            let version = if v5 {
                ProtocolVersion::V5
            } else {
                ProtocolVersion::V3_1_1
            };
            let general = Publish::decode_general(flags, Bytes::copy_from_slice(body), version);
            // The body behind a fixed header, as the streaming decoder passes it.
            let mut frame = alloc::vec![0x30 | flags, 0xFF, 0x7F];
            frame.extend_from_slice(body);
            let mut fast = Publish::around(Bytes::from(frame.clone()));
            if fast.read_fast(flags, 3, version) {
                prop_assert_eq!(general, Ok(fast));
            } else {
                prop_assert_eq!(&fast.payload[..], &frame[..], "the frame is left untouched");
                prop_assert!(
                    general.is_err(),
                    "the fast path refused {:02x?}, which is valid: {:?}",
                    body,
                    general
                );
            }
            let owned = Publish::decode_owned(flags, Bytes::copy_from_slice(body), version);
            prop_assert_eq!(
                owned,
                Publish::decode_general(flags, Bytes::copy_from_slice(body), version)
            );
            Ok(())
        }

        /// The fast path is not a filter that lets everything through to
        /// the general parser: it reads the packets of the benchmarks itself.
        #[test]
        fn fast_path_reads_publish_with_and_without_properties() {
            let mut publish = Publish::new(
                TopicName::from_static("sensor/abc/temperature").unwrap(),
                &b"21.5"[..],
            )
            .with_qos(PublishQoS::new(QoS::AtLeastOnce, PacketId::new(7).unwrap()));
            for with_properties in [false, true] {
                if with_properties {
                    publish.properties.message_expiry_interval = Some(3600);
                    publish
                        .properties
                        .set_content_type(crate::MqttString::try_from("application/json").ok());
                    publish
                        .properties
                        .set_correlation_data(Some(Bytes::from_static(&[7; 16])));
                    publish.properties.push_user_property(
                        crate::MqttString::try_from("site").unwrap(),
                        crate::MqttString::try_from("plant-7").unwrap(),
                    );
                }
                for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
                    let mut frame = Vec::new();
                    publish.encode(version, &mut frame).unwrap();
                    let header_len = frame.len() - publish.encoded_body_len_for_test(version);
                    let mut fast = Publish::around(Bytes::from(frame));
                    assert!(fast.read_fast(publish.flags(), header_len, version));
                    let mut expected = publish.clone();
                    if !version.is_v5() {
                        expected.properties = PublishProperties::default();
                    }
                    assert_eq!(fast, expected, "{version:?}");
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4096))]

            /// The hand-written fast path accepts exactly what the `nom`
            /// parser accepts, with the same packet, on mostly valid bodies
            /// with a few bytes damaged.
            #[test]
            fn fast_path_agrees_with_the_general_parser(
                (flags, mut body) in any::<bool>().prop_flat_map(body),
                edits in vec((any::<Index>(), any::<u8>()), 0..3),
            ) {
                check(flags, &body, false)?;
                check(flags, &body, true)?;
                if !body.is_empty() {
                    for (at, byte) in &edits {
                        let i = at.index(body.len());
                        body[i] = *byte;
                    }
                }
                check(flags, &body, false)?;
                check(flags, &body, true)?;
            }

            /// ... and on random bytes.
            #[test]
            fn fast_path_agrees_on_random_bytes(flags in 0u8..16, body in vec(any::<u8>(), 0..40)) {
                check(flags, &body, false)?;
                check(flags, &body, true)?;
            }
        }
    }
}
