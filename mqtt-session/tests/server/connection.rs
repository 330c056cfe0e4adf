//! The server connection: inbound QoS, flow control, keep-alive, topic
//! aliases, Maximum Packet Size, SUBSCRIBE/UNSUBSCRIBE.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use mqttkit_codec::{
    Disconnect, DisconnectReasonCode, Packet, ProtocolVersion, PubAck, PubAckReasonCode, PubComp,
    PubRec, PubRel, PubRelReasonCode, QoS, ReasonCode, SubAck, SubAckReasonCode,
    SubscriptionOptions, UnsubAck, UnsubAckReasonCode, Unsubscribe,
};
use mqttkit_session::TopicFilter;
use mqttkit_session::{Delivery, OpError, ServerCloseCause, ServerConfig, ServerEvent};

use crate::{Peer, connect, id, message, publish, subscribe};

fn v5(config: ServerConfig) -> Peer {
    let mut p = Peer::open(connect(ProtocolVersion::V5, "c1", true), config, None);
    p.take();
    p
}

fn publishes(p: &Peer) -> usize {
    p.events
        .iter()
        .filter(|e| matches!(e, ServerEvent::Publish { .. }))
        .count()
}

/// v5 [MQTT-4.3.2-4], v3.1.1 [MQTT-4.3.2-2]: PUBACK with the packet
/// identifier of the QoS 1 PUBLISH, once the application took ownership.
#[test]
fn v5_mqtt_4_3_2_4_qos1_puback() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut p = Peer::open(connect(version, "c1", true), ServerConfig::default(), None);
        p.take();
        p.send(publish("a/b", QoS::AtLeastOnce, 7).into()).unwrap();
        assert!(p.take().is_empty(), "no PUBACK before the application acks");
        let token = p.last_token();
        p.server
            .ack(p.now, token, PubAckReasonCode::Success)
            .unwrap();
        p.drain();
        assert_eq!(p.take(), [Packet::PubAck(PubAck::new(id(7)))]);
    }
}

/// v5 [MQTT-4.6.0-2]-style ordering on the server: PUBACKs go in the order
/// the PUBLISH packets arrived, whatever order the application acks in.
#[test]
fn v5_acks_in_arrival_order() {
    let mut p = v5(ServerConfig::default());
    p.send(publish("a", QoS::AtLeastOnce, 1).into()).unwrap();
    let first = p.last_token();
    p.send(publish("a", QoS::AtLeastOnce, 2).into()).unwrap();
    let second = p.last_token();
    p.server
        .ack(p.now, second, PubAckReasonCode::Success)
        .unwrap();
    p.drain();
    assert!(p.take().is_empty());
    p.server
        .ack(p.now, first, PubAckReasonCode::Success)
        .unwrap();
    p.drain();
    assert_eq!(
        p.take(),
        [
            Packet::PubAck(PubAck::new(id(1))),
            Packet::PubAck(PubAck::new(id(2)))
        ]
    );
}

/// v5 [MQTT-4.3.3-9], [MQTT-4.3.3-10], [MQTT-4.3.3-11], [MQTT-4.3.3-12]:
/// QoS 2 inbound is delivered once: a repeated PUBLISH before PUBREL is
/// answered with PUBREC and not delivered again; PUBREL gets PUBCOMP;
/// after it the identifier starts a new message.
#[test]
fn v5_mqtt_4_3_3_10_qos2_exactly_once() {
    let mut p = v5(ServerConfig::default());
    p.send(publish("a", QoS::ExactlyOnce, 5).into()).unwrap();
    let token = p.last_token();
    p.server
        .ack(p.now, token, PubAckReasonCode::Success)
        .unwrap();
    p.drain();
    assert_eq!(p.take(), [Packet::PubRec(PubRec::new(id(5)))]);
    let mut dup = publish("a", QoS::ExactlyOnce, 5);
    dup.qos = dup.qos.redelivery();
    p.send(dup.into()).unwrap();
    assert_eq!(publishes(&p), 1, "not delivered twice");
    assert_eq!(p.take(), [Packet::PubRec(PubRec::new(id(5)))]);
    p.send(PubRel::new(id(5)).into()).unwrap();
    assert_eq!(p.take(), [Packet::PubComp(PubComp::new(id(5)))]);
    p.send(publish("a", QoS::ExactlyOnce, 5).into()).unwrap();
    assert_eq!(publishes(&p), 2, "a new message after PUBCOMP");
}

