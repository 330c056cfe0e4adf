//! Model-based property tests: random interleavings of publishes in both
//! directions, broker acks in any order, application acks in any order,
//! duplicates, link drops, reconnects with Session Present 0 and 1, and
//! snapshot/restore, against a model broker that checks, on every packet it
//! receives and after every step, that the client keeps the session's
//! invariants: no packet identifier in use is reused, messages in flight stay
//! within the Receive Maximum, resends come first and in their original order,
//! no topic alias outlives its connection, each QoS 2 message is delivered
//! exactly once, no deadline lies in the past, and no operation is dropped
//! silently.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU16;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    ConnAck, Connect, ConnectReasonCode, Decoded, Decoder, Encoder, MqttString, Packet, PacketId,
    ProtocolVersion, PubAck, PubAckReasonCode, PubComp, PubRec, PubRel, Publish, PublishQoS, QoS,
};
use mqttkit_session::{AckToken, Client, ClientConfig, Event, Instant, Message, OpId, Session};
use mqttkit_topic::TopicName;
use proptest::prelude::*;

#[path = "harness/mod.rs"]
mod harness;

const OUR_RM: u16 = 3;
/// 5.0 Session Expiry Interval: shorter than the longest `Advance`, so the
/// session sometimes expires while the link is down.
const EXPIRY_SECS: u32 = 6;

#[derive(Debug, Clone)]
enum Op {
    Publish(u8, u8),
    BrokerAck(usize, bool),
    BrokerPublish(u8),
    BrokerDup(usize),
    BrokerRel(usize),
    AppAck(usize),
    Drop,
    Reconnect(bool, u16),
    Restore,
    RestartFromRecords,
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..3, 0u8..3).prop_map(|(q, t)| Op::Publish(q, t)),
        6 => (any::<usize>(), proptest::bool::weighted(0.1)).prop_map(|(i, e)| Op::BrokerAck(i, e)),
        4 => (0u8..3).prop_map(Op::BrokerPublish),
        1 => any::<usize>().prop_map(Op::BrokerDup),
        3 => any::<usize>().prop_map(Op::BrokerRel),
        5 => any::<usize>().prop_map(Op::AppAck),
        1 => Just(Op::Drop),
        2 => (proptest::bool::weighted(0.8), 1u16..5).prop_map(|(p, rm)| Op::Reconnect(p, rm)),
        1 => Just(Op::Restore),
        1 => Just(Op::RestartFromRecords),
        1 => (0u16..8000).prop_map(Op::Advance),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutStage {
    Unacked,
    AwaitRel,
    Released,
}

#[derive(Debug, Clone)]
struct OutEntry {
    id: u16,
    qos: QoS,
    stage: OutStage,
    on_wire: bool,
    /// Order of first receipt.
    seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InStage {
    Sent,
    RecReceived,
    RelSent,
}

#[derive(Debug, Clone)]
struct InFlow {
    id: u16,
    qos: QoS,
    msg: u32,
    stage: InStage,
    /// Its PUBLISH went out on this connection: it counts against our
    /// Receive Maximum until PUBACK or PUBCOMP.
    counted: bool,
}

struct World {
    version: ProtocolVersion,
    store: harness::Store,
    client: Client,
    now: Instant,
    connected: bool,
    decoder: Decoder,
    encoder: Encoder,
    wire: BytesMut,
    rm: u16,
    // Broker session state.
    out: Vec<OutEntry>,
    aliases: BTreeMap<u16, Bytes>,
    resend_pos: Option<u64>,
    next_seq: u64,
    in_flows: Vec<InFlow>,
    next_in_id: u16,
    next_msg: u32,
    // Application side.
    tokens: Vec<(AckToken, u32)>,
    delivered: BTreeMap<u32, u32>,
    completed_qos2: BTreeSet<u32>,
    submitted: BTreeSet<OpId>,
    finished: BTreeSet<OpId>,
}

fn topic(t: u8) -> TopicName {
    TopicName::try_from(format!("t/{t}")).unwrap()
}

impl World {
    fn new(version: ProtocolVersion) -> Self {
        Self {
            version,
            store: harness::Store::default(),
            client: Client::new(
                Session::new(MqttString::try_from("m").unwrap()),
                ClientConfig {
                    persistence: true,
                    manual_ack: true,
                    ..ClientConfig::default()
                },
            ),
            now: Instant::from_millis(0),
            connected: false,
            decoder: Decoder::new(version),
            encoder: Encoder::new(version),
            wire: BytesMut::new(),
            rm: 0,
            out: Vec::new(),
            aliases: BTreeMap::new(),
            resend_pos: None,
            next_seq: 0,
            in_flows: Vec::new(),
            next_in_id: 1,
            next_msg: 0,
            tokens: Vec::new(),
            delivered: BTreeMap::new(),
            completed_qos2: BTreeSet::new(),
            submitted: BTreeSet::new(),
            finished: BTreeSet::new(),
        }
    }

