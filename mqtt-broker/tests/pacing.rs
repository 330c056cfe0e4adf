//! Publishers wait for a subscriber that reads slowly, and go on past one
//! that stopped reading: bounded queues without losing a reader's
//! messages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use std::collections::HashSet;
use std::time::Duration;

use mqttkit_broker::Config;
use mqttkit_tokio::mqttkit_session::{
    Connect, MqttString, Packet, PacketId, PubAck, Publish, PublishQoS,
};
use mqttkit_tokio::{ProtocolVersion, QoS, TopicName};
use support::{Raw, config, connected, handshake, start};

const V5: ProtocolVersion = ProtocolVersion::V5;

/// Small bounds, so that a few thousand messages overflow them many times.
fn small_queues() -> Config {
    let mut config = config();
    config.limits.max_inflight = 5;
    config.limits.max_queued = 20;
    config
}

/// Connects a raw publisher and sends `count` QoS 1 messages to `topic`,
/// keeping at most `window` unacknowledged (below the broker's Receive
/// Maximum); returns once every PUBACK arrived.
async fn publish_all(addr: std::net::SocketAddr, topic: &str, count: u16, window: u16) {
    let mut raw = Raw::connect(addr, V5).await;
    connected(
        &mut raw,
        Connect::new(V5, MqttString::try_from("publisher").unwrap()),
    )
    .await;
    let topic = TopicName::try_from(topic).unwrap();
    let (mut sent, mut acked) = (0u16, 0u16);
    while acked < count {
        while sent < count && sent - acked < window {
            sent += 1;
            let publish = Publish::new(topic.clone(), sent.to_be_bytes().to_vec()).with_qos(
                PublishQoS::AtLeastOnce {
                    packet_id: PacketId::new(sent).unwrap(),
                    dup: false,
                },
            );
            raw.send(publish).await;
        }
        match raw.recv().await {
            Some(Packet::PubAck(_)) => acked += 1,
            other => panic!("publisher got {other:?}"),
        }
    }
}

/// Reads one QoS 1 message and acknowledges it; its payload.
async fn read_one(sub: &mut Raw) -> Option<u16> {
    let Some(Packet::Publish(publish)) = sub.recv().await else {
        return None;
    };
    let id = publish.qos.packet_id().expect("QoS 1");
    sub.send(PubAck::new(id)).await;
    Some(u16::from_be_bytes(publish.payload[..2].try_into().unwrap()))
}

/// A QoS 1 subscriber that reads, only slower than its publisher, gets
/// every message (v5 [MQTT-4.3.2-4] for each one it is sent): the
/// publisher waits for it rather than overflowing its queue of 20.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_gets_every_message() {
    const COUNT: u16 = 3000;
    let (broker, addr) = start(small_queues()).await;
    let mut sub = Raw::connect(addr, V5).await;
    handshake(&mut sub, "slow", "pace/slow", QoS::AtLeastOnce).await;
    let publisher = tokio::spawn(publish_all(addr, "pace/slow", COUNT, 10));
    let mut seen = HashSet::new();
    while seen.len() < usize::from(COUNT) {
        let n = read_one(&mut sub).await.expect("the broker closed");
        seen.insert(n);
        if seen.len() % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    publisher.await.unwrap();
    assert_eq!(broker.metrics().messages_dropped, 0);
}

/// A subscriber that stops reading does not hold its publisher up for
/// good: the publisher's messages all complete, the subscriber's queue
/// overflows, and once it reads again it gets what its bounds held (5 in
/// flight and 20 queued).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_subscriber_costs_its_queue_bound_only() {
    const COUNT: u16 = 1000;
    let (broker, addr) = start(small_queues()).await;
    let mut sub = Raw::connect(addr, V5).await;
    handshake(&mut sub, "stalled", "pace/stalled", QoS::AtLeastOnce).await;
    publish_all(addr, "pace/stalled", COUNT, 50).await;
    let mut got = 0u64;
    while let Ok(Some(_)) =
        tokio::time::timeout(Duration::from_millis(500), read_one(&mut sub)).await
    {
        got += 1;
    }
    assert_eq!(got, 25);
    assert_eq!(broker.metrics().messages_dropped, u64::from(COUNT) - 25);
}
