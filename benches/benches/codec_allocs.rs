//! Heap allocations per PUBLISH decode and encode, for `mqttkit-codec` and each
//! peer crate, counted with an instrumented global allocator over the same
//! workloads as the `codec` bench, and per packet of the stream workloads.
//! Prints Markdown tables.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::arithmetic_side_effects,
    clippy::cast_precision_loss,
    clippy::indexing_slicing
)]

use bytes::BytesMut;
use mqttkit_benches::codec_fanout::{SUBSCRIBERS, fanouts};
use mqttkit_benches::codec_malformed::{CASES, Outcome, applies, outcome};
use mqttkit_benches::codec_peers::{Crate, decode_all, encode_native, native, stream, workloads};
use mqttkit_benches::codec_streams::{decode_stream, streams, supports};
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

    print_fan_out();
    print_malformed_matrix();
}

/// Allocations and bytes copied per subscriber when one message is
/// forwarded to 64, by head only and whole.
fn print_fan_out() {
    println!();
    println!(
        "| fan-out | path | allocations per subscriber | bytes written to the buffer per subscriber |"
    );
    println!("|---|---|---|---|");
    for fanout in fanouts() {
        let mut out = BytesMut::with_capacity(fanout.publish.payload.len() + 4096);
        for (path, whole) in [("head", false), ("whole", true)] {
            let forward = |out: &mut BytesMut| {
                if whole {
                    fanout.forward_whole(out)
                } else {
                    fanout.forward_heads(out)
                }
            };
            forward(&mut out).unwrap();
            let rounds = 100;
            let region = Region::new(GLOBAL);
            let mut encoded = 0;
            for _ in 0..rounds {
                encoded += forward(&mut out).unwrap().encoded;
            }
            let allocations = region.change().allocations;
            let per = rounds * SUBSCRIBERS;
            println!(
                "| {} | {path} | {:.2} | {} |",
                fanout.name,
                allocations as f64 / per as f64,
                encoded / per
            );
        }
    }
}

/// The malformed-input matrix: what each crate does with each frame, the
/// wrong outcomes in bold.
fn print_malformed_matrix() {
    let crates: Vec<Crate> = Crate::ALL
        .into_iter()
        .filter(|k| *k != Crate::MqttCodecView)
        .collect();
    println!();
    println!("## Malformed corpus: what each crate does with each frame");
    println!();
    println!("The smallest frame that shows each problem, fed whole;");
    println!(
        "**bold** is wrong by the standard: a malformed frame accepted or a valid one refused."
    );
    println!(
        "mqtt-proto, mqttrs and mqtt5-protocol get the frame straight, not through `mqttkit-codec`'s"
    );
    println!("fixed-header reader. A panic is caught and shown.");
    println!();
    let names: Vec<&str> = crates.iter().map(|k| k.name()).collect();
    println!("| version | frame | rule | {} |", names.join(" | "));
    println!("|---|---|---|{}", "---|".repeat(crates.len()));
    let mut wrong = vec![0usize; crates.len()];
    for case in CASES {
        let cells: Vec<String> = crates
            .iter()
            .enumerate()
            .map(|(i, k)| {
                if !applies(*k, case) {
                    return "–".to_owned();
                }
                let got = outcome(*k, case);
                let word = match got {
                    Outcome::Accepted => "accepted",
                    Outcome::Rejected => "rejected",
                    Outcome::WaitedForMore => "waits for more",
                    Outcome::Panicked => "PANIC",
                };
                if got.is_right(case) {
                    word.to_owned()
                } else {
                    wrong[i] += 1;
                    format!("**{word}**")
                }
            })
            .collect();
        let version = if case.version.is_v5() { "5.0" } else { "3.1.1" };
        println!(
            "| {version} | {} | {} | {} |",
            case.name,
            case.rule,
            cells.join(" | ")
        );
    }
    let totals: Vec<String> = wrong.iter().map(usize::to_string).collect();
    println!("| | **wrong outcomes** | | {} |", totals.join(" | "));
}
