//! Session state across connections: resume, session loss, Clean Start, persistence (v5 §4.1, §4.4, §3.2.2).

use super::*;

/// v5 [MQTT-4.4.0-1], [MQTT-3.3.1-1], [MQTT-4.6.0-1], [MQTT-4.3.3-6];
/// v3.1.1 [MQTT-4.4.0-1], [MQTT-3.3.1-1], [MQTT-4.6.0-1], [MQTT-2.3.1-3]: on resume,
/// unacknowledged PUBLISH go again with DUP 1 and their ids in original
/// order, PUBREL instead of PUBLISH past PUBREC; new messages have DUP 0.
#[test]
fn mqtt_4_4_0_1_resend_dup_in_order_on_resume() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        p.connect_ok(false);
        for qos in [
            QoS::AtLeastOnce,
            QoS::ExactlyOnce,
            QoS::AtLeastOnce,
            QoS::ExactlyOnce,
        ] {
            p.client.publish(p.now, msg("a", qos)).unwrap();
        }
        p.server(PubRec::new(id(2))).unwrap();
        p.server(PubAck::new(id(3))).unwrap();
        p.take_received();
        p.drop_link();
        p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
        p.connect(false, ConnAck::new(true, ConnectReasonCode::Success));
        let got = p.take_received();
        assert_eq!(
            got.iter().map(|p| p.packet_type()).collect::<Vec<_>>(),
            [
                mqttkit_codec::PacketType::Publish,
                mqttkit_codec::PacketType::PubRel,
                mqttkit_codec::PacketType::Publish,
                mqttkit_codec::PacketType::Publish
            ]
        );
        // The new message reuses the freed id 3, with DUP 0.
        assert_eq!(
            publishes(&got),
            [(Some(1), true), (Some(4), true), (Some(3), false)]
        );
        assert_eq!(got[1], Packet::PubRel(PubRel::new(id(2))));
    }
}

/// v5 [MQTT-4.4.0-2]: a PUBREC with an error code completes the message; it is not resent.
#[test]
fn mqtt_4_4_0_2_error_pubrec_is_final() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    let op = p.client.publish(p.now, msg("a", QoS::ExactlyOnce)).unwrap();
    p.server(PubRec::new(id(1)).with_reason(PubAckReasonCode::QuotaExceeded))
        .unwrap();
    assert!(p.take_events().contains(&Event::Published {
        op,
        reason: ReasonCode::QuotaExceeded
    }));
    p.take_received();
    p.drop_link();
    p.connect(false, ConnAck::new(true, ConnectReasonCode::Success));
    assert!(publishes(&p.take_received()).is_empty());
}

/// v5 [MQTT-3.2.2-5]: without Session Present the session state goes, and
/// every unacknowledged and queued message is handed back in order.
#[test]
fn mqtt_3_2_2_5_session_lost_returns_messages() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| c.properties.receive_maximum = NonZeroU16::new(2)),
    );
    let ops: Vec<_> = (0..3)
        .map(|_| p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap())
        .collect();
    p.server(
        Publish::new(TopicName::from_static("in").unwrap(), &b""[..])
            .with_qos(PublishQoS::new(QoS::ExactlyOnce, id(9))),
    )
    .unwrap();
    p.drop_link();
    p.take_events();
    p.connect(false, ConnAck::new(false, ConnectReasonCode::Success));
    let ev = p.take_events();
    assert_eq!(ev[0], Event::SessionLost);
    let returned: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Returned { op, .. } => Some(*op),
            _ => None,
        })
        .collect();
    assert_eq!(returned, ops);
    assert!(ev.contains(&Event::Connected {
        session_present: false
    }));
    assert!(!p.client.session().has_state());
    assert!(p.store.outbound.is_empty() && p.store.inbound.is_empty());
    assert!(
        publishes(&p.take_received()).is_empty(),
        "nothing resent on a new session"
    );
}

/// v5 [MQTT-3.1.2-4], v3.1.1 [MQTT-3.1.2-6]: Clean Start discards the client's session too.
#[test]
fn mqtt_3_1_2_4_clean_start_discards_session() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        p.connect_ok(false);
        p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
        p.drop_link();
        p.take_events();
        p.connect_with(connect_packet(v, true));
        let ev = p.take_events();
        assert_eq!(ev[0], Event::SessionLost);
        assert!(matches!(ev[1], Event::Returned { .. }));
    }
}

