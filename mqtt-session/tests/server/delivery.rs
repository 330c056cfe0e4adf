//! Delivery to the client (v5 §3.3.4, §4.9): the client's Receive
//! Maximum, Message Expiry, Subscription Identifiers, No Local, Retain As
//! Published, QoS downgrade, queue full.

use std::num::{NonZeroU16, NonZeroU32};

use mqttkit_codec::{
    Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, QoS, ReasonCode, RetainHandling,
    SubscriptionOptions,
};
use mqttkit_session::{DeliverError, Delivery, Message, OpError, OpId, ServerConfig, ServerEvent};

use crate::{Peer, connect, id, message, publishes, s};

fn with_receive_maximum(n: u16) -> Peer {
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.properties.receive_maximum = NonZeroU16::new(n);
    let mut p = Peer::open(c, ServerConfig::default(), None);
    p.take();
    p
}

fn qos1() -> SubscriptionOptions {
    SubscriptionOptions::new(QoS::ExactlyOnce)
}

/// v5 [MQTT-3.3.4-9], [MQTT-4.9.0-2]: no more unacknowledged QoS 1/2
/// PUBLISH than the client's Receive Maximum; the rest waits, in order
/// (v5 [MQTT-4.6.0-6]).
#[test]
fn v5_mqtt_3_3_4_9_client_receive_maximum() {
    let mut p = with_receive_maximum(2);
    for _ in 0..4 {
        p.deliver(Delivery::new(message("t", QoS::AtLeastOnce), qos1()))
            .unwrap();
    }
    let sent = publishes(&p.take());
    assert_eq!(sent.len(), 2);
    assert_eq!(p.server.send_quota(), Some(0));
    p.send(PubAck::new(sent[0].qos.packet_id().unwrap()).into())
        .unwrap();
    let next = publishes(&p.take());
    assert_eq!(next.len(), 1);
    // The released identifier is reused first.
    assert_eq!(next[0].qos.packet_id(), Some(id(1)));
    // A PUBREC error frees the slot too (v5 [MQTT-4.9.0-3]).
    p.deliver(Delivery::new(message("t", QoS::ExactlyOnce), qos1()))
        .unwrap();
    p.send(PubAck::new(id(2)).into()).unwrap();
    p.send(PubAck::new(id(1)).into()).unwrap();
    let q2 = publishes(&p.take());
    let q2_id = q2
        .iter()
        .find(|p| p.qos.qos() == QoS::ExactlyOnce)
        .unwrap()
        .qos
        .packet_id()
        .unwrap();
    p.send(
        PubRec::new(q2_id)
            .with_reason(mqttkit_codec::PubAckReasonCode::QuotaExceeded)
            .into(),
    )
    .unwrap();
    assert!(p.events.iter().any(|e| matches!(
        e,
        ServerEvent::Delivered {
            reason: ReasonCode::QuotaExceeded,
            ..
        }
    )));
}

/// v5 [MQTT-4.3.3-4], [MQTT-4.3.3-6]: outbound QoS 2: PUBREC gets PUBREL,
/// PUBCOMP completes.
#[test]
fn v5_mqtt_4_3_3_4_outbound_qos2() {
    let mut p = with_receive_maximum(10);
    let op = p
        .deliver(Delivery::new(message("t", QoS::ExactlyOnce), qos1()))
        .unwrap();
    let pid = publishes(&p.take())[0].qos.packet_id().unwrap();
    p.send(PubRec::new(pid).into()).unwrap();
    assert_eq!(p.take(), [Packet::PubRel(PubRel::new(pid))]);
    p.send(PubComp::new(pid).into()).unwrap();
    assert!(p.events.contains(&ServerEvent::Delivered {
        op,
        reason: ReasonCode::Success
    }));
    assert_eq!(p.server.session().packet_ids_in_use(), 0);
}

/// v5 [MQTT-3.3.2-5], [MQTT-3.3.2-6]: a queued message whose Message
/// Expiry Interval passed is not sent; one sent carries the time left.
#[test]
fn v5_mqtt_3_3_2_5_message_expiry() {
    let mut p = with_receive_maximum(1);
    p.deliver(Delivery::new(message("t", QoS::AtLeastOnce), qos1()))
        .unwrap();
    let mut short = message("t", QoS::AtLeastOnce);
    short.properties.message_expiry_interval = Some(5);
    let short_op = p.deliver(Delivery::new(short, qos1())).unwrap();
    let mut long = message("t", QoS::AtLeastOnce);
    long.properties.message_expiry_interval = Some(20);
    p.deliver(Delivery::new(long, qos1())).unwrap();
    p.take();
    p.advance(6_000);
    p.send(PubAck::new(id(1)).into()).unwrap();
    assert!(p.events.contains(&ServerEvent::Dropped {
        op: short_op,
        error: OpError::MessageExpired
    }));
    let sent = publishes(&p.take());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].properties.message_expiry_interval, Some(14));
}

