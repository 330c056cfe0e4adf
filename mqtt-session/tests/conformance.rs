//! Conformance tests of the client role, one per session-level normative
//! statement; each doc line cites the statement with its version.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod harness;

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use harness::{Pair, connect_packet};
use mqtt_codec::{
    Auth, AuthReasonCode, ConnAck, ConnectReasonCode, Disconnect, DisconnectReasonCode, MqttString,
    Packet, PacketId, ProtocolVersion, PubAck, PubAckReasonCode, PubComp, PubRec, PubRel, Publish,
    PublishQoS, QoS, ReasonCode, SubAck, SubAckReasonCode, SubscriptionOptions,
};
use mqtt_session::{ClientConfig, CloseCause, Event, Message, OpError, Session, ViolationKind};
use mqtt_topic::{TopicFilter, TopicName};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn msg(topic: &'static str, qos: QoS) -> Message {
    Message::new(TopicName::from_static(topic).unwrap(), &b"x"[..], qos)
}

fn connack_with(f: impl FnOnce(&mut ConnAck)) -> ConnAck {
    let mut c = ConnAck::new(false, ConnectReasonCode::Success);
    f(&mut c);
    c
}

fn publishes(p: &[Packet]) -> Vec<(Option<u16>, bool)> {
    p.iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some((p.qos.packet_id().map(PacketId::get), p.qos.dup())),
            _ => None,
        })
        .collect()
}

fn incoming(qos: QoS, n: u16) -> Publish {
    Publish::new(TopicName::from_static("in/t").unwrap(), &b"m"[..])
        .with_qos(PublishQoS::new(qos, id(n)))
}

fn tokens(events: &[Event]) -> Vec<mqtt_session::AckToken> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { ack: Some(t), .. } => Some(*t),
            _ => None,
        })
        .collect()
}

fn violation_rule(e: &Event) -> Option<(&'static str, ReasonCode)> {
    match e {
        Event::Closed(CloseCause::ProtocolViolation(v)) => match v.kind {
            ViolationKind::Rule { rule, .. } => Some((rule, v.reason)),
            ViolationKind::Malformed(_) => Some(("malformed", v.reason)),
            _ => None,
        },
        _ => None,
    }
}

fn last_disconnect(p: &[Packet]) -> Option<DisconnectReasonCode> {
    p.iter().rev().find_map(|p| match p {
        Packet::Disconnect(d) => Some(d.reason_code),
        _ => None,
    })
}

/// v5 [MQTT-4.3.1-1], v3.1.1 [MQTT-4.3.1-1]: QoS 0 goes out with DUP 0 and no identifier.
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

/// v5 [MQTT-4.3.3-1] to [MQTT-4.3.3-5], v3.1.1 [MQTT-4.3.3-1], [MQTT-4.3.3-2]:
/// QoS 2 sender: PUBLISH, PUBREL on PUBREC, done on PUBCOMP.
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

/// v5 [MQTT-4.4.0-1], [MQTT-3.3.1-1], [MQTT-4.6.0-1], [MQTT-4.3.3-6];
/// v3.1.1 [MQTT-4.4.0-1], [MQTT-3.3.1-1], [MQTT-4.6.0-1]: on resume,
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
                mqtt_codec::PacketType::Publish,
                mqtt_codec::PacketType::PubRel,
                mqtt_codec::PacketType::Publish,
                mqtt_codec::PacketType::Publish
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

/// v5 [MQTT-4.9.0-1], [MQTT-4.9.0-2], [MQTT-3.3.4-7]: the send quota starts at the
/// server's Receive Maximum; publishes beyond it are queued, not refused.
#[test]
fn mqtt_4_9_0_2_send_quota_queues() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| c.properties.receive_maximum = NonZeroU16::new(2)),
    );
    for _ in 0..5 {
        p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    }
    assert_eq!(publishes(&p.take_received()).len(), 2);
    assert_eq!(p.client.send_quota(), Some(0));
    p.server(PubAck::new(id(2))).unwrap();
    // The freed id 2 is reused first.
    assert_eq!(publishes(&p.take_received()), [(Some(2), false)]);
}

