//! PUBACK, PUBREC, PUBREL and PUBCOMP (v5 §3.4 to §3.7, v3.1.1 §3.4 to
//! §3.7): a packet identifier and, in 5.0, a reason code and properties
//! that may be left out when they are Success and empty.

use bytes::{BufMut, Bytes};

use super::{Body, PacketDecoder};
use crate::coding::sum;
use crate::error::{DecodeError, EncodeError, VersionFeature};
use crate::header::PacketType;
use crate::property::{AckProperties, EncodedProperties};
use crate::reason::{PubAckReasonCode, PubRelReasonCode};
use crate::types::PacketId;
use crate::version::ProtocolVersion;

/// Decodes the shared layout; `reason` maps a byte to the packet's codes.
fn decode_ack<R>(
    packet_type: PacketType,
    body: &Bytes,
    version: ProtocolVersion,
    reason: fn(u8) -> Option<R>,
    success: R,
) -> Result<(PacketId, R, AckProperties), DecodeError> {
    let mut p = PacketDecoder::new(packet_type, body);
    let packet_id = p.packet_id()?;
    let mut code = success;
    let mut properties = AckProperties::default();
    // v5 §3.4.2.1: "The Reason Code and Property Length can be omitted if the
    // Reason Code is 0x00 (Success) and there are no Properties"; 3.1.1 has
    // neither, so its remaining length is exactly 2.
    if version.is_v5() && !p.is_empty() {
        code = p.reason_code(reason)?;
        // v5 §3.4.2.2.1: "If the Remaining Length is less than 4 there is no
        // Property Length and the value of 0 is used."
        if !p.is_empty() {
            properties = p.properties(version)?;
        }
    }
    p.finish()?;
    Ok((packet_id, code, properties))
}

fn ack_remaining_len(
    version: ProtocolVersion,
    code: u8,
    properties: &AckProperties,
) -> Result<usize, EncodeError> {
    if !version.is_v5() {
        return if code == 0 {
            Ok(2)
        } else {
            Err(EncodeError::NotInVersion(
                VersionFeature::NonSuccessReasonCode,
            ))
        };
    }
    let props = EncodedProperties::new(properties)?;
    Ok(match (code, props.block_len) {
        (0, 0) => 2,
        (_, 0) => 3,
        _ => sum([3, props.len()]),
    })
}

fn put_ack(
    version: ProtocolVersion,
    packet_id: PacketId,
    code: u8,
    properties: &AckProperties,
    buf: &mut impl BufMut,
) {
    buf.put_u16(packet_id.get());
    if version.is_v5()
        && let Ok(props) = EncodedProperties::new(properties)
        && (code != 0 || props.block_len != 0)
    {
        buf.put_u8(code);
        if props.block_len != 0 {
            props.put(buf);
        }
    }
}

macro_rules! ack_packet {
    ($(#[$meta:meta])* $name:ident, $reason:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// The packet identifier of the PUBLISH (or PUBREL) it answers.
            pub packet_id: PacketId,
            /// The reason code; only Success exists in 3.1.1.
            pub reason_code: $reason,
            /// MQTT 5.0 properties.
            pub properties: AckProperties,
        }

        impl $name {
            /// A Success acknowledgement of `packet_id` without properties.
            pub fn new(packet_id: PacketId) -> Self {
                Self {
                    packet_id,
                    reason_code: $reason::Success,
                    properties: AckProperties::default(),
                }
            }

            /// The same acknowledgement with `reason_code`.
            pub fn with_reason(mut self, reason_code: $reason) -> Self {
                self.reason_code = reason_code;
                self
            }
        }

        impl Body for $name {
            const TYPE: PacketType = PacketType::$name;

            fn decode(_: u8, body: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
                let (packet_id, reason_code, properties) =
                    decode_ack(Self::TYPE, body, version, $reason::from_u8, $reason::Success)?;
                Ok(Self {
                    packet_id,
                    reason_code,
                    properties,
                })
            }

            fn remaining_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
                ack_remaining_len(version, self.reason_code.code(), &self.properties)
            }

            fn put_body(&self, version: ProtocolVersion, buf: &mut impl BufMut) {
                put_ack(version, self.packet_id, self.reason_code.code(), &self.properties, buf);
            }
        }
    };
}

