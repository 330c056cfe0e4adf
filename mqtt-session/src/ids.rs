//! The packet identifier allocator shared by PUBLISH, SUBSCRIBE and
//! UNSUBSCRIBE (v5 [MQTT-2.2.1-3], v3.1.1 [MQTT-2.3.1-2]).
//!
//! Allocation and release are O(1): released identifiers are reused oldest
//! release first from a FIFO, and only when none is free is a never-used
//! one taken (in increasing order). Reusing first keeps the FIFO as short
//! as the number of messages in flight, so a steady flow allocates no
//! memory. A bitset answers "in use?" so that an identifier can never be
//! handed out twice. An empty allocator returns `None` and the caller
//! keeps the operation queued; nothing stalls or fails.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use mqttkit_codec::PacketId;

/// Hands out packet identifiers that are not in use.
#[derive(Debug, Clone)]
pub(crate) struct PacketIds {
    /// Bit `n` set: identifier `n` is in use. Grows with the highest
    /// identifier handed out, so an idle session holds none of it.
    in_use: Vec<u64>,
    /// The smallest identifier never handed out; `max + 1` once all were.
    next_fresh: u32,
    /// Released identifiers, oldest release first.
    free: VecDeque<u16>,
    /// The largest identifier handed out (65,535 outside tests).
    max: u16,
    used: u32,
}

fn slot(id: u16) -> (usize, u64) {
    (usize::from(id / 64), 1u64 << (id % 64))
}

impl PacketIds {
    /// An allocator of identifiers `1..=max`.
    pub(crate) const fn new(max: u16) -> Self {
        Self {
            in_use: Vec::new(),
            next_fresh: 1,
            free: VecDeque::new(),
            max: if max == 0 { 1 } else { max },
            used: 0,
        }
    }

    /// The number of identifiers in use.
    pub(crate) fn in_use_count(&self) -> u32 {
        self.used
    }

    /// Whether `id` is in use.
    pub(crate) fn is_in_use(&self, id: PacketId) -> bool {
        let (word, bit) = slot(id.get());
        self.in_use.get(word).is_some_and(|w| w & bit != 0)
    }

    fn mark(&mut self, id: u16, on: bool) {
        let (word, bit) = slot(id);
        if on && self.in_use.len() <= word {
            self.in_use.resize(word.saturating_add(1), 0);
        }
        if let Some(w) = self.in_use.get_mut(word) {
            if on {
                *w |= bit;
            } else {
                *w &= !bit;
            }
        }
    }

    /// An identifier not in use, now marked in use; `None` when all are.
    pub(crate) fn allocate(&mut self) -> Option<PacketId> {
        // Entries are pushed only on release of an id in use, and an id is
        // only marked in use by `allocate`, so the front is free.
        let id = match self.free.pop_front() {
            Some(id) => id,
            None if self.next_fresh <= u32::from(self.max) => {
                let id = u16::try_from(self.next_fresh).ok()?;
                self.next_fresh = self.next_fresh.saturating_add(1);
                id
            }
            None => return None,
        };
        let id = PacketId::new(id)?;
        debug_assert!(!self.is_in_use(id));
        self.mark(id.get(), true);
        self.used = self.used.saturating_add(1);
        Some(id)
    }

    /// Returns `id`; `false` if it was not in use.
    pub(crate) fn release(&mut self, id: PacketId) -> bool {
        if !self.is_in_use(id) {
            return false;
        }
        self.mark(id.get(), false);
        self.used = self.used.saturating_sub(1);
        self.free.push_back(id.get());
        true
    }

    /// Gives back spare storage: the free queue's, and the bitset above the
    /// highest identifier in use.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.free.shrink_to_fit();
        let words = self
            .in_use
            .iter()
            .rposition(|w| *w != 0)
            .map_or(0, |last| last.saturating_add(1));
        self.in_use.truncate(words);
        self.in_use.shrink_to_fit();
    }

    /// Rebuilds an allocator in which exactly `ids` are in use (restore).
    /// O(max) once; `false` if an id repeats or is out of range.
    pub(crate) fn with_in_use(max: u16, ids: impl IntoIterator<Item = PacketId>) -> Option<Self> {
        let mut this = Self::new(max);
        let mut highest = 0u16;
        for id in ids {
            if id.get() > this.max || this.is_in_use(id) {
                return None;
            }
            this.mark(id.get(), true);
            this.used = this.used.saturating_add(1);
            highest = highest.max(id.get());
        }
        // Ids above the highest in use are fresh; those below it and free
        // go to the reuse queue, in increasing order.
        this.next_fresh = u32::from(highest).saturating_add(1);
        for n in 1..highest {
            if let Some(id) = PacketId::new(n)
                && !this.is_in_use(id)
            {
                this.free.push_back(n);
            }
        }
        Some(this)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    fn id(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    /// v5 [MQTT-2.2.1-3]: a new SUBSCRIBE, UNSUBSCRIBE or PUBLISH gets an
    /// identifier that is currently unused, also after every id was used once.
    #[test]
    fn v5_mqtt_2_2_1_3_never_hands_out_an_id_in_use() {
        let mut ids = PacketIds::new(u16::MAX);
        let mut held = BTreeSet::new();
        for round in 0..200_000u32 {
            if round % 3 == 2 {
                let first = *held.iter().next().unwrap();
                assert!(ids.release(id(first)));
                held.remove(&first);
            } else if let Some(new) = ids.allocate() {
                assert!(held.insert(new.get()), "{new} handed out twice");
            }
        }
        assert_eq!(ids.in_use_count() as usize, held.len());
    }

    #[test]
    fn exhaustion_returns_none_and_release_makes_room() {
        let mut ids = PacketIds::new(3);
        let all: Vec<_> = core::iter::from_fn(|| ids.allocate()).collect();
        assert_eq!(all, [id(1), id(2), id(3)]);
        assert_eq!(ids.allocate(), None);
        assert!(ids.release(id(2)));
        assert!(!ids.release(id(2)), "double release is refused");
        assert_eq!(ids.allocate(), Some(id(2)));
        assert_eq!(ids.allocate(), None);
    }

    /// Ids in use stay in use whatever is released or given back around
    /// them, in the same bitset word or a later one.
    #[test]
    fn releasing_and_shrinking_keep_the_ids_in_use() {
        let mut ids = PacketIds::new(200);
        let held: Vec<_> = (0..140).map_while(|_| ids.allocate()).collect();
        assert_eq!(held.len(), 140);
        ids.release(id(1));
        ids.shrink_to_fit();
        for n in 2..=140 {
            assert!(ids.is_in_use(id(n)), "{n} still in use");
        }
        assert!(!ids.is_in_use(id(1)));
        assert_eq!(ids.allocate(), Some(id(1)));
        assert_eq!(ids.allocate(), Some(id(141)));
        // The highest id may be in use in a rebuilt allocator too.
        assert!(PacketIds::with_in_use(6, [id(6)]).is_some());
    }

    #[test]
    fn rebuilt_allocator_skips_ids_in_use() {
        let mut ids = PacketIds::with_in_use(6, [id(2), id(5)]).unwrap();
        let got: Vec<_> = core::iter::from_fn(|| ids.allocate()).collect();
        assert_eq!(got, [id(1), id(3), id(4), id(6)]);
        assert!(PacketIds::with_in_use(6, [id(2), id(2)]).is_none());
        assert!(PacketIds::with_in_use(6, [id(7)]).is_none());
    }
}
