//! The server role's send path at depth: one delivery plus its PUBACK while
//! a 3.1.1 subscriber, which announces no Receive Maximum, already has many
//! QoS 1 messages in flight. The cost of that step should not grow with the
//! number in flight.

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    Connect, Decoded, Decoder, Encoder, MqttString, Packet, ProtocolVersion, PubAck, QoS,
    SubscriptionOptions, TopicName,
};
use mqttkit_session::{Delivery, Incoming, Instant, Message, Server, ServerConfig, ServerEvent};

/// A server session for a 3.1.1 client holding a chosen number of
/// unacknowledged QoS 1 deliveries.
#[derive(Debug)]
pub struct Depth {
    server: Server,
    message: Message,
    decoder: Decoder,
    out: BytesMut,
    ack: BytesMut,
    encoder: Encoder,
    now: Instant,
}

impl Depth {
    /// A connected session with `in_flight` deliveries sent and not acked.
    pub fn new(in_flight: usize) -> Self {
        let client = Encoder::new(ProtocolVersion::V3_1_1);
        let mut received = BytesMut::new();
        let connect = Connect::new(
            ProtocolVersion::V3_1_1,
            MqttString::try_from("depth").unwrap(),
        );
        client.encode(&connect.into(), &mut received).unwrap();
        let incoming = Incoming::read(&mut received, None).unwrap().unwrap();
        // The whole window a 3.1.1 client allows, not the modest default.
        let config = ServerConfig {
            inflight_window: u16::MAX,
            max_queued: 1,
            ..ServerConfig::default()
        };
        let server = incoming.accept(Instant::ZERO, None, config).unwrap();
        let topic = TopicName::try_from("plant/7/line/3/cell/12/sensor/temperature").unwrap();
        let mut depth = Self {
            server,
            message: Message::new(topic, Bytes::from(vec![0x5A; 64]), QoS::AtLeastOnce),
            decoder: Decoder::new(ProtocolVersion::V3_1_1),
            out: BytesMut::with_capacity(64 * 1024),
            ack: BytesMut::with_capacity(16),
            encoder: client,
            now: Instant::ZERO,
        };
        // The CONNACK.
        while depth.server.poll_transmit(&mut depth.out).is_some() {}
        depth.out.clear();
        for _ in 0..in_flight {
            depth.deliver();
            depth.out.clear();
        }
        assert_eq!(depth.server.session().inflight().count(), in_flight);
        depth
    }

    fn deliver(&mut self) {
        let options = SubscriptionOptions::new(QoS::AtLeastOnce);
        self.server
            .deliver(self.now, Delivery::new(self.message.clone(), options))
            .unwrap();
        while self.server.poll_transmit(&mut self.out).is_some() {}
    }

    /// Delivers one more message and feeds the client's PUBACK for it.
    pub fn deliver_and_ack(&mut self) {
        self.deliver();
        let id = match self.decoder.decode(&mut self.out) {
            Ok(Decoded::Packet(Packet::Publish(publish))) => publish.qos.packet_id(),
            _ => None,
        }
        .expect("the QoS 1 delivery was sent at once");
        self.encoder
            .encode(&PubAck::new(id).into(), &mut self.ack)
            .unwrap();
        self.server.handle_bytes(self.now, &self.ack);
        self.ack.clear();
        let mut delivered = false;
        while let Some(event) = self.server.poll_event() {
            delivered |= matches!(event, ServerEvent::Delivered { .. });
        }
        assert!(delivered, "the PUBACK did not complete the delivery");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_delivery_completes_at_every_depth() {
        for in_flight in [0, 1, 999] {
            let mut depth = Depth::new(in_flight);
            depth.deliver_and_ack();
            depth.deliver_and_ack();
            assert_eq!(depth.server.session().inflight().count(), in_flight);
        }
    }
}
