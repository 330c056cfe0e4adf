//! Accepting and refusing connections (v5 §3.1, §3.2; v3.1.1 §3.1, §3.2).

use bytes::BytesMut;
use mqttkit_codec::{
    Auth, AuthReasonCode, ConnAck, ConnectReasonCode, DisconnectReasonCode, Packet,
    ProtocolVersion, QoS,
};
use mqttkit_session::{
    Delivery, Incoming, IncomingErrorKind, Instant, PeerMisbehaved, ServerConfig, ViolationKind,
};

use crate::{Peer, connect, decode_all, encode, message, s};

fn incoming(c: mqttkit_codec::Connect) -> Incoming {
    let mut bytes = encode(c.protocol_version, &Packet::Connect(Box::new(c)));
    Incoming::read(&mut bytes, None).unwrap().unwrap()
}

fn connack(version: ProtocolVersion, bytes: &[u8]) -> ConnAck {
    match decode_all(version, bytes).pop() {
        Some(Packet::ConnAck(a)) => *a,
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

fn persistent(version: ProtocolVersion) -> mqttkit_codec::Connect {
    let mut c = connect(version, "c1", false);
    c.properties.session_expiry_interval = Some(600);
    c
}

/// v5 [MQTT-3.2.2-3], [MQTT-3.1.2-5], [MQTT-3.1.4-4], v3.1.1 [MQTT-3.2.2-2],
/// [MQTT-3.1.4-3]: Clean Start 0 and a session that exists: Session
/// Present 1 and the session is resumed (its message goes on).
#[test]
fn v5_mqtt_3_2_2_3_resume_sets_session_present() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut a = Peer::open(persistent(version), ServerConfig::default(), None);
        assert_fresh(&a.take());
        a.server
            .deliver(
                a.now,
                Delivery::new(
                    message("t", QoS::AtLeastOnce),
                    mqttkit_codec::SubscriptionOptions::new(QoS::AtLeastOnce),
                ),
            )
            .unwrap();
        a.server.handle_transport_closed(a.now);
        let b = Peer::open(persistent(version), ServerConfig::default(), Some(a.server));
        let ack = match &b.received[0] {
            Packet::ConnAck(a) => a.clone(),
            other => panic!("{other:?}"),
        };
        assert!(ack.session_present, "{version}");
        assert_eq!(b.server.session().inflight().count(), 1);
    }
}

/// v5 [MQTT-3.1.2-4], [MQTT-3.2.2-2], [MQTT-3.1.4-4], v3.1.1 [MQTT-3.1.2-6],
/// [MQTT-3.2.2-1], [MQTT-3.1.4-3]: Clean Start 1 discards the existing
/// session and answers Session Present 0.
#[test]
fn v5_mqtt_3_2_2_2_clean_start_discards() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut a = Peer::open(persistent(version), ServerConfig::default(), None);
        a.server
            .deliver(
                a.now,
                Delivery::new(
                    message("t", QoS::AtLeastOnce),
                    mqttkit_codec::SubscriptionOptions::new(QoS::AtLeastOnce),
                ),
            )
            .unwrap();
        a.server.handle_transport_closed(a.now);
        let b = Peer::open(
            connect(version, "c1", true),
            ServerConfig::default(),
            Some(a.server),
        );
        assert_fresh(&b.received);
        assert_eq!(b.server.session().inflight().count(), 0);
        assert_eq!(b.server.subscriptions().count(), 0);
    }
}

/// v5 [MQTT-3.2.2-3]: Clean Start 0 without a session: Session Present 0.
#[test]
fn v5_mqtt_3_2_2_3_no_session_no_session_present() {
    let b = Peer::open(
        persistent(ProtocolVersion::V5),
        ServerConfig::default(),
        None,
    );
    assert_fresh(&b.received);
}

/// v5 [MQTT-3.1.3-6], [MQTT-3.2.2-16]: an empty identifier gets one
/// assigned, returned as Assigned Client Identifier.
#[test]
fn v5_mqtt_3_2_2_16_assigned_client_identifier() {
    let mut inc = incoming(connect(ProtocolVersion::V5, "", false));
    inc.assign_client_id(s("gen-1")).unwrap();
    let mut server = inc
        .accept(Instant::ZERO, None, ServerConfig::default())
        .unwrap();
    let mut out = BytesMut::new();
    while server.poll_transmit(&mut out).is_some() {}
    let ack = connack(ProtocolVersion::V5, &out);
    assert_eq!(ack.properties.assigned_client_identifier, Some(s("gen-1")));
    assert_eq!(server.client_id(), &s("gen-1"));
}