/// v5 [MQTT-3.2.2-2], v3.1.1 [MQTT-3.2.2-1]: Session Present in reply to a
/// Clean Start is a protocol error; the error is sticky and the DISCONNECT 0x82 is flushed.
#[test]
fn mqtt_3_2_2_2_session_present_after_clean_start() {
    for version in [V311, V5] {
        let mut p = Pair::new(version);
        p.connect_with(connect_packet(version, true));
        p.take_received();
        let err = p
            .server(ConnAck::new(true, ConnectReasonCode::Success))
            .unwrap_err();
        assert_eq!(err.reason, ReasonCode::ProtocolError);
        // 3.1.1 has no DISCONNECT from the client's side: it only closes.
        let expected = (version == V5).then_some(DisconnectReasonCode::ProtocolError);
        assert_eq!(last_disconnect(&p.take_received()), expected);
        assert_eq!(
            violation_rule(&p.take_events()[0]).unwrap().0,
            "v5 [MQTT-3.2.2-2] / v3.1.1 [MQTT-3.2.2-1]"
        );
        // Sticky.
        assert_eq!(p.server(Packet::PingResp).unwrap_err(), err);
    }
}

/// A refused CONNACK keeps the session (nothing was discarded by the server).
#[test]
fn v5_refused_connack_keeps_session() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.drop_link();
    p.connect(false, ConnAck::new(false, ConnectReasonCode::NotAuthorized));
    assert!(
        p.take_events()
            .iter()
            .any(|e| matches!(e, Event::Closed(CloseCause::Refused(_))))
    );
    assert_eq!(p.client.session().inflight().count(), 1);
}

/// Write-ahead: the record of a message is handed out before its bytes.
#[test]
fn persist_ops_before_transmit() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    let mut out = bytes::BytesMut::new();
    assert_eq!(
        p.client.poll_transmit(&mut out),
        None,
        "held until persisted"
    );
    assert!(p.client.poll_persist().is_some());
    assert!(p.client.poll_transmit(&mut out).is_some());
}

/// Snapshot and restore keep order, ids, released state, queue and inbound state.
#[test]
fn snapshot_restore_round_trip_resumes() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| c.properties.receive_maximum = NonZeroU16::new(2)),
    );
    for qos in [
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
        QoS::AtLeastOnce,
        QoS::AtMostOnce,
    ] {
        p.client.publish(p.now, msg("a", qos)).unwrap();
    }
    p.server(PubRec::new(id(1))).unwrap();
    p.server(incoming(QoS::ExactlyOnce, 4)).unwrap();
    p.drop_link();
    let bytes = p.client.session().snapshot(p.now).unwrap();
    let restored = Session::restore(bytes.clone(), p.now, Duration::ZERO).unwrap();
    assert_eq!(restored.snapshot(p.now).unwrap(), bytes);
    assert_eq!(restored.pending_len(), 2);
    assert_eq!(restored.inbound_qos2_len(), 1);
    let mut q = Pair::with(V5, restored, ClientConfig::default());
    q.connect(false, ConnAck::new(true, ConnectReasonCode::Success));
    let got = q.take_received();
    assert_eq!(got[0], Packet::PubRel(PubRel::new(id(1))));
    // Resent with DUP, then the queue in order, never sent before: DUP 0.
    assert_eq!(
        publishes(&got),
        [(Some(2), true), (Some(3), false), (None, false)]
    );
    assert_eq!(
        Session::restore(Bytes::from_static(b"nope"), p.now, Duration::ZERO).unwrap_err(),
        mqttkit_session::RestoreError::NotASnapshot
    );
    // A snapshot cut short anywhere, as a write interrupted by a crash
    // leaves it, is refused with an error, never read past its end.
    for len in 0..bytes.len() {
        let cut = bytes.slice(..len);
        assert!(
            Session::restore(cut, p.now, Duration::ZERO).is_err(),
            "a snapshot cut at {len} of {} bytes",
            bytes.len()
        );
    }
}

