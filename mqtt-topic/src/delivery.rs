//! One delivery per client from the subscriptions that matched (v5 §3.3.4).
//!
//! "When Clients make subscriptions with Topic Filters that include wildcards, it is
//! possible for a Client's subscriptions to overlap so that a published message might
//! match multiple filters. In this case the Server MUST deliver the message to the
//! Client respecting the maximum QoS of all the matching subscriptions" (v5
//! [MQTT-3.3.4-2], v3.1.1 [MQTT-3.3.5-1]), and a single copy carries "the Subscription
//! Identifiers for all matching subscriptions" (v5 [MQTT-3.3.4-3], [MQTT-3.3.4-4]).
//! HiveMQ's `createDistinctSubscribers` is the model; here a hash map from client to
//! delivery replaces its sort.

use alloc::vec::Vec;
use core::hash::Hash;
use core::num::NonZeroU32;
use hashbrown::HashMap;

use crate::{Matched, QoS, SharedGroupRef, SubscriptionIndex, TopicNameRef};

/// One copy of a message for one client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery<K> {
    /// The client.
    pub key: K,
    /// The maximum QoS of the merged subscriptions (the caller still takes the minimum
    /// with the message's own QoS).
    pub qos: QoS,
    /// True when any merged subscription has Retain As Published set.
    pub retain_as_published: bool,
    /// Every Subscription Identifier of the merged subscriptions, in match order.
    pub subscription_identifiers: Vec<NonZeroU32>,
    /// True for the copy sent to the member picked from a shared subscription group:
    /// it is sent in addition to any copy for the client's ordinary subscriptions
    /// (v5 §4.8.2) and is never merged with them.
    pub shared: bool,
}

/// Reusable buffers that turn a match into one [`Delivery`] per client.
///
/// ```
/// use mqttkit_topic::{Deliveries, QoS, SubscriptionIndex, SubscriptionOptions, TopicFilterRef, TopicNameRef};
/// use core::num::NonZeroU32;
///
/// let mut index = SubscriptionIndex::new();
/// let id = |n| NonZeroU32::new(n).unwrap();
/// let sub = |q, n| SubscriptionOptions::new(q).with_subscription_identifier(id(n));
/// index.subscribe(TopicFilterRef::new("a/+")?, "client", sub(QoS::AtMostOnce, 1)).unwrap();
/// index.subscribe(TopicFilterRef::new("a/#")?, "client", sub(QoS::ExactlyOnce, 2)).unwrap();
///
/// let mut deliveries = Deliveries::new();
/// let out = deliveries.collect(&index, TopicNameRef::new("a/b")?, None, |_| None);
/// assert_eq!(out.len(), 1);
/// assert_eq!(out[0].qos, QoS::ExactlyOnce);
/// let mut ids = out[0].subscription_identifiers.clone();
/// ids.sort();
/// assert_eq!(ids, [id(1), id(2)]);
/// # Ok::<(), mqttkit_topic::TopicError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Deliveries<K> {
    list: Vec<Delivery<K>>,
    by_key: HashMap<K, usize>,
}

impl<K: Eq + Hash + Clone> Default for Deliveries<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Eq + Hash + Clone> Deliveries<K> {
    /// Empty buffers.
    #[must_use]
    pub fn new() -> Self {
        Self {
            list: Vec::new(),
            by_key: HashMap::new(),
        }
    }

    /// Matches `topic` in `index` and merges the result per client, replacing what the
    /// buffers held.
    ///
    /// - `publisher`: the client that published, if it is a subscriber key; its own
    ///   subscriptions with No Local set are skipped (v5 [MQTT-3.8.3-3]).
    /// - `pick`: chooses the member (by position) of each matching shared group that
    ///   receives the message, or `None` to skip the group.
    pub fn collect<'s>(
        &mut self,
        index: &'s SubscriptionIndex<K>,
        topic: TopicNameRef<'_>,
        publisher: Option<&K>,
        mut pick: impl FnMut(SharedGroupRef<'s, K>) -> Option<usize>,
    ) -> &[Delivery<K>] {
        self.list.clear();
        self.by_key.clear();
        let (list, by_key) = (&mut self.list, &mut self.by_key);
        index.match_topic(topic, |matched| match matched {
            Matched::Subscriber { key, options } => {
                if options.no_local && publisher == Some(key) {
                    return;
                }
                let i = *by_key.entry(key.clone()).or_insert_with(|| {
                    list.push(Delivery {
                        key: key.clone(),
                        qos: options.qos,
                        retain_as_published: false,
                        subscription_identifiers: Vec::new(),
                        shared: false,
                    });
                    list.len().saturating_sub(1)
                });
                if let Some(d) = list.get_mut(i) {
                    d.qos = d.qos.max(options.qos);
                    d.retain_as_published |= options.retain_as_published;
                    d.subscription_identifiers
                        .extend(options.subscription_identifier);
                }
            }
            Matched::Shared(group) => {
                if let Some((key, options)) = pick(group).and_then(|i| group.member(i)) {
                    list.push(Delivery {
                        key: key.clone(),
                        qos: options.qos,
                        retain_as_published: options.retain_as_published,
                        subscription_identifiers: options
                            .subscription_identifier
                            .into_iter()
                            .collect(),
                        shared: true,
                    });
                }
            }
        });
        &self.list
    }

    /// The deliveries of the last [`Deliveries::collect`].
    #[must_use]
    pub fn as_slice(&self) -> &[Delivery<K>] {
        &self.list
    }
}
