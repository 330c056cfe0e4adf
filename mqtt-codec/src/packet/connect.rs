//! CONNECT (v5 §3.1, v3.1.1 §3.1, and the 3.1 `MQIsdp` form).

use bytes::{BufMut, Bytes};
use mqttkit_topic::TopicName;

use super::{Body, PacketDecoder, decode_topic_name};
use crate::coding::{
    be_u16, binary, byte, length_prefixed, length_prefixed_len, put_length_prefixed, string, sum,
};
use crate::error::{DecodeError, EncodeError, VersionFeature};
use crate::header::PacketType;
use crate::property::{ConnectProperties, EncodedProperties, WillProperties};
use crate::types::{MqttString, QoS};
use crate::version::ProtocolVersion;

/// The Will Message of a CONNECT (v5 §3.1.3.2 to §3.1.3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    /// Will Topic.
    pub topic: TopicName,
    /// Will Payload.
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will Properties (5.0).
    pub properties: WillProperties,
}

impl LastWill {
    /// A QoS 0, non-retained will.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>) -> Self {
        Self {
            topic,
            payload: payload.into(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties::default(),
        }
    }
}

/// User name and password of a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Login {
    /// User Name; 3.1 and 3.1.1 allow a password only with one
    /// (v3.1.1 [MQTT-3.1.2-22]).
    pub username: Option<MqttString>,
    /// Password (binary data).
    pub password: Option<Bytes>,
}

/// A CONNECT packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version it asks for. A CONNECT is always decoded and
    /// encoded with its own version, whatever version the codec is set to.
    pub protocol_version: ProtocolVersion,
    /// Clean Start (5.0) or Clean Session (3.1, 3.1.1).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// Client Identifier (may be empty; the server decides, v5 §3.1.3.1).
    pub client_id: MqttString,
    /// The Will Message.
    pub will: Option<LastWill>,
    /// User name and password.
    pub login: Login,
    /// MQTT 5.0 properties.
    pub properties: ConnectProperties,
}

impl Connect {
    /// A clean CONNECT for `version` with `client_id` and a 60 s keep alive.
    pub fn new(version: ProtocolVersion, client_id: MqttString) -> Self {
        Self {
            protocol_version: version,
            clean_start: true,
            keep_alive: 60,
            client_id,
            will: None,
            login: Login::default(),
            properties: ConnectProperties::default(),
        }
    }

    fn flags(&self) -> u8 {
        let mut flags = u8::from(self.clean_start) << 1;
        if let Some(will) = &self.will {
            flags |= 0b100 | (will.qos.bits() << 3) | (u8::from(will.retain) << 5);
        }
        if self.login.password.is_some() {
            flags |= 0b0100_0000;
        }
        if self.login.username.is_some() {
            flags |= 0b1000_0000;
        }
        flags
    }
}

/// Reads the protocol name and level: v5 [MQTT-3.1.2-1], [MQTT-3.1.2-2].
fn protocol_version(name: &[u8], level: u8) -> Result<ProtocolVersion, DecodeError> {
    let version = ProtocolVersion::from_level(level);
    match (name, version) {
        (b"MQTT", Some(v @ (ProtocolVersion::V3_1_1 | ProtocolVersion::V5))) => Ok(v),
        (b"MQIsdp", Some(ProtocolVersion::V3_1)) => Ok(ProtocolVersion::V3_1),
        (b"MQTT" | b"MQIsdp", _) => Err(DecodeError::UnsupportedProtocolLevel(level)),
        _ => Err(DecodeError::InvalidProtocolName),
    }
}

impl Body for Connect {
    const TYPE: PacketType = PacketType::Connect;

