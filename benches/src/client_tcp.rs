//! The client workloads: one MQTT 3.1.1 client publishing 64-byte messages
//! over loopback TCP to an in-process sink that acknowledges each QoS 1
//! PUBLISH at once, for `mqttkit-tokio` and `rumqttc` (and a raw client that
//! shows what the sink alone can take).
//!
//! The sink is raw on purpose: one blocking thread per connection that
//! scans whole packets out of a fixed buffer, counts them and answers with
//! one write per read. It allocates nothing once connected and does far
//! less work per message than either client, so the client is what is
//! measured; [`Sink::cpu_time`] shows how busy it was.
//!
//! The clients run on a current-thread tokio runtime: one core for the
//! client, the other for the sink. Both are configured alike: TCP_NODELAY,
//! 64 publishes in flight at most, 64 requests queued before the
//! application waits.
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The topic every message goes to.
pub const TOPIC: &str = "plant/7/line/3/cell/12/sensor/temperature";
/// The payload size.
pub const PAYLOAD_LEN: usize = 64;
/// The most publishes in flight, and the request queue of both clients.
pub const IN_FLIGHT: usize = 64;

static PAYLOAD: [u8; PAYLOAD_LEN] = [0x5A; PAYLOAD_LEN];

/// The client crates measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// This workspace's tokio driver.
    Mqttkit,
    /// `rumqttc`'s `AsyncClient` with its `EventLoop` polled in a task.
    Rumqttc,
    /// Pre-encoded packets written by a blocking thread: the sink's
    /// capacity, not a client.
    Raw,
}

impl Peer {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mqttkit => "mqttkit-tokio",
            Self::Rumqttc => "rumqttc",
            Self::Raw => "raw (sink capacity)",
        }
    }
}

/// How the application publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// [`IN_FLIGHT`] publishes outstanding at any time.
    Pipelined,
    /// Each publish waits for its PUBACK before the next starts.
    Sequential,
}

/// One measured combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// The QoS of every message (0 or 1).
    pub qos: u8,
    /// Pipelined or sequential.
    pub mode: Mode,
}

impl Workload {
    /// The name in reports.
    pub fn name(self) -> String {
        let mode = match self.mode {
            Mode::Pipelined => "pipelined",
            Mode::Sequential => "sequential",
        };
        format!("QoS {} {mode}", self.qos)
    }
}

/// The workloads, and the peers each is measured for. Sequential QoS 0 is
/// left out: `rumqttc`'s publish returns once queued, so it would be the
/// pipelined workload again for it. The raw client's sequential row is the
/// loopback round trip with nothing but the two system calls.
pub fn workloads() -> Vec<(Workload, Vec<Peer>)> {
    let all = vec![Peer::Mqttkit, Peer::Rumqttc, Peer::Raw];
    vec![
        (
            Workload {
                qos: 0,
                mode: Mode::Pipelined,
            },
            all.clone(),
        ),
        (
            Workload {
                qos: 1,
                mode: Mode::Pipelined,
            },
            all,
        ),
        (
            Workload {
                qos: 1,
                mode: Mode::Sequential,
            },
            vec![Peer::Mqttkit, Peer::Rumqttc, Peer::Raw],
        ),
    ]
}

