//! The wildcard part of the subscription index: a trie with one node per filter level.
//!
//! Nodes live in one slab (a `Vec` grown by an eighth) and are named by `u32` ids; every literal edge
//! `(parent id, level)` is one entry of a single hash table of child ids, so a step down
//! costs one hash of the level and one probe, and the table stores 4 bytes per edge.
//! Each node has a separate `+` child slot and a `#` subscriber slot, so a match visits
//! at most two children per level (VerneMQ's and mqtt-topic-engine's layout).
//!
//! Matching walks the trie depth first without a stack: every node knows its parent,
//! and the position in the topic where a node's level started is found again by
//! scanning back to the previous `/`. So a match allocates nothing and its stack use
//! does not grow with the depth of hostile filters or topics. A counter of `+`
//! branches still to try ends the walk as soon as there are none, so the usual match
//! (one path) never climbs back up.

use core::hash::Hash;
use core::ops::ControlFlow;
use hashbrown::HashTable;

use super::IndexFull;
use super::subscribers::Slot;
use crate::level::{EdgeHasher, LevelKey, level_start_before, scan_level};
use crate::slab::Slab;

/// "No node" in `u32` links.
pub(crate) const NONE: u32 = u32::MAX;
/// The root stands before the first level; it is never freed.
pub(crate) const ROOT: u32 = 0;

/// One level of one or more filters.
#[derive(Clone, Debug)]
struct Node<K> {
    /// The node one level up; `NONE` for the root and for free slots.
    parent: u32,
    /// The `+` child, or `NONE`.
    plus: u32,
    /// Number of literal children (in the edge table), so pruning knows when a node is
    /// a leaf without a per-node child list.
    literal_children: u32,
    /// A 32-bit Bloom filter of the literal children's edges (see [`bloom_bit`]):
    /// a miss on a node with few children costs one AND instead of a hash and a
    /// probe. Bits are never cleared on removal; a stale bit only costs the lookup it
    /// would have saved. It fits in the node's padding.
    child_bloom: u32,
    /// The literal child when there is exactly one and it is known (chains such as
    /// `device/...` or `site/{s}/dev/...` are common): the step down is then one
    /// comparison instead of a hash and a probe. `NONE` when unknown, which is the
    /// case after a second child came and went.
    only_child: u32,
    /// The level's text (empty for the root, `+` for plus children).
    level: LevelKey,
    /// Filters that end at this node.
    ends: Slot<K>,
    /// Filters that end with `#` right below this node (`#` at the root): they match
    /// this node's topic and everything under it.
    multi: Slot<K>,
}

impl<K> Node<K> {
    const fn free() -> Self {
        Self {
            parent: NONE,
            plus: NONE,
            literal_children: 0,
            child_bloom: 0,
            only_child: NONE,
            level: LevelKey::EMPTY,
            ends: Slot::Empty,
            multi: Slot::Empty,
        }
    }

    fn is_unused(&self) -> bool {
        self.plus == NONE
            && self.literal_children == 0
            && self.ends.is_empty()
            && self.multi.is_empty()
    }
}

/// Where a filter ends in the trie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The filter's last level is this node (no trailing `#`).
    Here,
    /// The filter is this node's path followed by `/#`.
    Multi,
}

/// Filters with wildcards, stored level by level.
#[derive(Clone, Debug)]
pub(crate) struct Trie<K> {
    nodes: Slab<Node<K>>,
    /// Literal edges: child ids, found by hashing `(parent id, level)`.
    edges: HashTable<u32>,
    hasher: EdgeHasher,
}

/// The Bloom filter bit of an edge, from bits of its hash that neither the table's
/// bucket index (low bits) nor its tag (top 7 bits) use, so the hash computed for the
/// probe serves the filter too (`wrapping_shl` keeps the low 5 bits of the shift).
#[inline]
fn bloom_bit(hash: u64) -> u32 {
    1u32.wrapping_shl(u32::try_from((hash >> 40) & 31).unwrap_or(0))
}

impl<K: Eq + Hash> Trie<K> {
    pub(crate) fn new() -> Self {
        Self {
            nodes: Slab::new(Node::free()),
            edges: HashTable::new(),
            hasher: EdgeHasher::new(),
        }
    }

