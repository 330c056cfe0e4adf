//! A deterministic in-memory harness: a [`Client`], a clock advanced by
//! hand, a persistence store that applies the write-ahead operations, and a
//! scripted fake broker built on `mqttkit-codec`.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::collections::BTreeMap;

use bytes::BytesMut;
use mqttkit_codec::{
    ConnAck, Connect, ConnectReasonCode, Decoded, Decoder, Encoder, MqttString, Packet,
    ProtocolVersion,
};
use mqttkit_session::{
    Client, ClientConfig, Event, InboundRecord, Instant, OutboundRecord, PersistOp,
    ProtocolViolation, Session,
};

/// What the application stored from the persistence stream.
#[derive(Debug, Default, Clone)]
pub struct Store {
    pub outbound: BTreeMap<u16, OutboundRecord>,
    pub inbound: BTreeMap<u16, InboundRecord>,
}

impl Store {
    pub fn apply(&mut self, op: PersistOp) {
        match op {
            PersistOp::PutOutbound(r) => {
                self.outbound
                    .insert(r.publish.qos.packet_id().unwrap().get(), r);
            }
            PersistOp::RemoveOutbound(id) => {
                self.outbound.remove(&id.get());
            }
            PersistOp::PutInbound(r) => {
                self.inbound.insert(r.packet_id.get(), r);
            }
            PersistOp::RemoveInbound(id) => {
                self.inbound.remove(&id.get());
            }
            _ => unreachable!(),
        }
    }

    pub fn session(&self, client_id: &str) -> Session {
        Session::from_records(
            MqttString::try_from(client_id).unwrap(),
            self.outbound.values().cloned(),
            self.inbound.values().copied(),
        )
        .unwrap()
    }
}

pub struct Pair {
    pub client: Client,
    pub now: Instant,
    pub version: ProtocolVersion,
    decoder: Decoder,
    encoder: Encoder,
    pub received: Vec<Packet>,
    pub events: Vec<Event>,
    pub store: Store,
    pub wire: BytesMut,
}

/// CONNECT for a persistent session: in 5.0 its state never expires
/// (Session Expiry Interval 0xFFFFFFFF); in 3.1.1 only `clean_start: false`
/// keeps it after the connection.
pub fn connect_packet(version: ProtocolVersion, clean_start: bool) -> Connect {
    let mut c = Connect::new(version, MqttString::try_from("c1").unwrap());
    c.clean_start = clean_start;
    if version.is_v5() {
        c.properties.session_expiry_interval = Some(u32::MAX);
    }
    c
}

impl Pair {
    pub fn new(version: ProtocolVersion) -> Self {
        Self::with(
            version,
            Session::new(MqttString::try_from("c1").unwrap()),
            ClientConfig::default(),
        )
    }

    pub fn with(version: ProtocolVersion, session: Session, config: ClientConfig) -> Self {
        // The harness checks the write-ahead records and acknowledges by
        // hand, so it asks for both.
        let config = ClientConfig {
            persistence: true,
            manual_ack: true,
            ..config
        };
        Self {
            client: Client::new(session, config),
            now: Instant::from_millis(1_000),
            version,
            decoder: Decoder::new(version),
            encoder: Encoder::new(version),
            received: Vec::new(),
            events: Vec::new(),
            store: Store::default(),
            wire: BytesMut::new(),
        }
    }

    /// Drains every output: persistence first (checking that no byte is
    /// released while an operation waits), then bytes, then events.
    pub fn flush(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(op) = self.client.poll_persist() {
                self.store.apply(op);
                progressed = true;
            }
            let mut buf = BytesMut::new();
            if self.client.poll_transmit(&mut buf).is_some() {
                progressed = true;
                self.wire.extend_from_slice(&buf);
                while let Decoded::Packet(p) = self
                    .decoder
                    .decode(&mut self.wire)
                    .expect("client sent garbage")
                {
                    self.received.push(p);
                }
            }
            while let Some(e) = self.client.poll_event() {
                self.events.push(e);
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    pub fn connect_with(&mut self, connect: Connect) {
        self.decoder = Decoder::new(self.version);
        self.wire.clear();
        self.client.connect(self.now, connect).unwrap();
        self.flush();
    }

    /// CONNECT (clean_start as given) answered by `connack`.
    pub fn connect(&mut self, clean_start: bool, connack: ConnAck) {
        self.connect_with(connect_packet(self.version, clean_start));
        let p = self.take_received();
        assert!(matches!(p.last(), Some(Packet::Connect(_))), "{p:?}");
        self.server(connack).unwrap();
    }

    /// A connection accepted with `session_present`; Clean Start without it
    /// in 5.0, never in 3.1.1, where a Clean Session ends with the
    /// connection (v3.1.1 [MQTT-3.1.2-6]).
    pub fn connect_ok(&mut self, session_present: bool) {
        self.connect(
            !session_present && self.version.is_v5(),
            ConnAck::new(session_present, ConnectReasonCode::Success),
        );
    }

    /// The broker sends `packet`.
    pub fn server(&mut self, packet: impl Into<Packet>) -> Result<(), ProtocolViolation> {
        let mut buf = BytesMut::new();
        self.encoder.encode(&packet.into(), &mut buf).unwrap();
        self.client.handle_bytes(self.now, &buf);
        self.flush();
        self.client.violation().map_or(Ok(()), Err)
    }

    pub fn take_received(&mut self) -> Vec<Packet> {
        self.flush();
        std::mem::take(&mut self.received)
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        self.flush();
        std::mem::take(&mut self.events)
    }

    /// Advances the clock by `ms`, firing every deadline on the way.
    pub fn advance(&mut self, ms: u64) {
        let end = Instant::from_millis(self.now.as_millis() + ms);
        while let Some(at) = self.client.poll_timeout().filter(|at| *at <= end) {
            assert!(
                at >= self.now,
                "deadline in the past: {at:?} < {:?}",
                self.now
            );
            self.now = at;
            self.client.handle_timeout(self.now);
            self.flush();
            if let Some(next) = self.client.poll_timeout() {
                assert!(
                    next > self.now,
                    "deadline {next:?} not after handled {:?}",
                    self.now
                );
            }
        }
        self.now = end;
    }

    pub fn drop_link(&mut self) {
        self.client.handle_transport_closed(self.now);
        self.flush();
    }
}
