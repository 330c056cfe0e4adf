//! The sessions' clock on tokio's: a session's `Instant` counts
//! milliseconds from an origin, and its deadlines become tokio instants
//! to sleep until.

use std::time::Duration;

use mqttkit_session::Instant;

/// One origin and the conversions both ways.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: tokio::time::Instant,
}

impl Clock {
    /// A clock whose `Instant::ZERO` is now.
    pub(crate) fn start() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }

    /// The tokio instant of `Instant::ZERO`; a placeholder for a sleep
    /// that is not armed.
    pub(crate) fn origin(&self) -> tokio::time::Instant {
        self.origin
    }

    /// The session's time now.
    pub(crate) fn now(&self) -> Instant {
        let millis = self.origin.elapsed().as_millis();
        Instant::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    /// A session deadline on the tokio clock; `None` beyond what it can
    /// represent.
    pub(crate) fn deadline(&self, at: Instant) -> Option<tokio::time::Instant> {
        self.origin
            .checked_add(Duration::from_millis(at.as_millis()))
    }
}
