//! What an idle client costs the broker: 5,000 clients, each CONNECTed
//! (5.0, keep alive 60 s) with one granted subscription, then quiet. Live
//! heap bytes are counted by a global allocator (`stats_alloc` wraps the
//! system allocator, as the workspace forbids the `unsafe` of a
//! hand-written one) before the clients connect and once they are idle.
//!
//! Counted per client: the connection's driver task and session, the
//! broker's task for its events, its entry in the client table and its
//! subscription in the index, and the runtime's registration of its socket.
//! Not counted: the kernel's socket buffers. The clients are blocking std
//! sockets on the test's thread, which allocate nothing on the heap, so
//! the count is the broker's alone.
//!
//! Then the clients leave and come back: the second round must fit in the
//! memory the first one gave back. One test in this binary, so nothing else
//! allocates meanwhile; run with `--nocapture` for the numbers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss
)]

mod support;

use std::alloc::System;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use mqttkit_broker::Broker;
use mqttkit_tokio::mqttkit_session::bytes::BytesMut;
use mqttkit_tokio::mqttkit_session::{
    Connect, Encoder, MqttString, Packet, PacketId, ProtocolVersion, Subscribe,
};
use mqttkit_tokio::{QoS, SubscriptionOptions, TopicFilter};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CONNECTIONS: usize = 5_000;

/// The bound: mosquitto keeps an idle client in about 1 KiB, and this
/// broker may take at most twice that.
const BOUND: isize = 2 * 1024;

fn live_bytes() -> isize {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

/// The soft limit on open files, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// CONNECT (keep alive 60 s) and SUBSCRIBE of client `i`, as bytes.
fn hello(i: usize) -> Vec<u8> {
    let v5 = ProtocolVersion::V5;
    let mut connect = Connect::new(v5, MqttString::try_from(format!("idle-{i:05}")).unwrap());
    connect.keep_alive = 60;
    let subscribe = Subscribe::new(
        PacketId::new(1).unwrap(),
        TopicFilter::try_from(format!("devices/{i:05}/cmd/#")).unwrap(),
        SubscriptionOptions::new(QoS::AtLeastOnce),
    );
    let mut out = BytesMut::new();
    let encoder = Encoder::new(v5);
    encoder.encode(&Packet::from(connect), &mut out).unwrap();
    encoder
        .encode(&Packet::Subscribe(subscribe), &mut out)
        .unwrap();
    out.to_vec()
}

/// Connects every client and reads its CONNACK and SUBACK, without
/// allocating: `clients` has its capacity already.
fn connect_all(addr: SocketAddr, hellos: &[Vec<u8>], clients: &mut Vec<TcpStream>) {
    let mut buf = [0u8; 256];
    for hello in hellos {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(hello).unwrap();
        // CONNACK 5.0 and SUBACK: at least 5 + 6 bytes.
        let mut got = 0;
        while got < 11 {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "closed by the broker");
            got += n;
        }
        clients.push(stream);
    }
}

/// Waits until the broker counts `n` connected clients.
fn wait_connected(broker: &Broker, n: u64) {
    for _ in 0..1_000 {
        if broker.metrics().clients_connected == n {
            // Let the tasks finish their last step and go idle.
            std::thread::sleep(Duration::from_millis(300));
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "{} clients connected, expected {n}",
        broker.metrics().clients_connected
    );
}

#[test]
fn idle_client_with_one_subscription_costs_under_2_kib_and_is_given_back() {
    // Two sockets per client in this process.
    let n = open_file_limit().map_or(CONNECTIONS, |l| CONNECTIONS.min(l.saturating_sub(200) / 2));
    assert!(n >= 500, "too few open files allowed: {n} clients");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (broker, addr) = runtime.block_on(support::start(support::config()));
    let hellos: Vec<Vec<u8>> = (0..n).map(hello).collect();
    let mut clients = Vec::with_capacity(n);
    // A first client warms up what is made once (runtime, tables).
    connect_all(addr, &hellos[..1], &mut clients);
    wait_connected(&broker, 1);
    clients.clear();
    wait_connected(&broker, 0);

    let before = live_bytes();
    connect_all(addr, &hellos, &mut clients);
    wait_connected(&broker, n as u64);
    let first = live_bytes();
    let per_client = (first - before) / n as isize;
    println!("{n} idle clients: {per_client} bytes each");

    clients.clear();
    wait_connected(&broker, 0);
    let after_close = live_bytes();
    println!(
        "after they left: {} bytes each still held (table capacity)",
        (after_close - before) / n as isize
    );
    connect_all(addr, &hellos, &mut clients);
    wait_connected(&broker, n as u64);
    let second = live_bytes();
    println!(
        "second round: {} bytes each",
        (second - before) / n as isize
    );
    assert!(per_client > 0, "nothing counted: the test is broken");
    assert!(
        per_client <= BOUND,
        "an idle client costs {per_client} bytes, above {BOUND}"
    );
    // What the first round gave back is reused: the second round ends
    // where the first did, give or take 1 %.
    assert!(
        second <= first + (first - before) / 100,
        "the second round grew the heap: {first} then {second}"
    );
    assert_eq!(broker.metrics().subscriptions, n as u64);
    drop(clients);
    drop(broker);
}
