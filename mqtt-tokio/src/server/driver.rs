//! The task that owns one client's socket: it feeds the session what it
//! reads and the time, writes what the session queued, and moves the
//! session's events to the broker. It adds no protocol rule.
//!
//! One `poll_fn` polls the socket in both directions, the wake-up from the
//! handles and the session's deadline, so the socket is not split (no
//! shared half to allocate) and an idle connection is a small future.
//! Writing never blocks reading, and the other way round, except by the
//! bounds: no reading while the broker's event queue is full or too many
//! bytes wait to be written.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use mqttkit_session::Transmit;
use mqttkit_session::bytes::Buf;
use mqttkit_session::{DisconnectReasonCode, Server, ServerCloseCause, ServerEvent};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Sleep;

use super::connection::Shared;
use super::{Closed, ConnectionEvent};
use crate::clock::ShortTime;
use crate::transport::BoxedIo;

/// The read buffer of an idle connection, and the least it shrinks to.
const MIN_READ: usize = 64;

/// How long a busy connection stays quiet before it gives back the buffers
/// of its last burst.
const SHRINK_AFTER: Duration = Duration::from_millis(100);

/// Bursts after which a connection gives its buffers back at once, before
/// it counts as busy.
const EAGER_BURSTS: u8 = 3;

/// The most one read takes: reads that fill the buffer double it up to
/// this, as large packets or bursts arrive; short reads halve it again.
const MAX_READ: usize = 16 * 1024;

/// Chunks handed to one vectored write at most: a few packets' heads and
/// payloads; what is left goes in the next write.
const MAX_WRITE_SLICES: usize = 64;

/// `timeout` from now; far in the future if that cannot be represented.
fn close_deadline(timeout: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(timeout).unwrap_or_else(|| {
        now.checked_add(Duration::from_secs(86_400 * 365))
            .unwrap_or(now)
    })
}

/// Keeps the first reason the session gave for closing.
fn keep_first(kept: &mut Option<Box<ServerCloseCause>>, cause: ServerCloseCause) {
    if kept.is_none() {
        *kept = Some(Box::new(cause));
    }
}

/// What ended a wait.
enum Wake {
    Wrote(io::Result<usize>),
    Flushed(io::Result<()>),
    Read(io::Result<usize>),
    Notified,
    Timer,
}

/// What the loop may do next, from the shared state.
struct Plan {
    reading: bool,
    deadline: Option<tokio::time::Instant>,
}

/// The broker's code the driver task runs for each event, in order,
/// instead of queueing it for [`super::ConnectionEvents`].
pub(crate) type Handler = Box<dyn FnMut(ConnectionEvent) + Send>;

pub(crate) struct Driver {
    io: BoxedIo,
    handler: Option<Handler>,
    shared: Arc<Shared>,
    close_timeout: Duration,
    read_buf: Vec<u8>,
    /// Bytes taken from the shared state, being written.
    out: Transmit,
    /// Written bytes not flushed yet (a TLS stream may hold them).
    flush: bool,
    /// Why the session closed the connection, once it did.
    cause: Option<Box<ServerCloseCause>>,
    io_error: Option<Arc<io::Error>>,
    /// The socket reached its end or failed: nothing more is written.
    transport_gone: bool,
    /// Something was read, written or asked for since the last step.
    active: bool,
    /// When a quiet connection gives its buffers back, unless it is busy
    /// again before.
    shrink_at: ShortTime,
    /// Bursts of traffic since the connection last stayed quiet for
    /// `SHRINK_AFTER`.
    bursts: u8,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("unwritten", &self.out.len())
            .field("cause", &self.cause)
            .finish_non_exhaustive()
    }
}

impl Driver {
    pub(crate) fn new(
        io: BoxedIo,
        shared: Arc<Shared>,
        close_timeout: Duration,
        handler: Option<Handler>,
    ) -> Self {
        Self {
            io,
            handler,
            shared,
            close_timeout,
            read_buf: vec![0; MIN_READ],
            out: Transmit::new(),
            flush: false,
            cause: None,
            io_error: None,
            transport_gone: false,
            active: false,
            shrink_at: ShortTime::UNSET,
            bursts: 0,
        }
    }

