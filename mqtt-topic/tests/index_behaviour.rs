//! Subscription index behaviour that the differential test does not show: options,
//! shared groups, per-client delivery merging (v5 §3.3.4) and node reclamation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
#![allow(missing_docs)]

use core::num::NonZeroU32;

use mqttkit_topic::{
    Deliveries, Matched, QoS, RetainedIndex, SharedSubscriptionRef, SubscriptionIndex,
    SubscriptionOptions, TopicFilterRef, TopicName, TopicNameRef,
};

fn f(s: &str) -> TopicFilterRef<'_> {
    TopicFilterRef::new(s).unwrap()
}

fn t(s: &str) -> TopicNameRef<'_> {
    TopicNameRef::new(s).unwrap()
}

fn id(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn shared(s: &str) -> SharedSubscriptionRef<'_> {
    SharedSubscriptionRef::parse(f(s)).unwrap().unwrap()
}

/// v5 [MQTT-3.8.4-3]: a second SUBSCRIBE with the same filter replaces the options.
#[test]
fn v5_mqtt_3_8_4_3_resubscribe_replaces_options() {
    let mut index = SubscriptionIndex::new();
    let o1 = SubscriptionOptions::new(QoS::AtMostOnce);
    let o2 = SubscriptionOptions::new(QoS::ExactlyOnce).with_no_local(true);
    assert_eq!(index.subscribe(f("a/+"), "c", o1).unwrap(), None);
    assert_eq!(index.subscribe(f("a/+"), "c", o2).unwrap(), Some(o1));
    assert_eq!(index.len(), 1);
    let mut seen = Vec::new();
    index.match_topic(t("a/b"), |m| {
        if let Matched::Subscriber { key, options } = m {
            seen.push((*key, *options));
        }
    });
    assert_eq!(seen, [("c", o2)]);
}

/// v5 [MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-4], v3.1.1 [MQTT-3.3.5-1]: overlapping
/// subscriptions of one client give one delivery with the maximum QoS and every
/// Subscription Identifier.
#[test]
fn v5_mqtt_3_3_4_2_one_delivery_per_client_with_max_qos_and_all_ids() {
    let mut index = SubscriptionIndex::new();
    let opts = |q, n| SubscriptionOptions::new(q).with_subscription_identifier(id(n));
    index
        .subscribe(f("a/b"), 1u32, opts(QoS::AtMostOnce, 1))
        .unwrap();
    index
        .subscribe(f("a/+"), 1, opts(QoS::AtLeastOnce, 2))
        .unwrap();
    index
        .subscribe(f("#"), 1, SubscriptionOptions::new(QoS::AtMostOnce))
        .unwrap();
    index
        .subscribe(f("a/#"), 2, opts(QoS::ExactlyOnce, 9))
        .unwrap();
    index
        .subscribe(f("x"), 3, opts(QoS::ExactlyOnce, 9))
        .unwrap();
    let mut deliveries = Deliveries::new();
    let mut out = deliveries
        .collect(&index, t("a/b"), None, |_| None)
        .to_vec();
    out.sort_by_key(|d| d.key);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].key, 1);
    assert_eq!(out[0].qos, QoS::AtLeastOnce);
    let mut ids = out[0].subscription_identifiers.clone();
    ids.sort();
    assert_eq!(ids, [id(1), id(2)]);
    assert_eq!(out[1].key, 2);
    assert_eq!(out[1].qos, QoS::ExactlyOnce);
    assert_eq!(out[1].subscription_identifiers, [id(9)]);
    assert!(!out[0].shared);
    assert_eq!(deliveries.as_slice().len(), 2);
}

/// v5 §3.3.4: a client's overlapping subscriptions make one delivery; it
/// keeps the RETAIN flag as published when any of them asks to (v5
/// [MQTT-3.3.1-12], [MQTT-3.3.1-13]), and a single one keeps its own choice.
#[test]
fn v5_mqtt_3_3_1_12_retain_as_published_merged_per_client() {
    let mut index = SubscriptionIndex::new();
    let mut keep = SubscriptionOptions::new(QoS::AtMostOnce);
    keep.retain_as_published = true;
    index.subscribe(f("a/#"), 1u32, keep).unwrap();
    index
        .subscribe(f("a/+"), 1, SubscriptionOptions::new(QoS::AtMostOnce))
        .unwrap();
    index.subscribe(f("b"), 2, keep).unwrap();
    index
        .subscribe(f("b"), 3, SubscriptionOptions::new(QoS::AtMostOnce))
        .unwrap();
    let mut deliveries = Deliveries::new();
    let merged = deliveries.collect(&index, t("a/x"), None, |_| None);
    assert_eq!(merged.len(), 1);
    assert!(merged[0].retain_as_published, "one of the two asks for it");
    let mut single: Vec<(u32, bool)> = deliveries
        .collect(&index, t("b"), None, |_| None)
        .iter()
        .map(|d| (d.key, d.retain_as_published))
        .collect();
    single.sort();
    assert_eq!(single, [(2, true), (3, false)]);
}