/// v3.1.1 [MQTT-3.1.3-8]: an empty identifier with CleanSession 0 is
/// refused with return code 0x02.
#[test]
fn v3_mqtt_3_1_3_8_empty_id_with_clean_session_0_refused() {
    let mut inc = incoming(connect(ProtocolVersion::V3_1_1, "", false));
    let code = inc.assign_client_id(s("gen-1")).unwrap_err();
    assert_eq!(code, ConnectReasonCode::ClientIdentifierNotValid);
    let reply = inc.refuse(code);
    assert_eq!(&reply[..], [0x20, 0x02, 0x00, 0x02]);
}

/// v3.1.1 [MQTT-3.1.3-6], [MQTT-3.1.3-7]: an empty identifier with
/// CleanSession 1 is given a unique one; CONNACK cannot carry it.
#[test]
fn v3_mqtt_3_1_3_6_empty_id_with_clean_session_1_assigned() {
    let mut inc = incoming(connect(ProtocolVersion::V3_1_1, "", true));
    inc.assign_client_id(s("gen-2")).unwrap();
    let mut server = inc
        .accept(Instant::ZERO, None, ServerConfig::default())
        .unwrap();
    let mut out = BytesMut::new();
    while server.poll_transmit(&mut out).is_some() {}
    assert_eq!(&out[..], [0x20, 0x02, 0x00, 0x00]);
    assert_eq!(server.client_id(), &s("gen-2"));
}

/// v3.1 §3.1 (identifier of 1 to 23 characters): an empty identifier is
/// always refused with 0x02, whatever Clean Session says.
#[test]
fn v3_1_empty_id_always_refused() {
    for clean in [true, false] {
        let mut inc = incoming(connect(ProtocolVersion::V3_1, "", clean));
        assert_eq!(
            inc.assign_client_id(s("x")),
            Err(ConnectReasonCode::ClientIdentifierNotValid)
        );
        let refused = inc
            .accept(Instant::ZERO, None, ServerConfig::default())
            .unwrap_err();
        assert_eq!(&refused.reply[..], [0x20, 0x02, 0x00, 0x02]);
    }
}

/// v5 [MQTT-3.1.3-8]: an empty identifier the application does not assign
/// is refused with 0x85, and the offered session is given back.
#[test]
fn v5_mqtt_3_1_3_8_unassigned_empty_id_refused_with_0x85() {
    let owner = Peer::open(
        persistent(ProtocolVersion::V5),
        ServerConfig::default(),
        None,
    );
    let inc = incoming(connect(ProtocolVersion::V5, "", true));
    let refused = inc
        .accept(Instant::ZERO, Some(owner.server), ServerConfig::default())
        .unwrap_err();
    let ack = connack(ProtocolVersion::V5, &refused.reply);
    assert_eq!(ack.reason_code, ConnectReasonCode::ClientIdentifierNotValid);
    assert!(refused.session.is_some());
}

/// v5 [MQTT-3.2.2-6], [MQTT-3.2.2-7], v3.1.1 [MQTT-3.2.2-4],
/// [MQTT-3.2.2-5]: a refusal has Session Present 0 and the code of the
/// peer's version; 5.0-only codes map to the nearest 3.1.1 return code.
#[test]
fn v5_mqtt_3_2_2_6_refusal_codes_by_version() {
    let cases = [
        (ConnectReasonCode::NotAuthorized, 0x87, 5),
        (ConnectReasonCode::BadUserNameOrPassword, 0x86, 4),
        (ConnectReasonCode::Banned, 0x8A, 5),
        (ConnectReasonCode::ServerBusy, 0x89, 3),
        (ConnectReasonCode::QuotaExceeded, 0x97, 3),
    ];
    for (code, v5, v3) in cases {
        let reply = incoming(connect(ProtocolVersion::V5, "c", true)).refuse(code);
        assert_eq!(&reply[..4], [0x20, 0x03, 0x00, v5]);
        let reply = incoming(connect(ProtocolVersion::V3_1_1, "c", true)).refuse(code);
        assert_eq!(&reply[..], [0x20, 0x02, 0x00, v3]);
    }
}