ack_packet!(
    /// PUBACK: the answer to a QoS 1 PUBLISH.
    PubAck,
    PubAckReasonCode
);
ack_packet!(
    /// PUBREC: the first answer to a QoS 2 PUBLISH.
    PubRec,
    PubAckReasonCode
);
ack_packet!(
    /// PUBREL: the answer to a PUBREC (fixed header flags 0010).
    PubRel,
    PubRelReasonCode
);
ack_packet!(
    /// PUBCOMP: the answer to a PUBREL.
    PubComp,
    PubRelReasonCode
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::packet::Packet;
    use crate::packet::tests::{decode_hex, roundtrip};
    use crate::types::MqttString;

    fn id(v: u16) -> PacketId {
        PacketId::new(v).unwrap()
    }

    /// v3.1.1 §3.4 and v5 §3.4.2: remaining length 2 is a Success PUBACK.
    #[test]
    fn puback_of_remaining_length_2_in_both_versions() {
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            roundtrip(
                &PubAck::new(id(5)).into(),
                version,
                &[0x40, 0x02, 0x00, 0x05],
            );
            roundtrip(
                &PubRec::new(id(5)).into(),
                version,
                &[0x50, 0x02, 0x00, 0x05],
            );
            roundtrip(
                &PubRel::new(id(5)).into(),
                version,
                &[0x62, 0x02, 0x00, 0x05],
            );
            roundtrip(
                &PubComp::new(id(5)).into(),
                version,
                &[0x70, 0x02, 0x00, 0x05],
            );
        }
    }

    /// v5 §3.4.2.2.1: remaining length 3 has a reason code and no properties.
    #[test]
    fn v5_puback_of_remaining_length_3() {
        let packet: Packet = PubAck::new(id(1))
            .with_reason(PubAckReasonCode::NoMatchingSubscribers)
            .into();
        roundtrip(
            &packet,
            ProtocolVersion::V5,
            &[0x40, 0x03, 0x00, 0x01, 0x10],
        );
        // Success with an explicit empty property length also decodes.
        let bytes = [0x40, 0x04, 0x00, 0x01, 0x00, 0x00];
        assert_eq!(
            Packet::decode(&bytes, ProtocolVersion::V5).unwrap(),
            PubAck::new(id(1)).into()
        );
    }

    /// v5 §3.4.2.2: Reason String and User Property.
    #[test]
    fn v5_puback_with_reason_string_and_user_property() {
        let mut ack = PubAck::new(id(2)).with_reason(PubAckReasonCode::QuotaExceeded);
        ack.properties.reason_string = Some(MqttString::try_from("full").unwrap());
        ack.properties
            .user_properties
            .push("k".try_into().unwrap(), "v".try_into().unwrap());
        let bytes = decode_hex("40 12 0002 97 0e 1f0004 66756c6c 26 0001 6b 0001 76");
        roundtrip(&ack.into(), ProtocolVersion::V5, &bytes);
    }

    /// v5 [MQTT-3.6.2-1]: PUBREL reason codes are 0x00 and 0x92 only.
    #[test]
    fn v5_mqtt_3_6_2_1_pubrel_invalid_reason_code() {
        assert_eq!(
            Packet::decode(&[0x62, 0x03, 0x00, 0x01, 0x10], ProtocolVersion::V5),
            Err(DecodeError::InvalidReasonCode {
                packet: PacketType::PubRel,
                code: 0x10
            })
        );
    }

    /// v3.1.1 §3.4.1: PUBACK's remaining length is 2, nothing more.
    #[test]
    fn v3_1_1_puback_longer_than_2_is_rejected() {
        assert_eq!(
            Packet::decode(&[0x40, 0x03, 0x00, 0x01, 0x00], ProtocolVersion::V3_1_1),
            Err(DecodeError::TrailingBytes(PacketType::PubAck))
        );
    }

    /// v5 §3.4.2.2: a property not allowed in PUBACK.
    #[test]
    fn v5_puback_with_a_publish_property_is_rejected() {
        let bytes = decode_hex("40 09 0001 00 05 02 0000000a");
        assert!(matches!(
            Packet::decode(&bytes, ProtocolVersion::V5),
            Err(DecodeError::PropertyNotAllowed { .. })
        ));
    }

    #[test]
    fn v3_1_1_cannot_carry_an_error_reason() {
        let packet: Packet = PubAck::new(id(1))
            .with_reason(PubAckReasonCode::NotAuthorized)
            .into();
        assert!(matches!(
            packet.encode(ProtocolVersion::V3_1_1, &mut alloc::vec::Vec::new()),
            Err(EncodeError::NotInVersion(
                VersionFeature::NonSuccessReasonCode
            ))
        ));
    }
}