/// v5 [MQTT-3.2.2-15] on resume: a stored message larger than the new
/// server's Maximum Packet Size fails alone; the others are resent in order.
#[test]
fn mqtt_3_2_2_15_resume_drops_what_no_longer_fits() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    let mut big = msg("a", QoS::AtLeastOnce);
    big.payload = Bytes::from(vec![0u8; 100]);
    let big_op = p.client.publish(p.now, big).unwrap();
    p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.take_received();
    p.drop_link();
    p.take_events();
    let mut ack = ConnAck::new(true, ConnectReasonCode::Success);
    ack.properties.maximum_packet_size = NonZeroU32::new(50);
    p.connect(false, ack);
    assert_eq!(publishes(&p.take_received()), [(Some(2), true)]);
    assert!(p.take_events().contains(&Event::OpFailed {
        op: big_op,
        error: OpError::PacketTooLarge
    }));
    assert!(!p.store.outbound.contains_key(&1));
    assert_eq!(p.client.send_quota(), Some(u16::MAX - 1));
}

/// v3.1.1 §4.4 allows in-session retransmission, by configuration: DUP
/// PUBLISH and PUBREL go again on the same connection after the interval.
#[test]
fn v311_in_session_retransmission_by_configuration() {
    let config = ClientConfig {
        retransmit_v3: Some(std::time::Duration::from_secs(5)),
        ..ClientConfig::default()
    };
    let mut p = Pair::with(
        V311,
        Session::new(MqttString::try_from("c1").unwrap()),
        config,
    );
    p.connect_ok(false);
    p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.client.publish(p.now, msg("a", QoS::ExactlyOnce)).unwrap();
    p.take_received();
    p.server(PubRec::new(id(2))).unwrap();
    p.take_received();
    p.advance(5_000);
    let got = p.take_received();
    assert_eq!(publishes(&got), [(Some(1), true)]);
    assert!(got.contains(&Packet::PubRel(PubRel::new(id(2)))));
    p.server(PubAck::new(id(1))).unwrap();
    p.server(PubComp::new(id(2))).unwrap();
    p.take_received();
    p.advance(60_000);
    assert!(
        p.take_received().iter().all(|p| *p == Packet::PingReq),
        "nothing outstanding, nothing resent"
    );
}

/// v5 [MQTT-4.4.0-1]: resending happens only on reconnect, never within a
/// connection, even when 3.1.1 retransmission is configured.
#[test]
fn mqtt_4_4_0_1_no_in_session_resend_in_v5() {
    let config = ClientConfig {
        retransmit_v3: Some(std::time::Duration::from_secs(1)),
        ..ClientConfig::default()
    };
    let mut p = Pair::with(
        V5,
        Session::new(MqttString::try_from("c1").unwrap()),
        config,
    );
    p.connect_ok(false);
    p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.take_received();
    p.advance(600_000);
    assert!(publishes(&p.take_received()).is_empty());
}

/// Message Expiry of queued messages (v5 §3.3.2.3.3): a message that waited
/// past its interval is not sent (the operation fails); one that goes out
/// carries the time it has left (the server's twin rule is MQTT-3.3.2-6, not a client statement).
/// The snapshot keeps the time left, and restore subtracts the time offline.
#[test]
fn v5_message_expiry_of_queued_messages() {
    let mut p = Pair::new(V5);
    let mut short = msg("a", QoS::AtLeastOnce);
    short.properties.message_expiry_interval = Some(10);
    let mut long = msg("a", QoS::AtLeastOnce);
    long.properties.message_expiry_interval = Some(100);
    let expired = p.client.publish(p.now, short).unwrap();
    p.client.publish(p.now, long).unwrap();
    // Offline for 30 s, and the process restarts with a new clock.
    p.advance(30_000);
    let bytes = p.client.session().snapshot(p.now).unwrap();
    let restored =
        Session::restore(bytes, Instant::from_millis(5), Duration::from_secs(20)).unwrap();
    let mut q = Pair::with(V5, restored, ClientConfig::default());
    q.now = Instant::from_millis(5);
    q.connect_ok(false);
    assert!(q.take_events().contains(&Event::OpFailed {
        op: expired,
        error: OpError::MessageExpired
    }));
    let got = q.take_received();
    let [Packet::Publish(sent)] = got.as_slice() else {
        panic!("{got:?}")
    };
    assert_eq!(sent.properties.message_expiry_interval, Some(50));
}

