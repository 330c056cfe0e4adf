//! A census of the first byte of every subscribed filter, so that a topic nobody can
//! match is rejected before any hashing.
//!
//! A filter whose first level is a literal can only match topics that start with the
//! same byte (an empty first level is the byte `/` in both); a filter starting with
//! `+` or `#` can match any topic but one starting with `$` (v5 [MQTT-4.7.2-1]). Brokers
//! see many topics that no one subscribes to (telemetry with no consumer); for those a
//! match costs one load.

/// Subscription counts per first byte of the filter.
#[derive(Clone, Debug)]
pub(crate) struct FirstByteCensus {
    /// Subscriptions whose filter starts with each byte value (not `+`/`#`).
    literal: [u32; 256],
    /// Subscriptions whose filter starts with `+` or `#`.
    wildcard: u32,
}

impl FirstByteCensus {
    pub(crate) const fn new() -> Self {
        Self {
            literal: [0; 256],
            wildcard: 0,
        }
    }

    fn counter(&mut self, filter: &[u8]) -> Option<&mut u32> {
        match filter.first()? {
            b'+' | b'#' => Some(&mut self.wildcard),
            &b => self.literal.get_mut(usize::from(b)),
        }
    }

    /// One more subscription to `filter`.
    pub(crate) fn add(&mut self, filter: &[u8]) {
        if let Some(count) = self.counter(filter) {
            *count = count.saturating_add(1);
        }
    }

    /// One subscription to `filter` fewer.
    pub(crate) fn remove(&mut self, filter: &[u8]) {
        if let Some(count) = self.counter(filter) {
            *count = count.saturating_sub(1);
        }
    }

    /// False when no subscribed filter can match `topic`.
    #[inline]
    pub(crate) fn may_match(&self, topic: &[u8]) -> bool {
        let Some(&first) = topic.first() else {
            return true;
        };
        let literal = self.literal.get(usize::from(first)).is_some_and(|&n| n > 0);
        literal || (self.wildcard > 0 && first != b'$')
    }
}
