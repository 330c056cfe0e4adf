//! A store-and-forward telemetry gateway on `mqttkit-session`: readings come
//! in from stdin, a TCP listener or a built-in device simulator, go out to
//! an MQTT broker at QoS 1 or 2, and survive a killed gateway, a restarted
//! broker and a dead link.
//!
//! ```text
//! # a simulated device numbering 10000 readings, 200 per second
//! cargo run -p mqttkit-session --example gateway -- \
//!     --broker 127.0.0.1:1883 --state /var/lib/gw/session.log --simulate 10000 --rate 200
//! # `topic value` or JSON lines on stdin, one per reading, at QoS 2
//! some-device | cargo run -p mqttkit-session --example gateway -- --qos 2 --state gw.log
//! # devices connect over TCP; each durable reading is answered with `ok`
//! cargo run -p mqttkit-session --example gateway -- --listen 127.0.0.1:7000 --state gw.log
//! ```
//!
//! # Durability
//!
//! The session is kept in an append-only log file (`--state`). A reading is
//! *accepted* when its record is in the log and the log is fsynced; a TCP
//! device is answered `ok` only then, and the simulator numbers readings on
//! from the last accepted one after a restart. Before any byte leaves for
//! the broker, every [`PersistOp`] the session produced is appended and
//! fsynced (the crate holds `poll_transmit` back until `poll_persist` is
//! drained), so a PUBLISH is never on the wire without its record.
//!
//! An append-only file rather than an embedded store (sled, redb, SQLite):
//! no extra dependency for an example people copy, and it is crash
//! consistent by construction. Records are only appended; each carries a
//! length and a CRC-32, so a write torn by a crash is recognised and cut
//! off on the next start, and everything before it is intact. The file is
//! compacted (rewritten from the live state into a temporary file, fsynced,
//! renamed over the old one) on every start and whenever it grows past
//! `--compact-bytes`.
//!
//! # Restart
//!
//! The session is rebuilt with [`Session::from_records`] from the
//! outbound records in the log; the readings that were never sent are
//! submitted again in their order. On connect the session resends the
//! in-flight messages in their original order with DUP set, then sends the
//! queue (DUP 0). When the broker has lost the session (Session Present 0)
//! the session hands every message back ([`Event::SessionLost`],
//! [`Event::Returned`]) and the gateway submits them again: a reading the
//! broker had already received (QoS 1, or QoS 2 past PUBREC) may then
//! arrive twice, which a gateway must prefer to losing it.
//!
//! # Bound and backpressure
//!
//! At most `--max-buffered` readings (queued plus in flight) are held. At
//! the bound the gateway says so and stops reading input: stdin and TCP
//! devices block on their writes (TCP flow control), the simulator pauses.
//! Nothing is dropped silently. A reading the broker can never take (too
//! large, QoS not supported) is logged as dropped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use std::collections::BTreeMap;
use std::error::Error;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use mqttkit_session::TopicName;
use mqttkit_session::{
    Client, ClientConfig, Event, InboundRecord, Instant, Message, OutboundRecord, PersistOp,
    Session,
};
use mqttkit_session::{
    Connect, Disconnect, DisconnectReasonCode, MqttString, ProtocolVersion, QoS,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

type BoxError = Box<dyn Error + Send + Sync>;

// ---------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------

/// Where readings come from.
#[derive(Debug, Clone)]
enum Source {
    Stdin,
    Listen(String),
    Simulate { count: u64, rate: u64 },
}

#[derive(Debug, Clone)]
struct Args {
    broker: String,
    client_id: String,
    state: PathBuf,
    qos: QoS,
    version: ProtocolVersion,
    source: Source,
    max_buffered: usize,
    topic_prefix: String,
    max_backoff: Duration,
    keep_alive: u16,
    compact_bytes: u64,
    session_expiry: u32,
}

const USAGE: &str = "usage: gateway [--broker HOST:PORT] [--client-id ID] [--state FILE] \
[--qos 1|2] [--mqtt 5|3.1.1] [--listen ADDR | --simulate N [--rate R]] [--max-buffered N] \
[--topic-prefix P] [--max-backoff-ms MS] [--keep-alive S] [--compact-bytes N] [--session-expiry S]";

fn parse_args() -> Result<Args, BoxError> {
    let mut a = Args {
        broker: "127.0.0.1:1883".into(),
        client_id: "telemetry-gateway".into(),
        state: "gateway-session.log".into(),
        qos: QoS::AtLeastOnce,
        version: ProtocolVersion::V5,
        source: Source::Stdin,
        max_buffered: 10_000,
        topic_prefix: "telemetry".into(),
        max_backoff: Duration::from_secs(5),
        keep_alive: 10,
        compact_bytes: 4 << 20,
        session_expiry: 7 * 24 * 3600,
    };
    let mut rate = 100;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--broker" => a.broker = value,
            "--client-id" => a.client_id = value,
            "--state" => a.state = value.into(),
            "--qos" => {
                a.qos = match value.as_str() {
                    "1" => QoS::AtLeastOnce,
                    "2" => QoS::ExactlyOnce,
                    _ => return Err("--qos is 1 or 2".into()),
                }
            }
            "--mqtt" => {
                a.version = match value.as_str() {
                    "5" => ProtocolVersion::V5,
                    "3.1.1" => ProtocolVersion::V3_1_1,
                    _ => return Err("--mqtt is 5 or 3.1.1".into()),
                }
            }
            "--listen" => a.source = Source::Listen(value),
            "--simulate" => {
                a.source = Source::Simulate {
                    count: value.parse()?,
                    rate,
                }
            }
            "--rate" => {
                rate = value.parse::<u64>()?.max(1);
                if let Source::Simulate { rate: r, .. } = &mut a.source {
                    *r = rate;
                }
            }
            "--max-buffered" => a.max_buffered = value.parse::<usize>()?.max(1),
            "--topic-prefix" => a.topic_prefix = value,
            "--max-backoff-ms" => a.max_backoff = Duration::from_millis(value.parse()?),
            "--keep-alive" => a.keep_alive = value.parse()?,
            "--compact-bytes" => a.compact_bytes = value.parse()?,
            "--session-expiry" => a.session_expiry = value.parse()?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}").into()),
        }
    }
    Ok(a)
}