/// v5 [MQTT-3.2.2-5], and the same in 3.1.1: a CONNACK without Session
/// Present ends the session the client had: its messages are handed back,
/// but a SUBSCRIBE the application asked for while offline is no session
/// state and goes out on the new connection.
#[test]
fn mqtt_3_2_2_5_lost_session_keeps_the_unsent_subscribe() {
    for version in [V311, V5] {
        let mut p = Pair::new(version);
        p.connect(false, ConnAck::new(false, ConnectReasonCode::Success));
        p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
        p.drop_link();
        let filter = (
            TopicFilter::from_static("a").unwrap(),
            SubscriptionOptions::default(),
        );
        p.client
            .subscribe(p.now, vec![filter], Default::default())
            .unwrap();
        p.connect(false, ConnAck::new(false, ConnectReasonCode::Success));
        assert!(p.take_events().contains(&Event::SessionLost), "{version}");
        let sent = p.take_received();
        assert!(
            sent.iter().any(|pk| matches!(pk, Packet::Subscribe(_))),
            "{version}: {sent:?}"
        );
    }
}

/// SUBSCRIBE and UNSUBSCRIBE queued while offline survive a snapshot and
/// restore and are sent once connected, in their order and ahead of the
/// queued messages, as without a restore.
#[test]
fn queued_subscribe_and_unsubscribe_survive_a_restore() {
    let id = MqttString::try_from("queued-ops").unwrap();
    let mut client = mqttkit_session::Client::new(Session::new(id), ClientConfig::default());
    let now = Instant::ZERO;
    let filter = TopicFilter::try_from("plant/#").unwrap();
    client
        .subscribe(
            now,
            vec![(filter.clone(), SubscriptionOptions::new(QoS::AtLeastOnce))],
            Default::default(),
        )
        .unwrap();
    client
        .publish(now, msg("plant/1", QoS::AtLeastOnce))
        .unwrap();
    client
        .unsubscribe(now, vec![filter], Default::default())
        .unwrap();
    let bytes = client.session().snapshot(now).unwrap();
    let restored = Session::restore(bytes.clone(), now, Duration::ZERO).unwrap();
    assert_eq!(restored.pending_len(), 3);
    assert_eq!(restored.snapshot(now).unwrap(), bytes);
    let mut q = Pair::with(V5, restored, ClientConfig::default());
    q.connect(false, ConnAck::new(false, ConnectReasonCode::Success));
    let kinds: Vec<&str> = q
        .take_received()
        .iter()
        .map(|p| match p {
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::Publish(_) => "PUBLISH",
            Packet::Unsubscribe(_) => "UNSUBSCRIBE",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["SUBSCRIBE", "UNSUBSCRIBE", "PUBLISH"]);
}

/// An inbound QoS 2 message the application has not answered yet is still
/// unanswered after a snapshot and restore: when the server sends it again,
/// no PUBREC goes out before the application answers.
#[test]
fn unanswered_inbound_qos2_stays_unanswered_across_a_restore() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    p.server(incoming(QoS::ExactlyOnce, 6)).unwrap();
    p.take_events();
    p.flush();
    assert!(p.take_received().is_empty(), "waits for the application");
    p.drop_link();
    let bytes = p.client.session().snapshot(p.now).unwrap();
    let restored = Session::restore(bytes, p.now, Duration::ZERO).unwrap();
    assert_eq!(restored.inbound_qos2_len(), 1);
    let mut q = Pair::with(V5, restored, ClientConfig::default());
    q.connect(false, ConnAck::new(true, ConnectReasonCode::Success));
    q.take_received();
    let again = incoming(QoS::ExactlyOnce, 6);
    let again = Publish {
        qos: again.qos.redelivery(),
        ..again
    };
    q.server(again).unwrap();
    q.flush();
    assert!(
        !q.take_received()
            .iter()
            .any(|p| matches!(p, Packet::PubRec(_))),
        "no PUBREC before the application answers"
    );
}
