//! The session layer: QoS 0, 1 and 2 round trips between `mqttkit-session`'s
//! client and server state machines in memory (client -> server -> back to
//! the client, every packet encoded, decoded and acked), with and without
//! topic aliases. Criterion reports messages per second; the
//! `session_allocs` bench counts allocations per round trip.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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

criterion_group!(benches, round_trips);
criterion_main!(benches);