// ---------------------------------------------------------------------
// The append-only session log
// ---------------------------------------------------------------------

/// One log record. The session's own [`PersistOp`]s, plus what the crate
/// leaves to the application: readings accepted but never sent, and where
/// they went after a lost session.
#[derive(Debug, Clone)]
enum Rec {
    /// A reading accepted and submitted as operation `op`.
    Accept { op: u64, message: Message },
    /// [`PersistOp::PutOutbound`]: the reading `record.op` is in flight.
    Put(OutboundRecord),
    /// [`PersistOp::RemoveOutbound`].
    Remove(u16),
    /// [`PersistOp::PutInbound`].
    PutIn(InboundRecord),
    /// [`PersistOp::RemoveInbound`].
    RemoveIn(u16),
    /// After a lost session, operation `old` was submitted again as `new`.
    Renumber { old: u64, new: u64 },
    /// Operation `op` failed for good; it was reported and dropped.
    Dropped { op: u64 },
    /// The simulator has accepted readings up to this number.
    Cursor(u64),
    /// A broker has accepted this session once: later connects resume it.
    Established,
}

const MAGIC: &[u8; 8] = b"MQGWLOG1";

impl Rec {
    fn of(op: PersistOp) -> Option<Self> {
        Some(match op {
            PersistOp::PutOutbound(r) => Rec::Put(r),
            PersistOp::RemoveOutbound(id) => Rec::Remove(id.get()),
            PersistOp::PutInbound(r) => Rec::PutIn(r),
            PersistOp::RemoveInbound(id) => Rec::RemoveIn(id.get()),
            // The enum is non-exhaustive; a new kind needs a new record.
            _ => return None,
        })
    }

    fn encode(&self, buf: &mut BytesMut) -> Result<(), BoxError> {
        match self {
            Rec::Accept { op, message } => {
                buf.put_u8(1);
                buf.put_u64(*op);
                put_message(buf, message);
            }
            Rec::Put(r) => {
                buf.put_u8(2);
                r.encode(buf)?;
            }
            Rec::Remove(id) => {
                buf.put_u8(3);
                buf.put_u16(*id);
            }
            Rec::PutIn(r) => {
                buf.put_u8(4);
                r.encode(buf);
            }
            Rec::RemoveIn(id) => {
                buf.put_u8(5);
                buf.put_u16(*id);
            }
            Rec::Renumber { old, new } => {
                buf.put_u8(6);
                buf.put_u64(*old);
                buf.put_u64(*new);
            }
            Rec::Dropped { op } => {
                buf.put_u8(7);
                buf.put_u64(*op);
            }
            Rec::Cursor(n) => {
                buf.put_u8(8);
                buf.put_u64(*n);
            }
            Rec::Established => buf.put_u8(9),
        }
        Ok(())
    }

