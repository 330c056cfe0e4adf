//! Model-based property tests of the server role: the crate's client and
//! server joined by a link that is cut at random points, with takeovers
//! (the server learns of the new connection before the old one closed),
//! reconnects of the persistent session, deliveries and publishes of QoS
//! 1 and 2 both ways.
//!
//! Invariants, checked after every step:
//! - neither side ever reports a protocol violation (so the server never
//!   exceeds the client's Receive Maximum: the client answers that with
//!   0x93, and the server never reuses a packet identifier in use);
//! - the server's packet identifiers in use are exactly its in-flight
//!   deliveries, all distinct;
//! - a QoS 2 message reaches the receiving application at most once, in
//!   either direction;
//! - the server's memory stays within its configured bounds: never more in
//!   flight than the client's Receive Maximum, never more queued than
//!   `max_queued` messages and `max_queued_bytes` bytes (small in the model,
//!   so that deliveries are refused and the bounds are reached).
//!
//! And at the end, after a final reconnect and quiescence: no QoS 1/2
//! message is lost across takeover or reconnect of the persistent session
//! (every one reached the other application at least once, QoS 2 exactly
//! once), and nothing is left in flight or queued.
//!
//! Or at the end, the session ends instead: every delivery the client
//! application has not received comes back from `take_undelivered`, and no
//! QoS 2 message the client may have received is among those a broker may
//! give to another subscriber (v5 [MQTT-4.8.2-5]).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU16;

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    Connect, MqttString, ProtocolVersion, PubAckReasonCode, QoS, SubscriptionOptions,
};
use mqttkit_session::TopicName;
use mqttkit_session::{
    Client, ClientConfig, DeliverError, Delivery, Event, Incoming, Instant, Message, Server,
    ServerConfig, ServerEvent, Session,
};
use proptest::prelude::*;

/// The client's Receive Maximum: the server's send quota.
const CLIENT_RM: u16 = 2;
/// The server's queue bounds, small enough to be reached.
const MAX_QUEUED: usize = 6;
/// Each model message counts 7 bytes (topic `m/t`, a 4-byte payload).
const MAX_QUEUED_BYTES: usize = 5 * 7;

#[derive(Debug, Clone)]
enum Op {
    Deliver(bool),
    Publish(bool),
    ToServer,
    ToClient,
    Drop,
    Takeover,
    Reconnect,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<bool>().prop_map(Op::Deliver),
        3 => any::<bool>().prop_map(Op::Publish),
        5 => Just(Op::ToServer),
        5 => Just(Op::ToClient),
        1 => Just(Op::Drop),
        1 => Just(Op::Takeover),
        2 => Just(Op::Reconnect),
    ]
}

struct World {
    version: ProtocolVersion,
    client: Client,
    server: Option<Server>,
    to_server: BytesMut,
    to_client: BytesMut,
    next: u32,
    /// Message number -> QoS 2?, for each direction.
    sent_down: BTreeMap<u32, bool>,
    sent_up: BTreeMap<u32, bool>,
    got_down: BTreeMap<u32, u32>,
    got_up: BTreeMap<u32, u32>,
}

fn payload_number(payload: &Bytes) -> u32 {
    u32::from_be_bytes(payload[..4].try_into().unwrap())
}

impl World {
    fn new(version: ProtocolVersion) -> Self {
        let client = Client::new(
            Session::new(MqttString::try_from("m").unwrap()),
            ClientConfig::default(),
        );
        let mut w = Self {
            version,
            client,
            server: None,
            to_server: BytesMut::new(),
            to_client: BytesMut::new(),
            next: 0,
            sent_down: BTreeMap::new(),
            sent_up: BTreeMap::new(),
            got_down: BTreeMap::new(),
            got_up: BTreeMap::new(),
        };
        w.reconnect();
        // The first CONNACK arrives before anything else happens: until it
        // does the client has no Session State, and a server that kept the
        // session would then answer Session Present 1, which the client must
        // refuse (v5 [MQTT-3.2.2-4]); the model is about sessions that exist
        // on both sides.
        w.apply(Op::ToClient);
        assert!(w.client.is_connected(), "first CONNACK not accepted");
        w
    }

    fn message(&mut self, qos2: bool) -> (u32, Message) {
        self.next += 1;
        let qos = if qos2 {
            QoS::ExactlyOnce
        } else {
            QoS::AtLeastOnce
        };
        let payload = Bytes::copy_from_slice(&self.next.to_be_bytes());
        (
            self.next,
            Message::new(TopicName::try_from("m/t").unwrap(), payload, qos),
        )
    }

