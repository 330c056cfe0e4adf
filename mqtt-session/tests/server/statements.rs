//! Server-side statements that no other test covered: each test checks the
//! bytes the server emits (decoded with `mqttkit-codec`) or what the library
//! hands the broker application so that it can meet the statement.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    AckProperties, Auth, AuthReasonCode, ConnAck, ConnectReasonCode, Disconnect,
    DisconnectReasonCode, LastWill, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, QoS,
    ReasonCode, SubAck, SubAckReasonCode, Subscribe, SubscriptionOptions, UnsubAck,
    UnsubAckReasonCode, Unsubscribe,
};
use mqttkit_session::TopicFilter;
use mqttkit_session::{
    DeliverError, Delivery, Incoming, Instant, Message, OpError, Server, ServerCloseCause,
    ServerConfig, ServerEvent,
};

use crate::{Peer, connect, decode_all, encode, id, message, publish, publishes, s, topic};

const BOTH: [ProtocolVersion; 2] = [ProtocolVersion::V5, ProtocolVersion::V3_1_1];

fn incoming(c: mqttkit_codec::Connect) -> Incoming {
    let mut bytes = encode(c.protocol_version, &Packet::Connect(Box::new(c)));
    Incoming::read(&mut bytes, None).unwrap().unwrap()
}

fn only_connack(version: ProtocolVersion, bytes: &[u8]) -> ConnAck {
    match decode_all(version, bytes).as_slice() {
        [Packet::ConnAck(a)] => *a.clone(),
        other => panic!("expected exactly one CONNACK, got {other:?}"),
    }
}

fn first_connack(packets: &[Packet]) -> ConnAck {
    match packets.first() {
        Some(Packet::ConnAck(a)) => *a.clone(),
        other => panic!("expected CONNACK first, got {other:?}"),
    }
}

fn persistent(version: ProtocolVersion, client_id: &str) -> mqttkit_codec::Connect {
    let mut c = connect(version, client_id, false);
    if version.is_v5() {
        c.properties.session_expiry_interval = Some(600);
    }
    c
}

fn subscribe(filters: &[(&str, QoS)], pid: u16) -> Subscribe {
    let with_options: Vec<_> = filters
        .iter()
        .map(|(f, q)| (*f, SubscriptionOptions::new(*q)))
        .collect();
    crate::subscribe(&with_options, pid)
}

fn qos_delivery(qos: QoS) -> Delivery {
    Delivery::new(message("t", qos), SubscriptionOptions::new(qos))
}

fn subscriptions(server: &Server) -> Vec<(String, QoS)> {
    server
        .subscriptions()
        .map(|(f, sub)| (f.as_str().to_owned(), sub.options.qos))
        .collect()
}

/// v5 [MQTT-2.2.1-4]: every new QoS 1/2 PUBLISH the server sends has a
/// non-zero packet identifier that no other in-flight PUBLISH uses; a
/// freed one may come again only once its flow completed.
#[test]
fn v5_mqtt_2_2_1_4_outbound_packet_ids_unused() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V5, "c1", true),
        ServerConfig::default(),
        None,
    );
    p.take();
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtLeastOnce] {
        p.deliver(qos_delivery(qos)).unwrap();
    }
    let sent = publishes(&p.take());
    let mut ids: Vec<u16> = sent
        .iter()
        .map(|p| p.qos.packet_id().unwrap().get())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| *i != 0));
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 3, "{ids:?}");
    // The first completes; the next new PUBLISH must not reuse an id that
    // is still in flight.
    p.send(PubAck::new(id(ids[0])).into()).unwrap();
    p.deliver(qos_delivery(QoS::AtLeastOnce)).unwrap();
    let next = publishes(&p.take());
    let next = next[0].qos.packet_id().unwrap().get();
    ids.remove(0);
    assert!(!ids.contains(&next), "{next} is still in flight: {ids:?}");
}

/// v5 [MQTT-3.1.2-6], [MQTT-3.1.4-5]; v3.1.1 [MQTT-3.2.2-3]: Clean Start 0
/// without a session creates one: CONNACK 0x00 with Session Present 0, and
/// the new session (its subscription) is there for the next connection,
/// which gets Session Present 1 and return code 0.
#[test]
fn v5_mqtt_3_1_2_6_clean_start_0_creates_session() {
    for version in BOTH {
        let mut a = Peer::open(persistent(version, "c1"), ServerConfig::default(), None);
        let ack = first_connack(&a.take());
        assert_eq!(ack.reason_code, ConnectReasonCode::Success, "{version}");
        assert!(!ack.session_present, "{version}");
        a.subscribe_with(
            subscribe(&[("a/b", QoS::AtLeastOnce)], 1),
            vec![SubAckReasonCode::GrantedQoS1],
        );
        a.server.handle_transport_closed(a.now);
        let b = Peer::open(
            persistent(version, "c1"),
            ServerConfig::default(),
            Some(a.server),
        );
        let ack = first_connack(&b.received);
        assert_eq!(ack.reason_code, ConnectReasonCode::Success, "{version}");
        assert!(ack.session_present, "{version}");
        assert_eq!(
            subscriptions(&b.server),
            [("a/b".to_owned(), QoS::AtLeastOnce)]
        );
    }
}

/// v3.1.1 [MQTT-3.1.2-5]: after a CleanSession 0 connection closed, QoS 1
/// and QoS 2 messages for its subscriptions are stored in the session and
/// sent when the client comes back.
#[test]
fn v3_mqtt_3_1_2_5_offline_qos1_qos2_stored() {
    let v = ProtocolVersion::V3_1_1;
    let mut a = Peer::open(persistent(v, "c1"), ServerConfig::default(), None);
    a.server.handle_transport_closed(a.now);
    a.deliver(qos_delivery(QoS::AtLeastOnce)).unwrap();
    a.deliver(qos_delivery(QoS::ExactlyOnce)).unwrap();
    assert_eq!(
        a.deliver(qos_delivery(QoS::AtMostOnce)),
        Err(DeliverError::NotConnected)
    );
    let b = Peer::open(persistent(v, "c1"), ServerConfig::default(), Some(a.server));
    assert!(first_connack(&b.received).session_present);
    let qos: Vec<QoS> = publishes(&b.received).iter().map(|p| p.qos.qos()).collect();
    assert_eq!(qos, [QoS::AtLeastOnce, QoS::ExactlyOnce]);
}

