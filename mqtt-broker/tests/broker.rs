//! The broker end to end, in process, over TCP on 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use std::num::NonZeroU32;
use std::time::Duration;

use mqttkit_tokio::mqttkit_session::{
    ConnAck, Connect, Disconnect, MqttString, Packet, PacketId, PubRec, Subscribe,
};
use mqttkit_tokio::{
    ConnectReasonCode, DisconnectReasonCode, Message, ProtocolVersion, PubAckReasonCode, QoS,
    ReasonCode, SubscriptionOptions, TopicFilter, TopicName,
};
use support::{
    Raw, client, config, connected, handshake, handshake_with, message_within, next_message,
    options, start, subscribed,
};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V3: ProtocolVersion = ProtocolVersion::V3_1_1;

fn retained(topic: &str, payload: &'static str, expiry: Option<u32>) -> Message {
    let mut m = Message::new(
        TopicName::try_from(topic).unwrap(),
        payload,
        QoS::AtLeastOnce,
    );
    m.retain = true;
    m.properties.message_expiry_interval = expiry;
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reaches_subscribers_of_both_versions() {
    let (_broker, addr) = start(config()).await;
    let (sub5, mut ev5) = client(addr, "sub5", V5).await;
    let (sub3, mut ev3) = client(addr, "sub3", V3).await;
    sub5.subscribe("a/+", QoS::AtLeastOnce).await.unwrap();
    sub3.subscribe("a/#", QoS::AtMostOnce).await.unwrap();
    let (publisher, _ev) = client(addr, "pub", V5).await;
    let reason = publisher
        .publish("a/b", QoS::AtLeastOnce, "hello")
        .await
        .unwrap();
    assert_eq!(reason, ReasonCode::Success);
    let got = next_message(&mut ev5).await;
    assert_eq!((got.topic_str(), &got.payload[..]), ("a/b", &b"hello"[..]));
    assert_eq!(got.qos.qos(), QoS::AtLeastOnce);
    let got = next_message(&mut ev3).await;
    assert_eq!(
        got.qos.qos(),
        QoS::AtMostOnce,
        "v5 [MQTT-3.8.4-8]: QoS is the minimum"
    );
}

/// v5 §3.4.2.1: a 5.0 publisher learns that nobody subscribed (0x10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_puback_says_no_matching_subscribers() {
    let (_broker, addr) = start(config()).await;
    let (publisher, _ev) = client(addr, "pub", V5).await;
    let reason = publisher
        .publish("nobody/here", QoS::AtLeastOnce, "x")
        .await
        .unwrap();
    assert_eq!(
        reason,
        ReasonCode::from(PubAckReasonCode::NoMatchingSubscribers)
    );
}

/// v5 [MQTT-3.3.2-5], [MQTT-3.3.2-6]: a retained message is delivered with
/// the interval it has left, and not at all once it expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_mqtt_3_3_2_5_and_3_3_2_6_retained_messages_expire() {
    let (_broker, addr) = start(config()).await;
    let (publisher, _ev) = client(addr, "pub", V5).await;
    publisher
        .publish_message(retained("r/short", "short", Some(2)))
        .await
        .unwrap();
    publisher
        .publish_message(retained("r/long", "long", Some(3600)))
        .await
        .unwrap();
    let (early, mut early_ev) = client(addr, "early", V5).await;
    early.subscribe("r/short", QoS::AtLeastOnce).await.unwrap();
    let got = next_message(&mut early_ev).await;
    let left = got.properties.message_expiry_interval.unwrap();
    assert!((1..=2).contains(&left), "sent with {left} s left of 2");
    assert!(got.retain, "v5 [MQTT-3.3.1-9]");

    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let (late, mut late_ev) = client(addr, "late", V5).await;
    late.subscribe("r/#", QoS::AtLeastOnce).await.unwrap();
    let got = next_message(&mut late_ev).await;
    assert_eq!(got.topic_str(), "r/long");
    let left = got.properties.message_expiry_interval.unwrap();
    assert!(
        (3590..3600).contains(&left),
        "r/long sent with {left} s left"
    );
    assert!(
        message_within(&mut late_ev, Duration::from_millis(500))
            .await
            .is_none(),
        "the expired message was delivered"
    );
}

