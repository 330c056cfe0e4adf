//! QoS 0, 1 and 2 flows, packet identifiers and ordering (v5 §4.3, §4.6, §2.2.1).

use super::*;

/// v5 [MQTT-4.3.1-1], [MQTT-3.3.1-2], v3.1.1 [MQTT-4.3.1-1], [MQTT-3.3.1-2]:
/// QoS 0 goes out with DUP 0 and no identifier.
#[test]
fn mqtt_4_3_1_1_qos0_dup_zero() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        p.connect_ok(false);
        let op = p.client.publish(p.now, msg("a", QoS::AtMostOnce)).unwrap();
        assert_eq!(publishes(&p.take_received()), [(None, false)]);
        assert!(p.take_events().contains(&Event::Published {
            op,
            reason: ReasonCode::Success
        }));
    }
}

/// v5 [MQTT-4.3.2-1], [MQTT-4.3.2-2], [MQTT-4.3.2-3], [MQTT-2.2.1-3]; v3.1.1
/// [MQTT-4.3.2-1], [MQTT-4.3.2-2], [MQTT-2.3.1-1], [MQTT-2.3.1-2]: an unused id, DUP 0,
/// unacknowledged until PUBACK.
#[test]
fn mqtt_4_3_2_1_to_3_qos1_sender() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        p.connect_ok(false);
        let a = p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
        let _b = p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
        assert_eq!(
            publishes(&p.take_received()),
            [(Some(1), false), (Some(2), false)]
        );
        assert_eq!(p.client.session().inflight().count(), 2);
        assert_eq!(p.store.outbound.len(), 2, "records stored before sending");
        p.server(PubAck::new(id(1))).unwrap();
        assert!(p.take_events().contains(&Event::Published {
            op: a,
            reason: ReasonCode::Success
        }));
        assert_eq!(p.client.session().inflight().count(), 1);
        assert_eq!(p.store.outbound.len(), 1);
    }
}

/// v5 [MQTT-4.3.3-1] to [MQTT-4.3.3-5], [MQTT-2.2.1-5], v3.1.1 [MQTT-4.3.3-1],
/// [MQTT-4.3.3-2], [MQTT-2.3.1-6]: QoS 2 sender: PUBLISH, PUBREL with the
/// PUBLISH's id on PUBREC, done on PUBCOMP.
#[test]
fn mqtt_4_3_3_1_to_5_qos2_sender() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        p.connect_ok(false);
        p.take_events();
        let op = p.client.publish(p.now, msg("a", QoS::ExactlyOnce)).unwrap();
        assert_eq!(publishes(&p.take_received()), [(Some(1), false)]);
        p.server(PubRec::new(id(1))).unwrap();
        assert_eq!(p.take_received(), [Packet::PubRel(PubRel::new(id(1)))]);
        assert!(
            p.store.outbound[&1].released,
            "release persisted before PUBREL"
        );
        assert!(p.take_events().is_empty());
        p.server(PubComp::new(id(1))).unwrap();
        assert_eq!(
            p.take_events(),
            [Event::Published {
                op,
                reason: ReasonCode::Success
            }]
        );
        assert_eq!(p.client.session().packet_ids_in_use(), 0);
        assert!(p.store.outbound.is_empty());
    }
}

/// v5 [MQTT-4.6.0-2], [MQTT-4.3.2-4]: acks given in any order, PUBACKs in arrival order.
#[test]
fn mqtt_4_6_0_2_puback_in_arrival_order() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    for n in [5, 3, 8] {
        p.server(incoming(QoS::AtLeastOnce, n)).unwrap();
    }
    let t = tokens(&p.take_events());
    p.client
        .ack(p.now, t[2], PubAckReasonCode::Success)
        .unwrap();
    p.client
        .ack(p.now, t[1], PubAckReasonCode::Success)
        .unwrap();
    p.flush();
    assert!(
        p.take_received().is_empty(),
        "held until the first is acked"
    );
    p.client
        .ack(p.now, t[0], PubAckReasonCode::Success)
        .unwrap();
    p.flush();
    let ids: Vec<_> = p
        .take_received()
        .iter()
        .map(|p| match p {
            Packet::PubAck(a) => a.packet_id.get(),
            _ => 0,
        })
        .collect();
    assert_eq!(ids, [5, 3, 8]);
}