/// v5 [MQTT-3.1.2-7]; v3.1.1 [MQTT-3.1.2-8], [MQTT-3.1.2-12]: a will is
/// stored with the connection's session and published when the connection
/// closes without DISCONNECT (after its Will Delay in 5.0); without the
/// Will Flag nothing is published.
#[test]
fn v5_mqtt_3_1_2_7_will_stored_and_published() {
    for version in BOTH {
        let mut c = connect(version, "c1", false);
        let mut will = LastWill::new(topic("wills/c1"), &b"gone"[..]);
        will.qos = QoS::AtLeastOnce;
        if version.is_v5() {
            will.properties.will_delay_interval = Some(5);
            c.properties.session_expiry_interval = Some(60);
        }
        c.will = Some(will.clone());
        let mut p = Peer::open(c, ServerConfig::default(), None);
        p.server.handle_transport_closed(p.now);
        p.drain();
        if version.is_v5() {
            assert!(!p.events.iter().any(|e| matches!(e, ServerEvent::Will(_))));
            p.advance(5_000);
        }
        let wills: Vec<_> = p
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                ServerEvent::Will(w) => Some(*w),
                _ => None,
            })
            .collect();
        assert_eq!(wills, [will], "{version}");

        let mut p = Peer::open(connect(version, "c2", true), ServerConfig::default(), None);
        p.server.handle_transport_closed(p.now);
        p.advance(3_600_000);
        assert!(
            !p.events.iter().any(|e| matches!(e, ServerEvent::Will(_))),
            "{version}"
        );
    }
}

/// v5 [MQTT-3.1.2-28]: with Request Response Information 0 (or absent)
/// the CONNACK carries no Response Information.
#[test]
fn v5_mqtt_3_1_2_28_no_response_information() {
    for request in [Some(false), None] {
        let mut c = connect(ProtocolVersion::V5, "c1", true);
        c.properties.request_response_information = request;
        let p = Peer::open(c, ServerConfig::default(), None);
        let ack = first_connack(&p.received);
        assert_eq!(ack.properties.response_information, None);
    }
}

/// v5 [MQTT-3.1.3-5], v3.1.1 [MQTT-3.1.3-5]: client identifiers of 1 to
/// 23 bytes of 0-9, a-z, A-Z are accepted.
#[test]
fn v5_mqtt_3_1_3_5_short_alphanumeric_ids_accepted() {
    let ids = [
        "a",
        "Z",
        "0",
        "0123456789abcdefghijklm",
        "nopqrstuvwxyzABCDEFGHIJ",
        "KLMNOPQRSTUVWXYZ",
    ];
    for version in BOTH {
        for client_id in ids {
            let inc = Incoming::read(
                &mut encode(
                    version,
                    &Packet::Connect(Box::new(connect(version, client_id, true))),
                ),
                None,
            )
            .unwrap()
            .unwrap();
            assert_eq!(inc.client_id().as_str(), client_id);
            let mut server = inc
                .accept(Instant::ZERO, None, ServerConfig::default())
                .unwrap();
            let mut out = BytesMut::new();
            while server.poll_transmit(&mut out).is_some() {}
            let ack = only_connack(version, &out);
            assert_eq!(ack.reason_code, ConnectReasonCode::Success);
            assert_eq!(ack.properties.assigned_client_identifier, None);
            assert_eq!(server.client_id().as_str(), client_id);
        }
    }
}

/// v5 [MQTT-3.1.4-2]; v3.1.1 [MQTT-3.1.3-9]: a CONNECT that fails the
/// application's checks (credentials, authorization, a client identifier
/// it rejects) is refused with a CONNACK and nothing else, to write before
/// closing: 0x86/0x87 in 5.0, 0x04/0x05 in 3.1.1, and 0x02 for a rejected
/// identifier in 3.1.1.
#[test]
fn v5_mqtt_3_1_4_2_failed_checks_refused() {
    let cases = [
        (ConnectReasonCode::BadUserNameOrPassword, 0x86, 0x04),
        (ConnectReasonCode::NotAuthorized, 0x87, 0x05),
        (ConnectReasonCode::ClientIdentifierNotValid, 0x85, 0x02),
    ];
    for (code, v5, v3) in cases {
        let reply = incoming(connect(ProtocolVersion::V5, "bad", true)).refuse(code);
        let ack = only_connack(ProtocolVersion::V5, &reply);
        assert_eq!(ack.reason_code.code(), v5);
        assert!(!ack.session_present);
        let reply = incoming(connect(ProtocolVersion::V3_1_1, "bad", true)).refuse(code);
        assert_eq!(&reply[..], [0x20, 0x02, 0x00, v3]);
    }
}

/// v5 [MQTT-3.1.4-6]; v3.1.1 [MQTT-3.1.4-5]: the client may send packets
/// right behind CONNECT; reading the CONNECT consumes none of them, and a
/// refusal produces only its CONNACK and no event, so nothing after the
/// CONNECT is processed. In 5.0 only an AUTH is read (enhanced
/// authentication).
#[test]
fn v5_mqtt_3_1_4_6_nothing_processed_after_refusal() {
    for version in BOTH {
        let mut c = connect(version, "c1", true);
        if version.is_v5() {
            c.properties.authentication_method = Some(s("SCRAM-SHA-1"));
        }
        let mut wire = encode(version, &Packet::Connect(Box::new(c)));
        let mut behind = BytesMut::new();
        if version.is_v5() {
            let mut auth = Auth::new(AuthReasonCode::ContinueAuthentication);
            auth.properties.authentication_method = Some(s("SCRAM-SHA-1"));
            behind.extend_from_slice(&encode(version, &Packet::from(auth)));
        }
        let after_auth = behind.len();
        behind.extend_from_slice(&encode(
            version,
            &subscribe(&[("a", QoS::AtLeastOnce)], 1).into(),
        ));
        behind.extend_from_slice(&encode(version, &publish("t", QoS::AtLeastOnce, 2).into()));
        wire.extend_from_slice(&behind);
        let mut inc = Incoming::read(&mut wire, None).unwrap().unwrap();
        assert_eq!(
            &wire[..],
            &behind[..],
            "{version}: bytes after CONNECT untouched"
        );
        if version.is_v5() {
            assert!(inc.read_auth(&mut wire).unwrap().is_some());
            assert_eq!(&wire[..], &behind[after_auth..]);
        }
        let reply = inc.refuse(ConnectReasonCode::NotAuthorized);
        only_connack(version, &reply);
        assert_eq!(&wire[..], &behind[after_auth..]);
    }
}

/// v5 [MQTT-3.2.2-9], [MQTT-3.2.2-10]: a server configured for QoS 0 or 1
/// announces its Maximum QoS in CONNACK, and still accepts a SUBSCRIBE
/// requesting QoS 0, 1 and 2 (the application grants what it supports).
#[test]
fn v5_mqtt_3_2_2_9_maximum_qos_announced() {
    for max in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let config = ServerConfig {
            maximum_qos: max,
            ..ServerConfig::default()
        };
        let mut p = Peer::open(connect(ProtocolVersion::V5, "c1", true), config, None);
        assert_eq!(first_connack(&p.take()).properties.maximum_qos, Some(max));
        let filters = [
            ("q0", QoS::AtMostOnce),
            ("q1", QoS::AtLeastOnce),
            ("q2", QoS::ExactlyOnce),
        ];
        p.send(subscribe(&filters, 7).into()).unwrap();
        assert!(p.take().is_empty(), "no DISCONNECT");
        let Some(ServerEvent::Subscribe { requests, .. }) = p.take_events().pop() else {
            panic!()
        };
        let codes: Vec<_> = requests
            .iter()
            .map(|r| SubAckReasonCode::granted(r.options.qos.min(max)))
            .collect();
        assert_eq!(codes.len(), 3);
        p.server.suback(id(7), codes.clone()).unwrap();
        p.drain();
        assert_eq!(p.take(), [Packet::SubAck(SubAck::new(id(7), codes))]);
        assert!(p.server.is_connected());
    }
    // QoS 2 supported: no Maximum QoS property.
    let p = Peer::open(
        connect(ProtocolVersion::V5, "c1", true),
        ServerConfig::default(),
        None,
    );
    assert_eq!(first_connack(&p.received).properties.maximum_qos, None);
}