    fn decode(_: u8, body: &Bytes, _: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut p = PacketDecoder::new(Self::TYPE, body);
        let name = p.run(length_prefixed)?;
        let level = p.run(byte)?;
        let version = protocol_version(name, level)?;
        let flags = p.run(byte)?;
        // v5 [MQTT-3.1.2-3], v3.1.1 [MQTT-3.1.2-3].
        if flags & 1 != 0 {
            return Err(DecodeError::ConnectReservedFlag);
        }
        let will_flag = flags & 0b100 != 0;
        let will_qos = (flags >> 3) & 0b11;
        let will_retain = flags & 0b10_0000 != 0;
        // v5 [MQTT-3.1.2-11], [MQTT-3.1.2-12], [MQTT-3.1.2-13];
        // v3.1.1 [MQTT-3.1.2-13], [MQTT-3.1.2-14], [MQTT-3.1.2-15].
        let will_qos = match QoS::from_bits(will_qos) {
            Some(qos) if will_flag || (qos == QoS::AtMostOnce && !will_retain) => qos,
            _ => return Err(DecodeError::InconsistentWillFlags),
        };
        let has_password = flags & 0b0100_0000 != 0;
        let has_username = flags & 0b1000_0000 != 0;
        // v3.1.1 [MQTT-3.1.2-22]; 5.0 allows a password alone (v5 §3.1.2.9).
        if !version.is_v5() && has_password && !has_username {
            return Err(DecodeError::PasswordWithoutUsername);
        }
        let keep_alive = p.run(be_u16)?;
        let properties = p.properties(version)?;
        let client_id = p.run(|i| string(body, i))?;
        let will = if will_flag {
            let properties = p.properties(version)?;
            let topic = decode_topic_name(body, p.run(length_prefixed)?)?;
            let payload = p.run(|i| binary(body, i))?;
            Some(LastWill {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        // v5 [MQTT-3.1.2-16..19]: the fields are present exactly when flagged.
        let username = if has_username {
            Some(p.run(|i| string(body, i))?)
        } else {
            None
        };
        let password = if has_password {
            Some(p.run(|i| binary(body, i))?)
        } else {
            None
        };
        p.finish()?;
        Ok(Self {
            protocol_version: version,
            clean_start: flags & 0b10 != 0,
            keep_alive,
            client_id,
            will,
            login: Login { username, password },
            properties,
        })
    }

    fn remaining_len(&self, _: ProtocolVersion) -> Result<usize, EncodeError> {
        let version = self.protocol_version;
        if !version.is_v5() && self.login.password.is_some() && self.login.username.is_none() {
            return Err(EncodeError::NotInVersion(
                VersionFeature::PasswordWithoutUsername,
            ));
        }
        // Protocol name, level, flags and keep alive.
        let mut len = sum([2, version.protocol_name().len(), 1, 1, 2]);
        if version.is_v5() {
            len = sum([len, EncodedProperties::new(&self.properties)?.len()]);
        }
        len = sum([len, 2, self.client_id.len()]);
        if let Some(will) = &self.will {
            if version.is_v5() {
                len = sum([len, EncodedProperties::new(&will.properties)?.len()]);
            }
            len = sum([
                len,
                2,
                will.topic.len(),
                length_prefixed_len(&will.payload)?,
            ]);
        }
        if let Some(username) = &self.login.username {
            len = sum([len, 2, username.len()]);
        }
        if let Some(password) = &self.login.password {
            len = sum([len, length_prefixed_len(password)?]);
        }
        Ok(len)
    }

    fn put_body(&self, _: ProtocolVersion, buf: &mut impl BufMut) {
        let version = self.protocol_version;
        put_length_prefixed(buf, version.protocol_name().as_bytes());
        buf.put_u8(version.level());
        buf.put_u8(self.flags());
        buf.put_u16(self.keep_alive);
        if version.is_v5()
            && let Ok(props) = EncodedProperties::new(&self.properties)
        {
            props.put(buf);
        }
        put_length_prefixed(buf, self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if version.is_v5()
                && let Ok(props) = EncodedProperties::new(&will.properties)
            {
                props.put(buf);
            }
            put_length_prefixed(buf, will.topic.as_bytes());
            put_length_prefixed(buf, &will.payload);
        }
        if let Some(username) = &self.login.username {
            put_length_prefixed(buf, username.as_bytes());
        }
        if let Some(password) = &self.login.password {
            put_length_prefixed(buf, password);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::packet::Packet;
    use crate::packet::tests::{decode_hex, roundtrip};

    fn s(v: &str) -> MqttString {
        MqttString::try_from(v).unwrap()
    }

    /// v3.1.1 §3.1: the minimal CONNECT of the standard's example layout.
    #[test]
    fn v3_1_1_connect_bytes() {
        let connect = Connect::new(ProtocolVersion::V3_1_1, s("c"));
        let bytes = decode_hex("10 0d 0004 4d515454 04 02 003c 0001 63");
        roundtrip(&connect.into(), ProtocolVersion::V3_1_1, &bytes);
    }

    /// v3.1 CONNECT: protocol name `MQIsdp`, level 3.
    #[test]
    fn v3_1_connect_bytes() {
        let connect = Connect::new(ProtocolVersion::V3_1, s("c"));
        let bytes = decode_hex("10 0f 0006 4d5149736470 03 02 003c 0001 63");
        roundtrip(&connect.into(), ProtocolVersion::V3_1_1, &bytes);
    }

    /// v5 §3.1 with will, credentials and properties.
    #[test]
    fn v5_connect_with_will_credentials_and_properties() {
        let mut connect = Connect::new(ProtocolVersion::V5, s("id"));
        connect.keep_alive = 10;
        connect.properties.session_expiry_interval = Some(30);
        let mut will = LastWill::new(TopicName::from_static("w").unwrap(), &b"bye"[..]);
        will.qos = QoS::AtLeastOnce;
        will.retain = true;
        will.properties.will_delay_interval = Some(5);
        connect.will = Some(will);
        connect.login = Login {
            username: Some(s("u")),
            password: Some(Bytes::from_static(b"p")),
        };
        let bytes = decode_hex(
            "10 28 0004 4d515454 05 ee 000a 05 11 0000001e 0002 6964 \
             05 1800000005 0001 77 0003 627965 0001 75 0001 70",
        );
        roundtrip(&connect.into(), ProtocolVersion::V5, &bytes);
    }

    /// v5 [MQTT-3.1.2-3], v3.1.1 [MQTT-3.1.2-3].
    #[test]
    fn v5_mqtt_3_1_2_3_reserved_flag_is_rejected() {
        let v3 = decode_hex("10 0d 0004 4d515454 04 03 003c 0001 63");
        let v5 = decode_hex("10 0e 0004 4d515454 05 03 003c 00 0001 63");
        for (bytes, version) in [(v3, ProtocolVersion::V3_1_1), (v5, ProtocolVersion::V5)] {
            assert_eq!(
                Packet::decode(&bytes, version),
                Err(DecodeError::ConnectReservedFlag)
            );
        }
    }

    /// v5 [MQTT-3.1.2-1], [MQTT-3.1.2-2]: name and level, answered with 0x84.
    #[test]
    fn v5_mqtt_3_1_2_1_bad_protocol_name_and_level() {
        let bad_name = decode_hex("10 0d 0004 4d515458 04 02 003c 0001 63");
        let err = Packet::decode(&bad_name, ProtocolVersion::V5).unwrap_err();
        assert_eq!(err, DecodeError::InvalidProtocolName);
        assert_eq!(
            err.reason_code(),
            crate::ReasonCode::UnsupportedProtocolVersion
        );
        let bad_level = decode_hex("10 0d 0004 4d515454 06 02 003c 0001 63");
        assert_eq!(
            Packet::decode(&bad_level, ProtocolVersion::V5),
            Err(DecodeError::UnsupportedProtocolLevel(6))
        );
    }

    /// v5 [MQTT-3.1.2-11], [MQTT-3.1.2-13]; v3.1.1 [MQTT-3.1.2-13], [MQTT-3.1.2-15].
    #[test]
    fn v5_mqtt_3_1_2_11_will_qos_or_retain_without_will_flag() {
        for flags in ["0a", "22", "1e"] {
            let v3 = decode_hex(&alloc::format!(
                "10 0d 0004 4d515454 04 {flags} 003c 0001 63"
            ));
            let v5 = decode_hex(&alloc::format!(
                "10 0e 0004 4d515454 05 {flags} 003c 00 0001 63"
            ));
            for (bytes, version) in [(v3, ProtocolVersion::V3_1_1), (v5, ProtocolVersion::V5)] {
                assert_eq!(
                    Packet::decode(&bytes, version),
                    Err(DecodeError::InconsistentWillFlags),
                    "flags {flags} in {version:?}"
                );
            }
        }
    }

    /// v3.1.1 [MQTT-3.1.2-22]: password flag without user name flag.
    #[test]
    fn v3_1_1_mqtt_3_1_2_22_password_without_username() {
        let bytes = decode_hex("10 10 0004 4d515454 04 42 003c 0001 63 0001 70");
        assert_eq!(
            Packet::decode(&bytes, ProtocolVersion::V3_1_1),
            Err(DecodeError::PasswordWithoutUsername)
        );
    }

    /// v5 §3.1.2.11: Receive Maximum 0 and Maximum Packet Size 0 are Protocol Errors.
    #[test]
    fn v5_connect_zero_receive_maximum_and_packet_size() {
        for prop in ["03 210000", "05 2700000000"] {
            let props = decode_hex(prop);
            let mut bytes = decode_hex("10 00 0004 4d515454 05 02 003c");
            bytes.extend_from_slice(&props);
            bytes.extend_from_slice(&decode_hex("0001 63"));
            bytes[1] = u8::try_from(bytes.len() - 2).unwrap();
            let err = Packet::decode(&bytes, ProtocolVersion::V5).unwrap_err();
            assert!(
                matches!(err, DecodeError::InvalidPropertyValue(_)),
                "{err:?}"
            );
            assert_eq!(err.reason_code(), crate::ReasonCode::ProtocolError);
        }
    }
}