    fn decode(mut b: Bytes) -> Result<Self, BoxError> {
        fn need(b: &Bytes, n: usize) -> Result<(), BoxError> {
            if b.remaining() < n {
                return Err("short record".into());
            }
            Ok(())
        }
        need(&b, 1)?;
        let kind = b.get_u8();
        Ok(match kind {
            1 => {
                need(&b, 8)?;
                let op = b.get_u64();
                Rec::Accept {
                    op,
                    message: get_message(&mut b)?,
                }
            }
            2 => Rec::Put(OutboundRecord::decode(b)?),
            3 | 5 => {
                need(&b, 2)?;
                let id = b.get_u16();
                if kind == 3 {
                    Rec::Remove(id)
                } else {
                    Rec::RemoveIn(id)
                }
            }
            4 => Rec::PutIn(InboundRecord::decode(b)?),
            6 => {
                need(&b, 16)?;
                Rec::Renumber {
                    old: b.get_u64(),
                    new: b.get_u64(),
                }
            }
            7 => {
                need(&b, 8)?;
                Rec::Dropped { op: b.get_u64() }
            }
            8 => {
                need(&b, 8)?;
                Rec::Cursor(b.get_u64())
            }
            9 => Rec::Established,
            _ => return Err(format!("unknown record kind {kind}").into()),
        })
    }
}

/// The gateway only sets topic, payload, QoS and RETAIN, so that is what a
/// queued reading keeps.
fn put_message(buf: &mut BytesMut, m: &Message) {
    buf.put_u8(m.qos.bits());
    buf.put_u8(u8::from(m.retain));
    let topic = m.topic.as_str().as_bytes();
    buf.put_u16(topic.len() as u16);
    buf.put_slice(topic);
    buf.put_u32(m.payload.len() as u32);
    buf.put_slice(&m.payload);
}

fn get_message(b: &mut Bytes) -> Result<Message, BoxError> {
    if b.remaining() < 4 {
        return Err("short message".into());
    }
    let qos = QoS::try_from(b.get_u8()).map_err(|_| "bad QoS")?;
    let retain = b.get_u8() != 0;
    let n = usize::from(b.get_u16());
    if b.remaining() < n + 4 {
        return Err("short topic".into());
    }
    let topic = TopicName::try_from(std::str::from_utf8(&b.split_to(n))?)?;
    let n = b.get_u32() as usize;
    if b.remaining() < n {
        return Err("short payload".into());
    }
    let payload = b.split_to(n);
    let mut m = Message::new(topic, payload, qos);
    m.retain = retain;
    Ok(m)
}

/// CRC-32 (IEEE), bitwise: records are small and this keeps the example
/// free of dependencies.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// What the log describes: the state to rebuild the session from.
#[derive(Debug, Default)]
struct Mirror {
    /// Accepted, never sent, by operation id (submission order).
    queue: BTreeMap<u64, Message>,
    /// In flight, by packet identifier.
    outbound: BTreeMap<u16, OutboundRecord>,
    /// Inbound QoS 2 awaiting PUBREL, by packet identifier.
    inbound: BTreeMap<u16, InboundRecord>,
    cursor: u64,
    established: bool,
}

impl Mirror {
    fn apply(&mut self, rec: &Rec) {
        match rec {
            Rec::Accept { op, message } => {
                self.queue.insert(*op, message.clone());
            }
            Rec::Put(r) => {
                self.queue.remove(&r.op.get());
                self.outbound.insert(packet_id(r), r.clone());
            }
            Rec::Remove(id) => {
                self.outbound.remove(id);
            }
            Rec::PutIn(r) => {
                self.inbound.insert(r.packet_id.get(), *r);
            }
            Rec::RemoveIn(id) => {
                self.inbound.remove(id);
            }
            Rec::Renumber { old, new } => {
                if let Some(m) = self.queue.remove(old) {
                    self.queue.insert(*new, m);
                } else if let Some(id) = self
                    .outbound
                    .iter()
                    .find(|(_, r)| r.op.get() == *old)
                    .map(|(id, _)| *id)
                {
                    let r = self.outbound.remove(&id).expect("found above");
                    if let Some(topic) = r.publish.topic.clone() {
                        let mut m =
                            Message::new(topic, r.publish.payload.clone(), r.publish.qos.qos());
                        m.retain = r.publish.retain;
                        m.properties = r.publish.properties.clone();
                        m.properties.topic_alias = None;
                        self.queue.insert(*new, m);
                    }
                }
            }
            Rec::Dropped { op } => {
                self.queue.remove(op);
                self.outbound.retain(|_, r| r.op.get() != *op);
            }
            Rec::Cursor(n) => self.cursor = self.cursor.max(*n),
            Rec::Established => self.established = true,
        }
    }