/// Member `a` of `$share/g/jobs` receives a message of `qos` and leaves
/// without completing it (PUBREC sent for QoS 2); returns whether member
/// `b` receives it afterwards.
async fn shared_member_leaves_mid_flow(qos: QoS) -> bool {
    shared_member_leaves_after(qos, false).await
}

/// [`shared_member_leaves_mid_flow`]; with `bystander`, another client's
/// session ends while member `a` holds the message.
async fn shared_member_leaves_after(qos: QoS, bystander: bool) -> bool {
    let (_broker, addr) = start(config()).await;
    let mut a = Raw::connect(addr, V5).await;
    handshake(&mut a, "member-a", "$share/g/jobs", qos).await;
    let (publisher, _ev) = client(addr, "pub", V5).await;
    publisher.publish("jobs", qos, "job-1").await.ok();
    let Some(Packet::Publish(got)) = a.recv().await else {
        panic!("member a got no PUBLISH");
    };
    assert_eq!(&got.payload[..], b"job-1");
    if qos == QoS::ExactlyOnce {
        let id = got.qos.packet_id().unwrap();
        a.send(PubRec::new(id)).await;
        assert!(matches!(a.recv().await, Some(Packet::PubRel(_))));
    }
    if bystander {
        // Session Expiry 0: its session ends with the DISCONNECT.
        let (other, _other_ev) = client(addr, "bystander", V5).await;
        other.disconnect().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Member b joins, then a leaves: Session Expiry 0, so its session
    // ends with the connection.
    let (b, mut b_ev) = client(addr, "member-b", V5).await;
    b.subscribe("$share/g/jobs", qos).await.unwrap();
    a.send(Disconnect::new(
        DisconnectReasonCode::DisconnectWithWillMessage,
    ))
    .await;
    drop(a);
    // A later message shows member b is served at all.
    let delivered = loop {
        match message_within(&mut b_ev, Duration::from_secs(3)).await {
            Some(m) if &m.payload[..] == b"job-1" => break true,
            Some(_) => continue,
            None => break false,
        }
    };
    publisher.publish("jobs", qos, "job-2").await.unwrap();
    let next = next_message(&mut b_ev).await;
    assert!(&next.payload[..] == b"job-2" || &next.payload[..] == b"job-1");
    delivered
}

/// v5 [MQTT-4.8.2-5]: a QoS 2 message sent to a member that leaves is not
/// sent to another member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_mqtt_4_8_2_5_shared_qos2_is_not_redelivered_to_another_member() {
    assert!(!shared_member_leaves_mid_flow(QoS::ExactlyOnce).await);
}

/// v5 §4.8.2: an unacknowledged QoS 1 message of a member that leaves
/// goes to another member (the counterpart of the QoS 2 rule).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_shared_qos1_of_a_leaving_member_goes_to_another() {
    assert!(shared_member_leaves_mid_flow(QoS::AtLeastOnce).await);
}

/// v5 §4.8.2: the end of an unrelated client's session leaves the shared
/// messages in flight to the group's members as they were, so a member
/// that leaves afterwards still hands its QoS 1 message to another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_shared_qos1_survives_another_session_ending() {
    assert!(shared_member_leaves_after(QoS::AtLeastOnce, true).await);
}

/// v5 [MQTT-3.2.2-21]: a 5.0 client asking for more than the broker's
/// maximum keep alive is told the maximum as Server Keep Alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_mqtt_3_2_2_21_max_keep_alive_is_sent_as_server_keep_alive() {
    let mut c = config();
    c.max_keep_alive = Some(30);
    let (_broker, addr) = start(c).await;
    for asked in [0, 31, 600] {
        let (_raw, ack) = connect_with_keep_alive(addr, V5, asked).await;
        assert_eq!(ack.reason_code, ConnectReasonCode::Success);
        assert_eq!(ack.properties.server_keep_alive, Some(30), "asked {asked}");
    }
    let (_raw, ack) = connect_with_keep_alive(addr, V5, 20).await;
    assert_eq!(
        ack.properties.server_keep_alive, None,
        "20 s is within the maximum"
    );
}