/// v5 [MQTT-4.3.3-10] across connections: the inbound QoS 2 state is part
/// of the session (v5 §4.1), so a DUP after reconnect is not delivered again.
#[test]
fn v5_qos2_exactly_once_across_reconnect() {
    let mut c = connect(ProtocolVersion::V5, "c1", false);
    c.properties.session_expiry_interval = Some(60);
    let mut p = Peer::open(c.clone(), ServerConfig::default(), None);
    p.send(publish("a", QoS::ExactlyOnce, 9).into()).unwrap();
    let token = p.last_token();
    p.server
        .ack(p.now, token, PubAckReasonCode::Success)
        .unwrap();
    p.server.handle_transport_closed(p.now);
    let mut q = Peer::open(c, ServerConfig::default(), Some(p.server));
    q.take();
    let mut dup = publish("a", QoS::ExactlyOnce, 9);
    dup.qos = dup.qos.redelivery();
    q.send(dup.into()).unwrap();
    assert_eq!(publishes(&q), 0);
    assert_eq!(q.take(), [Packet::PubRec(PubRec::new(id(9)))]);
    q.send(PubRel::new(id(9)).into()).unwrap();
    assert_eq!(q.take(), [Packet::PubComp(PubComp::new(id(9)))]);
}

/// v5 §3.7.2.1: PUBREL for an unknown identifier gets PUBCOMP 0x92.
#[test]
fn v5_pubrel_unknown_id_gets_0x92() {
    let mut p = v5(ServerConfig::default());
    p.send(PubRel::new(id(3)).into()).unwrap();
    assert_eq!(
        p.take(),
        [Packet::PubComp(
            PubComp::new(id(3)).with_reason(PubRelReasonCode::PacketIdentifierNotFound)
        )]
    );
}

/// v5 [MQTT-3.3.4-7], §3.3.4: more unacknowledged QoS 1/2 PUBLISH than
/// our Receive Maximum: DISCONNECT 0x93.
#[test]
fn v5_mqtt_3_3_4_7_receive_maximum_exceeded() {
    let mut p = v5(ServerConfig {
        receive_maximum: 2,
        ..ServerConfig::default()
    });
    p.send(publish("a", QoS::AtLeastOnce, 1).into()).unwrap();
    p.send(publish("a", QoS::ExactlyOnce, 2).into()).unwrap();
    let err = p
        .send(publish("a", QoS::AtLeastOnce, 3).into())
        .unwrap_err();
    assert_eq!(err.reason, ReasonCode::ReceiveMaximumExceeded);
    assert_eq!(
        p.take(),
        [Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::ReceiveMaximumExceeded
        ))]
    );
}

/// v5 [MQTT-3.3.4-7]: an acknowledged message frees its slot.
#[test]
fn v5_receive_maximum_slot_freed_by_ack() {
    let mut p = v5(ServerConfig {
        receive_maximum: 1,
        ..ServerConfig::default()
    });
    p.send(publish("a", QoS::AtLeastOnce, 1).into()).unwrap();
    let t = p.last_token();
    p.server.ack(p.now, t, PubAckReasonCode::Success).unwrap();
    p.send(publish("a", QoS::AtLeastOnce, 2).into()).unwrap();
    assert!(p.server.is_connected());
}

/// v5 [MQTT-3.3.4-7]: a QoS 2 message refused with a PUBREC of reason
/// 0x80 or above ends its flow and frees its Receive Maximum slot at once,
/// without a PUBREL.
#[test]
fn v5_mqtt_3_3_4_7_refused_qos2_frees_its_slot() {
    let mut p = v5(ServerConfig {
        receive_maximum: 1,
        ..ServerConfig::default()
    });
    p.send(publish("a", QoS::ExactlyOnce, 1).into()).unwrap();
    let t = p.last_token();
    p.server
        .ack(p.now, t, PubAckReasonCode::ImplementationSpecificError)
        .unwrap();
    p.drain();
    let sent = p.take();
    assert!(
        matches!(&sent[..], [Packet::PubRec(rec)] if rec.reason_code.is_error()),
        "{sent:?}"
    );
    p.send(publish("a", QoS::ExactlyOnce, 2).into()).unwrap();
    assert!(p.server.is_connected());
}

