//! The client state machine of `mqttkit-session` driven by arbitrary server
//! packets (well-formed ones built from arbitrary fields, and raw bytes),
//! application commands and time steps. After every step: no panic; the
//! packet identifiers in flight are distinct; while connected, in flight
//! stays within the server's Receive Maximum (v5 [MQTT-3.3.4-7]); every
//! fatal error names a reason code a DISCONNECT may carry; once the time
//! was handled, no deadline lies at or before it.
#![no_main]

use std::collections::BTreeSet;
use std::num::NonZeroU16;
use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mqttkit_codec::mqttkit_topic::{TopicFilter, TopicName};
use mqttkit_codec::{
    ConnAck, Connect, ConnectReasonCode, Disconnect, DisconnectReasonCode, MqttString, Packet,
    PacketId, ProtocolVersion, PubAck, PubAckReasonCode, PubComp, PubRec, PubRel, Publish,
    PublishQoS, QoS, SubAck, SubAckReasonCode, SubscriptionOptions, UnsubAck, UnsubAckReasonCode,
};
use mqttkit_session::{Client, ClientConfig, Event, Instant, Message, ProtocolViolation, Session};

#[derive(Arbitrary, Debug)]
enum FromServer {
    ConnAck {
        present: bool,
        refuse: bool,
        receive_max: u16,
        alias_max: u16,
    },
    PubAck(u8),
    PubRec(u8),
    PubRel(u16),
    PubComp(u8),
    Publish {
        qos: u8,
        id: u16,
        alias: u16,
        empty_topic: bool,
        dup: bool,
    },
    SubAck {
        id: u16,
        code: u8,
        count: u8,
    },
    UnsubAck {
        id: u16,
    },
    PingResp,
    Disconnect(u8),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Connect { v5: bool, clean: bool },
    Server(FromServer),
    Publish { qos: u8, len: u8 },
    Subscribe { qos: u8 },
    Unsubscribe,
    AckMessages,
    Disconnect,
    Advance(u16),
    TransportClosed,
}

fn qos(bits: u8) -> QoS {
    QoS::from_bits(bits % 3).unwrap_or(QoS::AtMostOnce)
}

fn topic() -> TopicName {
    TopicName::from_static("f/t").unwrap()
}

struct World {
    client: Client,
    version: ProtocolVersion,
    now: Instant,
    receive_max: u16,
    tokens: Vec<mqttkit_session::AckToken>,
    out: BytesMut,
}

impl World {
    /// A packet id in flight on the client, chosen by `pick`, so that acks
    /// often answer something.
    fn inflight_id(&self, pick: u8) -> PacketId {
        let ids: Vec<PacketId> = self
            .client
            .session()
            .inflight()
            .map(|f| f.packet_id)
            .collect();
        ids.get(usize::from(pick) % ids.len().max(1))
            .copied()
            .unwrap_or(PacketId::new(u16::from(pick).max(1)).unwrap())
    }

