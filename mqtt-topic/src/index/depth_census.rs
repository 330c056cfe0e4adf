//! A census of the wildcard filters by depth, so that a topic which no wildcard filter
//! can match is rejected without walking the trie.
//!
//! A wildcard filter matches a topic only if, at every depth before its `#` (or at
//! every depth, without one), it holds `+` or the topic's own level there. So the
//! census keeps, per depth `d`: whether some filter has `+` at `d`, whether some filter
//! has `#` at `d`, and a counting Bloom filter of the literal levels `(d, text)` of all
//! filters. A topic whose level at depth `d` is neither covered by a `+` at `d` nor
//! present as a literal at `d`, with no `#` at depth `d` or less, matches no wildcard
//! filter.
//!
//! The check needs no trie node: it hashes the topic's levels (word at a time, as the
//! walk does) and tests one counter each. A miss deep in the topic, such as an unknown
//! 4th level on EMQX's `device/{id}/+/{num}/#` shape, then costs a few word operations
//! per level instead of a chain of dependent hash probes and node loads.
//!
//! Counts are per subscription (like [`FirstByteCensus`](super::first_byte)), so
//! unsubscribing undoes subscribing exactly. A Bloom counter that reaches its maximum
//! stays there (it can no longer tell how many filters it counts), which only keeps a
//! level "maybe present". False positives only send the topic to the trie walk.

use alloc::boxed::Box;
use alloc::vec;

use crate::level::{EdgeHasher, scan_level};

/// Depths tracked; levels at this depth or deeper are not checked (the topic goes to
/// the trie walk).
const MAX_DEPTH: usize = 63;
/// log2 of the number of Bloom counters (16,384 one-byte counters, 16 KiB, allocated
/// while at least one wildcard filter is subscribed).
const BLOOM_BITS: u32 = 14;
const BLOOM_LEN: usize = 1 << BLOOM_BITS;

/// Per-depth summary of the subscribed wildcard filters.
#[derive(Clone, Debug)]
pub(crate) struct DepthCensus {
    /// Wildcard-filter subscriptions counted.
    filters: usize,
    /// Subscriptions with `+` at each depth.
    plus: [u32; MAX_DEPTH],
    /// Subscriptions with `#` at each depth (the number of levels before it).
    multi: [u32; MAX_DEPTH],
    /// Bit `d` set when `plus[d] > 0`.
    plus_mask: u64,
    /// Bit `d` set when `multi[d] > 0`.
    multi_mask: u64,
    /// Counting Bloom filter of `(depth, literal level)`; `None` while `filters == 0`.
    literals: Option<Box<[u8; BLOOM_LEN]>>,
    hasher: EdgeHasher,
}

/// How a filter level is counted.
#[derive(Clone, Copy)]
enum Change {
    Add,
    Remove,
}

impl DepthCensus {
    pub(crate) fn new() -> Self {
        Self {
            filters: 0,
            plus: [0; MAX_DEPTH],
            multi: [0; MAX_DEPTH],
            plus_mask: 0,
            multi_mask: 0,
            literals: None,
            hasher: EdgeHasher::new(),
        }
    }

    /// The Bloom counter index of `level` at `depth`.
    #[inline]
    fn slot(&self, depth: usize, level: &[u8], word: u64) -> usize {
        let depth = u32::try_from(depth).unwrap_or(u32::MAX);
        let hash = self.hasher.hash_prefix(depth, level.len(), word);
        usize::try_from(hash.wrapping_shr(64u32.wrapping_sub(BLOOM_BITS))).unwrap_or(0)
    }

    /// One more subscription to the wildcard filter `filter`.
    pub(crate) fn add(&mut self, filter: &[u8]) {
        if self.literals.is_none() {
            self.literals = vec![0; BLOOM_LEN].into_boxed_slice().try_into().ok();
        }
        self.filters = self.filters.saturating_add(1);
        self.count(filter, Change::Add);
    }

