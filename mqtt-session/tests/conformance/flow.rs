//! Flow control and limits: send quota, Receive Maximum, Topic Alias, Maximum Packet Size, CONNACK capabilities (v5 §4.9, §3.3.2, §3.2.2.3).

use super::*;

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

/// v5 [MQTT-3.3.2-10], [MQTT-3.3.2-11], [MQTT-3.1.2-26], [MQTT-3.3.2-7]: aliases up to our
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

/// v5 [MQTT-3.2.2-17], [MQTT-3.2.2-18], [MQTT-3.3.2-9], [MQTT-3.3.2-8],
/// [MQTT-3.3.2-7]: outbound aliases start at 1 and stay within the server's maximum, none when it sent
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
    big.properties.push_user_property(
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

/// v5 [MQTT-3.2.2-15]: the limit is inclusive: a PUBLISH of exactly the
/// server's Maximum Packet Size goes out, one a byte over it fails.
#[test]
fn mqtt_3_2_2_15_publish_of_exactly_the_maximum_is_sent() {
    let size = Packet::Publish(
        Publish::new(TopicName::from_static("a").unwrap(), &b"x"[..])
            .with_qos(PublishQoS::new(QoS::AtLeastOnce, id(1))),
    )
    .encoded_len(V5)
    .unwrap();
    for (max, sent) in [(size, 1), (size - 1, 0)] {
        let mut p = Pair::new(V5);
        p.connect(
            true,
            connack_with(|c| {
                c.properties.maximum_packet_size = NonZeroU32::new(u32::try_from(max).unwrap())
            }),
        );
        p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
        assert_eq!(publishes(&p.take_received()).len(), sent, "maximum {max}");
    }
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

/// v5 [MQTT-3.1.2-24], §3.1.2.11.4 (Maximum Packet Size of the client): a larger packet from
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
    assert_eq!(
        p.client.publish(p.now, r.clone()),
        Err(OpError::RetainNotAvailable)
    );
    // What the server supports still goes: a plain message at QoS 1 here,
    // and a retained one to a server with retained messages.
    assert!(p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).is_ok());
    let mut q = Pair::new(V5);
    q.connect_ok(false);
    assert!(q.client.publish(q.now, r).is_ok());
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
    let mut props = mqttkit_codec::SubscribeProperties::default();
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
        .push_subscription_identifier(NonZeroU32::new(1).unwrap());
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
        let mut a = mqttkit_codec::AckProperties::default();
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

/// v5 [MQTT-3.15.2-2], [MQTT-3.15.2-3], [MQTT-4.12.0-5]: the application's
/// Reason String and User Properties go out on AUTH when they fit, and are
/// left out when the AUTH would exceed the server's Maximum Packet Size;
/// the Authentication Method (always CONNECT's) and Data stay.
#[test]
fn mqtt_3_15_2_2_auth_properties_dropped_to_fit() {
    let method = MqttString::try_from("M").unwrap();
    let props = || {
        let mut a = mqttkit_codec::AuthProperties::default();
        a.authentication_method = Some(MqttString::try_from("other").unwrap());
        a.authentication_data = Some(Bytes::from_static(b"data"));
        a.reason_string = Some(MqttString::try_from("r".repeat(40)).unwrap());
        a.user_properties.push(
            MqttString::try_from("k").unwrap(),
            MqttString::try_from("v").unwrap(),
        );
        a
    };
    for (max, trimmed) in [(200, false), (30, true)] {
        let mut p = Pair::new(V5);
        let mut c = connect_packet(V5, true);
        c.properties.authentication_method = Some(method.clone());
        p.connect_with(c);
        p.server(connack_with(|c| {
            c.properties.authentication_method = Some(method.clone());
            c.properties.maximum_packet_size = NonZeroU32::new(max);
        }))
        .unwrap();
        p.take_received();
        p.client
            .reauthenticate_with_properties(p.now, props())
            .unwrap();
        let got = p.take_received();
        let [Packet::Auth(a)] = got.as_slice() else {
            panic!("{got:?}")
        };
        assert_eq!(a.reason_code, AuthReasonCode::ReAuthenticate);
        assert_eq!(a.properties.authentication_method.as_ref(), Some(&method));
        assert_eq!(
            a.properties.authentication_data.as_deref(),
            Some(&b"data"[..])
        );
        assert_eq!(a.properties.reason_string.is_none(), trimmed, "max {max}");
        assert_eq!(
            a.properties.user_properties.is_empty(),
            trimmed,
            "max {max}"
        );
    }
}

/// v5 [MQTT-3.5.2-2], [MQTT-3.5.2-3]: the same on PUBREC: the application's
/// Reason String and User Properties go when they fit and are left out when
/// the PUBREC would exceed the server's Maximum Packet Size.
#[test]
fn mqtt_3_5_2_2_pubrec_properties_dropped_to_fit() {
    let mut p = Pair::new(V5);
    p.connect(
        true,
        connack_with(|c| c.properties.maximum_packet_size = NonZeroU32::new(30)),
    );
    p.server(incoming(QoS::ExactlyOnce, 1)).unwrap();
    p.server(incoming(QoS::ExactlyOnce, 2)).unwrap();
    let t = tokens(&p.take_events());
    let props = |len: usize| {
        let mut a = mqttkit_codec::AckProperties::default();
        a.reason_string = Some(MqttString::try_from("r".repeat(len)).unwrap());
        a.user_properties.push(
            MqttString::try_from("k").unwrap(),
            MqttString::try_from("v").unwrap(),
        );
        a
    };
    for (token, len) in [(t[0], 5), (t[1], 50)] {
        p.client
            .ack_with_properties(p.now, token, PubAckReasonCode::Success, props(len))
            .unwrap();
    }
    let got = p.take_received();
    let [Packet::PubRec(small), Packet::PubRec(big)] = got.as_slice() else {
        panic!("{got:?}")
    };
    assert_eq!(small.properties, props(5));
    assert!(big.properties.reason_string.is_none());
    assert!(big.properties.user_properties.is_empty());
    assert_eq!(big.packet_id, id(2));
}

/// v5 §3.11.3: the UNSUBACK answering an UNSUBSCRIBE completes it with
/// one reason code per topic filter, in order; one with another number
/// of codes is a Protocol Error.
#[test]
fn unsuback_completes_the_unsubscribe_with_one_code_per_filter() {
    let filters = || {
        vec![
            TopicFilter::try_from("a/#").unwrap(),
            TopicFilter::try_from("b/+").unwrap(),
        ]
    };
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    let op = p
        .client
        .unsubscribe(p.now, filters(), Default::default())
        .unwrap();
    let sent = p.take_received();
    let [Packet::Unsubscribe(unsubscribe)] = &sent[..] else {
        panic!("one UNSUBSCRIBE, got {sent:?}");
    };
    let codes = vec![
        mqttkit_codec::UnsubAckReasonCode::Success,
        mqttkit_codec::UnsubAckReasonCode::NoSubscriptionExisted,
    ];
    p.server(mqttkit_codec::UnsubAck::new(
        unsubscribe.packet_id,
        codes.clone(),
    ))
    .unwrap();
    assert!(p.take_events().contains(&Event::Unsubscribed {
        op,
        reason_codes: codes
    }));

    p.client
        .unsubscribe(p.now, filters(), Default::default())
        .unwrap();
    let sent = p.take_received();
    let [Packet::Unsubscribe(unsubscribe)] = &sent[..] else {
        panic!("one UNSUBSCRIBE, got {sent:?}");
    };
    let short = vec![mqttkit_codec::UnsubAckReasonCode::Success];
    let err = p
        .server(mqttkit_codec::UnsubAck::new(unsubscribe.packet_id, short))
        .unwrap_err();
    assert_eq!(err.reason, ReasonCode::ProtocolError);
}

/// An acknowledgement with another packet identifier, or of the other
/// kind, completes nothing: only the SUBACK with the SUBSCRIBE's
/// identifier completes it (v5 [MQTT-3.8.4-2]).
#[test]
fn v5_mqtt_3_8_4_2_only_the_matching_suback_completes_a_subscribe() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    let filter = TopicFilter::try_from("a/#").unwrap();
    let op = p
        .client
        .subscribe(
            p.now,
            vec![(filter, SubscriptionOptions::new(QoS::AtLeastOnce))],
            Default::default(),
        )
        .unwrap();
    let sent = p.take_received();
    let [Packet::Subscribe(subscribe)] = &sent[..] else {
        panic!("one SUBSCRIBE, got {sent:?}");
    };
    let pid = subscribe.packet_id;
    let other = PacketId::new(pid.get() + 1).unwrap();
    p.server(SubAck::new(other, vec![SubAckReasonCode::GrantedQoS1]))
        .unwrap();
    p.server(mqttkit_codec::UnsubAck::new(
        pid,
        vec![mqttkit_codec::UnsubAckReasonCode::Success],
    ))
    .unwrap();
    assert!(
        !p.take_events()
            .iter()
            .any(|e| matches!(e, Event::Subscribed { .. })),
        "completed by another acknowledgement"
    );
    p.server(SubAck::new(pid, vec![SubAckReasonCode::GrantedQoS1]))
        .unwrap();
    assert!(
        p.take_events()
            .iter()
            .any(|e| matches!(e, Event::Subscribed { op: o, .. } if *o == op))
    );
}