/// v5 [MQTT-3.3.4-3], [MQTT-3.3.4-4]: the Subscription Identifiers of the
/// matching subscriptions go with the PUBLISH; none in 3.1.1.
#[test]
fn v5_mqtt_3_3_4_3_subscription_identifiers() {
    let mut p = with_receive_maximum(10);
    let mut d = Delivery::new(message("t", QoS::AtMostOnce), qos1());
    d.subscription_identifiers = vec![NonZeroU32::new(7).unwrap(), NonZeroU32::new(300).unwrap()];
    p.deliver(d).unwrap();
    let sent = publishes(&p.take());
    let ids: Vec<u32> = sent[0]
        .properties
        .subscription_identifiers()
        .iter()
        .map(NonZeroU32::get)
        .collect();
    assert_eq!(ids, [7, 300]);
}

/// v5 [MQTT-3.3.4-3]: a message that still carries Subscription
/// Identifiers (of another subscriber, say) goes out with only those of
/// the subscriptions that matched here: none, or their own.
#[test]
fn v5_mqtt_3_3_4_3_stale_subscription_identifiers_are_replaced() {
    let mut p = with_receive_maximum(10);
    let mut m = message("t", QoS::AtMostOnce);
    m.properties
        .push_subscription_identifier(NonZeroU32::new(9).unwrap());
    p.deliver(Delivery::new(m.clone(), qos1())).unwrap();
    let mut d = Delivery::new(m, qos1());
    d.subscription_identifiers = vec![NonZeroU32::new(4).unwrap()];
    p.deliver(d).unwrap();
    let ids: Vec<Vec<u32>> = publishes(&p.take())
        .iter()
        .map(|sent| {
            sent.properties
                .subscription_identifiers()
                .iter()
                .map(NonZeroU32::get)
                .collect()
        })
        .collect();
    assert_eq!(ids, [vec![], vec![4]]);
}

/// v5 [MQTT-3.8.3-3]: with No Local a message is not sent back to the
/// client that published it.
#[test]
fn v5_mqtt_3_8_3_3_no_local() {
    let mut p = with_receive_maximum(10);
    let mut o = qos1();
    o.no_local = true;
    let mut d = Delivery::new(message("t", QoS::AtLeastOnce), o);
    d.origin = Some(s("c1"));
    assert_eq!(p.deliver(d.clone()), Err(DeliverError::NoLocal));
    d.origin = Some(s("other"));
    assert!(p.deliver(d).is_ok());
}

/// v5 [MQTT-3.3.1-12], [MQTT-3.3.1-13], [MQTT-3.3.1-9]; v3.1.1
/// [MQTT-3.3.1-9], [MQTT-3.3.1-8]: RETAIN is cleared on forwarded messages
/// unless Retain As Published; a retained message sent because of a new
/// subscription keeps it.
#[test]
fn v5_mqtt_3_3_1_12_retain_as_published() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut p = Peer::open(connect(version, "c1", true), ServerConfig::default(), None);
        p.take();
        let mut m = message("t", QoS::AtMostOnce);
        m.retain = true;
        let mut rap = qos1();
        rap.retain_as_published = true;
        p.deliver(Delivery::new(m.clone(), qos1())).unwrap();
        p.deliver(Delivery::new(m.clone(), rap)).unwrap();
        let mut on_subscribe = Delivery::new(m, qos1());
        on_subscribe.from_retained = true;
        p.deliver(on_subscribe).unwrap();
        let flags: Vec<bool> = publishes(&p.take()).iter().map(|p| p.retain).collect();
        let expected = if version.is_v5() {
            [false, true, true]
        } else {
            [false, false, true]
        };
        assert_eq!(flags, expected, "{version}");
    }
}

