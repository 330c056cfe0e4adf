//! A store-and-forward telemetry gateway: readings come in from stdin, a
//! TCP listener or a built-in device simulator, go out to an MQTT broker at
//! QoS 1 or 2, and survive a killed gateway, a restarted broker and a dead
//! link.
//!
//! ```text
//! # a simulated device numbering 10000 readings, 200 per second
//! cargo run -p mqttkit-tokio --example gateway -- \
//!     --broker 127.0.0.1:1883 --state /var/lib/gw/session.mqtt --simulate 10000 --rate 200
//! # `topic value` or JSON lines on stdin, one per reading, at QoS 2
//! some-device | cargo run -p mqttkit-tokio --example gateway -- --qos 2 --state gw.mqtt
//! # devices connect over TCP; each durable reading is answered with `ok`
//! cargo run -p mqttkit-tokio --example gateway -- --listen 127.0.0.1:7000 --state gw.mqtt
//! ```
//!
//! The driver does the connection, persistence and resend work:
//! [`Client::start`] with [`ConnectOptions::reconnect`] keeps connecting
//! with backoff and keeps the session, and [`FileStore`] (`--state`) keeps
//! every accepted reading on disk until the broker acknowledged it, so that
//! a restarted gateway resends what was in flight (DUP, in order) and then
//! what was never sent. What stays here is the gateway's own business:
//!
//! - A reading is *accepted* when [`Client::submit`] resolved, that is when
//!   it is in the store and synced. Only then is a TCP device answered
//!   `ok`; a device that gets no answer must send the reading again.
//! - At most `--max-buffered` readings (stored, not yet acknowledged) are
//!   held. At the bound the gateway says so and stops reading input: stdin
//!   and TCP devices block on their writes (TCP flow control), the
//!   simulator pauses. Nothing is dropped to make room.
//! - A temporary refusal by the broker (5.0 Quota exceeded, ...) is retried
//!   by the driver with backoff and is not an outcome here. A reading the
//!   broker refuses for good (Not authorized, Topic Name invalid, too
//!   large, ...) is logged with its content and counted as dropped, never
//!   as delivered.
//! - The simulator numbers its readings; after a restart it goes on after
//!   the last accepted one (see [`GatewayStore`] for how that number is
//!   kept).
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mqttkit_tokio::mqttkit_session::PersistOp;
use mqttkit_tokio::{
    Client, ConnectOptions, Delivery, Error, Event, FileStore, FileStoreOptions, Message, OpError,
    ProtocolVersion, QoS, Reconnect, Record, Store, StoreError, Stored, TopicName,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

type BoxError = Box<dyn StdError + Send + Sync>;

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
    keep_alive: u64,
    compact_bytes: u64,
    session_expiry: u64,
}

const USAGE: &str = "usage: gateway [--broker HOST:PORT] [--client-id ID] [--state FILE] \
[--qos 1|2] [--mqtt 5|3.1.1] [--listen ADDR | --simulate N [--rate R]] [--max-buffered N] \
[--topic-prefix P] [--max-backoff-ms MS] [--keep-alive S] [--compact-bytes N] [--session-expiry S]";

