//! Connection life: CONNACK, keep-alive, enhanced authentication, Will, DISCONNECT (v5 §3.1, §3.2, §3.14, §4.12).

use super::*;

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

/// v5 [MQTT-3.2.2-16], [MQTT-3.1.3-7], [MQTT-3.1.3-2]: the Assigned Client
/// Identifier names the session and is kept for the next connect.
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

/// v5 [MQTT-3.2.0-1], v3.1.1 [MQTT-3.2.0-1]: only CONNACK (or AUTH, 5.0)
/// may come first; anything else closes the connection.
#[test]
fn mqtt_3_2_0_1_publish_before_connack() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        p.connect_with(connect_packet(v, true));
        let err = p.server(incoming(QoS::AtMostOnce, 1)).unwrap_err();
        assert_eq!(err.reason, ReasonCode::ProtocolError);
        assert!(!p.client.is_connected());
    }
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
    for version in [V5, V311] {
        let mut p = Pair::new(version);
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
                .is_err(),
            "{version}"
        );
    }
}

/// A 5.0 client whose CONNECT named the Authentication Method "SCRAM",
/// waiting for the server's answer.
fn connecting_with_auth_method() -> (Pair, MqttString) {
    let mut p = Pair::new(V5);
    let method = MqttString::try_from("SCRAM").unwrap();
    let mut c = connect_packet(V5, true);
    c.properties.authentication_method = Some(method.clone());
    p.connect_with(c);
    p.take_received();
    (p, method)
}

/// v5 [MQTT-4.12.0-2], [MQTT-4.12.0-3], [MQTT-4.12.0-5], [MQTT-4.12.1-1]:
/// enhanced authentication and re-authentication.
#[test]
fn mqtt_4_12_0_3_enhanced_auth() {
    let (mut p, method) = connecting_with_auth_method();
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
    assert_eq!(
        a.properties.authentication_data.as_deref(),
        Some(&b"proof"[..])
    );
    // A second round, answered with properties of the client's choosing;
    // the method is the one of CONNECT whatever they say.
    p.server(challenge).unwrap();
    p.take_events();
    let mut properties = mqttkit_codec::AuthProperties::default();
    properties.authentication_data = Some(Bytes::from_static(b"final"));
    properties.reason_string = Some(MqttString::try_from("second step").unwrap());
    p.client.auth_with_properties(p.now, properties).unwrap();
    p.flush();
    let got = p.take_received();
    let Packet::Auth(a) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(a.reason_code, AuthReasonCode::ContinueAuthentication);
    assert_eq!(a.properties.authentication_method.as_ref(), Some(&method));
    assert_eq!(
        a.properties.authentication_data.as_deref(),
        Some(&b"final"[..])
    );
    assert_eq!(
        a.properties.reason_string.as_ref().map(|r| r.as_str()),
        Some("second step")
    );
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
    // Once the client sent DISCONNECT, nothing more is authenticated.
    p.client
        .disconnect(p.now, Disconnect::new(DisconnectReasonCode::Success))
        .unwrap();
    assert_eq!(
        p.client.reauthenticate(p.now, None),
        Err(OpError::NotConnected)
    );
    assert_eq!(p.client.auth(p.now, None), Err(OpError::NotConnected));
}

/// v5 [MQTT-4.12.0-2]: before CONNACK the server's AUTH continues the
/// exchange (0x18); an AUTH Success in its place is a Protocol Error.
#[test]
fn v5_mqtt_4_12_0_2_auth_success_before_connack_is_refused() {
    let (mut p, method) = connecting_with_auth_method();
    let mut early = Auth::new(AuthReasonCode::Success);
    early.properties.authentication_method = Some(method);
    let err = p.server(early).unwrap_err();
    assert_eq!(err.reason, ReasonCode::ProtocolError);
}

/// v5 [MQTT-4.12.0-6] (client role): a client whose CONNECT had no
/// Authentication Method treats a CONNACK that carries one, or an AUTH
/// (in place of CONNACK or once connected), as a protocol violation.
#[test]
fn mqtt_4_12_0_6_client_rejects_unrequested_authentication() {
    let unrequested = |e: &ProtocolViolation| {
        matches!(
            e.kind,
            ViolationKind::Rule(PeerMisbehaved::UnrequestedAuthenticationMethod)
        )
    };
    let auth_without = |e: &ProtocolViolation| {
        matches!(
            e.kind,
            ViolationKind::Rule(PeerMisbehaved::AuthWithoutAuthenticationMethod)
        )
    };
    // CONNACK with an Authentication Method CONNECT did not ask for.
    let mut p = Pair::new(V5);
    p.connect_with(connect_packet(V5, true));
    p.take_received();
    let err = p
        .server(connack_with(|a| {
            a.properties.authentication_method = Some(MqttString::try_from("PLAIN").unwrap());
        }))
        .unwrap_err();
    assert!(unrequested(&err), "{err:?}");
    assert_eq!(err.reason, ReasonCode::ProtocolError);
    assert!(!p.client.is_connected());
    // AUTH Continue authentication in place of CONNACK.
    let mut p = Pair::new(V5);
    p.connect_with(connect_packet(V5, true));
    p.take_received();
    let mut auth = Auth::new(AuthReasonCode::ContinueAuthentication);
    auth.properties.authentication_method = Some(MqttString::try_from("PLAIN").unwrap());
    let err = p.server(auth.clone()).unwrap_err();
    assert!(auth_without(&err), "{err:?}");
    // AUTH once connected, with or without a method.
    for auth in [auth, Auth::new(AuthReasonCode::ContinueAuthentication)] {
        let mut p = Pair::new(V5);
        p.connect_ok(false);
        let err = p.server(auth).unwrap_err();
        assert!(auth_without(&err), "{err:?}");
        assert!(
            p.take_events()
                .iter()
                .all(|e| !matches!(e, Event::AuthChallenge { .. }))
        );
    }
}

