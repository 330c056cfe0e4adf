//! The session workloads: the crate's client and server state machines
//! joined in memory, as a broker and one of its clients would be, with no
//! I/O. One round trip is a PUBLISH from the client to the server, acked by
//! the server, then the same message delivered back from the server to the
//! client and acked there (QoS 1: PUBACK each way; QoS 2: PUBREC, PUBREL,
//! PUBCOMP each way).

use bytes::{Bytes, BytesMut};
use mqttkit_codec::mqttkit_topic::TopicName;
use mqttkit_codec::{
    Connect, MqttString, ProtocolVersion, PubAckReasonCode, QoS, SubscriptionOptions,
};
use mqttkit_session::{
    Client, ClientConfig, Delivery, Event, Incoming, Instant, Message, Server, ServerConfig,
    ServerEvent, Session,
};

/// A client and a server over a perfect in-memory link, with the buffers
/// reused across round trips.
#[derive(Debug)]
pub struct Pair {
    client: Client,
    server: Server,
    to_server: BytesMut,
    to_client: BytesMut,
    message: Message,
    now: Instant,
    /// Messages delivered to the client application so far.
    pub delivered: u64,
}

impl Pair {
    /// A connected pair speaking `version`, sending `qos` messages of
    /// `payload_len` bytes to a 40-byte topic; with `aliases`, both sides
    /// replace the topic by a Topic Alias after its first use (5.0 only).
    pub fn new(version: ProtocolVersion, qos: QoS, payload_len: usize, aliases: bool) -> Self {
        let alias_max = if aliases { 16 } else { 0 };
        let config = ClientConfig {
            max_outbound_aliases: alias_max,
            ..ClientConfig::default()
        };
        let client_id = MqttString::try_from("bench-client").unwrap();
        let mut client = Client::new(Session::new(client_id.clone()), config);
        let mut connect = Connect::new(version, client_id);
        if version.is_v5() {
            connect.properties.topic_alias_maximum = Some(alias_max);
            connect.properties.receive_maximum = core::num::NonZeroU16::new(1000);
        }
        client.connect(Instant::ZERO, connect).unwrap();
        let mut to_server = BytesMut::with_capacity(64 * 1024);
        while client.poll_persist().is_some() {}
        while client.poll_transmit(&mut to_server).is_some() {}
        let server_config = ServerConfig {
            topic_alias_maximum: alias_max,
            max_outbound_aliases: alias_max,
            receive_maximum: 1000,
            ..ServerConfig::default()
        };
        let incoming = Incoming::read(&mut to_server, None).unwrap().unwrap();
        let server = incoming.accept(Instant::ZERO, None, server_config).unwrap();
        let topic = TopicName::try_from("plant/7/line/3/cell/12/sensor/temperature").unwrap();
        let mut pair = Self {
            client,
            server,
            to_server,
            to_client: BytesMut::with_capacity(64 * 1024),
            message: Message::new(topic, Bytes::from(vec![0x5A; payload_len]), qos),
            now: Instant::ZERO,
            delivered: 0,
        };
        pair.pump();
        assert!(pair.client.is_connected(), "CONNACK not received");
        pair
    }

    /// One round trip, run to completion.
    pub fn round_trip(&mut self) {
        self.client.publish(self.now, self.message.clone()).unwrap();
        self.pump();
    }

    /// Moves bytes both ways until both sides are quiet, acking every
    /// message and routing every PUBLISH the server receives back to the
    /// client.
    fn pump(&mut self) {
        loop {
            while self.client.poll_persist().is_some() {}
            while self.client.poll_transmit(&mut self.to_server).is_some() {}
            let mut moved = false;
            if !self.to_server.is_empty() {
                self.server.handle_bytes(self.now, &self.to_server);
                self.to_server.clear();
                moved = true;
            }
            while let Some(event) = self.server.poll_event() {
                if let ServerEvent::Publish { publish, ack } = event {
                    if let Some(token) = ack {
                        self.server
                            .ack(self.now, token, PubAckReasonCode::Success)
                            .unwrap();
                    }
                    let message = Message::new(
                        publish.topic.clone().unwrap(),
                        publish.payload,
                        publish.qos.qos(),
                    );
                    let options = SubscriptionOptions::new(QoS::ExactlyOnce);
                    self.server
                        .deliver(self.now, Delivery::new(message, options))
                        .unwrap();
                }
            }
            while self.server.poll_transmit(&mut self.to_client).is_some() {}
            if !self.to_client.is_empty() {
                self.client.handle_bytes(self.now, &self.to_client);
                self.to_client.clear();
                moved = true;
            }
            while let Some(event) = self.client.poll_event() {
                if let Event::Message { ack, .. } = event {
                    self.delivered += 1;
                    if let Some(token) = ack {
                        self.client
                            .ack(self.now, token, PubAckReasonCode::Success)
                            .unwrap();
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }
}

/// The session workloads: (name, version, QoS, payload bytes, aliases).
pub fn workloads() -> Vec<(String, ProtocolVersion, QoS, usize, bool)> {
    let mut out = Vec::new();
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let v = if version.is_v5() { "v5" } else { "v3.1.1" };
        for (qos, q) in [
            (QoS::AtMostOnce, "QoS0"),
            (QoS::AtLeastOnce, "QoS1"),
            (QoS::ExactlyOnce, "QoS2"),
        ] {
            out.push((format!("{v} {q} 64 B"), version, qos, 64, false));
            if version.is_v5() {
                out.push((
                    format!("{v} {q} 64 B topic aliases"),
                    version,
                    qos,
                    64,
                    true,
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before anything is timed: every workload completes its round trips
    /// and delivers each message to the client exactly once.
    #[test]
    fn every_round_trip_delivers_once() {
        for (name, version, qos, len, aliases) in workloads() {
            let mut pair = Pair::new(version, qos, len, aliases);
            for _ in 0..100 {
                pair.round_trip();
            }
            assert_eq!(pair.delivered, 100, "{name}");
        }
    }
}