/// v5 [MQTT-4.6.0-3], [MQTT-4.3.3-8]: PUBREC in arrival order.
#[test]
fn mqtt_4_6_0_3_pubrec_in_arrival_order() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    for n in [4, 2] {
        p.server(incoming(QoS::ExactlyOnce, n)).unwrap();
    }
    let t = tokens(&p.take_events());
    p.client
        .ack(p.now, t[1], PubAckReasonCode::Success)
        .unwrap();
    p.client
        .ack(p.now, t[0], PubAckReasonCode::Success)
        .unwrap();
    p.flush();
    assert_eq!(
        p.take_received(),
        [
            Packet::PubRec(PubRec::new(id(4))),
            Packet::PubRec(PubRec::new(id(2)))
        ]
    );
}

/// v5 [MQTT-4.6.0-4]: PUBREL in the order the PUBRECs arrived.
#[test]
fn mqtt_4_6_0_4_pubrel_in_pubrec_order() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    for _ in 0..3 {
        p.client.publish(p.now, msg("a", QoS::ExactlyOnce)).unwrap();
    }
    p.take_received();
    for n in [3, 1, 2] {
        p.server(PubRec::new(id(n))).unwrap();
    }
    assert_eq!(
        p.take_received(),
        [3, 1, 2].map(|n| Packet::PubRel(PubRel::new(id(n))))
    );
}

/// v5 [MQTT-4.3.3-10], [MQTT-4.3.3-11], [MQTT-4.3.3-12]: a QoS 2 duplicate
/// before PUBREL gets PUBREC again and is not delivered again, also on a
/// new connection and after a restart from the persisted records; after
/// PUBCOMP the id is a new message.
#[test]
fn mqtt_4_3_3_10_qos2_exactly_once_across_reconnect_and_restart() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    p.server(incoming(QoS::ExactlyOnce, 7)).unwrap();
    let t = tokens(&p.take_events());
    assert_eq!(t.len(), 1);
    // Duplicate on the same connection, not acked yet: nothing.
    p.server(incoming(QoS::ExactlyOnce, 7)).unwrap();
    assert!(p.take_events().is_empty());
    p.client
        .ack(p.now, t[0], PubAckReasonCode::Success)
        .unwrap();
    p.flush();
    assert_eq!(p.take_received(), [Packet::PubRec(PubRec::new(id(7)))]);
    // Restart: rebuild the session from the store only.
    p.drop_link();
    p.take_events();
    let session = p.store.session("c1");
    let store = p.store.clone();
    let mut p = Pair::with(V5, session, ClientConfig::default());
    p.store = store;
    p.connect(false, ConnAck::new(true, ConnectReasonCode::Success));
    p.take_events();
    let mut dup = incoming(QoS::ExactlyOnce, 7);
    dup.qos = dup.qos.redelivery();
    p.server(dup).unwrap();
    assert!(p.take_events().is_empty(), "not delivered twice");
    assert_eq!(p.take_received(), [Packet::PubRec(PubRec::new(id(7)))]);
    p.server(PubRel::new(id(7))).unwrap();
    assert_eq!(p.take_received(), [Packet::PubComp(PubComp::new(id(7)))]);
    assert!(p.store.inbound.is_empty());
    p.server(incoming(QoS::ExactlyOnce, 7)).unwrap();
    assert_eq!(
        tokens(&p.take_events()).len(),
        1,
        "a new message after PUBCOMP"
    );
}

/// v5 [MQTT-4.3.2-5]: after PUBACK the same id is a new message.
#[test]
fn mqtt_4_3_2_5_qos1_id_reuse_is_new_message() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    p.server(incoming(QoS::AtLeastOnce, 1)).unwrap();
    let t = tokens(&p.take_events());
    p.client
        .ack(p.now, t[0], PubAckReasonCode::Success)
        .unwrap();
    p.server(incoming(QoS::AtLeastOnce, 1)).unwrap();
    assert_eq!(tokens(&p.take_events()).len(), 1);
}

