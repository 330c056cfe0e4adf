//! The codec side by side with the peer crates, on the same wire bytes in
//! the same run.
//!
//! PUBLISH decode: a buffer holding about 1 MiB of copies of the frame (at
//! most 1,000), with spare capacity as a socket read leaves it, is decoded
//! packet by packet; the copy into the buffer is setup and not timed.
//! PUBLISH encode: one packet into a reused buffer, cleared every iteration,
//! and 1,000 packets streamed back to back into one large buffer; crates
//! whose API takes the packet by value pay the clone, since their users must
//! too. Streams: small packets, CONNECT and SUBSCRIBE repeated 1,000 times,
//! and 1,000 mixed packets, whole and fed in chunks of 1, 7 and 1,460 bytes.
//! Fan-out: one decoded PUBLISH forwarded to 64 subscribers with their own
//! packet identifiers, QoS and Topic Aliases (`benches/src/codec_fanout.rs`),
//! by head only (the payload left to a vectored write) and whole.
//! The malformed corpus: every frame of the malformed-input matrix (`benches/src/codec_malformed.rs`), per
//! version, by each crate that never panics on it.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main,
};
use mqttkit_benches::codec_fanout::{SUBSCRIBERS, fanouts};
use mqttkit_benches::codec_malformed::{CASES, Outcome, applies, decode_all_cases, outcome};
use mqttkit_benches::codec_peers::{
    Crate, Native, Workload, decode_all, encode_native, native, stream, workloads,
};
use mqttkit_benches::codec_streams::{decode_stream, streams, supports};
use mqttkit_codec::{ProtocolVersion, TopicName};

const STREAMED: usize = 1_000;