/// Giving storage back loses nothing: an event not taken yet, alone or
/// beside a SUBSCRIBE awaiting its answer, survives `shrink_to_fit`.
#[test]
fn shrink_to_fit_keeps_events_not_taken_yet() {
    let mut p = v5(ServerConfig::default());
    let bytes = crate::encode(
        ProtocolVersion::V5,
        &publish("a", QoS::AtMostOnce, 0).into(),
    );
    p.server.handle_bytes(p.now, &bytes);
    p.server.shrink_to_fit();
    assert!(matches!(
        p.server.poll_event(),
        Some(ServerEvent::Publish { .. })
    ));

    let sub = subscribe(&[("a/#", SubscriptionOptions::new(QoS::AtLeastOnce))], 1);
    let bytes = crate::encode(ProtocolVersion::V5, &sub.into());
    p.server.handle_bytes(p.now, &bytes);
    p.server.shrink_to_fit();
    assert!(matches!(
        p.server.poll_event(),
        Some(ServerEvent::Subscribe { .. })
    ));
    p.server
        .suback(id(1), vec![SubAckReasonCode::GrantedQoS1])
        .unwrap();
    p.drain();
    assert!(matches!(&p.take()[..], [Packet::SubAck(_)]));
}

/// v5 [MQTT-3.1.2-22], v3.1.1 [MQTT-3.1.2-24]: nothing received within
/// one and a half keep-alive intervals closes the connection (0x8D in 5.0).
/// Without a Server Keep Alive the client's value is used (v5 [MQTT-3.2.2-22]).
#[test]
fn v5_mqtt_3_1_2_22_keep_alive_one_and_a_half() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut c = connect(version, "c1", true);
        c.keep_alive = 10;
        let mut p = Peer::open(c, ServerConfig::default(), None);
        p.take();
        assert_eq!(p.server.poll_timeout().unwrap().as_millis(), 15_000);
        p.advance(10_000);
        p.send(Packet::PingReq).unwrap();
        assert_eq!(p.take(), [Packet::PingResp]);
        p.advance(14_999);
        assert!(p.server.is_connected());
        p.advance(1);
        assert!(!p.server.is_connected());
        assert!(
            p.events
                .contains(&ServerEvent::Closed(ServerCloseCause::KeepAliveTimeout))
        );
        let sent = p.take();
        if version.is_v5() {
            assert_eq!(
                sent,
                [Packet::Disconnect(Disconnect::new(
                    DisconnectReasonCode::KeepAliveTimeout
                ))]
            );
        } else {
            assert!(sent.is_empty());
        }
    }
}

/// v5 [MQTT-3.2.2-21], [MQTT-3.1.2-21]: a Server Keep Alive is sent in
/// CONNACK and replaces the client's value.
#[test]
fn v5_mqtt_3_2_2_21_server_keep_alive() {
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.keep_alive = 100;
    let p = Peer::open(
        c,
        ServerConfig {
            server_keep_alive: Some(4),
            ..ServerConfig::default()
        },
        None,
    );
    let Packet::ConnAck(ack) = &p.received[0] else {
        panic!()
    };
    assert_eq!(ack.properties.server_keep_alive, Some(4));
    assert_eq!(p.server.poll_timeout().unwrap().as_millis(), 6_000);
}

