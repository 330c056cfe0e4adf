//! `FileStore` against its reference model, [`Stored::apply`], and against
//! `kill -9`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mqttkit_session::bytes::{BufMut, BytesMut};
use mqttkit_session::mqttkit_codec::{MqttString, Packet, PacketId, Publish, PublishQoS};
use mqttkit_session::{InboundRecord, OutboundRecord, PersistOp};
use mqttkit_tokio::{
    FileStore, FileStoreOptions, Message, ProtocolVersion, PubAckReasonCode, QoS, Record, Store,
    Stored, SyncPolicy, TopicName,
};
use proptest::prelude::*;

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mqttkit-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("session.mqtt")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn topic(n: usize) -> TopicName {
    TopicName::try_from(["a", "plant/line-1/temp", "x/y/z/ü"][n % 3]).unwrap()
}

/// An in-flight record as the session writes it; only the session
/// crate's decoder makes one with a chosen operation number.
fn outbound(
    seq: u64,
    op: u64,
    id: u16,
    qos: QoS,
    released: bool,
    payload: &[u8],
) -> OutboundRecord {
    let publish = Publish::new(topic(payload.len()), payload.to_vec())
        .with_qos(PublishQoS::new(qos, PacketId::new(id).unwrap()));
    let packet = Packet::Publish(publish);
    let mut buf = BytesMut::new();
    buf.put_u64(seq);
    buf.put_u64(op);
    buf.put_u8(u8::from(released));
    buf.put_u32(packet.encoded_len(ProtocolVersion::V5).unwrap() as u32);
    packet.encode(ProtocolVersion::V5, &mut buf).unwrap();
    OutboundRecord::decode(buf.freeze()).unwrap()
}

fn message() -> impl Strategy<Value = Message> {
    (
        0..3usize,
        proptest::collection::vec(any::<u8>(), 0..40),
        0..3u8,
        any::<bool>(),
        proptest::option::of(any::<u32>()),
        proptest::option::of("[a-z]{0,6}"),
    )
        .prop_map(|(t, payload, qos, retain, expiry, user)| {
            let mut message = Message::new(topic(t), payload, QoS::from_bits(qos).unwrap());
            message.retain = retain;
            message.properties.message_expiry_interval = expiry;
            if let Some(value) = user {
                message.properties.push_user_property(
                    MqttString::try_from("k").unwrap(),
                    MqttString::try_from(value).unwrap(),
                );
            }
            message
        })
}

/// Few operation numbers and packet identifiers, so that records meet.
fn op() -> impl Strategy<Value = u64> {
    0..12u64
}

fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..8u16).prop_map(|id| PacketId::new(id).unwrap())
}

fn record() -> impl Strategy<Value = Record> {
    let ack = proptest::option::of(
        prop_oneof![Just(0x00u8), Just(0x10), Just(0x80), Just(0x97)]
            .prop_map(|code| PubAckReasonCode::from_u8(code).unwrap()),
    );
    prop_oneof![
        3 => (op(), message()).prop_map(|(op, message)| Record::Accepted { op, message }),
        3 => (
            0..1000u64,
            op(),
            1..8u16,
            any::<bool>(),
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..30)
        )
            .prop_map(|(seq, op, id, qos2, released, payload)| {
                let qos = if qos2 { QoS::ExactlyOnce } else { QoS::AtLeastOnce };
                Record::Session(PersistOp::PutOutbound(outbound(seq, op, id, qos, released, &payload)))
            }),
        2 => packet_id().prop_map(|id| Record::Session(PersistOp::RemoveOutbound(id))),
        2 => (packet_id(), ack).prop_map(|(packet_id, acked)| {
            Record::Session(PersistOp::PutInbound(InboundRecord { packet_id, acked }))
        }),
        1 => packet_id().prop_map(|id| Record::Session(PersistOp::RemoveInbound(id))),
        1 => (op(), op()).prop_map(|(old, new)| Record::Renumbered { old, new }),
        1 => op().prop_map(|op| Record::Dropped { op }),
        1 => Just(Record::Established),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Append(Vec<Record>),
    Reopen,
    Compact,
    /// `Store::replace` with the model's state, as the driver does after a
    /// restart.
    Replace,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => proptest::collection::vec(record(), 0..5).prop_map(Step::Append),
        1 => Just(Step::Reopen),
        1 => Just(Step::Compact),
        1 => Just(Step::Replace),
    ]
}