/// v5 [MQTT-3.3.1-11]: `deliver` refuses a retained message sent because
/// of a subscription with Retain Handling 2, and nothing goes on the wire;
/// a message published live still reaches that subscription, and Retain
/// Handling 0 and 1 take retained messages (whether 1 wants them is
/// `SubscribeRequest::wants_retained`'s answer, made before delivering).
#[test]
fn v5_mqtt_3_3_1_11_retain_handling_2_gets_no_retained() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V5, "c1", true),
        ServerConfig::default(),
        None,
    );
    p.take();
    let mut m = message("t", QoS::AtLeastOnce);
    m.retain = true;
    let with = |rh| {
        let mut o = qos1();
        o.retain_handling = rh;
        o
    };
    let mut retained = Delivery::new(m.clone(), with(RetainHandling::DoNotSend));
    retained.from_retained = true;
    assert_eq!(p.deliver(retained), Err(DeliverError::RetainHandling));
    assert_eq!(p.take(), []);
    assert_eq!(p.server.session().inflight().count(), 0);
    p.deliver(Delivery::new(m.clone(), with(RetainHandling::DoNotSend)))
        .unwrap();
    for rh in [
        RetainHandling::SendAtSubscribe,
        RetainHandling::SendAtSubscribeIfNew,
    ] {
        let mut retained = Delivery::new(m.clone(), with(rh));
        retained.from_retained = true;
        p.deliver(retained).unwrap();
    }
    let retain: Vec<bool> = publishes(&p.take()).iter().map(|p| p.retain).collect();
    assert_eq!(retain, [false, true, true], "live, then two retained");
}

/// v5 [MQTT-3.8.4-8]: sent with the lower of the published QoS and the
/// granted QoS (3.1.1: `v3_mqtt_3_8_4_6_qos_is_the_minimum`).
#[test]
fn v5_mqtt_3_8_4_8_qos_is_the_minimum() {
    let mut p = with_receive_maximum(10);
    p.deliver(Delivery::new(
        message("t", QoS::ExactlyOnce),
        SubscriptionOptions::new(QoS::AtLeastOnce),
    ))
    .unwrap();
    p.deliver(Delivery::new(
        message("t", QoS::AtMostOnce),
        SubscriptionOptions::new(QoS::ExactlyOnce),
    ))
    .unwrap();
    let q: Vec<QoS> = publishes(&p.take()).iter().map(|p| p.qos.qos()).collect();
    assert_eq!(q, [QoS::AtLeastOnce, QoS::AtMostOnce]);
}

/// v3.1.1 [MQTT-3.8.4-6]: sent with the lower of the published QoS and the
/// maximum QoS granted, as in 5.0.
#[test]
fn v3_mqtt_3_8_4_6_qos_is_the_minimum() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V3_1_1, "c1", true),
        ServerConfig::default(),
        None,
    );
    p.take();
    for (published, granted) in [
        (QoS::ExactlyOnce, QoS::AtLeastOnce),
        (QoS::AtMostOnce, QoS::ExactlyOnce),
        (QoS::AtLeastOnce, QoS::AtMostOnce),
    ] {
        p.deliver(Delivery::new(
            message("t", published),
            SubscriptionOptions::new(granted),
        ))
        .unwrap();
    }
    let q: Vec<QoS> = publishes(&p.take()).iter().map(|p| p.qos.qos()).collect();
    assert_eq!(q, [QoS::AtLeastOnce, QoS::AtMostOnce, QoS::AtMostOnce]);
}

/// The queue is bounded: beyond `max_queued` the application is told.
#[test]
fn queue_full_is_reported() {
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.properties.receive_maximum = NonZeroU16::new(1);
    let mut p = Peer::open(
        c,
        ServerConfig {
            max_queued: 2,
            ..ServerConfig::default()
        },
        None,
    );
    for _ in 0..3 {
        p.deliver(Delivery::new(message("t", QoS::AtLeastOnce), qos1()))
            .unwrap();
    }
    assert_eq!(
        p.deliver(Delivery::new(message("t", QoS::AtLeastOnce), qos1())),
        Err(DeliverError::QueueFull)
    );
}

/// v5 §4.1: QoS 1/2 messages are queued for an offline persistent session
/// and sent on resume; QoS 0 ones are not kept.
#[test]
fn v5_offline_queue_sent_on_resume() {
    let mut c = connect(ProtocolVersion::V5, "c1", false);
    c.properties.session_expiry_interval = Some(60);
    let mut p = Peer::open(c.clone(), ServerConfig::default(), None);
    p.server.handle_transport_closed(p.now);
    assert_eq!(
        p.deliver(Delivery::new(message("t", QoS::AtMostOnce), qos1())),
        Err(DeliverError::NotConnected)
    );
    p.deliver(Delivery::new(message("t", QoS::AtLeastOnce), qos1()))
        .unwrap();
    let q = Peer::open(c, ServerConfig::default(), Some(p.server));
    assert_eq!(publishes(&q.received).len(), 1);
}