/// v5 [MQTT-4.9.0-2], [MQTT-4.4.0-1]: resent messages count against the
/// Receive Maximum of the new connection (the resume gap of other crates).
#[test]
fn mqtt_4_9_0_2_resume_respects_new_receive_maximum() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    for _ in 0..4 {
        p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    }
    p.take_received();
    p.drop_link();
    p.connect(false, {
        let mut c = ConnAck::new(true, ConnectReasonCode::Success);
        c.properties.receive_maximum = NonZeroU16::new(1);
        c
    });
    assert_eq!(publishes(&p.take_received()), [(Some(1), true)]);
    p.server(PubAck::new(id(1))).unwrap();
    assert_eq!(publishes(&p.take_received()), [(Some(2), true)]);
}

/// v5 [MQTT-3.3.4-8], [MQTT-4.9.0-3]: SUBSCRIBE is not held back by a zero send quota.
#[test]
fn mqtt_3_3_4_8_subscribe_not_delayed_by_quota() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| c.properties.receive_maximum = NonZeroU16::new(1)),
    );
    p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.take_received();
    let op = p
        .client
        .subscribe(
            p.now,
            vec![(
                TopicFilter::from_static("s/#").unwrap(),
                SubscriptionOptions::default(),
            )],
            Default::default(),
        )
        .unwrap();
    let got = p.take_received();
    let Packet::Subscribe(s) = &got[0] else {
        panic!("{got:?}")
    };
    p.server(SubAck::new(s.packet_id, vec![SubAckReasonCode::Success]))
        .unwrap();
    assert!(p.take_events().contains(&Event::Subscribed {
        op,
        reason_codes: vec![SubAckReasonCode::Success]
    }));
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
        p.connect_ok(false);
        let ev = p.take_events();
        assert_eq!(ev[0], Event::SessionLost);
        assert!(matches!(ev[1], Event::Returned { .. }));
    }
}