/// v5 [MQTT-3.3.2-9], [MQTT-3.3.2-10]: a Topic Alias above our maximum is
/// answered with DISCONNECT 0x94; a mapped alias stands for its topic.
#[test]
fn v5_mqtt_3_3_2_9_topic_alias_inbound() {
    let mut p = v5(ServerConfig {
        topic_alias_maximum: 2,
        ..ServerConfig::default()
    });
    let mut first = publish("long/topic", QoS::AtMostOnce, 0);
    first.properties.topic_alias = NonZeroU16::new(2);
    p.send(first.into()).unwrap();
    let mut second = publish("x", QoS::AtMostOnce, 0);
    second.topic = None;
    second.properties.topic_alias = NonZeroU16::new(2);
    p.send(second.into()).unwrap();
    let topics: Vec<_> = p
        .events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Publish { publish, .. } => Some(publish.topic_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(topics, ["long/topic", "long/topic"]);
    let mut over = publish("y", QoS::AtMostOnce, 0);
    over.properties.topic_alias = NonZeroU16::new(3);
    assert_eq!(
        p.send(over.into()).unwrap_err().reason,
        ReasonCode::TopicAliasInvalid
    );
    assert_eq!(
        p.take(),
        [Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::TopicAliasInvalid
        ))]
    );
}

/// v5 §3.3.2.3.4: an alias-only PUBLISH with an alias never mapped on this
/// connection is a protocol error.
#[test]
fn v5_unmapped_alias_is_protocol_error() {
    let mut p = v5(ServerConfig::default());
    let mut only = publish("x", QoS::AtMostOnce, 0);
    only.topic = None;
    only.properties.topic_alias = NonZeroU16::new(1);
    assert_eq!(
        p.send(only.into()).unwrap_err().reason,
        ReasonCode::ProtocolError
    );
}

/// v5 [MQTT-3.3.2-11], [MQTT-3.3.2-12]: aliases we send stay within the
/// client's Topic Alias Maximum; later messages to the topic use it alone.
#[test]
fn v5_mqtt_3_3_2_11_topic_alias_outbound() {
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.properties.topic_alias_maximum = Some(1);
    let mut p = Peer::open(c, ServerConfig::default(), None);
    p.take();
    for t in ["a/b", "a/b", "c/d"] {
        p.deliver(Delivery::new(
            message(t, QoS::AtMostOnce),
            SubscriptionOptions::new(QoS::AtMostOnce),
        ))
        .unwrap();
    }
    let sent: Vec<_> = p
        .take()
        .into_iter()
        .map(|pk| match pk {
            Packet::Publish(p) => (
                p.topic.map(|t| t.as_str().to_owned()),
                p.properties.topic_alias.map(NonZeroU16::get),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        sent,
        [
            (Some("a/b".into()), Some(1)),
            (None, Some(1)),
            (Some("c/d".into()), None)
        ]
    );
}

/// v5 §3.1.2.11.4 / [MQTT-3.2.2-15]: a packet above our Maximum Packet
/// Size is answered with DISCONNECT 0x95.
#[test]
fn v5_maximum_packet_size_inbound() {
    let mut p = v5(ServerConfig {
        maximum_packet_size: Some(64),
        ..ServerConfig::default()
    });
    let mut big = publish("a", QoS::AtMostOnce, 0);
    big.payload = Bytes::from(vec![0u8; 100]);
    assert_eq!(
        p.send(big.into()).unwrap_err().reason,
        ReasonCode::PacketTooLarge
    );
    assert_eq!(
        p.take(),
        [Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::PacketTooLarge
        ))]
    );
}

/// v5 [MQTT-3.1.2-24], [MQTT-3.1.2-25]: a message larger than the client's
/// Maximum Packet Size is discarded for this client only; the connection
/// and the next message go on.
#[test]
fn v5_mqtt_3_1_2_25_too_large_dropped_for_this_client() {
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.properties.maximum_packet_size = NonZeroU32::new(40);
    let mut p = Peer::open(c, ServerConfig::default(), None);
    p.take();
    let mut big = message("a", QoS::AtLeastOnce);
    big.payload = Bytes::from(vec![0u8; 100]);
    let op = p
        .deliver(Delivery::new(
            big,
            SubscriptionOptions::new(QoS::AtLeastOnce),
        ))
        .unwrap();
    assert!(p.take().is_empty());
    assert!(p.events.contains(&ServerEvent::Dropped {
        op,
        error: OpError::PacketTooLarge
    }));
    p.deliver(Delivery::new(
        message("a", QoS::AtLeastOnce),
        SubscriptionOptions::new(QoS::AtLeastOnce),
    ))
    .unwrap();
    assert_eq!(p.take().len(), 1);
    assert!(p.server.is_connected());
    assert_eq!(p.server.session().packet_ids_in_use(), 1);
}

