//! UNSUBACK (v5 §3.11, v3.1.1 §3.11).

use alloc::vec::Vec;

use bytes::{BufMut, Bytes};

use super::{Body, PacketDecoder, id_and_properties_len, put_id_and_properties};
use crate::error::{DecodeError, EncodeError, InvalidPacket};
use crate::header::PacketType;
use crate::property::AckProperties;
use crate::reason::UnsubAckReasonCode;
use crate::types::PacketId;
use crate::version::ProtocolVersion;

/// An UNSUBACK packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// The UNSUBSCRIBE's packet identifier (v5 [MQTT-3.10.4-5]).
    pub packet_id: PacketId,
    /// One code per filter (5.0). 3.1.1 has no reason codes: they are left
    /// out when encoding 3.1.1 and empty when decoding it.
    pub reason_codes: Vec<UnsubAckReasonCode>,
    /// MQTT 5.0 properties.
    pub properties: AckProperties,
}

impl UnsubAck {
    /// An UNSUBACK with `reason_codes`.
    pub fn new(packet_id: PacketId, reason_codes: Vec<UnsubAckReasonCode>) -> Self {
        Self {
            packet_id,
            reason_codes,
            properties: AckProperties::default(),
        }
    }
}

impl Body for UnsubAck {
    const TYPE: PacketType = PacketType::UnsubAck;

    fn decode(_: u8, body: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut p = PacketDecoder::new(Self::TYPE, body);
        let packet_id = p.packet_id()?;
        let properties = p.properties(version)?;
        let mut reason_codes = Vec::new();
        // 3.1.1 UNSUBACK has no payload (v3.1.1 §3.11.3).
        if version.is_v5() {
            while !p.is_empty() {
                reason_codes.push(p.reason_code(UnsubAckReasonCode::from_u8)?);
            }
            if reason_codes.is_empty() {
                return Err(DecodeError::EmptyAckPayload);
            }
        }
        p.finish()?;
        Ok(Self {
            packet_id,
            reason_codes,
            properties,
        })
    }

    fn remaining_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(2);
        }
        if self.reason_codes.is_empty() {
            return Err(EncodeError::InvalidPacket(InvalidPacket::EmptyUnsubAck));
        }
        Ok(id_and_properties_len(version, &self.properties)?
            .saturating_add(self.reason_codes.len()))
    }

    fn put_body(&self, version: ProtocolVersion, buf: &mut impl BufMut) {
        put_id_and_properties(buf, self.packet_id, version, &self.properties);
        if version.is_v5() {
            for code in &self.reason_codes {
                buf.put_u8(code.code());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::packet::Packet;
    use crate::packet::tests::{decode_hex, roundtrip};

    #[test]
    fn unsuback_bytes_in_both_versions() {
        let id = PacketId::new(9).unwrap();
        roundtrip(
            &UnsubAck::new(id, Vec::new()).into(),
            ProtocolVersion::V3_1_1,
            &decode_hex("b0 02 0009"),
        );
        roundtrip(
            &UnsubAck::new(id, alloc::vec![UnsubAckReasonCode::NoSubscriptionExisted]).into(),
            ProtocolVersion::V5,
            &decode_hex("b0 04 0009 00 11"),
        );
    }

    /// v3.1.1 §3.11: the remaining length is 2.
    #[test]
    fn v3_1_1_unsuback_with_payload_is_rejected() {
        assert_eq!(
            Packet::decode(&decode_hex("b0 03 0009 00"), ProtocolVersion::V3_1_1),
            Err(DecodeError::TrailingBytes(PacketType::UnsubAck))
        );
    }
}
