//! Heap allocations per PUBLISH decode and encode, for `mqtt-codec` and each
//! peer crate, counted with an instrumented global allocator over the same
//! workloads as the `codec` bench, and per packet of the stream workloads.
//! Prints Markdown tables.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::arithmetic_side_effects,
    clippy::cast_precision_loss
)]

use bytes::BytesMut;
use mqtt_benches::codec_peers::{Crate, decode_all, encode_native, native, stream, workloads};
use mqtt_benches::codec_streams::{decode_stream, streams, supports};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    println!("| workload | crate | allocations per decode | allocations per encode |");
    println!("|---|---|---|---|");
    for workload in workloads() {
        for krate in Crate::ALL
            .into_iter()
            .filter(|k| k.supports(workload.version))
        {
            let mut buf = stream(&workload.frame, workload.frames);
            let region = Region::new(GLOBAL);
            let n = decode_all(
                krate,
                workload.version,
                &mut buf,
                workload.frame.len(),
                |s| {
                    std::hint::black_box(s);
                },
            );
            let decode = region.change().allocations;
            assert_eq!(n, Ok(workload.frames));
            let per_decode = decode as f64 / workload.frames as f64;
            let per_encode = if !krate.encodes() {
                String::from("n/a (read-only)")
            } else {
                let mut packet = native(krate, &workload);
                let mut out = BytesMut::with_capacity(4096);
                encode_native(&mut packet, workload.version, &mut out);
                let region = Region::new(GLOBAL);
                for _ in 0..workload.frames {
                    out.clear();
                    encode_native(&mut packet, workload.version, &mut out);
                }
                format!(
                    "{:.2}",
                    region.change().allocations as f64 / workload.frames as f64
                )
            };
            println!(
                "| {} | {} | {:.2} | {} |",
                workload.name,
                krate.name(),
                per_decode,
                per_encode
            );
        }
    }
    println!();
    println!("| stream | crate | allocations per packet decoded |");
    println!("|---|---|---|");
    for workload in streams() {
        for krate in Crate::ALL.into_iter().filter(|k| supports(*k, &workload)) {
            let mut input = BytesMut::from(&workload.bytes[..]);
            let region = Region::new(GLOBAL);
            let n = decode_stream(krate, &workload, &mut input, |p| {
                std::hint::black_box(p);
            });
            let allocations = region.change().allocations;
            assert_eq!(n, Ok(workload.packets));
            println!(
                "| {} | {} | {:.2} |",
                workload.name,
                krate.name(),
                allocations as f64 / workload.packets as f64
            );
        }
    }
}
