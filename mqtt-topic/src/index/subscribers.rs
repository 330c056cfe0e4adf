//! The subscriptions stored at one place of the index: ordinary subscribers, and shared
//! subscription groups kept per (ShareName, filter) so the caller can pick a member.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::hash::Hash;
use hashbrown::HashMap;

use crate::SubscriptionOptions;

/// Up to this many subscribers a list is scanned; above it a hash map keeps subscribe
/// and unsubscribe O(1) (mosquitto's leaf list scan makes n subscribes O(n²)).
const FEW_MAX: usize = 16;

/// Ordinary subscribers of one filter, keyed by the subscriber.
#[derive(Clone, Debug)]
pub(crate) enum Members<K> {
    /// Small sets: a vector is smaller and faster to walk than a map.
    Few(Vec<(K, SubscriptionOptions)>),
    /// Large fan-out sets.
    Many(Box<HashMap<K, SubscriptionOptions>>),
}

impl<K: Eq + Hash> Members<K> {
    /// Adds or replaces `key`'s subscription; returns the options it replaced.
    fn insert(&mut self, key: K, options: SubscriptionOptions) -> Option<SubscriptionOptions> {
        match self {
            Self::Few(list) => {
                if let Some((_, old)) = list.iter_mut().find(|(k, _)| *k == key) {
                    return Some(core::mem::replace(old, options));
                }
                if list.len() < FEW_MAX {
                    // Most filters have one subscriber: grow one slot at a time at first.
                    list.reserve_exact(if list.len() < 4 { 1 } else { list.len() });
                    list.push((key, options));
                } else {
                    let mut map: HashMap<K, SubscriptionOptions> =
                        core::mem::take(list).into_iter().collect();
                    map.insert(key, options);
                    *self = Self::Many(Box::new(map));
                }
                None
            }
            Self::Many(map) => map.insert(key, options),
        }
    }

    /// Removes `key`'s subscription.
    fn remove(&mut self, key: &K) -> Option<SubscriptionOptions> {
        match self {
            Self::Few(list) => {
                let i = list.iter().position(|(k, _)| k == key)?;
                let (_, options) = list.swap_remove(i);
                if list.is_empty() {
                    // Give the memory back: an emptied filter should cost nothing.
                    *list = Vec::new();
                }
                Some(options)
            }
            Self::Many(map) => {
                let options = map.remove(key)?;
                if map.len() <= FEW_MAX / 2 {
                    *self = Self::Few(map.drain().collect());
                }
                Some(options)
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Self::Few(list) => list.is_empty(),
            Self::Many(map) => map.is_empty(),
        }
    }

    /// Calls `visit` for each member.
    pub(crate) fn for_each<'a>(&'a self, mut visit: impl FnMut(&'a K, &'a SubscriptionOptions)) {
        match self {
            Self::Few(list) => list.iter().for_each(|(k, o)| visit(k, o)),
            Self::Many(map) => map.iter().for_each(|(k, o)| visit(k, o)),
        }
    }
}

/// The members of one shared subscription group `$share/{share_name}/{filter}`.
#[derive(Clone, Debug)]
pub(crate) struct SharedGroup<K> {
    share_name: Box<str>,
    filter: Box<str>,
    /// A vector, so that callers can pick a member by position (round-robin).
    members: Vec<(K, SubscriptionOptions)>,
}

/// Everything subscribed at one place of the index.
#[derive(Clone, Debug)]
pub(crate) struct SubscriberSet<K> {
    direct: Members<K>,
    shared: Vec<SharedGroup<K>>,
}

