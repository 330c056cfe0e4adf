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

/// A time at most about 24 days away from now, in 32 bits: the low bits of
/// the session clock's milliseconds, compared by their wrapping difference,
/// so that it keeps working when the clock passes the 49 days a `u32` of
/// milliseconds holds. Kept where every connection pays for each byte.
/// 0 means unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ShortTime(u32);

/// Half the 32-bit range: differences below it are ahead, above it behind.
const HALF: u32 = 1 << 31;

/// The low 32 bits of `at`'s milliseconds.
fn low_bits(at: Instant) -> u32 {
    u32::try_from(at.as_millis() & u64::from(u32::MAX)).unwrap_or(0)
}

impl ShortTime {
    /// Unset.
    pub(crate) const UNSET: Self = Self(0);

    /// `delay` (capped at about 24 days) after `now`; never unset (a time
    /// whose bits are 0 is taken one millisecond later).
    pub(crate) fn after(now: Instant, delay: Duration) -> Self {
        let delay = u32::try_from(delay.as_millis()).map_or(HALF - 1, |d| d.min(HALF - 1));
        Self(low_bits(now).wrapping_add(delay).max(1))
    }

    /// From the bits [`ShortTime::bits`] gave.
    pub(crate) fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The 32 bits, for an atomic.
    pub(crate) fn bits(self) -> u32 {
        self.0
    }

    /// Whether it is set.
    pub(crate) fn is_set(self) -> bool {
        self.0 != 0
    }

    /// Whether `now` has reached it; an unset time is always reached.
    pub(crate) fn reached(self, now: Instant) -> bool {
        !self.is_set() || self.0.wrapping_sub(low_bits(now)).wrapping_sub(1) >= HALF - 1
    }

    /// The full session instant it stands for, seen from `now`; `None`
    /// when unset.
    pub(crate) fn instant(self, now: Instant) -> Option<Instant> {
        if !self.is_set() {
            return None;
        }
        let ahead = self.0.wrapping_sub(low_bits(now));
        let ms = now.as_millis();
        Some(Instant::from_millis(if ahead < HALF {
            ms.saturating_add(u64::from(ahead))
        } else {
            ms.saturating_sub(u64::from(ahead.wrapping_neg()))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Around the 49.7 days a `u32` of milliseconds holds, a time ahead is
    /// still ahead and one behind is reached.
    #[test]
    fn short_time_survives_the_32_bit_wrap() {
        let wrap = u64::from(u32::MAX) + 1;
        for base in [0, 1_000, wrap - 5, wrap, wrap + 3, 7 * wrap - 1] {
            let now = Instant::from_millis(base);
            let t = ShortTime::after(now, Duration::from_millis(10));
            assert!(t.is_set());
            assert!(!t.reached(now), "at {base}");
            assert!(!t.reached(Instant::from_millis(base + 9)), "at {base}");
            assert!(t.reached(Instant::from_millis(base + 10)), "at {base}");
            assert!(t.reached(Instant::from_millis(base + 10_000)), "at {base}");
            let at = t.instant(now).unwrap().as_millis();
            assert!(at == base + 10 || at == base + 11, "at {base}: {at}");
            assert_eq!(ShortTime::from_bits(t.bits()), t);
        }
        assert!(ShortTime::UNSET.reached(Instant::ZERO));
        assert_eq!(ShortTime::UNSET.instant(Instant::ZERO), None);
    }
}
