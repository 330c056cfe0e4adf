//! AUTH (v5 §3.15), MQTT 5.0 only.

use bytes::{BufMut, Bytes};

use super::Body;
use super::disconnect::{decode_short_form, put_short_form, short_form_len};
use crate::error::{DecodeError, EncodeError};
use crate::header::PacketType;
use crate::property::AuthProperties;
use crate::reason::AuthReasonCode;
use crate::version::ProtocolVersion;

/// An AUTH packet of an enhanced authentication exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The reason code (v5 [MQTT-3.15.2-1]).
    pub reason_code: AuthReasonCode,
    /// Properties: Authentication Method and Data, Reason String, User Properties.
    pub properties: AuthProperties,
}

impl Auth {
    /// An AUTH with `reason_code` and no properties.
    pub fn new(reason_code: AuthReasonCode) -> Self {
        Self {
            reason_code,
            properties: AuthProperties::default(),
        }
    }
}

impl Body for Auth {
    const TYPE: PacketType = PacketType::Auth;

    fn decode(_: u8, body: &Bytes, _: ProtocolVersion) -> Result<Self, DecodeError> {
        // v5 §3.15.2.1: "The Reason Code and Property Length can be omitted if
        // the Reason Code is 0x00 (Success) and there are no Properties."
        // AUTH exists only in 5.0, whatever the codec's version says.
        let (reason_code, properties) = decode_short_form(
            Self::TYPE,
            body,
            ProtocolVersion::V5,
            AuthReasonCode::from_u8,
            AuthReasonCode::Success,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::packet::Packet;
    use crate::packet::tests::{decode_hex, roundtrip};
    use crate::types::MqttString;

    /// v5 §3.15.2.1: `F0 00` is a Success AUTH.
    #[test]
    fn v5_auth_f0_00() {
        roundtrip(
            &Auth::new(AuthReasonCode::Success).into(),
            ProtocolVersion::V5,
            &[0xF0, 0x00],
        );
    }

    /// v5 §3.15.2.2: Continue authentication with method and data.
    #[test]
    fn v5_auth_continue_with_method_and_data() {
        let mut auth = Auth::new(AuthReasonCode::ContinueAuthentication);
        auth.properties.authentication_method = Some(MqttString::try_from("SCRAM").unwrap());
        auth.properties.authentication_data = Some(Bytes::from_static(b"\x01\x02"));
        let bytes = decode_hex("f0 0f 18 0d 15 0005 534352414d 16 0002 0102");
        roundtrip(&auth.into(), ProtocolVersion::V5, &bytes);
    }

    /// v5 §3.15.2.2.3: Authentication Data without a method is a Protocol Error.
    #[test]
    fn v5_auth_data_without_method_is_rejected() {
        assert_eq!(
            Packet::decode(&decode_hex("f0 07 18 05 16 0002 0102"), ProtocolVersion::V5),
            Err(DecodeError::AuthenticationDataWithoutMethod)
        );
    }

    /// AUTH does not exist in 3.1.1 (packet type 15 is reserved).
    #[test]
    fn auth_is_not_encodable_in_v3_1_1() {
        let packet: Packet = Auth::new(AuthReasonCode::Success).into();
        assert!(
            packet
                .encode(ProtocolVersion::V3_1_1, &mut alloc::vec::Vec::new())
                .is_err()
        );
    }
}
