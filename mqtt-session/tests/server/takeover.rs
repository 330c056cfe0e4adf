//! Session takeover, will, will delay, session expiry (v5 §3.1.2.5,
//! §3.1.2.11.2, §3.1.4, §4.13).

use std::num::NonZeroU16;

use mqttkit_codec::{
    Disconnect, DisconnectReasonCode, LastWill, Packet, ProtocolVersion, PubAck, QoS,
    SubscriptionOptions,
};
use mqttkit_session::{Delivery, ServerCloseCause, ServerConfig, ServerEvent};

use crate::{Peer, connect, id, message, topic};

fn with_will(
    version: ProtocolVersion,
    delay: Option<u32>,
    expiry: Option<u32>,
) -> mqttkit_codec::Connect {
    let mut c = connect(version, "c1", false);
    let mut will = LastWill::new(topic("wills/c1"), &b"gone"[..]);
    will.properties.will_delay_interval = delay;
    c.will = Some(will);
    c.properties.session_expiry_interval = expiry;
    c
}

fn wills(p: &Peer) -> usize {
    p.events
        .iter()
        .filter(|e| matches!(e, ServerEvent::Will(_)))
        .count()
}

/// v5 [MQTT-3.1.4-3], §4.13: a second connection with the same client
/// identifier takes the session; the old one gets DISCONNECT 0x8E and the
/// new one resumes its unacknowledged messages with DUP (v5 [MQTT-4.4.0-1]).
#[test]
fn v5_mqtt_3_1_4_3_takeover_with_0x8e() {
    let mut c = connect(ProtocolVersion::V5, "c1", false);
    c.properties.session_expiry_interval = Some(60);
    c.properties.receive_maximum = NonZeroU16::new(1);
    let mut old = Peer::open(c.clone(), ServerConfig::default(), None);
    old.deliver(Delivery::new(
        message("t", QoS::AtLeastOnce),
        SubscriptionOptions::new(QoS::AtLeastOnce),
    ))
    .unwrap();
    old.deliver(Delivery::new(
        message("t", QoS::AtLeastOnce),
        SubscriptionOptions::new(QoS::AtLeastOnce),
    ))
    .unwrap();
    old.take();
    old.server.take_over(old.now);
    old.drain();
    assert_eq!(
        old.take(),
        [Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::SessionTakenOver
        ))]
    );
    assert!(
        old.events
            .contains(&ServerEvent::Closed(ServerCloseCause::TakenOver))
    );
    let mut new = Peer::open(c, ServerConfig::default(), Some(old.server));
    let sent = new.take();
    let Packet::ConnAck(ack) = &sent[0] else {
        panic!()
    };
    assert!(ack.session_present);
    let Packet::Publish(p) = &sent[1] else {
        panic!("{sent:?}")
    };
    assert!(p.qos.dup());
    assert_eq!(sent.len(), 2, "the second waits for the Receive Maximum");
    new.send(PubAck::new(id(1)).into()).unwrap();
    assert_eq!(new.take().len(), 1);
}

/// v5 [MQTT-3.1.2-8]: the will is published when the connection closes
/// without DISCONNECT; v5 [MQTT-3.1.2-10], [MQTT-3.14.4-3], v3.1.1
/// [MQTT-3.1.2-10], [MQTT-3.14.4-3]: a normal DISCONNECT discards it;
/// v5 §3.14.2.1: 0x04 publishes it.
#[test]
fn v5_mqtt_3_1_2_10_will_by_disconnect_reason() {
    let mut p = Peer::open(
        with_will(ProtocolVersion::V5, None, None),
        ServerConfig::default(),
        None,
    );
    p.server.handle_transport_closed(p.now);
    p.drain();
    assert_eq!(wills(&p), 1);
    let mut p = Peer::open(
        with_will(ProtocolVersion::V5, None, None),
        ServerConfig::default(),
        None,
    );
    p.send(Disconnect::new(DisconnectReasonCode::Success).into())
        .unwrap();
    assert_eq!(wills(&p), 0);
    let mut p = Peer::open(
        with_will(ProtocolVersion::V5, None, None),
        ServerConfig::default(),
        None,
    );
    p.send(Disconnect::new(DisconnectReasonCode::DisconnectWithWillMessage).into())
        .unwrap();
    assert_eq!(wills(&p), 1);
    let mut p = Peer::open(
        with_will(ProtocolVersion::V3_1_1, None, None),
        ServerConfig::default(),
        None,
    );
    p.send(Packet::Disconnect(Disconnect::new(
        DisconnectReasonCode::Success,
    )))
    .unwrap();
    assert_eq!(wills(&p), 0);
}

