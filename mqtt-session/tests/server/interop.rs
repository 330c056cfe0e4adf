//! Server-role regressions found by replaying mosquitto's broker compliance
//! corpus against a broker built on this crate (`tests/interop/replay_corpus.py`,
//! `INTEROP.md`). Each test names the statement our old behaviour broke.

use std::num::NonZeroU32;

use bytes::BytesMut;
use mqttkit_codec::{
    Disconnect, DisconnectReasonCode, Packet, ProtocolVersion, PubAck, PubAckReasonCode, PubComp,
    PubRec, PubRel, PubRelReasonCode, QoS, ReasonCode, SubscriptionOptions,
};
use mqttkit_session::{Delivery, Incoming, ServerCloseCause, ServerConfig, ServerEvent};

use crate::{Peer, connect, id, message, publish};

fn peer(version: ProtocolVersion) -> Peer {
    let mut p = Peer::open(connect(version, "c1", true), ServerConfig::default(), None);
    p.take();
    p
}

/// A peer with one delivery of `qos` in flight as packet identifier 1.
fn in_flight(version: ProtocolVersion, qos: QoS) -> Peer {
    let mut p = peer(version);
    p.deliver(Delivery::new(
        message("t", qos),
        SubscriptionOptions::new(QoS::ExactlyOnce),
    ))
    .unwrap();
    let sent = p.take();
    assert!(matches!(&sent[..], [Packet::Publish(p)] if p.qos.packet_id() == Some(id(1))));
    p
}

/// The client's `packet` is a protocol violation: 5.0 gets DISCONNECT 0x82,
/// 3.1.1 only the close, and the connection is over.
fn assert_protocol_error(mut p: Peer, packet: Packet) {
    let err = p.send(packet).unwrap_err();
    assert_eq!(err.reason, ReasonCode::ProtocolError);
    let expected: Vec<Packet> = if p.version.is_v5() {
        vec![Disconnect::new(DisconnectReasonCode::ProtocolError).into()]
    } else {
        Vec::new()
    };
    assert_eq!(p.take(), expected);
    assert!(!p.server.is_connected());
}

/// v5 [MQTT-4.3.2-4], v3.1.1 [MQTT-4.3.2-2], [MQTT-4.8.0-1]: a QoS 1
/// PUBLISH is answered with PUBACK; PUBREC or PUBCOMP for it breaks the
/// flow and closes the connection (it used to be ignored, leaving the
/// message unacknowledged until a reconnect).
#[test]
fn v5_mqtt_4_3_2_4_wrong_ack_for_qos1_closes() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let p = in_flight(version, QoS::AtLeastOnce);
        assert_protocol_error(p, PubRec::new(id(1)).into());
        let p = in_flight(version, QoS::AtLeastOnce);
        assert_protocol_error(p, PubComp::new(id(1)).into());
    }
}

/// v5 [MQTT-4.3.3-8], [MQTT-4.3.3-11], v3.1.1 [MQTT-4.3.3-2],
/// [MQTT-4.8.0-1]: a QoS 2 PUBLISH is answered with PUBREC and our PUBREL
/// with PUBCOMP; PUBACK at either step, or PUBCOMP before our PUBREL,
/// closes the connection.
#[test]
fn v5_mqtt_4_3_3_8_wrong_ack_for_qos2_closes() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let p = in_flight(version, QoS::ExactlyOnce);
        assert_protocol_error(p, PubAck::new(id(1)).into());
        let p = in_flight(version, QoS::ExactlyOnce);
        assert_protocol_error(p, PubComp::new(id(1)).into());
        let mut p = in_flight(version, QoS::ExactlyOnce);
        p.send(PubRec::new(id(1)).into()).unwrap();
        assert_eq!(p.take(), [Packet::PubRel(PubRel::new(id(1)))]);
        assert_protocol_error(p, PubAck::new(id(1)).into());
    }
}

/// v5 §4.3.3, v3.1.1 §4.3.3: the sender of a QoS 2 PUBLISH sends PUBREL in
/// answer to the receiver's PUBREC (v5 [MQTT-4.3.3-4]). A PUBREL for a
/// message the server has not answered yet, because the application has
/// not acknowledged it, is a protocol error: releasing it would end a flow
/// whose message was never accepted.
#[test]
fn v5_pubrel_before_our_pubrec_closes() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut p = peer(version);
        p.send(publish("t", QoS::ExactlyOnce, 1).into()).unwrap();
        assert_eq!(p.take(), [], "PUBREC waits for the application");
        assert_protocol_error(p, PubRel::new(id(1)).into());
    }
}