/// A raw connection whose CONNECT asks for `keep_alive` seconds, and the
/// CONNACK it got.
async fn connect_with_keep_alive(
    addr: std::net::SocketAddr,
    version: ProtocolVersion,
    keep_alive: u16,
) -> (Raw, ConnAck) {
    let mut raw = Raw::connect(addr, version).await;
    let mut connect = Connect::new(version, MqttString::try_from("ka").unwrap());
    connect.keep_alive = keep_alive;
    raw.send(connect).await;
    let Some(Packet::ConnAck(ack)) = raw.recv().await else {
        panic!("no CONNACK");
    };
    (raw, *ack)
}

/// A 3.1.1 client cannot be told another keep alive: above the maximum it
/// is refused (CONNACK 0x02), as mosquitto does; at the maximum it is
/// accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_keep_alive_above_the_maximum_is_refused() {
    let mut c = config();
    c.max_keep_alive = Some(30);
    let (_broker, addr) = start(c).await;
    let (mut raw, ack) = connect_with_keep_alive(addr, V3, 60).await;
    assert!(ack.reason_code.is_error());
    assert!(
        raw.recv().await.is_none(),
        "v3.1.1 [MQTT-3.2.2-5]: closed after a refusal"
    );
    let (_raw, ack) = connect_with_keep_alive(addr, V3, 30).await;
    assert_eq!(
        ack.reason_code,
        ConnectReasonCode::Success,
        "the maximum itself"
    );
}

/// v5 [MQTT-3.1.4-3]: a second connection with the same client identifier
/// takes the session over; the first is told 0x8E and closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_mqtt_3_1_4_3_second_connection_takes_the_session_over() {
    let (_broker, addr) = start(config()).await;
    let mut first = Raw::connect(addr, V5).await;
    let mut connect = Connect::new(V5, MqttString::try_from("twin").unwrap());
    connect.properties.session_expiry_interval = Some(60);
    handshake_with(&mut first, connect, "t/#", QoS::AtLeastOnce).await;
    let mut second = Raw::connect(addr, V5).await;
    let mut connect = Connect::new(V5, MqttString::try_from("twin").unwrap());
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(60);
    second.send(connect).await;
    match first.recv().await {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, DisconnectReasonCode::SessionTakenOver);
        }
        other => panic!("expected DISCONNECT 0x8E, got {other:?}"),
    }
    assert!(first.recv().await.is_none());
    let Some(Packet::ConnAck(ack)) = second.recv().await else {
        panic!("no CONNACK");
    };
    assert!(
        ack.session_present,
        "the session was taken over, not dropped"
    );
    // The subscription made on the first connection still routes.
    let (publisher, _pev) = client(addr, "pub", V5).await;
    publisher
        .publish("t/x", QoS::AtMostOnce, "kept")
        .await
        .unwrap();
    let Some(Packet::Publish(got)) = second.recv().await else {
        panic!("no PUBLISH");
    };
    assert_eq!(&got.payload[..], b"kept");
}