/// v5 [MQTT-2.2.1-3], v3.1.1 [MQTT-2.3.1-2]: when every identifier is in use
/// the operation waits in the queue and goes out once one is free.
#[test]
fn mqtt_2_2_1_3_id_exhaustion_queues() {
    for version in [V5, V311] {
        let session = Session::with_packet_id_limit(MqttString::try_from("c1").unwrap(), 2);
        let mut p = Pair::with(version, session, ClientConfig::default());
        p.connect_ok(false);
        for _ in 0..3 {
            p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
        }
        p.client
            .subscribe(
                p.now,
                vec![(
                    TopicFilter::from_static("s").unwrap(),
                    SubscriptionOptions::default(),
                )],
                Default::default(),
            )
            .unwrap();
        assert_eq!(
            publishes(&p.take_received()),
            [(Some(1), false), (Some(2), false)],
            "{version}"
        );
        assert_eq!(p.client.session().pending_len(), 2, "{version}");
        p.server(PubAck::new(id(1))).unwrap();
        let got = p.take_received();
        assert!(
            matches!(&got[0], Packet::Subscribe(s) if s.packet_id == id(1)),
            "{version}: {got:?}"
        );
    }
}

/// v5 [MQTT-3.3.4-1], [MQTT-2.2.1-5], [MQTT-4.5.0-2]; v3.1.1 [MQTT-3.3.4-1],
/// [MQTT-2.3.1-6], [MQTT-4.5.0-2]: every received PUBLISH is answered as its
/// QoS requires (none, PUBACK, PUBREC then PUBCOMP), with its packet
/// identifier, also one the client never subscribed to and refuses.
#[test]
fn mqtt_3_3_4_1_answer_by_qos() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        p.connect_ok(false);
        p.server(incoming(QoS::AtMostOnce, 1)).unwrap();
        p.server(incoming(QoS::AtLeastOnce, 7)).unwrap();
        p.server(incoming(QoS::ExactlyOnce, 9)).unwrap();
        let t = tokens(&p.take_events());
        assert_eq!(t.len(), 2, "QoS 0 needs no answer");
        assert!(p.take_received().is_empty());
        // Not processed by the application, acknowledged all the same.
        p.client
            .ack(p.now, t[0], PubAckReasonCode::UnspecifiedError)
            .unwrap();
        p.client
            .ack(p.now, t[1], PubAckReasonCode::Success)
            .unwrap();
        let got = p.take_received();
        assert!(
            matches!(got.as_slice(), [Packet::PubAck(a), Packet::PubRec(r)]
                if a.packet_id == id(7) && r.packet_id == id(9)),
            "{got:?}"
        );
        p.server(PubRel::new(id(9))).unwrap();
        assert!(
            matches!(p.take_received().as_slice(), [Packet::PubComp(c)] if c.packet_id == id(9))
        );
    }
}

/// v5 [MQTT-4.3.3-7]: once sent, a QoS 2 (or 1) message is not expired: it
/// is resent on resume after its Message Expiry Interval passed.
#[test]
fn mqtt_4_3_3_7_no_expiry_once_sent() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    let mut m = msg("a", QoS::ExactlyOnce);
    m.properties.message_expiry_interval = Some(1);
    let op = p.client.publish(p.now, m).unwrap();
    assert_eq!(publishes(&p.take_received()), [(Some(1), false)]);
    p.drop_link();
    p.advance(5_000);
    p.connect_ok(true);
    assert_eq!(publishes(&p.take_received()), [(Some(1), true)]);
    assert!(!p.take_events().iter().any(
        |e| matches!(e, Event::OpFailed { op: o, .. } | Event::Returned { op: o, .. } if *o == op)
    ));
}

/// v5 [MQTT-3.6.2-2], [MQTT-3.6.2-3], [MQTT-3.7.2-2], [MQTT-3.7.2-3]: the
/// client puts no Reason String or User Properties on PUBREL and PUBCOMP,
/// so they fit even the smallest Maximum Packet Size.
#[test]
fn mqtt_3_6_2_2_pubrel_pubcomp_without_properties() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| c.properties.maximum_packet_size = NonZeroU32::new(16)),
    );
    p.client.publish(p.now, msg("a", QoS::ExactlyOnce)).unwrap();
    p.server(PubRec::new(id(1))).unwrap();
    p.server(incoming(QoS::ExactlyOnce, 3)).unwrap();
    let t = tokens(&p.take_events());
    p.client
        .ack(p.now, t[0], PubAckReasonCode::Success)
        .unwrap();
    p.server(PubRel::new(id(3))).unwrap();
    let got = p.take_received();
    let rel = got.iter().find_map(|p| match p {
        Packet::PubRel(r) => Some(r),
        _ => None,
    });
    let comp = got.iter().find_map(|p| match p {
        Packet::PubComp(c) => Some(c),
        _ => None,
    });
    assert_eq!(rel, Some(&PubRel::new(id(1))));
    assert_eq!(comp, Some(&PubComp::new(id(3))));
}

