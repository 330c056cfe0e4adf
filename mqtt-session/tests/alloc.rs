//! A steady-state QoS 1 round trip in both directions allocates nothing in
//! the session layer, measured with a counting global allocator.
#![allow(clippy::unwrap_used, clippy::panic, clippy::arithmetic_side_effects)]

use std::alloc::System;

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    ConnAck, Connect, ConnectReasonCode, Encoder, MqttString, Packet, PacketId, ProtocolVersion,
    PubAck, PubAckReasonCode, Publish, PublishQoS, QoS,
};
use mqttkit_session::{Client, ClientConfig, Event, Instant, Message, Session};
use mqttkit_topic::TopicName;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

// Counts every allocation of the process; this binary holds one test so
// nothing else runs meanwhile.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn steady_state_qos1_round_trip_allocates_nothing() {
    let now = Instant::from_millis(0);
    let mut client = Client::new(
        Session::new(MqttString::try_from("alloc").unwrap()),
        // The application acknowledges, as one that processes first would.
        ClientConfig {
            manual_ack: true,
            ..ClientConfig::default()
        },
    );
    let encoder = Encoder::new(ProtocolVersion::V5);
    let mut wire = BytesMut::with_capacity(4096);
    let mut out = BytesMut::with_capacity(4096);
    client
        .connect(
            now,
            Connect::new(ProtocolVersion::V5, MqttString::try_from("alloc").unwrap()),
        )
        .unwrap();
    encoder
        .encode(
            &Packet::from(ConnAck::new(false, ConnectReasonCode::Success)),
            &mut wire,
        )
        .unwrap();
    client.handle_bytes(now, &wire);
    while client.poll_event().is_some() {}
    out.clear();
    client.poll_transmit(&mut out).unwrap();
    let topic = TopicName::from_static("sensors/1").unwrap();
    let payload = Bytes::from_static(b"21.5");
    let inbound_packet = |id: u16| {
        Packet::Publish(
            Publish::new(topic.clone(), payload.clone()).with_qos(PublishQoS::new(
                QoS::AtLeastOnce,
                PacketId::new(id).unwrap(),
            )),
        )
    };

    let round = |client: &mut Client, wire: &mut BytesMut, out: &mut BytesMut, i: u16| {
        // Outbound QoS 1: publish, persist, transmit, PUBACK, completion.
        client
            .publish(
                now,
                Message::new(topic.clone(), payload.clone(), QoS::AtLeastOnce),
            )
            .unwrap();
        while client.poll_persist().is_some() {}
        out.clear();
        client.poll_transmit(out).unwrap();
        let id = client.session().inflight().next().unwrap().packet_id;
        wire.clear();
        encoder
            .encode(&Packet::PubAck(PubAck::new(id)), wire)
            .unwrap();
        client.handle_bytes(now, wire);
        while client.poll_persist().is_some() {}
        let Some(Event::Published { .. }) = client.poll_event() else {
            panic!()
        };
        // Inbound QoS 1: PUBLISH, delivery, application ack, PUBACK.
        wire.clear();
        encoder.encode(&inbound_packet(i % 100 + 1), wire).unwrap();
        client.handle_bytes(now, wire);
        let Some(Event::Message {
            ack: Some(token),
            publish,
        }) = client.poll_event()
        else {
            panic!()
        };
        drop(publish);
        client.ack(now, token, PubAckReasonCode::Success).unwrap();
        out.clear();
        client.poll_transmit(out).unwrap();
        assert!(client.poll_event().is_none());
    };

    for i in 0..64 {
        round(&mut client, &mut wire, &mut out, i);
    }
    // The counter is process-wide, and the test harness's own threads may
    // allocate meanwhile (seen now and then on a loaded machine). The state
    // machine is deterministic, so an allocation of its own would show in
    // every attempt: the fewest over a few attempts is the session's count.
    let n = (0..5)
        .map(|_| {
            let region = Region::new(GLOBAL);
            for i in 0..1000 {
                round(&mut client, &mut wire, &mut out, i);
            }
            let stats = region.change();
            stats.allocations + stats.reallocations
        })
        .min()
        .unwrap_or(usize::MAX);
    // The counter does count: a deliberate allocation shows up.
    let check = Region::new(GLOBAL);
    drop(std::hint::black_box(vec![0u8; 16]));
    assert!(check.change().allocations >= 1);
    assert_eq!(
        n, 0,
        "{n} allocations in 1000 steady-state QoS 1 round trips"
    );
}