/// v3.1.1 [MQTT-3.1.2-2], v5 [MQTT-3.1.2-2]: an unsupported protocol level
/// is answered with return code 0x01 and the connection closed.
#[test]
fn v3_mqtt_3_1_2_2_unsupported_level() {
    let mut bytes = BytesMut::from(
        &[
            0x10, 0x0c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x07, 0x02, 0x00, 0x3c, 0x00, 0x00,
        ][..],
    );
    let err = Incoming::read(&mut bytes, None).unwrap_err();
    assert_eq!(err.reply.as_deref(), Some(&[0x20, 0x02, 0x00, 0x01][..]));
}

/// v5 [MQTT-3.1.0-1], v3.1.1 [MQTT-3.1.0-1]: the first packet must be
/// CONNECT; anything else closes without a reply.
#[test]
fn v5_mqtt_3_1_0_1_first_packet_is_connect() {
    let mut bytes = BytesMut::from(&[0xC0, 0x00][..]);
    let err = Incoming::read(&mut bytes, None).unwrap_err();
    assert_eq!(err.error, IncomingErrorKind::NotConnect);
    assert_eq!(err.reply, None);
}

/// v5 §4.13.1 / [MQTT-3.1.4-1]: a malformed 5.0 CONNECT gets CONNACK with
/// the codec's reason code; a 3.1.1 one only a close (v3.1.1 [MQTT-4.8.0-1],
/// [MQTT-3.1.4-1], [MQTT-3.2.2-6]: no return code applies, no CONNACK).
#[test]
fn v5_malformed_connect_gets_connack_with_reason() {
    // Will QoS 3 in the connect flags: malformed.
    let mut v5 = BytesMut::from(
        &[
            0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x1e, 0x00, 0x3c, 0x00, 0x00,
            0x01, b'c',
        ][..],
    );
    let err = Incoming::read(&mut v5, None).unwrap_err();
    let reply = err.reply.expect("a CONNACK");
    assert_eq!(reply[0], 0x20);
    assert!(reply[3] >= 0x80);
    let mut v3 = BytesMut::from(
        &[
            0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x1e, 0x00, 0x3c, 0x00, 0x01,
            b'c',
        ][..],
    );
    assert_eq!(Incoming::read(&mut v3, None).unwrap_err().reply, None);
}

/// v5 [MQTT-3.1.0-2], v3.1.1 [MQTT-3.1.0-2]: a second CONNECT is a
/// protocol violation that closes the connection: after DISCONNECT 0x82 in
/// 5.0, with nothing sent in 3.1.1, which has no server DISCONNECT.
#[test]
fn v5_mqtt_3_1_0_2_second_connect() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut p = Peer::open(connect(version, "c1", true), ServerConfig::default(), None);
        p.take();
        let err = p
            .send(Packet::Connect(Box::new(connect(version, "c1", true))))
            .unwrap_err();
        assert_eq!(err.reason, mqttkit_codec::ReasonCode::ProtocolError);
        assert_eq!(
            err.kind,
            ViolationKind::Rule(PeerMisbehaved::SecondConnect),
            "{version}"
        );
        let expected = if version.is_v5() {
            vec![Packet::Disconnect(mqttkit_codec::Disconnect::new(
                DisconnectReasonCode::ProtocolError,
            ))]
        } else {
            Vec::new()
        };
        assert_eq!(p.take(), expected, "{version}");
        assert!(!p.server.is_connected(), "{version}");
    }
}

