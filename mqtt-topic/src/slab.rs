//! Trie nodes in one vector, named by `u32`.
//!
//! A `Vec` that doubles its capacity as it grows leaves up to half of its memory unused;
//! this one grows by an eighth at a time (amortised O(1) still: each node is copied
//! about eight times over the life of the slab), so at most about 12 % is unused.
//! One flat vector keeps a node one dependent load away from its id, which matters on
//! the match path; `u32` ids are half the size of pointers in every link and hash
//! table entry.

use alloc::vec::Vec;

use crate::IndexFull;

/// Smallest growth step, so that small slabs do not reallocate on every insert.
const MIN_GROWTH: usize = 64;

/// Slots that are reused after removal; the caller marks free slots in its own type.
#[derive(Clone, Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<T>,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    /// A slab holding `first` at id 0.
    pub(crate) fn new(first: T) -> Self {
        Self {
            slots: alloc::vec![first],
            free: Vec::new(),
        }
    }

    /// Number of slots in use.
    pub(crate) fn live(&self) -> usize {
        self.slots.len().saturating_sub(self.free.len())
    }

    #[inline]
    pub(crate) fn get(&self, id: u32) -> Option<&T> {
        self.slots.get(usize::try_from(id).ok()?)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        self.slots.get_mut(usize::try_from(id).ok()?)
    }

    /// Stores `value` in a free slot or a new one.
    pub(crate) fn insert(&mut self, value: T) -> Result<u32, IndexFull> {
        if let Some(id) = self.free.pop()
            && let Some(slot) = self.get_mut(id)
        {
            *slot = value;
            return Ok(id);
        }
        // `u32::MAX` stays free to mean "no node".
        let id = u32::try_from(self.slots.len())
            .ok()
            .filter(|&id| id != u32::MAX)
            .ok_or(IndexFull)?;
        if self.slots.len() == self.slots.capacity() {
            self.slots
                .reserve_exact((self.slots.len() / 8).max(MIN_GROWTH));
        }
        self.slots.push(value);
        Ok(id)
    }

    /// Puts `vacant` (the caller's "free" value) into slot `id` and recycles it.
    pub(crate) fn remove(&mut self, id: u32, vacant: T) {
        if let Some(slot) = self.get_mut(id) {
            *slot = vacant;
            self.free.push(id);
        }
    }

    /// Drops everything but slot 0, giving the memory back.
    pub(crate) fn truncate_to_first(&mut self) {
        self.slots.truncate(1);
        self.slots.shrink_to_fit();
        self.free = Vec::new();
    }
}