/// v5 [MQTT-3.2.2-2], v3.1.1 [MQTT-3.2.2-1]: Session Present in reply to a
/// Clean Start is a protocol error; the error is sticky and the DISCONNECT 0x82 is flushed.
#[test]
fn mqtt_3_2_2_2_session_present_after_clean_start() {
    let mut p = Pair::new(V5);
    p.connect_with(connect_packet(V5, true));
    p.take_received();
    let err = p
        .server(ConnAck::new(true, ConnectReasonCode::Success))
        .unwrap_err();
    assert_eq!(err.reason, ReasonCode::ProtocolError);
    assert_eq!(
        last_disconnect(&p.take_received()),
        Some(DisconnectReasonCode::ProtocolError)
    );
    assert_eq!(
        violation_rule(&p.take_events()[0]).unwrap().0,
        "v5 [MQTT-3.2.2-2] / v3.1.1 [MQTT-3.2.2-1]"
    );
    // Sticky.
    assert_eq!(p.server(Packet::PingResp).unwrap_err(), err);
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

/// v5 [MQTT-3.3.4-9]: more unacknowledged QoS 1/2 PUBLISH than our Receive
/// Maximum is answered with DISCONNECT 0x93.
#[test]
fn mqtt_3_3_4_9_inbound_receive_maximum() {
    let mut p = Pair::new(V5);
    let mut c = connect_packet(V5, true);
    c.properties.receive_maximum = NonZeroU16::new(2);
    p.connect_with(c);
    p.server(ConnAck::new(false, ConnectReasonCode::Success))
        .unwrap();
    p.take_received();
    p.server(incoming(QoS::AtLeastOnce, 1)).unwrap();
    p.server(incoming(QoS::ExactlyOnce, 2)).unwrap();
    let err = p.server(incoming(QoS::AtLeastOnce, 3)).unwrap_err();
    assert_eq!(err.reason, ReasonCode::ReceiveMaximumExceeded);
    assert_eq!(
        last_disconnect(&p.take_received()),
        Some(DisconnectReasonCode::ReceiveMaximumExceeded)
    );
}

/// v5 [MQTT-3.3.2-10], [MQTT-3.3.2-11], [MQTT-3.3.2-7]: aliases up to our
/// maximum are accepted, above it is 0x94, and none survives a connection.
#[test]
fn mqtt_3_3_2_10_inbound_topic_alias() {
    let mut p = Pair::new(V5);
    let mut c = connect_packet(V5, true);
    c.properties.topic_alias_maximum = Some(2);
    p.connect_with(c.clone());
    p.server(ConnAck::new(false, ConnectReasonCode::Success))
        .unwrap();
    let mut first = Publish::new(TopicName::from_static("long/topic").unwrap(), &b"1"[..]);
    first.properties.topic_alias = NonZeroU16::new(2);
    p.server(first).unwrap();
    let mut alias_only = Publish::new(TopicName::from_static("x").unwrap(), &b"2"[..]);
    alias_only.topic = None;
    alias_only.properties.topic_alias = NonZeroU16::new(2);
    p.server(alias_only.clone()).unwrap();
    let ev = p.take_events();
    let Some(Event::Message { publish, .. }) = ev.last() else {
        panic!()
    };
    assert_eq!(publish.topic_str(), "long/topic");
    // New connection: the mapping is gone.
    p.drop_link();
    p.connect_with(c.clone());
    p.server(ConnAck::new(false, ConnectReasonCode::Success))
        .unwrap();
    let err = p.server(alias_only).unwrap_err();
    assert_eq!(err.reason, ReasonCode::ProtocolError);
    // Above our maximum.
    p.drop_link();
    p.connect_with(c);
    p.server(ConnAck::new(false, ConnectReasonCode::Success))
        .unwrap();
    let mut over = Publish::new(TopicName::from_static("t").unwrap(), &b""[..]);
    over.properties.topic_alias = NonZeroU16::new(3);
    assert_eq!(
        p.server(over).unwrap_err().reason,
        ReasonCode::TopicAliasInvalid
    );
}

/// v5 [MQTT-3.2.2-17], [MQTT-3.2.2-18], [MQTT-3.3.2-9], [MQTT-3.3.2-7]:
/// outbound aliases stay within the server's maximum, none when it sent
/// none, and the table restarts on every connection (resends use full topics).
#[test]
fn mqtt_3_2_2_17_outbound_topic_alias() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| c.properties.topic_alias_maximum = Some(1)),
    );
    for t in ["a/1", "a/1", "a/2", "a/1"] {
        p.client.publish(p.now, msg(t, QoS::AtLeastOnce)).unwrap();
    }
    let got: Vec<_> = p
        .take_received()
        .into_iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some((
                p.topic_str().to_owned(),
                p.properties.topic_alias.map(NonZeroU16::get),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a/1".into(), Some(1)),
            ("".into(), Some(1)),
            ("a/2".into(), None),
            ("".into(), Some(1))
        ]
    );
    p.drop_link();
    p.connect(false, ConnAck::new(true, ConnectReasonCode::Success));
    for packet in p.take_received() {
        let Packet::Publish(pb) = packet else {
            continue;
        };
        assert!(
            pb.topic.is_some() && pb.properties.topic_alias.is_none(),
            "resend with full topic"
        );
    }
    // No Topic Alias Maximum: no aliases.
    let mut q = Pair::new(V5);
    q.connect_ok(false);
    q.client
        .publish(q.now, msg("a/1", QoS::AtMostOnce))
        .unwrap();
    q.client
        .publish(q.now, msg("a/1", QoS::AtMostOnce))
        .unwrap();
    for packet in q.take_received() {
        let Packet::Publish(pb) = packet else {
            continue;
        };
        assert!(pb.properties.topic_alias.is_none());
    }
}

/// v5 [MQTT-3.2.2-15]: a PUBLISH larger than the server's Maximum Packet
/// Size fails that operation (its user properties are not dropped); the
/// session carries on.
#[test]
fn mqtt_3_2_2_15_outbound_maximum_packet_size() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| c.properties.maximum_packet_size = NonZeroU32::new(40)),
    );
    let mut big = msg("a", QoS::AtLeastOnce);
    big.properties.user_properties.push(
        MqttString::try_from("k").unwrap(),
        MqttString::try_from("v".repeat(40)).unwrap(),
    );
    let op = p.client.publish(p.now, big).unwrap();
    let ok = p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    assert!(p.take_events().contains(&Event::OpFailed {
        op,
        error: OpError::PacketTooLarge
    }));
    // The identifier of the failed message is free again.
    assert_eq!(publishes(&p.take_received()), [(Some(1), false)]);
    assert_eq!(p.client.session().inflight().next().unwrap().op, ok);
    assert_eq!(p.client.session().packet_ids_in_use(), 1);
}