/// v5 [MQTT-3.1.2-4], §3.1.3.2.2: a Clean Start ends the old session, so
/// its will, still waiting for its delay, is published at once and the
/// session's end is reported. Both events come out of the new connection's
/// server, in that order, since the old one is gone.
#[test]
fn v5_mqtt_3_1_2_4_clean_start_ends_the_old_session_and_its_delayed_will() {
    let mut old = Peer::open(
        with_will(ProtocolVersion::V5, Some(10), Some(100)),
        ServerConfig::default(),
        None,
    );
    old.server.handle_transport_closed(old.now);
    old.drain();
    assert_eq!(wills(&old), 0, "the will waits for its delay");
    let new = Peer::open(
        connect(ProtocolVersion::V5, "c1", true),
        ServerConfig::default(),
        Some(old.server),
    );
    let ended: Vec<&ServerEvent> = new
        .events
        .iter()
        .filter(|e| matches!(e, ServerEvent::Will(_) | ServerEvent::SessionExpired))
        .collect();
    assert!(
        matches!(
            ended[..],
            [ServerEvent::Will(_), ServerEvent::SessionExpired]
        ),
        "{:?}",
        new.events
    );
}

/// v5 §3.1.3.2.2, [MQTT-3.1.3-9]: the will waits for its delay, and a new
/// connection to the session before it ends cancels it.
#[test]
fn v5_mqtt_3_1_3_9_will_delay_cancelled_by_reconnect() {
    let c = with_will(ProtocolVersion::V5, Some(10), Some(100));
    let mut p = Peer::open(c.clone(), ServerConfig::default(), None);
    p.server.handle_transport_closed(p.now);
    assert_eq!(p.server.poll_timeout().unwrap().as_millis(), 10_000);
    p.advance(9_000);
    assert_eq!(wills(&p), 0);
    let mut q = Peer::open(c.clone(), ServerConfig::default(), Some(p.server));
    q.advance(2_000);
    assert_eq!(wills(&q), 0);
    // Without a reconnect it goes at the end of the delay.
    let mut r = Peer::open(c, ServerConfig::default(), None);
    r.server.handle_transport_closed(r.now);
    r.advance(10_000);
    assert_eq!(wills(&r), 1);
}

/// v5 §3.1.3.2.2: the will goes when the session ends if that is before
/// the will delay.
#[test]
fn v5_will_at_session_end_before_delay() {
    let mut p = Peer::open(
        with_will(ProtocolVersion::V5, Some(100), Some(5)),
        ServerConfig::default(),
        None,
    );
    p.server.handle_transport_closed(p.now);
    assert_eq!(p.server.poll_timeout().unwrap().as_millis(), 5_000);
    p.advance(5_000);
    let tail: Vec<_> = p.events.iter().rev().take(2).cloned().collect();
    assert_eq!(tail[0], ServerEvent::SessionExpired);
    assert!(matches!(tail[1], ServerEvent::Will(_)));
}

/// v5 [MQTT-3.1.2-23], §3.1.2.11.2: the session is kept for the Session
/// Expiry Interval after the connection closes; 0 ends it at the close.
#[test]
fn v5_mqtt_3_1_2_23_session_expiry_deadline() {
    let mut c = connect(ProtocolVersion::V5, "c1", false);
    c.properties.session_expiry_interval = Some(30);
    let mut p = Peer::open(c, ServerConfig::default(), None);
    p.server.handle_transport_closed(p.now);
    assert_eq!(p.server.poll_timeout().unwrap().as_millis(), 30_000);
    p.advance(29_999);
    assert!(!p.server.is_expired());
    p.advance(1);
    assert!(p.server.is_expired());
    assert!(p.events.contains(&ServerEvent::SessionExpired));
    let mut q = Peer::open(
        connect(ProtocolVersion::V5, "c1", false),
        ServerConfig::default(),
        None,
    );
    q.server.handle_transport_closed(q.now);
    q.drain();
    assert!(q.server.is_expired());
}

/// v5 [MQTT-3.14.2-2]: a non-zero Session Expiry Interval on DISCONNECT
/// after 0 on CONNECT is a protocol error; otherwise it replaces it.
#[test]
fn v5_mqtt_3_14_2_2_disconnect_session_expiry() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V5, "c1", false),
        ServerConfig::default(),
        None,
    );
    p.take();
    let mut d = Disconnect::new(DisconnectReasonCode::Success);
    d.properties.session_expiry_interval = Some(10);
    assert_eq!(
        p.send(d.clone().into()).unwrap_err().reason,
        mqttkit_codec::ReasonCode::ProtocolError
    );
    let mut c = connect(ProtocolVersion::V5, "c1", false);
    c.properties.session_expiry_interval = Some(1);
    let mut q = Peer::open(c, ServerConfig::default(), None);
    q.send(d.into()).unwrap();
    assert_eq!(q.server.poll_timeout().unwrap().as_millis(), 10_000);
}

/// v3.1.1 [MQTT-3.1.2-4], [MQTT-3.1.2-6]: CleanSession 0 keeps the session
/// after the close (no expiry in 3.1.1 unless configured); CleanSession 1
/// ends it.
#[test]
fn v3_mqtt_3_1_2_4_clean_session_lifetime() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V3_1_1, "c1", false),
        ServerConfig::default(),
        None,
    );
    p.server.handle_transport_closed(p.now);
    assert_eq!(p.server.poll_timeout(), None);
    assert!(!p.server.is_expired());
    let mut q = Peer::open(
        connect(ProtocolVersion::V3_1_1, "c1", true),
        ServerConfig::default(),
        None,
    );
    q.server.handle_transport_closed(q.now);
    assert!(q.server.is_expired());
}