    fn buffered(&self) -> usize {
        self.queue.len() + self.outbound.len()
    }

    /// The records that describe this state, for a compacted log.
    fn records(&self) -> Vec<Rec> {
        let mut recs = Vec::new();
        if self.established {
            recs.push(Rec::Established);
        }
        recs.push(Rec::Cursor(self.cursor));
        let mut out: Vec<_> = self.outbound.values().cloned().collect();
        out.sort_by_key(|r| r.seq);
        recs.extend(out.into_iter().map(Rec::Put));
        recs.extend(self.inbound.values().map(|r| Rec::PutIn(*r)));
        recs.extend(self.queue.iter().map(|(op, m)| Rec::Accept {
            op: *op,
            message: m.clone(),
        }));
        recs
    }
}

fn packet_id(r: &OutboundRecord) -> u16 {
    r.publish.qos.packet_id().map_or(0, |id| id.get())
}

/// The log file: records are staged, then written and fsynced together by
/// [`Store::commit`].
#[derive(Debug)]
struct Store {
    path: PathBuf,
    file: File,
    len: u64,
    staged: BytesMut,
    mirror: Mirror,
    fsyncs: u64,
}

impl Store {
    /// Opens (or creates) the log and replays it. A torn or corrupt tail is
    /// reported and ignored; the next compaction drops it.
    fn open(path: &Path) -> Result<(Self, bool), BoxError> {
        let mut mirror = Mirror::default();
        let existed = path.exists();
        if existed {
            let mut data = Vec::new();
            File::open(path)?.read_to_end(&mut data)?;
            let mut b = Bytes::from(data);
            if b.len() < MAGIC.len() || &b[..MAGIC.len()] != MAGIC {
                return Err(format!("{} is not a gateway log", path.display()).into());
            }
            b.advance(MAGIC.len());
            let mut count = 0u64;
            while b.has_remaining() {
                if b.remaining() < 8 {
                    eprintln!(
                        "gateway: log has a torn tail of {} bytes, ignored",
                        b.remaining()
                    );
                    break;
                }
                let len = (&b[..4]).get_u32() as usize;
                let crc = (&b[4..8]).get_u32();
                if b.remaining() < 8 + len || crc32(&b[8..8 + len]) != crc {
                    eprintln!(
                        "gateway: log has a torn tail of {} bytes, ignored",
                        b.remaining()
                    );
                    break;
                }
                b.advance(8);
                let body = b.split_to(len);
                mirror.apply(&Rec::decode(body)?);
                count += 1;
            }
            eprintln!(
                "gateway: replayed {count} log records from {}",
                path.display()
            );
        }
        let store = Self {
            path: path.to_owned(),
            file: Self::write_new(path, &mirror)?,
            len: 0,
            staged: BytesMut::new(),
            mirror,
            fsyncs: 0,
        };
        Ok((store, existed))
    }

    /// Writes `mirror` as a fresh log next to `path`, fsyncs it, renames it
    /// over `path` and fsyncs the directory; returns it opened for append.
    fn write_new(path: &Path, mirror: &Mirror) -> Result<File, BoxError> {
        let tmp = path.with_extension("compact");
        let mut buf = BytesMut::from(&MAGIC[..]);
        for rec in mirror.records() {
            frame(&rec, &mut buf)?;
        }
        let mut f = File::create(&tmp)?;
        f.write_all(&buf)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        File::open(dir.unwrap_or(Path::new(".")))?.sync_all()?;
        Ok(OpenOptions::new().append(true).open(path)?)
    }

    fn compact(&mut self) -> Result<(), BoxError> {
        self.commit()?;
        self.file = Self::write_new(&self.path, &self.mirror)?;
        self.len = self.file.metadata()?.len();
        Ok(())
    }