    pub(crate) async fn run(mut self) {
        // Two steps, so that the task's future holds the state of one at
        // a time: an idle connection is this future.
        let close_by = self.serve().await;
        self.finish(close_by).await;
    }

    /// Runs the connection until the session has closed it and its last
    /// bytes are written (or the close timeout passed); returns that
    /// deadline.
    async fn serve(&mut self) -> Option<tokio::time::Instant> {
        let shared = Arc::clone(&self.shared);
        let sleep = tokio::time::sleep_until(shared.clock.origin());
        tokio::pin!(sleep);
        let mut armed = None;
        let mut close_by = None;
        loop {
            let plan = self.sync();
            if self.dispatch() {
                // The handler may have queued bytes or closed the session.
                continue;
            }
            if self.cause.is_some() {
                let close_by = *close_by.get_or_insert_with(|| close_deadline(self.close_timeout));
                if self.transport_gone || self.out.is_empty() && !self.flush {
                    break;
                }
                if armed != Some(close_by) {
                    sleep.as_mut().reset(close_by);
                    armed = Some(close_by);
                }
            } else if plan.deadline != armed {
                if let Some(at) = plan.deadline {
                    sleep.as_mut().reset(at);
                }
                armed = plan.deadline;
            }
            let timer = armed.is_some();
            let wake = poll_fn(|cx| self.poll_wake(cx, plan.reading, timer, sleep.as_mut())).await;
            self.active |= !matches!(wake, Wake::Timer);
            match wake {
                Wake::Wrote(Ok(0)) => self.transport_failed(io::ErrorKind::WriteZero.into()),
                Wake::Wrote(Ok(n)) => {
                    self.out.advance(n.min(self.out.len()));
                    self.flush = true;
                }
                Wake::Flushed(Ok(())) => self.flush = false,
                Wake::Wrote(Err(err)) | Wake::Flushed(Err(err)) | Wake::Read(Err(err)) => {
                    self.transport_failed(err);
                }
                Wake::Read(Ok(n)) => self.on_read(n),
                Wake::Notified => {}
                Wake::Timer if self.cause.is_some() => break,
                Wake::Timer => {
                    let now = shared.now();
                    if let Some(server) = shared.lock().server.as_mut() {
                        server.handle_timeout(now);
                    }
                    armed = None;
                }
            }
        }
        close_by
    }