    fn now(&self) -> Instant {
        Instant::ZERO
    }

    fn drain_client(&mut self) {
        while self.client.poll_persist().is_some() {}
        while self.client.poll_transmit(&mut self.to_server).is_some() {}
        while let Some(e) = self.client.poll_event() {
            if let Event::Message { publish, ack } = e {
                *self
                    .got_down
                    .entry(payload_number(&publish.payload))
                    .or_default() += 1;
                if let Some(t) = ack {
                    self.client
                        .ack(self.now(), t, PubAckReasonCode::Success)
                        .unwrap();
                }
            }
        }
        while self.client.poll_persist().is_some() {}
        while self.client.poll_transmit(&mut self.to_server).is_some() {}
    }

    fn drain_server(&mut self) {
        let now = self.now();
        let Some(server) = self.server.as_mut() else {
            return;
        };
        while let Some(e) = server.poll_event() {
            if let ServerEvent::Publish { publish, ack } = e {
                *self
                    .got_up
                    .entry(payload_number(&publish.payload))
                    .or_default() += 1;
                if let Some(t) = ack {
                    server.ack(now, t, PubAckReasonCode::Success).unwrap();
                }
            }
        }
        while server.poll_transmit(&mut self.to_client).is_some() {}
    }

    fn reconnect(&mut self) {
        if self.client.is_connected() || self.client.send_quota().is_some() {
            return;
        }
        let mut c = Connect::new(self.version, MqttString::try_from("m").unwrap());
        // Never Clean Start: in 3.1.1 CleanSession 1 ends the session with
        // the connection, and the point is that the session survives.
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(600);
        c.properties.receive_maximum = NonZeroU16::new(CLIENT_RM);
        if self.client.connect(self.now(), c).is_err() {
            return;
        }
        // The old link is gone with whatever was on it.
        self.to_server.clear();
        self.to_client.clear();
        while self.client.poll_persist().is_some() {}
        let mut wire = BytesMut::new();
        while self.client.poll_transmit(&mut wire).is_some() {}
        let incoming = Incoming::read(&mut wire, None).unwrap().unwrap();
        let mut existing = self.server.take();
        if let Some(old) = existing.as_mut() {
            // Takeover: the old connection is closed with 0x8E first.
            old.take_over(self.now());
            let mut discard = BytesMut::new();
            while old.poll_transmit(&mut discard).is_some() {}
            while old.poll_event().is_some() {}
        }
        let config = ServerConfig {
            // A 3.1.1 client announces no Receive Maximum: the window is this.
            inflight_window: CLIENT_RM,
            max_queued: MAX_QUEUED,
            max_queued_bytes: MAX_QUEUED_BYTES,
            manual_ack: true,
            ..ServerConfig::default()
        };
        let mut server = incoming.accept(self.now(), existing, config).unwrap();
        server.handle_bytes(self.now(), &wire);
        self.server = Some(server);
        self.drain_server();
        self.drain_client();
    }

    fn apply(&mut self, op: Op) {
        let now = self.now();
        match op {
            Op::Deliver(qos2) => {
                let (n, m) = self.message(qos2);
                let server = self.server.as_mut().unwrap();
                let d = Delivery::new(m, SubscriptionOptions::new(QoS::ExactlyOnce));
                match server.deliver(now, d) {
                    Ok(_) => {
                        self.sent_down.insert(n, qos2);
                    }
                    // Refused at the bound: the broker keeps it, not the session.
                    Err(DeliverError::QueueFull) => {}
                    Err(other) => panic!("delivery refused: {other:?}"),
                }
                self.drain_server();
            }
            Op::Publish(qos2) => {
                let (n, m) = self.message(qos2);
                self.client.publish(now, m).unwrap();
                self.sent_up.insert(n, qos2);
                self.drain_client();
            }
            Op::ToServer => {
                let bytes = std::mem::take(&mut self.to_server);
                if let Some(server) = self.server.as_mut() {
                    server.handle_bytes(now, &bytes);
                }
                self.drain_server();
            }
            Op::ToClient => {
                let bytes = std::mem::take(&mut self.to_client);
                self.client.handle_bytes(now, &bytes);
                self.drain_client();
            }
            Op::Drop => {
                self.client.handle_transport_closed(now);
                if let Some(server) = self.server.as_mut() {
                    server.handle_transport_closed(now);
                }
                self.to_server.clear();
                self.to_client.clear();
                self.drain_client();
                self.drain_server();
            }
            Op::Takeover => {
                // The client lost the link; the server has not noticed yet.
                self.client.handle_transport_closed(now);
                self.drain_client();
                self.reconnect();
            }
            Op::Reconnect => self.reconnect(),
        }
        self.check();
    }

