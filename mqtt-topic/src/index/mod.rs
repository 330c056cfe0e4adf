//! The subscription index: which subscriptions match a topic name.
//!
//! Two stores, as in VerneMQ and EMQX:
//! - filters without wildcards live in one hash map keyed by the whole filter, so the
//!   usual IoT mix (many exact subscriptions, few wildcard ones) costs one lookup;
//! - filters with wildcards live in a trie with a `+` child and a `#` slot per node
//!   (see `trie.rs`), so a match visits at most two children per topic level.
//!
//! The `$` rule (v5 [MQTT-4.7.2-1]) is part of the walk: for a `$` topic the root's `+`
//! child and `#` slot are never entered, so it costs nothing per subscription.
//!
//! Two censuses answer "nobody can match this topic" before any lookup: one by the
//! first byte of every filter, and one of the wildcard filters by depth (`+` and `#`
//! per depth, and a counting Bloom filter of their literal levels; see
//! `depth_census.rs`), which rejects a topic with an unknown level anywhere before the
//! shallowest `#` without walking the trie.

mod depth_census;
mod first_byte;
mod subscribers;
mod trie;

use alloc::boxed::Box;
use core::fmt;
use core::hash::Hash;
use core::ops::ControlFlow;
use hashbrown::HashMap;

use depth_census::DepthCensus;
use first_byte::FirstByteCensus;
use subscribers::Slot;
pub use subscribers::{Matched, SharedGroupRef};
use trie::Trie;

use crate::{SharedSubscriptionRef, SubscriptionOptions, TopicFilterRef, TopicName, TopicNameRef};

/// The index cannot name another trie node (more than `u32::MAX - 1` distinct levels);
/// memory runs out long before this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("subscription index is full: more than 4,294,967,294 trie nodes")]
pub struct IndexFull;

/// Subscriptions of many clients, matched against topic names.
///
/// `K` names a subscriber (a client id, a session handle, an index into the caller's
/// session table); each `(filter, K)` pair holds one [`SubscriptionOptions`], and
/// subscribing again replaces them (v5 [MQTT-3.8.4-3]).
///
/// Matching takes `&self` and allocates nothing: it reports each matching subscription
/// to a visitor. The index is `Send + Sync` when `K` is, so readers can share it, for
/// example behind a read-write lock:
///
/// ```
/// # #[cfg(feature = "std")] {
/// use std::sync::{Arc, RwLock};
/// use mqttkit_topic::{Matched, QoS, SubscriptionIndex, SubscriptionOptions, TopicFilterRef, TopicNameRef};
///
/// let index = Arc::new(RwLock::new(SubscriptionIndex::<u32>::new()));
/// index.write().unwrap().subscribe(
///     TopicFilterRef::new("sensors/+/temp").unwrap(),
///     7,
///     SubscriptionOptions::new(QoS::AtLeastOnce),
/// ).unwrap();
///
/// let reader = {
///     let index = Arc::clone(&index);
///     std::thread::spawn(move || {
///         let mut hits = Vec::new();
///         index.read().unwrap().match_topic(TopicNameRef::new("sensors/kitchen/temp").unwrap(), |m| {
///             if let Matched::Subscriber { key, options } = m {
///                 hits.push((*key, options.qos));
///             }
///         });
///         hits
///     })
/// };
/// assert_eq!(reader.join().unwrap(), [(7, QoS::AtLeastOnce)]);
/// # }
/// ```
#[derive(Clone)]
pub struct SubscriptionIndex<K> {
    /// Filters without wildcards, keyed by their bytes.
    exact: HashMap<Box<[u8]>, Slot<K>>,
    /// Filters with wildcards.
    wildcard: Trie<K>,
    /// Number of (filter, subscriber) pairs, shared memberships included.
    len: usize,
    /// Lets a topic that no filter can match return at once.
    first_bytes: Box<FirstByteCensus>,
    /// Lets a topic that no wildcard filter can match skip the trie walk.
    depths: Box<DepthCensus>,
}