/// v5 [MQTT-3.2.2-12]: a Will QoS above the server's Maximum QoS is
/// v5 [MQTT-3.2.2-13]: a will with Will Retain 1 while retained messages
/// refused with CONNACK 0x9B; a will within it is accepted.
#[test]
fn v5_mqtt_3_2_2_12_will_qos_above_maximum_refused() {
    let config = ServerConfig {
        maximum_qos: QoS::AtLeastOnce,
        ..ServerConfig::default()
    };
    for (will_qos, refused) in [
        (QoS::ExactlyOnce, true),
        (QoS::AtLeastOnce, false),
        (QoS::AtMostOnce, false),
    ] {
        let mut c = connect(ProtocolVersion::V5, "c1", true);
        let mut will = LastWill::new(topic("wills/c1"), &b"gone"[..]);
        will.qos = will_qos;
        c.will = Some(will);
        let result = incoming(c).accept(Instant::ZERO, None, config.clone());
        match result {
            Err(r) if refused => {
                assert_eq!(r.code, ConnectReasonCode::QoSNotSupported);
                let ack = only_connack(ProtocolVersion::V5, &r.reply);
                assert_eq!(ack.reason_code, ConnectReasonCode::QoSNotSupported);
                assert!(!ack.session_present);
            }
            Ok(_) if !refused => {}
            Err(r) => panic!("{will_qos:?} refused with {:?}", r.code),
            Ok(_) => panic!("{will_qos:?} accepted"),
        }
    }
}

/// are not supported is refused with CONNACK 0x9A.
#[test]
fn v5_mqtt_3_2_2_13_will_retain_unsupported_refused() {
    let config = ServerConfig {
        retain_available: false,
        ..ServerConfig::default()
    };
    for (retain, refused) in [(true, true), (false, false)] {
        let mut c = connect(ProtocolVersion::V5, "c1", true);
        let mut will = LastWill::new(topic("wills/c1"), &b"gone"[..]);
        will.retain = retain;
        c.will = Some(will);
        match incoming(c).accept(Instant::ZERO, None, config.clone()) {
            Err(r) if refused => {
                assert_eq!(r.code, ConnectReasonCode::RetainNotSupported);
                let ack = only_connack(ProtocolVersion::V5, &r.reply);
                assert_eq!(ack.reason_code, ConnectReasonCode::RetainNotSupported);
            }
            Ok(mut server) if !refused => {
                let mut out = BytesMut::new();
                while server.poll_transmit(&mut out).is_some() {}
                let ack = only_connack(ProtocolVersion::V5, &out);
                assert_eq!(ack.properties.retain_available, Some(false));
            }
            Err(r) => panic!("retain {retain} refused with {:?}", r.code),
            Ok(_) => panic!("retain {retain} accepted"),
        }
    }
}

/// To a client with a small Maximum Packet Size, CONNACK, SUBACK and
/// UNSUBACK go within it. The server API gives the application no way to
/// put a Reason String or User Property on these three packets, so the
/// statements that the server leaves them out when they would not fit
/// (5.0 MQTT-3.2.2-19/20, MQTT-3.9.2-1/2, MQTT-3.11.2-1/2) hold by
/// construction and are not cited here: the trimming itself is tested on
/// PUBACK and PUBREC, which can carry them (`v5_mqtt_3_4_2_2_...`).
#[test]
fn v5_acks_fit_client_maximum_packet_size() {
    const MAX: u32 = 24;
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.properties.maximum_packet_size = NonZeroU32::new(MAX);
    let mut bytes = encode(ProtocolVersion::V5, &Packet::Connect(Box::new(c)));
    let inc = Incoming::read(&mut bytes, None).unwrap().unwrap();
    let mut server = inc
        .accept(Instant::ZERO, None, ServerConfig::default())
        .unwrap();
    let now = Instant::ZERO;
    let filters: Vec<&str> = vec!["a", "b", "c", "d", "e", "f"];
    let mut sub = subscribe(&[("a", QoS::AtLeastOnce)], 1);
    for f in &filters[1..] {
        sub.filters.push((
            TopicFilter::try_from(*f).unwrap(),
            SubscriptionOptions::new(QoS::AtLeastOnce),
        ));
    }
    server.handle_bytes(now, &encode(ProtocolVersion::V5, &sub.into()));
    server
        .suback(id(1), vec![SubAckReasonCode::GrantedQoS1; filters.len()])
        .unwrap();
    let mut unsub = Unsubscribe::new(id(2), TopicFilter::try_from("a").unwrap());
    for f in &filters[1..] {
        unsub.filters.push(TopicFilter::try_from(*f).unwrap());
    }
    server.handle_bytes(now, &encode(ProtocolVersion::V5, &unsub.into()));
    server
        .unsuback(id(2), vec![UnsubAckReasonCode::Success; filters.len()])
        .unwrap();
    let mut out = BytesMut::new();
    while server.poll_transmit(&mut out).is_some() {}
    // Walk the packets one by one to check each one's size.
    let mut dec = mqttkit_codec::Decoder::new(ProtocolVersion::V5);
    let mut kinds = Vec::new();
    while !out.is_empty() {
        let before = out.len();
        let mqttkit_codec::Decoded::Packet(packet) = dec.decode(&mut out).unwrap() else {
            panic!("incomplete")
        };
        let size = before - out.len();
        assert!(size <= MAX as usize, "{packet:?} is {size} bytes");
        kinds.push(std::mem::discriminant(&packet));
        assert!(
            matches!(
                packet,
                Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_)
            ),
            "{packet:?}"
        );
    }
    assert_eq!(kinds.len(), 3, "CONNACK, SUBACK, UNSUBACK all sent");
}

/// The packets in `out` with their size on the wire.
fn sized(version: ProtocolVersion, mut out: BytesMut) -> Vec<(Packet, usize)> {
    let mut dec = mqttkit_codec::Decoder::new(version);
    let mut packets = Vec::new();
    while !out.is_empty() {
        let before = out.len();
        let mqttkit_codec::Decoded::Packet(packet) = dec.decode(&mut out).unwrap() else {
            panic!("incomplete")
        };
        packets.push((packet, before - out.len()));
    }
    packets
}