/// A current-thread runtime, as the clients run on.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// CPU time (user + system) from a `/proc/.../stat` line; `None` where
/// there is no procfs.
fn stat_cpu_time(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name in parentheses may hold spaces: count from after it.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split_whitespace();
    // Fields 14 and 15 of proc(5) are the 12th and 13th after the name.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // The kernel's USER_HZ, 100 on every Linux this runs on.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU time of the whole process so far.
pub fn process_cpu_time() -> Option<Duration> {
    stat_cpu_time("/proc/self/stat")
}

/// What a sink connection thread publishes to the bench.
#[derive(Debug, Default)]
struct SinkStats {
    /// PUBLISH packets received, on every connection.
    messages: AtomicU64,
    /// The kernel thread id of the latest connection's thread (0: none).
    tid: AtomicU64,
}

/// The acknowledging sink: a listener on 127.0.0.1 and one thread per
/// connection.
#[derive(Debug)]
pub struct Sink {
    addr: SocketAddr,
    stats: Arc<SinkStats>,
}

impl Sink {
    /// Binds a free port of 127.0.0.1 and accepts connections in a
    /// background thread for as long as the process runs.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(SinkStats::default());
        let accepted = Arc::clone(&stats);
        // Named so that profiles tell the sink's work from the client's.
        let accept = move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let stats = Arc::clone(&accepted);
                let serving = std::thread::Builder::new().name("sink".into());
                drop(serving.spawn(move || serve(stream, &stats)));
            }
        };
        let accepting = std::thread::Builder::new().name("sink-accept".into());
        accepting.spawn(accept).unwrap();
        Self { addr, stats }
    }

    /// Where the sink listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PUBLISH packets received so far, on every connection.
    pub fn messages(&self) -> u64 {
        self.stats.messages.load(Ordering::Relaxed)
    }

    /// CPU time of the latest connection's thread so far.
    pub fn cpu_time(&self) -> Option<Duration> {
        let tid = self.stats.tid.load(Ordering::Relaxed);
        stat_cpu_time(&format!("/proc/self/task/{tid}/stat"))
    }
}

/// The kernel thread id of the calling thread.
fn thread_id() -> u64 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|path| path.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

/// The sink's read buffer: far above the largest packet a workload sends.
const SINK_BUFFER: usize = 64 * 1024;

/// Serves one connection until it ends or breaks a rule the sink needs.
fn serve(mut stream: TcpStream, stats: &SinkStats) {
    stats.tid.store(thread_id(), Ordering::Relaxed);
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let mut buf = vec![0u8; SINK_BUFFER];
    // At most one 5-byte answer per 2-byte packet read.
    let mut out = Vec::with_capacity(SINK_BUFFER / 2 * 5 + 5);
    let mut end = 0;
    loop {
        let Ok(n) = stream.read(&mut buf[end..]) else {
            return;
        };
        if n == 0 {
            return;
        }
        end += n;
        let mut start = 0;
        let mut messages = 0;
        while let Some((header, body, len)) = packet(&buf[start..end]) {
            let body = &buf[start + body..start + len];
            match header >> 4 {
                // CONNECT: accept; 5.0 has a properties length.
                1 => match body.get(6) {
                    Some(5) => out.extend_from_slice(&[0x20, 3, 0, 0, 0]),
                    Some(_) => out.extend_from_slice(&[0x20, 2, 0, 0]),
                    None => return,
                },
                // PUBLISH: QoS 1 gets PUBACK, QoS 2 PUBREC.
                3 => {
                    messages += 1;
                    let qos = (header >> 1) & 3;
                    if qos > 0 {
                        let Some(&[hi, lo]) = body.get(..2) else {
                            return;
                        };
                        let topic_len = usize::from(u16::from_be_bytes([hi, lo]));
                        let Some(&[a, b]) = body.get(2 + topic_len..4 + topic_len) else {
                            return;
                        };
                        let kind = if qos == 1 { 0x40 } else { 0x50 };
                        out.extend_from_slice(&[kind, 2, a, b]);
                    }
                }
                // PUBREL: PUBCOMP.
                6 => match body.get(..2) {
                    Some(&[a, b]) => out.extend_from_slice(&[0x70, 2, a, b]),
                    _ => return,
                },
                // PINGREQ: PINGRESP.
                12 => out.extend_from_slice(&[0xD0, 0]),
                // DISCONNECT.
                14 => return,
                _ => {}
            }
            start += len;
        }
        if start == 0 && end == buf.len() {
            // A packet larger than the buffer: not one the benches send.
            return;
        }
        buf.copy_within(start..end, 0);
        end -= start;
        stats.messages.fetch_add(messages, Ordering::Relaxed);
        if !out.is_empty() {
            if stream.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
    }
}

/// The first byte, the offset of the body and the whole length of the
/// packet at the start of `bytes`, once all of it is there.
fn packet(bytes: &[u8]) -> Option<(u8, usize, usize)> {
    let header = *bytes.first()?;
    let mut remaining = 0usize;
    for i in 0..4 {
        let byte = *bytes.get(1 + i)?;
        remaining |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            let len = 2 + i + remaining;
            return (bytes.len() >= len).then_some((header, 2 + i, len));
        }
    }
    // A Remaining Length over four bytes: stop reading the stream.
    None
}

