//! What an idle connected server session costs: the inline size of its
//! `Server` plus the heap it holds, counted with a global allocator, for a
//! client that subscribed once and then went quiet, after the driver called
//! `Server::shrink_to_fit`.
#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

use std::alloc::System;

use mqttkit_session::bytes::BytesMut;
use mqttkit_session::{
    Connect, Encoder, Incoming, Instant, MqttString, Packet, PacketId, ProtocolVersion, QoS,
    ServerConfig, ServerEvent, SubAckReasonCode, Subscribe, SubscriptionOptions, TopicFilter,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

// Counts every allocation of the process; this binary holds one test so
// nothing else runs meanwhile.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The budget for one idle session with one subscription, inline and heap.
const BUDGET: usize = 1024;

#[test]
fn idle_server_session_with_one_subscription_fits_in_1_kib() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let region = Region::new(GLOBAL);
        let server = {
            let client = Encoder::new(version);
            let mut received = BytesMut::new();
            let connect = Connect::new(version, MqttString::try_from("sensor-0001").unwrap());
            client.encode(&connect.into(), &mut received).unwrap();
            let filter = TopicFilter::try_from("cmd/sensor-0001/#").unwrap();
            let options = SubscriptionOptions::new(QoS::AtLeastOnce);
            let subscribe = Subscribe::new(PacketId::new(1).unwrap(), filter, options);
            client
                .encode(&Packet::from(subscribe), &mut received)
                .unwrap();
            let now = Instant::ZERO;
            let incoming = Incoming::read(&mut received, None).unwrap().unwrap();
            let mut server = incoming.accept(now, None, ServerConfig::default()).unwrap();
            server.handle_bytes(now, &received);
            while let Some(event) = server.poll_event() {
                if let ServerEvent::Subscribe {
                    packet_id,
                    requests,
                    ..
                } = event
                {
                    let codes = requests
                        .iter()
                        .map(|r| SubAckReasonCode::granted(r.options.qos))
                        .collect();
                    server.suback(packet_id, codes).unwrap();
                }
            }
            let mut out = BytesMut::new();
            while server.poll_transmit(&mut out).is_some() {}
            // What a driver does once a connection has gone quiet.
            server.shrink_to_fit();
            server
        };
        let change = region.change();
        let heap = change.bytes_allocated + change.bytes_reallocated.max(0) as usize
            - change.bytes_deallocated;
        let inline = size_of_val(&server);
        println!(
            "{version:?}: idle session with one subscription: {inline} B inline + {heap} B heap = {} B",
            inline + heap
        );
        assert!(
            inline + heap <= BUDGET,
            "{version:?}: {inline} B inline + {heap} B heap is over {BUDGET} B"
        );
        drop(server);
    }
}
