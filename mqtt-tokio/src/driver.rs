//! The task that owns the transport, the clock, the store and the sans-IO
//! session, and the select loop between them. It adds no protocol rule:
//! after every input (bytes, a command, a deadline) it drains the session
//! in the order the session asks for: write-ahead records to the store,
//! events, then bytes to send.
//!
//! Writing never blocks the loop: the bytes wait in `out` and are written
//! as the socket takes them, while events are still handed to the
//! application and the socket is still read. Otherwise a server that
//! stops reading while it cannot write to us, and an application that
//! waits for events, would wait on each other forever. What depends on
//! bytes having been written waits for them: a QoS 0 publish resolves, and
//! the socket closes, only once `out` has been written up to that point.
//!
//! Between connections (while dialing, or waiting to reconnect) commands
//! are still taken: the session queues publishes and subscriptions and
//! sends them on the next connection.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use mqttkit_session::bytes::{Buf, BytesMut};
use mqttkit_session::{
    CloseCause, Connect, Disconnect, Event as SessionEvent, Instant, Message, OpError, OpId,
    PeerMisbehaved, ProtocolViolation, QoS, ReasonCode, SubAckReasonCode, SubscribeProperties,
    SubscriptionOptions, TopicFilter, UnsubAckReasonCode, UnsubscribeProperties, ViolationKind,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use crate::client::{Command, Reply};
use crate::clock::Clock;
use crate::reconnect::{self, Jitter, Reconnect, SharedStore};
use crate::store::{Record, Stored, message_of, restore};
use crate::transport::{self, BoxedIo};
use crate::{ConnectOptions, Error, Event};

/// The size of one socket read. The session keeps partial packets itself,
/// so this bounds only how much one read hands it at once, and so how many
/// events can wait beyond the event channel.
const READ_SIZE: usize = 8 * 1024;

/// Above this many unwritten bytes no more commands are taken: a publisher
/// faster than the socket waits in the command channel.
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// The most commands taken in one loop turn.
const COMMAND_BATCH: usize = 256;

/// An operation waiting for the server's acknowledgement.
#[derive(Debug)]
enum Pending {
    Publish {
        /// Kept for QoS 1 and 2, to submit again after a temporary refusal
        /// or a lost session.
        message: Option<Message>,
        qos: QoS,
        /// Refusals retried so far.
        attempt: u32,
        reply: Option<Reply<ReasonCode>>,
    },
    Subscribe {
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        reply: Option<Reply<Vec<SubAckReasonCode>>>,
    },
    Unsubscribe {
        filters: Vec<TopicFilter>,
        reply: Reply<Vec<UnsubAckReasonCode>>,
    },
}

impl Pending {
    fn fail(self, error: Error) {
        // A caller that stopped waiting does not need the answer.
        match self {
            Self::Publish { reply, .. } => {
                if let Some(reply) = reply {
                    drop(reply.send(Err(error)));
                }
            }
            Self::Subscribe { reply, .. } => {
                if let Some(reply) = reply {
                    drop(reply.send(Err(error)));
                }
            }
            Self::Unsubscribe { reply, .. } => drop(reply.send(Err(error))),
        }
    }
}

/// A publish the server refused for now, waiting to be submitted again.
#[derive(Debug)]
struct Retry {
    at: tokio::time::Instant,
    /// The operation it had, for the store's renumbering.
    old: OpId,
    message: Message,
    attempt: u32,
    reply: Option<Reply<ReasonCode>>,
}

/// Opening a transport; polled in the select loop so that commands are
/// taken meanwhile.
type Dialing = Pin<Box<dyn Future<Output = Result<BoxedIo, Error>> + Send>>;

/// Where the transport is.
enum Link {
    /// Connected: the halves of the stream.
    Up {
        reader: ReadHalf<BoxedIo>,
        writer: WriteHalf<BoxedIo>,
        /// The stream failed or reached its end.
        gone: bool,
    },
    /// Opening the transport.
    Dialing(Dialing),
    /// Waiting to reconnect.
    Waiting(tokio::time::Instant),
}

/// Waits for room in the event channel and moves the first waiting event
/// into it. Cancel safe: nothing is taken before there is room.
async fn send_first(events: &mpsc::Sender<Event>, undelivered: &mut VecDeque<Event>) {
    match events.reserve().await {
        Ok(permit) => {
            if let Some(event) = undelivered.pop_front() {
                permit.send(event);
            }
        }
        // `Events` was dropped: nobody reads them any more.
        Err(_) => undelivered.clear(),
    }
}

/// The tokio instant `delay` from now.
fn after(delay: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    // Delays are capped backoffs; one beyond the clock's range is due now.
    now.checked_add(delay).unwrap_or(now)
}

/// The parts of `Client::connect` the driver needs.
pub(crate) struct Setup {
    pub(crate) session: mqttkit_session::Client,
    pub(crate) max_pending: usize,
    pub(crate) options: ConnectOptions,
    pub(crate) connect: Connect,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) events: mpsc::Sender<Event>,
    /// `Client::connect` waiting for the first CONNACK.
    pub(crate) connected: Option<oneshot::Sender<Result<bool, Error>>>,
}