/// A 3.1.1 PUBLISH of the payload to [`TOPIC`].
fn encode_publish(out: &mut Vec<u8>, qos: u8, packet_id: u16) {
    let id_len = if qos > 0 { 2 } else { 0 };
    let remaining = 2 + TOPIC.len() + id_len + PAYLOAD_LEN;
    assert!(remaining < 128, "one-byte Remaining Length");
    out.push(0x30 | (qos << 1));
    out.push(remaining as u8);
    out.extend_from_slice(&(TOPIC.len() as u16).to_be_bytes());
    out.extend_from_slice(TOPIC.as_bytes());
    if qos > 0 {
        out.extend_from_slice(&packet_id.to_be_bytes());
    }
    out.extend_from_slice(&PAYLOAD);
}

/// `rumqttc`'s acknowledgements, counted by the task that polls its event
/// loop.
#[derive(Debug, Default)]
struct Acks {
    received: AtomicU64,
    /// The count the application waits for.
    target: AtomicU64,
    reached: Notify,
}

impl Acks {
    /// Waits until `target` PUBACKs were received in all.
    async fn wait_for(&self, target: u64) {
        self.target.store(target, Ordering::Relaxed);
        while self.received.load(Ordering::Relaxed) < target {
            self.reached.notified().await;
        }
    }
}

/// A connected client of one of the peers.
#[derive(Debug)]
pub struct Connected(Inner);

#[derive(Debug)]
enum Inner {
    /// `mqttkit-tokio`; the events are kept so the driver keeps running.
    Mqttkit {
        client: mqttkit_tokio::Client,
        events: mqttkit_tokio::Events,
    },
    /// `rumqttc`, its event loop polled by `task`, which counts PUBACKs.
    Rumqttc {
        client: rumqttc::AsyncClient,
        acks: Arc<Acks>,
        task: JoinHandle<()>,
    },
    /// A plain socket writing pre-encoded packets: [`IN_FLIGHT`] QoS 0 and
    /// QoS 1 PUBLISH packets in `batches`.
    Raw {
        stream: TcpStream,
        batches: [Vec<u8>; 2],
    },
}