/// v5 [MQTT-3.8.3-3]: No Local subscriptions do not receive the client's own messages.
#[test]
fn v5_mqtt_3_8_3_3_no_local() {
    let mut index = SubscriptionIndex::new();
    index
        .subscribe(
            f("a"),
            1u32,
            SubscriptionOptions::new(QoS::AtLeastOnce).with_no_local(true),
        )
        .unwrap();
    index
        .subscribe(f("+"), 2, SubscriptionOptions::default())
        .unwrap();
    let mut deliveries = Deliveries::new();
    let keys: Vec<u32> = deliveries
        .collect(&index, t("a"), Some(&1), |_| None)
        .iter()
        .map(|d| d.key)
        .collect();
    assert_eq!(keys, [2]);
    let mut keys: Vec<u32> = deliveries
        .collect(&index, t("a"), Some(&2), |_| None)
        .iter()
        .map(|d| d.key)
        .collect();
    keys.sort();
    assert_eq!(keys, [1, 2]);
}

/// v5 §4.8.2: a shared group is reported once with its members; the caller picks one,
/// and that copy is in addition to the client's ordinary subscription.
#[test]
fn v5_4_8_2_shared_groups_are_kept_per_group_and_filter() {
    let mut index = SubscriptionIndex::new();
    let o = SubscriptionOptions::new(QoS::AtLeastOnce);
    index
        .subscribe_shared(shared("$share/g/jobs/+"), 1u32, o)
        .unwrap();
    index
        .subscribe_shared(shared("$share/g/jobs/+"), 2, o)
        .unwrap();
    index
        .subscribe_shared(shared("$share/h/jobs/+"), 3, o)
        .unwrap();
    index
        .subscribe_shared(shared("$share/g/jobs/#"), 4, o)
        .unwrap();
    index.subscribe(f("jobs/+"), 1, o).unwrap();
    assert_eq!(index.len(), 5);

    let mut groups = Vec::new();
    let mut ordinary = 0;
    index.match_topic(t("jobs/1"), |m| match m {
        Matched::Shared(g) => {
            let members: Vec<u32> = g.members().map(|(k, _)| *k).collect();
            assert_eq!(g.len(), members.len());
            assert!(!g.is_empty());
            groups.push((g.share_name().to_owned(), g.filter().to_owned(), members));
        }
        Matched::Subscriber { .. } => ordinary += 1,
    });
    groups.sort();
    assert_eq!(
        groups,
        [
            ("g".into(), "jobs/#".into(), vec![4]),
            ("g".into(), "jobs/+".into(), vec![1, 2]),
            ("h".into(), "jobs/+".into(), vec![3]),
        ]
    );
    assert_eq!(ordinary, 1);

    // Round-robin pick: always the second member when there is one.
    let mut deliveries = Deliveries::new();
    let out = deliveries.collect(&index, t("jobs/1"), None, |g| Some(1 % g.len()));
    let mut keys: Vec<(u32, bool)> = out.iter().map(|d| (d.key, d.shared)).collect();
    keys.sort();
    assert_eq!(keys, [(1, false), (2, true), (3, true), (4, true)]);

    // Shared and ordinary subscriptions are removed independently.
    assert!(index.unsubscribe(f("$share/g/jobs/+"), &1).is_none());
    assert!(
        index
            .unsubscribe_shared(shared("$share/g/jobs/+"), &1)
            .is_some()
    );
    assert!(
        index
            .unsubscribe_shared(shared("$share/g/jobs/+"), &1)
            .is_none()
    );
    assert!(index.unsubscribe(f("jobs/+"), &1).is_some());
    let mut members = Vec::new();
    index.match_topic(t("jobs/1"), |m| {
        if let Matched::Shared(g) = m
            && g.share_name() == "g"
            && g.filter() == "jobs/+"
        {
            members.extend(g.members().map(|(k, _)| *k));
            assert_eq!(g.member(0).map(|(k, _)| *k), Some(2));
            assert!(g.member(1).is_none());
        }
    });
    assert_eq!(members, [2]);
}

/// In v3.1.1 `$share/...` is an ordinary filter; `subscribe` takes it literally.
#[test]
fn v311_share_prefix_is_an_ordinary_filter() {
    let mut index = SubscriptionIndex::new();
    index
        .subscribe(f("$share/g/a"), 1u8, SubscriptionOptions::default())
        .unwrap();
    assert!(index.has_match(t("$share/g/a")));
    assert!(!index.has_match(t("a")));
}