/// Everything one client needs, owned by one task.
pub(crate) struct Driver {
    session: mqttkit_session::Client,
    /// The session's `max_pending`: beyond it commands wait in the channel
    /// instead of failing with `QueueFull`.
    max_pending: usize,
    /// Where to connect, for reconnects.
    options: ConnectOptions,
    /// The CONNECT of the next connection.
    connect: Connect,
    reconnect: Option<Reconnect>,
    jitter: Jitter,
    /// Connection attempts that failed since the last CONNACK accepted.
    attempt: u32,
    link: Link,
    store: Option<SharedStore>,
    /// Records produced since the last store append.
    records: Vec<Record>,
    /// Publishes accepted: answered once the records covering them are
    /// stored.
    accepted: Vec<oneshot::Sender<Result<(), Error>>>,
    clock: Clock,
    read_buf: Vec<u8>,
    /// Bytes taken from the session and not written yet.
    out: BytesMut,
    /// Bytes ever taken from the session, and ever written: positions in
    /// the outgoing stream.
    queued_total: u64,
    written_total: u64,
    /// QoS 0 publishes that complete once the stream is written up to
    /// their position.
    awaiting_write: VecDeque<(u64, Reply<ReasonCode>)>,
    commands: mpsc::Receiver<Command>,
    /// A `Client` handle still exists.
    commands_open: bool,
    events: mpsc::Sender<Event>,
    /// Events the application has no room for yet; while there are any the
    /// socket is not read.
    undelivered: VecDeque<Event>,
    pending: HashMap<OpId, Pending>,
    retries: Vec<Retry>,
    /// The subscriptions made through this client, to make again when the
    /// server lost the session.
    subscriptions: Vec<(TopicFilter, SubscriptionOptions)>,
    connected: Option<oneshot::Sender<Result<bool, Error>>>,
    /// A CONNACK accepted a connection of this driver once.
    ever_connected: bool,
    /// The I/O error that closed the transport, reported instead of
    /// `ConnectionClosed`.
    io_error: Option<Error>,
    /// Why the current connection ended, once the session said so; acted
    /// on when `out` is written.
    ending: Option<Error>,
    /// Why the driver ends; the loop stops then.
    finished: Option<Error>,
    /// Commands were taken in this loop turn.
    took_commands: bool,
    disconnect_reply: Option<Reply<()>>,
}

impl Driver {
    pub(crate) fn new(setup: Setup, link: Dialing) -> Self {
        let reconnect = setup.options.reconnect;
        let store = setup.options.store.clone();
        Self {
            session: setup.session,
            max_pending: setup.max_pending,
            options: setup.options,
            connect: setup.connect,
            reconnect,
            jitter: Jitter::new(),
            attempt: 0,
            link: Link::Dialing(link),
            store,
            records: Vec::new(),
            accepted: Vec::new(),
            clock: Clock::start(),
            read_buf: vec![0; READ_SIZE],
            out: BytesMut::new(),
            queued_total: 0,
            written_total: 0,
            awaiting_write: VecDeque::new(),
            commands: setup.commands,
            commands_open: true,
            events: setup.events,
            undelivered: VecDeque::new(),
            pending: HashMap::new(),
            retries: Vec::new(),
            subscriptions: Vec::new(),
            connected: setup.connected,
            ever_connected: false,
            io_error: None,
            ending: None,
            finished: None,
            took_commands: false,
            disconnect_reply: None,
        }
    }