/// v5 [MQTT-4.3.3-9]: after a PUBREC with a Reason Code of 0x80 or more,
/// a PUBLISH with the same packet identifier is a new message: delivered
/// again, with a new token.
#[test]
fn mqtt_4_3_3_9_error_pubrec_then_same_id_is_new() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    p.server(incoming(QoS::ExactlyOnce, 4)).unwrap();
    let t = tokens(&p.take_events());
    p.client
        .ack(p.now, t[0], PubAckReasonCode::QuotaExceeded)
        .unwrap();
    assert!(
        matches!(p.take_received().as_slice(), [Packet::PubRec(r)] if r.reason_code == PubAckReasonCode::QuotaExceeded)
    );
    assert_eq!(p.client.session().inbound_qos2_len(), 0);
    assert!(p.store.inbound.is_empty());
    p.server(incoming(QoS::ExactlyOnce, 4)).unwrap();
    assert_eq!(
        tokens(&p.take_events()).len(),
        1,
        "delivered as a new message"
    );
}

/// v5 §3.6.2.1, [MQTT-4.3.3-4]; v3.1.1 [MQTT-4.3.3-2]: a PUBREC for an
/// identifier not in flight (left over from an earlier exchange) is answered
/// with PUBREL, reason 0x92 Packet Identifier not found in 5.0, so the server
/// does not wait for a PUBREL forever; the connection stays open.
#[test]
fn v5_mqtt_4_3_3_4_pubrec_unknown_id_gets_pubrel_0x92() {
    for (v, code) in [
        (V5, PubRelReasonCode::PacketIdentifierNotFound),
        (V311, PubRelReasonCode::Success),
    ] {
        let mut p = Pair::new(v);
        p.connect_ok(false);
        p.server(PubRec::new(id(9))).unwrap();
        assert_eq!(
            p.take_received(),
            [Packet::PubRel(PubRel::new(id(9)).with_reason(code))]
        );
        assert!(p.client.is_connected());
    }
}

/// The wrong kind of acknowledgement for a message in flight is a Protocol
/// Error that closes the connection, the same as in the server role: v5
/// [MQTT-4.3.3-8] (QoS 2 expects PUBREC, then PUBCOMP after our PUBREL),
/// v5 [MQTT-4.3.2-4] (QoS 1 expects PUBACK); v3.1.1 [MQTT-4.8.0-1].
#[test]
fn v5_mqtt_4_3_3_8_wrong_ack_kind_closes() {
    let cases: [(QoS, Packet); 4] = [
        (QoS::ExactlyOnce, PubAck::new(id(1)).into()),
        (QoS::ExactlyOnce, PubComp::new(id(1)).into()),
        (QoS::AtLeastOnce, PubRec::new(id(1)).into()),
        (QoS::AtLeastOnce, PubComp::new(id(1)).into()),
    ];
    for v in [V5, V311] {
        for (qos, ack) in cases.clone() {
            let mut p = Pair::new(v);
            p.connect_ok(false);
            p.client.publish(p.now, msg("a", qos)).unwrap();
            p.take_received();
            let err = p.server(ack.clone()).unwrap_err();
            assert_eq!(
                err.reason,
                ReasonCode::ProtocolError,
                "{v:?} {qos:?} {ack:?}"
            );
            assert!(!p.client.is_connected(), "{v:?} {qos:?} {ack:?}");
            // The message stays in the session for the next connection.
            assert_eq!(p.client.session().inflight().count(), 1);
        }
    }
}

