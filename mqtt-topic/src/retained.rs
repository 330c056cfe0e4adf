//! The retained-topic index: which stored topic names does a new subscription's filter
//! match? (v5 §3.3.1.3: retained messages are sent when a subscription is made.)
//!
//! A trie of topic levels, walked by the filter: a literal level is one hash probe, `+`
//! visits the node's children, `#` the node and its whole subtree. So the cost follows
//! the number of topics that match, not the number stored (EMQX 4.x enumerated every
//! retained message per wildcard subscribe, emqx#6014).
//!
//! Nodes live in a slab like the subscription trie's; literal edges are one hash table
//! of `u32` ids, and each node also lists its children (with each child knowing its
//! position in that list, so removal is O(1)) because `+` and `#` enumerate them.

use alloc::vec::Vec;
use core::fmt;
use hashbrown::HashTable;

use crate::level::{EdgeHasher, LevelKey, level_at};
use crate::slab::Slab;
use crate::{IndexFull, TopicFilterRef, TopicName, TopicNameRef};

const NONE: u32 = u32::MAX;
const ROOT: u32 = 0;

#[derive(Clone, Debug)]
struct Node<V> {
    /// `NONE` for the root and free slots.
    parent: u32,
    /// Position of this node in its parent's `children`.
    slot: u32,
    level: LevelKey,
    children: Vec<u32>,
    /// The stored topic whose last level is this node, and its value.
    entry: Option<(TopicName, V)>,
}

impl<V> Node<V> {
    const fn free() -> Self {
        Self {
            parent: NONE,
            slot: 0,
            level: LevelKey::EMPTY,
            children: Vec::new(),
            entry: None,
        }
    }
}

/// Retained topic names with a value each (typically the retained message), searchable
/// by topic filter.
///
/// ```
/// use mqttkit_topic::{RetainedIndex, TopicFilterRef, TopicName};
///
/// let mut retained = RetainedIndex::new();
/// for t in ["sport/tennis/player1", "sport/golf", "$SYS/uptime"] {
///     retained.insert(TopicName::try_from(t)?, t.len()).unwrap();
/// }
/// let mut found = Vec::new();
/// retained.match_filter(TopicFilterRef::new("#")?, |topic, _| found.push(topic.as_str()));
/// found.sort();
/// assert_eq!(found, ["sport/golf", "sport/tennis/player1"]); // no `$SYS`: v5 [MQTT-4.7.2-1]
/// # Ok::<(), mqttkit_topic::TopicError>(())
/// ```
#[derive(Clone)]
pub struct RetainedIndex<V> {
    nodes: Slab<Node<V>>,
    edges: HashTable<u32>,
    hasher: EdgeHasher,
    len: usize,
}

// Shared between threads like the subscription index; fail the build if that breaks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RetainedIndex<u64>>();
};

impl<V: fmt::Debug> fmt::Debug for RetainedIndex<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetainedIndex")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<V> Default for RetainedIndex<V> {
    fn default() -> Self {
        Self::new()
    }
}

/// One step of the filter walk.
enum Step {
    /// Match the filter from byte `pos` on, at node `id`.
    Filter { id: u32, pos: usize },
    /// Report `id` and everything below it (a `#`).
    Subtree { id: u32 },
}

impl<V> RetainedIndex<V> {
    /// An empty index.
    #[must_use]
    pub fn new() -> Self {
        Self {
            nodes: Slab::new(Node::free()),
            edges: HashTable::new(),
            hasher: EdgeHasher::new(),
            len: 0,
        }
    }