/// v5 [MQTT-3.4.2-2], [MQTT-3.4.2-3], [MQTT-3.5.2-2], [MQTT-3.5.2-3]
/// (server role): the Reason String and User Property the application
/// puts on a PUBACK or PUBREC (`Server::ack_with_properties`) are left out
/// when they would make the packet exceed the client's Maximum Packet
/// Size; the packet still goes, within it, with its reason code. A client
/// with room gets them.
#[test]
fn v5_mqtt_3_4_2_2_server_ack_properties_trimmed_to_fit() {
    const SMALL: u32 = 16;
    let mut properties = AckProperties::default();
    properties.reason_string = Some(s("no publishing to this topic"));
    properties.user_properties = [(s("policy"), s("deny-all"))].into_iter().collect();
    for (max, trimmed) in [(SMALL, true), (1024, false)] {
        let mut c = connect(ProtocolVersion::V5, "c1", true);
        c.properties.maximum_packet_size = NonZeroU32::new(max);
        let mut p = Peer::open(c, ServerConfig::default(), None);
        p.take();
        for (qos, pid) in [(QoS::AtLeastOnce, 1), (QoS::ExactlyOnce, 2)] {
            p.send(publish("t", qos, pid).into()).unwrap();
            let token = p.last_token();
            p.server
                .ack_with_properties(
                    p.now,
                    token,
                    mqttkit_codec::PubAckReasonCode::NotAuthorized,
                    properties.clone(),
                )
                .unwrap();
            let mut out = BytesMut::new();
            while p.server.poll_transmit(&mut out).is_some() {}
            let packets = sized(ProtocolVersion::V5, out);
            assert_eq!(packets.len(), 1, "{packets:?}");
            let (packet, size) = packets.into_iter().next().unwrap();
            assert!(size <= max as usize, "{packet:?} is {size} bytes");
            let (id, reason, props): (u16, ReasonCode, AckProperties) = match packet {
                Packet::PubAck(a) => (a.packet_id.get(), a.reason_code.into(), a.properties),
                Packet::PubRec(a) => (a.packet_id.get(), a.reason_code.into(), a.properties),
                other => panic!("{other:?}"),
            };
            assert_eq!(id, pid);
            assert_eq!(reason, ReasonCode::NotAuthorized);
            if trimmed {
                assert_eq!(props, AckProperties::default(), "max {max}");
            } else {
                assert_eq!(props, properties, "max {max}");
            }
        }
    }
}

/// v5 [MQTT-4.12.0-6] (server role): to a client whose CONNECT had no
/// Authentication Method the server sends no AUTH (`Incoming::challenge`
/// has nothing to send, an AUTH from the client is answered with
/// DISCONNECT) and no Authentication Method or Data in CONNACK, even when
/// the application set Authentication Data. With a method, CONNACK echoes it.
#[test]
fn v5_mqtt_4_12_0_6_server_sends_no_auth_without_method() {
    for method in [None, Some(s("PLAIN"))] {
        let mut c = connect(ProtocolVersion::V5, "c1", true);
        c.properties.authentication_method = method.clone();
        let mut inc = incoming(c);
        let challenge = inc.challenge(Some(Bytes::from_static(b"nonce")));
        assert_eq!(challenge.is_some(), method.is_some());
        inc.set_auth_data(Bytes::from_static(b"server-final"));
        let server = inc
            .accept(Instant::ZERO, None, ServerConfig::default())
            .unwrap();
        let mut p = Peer::with(server, ProtocolVersion::V5, Instant::ZERO);
        let ack = first_connack(&p.take());
        assert_eq!(ack.properties.authentication_method, method);
        if method.is_some() {
            assert!(ack.properties.authentication_data.is_some());
            continue;
        }
        assert_eq!(ack.properties.authentication_data, None);
        let mut auth = Auth::new(AuthReasonCode::ReAuthenticate);
        auth.properties.authentication_method = Some(s("PLAIN"));
        assert!(p.send(auth.into()).is_err());
        let sent = p.take();
        assert!(
            !sent.iter().any(|p| matches!(p, Packet::Auth(_))),
            "{sent:?}"
        );
        assert!(
            matches!(sent.last(), Some(Packet::Disconnect(_))),
            "{sent:?}"
        );
    }
}

