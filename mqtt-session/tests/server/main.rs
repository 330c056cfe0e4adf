//! Conformance tests of the server role, one per session-level normative
//! statement that applies to a server; each doc line cites the statement
//! with its version. A fake client made of `mqttkit-codec` drives a
//! [`Server`] with a hand-advanced clock; `pair.rs` joins the crate's own
//! client and server.
#![allow(
    missing_docs,
    missing_debug_implementations,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod accept;
mod connection;
mod delivery;
mod interop;
mod pair;
mod rules;
mod statements;
mod takeover;

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    Connect, Decoded, Decoder, Encoder, MqttString, Packet, PacketId, ProtocolVersion, Publish,
    PublishQoS, QoS, SubAckReasonCode, Subscribe, SubscriptionOptions,
};
use mqttkit_session::{
    Incoming, Instant, Message, ProtocolViolation, Server, ServerConfig, ServerEvent,
};
use mqttkit_session::{TopicFilter, TopicName};

/// The PUBLISH packets among `packets`, in order.
pub fn publishes(packets: &[Packet]) -> Vec<Publish> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// A SUBSCRIBE of `filters`, in order, with packet identifier `pid`.
pub fn subscribe(filters: &[(&str, SubscriptionOptions)], pid: u16) -> Subscribe {
    let (first, rest) = filters.split_first().expect("at least one filter");
    let mut s = Subscribe::new(id(pid), TopicFilter::try_from(first.0).unwrap(), first.1);
    for (f, o) in rest {
        s.filters.push((TopicFilter::try_from(*f).unwrap(), *o));
    }
    s
}

pub fn s(v: &str) -> MqttString {
    MqttString::try_from(v).unwrap()
}

pub fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

pub fn topic(t: &str) -> TopicName {
    TopicName::try_from(t).unwrap()
}

pub fn connect(version: ProtocolVersion, client_id: &str, clean_start: bool) -> Connect {
    let mut c = Connect::new(version, s(client_id));
    c.clean_start = clean_start;
    c
}

pub fn encode(version: ProtocolVersion, packet: &Packet) -> BytesMut {
    let mut out = BytesMut::new();
    Encoder::new(version).encode(packet, &mut out).unwrap();
    out
}

pub fn decode_all(version: ProtocolVersion, bytes: &[u8]) -> Vec<Packet> {
    let mut dec = Decoder::new(version);
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Decoded::Packet(p) = dec.decode(&mut buf).unwrap() {
        out.push(p);
    }
    out
}

pub fn publish(t: &str, qos: QoS, pid: u16) -> Publish {
    let p = Publish::new(topic(t), Bytes::from_static(b"payload"));
    if qos == QoS::AtMostOnce {
        p
    } else {
        p.with_qos(PublishQoS::new(qos, id(pid)))
    }
}

pub fn message(t: &str, qos: QoS) -> Message {
    Message::new(topic(t), Bytes::from_static(b"m"), qos)
}

/// A fake client connected to a [`Server`], with a clock.
pub struct Peer {
    pub server: Server,
    pub version: ProtocolVersion,
    pub now: Instant,
    /// Packets the server sent, not yet taken.
    pub received: Vec<Packet>,
    pub events: Vec<ServerEvent>,
}

impl Peer {
    /// Sends `c` as the first packet and accepts it with `session`.
    pub fn open(c: Connect, config: ServerConfig, session: Option<Server>) -> Self {
        // The tests acknowledge by hand, unless one says otherwise with
        // `open_with`.
        let config = ServerConfig {
            manual_ack: true,
            ..config
        };
        Self::open_with(c, config, session)
    }

    /// [`Peer::open`] with `config` exactly as given.
    pub fn open_with(c: Connect, config: ServerConfig, session: Option<Server>) -> Self {
        let version = c.protocol_version;
        let mut bytes = encode(version, &Packet::Connect(Box::new(c)));
        let mut incoming = Incoming::read(&mut bytes, None).unwrap().unwrap();
        if incoming.client_id().is_empty() {
            incoming.assign_client_id(s("assigned-1")).unwrap();
        }
        let server = incoming.accept(Instant::ZERO, session, config).unwrap();
        Self::with(server, version, Instant::ZERO)
    }

    pub fn with(server: Server, version: ProtocolVersion, now: Instant) -> Self {
        let mut peer = Self {
            server,
            version,
            now,
            received: Vec::new(),
            events: Vec::new(),
        };
        peer.drain();
        peer
    }

    pub fn drain(&mut self) {
        let mut out = BytesMut::new();
        while self.server.poll_transmit(&mut out).is_some() {}
        self.received.extend(decode_all(self.version, &out));
        while let Some(e) = self.server.poll_event() {
            self.events.push(e);
        }
    }

    pub fn send(&mut self, packet: Packet) -> Result<(), ProtocolViolation> {
        let bytes = encode(self.version, &packet);
        self.server.handle_bytes(self.now, &bytes);
        self.drain();
        self.server.violation().map_or(Ok(()), Err)
    }

    /// Sends `sub` and answers it with `codes`, as the application would.
    pub fn subscribe_with(&mut self, sub: Subscribe, codes: Vec<SubAckReasonCode>) {
        let packet_id = sub.packet_id;
        self.send(sub.into()).unwrap();
        self.server.suback(packet_id, codes).unwrap();
        self.drain();
    }

    pub fn advance(&mut self, ms: u64) {
        self.now = Instant::from_millis(self.now.as_millis() + ms);
        self.server.handle_timeout(self.now);
        self.drain();
    }

    pub fn take(&mut self) -> Vec<Packet> {
        std::mem::take(&mut self.received)
    }

    pub fn take_events(&mut self) -> Vec<ServerEvent> {
        std::mem::take(&mut self.events)
    }

    /// The ack token of the last Publish event.
    pub fn last_token(&self) -> mqttkit_session::AckToken {
        self.events
            .iter()
            .rev()
            .find_map(|e| match e {
                ServerEvent::Publish { ack: Some(t), .. } => Some(*t),
                _ => None,
            })
            .unwrap()
    }

    pub fn deliver(
        &mut self,
        d: mqttkit_session::Delivery,
    ) -> Result<mqttkit_session::OpId, mqttkit_session::DeliverError> {
        let r = self.server.deliver(self.now, d);
        self.drain();
        r
    }
}
