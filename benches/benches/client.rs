//! The tokio clients: `mqttkit-tokio` and `rumqttc` publishing 64-byte
//! QoS 0 and QoS 1 messages over loopback TCP to an in-process sink that
//! acknowledges at once (see `mqttkit_benches::client_tcp`), pipelined (64
//! in flight) and sequential. Criterion reports messages per second; the
//! `client_allocs` bench counts allocations and CPU time per message.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mqttkit_benches::client_tcp::{Connected, Sink, runtime, workloads};

fn publish(c: &mut Criterion) {
    let sink = Sink::start();
    let rt = runtime();
    for (workload, peers) in workloads() {
        let mut group = c.benchmark_group(format!("client {}", workload.name()));
        group.throughput(Throughput::Elements(1));
        for peer in peers {
            let mut client = Connected::connect(&rt, peer, sink.addr());
            group.bench_function(peer.name(), |b| {
                b.iter_custom(|n| {
                    let start = Instant::now();
                    client.run(&rt, workload, n);
                    start.elapsed()
                });
            });
            client.close(&rt);
        }
        group.finish();
    }
}

criterion_group!(benches, publish);
criterion_main!(benches);