fn parse_args() -> Result<Args, BoxError> {
    let mut a = Args {
        broker: "127.0.0.1:1883".into(),
        client_id: "telemetry-gateway".into(),
        state: "gateway-session.mqtt".into(),
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
// The store: the driver's FileStore, watched
// ---------------------------------------------------------------------

/// What the store holds now, for the bound and the progress line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Held {
    /// Sent and not acknowledged yet.
    in_flight: usize,
    /// Accepted and not sent yet.
    queued: usize,
    /// The size of the store file.
    bytes: u64,
}

impl Held {
    fn buffered(&self) -> usize {
        self.in_flight.saturating_add(self.queued)
    }
}

/// The simulator's number in a reading it made: `{"seq":N,...}`.
fn sim_seq(topic: &str, payload: &[u8], sim_topic: &str) -> Option<u64> {
    if topic != sim_topic {
        return None;
    }
    let text = std::str::from_utf8(payload).ok()?;
    let rest = text.strip_prefix("{\"seq\":")?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest.get(..end)?.parse().ok()
}

/// The highest simulator number among the readings in `state`.
fn highest_seq(state: &Stored, sim_topic: &str) -> u64 {
    let queued = state
        .queued
        .iter()
        .filter_map(|(_, m)| sim_seq(m.topic.as_str(), &m.payload, sim_topic));
    let in_flight = state
        .outbound
        .iter()
        .filter_map(|r| sim_seq(r.publish.topic_str(), &r.publish.payload, sim_topic));
    queued.chain(in_flight).max().unwrap_or(0)
}

/// The simulator's cursor file: the highest reading number that is
/// accepted, once the store no longer shows it.
#[derive(Debug)]
struct Cursor {
    path: PathBuf,
    sim_topic: String,
    /// What the file says.
    durable: u64,
    /// The highest number ever appended to the store.
    accepted: u64,
}

impl Cursor {
    fn read(path: &Path) -> Result<u64, BoxError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(text.trim().parse()?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the file atomically: a temporary file, synced, renamed over
    /// it, and the directory synced, so a crash leaves the old or the new
    /// number, never a torn one.
    fn write(&mut self) -> std::io::Result<()> {
        use std::io::Write;
        let temp = self.path.with_extension("tmp");
        let mut file = std::fs::File::create(&temp)?;
        writeln!(file, "{}", self.accepted)?;
        file.sync_all()?;
        std::fs::rename(&temp, &self.path)?;
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty());
        std::fs::File::open(dir.unwrap_or(Path::new(".")))?.sync_all()?;
        self.durable = self.accepted;
        Ok(())
    }

    /// Writes the file before the store moves to `next`, when that would
    /// forget the newest accepted number.
    fn keep_ahead_of(&mut self, forgets: bool, next: &Stored) -> Result<(), StoreError> {
        if forgets
            && self.accepted > self.durable
            && highest_seq(next, &self.sim_topic) < self.accepted
        {
            self.write().map_err(StoreError::Io)?;
        }
        Ok(())
    }
}

/// The driver's [`FileStore`], and what the gateway learns from the
/// records going through it: how many readings are held (the bound), and
/// the simulator's cursor.
///
/// The cursor must never fall behind an accepted reading, or a restarted
/// simulator would number a reading twice (a duplicate even at QoS 2).
/// While a reading is in the store its number is there too, so on restart
/// the cursor is the larger of the highest number in the store and the
/// cursor file. The file only has to be right once the store forgets the
/// newest reading, so it is written (atomically) just before an append
/// that does: rarely while readings wait in the store, never while the
/// broker is away.
struct GatewayStore {
    inner: FileStore,
    held: Stored,
    status: watch::Sender<Held>,
    cursor: Option<Cursor>,
}

impl GatewayStore {
    fn publish(&self) {
        self.status.send_replace(Held {
            in_flight: self.held.outbound.len(),
            queued: self.held.queued.len(),
            bytes: self.inner.len(),
        });
    }
}

impl Store for GatewayStore {
    fn load(&mut self) -> Result<Stored, StoreError> {
        self.held = self.inner.load()?;
        self.publish();
        Ok(self.held.clone())
    }

    fn append(&mut self, records: &[Record]) -> Result<(), StoreError> {
        // Applied before the append so that the cursor check sees the state
        // after it; when the append fails the driver ends, and so does the
        // gateway.
        for record in records {
            self.held.apply(record);
        }
        if let Some(cursor) = &mut self.cursor {
            for record in records {
                if let Record::Accepted { message, .. } = record
                    && let Some(n) =
                        sim_seq(message.topic.as_str(), &message.payload, &cursor.sim_topic)
                {
                    cursor.accepted = cursor.accepted.max(n);
                }
            }
            let forgets = records.iter().any(|r| {
                matches!(
                    r,
                    Record::Dropped { .. } | Record::Session(PersistOp::RemoveOutbound(_))
                )
            });
            cursor.keep_ahead_of(forgets, &self.held)?;
        }
        self.inner.append(records)?;
        self.publish();
        Ok(())
    }

    fn replace(&mut self, state: &Stored) -> Result<(), StoreError> {
        // After a restart the driver rewrites the store with what it could
        // submit again.
        if let Some(cursor) = &mut self.cursor {
            cursor.keep_ahead_of(true, state)?;
        }
        self.inner.replace(state)?;
        self.held = state.clone();
        self.publish();
        Ok(())
    }
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
    let needle = format!("\"{key}\"");
    let at = json.find(&needle)?;
    let rest = json.get(at.saturating_add(needle.len())..)?.trim_start();
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
                    if tx
                        .send(Input {
                            line,
                            ack: Some(ack),
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                    // One reading at a time per device: the next line is
                    // read once this one is durable (or refused).
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

/// How a submitted reading ended.
enum Outcome {
    Delivered,
    /// Refused for good; logged.
    Dropped,
    /// The client ended first; the reading stays in the store for the
    /// next run.
    Unsettled,
}

/// Waits for the broker's answer on one reading.
async fn settle(client: Client, message: Message, mut delivery: Delivery) -> Outcome {
    loop {
        match delivery.await {
            Ok(reason) if !reason.is_error() => return Outcome::Delivered,
            Ok(reason) => {
                eprintln!(
                    "gateway: reading dropped, refused by the broker for good ({reason}): {} {}",
                    message.topic.as_str(),
                    String::from_utf8_lossy(&message.payload)
                );
                return Outcome::Dropped;
            }
            // A session the broker lost is resubmitted by the driver; a
            // full session queue then is no verdict on the reading.
            Err(Error::Op(OpError::QueueFull)) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                match client.submit(message.clone()).await {
                    Ok(again) => delivery = again,
                    Err(_) => return Outcome::Unsettled,
                }
            }
            Err(Error::Op(why)) => {
                eprintln!(
                    "gateway: reading dropped, the broker can never take it ({why}): {} {}",
                    message.topic.as_str(),
                    String::from_utf8_lossy(&message.payload)
                );
                return Outcome::Dropped;
            }
            Err(_) => return Outcome::Unsettled,
        }
    }
}

#[derive(Debug, Default)]
struct Stats {
    accepted: u64,
    delivered: u64,
    dropped: u64,
    last_accepted: u64,
    last_delivered: u64,
}

struct Gateway {
    args: Args,
    client: Client,
    held: watch::Receiver<Held>,
    settling: JoinSet<Outcome>,
    stats: Stats,
    state: &'static str,
    /// Readings found in the store at start: the driver resends them, and
    /// reports no outcome for them.
    restored: usize,
    /// The simulator's last accepted number.
    cursor: u64,
}

impl Gateway {
    fn full(&self) -> bool {
        self.held.borrow().buffered() >= self.args.max_buffered
    }

    /// Hands a reading to the driver and waits until it is durable.
    /// `false` when it is no reading (a bad topic).
    async fn accept(&mut self, topic: &str, payload: String) -> Result<bool, BoxError> {
        let topic = match TopicName::try_from(topic) {
            Ok(topic) => topic,
            Err(err) => {
                eprintln!("gateway: not a reading, bad topic {topic:?}: {err}");
                self.stats.dropped = self.stats.dropped.saturating_add(1);
                return Ok(false);
            }
        };
        let message = Message::new(topic, payload, self.args.qos);
        match self.client.submit(message.clone()).await {
            Ok(delivery) => {
                self.stats.accepted = self.stats.accepted.saturating_add(1);
                self.settling
                    .spawn(settle(self.client.clone(), message, delivery));
                Ok(true)
            }
            // The session refuses it before storing: it can never go out
            // (larger than the broker's maximum packet size, ...).
            Err(Error::Op(why)) => {
                eprintln!(
                    "gateway: reading dropped, the broker can never take it ({why}): {} {}",
                    message.topic.as_str(),
                    String::from_utf8_lossy(&message.payload)
                );
                self.stats.dropped = self.stats.dropped.saturating_add(1);
                Ok(false)
            }
            Err(err) => Err(err.into()),
        }
    }

    fn on_settled(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Delivered => self.stats.delivered = self.stats.delivered.saturating_add(1),
            Outcome::Dropped => self.stats.dropped = self.stats.dropped.saturating_add(1),
            Outcome::Unsettled => {}
        }
    }

    fn progress(&mut self) {
        let held = *self.held.borrow();
        let s = &self.stats;
        eprintln!(
            "gateway: {} | buffered {} (in flight {}, queued {}, bound {}) | in {}/s out {}/s | \
             total accepted {} delivered {} dropped {} (restored {}) | simulator at reading {} | store {} KiB",
            self.state,
            held.buffered(),
            held.in_flight,
            held.queued,
            self.args.max_buffered,
            s.accepted.saturating_sub(s.last_accepted),
            s.delivered.saturating_sub(s.last_delivered),
            s.accepted,
            s.delivered,
            s.dropped,
            self.restored,
            self.cursor,
            held.bytes / 1024,
        );
        self.stats.last_accepted = self.stats.accepted;
        self.stats.last_delivered = self.stats.delivered;
    }
}

/// The simulator's reading number `n`.
fn sim_payload(n: u64) -> String {
    format!(
        "{{\"seq\":{n},\"value\":{}.{}}}",
        (n % 7).saturating_add(20),
        n % 10
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    if let Some(dir) = args.state.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let existed = args.state.exists();
    let options = FileStoreOptions::default().compaction(args.compact_bytes, 4);
    let mut file = FileStore::open_with(&args.state, &args.client_id, options)?;
    if file.torn_bytes() > 0 {
        eprintln!(
            "gateway: the last run crashed while writing {}; cut {} bytes of an unfinished append",
            args.state.display(),
            file.torn_bytes()
        );
    }
    let stored = file.load()?;
    let sim_topic = format!("{}/sim", args.topic_prefix);
    let cursor = match args.source {
        Source::Simulate { .. } => {
            let path = args.state.with_extension("cursor");
            let durable = Cursor::read(&path)?;
            let accepted = durable.max(highest_seq(&stored, &sim_topic));
            Some(Cursor {
                path,
                sim_topic: sim_topic.clone(),
                durable,
                accepted,
            })
        }
        _ => None,
    };
    let start_cursor = cursor.as_ref().map_or(0, |c| c.accepted);
    let restored = stored.outbound.len().saturating_add(stored.queued.len());
    if existed {
        eprintln!(
            "gateway: restored session from {}: {} in flight (resent with DUP), {} never sent, \
             simulator at reading {start_cursor}",
            args.state.display(),
            stored.outbound.len(),
            stored.queued.len(),
        );
    }
    let (status, held) = watch::channel(Held::default());
    let store = GatewayStore {
        inner: file,
        held: Stored::default(),
        status,
        cursor,
    };

    let options = ConnectOptions::from_url(&format!("mqtt://{}", args.broker))?
        .client_id(args.client_id.clone())
        .protocol_version(args.version)
        .keep_alive(Duration::from_secs(args.keep_alive))
        .session_expiry(Duration::from_secs(args.session_expiry))
        .reconnect(Reconnect::new(Duration::from_millis(100), args.max_backoff))
        // Ask to resume from the very first connection: in 3.1.1 Clean
        // Session 0 is the only way to have the broker keep the session,
        // and mosquitto keeps across its own restart only the sessions of
        // clients that connected so. Were the broker to resume a session
        // the store knows nothing of, the driver starts clean instead.
        .clean_start(false)
        .store(store);
    let (client, mut events) = Client::start(options).await?;

    let (tx, mut rx) = mpsc::channel::<Input>(64);
    let mut sim = None;
    match &args.source {
        Source::Stdin => spawn_stdin(tx),
        Source::Listen(addr) => spawn_listener(addr, tx).await?,
        Source::Simulate { count, rate } => {
            drop(tx);
            sim = Some((*count, *rate));
        }
    }
    let mut gw = Gateway {
        args,
        client,
        held,
        settling: JoinSet::new(),
        stats: Stats::default(),
        state: "connecting",
        restored,
        cursor: start_cursor,
    };

    let mut progress = tokio::time::interval(Duration::from_secs(1));
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sim_start = tokio::time::Instant::now();
    let mut input_closed = sim.is_some();
    let mut was_full = false;
    // Until the driver ends and drops the store; its last event says why.
    let mut store_open = true;

    loop {
        let full = gw.full();
        if full != was_full {
            was_full = full;
            if full {
                eprintln!(
                    "gateway: buffer bound reached ({} readings): input paused until the broker takes more",
                    gw.args.max_buffered
                );
            } else {
                eprintln!("gateway: below the buffer bound again, input resumed");
            }
        }
        let sim_done = sim.is_none_or(|(count, _)| gw.cursor >= count);
        // One reading per turn, on the schedule `--rate` sets; behind it
        // (after a pause at the bound) as fast as the store takes them.
        let made = gw.cursor.saturating_sub(start_cursor);
        let rate = sim.map_or(1, |(_, rate)| rate);
        let next_reading = sim_start
            .checked_add(Duration::from_millis(
                made.saturating_mul(1000).checked_div(rate).unwrap_or(0),
            ))
            .unwrap_or(sim_start);
        if sim_done && input_closed && gw.held.borrow().buffered() == 0 {
            while let Some(outcome) = gw.settling.join_next().await {
                gw.on_settled(outcome.unwrap_or(Outcome::Unsettled));
            }
            gw.progress();
            eprintln!("gateway: all input delivered, exiting");
            gw.client.disconnect().await?;
            return Ok(());
        }
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::Connected { session_present }) => {
                    gw.state = "connected";
                    eprintln!(
                        "gateway: connected to {} (session present: {session_present})",
                        gw.args.broker
                    );
                }
                Some(Event::ConnectionLost { error, retry_in }) => {
                    gw.state = "disconnected";
                    eprintln!(
                        "gateway: connection lost: {error}; retry in {} ms; simulator at reading {}",
                        retry_in.as_millis(),
                        gw.cursor
                    );
                }
                Some(Event::Disconnected(why)) => {
                    gw.progress();
                    return Err(format!("gateway: the client ended: {why}").into());
                }
                Some(_) => {}
                None => return Err("gateway: the client ended".into()),
            },
            Some(outcome) = gw.settling.join_next(), if !gw.settling.is_empty() => {
                gw.on_settled(outcome.unwrap_or(Outcome::Unsettled));
            }
            // The store changed: room again, or everything delivered.
            changed = gw.held.changed(), if store_open => store_open = changed.is_ok(),
            input = rx.recv(), if !full && !input_closed => match input {
                None => input_closed = true,
                Some(input) => {
                    let ok = match parse_line(&input.line, &gw.args.topic_prefix) {
                        Some((topic, payload)) => gw.accept(&topic, payload).await?,
                        None => {
                            if !input.line.trim().is_empty() {
                                eprintln!("gateway: not a reading, ignored: {:?}", input.line);
                                gw.stats.dropped = gw.stats.dropped.saturating_add(1);
                            }
                            false
                        }
                    };
                    if let Some(ack) = input.ack {
                        // A device that left does not need the answer.
                        let _ = ack.send(ok);
                    }
                }
            },
            () = tokio::time::sleep_until(next_reading), if !full && !sim_done => {
                let n = gw.cursor.saturating_add(1);
                if !gw.accept(&sim_topic, sim_payload(n)).await? {
                    return Err(format!("gateway: bad simulator topic {sim_topic:?}").into());
                }
                gw.cursor = n;
            }
            _ = progress.tick() => gw.progress(),
        }
    }
}
