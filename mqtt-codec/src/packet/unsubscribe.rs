//! UNSUBSCRIBE (v5 §3.10, v3.1.1 §3.10).

use alloc::vec::Vec;

use bytes::{BufMut, Bytes};
use mqttkit_topic::TopicFilter;

use super::subscribe::check_shared;
use super::{
    Body, PacketDecoder, decode_topic_filter, id_and_properties_len, put_id_and_properties,
};
use crate::coding::{length_prefixed, put_length_prefixed, sum};
use crate::error::{DecodeError, EncodeError, InvalidPacket};
use crate::header::PacketType;
use crate::property::UnsubscribeProperties;
use crate::types::PacketId;
use crate::version::ProtocolVersion;

/// An UNSUBSCRIBE packet: at least one filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The packet identifier.
    pub packet_id: PacketId,
    /// The filters, compared character by character with existing
    /// subscriptions (v5 [MQTT-3.10.4-1]).
    pub filters: Vec<TopicFilter>,
    /// MQTT 5.0 properties.
    pub properties: UnsubscribeProperties,
}

impl Unsubscribe {
    /// An UNSUBSCRIBE of one filter.
    pub fn new(packet_id: PacketId, filter: TopicFilter) -> Self {
        Self {
            packet_id,
            filters: alloc::vec![filter],
            properties: UnsubscribeProperties::default(),
        }
    }
}

impl Body for Unsubscribe {
    const TYPE: PacketType = PacketType::Unsubscribe;

    fn decode(_: u8, body: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut p = PacketDecoder::new(Self::TYPE, body);
        let packet_id = p.packet_id()?;
        let properties = p.properties(version)?;
        let mut filters = Vec::new();
        while !p.is_empty() {
            // v5 [MQTT-3.10.3-1], v3.1.1 [MQTT-3.10.3-1].
            let filter = decode_topic_filter(body, p.run(length_prefixed)?)?;
            if version.is_v5() {
                check_shared(&filter).map_err(DecodeError::TopicFilter)?;
            }
            filters.push(filter);
        }
        // v5 [MQTT-3.10.3-2], v3.1.1 [MQTT-3.10.3-2].
        if filters.is_empty() {
            return Err(DecodeError::EmptyUnsubscribe);
        }
        Ok(Self {
            packet_id,
            filters,
            properties,
        })
    }

    fn remaining_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::InvalidPacket(InvalidPacket::EmptyUnsubscribe));
        }
        let mut len = id_and_properties_len(version, &self.properties)?;
        for filter in &self.filters {
            if version.is_v5() {
                check_shared(filter).map_err(|e| {
                    EncodeError::InvalidPacket(InvalidPacket::SharedSubscription(e))
                })?;
            }
            len = sum([len, 2, filter.len()]);
        }
        Ok(len)
    }

    fn put_body(&self, version: ProtocolVersion, buf: &mut impl BufMut) {
        put_id_and_properties(buf, self.packet_id, version, &self.properties);
        for filter in &self.filters {
            put_length_prefixed(buf, filter.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::packet::Packet;
    use crate::packet::tests::{decode_hex, roundtrip};

    /// v3.1.1 §3.10 and v5 §3.10 layouts.
    #[test]
    fn unsubscribe_bytes_in_both_versions() {
        let unsub = Unsubscribe::new(
            PacketId::new(2).unwrap(),
            TopicFilter::from_static("a/+").unwrap(),
        );
        roundtrip(
            &unsub.clone().into(),
            ProtocolVersion::V3_1_1,
            &decode_hex("a2 07 0002 0003 612f2b"),
        );
        roundtrip(
            &unsub.into(),
            ProtocolVersion::V5,
            &decode_hex("a2 08 0002 00 0003 612f2b"),
        );
    }

    /// v5 [MQTT-3.10.3-2], v3.1.1 [MQTT-3.10.3-2].
    #[test]
    fn v5_mqtt_3_10_3_2_empty_unsubscribe_is_rejected() {
        for (hex, version) in [
            ("a2 02 0001", ProtocolVersion::V3_1_1),
            ("a2 03 0001 00", ProtocolVersion::V5),
        ] {
            assert_eq!(
                Packet::decode(&decode_hex(hex), version),
                Err(DecodeError::EmptyUnsubscribe)
            );
        }
    }

    /// v5 [MQTT-3.10.1-1], v3.1.1 [MQTT-3.10.1-1]: flags must be 0010.
    #[test]
    fn v5_mqtt_3_10_1_1_reserved_flags_are_rejected() {
        for (hex, version) in [
            ("a0 05 0001 0001 61", ProtocolVersion::V3_1_1),
            ("a0 06 0001 00 0001 61", ProtocolVersion::V5),
        ] {
            assert!(matches!(
                Packet::decode(&decode_hex(hex), version),
                Err(DecodeError::ReservedFlags { .. })
            ));
        }
    }
}
