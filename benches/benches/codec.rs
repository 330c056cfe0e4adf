//! PUBLISH decode and encode, `mqtt-codec` side by side with the peer crates,
//! on the same wire bytes in the same run.
//!
//! Decode: a buffer holding 1,000 copies of the frame (with spare capacity,
//! as a socket read leaves it) is decoded packet by packet; the copy into the
//! buffer is setup and not timed. Encode: one packet into a reused buffer,
//! cleared every iteration; crates whose API takes the packet by value pay the
//! clone, since their users must too.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mqtt_benches::codec_peers::{Crate, decode_all, encode_native, native, stream, workloads};

const FRAMES: usize = 1_000;

fn decode(c: &mut Criterion) {
    for workload in workloads() {
        let mut group = c.benchmark_group(format!("decode {}", workload.name));
        group.throughput(Throughput::Elements(FRAMES as u64));
        for krate in Crate::ALL
            .into_iter()
            .filter(|k| k.supports(workload.version))
        {
            let frame_len = workload.frame.len();
            group.bench_function(krate.name(), |b| {
                b.iter_batched_ref(
                    || stream(&workload.frame, FRAMES),
                    |buf| {
                        let n = decode_all(krate, workload.version, buf, frame_len, |seen| {
                            black_box(seen);
                        });
                        assert_eq!(n, Ok(FRAMES));
                    },
                    BatchSize::LargeInput,
                );
            });
        }
        group.finish();
    }
}

fn encode(c: &mut Criterion) {
    for workload in workloads() {
        let mut group = c.benchmark_group(format!("encode {}", workload.name));
        group.throughput(Throughput::Elements(1));
        for krate in Crate::ALL
            .into_iter()
            .filter(|k| k.supports(workload.version))
        {
            // mqttrs can only encode what it borrows, so its encode would time
            // a decode too; it is left out of the encode table.
            if krate == Crate::Mqttrs {
                continue;
            }
            let mut packet = native(krate, &workload);
            let mut out = BytesMut::with_capacity(4096);
            group.bench_function(krate.name(), |b| {
                b.iter(|| {
                    out.clear();
                    encode_native(&mut packet, workload.version, &mut out);
                    black_box(&out);
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
