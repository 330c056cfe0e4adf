//! What the encoder accepts, the decoder accepts: the encoder refuses a
//! packet that breaks a rule the decoder enforces, instead of writing bytes
//! the peer must treat as a Protocol Error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    missing_docs
)]

mod common;

use bytes::Bytes;
use mqttkit_codec::{
    Auth, AuthReasonCode, ConnAck, Connect, ConnectReasonCode, EncodeError, InvalidPacket,
    MqttString, Packet, ProtocolVersion, QoS,
};
use proptest::option;
use proptest::prelude::*;

/// Encoding fails, and writes nothing.
fn refused(packet: &Packet, version: ProtocolVersion) -> EncodeError {
    let mut wire = Vec::new();
    let err = packet.encode(version, &mut wire).unwrap_err();
    assert!(wire.is_empty(), "bytes written for a refused packet");
    assert_eq!(packet.encoded_len(version), Err(err));
    err
}

/// v5 §3.2.2.3.4: "It is a Protocol Error to include Maximum QoS more than
/// once, or to have a value other than 0 or 1."
#[test]
fn v5_connack_maximum_qos_2_is_not_encoded() {
    let mut ack = ConnAck::new(false, ConnectReasonCode::Success);
    ack.properties.maximum_qos = Some(QoS::ExactlyOnce);
    assert_eq!(
        refused(&ack.into(), ProtocolVersion::V5),
        EncodeError::ValueOutOfRange(mqttkit_codec::PropertyId::MaximumQoS)
    );
}

/// v5 §3.1.2.11.10, §3.2.2.3.18, §3.15.2.2.3: "It is a Protocol Error to
/// include Authentication Data if there is no Authentication Method."
#[test]
fn v5_authentication_data_without_method_is_not_encoded() {
    let data = Some(Bytes::from_static(b"\x01"));

    let mut connect = Connect::new(ProtocolVersion::V5, MqttString::new());
    connect.properties.authentication_data = data.clone();
    let mut connack = ConnAck::new(false, ConnectReasonCode::Success);
    connack.properties.authentication_data = data.clone();
    let mut auth = Auth::new(AuthReasonCode::ContinueAuthentication);
    auth.properties.authentication_data = data;

    for packet in [connect.into(), connack.into(), auth.into()] {
        assert!(matches!(
            refused(&packet, ProtocolVersion::V5),
            EncodeError::InvalidPacket(InvalidPacket::AuthenticationDataWithoutMethod)
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Loosened CONNACK and AUTH properties: any Maximum QoS, Data with or
    /// without a Method. Whatever encodes decodes to the same packet.
    #[test]
    fn v5_whatever_encodes_decodes(
        connack in common::connack(ProtocolVersion::V5),
        auth in common::auth(),
        max_qos in option::of(common::qos()),
        method in option::of(common::mqtt_string()),
        data in option::of(common::binary(4)),
    ) {
        let mut connack = connack;
        connack.properties.maximum_qos = max_qos;
        connack.properties.authentication_method = method.clone();
        connack.properties.authentication_data = data.clone();
        let mut auth = auth;
        auth.properties.authentication_method = method;
        auth.properties.authentication_data = data;
        for packet in [Packet::from(connack), Packet::from(auth)] {
            let mut wire = Vec::new();
            if packet.encode(ProtocolVersion::V5, &mut wire).is_ok() {
                prop_assert_eq!(Packet::decode(&wire, ProtocolVersion::V5), Ok(packet));
            } else {
                prop_assert!(wire.is_empty());
            }
        }
    }
}