/// v5 [MQTT-4.12.0-7]: no AUTH either way without an Authentication Method.
#[test]
fn mqtt_4_12_0_7_no_auth_without_method() {
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

/// v5 [MQTT-3.14.4-1], [MQTT-3.14.4-2], v3.1.1 [MQTT-3.14.4-2], [MQTT-3.14.4-1]:
/// nothing is sent after DISCONNECT and the caller is told to close the
/// connection; later publishes wait in the session.
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
        mqttkit_codec::LastWill::new(TopicName::from_static("will/t").unwrap(), &b"bye"[..]);
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
    let mut c = connect_packet(V5, true);
    c.properties.session_expiry_interval = None;
    p.connect_with(c);
    p.server(ConnAck::new(false, ConnectReasonCode::Success))
        .unwrap();
    let mut d = Disconnect::new(DisconnectReasonCode::Success);
    d.properties.session_expiry_interval = Some(10);
    assert_eq!(
        p.client.disconnect(p.now, d),
        Err(OpError::SessionExpiryWasZero)
    );
    assert!(p.client.is_connected());
}

/// v5 [MQTT-3.1.0-1], v3.1.1 [MQTT-3.1.0-1]: CONNECT is the first packet on
/// a connection, also when work was queued before it.
#[test]
fn mqtt_3_1_0_1_connect_first() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        p.client.publish(p.now, msg("a", QoS::AtMostOnce)).unwrap();
        p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
        p.flush();
        assert!(p.take_received().is_empty(), "nothing without a connection");
        p.connect_with(connect_packet(v, true));
        p.server(ConnAck::new(false, ConnectReasonCode::Success))
            .unwrap();
        let got = p.take_received();
        assert!(matches!(got.first(), Some(Packet::Connect(_))), "{got:?}");
        assert_eq!(publishes(&got).len(), 2);
    }
}

/// v5 [MQTT-3.8.3-2], [MQTT-3.10.3-2]; v3.1.1 [MQTT-3.8.3-3], [MQTT-3.10.3-2]:
/// a SUBSCRIBE or UNSUBSCRIBE without a topic filter is refused, never sent.
#[test]
fn mqtt_3_8_3_2_at_least_one_filter() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        p.connect_ok(false);
        assert_eq!(
            p.client.subscribe(p.now, vec![], Default::default()),
            Err(OpError::NoTopicFilter)
        );
        assert_eq!(
            p.client.unsubscribe(p.now, vec![], Default::default()),
            Err(OpError::NoTopicFilter)
        );
        assert!(p.take_received().is_empty());
    }
}

/// v3.1.1 [MQTT-3.1.3-7], [MQTT-3.1.3-2]: a zero-byte Client Identifier
/// needs Clean Session 1; the session's own identifier fills an empty one.
#[test]
fn v311_mqtt_3_1_3_7_empty_client_id_needs_clean_session() {
    let mut p = Pair::with(
        V311,
        Session::new(MqttString::default()),
        ClientConfig::default(),
    );
    let mut c = connect_packet(V311, false);
    c.client_id = MqttString::default();
    assert_eq!(
        p.client.connect(p.now, c.clone()),
        Err(OpError::EmptyClientIdNeedsCleanSession)
    );
    assert!(p.take_received().is_empty());
    c.clean_start = true;
    p.connect_with(c.clone());
    assert!(matches!(p.take_received().as_slice(), [Packet::Connect(_)]));
    // With an identifier in the session, it is used instead.
    let mut q = Pair::new(V311);
    c.clean_start = false;
    q.connect_with(c);
    let got = q.take_received();
    let [Packet::Connect(sent)] = got.as_slice() else {
        panic!("{got:?}")
    };
    assert_eq!(sent.client_id.as_str(), "c1");
}