    fn send_to_client(&mut self, packet: Packet) {
        let mut buf = BytesMut::new();
        self.encoder.encode(&packet, &mut buf).unwrap();
        self.client.handle_bytes(self.now, &buf);
        assert_eq!(self.client.violation(), None, "no violation in the model");
    }

    /// Drains the client and lets the broker react until quiet.
    fn run(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(op) = self.client.poll_persist() {
                self.store.apply(op);
                progressed = true;
            }
            let mut buf = BytesMut::new();
            if self.client.poll_transmit(&mut buf).is_some() && self.connected {
                progressed = true;
                self.wire.extend_from_slice(&buf);
                while let Decoded::Packet(p) = self.decoder.decode(&mut self.wire).unwrap() {
                    self.broker_receive(p);
                }
            }
            while let Some(e) = self.client.poll_event() {
                progressed = true;
                self.app_event(e);
            }
            if !progressed {
                break;
            }
        }
        // Invariant: no deadline in the past without work due.
        for _ in 0..4 {
            match self.client.poll_timeout() {
                Some(t) if t <= self.now => {
                    self.client.handle_timeout(self.now);
                    self.run_outputs_once();
                }
                _ => break,
            }
        }
        if let Some(t) = self.client.poll_timeout() {
            assert!(t > self.now, "deadline {t:?} in the past at {:?}", self.now);
        }
    }

    fn run_outputs_once(&mut self) {
        while let Some(op) = self.client.poll_persist() {
            self.store.apply(op);
        }
        let mut buf = BytesMut::new();
        if self.client.poll_transmit(&mut buf).is_some() && self.connected {
            self.wire.extend_from_slice(&buf);
            while let Decoded::Packet(p) = self.decoder.decode(&mut self.wire).unwrap() {
                self.broker_receive(p);
            }
        }
        while let Some(e) = self.client.poll_event() {
            self.app_event(e);
        }
    }

    fn app_event(&mut self, e: Event) {
        match e {
            Event::Message { publish, ack } => {
                let msg: u32 = std::str::from_utf8(&publish.payload)
                    .unwrap()
                    .parse()
                    .unwrap();
                if publish.qos.qos() == QoS::ExactlyOnce {
                    let n = self.delivered.entry(msg).or_default();
                    *n += 1;
                    // Invariant: each inbound QoS 2 message is delivered once.
                    assert_eq!(*n, 1, "QoS 2 message {msg} delivered twice");
                }
                if let Some(t) = ack {
                    self.tokens.push((t, msg));
                }
            }
            Event::Published { op, .. }
            | Event::Returned { op, .. }
            | Event::OpFailed { op, .. } => {
                assert!(self.finished.insert(op), "{op:?} finished twice");
            }
            Event::Closed(_) => {
                self.connected = false;
            }
            Event::SessionLost => {
                // Expired (the broker's copy expires by the same interval)
                // or not resumed: the broker keeps no flows either.
                self.out.clear();
                self.in_flows.clear();
            }
            _ => {}
        }
    }

    fn on_wire(&self) -> usize {
        self.out.iter().filter(|e| e.on_wire).count()
    }

    fn check_resend_order(&mut self, pos: usize) {
        // Invariant: resend order equals original order.
        let pos = self.out[pos].seq;
        if let Some(last) = self.resend_pos {
            assert!(pos > last, "resend out of original order");
        }
        self.resend_pos = Some(pos);
    }