/// v5 [MQTT-3.3.2-4], [MQTT-3.3.2-15], [MQTT-3.3.2-16], [MQTT-3.3.2-17],
/// [MQTT-3.3.2-20]: a message forwarded with `Server::deliver` reaches the
/// subscriber with its Payload Format Indicator, Response Topic,
/// Correlation Data, User Properties (order and duplicates kept) and
/// Content Type unaltered, while the publisher's Topic Alias is dropped
/// and the subscriber's Subscription Identifier is set.
#[test]
fn v5_mqtt_3_3_2_16_forwarded_properties_unaltered() {
    let config = ServerConfig {
        topic_alias_maximum: 4,
        ..ServerConfig::default()
    };
    let mut publisher = Peer::open(connect(ProtocolVersion::V5, "pub", true), config, None);
    publisher.take();
    let mut sent = publish("req/light", QoS::AtLeastOnce, 1);
    let pp = &mut sent.properties;
    pp.payload_format_indicator = Some(mqttkit_codec::PayloadFormat::Utf8);
    pp.topic_alias = NonZeroU16::new(3);
    pp.set_response_topic(Some(topic("resp/pub/7")));
    pp.set_correlation_data(Some(Bytes::from_static(b"\x00corr\xff")));
    pp.set_content_type(Some(s("application/json")));
    pp.push_user_property(s("b"), s("2"));
    pp.push_user_property(s("a"), s("1"));
    pp.push_user_property(s("b"), s("3"));
    publisher.send(sent.clone().into()).unwrap();
    let Some(ServerEvent::Publish { publish: got, .. }) = publisher.take_events().pop() else {
        panic!("no Publish event")
    };
    let forwarded = Message {
        topic: got.topic.clone().unwrap(),
        payload: got.payload.clone(),
        qos: got.qos.qos(),
        retain: got.retain,
        properties: got.properties.clone(),
    };
    let mut sub = Peer::open(
        connect(ProtocolVersion::V5, "sub", true),
        ServerConfig::default(),
        None,
    );
    sub.take();
    let mut d = Delivery::new(forwarded, SubscriptionOptions::new(QoS::AtLeastOnce));
    d.subscription_identifiers.push(NonZeroU32::new(9).unwrap());
    sub.deliver(d).unwrap();
    let out = publishes(&sub.take());
    assert_eq!(out.len(), 1);
    let (want, have) = (&sent.properties, &out[0].properties);
    assert_eq!(have.payload_format_indicator, want.payload_format_indicator);
    assert_eq!(have.response_topic(), want.response_topic());
    assert_eq!(have.correlation_data(), want.correlation_data());
    assert_eq!(have.content_type(), want.content_type());
    let pairs: Vec<(String, String)> = have
        .user_properties()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let expected = [("b", "2"), ("a", "1"), ("b", "3")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(pairs, expected);
    assert_eq!(have.topic_alias, None);
    let ids: Vec<u32> = have
        .subscription_identifiers()
        .iter()
        .map(|i| i.get())
        .collect();
    assert_eq!(ids, [9]);
}

/// v5 [MQTT-3.3.1-3], v3.1.1 [MQTT-3.3.1-3]: the DUP flag of a received
/// PUBLISH is not forwarded: the message goes out with DUP 0, and DUP 1
/// only on a retransmission.
#[test]
fn v5_mqtt_3_3_1_3_dup_not_propagated() {
    for version in BOTH {
        let mut publisher =
            Peer::open(connect(version, "pub", true), ServerConfig::default(), None);
        let mut dup = publish("t", QoS::AtLeastOnce, 1);
        dup.qos = dup.qos.redelivery();
        assert!(dup.qos.dup());
        publisher.send(dup.into()).unwrap();
        let Some(ServerEvent::Publish { publish: got, .. }) = publisher.take_events().pop() else {
            panic!()
        };
        // The broker forwards the application message.
        let forwarded = Message {
            topic: got.topic.clone().unwrap(),
            payload: got.payload.clone(),
            qos: got.qos.qos(),
            retain: got.retain,
            properties: got.properties.clone(),
        };
        let mut sub = Peer::open(persistent(version, "sub"), ServerConfig::default(), None);
        sub.take();
        sub.deliver(Delivery::new(
            forwarded,
            SubscriptionOptions::new(QoS::AtLeastOnce),
        ))
        .unwrap();
        let sent = publishes(&sub.take());
        assert_eq!(sent.len(), 1);
        assert!(
            !sent[0].qos.dup(),
            "{version}: first transmission has DUP 0"
        );
        sub.server.handle_transport_closed(sub.now);
        let again = Peer::open(
            persistent(version, "sub"),
            ServerConfig::default(),
            Some(sub.server),
        );
        let resent = publishes(&again.received);
        assert_eq!(resent.len(), 1);
        assert!(resent[0].qos.dup(), "{version}: retransmission has DUP 1");
    }
}

/// v5 [MQTT-3.3.4-5]: when a message matches several subscriptions and is
/// sent once per subscription, each PUBLISH carries the Subscription
/// Identifier of its own subscription, also when retransmitted.
#[test]
fn v5_mqtt_3_3_4_5_identifier_per_publish() {
    let mut p = Peer::open(
        persistent(ProtocolVersion::V5, "c1"),
        ServerConfig::default(),
        None,
    );
    p.take();
    for sid in [3u32, 9] {
        let mut d = qos_delivery(QoS::AtLeastOnce);
        d.subscription_identifiers = vec![NonZeroU32::new(sid).unwrap()];
        p.deliver(d).unwrap();
    }
    let ids = |packets: &[mqttkit_codec::Publish]| -> Vec<Vec<u32>> {
        packets
            .iter()
            .map(|p| {
                p.properties
                    .subscription_identifiers()
                    .iter()
                    .map(|i| i.get())
                    .collect()
            })
            .collect()
    };
    assert_eq!(ids(&publishes(&p.take())), [vec![3], vec![9]]);
    p.server.handle_transport_closed(p.now);
    let again = Peer::open(
        persistent(ProtocolVersion::V5, "c1"),
        ServerConfig::default(),
        Some(p.server),
    );
    assert_eq!(ids(&publishes(&again.received)), [vec![3], vec![9]]);
}

/// v5 [MQTT-3.3.4-10]: with the client's Receive Maximum used up by
/// unacknowledged PUBLISH packets, PINGRESP, SUBACK, UNSUBACK, PUBACK,
/// PUBREC and PUBCOMP still go out at once; only PUBLISH waits.
#[test]
fn v5_mqtt_3_3_4_10_only_publish_waits_for_receive_maximum() {
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.properties.receive_maximum = NonZeroU16::new(1);
    let mut p = Peer::open(c, ServerConfig::default(), None);
    p.take();
    p.deliver(qos_delivery(QoS::AtLeastOnce)).unwrap();
    p.deliver(qos_delivery(QoS::AtLeastOnce)).unwrap();
    assert_eq!(publishes(&p.take()).len(), 1);
    assert_eq!(p.server.send_quota(), Some(0));

    p.send(Packet::PingReq).unwrap();
    assert_eq!(p.take(), [Packet::PingResp]);

    p.subscribe_with(
        subscribe(&[("a", QoS::AtLeastOnce)], 10),
        vec![SubAckReasonCode::GrantedQoS1],
    );
    p.drain();
    assert_eq!(
        p.take(),
        [Packet::SubAck(SubAck::new(
            id(10),
            vec![SubAckReasonCode::GrantedQoS1]
        ))]
    );

    p.send(Unsubscribe::new(id(11), TopicFilter::try_from("a").unwrap()).into())
        .unwrap();
    p.server
        .unsuback(id(11), vec![UnsubAckReasonCode::Success])
        .unwrap();
    p.drain();
    assert_eq!(
        p.take(),
        [Packet::UnsubAck(UnsubAck::new(
            id(11),
            vec![UnsubAckReasonCode::Success]
        ))]
    );

    p.send(publish("in", QoS::AtLeastOnce, 20).into()).unwrap();
    let token = p.last_token();
    p.server
        .ack(p.now, token, mqttkit_codec::PubAckReasonCode::Success)
        .unwrap();
    p.drain();
    assert_eq!(p.take(), [Packet::PubAck(PubAck::new(id(20)))]);

    p.send(publish("in", QoS::ExactlyOnce, 21).into()).unwrap();
    let token = p.last_token();
    p.server
        .ack(p.now, token, mqttkit_codec::PubAckReasonCode::Success)
        .unwrap();
    p.drain();
    assert_eq!(p.take(), [Packet::PubRec(PubRec::new(id(21)))]);
    p.send(PubRel::new(id(21)).into()).unwrap();
    assert_eq!(p.take(), [Packet::PubComp(PubComp::new(id(21)))]);
    assert_eq!(p.server.session().pending_len(), 1, "the PUBLISH waits");
}

/// v5 [MQTT-3.8.4-5], [MQTT-3.9.3-2]; v3.1.1 [MQTT-3.8.4-1],
/// [MQTT-3.8.4-2], [MQTT-3.8.4-4], [MQTT-3.9.3-1], [MQTT-2.3.1-7]: a
/// SUBSCRIBE with several filters is handled like one SUBSCRIBE per
/// filter (each stored or replaced), answered by one SUBACK with the same
/// packet identifier and one code per filter, in the filters' order.
#[test]
fn v5_mqtt_3_8_4_5_multiple_filters_one_suback() {
    for version in BOTH {
        let mut p = Peer::open(connect(version, "c1", true), ServerConfig::default(), None);
        p.take();
        p.subscribe_with(
            subscribe(&[("b", QoS::AtMostOnce)], 1),
            vec![SubAckReasonCode::Success],
        );
        p.drain();
        p.take();
        let filters = [
            ("c", QoS::ExactlyOnce),
            ("a", QoS::AtLeastOnce),
            ("b", QoS::ExactlyOnce),
            ("d", QoS::AtLeastOnce),
        ];
        p.send(subscribe(&filters, 0x1234).into()).unwrap();
        let Some(ServerEvent::Subscribe {
            packet_id,
            requests,
            ..
        }) = p.take_events().pop()
        else {
            panic!()
        };
        assert_eq!(packet_id, id(0x1234));
        let got: Vec<_> = requests
            .iter()
            .map(|r| (r.filter.as_str().to_owned(), r.options.qos, r.exists))
            .collect();
        assert_eq!(
            got,
            [
                ("c".to_owned(), QoS::ExactlyOnce, false),
                ("a".to_owned(), QoS::AtLeastOnce, false),
                ("b".to_owned(), QoS::ExactlyOnce, true),
                ("d".to_owned(), QoS::AtLeastOnce, false),
            ]
        );
        // One code short: refused, nothing sent.
        let codes = vec![
            SubAckReasonCode::GrantedQoS2,
            SubAckReasonCode::GrantedQoS1,
            SubAckReasonCode::GrantedQoS2,
            SubAckReasonCode::UnspecifiedError,
        ];
        assert_eq!(
            p.server.suback(packet_id, codes[..3].to_vec()),
            Err(OpError::NoTopicFilter)
        );
        p.drain();
        assert!(p.take().is_empty());
        p.server.suback(packet_id, codes.clone()).unwrap();
        p.drain();
        assert_eq!(p.take(), [Packet::SubAck(SubAck::new(id(0x1234), codes))]);
        assert_eq!(
            subscriptions(&p.server),
            [
                ("a".to_owned(), QoS::AtLeastOnce),
                ("b".to_owned(), QoS::ExactlyOnce),
                ("c".to_owned(), QoS::ExactlyOnce),
            ],
            "{version}"
        );
    }
}

/// v5 [MQTT-3.8.4-7]: each SUBACK code is the QoS actually granted: an
/// application granting more than requested is capped, in the SUBACK as
/// in the stored subscription and the deliveries that follow.
#[test]
fn v5_mqtt_3_8_4_7_suback_code_is_the_granted_qos() {
    for version in BOTH {
        let mut p = Peer::open(connect(version, "c1", true), ServerConfig::default(), None);
        p.take();
        p.send(subscribe(&[("a", QoS::AtLeastOnce), ("b", QoS::AtMostOnce)], 1).into())
            .unwrap();
        p.server
            .suback(
                id(1),
                vec![SubAckReasonCode::GrantedQoS2, SubAckReasonCode::GrantedQoS1],
            )
            .unwrap();
        p.drain();
        assert_eq!(
            p.take(),
            [Packet::SubAck(SubAck::new(
                id(1),
                vec![SubAckReasonCode::GrantedQoS1, SubAckReasonCode::Success]
            ))],
            "{version}"
        );
        assert_eq!(
            subscriptions(&p.server),
            [
                ("a".to_owned(), QoS::AtLeastOnce),
                ("b".to_owned(), QoS::AtMostOnce)
            ]
        );
    }
}

/// v5 [MQTT-3.10.4-3]: QoS 1 and QoS 2 deliveries already sent for a
/// filter the client unsubscribes from are completed.
#[test]
fn v5_mqtt_3_10_4_3_unsubscribe_completes_inflight() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V5, "c1", true),
        ServerConfig::default(),
        None,
    );
    p.take();
    p.subscribe_with(
        subscribe(&[("t", QoS::ExactlyOnce)], 1),
        vec![SubAckReasonCode::GrantedQoS2],
    );
    let q1 = p.deliver(qos_delivery(QoS::AtLeastOnce)).unwrap();
    let q2 = p.deliver(qos_delivery(QoS::ExactlyOnce)).unwrap();
    let sent = publishes(&p.take());
    assert_eq!(sent.len(), 2);
    p.send(Unsubscribe::new(id(2), TopicFilter::try_from("t").unwrap()).into())
        .unwrap();
    p.server
        .unsuback(id(2), vec![UnsubAckReasonCode::Success])
        .unwrap();
    p.drain();
    p.take();
    assert_eq!(p.server.subscriptions().count(), 0);
    let id1 = sent[0].qos.packet_id().unwrap();
    let id2 = sent[1].qos.packet_id().unwrap();
    p.send(PubAck::new(id1).into()).unwrap();
    p.send(PubRec::new(id2).into()).unwrap();
    assert_eq!(p.take(), [Packet::PubRel(PubRel::new(id2))]);
    p.send(PubComp::new(id2).into()).unwrap();
    let done: Vec<_> = p
        .events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Delivered { op, reason } => Some((*op, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(done, [(q1, ReasonCode::Success), (q2, ReasonCode::Success)]);
    assert_eq!(p.server.session().inflight().count(), 0);
}

/// v5 [MQTT-3.11.3-2]: UNSUBACK carries one reason code per filter of the
/// UNSUBSCRIBE; a wrong count is refused and nothing is sent.
#[test]
fn v5_mqtt_3_11_3_2_one_unsuback_code_per_filter() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V5, "c1", true),
        ServerConfig::default(),
        None,
    );
    p.take();
    let mut u = Unsubscribe::new(id(5), TopicFilter::try_from("a").unwrap());
    u.filters.push(TopicFilter::try_from("b").unwrap());
    u.filters.push(TopicFilter::try_from("c").unwrap());
    p.send(u.into()).unwrap();
    assert_eq!(
        p.server
            .unsuback(id(5), vec![UnsubAckReasonCode::NoSubscriptionExisted]),
        Err(OpError::NoTopicFilter)
    );
    p.drain();
    assert!(p.take().is_empty());
    let codes = vec![
        UnsubAckReasonCode::NoSubscriptionExisted,
        UnsubAckReasonCode::NotAuthorized,
        UnsubAckReasonCode::NoSubscriptionExisted,
    ];
    p.server.unsuback(id(5), codes.clone()).unwrap();
    p.drain();
    assert_eq!(p.take(), [Packet::UnsubAck(UnsubAck::new(id(5), codes))]);
}