    /// Number of nodes in use, the root included.
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.live()
    }

    fn node(&self, id: u32) -> Option<&Node<K>> {
        self.nodes.get(id)
    }

    fn node_mut(&mut self, id: u32) -> Option<&mut Node<K>> {
        self.nodes.get_mut(id)
    }

    /// The literal child of `parent` (which is `node`) for `level`, whose first word
    /// is `word`, on the match path.
    #[inline(always)]
    fn step(&self, parent: u32, node: &Node<K>, level: &[u8], word: u64) -> Option<u32> {
        if node.literal_children == 0 {
            return None;
        }
        if node.literal_children == 1 && node.only_child != NONE {
            let child = self.node(node.only_child)?;
            return child
                .level
                .is_scanned(level, word)
                .then_some(node.only_child);
        }
        let hash = self.hasher.hash_with_word(parent, level, word);
        if node.child_bloom & bloom_bit(hash) == 0 {
            return None;
        }
        self.find_edge(hash, parent, level, word)
    }

    /// The literal child of `parent` for `level`.
    fn literal_child(&self, parent: u32, level: &[u8]) -> Option<u32> {
        let word = crate::level::word_of(level);
        let hash = self.hasher.hash_with_word(parent, level, word);
        self.find_edge(hash, parent, level, word)
    }

    /// The edge `(parent, level)` of hash `hash`, where `word` is the level's first word.
    #[inline]
    fn find_edge(&self, hash: u64, parent: u32, level: &[u8], word: u64) -> Option<u32> {
        let nodes = &self.nodes;
        self.edges
            .find(hash, |&id| {
                nodes
                    .get(id)
                    .is_some_and(|n| n.parent == parent && n.level.is_scanned(level, word))
            })
            .copied()
    }

    /// A fresh node below `parent`.
    fn alloc(&mut self, parent: u32, level: &[u8]) -> Result<u32, IndexFull> {
        let node = Node {
            parent,
            level: LevelKey::new(level),
            ..Node::free()
        };
        self.nodes.insert(node)
    }

    /// The child of `parent` for a filter level, created when missing.
    fn child_or_insert(&mut self, parent: u32, level: &[u8]) -> Result<u32, IndexFull> {
        if level == b"+" {
            let plus = self.node(parent).ok_or(IndexFull)?.plus;
            if plus != NONE {
                return Ok(plus);
            }
            let id = self.alloc(parent, level)?;
            if let Some(p) = self.node_mut(parent) {
                p.plus = id;
            }
            return Ok(id);
        }
        if let Some(id) = self.literal_child(parent, level) {
            return Ok(id);
        }
        let id = self.alloc(parent, level)?;
        let hash = self.hasher.hash(parent, level);
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.edges.insert_unique(hash, id, |&child| {
            nodes
                .get(child)
                .map_or(0, |n| hasher.hash(n.parent, n.level.as_bytes()))
        });
        if let Some(p) = self.node_mut(parent) {
            p.literal_children = p.literal_children.saturating_add(1);
            p.child_bloom |= bloom_bit(hash);
            p.only_child = if p.literal_children == 1 { id } else { NONE };
        }
        Ok(id)
    }

    /// The node and slot of a (valid) filter, created when missing.
    fn locate_or_insert(&mut self, filter: &[u8]) -> Result<(u32, End), IndexFull> {
        let mut node = ROOT;
        for level in filter.split(|&b| b == b'/') {
            if level == b"#" {
                return Ok((node, End::Multi));
            }
            node = self.child_or_insert(node, level)?;
        }
        Ok((node, End::Here))
    }

    /// The node and slot of a (valid) filter, if its nodes exist.
    fn locate(&self, filter: &[u8]) -> Option<(u32, End)> {
        let mut node = ROOT;
        for level in filter.split(|&b| b == b'/') {
            if level == b"#" {
                return Some((node, End::Multi));
            }
            node = if level == b"+" {
                Some(self.node(node)?.plus).filter(|&p| p != NONE)?
            } else {
                self.literal_child(node, level)?
            };
        }
        Some((node, End::Here))
    }

    /// The subscriptions of a filter, with the nodes created when missing.
    pub(crate) fn slot_or_insert(&mut self, filter: &[u8]) -> Result<&mut Slot<K>, IndexFull> {
        let (id, end) = self.locate_or_insert(filter)?;
        let node = self.node_mut(id).ok_or(IndexFull)?;
        Ok(match end {
            End::Here => &mut node.ends,
            End::Multi => &mut node.multi,
        })
    }

    /// Runs `change` on a filter's subscriptions, then frees every node that became
    /// unused.
    pub(crate) fn update<R>(
        &mut self,
        filter: &[u8],
        change: impl FnOnce(&mut Slot<K>) -> Option<R>,
    ) -> Option<R> {
        let (id, end) = self.locate(filter)?;
        let node = self.node_mut(id)?;
        let slot = match end {
            End::Here => &mut node.ends,
            End::Multi => &mut node.multi,
        };
        let result = change(slot);
        if slot.is_empty() {
            self.prune(id);
        }
        result
    }

    /// Frees `id` and its ancestors while they hold nothing.
    fn prune(&mut self, mut id: u32) {
        while id != ROOT {
            let Some(node) = self.node(id) else { return };
            if !node.is_unused() {
                return;
            }
            let parent = node.parent;
            let hash = self.hasher.hash(parent, node.level.as_bytes());
            let Some(p) = self.node_mut(parent) else {
                return;
            };
            if p.plus == id {
                p.plus = NONE;
            } else {
                p.literal_children = p.literal_children.saturating_sub(1);
                // Which child is left (if one is) is not known without a child list.
                p.only_child = NONE;
                if let Ok(entry) = self.edges.find_entry(hash, |&child| child == id) {
                    entry.remove();
                }
                self.shrink_edges();
            }
            self.nodes.remove(id, Node::free());
            id = parent;
        }
        // Everything unsubscribed: give the slab and the free list back, so memory
        // returns to its baseline (moquette#274 grew forever without pruning).
        if self.node_count() == 1 {
            self.nodes.truncate_to_first();
            self.edges = HashTable::new();
        }
    }

    /// Shrinks the edge table after it fell below a quarter full (hashbrown never
    /// shrinks by itself), rarely enough that the rehash stays amortised O(1).
    fn shrink_edges(&mut self) {
        if self.edges.len() < self.edges.capacity() / 4 {
            let (nodes, hasher) = (&self.nodes, &self.hasher);
            self.edges
                .shrink_to(self.edges.len().saturating_mul(2), |&child| {
                    nodes
                        .get(child)
                        .map_or(0, |n| hasher.hash(n.parent, n.level.as_bytes()))
                });
        }
    }

    /// Calls `visit` with every subscriber set whose filter matches `topic`, until it
    /// answers `Break`.
    ///
    /// `dollar`: the topic's first level starts with `$`, so the root's `+` child and
    /// `#` slot are skipped, v5 [MQTT-4.7.2-1].
    pub(crate) fn for_each_match<'s>(
        &'s self,
        topic: &[u8],
        dollar: bool,
        visit: &mut impl FnMut(&'s Slot<K>) -> ControlFlow<()>,
    ) {
        let end = topic.len().saturating_add(1);
        let mut id = ROOT;
        // Start of the next topic level to consume; `end` once all are consumed.
        let mut pos = 0;
        // Literal steps on the current path whose parent also has a `+` child still to
        // try. When it is zero, nothing is left to backtrack to, and the walk ends
        // without climbing back to the root (the common case: one path matches).
        let mut pending: u32 = 0;
        'enter: loop {
            let Some(node) = self.node(id) else { return };
            let wildcards_allowed = !(dollar && id == ROOT);
            if wildcards_allowed && !node.multi.is_empty() && visit(&node.multi).is_break() {
                return;
            }
            if pos >= end {
                if !node.ends.is_empty() && visit(&node.ends).is_break() {
                    return;
                }
            } else if (node.literal_children != 0 || node.plus != NONE)
                && let Some(level) = scan_level(topic, pos)
            {
                // (A node without children, such as the end of a filter, skips the scan.)
                let next = level.next;
                let plus = if wildcards_allowed { node.plus } else { NONE };
                if let Some(child) = self.step(id, node, level.bytes, level.word) {
                    if plus != NONE {
                        pending = pending.saturating_add(1);
                    }
                    id = child;
                    pos = next;
                    continue 'enter;
                }
                if plus != NONE {
                    id = plus;
                    pos = next;
                    continue 'enter;
                }
            }
            // Backtrack: `id` is done. If it was a literal child, its parent's `+` child
            // consumes the same level next; otherwise go further up.
            loop {
                if id == ROOT || pending == 0 {
                    return;
                }
                let Some(parent_id) = self.node(id).map(|n| n.parent) else {
                    return;
                };
                let Some(parent) = self.node(parent_id) else {
                    return;
                };
                if parent.plus != id && parent.plus != NONE && !(dollar && parent_id == ROOT) {
                    pending = pending.saturating_sub(1);
                    id = parent.plus;
                    continue 'enter;
                }
                id = parent_id;
                pos = level_start_before(topic, pos);
            }
        }
    }
}