    fn broker_receive(&mut self, p: Packet) {
        match p {
            Packet::Publish(p) => {
                // Invariant: no alias survives a connection; every alias-only
                // PUBLISH was mapped on this connection.
                let topic = match (&p.topic, p.properties.topic_alias) {
                    (Some(t), Some(a)) => {
                        self.aliases.insert(a.get(), t.clone().into_bytes());
                        t.clone().into_bytes()
                    }
                    (Some(t), None) => t.clone().into_bytes(),
                    (None, Some(a)) => self
                        .aliases
                        .get(&a.get())
                        .cloned()
                        .expect("alias from another connection"),
                    (None, None) => panic!("no topic"),
                };
                assert!(!topic.is_empty());
                let Some(id) = p.qos.packet_id() else { return };
                let id = id.get();
                if p.qos.dup() {
                    let pos = self
                        .out
                        .iter()
                        .position(|e| e.id == id)
                        .expect("DUP for unknown id");
                    assert_eq!(
                        self.out[pos].stage,
                        OutStage::Unacked,
                        "PUBLISH resent after PUBREC"
                    );
                    assert!(!self.out[pos].on_wire, "in-session resend");
                    self.check_resend_order(pos);
                    self.out[pos].on_wire = true;
                } else {
                    // Invariant: no id in use is reused.
                    assert!(
                        self.out.iter().all(|e| e.id != id),
                        "id {id} reused while in use"
                    );
                    // Resends come before new messages.
                    assert!(
                        self.out.iter().all(|e| e.on_wire),
                        "new message before resends finished"
                    );
                    self.next_seq += 1;
                    self.out.push(OutEntry {
                        id,
                        qos: p.qos.qos(),
                        stage: OutStage::Unacked,
                        on_wire: true,
                        seq: self.next_seq,
                    });
                }
                // Invariant: in-flight never exceeds the send quota.
                assert!(
                    self.on_wire() <= usize::from(self.rm),
                    "in-flight {} > quota {}",
                    self.on_wire(),
                    self.rm
                );
            }
            Packet::PubRel(r) => {
                let id = r.packet_id.get();
                let pos = self
                    .out
                    .iter()
                    .position(|e| e.id == id)
                    .expect("PUBREL for unknown id");
                let e = &mut self.out[pos];
                assert_ne!(e.stage, OutStage::Unacked);
                if !e.on_wire {
                    e.on_wire = true;
                    self.check_resend_order(pos);
                    assert!(self.on_wire() <= usize::from(self.rm));
                }
                self.out[pos].stage = OutStage::Released;
            }
            Packet::PubAck(a) => {
                let id = a.packet_id.get();
                let pos = self
                    .in_flows
                    .iter()
                    .position(|f| f.id == id && f.qos == QoS::AtLeastOnce)
                    .expect("PUBACK");
                self.in_flows.remove(pos);
            }
            Packet::PubRec(r) => {
                let id = r.packet_id.get();
                let f = self
                    .in_flows
                    .iter_mut()
                    .find(|f| f.id == id && f.qos == QoS::ExactlyOnce)
                    .expect("PUBREC");
                if f.stage == InStage::Sent {
                    f.stage = InStage::RecReceived;
                }
            }
            Packet::PubComp(c) => {
                let id = c.packet_id.get();
                let pos = self
                    .in_flows
                    .iter()
                    .position(|f| f.id == id && f.stage == InStage::RelSent)
                    .expect("PUBCOMP");
                let f = self.in_flows.remove(pos);
                // Exactly once: the completed message was delivered.
                assert_eq!(self.delivered.get(&f.msg), Some(&1));
                self.completed_qos2.insert(f.msg);
            }
            Packet::PingReq => self.send_to_client(Packet::PingResp),
            Packet::Connect(_) | Packet::Disconnect(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    fn drop_link(&mut self) {
        self.client.handle_transport_closed(self.now);
        self.connected = false;
        self.wire.clear();
        for e in &mut self.out {
            e.on_wire = false;
        }
        self.run();
    }

    fn reconnect(&mut self, present: bool, rm: u16) {
        if self.connected {
            self.drop_link();
        }
        let mut c = Connect::new(self.version, MqttString::try_from("m").unwrap());
        c.clean_start = false;
        c.keep_alive = 5;
        c.properties.receive_maximum = NonZeroU16::new(OUR_RM);
        c.properties.topic_alias_maximum = Some(2);
        if self.version.is_v5() {
            c.properties.session_expiry_interval = Some(EXPIRY_SECS);
        }
        self.decoder = Decoder::new(self.version);
        self.wire.clear();
        self.aliases.clear();
        self.resend_pos = None;
        self.client.connect(self.now, c).unwrap();
        self.connected = true;
        self.run();
        // The broker has a session exactly when the client has Session
        // State (both expire by the same interval): Session Present 1 to a
        // client without it would be a violation (v5 [MQTT-3.2.2-4]).
        let present = present && self.client.session().is_established();
        if !present {
            self.out.clear();
            self.in_flows.clear();
        }
        for f in &mut self.in_flows {
            f.counted = false;
        }
        // 3.1.1 has no Receive Maximum: the quota is unlimited.
        self.rm = if self.version.is_v5() { rm } else { u16::MAX };
        let mut ack = ConnAck::new(present, ConnectReasonCode::Success);
        ack.properties.receive_maximum = NonZeroU16::new(rm);
        ack.properties.topic_alias_maximum = Some(2);
        self.send_to_client(Packet::from(ack));
        self.run();
        // The broker resumes its own flows (v5 [MQTT-4.4.0-1]).
        let ids: Vec<(u16, QoS)> = self.in_flows.iter().map(|f| (f.id, f.qos)).collect();
        for (id, qos) in ids {
            let Some(f) = self
                .in_flows
                .iter_mut()
                .find(|f| f.id == id && f.qos == qos)
            else {
                continue;
            };
            let packet = match f.stage {
                InStage::Sent => {
                    f.counted = true;
                    Packet::Publish(in_publish(f.id, f.qos, f.msg, true))
                }
                _ => {
                    f.stage = InStage::RelSent;
                    Packet::PubRel(PubRel::new(PacketId::new(f.id).unwrap()))
                }
            };
            if self.connected {
                self.send_to_client(packet);
                self.run();
            }
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Publish(q, t) => {
                let qos = QoS::from_bits(q).unwrap();
                let m = Message::new(topic(t), &b"p"[..], qos);
                let id = self.client.publish(self.now, m).unwrap();
                self.submitted.insert(id);
            }
            Op::BrokerAck(i, err) if self.connected => {
                let candidates: Vec<usize> = (0..self.out.len())
                    .filter(|&k| self.out[k].on_wire && self.out[k].stage != OutStage::AwaitRel)
                    .collect();
                if candidates.is_empty() {
                    return;
                }
                let k = candidates[i % candidates.len()];
                let e = self.out[k].clone();
                let pid = PacketId::new(e.id).unwrap();
                let packet = match (e.qos, e.stage) {
                    (QoS::AtLeastOnce, _) => {
                        self.out.remove(k);
                        Packet::PubAck(PubAck::new(pid))
                    }
                    (_, OutStage::Unacked) if err && self.version.is_v5() => {
                        self.out.remove(k);
                        Packet::PubRec(
                            PubRec::new(pid).with_reason(PubAckReasonCode::QuotaExceeded),
                        )
                    }
                    (_, OutStage::Unacked) => {
                        self.out[k].stage = OutStage::AwaitRel;
                        Packet::PubRec(PubRec::new(pid))
                    }
                    _ => {
                        self.out.remove(k);
                        Packet::PubComp(PubComp::new(pid))
                    }
                };
                self.send_to_client(packet);
            }
            Op::BrokerPublish(q) if self.connected => {
                let qos = QoS::from_bits(q).unwrap();
                let msg = self.next_msg;
                self.next_msg += 1;
                if qos == QoS::AtMostOnce {
                    self.send_to_client(Packet::Publish(in_publish(1, qos, msg, false)));
                    return;
                }
                let unacked = self.in_flows.iter().filter(|f| f.counted).count();
                if unacked >= usize::from(OUR_RM) {
                    return;
                }
                let id = loop {
                    let id = self.next_in_id;
                    self.next_in_id = self.next_in_id % 50 + 1;
                    if self.in_flows.iter().all(|f| f.id != id) {
                        break id;
                    }
                };
                self.in_flows.push(InFlow {
                    id,
                    qos,
                    msg,
                    stage: InStage::Sent,
                    counted: true,
                });
                self.send_to_client(Packet::Publish(in_publish(id, qos, msg, false)));
            }
            Op::BrokerDup(i) if self.connected => {
                let qos2: Vec<InFlow> = self
                    .in_flows
                    .iter()
                    .filter(|f| f.qos == QoS::ExactlyOnce && f.stage == InStage::Sent)
                    .cloned()
                    .collect();
                if let Some(f) = qos2.get(i % qos2.len().max(1)) {
                    self.send_to_client(Packet::Publish(in_publish(f.id, f.qos, f.msg, true)));
                }
            }
            Op::BrokerRel(i) if self.connected => {
                let ready: Vec<usize> = (0..self.in_flows.len())
                    .filter(|&k| self.in_flows[k].stage == InStage::RecReceived)
                    .collect();
                if let Some(&k) = ready.get(i % ready.len().max(1)) {
                    self.in_flows[k].stage = InStage::RelSent;
                    let id = PacketId::new(self.in_flows[k].id).unwrap();
                    self.send_to_client(Packet::PubRel(PubRel::new(id)));
                }
            }
            Op::AppAck(i) => {
                if self.tokens.is_empty() {
                    return;
                }
                let (t, _) = self.tokens.remove(i % self.tokens.len());
                // Stale QoS 1 tokens are accepted and dropped; QoS 2 ones may
                // be unknown after the session was lost.
                let _ = self.client.ack(self.now, t, PubAckReasonCode::Success);
            }
            Op::Drop if self.connected => self.drop_link(),
            Op::Reconnect(present, rm) => self.reconnect(present, rm),
            Op::Restore if !self.connected => {
                let old = std::mem::replace(
                    &mut self.client,
                    Client::new(
                        Session::new(MqttString::default()),
                        ClientConfig {
                            persistence: true,
                            manual_ack: true,
                            ..ClientConfig::default()
                        },
                    ),
                );
                let snapshot = old.into_session().snapshot(self.now).unwrap();
                self.client = Client::new(
                    Session::restore(snapshot, self.now, Duration::ZERO).unwrap(),
                    ClientConfig {
                        persistence: true,
                        manual_ack: true,
                        ..ClientConfig::default()
                    },
                );
            }
            Op::RestartFromRecords if !self.connected => {
                // The write-ahead records alone rebuild the session state
                // (queued operations are not in them, so only when none wait).
                let live: Vec<_> = self.client.session().inflight().collect();
                let rebuilt = self.store.session("m");
                let from_records: Vec<_> = rebuilt.inflight().collect();
                assert_eq!(from_records, live, "records disagree with the session");
                assert_eq!(
                    rebuilt.inbound_qos2_len(),
                    self.client.session().inbound_qos2_len()
                );
                if self.client.session().pending_len() == 0 {
                    self.client = Client::new(
                        rebuilt,
                        ClientConfig {
                            persistence: true,
                            manual_ack: true,
                            ..ClientConfig::default()
                        },
                    );
                    // A restarted process keeps no QoS 1 tokens; QoS 2 ones
                    // stand for messages the application stored.
                    self.tokens.retain(|(t, _)| t.qos() == QoS::ExactlyOnce);
                    // Operation ids restart after the highest one in flight.
                    let live: BTreeSet<OpId> = live.iter().map(|i| i.op).collect();
                    self.submitted.retain(|op| live.contains(op));
                    self.finished.clear();
                }
            }
            Op::Advance(ms) => {
                let end = Instant::from_millis(self.now.as_millis() + u64::from(ms));
                while let Some(t) = self.client.poll_timeout().filter(|t| *t <= end) {
                    self.now = t;
                    self.client.handle_timeout(t);
                    self.run();
                }
                self.now = end;
            }
            _ => {}
        }
        self.run();
    }

    fn check_end(&self) {
        // Never dropped silently: every operation completed, was handed
        // back or failed, or is still in the session.
        let live: BTreeSet<OpId> = self.client.session().inflight().map(|i| i.op).collect();
        for op in &self.submitted {
            assert!(
                self.finished.contains(op)
                    || live.contains(op)
                    || self.client.session().pending_len() > 0,
                "{op:?} vanished"
            );
        }
        let ids: BTreeSet<u16> = self
            .client
            .session()
            .inflight()
            .map(|i| i.packet_id.get())
            .collect();
        assert_eq!(
            ids.len(),
            self.client.session().inflight().count(),
            "duplicate id in flight"
        );
    }
}

fn in_publish(id: u16, qos: QoS, msg: u32, dup: bool) -> Publish {
    let mut p = Publish::new(
        TopicName::from_static("in").unwrap(),
        Bytes::from(msg.to_string()),
    )
    .with_qos(PublishQoS::new(qos, PacketId::new(id).unwrap()));
    if dup {
        p.qos = p.qos.redelivery();
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The session's invariants hold over random interleavings (MQTT 5.0).
    #[test]
    fn invariants_hold_v5(ops in proptest::collection::vec(op(), 1..120)) {
        let mut w = World::new(ProtocolVersion::V5);
        w.reconnect(false, 3);
        for op in ops {
            w.apply(op);
        }
        w.check_end();
    }

    /// The same over MQTT 3.1.1 (no Receive Maximum, no aliases).
    #[test]
    fn invariants_hold_v3_1_1(ops in proptest::collection::vec(op(), 1..120)) {
        let mut w = World::new(ProtocolVersion::V3_1_1);
        w.reconnect(false, 3);
        for op in ops {
            w.apply(op);
        }
        w.check_end();
    }
}