    /// Stages a record and applies it to the mirror; it is durable after
    /// the next [`Store::commit`], which runs before anything the record
    /// covers is sent or acknowledged.
    fn stage(&mut self, rec: Rec) -> Result<(), BoxError> {
        frame(&rec, &mut self.staged)?;
        self.mirror.apply(&rec);
        Ok(())
    }

    /// Appends the staged records and fsyncs.
    fn commit(&mut self) -> Result<bool, BoxError> {
        if self.staged.is_empty() {
            return Ok(false);
        }
        self.file.write_all(&self.staged)?;
        self.file.sync_data()?;
        self.fsyncs += 1;
        self.len += self.staged.len() as u64;
        self.staged.clear();
        Ok(true)
    }
}

fn frame(rec: &Rec, buf: &mut BytesMut) -> Result<(), BoxError> {
    let mut body = BytesMut::new();
    rec.encode(&mut body)?;
    buf.put_u32(body.len() as u32);
    buf.put_u32(crc32(&body));
    buf.put_slice(&body);
    Ok(())
}

// ---------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------

/// A reading line from a device, and who to tell once it is durable.
#[derive(Debug)]
struct Input {
    line: String,
    ack: Option<oneshot::Sender<bool>>,
}

/// `topic value` or a JSON object (its `"topic"` member names the topic,
/// else `<prefix>/json`); the whole JSON line is the payload.
fn parse_line(line: &str, prefix: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    if line.starts_with('{') {
        let topic = json_string_member(line, "topic").unwrap_or_else(|| format!("{prefix}/json"));
        return Some((topic, line.to_owned()));
    }
    let (topic, value) = line.split_once(char::is_whitespace)?;
    Some((topic.to_owned(), value.trim().to_owned()))
}

/// A string member of a flat JSON object, without a JSON library: enough
/// for `{"topic":"plant/line1/temp","value":21.5}`.
fn json_string_member(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\""))?;
    let rest = json.get(at + key.len() + 2..)?.trim_start();
    let rest = rest.strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(rest.get(..rest.find('"')?)?.to_owned())
}

fn spawn_stdin(tx: mpsc::Sender<Input>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(Input { line, ack: None }).await.is_err() {
                return;
            }
        }
    });
}

async fn spawn_listener(addr: &str, tx: mpsc::Sender<Input>) -> Result<(), BoxError> {
    let listener = TcpListener::bind(addr).await?;
    eprintln!("gateway: devices connect to {}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((sock, peer)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (rd, mut wr) = sock.into_split();
                let mut lines = BufReader::new(rd).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let (ack, done) = oneshot::channel();
                    let ack = Some(ack);
                    if tx.send(Input { line, ack }).await.is_err() {
                        return;
                    }
                    // The device learns the reading is durable; no answer
                    // means it must send it again.
                    let answer: &[u8] = match done.await {
                        Ok(true) => b"ok\n",
                        Ok(false) => b"err not a reading\n",
                        Err(_) => return,
                    };
                    if wr.write_all(answer).await.is_err() {
                        return;
                    }
                }
                eprintln!("gateway: device {peer} disconnected");
            });
        }
    });
    Ok(())
}

// ---------------------------------------------------------------------
// The gateway
// ---------------------------------------------------------------------

#[derive(Debug, Default)]
struct Stats {
    accepted: u64,
    acked: u64,
    dropped: u64,
    resubmitted: u64,
    last_accepted: u64,
    last_acked: u64,
    connects: u64,
}

#[derive(Debug)]
struct Gateway {
    args: Args,
    client: Client,
    store: Store,
    origin: std::time::Instant,
    stats: Stats,
    /// Acks for TCP devices, sent after the next commit.
    acks: Vec<(oneshot::Sender<bool>, bool)>,
    out: BytesMut,
    connected: bool,
    was_full: bool,
    state: &'static str,
    last_state: &'static str,
    last_buffered: usize,
    idle_ticks: u64,
}

impl Gateway {
    fn now(&self) -> Instant {
        Instant::from_millis(self.origin.elapsed().as_millis() as u64)
    }

    fn full(&self) -> bool {
        self.store.mirror.buffered() >= self.args.max_buffered
    }