fn options() -> impl Strategy<Value = FileStoreOptions> {
    (
        prop_oneof![Just(0u64), Just(512), Just(1 << 20)],
        2..5u32,
        any::<bool>(),
    )
        .prop_map(|(min, ratio, sync)| {
            let sync = if sync {
                SyncPolicy::EveryAppend
            } else {
                SyncPolicy::LeaveToOs
            };
            FileStoreOptions::default()
                .compaction(min, ratio)
                .sync(sync)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Whatever records are appended, with reopens, compactions and
    /// replaces between them, the store loads what the model keeps.
    #[test]
    fn loads_what_the_model_keeps(steps in proptest::collection::vec(step(), 1..30), options in options()) {
        let dir = TempDir::new("file-store-model");
        let mut model = Stored::default();
        let mut store = FileStore::open_with(dir.file(), "sensor-7", options.clone()).unwrap();
        for step in steps {
            match step {
                Step::Append(records) => {
                    store.append(&records).unwrap();
                    for record in &records {
                        model.apply(record);
                    }
                }
                Step::Reopen => {
                    drop(store);
                    store = FileStore::open_with(dir.file(), "sensor-7", options.clone()).unwrap();
                    prop_assert_eq!(store.torn_bytes(), 0);
                }
                Step::Compact => store.compact().unwrap(),
                Step::Replace => store.replace(&model).unwrap(),
            }
            prop_assert_eq!(&store.load().unwrap(), &model);
        }
        drop(store);
        let data = std::fs::read(dir.file()).unwrap();
        prop_assert_eq!(&FileStore::read_bytes(&data, "sensor-7", &options).unwrap(), &model);
        let mut store = FileStore::open_with(dir.file(), "sensor-7", options).unwrap();
        prop_assert_eq!(&store.load().unwrap(), &model);
    }
}

// ---------------------------------------------------------------------
// kill -9
// ---------------------------------------------------------------------

/// Set in the child: the store it appends to.
const CHILD_ENV: &str = "MQTTKIT_FILE_STORE_KILL_CHILD";
const KILL_TEST: &str = "a_killed_writer_loses_no_acknowledged_record";
/// How long the child may run if nobody kills it.
const CHILD_LIFETIME: Duration = Duration::from_secs(60);
/// Long enough for a child to start and append on a loaded machine.
const STEP: Duration = Duration::from_secs(20);

/// Small and growing messages, so that appends cross page boundaries and
/// compactions (at a small threshold) happen under the kill too.
fn child_options() -> FileStoreOptions {
    FileStoreOptions::default().compaction(16 << 10, 2)
}

fn numbered(n: u64) -> Record {
    let payload = vec![(n % 251) as u8; (n % 700) as usize];
    Record::Accepted {
        op: n,
        message: Message::new(topic(0), payload, QoS::AtLeastOnce),
    }
}

/// The child: numbers records on from the last one stored and prints each
/// number once `append` returned.
fn run_child(path: &Path) {
    let mut store = FileStore::open_with(path, "killed", child_options()).unwrap();
    let state = store.load().unwrap();
    let mut next = state.queued.last().map_or(0, |(op, _)| op + 1);
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    while started.elapsed() < CHILD_LIFETIME {
        // One or two records per append: a batch is torn as a whole too.
        let batch: Vec<Record> = (next..next + 1 + next % 2).map(numbered).collect();
        store.append(&batch).unwrap();
        next += batch.len() as u64;
        // Written directly, past the test harness's capture; a parent that
        // is gone ends the child.
        if writeln!(out, "acked {}", next - 1)
            .and_then(|()| out.flush())
            .is_err()
        {
            return;
        }
    }
}

/// Kills the child if the test fails first.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// xorshift64*, seeded from the clock: kill moments differ run to run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// A child appends records with `sync_data` after each and reports each
/// one; it is SIGKILLed at random moments, several times. After each
/// kill the file opens cleanly (a torn tail cut off at most) and holds
/// every record the child reported, in order, with nothing missing
/// between them.
#[test]
fn a_killed_writer_loses_no_acknowledged_record() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        run_child(Path::new(&path));
        return;
    }
    let dir = TempDir::new("file-store-kill");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = Rng(seed | 1);
    let mut reported_max: Option<u64> = None;
    let mut torn_seen = 0;
    for round in 0..8 {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", KILL_TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.file())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut child = ChildGuard(child);
        let stdout = child.0.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            // Only whole lines: the kill may cut the last one.
            while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                if let Some(n) = std::str::from_utf8(&line)
                    .ok()
                    .and_then(|l| l.strip_suffix('\n'))
                    .and_then(|l| l.strip_prefix("acked "))
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    let _ = tx.send(n);
                }
                line.clear();
            }
        });
        // The first report proves the child is appending; the kill comes
        // after a random number of further ones.
        let first = rx.recv_timeout(STEP).expect("the child reported no append");
        let mut last = first;
        for _ in 0..rng.below(400) {
            match rx.recv_timeout(STEP) {
                Ok(n) => last = n,
                Err(_) => panic!("the child stopped reporting"),
            }
        }
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        reader.join().unwrap();
        // Reports written before the kill and not read yet.
        last = rx.try_iter().fold(last, u64::max);
        if let Some(before) = reported_max {
            assert!(
                first > before,
                "round {round}: the child numbered on from {first}, after {before}"
            );
        }
        reported_max = Some(last);

        let mut store =
            FileStore::open_with(dir.file(), "killed", child_options()).unwrap_or_else(|e| {
                panic!("round {round}: the store does not open after kill -9: {e}")
            });
        torn_seen += u64::from(store.torn_bytes() > 0);
        let state = store.load().unwrap();
        let ops: Vec<u64> = state.queued.iter().map(|(op, _)| *op).collect();
        // Contiguous from 0: nothing lost in between, nothing beyond one
        // unreported append.
        assert!(
            ops.iter().copied().eq(0..ops.len() as u64),
            "round {round}: gaps in {ops:?}"
        );
        assert!(
            ops.len() as u64 > last,
            "round {round}: {last} was reported, {} stored",
            ops.len()
        );
        for (op, message) in &state.queued {
            assert_eq!(
                Some(message),
                match numbered(*op) {
                    Record::Accepted { message, .. } => Some(message),
                    _ => None,
                }
                .as_ref()
            );
        }
    }
    // How often a kill tore an append depends on timing; it is reported,
    // not asserted.
    eprintln!("{torn_seen} of 8 kills left a torn append");
}
