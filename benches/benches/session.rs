//! The session layer: QoS 0, 1 and 2 round trips between `mqttkit-session`'s
//! client and server state machines in memory (client -> server -> back to
//! the client, every packet encoded, decoded and acked), with and without
//! topic aliases. Criterion reports messages per second; the
//! `session_allocs` bench counts allocations per round trip.
//!
//! The in-flight depth group times one server delivery plus its PUBACK while
//! 0, 999 or 65,534 other deliveries to a 3.1.1 subscriber are unacknowledged
//! (1, 1,000 and 65,535 in flight during the step).
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mqttkit_benches::session_depth::Depth;
use mqttkit_benches::session_pair::{Pair, workloads};

const ROUND_TRIPS: u64 = 100;

fn round_trips(c: &mut Criterion) {
    for (name, version, qos, len, aliases) in workloads() {
        let mut group = c.benchmark_group(format!("session round trip {name}"));
        group.throughput(Throughput::Elements(ROUND_TRIPS));
        let mut pair = Pair::new(version, qos, len, aliases);
        group.bench_function("mqttkit-session", |b| {
            b.iter(|| {
                for _ in 0..ROUND_TRIPS {
                    pair.round_trip();
                }
            });
        });
        group.finish();
    }
}

fn in_flight_depth(c: &mut Criterion) {
    let mut group = c.benchmark_group("session in flight depth");
    group.throughput(Throughput::Elements(1));
    // The others, then the one timed.
    for (others, in_flight) in [(0, 1), (999, 1_000), (65_534, 65_535)] {
        let mut depth = Depth::new(others);
        group.bench_function(format!("{in_flight} in flight"), |b| {
            b.iter(|| depth.deliver_and_ack());
        });
    }
    group.finish();
}

criterion_group!(benches, round_trips, in_flight_depth);
criterion_main!(benches);