    /// Takes over the state a store kept from an earlier run: in-flight
    /// messages (already in the session) can be retried after a refusal,
    /// accepted ones are submitted again, and the store is rewritten with
    /// their new operation numbers.
    pub(crate) async fn restore(&mut self, stored: Stored) -> Result<(), Error> {
        for record in &stored.outbound {
            self.pending.insert(
                record.op,
                Pending::Publish {
                    message: message_of(record),
                    qos: record.publish.qos.qos(),
                    attempt: 0,
                    reply: None,
                },
            );
        }
        for (_, message) in stored.queued {
            self.submit(message, 0, None, None, None);
        }
        let mut state = Stored {
            established: stored.established,
            outbound: stored.outbound,
            inbound: stored.inbound,
            ..Stored::default()
        };
        for record in self.records.drain(..) {
            state.apply(&record);
        }
        match &self.store {
            Some(store) => restore::blocking(store, move |store| store.replace(&state)).await,
            None => Ok(()),
        }
    }

    /// Opens the transport `options` name, as a future the loop polls.
    pub(crate) fn dial(options: &ConnectOptions) -> Dialing {
        let options = options.clone();
        Box::pin(async move { transport::connect(&options).await })
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The session's next deadline on the tokio clock; `None` when there
    /// is none or it lies beyond what the clock can represent.
    fn deadline(&self) -> Option<tokio::time::Instant> {
        self.clock.deadline(self.session.poll_timeout()?)
    }

    /// The earliest refused publish to submit again.
    fn next_retry(&self) -> Option<tokio::time::Instant> {
        self.retries.iter().map(|r| r.at).min()
    }

    pub(crate) async fn run(mut self) {
        loop {
            self.drain().await;
            self.after_drain().await;
            if self.finished.is_some() {
                break;
            }
            self.forward_events();
            if self.ending.is_none() && !self.commands_open && self.events.is_closed() {
                // No handle and no event reader is left: end the
                // connection properly rather than leave it open unused.
                self.end_by_client();
                continue;
            }
            let open = self.ending.is_none();
            let (reading, writing) = match &self.link {
                Link::Up { gone: false, .. } => {
                    (open && self.undelivered.is_empty(), !self.out.is_empty())
                }
                _ => (false, false),
            };
            let deadline = self.deadline().filter(|_| open);
            let retry_at = self.next_retry().filter(|_| open);
            let taking_commands = open
                && self.commands_open
                && self.out.len() < WRITE_HIGH_WATER
                && self.session.session().pending_len() < self.max_pending;
            let events_waiting = !self.undelivered.is_empty();
            let watch_reader = open && !self.commands_open;
            let origin = self.clock.origin();
            // Some branch is always enabled: while a connection is up and
            // open, reading stops only while events wait, and then
            // `send_first` runs; while it ends the loop goes on only while
            // there is something to write; between connections the dial or
            // the reconnect timer runs.
            match &mut self.link {
                Link::Up { reader, writer, .. } => {
                    tokio::select! {
                        written = writer.write(&self.out), if writing => self.on_write(written),
                        read = reader.read(&mut self.read_buf), if reading => {
                            self.on_read(read);
                        }
                        command = self.commands.recv(), if taking_commands => self.on_command_or_close(command),
                        () = send_first(&self.events, &mut self.undelivered), if events_waiting => {}
                        () = self.events.closed(), if watch_reader => {}
                        () = tokio::time::sleep_until(deadline.unwrap_or(origin)), if deadline.is_some() => {
                            let now = self.now();
                            self.session.handle_timeout(now);
                        }
                        () = tokio::time::sleep_until(retry_at.unwrap_or(origin)), if retry_at.is_some() => self.retry_due(),
                    }
                }
                Link::Dialing(dialing) => {
                    tokio::select! {
                        opened = dialing => self.on_dialed(opened),
                        command = self.commands.recv(), if taking_commands => self.on_command_or_close(command),
                        () = send_first(&self.events, &mut self.undelivered), if events_waiting => {}
                        () = self.events.closed(), if watch_reader => {}
                        () = tokio::time::sleep_until(retry_at.unwrap_or(origin)), if retry_at.is_some() => self.retry_due(),
                    }
                }
                Link::Waiting(at) => {
                    let at = *at;
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {
                            self.link = Link::Dialing(Self::dial(&self.options));
                        }
                        command = self.commands.recv(), if taking_commands => self.on_command_or_close(command),
                        () = send_first(&self.events, &mut self.undelivered), if events_waiting => {}
                        () = self.events.closed(), if watch_reader => {}
                        () = tokio::time::sleep_until(retry_at.unwrap_or(origin)), if retry_at.is_some() => self.retry_due(),
                    }
                }
            }
            if std::mem::take(&mut self.took_commands) {
                // Publishers woken by the room just made queue their next
                // commands when they run: let them, so that those join the
                // same write instead of each costing a system call.
                tokio::task::yield_now().await;
                self.take_waiting_commands();
            }
        }
        self.finish().await;
    }