/// v5 [MQTT-4.8.2-5]: when a member's session ends, a QoS 2 message already
/// sent to it (here after PUBREC and PUBREL) comes back apart from the
/// messages a broker may give another member: the QoS 1 message in flight
/// and the QoS 2 message still queued, never sent.
#[test]
fn v5_mqtt_4_8_2_5_qos2_sent_is_never_redistributed() {
    let mut p = with_receive_maximum(2);
    let exactly = SubscriptionOptions::new(QoS::ExactlyOnce);
    let sent_qos2 = p
        .deliver(Delivery::new(message("s/a", QoS::ExactlyOnce), exactly))
        .unwrap();
    let sent_qos1 = p
        .deliver(Delivery::new(message("s/b", QoS::AtLeastOnce), exactly))
        .unwrap();
    let queued_qos2 = p
        .deliver(Delivery::new(message("s/c", QoS::ExactlyOnce), exactly))
        .unwrap();
    assert_eq!(publishes(&p.take()).len(), 2, "the third waits for quota");
    p.send(PubRec::new(id(1)).into()).unwrap();
    assert_eq!(p.take(), [Packet::PubRel(PubRel::new(id(1)))]);
    p.server.handle_transport_closed(p.now);
    assert!(p.server.is_expired(), "Session Expiry Interval 0");
    let undelivered = p.server.take_undelivered();
    let ops = |v: &[(OpId, Message)]| v.iter().map(|(op, _)| *op).collect::<Vec<_>>();
    assert_eq!(ops(&undelivered.sent_exactly_once), [sent_qos2]);
    assert_eq!(ops(&undelivered.redistributable), [sent_qos1, queued_qos2]);
    assert!(p.server.take_undelivered() == Default::default());
}

/// A client that announces no Receive Maximum (every 3.1.1 client, and a
/// 5.0 one that leaves it out) gets `ServerConfig::inflight_window`
/// deliveries in flight, 20 by default, instead of the 65,535 the protocol
/// would allow; the rest wait in the queue. One that announces a Receive
/// Maximum gets exactly that (v5 [MQTT-3.3.4-9]).
#[test]
fn inflight_window_bounds_a_client_without_receive_maximum() {
    for (version, announced, window) in [
        (ProtocolVersion::V3_1_1, None, 20),
        (ProtocolVersion::V5, None, 20),
        (ProtocolVersion::V5, NonZeroU16::new(50), 50),
    ] {
        let mut c = connect(version, "c1", true);
        c.properties.receive_maximum = announced;
        let mut p = Peer::open(c, ServerConfig::default(), None);
        p.take();
        for _ in 0..60 {
            p.deliver(Delivery::new(message("t", QoS::AtLeastOnce), qos1()))
                .unwrap();
        }
        assert_eq!(
            publishes(&p.take()).len(),
            window,
            "{version:?} {announced:?}"
        );
        assert_eq!(p.server.session().pending_len(), 60 - window);
        p.send(PubAck::new(id(1)).into()).unwrap();
        assert_eq!(publishes(&p.take()).len(), 1, "one acked, one more sent");
    }
}

