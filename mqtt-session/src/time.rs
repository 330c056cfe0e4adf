//! Time as a value the caller passes in: the state machine has no clock.

use core::time::Duration;

/// A point in time, in milliseconds since an origin the caller chooses
/// (process start, a test's zero, ...). It must not go backwards between
/// calls on one [`crate::Client`].
///
/// A plain integer keeps the crate `no_std`, deterministic in tests and
/// free of platform clocks; convert from `std::time::Instant` by measuring
/// the elapsed time since your origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The origin.
    pub const ZERO: Self = Self(0);

    /// The instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The instant `d` later, saturating at the end of time.
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(u64::MAX - 1);
        assert_eq!(
            t.saturating_add(Duration::from_secs(1)).as_millis(),
            u64::MAX
        );
        assert_eq!(Instant::ZERO.saturating_duration_since(t), Duration::ZERO);
        assert_eq!(
            Instant::from_millis(1500).saturating_duration_since(Instant::from_millis(500)),
            Duration::from_secs(1)
        );
    }
}