/// v5 [MQTT-3.2.2-9], §3.2.2.3: the CONNACK states each limit that differs
/// from the protocol's default (Maximum QoS below 2, Retain Available and
/// Shared Subscription Available 0, Topic Alias Maximum above 0, Receive
/// Maximum below 65,535) and leaves out those at their defaults.
#[test]
fn v5_mqtt_3_2_2_9_connack_states_the_limits_that_apply() {
    let connack_of = |config: ServerConfig| {
        let mut p = Peer::open(connect(ProtocolVersion::V5, "c1", true), config, None);
        match p.take().into_iter().next() {
            Some(Packet::ConnAck(a)) => a.properties,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    };
    let limited = connack_of(ServerConfig {
        receive_maximum: 10,
        topic_alias_maximum: 5,
        maximum_qos: QoS::AtLeastOnce,
        retain_available: false,
        shared_subscription_available: false,
        ..ServerConfig::default()
    });
    assert_eq!(limited.receive_maximum.map(|r| r.get()), Some(10));
    assert_eq!(limited.topic_alias_maximum, Some(5));
    assert_eq!(limited.maximum_qos, Some(QoS::AtLeastOnce));
    assert_eq!(limited.retain_available, Some(false));
    assert_eq!(limited.shared_subscription_available, Some(false));
    let defaults = connack_of(ServerConfig {
        receive_maximum: u16::MAX,
        topic_alias_maximum: 0,
        maximum_qos: QoS::ExactlyOnce,
        retain_available: true,
        shared_subscription_available: true,
        ..ServerConfig::default()
    });
    assert_eq!(defaults.receive_maximum, None);
    assert_eq!(defaults.topic_alias_maximum, None);
    assert_eq!(defaults.maximum_qos, None);
    assert_eq!(defaults.retain_available, None);
    assert_eq!(defaults.shared_subscription_available, None);
}

/// v5 [MQTT-4.12.0-7]: a client whose CONNECT named no Authentication
/// Method must not send AUTH; one that does is closed with DISCONNECT 0x82.
#[test]
fn v5_mqtt_4_12_0_7_auth_without_method_closes() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V5, "c1", true),
        ServerConfig::default(),
        None,
    );
    p.take();
    let err = p
        .send(Auth::new(AuthReasonCode::ContinueAuthentication).into())
        .unwrap_err();
    assert_eq!(
        err.kind,
        ViolationKind::Rule(PeerMisbehaved::UnexpectedAuthFromClient)
    );
    assert_eq!(
        p.take(),
        [Packet::Disconnect(mqttkit_codec::Disconnect::new(
            DisconnectReasonCode::ProtocolError,
        ))]
    );
}

/// v5 §4.12, [MQTT-4.12.0-1]: enhanced authentication continues with AUTH
/// 0x18 carrying the method; the CONNACK that ends it carries the method.
#[test]
fn v5_mqtt_4_12_0_1_enhanced_auth_exchange() {
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.properties.authentication_method = Some(s("SCRAM-SHA-1"));
    let mut inc = incoming(c);
    let challenge = inc
        .challenge(Some(bytes::Bytes::from_static(b"nonce")))
        .unwrap();
    let Packet::Auth(auth) = decode_all(ProtocolVersion::V5, &challenge).pop().unwrap() else {
        panic!()
    };
    assert_eq!(
        auth.reason_code,
        mqttkit_codec::AuthReasonCode::ContinueAuthentication
    );
    let mut answer =
        mqttkit_codec::Auth::new(mqttkit_codec::AuthReasonCode::ContinueAuthentication);
    answer.properties.authentication_method = Some(s("SCRAM-SHA-1"));
    answer.properties.authentication_data = Some(bytes::Bytes::from_static(b"proof"));
    let mut wire = encode(ProtocolVersion::V5, &Packet::from(answer));
    let got = inc.read_auth(&mut wire).unwrap().unwrap();
    assert_eq!(
        got.properties.authentication_data.as_deref(),
        Some(&b"proof"[..])
    );
    inc.set_auth_data(bytes::Bytes::from_static(b"ok"));
    let mut server = inc
        .accept(Instant::ZERO, None, ServerConfig::default())
        .unwrap();
    let mut out = BytesMut::new();
    while server.poll_transmit(&mut out).is_some() {}
    let ack = connack(ProtocolVersion::V5, &out);
    assert_eq!(ack.properties.authentication_method, Some(s("SCRAM-SHA-1")));
    // Another method in the answer is refused.
    let mut bad = mqttkit_codec::Auth::new(mqttkit_codec::AuthReasonCode::ContinueAuthentication);
    bad.properties.authentication_method = Some(s("PLAIN"));
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.properties.authentication_method = Some(s("SCRAM-SHA-1"));
    let mut inc = incoming(c);
    let mut wire = encode(ProtocolVersion::V5, &Packet::from(bad));
    assert_eq!(
        inc.read_auth(&mut wire).unwrap_err(),
        ConnectReasonCode::ProtocolError
    );
}

fn assert_fresh(packets: &[Packet]) {
    assert!(matches!(
        packets,
        [Packet::ConnAck(ack)] if matches!(**ack, ConnAck {
            session_present: false,
            reason_code: ConnectReasonCode::Success,
            ..
        })
    ));
}
