//! SUBACK (v5 §3.9, v3.1.1 §3.9).

use alloc::vec::Vec;

use bytes::{BufMut, Bytes};

use super::{Body, PacketDecoder, id_and_properties_len, put_id_and_properties};
use crate::error::{DecodeError, EncodeError, InvalidPacket, VersionFeature};
use crate::header::PacketType;
use crate::property::AckProperties;
use crate::reason::SubAckReasonCode;
use crate::types::PacketId;
use crate::version::ProtocolVersion;

/// A SUBACK packet: one reason code per filter of the SUBSCRIBE, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// The SUBSCRIBE's packet identifier (v5 [MQTT-2.2.1-6]).
    pub packet_id: PacketId,
    /// One code per filter; in 3.1.1 only granted QoS values and 0x80.
    pub reason_codes: Vec<SubAckReasonCode>,
    /// MQTT 5.0 properties.
    pub properties: AckProperties,
}

impl SubAck {
    /// A SUBACK with `reason_codes`.
    pub fn new(packet_id: PacketId, reason_codes: Vec<SubAckReasonCode>) -> Self {
        Self {
            packet_id,
            reason_codes,
            properties: AckProperties::default(),
        }
    }
}

impl Body for SubAck {
    const TYPE: PacketType = PacketType::SubAck;

    fn decode(_: u8, body: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut p = PacketDecoder::new(Self::TYPE, body);
        let packet_id = p.packet_id()?;
        let properties = p.properties(version)?;
        // v3.1.1 §3.9.3: only 0x00, 0x01, 0x02 and 0x80 exist before 5.0.
        let known = if version.is_v5() {
            SubAckReasonCode::from_u8
        } else {
            |code| SubAckReasonCode::from_u8(code).filter(|r| r.in_v3())
        };
        let mut reason_codes = Vec::new();
        while !p.is_empty() {
            reason_codes.push(p.reason_code(known)?);
        }
        if reason_codes.is_empty() {
            return Err(DecodeError::EmptyAckPayload);
        }
        Ok(Self {
            packet_id,
            reason_codes,
            properties,
        })
    }

    fn remaining_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.reason_codes.is_empty() {
            return Err(EncodeError::InvalidPacket(InvalidPacket::EmptySubAck));
        }
        if !version.is_v5() && !self.reason_codes.iter().all(|r| r.in_v3()) {
            return Err(EncodeError::NotInVersion(VersionFeature::SubAckReasonCode));
        }
        Ok(id_and_properties_len(version, &self.properties)?
            .saturating_add(self.reason_codes.len()))
    }

    fn put_body(&self, version: ProtocolVersion, buf: &mut impl BufMut) {
        put_id_and_properties(buf, self.packet_id, version, &self.properties);
        for code in &self.reason_codes {
            buf.put_u8(code.code());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::packet::Packet;
    use crate::packet::tests::{decode_hex, roundtrip};

    /// v3.1.1 §3.9.3: granted QoS values and 0x80.
    #[test]
    fn suback_bytes_in_both_versions() {
        let ack = SubAck::new(
            PacketId::new(3).unwrap(),
            alloc::vec![
                SubAckReasonCode::GrantedQoS1,
                SubAckReasonCode::UnspecifiedError
            ],
        );
        roundtrip(
            &ack.clone().into(),
            ProtocolVersion::V3_1_1,
            &decode_hex("90 04 0003 01 80"),
        );
        roundtrip(
            &ack.into(),
            ProtocolVersion::V5,
            &decode_hex("90 05 0003 00 01 80"),
        );
    }

    /// v3.1.1 §3.9.3: codes other than 0x00, 0x01, 0x02 and 0x80 are reserved.
    #[test]
    fn v3_1_1_suback_v5_only_code_is_rejected() {
        assert_eq!(
            Packet::decode(&decode_hex("90 03 0003 87"), ProtocolVersion::V3_1_1),
            Err(DecodeError::InvalidReasonCode {
                packet: PacketType::SubAck,
                code: 0x87
            })
        );
        assert!(Packet::decode(&decode_hex("90 04 0003 00 87"), ProtocolVersion::V5).is_ok());
    }
}
