//! The task that owns the socket, the clock and the sans-IO session, and
//! the select loop between them. It adds no protocol rule: after every
//! input (bytes, a command, a deadline) it drains the session in the order
//! the session asks for, bytes to send first, then events.
//!
//! Writing never blocks the loop: the bytes wait in `out` and are written
//! as the socket takes them, while events are still handed to the
//! application and the socket is still read. Otherwise a server that
//! stops reading while it cannot write to us, and an application that
//! waits for events, would wait on each other forever. What depends on
//! bytes having been written waits for them: a QoS 0 publish resolves, and
//! the socket closes, only once `out` has been written up to that point.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::time::Duration;

use mqttkit_session::bytes::{Buf, BytesMut};
use mqttkit_session::{
    CloseCause, Disconnect, Event as SessionEvent, Instant, OpError, OpId, QoS, ReasonCode,
    SubAckReasonCode, SubscribeProperties, UnsubAckReasonCode, UnsubscribeProperties,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use crate::client::{Command, Reply};
use crate::transport::BoxedIo;
use crate::{Error, Event};

/// The size of one socket read. The session keeps partial packets itself,
/// so this bounds only how much one read hands it at once, and so how many
/// events can wait beyond the event channel.
const READ_SIZE: usize = 8 * 1024;

/// Above this many unwritten bytes no more commands are taken: a publisher
/// faster than the socket waits in the command channel.
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// An operation waiting for the server's acknowledgement.
#[derive(Debug)]
enum Pending {
    Publish { qos: QoS, reply: Reply<ReasonCode> },
    Subscribe(Reply<Vec<SubAckReasonCode>>),
    Unsubscribe(Reply<Vec<UnsubAckReasonCode>>),
}

impl Pending {
    fn fail(self, error: Error) {
        // A caller that stopped waiting does not need the answer.
        match self {
            Self::Publish { reply, .. } => drop(reply.send(Err(error))),
            Self::Subscribe(reply) => drop(reply.send(Err(error))),
            Self::Unsubscribe(reply) => drop(reply.send(Err(error))),
        }
    }
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

/// Everything one connection needs, owned by one task.
pub(crate) struct Driver {
    session: mqttkit_session::Client,
    /// The session's `max_pending`: beyond it commands wait in the channel
    /// instead of failing with `QueueFull`.
    max_pending: usize,
    reader: ReadHalf<BoxedIo>,
    writer: WriteHalf<BoxedIo>,
    /// The session's `Instant::ZERO`.
    origin: tokio::time::Instant,
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
    /// `Client::connect` waiting for CONNACK (Session Present).
    connected: Option<oneshot::Sender<Result<bool, Error>>>,
    /// The socket failed or reached its end.
    transport_gone: bool,
    /// The I/O error that closed the transport, reported instead of
    /// `ConnectionClosed`.
    io_error: Option<Error>,
    /// Why the connection ended, once the session said so; the loop ends
    /// when `out` is written too.
    closed: Option<Error>,
    disconnect_reply: Option<Reply<()>>,
}

impl Driver {
    pub(crate) fn new(
        session: mqttkit_session::Client,
        max_pending: usize,
        stream: BoxedIo,
        origin: tokio::time::Instant,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<Event>,
        connected: oneshot::Sender<Result<bool, Error>>,
    ) -> Self {
        let (reader, writer) = tokio::io::split(stream);
        Self {
            session,
            max_pending,
            reader,
            writer,
            origin,
            read_buf: vec![0; READ_SIZE],
            out: BytesMut::new(),
            queued_total: 0,
            written_total: 0,
            awaiting_write: VecDeque::new(),
            commands,
            commands_open: true,
            events,
            undelivered: VecDeque::new(),
            pending: HashMap::new(),
            connected: Some(connected),
            transport_gone: false,
            io_error: None,
            closed: None,
            disconnect_reply: None,
        }
    }

    /// The session's clock: milliseconds since `origin`.
    fn now(&self) -> Instant {
        let millis = self.origin.elapsed().as_millis();
        Instant::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    /// The session's next deadline on the tokio clock; `None` when there
    /// is none or it lies beyond what the clock can represent.
    fn deadline(&self) -> Option<tokio::time::Instant> {
        let at = self.session.poll_timeout()?;
        self.origin
            .checked_add(Duration::from_millis(at.as_millis()))
    }

    pub(crate) async fn run(mut self) {
        loop {
            self.drain();
            if self.closed.is_none() && self.transport_gone {
                // The session had already closed the connection; nothing
                // more will come from it.
                self.closed = Some(self.io_error.take().unwrap_or(Error::ConnectionClosed));
            }
            let open = self.closed.is_none();
            let writing = !self.out.is_empty() && !self.transport_gone;
            if !open && !writing {
                break;
            }
            self.forward_events();
            if open && !self.commands_open && self.events.is_closed() {
                // No handle and no event reader is left: end the
                // connection properly rather than leave it open unused.
                let now = self.now();
                if self.session.disconnect(now, Disconnect::default()).is_err() {
                    self.closed = Some(Error::Closed);
                }
                continue;
            }
            let deadline = self.deadline().filter(|_| open);
            let reading = open && self.undelivered.is_empty();
            let taking_commands = open
                && self.commands_open
                && self.out.len() < WRITE_HIGH_WATER
                && self.session.session().pending_len() < self.max_pending;
            // Some branch is always enabled: while open, reading stops only
            // while events wait, and then `send_first` runs; once closed
            // the loop goes on only while there is something to write.
            tokio::select! {
                written = self.writer.write(&self.out), if writing => self.on_write(written),
                read = self.reader.read(&mut self.read_buf), if reading => self.on_read(read),
                command = self.commands.recv(), if taking_commands => match command {
                    Some(command) => self.on_command(command),
                    None => self.commands_open = false,
                },
                () = send_first(&self.events, &mut self.undelivered), if !self.undelivered.is_empty() => {}
                () = self.events.closed(), if open && !self.commands_open => {}
                () = tokio::time::sleep_until(deadline.unwrap_or(self.origin)), if deadline.is_some() => {
                    let now = self.now();
                    self.session.handle_timeout(now);
                }
            }
        }
        self.finish().await;
    }

    /// Takes what the session has to send, then handles its events, until
    /// neither is left. The bytes of an event's packet are always queued
    /// before the event is handled.
    fn drain(&mut self) {
        loop {
            let before = self.out.len();
            let queued = self.session.poll_transmit(&mut self.out).is_some();
            if queued {
                let added = self.out.len().saturating_sub(before);
                self.queued_total = self.queued_total.saturating_add(added as u64);
            }
            let mut handled = false;
            while let Some(event) = self.session.poll_event() {
                handled = true;
                self.on_event(event);
            }
            if !queued && !handled {
                break;
            }
        }
        if self.transport_gone {
            // Nothing more will be written.
            self.out.clear();
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
        self.transport_gone = true;
        if self.io_error.is_none() {
            self.io_error = Some(err.into());
        }
        let now = self.now();
        self.session.handle_transport_closed(now);
    }

    fn on_read(&mut self, read: io::Result<usize>) {
        let now = self.now();
        match read {
            Ok(0) => {
                self.transport_gone = true;
                self.session.handle_transport_closed(now);
            }
            Ok(n) => {
                let bytes = self.read_buf.get(..n).unwrap_or_default();
                self.session.handle_bytes(now, bytes);
            }
            Err(err) => self.transport_failed(err),
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = self.now();
        match command {
            Command::Publish { message, reply } => {
                let qos = message.qos;
                match self.session.publish(now, message) {
                    Ok(op) => {
                        self.pending.insert(op, Pending::Publish { qos, reply });
                    }
                    Err(err) => drop(reply.send(Err(err.into()))),
                }
            }
            Command::Subscribe { filters, reply } => {
                match self
                    .session
                    .subscribe(now, filters, SubscribeProperties::default())
                {
                    Ok(op) => {
                        self.pending.insert(op, Pending::Subscribe(reply));
                    }
                    Err(err) => drop(reply.send(Err(err.into()))),
                }
            }
            Command::Unsubscribe { filters, reply } => {
                match self
                    .session
                    .unsubscribe(now, filters, UnsubscribeProperties::default())
                {
                    Ok(op) => {
                        self.pending.insert(op, Pending::Unsubscribe(reply));
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
                match self.session.disconnect(now, Disconnect::default()) {
                    // Answered in `finish`, once the socket is shut down.
                    Ok(()) => self.disconnect_reply = Some(reply),
                    Err(OpError::NotConnected) => drop(reply.send(Err(Error::Closed))),
                    Err(err) => drop(reply.send(Err(err.into()))),
                }
            }
        }
    }

    fn on_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::Connected { session_present } => {
                if let Some(connected) = self.connected.take() {
                    drop(connected.send(Ok(session_present)));
                }
            }
            SessionEvent::Message { publish, ack } if !self.events.is_closed() => {
                self.undelivered.push_back(Event::Message { publish, ack });
            }
            SessionEvent::Published { op, reason } => {
                match self.pending.remove(&op) {
                    // Its bytes were just queued: it completes when they
                    // are written.
                    Some(Pending::Publish {
                        qos: QoS::AtMostOnce,
                        reply,
                    }) => self.awaiting_write.push_back((self.queued_total, reply)),
                    Some(Pending::Publish { reply, .. }) => drop(reply.send(Ok(reason))),
                    Some(other) => drop(self.pending.insert(op, other)),
                    None => {}
                }
            }
            SessionEvent::Subscribed { op, reason_codes } => {
                if let Some(Pending::Subscribe(reply)) = self.pending.remove(&op) {
                    drop(reply.send(Ok(reason_codes)));
                }
            }
            SessionEvent::Unsubscribed { op, reason_codes } => {
                if let Some(Pending::Unsubscribe(reply)) = self.pending.remove(&op) {
                    drop(reply.send(Ok(reason_codes)));
                }
            }
            SessionEvent::OpFailed { op, error } => {
                if let Some(pending) = self.pending.remove(&op) {
                    pending.fail(self.failure(error));
                }
            }
            // Messages handed back: the session ended with the connection
            // (Session Expiry 0). This driver does not reconnect, so they
            // fail with why the connection ended.
            SessionEvent::Returned { op, .. } => {
                if let Some(pending) = self.pending.remove(&op) {
                    pending.fail(self.failure(OpError::ConnectionClosed));
                }
            }
            SessionEvent::Closed(cause) => {
                let error = self.close_error(cause);
                match self.connected.take() {
                    Some(connected) => drop(connected.send(Err(error.clone()))),
                    None => self
                        .undelivered
                        .push_back(Event::Disconnected(error.clone())),
                }
                self.closed = Some(error);
            }
            // Enhanced authentication is not offered by this driver yet;
            // `SessionLost` needs no action on a new session.
            _ => {}
        }
    }

    /// The error for an operation that failed with `error`: the reason the
    /// connection ended when that is why it failed.
    fn failure(&self, error: OpError) -> Error {
        match (&self.closed, error) {
            (Some(closed), OpError::ConnectionClosed) => closed.clone(),
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

    /// The connection ended: close the socket, fail everything still
    /// waiting with the cause, and hand the last events over.
    async fn finish(self) {
        let Self {
            reader,
            mut writer,
            awaiting_write,
            mut commands,
            events,
            undelivered,
            pending,
            connected,
            closed,
            disconnect_reply,
            transport_gone,
            ..
        } = self;
        let error = closed.unwrap_or(Error::Closed);
        if !transport_gone {
            // Everything the session queued, a DISCONNECT included, is
            // written; the peer gets the end of the stream.
            let _ = writer.shutdown().await;
        }
        drop((reader, writer));
        for (_, reply) in awaiting_write {
            drop(reply.send(Err(error.clone())));
        }
        for (_, op) in pending {
            op.fail(error.clone());
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
