//! Trie nodes in fixed-size chunks, named by `u32`.
//!
//! A single `Vec` of nodes doubles its capacity as it grows, so up to half of its memory
//! is unused; fixed chunks waste at most one chunk, and `u32` ids are half the size of
//! pointers in every link and hash table entry.

use alloc::vec::Vec;

use crate::IndexFull;

/// Nodes per chunk: big enough that the chunk table stays tiny, small enough that the
/// last, partly used chunk costs little.
const CHUNK: usize = 1024;

/// Slots that are reused after removal; the caller marks free slots in its own type.
#[derive(Clone, Debug)]
pub(crate) struct Slab<T> {
    chunks: Vec<Vec<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Slab<T> {
    /// A slab holding `first` at id 0.
    pub(crate) fn new(first: T) -> Self {
        let mut slab = Self {
            chunks: Vec::new(),
            free: Vec::new(),
            len: 0,
        };
        // Cannot fail: the slab is empty.
        let _ = slab.insert(first);
        slab
    }

    /// Number of slots in use.
    pub(crate) fn live(&self) -> usize {
        self.len.saturating_sub(self.free.len())
    }

    fn locate(id: u32) -> Option<(usize, usize)> {
        let id = usize::try_from(id).ok()?;
        Some((id / CHUNK, id % CHUNK))
    }

    pub(crate) fn get(&self, id: u32) -> Option<&T> {
        let (chunk, slot) = Self::locate(id)?;
        self.chunks.get(chunk)?.get(slot)
    }

    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        let (chunk, slot) = Self::locate(id)?;
        self.chunks.get_mut(chunk)?.get_mut(slot)
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
        let id = u32::try_from(self.len)
            .ok()
            .filter(|&id| id != u32::MAX)
            .ok_or(IndexFull)?;
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().ok_or(IndexFull)?.push(value);
        self.len = self.len.saturating_add(1);
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
        self.chunks.truncate(1);
        if let Some(first) = self.chunks.first_mut() {
            first.truncate(1);
            first.shrink_to_fit();
        }
        self.len = self.chunks.first().map_or(0, Vec::len);
        self.free = Vec::new();
    }
}