    /// Writes from `out`: its chunks in one vectored write where the
    /// transport takes one (a large payload goes straight from the
    /// message every subscriber shares), the first chunk otherwise.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let io = Pin::new(&mut self.io);
        if io.is_write_vectored() {
            let mut slices = [io::IoSlice::new(&[]); MAX_WRITE_SLICES];
            let mut used = 0;
            for (n, (slot, chunk)) in slices.iter_mut().zip(self.out.chunks()).enumerate() {
                *slot = io::IoSlice::new(chunk);
                used = n.saturating_add(1);
            }
            io.poll_write_vectored(cx, slices.get(..used).unwrap_or_default())
        } else {
            io.poll_write(cx, self.out.chunk())
        }
    }

    fn poll_wake(
        &mut self,
        cx: &mut Context<'_>,
        reading: bool,
        timer: bool,
        sleep: Pin<&mut Sleep>,
    ) -> Poll<Wake> {
        if !self.transport_gone {
            if !self.out.is_empty() {
                if let Poll::Ready(written) = self.poll_write_out(cx) {
                    return Poll::Ready(Wake::Wrote(written));
                }
            } else if self.flush
                && let Poll::Ready(flushed) = Pin::new(&mut self.io).poll_flush(cx)
            {
                return Poll::Ready(Wake::Flushed(flushed));
            }
        }
        // The plan may predate a pause asked for since.
        if reading && self.shared.paused().is_none() {
            let mut buf = ReadBuf::new(&mut self.read_buf);
            if let Poll::Ready(read) = Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                let n = buf.filled().len();
                return Poll::Ready(Wake::Read(read.map(|()| n)));
            }
        }
        {
            let mut state = self.shared.lock();
            if std::mem::take(&mut state.driver_woken) {
                return Poll::Ready(Wake::Notified);
            }
            if !state
                .driver_waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                state.driver_waker = Some(cx.waker().clone());
            }
        }
        if timer && sleep.poll(cx).is_ready() {
            return Poll::Ready(Wake::Timer);
        }
        Poll::Pending
    }

    /// With a handler, runs it on every event, queued or still in the
    /// session, one at a time and never under the lock (it calls the
    /// connection's handles); whether there was any, or the session
    /// closed.
    fn dispatch(&mut self) -> bool {
        if self.handler.is_none() {
            return false;
        }
        let mut any = false;
        loop {
            let event = {
                let mut guard = self.shared.lock();
                let state = &mut *guard;
                let mut event = state.events.pop_front();
                while event.is_none()
                    && let Some(next) = state.server.as_mut().and_then(Server::poll_event)
                {
                    match next {
                        ServerEvent::Closed(cause) => {
                            keep_first(&mut self.cause, cause);
                            any = true;
                        }
                        next => event = Some(ConnectionEvent::Session(next)),
                    }
                }
                if event.is_none() && any {
                    // An idle connection keeps no event storage.
                    state.events = std::collections::VecDeque::new();
                }
                event
            };
            let Some(event) = event else {
                return any;
            };
            any = true;
            if let Some(handler) = self.handler.as_mut() {
                handler(event);
            }
        }
    }

    /// Under the lock: takes the session's bytes and events, and works out
    /// what to wait for.
    fn sync(&mut self) -> Plan {
        let shared = Arc::clone(&self.shared);
        let now = shared.now();
        let mut guard = shared.lock();
        let state = &mut *guard;
        let mut woke_events = false;
        let mut deadline = None;
        if let Some(server) = state.server.as_mut() {
            if state.events_gone && server.is_connected() {
                // Nobody would answer the client's requests any more.
                server.disconnect(now, DisconnectReasonCode::ServerShuttingDown);
            }
            while server.poll_transmit_chunks(&mut state.tx).is_some() {}
            // With a handler, `dispatch` takes the session's events itself,
            // one at a time: not moved through a second queue.
            while self.handler.is_none()
                && let Some(event) = server.poll_event()
            {
                match event {
                    ServerEvent::Closed(cause) => keep_first(&mut self.cause, cause),
                    event if !state.events_gone => {
                        state.events.push_back(ConnectionEvent::Session(event));
                        woke_events = true;
                    }
                    _ => {}
                }
            }
            deadline = server
                .poll_timeout()
                .and_then(|at| shared.clock.deadline(at));
        }
        if self.transport_gone {
            state.tx.release();
            self.out.release();
            if self.cause.is_none() {
                self.cause = Some(Box::new(ServerCloseCause::TransportClosed));
            }
        }
        if self.out.is_empty() {
            std::mem::swap(&mut self.out, &mut state.tx);
        }
        state.writing = self.out.len();
        let unwritten = self.out.len().saturating_add(state.tx.len());
        let paused = shared.paused();
        let reading = self.cause.is_none()
            && paused.is_none()
            && state.events.len() < shared.event_capacity()
            && unwritten < shared.max_unwritten();
        let quiet = reading && unwritten == 0 && !self.flush && self.read_buf.len() <= MIN_READ;
        // Give back what a burst used once the connection is quiet: at
        // once for its first few bursts (a client connecting and
        // subscribing, then idle), then only after it stayed quiet for
        // `SHRINK_AFTER`, so that a busy subscriber does not allocate it all
        // again for every message.
        let burst_ended = quiet && self.active;
        self.active = false;
        if burst_ended {
            self.bursts = self.bursts.saturating_add(1);
        }
        let eager = burst_ended && self.bursts <= EAGER_BURSTS;
        let waited = quiet && self.shrink_at.is_set() && self.shrink_at.reached(now);
        if eager || waited && !burst_ended {
            if let Some(server) = state.server.as_mut() {
                server.shrink_to_fit();
            }
            self.out.release();
            state.tx.release();
            self.shrink_at = ShortTime::UNSET;
            if !eager {
                // Idle again: its next bursts count from zero.
                self.bursts = 0;
            }
        } else if burst_ended {
            self.shrink_at = ShortTime::after(now, SHRINK_AFTER);
        } else if !quiet {
            self.shrink_at = ShortTime::UNSET;
        }
        for wake in [paused, Some(self.shrink_at)] {
            let at = wake.and_then(|t| t.instant(now));
            let at = at.and_then(|at| shared.clock.deadline(at));
            deadline = match (deadline, at) {
                (Some(d), Some(a)) => Some(d.min(a)),
                (d, a) => d.or(a),
            };
        }
        if woke_events {
            state.wake_events();
        }
        drop(guard);
        Plan {
            reading,
            deadline: deadline.filter(|_| self.cause.is_none()),
        }
    }

    fn on_read(&mut self, n: usize) {
        let now = self.shared.now();
        let mut state = self.shared.lock();
        let Some(server) = state.server.as_mut() else {
            return;
        };
        if n == 0 {
            self.transport_gone = true;
            server.handle_transport_closed(now);
            return;
        }
        server.handle_bytes(now, self.read_buf.get(..n).unwrap_or_default());
        drop(state);
        let len = self.read_buf.len();
        if n == len && len < MAX_READ {
            self.read_buf.resize(len.saturating_mul(2).min(MAX_READ), 0);
        } else if n < len / 4 && len > MIN_READ {
            self.read_buf.truncate((len / 2).max(MIN_READ));
            self.read_buf.shrink_to_fit();
        }
    }

    fn transport_failed(&mut self, err: io::Error) {
        self.transport_gone = true;
        if self.io_error.is_none() {
            self.io_error = Some(Arc::new(err));
        }
        let now = self.shared.now();
        if let Some(server) = self.shared.lock().server.as_mut() {
            server.handle_transport_closed(now);
        }
    }

    /// Shuts the socket down (within the close timeout), then hands the
    /// session over (the socket is closed as the task ends): to [`super::Connection::take_over`] if it asked, else
    /// with the last event.
    async fn finish(&mut self, close_by: Option<tokio::time::Instant>) {
        if !self.transport_gone {
            let close_by = close_by.unwrap_or_else(|| close_deadline(self.close_timeout));
            let _ = tokio::time::timeout_at(close_by, self.io.shutdown()).await;
        }
        let shared = Arc::clone(&self.shared);
        let mut guard = shared.lock();
        let state = &mut *guard;
        let mut server = state.server.take();
        if let Some(server) = server.as_mut() {
            // Events the session queued since the last drain (a will, the
            // session's expiry).
            while let Some(event) = server.poll_event() {
                if !matches!(event, ServerEvent::Closed(_)) && !state.events_gone {
                    state.events.push_back(ConnectionEvent::Session(event));
                }
            }
            server.shrink_to_fit();
        }
        let session = match (state.take_over.take(), server) {
            (Some(take_over), Some(server)) => match take_over.send(server) {
                Ok(()) => None,
                // The caller stopped waiting: the session goes with the event.
                Err(server) => Some(Box::new(server)),
            },
            (_, server) => server.map(Box::new),
        };
        if !state.events_gone {
            state.events.push_back(ConnectionEvent::Closed(Closed {
                cause: self
                    .cause
                    .take()
                    .map_or(ServerCloseCause::TransportClosed, |c| *c),
                session,
                io_error: self.io_error.take(),
            }));
        }
        state.tx.release();
        state.driver_waker = None;
        state.wake_events();
        drop(guard);
        self.dispatch();
    }
}
