//! CONNACK (v5 §3.2, v3.1.1 §3.2).

use bytes::{BufMut, Bytes};

use super::{Body, PacketDecoder};
use crate::coding::{byte, sum};
use crate::error::{DecodeError, EncodeError, InvalidPacket, VersionFeature};
use crate::header::PacketType;
use crate::property::{ConnAckProperties, EncodedProperties};
use crate::reason::ConnectReasonCode;
use crate::version::ProtocolVersion;

/// A CONNACK packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present; never set with a refusal (v5 [MQTT-3.2.2-6]).
    pub session_present: bool,
    /// The reason code; in 3.1 and 3.1.1 one of the six that have a return
    /// code (see [`ConnectReasonCode::v3_return_code`]).
    pub reason_code: ConnectReasonCode,
    /// MQTT 5.0 properties.
    pub properties: ConnAckProperties,
}

impl ConnAck {
    /// A CONNACK with `reason_code` and no properties.
    pub fn new(session_present: bool, reason_code: ConnectReasonCode) -> Self {
        Self {
            session_present,
            reason_code,
            properties: ConnAckProperties::default(),
        }
    }

    fn code_byte(&self, version: ProtocolVersion) -> Result<u8, EncodeError> {
        if version.is_v5() {
            Ok(self.reason_code.code())
        } else {
            self.reason_code
                .v3_return_code()
                .ok_or(EncodeError::NotInVersion(VersionFeature::ConnAckReasonCode))
        }
    }
}

impl Body for ConnAck {
    const TYPE: PacketType = PacketType::ConnAck;

    fn decode(_: u8, body: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut p = PacketDecoder::new(Self::TYPE, body);
        let flags = p.run(byte)?;
        // v5 [MQTT-3.2.2-1]: bits 7-1 are reserved.
        if flags & 0b1111_1110 != 0 {
            return Err(DecodeError::ConnAckReservedFlags);
        }
        let code = p.run(byte)?;
        let reason_code = if version.is_v5() {
            ConnectReasonCode::from_u8(code)
        } else {
            ConnectReasonCode::from_v3_return_code(code)
        }
        .ok_or(DecodeError::InvalidReasonCode {
            packet: Self::TYPE,
            code,
        })?;
        let session_present = flags & 1 != 0;
        // v5 [MQTT-3.2.2-6], v3.1.1 [MQTT-3.2.2-4].
        if session_present && reason_code != ConnectReasonCode::Success {
            return Err(DecodeError::SessionPresentWithRefusal);
        }
        let properties = p.properties(version)?;
        p.finish()?;
        Ok(Self {
            session_present,
            reason_code,
            properties,
        })
    }

    fn remaining_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        self.code_byte(version)?;
        if self.session_present && self.reason_code != ConnectReasonCode::Success {
            return Err(EncodeError::InvalidPacket(
                InvalidPacket::SessionPresentWithRefusal,
            ));
        }
        Ok(if version.is_v5() {
            sum([2, EncodedProperties::new(&self.properties)?.len()])
        } else {
            2
        })
    }

    fn put_body(&self, version: ProtocolVersion, buf: &mut impl BufMut) {
        buf.put_u8(u8::from(self.session_present));
        buf.put_u8(self.code_byte(version).unwrap_or(0));
        if version.is_v5()
            && let Ok(props) = EncodedProperties::new(&self.properties)
        {
            props.put(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::packet::Packet;
    use crate::packet::tests::{decode_hex, roundtrip};
    use crate::types::{MqttString, QoS};

    /// v3.1.1 §3.2.2.3: return code 5 is Not authorized.
    #[test]
    fn v3_1_1_connack_bytes() {
        roundtrip(
            &ConnAck::new(true, ConnectReasonCode::Success).into(),
            ProtocolVersion::V3_1_1,
            &[0x20, 0x02, 0x01, 0x00],
        );
        roundtrip(
            &ConnAck::new(false, ConnectReasonCode::NotAuthorized).into(),
            ProtocolVersion::V3_1_1,
            &[0x20, 0x02, 0x00, 0x05],
        );
    }

    /// v5 §3.2.2.3 with several properties.
    #[test]
    fn v5_connack_with_properties() {
        let mut ack = ConnAck::new(false, ConnectReasonCode::Success);
        ack.properties.maximum_qos = Some(QoS::AtLeastOnce);
        ack.properties.assigned_client_identifier = Some(MqttString::try_from("x").unwrap());
        ack.properties.topic_alias_maximum = Some(10);
        let bytes = decode_hex("20 0c 00 00 09 24 01 12 0001 78 22 000a");
        // Properties are written in the struct's field order.
        let mut out = alloc::vec::Vec::new();
        Packet::from(ack.clone())
            .encode(ProtocolVersion::V5, &mut out)
            .unwrap();
        assert_eq!(
            Packet::decode(&out, ProtocolVersion::V5).unwrap(),
            ack.clone().into()
        );
        assert_eq!(
            Packet::decode(&bytes, ProtocolVersion::V5).unwrap(),
            ack.into()
        );
    }

    /// v5 [MQTT-3.2.2-1]: reserved acknowledge flags.
    #[test]
    fn v5_mqtt_3_2_2_1_reserved_flags_are_rejected() {
        assert_eq!(
            Packet::decode(&[0x20, 0x03, 0x02, 0x00, 0x00], ProtocolVersion::V5),
            Err(DecodeError::ConnAckReservedFlags)
        );
    }

    /// v5 [MQTT-3.2.2-6], v3.1.1 [MQTT-3.2.2-4].
    #[test]
    fn v5_mqtt_3_2_2_6_session_present_with_refusal_is_rejected() {
        assert_eq!(
            Packet::decode(&[0x20, 0x03, 0x01, 0x87, 0x00], ProtocolVersion::V5),
            Err(DecodeError::SessionPresentWithRefusal)
        );
        assert_eq!(
            Packet::decode(&[0x20, 0x02, 0x01, 0x05], ProtocolVersion::V3_1_1),
            Err(DecodeError::SessionPresentWithRefusal)
        );
    }

    /// v5 §3.2.2.3.4: Maximum QoS is 0 or 1.
    #[test]
    fn v5_connack_maximum_qos_2_is_rejected() {
        assert_eq!(
            Packet::decode(&decode_hex("20 05 00 00 02 24 02"), ProtocolVersion::V5),
            Err(DecodeError::InvalidPropertyValue(
                crate::PropertyId::MaximumQoS
            ))
        );
    }

    /// v3.1.1 §3.2.2.3: return codes 6 to 255 are reserved.
    #[test]
    fn v3_1_1_reserved_return_code_is_rejected() {
        assert!(Packet::decode(&[0x20, 0x02, 0x00, 0x06], ProtocolVersion::V3_1_1).is_err());
    }
}