/// v5 [MQTT-3.14.2-3], [MQTT-3.14.2-4]: a DISCONNECT too large loses its
/// Reason String and User Properties, not its reason code.
#[test]
fn mqtt_3_14_2_3_disconnect_properties_dropped_to_fit() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| c.properties.maximum_packet_size = NonZeroU32::new(20)),
    );
    let mut d = Disconnect::new(DisconnectReasonCode::DisconnectWithWillMessage);
    d.properties.reason_string = Some(MqttString::try_from("r".repeat(50)).unwrap());
    p.client.disconnect(p.now, d).unwrap();
    p.flush();
    let got = p.take_received();
    let Some(Packet::Disconnect(d)) = got.last() else {
        panic!("{got:?}")
    };
    assert_eq!(
        d.reason_code,
        DisconnectReasonCode::DisconnectWithWillMessage
    );
    assert!(d.properties.reason_string.is_none());
}

/// v5 §3.1.2.11.4 (Maximum Packet Size of the client): a larger packet from
/// the server is a protocol error answered with DISCONNECT 0x95.
#[test]
fn v5_inbound_maximum_packet_size_0x95() {
    let mut p = Pair::new(V5);
    let mut c = connect_packet(V5, true);
    c.properties.maximum_packet_size = NonZeroU32::new(30);
    p.connect_with(c);
    p.server(ConnAck::new(false, ConnectReasonCode::Success))
        .unwrap();
    p.take_received();
    let big = Publish::new(TopicName::from_static("t").unwrap(), vec![0u8; 64]);
    assert_eq!(
        p.server(big).unwrap_err().reason,
        ReasonCode::PacketTooLarge
    );
    assert_eq!(
        last_disconnect(&p.take_received()),
        Some(DisconnectReasonCode::PacketTooLarge)
    );
}

/// v5 [MQTT-3.1.2-20], v3.1.1 [MQTT-3.1.2-23]: PINGREQ only when nothing was
/// sent for the keep-alive interval; no PINGRESP by the deadline ends the connection.
#[test]
fn mqtt_3_1_2_20_keep_alive() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        let mut c = connect_packet(v, true);
        c.keep_alive = 10;
        p.connect_with(c);
        p.server(ConnAck::new(false, ConnectReasonCode::Success))
            .unwrap();
        p.take_received();
        p.advance(6_000);
        p.client.publish(p.now, msg("a", QoS::AtMostOnce)).unwrap();
        p.flush();
        p.advance(6_000);
        assert_eq!(
            publishes(&p.take_received()).len(),
            1,
            "no PINGREQ while sending"
        );
        p.advance(4_000);
        assert_eq!(p.take_received(), [Packet::PingReq]);
        p.server(Packet::PingResp).unwrap();
        p.advance(10_000);
        assert_eq!(p.take_received(), [Packet::PingReq]);
        p.advance(10_000);
        assert!(
            p.take_events()
                .contains(&Event::Closed(CloseCause::KeepAliveTimeout))
        );
        assert_eq!(p.client.poll_timeout(), None);
    }
}

/// v5 [MQTT-3.1.2-21], [MQTT-3.2.2-21]: the Server Keep Alive replaces ours.
#[test]
fn mqtt_3_2_2_21_server_keep_alive() {
    let mut p = Pair::new(V5);
    let mut c = connect_packet(V5, true);
    c.keep_alive = 100;
    p.connect_with(c);
    p.server(connack_with(|c| c.properties.server_keep_alive = Some(5)))
        .unwrap();
    p.take_received();
    p.advance(5_000);
    assert_eq!(p.take_received(), [Packet::PingReq]);
    assert_eq!(p.client.negotiated().unwrap().keep_alive, 5);
}

/// v5 [MQTT-3.2.2-11], [MQTT-3.2.2-14]: Maximum QoS and Retain Available are respected.
#[test]
fn mqtt_3_2_2_11_maximum_qos_and_retain() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| {
            c.properties.maximum_qos = Some(QoS::AtLeastOnce);
            c.properties.retain_available = Some(false);
        }),
    );
    assert_eq!(
        p.client.publish(p.now, msg("a", QoS::ExactlyOnce)),
        Err(OpError::QoSNotSupported)
    );
    let mut r = msg("a", QoS::AtMostOnce);
    r.retain = true;
    assert_eq!(p.client.publish(p.now, r), Err(OpError::RetainNotAvailable));
}