/// v5 [MQTT-4.12.1-2]: a failed re-authentication ends with the server's
/// DISCONNECT; the client reports it, closes and sends nothing more.
#[test]
fn mqtt_4_12_1_2_failed_reauthentication_closes() {
    let mut p = Pair::new(V5);
    let method = MqttString::try_from("M").unwrap();
    let mut c = connect_packet(V5, true);
    c.properties.authentication_method = Some(method.clone());
    p.connect_with(c);
    p.server(connack_with(|c| {
        c.properties.authentication_method = Some(method)
    }))
    .unwrap();
    p.client.reauthenticate(p.now, None).unwrap();
    p.take_received();
    p.take_events();
    p.server(Disconnect::new(DisconnectReasonCode::NotAuthorized))
        .unwrap();
    assert_eq!(
        p.take_events(),
        [Event::Closed(CloseCause::ByServer(Disconnect::new(
            DisconnectReasonCode::NotAuthorized
        )))]
    );
    assert!(!p.client.is_connected());
    p.client.publish(p.now, msg("a", QoS::AtMostOnce)).unwrap();
    assert!(p.take_received().is_empty());
    assert_eq!(p.client.poll_timeout(), None);
}

/// v5 [MQTT-3.1.2-27]: without a Topic Alias Maximum in CONNECT the server
/// may send no alias at all: any is 0x94.
#[test]
fn mqtt_3_1_2_27_no_alias_without_maximum() {
    let mut p = Pair::new(V5);
    p.connect_ok(false);
    let mut aliased = Publish::new(TopicName::from_static("t").unwrap(), &b""[..]);
    aliased.properties.topic_alias = NonZeroU16::new(1);
    assert_eq!(
        p.server(aliased).unwrap_err().reason,
        ReasonCode::TopicAliasInvalid
    );
    assert_eq!(
        last_disconnect(&p.take_received()),
        Some(DisconnectReasonCode::TopicAliasInvalid)
    );
}

/// A transport that frames packets itself hands them over with
/// `handle_packet`: they act as their bytes would, and once the peer
/// broke a rule or the connection closed nothing handed over is read.
#[test]
fn handle_packet_acts_like_bytes_until_the_connection_closes() {
    let id = mqttkit_codec::MqttString::try_from("framed").unwrap();
    let mut client =
        mqttkit_session::Client::new(Session::new(id.clone()), ClientConfig::default());
    let now = Instant::ZERO;
    let mut out = bytes::BytesMut::new();
    client
        .connect(now, mqttkit_codec::Connect::new(ProtocolVersion::V5, id))
        .unwrap();
    while client.poll_transmit(&mut out).is_some() {}
    client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    assert_eq!(
        client.poll_event(),
        Some(Event::Connected {
            session_present: false
        })
    );
    let publish = Publish::new(TopicName::try_from("a").unwrap(), Bytes::from_static(b"x"));
    client.handle_packet(now, publish.clone().into());
    assert!(matches!(client.poll_event(), Some(Event::Message { .. })));
    // After our DISCONNECT, what still arrives is not read.
    let mut again = mqttkit_session::Client::new(
        Session::new(mqttkit_codec::MqttString::try_from("framed-2").unwrap()),
        ClientConfig::default(),
    );
    let id2 = mqttkit_codec::MqttString::try_from("framed-2").unwrap();
    again
        .connect(now, mqttkit_codec::Connect::new(ProtocolVersion::V5, id2))
        .unwrap();
    again.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    again
        .disconnect(now, Disconnect::new(DisconnectReasonCode::Success))
        .unwrap();
    while again.poll_event().is_some() {}
    again.handle_packet(now, publish.clone().into());
    assert_eq!(again.poll_event(), None);
    // A second CONNACK breaks v5 [MQTT-3.2.0-2]: nothing after it is
    // read, before the transport closes or after.
    client.handle_packet(now, ConnAck::new(false, ConnectReasonCode::Success).into());
    assert!(client.violation().is_some());
    while client.poll_event().is_some() {}
    client.handle_packet(now, publish.clone().into());
    assert_eq!(client.poll_event(), None);
    client.handle_transport_closed(now);
    while client.poll_event().is_some() {}
    client.handle_packet(now, publish.into());
    assert_eq!(client.poll_event(), None);
}

/// The client's queue is bounded by `ClientConfig::max_pending`:
/// publishes, subscribes and unsubscribes waiting for a connection count
/// together, and beyond the bound each fails with `QueueFull` and queues
/// nothing.
#[test]
fn client_queue_is_bounded_by_max_pending() {
    let id = mqttkit_codec::MqttString::try_from("bounded").unwrap();
    let config = ClientConfig {
        max_pending: 2,
        ..ClientConfig::default()
    };
    let mut client = mqttkit_session::Client::new(Session::new(id), config);
    let now = Instant::ZERO;
    let topic = TopicName::try_from("a").unwrap();
    let filter = TopicFilter::try_from("a/#").unwrap();
    client
        .publish(
            now,
            Message::new(topic.clone(), &b"1"[..], QoS::AtLeastOnce),
        )
        .unwrap();
    client
        .subscribe(
            now,
            vec![(filter.clone(), SubscriptionOptions::new(QoS::AtLeastOnce))],
            Default::default(),
        )
        .unwrap();
    assert_eq!(
        client.publish(now, Message::new(topic, &b"2"[..], QoS::AtLeastOnce)),
        Err(OpError::QueueFull)
    );
    assert_eq!(
        client.unsubscribe(now, vec![filter], Default::default()),
        Err(OpError::QueueFull)
    );
    assert_eq!(client.session().pending_len(), 2);
}