/// Unsubscribing frees the trie nodes it emptied, and only those.
#[test]
fn unsubscribe_frees_empty_nodes() {
    let mut index = SubscriptionIndex::new();
    let o = SubscriptionOptions::default();
    assert_eq!(index.node_count(), 1);
    index.subscribe(f("a/+/c/#"), 1u8, o).unwrap();
    assert_eq!(index.node_count(), 4); // root, a, +, c
    index.subscribe(f("a/+/d"), 1, o).unwrap();
    assert_eq!(index.node_count(), 5);
    index.subscribe(f("a/b"), 1, o).unwrap(); // exact: not in the trie
    assert_eq!(index.node_count(), 5);
    assert_eq!(index.exact_filter_count(), 1);
    assert!(index.unsubscribe(f("a/+/c/#"), &1).is_some());
    assert_eq!(index.node_count(), 4);
    assert!(index.unsubscribe(f("a/+/c/#"), &1).is_none());
    assert!(index.unsubscribe(f("a/+/d"), &2).is_none());
    assert!(index.unsubscribe(f("a/+/d"), &1).is_some());
    assert_eq!(index.node_count(), 1);
    assert!(index.unsubscribe(f("a/b"), &1).is_some());
    assert_eq!(index.exact_filter_count(), 0);
    assert!(index.is_empty());
    // Freed slots are reused.
    index.subscribe(f("x/+"), 1, o).unwrap();
    assert_eq!(index.node_count(), 3);
}

/// Large fan-out sets switch to a map and back without losing anyone.
#[test]
fn many_subscribers_on_one_filter() {
    let mut index = SubscriptionIndex::new();
    for k in 0..1000u32 {
        index
            .subscribe(f("a/+"), k, SubscriptionOptions::default())
            .unwrap();
        index
            .subscribe(f("a/b"), k, SubscriptionOptions::default())
            .unwrap();
    }
    let mut n = 0;
    index.match_topic(t("a/b"), |_| n += 1);
    assert_eq!(n, 2000);
    for k in 0..995u32 {
        assert!(index.unsubscribe(f("a/+"), &k).is_some());
    }
    let mut keys = Vec::new();
    index.match_topic(t("a/x"), |m| {
        if let Matched::Subscriber { key, .. } = m {
            keys.push(*key);
        }
    });
    keys.sort();
    assert_eq!(keys, [995, 996, 997, 998, 999]);
}

/// Deep filters and topics do not overflow the stack: matching walks through parent
/// links, not recursion.
#[test]
fn deep_filters_and_topics() {
    let mut index = SubscriptionIndex::new();
    let deep_filter = vec!["+"; 20_000].join("/");
    index
        .subscribe(f(&deep_filter), 1u8, SubscriptionOptions::default())
        .unwrap();
    let deep_topic = vec![""; 20_000].join("/");
    assert!(index.has_match(t(&deep_topic)));
    let deeper = vec![""; 20_001].join("/");
    assert!(!index.has_match(t(&deeper)));
    let mut retained = RetainedIndex::new();
    retained
        .insert(TopicName::try_from(deep_topic.as_str()).unwrap(), ())
        .unwrap();
    let mut n = 0;
    retained.match_filter(f("#"), |_, ()| n += 1);
    retained.match_filter(f(&deep_filter), |_, ()| n += 1);
    assert_eq!(n, 2);
    assert!(retained.remove(t(&deep_topic)).is_some());
    assert_eq!(retained.node_count(), 1);
}

#[test]
fn options_conversions() {
    assert_eq!(QoS::try_from(2), Ok(QoS::ExactlyOnce));
    assert_eq!(QoS::try_from(3), Err(3));
    assert_eq!(u8::from(QoS::AtLeastOnce), 1);
    assert_eq!(
        mqttkit_topic::RetainHandling::try_from(1),
        Ok(mqttkit_topic::RetainHandling::SendAtSubscribeIfNew)
    );
    assert_eq!(mqttkit_topic::RetainHandling::try_from(3), Err(3));
}

/// Readers share the index behind a lock while a writer changes it.
#[test]
fn shared_between_threads() {
    use std::sync::{Arc, RwLock};
    let index = Arc::new(RwLock::new(SubscriptionIndex::<u32>::new()));
    index
        .write()
        .unwrap()
        .subscribe(f("a/+"), 0, SubscriptionOptions::default())
        .unwrap();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let index = Arc::clone(&index);
            std::thread::spawn(move || {
                let mut seen = 0usize;
                for _ in 0..1000 {
                    index.read().unwrap().match_topic(t("a/b"), |_| seen += 1);
                }
                seen
            })
        })
        .collect();
    for k in 1..100u32 {
        index
            .write()
            .unwrap()
            .subscribe(f("a/#"), k, SubscriptionOptions::default())
            .unwrap();
    }
    for r in readers {
        assert!(r.join().unwrap() >= 1000);
    }
    assert_eq!(index.read().unwrap().len(), 100);
}
