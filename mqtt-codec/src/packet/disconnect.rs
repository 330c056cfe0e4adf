//! DISCONNECT (v5 §3.14, v3.1.1 §3.14).

use bytes::{BufMut, Bytes};

use super::{Body, PacketDecoder};
use crate::error::{DecodeError, EncodeError, VersionFeature};
use crate::header::PacketType;
use crate::property::{DisconnectProperties, EncodedProperties};
use crate::reason::DisconnectReasonCode;
use crate::version::ProtocolVersion;

/// A DISCONNECT packet. In 3.1.1 it is always a normal disconnection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// The reason code (5.0).
    pub reason_code: DisconnectReasonCode,
    /// MQTT 5.0 properties.
    pub properties: DisconnectProperties,
}

impl Default for Disconnect {
    /// A normal disconnection.
    fn default() -> Self {
        Self::new(DisconnectReasonCode::Success)
    }
}

impl Disconnect {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: DisconnectReasonCode) -> Self {
        Self {
            reason_code,
            properties: DisconnectProperties::default(),
        }
    }
}

impl Body for Disconnect {
    const TYPE: PacketType = PacketType::Disconnect;

    fn decode(_: u8, body: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        // v5 §3.14.2.1: "If the Remaining Length is less than 1 the value of
        // 0x00 (Normal disconnection) is used"; §3.14.2.2.1: below 2 there is
        // no Property Length. 3.1.1 has neither.
        let (reason_code, properties) = decode_short_form(
            Self::TYPE,
            body,
            version,
            DisconnectReasonCode::from_u8,
            DisconnectReasonCode::Success,
        )?;
        Ok(Self {
            reason_code,
            properties,
        })
    }

    fn remaining_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        short_form_len(version, self.reason_code.code(), &self.properties)
    }

    fn put_body(&self, version: ProtocolVersion, buf: &mut impl BufMut) {
        put_short_form(version, self.reason_code.code(), &self.properties, buf);
    }
}

/// Decodes the DISCONNECT / AUTH layout: a reason code and a property block,
/// each left out when the rest of the packet is empty.
pub(crate) fn decode_short_form<R, P: crate::property::PropertySet>(
    packet_type: PacketType,
    body: &Bytes,
    version: ProtocolVersion,
    known: fn(u8) -> Option<R>,
    success: R,
) -> Result<(R, P), DecodeError> {
    let mut p = PacketDecoder::new(packet_type, body);
    let mut code = success;
    let mut properties = P::default();
    if version.is_v5() && !p.is_empty() {
        code = p.reason_code(known)?;
        if !p.is_empty() {
            properties = p.properties(version)?;
        }
    }
    p.finish()?;
    Ok((code, properties))
}

/// Length of the DISCONNECT / AUTH layout, whose reason code and property
/// length are left out when they are Success and empty.
pub(crate) fn short_form_len(
    version: ProtocolVersion,
    code: u8,
    properties: &impl crate::property::PropertySet,
) -> Result<usize, EncodeError> {
    if !version.is_v5() {
        return if code == 0 {
            Ok(0)
        } else {
            Err(EncodeError::NotInVersion(
                VersionFeature::NonSuccessReasonCode,
            ))
        };
    }
    let props = EncodedProperties::new(properties)?;
    Ok(match (code, props.block_len) {
        (0, 0) => 0,
        (_, 0) => 1,
        _ => crate::coding::sum([1, props.len()]),
    })
}

pub(crate) fn put_short_form(
    version: ProtocolVersion,
    code: u8,
    properties: &impl crate::property::PropertySet,
    buf: &mut impl BufMut,
) {
    if !version.is_v5() {
        return;
    }
    if let Ok(props) = EncodedProperties::new(properties) {
        if code != 0 || props.block_len != 0 {
            buf.put_u8(code);
        }
        if props.block_len != 0 {
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
    use crate::types::MqttString;

    /// v5 §3.14.2.1: `E0 00` is a normal disconnection; also the 3.1.1 form.
    #[test]
    fn disconnect_e0_00_in_both_versions() {
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            roundtrip(&Disconnect::default().into(), version, &[0xE0, 0x00]);
        }
    }

    /// v5 §3.14.2.2: reason code alone, then with a Reason String.
    #[test]
    fn v5_disconnect_with_reason_and_properties() {
        let packet = Disconnect::new(DisconnectReasonCode::ServerShuttingDown);
        roundtrip(
            &packet.clone().into(),
            ProtocolVersion::V5,
            &[0xE0, 0x01, 0x8B],
        );
        let mut packet = packet;
        packet.properties.reason_string = Some(MqttString::try_from("bye").unwrap());
        roundtrip(
            &packet.into(),
            ProtocolVersion::V5,
            &decode_hex("e0 08 8b 06 1f 0003 627965"),
        );
    }

    /// v5 [MQTT-3.14.1-1]: reserved flags.
    #[test]
    fn v5_mqtt_3_14_1_1_reserved_flags_are_rejected() {
        assert!(matches!(
            Packet::decode(&[0xE1, 0x00], ProtocolVersion::V5),
            Err(DecodeError::ReservedFlags { .. })
        ));
    }

    /// v5 [MQTT-3.14.2-1]: only DISCONNECT reason codes.
    #[test]
    fn v5_mqtt_3_14_2_1_invalid_reason_code_is_rejected() {
        assert!(Packet::decode(&[0xE0, 0x01, 0x18], ProtocolVersion::V5).is_err());
    }

    /// v3.1.1 §3.14: DISCONNECT has no variable header.
    #[test]
    fn v3_1_1_disconnect_with_body_is_rejected() {
        assert_eq!(
            Packet::decode(&[0xE0, 0x01, 0x00], ProtocolVersion::V3_1_1),
            Err(DecodeError::TrailingBytes(PacketType::Disconnect))
        );
    }
}
