//! The server state machine of `mqttkit-session` driven by arbitrary client
//! packets (well-formed ones built from arbitrary fields, and raw bytes),
//! deliveries, answers to its events, reconnects that take the session over,
//! and time steps. After every step: no panic; packet identifiers in flight
//! are distinct and none leaks; while connected in 5.0, in flight stays
//! within the client's Receive Maximum (v5 [MQTT-3.3.4-9]); every fatal
//! error names a reason code a DISCONNECT may carry; once the time was
//! handled, no deadline lies at or before it.
#![no_main]

use std::collections::BTreeSet;
use std::num::NonZeroU16;
use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mqttkit_codec::mqttkit_topic::{TopicFilter, TopicName};
use mqttkit_codec::{
    Connect, Disconnect, DisconnectReasonCode, MqttString, Packet, PacketId, ProtocolVersion,
    PubAck, PubAckReasonCode, PubComp, PubRec, PubRel, Publish, PublishQoS, QoS, SubAckReasonCode,
    Subscribe, SubscriptionOptions, UnsubAckReasonCode, Unsubscribe,
};
use mqttkit_session::{
    AckToken, Delivery, Incoming, Instant, Message, ProtocolViolation, Server, ServerConfig,
    ServerEvent,
};

#[derive(Arbitrary, Debug)]
enum FromClient {
    Publish {
        qos: u8,
        id: u16,
        alias: u16,
        empty_topic: bool,
        dup: bool,
    },
    PubAck(u8),
    PubRec(u8),
    PubRel(u16),
    PubComp(u8),
    Subscribe {
        id: u16,
        qos: u8,
        shared: bool,
        no_local: bool,
    },
    Unsubscribe {
        id: u16,
    },
    PingReq,
    Disconnect(u8),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Client(FromClient),
    Deliver { qos: u8, len: u8 },
    Answer { refuse: bool },
    Reconnect { clean: bool },
    Advance(u16),
    TransportClosed,
}

#[derive(Arbitrary, Debug)]
struct Input {
    v5: bool,
    receive_max: u16,
    alias_max: u16,
    keep_alive: u8,
    ops: Vec<Op>,
}

fn qos(bits: u8) -> QoS {
    QoS::from_bits(bits % 3).unwrap_or(QoS::AtMostOnce)
}

fn topic() -> TopicName {
    TopicName::from_static("f/t").unwrap()
}

struct World {
    server: Option<Server>,
    version: ProtocolVersion,
    receive_max: u16,
    alias_max: u16,
    keep_alive: u16,
    now: Instant,
    tokens: Vec<AckToken>,
    subscribes: Vec<(PacketId, usize)>,
    unsubscribes: Vec<(PacketId, usize)>,
    out: BytesMut,
}

impl World {
    fn connect_frame(&self, clean: bool) -> BytesMut {
        let mut connect = Connect::new(self.version, MqttString::try_from("fuzz").unwrap());
        connect.clean_start = clean;
        connect.keep_alive = self.keep_alive;
        if self.version.is_v5() {
            connect.properties.receive_maximum = NonZeroU16::new(self.receive_max);
            connect.properties.topic_alias_maximum = Some(self.alias_max % 8);
            connect.properties.session_expiry_interval = Some(60);
        }
        let mut wire = BytesMut::new();
        Packet::Connect(Box::new(connect))
            .encode(self.version, &mut wire)
            .unwrap();
        wire
    }

    fn reconnect(&mut self, clean: bool) {
        let mut existing = self.server.take();
        if let Some(old) = existing.as_mut() {
            old.take_over(self.now);
            let mut discard = BytesMut::new();
            while old.poll_transmit(&mut discard).is_some() {}
            while old.poll_event().is_some() {}
        }
        let mut wire = self.connect_frame(clean);
        let incoming = Incoming::read(&mut wire, None).unwrap().unwrap();
        let config = ServerConfig {
            topic_alias_maximum: 4,
            max_outbound_aliases: 4,
            ..ServerConfig::default()
        };
        self.server = incoming.accept(self.now, existing, config).ok();
        self.tokens.clear();
        self.subscribes.clear();
        self.unsubscribes.clear();
    }

