//! Keeping a client session across process restarts.
//!
//! The session produces write-ahead operations ([`PersistOp`]) and holds
//! back the bytes they cover until the application took them. With a
//! [`Store`] configured ([`crate::ConnectOptions::store`]), the driver hands
//! every such operation to the store, together with the publishes it
//! accepted but has not sent yet, and writes nothing to the socket before
//! [`Store::append`] returned. After a restart, [`Store::load`] gives back
//! what is needed to resend every unacknowledged message in its original
//! order and to deliver each inbound QoS 2 message once.

use mqttkit_session::{InboundRecord, Message, OutboundRecord, PersistOp, Publish};

mod file;
mod log;

pub use file::{FileStore, FileStoreOptions, SyncPolicy};

pub(crate) mod restore;

/// One change to the stored state, in the order the driver produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record {
    /// A publish was accepted as operation `op` and not sent yet: it is
    /// resubmitted after a restart.
    Accepted {
        /// The session's operation number ([`mqttkit_session::OpId::get`]).
        op: u64,
        /// The message.
        message: Message,
    },
    /// A write-ahead operation of the session. A
    /// [`PersistOp::PutOutbound`] also ends the [`Record::Accepted`] of the
    /// same operation: the message is now in flight.
    Session(PersistOp),
    /// After the server lost the session, operation `old` (accepted or in
    /// flight) was submitted again as `new`.
    Renumbered {
        /// The operation the message had.
        old: u64,
        /// The operation it has now.
        new: u64,
    },
    /// Operation `op` failed for good and was reported to the application;
    /// it is forgotten.
    Dropped {
        /// The operation.
        op: u64,
    },
    /// A server accepted this session once: later connections resume it
    /// rather than start clean.
    Established,
}

/// What a store holds: the state [`Store::load`] returns and
/// [`Store::replace`] writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stored {
    /// A server accepted the session once.
    pub established: bool,
    /// Accepted publishes never sent, by operation number, in order.
    pub queued: Vec<(u64, Message)>,
    /// Unacknowledged outbound messages; any order (each carries its send
    /// order).
    pub outbound: Vec<OutboundRecord>,
    /// Inbound QoS 2 messages delivered and awaiting PUBREL.
    pub inbound: Vec<InboundRecord>,
}

impl Stored {
    /// Applies one record, as a store that keeps the state in memory does.
    pub fn apply(&mut self, record: &Record) {
        match record {
            Record::Accepted { op, message } => {
                self.queued.retain(|(queued, _)| queued != op);
                let at = self.queued.partition_point(|(queued, _)| queued < op);
                self.queued.insert(at, (*op, message.clone()));
            }
            Record::Session(PersistOp::PutOutbound(put)) => {
                let op = put.op.get();
                self.queued.retain(|(queued, _)| *queued != op);
                let id = put.publish.qos.packet_id();
                self.outbound.retain(|r| r.publish.qos.packet_id() != id);
                self.outbound.push(put.clone());
            }
            Record::Session(PersistOp::RemoveOutbound(id)) => {
                self.outbound
                    .retain(|r| r.publish.qos.packet_id() != Some(*id));
            }
            Record::Session(PersistOp::PutInbound(put)) => {
                self.inbound.retain(|r| r.packet_id != put.packet_id);
                self.inbound.push(*put);
            }
            Record::Session(PersistOp::RemoveInbound(id)) => {
                self.inbound.retain(|r| r.packet_id != *id);
            }
            // A newer session crate may add operations; they are kept by
            // nothing here until this crate knows them.
            Record::Session(_) => {}
            Record::Renumbered { old, new } => {
                if let Some(at) = self.queued.iter().position(|(op, _)| op == old) {
                    let (_, message) = self.queued.remove(at);
                    self.apply(&Record::Accepted { op: *new, message });
                } else if let Some(at) = self.outbound.iter().position(|r| r.op.get() == *old) {
                    let record = self.outbound.remove(at);
                    if let Some(message) = message_of(&record) {
                        self.apply(&Record::Accepted { op: *new, message });
                    }
                }
            }
            Record::Dropped { op } => {
                self.queued.retain(|(queued, _)| queued != op);
                self.outbound.retain(|r| r.op.get() != *op);
            }
            Record::Established => self.established = true,
        }
    }
}

/// The message an outbound record carries, to submit again; the Topic
/// Alias belonged to the connection it was sent on.
pub(crate) fn message_of(record: &OutboundRecord) -> Option<Message> {
    let mut message = message_in(record.publish.clone())?;
    message.properties.topic_alias = None;
    Some(message)
}

/// The application message a PUBLISH carries, as it was given: topic,
/// payload, QoS, RETAIN and properties. `None` without a topic name.
pub(crate) fn message_in(publish: Publish) -> Option<Message> {
    let topic = publish.topic?;
    let mut message = Message::new(topic, publish.payload, publish.qos.qos());
    message.retain = publish.retain;
    message.properties = publish.properties;
    Some(message)
}

/// Why a store could not load or keep the state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading, writing or syncing failed.
    #[error("store I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a store of this crate, or of a newer format.
    #[error("not an mqttkit-tokio session store: {0}")]
    Foreign(String),
    /// The file belongs to another client identifier.
    #[error("the store belongs to client {stored:?}, not {expected:?}")]
    OtherClient {
        /// The client identifier in the file.
        stored: String,
        /// The one it was opened for.
        expected: String,
    },
    /// A record passed its checksum but cannot be read, or the records
    /// contradict each other.
    #[error("corrupt store: {0}")]
    Corrupt(String),
}

/// Durable storage for one client's session, called by the driver on its
/// task (through `spawn_blocking`, so a store may block and fsync).
///
/// The contract: when [`Store::append`] returns `Ok`, the records survive
/// a crash of the process (and, as the store documents, of the machine);
/// the driver writes the bytes they cover only after that. When it returns
/// an error the driver closes the connection and reports the error: a
/// message is never on the wire without its record.
pub trait Store: Send + 'static {
    /// The state left by the previous run; [`Stored::default`] when there
    /// is none. Called once, before the first connection.
    fn load(&mut self) -> Result<Stored, StoreError>;

    /// Makes `records` durable, in order.
    fn append(&mut self, records: &[Record]) -> Result<(), StoreError>;

    /// Replaces everything with `state`, atomically: after a crash either
    /// the old or the new state is loaded. The driver calls it once after
    /// a restart, when it has submitted the loaded messages again.
    fn replace(&mut self, state: &Stored) -> Result<(), StoreError>;
}