impl<K: Eq + Hash> SubscriberSet<K> {
    pub(crate) fn new() -> Self {
        Self {
            direct: Members::Few(Vec::new()),
            shared: Vec::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.direct.is_empty() && self.shared.is_empty()
    }

    /// Adds or replaces an ordinary subscription.
    pub(crate) fn insert(
        &mut self,
        key: K,
        options: SubscriptionOptions,
    ) -> Option<SubscriptionOptions> {
        self.direct.insert(key, options)
    }

    /// Removes an ordinary subscription.
    pub(crate) fn remove(&mut self, key: &K) -> Option<SubscriptionOptions> {
        self.direct.remove(key)
    }

    /// Adds or replaces `key`'s membership of a shared group.
    pub(crate) fn insert_shared(
        &mut self,
        share_name: &str,
        filter: &str,
        key: K,
        options: SubscriptionOptions,
    ) -> Option<SubscriptionOptions> {
        let group = match self
            .shared
            .iter()
            .position(|g| &*g.share_name == share_name)
        {
            Some(i) => self.shared.get_mut(i)?,
            None => {
                self.shared.push(SharedGroup {
                    share_name: share_name.into(),
                    filter: filter.into(),
                    members: Vec::new(),
                });
                self.shared.last_mut()?
            }
        };
        if let Some((_, old)) = group.members.iter_mut().find(|(k, _)| *k == key) {
            return Some(core::mem::replace(old, options));
        }
        group.members.push((key, options));
        None
    }

    /// Removes `key` from a shared group, and the group when it becomes empty.
    pub(crate) fn remove_shared(
        &mut self,
        share_name: &str,
        key: &K,
    ) -> Option<SubscriptionOptions> {
        let gi = self
            .shared
            .iter()
            .position(|g| &*g.share_name == share_name)?;
        let group = self.shared.get_mut(gi)?;
        let mi = group.members.iter().position(|(k, _)| k == key)?;
        // Keep the members' order: a caller's round-robin position stays meaningful.
        let (_, options) = group.members.remove(mi);
        if group.members.is_empty() {
            self.shared.swap_remove(gi);
        }
        Some(options)
    }

    /// Takes the only subscription out when exactly one ordinary subscriber is left.
    fn take_single(&mut self) -> Option<(K, SubscriptionOptions)> {
        if !self.shared.is_empty() {
            return None;
        }
        match &mut self.direct {
            Members::Few(list) if list.len() == 1 => list.pop(),
            _ => None,
        }
    }

    /// Reports every subscription here.
    pub(crate) fn visit<'a>(&'a self, visit: &mut impl FnMut(Matched<'a, K>)) {
        self.direct
            .for_each(|key, options| visit(Matched::Subscriber { key, options }));
        for group in &self.shared {
            visit(Matched::Shared(SharedGroupRef { group }));
        }
    }
}

/// The subscriptions of one filter: most filters have exactly one subscriber, which is
/// stored inline, so a match reads no other cache line and the filter costs no
/// separate allocation; more subscribers (or a shared group) move to a boxed set.
#[derive(Clone, Debug, Default)]
pub(crate) enum Slot<K> {
    /// Nothing subscribed.
    #[default]
    Empty,
    /// One ordinary subscriber.
    One(K, SubscriptionOptions),
    /// Several subscribers or shared groups.
    Set(Box<SubscriberSet<K>>),
}

impl<K> Slot<K> {
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }
}

impl<K: Eq + Hash> Slot<K> {
    /// Runs `change` on the boxed set, after moving an inline subscriber into it.
    fn with_set<R>(&mut self, change: impl FnOnce(&mut SubscriberSet<K>) -> R) -> R {
        let mut set = match core::mem::take(self) {
            Self::Set(set) => set,
            Self::One(key, options) => {
                let mut set = SubscriberSet::new();
                set.insert(key, options);
                Box::new(set)
            }
            Self::Empty => Box::new(SubscriberSet::new()),
        };
        let result = change(&mut set);
        *self = Self::Set(set);
        result
    }

    /// Back to the inline or empty form when the set shrank enough.
    fn normalize(&mut self) {
        if let Self::Set(set) = self {
            if set.is_empty() {
                *self = Self::Empty;
            } else if let Some((key, options)) = set.take_single() {
                *self = Self::One(key, options);
            }
        }
    }

    /// Adds or replaces an ordinary subscription.
    pub(crate) fn insert(
        &mut self,
        key: K,
        options: SubscriptionOptions,
    ) -> Option<SubscriptionOptions> {
        match self {
            Self::Empty => {
                *self = Self::One(key, options);
                None
            }
            Self::One(k, old) if *k == key => Some(core::mem::replace(old, options)),
            Self::One(..) => self.with_set(|set| set.insert(key, options)),
            Self::Set(set) => set.insert(key, options),
        }
    }