/// v5 [MQTT-3.1.2-23]: a session outlives its connection for its expiry
/// interval and receives QoS 1 messages meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_mqtt_3_1_2_23_offline_session_queues_messages() {
    let (_broker, addr) = start(config()).await;
    let opts = || {
        options(addr, "durable", V5)
            .clean_start(false)
            .session_expiry(Duration::from_secs(60))
    };
    let (c, _ev) = mqttkit_tokio::Client::connect(opts()).await.unwrap();
    c.subscribe("d/#", QoS::AtLeastOnce).await.unwrap();
    c.disconnect().await.unwrap();
    let (publisher, _pev) = client(addr, "pub", V5).await;
    for i in 0..3 {
        publisher
            .publish("d/x", QoS::AtLeastOnce, format!("m{i}"))
            .await
            .unwrap();
    }
    // A raw client: the library's client refuses a session it has no
    // state for (v5 [MQTT-4.1.0-2]).
    let mut raw = Raw::connect(addr, V5).await;
    let mut connect = Connect::new(V5, MqttString::try_from("durable").unwrap());
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(60);
    raw.send(connect).await;
    let Some(Packet::ConnAck(ack)) = raw.recv().await else {
        panic!("no CONNACK");
    };
    assert!(ack.session_present);
    for i in 0..3 {
        let Some(Packet::Publish(got)) = raw.recv().await else {
            panic!("no PUBLISH");
        };
        assert_eq!(got.payload, format!("m{i}").as_bytes(), "in order");
    }
}

/// v5 [MQTT-3.1.2-8]: the will is published when the connection ends
/// without DISCONNECT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_mqtt_3_1_2_8_will_is_published_on_abnormal_close() {
    let (_broker, addr) = start(config()).await;
    let (watcher, mut ev) = client(addr, "watcher", V5).await;
    watcher
        .subscribe("wills/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut raw = Raw::connect(addr, V5).await;
    let mut connect = Connect::new(V5, MqttString::try_from("mortal").unwrap());
    let mut will =
        mqttkit_tokio::LastWill::new(TopicName::try_from("wills/mortal").unwrap(), "gone");
    will.qos = QoS::AtLeastOnce;
    connect.will = Some(will);
    raw.send(connect).await;
    assert!(matches!(raw.recv().await, Some(Packet::ConnAck(_))));
    drop(raw);
    let got = next_message(&mut ev).await;
    assert_eq!(
        (got.topic_str(), &got.payload[..]),
        ("wills/mortal", &b"gone"[..])
    );
}

/// v5 §1.5.4: with the option on, control characters are refused in
/// client identifiers, topic names and topic filters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_control_characters_are_refused_when_configured() {
    let mut c = config();
    c.refuse_control_characters = true;
    let (_broker, addr) = start(c).await;
    let mut raw = Raw::connect(addr, V5).await;
    raw.send(Connect::new(
        V5,
        MqttString::try_from("bad\u{1}id").unwrap(),
    ))
    .await;
    let Some(Packet::ConnAck(ack)) = raw.recv().await else {
        panic!("no CONNACK");
    };
    assert_eq!(ack.reason_code, ConnectReasonCode::ClientIdentifierNotValid);

    let mut raw = Raw::connect(addr, V5).await;
    handshake(&mut raw, "ok", "fine/#", QoS::AtMostOnce).await;
    let subscribe = Subscribe::new(
        PacketId::new(2).unwrap(),
        TopicFilter::try_from("bad\u{7f}/#").unwrap(),
        SubscriptionOptions::new(QoS::AtMostOnce),
    );
    raw.send(Packet::Subscribe(subscribe)).await;
    let Some(Packet::SubAck(ack)) = raw.recv().await else {
        panic!("no SUBACK");
    };
    assert_eq!(
        ack.reason_codes,
        vec![mqttkit_tokio::SubAckReasonCode::TopicFilterInvalid]
    );
    let publish = mqttkit_tokio::Publish::new(TopicName::try_from("bad\u{9f}").unwrap(), "x");
    raw.send(publish).await;
    match raw.recv().await {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, DisconnectReasonCode::MalformedPacket);
        }
        other => panic!("expected DISCONNECT 0x81, got {other:?}"),
    }
}