    fn check(&self) {
        if let Some(server) = &self.server {
            let session = server.session();
            assert!(
                session.inflight().count() <= usize::from(CLIENT_RM),
                "window"
            );
            assert!(session.pending_len() <= MAX_QUEUED, "queue length");
            assert!(session.queued_bytes() <= MAX_QUEUED_BYTES, "queue bytes");
            let ids: BTreeSet<u16> = server
                .session()
                .inflight()
                .map(|f| f.packet_id.get())
                .collect();
            assert_eq!(
                ids.len(),
                server.session().inflight().count(),
                "distinct ids"
            );
            assert_eq!(
                server.session().packet_ids_in_use() as usize,
                ids.len(),
                "no leaked id"
            );
        }
        for (n, count) in &self.got_down {
            if self.sent_down.get(n) == Some(&true) {
                assert!(
                    *count <= 1,
                    "QoS 2 message {n} delivered {count} times to the client"
                );
            }
        }
        for (n, count) in &self.got_up {
            if self.sent_up.get(n) == Some(&true) {
                assert!(
                    *count <= 1,
                    "QoS 2 message {n} delivered {count} times to the server"
                );
            }
        }
    }

    fn quiesce(&mut self) {
        for _ in 0..200 {
            if self.to_server.is_empty() && self.to_client.is_empty() {
                break;
            }
            self.apply(Op::ToServer);
            self.apply(Op::ToClient);
        }
    }

    fn finish(&mut self) {
        self.quiesce();
        if !self.client.is_connected() {
            self.client.handle_transport_closed(self.now());
            self.reconnect();
            self.quiesce();
        }
        for (n, qos2) in &self.sent_down {
            let got = self.got_down.get(n).copied().unwrap_or(0);
            assert!(got >= 1, "delivery {n} lost");
            assert!(!qos2 || got == 1);
        }
        for (n, qos2) in &self.sent_up {
            let got = self.got_up.get(n).copied().unwrap_or(0);
            assert!(got >= 1, "publish {n} lost");
            assert!(!qos2 || got == 1);
        }
        let server = self.server.as_ref().unwrap();
        assert_eq!(server.session().inflight().count(), 0);
        assert_eq!(server.session().pending_len(), 0);
    }
}

impl World {
    fn end_session(&mut self) {
        let now = self.now();
        let server = self.server.as_mut().unwrap();
        server.handle_transport_closed(now);
        let undelivered = server.take_undelivered();
        let number = |m: &Message| payload_number(&m.payload);
        for (_, message) in &undelivered.sent_exactly_once {
            assert_eq!(message.qos, QoS::ExactlyOnce);
        }
        for (_, message) in &undelivered.redistributable {
            let n = number(message);
            if message.qos == QoS::ExactlyOnce {
                assert_eq!(
                    self.got_down.get(&n),
                    None,
                    "QoS 2 message {n} reached the client and is handed back for another subscriber"
                );
            }
        }
        let handed_back: BTreeSet<u32> = undelivered
            .redistributable
            .iter()
            .chain(&undelivered.sent_exactly_once)
            .map(|(_, m)| number(m))
            .collect();
        for n in self.sent_down.keys() {
            if !self.got_down.contains_key(n) {
                assert!(
                    handed_back.contains(n),
                    "delivery {n} neither received nor handed back"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// v5 [MQTT-4.8.2-5]: a session ending at a random point hands back
    /// every message the client did not receive and never offers a QoS 2
    /// message it may have received for redistribution (MQTT 5.0 and 3.1.1).
    #[test]
    fn v5_mqtt_4_8_2_5_session_end_never_redistributes_sent_qos2(
        ops in proptest::collection::vec(op(), 1..100),
        v5 in any::<bool>(),
    ) {
        let version = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V3_1_1 };
        let mut w = World::new(version);
        for op in ops {
            w.apply(op);
        }
        w.end_session();
    }

    /// MQTT 5.0: the invariants above over random interleavings.
    #[test]
    fn server_invariants_v5(ops in proptest::collection::vec(op(), 1..100)) {
        let mut w = World::new(ProtocolVersion::V5);
        for op in ops {
            w.apply(op);
        }
        w.finish();
    }

    /// MQTT 3.1.1: the same.
    #[test]
    fn server_invariants_v3(ops in proptest::collection::vec(op(), 1..100)) {
        let mut w = World::new(ProtocolVersion::V3_1_1);
        for op in ops {
            w.apply(op);
        }
        w.finish();
    }
}
