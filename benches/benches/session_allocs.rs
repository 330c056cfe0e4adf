//! Heap allocations per session round trip (see the `session` bench),
//! counted with an instrumented global allocator. Prints a Markdown table.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::cast_precision_loss
)]

use mqttkit_benches::session_pair::{Pair, workloads};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ROUND_TRIPS: u32 = 1_000;

fn main() {
    println!("| workload | allocations per round trip | bytes allocated per round trip |");
    println!("|---|---|---|");
    for (name, version, qos, len, aliases) in workloads() {
        let mut pair = Pair::new(version, qos, len, aliases);
        // Warm up: buffers and tables reach their steady size.
        for _ in 0..100 {
            pair.round_trip();
        }
        let region = Region::new(GLOBAL);
        for _ in 0..ROUND_TRIPS {
            pair.round_trip();
        }
        let stats = region.change();
        println!(
            "| {name} | {:.3} | {:.1} |",
            stats.allocations as f64 / f64::from(ROUND_TRIPS),
            stats.bytes_allocated as f64 / f64::from(ROUND_TRIPS)
        );
    }
}