    fn inflight_id(&self, pick: u8) -> PacketId {
        let ids: Vec<PacketId> = self
            .server
            .iter()
            .flat_map(|s| s.session().inflight().map(|f| f.packet_id))
            .collect();
        ids.get(usize::from(pick) % ids.len().max(1))
            .copied()
            .unwrap_or(PacketId::new(u16::from(pick).max(1)).unwrap())
    }

    fn client_packet(&self, p: FromClient) -> Option<Vec<u8>> {
        let packet = match p {
            FromClient::Raw(bytes) => return Some(bytes),
            FromClient::Publish {
                qos: q,
                id,
                alias,
                empty_topic,
                dup,
            } => {
                let q = match qos(q) {
                    QoS::AtMostOnce => PublishQoS::AtMostOnce,
                    q => {
                        let p = PublishQoS::new(q, PacketId::new(id.max(1))?);
                        if dup { p.redelivery() } else { p }
                    }
                };
                let mut publish = Publish::new(topic(), Bytes::from_static(b"m")).with_qos(q);
                if self.version.is_v5() {
                    publish.properties.topic_alias = NonZeroU16::new(alias % 6);
                    if empty_topic {
                        publish.topic = None;
                    }
                }
                Packet::Publish(publish)
            }
            FromClient::PubAck(pick) => Packet::PubAck(PubAck::new(self.inflight_id(pick))),
            FromClient::PubRec(pick) => Packet::PubRec(PubRec::new(self.inflight_id(pick))),
            FromClient::PubComp(pick) => Packet::PubComp(PubComp::new(self.inflight_id(pick))),
            FromClient::PubRel(id) => Packet::PubRel(PubRel::new(PacketId::new(id.max(1))?)),
            FromClient::Subscribe {
                id,
                qos: q,
                shared,
                no_local,
            } => {
                let filter = if shared && self.version.is_v5() {
                    "$share/g/f/#"
                } else {
                    "f/#"
                };
                let mut options = SubscriptionOptions::new(qos(q));
                options.no_local = no_local && self.version.is_v5();
                Packet::Subscribe(Subscribe::new(
                    PacketId::new(id.max(1))?,
                    TopicFilter::try_from(filter).ok()?,
                    options,
                ))
            }
            FromClient::Unsubscribe { id } => Packet::Unsubscribe(Unsubscribe::new(
                PacketId::new(id.max(1))?,
                TopicFilter::from_static("f/#").unwrap(),
            )),
            FromClient::PingReq => Packet::PingReq,
            FromClient::Disconnect(code) => Packet::Disconnect(Disconnect::new(
                DisconnectReasonCode::from_u8(code).unwrap_or(DisconnectReasonCode::Success),
            )),
        };
        let mut wire = Vec::new();
        packet.encode(self.version, &mut wire).ok()?;
        Some(wire)
    }