    /// Submits a reading and stages its record.
    fn accept(
        &mut self,
        topic: &str,
        payload: String,
        cursor: Option<u64>,
    ) -> Result<(), BoxError> {
        let topic = match TopicName::try_from(topic) {
            Ok(t) => t,
            Err(err) => {
                eprintln!("gateway: reading dropped, bad topic {topic:?}: {err}");
                self.stats.dropped += 1;
                return Ok(());
            }
        };
        let message = Message::new(topic, payload, self.args.qos);
        let now = self.now();
        match self.client.publish(now, message.clone()) {
            Ok(op) => {
                self.store.stage(Rec::Accept {
                    op: op.get(),
                    message,
                })?;
                self.stats.accepted += 1;
            }
            Err(err) => {
                eprintln!("gateway: reading dropped, the broker cannot take it: {err}");
                self.stats.dropped += 1;
            }
        }
        if let Some(n) = cursor {
            self.store.stage(Rec::Cursor(n))?;
        }
        Ok(())
    }

    /// Handles events, stores what the session asks to store, then writes
    /// what it has to send: the write-ahead order of the crate.
    async fn drain(&mut self, stream: &mut Option<TcpStream>) -> Result<(), BoxError> {
        loop {
            while let Some(event) = self.client.poll_event() {
                self.on_event(event, stream)?;
            }
            while let Some(op) = self.client.poll_persist() {
                if let Some(rec) = Rec::of(op) {
                    self.store.stage(rec)?;
                }
            }
            self.store.commit()?;
            for (ack, ok) in self.acks.drain(..) {
                let _ = ack.send(ok);
            }
            self.out.clear();
            while self.client.poll_transmit(&mut self.out).is_some() {}
            if self.out.is_empty() {
                break;
            }
            if let Some(s) = stream.as_mut()
                && let Err(err) = s.write_all(&self.out).await
            {
                eprintln!("gateway: write to broker failed: {err}");
                *stream = None;
                let now = self.now();
                self.client.handle_transport_closed(now);
            }
        }
        if self.store.len > self.args.compact_bytes {
            self.store.compact()?;
        }
        Ok(())
    }

    fn on_event(&mut self, event: Event, stream: &mut Option<TcpStream>) -> Result<(), BoxError> {
        let now = self.now();
        match event {
            Event::Connected { session_present } => {
                self.connected = true;
                self.state = "connected";
                self.stats.connects += 1;
                let inflight = self.client.session().inflight().count();
                eprintln!(
                    "gateway: connected to {} (session present: {session_present}); \
                     {inflight} in flight (resent first, DUP), {} queued",
                    self.args.broker,
                    self.client.session().pending_len()
                );
                if !self.store.mirror.established {
                    self.store.stage(Rec::Established)?;
                }
            }
            Event::SessionLost => {
                eprintln!(
                    "gateway: the broker lost the session; submitting {} readings again",
                    self.store.mirror.buffered()
                );
            }
            Event::Returned { op, message, .. } => {
                // Submitted again on the new session, in original order.
                let new = self.client.publish(now, message)?;
                self.store.stage(Rec::Renumber {
                    old: op.get(),
                    new: new.get(),
                })?;
                self.stats.resubmitted += 1;
            }
            Event::Published { op, reason } => {
                self.stats.acked += 1;
                if reason.code() >= 0x80 {
                    eprintln!(
                        "gateway: broker refused reading (op {}): {reason}",
                        op.get()
                    );
                }
            }
            Event::OpFailed { op, error } => {
                eprintln!("gateway: reading dropped (op {}): {error}", op.get());
                self.stats.dropped += 1;
                self.store.stage(Rec::Dropped { op: op.get() })?;
            }
            Event::Closed(cause) => {
                eprintln!("gateway: connection closed: {cause:?}");
                self.connected = false;
                self.state = "disconnected";
                *stream = None;
                self.client.handle_transport_closed(now);
            }
            other => eprintln!("gateway: {other:?}"),
        }
        Ok(())
    }

    fn progress(&mut self) {
        let m = &self.store.mirror;
        let idle = self.stats.accepted == self.stats.last_accepted
            && self.stats.acked == self.stats.last_acked
            && self.state == self.last_state
            && m.buffered() == self.last_buffered;
        self.idle_ticks = if idle { self.idle_ticks + 1 } else { 0 };
        if idle && !self.idle_ticks.is_multiple_of(60) {
            return;
        }
        self.last_state = self.state;
        self.last_buffered = m.buffered();
        let inflight = m.outbound.len();
        let queued = m.queue.len();
        eprintln!(
            "gateway: {} | buffered {} (in flight {inflight}, queued {queued}, bound {}) | \
             in {}/s out {}/s | total accepted {} delivered {} dropped {} | log {} KiB, {} fsyncs",
            self.state,
            inflight + queued,
            self.args.max_buffered,
            self.stats.accepted - self.stats.last_accepted,
            self.stats.acked - self.stats.last_acked,
            self.stats.accepted,
            self.stats.acked,
            self.stats.dropped,
            self.store.len / 1024,
            self.store.fsyncs,
        );
        self.stats.last_accepted = self.stats.accepted;
        self.stats.last_acked = self.stats.acked;
    }

