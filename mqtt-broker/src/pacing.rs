//! Publishers wait while a subscriber they feed catches up, unless it has
//! stopped reading.
//!
//! Every client's queue is bounded, and a message for a full queue is
//! dropped. A subscriber that reads, only slower than its publishers, must
//! not lose messages that way: the publishers feeding it stop reading
//! (their sockets fill and TCP slows them) until its backlog is back under
//! a quarter of its bounds. A subscriber that makes no progress at all for
//! [`STALL`] is stalled: its publishers go on, and its queue fills and
//! overflows, so that one client that does not read costs its queue bound
//! and nothing more.
//!
//! The pacer is one task that looks at the held subscribers every
//! [`TICK`] and extends their publishers' pauses; nothing is kept per
//! connection, and nothing at all while no subscriber falls behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mqttkit_tokio::server::Connection;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::router::ClientKey;

/// How often held subscribers are looked at.
const TICK: Duration = Duration::from_millis(1);

/// How long a held publisher's pause lasts unless the next tick extends it:
/// two ticks, so that a late tick does not let it read in between.
const HOLD: Duration = Duration::from_millis(2);

/// A subscriber whose backlog has not shrunk for this long does not read:
/// its publishers are let go.
pub(crate) const STALL: Duration = Duration::from_millis(500);

/// How long the pacer sleeps when it holds no publisher, only watches
/// stalled subscribers for the moment they read again.
const WATCH: Duration = Duration::from_millis(10);

/// When a client falls behind: a quarter of its message queue or of its
/// unwritten bytes in use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Behind {
    pub(crate) queued: usize,
    pub(crate) unwritten: usize,
}

impl Behind {
    /// From the bounds of one client's queue and unwritten bytes.
    pub(crate) fn from_bounds(max_queued: usize, max_unwritten: usize) -> Self {
        Self {
            queued: (max_queued / 4).max(1),
            unwritten: (max_unwritten / 4).max(1),
        }
    }

    /// Whether a client with this backlog (from
    /// [`Connection::backlog`]) falls behind.
    pub(crate) fn at(self, (queued, unwritten): (usize, usize)) -> bool {
        queued >= self.queued || unwritten >= self.unwritten
    }
}

/// A subscriber that falls behind, and the publishers waiting for it.
#[derive(Debug)]
struct Held {
    subscriber: Connection,
    publishers: Vec<(ClientKey, Connection)>,
    /// Queued messages plus unwritten bytes at the last look.
    backlog: usize,
    /// When the backlog last shrank (or the hold began).
    progress_at: Instant,
    /// No progress for [`STALL`]: publishers are not held for it.
    stalled: bool,
}

impl Held {
    /// Takes the backlog `total` of a subscriber that still falls behind,
    /// at `now`: progress if it shrank, stalled (publishers let go) if it
    /// has not for [`STALL`].
    fn watch(&mut self, key: &ClientKey, total: usize, now: Instant) {
        if total < self.backlog {
            self.progress_at = now;
            if self.stalled {
                tracing::debug!(client = &**key, "reads again");
                self.stalled = false;
            }
        }
        self.backlog = total;
        if !self.stalled && now.saturating_duration_since(self.progress_at) >= STALL {
            tracing::debug!(
                client = &**key,
                publishers = self.publishers.len(),
                "stalled: its publishers go on"
            );
            self.stalled = true;
            self.publishers = Vec::new();
        }
    }
}

/// The subscribers that fall behind, by client.
#[derive(Debug)]
pub(crate) struct Pacer {
    behind: Behind,
    held: Mutex<HashMap<ClientKey, Held>>,
    wake: Notify,
}

impl Pacer {
    pub(crate) fn new(behind: Behind) -> Self {
        Self {
            behind,
            held: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        }
    }

    fn held(&self) -> MutexGuard<'_, HashMap<ClientKey, Held>> {
        // Plain data: a panic elsewhere cannot leave it inconsistent.
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `publisher` sent a message to `subscriber`, which falls behind:
    /// the publisher reads no more until the subscriber catches up or
    /// turns out to be stalled.
    pub(crate) fn hold(
        &self,
        subscriber: (&ClientKey, &Connection),
        publisher: (&ClientKey, &Connection),
    ) {
        let mut held = self.held();
        let entry = held.entry(subscriber.0.clone()).or_insert_with(|| Held {
            subscriber: subscriber.1.clone(),
            publishers: Vec::new(),
            backlog: backlog_total(subscriber.1.backlog()),
            progress_at: Instant::now(),
            stalled: false,
        });
        if !entry.subscriber.same_connection(subscriber.1) {
            // The client reconnected: a new connection, a new start.
            entry.subscriber = subscriber.1.clone();
            entry.backlog = backlog_total(subscriber.1.backlog());
            entry.progress_at = Instant::now();
            entry.stalled = false;
        }
        if entry.stalled {
            return;
        }
        let first = entry.publishers.is_empty();
        if !entry.publishers.iter().any(|(k, _)| k == publisher.0) {
            entry
                .publishers
                .push((publisher.0.clone(), publisher.1.clone()));
        }
        publisher.1.pause_reading(HOLD);
        drop(held);
        if first {
            // The pacer may be asleep, or watching at the slower pace.
            self.wake.notify_one();
        }
    }

    /// Looks at every held subscriber once, at `now`: lets publishers go
    /// for those that caught up or stalled, and extends the others'
    /// pauses. Returns how long to wait before the next look, `None` when
    /// nothing is held.
    pub(crate) fn tick(&self, now: Instant) -> Option<Duration> {
        let mut held = self.held();
        let mut holding = false;
        held.retain(|key, h| {
            let backlog = h.subscriber.backlog();
            if self.behind.at(backlog) {
                h.watch(key, backlog_total(backlog), now);
            } else {
                // Caught up (or gone). Half the publishers go at each tick:
                // let go at once, each would route a whole read's worth
                // before the next look, together enough to overflow the
                // queue again.
                if h.publishers.len() <= 1 {
                    // The last one's pause runs out.
                    return false;
                }
                let going = h.publishers.len().div_ceil(2);
                h.publishers.drain(..going);
                h.progress_at = now;
            }
            for (_, publisher) in &h.publishers {
                publisher.pause_reading(HOLD);
            }
            holding |= !h.publishers.is_empty();
            true
        });
        if held.is_empty() {
            None
        } else if holding {
            Some(TICK)
        } else {
            Some(WATCH)
        }
    }

    /// The pacer's task: ticks while anything is held, sleeps otherwise.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            match self.tick(Instant::now()) {
                Some(wait) => {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = self.wake.notified() => {}
                    }
                }
                None => self.wake.notified().await,
            }
        }
    }
}

fn backlog_total((queued, unwritten): (usize, usize)) -> usize {
    queued.saturating_add(unwritten)
}