    fn drain(&mut self) {
        let Some(server) = self.server.as_mut() else {
            return;
        };
        self.out.clear();
        while server.poll_transmit(&mut self.out).is_some() {}
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::Publish {
                    ack: Some(token), ..
                } => self.tokens.push(token),
                ServerEvent::Subscribe {
                    packet_id,
                    requests,
                    ..
                } => {
                    self.subscribes.push((packet_id, requests.len()));
                }
                ServerEvent::Unsubscribe { packet_id, filters } => {
                    self.unsubscribes.push((packet_id, filters.len()));
                }
                _ => {}
            }
        }
    }

    fn check(&self, result: Result<(), ProtocolViolation>) {
        if let Err(violation) = result {
            assert!(violation.reason.is_error(), "{violation:?}");
            assert!(
                DisconnectReasonCode::from_u8(violation.reason.code()).is_some(),
                "{violation:?} is not a DISCONNECT reason code"
            );
        }
        let Some(server) = &self.server else { return };
        let ids: Vec<u16> = server
            .session()
            .inflight()
            .map(|f| f.packet_id.get())
            .collect();
        let distinct: BTreeSet<u16> = ids.iter().copied().collect();
        assert_eq!(
            ids.len(),
            distinct.len(),
            "packet id reused in flight: {ids:?}"
        );
        assert_eq!(
            server.session().packet_ids_in_use() as usize,
            ids.len(),
            "leaked packet id"
        );
        if server.is_connected() && self.version.is_v5() {
            let limit = NonZeroU16::new(self.receive_max).map_or(u16::MAX, NonZeroU16::get);
            let unreleased = server.session().inflight().filter(|f| !f.released).count();
            assert!(
                unreleased <= usize::from(limit),
                "{unreleased} in flight over {limit}"
            );
        }
    }
}

fuzz_target!(|input: Input| {
    let mut w = World {
        server: None,
        version: if input.v5 {
            ProtocolVersion::V5
        } else {
            ProtocolVersion::V3_1_1
        },
        receive_max: input.receive_max,
        alias_max: input.alias_max,
        keep_alive: u16::from(input.keep_alive % 30),
        now: Instant::ZERO,
        tokens: Vec::new(),
        subscribes: Vec::new(),
        unsubscribes: Vec::new(),
        out: BytesMut::new(),
    };
    w.reconnect(false);
    w.drain();
    for op in input.ops.into_iter().take(128) {
        let mut result = Ok(());
        let mut advanced = false;
        match op {
            Op::Client(p) => {
                if let (Some(bytes), Some(server)) = (w.client_packet(p), w.server.as_mut()) {
                    server.handle_bytes(w.now, &bytes);
                    result = server.violation().map_or(Ok(()), Err);
                }
            }
            Op::Deliver { qos: q, len } => {
                if let Some(server) = w.server.as_mut() {
                    let message = Message::new(topic(), vec![1u8; usize::from(len)], qos(q));
                    let options = SubscriptionOptions::new(QoS::ExactlyOnce);
                    let _ = server.deliver(w.now, Delivery::new(message, options));
                }
            }
            Op::Answer { refuse } => {
                if let Some(server) = w.server.as_mut() {
                    for token in std::mem::take(&mut w.tokens) {
                        let code = if refuse {
                            PubAckReasonCode::NotAuthorized
                        } else {
                            PubAckReasonCode::Success
                        };
                        let _ = server.ack(w.now, token, code);
                    }
                    for (id, n) in std::mem::take(&mut w.subscribes) {
                        let code = if refuse {
                            SubAckReasonCode::NotAuthorized
                        } else {
                            SubAckReasonCode::GrantedQoS1
                        };
                        let _ = server.suback(id, vec![code; n]);
                    }
                    for (id, n) in std::mem::take(&mut w.unsubscribes) {
                        let _ = server.unsuback(id, vec![UnsubAckReasonCode::Success; n]);
                    }
                }
            }
            Op::Reconnect { clean } => w.reconnect(clean),
            Op::Advance(ms) => {
                w.now = w
                    .now
                    .saturating_add(Duration::from_millis(u64::from(ms) * 10));
                if let Some(server) = w.server.as_mut() {
                    server.handle_timeout(w.now);
                }
                advanced = true;
            }
            Op::TransportClosed => {
                if let Some(server) = w.server.as_mut() {
                    server.handle_transport_closed(w.now);
                }
            }
        }
        w.drain();
        w.check(result);
        if advanced && let Some(server) = w.server.as_ref() {
            let after = server.poll_timeout();
            assert!(
                after.is_none_or(|d| d > w.now),
                "deadline {after:?} not after {:?}",
                w.now
            );
        }
    }
});