/// v5 [MQTT-4.3.3-4], §3.6.2.1: PUBREC below 0x80 for an identifier not in
/// flight gets PUBREL 0x92 (Packet Identifier not found), so that the
/// client can release the identifier it holds (v5 [MQTT-4.3.3-10]); 3.1.1
/// gets a plain PUBREL (v3.1.1 [MQTT-4.3.3-1]). A PUBREC 0x80 or above ends
/// the flow by itself and gets nothing; unknown PUBACK and PUBCOMP are
/// ignored. The connection stays.
#[test]
fn v5_mqtt_4_3_3_4_pubrec_unknown_id_gets_pubrel_0x92() {
    let mut p = peer(ProtocolVersion::V5);
    p.send(PubRec::new(id(1)).into()).unwrap();
    assert_eq!(
        p.take(),
        [Packet::PubRel(
            PubRel::new(id(1)).with_reason(PubRelReasonCode::PacketIdentifierNotFound)
        )]
    );
    p.send(
        PubRec::new(id(2))
            .with_reason(PubAckReasonCode::UnspecifiedError)
            .into(),
    )
    .unwrap();
    p.send(PubAck::new(id(3)).into()).unwrap();
    p.send(PubComp::new(id(4)).into()).unwrap();
    assert!(p.take().is_empty());
    assert!(p.server.is_connected());

    let mut p = peer(ProtocolVersion::V3_1_1);
    p.send(PubRec::new(id(1)).into()).unwrap();
    assert_eq!(p.take(), [Packet::PubRel(PubRel::new(id(1)))]);
    assert!(p.server.is_connected());
}

/// v5 [MQTT-3.3.4-6]: a PUBLISH from the client must not carry a
/// Subscription Identifier; one that does is a Protocol Error (it used to
/// be accepted and acknowledged).
#[test]
fn v5_mqtt_3_3_4_6_subscription_identifier_from_client_closes() {
    let p = peer(ProtocolVersion::V5);
    let mut publish = publish("t", QoS::AtLeastOnce, 1);
    publish
        .properties
        .push_subscription_identifier(NonZeroU32::new(1).unwrap());
    assert_protocol_error(p, publish.into());
}

/// v5 [MQTT-3.1.2-24], [MQTT-3.2.0-1]: a client whose Maximum Packet Size
/// is smaller than our CONNACK cannot be answered, and nothing may go
/// before the CONNACK: the connection is closed without a packet (it used
/// to stay open, silent, until the keep-alive ran out).
#[test]
fn v5_mqtt_3_1_2_24_connack_too_large_closes() {
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.properties.maximum_packet_size = NonZeroU32::new(2);
    let mut p = Peer::open(c, ServerConfig::default(), None);
    assert!(p.take().is_empty());
    assert!(!p.server.is_connected());
    assert!(p.take_events().iter().any(|e| matches!(
        e,
        ServerEvent::Closed(ServerCloseCause::ProtocolViolation(v))
            if v.reason == ReasonCode::PacketTooLarge
    )));
}

/// v3.1.1 [MQTT-3.1.2-1], v5 [MQTT-3.1.2-1]: a protocol name that is not
/// `MQTT` (here `MQTU` at levels 4 and 5, and one cut to `MQT`) is closed
/// without a CONNACK:
/// 3.1.1 must not go on "in line with this specification", 5.0 only allows
/// the CONNACK. An unknown level with the right name still gets 0x01
/// (v3.1.1 [MQTT-3.1.2-2]).
#[test]
fn v3_mqtt_3_1_2_1_bad_protocol_name_closes_without_connack() {
    for bytes in [
        &b"\x10\x0d\x00\x04MQTU\x04\x02\x00\x0a\x00\x01p"[..],
        &b"\x10\x0c\x00\x03MQT\x04\x02\x00\x0a\x00\x01p"[..],
        // Level 5: the name is checked before the level's reason codes.
        &b"\x10\x0e\x00\x04MQTU\x05\x02\x00\x0a\x00\x00\x01p"[..],
    ] {
        let mut buf = BytesMut::from(bytes);
        let err = Incoming::read(&mut buf, None).unwrap_err();
        assert_eq!(err.reply, None, "{bytes:02x?}");
    }
    // `MQTT` at level 6, which no version has: CONNACK return code 0x01.
    let mut buf = BytesMut::from(&b"\x10\x0c\x00\x04MQTT\x06\x02\x00\x0a\x00\x00"[..]);
    let err = Incoming::read(&mut buf, None).unwrap_err();
    assert_eq!(err.reply.as_deref(), Some(&[0x20, 0x02, 0x00, 0x01][..]));
}
