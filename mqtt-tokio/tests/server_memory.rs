//! What an idle server connection costs: 5,000 clients, each CONNECTed
//! (5.0, keep alive 60 s) with one granted subscription, then quiet. Live
//! heap bytes are counted by a global allocator (the workspace forbids the
//! `unsafe` a hand-written one needs, so `stats_alloc` wraps the system
//! allocator), before the drivers start and once they are all idle.
//!
//! Counted per connection: the driver task (its future: socket, read
//! buffer, timer), the state shared with the handles (the session inline),
//! the session's own allocations (client identifier, subscription), the
//! `Connection` handle and `ConnectionEvents` the broker keeps. Not
//! counted: the kernel's socket buffers, and the runtime's registration of
//! each socket, made when it is accepted (reported apart).
//!
//! Real TCP sockets on 127.0.0.1 when the open-file limit allows two per
//! connection, else `tokio::io::duplex` pairs (then the registration is
//! the duplex's buffers). Run with `--nocapture` for the numbers. One test
//! in this binary, so nothing else allocates meanwhile.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss
)]

use std::alloc::System;
use std::time::Duration;

use mqttkit_session::bytes::BytesMut;
use mqttkit_session::{
    Connect, Encoder, MqttString, Packet, PacketId, ProtocolVersion, ServerEvent, Subscribe,
};
use mqttkit_tokio::server::{Connecting, ConnectionEvent, ConnectionOptions, ServerConfig};
use mqttkit_tokio::transport::Io;
use mqttkit_tokio::{QoS, SubAckReasonCode, SubscriptionOptions, TopicFilter};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CONNECTIONS: usize = 5_000;

/// The bound this test holds the driver to: mosquitto keeps an idle client
/// in about 1 KiB; a session with one subscription is under 1 KiB by
/// itself, and the driver task with its timer, socket and read buffer must
/// add less than as much again.
const BOUND: usize = 2 * 1024;

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
fn hello(i: usize) -> BytesMut {
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
    out
}

/// Accepts one connection with the driver and grants its subscription;
/// the broker keeps the handle and the events.
async fn start<S: Io>(
    stream: S,
    options: &ConnectionOptions,
) -> (
    mqttkit_tokio::server::Connection,
    mqttkit_tokio::server::ConnectionEvents,
) {
    let connecting = Connecting::read(stream, options).await.unwrap();
    let (connection, mut events) = connecting
        .accept(None, ServerConfig::default())
        .await
        .unwrap();
    let event = events.recv().await;
    let Some(ConnectionEvent::Session(ServerEvent::Subscribe {
        packet_id,
        requests,
        ..
    })) = event
    else {
        panic!("expected SUBSCRIBE, got {event:?}");
    };
    let codes = requests
        .iter()
        .map(|r| SubAckReasonCode::granted(r.options.qos))
        .collect();
    connection.suback(packet_id, codes).unwrap();
    (connection, events)
}

/// Reads CONNACK and SUBACK at the client (without allocating).
async fn read_acks<S: tokio::io::AsyncRead + Unpin>(client: &mut S) {
    // CONNACK 5.0 with properties and SUBACK: at least 5 + 6 bytes.
    let mut got = 0;
    let mut buf = [0u8; 256];
    while got < 11 {
        let n = client.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed by the server");
        got += n;
    }
}

/// Starts the driver on each of `servers` (kept in `handles`), reads every
/// client's acknowledgements and lets the drivers go quiet; returns the
/// live bytes per connection since `before`. The emptied `servers` keeps
/// its allocation, which `before` counted, so it does not skew the result.
async fn serve_all<S: Io, C: tokio::io::AsyncRead + Unpin>(
    servers: &mut Vec<S>,
    clients: &mut [C],
    options: &ConnectionOptions,
    handles: &mut Vec<(
        mqttkit_tokio::server::Connection,
        mqttkit_tokio::server::ConnectionEvents,
    )>,
    before: isize,
) -> isize {
    for server in servers.drain(..) {
        handles.push(start(server, options).await);
    }
    for client in clients {
        read_acks(client).await;
    }
    // Let every driver finish its loop and go quiet.
    tokio::time::sleep(Duration::from_millis(200)).await;
    (live_bytes() - before) / CONNECTIONS as isize
}

#[test]
fn idle_connection_with_one_subscription_costs_under_2_kib() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let limit = open_file_limit().unwrap_or(0);
        let tcp = limit >= 2 * CONNECTIONS + 256;
        let options = ConnectionOptions::new();
        let mut handles = Vec::with_capacity(CONNECTIONS);
        let hellos: Vec<BytesMut> = (0..CONNECTIONS).map(hello).collect();
        let per_connection;
        let per_socket;
        if tcp {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut clients = Vec::with_capacity(CONNECTIONS);
            let mut servers = Vec::with_capacity(CONNECTIONS);
            let before_sockets = live_bytes();
            for hello in &hellos {
                let mut client = TcpStream::connect(addr).await.unwrap();
                client.write_all(hello).await.unwrap();
                clients.push(client);
                servers.push(listener.accept().await.unwrap().0);
            }
            let before = live_bytes();
            per_socket = (before - before_sockets) / (2 * CONNECTIONS) as isize;
            per_connection =
                serve_all(&mut servers, &mut clients, &options, &mut handles, before).await;
            drop(servers);
            drop(clients);
        } else {
            println!("open-file limit {limit}: duplex pairs instead of TCP");
            let mut clients = Vec::with_capacity(CONNECTIONS);
            let mut servers = Vec::with_capacity(CONNECTIONS);
            let before_sockets = live_bytes();
            for hello in &hellos {
                let (mut client, server) = tokio::io::duplex(1024);
                client.write_all(hello).await.unwrap();
                clients.push(client);
                servers.push(server);
            }
            let before = live_bytes();
            per_socket = (before - before_sockets) / CONNECTIONS as isize;
            per_connection =
                serve_all(&mut servers, &mut clients, &options, &mut handles, before).await;
        }
        println!(
            "{} idle connections over {}: {per_connection} bytes each (driver, session, handles); \
             {per_socket} bytes per socket before the driver",
            CONNECTIONS,
            if tcp { "TCP" } else { "duplex" },
        );
        assert!(
            per_connection <= BOUND as isize,
            "an idle connection costs {per_connection} bytes, above {BOUND}"
        );
        assert_eq!(handles.len(), CONNECTIONS);
        assert!(handles.iter().all(|(c, _)| c.is_connected()));
    });
}