    /// One subscription to the wildcard filter `filter` fewer.
    pub(crate) fn remove(&mut self, filter: &[u8]) {
        self.count(filter, Change::Remove);
        self.filters = self.filters.saturating_sub(1);
        if self.filters == 0 {
            // Everything counted is gone: give the memory back.
            *self = Self {
                hasher: self.hasher.clone(),
                ..Self::new()
            };
        }
    }

    fn count(&mut self, filter: &[u8], change: Change) {
        for (depth, level) in filter.split(|&b| b == b'/').enumerate().take(MAX_DEPTH) {
            match level {
                b"+" => bump(&mut self.plus, &mut self.plus_mask, depth, change),
                b"#" => bump(&mut self.multi, &mut self.multi_mask, depth, change),
                _ => {
                    let slot = self.slot(depth, level, crate::level::word_of(level));
                    if let Some(counter) = self
                        .literals
                        .as_mut()
                        .and_then(|l| l.get_mut(slot & (BLOOM_LEN - 1)))
                    {
                        *counter = match change {
                            Change::Add => counter.saturating_add(1),
                            // A saturated counter no longer knows its count: keep it.
                            Change::Remove if *counter == u8::MAX => u8::MAX,
                            Change::Remove => counter.saturating_sub(1),
                        };
                    }
                }
            }
        }
    }

    /// False when no subscribed wildcard filter can match `topic`.
    #[inline]
    pub(crate) fn may_match(&self, topic: &[u8]) -> bool {
        let Some(literals) = &self.literals else {
            return false;
        };
        // No check at or beyond the shallowest `#`: it covers every deeper level.
        let stop = usize::try_from(self.multi_mask.trailing_zeros())
            .unwrap_or(MAX_DEPTH)
            .min(MAX_DEPTH);
        let mut pos = 0;
        for depth in 0..stop {
            let Some(level) = scan_level(topic, pos) else {
                return true;
            };
            let shift = u32::try_from(depth).unwrap_or(u32::MAX);
            if self.plus_mask.wrapping_shr(shift) & 1 == 0 {
                let slot = self.slot(depth, level.bytes, level.word);
                if literals.get(slot & (BLOOM_LEN - 1)).is_none_or(|&c| c == 0) {
                    return false;
                }
            }
            pos = level.next;
        }
        true
    }
}

/// Adds or removes one count at `depth`, keeping `mask` in step.
fn bump(counts: &mut [u32; MAX_DEPTH], mask: &mut u64, depth: usize, change: Change) {
    let Some(count) = counts.get_mut(depth) else {
        return;
    };
    *count = match change {
        Change::Add => count.saturating_add(1),
        Change::Remove if *count == u32::MAX => u32::MAX,
        Change::Remove => count.saturating_sub(1),
    };
    let bit = 1u64
        .checked_shl(u32::try_from(depth).unwrap_or(u32::MAX))
        .unwrap_or(0);
    if *count > 0 {
        *mask |= bit;
    } else {
        *mask &= !bit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_only_topics_no_filter_can_match() {
        let mut census = DepthCensus::new();
        assert!(!census.may_match(b"a/b"));
        census.add(b"device/+/x/#");
        census.add(b"site/+/temp");
        for topic in [&b"device/1/x"[..], b"device/1/x/y/z", b"site/9/temp"] {
            assert!(census.may_match(topic), "{topic:?}");
        }
        for topic in [
            &b"device/1/y/z"[..],
            b"nothing",
            b"site/9/humidity",
            b"x/1/x",
        ] {
            assert!(!census.may_match(topic), "{topic:?}");
        }
        census.add(b"+/+/+/#");
        assert!(census.may_match(b"x/y/z"));
        census.remove(b"+/+/+/#");
        assert!(!census.may_match(b"x/y/z"));
        census.remove(b"device/+/x/#");
        census.remove(b"site/+/temp");
        assert!(census.literals.is_none(), "memory given back");
        census.add(b"#");
        assert!(census.may_match(b"anything/at/all"));
    }
}