/// v5 [MQTT-3.14.0-1]: no DISCONNECT before a successful CONNACK: refusals
/// and a broken CONNECT are answered with CONNACK; a violation right
/// behind the CONNECT, or a server-side close at once, sends CONNACK 0x00
/// first.
#[test]
fn v5_mqtt_3_14_0_1_no_disconnect_before_connack() {
    let v = ProtocolVersion::V5;
    let reply = incoming(connect(v, "c1", true)).refuse(ConnectReasonCode::Banned);
    only_connack(v, &reply);
    // Will QoS 3: a malformed CONNECT.
    let mut broken = BytesMut::from(
        &[
            0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x1e, 0x00, 0x3c, 0x00, 0x00,
            0x01, b'c',
        ][..],
    );
    let err = Incoming::read(&mut broken, None).unwrap_err();
    only_connack(v, &err.reply.unwrap());

    // CONNECT and a PUBLISH with QoS 3 in one read.
    let mut wire = encode(v, &Packet::Connect(Box::new(connect(v, "c1", true))));
    wire.extend_from_slice(&[0x36, 0x03, 0x00, 0x01, b't']);
    let inc = Incoming::read(&mut wire, None).unwrap().unwrap();
    let mut server = inc
        .accept(Instant::ZERO, None, ServerConfig::default())
        .unwrap();
    server.handle_bytes(Instant::ZERO, &wire);
    assert!(server.violation().is_some());
    let mut out = BytesMut::new();
    while server.poll_transmit(&mut out).is_some() {}
    let sent = decode_all(v, &out);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(first_connack(&sent).reason_code, ConnectReasonCode::Success);
    assert!(matches!(sent[1], Packet::Disconnect(_)));

    let mut server = incoming(connect(v, "c1", true))
        .accept(Instant::ZERO, None, ServerConfig::default())
        .unwrap();
    server.disconnect(Instant::ZERO, DisconnectReasonCode::ServerShuttingDown);
    let mut out = BytesMut::new();
    while server.poll_transmit(&mut out).is_some() {}
    let sent = decode_all(v, &out);
    assert_eq!(first_connack(&sent).reason_code, ConnectReasonCode::Success);
    assert_eq!(
        sent[1],
        Packet::Disconnect(Disconnect::new(DisconnectReasonCode::ServerShuttingDown))
    );
}

