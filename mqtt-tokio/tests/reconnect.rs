//! Reconnect, the retry of temporary refusals, lost sessions and the store,
//! against a scripted broker that speaks raw packets, so that every packet
//! the client sends on each connection can be checked.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mqttkit_session::bytes::BytesMut;
use mqttkit_session::mqttkit_codec::{Decoded, Decoder, Encoder};
use mqttkit_session::{
    ConnAck, Connect, ConnectReasonCode, Packet, PubAck, Publish, SubAck, SubAckReasonCode,
};
use mqttkit_tokio::{
    Client, ConnectOptions, Error, Event, Events, Message, ProtocolVersion, PubAckReasonCode, QoS,
    ReasonCode, Reconnect, Record, Store, StoreError, Stored,
};
use support::{listen, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One connection of the scripted broker.
struct Peer {
    stream: TcpStream,
    decoder: Decoder,
    encoder: Encoder,
    buf: BytesMut,
}

impl Peer {
    /// Accepts a connection, reads CONNECT and answers CONNACK.
    async fn accept(
        listener: &TcpListener,
        session_present: bool,
        reason: ConnectReasonCode,
    ) -> (Self, Connect) {
        let (stream, _) = within(listener.accept()).await.unwrap();
        let mut peer = Self {
            stream,
            decoder: Decoder::new(ProtocolVersion::V5),
            encoder: Encoder::new(ProtocolVersion::V5),
            buf: BytesMut::new(),
        };
        let Some(Packet::Connect(connect)) = peer.next().await else {
            panic!("expected CONNECT");
        };
        peer.send(ConnAck::new(
            session_present && reason == ConnectReasonCode::Success,
            reason,
        ))
        .await;
        (peer, *connect)
    }

    /// The next packet; `None` when the client closed the connection.
    async fn next(&mut self) -> Option<Packet> {
        loop {
            match self.decoder.decode(&mut self.buf).unwrap() {
                Decoded::Packet(packet) => return Some(packet),
                Decoded::Incomplete { .. } => {}
            }
            let mut chunk = [0u8; 4096];
            let n = within(self.stream.read(&mut chunk)).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn publish(&mut self) -> Publish {
        match self.next().await {
            Some(Packet::Publish(publish)) => publish,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    async fn send(&mut self, packet: impl Into<Packet>) {
        let mut out = BytesMut::new();
        self.encoder.encode(&packet.into(), &mut out).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    async fn ack(&mut self, publish: &Publish, reason: PubAckReasonCode) {
        let id = publish.qos.packet_id().unwrap();
        self.send(PubAck::new(id).with_reason(reason)).await;
    }
}

fn options(base: ConnectOptions) -> ConnectOptions {
    base.client_id("reconnecting")
        .session_expiry(Duration::from_secs(3600))
        .reconnect(Reconnect::new(
            Duration::from_millis(10),
            Duration::from_millis(50),
        ))
}

fn message(payload: &str) -> Message {
    Message::new(
        "t/r".try_into().unwrap(),
        payload.to_owned(),
        QoS::AtLeastOnce,
    )
}

async fn next_event(events: &mut Events) -> Event {
    within(events.recv()).await.expect("the client ended")
}

/// v5 [MQTT-4.4.0-1]: on a resumed session the client resends every
/// unacknowledged PUBLISH with its original packet identifier, in the
/// original order ([MQTT-4.6.0-1]), with DUP set ([MQTT-3.3.1-1]); the
/// awaited publishes complete on the new connection.
#[tokio::test]
async fn v5_mqtt_4_4_0_1_reconnect_resends_unacknowledged_publishes_in_order_with_dup() {
    let (listener, base) = listen().await;
    let broker = tokio::spawn(async move {
        let (mut peer, connect) = Peer::accept(&listener, false, ConnectReasonCode::Success).await;
        assert!(connect.clean_start, "the first connection starts clean");
        let mut first = Vec::new();
        for _ in 0..3 {
            first.push(peer.publish().await);
        }
        drop(peer); // the connection breaks before any PUBACK
        let (mut peer, connect) = Peer::accept(&listener, true, ConnectReasonCode::Success).await;
        assert!(
            !connect.clean_start,
            "v5 [MQTT-3.1.2-4]: a reconnect resumes"
        );
        for sent in &first {
            let again = peer.publish().await;
            assert!(again.qos.dup(), "v5 [MQTT-3.3.1-1]: DUP on a resend");
            assert_eq!(again.qos.packet_id(), sent.qos.packet_id());
            assert_eq!(again.payload, sent.payload);
            peer.ack(&again, PubAckReasonCode::Success).await;
        }
        peer
    });
    let (client, mut events) = within(Client::connect(options(base))).await.unwrap();
    let mut deliveries = Vec::new();
    for i in 0..3 {
        deliveries.push(client.submit(message(&i.to_string())).await.unwrap());
    }
    let Event::ConnectionLost { error, .. } = next_event(&mut events).await else {
        panic!("expected ConnectionLost");
    };
    assert!(
        matches!(error, Error::ConnectionClosed | Error::Io(_)),
        "{error}"
    );
    assert!(matches!(
        next_event(&mut events).await,
        Event::Connected {
            session_present: true
        }
    ));
    for delivery in deliveries {
        assert_eq!(within(delivery).await.unwrap(), ReasonCode::Success);
    }
    let _peer = within(broker).await.unwrap();
}

/// A PUBACK with 0x97 Quota exceeded (v5 §3.4.2.1) refuses the message for
/// now: it is sent again after a backoff and the publish completes with
/// the later answer. A refusal for good (0x87 Not authorized) completes
/// the publish with that code and is not retried.
#[tokio::test]
async fn v5_quota_exceeded_is_retried_not_authorized_is_not() {
    let (listener, base) = listen().await;
    let broker = tokio::spawn(async move {
        let (mut peer, _) = Peer::accept(&listener, false, ConnectReasonCode::Success).await;
        let first = peer.publish().await;
        assert_eq!(&first.payload[..], b"quota");
        peer.ack(&first, PubAckReasonCode::QuotaExceeded).await;
        let again = peer.publish().await;
        assert_eq!(
            &again.payload[..],
            b"quota",
            "the refused message comes back"
        );
        peer.ack(&again, PubAckReasonCode::Success).await;
        let denied = peer.publish().await;
        assert_eq!(&denied.payload[..], b"denied");
        peer.ack(&denied, PubAckReasonCode::NotAuthorized).await;
        let next = peer.publish().await;
        assert_eq!(
            &next.payload[..],
            b"next",
            "a message refused for good is not resent"
        );
        peer.ack(&next, PubAckReasonCode::Success).await;
        peer
    });
    let (client, _events) = within(Client::connect(options(base))).await.unwrap();
    let quota = client.publish_message(message("quota"));
    assert_eq!(within(quota).await.unwrap(), ReasonCode::Success);
    let denied = client.publish_message(message("denied"));
    assert_eq!(within(denied).await.unwrap(), ReasonCode::NotAuthorized);
    let next = client.publish_message(message("next"));
    assert_eq!(within(next).await.unwrap(), ReasonCode::Success);
    let _peer = within(broker).await.unwrap();
}

/// The server answered Session Present 0 after a
/// reconnect: it lost the session, so the client makes its subscriptions
/// again, then submits the message it had not completed (a new PUBLISH,
/// DUP 0, v5 [MQTT-4.4.0-1] applies to a resumed session only).
#[tokio::test]
async fn v5_a_lost_session_is_rebuilt_subscriptions_first() {
    let (listener, base) = listen().await;
    let broker = tokio::spawn(async move {
        let (mut peer, _) = Peer::accept(&listener, false, ConnectReasonCode::Success).await;
        let Some(Packet::Subscribe(subscribe)) = peer.next().await else {
            panic!("expected SUBSCRIBE");
        };
        let granted = vec![SubAckReasonCode::GrantedQoS1];
        peer.send(SubAck::new(subscribe.packet_id, granted.clone()))
            .await;
        let first = peer.publish().await;
        drop(peer);
        let (mut peer, _) = Peer::accept(&listener, false, ConnectReasonCode::Success).await;
        let Some(Packet::Subscribe(again)) = peer.next().await else {
            panic!("expected the SUBSCRIBE again first");
        };
        assert_eq!(again.filters, subscribe.filters);
        peer.send(SubAck::new(again.packet_id, granted)).await;
        let resent = peer.publish().await;
        assert_eq!(resent.payload, first.payload);
        assert!(!resent.qos.dup(), "a new session gets a new PUBLISH");
        peer.ack(&resent, PubAckReasonCode::Success).await;
        peer
    });
    let (client, mut events) = within(Client::connect(options(base))).await.unwrap();
    within(client.subscribe("t/#", QoS::AtLeastOnce))
        .await
        .unwrap();
    let delivery = client.submit(message("kept")).await.unwrap();
    assert!(matches!(
        next_event(&mut events).await,
        Event::ConnectionLost { .. }
    ));
    assert!(matches!(
        next_event(&mut events).await,
        Event::Connected {
            session_present: false
        }
    ));
    assert_eq!(within(delivery).await.unwrap(), ReasonCode::Success);
    let _peer = within(broker).await.unwrap();
}

/// A CONNACK that refuses the client for good (0x86 Bad User Name or
/// Password) ends reconnecting: the client reports it once and stops.
/// A temporary one (0x89 Server busy) is tried again.
#[tokio::test]
async fn v5_a_permanent_connack_refusal_ends_reconnecting() {
    let (listener, base) = listen().await;
    let broker = tokio::spawn(async move {
        let (peer, _) = Peer::accept(&listener, false, ConnectReasonCode::Success).await;
        drop(peer);
        let (peer, _) = Peer::accept(&listener, false, ConnectReasonCode::ServerBusy).await;
        drop(peer);
        let refused = ConnectReasonCode::BadUserNameOrPassword;
        let (mut peer, _) = Peer::accept(&listener, false, refused).await;
        assert!(
            peer.next().await.is_none(),
            "the client closes after CONNACK"
        );
        listener
    });
    let (_client, mut events) = within(Client::connect(options(base))).await.unwrap();
    assert!(matches!(
        next_event(&mut events).await,
        Event::ConnectionLost { .. }
    ));
    let Event::ConnectionLost { error, .. } = next_event(&mut events).await else {
        panic!("Server busy is tried again");
    };
    assert!(matches!(&error, Error::Refused(c) if c.reason_code == ConnectReasonCode::ServerBusy));
    let Event::Disconnected(error) = next_event(&mut events).await else {
        panic!("a refusal for good ends the client");
    };
    assert!(
        matches!(&error, Error::Refused(c) if c.reason_code == ConnectReasonCode::BadUserNameOrPassword)
    );
    assert!(within(events.recv()).await.is_none(), "reported once, last");
    let _listener = within(broker).await.unwrap();
}

/// A store kept in memory, shared with the test, that applies records as
/// the reference model does.
#[derive(Clone, Default)]
struct MemoryStore(Arc<Mutex<Stored>>);

impl Store for MemoryStore {
    fn load(&mut self) -> Result<Stored, StoreError> {
        Ok(self.0.lock().unwrap().clone())
    }

    fn append(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let mut state = self.0.lock().unwrap();
        for record in records {
            state.apply(record);
        }
        Ok(())
    }

    fn replace(&mut self, state: &Stored) -> Result<(), StoreError> {
        *self.0.lock().unwrap() = state.clone();
        Ok(())
    }
}

/// Runs `body` on a runtime of its own and then drops the runtime without
/// letting anything finish: the client's task dies as in a killed process,
/// without DISCONNECT, leaving only what it had stored.
fn crash_after<F: std::future::Future<Output = ()> + Send + 'static>(body: F) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(body);
        runtime.shutdown_background();
    })
    .join()
    .unwrap();
}

/// With a store, a restarted client resumes the stored session (Clean
/// Start 0), resends the messages in flight with DUP and their packet
/// identifiers in order (v5 [MQTT-4.4.0-1]), and sends the accepted
/// messages never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_mqtt_4_4_0_1_a_restarted_client_resends_from_its_store() {
    let store = MemoryStore::default();
    let (listener, base) = listen().await;
    let listener = Arc::new(listener);
    // First run: two messages reach the broker unacknowledged, the
    // connection breaks, and a third is accepted while no connection
    // exists; then the process dies.
    let first_run = {
        let (store, base, listener) = (store.clone(), base.clone(), listener.clone());
        async move {
            let broker = tokio::spawn(async move {
                let (mut peer, _) =
                    Peer::accept(&listener, false, ConnectReasonCode::Success).await;
                let a = peer.publish().await;
                let b = peer.publish().await;
                (peer, a, b)
            });
            let options = options(base).store(store);
            let (client, mut events) = within(Client::connect(options)).await.unwrap();
            let _a = client.submit(message("a")).await.unwrap();
            let _b = client.submit(message("b")).await.unwrap();
            let (peer, a, b) = within(broker).await.unwrap();
            drop(peer);
            assert!(matches!(
                next_event(&mut events).await,
                Event::ConnectionLost { .. }
            ));
            // Accepted and stored while the connection is down.
            let _c = client.submit(message("c")).await.unwrap();
            let _ = (a, b);
        }
    };
    crash_after(first_run);
    {
        let stored = store.0.lock().unwrap();
        assert!(stored.established);
        assert_eq!(stored.outbound.len(), 2, "{stored:?}");
        assert_eq!(stored.queued.len(), 1, "{stored:?}");
    }
    let broker = tokio::spawn(async move {
        let (mut peer, connect) = Peer::accept(&listener, true, ConnectReasonCode::Success).await;
        assert!(!connect.clean_start, "the stored session is resumed");
        let mut got = Vec::new();
        for _ in 0..4 {
            let publish = peer.publish().await;
            got.push((
                String::from_utf8(publish.payload.to_vec()).unwrap(),
                publish.qos.dup(),
            ));
            peer.ack(&publish, PubAckReasonCode::Success).await;
        }
        (peer, got)
    });
    let (client, _events) = within(Client::start(options(base).store(store.clone())))
        .await
        .unwrap();
    // Acknowledged after the three: once it completes, so have they.
    let d = client.publish_message(message("d"));
    assert_eq!(within(d).await.unwrap(), ReasonCode::Success);
    let (_peer, got) = within(broker).await.unwrap();
    let expected = [("a", true), ("b", true), ("c", false), ("d", false)];
    let expected: Vec<_> = expected.iter().map(|(p, d)| (p.to_string(), *d)).collect();
    assert_eq!(got, expected);
    // The acknowledgements empty the store.
    within(client.disconnect()).await.unwrap();
    let stored = store.0.lock().unwrap();
    assert!(
        stored.outbound.is_empty() && stored.queued.is_empty(),
        "{stored:?}"
    );
}

/// A store holding more accepted publishes than the session's bound of
/// pending operations keeps all of them through a restart: none is
/// dropped when they are submitted again.
#[tokio::test]
async fn a_restart_keeps_more_stored_publishes_than_the_pending_bound() {
    const STORED: u64 = 1100;
    let store = MemoryStore::default();
    {
        let mut state = store.0.lock().unwrap();
        state.established = true;
        for op in 1..=STORED {
            state.queued.push((op, message(&op.to_string())));
        }
    }
    let (listener, base) = listen().await;
    drop(listener); // nothing listens: the client keeps the messages and waits
    let options = options(base)
        .reconnect(Reconnect::new(
            Duration::from_secs(60),
            Duration::from_secs(60),
        ))
        .store(store.clone());
    let (_client, _events) = within(Client::start(options)).await.unwrap();
    let kept = store.0.lock().unwrap().queued.clone();
    let payloads: Vec<String> = kept
        .iter()
        .map(|(_, m)| String::from_utf8(m.payload.to_vec()).unwrap())
        .collect();
    let expected: Vec<String> = (1..=STORED).map(|op| op.to_string()).collect();
    assert_eq!(payloads, expected, "all kept, in their order");
}

/// v5 [MQTT-3.2.2-4]: a client without session state that is answered
/// Session Present 1 closes the connection; reconnecting, it starts clean
/// instead of resuming the unknown session again.
#[tokio::test]
async fn v5_mqtt_3_2_2_4_session_present_without_state_closes_then_starts_clean() {
    let (listener, base) = listen().await;
    let broker = tokio::spawn(async move {
        let (mut peer, connect) = Peer::accept(&listener, true, ConnectReasonCode::Success).await;
        assert!(!connect.clean_start);
        // The client refuses the session with DISCONNECT, then closes.
        let Some(Packet::Disconnect(_)) = peer.next().await else {
            panic!("expected DISCONNECT");
        };
        assert!(peer.next().await.is_none());
        let (peer, connect) = Peer::accept(&listener, false, ConnectReasonCode::Success).await;
        assert!(connect.clean_start, "the next attempt starts clean");
        peer
    });
    let options = options(base).clean_start(false);
    let (_client, mut events) = within(Client::start(options)).await.unwrap();
    let Event::ConnectionLost { error, .. } = next_event(&mut events).await else {
        panic!("expected ConnectionLost");
    };
    assert!(matches!(error, Error::ProtocolViolation(_)), "{error}");
    assert!(matches!(
        next_event(&mut events).await,
        Event::Connected {
            session_present: false
        }
    ));
    let _peer = within(broker).await.unwrap();
}
