//! The fixed header (§2.1 of 5.0, §2.2 of 3.1.1): packet type, flags and
//! remaining length, read before the rest of a frame is buffered.

use core::fmt;

use crate::coding::{VarInt, read_var_int};
use crate::error::DecodeError;
use crate::version::ProtocolVersion;

/// The MQTT control packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PacketType {
    /// CONNECT (1).
    Connect = 1,
    /// CONNACK (2).
    ConnAck = 2,
    /// PUBLISH (3).
    Publish = 3,
    /// PUBACK (4).
    PubAck = 4,
    /// PUBREC (5).
    PubRec = 5,
    /// PUBREL (6).
    PubRel = 6,
    /// PUBCOMP (7).
    PubComp = 7,
    /// SUBSCRIBE (8).
    Subscribe = 8,
    /// SUBACK (9).
    SubAck = 9,
    /// UNSUBSCRIBE (10).
    Unsubscribe = 10,
    /// UNSUBACK (11).
    UnsubAck = 11,
    /// PINGREQ (12).
    PingReq = 12,
    /// PINGRESP (13).
    PingResp = 13,
    /// DISCONNECT (14).
    Disconnect = 14,
    /// AUTH (15), MQTT 5.0 only.
    Auth = 15,
}

impl PacketType {
    /// The type for the high nibble of the first byte, in `version`.
    pub fn from_nibble(nibble: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        Ok(match nibble {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            15 if version.is_v5() => Self::Auth,
            other => return Err(DecodeError::InvalidPacketType(other)),
        })
    }

    /// The fixed flags every packet but PUBLISH must carry: 0b0010 for
    /// PUBREL, SUBSCRIBE and UNSUBSCRIBE, 0 for the rest.
    pub const fn required_flags(self) -> Option<u8> {
        match self {
            Self::Publish => None,
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }

    /// The packet's name as the standards write it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT",
            Self::ConnAck => "CONNACK",
            Self::Publish => "PUBLISH",
            Self::PubAck => "PUBACK",
            Self::PubRec => "PUBREC",
            Self::PubRel => "PUBREL",
            Self::PubComp => "PUBCOMP",
            Self::Subscribe => "SUBSCRIBE",
            Self::SubAck => "SUBACK",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::UnsubAck => "UNSUBACK",
            Self::PingReq => "PINGREQ",
            Self::PingResp => "PINGRESP",
            Self::Disconnect => "DISCONNECT",
            Self::Auth => "AUTH",
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// The packet type.
    pub packet_type: PacketType,
    /// The four low bits of the first byte.
    pub flags: u8,
    /// The remaining length: bytes after the fixed header.
    pub remaining_length: u32,
    /// Bytes the fixed header itself takes (2 to 5).
    pub header_len: usize,
}

impl FixedHeader {
    /// Total frame size: fixed header plus remaining length.
    pub fn frame_len(&self) -> usize {
        self.header_len
            .saturating_add(self.remaining_length as usize)
    }
}

/// What the start of a buffer says about the next frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderStatus {
    /// The fixed header is complete.
    Complete(FixedHeader),
    /// The buffer ends inside the fixed header.
    Incomplete,
}

/// Reads and checks a fixed header from the start of `bytes` without looking
/// past it: the type must exist in `version` and the reserved flags must hold
/// (v5 [MQTT-2.1.3-1], v3.1.1 [MQTT-2.2.2-1]).
#[inline]
pub fn read_fixed_header(
    bytes: &[u8],
    version: ProtocolVersion,
) -> Result<HeaderStatus, DecodeError> {
    let Some((&first, rest)) = bytes.split_first() else {
        return Ok(HeaderStatus::Incomplete);
    };
    let packet_type = PacketType::from_nibble(first >> 4, version)?;
    let flags = first & 0x0F;
    if let Some(required) = packet_type.required_flags()
        && flags != required
    {
        return Err(DecodeError::ReservedFlags { packet_type, flags });
    }
    match read_var_int(rest)? {
        VarInt::Incomplete => Ok(HeaderStatus::Incomplete),
        VarInt::Complete(remaining_length, len) => Ok(HeaderStatus::Complete(FixedHeader {
            packet_type,
            flags,
            remaining_length,
            header_len: len.saturating_add(1),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets are named, and shown, as the standards write them.
    #[test]
    fn packet_types_are_named_as_the_standards_write_them() {
        assert_eq!(PacketType::Publish.name(), "PUBLISH");
        assert_eq!(PacketType::UnsubAck.name(), "UNSUBACK");
        assert_eq!(alloc::format!("{}", PacketType::PingReq), "PINGREQ");
    }

    /// v5 [MQTT-3.8.1-1], v3.1.1 [MQTT-3.8.1-1]: SUBSCRIBE flags must be 0010.
    #[test]
    fn v5_mqtt_3_8_1_1_subscribe_flags_0000_are_rejected() {
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            assert_eq!(
                read_fixed_header(&[0x80, 0x00], version),
                Err(DecodeError::ReservedFlags {
                    packet_type: PacketType::Subscribe,
                    flags: 0
                })
            );
        }
    }

    /// v5 [MQTT-3.6.1-1], v3.1.1 [MQTT-3.6.1-1]: PUBREL flags must be 0010.
    #[test]
    fn v5_mqtt_3_6_1_1_pubrel_flags_0000_are_rejected() {
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            assert!(read_fixed_header(&[0x60, 0x02], version).is_err());
            assert!(read_fixed_header(&[0x62, 0x02], version).is_ok());
        }
    }

    #[test]
    fn auth_exists_only_in_v5_and_type_0_never() {
        assert_eq!(
            read_fixed_header(&[0xF0, 0x00], ProtocolVersion::V3_1_1),
            Err(DecodeError::InvalidPacketType(15))
        );
        assert!(read_fixed_header(&[0xF0, 0x00], ProtocolVersion::V5).is_ok());
        assert_eq!(
            read_fixed_header(&[0x00, 0x00], ProtocolVersion::V5),
            Err(DecodeError::InvalidPacketType(0))
        );
    }

    #[test]
    fn incomplete_and_five_byte_remaining_length() {
        assert_eq!(
            read_fixed_header(&[0x30, 0x80], ProtocolVersion::V5),
            Ok(HeaderStatus::Incomplete)
        );
        assert_eq!(
            read_fixed_header(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], ProtocolVersion::V5),
            Err(DecodeError::MalformedVariableByteInteger)
        );
        assert_eq!(
            read_fixed_header(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F], ProtocolVersion::V5),
            Ok(HeaderStatus::Complete(FixedHeader {
                packet_type: PacketType::Publish,
                flags: 0,
                remaining_length: 268_435_455,
                header_len: 5
            }))
        );
    }
}