/// v3.1.1 [MQTT-3.1.4-2]: a client identifier already connected: the
/// existing connection is closed (no DISCONNECT packet in 3.1.1) and the
/// new one gets the session.
#[test]
fn v3_mqtt_3_1_4_2_existing_client_disconnected() {
    let v = ProtocolVersion::V3_1_1;
    let mut old = Peer::open(persistent(v, "c1"), ServerConfig::default(), None);
    old.take();
    old.server.take_over(old.now);
    old.drain();
    assert!(old.take().is_empty());
    assert!(!old.server.is_connected());
    assert!(
        old.events
            .contains(&ServerEvent::Closed(ServerCloseCause::TakenOver))
    );
    let new = Peer::open(
        persistent(v, "c1"),
        ServerConfig::default(),
        Some(old.server),
    );
    assert!(first_connack(&new.received).session_present);
    assert!(new.server.is_connected());
}

/// v5 [MQTT-4.1.0-2]: once the connection closed and the Session Expiry
/// Interval passed, the session state is discarded: subscriptions and
/// queued messages are gone and the next CONNECT finds no session.
#[test]
fn v5_mqtt_4_1_0_2_session_discarded_after_expiry() {
    let v = ProtocolVersion::V5;
    let mut c = connect(v, "c1", false);
    c.properties.session_expiry_interval = Some(10);
    let mut p = Peer::open(c.clone(), ServerConfig::default(), None);
    p.subscribe_with(
        subscribe(&[("t", QoS::AtLeastOnce)], 1),
        vec![SubAckReasonCode::GrantedQoS1],
    );
    p.server.handle_transport_closed(p.now);
    p.deliver(qos_delivery(QoS::AtLeastOnce)).unwrap();
    p.take_events();
    p.advance(9_999);
    assert!(!p.server.is_expired());
    assert_eq!(p.server.poll_timeout(), Some(Instant::from_millis(10_000)));
    p.advance(1);
    assert!(p.server.is_expired());
    assert!(p.take_events().contains(&ServerEvent::SessionExpired));
    let again = Peer::open(c, ServerConfig::default(), Some(p.server));
    let ack = first_connack(&again.received);
    assert!(!ack.session_present);
    assert_eq!(again.received.len(), 1, "nothing of the old session sent");
    assert_eq!(again.server.subscriptions().count(), 0);
    assert_eq!(again.server.session().pending_len(), 0);
    assert_eq!(again.server.session().inflight().count(), 0);
}

/// v5 [MQTT-4.3.3-13]: the QoS 2 exchange goes on after the message's
/// expiry: an expired inbound message still gets PUBCOMP, and an expired
/// outbound one still gets PUBREL.
#[test]
fn v5_mqtt_4_3_3_13_qos2_continues_after_expiry() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V5, "c1", true),
        ServerConfig::default(),
        None,
    );
    p.take();
    let mut inbound = publish("in", QoS::ExactlyOnce, 1);
    inbound.properties.message_expiry_interval = Some(1);
    p.send(inbound.into()).unwrap();
    let token = p.last_token();
    p.server
        .ack(p.now, token, mqttkit_codec::PubAckReasonCode::Success)
        .unwrap();
    p.drain();
    assert_eq!(p.take(), [Packet::PubRec(PubRec::new(id(1)))]);

    let mut d = qos_delivery(QoS::ExactlyOnce);
    d.message.properties.message_expiry_interval = Some(1);
    let op = p.deliver(d).unwrap();
    let out = publishes(&p.take());
    let out_id = out[0].qos.packet_id().unwrap();

    p.advance(5_000);
    p.send(PubRel::new(id(1)).into()).unwrap();
    assert_eq!(p.take(), [Packet::PubComp(PubComp::new(id(1)))]);
    p.send(PubRec::new(out_id).into()).unwrap();
    assert_eq!(p.take(), [Packet::PubRel(PubRel::new(out_id))]);
    p.send(PubComp::new(out_id).into()).unwrap();
    assert!(p.events.contains(&ServerEvent::Delivered {
        op,
        reason: ReasonCode::Success
    }));
}

/// v5 [MQTT-4.12.0-4]: the server can reject enhanced authentication at
/// any step: after the client's AUTH the refusal is a CONNACK with a code
/// of 0x80 or above and nothing else, to write before closing; an AUTH
/// that breaks the exchange gives the code to refuse with.
#[test]
fn v5_mqtt_4_12_0_4_authentication_rejected() {
    let v = ProtocolVersion::V5;
    let method = || {
        let mut c = connect(v, "c1", true);
        c.properties.authentication_method = Some(s("SCRAM-SHA-1"));
        c
    };
    // Rejected at once.
    let reply = incoming(method()).refuse(ConnectReasonCode::NotAuthorized);
    assert_eq!(
        only_connack(v, &reply).reason_code,
        ConnectReasonCode::NotAuthorized
    );
    // Rejected after one round.
    let mut inc = incoming(method());
    assert!(inc.challenge(Some(Bytes::from_static(b"nonce"))).is_some());
    let mut answer = Auth::new(AuthReasonCode::ContinueAuthentication);
    answer.properties.authentication_method = Some(s("SCRAM-SHA-1"));
    answer.properties.authentication_data = Some(Bytes::from_static(b"wrong"));
    let mut wire = encode(v, &Packet::from(answer));
    assert!(inc.read_auth(&mut wire).unwrap().is_some());
    let ack = only_connack(v, &inc.refuse(ConnectReasonCode::BadAuthenticationMethod));
    assert!(ack.reason_code.code() >= 0x80);
    // An answer that is not an AUTH of the exchange.
    let mut inc = incoming(method());
    inc.challenge(None).unwrap();
    let mut wire = encode(v, &publish("t", QoS::AtMostOnce, 0).into());
    let code = inc.read_auth(&mut wire).unwrap_err();
    assert!(code.code() >= 0x80);
    let ack = only_connack(v, &inc.refuse(code));
    assert_eq!(ack.reason_code, code);
}