    /// Removes an ordinary subscription.
    pub(crate) fn remove(&mut self, key: &K) -> Option<SubscriptionOptions> {
        match self {
            Self::Empty => None,
            Self::One(k, options) if k == key => {
                let options = *options;
                *self = Self::Empty;
                Some(options)
            }
            Self::One(..) => None,
            Self::Set(set) => {
                let removed = set.remove(key);
                self.normalize();
                removed
            }
        }
    }

    /// Adds or replaces `key`'s membership of a shared group.
    pub(crate) fn insert_shared(
        &mut self,
        share_name: &str,
        filter: &str,
        key: K,
        options: SubscriptionOptions,
    ) -> Option<SubscriptionOptions> {
        self.with_set(|set| set.insert_shared(share_name, filter, key, options))
    }

    /// Removes `key` from a shared group.
    pub(crate) fn remove_shared(
        &mut self,
        share_name: &str,
        key: &K,
    ) -> Option<SubscriptionOptions> {
        let Self::Set(set) = self else { return None };
        let removed = set.remove_shared(share_name, key);
        self.normalize();
        removed
    }

    /// Reports every subscription here.
    pub(crate) fn visit<'a>(&'a self, visit: &mut impl FnMut(Matched<'a, K>)) {
        match self {
            Self::Empty => {}
            Self::One(key, options) => visit(Matched::Subscriber { key, options }),
            Self::Set(set) => set.visit(visit),
        }
    }
}

/// One subscription that matched a topic, reported by
/// [`SubscriptionIndex::match_topic`](crate::SubscriptionIndex::match_topic).
///
/// A client with overlapping subscriptions is reported once per matching subscription;
/// [`Deliveries`](crate::Deliveries) merges them per client (v5 §3.3.4).
pub enum Matched<'a, K> {
    /// An ordinary (non-shared) subscription.
    Subscriber {
        /// Who subscribed.
        key: &'a K,
        /// With which options.
        options: &'a SubscriptionOptions,
    },
    /// A shared subscription group: the message goes to one of its members, chosen by
    /// the caller (v5 §4.8.2).
    Shared(SharedGroupRef<'a, K>),
}

impl<K> Clone for Matched<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Matched<'_, K> {}

impl<K: fmt::Debug> fmt::Debug for Matched<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subscriber { key, options } => f
                .debug_struct("Subscriber")
                .field("key", key)
                .field("options", options)
                .finish(),
            Self::Shared(group) => f.debug_tuple("Shared").field(group).finish(),
        }
    }
}

/// A shared subscription group `$share/{share_name}/{filter}` and its members, in the
/// order they joined.
pub struct SharedGroupRef<'a, K> {
    group: &'a SharedGroup<K>,
}

impl<K> Clone for SharedGroupRef<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for SharedGroupRef<'_, K> {}

impl<'a, K> SharedGroupRef<'a, K> {
    /// The ShareName.
    #[must_use]
    pub fn share_name(&self) -> &'a str {
        &self.group.share_name
    }

    /// The topic filter after the ShareName.
    #[must_use]
    pub fn filter(&self) -> &'a str {
        &self.group.filter
    }

    /// Number of members (never 0: empty groups are removed).
    #[must_use]
    pub fn len(&self) -> usize {
        self.group.members.len()
    }

    /// Always false; see [`SharedGroupRef::len`].
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.group.members.is_empty()
    }

    /// The member at `index`, for example `counter % len()` for round-robin.
    #[must_use]
    pub fn member(&self, index: usize) -> Option<(&'a K, &'a SubscriptionOptions)> {
        self.group.members.get(index).map(|(k, o)| (k, o))
    }

    /// All members.
    pub fn members(
        &self,
    ) -> impl ExactSizeIterator<Item = (&'a K, &'a SubscriptionOptions)> + use<'a, K> {
        self.group.members.iter().map(|(k, o)| (k, o))
    }
}

impl<K: fmt::Debug> fmt::Debug for SharedGroupRef<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedGroupRef")
            .field("share_name", &self.share_name())
            .field("filter", &self.filter())
            .field("members", &self.group.members)
            .finish()
    }
}