/// Subscription Identifiers reach the subscriber (v5 [MQTT-3.3.4-3]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_mqtt_3_3_4_3_subscription_identifier_is_sent() {
    let (_broker, addr) = start(config()).await;
    let mut raw = Raw::connect(addr, V5).await;
    raw.send(Connect::new(V5, MqttString::try_from("ids").unwrap()))
        .await;
    assert!(matches!(raw.recv().await, Some(Packet::ConnAck(_))));
    let mut subscribe = Subscribe::new(
        PacketId::new(1).unwrap(),
        TopicFilter::try_from("s/#").unwrap(),
        SubscriptionOptions::new(QoS::AtMostOnce),
    );
    subscribe.properties.subscription_identifier = NonZeroU32::new(7);
    raw.send(Packet::Subscribe(subscribe)).await;
    assert!(matches!(raw.recv().await, Some(Packet::SubAck(_))));
    let (publisher, _ev) = client(addr, "pub", V5).await;
    publisher
        .publish("s/1", QoS::AtMostOnce, "x")
        .await
        .unwrap();
    let Some(Packet::Publish(p)) = raw.recv().await else {
        panic!("no PUBLISH");
    };
    assert_eq!(
        p.properties
            .subscription_identifiers()
            .iter()
            .collect::<Vec<_>>(),
        vec![NonZeroU32::new(7).unwrap()]
    );
}

/// The `$SYS/broker/...` tree, when turned on, is published retained and
/// counts what happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_tree_counts_clients_and_messages() {
    let mut c = config();
    c.sys.enabled = true;
    c.sys.interval = 1;
    let (_broker, addr) = start(c).await;
    let (subscriber, mut sub_events) = client(addr, "sub", V5).await;
    subscriber
        .subscribe("counted", QoS::AtMostOnce)
        .await
        .unwrap();
    let (publisher, _pev) = client(addr, "pub", V5).await;
    for _ in 0..3 {
        publisher
            .publish("counted", QoS::AtLeastOnce, "x")
            .await
            .unwrap();
    }
    for _ in 0..3 {
        next_message(&mut sub_events).await;
    }
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (watcher, mut ev) = client(addr, "watcher", V5).await;
    watcher
        .subscribe("$SYS/broker/#", QoS::AtMostOnce)
        .await
        .unwrap();
    let mut wanted = vec![
        "$SYS/broker/clients/connected",
        "$SYS/broker/messages/received",
        "$SYS/broker/messages/sent",
        "$SYS/broker/publish/bytes/received",
        "$SYS/broker/publish/bytes/sent",
        "$SYS/broker/uptime",
    ];
    // Resident memory is read from /proc, on Linux only.
    let linux = cfg!(target_os = "linux");
    if linux {
        wanted.push("$SYS/broker/memory/resident");
    }
    let mut seen = std::collections::HashMap::new();
    while seen.len() < wanted.len() {
        let got = next_message(&mut ev).await;
        let value = String::from_utf8_lossy(&got.payload).into_owned();
        seen.insert(got.topic_str().to_owned(), value);
        seen.retain(|t, _| wanted.contains(&t.as_str()));
    }
    let count = |topic: &str| -> u64 { seen[topic].parse().unwrap() };
    assert!(count("$SYS/broker/clients/connected") >= 2);
    assert!(count("$SYS/broker/messages/received") >= 3);
    assert!(count("$SYS/broker/messages/sent") >= 3);
    // Each message counts its topic and payload: "counted" and "x".
    assert!(count("$SYS/broker/publish/bytes/received") >= 3 * 8);
    assert!(count("$SYS/broker/publish/bytes/sent") >= 3 * 8);
    if linux {
        assert!(count("$SYS/broker/memory/resident") > 0);
    }
    assert!(seen["$SYS/broker/uptime"].ends_with(" seconds"));
}

