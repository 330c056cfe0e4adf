//! Session State of the client: whether it has one when CONNACK claims one
//! (v5 §3.2.2.1.1), and its expiry after the connection closes
//! (v5 §3.1.2.11.2, §4.1; v3.1.1 §3.1.2.4).

use super::*;

/// The events of a lost session: `SessionLost` and the operations handed back.
fn returned(events: &[Event]) -> Option<Vec<mqttkit_session::OpId>> {
    let at = events.iter().position(|e| *e == Event::SessionLost)?;
    Some(
        events[at..]
            .iter()
            .filter_map(|e| match e {
                Event::Returned { op, .. } => Some(*op),
                _ => None,
            })
            .collect(),
    )
}

fn connect_expiring(p: &mut Pair, clean_start: bool, secs: Option<u32>) {
    let mut c = connect_packet(p.version, clean_start);
    c.properties.session_expiry_interval = secs;
    p.connect_with(c);
    p.take_received();
}

fn accepted(present: bool) -> ConnAck {
    ConnAck::new(present, ConnectReasonCode::Success)
}

/// v5 [MQTT-3.2.2-4], [MQTT-4.13.2-1]; v3.1.1 [MQTT-4.8.0-1] and §3.2.2.2
/// (no statement id of its own: the client may disconnect when Session
/// Present is not as expected): a client without
/// Session State — a new session, or one whose state was discarded — that
/// receives Session Present 1 closes the connection, in 5.0 after a
/// DISCONNECT 0x82.
#[test]
fn mqtt_3_2_2_4_session_present_without_session_state_closes() {
    for v in [V5, V311] {
        // A new session that never connected.
        let mut p = Pair::new(v);
        p.client.publish(p.now, msg("q", QoS::AtLeastOnce)).unwrap();
        assert!(!p.client.session().is_established());
        p.connect_with(connect_packet(v, false));
        p.take_received();
        let err = p.server(accepted(true)).unwrap_err();
        assert_eq!(err.reason, ReasonCode::ProtocolError);
        let ev = p.take_events();
        assert_eq!(
            violation_rule(&ev[0]).unwrap().0,
            "v5 [MQTT-3.2.2-4] / v3.1.1 §3.2.2.2"
        );
        let sent = p.take_received();
        if v.is_v5() {
            assert_eq!(
                last_disconnect(&sent),
                Some(DisconnectReasonCode::ProtocolError)
            );
        } else {
            assert!(sent.is_empty(), "3.1.1 just closes: {sent:?}");
        }
        assert!(!p.client.is_connected());
        assert_eq!(p.client.session().pending_len(), 1, "the queue is kept");

        // A session whose state was discarded: Clean Session in 3.1.1,
        // Session Expiry 0 in 5.0, both end with the connection.
        let mut p = Pair::new(v);
        connect_expiring(&mut p, true, None);
        p.server(accepted(false)).unwrap();
        assert!(p.client.session().is_established());
        p.drop_link();
        assert!(!p.client.session().is_established());
        p.connect_with(connect_packet(v, false));
        assert!(p.server(accepted(true)).is_err());
    }
}

/// v5 [MQTT-3.2.2-4], [MQTT-3.2.2-5]: an established session without any
/// message in it still has Session State (the server may hold its
/// subscriptions): Session Present 1 resumes it, across a snapshot too.
#[test]
fn mqtt_3_2_2_4_empty_established_session_resumes() {
    for v in [V5, V311] {
        let mut p = Pair::new(v);
        p.connect_ok(false);
        p.drop_link();
        assert!(!p.client.session().has_state());
        assert!(p.client.session().is_established());
        let snap = p.client.session().snapshot(p.now).unwrap();
        let restored = Session::restore(snap, p.now, Duration::ZERO).unwrap();
        assert!(restored.is_established());
        let mut q = Pair::with(v, restored, ClientConfig::default());
        q.connect_ok(true);
        assert!(q.client.is_connected());
        // A fresh session's snapshot has none.
        let fresh = Session::new(MqttString::try_from("c1").unwrap());
        let snap = fresh.snapshot(p.now).unwrap();
        assert!(
            !Session::restore(snap, p.now, Duration::ZERO)
                .unwrap()
                .is_established()
        );
    }
}