    fn server_packet(&mut self, p: FromServer) -> Option<Vec<u8>> {
        let packet = match p {
            FromServer::Raw(bytes) => return Some(bytes),
            FromServer::ConnAck {
                present,
                refuse,
                receive_max,
                alias_max,
            } => {
                let code = if refuse {
                    ConnectReasonCode::NotAuthorized
                } else {
                    ConnectReasonCode::Success
                };
                let mut ack = ConnAck::new(present && !refuse, code);
                if self.version.is_v5() {
                    ack.properties.receive_maximum = NonZeroU16::new(receive_max);
                    ack.properties.topic_alias_maximum = Some(alias_max % 8);
                }
                if !refuse {
                    self.receive_max = if self.version.is_v5() {
                        NonZeroU16::new(receive_max).map_or(u16::MAX, NonZeroU16::get)
                    } else {
                        u16::MAX
                    };
                }
                Packet::from(ack)
            }
            FromServer::PubAck(pick) => Packet::PubAck(PubAck::new(self.inflight_id(pick))),
            FromServer::PubRec(pick) => Packet::PubRec(PubRec::new(self.inflight_id(pick))),
            FromServer::PubComp(pick) => Packet::PubComp(PubComp::new(self.inflight_id(pick))),
            FromServer::PubRel(id) => Packet::PubRel(PubRel::new(PacketId::new(id.max(1))?)),
            FromServer::Publish {
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
                    publish.properties.topic_alias = NonZeroU16::new(alias % 4);
                    if empty_topic {
                        publish.topic = None;
                    }
                }
                Packet::Publish(publish)
            }
            FromServer::SubAck { id, code, count } => {
                let code = SubAckReasonCode::from_u8(code).unwrap_or(SubAckReasonCode::GrantedQoS1);
                let codes = vec![code; usize::from(count % 3).max(1)];
                Packet::SubAck(SubAck::new(PacketId::new(id.max(1))?, codes))
            }
            FromServer::UnsubAck { id } => Packet::UnsubAck(UnsubAck::new(
                PacketId::new(id.max(1))?,
                vec![UnsubAckReasonCode::Success],
            )),
            FromServer::PingResp => Packet::PingResp,
            FromServer::Disconnect(code) => Packet::Disconnect(Disconnect::new(
                DisconnectReasonCode::from_u8(code)
                    .unwrap_or(DisconnectReasonCode::ServerShuttingDown),
            )),
        };
        let mut wire = Vec::new();
        packet.encode(self.version, &mut wire).ok()?;
        Some(wire)
    }

    fn drain(&mut self) {
        while self.client.poll_persist().is_some() {}
        self.out.clear();
        while self.client.poll_transmit(&mut self.out).is_some() {}
        while let Some(event) = self.client.poll_event() {
            if let Event::Message {
                ack: Some(token), ..
            } = event
            {
                self.tokens.push(token);
            }
        }
    }

    fn check(&self, result: Result<(), ProtocolViolation>) {
        if let Err(violation) = result {
            // Every fatal error is sent as a DISCONNECT reason code.
            assert!(violation.reason.is_error(), "{violation:?}");
            assert!(
                DisconnectReasonCode::from_u8(violation.reason.code()).is_some(),
                "{violation:?} is not a DISCONNECT reason code"
            );
        }
        let ids: Vec<u16> = self
            .client
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
        if self.client.is_connected() && self.version.is_v5() {
            let unreleased = self
                .client
                .session()
                .inflight()
                .filter(|f| !f.released)
                .count();
            assert!(
                unreleased <= usize::from(self.receive_max),
                "{unreleased} in flight over Receive Maximum {}",
                self.receive_max
            );
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let id = MqttString::try_from("fuzz").unwrap();
    let mut w = World {
        client: Client::new(Session::new(id), ClientConfig::default()),
        version: ProtocolVersion::V5,
        now: Instant::ZERO,
        receive_max: u16::MAX,
        tokens: Vec::new(),
        out: BytesMut::new(),
    };
    for op in ops.into_iter().take(128) {
        let mut result = Ok(());
        let advanced = matches!(op, Op::Advance(_));
        match op {
            Op::Connect { v5, clean } => {
                let version = if v5 {
                    ProtocolVersion::V5
                } else {
                    ProtocolVersion::V3_1_1
                };
                let mut connect = Connect::new(version, MqttString::try_from("fuzz").unwrap());
                connect.clean_start = clean;
                connect.keep_alive = 10;
                if w.client.connect(w.now, connect).is_ok() {
                    w.version = version;
                    w.receive_max = u16::MAX;
                }
            }
            Op::Server(p) => {
                if let Some(bytes) = w.server_packet(p) {
                    w.client.handle_bytes(w.now, &bytes);
                    result = w.client.violation().map_or(Ok(()), Err);
                }
            }
            Op::Publish { qos: q, len } => {
                let payload = vec![0u8; usize::from(len)];
                let _ = w
                    .client
                    .publish(w.now, Message::new(topic(), payload, qos(q)));
            }
            Op::Subscribe { qos: q } => {
                let filter = TopicFilter::from_static("f/#").unwrap();
                let options = SubscriptionOptions::new(qos(q));
                let _ = w
                    .client
                    .subscribe(w.now, vec![(filter, options)], Default::default());
            }
            Op::Unsubscribe => {
                let filter = TopicFilter::from_static("f/#").unwrap();
                let _ = w
                    .client
                    .unsubscribe(w.now, vec![filter], Default::default());
            }
            Op::AckMessages => {
                for token in std::mem::take(&mut w.tokens) {
                    let _ = w.client.ack(w.now, token, PubAckReasonCode::Success);
                }
            }
            Op::Disconnect => {
                let _ = w
                    .client
                    .disconnect(w.now, Disconnect::new(DisconnectReasonCode::Success));
            }
            Op::Advance(ms) => {
                w.now = w
                    .now
                    .saturating_add(Duration::from_millis(u64::from(ms) * 10));
                w.client.handle_timeout(w.now);
            }
            Op::TransportClosed => w.client.handle_transport_closed(w.now),
        }
        w.drain();
        w.check(result);
        // Handling the time leaves no deadline at or before it.
        if advanced {
            let after = w.client.poll_timeout();
            assert!(
                after.is_none_or(|d| d > w.now),
                "deadline {after:?} not after {:?}",
                w.now
            );
        }
    }
});