/// v5 [MQTT-3.2.2-16], [MQTT-3.1.3-7]: the Assigned Client Identifier is kept for the next connect.
#[test]
fn mqtt_3_2_2_16_assigned_client_identifier() {
    let mut p = Pair::with(
        V5,
        Session::new(MqttString::default()),
        ClientConfig::default(),
    );
    let mut c = connect_packet(V5, true);
    c.client_id = MqttString::default();
    p.connect_with(c.clone());
    p.server(connack_with(|c| {
        c.properties.assigned_client_identifier = Some(MqttString::try_from("srv-1").unwrap())
    }))
    .unwrap();
    assert_eq!(p.client.session().client_id().as_str(), "srv-1");
    p.drop_link();
    p.take_received();
    c.clean_start = false;
    p.connect_with(c);
    let got = p.take_received();
    let Packet::Connect(c) = &got[0] else {
        panic!()
    };
    assert_eq!(c.client_id.as_str(), "srv-1");
}

/// v5 [MQTT-2.2.1-3], v3.1.1 [MQTT-2.3.1-2]: when every identifier is in use
/// the operation waits in the queue and goes out once one is free.
#[test]
fn mqtt_2_2_1_3_id_exhaustion_queues() {
    let session = Session::with_packet_id_limit(MqttString::try_from("c1").unwrap(), 2);
    let mut p = Pair::with(V5, session, ClientConfig::default());
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
        [(Some(1), false), (Some(2), false)]
    );
    assert_eq!(p.client.session().pending_len(), 2);
    p.server(PubAck::new(id(1))).unwrap();
    let got = p.take_received();
    assert!(
        matches!(&got[0], Packet::Subscribe(s) if s.packet_id == id(1)),
        "{got:?}"
    );
}

/// v5 [MQTT-3.2.0-1]: only CONNACK (or AUTH) may come first.
#[test]
fn mqtt_3_2_0_1_publish_before_connack() {
    let mut p = Pair::new(V5);
    p.connect_with(connect_packet(V5, true));
    let err = p.server(incoming(QoS::AtMostOnce, 1)).unwrap_err();
    assert_eq!(err.reason, ReasonCode::ProtocolError);
}

/// v5 [MQTT-3.2.0-2]: a second CONNACK is a protocol error.
#[test]
fn mqtt_3_2_0_2_second_connack() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    assert!(
        p.server(ConnAck::new(false, ConnectReasonCode::Success))
            .is_err()
    );
}

/// v5 [MQTT-3.8.4-6], v3.1.1 [MQTT-3.8.4-5]: one SUBACK reason code per filter.
#[test]
fn mqtt_3_8_4_6_suback_code_per_filter() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    let f = |s| {
        (
            TopicFilter::from_static(s).unwrap(),
            SubscriptionOptions::default(),
        )
    };
    p.client
        .subscribe(p.now, vec![f("a"), f("b")], Default::default())
        .unwrap();
    p.take_received();
    assert!(
        p.server(SubAck::new(id(1), vec![SubAckReasonCode::Success]))
            .is_err()
    );
}

/// v5 [MQTT-4.12.0-2], [MQTT-4.12.0-3], [MQTT-4.12.0-5], [MQTT-4.12.1-1]:
/// enhanced authentication and re-authentication.
#[test]
fn mqtt_4_12_0_3_enhanced_auth() {
    let mut p = Pair::new(V5);
    let method = MqttString::try_from("SCRAM").unwrap();
    let mut c = connect_packet(V5, true);
    c.properties.authentication_method = Some(method.clone());
    p.connect_with(c);
    p.take_received();
    let mut challenge = Auth::new(AuthReasonCode::ContinueAuthentication);
    challenge.properties.authentication_method = Some(method.clone());
    challenge.properties.authentication_data = Some(Bytes::from_static(b"nonce"));
    p.server(challenge.clone()).unwrap();
    assert_eq!(
        p.take_events(),
        [Event::AuthChallenge {
            method: Some(method.clone()),
            data: Some(Bytes::from_static(b"nonce"))
        }]
    );
    p.client
        .auth(p.now, Some(Bytes::from_static(b"proof")))
        .unwrap();
    p.flush();
    let got = p.take_received();
    let Packet::Auth(a) = &got[0] else { panic!() };
    assert_eq!(a.reason_code, AuthReasonCode::ContinueAuthentication);
    assert_eq!(a.properties.authentication_method.as_ref(), Some(&method));
    p.server(connack_with(|c| {
        c.properties.authentication_method = Some(method.clone())
    }))
    .unwrap();
    p.client.reauthenticate(p.now, None).unwrap();
    p.flush();
    assert!(
        matches!(&p.take_received()[0], Packet::Auth(a) if a.reason_code == AuthReasonCode::ReAuthenticate)
    );
    let mut ok = Auth::new(AuthReasonCode::Success);
    ok.properties.authentication_method = Some(method);
    p.server(ok).unwrap();
    assert!(p.take_events().contains(&Event::Reauthenticated));
}

