//! Heap allocations and CPU time per message of the tokio clients (see the
//! `client` bench), counted with an instrumented global allocator over a
//! fixed number of messages. Prints a Markdown table.
//!
//! The allocator counts every thread, the sink's included; the sink
//! allocates nothing once connected, which the raw row (a client that
//! allocates nothing either) shows. CPU times come from procfs: the sink's
//! thread, and the process minus the sink for the client.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::arithmetic_side_effects
)]

use std::time::{Duration, Instant};

use mqttkit_benches::client_tcp::{Connected, Mode, Sink, process_cpu_time, runtime, workloads};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this
    // once without it, where a few messages are enough.
    let full = std::env::args().any(|arg| arg == "--bench");
    // `cargo bench --bench client_allocs -- rumqttc` measures only the rows
    // whose client or workload name contains the word.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let sink = Sink::start();
    let rt = runtime();
    println!(
        "| workload | client | msgs/s | allocations per message | bytes allocated per message | client CPU per message | sink CPU / wall time |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (workload, peers) in workloads() {
        let messages: u64 = match (full, workload.mode) {
            (false, _) => 1_000,
            (true, Mode::Pipelined) => 400_000,
            (true, Mode::Sequential) => 50_000,
        };
        for peer in peers {
            let row = format!("{} {}", workload.name(), peer.name());
            if filter
                .as_ref()
                .is_some_and(|word| !row.contains(word.as_str()))
            {
                continue;
            }
            let mut client = Connected::connect(&rt, peer, sink.addr());
            // Warm up: buffers, tables and channels reach their steady size.
            client.run(&rt, workload, messages / 10);
            let cpu = process_cpu_time();
            let sink_cpu = sink.cpu_time();
            let region = Region::new(GLOBAL);
            let start = Instant::now();
            client.run(&rt, workload, messages);
            let wall = start.elapsed();
            let stats = region.change();
            let sink_cpu = sink.cpu_time().zip(sink_cpu).map(|(b, a)| b - a);
            let client_cpu = process_cpu_time()
                .zip(cpu)
                .map(|(b, a)| b - a)
                .zip(sink_cpu)
                .map(|(total, sink)| total.saturating_sub(sink));
            let per_message = messages as f64;
            let micros = |d: Option<Duration>| {
                d.map_or("–".to_owned(), |d| {
                    format!("{:.2} µs", d.as_secs_f64() * 1e6 / per_message)
                })
            };
            let share = sink_cpu.map_or("–".to_owned(), |d| {
                format!("{:.0} %", d.as_secs_f64() * 100.0 / wall.as_secs_f64())
            });
            println!(
                "| {} | {} | {:.0} | {:.3} | {:.1} | {} | {} |",
                workload.name(),
                peer.name(),
                per_message / wall.as_secs_f64(),
                stats.allocations as f64 / per_message,
                stats.bytes_allocated as f64 / per_message,
                micros(client_cpu),
                share,
            );
            client.close(&rt);
        }
    }
}