// The index is meant to be shared between threads; fail the build if that ever breaks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SubscriptionIndex<u64>>();
};

impl<K: Eq + Hash> Default for SubscriptionIndex<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: fmt::Debug> fmt::Debug for SubscriptionIndex<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionIndex")
            .field("len", &self.len)
            .field("exact_filters", &self.exact.len())
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash> SubscriptionIndex<K> {
    /// An empty index.
    #[must_use]
    pub fn new() -> Self {
        Self {
            exact: HashMap::new(),
            wildcard: Trie::new(),
            len: 0,
            first_bytes: Box::new(FirstByteCensus::new()),
            depths: Box::new(DepthCensus::new()),
        }
    }

    /// Number of subscriptions, counting each (filter, subscriber) pair once and each
    /// shared group membership once.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is subscribed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of trie nodes in use (the root included); 1 when no wildcard filter is
    /// subscribed. Shows that unsubscribing frees the nodes it emptied.
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.wildcard.node_count()
    }

    /// Number of distinct filters without wildcards (ordinary or shared).
    #[must_use]
    pub fn exact_filter_count(&self) -> usize {
        self.exact.len()
    }

    /// The subscriptions of `filter`, created when missing.
    /// `wild`: `filter.has_wildcards()`, computed once per operation by the caller.
    fn slot_or_insert(
        &mut self,
        filter: TopicFilterRef<'_>,
        wild: bool,
    ) -> Result<&mut Slot<K>, IndexFull> {
        if wild {
            self.wildcard.slot_or_insert(filter.as_bytes())
        } else {
            Ok(self.exact.entry(filter.as_bytes().into()).or_default())
        }
    }

    /// Runs `change` on the subscriber set of `filter`; frees what became empty.
    fn update<R>(
        &mut self,
        filter: TopicFilterRef<'_>,
        wild: bool,
        change: impl FnOnce(&mut Slot<K>) -> Option<R>,
    ) -> Option<R> {
        if wild {
            return self.wildcard.update(filter.as_bytes(), change);
        }
        let set = self.exact.get_mut(filter.as_bytes())?;
        let result = change(set);
        if set.is_empty() {
            self.exact.remove(filter.as_bytes());
            // hashbrown never shrinks by itself; give memory back after mass
            // unsubscribes, rarely enough that the rehash stays amortised O(1).
            if self.exact.len() < self.exact.capacity() / 4 {
                self.exact.shrink_to(self.exact.len().saturating_mul(2));
            }
        }
        result
    }

    /// Counts a new subscription to `filter`.
    fn counted(&mut self, filter: TopicFilterRef<'_>, wild: bool) {
        self.len = self.len.saturating_add(1);
        self.first_bytes.add(filter.as_bytes());
        if wild {
            self.depths.add(filter.as_bytes());
        }
    }

    /// Counts the removal of a subscription to `filter`.
    fn uncounted(&mut self, filter: TopicFilterRef<'_>, wild: bool) {
        self.len = self.len.saturating_sub(1);
        self.first_bytes.remove(filter.as_bytes());
        if wild {
            self.depths.remove(filter.as_bytes());
        }
    }

    /// Subscribes `key` to `filter` (an ordinary, non-shared subscription).
    ///
    /// The filter is taken literally: a v5 server that wants `$share/...` to be a shared
    /// subscription parses it with [`SharedSubscriptionRef::parse`] and calls
    /// [`SubscriptionIndex::subscribe_shared`]; a v3.1.1 server does not.
    ///
    /// Returns the options of the subscription this one replaced, if any.
    ///
    /// # Errors
    /// [`IndexFull`] when no more trie nodes can be named.
    pub fn subscribe(
        &mut self,
        filter: TopicFilterRef<'_>,
        key: K,
        options: SubscriptionOptions,
    ) -> Result<Option<SubscriptionOptions>, IndexFull> {
        let wild = filter.has_wildcards();
        let replaced = self.slot_or_insert(filter, wild)?.insert(key, options);
        if replaced.is_none() {
            self.counted(filter, wild);
        }
        Ok(replaced)
    }

    /// Removes `key`'s subscription to `filter`; returns its options if it existed.
    pub fn unsubscribe(
        &mut self,
        filter: TopicFilterRef<'_>,
        key: &K,
    ) -> Option<SubscriptionOptions> {
        let wild = filter.has_wildcards();
        let removed = self.update(filter, wild, |set| set.remove(key));
        if removed.is_some() {
            self.uncounted(filter, wild);
        }
        removed
    }

    /// Adds `key` to the shared subscription group `shared` (v5 §4.8.2).
    ///
    /// Returns the options of the membership this one replaced, if any.
    ///
    /// # Errors
    /// [`IndexFull`] when no more trie nodes can be named.
    pub fn subscribe_shared(
        &mut self,
        shared: SharedSubscriptionRef<'_>,
        key: K,
        options: SubscriptionOptions,
    ) -> Result<Option<SubscriptionOptions>, IndexFull> {
        let filter = shared.filter();
        let wild = filter.has_wildcards();
        let replaced = self.slot_or_insert(filter, wild)?.insert_shared(
            shared.share_name(),
            filter.as_str(),
            key,
            options,
        );
        if replaced.is_none() {
            self.counted(filter, wild);
        }
        Ok(replaced)
    }

    /// Removes `key` from the shared subscription group `shared`.
    pub fn unsubscribe_shared(
        &mut self,
        shared: SharedSubscriptionRef<'_>,
        key: &K,
    ) -> Option<SubscriptionOptions> {
        let wild = shared.filter().has_wildcards();
        let removed = self.update(shared.filter(), wild, |set| {
            set.remove_shared(shared.share_name(), key)
        });
        if removed.is_some() {
            self.uncounted(shared.filter(), wild);
        }
        removed
    }

    /// Reports every subscription whose filter matches `topic` to `visit`, without
    /// allocating.
    ///
    /// Ordinary subscriptions come one by one ([`Matched::Subscriber`]); a client with
    /// overlapping subscriptions comes once per subscription (see
    /// [`Deliveries`](crate::Deliveries) to merge them). Each matching shared group
    /// comes once ([`Matched::Shared`]) with all its members. The order is unspecified.
    pub fn match_topic<'s>(
        &'s self,
        topic: TopicNameRef<'_>,
        mut visit: impl FnMut(Matched<'s, K>),
    ) {
        self.match_bytes(topic.as_bytes(), &mut visit);
    }

    /// [`SubscriptionIndex::match_topic`] for an owned name, without re-checking its
    /// UTF-8.
    pub fn match_name<'s>(&'s self, topic: &TopicName, mut visit: impl FnMut(Matched<'s, K>)) {
        self.match_bytes(topic.as_bytes(), &mut visit);
    }

    /// True when at least one subscription matches `topic`: an existence check (EMQX's
    /// `return_first`) that stops at the first matching filter.
    #[must_use]
    pub fn has_match(&self, topic: TopicNameRef<'_>) -> bool {
        let topic = topic.as_bytes();
        if !self.first_bytes.may_match(topic) {
            return false;
        }
        if self.exact.contains_key(topic) {
            return true;
        }
        if !self.depths.may_match(topic) {
            return false;
        }
        let mut found = false;
        self.wildcard
            .for_each_match(topic, topic.first() == Some(&b'$'), &mut |_| {
                // Empty slots are never reported, so any slot holds a subscription.
                found = true;
                ControlFlow::Break(())
            });
        found
    }

    fn match_bytes<'s>(&'s self, topic: &[u8], visit: &mut impl FnMut(Matched<'s, K>)) {
        if !self.first_bytes.may_match(topic) {
            return;
        }
        if let Some(set) = self.exact.get(topic) {
            set.visit(visit);
        }
        if !self.depths.may_match(topic) {
            return;
        }
        let dollar = topic.first() == Some(&b'$');
        self.wildcard.for_each_match(topic, dollar, &mut |set| {
            set.visit(visit);
            ControlFlow::Continue(())
        });
    }
}