/// v5 §1.5.4, with the option on: a will topic or user name with a
/// control character refuses the CONNECT, an UNSUBSCRIBE filter with one
/// closes the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_control_characters_in_will_user_and_unsubscribe_are_refused() {
    let mut c = config();
    c.refuse_control_characters = true;
    let (_broker, addr) = start(c).await;
    let mut connect = Connect::new(V5, MqttString::try_from("w").unwrap());
    connect.will = Some(mqttkit_tokio::LastWill::new(
        TopicName::try_from("will\u{1}").unwrap(),
        "x",
    ));
    let mut raw = Raw::connect(addr, V5).await;
    raw.send(connect).await;
    let Some(Packet::ConnAck(ack)) = raw.recv().await else {
        panic!("no CONNACK");
    };
    assert_eq!(ack.reason_code, ConnectReasonCode::TopicNameInvalid);

    let mut connect = Connect::new(V5, MqttString::try_from("u").unwrap());
    connect.login.username = Some(MqttString::try_from("us\u{85}er").unwrap());
    let mut raw = Raw::connect(addr, V5).await;
    raw.send(connect).await;
    let Some(Packet::ConnAck(ack)) = raw.recv().await else {
        panic!("no CONNACK");
    };
    assert_eq!(ack.reason_code, ConnectReasonCode::BadUserNameOrPassword);

    // A topic without one is routed as usual.
    let (publisher, _pev) = client(addr, "plain", V5).await;
    let mut raw = Raw::connect(addr, V5).await;
    handshake(&mut raw, "un", "fine/#", QoS::AtMostOnce).await;
    publisher
        .publish("fine/topic", QoS::AtLeastOnce, "x")
        .await
        .unwrap();
    assert!(matches!(raw.recv().await, Some(Packet::Publish(_))));
    let unsubscribe = mqttkit_tokio::mqttkit_session::Unsubscribe::new(
        PacketId::new(3).unwrap(),
        TopicFilter::try_from("bad\u{1f}").unwrap(),
    );
    raw.send(Packet::Unsubscribe(unsubscribe)).await;
    match raw.recv().await {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, DisconnectReasonCode::MalformedPacket);
        }
        other => panic!("expected DISCONNECT 0x81, got {other:?}"),
    }
}

/// v3.1.1 has no return code for a control character (v5 §1.5.4 applies
/// to both versions' strings): with the option on, the CONNECT is closed
/// without CONNACK, as a malformed packet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_control_characters_in_connect_close_without_connack() {
    let mut c = config();
    c.refuse_control_characters = true;
    let (_broker, addr) = start(c).await;
    let mut raw = Raw::connect(addr, V3).await;
    raw.send(Connect::new(V3, MqttString::try_from("id\u{7f}").unwrap()))
        .await;
    assert!(raw.recv().await.is_none());
    let mut raw = Raw::connect(addr, V3).await;
    raw.send(Connect::new(V3, MqttString::try_from("plain").unwrap()))
        .await;
    assert!(matches!(raw.recv().await, Some(Packet::ConnAck(_))));
}

/// v5 [MQTT-3.8.3-3]: a client subscribed with No Local does not get its
/// own messages back; another subscriber of the topic does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_mqtt_3_8_3_3_no_local_skips_the_publisher() {
    let (_broker, addr) = start(config()).await;
    let (other, mut other_ev) = client(addr, "other", V5).await;
    other.subscribe("nl/t", QoS::AtLeastOnce).await.unwrap();
    let mut raw = Raw::connect(addr, V5).await;
    connected(
        &mut raw,
        Connect::new(V5, MqttString::try_from("self").unwrap()),
    )
    .await;
    let mut options = SubscriptionOptions::new(QoS::AtLeastOnce);
    options.no_local = true;
    subscribed(&mut raw, "nl/#", options).await;
    for n in 1..=2u16 {
        let publish = mqttkit_tokio::Publish::new(TopicName::try_from("nl/t").unwrap(), "mine")
            .with_qos(mqttkit_tokio::mqttkit_session::PublishQoS::AtLeastOnce {
                packet_id: PacketId::new(n).unwrap(),
                dup: false,
            });
        raw.send(publish).await;
        let Some(Packet::PubAck(_)) = raw.recv().await else {
            panic!("no PUBACK");
        };
    }
    for _ in 1..=2 {
        assert_eq!(&next_message(&mut other_ev).await.payload[..], b"mine");
    }
    // The other subscriber got both; nothing came back to the publisher.
    let back = tokio::time::timeout(Duration::from_millis(300), raw.recv()).await;
    assert!(back.is_err(), "got its own message back: {back:?}");
}