/// v5 [MQTT-4.12.0-6], [MQTT-4.12.0-7]: no AUTH either way without an Authentication Method.
#[test]
fn mqtt_4_12_0_6_no_auth_without_method() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    assert_eq!(
        p.client.reauthenticate(p.now, None),
        Err(OpError::NoAuthenticationMethod)
    );
    let err = p
        .server(Auth::new(AuthReasonCode::ContinueAuthentication))
        .unwrap_err();
    assert_eq!(err.reason, ReasonCode::ProtocolError);
}

/// v5 [MQTT-3.14.4-1], v3.1.1 [MQTT-3.14.4-2]: nothing is sent after DISCONNECT;
/// later publishes wait in the session.
#[test]
fn mqtt_3_14_4_1_nothing_after_disconnect() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        p.connect_ok(false);
        p.client
            .disconnect(p.now, Disconnect::new(DisconnectReasonCode::Success))
            .unwrap();
        p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
        p.flush();
        assert!(matches!(
            p.take_received().as_slice(),
            [Packet::Disconnect(_)]
        ));
        assert_eq!(p.client.session().pending_len(), 1);
        assert!(
            p.take_events()
                .contains(&Event::Closed(CloseCause::ByClient))
        );
    }
}

/// v5 §3.14: a DISCONNECT from the server is surfaced with its reason code.
#[test]
fn v5_server_disconnect_surfaced() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    p.server(Disconnect::new(DisconnectReasonCode::ServerShuttingDown))
        .unwrap();
    assert!(
        p.take_events()
            .contains(&Event::Closed(CloseCause::ByServer(Disconnect::new(
                DisconnectReasonCode::ServerShuttingDown
            ))))
    );
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
    let bytes = p.client.session().snapshot().unwrap();
    let restored = Session::restore(bytes.clone()).unwrap();
    assert_eq!(restored.snapshot().unwrap(), bytes);
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
        Session::restore(Bytes::from_static(b"nope")).unwrap_err(),
        mqtt_session::RestoreError::NotASnapshot
    );
}

/// v5 [MQTT-3.1.2-30]: with an Authentication Method nothing but AUTH or
/// DISCONNECT goes out before CONNACK; queued work follows CONNACK.
#[test]
fn mqtt_3_1_2_30_only_auth_before_connack() {
    let mut p = Pair::new(V5);
    let method = MqttString::try_from("M").unwrap();
    let mut c = connect_packet(V5, true);
    c.properties.authentication_method = Some(method.clone());
    p.connect_with(c);
    p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
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
    assert!(matches!(p.take_received().as_slice(), [Packet::Connect(_)]));
    p.server(connack_with(|c| {
        c.properties.authentication_method = Some(method)
    }))
    .unwrap();
    let got = p.take_received();
    assert!(
        matches!(got.as_slice(), [Packet::Subscribe(_), Packet::Publish(_)]),
        "{got:?}"
    );
}

/// v5 §3.1.3.2 (Will Properties) and §3.14.2.1 (0x04): the Will with its
/// Will Delay goes out in CONNECT unchanged, DISCONNECT 0x04 asks for it.
#[test]
fn v5_will_with_delay_and_disconnect_with_will() {
    let mut p = Pair::new(V5);
    let mut c = connect_packet(V5, true);
    let mut will =
        mqtt_codec::LastWill::new(TopicName::from_static("will/t").unwrap(), &b"bye"[..]);
    will.qos = QoS::AtLeastOnce;
    will.properties.will_delay_interval = Some(30);
    c.will = Some(will.clone());
    c.properties.session_expiry_interval = Some(60);
    p.connect_with(c);
    let got = p.take_received();
    let Packet::Connect(sent) = &got[0] else {
        panic!()
    };
    assert_eq!(sent.will.as_ref(), Some(&will));
    p.server(ConnAck::new(false, ConnectReasonCode::Success))
        .unwrap();
    assert_eq!(p.client.negotiated().unwrap().session_expiry_interval, 60);
    let mut d = Disconnect::new(DisconnectReasonCode::DisconnectWithWillMessage);
    d.properties.session_expiry_interval = Some(0);
    p.client.disconnect(p.now, d).unwrap();
    assert!(
        matches!(p.take_received().as_slice(), [Packet::Disconnect(d)] if d.reason_code == DisconnectReasonCode::DisconnectWithWillMessage)
    );
}