/// v5 [MQTT-3.8.4-1], [MQTT-3.8.4-6], [MQTT-3.9.3-1]: SUBSCRIBE is surfaced
/// with validated filters; SUBACK carries the application's code per
/// filter, in order, with the same packet identifier (v5 [MQTT-2.2.1-6],
/// [MQTT-3.8.4-2]); a wrong number of codes is refused (v5 [MQTT-3.9.3-2]).
#[test]
fn v5_mqtt_3_8_4_1_suback_with_application_codes() {
    let mut p = v5(ServerConfig::default());
    let o = SubscriptionOptions::new(QoS::ExactlyOnce);
    p.send(subscribe(&[("a/+", o), ("secret/#", o), ("$share/g/b", o)], 4).into())
        .unwrap();
    let ServerEvent::Subscribe {
        packet_id,
        requests,
        ..
    } = p.events.pop().unwrap()
    else {
        panic!()
    };
    assert_eq!(requests.len(), 3);
    let codes = vec![
        SubAckReasonCode::GrantedQoS1,
        SubAckReasonCode::NotAuthorized,
        SubAckReasonCode::SharedSubscriptionsNotSupported,
    ];
    assert_eq!(
        p.server.suback(packet_id, vec![SubAckReasonCode::Success]),
        Err(OpError::NoTopicFilter)
    );
    p.server.suback(packet_id, codes.clone()).unwrap();
    p.drain();
    assert_eq!(p.take(), [Packet::SubAck(SubAck::new(id(4), codes))]);
    let subs: Vec<_> = p
        .server
        .subscriptions()
        .map(|(f, s)| (f.as_str().to_owned(), s.options.qos))
        .collect();
    assert_eq!(subs, [("a/+".to_owned(), QoS::AtLeastOnce)]);
}

/// v3.1.1 [MQTT-3.9.3-2]: 3.1.1 SUBACK codes are 0x00-0x02 and 0x80; any
/// refusal becomes 0x80.
#[test]
fn v3_mqtt_3_9_3_2_refusal_is_0x80() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V3_1_1, "c1", true),
        ServerConfig::default(),
        None,
    );
    p.take();
    p.subscribe_with(
        subscribe(&[("a", SubscriptionOptions::new(QoS::AtLeastOnce))], 1),
        vec![SubAckReasonCode::NotAuthorized],
    );
    p.drain();
    assert_eq!(
        p.take(),
        [Packet::SubAck(SubAck::new(
            id(1),
            vec![SubAckReasonCode::UnspecifiedError]
        ))]
    );
}

/// v5 [MQTT-3.8.3-4]: No Local on a shared subscription is a protocol
/// error (the codec refuses the SUBSCRIBE; the server sends 0x82).
#[test]
fn v5_mqtt_3_8_3_4_no_local_on_shared() {
    let mut p = v5(ServerConfig::default());
    // Encoded by hand (the codec refuses to encode it): filter
    // "$share/g/t", options 0x04 (No Local, QoS 0).
    let mut fixed = vec![0x82, 0x10, 0x00, 0x01, 0x00, 0x00, 0x0a];
    fixed.extend_from_slice(b"$share/g/t");
    fixed.push(0x04);
    p.server.handle_bytes(p.now, &fixed);
    let err = p.server.violation().unwrap();
    assert_eq!(err.reason, ReasonCode::ProtocolError);
    // Its text names the broken rule, for the log.
    let text = err.kind.to_string();
    assert!(text.contains("[MQTT-3.8.3-4]"), "{text}");
    p.drain();
    assert_eq!(
        p.take(),
        [Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::ProtocolError
        ))]
    );
}