    /// Takes the session's write-ahead records, then its events, stores
    /// the records, then takes the bytes to send, until nothing is left.
    /// Events are handled before the store append so that what they add
    /// (a refused publish kept for a retry) is stored with the removal the
    /// session asked for, in one append.
    async fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(op) = self.session.poll_persist() {
                progressed = true;
                if self.store.is_some() {
                    self.records.push(Record::Session(op));
                }
            }
            while let Some(event) = self.session.poll_event() {
                progressed = true;
                self.on_event(event);
            }
            if let Err(error) = self.store_records().await {
                self.store_failed(error);
                return;
            }
            let before = self.out.len();
            if self.session.poll_transmit(&mut self.out).is_some() {
                progressed = true;
                let added = self.out.len().saturating_sub(before);
                self.queued_total = self.queued_total.saturating_add(added as u64);
            }
            if !progressed {
                break;
            }
        }
        if !matches!(self.link, Link::Up { gone: false, .. }) {
            // Nothing more will be written on this connection.
            self.out.clear();
            self.queued_total = self.written_total;
        }
    }

    /// Appends the waiting records to the store, off the runtime's
    /// threads since a store may fsync, and answers the publishes they
    /// covered.
    async fn store_records(&mut self) -> Result<(), Error> {
        if let Some(store) = &self.store
            && !self.records.is_empty()
        {
            let records = std::mem::take(&mut self.records);
            restore::blocking(store, move |store| store.append(&records)).await?;
        }
        for accepted in self.accepted.drain(..) {
            drop(accepted.send(Ok(())));
        }
        Ok(())
    }

    /// The store refused records: nothing they cover may be sent, so the
    /// client ends.
    fn store_failed(&mut self, error: Error) {
        for accepted in self.accepted.drain(..) {
            drop(accepted.send(Err(error.clone())));
        }
        self.out.clear();
        self.undelivered
            .push_back(Event::Disconnected(error.clone()));
        self.finished = Some(error);
    }

    /// Acts on a connection that ended once its last bytes are written:
    /// closes the stream, then reconnects or ends the driver.
    async fn after_drain(&mut self) {
        if self.finished.is_some() {
            return;
        }
        if self.ending.is_none()
            && let Link::Up { gone: true, .. } = self.link
        {
            // The session had already closed the connection; nothing
            // more will come from it.
            self.ending = Some(self.io_error.take().unwrap_or(Error::ConnectionClosed));
        }
        let Some(error) = self.ending.take() else {
            return;
        };
        if let Link::Up { writer, gone, .. } = &mut self.link {
            if !*gone && !self.out.is_empty() {
                // Still writing the last bytes (a DISCONNECT).
                self.ending = Some(error);
                return;
            }
            if !*gone {
                // The peer gets the end of the stream.
                let _ = writer.shutdown().await;
            }
        }
        self.connection_ended(error);
    }

    /// The connection is gone: QoS 0 publishes not written fail, and the
    /// driver reconnects or ends.
    fn connection_ended(&mut self, error: Error) {
        self.out.clear();
        self.queued_total = self.written_total;
        for (_, reply) in self.awaiting_write.drain(..) {
            drop(reply.send(Err(error.clone())));
        }
        let retry = match self.reconnect {
            Some(backoff) if reconnect::worth_reconnecting(&error) => Some(backoff),
            _ => None,
        };
        match retry {
            Some(backoff) => {
                let delay = backoff.delay(self.attempt, &mut self.jitter);
                self.attempt = self.attempt.saturating_add(1);
                self.link = Link::Waiting(after(delay));
                // `Client::connect` keeps waiting for a first connection
                // that works, or one refused for good.
                if self.connected.is_none() {
                    self.undelivered.push_back(Event::ConnectionLost {
                        error,
                        retry_in: delay,
                    });
                }
            }
            None => {
                match self.connected.take() {
                    Some(connected) => drop(connected.send(Err(error.clone()))),
                    None => self
                        .undelivered
                        .push_back(Event::Disconnected(error.clone())),
                }
                self.finished = Some(error);
            }
        }
    }

    fn on_dialed(&mut self, opened: Result<BoxedIo, Error>) {
        match opened {
            Ok(stream) => {
                let (reader, writer) = tokio::io::split(stream);
                self.link = Link::Up {
                    reader,
                    writer,
                    gone: false,
                };
                let now = self.now();
                if let Err(err) = self.session.connect(now, self.connect.clone()) {
                    self.ending = Some(err.into());
                }
            }
            Err(error) => self.connection_ended(error),
        }
    }

    fn on_write(&mut self, written: io::Result<usize>) {
        match written {
            Ok(0) => self.transport_failed(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                self.out.advance(n.min(self.out.len()));
                self.written_total = self.written_total.saturating_add(n as u64);
                while let Some((at, _)) = self.awaiting_write.front() {
                    if *at > self.written_total {
                        break;
                    }
                    if let Some((_, reply)) = self.awaiting_write.pop_front() {
                        drop(reply.send(Ok(ReasonCode::Success)));
                    }
                }
            }
            Err(err) => self.transport_failed(err),
        }
    }

    fn transport_failed(&mut self, err: io::Error) {
        if self.io_error.is_none() {
            self.io_error = Some(err.into());
        }
        self.transport_gone();
    }

    fn transport_gone(&mut self) {
        if let Link::Up { gone, .. } = &mut self.link {
            *gone = true;
        }
        let now = self.now();
        self.session.handle_transport_closed(now);
    }

    fn on_read(&mut self, read: io::Result<usize>) {
        let now = self.now();
        match read {
            Ok(0) => self.transport_gone(),
            Ok(n) => {
                let bytes = self.read_buf.get(..n).unwrap_or_default();
                self.session.handle_bytes(now, bytes);
            }
            Err(err) => self.transport_failed(err),
        }
    }

    /// Takes a command, then the ones already waiting (see
    /// [`Driver::take_waiting_commands`]).
    fn on_command_or_close(&mut self, command: Option<Command>) {
        let Some(command) = command else {
            self.commands_open = false;
            return;
        };
        self.on_command(command);
        self.take_waiting_commands();
        self.took_commands = true;
    }

    /// Takes the commands already in the channel, up to [`COMMAND_BATCH`]
    /// and while the bounds allow: their packets leave in one write and
    /// their records in one store append (one sync), instead of one loop
    /// turn, and one system call, each.
    fn take_waiting_commands(&mut self) {
        for _ in 0..COMMAND_BATCH {
            let room = self.ending.is_none()
                && self.commands_open
                && self.out.len() < WRITE_HIGH_WATER
                && self.session.session().pending_len() < self.max_pending;
            if !room {
                break;
            }
            match self.commands.try_recv() {
                Ok(command) => self.on_command(command),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => self.commands_open = false,
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = self.now();
        match command {
            Command::Publish {
                message,
                accepted,
                reply,
            } => self.submit(message, 0, Some(reply), accepted, None),
            Command::Subscribe { filters, reply } => {
                match self
                    .session
                    .subscribe(now, filters.clone(), SubscribeProperties::default())
                {
                    Ok(op) => {
                        let reply = Some(reply);
                        self.pending
                            .insert(op, Pending::Subscribe { filters, reply });
                    }
                    Err(err) => drop(reply.send(Err(err.into()))),
                }
            }
            Command::Unsubscribe { filters, reply } => {
                match self.session.unsubscribe(
                    now,
                    filters.clone(),
                    UnsubscribeProperties::default(),
                ) {
                    Ok(op) => {
                        self.pending
                            .insert(op, Pending::Unsubscribe { filters, reply });
                    }
                    Err(err) => drop(reply.send(Err(err.into()))),
                }
            }
            Command::Ack {
                token,
                reason,
                reply,
            } => drop(reply.send(self.session.ack(now, token, reason).map_err(Error::from))),
            Command::Disconnect { reply } => {
                self.disconnect_reply = Some(reply);
                self.end_by_client();
            }
        }
    }

    /// Ends the client on its own initiative: DISCONNECT on an open
    /// connection, at once otherwise.
    fn end_by_client(&mut self) {
        // Whatever happens next, the client does not come back.
        self.reconnect = None;
        let now = self.now();
        // Connected, the session reports `Closed(ByClient)` and `finish`
        // answers the reply once the socket is shut down. Not connected
        // (dialing, waiting, or the connection already ending), there is
        // nothing to say to the server.
        if self.session.disconnect(now, Disconnect::default()).is_err() {
            self.connection_ended(Error::Closed);
        }
    }

    /// Submits a publish to the session: a new one (`retry_of` none) or
    /// one submitted again after a refusal or a lost session.
    fn submit(
        &mut self,
        message: Message,
        attempt: u32,
        reply: Option<Reply<ReasonCode>>,
        accepted: Option<oneshot::Sender<Result<(), Error>>>,
        retry_of: Option<OpId>,
    ) {
        let now = self.now();
        let qos = message.qos;
        let keep = (qos != QoS::AtMostOnce).then(|| message.clone());
        match self.session.publish(now, message) {
            Ok(op) => {
                if self.store.is_some()
                    && let Some(message) = &keep
                {
                    self.records.push(match retry_of {
                        Some(old) => Record::Renumbered {
                            old: old.get(),
                            new: op.get(),
                        },
                        None => Record::Accepted {
                            op: op.get(),
                            message: message.clone(),
                        },
                    });
                }
                if let Some(accepted) = accepted {
                    self.accepted.push(accepted);
                }
                self.pending.insert(
                    op,
                    Pending::Publish {
                        message: keep,
                        qos,
                        attempt,
                        reply,
                    },
                );
            }
            Err(err) => {
                if self.store.is_some()
                    && let Some(old) = retry_of
                {
                    self.records.push(Record::Dropped { op: old.get() });
                }
                let error = Error::from(err);
                if let Some(accepted) = accepted {
                    drop(accepted.send(Err(error.clone())));
                }
                if let Some(reply) = reply {
                    drop(reply.send(Err(error)));
                }
            }
        }
    }

    /// Submits the refused publishes whose wait is over.
    fn retry_due(&mut self) {
        let now = tokio::time::Instant::now();
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|r| r.at <= now);
        self.retries = waiting;
        for retry in due {
            self.submit(
                retry.message,
                retry.attempt,
                retry.reply,
                None,
                Some(retry.old),
            );
        }
    }

    fn on_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::Connected { session_present } => {
                self.attempt = 0;
                self.ever_connected = true;
                // `Client::connect` returns the first connection's outcome;
                // every other connection is an event.
                match self.connected.take() {
                    Some(connected) => drop(connected.send(Ok(session_present))),
                    None => self
                        .undelivered
                        .push_back(Event::Connected { session_present }),
                }
                if self.store.is_some() && self.session.session().is_established() {
                    self.records.push(Record::Established);
                }
                // Later connections resume the session; 3.1.1 keeps the
                // flag as set (see `ConnectOptions::reconnect`).
                if self.connect.protocol_version.is_v5() {
                    self.connect.clean_start = false;
                }
            }
            SessionEvent::Message { publish, ack } if !self.events.is_closed() => {
                self.undelivered.push_back(Event::Message { publish, ack });
            }
            SessionEvent::Published { op, reason } => self.on_published(op, reason),
            SessionEvent::Subscribed { op, reason_codes } => {
                if let Some(Pending::Subscribe { filters, reply }) = self.pending.remove(&op) {
                    for ((filter, options), code) in filters.into_iter().zip(&reason_codes) {
                        self.subscriptions.retain(|(kept, _)| *kept != filter);
                        if !code.is_error() {
                            self.subscriptions.push((filter, options));
                        }
                    }
                    if let Some(reply) = reply {
                        drop(reply.send(Ok(reason_codes)));
                    }
                }
            }
            SessionEvent::Unsubscribed { op, reason_codes } => {
                if let Some(Pending::Unsubscribe { filters, reply }) = self.pending.remove(&op) {
                    self.subscriptions
                        .retain(|(kept, _)| !filters.contains(kept));
                    drop(reply.send(Ok(reason_codes)));
                }
            }
            SessionEvent::OpFailed { op, error } => {
                if self.store.is_some() {
                    self.records.push(Record::Dropped { op: op.get() });
                }
                match self.pending.remove(&op) {
                    // A SUBSCRIBE lost with its connection is made again on
                    // the next one when reconnecting.
                    Some(Pending::Subscribe { filters, reply })
                        if self.reconnect.is_some() && error == OpError::ConnectionClosed =>
                    {
                        self.resubscribe(filters, reply);
                    }
                    Some(pending) => pending.fail(self.failure(error)),
                    None => {}
                }
            }
            // The server forgot the subscriptions too: make them again
            // before the returned messages are submitted.
            SessionEvent::SessionLost
                if self.reconnect.is_some() && !self.subscriptions.is_empty() =>
            {
                let filters = self.subscriptions.clone();
                self.resubscribe(filters, None);
            }
            // Messages handed back: the session ended. When reconnecting
            // they are submitted again and the publish completes on the
            // next connection; otherwise they fail with why the connection
            // ended.
            SessionEvent::Returned { op, message, .. } => match self.pending.remove(&op) {
                Some(Pending::Publish { reply, attempt, .. }) if self.reconnect.is_some() => {
                    self.submit(message, attempt, reply, None, Some(op));
                }
                Some(pending) => {
                    if self.store.is_some() {
                        self.records.push(Record::Dropped { op: op.get() });
                    }
                    pending.fail(self.failure(OpError::ConnectionClosed));
                }
                // Restored from the store, submitted in an earlier run.
                None if self.reconnect.is_some() || self.store.is_some() => {
                    self.submit(message, 0, None, None, Some(op));
                }
                None => {}
            },
            SessionEvent::Closed(cause) => {
                if let CloseCause::ProtocolViolation(ProtocolViolation {
                    kind: ViolationKind::Rule(PeerMisbehaved::SessionPresentWithoutState),
                    ..
                }) = &cause
                {
                    // The server resumed a session this client has no
                    // state for (a new or lost store, another program with
                    // the same identifier): the next attempt starts clean
                    // rather than resume it again.
                    self.connect.clean_start = true;
                }
                let error = self.close_error(cause);
                self.ending = Some(error);
            }
            // Enhanced authentication is not offered by this driver yet.
            _ => {}
        }
    }

    fn resubscribe(
        &mut self,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        reply: Option<Reply<Vec<SubAckReasonCode>>>,
    ) {
        let now = self.now();
        match self
            .session
            .subscribe(now, filters.clone(), SubscribeProperties::default())
        {
            Ok(op) => {
                self.pending
                    .insert(op, Pending::Subscribe { filters, reply });
            }
            Err(err) => {
                if let Some(reply) = reply {
                    drop(reply.send(Err(err.into())));
                }
            }
        }
    }

    fn on_published(&mut self, op: OpId, reason: ReasonCode) {
        match self.pending.remove(&op) {
            // Its bytes were just queued: it completes when they are
            // written.
            Some(Pending::Publish {
                qos: QoS::AtMostOnce,
                reply: Some(reply),
                ..
            }) => self.awaiting_write.push_back((self.queued_total, reply)),
            // Refused for now: kept (in the store too) and submitted again
            // after a backoff; the caller keeps waiting.
            Some(Pending::Publish {
                message: Some(message),
                attempt,
                reply,
                ..
            }) if reconnect::is_temporary(reason) => {
                let backoff = self.reconnect.unwrap_or_default();
                let delay = backoff.delay(attempt, &mut self.jitter);
                if self.store.is_some() {
                    self.records.push(Record::Accepted {
                        op: op.get(),
                        message: message.clone(),
                    });
                }
                self.retries.push(Retry {
                    at: after(delay),
                    old: op,
                    message,
                    attempt: attempt.saturating_add(1),
                    reply,
                });
            }
            Some(Pending::Publish {
                reply: Some(reply), ..
            }) => drop(reply.send(Ok(reason))),
            Some(Pending::Publish { reply: None, .. }) => {}
            Some(other) => drop(self.pending.insert(op, other)),
            None => {}
        }
    }

    /// The error for an operation that failed with `error`: the reason the
    /// connection ended when that is why it failed.
    fn failure(&self, error: OpError) -> Error {
        match (&self.ending, error) {
            (Some(ending), OpError::ConnectionClosed) => ending.clone(),
            (_, error) => error.into(),
        }
    }

    fn close_error(&mut self, cause: CloseCause) -> Error {
        match cause {
            CloseCause::ByClient => Error::Closed,
            CloseCause::ByServer(disconnect) => Error::ByServer(Box::new(disconnect)),
            CloseCause::ProtocolViolation(violation) => Error::ProtocolViolation(violation),
            CloseCause::Refused(connack) => Error::Refused(Box::new(connack)),
            CloseCause::KeepAliveTimeout => Error::KeepAliveTimeout,
            CloseCause::ConnAckTimeout => Error::ConnAckTimeout,
            _ => self.io_error.take().unwrap_or(Error::ConnectionClosed),
        }
    }

    /// Moves waiting events into the channel while it has room.
    fn forward_events(&mut self) {
        while let Some(event) = self.undelivered.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(TrySendError::Full(event)) => {
                    self.undelivered.push_front(event);
                    break;
                }
                Err(TrySendError::Closed(_)) => {
                    self.undelivered.clear();
                    break;
                }
            }
        }
    }

    /// The driver ends: fail everything still waiting with the cause, and
    /// hand the last events over.
    async fn finish(self) {
        let Self {
            link,
            awaiting_write,
            mut commands,
            events,
            undelivered,
            pending,
            retries,
            accepted,
            connected,
            finished,
            disconnect_reply,
            ..
        } = self;
        drop(link);
        let error = finished.unwrap_or(Error::Closed);
        for (_, reply) in awaiting_write {
            drop(reply.send(Err(error.clone())));
        }
        for (_, op) in pending {
            op.fail(error.clone());
        }
        for retry in retries {
            if let Some(reply) = retry.reply {
                drop(reply.send(Err(error.clone())));
            }
        }
        for accepted in accepted {
            drop(accepted.send(Err(error.clone())));
        }
        if let Some(connected) = connected {
            drop(connected.send(Err(error.clone())));
        }
        commands.close();
        while let Ok(command) = commands.try_recv() {
            match command {
                Command::Disconnect { reply } => drop(reply.send(Err(Error::Closed))),
                command => command.fail(error.clone()),
            }
        }
        if let Some(reply) = disconnect_reply {
            drop(reply.send(Ok(())));
        }
        for event in undelivered {
            if events.send(event).await.is_err() {
                break;
            }
        }
    }
}