/// v5 §3.14.2.2.2: no non-zero Session Expiry on DISCONNECT after 0 on CONNECT.
#[test]
fn v5_session_expiry_on_disconnect_after_zero() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    let mut d = Disconnect::new(DisconnectReasonCode::Success);
    d.properties.session_expiry_interval = Some(10);
    assert_eq!(
        p.client.disconnect(p.now, d),
        Err(OpError::SessionExpiryWasZero)
    );
    assert!(p.client.is_connected());
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

/// v5 §3.2.2.3.11 to §3.2.2.3.13: wildcard, shared and subscription
/// identifier availability from CONNACK are respected before sending.
#[test]
fn v5_subscription_features_availability() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| {
            c.properties.wildcard_subscription_available = Some(false);
            c.properties.shared_subscription_available = Some(false);
            c.properties.subscription_identifier_available = Some(false);
        }),
    );
    let sub = |f: &'static str| {
        vec![(
            TopicFilter::from_static(f).unwrap(),
            SubscriptionOptions::default(),
        )]
    };
    assert_eq!(
        p.client.subscribe(p.now, sub("a/+"), Default::default()),
        Err(OpError::WildcardSubscriptionsNotAvailable)
    );
    assert_eq!(
        p.client
            .subscribe(p.now, sub("$share/g/a"), Default::default()),
        Err(OpError::SharedSubscriptionsNotAvailable)
    );
    let mut props = mqtt_codec::SubscribeProperties::default();
    props.subscription_identifier = NonZeroU32::new(7);
    assert_eq!(
        p.client.subscribe(p.now, sub("a"), props),
        Err(OpError::SubscriptionIdentifiersNotAvailable)
    );
    assert!(
        p.client
            .subscribe(p.now, sub("a/b"), Default::default())
            .is_ok()
    );
}

/// v5 [MQTT-3.3.4-6]: a client PUBLISH carries no Subscription Identifier.
#[test]
fn mqtt_3_3_4_6_no_subscription_identifier_in_publish() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    let mut m = msg("a", QoS::AtMostOnce);
    m.properties
        .subscription_identifiers
        .push(NonZeroU32::new(1).unwrap());
    assert_eq!(
        p.client.publish(p.now, m),
        Err(OpError::SubscriptionIdentifierInPublish)
    );
}

/// v5 [MQTT-3.4.2-2], [MQTT-3.4.2-3]: an application's Reason String and
/// User Properties on PUBACK are sent when they fit the server's Maximum
/// Packet Size and left out when they do not; the reason code stays.
#[test]
fn mqtt_3_4_2_2_ack_properties_dropped_to_fit() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| c.properties.maximum_packet_size = NonZeroU32::new(30)),
    );
    p.server(incoming(QoS::AtLeastOnce, 1)).unwrap();
    p.server(incoming(QoS::AtLeastOnce, 2)).unwrap();
    let t = tokens(&p.take_events());
    let props = |len: usize| {
        let mut a = mqtt_codec::AckProperties::default();
        a.reason_string = Some(MqttString::try_from("r".repeat(len)).unwrap());
        a
    };
    p.client
        .ack_with_properties(
            p.now,
            t[0],
            PubAckReasonCode::NoMatchingSubscribers,
            props(5),
        )
        .unwrap();
    p.client
        .ack_with_properties(
            p.now,
            t[1],
            PubAckReasonCode::NoMatchingSubscribers,
            props(50),
        )
        .unwrap();
    let got = p.take_received();
    let [Packet::PubAck(small), Packet::PubAck(big)] = got.as_slice() else {
        panic!("{got:?}")
    };
    assert_eq!(
        small
            .properties
            .reason_string
            .as_ref()
            .map(MqttString::as_str),
        Some("rrrrr")
    );
    assert!(big.properties.reason_string.is_none());
    assert_eq!(big.reason_code, PubAckReasonCode::NoMatchingSubscribers);
}