    fn connect_packet(&self) -> Result<Connect, BoxError> {
        let mut c = Connect::new(
            self.args.version,
            MqttString::try_from(self.args.client_id.as_str())?,
        );
        // Clean Start only the very first time: afterwards the broker's
        // session and our log belong together.
        c.clean_start = !self.store.mirror.established;
        c.keep_alive = self.args.keep_alive;
        if self.args.version.is_v5() {
            c.properties.session_expiry_interval = Some(self.args.session_expiry);
        }
        Ok(c)
    }
}

enum Wake {
    Read(std::io::Result<usize>),
    Timeout,
    Reconnect,
    Input(Option<Input>),
    SimTick,
    Progress,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    if let Some(dir) = args.state.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let (mut store, existed) = Store::open(&args.state)?;
    let m = &store.mirror;
    let session = Session::from_records(
        MqttString::try_from(args.client_id.as_str())?,
        m.outbound.values().cloned(),
        m.inbound.values().copied(),
    )?;
    let config = ClientConfig {
        // The gateway bounds the buffer itself; the session must never
        // refuse what was accepted.
        max_pending: args.max_buffered.max(m.buffered()) + 1024,
        persistence: true,
        ..ClientConfig::default()
    };
    let mut client = Client::new(session, config);
    let origin = std::time::Instant::now();
    // The never-sent readings go back into the session in their order, as
    // new operations; the compacted log records the new numbers.
    let queue = std::mem::take(&mut store.mirror.queue);
    let requeued = queue.len();
    for (_, message) in queue {
        let op = client.publish(Instant::from_millis(0), message.clone())?;
        store.mirror.queue.insert(op.get(), message);
    }
    store.compact()?;
    if existed {
        eprintln!(
            "gateway: restored session from {}: {} in flight (resent with DUP), {requeued} never sent, \
             simulator at reading {}",
            args.state.display(),
            store.mirror.outbound.len(),
            store.mirror.cursor
        );
    }

    let (tx, rx) = mpsc::channel::<Input>(64);
    let mut rx = Some(rx);
    let mut sim = None;
    match &args.source {
        Source::Stdin => spawn_stdin(tx),
        Source::Listen(addr) => spawn_listener(addr, tx).await?,
        Source::Simulate { count, rate } => {
            rx = None;
            sim = Some((*count, *rate));
        }
    }
    let mut gw = Gateway {
        args,
        client,
        store,
        origin,
        stats: Stats::default(),
        acks: Vec::new(),
        out: BytesMut::new(),
        connected: false,
        was_full: false,
        state: "disconnected",
        last_state: "",
        last_buffered: usize::MAX,
        idle_ticks: 0,
    };

    let mut stream: Option<TcpStream> = None;
    let mut backoff = Duration::from_millis(100);
    let mut retry_at = tokio::time::Instant::now();
    let mut buf = vec![0u8; 16 * 1024];
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sim_start = tokio::time::Instant::now();
    let sim_base = gw.store.mirror.cursor;
    let mut input_closed = false;