/// The queue is bounded in bytes as well as in messages. When a delivery
/// does not fit, the oldest queued QoS 0 messages are dropped to make room
/// for a QoS 1 or 2 one, each reported as `Dropped` with `QueueFull`; a QoS 0
/// message, or a QoS 1/2 one when no QoS 0 is left to drop, is refused.
/// Messages in flight are never dropped.
#[test]
fn full_queue_drops_qos0_first_and_never_in_flight() {
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.properties.receive_maximum = NonZeroU16::new(1);
    // Each message counts 1 payload byte and 1 topic byte.
    let config = ServerConfig {
        max_queued_bytes: 6,
        ..ServerConfig::default()
    };
    let mut p = Peer::open(c, config, None);
    p.take();
    let deliver = |p: &mut Peer, qos| p.deliver(Delivery::new(message("t", qos), qos1()));
    let in_flight = deliver(&mut p, QoS::AtLeastOnce).unwrap();
    let queued_qos1 = deliver(&mut p, QoS::AtLeastOnce).unwrap();
    let old_qos0 = deliver(&mut p, QoS::AtMostOnce).unwrap();
    let new_qos0 = deliver(&mut p, QoS::AtMostOnce).unwrap();
    assert_eq!(publishes(&p.take()).len(), 1, "one in flight, three queued");
    assert_eq!(
        deliver(&mut p, QoS::AtMostOnce),
        Err(DeliverError::QueueFull)
    );
    let late_qos1 = deliver(&mut p, QoS::AtLeastOnce).unwrap();
    let dropped: Vec<_> = p
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Dropped { op, error } => Some((op, error)),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, [(old_qos0, OpError::QueueFull)]);
    let last_qos1 = deliver(&mut p, QoS::AtLeastOnce).unwrap();
    let dropped: Vec<_> = p
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Dropped { op, .. } => Some(op),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, [new_qos0], "the other QoS 0 made room");
    assert_eq!(
        deliver(&mut p, QoS::AtLeastOnce),
        Err(DeliverError::QueueFull)
    );
    let in_flight_now: Vec<_> = p.server.session().inflight().map(|f| f.op).collect();
    assert_eq!(in_flight_now, [in_flight]);
    p.send(PubAck::new(id(1)).into()).unwrap();
    p.send(PubAck::new(id(1)).into()).unwrap();
    p.send(PubAck::new(id(1)).into()).unwrap();
    p.send(PubAck::new(id(1)).into()).unwrap();
    let delivered: Vec<_> = p
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Delivered { op, .. } => Some(op),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [in_flight, queued_qos1, late_qos1, last_qos1]);
}

/// Forwarding one large message to several subscribers copies only their
/// packet heads: `poll_transmit_chunks` hands each its payload as a chunk
/// that shares the message's storage, and the bytes are those that
/// `poll_transmit` would have sent.
#[test]
fn large_payloads_are_shared_between_subscribers_not_copied() {
    use mqttkit_session::Transmit;
    use mqttkit_session::bytes::{Buf, Bytes, BytesMut};

    let payload = Bytes::from(vec![0x5Au8; 16 * 1024]);
    // A subscriber to whom the message was just delivered.
    let delivered = |version: ProtocolVersion, client_id: &str| {
        let mut p = Peer::open(
            connect(version, client_id, true),
            ServerConfig::default(),
            None,
        );
        p.take();
        let mut m = message("big/topic", QoS::AtLeastOnce);
        m.payload = payload.clone();
        p.server.deliver(p.now, Delivery::new(m, qos1())).unwrap();
        p
    };
    let mut sent = Vec::new();
    for (n, version) in [
        ProtocolVersion::V5,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = delivered(version, &format!("c{n}"));
        let mut chunks = Transmit::new();
        while p.server.poll_transmit_chunks(&mut chunks).is_some() {}
        assert!(
            chunks
                .chunks()
                .any(|c| c.as_ptr() == payload.as_ptr() && c.len() == payload.len()),
            "the payload is sent from the message's own storage"
        );
        let wire = chunks.copy_to_bytes(chunks.remaining());
        let got = crate::decode_all(version, &wire);
        let [Packet::Publish(publish)] = &got[..] else {
            panic!("one PUBLISH, got {got:?}");
        };
        assert_eq!(publish.payload, payload);
        assert_eq!(publish.qos.packet_id(), Some(id(1)));
        sent.push(wire);
    }
    // A copying transmit of the same delivery gives the same bytes.
    let mut p = delivered(ProtocolVersion::V5, "c9");
    let mut flat = BytesMut::new();
    while p.server.poll_transmit(&mut flat).is_some() {}
    assert_eq!(&flat[..], &sent[0][..]);
}

/// Every operation gets its own number, in the order they were made, and
/// the send quota counts down from the client's Receive Maximum as QoS 1
/// deliveries go out.
#[test]
fn op_ids_are_distinct_and_the_send_quota_counts_down() {
    let mut p = with_receive_maximum(3);
    assert_eq!(p.server.send_quota(), Some(3));
    let first = p
        .deliver(Delivery::new(message("t", QoS::AtLeastOnce), qos1()))
        .unwrap();
    let second = p
        .deliver(Delivery::new(message("t", QoS::AtLeastOnce), qos1()))
        .unwrap();
    assert!(second.get() > first.get(), "{first:?} then {second:?}");
    assert_eq!(p.server.send_quota(), Some(1));
}