impl Connected {
    /// Connects `peer` to the sink at `addr` with MQTT 3.1.1, Clean
    /// Session, keep alive 60 s.
    pub fn connect(rt: &Runtime, peer: Peer, addr: SocketAddr) -> Self {
        match peer {
            Peer::Mqttkit => rt.block_on(async {
                let options =
                    mqttkit_tokio::ConnectOptions::new(addr.ip().to_string(), addr.port())
                        .client_id("bench-mqttkit")
                        .protocol_version(mqttkit_tokio::ProtocolVersion::V3_1_1)
                        .command_capacity(IN_FLIGHT);
                let (client, events) = mqttkit_tokio::Client::connect(options).await.unwrap();
                Self(Inner::Mqttkit { client, events })
            }),
            Peer::Rumqttc => rt.block_on(async {
                let mut options =
                    rumqttc::MqttOptions::new("bench-rumqttc", addr.ip().to_string(), addr.port());
                options
                    .set_inflight(IN_FLIGHT as u16)
                    .set_request_channel_capacity(IN_FLIGHT);
                let (client, mut eventloop) = rumqttc::AsyncClient::new(options, IN_FLIGHT);
                let mut network = rumqttc::NetworkOptions::new();
                network.set_tcp_nodelay(true);
                eventloop.set_network_options(network);
                let (connected_tx, connected) = tokio::sync::oneshot::channel();
                let mut connected_tx = Some(connected_tx);
                let acks = Arc::new(Acks::default());
                let counter = Arc::clone(&acks);
                let task = tokio::spawn(async move {
                    use rumqttc::{Event, Packet};
                    loop {
                        match eventloop.poll().await {
                            Ok(Event::Incoming(Packet::PubAck(_))) => {
                                let received = counter.received.fetch_add(1, Ordering::Relaxed) + 1;
                                if received == counter.target.load(Ordering::Relaxed) {
                                    counter.reached.notify_one();
                                }
                            }
                            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                                if let Some(tx) = connected_tx.take() {
                                    let _ = tx.send(());
                                }
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                connected.await.unwrap();
                Self(Inner::Rumqttc { client, acks, task })
            }),
            Peer::Raw => {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                // CONNECT, 3.1.1, Clean Session, keep alive 60 s, id "raw".
                stream
                    .write_all(&[
                        0x10, 15, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 3, b'r', b'a', b'w',
                    ])
                    .unwrap();
                let mut connack = [0u8; 4];
                stream.read_exact(&mut connack).unwrap();
                assert_eq!(connack, [0x20, 2, 0, 0]);
                let mut batches = [Vec::new(), Vec::new()];
                for (qos, batch) in batches.iter_mut().enumerate() {
                    for id in 1..=IN_FLIGHT as u16 {
                        encode_publish(batch, qos as u8, id);
                    }
                }
                Self(Inner::Raw { stream, batches })
            }
        }
    }

    /// Publishes `n` messages the way `workload` says and returns once the
    /// sink received them all: after the last PUBACK for QoS 1, after the
    /// PUBACK of one more QoS 1 message for QoS 0 (TCP delivers in order).
    pub fn run(&mut self, rt: &Runtime, workload: Workload, n: u64) {
        match &mut self.0 {
            Inner::Mqttkit { client, .. } => rt.block_on(mqttkit_run(client, workload, n)),
            Inner::Rumqttc { client, acks, .. } => {
                rt.block_on(rumqttc_run(client, acks, workload, n));
            }
            Inner::Raw { stream, batches } => match workload.mode {
                Mode::Pipelined => raw_run(stream, batches, workload.qos, n),
                Mode::Sequential => raw_sequential(stream, &batches[1], n),
            },
        }
    }

    /// Disconnects and waits until the client is done.
    pub fn close(self, rt: &Runtime) {
        match self.0 {
            Inner::Mqttkit { client, events } => rt.block_on(async move {
                client.disconnect().await.unwrap();
                drop(events);
            }),
            Inner::Rumqttc { client, task, .. } => rt.block_on(async move {
                client.disconnect().await.unwrap();
                // The event loop ends when the sink closes the socket.
                let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
            }),
            Inner::Raw { mut stream, .. } => {
                stream.write_all(&[0xE0, 0]).unwrap();
            }
        }
    }
}

fn mqttkit_qos(qos: u8) -> mqttkit_tokio::QoS {
    if qos == 0 {
        mqttkit_tokio::QoS::AtMostOnce
    } else {
        mqttkit_tokio::QoS::AtLeastOnce
    }
}

fn rumqttc_qos(qos: u8) -> rumqttc::QoS {
    if qos == 0 {
        rumqttc::QoS::AtMostOnce
    } else {
        rumqttc::QoS::AtLeastOnce
    }
}

/// Each publish awaited; pipelined, by [`IN_FLIGHT`] tasks that share the
/// messages, as an application with concurrent publishers would.
async fn mqttkit_run(client: &mqttkit_tokio::Client, workload: Workload, n: u64) {
    let qos = mqttkit_qos(workload.qos);
    let payload = Bytes::from_static(&PAYLOAD);
    match workload.mode {
        Mode::Sequential => {
            for _ in 0..n {
                client.publish(TOPIC, qos, payload.clone()).await.unwrap();
            }
        }
        Mode::Pipelined => {
            let tasks = IN_FLIGHT as u64;
            let mut set = tokio::task::JoinSet::new();
            for t in 0..tasks.min(n) {
                let share = n / tasks + u64::from(t < n % tasks);
                let client = client.clone();
                let payload = payload.clone();
                set.spawn(async move {
                    for _ in 0..share {
                        client.publish(TOPIC, qos, payload.clone()).await.unwrap();
                    }
                });
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
        }
    }
    if workload.qos == 0 {
        let fence = mqttkit_tokio::QoS::AtLeastOnce;
        client.publish(TOPIC, fence, payload).await.unwrap();
    }
}

/// `publish_bytes` (the payload is not copied) from one task while another
/// polls the event loop, the way rumqttc's documentation shows; its
/// request queue and in-flight limit keep [`IN_FLIGHT`] outstanding.
/// Sequential waits for each PUBACK through the event loop's task.
async fn rumqttc_run(client: &rumqttc::AsyncClient, acks: &Acks, workload: Workload, n: u64) {
    let qos = rumqttc_qos(workload.qos);
    let payload = Bytes::from_static(&PAYLOAD);
    let mut expected = acks.received.load(Ordering::Relaxed);
    match workload.mode {
        Mode::Sequential => {
            for _ in 0..n {
                expected += 1;
                client
                    .publish_bytes(TOPIC, qos, false, payload.clone())
                    .await
                    .unwrap();
                acks.wait_for(expected).await;
            }
        }
        Mode::Pipelined => {
            for _ in 0..n {
                client
                    .publish_bytes(TOPIC, qos, false, payload.clone())
                    .await
                    .unwrap();
            }
            if workload.qos == 1 {
                expected += n;
            }
        }
    }
    if workload.qos == 0 {
        expected += 1;
        client
            .publish_bytes(TOPIC, rumqttc::QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    acks.wait_for(expected).await;
}

/// Writes one QoS 1 PUBLISH and reads its PUBACK, `n` times.
fn raw_sequential(stream: &mut TcpStream, batch: &[u8], n: u64) {
    let publish = &batch[..batch.len() / IN_FLIGHT];
    let mut puback = [0u8; 4];
    for _ in 0..n {
        stream.write_all(publish).unwrap();
        stream.read_exact(&mut puback).unwrap();
    }
}

/// Writes the packets in batches of [`IN_FLIGHT`] from one thread while
/// this one reads the acknowledgements.
fn raw_run(stream: &mut TcpStream, batches: &[Vec<u8>; 2], qos: u8, n: u64) {
    let batch = &batches[usize::from(qos > 0)];
    let per_batch = IN_FLIGHT as u64;
    let mut writer = stream.try_clone().unwrap();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut left = n;
            while left > 0 {
                let count = left.min(per_batch);
                let bytes = batch.len() / IN_FLIGHT * count as usize;
                writer.write_all(&batch[..bytes]).unwrap();
                left -= count;
            }
            if qos == 0 {
                let fence = &batches[1];
                writer.write_all(&fence[..fence.len() / IN_FLIGHT]).unwrap();
            }
        });
        let acks = if qos == 0 { 1 } else { n };
        let mut left = acks as usize * 4;
        let mut buf = [0u8; 4096];
        while left > 0 {
            let read = stream.read(&mut buf[..left.min(4096)]).unwrap();
            assert!(read > 0, "the sink closed the connection");
            left -= read;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every peer's messages reach the sink, and each run returns only
    /// once they have.
    #[test]
    fn every_peer_delivers_every_message() {
        let sink = Sink::start();
        let rt = runtime();
        for (workload, peers) in workloads() {
            for peer in peers {
                let mut client = Connected::connect(&rt, peer, sink.addr());
                let before = sink.messages();
                client.run(&rt, workload, 1000);
                let fence = u64::from(workload.qos == 0);
                assert_eq!(
                    sink.messages() - before,
                    1000 + fence,
                    "{} {}",
                    peer.name(),
                    workload.name()
                );
                client.close(&rt);
            }
        }
    }

    #[test]
    fn packet_lengths() {
        assert_eq!(packet(&[0xC0, 0]), Some((0xC0, 2, 2)));
        assert_eq!(packet(&[0x30, 3, 0, 1]), None);
        assert_eq!(packet(&[0x30, 0x80, 1]), None);
        let mut long = vec![0x30, 0x80, 0x01];
        long.resize(3 + 128, 0);
        assert_eq!(packet(&long), Some((0x30, 3, 131)));
        assert_eq!(packet(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0]), None);
    }
}