    loop {
        gw.drain(&mut stream).await?;
        if stream.is_none() && gw.connected {
            gw.connected = false;
            gw.state = "disconnected";
        }
        if gw.connected {
            backoff = Duration::from_millis(100);
        }
        let full = gw.full();
        if full != gw.was_full {
            gw.was_full = full;
            if full {
                eprintln!(
                    "gateway: buffer bound reached ({} readings): input paused until the broker takes more",
                    gw.args.max_buffered
                );
            } else {
                eprintln!("gateway: below the buffer bound again, input resumed");
            }
        }
        let sim_done = sim.is_some_and(|(count, _)| gw.store.mirror.cursor >= count);
        if (sim_done || input_closed) && gw.store.mirror.buffered() == 0 {
            gw.progress();
            eprintln!("gateway: all input delivered, exiting");
            if stream.is_some() {
                let now = gw.now();
                gw.client
                    .disconnect(now, Disconnect::new(DisconnectReasonCode::Success))?;
                gw.drain(&mut stream).await?;
            }
            return Ok(());
        }

        let deadline = gw
            .client
            .poll_timeout()
            .map(|at| tokio::time::Instant::now() + at.saturating_duration_since(gw.now()));
        let want_input = !full && !input_closed;
        let wake = tokio::select! {
            r = async { stream.as_mut().expect("guarded").read(&mut buf).await }, if stream.is_some() => Wake::Read(r),
            () = async { tokio::time::sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => Wake::Timeout,
            () = tokio::time::sleep_until(retry_at), if stream.is_none() => Wake::Reconnect,
            i = async { rx.as_mut().expect("guarded").recv().await }, if want_input && rx.is_some() => Wake::Input(i),
            _ = tick.tick(), if want_input && sim.is_some() && !sim_done => Wake::SimTick,
            _ = progress.tick() => Wake::Progress,
        };
        match wake {
            Wake::Read(Ok(n)) if n > 0 => {
                let now = gw.now();
                // A violation by the broker comes back as Event::Closed.
                gw.client.handle_bytes(now, &buf[..n]);
            }
            Wake::Read(r) => {
                if let Err(err) = r {
                    eprintln!("gateway: read from broker failed: {err}");
                } else {
                    eprintln!("gateway: broker closed the connection");
                }
                stream = None;
                let now = gw.now();
                gw.client.handle_transport_closed(now);
                retry_at = tokio::time::Instant::now() + backoff;
            }
            Wake::Timeout => {
                let now = gw.now();
                gw.client.handle_timeout(now);
            }
            Wake::Reconnect => {
                gw.state = "connecting";
                let attempt = tokio::time::timeout(
                    Duration::from_secs(3),
                    TcpStream::connect(&gw.args.broker),
                )
                .await;
                match attempt {
                    Ok(Ok(s)) => {
                        let _ = s.set_nodelay(true);
                        stream = Some(s);
                        let now = gw.now();
                        let c = gw.connect_packet()?;
                        gw.client.connect(now, c)?;
                    }
                    _ => {
                        gw.state = "broker unreachable";
                        // Exponential backoff with jitter, capped.
                        let jitter = u64::from(origin.elapsed().subsec_nanos() % 100);
                        retry_at =
                            tokio::time::Instant::now() + backoff + Duration::from_millis(jitter);
                        backoff = (backoff * 2).min(gw.args.max_backoff);
                    }
                }
                // If CONNACK never comes the session's timer closes the
                // connection; retry after the backoff then.
                // The backoff is reset only by CONNACK, so a broker that
                // accepts and drops connections is not hammered.
                if stream.is_some() {
                    retry_at = tokio::time::Instant::now() + backoff;
                    backoff = (backoff * 2).min(gw.args.max_backoff);
                }
            }
            Wake::Input(None) => input_closed = true,
            Wake::Input(Some(first)) => {
                let mut next = Some(first);
                // Take what is waiting, up to the bound: one fsync for all.
                while let Some(input) = next {
                    let prefix = gw.args.topic_prefix.clone();
                    let ok = match parse_line(&input.line, &prefix) {
                        Some((topic, payload)) => {
                            gw.accept(&topic, payload, None)?;
                            true
                        }
                        None => {
                            if !input.line.trim().is_empty() {
                                eprintln!("gateway: not a reading, ignored: {:?}", input.line);
                                gw.stats.dropped += 1;
                            }
                            false
                        }
                    };
                    gw.acks.extend(input.ack.map(|a| (a, ok)));
                    next = if gw.full() {
                        None
                    } else {
                        rx.as_mut().and_then(|rx| rx.try_recv().ok())
                    };
                }
            }
            Wake::SimTick => {
                let (count, rate) = sim.expect("guarded");
                let due = sim_base + (sim_start.elapsed().as_millis() as u64 * rate / 1000).max(1);
                while gw.store.mirror.cursor < due.min(count) && !gw.full() {
                    let n = gw.store.mirror.cursor + 1;
                    let topic = format!("{}/sim", gw.args.topic_prefix);
                    let payload = format!("{{\"seq\":{n},\"value\":{}.{}}}", 20 + n % 7, n % 10);
                    gw.accept(&topic, payload, Some(n))?;
                }
            }
            Wake::Progress => gw.progress(),
        }
    }
}