/// v5 [MQTT-4.13.1-1]: a Malformed Packet or a Protocol Error closes the
/// connection: DISCONNECT with its reason code, the close reported, and
/// nothing received later is processed.
#[test]
fn v5_mqtt_4_13_1_1_malformed_or_protocol_error_closes() {
    let cases: [(&[u8], ReasonCode); 2] = [
        // PUBLISH with QoS 3: malformed.
        (&[0x36, 0x03, 0x00, 0x01, b't'], ReasonCode::MalformedPacket),
        // AUTH the server did not ask for: protocol error.
        (&[0xF0, 0x00], ReasonCode::ProtocolError),
    ];
    for (bytes, reason) in cases {
        let mut p = Peer::open(
            connect(ProtocolVersion::V5, "c1", true),
            ServerConfig::default(),
            None,
        );
        p.take();
        p.server.handle_bytes(p.now, bytes);
        let err = p.server.violation().unwrap();
        assert_eq!(err.reason, reason);
        p.drain();
        let sent = p.take();
        let [Packet::Disconnect(d)] = sent.as_slice() else {
            panic!("{sent:?}")
        };
        assert_eq!(d.reason_code.code(), reason.code());
        assert!(!p.server.is_connected());
        assert!(p.events.iter().any(|e| matches!(
            e,
            ServerEvent::Closed(ServerCloseCause::ProtocolViolation(_))
        )));
        p.take_events();
        assert!(p.send(Packet::PingReq).is_err());
        assert!(p.take().is_empty());
        assert!(p.take_events().is_empty());
    }
}

/// v3.1.1 [MQTT-3.10.4-1], v5 [MQTT-3.10.4-1]: UNSUBSCRIBE filters are
/// compared character by character with the session's filters: a filter
/// that only overlaps (`a/b` against `a/+`) or differs in case (`A/+`)
/// removes nothing; the identical one removes the subscription.
#[test]
fn v3_mqtt_3_10_4_1_unsubscribe_compares_characters() {
    for version in BOTH {
        let mut p = Peer::open(connect(version, "c1", true), ServerConfig::default(), None);
        p.take();
        p.subscribe_with(
            subscribe(&[("a/+", QoS::AtLeastOnce)], 1),
            vec![SubAckReasonCode::GrantedQoS1],
        );
        p.events.clear();
        let mut u = Unsubscribe::new(id(2), TopicFilter::try_from("a/b").unwrap());
        u.filters.push(TopicFilter::try_from("A/+").unwrap());
        u.filters.push(TopicFilter::try_from("a/#").unwrap());
        p.send(u.into()).unwrap();
        let Some(ServerEvent::Unsubscribe { filters, .. }) = p.events.pop() else {
            panic!("expected an Unsubscribe event")
        };
        assert_eq!(
            filters.iter().map(|f| f.1).collect::<Vec<_>>(),
            [false, false, false]
        );
        let no = UnsubAckReasonCode::NoSubscriptionExisted;
        p.server.unsuback(id(2), vec![no, no, no]).unwrap();
        assert_eq!(p.server.subscriptions().count(), 1, "{version:?}");

        p.send(Unsubscribe::new(id(3), TopicFilter::try_from("a/+").unwrap()).into())
            .unwrap();
        let Some(ServerEvent::Unsubscribe { filters, .. }) = p.events.pop() else {
            panic!("expected an Unsubscribe event")
        };
        assert_eq!(filters.iter().map(|f| f.1).collect::<Vec<_>>(), [true]);
        p.server
            .unsuback(id(3), vec![UnsubAckReasonCode::Success])
            .unwrap();
        assert_eq!(p.server.subscriptions().count(), 0, "{version:?}");
    }
}

/// v5 [MQTT-3.8.4-5], v3.1.1 [MQTT-3.8.4-4]: a SUBSCRIBE with several
/// filters is handled as a sequence of SUBSCRIBEs, so the second copy of a
/// repeated filter already exists (Retain Handling 1 sends the retained
/// messages once, v5 [MQTT-3.3.1-10]); likewise in an UNSUBSCRIBE the second
/// copy no longer exists once the first removed it.
#[test]
fn v5_mqtt_3_8_4_5_repeated_filter_handled_in_sequence() {
    use mqttkit_codec::RetainHandling;
    let mut p = Peer::open(
        connect(ProtocolVersion::V5, "c1", true),
        ServerConfig::default(),
        None,
    );
    p.take();
    let mut once = SubscriptionOptions::new(QoS::AtLeastOnce);
    once.retain_handling = RetainHandling::SendAtSubscribeIfNew;
    let mut sub = Subscribe::new(id(1), TopicFilter::try_from("r/t").unwrap(), once);
    sub.filters
        .push((TopicFilter::try_from("r/t").unwrap(), once));
    p.events.clear();
    p.send(sub.into()).unwrap();
    let Some(ServerEvent::Subscribe { requests, .. }) = p.events.pop() else {
        panic!("expected a Subscribe event")
    };
    let exists: Vec<bool> = requests.iter().map(|r| r.exists).collect();
    assert_eq!(exists, [false, true]);
    let wants: Vec<bool> = requests.iter().map(|r| r.wants_retained()).collect();
    assert_eq!(wants, [true, false], "retained messages are sent once");
    let granted = SubAckReasonCode::GrantedQoS1;
    p.server.suback(id(1), vec![granted, granted]).unwrap();
    assert_eq!(p.server.subscriptions().count(), 1);

    let mut u = Unsubscribe::new(id(2), TopicFilter::try_from("r/t").unwrap());
    u.filters.push(TopicFilter::try_from("r/t").unwrap());
    p.send(u.into()).unwrap();
    let Some(ServerEvent::Unsubscribe { filters, .. }) = p.events.pop() else {
        panic!("expected an Unsubscribe event")
    };
    assert_eq!(
        filters.iter().map(|f| f.1).collect::<Vec<_>>(),
        [true, false]
    );
}

/// v5 §3.2.2.3.5: with Retain Available 0 in its CONNACK, the server
/// refuses a retained PUBLISH with DISCONNECT 0x9A and takes a plain one;
/// with retained messages available it takes both.
#[test]
fn v5_retained_publish_refused_only_when_retain_is_unavailable() {
    for retain_available in [false, true] {
        let config = ServerConfig {
            retain_available,
            ..ServerConfig::default()
        };
        let mut p = Peer::open(connect(ProtocolVersion::V5, "c1", true), config, None);
        p.take();
        p.send(crate::publish("t", QoS::AtMostOnce, 0).into())
            .unwrap();
        let retained = crate::publish("t", QoS::AtMostOnce, 0).with_retain(true);
        let sent = p.send(retained.into());
        if retain_available {
            sent.unwrap();
            assert!(p.server.is_connected());
        } else {
            assert_eq!(sent.unwrap_err().reason, ReasonCode::RetainNotSupported);
            assert_eq!(
                p.take(),
                [Packet::Disconnect(Disconnect::new(
                    DisconnectReasonCode::RetainNotSupported
                ))]
            );
        }
    }
}