/// v5 [MQTT-4.3.2-4], [MQTT-4.3.3-8]: by default the client acknowledges a
/// received QoS 1 PUBLISH with PUBACK and a QoS 2 one with PUBREC as it
/// arrives, and the application gets the message without a token.
#[test]
fn v5_mqtt_4_3_2_4_automatic_ack_by_default() {
    for v in [V5, V311] {
        let session = Session::new(MqttString::try_from("auto").unwrap());
        let mut client = mqttkit_session::Client::new(session, ClientConfig::default());
        let now = Instant::ZERO;
        client.connect(now, connect_packet(v, true)).unwrap();
        let encoder = mqttkit_codec::Encoder::new(v);
        let mut wire = bytes::BytesMut::new();
        encoder
            .encode(
                &ConnAck::new(false, ConnectReasonCode::Success).into(),
                &mut wire,
            )
            .unwrap();
        encoder
            .encode(&incoming(QoS::AtLeastOnce, 5).into(), &mut wire)
            .unwrap();
        encoder
            .encode(&incoming(QoS::ExactlyOnce, 6).into(), &mut wire)
            .unwrap();
        client.handle_bytes(now, &wire);
        let mut out = bytes::BytesMut::new();
        while client.poll_transmit(&mut out).is_some() {}
        let mut decoder = mqttkit_codec::Decoder::new(v);
        let mut sent = Vec::new();
        while let Ok(mqttkit_codec::Decoded::Packet(p)) = decoder.decode(&mut out) {
            sent.push(p);
        }
        assert_eq!(
            sent[1..],
            [PubAck::new(id(5)).into(), PubRec::new(id(6)).into()],
            "{v:?}: CONNECT, then the acknowledgements"
        );
        let messages: Vec<_> = std::iter::from_fn(|| client.poll_event())
            .filter_map(|e| match e {
                Event::Message { ack, .. } => Some(ack),
                _ => None,
            })
            .collect();
        assert_eq!(messages, [None, None]);
    }
}

/// A QoS 1 token acknowledged twice is refused the second time with
/// `UnknownAck`: its PUBACK is gone. A QoS 2 token answered on a later
/// connection, before the server sent the PUBLISH again, is accepted: its
/// PUBREC waits for that PUBLISH.
#[test]
fn tokens_answered_twice_or_late() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    p.server(incoming(QoS::AtLeastOnce, 5)).unwrap();
    p.server(incoming(QoS::ExactlyOnce, 6)).unwrap();
    let t = tokens(&p.take_events());
    p.client
        .ack(p.now, t[0], PubAckReasonCode::Success)
        .unwrap();
    assert_eq!(
        p.client.ack(p.now, t[0], PubAckReasonCode::Success),
        Err(OpError::UnknownAck)
    );
    p.flush();
    assert_eq!(p.take_received(), [Packet::PubAck(PubAck::new(id(5)))]);
    p.drop_link();
    p.connect(false, ConnAck::new(true, ConnectReasonCode::Success));
    p.take_received();
    assert_eq!(p.client.ack(p.now, t[1], PubAckReasonCode::Success), Ok(()));
}

/// v5 [MQTT-4.3.3-10], [MQTT-4.6.0-3]: a QoS 2 PUBLISH sent again is
/// answered once more with its PUBREC, in arrival order, but one still
/// waiting for the application's answer gets no second PUBREC.
#[test]
fn mqtt_4_3_3_10_qos2_duplicates_answered_once_each() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    let dup = |n| {
        let publish = incoming(QoS::ExactlyOnce, n);
        Publish {
            qos: publish.qos.redelivery(),
            ..publish
        }
    };
    p.server(incoming(QoS::ExactlyOnce, 6)).unwrap();
    p.server(dup(6)).unwrap();
    let t6 = tokens(&p.take_events())[0];
    p.client.ack(p.now, t6, PubAckReasonCode::Success).unwrap();
    p.flush();
    assert_eq!(p.take_received(), [Packet::PubRec(PubRec::new(id(6)))]);

    // 7 waits for the application; 6, answered, comes again behind it.
    p.server(incoming(QoS::ExactlyOnce, 7)).unwrap();
    p.server(dup(6)).unwrap();
    p.flush();
    assert!(p.take_received().is_empty(), "held behind 7");
    let t7 = tokens(&p.take_events())[0];
    p.client.ack(p.now, t7, PubAckReasonCode::Success).unwrap();
    p.flush();
    assert_eq!(
        p.take_received(),
        [
            Packet::PubRec(PubRec::new(id(7))),
            Packet::PubRec(PubRec::new(id(6)))
        ]
    );
}
