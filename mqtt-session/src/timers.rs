//! The deadlines of a client connection, as one table (quinn-proto's
//! `timer.rs`). The server role has a single deadline, the keep-alive
//! window, and keeps it beside its connection.
//! The session's own deadline, its expiry, lives in [`crate::Session`].

use crate::time::Instant;

/// A deadline of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// CONNACK must arrive by then.
    ConnAck = 0,
    /// Send PINGREQ if nothing else was sent by then (v5 [MQTT-3.1.2-20]).
    KeepAlive = 1,
    /// PINGRESP must arrive by then.
    PingResp = 2,
    /// 3.1.1 in-session retransmission, when configured.
    Retransmit = 3,
}

/// How many [`Timer`]s there are.
const TIMERS: usize = 4;

#[derive(Debug, Clone, Default)]
pub(crate) struct Timers([Option<Instant>; TIMERS]);

impl Timers {
    pub(crate) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        if let Some(slot) = self.0.get_mut(timer as usize) {
            *slot = at;
        }
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.0.get(timer as usize).copied().flatten()
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    pub(crate) fn is_due(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|at| at <= now)
    }

    pub(crate) fn clear(&mut self) {
        self.0 = [None; TIMERS];
    }
}