    /// Number of stored topics.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no topic is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of trie nodes in use, the root included (1 when empty).
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.nodes.live()
    }

    fn node(&self, id: u32) -> Option<&Node<V>> {
        self.nodes.get(id)
    }

    fn node_mut(&mut self, id: u32) -> Option<&mut Node<V>> {
        self.nodes.get_mut(id)
    }

    fn child(&self, parent: u32, level: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash(parent, level);
        let nodes = &self.nodes;
        self.edges
            .find(hash, |&id| {
                nodes
                    .get(id)
                    .is_some_and(|n| n.parent == parent && n.level.is(level))
            })
            .copied()
    }

    fn child_or_insert(&mut self, parent: u32, level: &[u8]) -> Result<u32, IndexFull> {
        if let Some(id) = self.child(parent, level) {
            return Ok(id);
        }
        let slot = self.node(parent).ok_or(IndexFull)?.children.len();
        let node = Node {
            parent,
            slot: u32::try_from(slot).map_err(|_| IndexFull)?,
            level: LevelKey::new(level),
            ..Node::free()
        };
        let id = self.nodes.insert(node)?;
        if let Some(p) = self.node_mut(parent) {
            p.children.push(id);
        }
        let hash = self.hasher.hash(parent, level);
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.edges.insert_unique(hash, id, |&child| {
            nodes
                .get(child)
                .map_or(0, |n| hasher.hash(n.parent, n.level.as_bytes()))
        });
        Ok(id)
    }

    fn locate(&self, topic: &[u8]) -> Option<u32> {
        topic
            .split(|&b| b == b'/')
            .try_fold(ROOT, |id, level| self.child(id, level))
    }

    /// Stores `value` for `topic`; returns the value it replaced.
    ///
    /// # Errors
    /// [`IndexFull`] when no more trie nodes can be named.
    pub fn insert(&mut self, topic: TopicName, value: V) -> Result<Option<V>, IndexFull> {
        let mut id = ROOT;
        for level in topic.as_bytes().split(|&b| b == b'/') {
            id = self.child_or_insert(id, level)?;
        }
        let node = self.node_mut(id).ok_or(IndexFull)?;
        let old = node.entry.replace((topic, value)).map(|(_, v)| v);
        if old.is_none() {
            self.len = self.len.saturating_add(1);
        }
        Ok(old)
    }

    /// The value stored for `topic`.
    #[must_use]
    pub fn get(&self, topic: TopicNameRef<'_>) -> Option<&V> {
        let id = self.locate(topic.as_bytes())?;
        self.node(id)?.entry.as_ref().map(|(_, v)| v)
    }

    /// Removes `topic`; returns its value. Nodes left empty are freed.
    pub fn remove(&mut self, topic: TopicNameRef<'_>) -> Option<V> {
        let id = self.locate(topic.as_bytes())?;
        let (_, value) = self.node_mut(id)?.entry.take()?;
        self.len = self.len.saturating_sub(1);
        self.prune(id);
        Some(value)
    }

    /// Frees `id` and its ancestors while they hold nothing.
    fn prune(&mut self, mut id: u32) {
        while id != ROOT {
            let Some(node) = self.node(id) else { return };
            if node.entry.is_some() || !node.children.is_empty() {
                return;
            }
            let (parent, slot) = (node.parent, node.slot);
            let hash = self.hasher.hash(parent, node.level.as_bytes());
            if let Ok(entry) = self.edges.find_entry(hash, |&child| child == id) {
                entry.remove();
            }
            let Some(p) = self.node_mut(parent) else {
                return;
            };
            let Ok(slot_index) = usize::try_from(slot) else {
                return;
            };
            if p.children.get(slot_index) == Some(&id) {
                p.children.swap_remove(slot_index);
                if p.children.is_empty() {
                    p.children = Vec::new();
                }
                // The last child moved into the hole: tell it where it is now.
                if let Some(&moved) = p.children.get(slot_index)
                    && let Some(m) = self.node_mut(moved)
                {
                    m.slot = slot;
                }
            }
            self.nodes.remove(id, Node::free());
            id = parent;
        }
        if self.node_count() == 1 {
            self.nodes.truncate_to_first();
            self.edges = HashTable::new();
        }
    }

    /// Calls `visit` with every stored topic that `filter` matches, and its value.
    ///
    /// A filter starting with `+` or `#` skips topics whose first level starts with `$`
    /// (v5 [MQTT-4.7.2-1]). The work done follows the part of the trie the filter
    /// reaches; the order is unspecified. The walk keeps a small stack of pending
    /// branches on the heap, so hostile depths cannot overflow the call stack.
    pub fn match_filter<'s>(
        &'s self,
        filter: TopicFilterRef<'_>,
        mut visit: impl FnMut(&'s TopicName, &'s V),
    ) {
        let filter = filter.as_bytes();
        let end = filter.len().saturating_add(1);
        let starts_with_wildcard = matches!(filter.first(), Some(b'+' | b'#'));
        let mut stack = alloc::vec![Step::Filter { id: ROOT, pos: 0 }];
        let mut report = |node: &'s Node<V>| {
            if let Some((topic, value)) = &node.entry {
                visit(topic, value);
            }
        };
        while let Some(step) = stack.pop() {
            match step {
                Step::Subtree { id } => {
                    let Some(node) = self.node(id) else { continue };
                    report(node);
                    let skip_dollar = id == ROOT && starts_with_wildcard;
                    for &child in &node.children {
                        if !(skip_dollar && self.is_dollar(child)) {
                            stack.push(Step::Subtree { id: child });
                        }
                    }
                }
                Step::Filter { id, pos } => {
                    let Some(node) = self.node(id) else { continue };
                    if pos >= end {
                        report(node);
                        continue;
                    }
                    let Some((level, next)) = level_at(filter, pos) else {
                        continue;
                    };
                    match level {
                        // "#" also matches the parent level: the subtree includes `id`,
                        // which the root never holds an entry for.
                        b"#" => stack.push(Step::Subtree { id }),
                        b"+" => {
                            let skip_dollar = id == ROOT;
                            for &child in &node.children {
                                if !(skip_dollar && self.is_dollar(child)) {
                                    stack.push(Step::Filter {
                                        id: child,
                                        pos: next,
                                    });
                                }
                            }
                        }
                        literal => {
                            if let Some(child) = self.child(id, literal) {
                                stack.push(Step::Filter {
                                    id: child,
                                    pos: next,
                                });
                            }
                        }
                    }
                }
            }
        }
    }

    fn is_dollar(&self, id: u32) -> bool {
        self.node(id)
            .is_some_and(|n| n.level.as_bytes().first() == Some(&b'$'))
    }
}