/// v5 [MQTT-3.1.2-23]: after the connection
/// closes the state is kept for the Session Expiry Interval, a deadline
/// reported by `poll_timeout`; when it passes, the state is discarded and
/// every unacknowledged and queued message is handed back, never dropped.
#[test]
fn mqtt_3_1_2_23_session_expiry_hands_messages_back() {
    let mut p = Pair::new(V5);
    connect_expiring(&mut p, true, Some(10));
    p.server(connack_with(|c| {
        c.properties.receive_maximum = NonZeroU16::new(1)
    }))
    .unwrap();
    let sent = p.client.publish(p.now, msg("a", QoS::ExactlyOnce)).unwrap();
    let queued = p.client.publish(p.now, msg("b", QoS::AtLeastOnce)).unwrap();
    p.server(PubRec::new(id(1))).unwrap();
    p.server(incoming(QoS::ExactlyOnce, 7)).unwrap();
    p.take_events();
    let closed_at = p.now;
    p.drop_link();
    p.take_events();
    assert_eq!(
        p.client.poll_timeout(),
        Some(Instant::from_millis(closed_at.as_millis() + 10_000))
    );
    p.advance(9_999);
    assert!(p.take_events().is_empty());
    assert_eq!(p.client.session().inflight().count(), 1);
    p.advance(1);
    let ev = p.take_events();
    assert_eq!(returned(&ev), Some(vec![sent, queued]));
    assert!(ev.contains(&Event::Returned {
        op: sent,
        message: msg("a", QoS::ExactlyOnce),
        received_by_server: true
    }));
    let s = p.client.session();
    assert!(!s.has_state() && !s.is_established() && s.pending_len() == 0);
    assert_eq!(s.inbound_qos2_len(), 0);
    assert!(p.store.outbound.is_empty() && p.store.inbound.is_empty());
    assert_eq!(p.client.poll_timeout(), None);
}

/// v5 §3.1.2.11.2, §3.2.2.3.2, §3.14.2.2.2: the interval in use is
/// CONNACK's if the server sent one, else CONNECT's, replaced by the one
/// our DISCONNECT carries; 0 ends the session at close, 0xFFFFFFFF never.
#[test]
fn v5_session_expiry_interval_in_use() {
    // CONNACK's replaces CONNECT's.
    let mut p = Pair::new(V5);
    connect_expiring(&mut p, true, Some(100));
    p.server(connack_with(|c| {
        c.properties.session_expiry_interval = Some(5)
    }))
    .unwrap();
    p.drop_link();
    assert_eq!(
        p.client.session().expires_at(),
        Some(Instant::from_millis(p.now.as_millis() + 5_000))
    );

    // DISCONNECT's replaces both.
    let mut p = Pair::new(V5);
    connect_expiring(&mut p, true, Some(100));
    p.server(accepted(false)).unwrap();
    let mut d = Disconnect::new(DisconnectReasonCode::Success);
    d.properties.session_expiry_interval = Some(3);
    p.client.disconnect(p.now, d).unwrap();
    assert_eq!(
        p.client.poll_timeout(),
        Some(Instant::from_millis(p.now.as_millis() + 3_000))
    );
    p.drop_link();
    assert_eq!(
        p.client.poll_timeout(),
        Some(Instant::from_millis(p.now.as_millis() + 3_000))
    );

    // 0 (also when absent): at close, with the messages handed back.
    let mut p = Pair::new(V5);
    connect_expiring(&mut p, true, None);
    p.server(accepted(false)).unwrap();
    let op = p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.take_events();
    p.drop_link();
    assert_eq!(returned(&p.take_events()), Some(vec![op]));
    assert_eq!(p.client.poll_timeout(), None);

    // 0xFFFFFFFF: never.
    let mut p = Pair::new(V5);
    connect_expiring(&mut p, true, Some(u32::MAX));
    p.server(accepted(false)).unwrap();
    p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.drop_link();
    assert_eq!(p.client.poll_timeout(), None);
    p.advance(u64::from(u32::MAX) * 1000);
    assert!(p.client.session().is_established());
    assert_eq!(p.client.session().inflight().count(), 1);
}