fn decode(c: &mut Criterion) {
    for workload in workloads() {
        let mut group = c.benchmark_group(format!("decode {}", workload.name));
        group.throughput(Throughput::Elements(workload.frames as u64));
        for krate in Crate::ALL
            .into_iter()
            .filter(|k| k.supports(workload.version))
        {
            let frame_len = workload.frame.len();
            group.bench_function(krate.name(), |b| {
                b.iter_batched_ref(
                    || stream(&workload.frame, workload.frames),
                    |buf| {
                        let n = decode_all(krate, workload.version, buf, frame_len, |seen| {
                            black_box(seen);
                        });
                        assert_eq!(n, Ok(workload.frames));
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
            // a decode too; a view is read-only. Both are left out here.
            if !krate.encodes() {
                continue;
            }
            bench_encode(&mut group, krate, native(krate, &workload), &workload);
        }
        group.finish();
    }
}

/// Times encoding `packet`, `krate`'s own, into a reused, cleared buffer.
fn bench_encode(
    group: &mut BenchmarkGroup<'_, WallTime>,
    krate: Crate,
    mut packet: Native,
    workload: &Workload,
) {
    let mut out = BytesMut::with_capacity(workload.frame.len() + 4096);
    group.bench_function(krate.name(), |b| {
        b.iter(|| {
            out.clear();
            encode_native(&mut packet, workload.version, &mut out);
            black_box(&out);
        });
    });
}

/// Encoding a PUBLISH whose properties were set by hand, as a publisher
/// builds it: ours from `set_*`/`push_*` (the packet the workload was built
/// from, not a decoded one, which keeps its property block); each peer's
/// packet holds its properties as values whether decoded or built, so its
/// decoded packet is the same work.
fn encode_built(c: &mut Criterion) {
    for workload in workloads()
        .into_iter()
        .filter(|w| w.name.contains("properties"))
    {
        let mut group = c.benchmark_group(format!("encode built {}", workload.name));
        group.throughput(Throughput::Elements(1));
        for krate in Crate::ALL
            .into_iter()
            .filter(|k| k.supports(workload.version) && k.encodes())
        {
            let packet = match krate {
                Crate::MqttCodec => Native::Ours(workload.packet.clone()),
                _ => native(krate, &workload),
            };
            bench_encode(&mut group, krate, packet, &workload);
        }
        group.finish();
    }
}

fn encode_streamed(c: &mut Criterion) {
    for workload in workloads() {
        let mut group = c.benchmark_group(format!("encode streamed {}", workload.name));
        group.throughput(Throughput::Elements(STREAMED as u64));
        for krate in Crate::ALL
            .into_iter()
            .filter(|k| k.supports(workload.version) && k.encodes())
        {
            let mut packet = native(krate, &workload);
            let capacity = (workload.frame.len() + 16) * STREAMED;
            group.bench_function(krate.name(), |b| {
                b.iter_batched_ref(
                    || BytesMut::with_capacity(capacity),
                    |out| {
                        for _ in 0..STREAMED {
                            encode_native(&mut packet, workload.version, out);
                        }
                    },
                    BatchSize::LargeInput,
                );
            });
        }
        group.finish();
    }
}

fn decode_streams(c: &mut Criterion) {
    for workload in streams() {
        let mut group = c.benchmark_group(format!("decode {}", workload.name));
        group.throughput(Throughput::Elements(workload.packets as u64));
        for krate in Crate::ALL.into_iter().filter(|k| supports(*k, &workload)) {
            group.bench_function(krate.name(), |b| {
                b.iter_batched_ref(
                    || BytesMut::from(&workload.bytes[..]),
                    |input| {
                        let n = decode_stream(krate, &workload, input, |p| {
                            black_box(p);
                        });
                        assert_eq!(n, Ok(workload.packets));
                    },
                    BatchSize::LargeInput,
                );
            });
        }
        group.finish();
    }
}

/// Time to go through the malformed corpus of one version (the valid
/// control frames included), per frame; only crates that never panic on it.
fn decode_malformed(c: &mut Criterion) {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let cases: Vec<_> = CASES.iter().filter(|k| k.version == version).collect();
        let label = if version.is_v5() { "v5" } else { "v3.1.1" };
        let mut group = c.benchmark_group(format!("decode {label} malformed corpus"));
        group.throughput(Throughput::Elements(cases.len() as u64));
        for krate in Crate::ALL {
            let usable = cases
                .iter()
                .all(|case| applies(krate, case) && outcome(krate, case) != Outcome::Panicked);
            if !usable {
                continue;
            }
            group.bench_function(krate.name(), |b| {
                b.iter(|| black_box(decode_all_cases(krate, version)));
            });
        }
        group.finish();
    }
}

/// Lengths of the topic names read as text.
const READ_LENGTHS: [usize; 4] = [16, 64, 1024, 16 * 1024];

/// Reading a decoded topic name as `&str`, which a broker does for every
/// message it routes; beside it, `from_utf8` over the same bytes: what the
/// read costs when it checks UTF-8 again.
fn read_topic(c: &mut Criterion) {
    for len in READ_LENGTHS {
        let text: String = "plant/7/sensor/".chars().cycle().take(len).collect();
        let topic = TopicName::try_from(text).unwrap();
        let mut group = c.benchmark_group(format!("read topic {} B", topic.len()));
        group.bench_function("mqttkit-codec", |b| {
            b.iter(|| black_box(black_box(&topic).as_str()).len());
        });
        group.bench_function("from_utf8", |b| {
            b.iter(|| {
                core::str::from_utf8(black_box(&topic).as_bytes())
                    .map(str::len)
                    .unwrap_or(0)
            });
        });
        group.finish();
    }
}

/// Forwarding one message to every subscriber; throughput in subscribers.
fn fan_out(c: &mut Criterion) {
    for fanout in fanouts() {
        let mut group = c.benchmark_group(format!("fan-out {}", fanout.name));
        group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
        let mut out = BytesMut::with_capacity(fanout.publish.payload.len() + 4096);
        group.bench_function("mqttkit-codec head", |b| {
            b.iter(|| black_box(fanout.forward_heads(&mut out)));
        });
        group.bench_function("mqttkit-codec whole", |b| {
            b.iter(|| black_box(fanout.forward_whole(&mut out)));
        });
        group.finish();
    }
}

criterion_group!(
    benches,
    read_topic,
    fan_out,
    decode,
    encode,
    encode_built,
    encode_streamed,
    decode_streams,
    decode_malformed
);
criterion_main!(benches);
