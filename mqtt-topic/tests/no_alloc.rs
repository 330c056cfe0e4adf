//! Allocation behaviour, checked with a counting global allocator: the match paths
//! allocate nothing, and unsubscribing everything gives all memory back.
//!
//! This file holds a single test (running the checks one after the other) so that no
//! other test thread allocates while the counter runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::arithmetic_side_effects
)]
#![allow(missing_docs)]

use std::alloc::System;

use mqttkit_topic::{
    Matched, QoS, RetainedIndex, SharedSubscriptionRef, SubscriptionIndex, SubscriptionOptions,
    TopicFilterRef, TopicName, TopicNameRef, covers, matches,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes currently allocated (`stats_alloc` counts a growing realloc in
/// `bytes_allocated` and a shrinking one in `bytes_deallocated`).
fn heap_now() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

#[test]
fn allocation_behaviour() {
    matching_allocates_nothing();
    unsubscribing_everything_returns_memory();
    removing_every_retained_topic_returns_memory();
}

fn removing_every_retained_topic_returns_memory() {
    let topics: Vec<TopicName> = (0..3000)
        .map(|i| TopicName::try_from(format!("site/{}/dev/{i}/temp", i % 10)).unwrap())
        .collect();
    let mut retained = RetainedIndex::new();
    let baseline = heap_now();
    for round in 0..2 {
        for (i, t) in topics.iter().enumerate() {
            retained.insert(t.clone(), i).unwrap();
        }
        for t in &topics {
            retained.remove(t.as_topic_ref()).unwrap();
        }
        assert_eq!(retained.node_count(), 1);
        assert_eq!(heap_now(), baseline, "round {round}: memory not given back");
    }
}

/// moquette#274: an index that never frees grows forever under churn.
fn unsubscribing_everything_returns_memory() {
    let mut index = SubscriptionIndex::new();
    let o = SubscriptionOptions::new(QoS::AtMostOnce);
    let filters: Vec<String> = (0..2000)
        .flat_map(|i| {
            [
                format!("site/{}/dev/{i}/temp", i % 10),
                format!("site/{}/+/{i}/#", i % 10),
                format!("+/x/{i}"),
            ]
        })
        .collect();
    let shared: Vec<String> = (0..100)
        .map(|i| format!("$share/g{}/jobs/{i}/+", i % 3))
        .collect();
    let baseline = heap_now();
    for round in 0..3 {
        for (k, f) in filters.iter().enumerate() {
            index
                .subscribe(TopicFilterRef::new(f).unwrap(), k % 7, o)
                .unwrap();
            index
                .subscribe(TopicFilterRef::new(f).unwrap(), k % 5, o)
                .unwrap();
        }
        for (k, f) in shared.iter().enumerate() {
            let s = SharedSubscriptionRef::parse(TopicFilterRef::new(f).unwrap())
                .unwrap()
                .unwrap();
            index.subscribe_shared(s, k, o).unwrap();
        }
        assert!(heap_now() > baseline, "round {round}");
        for (k, f) in filters.iter().enumerate() {
            index
                .unsubscribe(TopicFilterRef::new(f).unwrap(), &(k % 7))
                .unwrap();
            let _ = index.unsubscribe(TopicFilterRef::new(f).unwrap(), &(k % 5));
        }
        for (k, f) in shared.iter().enumerate() {
            let s = SharedSubscriptionRef::parse(TopicFilterRef::new(f).unwrap())
                .unwrap()
                .unwrap();
            index.unsubscribe_shared(s, &k).unwrap();
        }
        assert!(index.is_empty());
        assert_eq!(index.node_count(), 1);
        assert_eq!(heap_now(), baseline, "round {round}: memory not given back");
    }
}

fn matching_allocates_nothing() {
    let mut index = SubscriptionIndex::new();
    let o = SubscriptionOptions::new(QoS::AtLeastOnce);
    for id in 0..50u32 {
        for num in 0..20u32 {
            let f = format!("device/{id}/+/{num}/#");
            index
                .subscribe(TopicFilterRef::new(&f).unwrap(), id * 100 + num, o)
                .unwrap();
            let e = format!("device/{id}/x/{num}");
            index
                .subscribe(TopicFilterRef::new(&e).unwrap(), id, o)
                .unwrap();
        }
    }
    for f in ["#", "+/+", "$SYS/#", "device/+/x/+"] {
        index
            .subscribe(TopicFilterRef::new(f).unwrap(), 7, o)
            .unwrap();
    }
    let shared = SharedSubscriptionRef::parse(TopicFilterRef::new("$share/g/device/#").unwrap())
        .unwrap()
        .unwrap();
    index.subscribe_shared(shared, 9, o).unwrap();

    let topics: Vec<TopicName> = [
        "device/3/foo/7/bar/1/2/3/4/5",
        "device/3/x/7",
        "$SYS/uptime",
        "nothing/here",
        "device/49/x/19",
    ]
    .iter()
    .map(|t| TopicName::try_from(*t).unwrap())
    .collect();
    let filter = TopicFilterRef::new("device/+/foo/#").unwrap();

    let region = Region::new(GLOBAL);
    let mut hits = 0usize;
    let mut members = 0usize;
    for _ in 0..100 {
        for topic in &topics {
            let topic_ref: TopicNameRef<'_> = topic.as_topic_ref();
            index.match_topic(topic_ref, |m| match m {
                Matched::Subscriber { .. } => hits += 1,
                Matched::Shared(group) => members += group.len(),
            });
            index.match_name(topic, |_| hits += 1);
            hits += usize::from(index.has_match(topic_ref));
            hits += usize::from(matches(filter, topic_ref));
            hits += usize::from(covers(filter, topic_ref.as_filter_ref()));
        }
    }
    let stats = region.change();
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
    assert!(hits > 0 && members > 0);
}