/// v3.1.1 [MQTT-3.1.2-6], [MQTT-3.1.2-4], [MQTT-4.1.0-1], [MQTT-4.1.0-2]: a
/// Clean Session lasts as long as the connection and ends with it (its
/// messages are handed back at close); a session without Clean Session is
/// kept however long the client is offline.
#[test]
fn v311_clean_session_ends_with_connection() {
    let mut p = Pair::new(V311);
    let mut c = connect_packet(V311, true);
    c.keep_alive = 0;
    p.connect_with(c);
    p.server(accepted(false)).unwrap();
    let op = p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.advance(1_000_000);
    assert_eq!(
        p.client.session().inflight().count(),
        1,
        "kept while connected"
    );
    p.take_events();
    p.drop_link();
    assert_eq!(returned(&p.take_events()), Some(vec![op]));
    assert!(!p.client.session().is_established());

    let mut p = Pair::new(V311);
    p.connect(false, accepted(false));
    p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.drop_link();
    assert_eq!(p.client.poll_timeout(), None);
    p.advance(10_000_000);
    assert_eq!(p.client.session().inflight().count(), 1);
    p.connect(false, accepted(true));
    assert_eq!(publishes(&p.take_received()), [(Some(1), true)]);
}

/// v5 [MQTT-4.1.0-1], [MQTT-4.4.0-1]: a connection accepted before the
/// deadline cancels the expiry and resumes; the state is never discarded
/// while a connection is open, even awaiting CONNACK past the deadline; a
/// refused connection leaves the earlier deadline running.
#[test]
fn mqtt_4_1_0_1_reconnect_before_expiry_cancels_it() {
    let mut p = Pair::new(V5);
    connect_expiring(&mut p, true, Some(10));
    p.server(accepted(false)).unwrap();
    p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.drop_link();
    let deadline = p.client.poll_timeout().unwrap();

    // Refused: the deadline stands.
    p.advance(2_000);
    connect_expiring(&mut p, false, Some(10));
    p.server(ConnAck::new(false, ConnectReasonCode::NotAuthorized))
        .unwrap();
    p.drop_link();
    assert_eq!(p.client.poll_timeout(), Some(deadline));

    // Open past the deadline: nothing expires while CONNACK is awaited.
    p.advance(5_000);
    connect_expiring(&mut p, false, Some(10));
    p.advance(5_000);
    assert!(p.now > deadline);
    assert!(!p.take_events().contains(&Event::SessionLost));
    p.server(accepted(true)).unwrap();
    assert_eq!(publishes(&p.take_received()), [(Some(1), true)]);
    assert_eq!(p.client.session().expires_at(), None);
    p.advance(60_000);
    assert_eq!(p.client.session().inflight().count(), 1);

    // The next close starts a new full interval.
    p.drop_link();
    assert_eq!(
        p.client.poll_timeout(),
        Some(Instant::from_millis(p.now.as_millis() + 10_000))
    );
}

/// v5 [MQTT-3.1.2-23] across a restart: the snapshot stores the time the
/// session has left, and restore takes the time offline off it; a deadline
/// passed while offline expires the session before the next CONNECT.
#[test]
fn mqtt_3_1_2_23_session_expiry_survives_snapshot_restore() {
    let mut p = Pair::new(V5);
    connect_expiring(&mut p, true, Some(10));
    p.server(accepted(false)).unwrap();
    let op = p.client.publish(p.now, msg("a", QoS::AtLeastOnce)).unwrap();
    p.drop_link();
    p.take_events();
    p.advance(4_000);
    let snap = p.client.session().snapshot(p.now).unwrap();

    // Another process, another clock: 6 s left at the snapshot, 2 s of
    // them spent offline.
    let start = Instant::from_millis(50);
    let restored = Session::restore(snap.clone(), start, Duration::from_secs(2)).unwrap();
    assert_eq!(restored.expires_at(), Some(Instant::from_millis(4_050)));
    let mut q = Pair::with(V5, restored, ClientConfig::default());
    q.now = start;
    q.advance(3_999);
    assert!(q.take_events().is_empty());
    q.advance(1);
    assert_eq!(returned(&q.take_events()), Some(vec![op]));

    // Offline longer than what was left: gone at the next connect, and a
    // Session Present 1 would now be a violation.
    let restored = Session::restore(snap, start, Duration::from_secs(7)).unwrap();
    let mut q = Pair::with(V5, restored, ClientConfig::default());
    q.now = start;
    q.connect_with(connect_packet(V5, false));
    assert_eq!(returned(&q.take_events()), Some(vec![op]));
    assert!(q.server(accepted(true)).is_err());
}