/// v5 [MQTT-3.10.4-4], [MQTT-3.10.4-5], [MQTT-3.11.3-1], [MQTT-2.2.1-6];
/// v3.1.1 [MQTT-3.10.4-4], [MQTT-2.3.1-7]: UNSUBACK with the packet
/// identifier, codes in 5.0 only; Success removes the subscription (v5
/// [MQTT-3.10.4-1]). Two filters, one UNSUBACK (v5 [MQTT-3.10.4-6], v3.1.1
/// [MQTT-3.10.4-6]), also for the filter that removed nothing (v3.1.1
/// [MQTT-3.10.4-5]).
#[test]
fn v5_mqtt_3_10_4_4_unsuback() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut p = Peer::open(connect(version, "c1", true), ServerConfig::default(), None);
        p.take();
        p.subscribe_with(
            subscribe(&[("a", SubscriptionOptions::new(QoS::AtLeastOnce))], 1),
            vec![SubAckReasonCode::GrantedQoS1],
        );
        let mut u = Unsubscribe::new(id(2), TopicFilter::try_from("a").unwrap());
        u.filters.push(TopicFilter::try_from("nope").unwrap());
        p.send(u.into()).unwrap();
        let ServerEvent::Unsubscribe { filters, .. } = p.events.pop().unwrap() else {
            panic!()
        };
        assert_eq!(
            filters.iter().map(|f| f.1).collect::<Vec<_>>(),
            [true, false]
        );
        let codes = vec![
            UnsubAckReasonCode::Success,
            UnsubAckReasonCode::NoSubscriptionExisted,
        ];
        p.server.unsuback(id(2), codes.clone()).unwrap();
        p.drain();
        let expected = if version.is_v5() { codes } else { Vec::new() };
        assert_eq!(
            p.take().pop(),
            Some(Packet::UnsubAck(UnsubAck::new(id(2), expected)))
        );
        assert_eq!(p.server.subscriptions().count(), 0);
    }
}

/// v5 [MQTT-3.12.4-1], v3.1.1 [MQTT-3.12.4-1]: PINGREQ gets PINGRESP.
#[test]
fn v5_mqtt_3_12_4_1_pingresp() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut p = Peer::open(connect(version, "c1", true), ServerConfig::default(), None);
        p.take();
        p.send(Packet::PingReq).unwrap();
        assert_eq!(p.take(), [Packet::PingResp], "{version}");
    }
}

/// v5 [MQTT-3.1.2-23], §3.1.2.11.2: the server role's `Session` tells the
/// truth. It is established from the accepted CONNECT on; while connected it
/// has no expiry deadline; when the connection ends the deadline is the
/// Session Expiry Interval later, and once it passes the session is no
/// longer established.
#[test]
fn v5_mqtt_3_1_2_23_server_session_reports_expiry_and_established() {
    let mut c = connect(ProtocolVersion::V5, "c1", false);
    c.properties.session_expiry_interval = Some(60);
    let mut p = Peer::open(c, ServerConfig::default(), None);
    assert!(p.server.session().is_established());
    assert_eq!(p.server.session().expires_at(), None);
    p.advance(1_000);
    p.server.handle_transport_closed(p.now);
    let deadline = mqttkit_session::Instant::from_millis(61_000);
    assert_eq!(p.server.session().expires_at(), Some(deadline));
    assert_eq!(p.server.poll_timeout(), Some(deadline));
    assert!(p.server.session().is_established());
    p.server.handle_timeout(deadline);
    assert!(p.server.is_expired());
    assert!(!p.server.session().is_established());
    assert_eq!(p.server.session().expires_at(), None);
}

/// v5 [MQTT-4.3.2-4], [MQTT-4.3.3-8]: by default the server acknowledges a
/// QoS 1 PUBLISH with PUBACK and a QoS 2 one with PUBREC as it arrives, and
/// the broker gets the message without a token.
#[test]
fn v5_mqtt_4_3_2_4_server_acknowledges_automatically_by_default() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let c = connect(version, "c1", true);
        let mut p = Peer::open_with(c, ServerConfig::default(), None);
        p.take();
        p.send(publish("a", QoS::AtLeastOnce, 5).into()).unwrap();
        p.send(publish("a", QoS::ExactlyOnce, 6).into()).unwrap();
        assert_eq!(
            p.take(),
            [
                Packet::PubAck(PubAck::new(id(5))),
                Packet::PubRec(PubRec::new(id(6)))
            ]
        );
        let tokens: Vec<_> = p
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                ServerEvent::Publish { ack, .. } => Some(ack),
                _ => None,
            })
            .collect();
        assert_eq!(tokens, [None, None], "{version:?}");
    }
}
